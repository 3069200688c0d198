#include "http/respcache.h"

#include "base/xalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096 /* invalidation generations, by key hash */

struct entry {
    struct entry *chain;       /* next in the hash bucket */
    struct entry *prev, *next; /* LRU list, most recent first */
    uint64_t hash;
    size_t len;
    char *body;
    char key[RESPCACHE_KEY_MAX + 1];
};

struct respcache {
    pthread_mutex_t mu;
    struct entry **buckets;
    size_t nbuckets;  /* a power of two */
    struct entry lru; /* list head */
    size_t max_entries, max_bytes;
    uint64_t gen;       /* bumped by every invalidation and flush */
    uint64_t flush_gen; /* the generation of the last flush */
    uint64_t slot_gen[SLOTS];
    struct respcache_stats st;
};

static uint64_t hash_key(const char *k)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *k != '\0'; k++) {
        h ^= (unsigned char)*k;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static size_t entry_cost(const struct entry *e)
{
    return sizeof *e + e->len + 1;
}

struct respcache *respcache_new(size_t max_entries, size_t max_bytes)
{
    struct respcache *c;

    if (max_entries == 0)
        return NULL;
    c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->nbuckets = 64;
    while (c->nbuckets < max_entries && c->nbuckets < ((size_t)1 << 24))
        c->nbuckets <<= 1;
    c->buckets = xcalloc(c->nbuckets, sizeof *c->buckets);
    c->lru.prev = c->lru.next = &c->lru;
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    return c;
}

static void lru_unlink(struct entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void lru_push(struct respcache *c, struct entry *e)
{
    e->next = c->lru.next;
    e->prev = &c->lru;
    c->lru.next->prev = e;
    c->lru.next = e;
}

/* The entry of key, or NULL; *link gets the pointer that points at it (or the bucket's end). */
static struct entry *find(struct respcache *c, const char *key, uint64_t h, struct entry ***link)
{
    struct entry **p = &c->buckets[h & (c->nbuckets - 1)];

    for (; *p != NULL; p = &(*p)->chain) {
        if ((*p)->hash == h && strcmp((*p)->key, key) == 0)
            break;
    }
    if (link != NULL)
        *link = p;
    return *p;
}

/* Removes e (found through link) and frees it. Mutex held. */
static void drop(struct respcache *c, struct entry **link, struct entry *e)
{
    *link = e->chain;
    lru_unlink(e);
    c->st.entries--;
    c->st.bytes -= entry_cost(e);
    free(e->body);
    free(e);
}

static void drop_all(struct respcache *c)
{
    for (size_t i = 0; i < c->nbuckets; i++) {
        struct entry *e = c->buckets[i];
        while (e != NULL) {
            struct entry *next = e->chain;
            free(e->body);
            free(e);
            e = next;
        }
        c->buckets[i] = NULL;
    }
    c->lru.prev = c->lru.next = &c->lru;
    c->st.entries = 0;
    c->st.bytes = 0;
}

void respcache_free(struct respcache *c)
{
    if (c == NULL)
        return;
    drop_all(c);
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

bool respcache_get(struct respcache *c, const char *key, char **body, size_t *len)
{
    struct entry *e;
    bool hit = false;

    if (c == NULL)
        return false;
    pthread_mutex_lock(&c->mu);
    if (!c->st.listening) {
        c->st.bypasses++;
    } else if (strlen(key) <= RESPCACHE_KEY_MAX &&
               (e = find(c, key, hash_key(key), NULL)) != NULL) {
        lru_unlink(e);
        lru_push(c, e);
        *body = xmalloc(e->len + 1);
        memcpy(*body, e->body, e->len + 1);
        *len = e->len;
        c->st.hits++;
        hit = true;
    } else {
        c->st.misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

uint64_t respcache_begin(struct respcache *c)
{
    uint64_t g;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    g = c->gen;
    pthread_mutex_unlock(&c->mu);
    return g;
}

bool respcache_put(struct respcache *c, const char *key, const char *body, size_t len, uint64_t gen)
{
    struct entry **link, *e;
    uint64_t h;
    size_t cost = sizeof *e + len + 1;

    if (c == NULL || strlen(key) > RESPCACHE_KEY_MAX || cost > c->max_bytes)
        return false;
    h = hash_key(key);
    pthread_mutex_lock(&c->mu);
    if (!c->st.listening || c->flush_gen > gen || c->slot_gen[h % SLOTS] > gen) {
        c->st.refused++;
        pthread_mutex_unlock(&c->mu);
        return false;
    }
    e = find(c, key, h, &link);
    if (e != NULL)
        drop(c, link, e);
    /* room: the least recently used go first */
    while (c->st.entries > 0 &&
           (c->st.entries + 1 > c->max_entries || c->st.bytes + cost > c->max_bytes)) {
        struct entry *old = c->lru.prev, **ol;
        find(c, old->key, old->hash, &ol);
        drop(c, ol, old);
        c->st.evictions++;
    }
    e = xmalloc(sizeof *e);
    e->hash = h;
    e->len = len;
    e->body = xmalloc(len + 1);
    memcpy(e->body, body, len);
    e->body[len] = '\0';
    strcpy(e->key, key);
    e->chain = c->buckets[h & (c->nbuckets - 1)];
    c->buckets[h & (c->nbuckets - 1)] = e;
    lru_push(c, e);
    c->st.entries++;
    c->st.bytes += cost;
    c->st.stores++;
    pthread_mutex_unlock(&c->mu);
    return true;
}

/* Mutex held. */
static void invalidate_locked(struct respcache *c, const char *key, size_t n)
{
    char k[RESPCACHE_KEY_MAX + 1];
    struct entry **link, *e;
    uint64_t h;

    if (n > RESPCACHE_KEY_MAX)
        return;
    memcpy(k, key, n);
    k[n] = '\0';
    h = hash_key(k);
    c->gen++;
    c->slot_gen[h % SLOTS] = c->gen;
    c->st.invalidations++;
    e = find(c, k, h, &link);
    if (e != NULL)
        drop(c, link, e);
}

static void flush_locked(struct respcache *c)
{
    drop_all(c);
    c->gen++;
    c->flush_gen = c->gen;
    c->st.flushes++;
}

void respcache_invalidate(struct respcache *c, const char *key)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    invalidate_locked(c, key, strlen(key));
    pthread_mutex_unlock(&c->mu);
}

size_t respcache_invalidate_list(struct respcache *c, const char *payload)
{
    size_t n = 0;
    const char *p = payload;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->mu);
    while (*p != '\0') {
        size_t len;
        while (*p == ' ')
            p++;
        len = strcspn(p, " ");
        if (len == 1 && *p == '*')
            flush_locked(c);
        else if (len > 0)
            invalidate_locked(c, p, len);
        n += len > 0;
        p += len;
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}

void respcache_flush(struct respcache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    flush_locked(c);
    pthread_mutex_unlock(&c->mu);
}

void respcache_set_listening(struct respcache *c, bool listening)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    flush_locked(c);
    c->st.listening = listening;
    pthread_mutex_unlock(&c->mu);
}

void respcache_get_stats(struct respcache *c, struct respcache_stats *s)
{
    if (c == NULL) {
        memset(s, 0, sizeof *s);
        return;
    }
    pthread_mutex_lock(&c->mu);
    *s = c->st;
    pthread_mutex_unlock(&c->mu);
}
