/* mhd_minimal: the query API's floor, a baseline of the query benchmark (bench/query.sh).
 *
 * usage: mhd_minimal PORT THREADS DATABASE_URL   (listens on 127.0.0.1:PORT)
 *
 * The least a libmicrohttpd server can do to answer GET /api/orders/{id} from the read DB: the
 * query API's own settings (thread pool of THREADS with epoll, one connection each, keep-alive),
 * the id taken from the path with strtoll and no other check, and the query API's very prepared
 * statement; the JSON PostgreSQL built is sent as it is, 404 when there is none. No routing,
 * validation, pool, metrics, consistency tokens or error bodies: what the query API adds is the
 * difference to this. Runs until SIGINT/SIGTERM. Each thread's connection lives until exit. */
#include <libpq-fe.h>
#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ORDER_SQL "SELECT (SELECT q FROM q_order($1::bigint) AS q)"
#define PREFIX "/api/orders/"

static const char *database_url;
static pthread_key_t conn_key;
static atomic_bool connect_failed;

static void close_conn(void *conn)
{
    PQfinish(conn);
}

/* This thread's connection with the statement prepared, or NULL. */
static PGconn *thread_conn(void)
{
    PGconn *conn = pthread_getspecific(conn_key);
    PGresult *res;

    if (conn != NULL)
        return conn;
    conn = PQconnectdb(database_url);
    if (PQstatus(conn) != CONNECTION_OK) {
        if (atomic_exchange(&connect_failed, true) == false) /* once, not once a request */
            fprintf(stderr, "mhd_minimal: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    res = PQprepare(conn, "order", ORDER_SQL, 1, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "mhd_minimal: %s", PQerrorMessage(conn));
        PQclear(res);
        PQfinish(conn);
        return NULL;
    }
    PQclear(res);
    if (pthread_setspecific(conn_key, conn) != 0) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *body,
                              size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    static int first_call;
    const char *params[1];
    PGconn *conn;
    PGresult *res;
    enum MHD_Result ret;

    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size;
    if (*req_cls == NULL) { /* the keep-alive pattern: answer on the second call */
        *req_cls = &first_call;
        return MHD_YES;
    }
    if (strncmp(url, PREFIX, sizeof PREFIX - 1) != 0)
        return answer(c, 404, "{}", 2);
    conn = thread_conn();
    if (conn == NULL)
        return answer(c, 503, "{}", 2);
    params[0] = url + sizeof PREFIX - 1;
    res = PQexecPrepared(conn, "order", 1, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        ret = answer(c, 500, "{}", 2);
    else if (PQgetisnull(res, 0, 0))
        ret = answer(c, 404, "{}", 2);
    else
        ret = answer(c, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
    return ret;
}

int main(int argc, char **argv)
{
    struct MHD_Daemon *d;
    struct sockaddr_in addr;
    sigset_t stop;
    int sig, port, threads;

    if (argc != 4 || (port = atoi(argv[1])) <= 0 || (threads = atoi(argv[2])) <= 0) {
        fprintf(stderr, "usage: mhd_minimal PORT THREADS DATABASE_URL\n");
        return 2;
    }
    database_url = argv[3];
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1 only */
    if (pthread_key_create(&conn_key, close_conn) != 0)
        return 1;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* the workers inherit it; sigwait below */
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL,
                         NULL, on_request, NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                         MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "mhd_minimal: could not listen on port %d\n", port);
        return 1;
    }
    printf("mhd_minimal: listening on %d\n", port);
    fflush(stdout);
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    return 0;
}
