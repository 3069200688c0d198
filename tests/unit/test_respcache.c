/* respcache: the LRU bounds (entries and bytes), precise invalidation, the generation that
 * refuses an answer read before an invalidation, flush and bypass while not listening, threads,
 * and the cost of a hit (printed). */
#include "http/respcache.h"

#include "unit.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct respcache *listening_cache(size_t entries, size_t bytes)
{
    struct respcache *c = respcache_new(entries, bytes);

    ck_assert_ptr_nonnull(c);
    respcache_set_listening(c, true);
    return c;
}

static bool has(struct respcache *c, const char *key, const char *want)
{
    char *body = NULL;
    size_t len = 0;
    bool hit = respcache_get(c, key, &body, &len);

    if (hit) {
        ck_assert_uint_eq(len, strlen(body));
        if (want != NULL)
            ck_assert_str_eq(body, want);
    }
    free(body);
    return hit;
}

static bool put(struct respcache *c, const char *key, const char *body)
{
    return respcache_put(c, key, body, strlen(body), respcache_begin(c));
}

enum expect { STORED, ANSWERED, NOT_ANSWERED };

/* For each item of the space-separated list, in order: STORED stores "key=body"; ANSWERED checks
 * that the key is answered (with that body when the item is "key=body"); NOT_ANSWERED checks that
 * it is not. */
static void each(struct respcache *c, enum expect e, const char *list)
{
    char buf[256], *save = NULL;

    ck_assert_uint_lt(strlen(list), sizeof buf);
    strcpy(buf, list);
    for (char *key = strtok_r(buf, " ", &save); key != NULL; key = strtok_r(NULL, " ", &save)) {
        char *body = strchr(key, '=');

        if (body != NULL)
            *body++ = '\0';
        if (e == STORED)
            ck_assert_msg(body != NULL && put(c, key, body), "%s not stored", key);
        else if (e == ANSWERED)
            ck_assert_msg(has(c, key, body), "%s not answered", key);
        else
            ck_assert_msg(!has(c, key, NULL), "%s answered", key);
    }
}

/* Checks the cache's figures named in the space-separated list of "name=value" (hits, misses,
 * bypasses, evictions, invalidations, flushes, entries, bytes, listening). */
static void stats_are(struct respcache *c, const char *list)
{
    struct respcache_stats st;
    char buf[256], *save = NULL;

    respcache_get_stats(c, &st);
    const struct {
        const char *name;
        uint64_t value;
    } figures[] = {
        {"hits", st.hits},
        {"misses", st.misses},
        {"bypasses", st.bypasses},
        {"evictions", st.evictions},
        {"invalidations", st.invalidations},
        {"flushes", st.flushes},
        {"entries", st.entries},
        {"bytes", st.bytes},
        {"listening", st.listening},
    };
    ck_assert_uint_lt(strlen(list), sizeof buf);
    strcpy(buf, list);
    for (char *item = strtok_r(buf, " ", &save); item != NULL; item = strtok_r(NULL, " ", &save)) {
        char *value = strchr(item, '=');
        size_t i = 0;

        ck_assert_ptr_nonnull(value);
        *value++ = '\0';
        while (i < sizeof figures / sizeof figures[0] && strcmp(figures[i].name, item) != 0)
            i++;
        ck_assert_msg(i < sizeof figures / sizeof figures[0], "no figure %s", item);
        ck_assert_msg(figures[i].value == strtoull(value, NULL, 10), "%s is %llu, want %s", item,
                      (unsigned long long)figures[i].value, value);
    }
}

START_TEST(disabled_is_null_and_harmless)
{
    struct respcache_stats st;

    ck_assert_ptr_null(respcache_new(0, 1 << 20));
    ck_assert(!put(NULL, "order:1", "{}"));
    ck_assert(!has(NULL, "order:1", NULL));
    respcache_invalidate(NULL, "order:1");
    ck_assert_uint_eq(respcache_invalidate_list(NULL, "order:1 *"), 0);
    respcache_get_stats(NULL, &st);
    ck_assert_uint_eq(st.hits, 0);
}
END_TEST

