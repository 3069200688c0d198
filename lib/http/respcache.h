/* respcache: a bounded, thread-safe in-memory cache of answers (bytes) by key, invalidated from
 * outside: whoever changes the data behind a key says so (respcache_invalidate), and the cache
 * forgets it. Used by the query API for GET by id (docs/api.md#caching).
 *
 * Bounds: at most max_entries answers and max_bytes bytes (keys, bodies and bookkeeping);
 * the least recently used answers are evicted first (LRU: a hash table of chained entries and a
 * doubly linked list, most recent at the head).
 *
 * Correctness: the cache answers only while it is "listening" (respcache_set_listening(true)),
 * that is while the invalidations reach it; every change of that state empties it, since
 * invalidations may have been missed. A reader that misses takes a generation
 * (respcache_begin) BEFORE it reads the data, and offers its answer with it (respcache_put): the
 * answer is refused when the key (or a key sharing its slot of a 4096-slot table) was
 * invalidated, or the cache emptied, since that generation, so an answer read before a change
 * but offered after the change's invalidation is never stored.
 *
 * Threads: one mutex guards everything; every function may be called from any thread. A NULL
 * cache (caching disabled) is accepted everywhere: no hit, nothing stored.
 *
 * Memory: the cache owns copies of keys and bodies; respcache_get returns a copy the caller
 * frees. */
#ifndef CQ_RESPCACHE_H
#define CQ_RESPCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESPCACHE_KEY_MAX 63 /* longer keys are neither cached nor invalidated */

struct respcache;

struct respcache_stats {
    uint64_t hits, misses;
    uint64_t bypasses;      /* lookups while not listening */
    uint64_t stores;        /* answers stored */
    uint64_t refused;       /* answers refused: invalidated meanwhile, or not listening */
    uint64_t evictions;     /* answers dropped for room */
    uint64_t invalidations; /* keys invalidated (stored or not) */
    uint64_t flushes;       /* times the cache was emptied */
    size_t entries, bytes;
    bool listening;
};

/* NULL when max_entries is 0 (disabled). Starts not listening. */
struct respcache *respcache_new(size_t max_entries, size_t max_bytes);
void respcache_free(struct respcache *c);

/* A copy of key's answer (*body, malloc'ed, NUL-terminated; *len without the NUL), or false. */
bool respcache_get(struct respcache *c, const char *key, char **body, size_t *len);
/* The generation to pass to respcache_put; take it before reading the data. */
uint64_t respcache_begin(struct respcache *c);
/* Stores a copy of body under key unless key was invalidated, or the cache emptied, since gen,
 * or the cache is not listening. Returns whether it was stored. */
bool respcache_put(struct respcache *c, const char *key, const char *body, size_t len,
                   uint64_t gen);
/* Forgets key (if stored) and refuses answers read before now. */
void respcache_invalidate(struct respcache *c, const char *key);
/* A notification's payload: keys separated by spaces; "*" among them empties the cache. Returns
 * the number of keys. */
size_t respcache_invalidate_list(struct respcache *c, const char *payload);
/* Empties the cache and refuses answers read before now. */
void respcache_flush(struct respcache *c);
/* Whether invalidations reach the cache: it empties on every change, and answers only while
 * listening. */
void respcache_set_listening(struct respcache *c, bool listening);
void respcache_get_stats(struct respcache *c, struct respcache_stats *s);

#endif
