/* batcher: a lone item runs at once, alone; items that arrive while a batch runs go together in
 * the next one, in order, at most max_batch each; max_running batches run at once. */
#include "base/batcher.h"

#include "unit.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct job {
    struct batcher_item item; /* first: run casts back */
    int id;
    int batch_no;    /* which batch ran it */
    size_t batch_n;  /* how many items that batch held */
    size_t position; /* its place in the batch */
};

/* The run hook records which batch ran each job; while gate is closed it blocks the first
 * batch, so that the test can queue items behind it. */
struct recorder {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool gate_closed;
    int batches;
    int running, max_seen_running;
};

static void record(void *arg, struct batcher_item *const *items, size_t n)
{
    struct recorder *r = arg;
    int no;

    pthread_mutex_lock(&r->mu);
    no = ++r->batches;
    if (++r->running > r->max_seen_running)
        r->max_seen_running = r->running;
    pthread_cond_broadcast(&r->cv);
    while (r->gate_closed)
        pthread_cond_wait(&r->cv, &r->mu);
    r->running--;
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n; i++) {
        struct job *j = (struct job *)items[i];
        j->batch_no = no;
        j->batch_n = n;
        j->position = i;
    }
}

static void recorder_init(struct recorder *r, bool closed)
{
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->gate_closed = closed;
    r->batches = r->running = r->max_seen_running = 0;
}

static void recorder_open(struct recorder *r)
{
    pthread_mutex_lock(&r->mu);
    r->gate_closed = false;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* waits until n batches have started */
static void recorder_wait_started(struct recorder *r, int n)
{
    pthread_mutex_lock(&r->mu);
    while (r->batches < n)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

struct submitter {
    pthread_t thread;
    struct batcher *b;
    struct job job;
};

static void *submit_main(void *arg)
{
    struct submitter *s = arg;

    batcher_submit(s->b, &s->job.item);
    return NULL;
}

static void start(struct submitter *s, struct batcher *b, int id)
{
    s->b = b;
    s->job.id = id;
    s->job.batch_no = 0;
    ck_assert_int_eq(pthread_create(&s->thread, NULL, submit_main, s), 0);
}

/* waits until n items are queued (the submitting threads reached the queue) */
static void wait_queued(struct batcher *b, size_t n)
{
    while (batcher_queued(b) < n)
        usleep(1000);
}

START_TEST(lone_item_runs_at_once_alone)
{
    struct recorder r;
    struct job j = {.id = 1};
    struct batcher *b;
    unsigned long long batches, items;

    recorder_init(&r, false);
    b = batcher_new(8, 1, record, &r);
    batcher_submit(b, &j.item);
    ck_assert_int_eq(j.batch_no, 1);
    ck_assert_uint_eq(j.batch_n, 1);
    batcher_submit(b, &j.item);
    ck_assert_int_eq(j.batch_no, 2);
    batcher_counts(b, &batches, &items);
    ck_assert_uint_eq(batches, 2);
    ck_assert_uint_eq(items, 2);
    batcher_free(b);
}
END_TEST

START_TEST(items_queued_meanwhile_go_together_in_order)
{
    struct recorder r;
    struct submitter first, rest[5];
    struct batcher *b;

    recorder_init(&r, true);
    b = batcher_new(3, 1, record, &r);
    start(&first, b, 0);
    recorder_wait_started(&r, 1); /* batch 1 holds only the first item, and blocks */
    for (int i = 0; i < 5; i++) {
        start(&rest[i], b, i + 1);
        wait_queued(b, (size_t)i + 1); /* one after the other: the queue's order is known */
    }
    recorder_open(&r);
    pthread_join(first.thread, NULL);
    for (int i = 0; i < 5; i++)
        pthread_join(rest[i].thread, NULL);
    ck_assert_int_eq(first.job.batch_no, 1);
    ck_assert_uint_eq(first.job.batch_n, 1);
    /* five queued, max_batch 3: batch 2 takes the first three in order, batch 3 the other two */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(rest[i].job.batch_no, 2);
        ck_assert_uint_eq(rest[i].job.batch_n, 3);
        ck_assert_uint_eq(rest[i].job.position, (size_t)i);
    }
    for (int i = 3; i < 5; i++) {
        ck_assert_int_eq(rest[i].job.batch_no, 3);
        ck_assert_uint_eq(rest[i].job.position, (size_t)(i - 3));
    }
    ck_assert_int_eq(r.max_seen_running, 1);
    batcher_free(b);
}
END_TEST

START_TEST(a_second_runner_starts_while_the_first_is_busy)
{
    struct recorder r;
    struct submitter s[4];
    struct batcher *b;

    recorder_init(&r, true);
    b = batcher_new(8, 2, record, &r);
    start(&s[0], b, 0);
    recorder_wait_started(&r, 1);
    start(&s[1], b, 1);
    recorder_wait_started(&r, 2); /* a second batch started though the first still runs */
    start(&s[2], b, 2);
    wait_queued(b, 1);
    start(&s[3], b, 3);
    wait_queued(b, 2);
    ck_assert_int_eq(s[2].job.batch_no, 0); /* both runners busy: it waits */
    recorder_open(&r);
    for (int i = 0; i < 4; i++)
        pthread_join(s[i].thread, NULL);
    ck_assert_int_eq(r.max_seen_running, 2);
    ck_assert_int_eq(s[2].job.batch_no, s[3].job.batch_no); /* queued meanwhile: together */
    ck_assert_uint_eq(s[2].job.batch_n, 2);
    batcher_free(b);
}
END_TEST

START_TEST(bad_arguments_are_refused)
{
    struct recorder r;

    ck_assert_ptr_null(batcher_new(0, 1, record, &r));
    ck_assert_ptr_null(batcher_new(BATCHER_MAX_BATCH + 1, 1, record, &r));
    ck_assert_ptr_null(batcher_new(4, 0, record, &r));
    ck_assert_ptr_null(batcher_new(4, 1, NULL, &r));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batcher");
    TCase *tc = unit_tcase(
        s, "core",
        UNIT_TESTS(lone_item_runs_at_once_alone, items_queued_meanwhile_go_together_in_order,
                   a_second_runner_starts_while_the_first_is_busy, bad_arguments_are_refused));

    tcase_set_timeout(tc, 20);
    return unit_run(s);
}
