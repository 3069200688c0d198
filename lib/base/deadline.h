/* deadline: absolute times for pthread_cond_timedwait (which measures CLOCK_REALTIME). */
#ifndef CQ_DEADLINE_H
#define CQ_DEADLINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Now (CLOCK_REALTIME) plus ms milliseconds. */
struct timespec deadline_after_ms(long ms);
/* CLOCK_MONOTONIC in milliseconds: for durations and rate limits. */
long long deadline_now_ms(void);
/* The same clock in microseconds: for durations finer than a millisecond (request latencies). */
long long deadline_now_us(void);
/* CLOCK_REALTIME in milliseconds since the Unix epoch: for timestamps other hosts read, never
 * for durations. */
long long deadline_wall_ms(void);
/* The same wall clock in microseconds (timestamps with microseconds, as PostgreSQL writes them). */
long long deadline_wall_us(void);
/* Waits on cv (mu must be held) up to timeout_ms until *count is 0; returns whether it is. The
 * one "wait for the last one to finish" of the HTTP server, the event streams and the
 * read-your-writes waits: whoever brings *count to 0 broadcasts cv. */
bool deadline_wait_zero(pthread_mutex_t *mu, pthread_cond_t *cv, const size_t *count,
                        long timeout_ms);

#endif
