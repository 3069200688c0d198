#include "http/ratelimit.h"

#include "base/xalloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
    char key[48]; /* "" : free slot */
    double tokens;
    long long last_ms; /* last refill, and when the address was last seen */
};

struct ratelimit {
    pthread_mutex_t mu;
    double rate_per_ms, burst;
    size_t nsets;
    struct bucket *slots; /* nsets * RATELIMIT_WAYS */
};

struct ratelimit *ratelimit_new(double rate_per_s, double burst, size_t slots)
{
    struct ratelimit *rl = xcalloc(1, sizeof *rl);

    pthread_mutex_init(&rl->mu, NULL);
    rl->rate_per_ms = rate_per_s / 1000.0;
    rl->burst = burst < 1 ? 1 : burst;
    rl->nsets = (slots + RATELIMIT_WAYS - 1) / RATELIMIT_WAYS;
    if (rl->nsets == 0)
        rl->nsets = 1;
    rl->slots = xcalloc(rl->nsets * RATELIMIT_WAYS, sizeof *rl->slots);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl->slots);
    free(rl);
}

/* FNV-1a */
static uint64_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ULL;

    for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* key's bucket in its set: the one it has, else a free one, else the least recently seen (its
 * address is forgotten). Called with the mutex held. */
static struct bucket *find_bucket(struct ratelimit *rl, const char *key, long long now_ms)
{
    struct bucket *set = rl->slots + (hash_key(key) % rl->nsets) * RATELIMIT_WAYS;
    struct bucket *victim = NULL;

    for (size_t i = 0; i < RATELIMIT_WAYS; i++) {
        struct bucket *b = &set[i];
        if (b->key[0] != '\0' && strcmp(b->key, key) == 0)
            return b;
        if (victim == NULL ||
            (victim->key[0] != '\0' && (b->key[0] == '\0' || b->last_ms < victim->last_ms)))
            victim = b;
    }
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->tokens = rl->burst;
    victim->last_ms = now_ms;
    return victim;
}

unsigned ratelimit_take(struct ratelimit *rl, const char *key, long long now_ms)
{
    struct bucket *b;
    unsigned wait_s = 0;
    const char *k = key[0] != '\0' ? key : "-";

    pthread_mutex_lock(&rl->mu);
    b = find_bucket(rl, k, now_ms);
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * rl->rate_per_ms;
        if (b->tokens > rl->burst)
            b->tokens = rl->burst;
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
    } else {
        double ms = (1.0 - b->tokens) / rl->rate_per_ms;
        wait_s = (unsigned)(ms / 1000.0);
        if ((double)wait_s * 1000.0 < ms || wait_s == 0)
            wait_s++; /* rounded up, at least 1 */
    }
    pthread_mutex_unlock(&rl->mu);
    return wait_s;
}
