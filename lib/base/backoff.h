/* backoff: the one exponential backoff of the services (reconnects, retries): a delay that starts
 * at min_ms, doubles after each failure up to max_ms, and starts over after a success.
 * Pure arithmetic on a caller-owned struct; the caller sleeps. */
#ifndef CQ_BACKOFF_H
#define CQ_BACKOFF_H

struct backoff {
    long min_ms, max_ms;
    long next_ms; /* the delay the next failure waits */
};

void backoff_init(struct backoff *b, long min_ms, long max_ms);
/* The delay to wait after a failure; the one after it is twice as long (at most max_ms). */
long backoff_next(struct backoff *b);
/* A success: the next failure waits min_ms again. */
void backoff_reset(struct backoff *b);

#endif
