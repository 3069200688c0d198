/* batcher: natural batching. Threads submit items; an item that finds a free runner slot runs
 * at once together with every item queued behind it (up to max_batch), so a lone request never
 * waits for company, and under load each batch takes what arrived while the previous ones ran.
 *
 * Leader/follower, no thread of its own: the submitting thread whose item is at the head of the
 * queue when fewer than max_running batches run becomes the leader: it takes the head items,
 * calls run outside the lock, then marks them done and wakes their threads. The others sleep on
 * their own condition variable until their item is done or is at the head with a slot free.
 *
 * Waits: a waiting thread waits for one running batch and the batches queued before it; run
 * must therefore be bounded (the command API's run is bounded by the pool's acquire timeout and
 * the statement timeout, lib/pg/pg.h). batcher_submit itself never gives up on a running batch.
 *
 * Threads: batcher_submit from any number of threads. */
#ifndef CQ_BATCHER_H
#define CQ_BATCHER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* The most items one batch may hold. */
#define BATCHER_MAX_BATCH 64

/* One submission, owned by the submitting thread (usually the first member of a struct of its
 * own, which run casts back). Its fields are the batcher's. */
struct batcher_item {
    struct batcher_item *next;
    pthread_cond_t cv;
    bool done;
};

/* Runs items[0..n-1] (1 <= n <= max_batch, in submission order). Called without the batcher's
 * lock, on the leader's thread; it must settle every item (the batcher marks them done after). */
typedef void (*batcher_run_fn)(void *arg, struct batcher_item *const *items, size_t n);

struct batcher;

/* max_batch in 1..BATCHER_MAX_BATCH, max_running >= 1. Returns NULL on a bad argument. The
 * caller frees it with batcher_free once no thread submits any more. */
struct batcher *batcher_new(size_t max_batch, unsigned max_running, batcher_run_fn run, void *arg);
void batcher_free(struct batcher *b);

/* Queues it and returns once a batch holding it has run (possibly run by this very thread). */
void batcher_submit(struct batcher *b, struct batcher_item *it);

/* Batches run and items run since batcher_new (for metrics and tests). */
void batcher_counts(struct batcher *b, unsigned long long *batches, unsigned long long *items);

/* Items queued now, not yet taken by a batch. */
size_t batcher_queued(struct batcher *b);

#endif
