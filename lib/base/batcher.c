#include "base/batcher.h"

#include "base/xalloc.h"

#include <stdlib.h>

struct batcher {
    pthread_mutex_t mu;
    struct batcher_item *head, *tail; /* the queue: submitted, not yet taken by a leader */
    size_t queued;
    unsigned running; /* batches running now */
    size_t max_batch;
    unsigned max_running;
    batcher_run_fn run;
    void *arg;
    unsigned long long batches, items;
};

struct batcher *batcher_new(size_t max_batch, unsigned max_running, batcher_run_fn run, void *arg)
{
    struct batcher *b;

    if (max_batch < 1 || max_batch > BATCHER_MAX_BATCH || max_running < 1 || run == NULL)
        return NULL;
    b = xcalloc(1, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    b->max_batch = max_batch;
    b->max_running = max_running;
    b->run = run;
    b->arg = arg;
    return b;
}

void batcher_free(struct batcher *b)
{
    if (b == NULL)
        return;
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* Called with the lock held by the head's thread: takes up to max_batch items off the queue. */
static size_t take(struct batcher *b, struct batcher_item **batch)
{
    size_t n = 0;

    while (b->head != NULL && n < b->max_batch) {
        batch[n++] = b->head;
        b->head = b->head->next;
        b->queued--;
    }
    if (b->head == NULL)
        b->tail = NULL;
    return n;
}

void batcher_submit(struct batcher *b, struct batcher_item *it)
{
    struct batcher_item *batch[BATCHER_MAX_BATCH];

    pthread_cond_init(&it->cv, NULL);
    it->next = NULL;
    it->done = false;
    pthread_mutex_lock(&b->mu);
    if (b->tail != NULL)
        b->tail->next = it;
    else
        b->head = it;
    b->tail = it;
    b->queued++;
    while (!it->done) {
        if (b->head == it && b->running < b->max_running) {
            size_t n = take(b, batch);
            b->running++;
            b->batches++;
            b->items += n;
            /* the new head may lead a batch of its own if another runner is free */
            if (b->head != NULL)
                pthread_cond_signal(&b->head->cv);
            pthread_mutex_unlock(&b->mu);
            b->run(b->arg, batch, n);
            pthread_mutex_lock(&b->mu);
            b->running--;
            for (size_t i = 0; i < n; i++) {
                batch[i]->done = true;
                if (batch[i] != it)
                    pthread_cond_signal(&batch[i]->cv);
            }
            if (b->head != NULL)
                pthread_cond_signal(&b->head->cv);
            continue;
        }
        /* bounded: a running batch ends within run's own deadlines (batcher.h) */
        pthread_cond_wait(&it->cv, &b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    pthread_cond_destroy(&it->cv);
}

void batcher_counts(struct batcher *b, unsigned long long *batches, unsigned long long *items)
{
    pthread_mutex_lock(&b->mu);
    *batches = b->batches;
    *items = b->items;
    pthread_mutex_unlock(&b->mu);
}

size_t batcher_queued(struct batcher *b)
{
    size_t n;

    pthread_mutex_lock(&b->mu);
    n = b->queued;
    pthread_mutex_unlock(&b->mu);
    return n;
}
