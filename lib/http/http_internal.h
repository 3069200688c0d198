/* http_internal: what the files of lib/http/http share: the server (http_server.c starts it with
 * http.c's callbacks, which count its requests in flight). Not for handlers (lib/http/http.h). */
#ifndef CQ_HTTP_INTERNAL_H
#define CQ_HTTP_INTERNAL_H

#include "http/http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_server_opts opts;
    /* Requests whose headers are in and whose completion callback has not run yet (also the
     * suspended ones and the streams): what a drain waits for. */
    pthread_mutex_t mu;
    pthread_cond_t idle;
    size_t in_flight;
    atomic_bool draining; /* quiesced: answers say Connection: close */
    MHD_socket listen_fd; /* returned by MHD_quiesce_daemon, closed after the stop */
};

/* libmicrohttpd's request callback (MHD_AccessHandlerCallback; cls: the server). */
enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **req_cls);
/* libmicrohttpd's completion callback (MHD_OPTION_NOTIFY_COMPLETED; cls: the server). */
void http_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                       enum MHD_RequestTerminationCode toe);

#endif
