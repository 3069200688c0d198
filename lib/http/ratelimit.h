/* ratelimit: a token bucket per client address, in a table of bounded size.
 *
 * Each address has a bucket of at most burst tokens that refills at rate tokens per second; a
 * request takes one token or is refused, with the seconds until one is there again. The table
 * has a fixed number of slots in sets of RATELIMIT_WAYS, chosen by a hash of the address; a new
 * address takes a free slot of its set or evicts the one seen least recently (which then starts
 * again with a full bucket), so memory stays bounded however many addresses come.
 *
 * Threads: ratelimit_take may be called from any thread (one mutex). */
#ifndef CQ_RATELIMIT_H
#define CQ_RATELIMIT_H

#include <stddef.h>

#define RATELIMIT_WAYS 8

struct ratelimit;

/* rate_per_s > 0 tokens per second, burst >= 1, slots rounded up to a multiple of
 * RATELIMIT_WAYS. The caller frees it with ratelimit_free. */
struct ratelimit *ratelimit_new(double rate_per_s, double burst, size_t slots);
void ratelimit_free(struct ratelimit *rl);

/* Takes a token of key's bucket at now_ms (a monotonic clock in ms). Returns 0 when the request
 * may go on, else the whole seconds (>= 1) until a token will be there. An empty key shares one
 * bucket. */
unsigned ratelimit_take(struct ratelimit *rl, const char *key, long long now_ms);

#endif