START_TEST(stores_and_answers_a_copy)
{
    struct respcache *c = listening_cache(10, 1 << 20);

    ck_assert(!has(c, "order:1", NULL));
    ck_assert(put(c, "order:1", "{\"orderId\":1}"));
    ck_assert(has(c, "order:1", "{\"orderId\":1}"));
    ck_assert(put(c, "order:1", "{\"orderId\":1,\"v\":2}")); /* replaces */
    ck_assert(has(c, "order:1", "{\"orderId\":1,\"v\":2}"));
    stats_are(c, "hits=2 misses=1 entries=1");
    respcache_free(c);
}
END_TEST

START_TEST(lru_bound_by_entries)
{
    struct respcache *c = listening_cache(3, 1 << 20);

    each(c, STORED, "k:1=1 k:2=2 k:3=3");
    each(c, ANSWERED, "k:1=1"); /* k:2 is now the least recently used */
    each(c, STORED, "k:4=4");
    each(c, NOT_ANSWERED, "k:2");
    each(c, ANSWERED, "k:1=1 k:3=3 k:4=4");
    stats_are(c, "entries=3 evictions=1");
    respcache_free(c);
}
END_TEST

START_TEST(lru_bound_by_bytes)
{
    char big[1000];
    struct respcache *c;
    struct respcache_stats st;

    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    c = listening_cache(1000, 2600); /* room for two 1 kB answers with their bookkeeping */
    ck_assert(put(c, "k:1", big));
    ck_assert(put(c, "k:2", big));
    ck_assert(put(c, "k:3", big));
    respcache_get_stats(c, &st);
    ck_assert_uint_eq(st.entries, 2);
    ck_assert_uint_le(st.bytes, 2600);
    ck_assert(!has(c, "k:1", NULL));
    ck_assert(has(c, "k:3", NULL));
    /* an answer larger than the whole budget is not stored, and evicts nothing */
    char *huge = malloc(4000);
    memset(huge, 'y', 3999);
    huge[3999] = '\0';
    ck_assert(!put(c, "k:9", huge));
    ck_assert(has(c, "k:3", NULL));
    free(huge);
    respcache_free(c);
}
END_TEST

START_TEST(invalidation_is_precise)
{
    struct respcache *c = listening_cache(10, 1 << 20);

    each(c, STORED, "order:1=o1 order:12=o12 customer:45=c45 product:7=p7");
    ck_assert_uint_eq(respcache_invalidate_list(c, "order:1  customer:45 product:99"), 3);
    each(c, NOT_ANSWERED, "order:1 customer:45");
    each(c, ANSWERED, "order:12=o12 product:7=p7");
    ck_assert_uint_eq(respcache_invalidate_list(c, ""), 0);
    each(c, ANSWERED, "product:7=p7");
    ck_assert_uint_eq(respcache_invalidate_list(c, "*"), 1);
    each(c, NOT_ANSWERED, "product:7 order:12");
    stats_are(c, "invalidations=3 flushes=2 entries=0 bytes=0"); /* flushes: set_listening, "*" */
    respcache_free(c);
}
END_TEST

/* A reader reads the DB, the key's invalidation arrives, then the reader offers its (now
 * stale) answer: refused. Other keys read meanwhile are still stored. */
START_TEST(generation_refuses_an_answer_read_before_its_invalidation)
{
    struct respcache *c = listening_cache(10, 1 << 20);
    uint64_t g = respcache_begin(c);

    /* ... the reader's query runs and sees the old order 5 ... */
    respcache_invalidate(c, "order:5");
    ck_assert(!respcache_put(c, "order:5", "old", 3, g));
    ck_assert(!has(c, "order:5", NULL));
    ck_assert(respcache_put(c, "order:6", "six", 3, g)); /* not invalidated since g */
    /* a reader that began after the invalidation stores */
    ck_assert(respcache_put(c, "order:5", "new", 3, respcache_begin(c)));
    ck_assert(has(c, "order:5", "new"));
    /* "*" refuses every answer read before it */
    g = respcache_begin(c);
    respcache_invalidate_list(c, "*");
    ck_assert(!respcache_put(c, "order:7", "x", 1, g));
    respcache_free(c);
}
END_TEST

