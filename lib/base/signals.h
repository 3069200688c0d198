/* signals: SIGINT/SIGTERM request a clean stop; SIGPIPE is ignored (sockets report EPIPE).
 * The stop flag is the one piece of process-wide mutable state, written only by the handler. */
#ifndef CQ_SIGNALS_H
#define CQ_SIGNALS_H

#include <stdbool.h>

__attribute__((warn_unused_result)) int signals_install(void);
bool signals_stop_requested(void);
/* Sleeps up to ms milliseconds, returning early when a stop was requested. */
void signals_sleep_ms(long ms);

#endif