START_TEST(not_listening_flushes_and_bypasses)
{
    struct respcache *c = respcache_new(10, 1 << 20);
    uint64_t g;

    /* not listening yet: nothing stored, nothing answered */
    ck_assert(!put(c, "order:1", "o1"));
    ck_assert(!has(c, "order:1", NULL));
    respcache_set_listening(c, true);
    ck_assert(put(c, "order:1", "o1"));
    g = respcache_begin(c); /* a reader begins ... */
    /* the LISTEN connection is lost: notifications may be missed from now on */
    respcache_set_listening(c, false);
    ck_assert(!has(c, "order:1", NULL));
    ck_assert(!respcache_put(c, "order:2", "o2", 2, g));
    ck_assert(!put(c, "order:2", "o2"));
    stats_are(c, "entries=0 listening=0 bypasses=2");
    /* listening again: an answer read while it was down is refused, a new one is stored */
    g = respcache_begin(c);
    respcache_set_listening(c, true);
    ck_assert(!respcache_put(c, "order:2", "o2", 2, g));
    ck_assert(put(c, "order:2", "o2"));
    ck_assert(has(c, "order:2", "o2"));
    respcache_free(c);
}
END_TEST

START_TEST(long_keys_are_not_cached)
{
    struct respcache *c = listening_cache(10, 1 << 20);
    char key[RESPCACHE_KEY_MAX + 2];

    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    ck_assert(!put(c, key, "x"));
    ck_assert(!has(c, key, NULL));
    respcache_free(c);
}
END_TEST

struct worker {
    struct respcache *c;
    int id;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    char key[32], body[64];

    for (int i = 0; i < 20000; i++) {
        int k = (i * 7 + w->id) % 200;
        snprintf(key, sizeof key, "order:%d", k);
        if (w->id == 0 && i % 10 == 0) {
            respcache_invalidate(w->c, key);
            continue;
        }
        char *got = NULL;
        size_t len;
        if (respcache_get(w->c, key, &got, &len)) {
            /* whatever is stored under a key is that key's answer */
            snprintf(body, sizeof body, "{\"key\":\"%s\"}", key);
            ck_assert_str_eq(got, body);
            free(got);
        } else {
            uint64_t g = respcache_begin(w->c);
            snprintf(body, sizeof body, "{\"key\":\"%s\"}", key);
            respcache_put(w->c, key, body, strlen(body), g);
            /* read back at once: a hit even when the threads happen to run one after another
             * (the keys cycle through 200 in a 50-entry cache, so alone a thread never hits) */
            if (respcache_get(w->c, key, &got, &len)) {
                ck_assert_str_eq(got, body);
                free(got);
            }
        }
    }
    return NULL;
}

START_TEST(threads)
{
    struct respcache *c = listening_cache(50, 1 << 20);
    pthread_t t[4];
    struct worker w[4];
    struct respcache_stats st;

    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){c, i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    respcache_get_stats(c, &st);
    ck_assert_uint_le(st.entries, 50);
    ck_assert_uint_gt(st.hits, 0);
    ck_assert_uint_gt(st.evictions, 0);
    respcache_free(c);
}
END_TEST

/* Not a benchmark: the order of magnitude of a hit of a 600-byte answer, one thread. */
START_TEST(hit_cost)
{
    struct respcache *c = listening_cache(10000, 64 << 20);
    char body[601], key[32];
    struct timespec t0, t1;
    const int n = 200000;

    memset(body, 'x', 600);
    body[600] = '\0';
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "order:%d", i);
        ck_assert(put(c, key, body));
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        char *got;
        size_t len;
        snprintf(key, sizeof key, "order:%d", i % 1000);
        ck_assert(respcache_get(c, key, &got, &len));
        free(got);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("respcache: a hit of a 600-byte answer (lookup, LRU move, copy, free) takes %.0f ns\n",
           ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n);
    respcache_free(c);
}
END_TEST

static Suite *respcache_suite(void)
{
    Suite *s = suite_create("respcache");
    unit_tcase(s, "core",
               UNIT_TESTS(disabled_is_null_and_harmless, stores_and_answers_a_copy,
                          lru_bound_by_entries, lru_bound_by_bytes, invalidation_is_precise,
                          generation_refuses_an_answer_read_before_its_invalidation,
                          not_listening_flushes_and_bypasses, long_keys_are_not_cached, threads,
                          hit_cost));
    return s;
}

int main(void)
{
    return unit_run(respcache_suite());
}
