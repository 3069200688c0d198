#include "consistency.h"

#include "base/deadline.h"
#include "base/xalloc.h"
#include "http/parking.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One request's wait. Linked into the hub's list of live waits while it exists (for the
 * notifier's check); the list links are guarded by the hub's mutex, the spot by the lot's. */
struct consistency_wait {
    struct consistency_wait *prev, *next;
    struct consistency_hub *hub;
    struct parking_spot spot;
    uint64_t key; /* the lot's key of this wait: woken alone when its events are applied */
    long long deadline_ms;
    char client[48]; /* the client's address: "" counts against no per-address limit */
    char array[CONSISTENCY_ARRAY_MAX];
};

struct consistency_hub {
    pthread_mutex_t mu;
    pthread_cond_t idle;
    struct parking *lot;
    uint64_t group;              /* the lot's group of every wait of this hub */
    struct consistency_wait all; /* circular list head of the live waits */
    size_t max_waiters;
    size_t per_ip; /* parked waits per client address; 0: no limit */
    size_t nwaits; /* waits alive (parked or not) */
    uint64_t seq;  /* notifications so far */
    long wait_ms;
    bool closed;
};

struct consistency_hub *consistency_hub_new(struct parking *lot, size_t max_waiters)
{
    struct consistency_hub *h = xcalloc(1, sizeof *h);

    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->idle, NULL);
    h->lot = lot;
    h->group = parking_new_key(lot);
    h->all.prev = h->all.next = &h->all;
    h->max_waiters = max_waiters;
    h->wait_ms = 5000;
    return h;
}

void consistency_hub_free(struct consistency_hub *h)
{
    if (h == NULL)
        return;
    pthread_cond_destroy(&h->idle);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void consistency_hub_set_wait_ms(struct consistency_hub *h, long wait_ms)
{
    pthread_mutex_lock(&h->mu);
    h->wait_ms = wait_ms;
    pthread_mutex_unlock(&h->mu);
}

void consistency_hub_set_per_ip_limit(struct consistency_hub *h, size_t per_ip)
{
    pthread_mutex_lock(&h->mu);
    h->per_ip = per_ip;
    pthread_mutex_unlock(&h->mu);
}

long consistency_hub_wait_ms(struct consistency_hub *h)
{
    long ms;

    pthread_mutex_lock(&h->mu);
    ms = h->wait_ms;
    pthread_mutex_unlock(&h->mu);
    return ms;
}

struct consistency_wait *consistency_wait_new(struct consistency_hub *h,
                                              const struct consistency_token *tok,
                                              long long deadline_ms)
{
    struct consistency_wait *w = xcalloc(1, sizeof *w);

    w->hub = h;
    w->deadline_ms = deadline_ms;
    w->key = parking_new_key(h->lot);
    consistency_token_array(tok, w->array, sizeof w->array);
    pthread_mutex_lock(&h->mu);
    w->next = &h->all;
    w->prev = h->all.prev;
    w->prev->next = w;
    h->all.prev = w;
    h->nwaits++;
    pthread_mutex_unlock(&h->mu);
    return w;
}

void consistency_wait_free(void *p)
{
    struct consistency_wait *w = p;
    struct consistency_hub *h;

    if (w == NULL)
        return;
    h = w->hub;
    pthread_mutex_lock(&h->mu);
    parking_unpark(h->lot, &w->spot); /* only if the server stopped with it parked */
    w->prev->next = w->next;
    w->next->prev = w->prev;
    if (--h->nwaits == 0)
        pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->mu);
    free(w);
}

void consistency_wait_set_client(struct consistency_wait *w, const char *client)
{
    snprintf(w->client, sizeof w->client, "%s", client);
}

const char *consistency_wait_array(const struct consistency_wait *w)
{
    return w->array;
}

long long consistency_wait_deadline(const struct consistency_wait *w)
{
    return w->deadline_ms;
}

uint64_t consistency_hub_seq(struct consistency_hub *h)
{
    uint64_t seq;

    pthread_mutex_lock(&h->mu);
    seq = h->seq;
    pthread_mutex_unlock(&h->mu);
    return seq;
}

enum consistency_park consistency_hub_park(struct consistency_hub *h, struct consistency_wait *w,
                                           struct MHD_Connection *conn, uint64_t seen)
{
    enum consistency_park r = CONSISTENCY_PARKED;

    pthread_mutex_lock(&h->mu);
    if (h->closed)
        r = CONSISTENCY_CLOSED;
    else if (h->seq != seen)
        r = CONSISTENCY_RECHECK;
    else if (parking_count(h->lot, h->group, NULL) >= h->max_waiters)
        r = CONSISTENCY_FULL;
    else if (h->per_ip > 0 && w->client[0] != '\0' &&
             parking_count(h->lot, h->group, w->client) >= h->per_ip)
        r = CONSISTENCY_PER_IP_FULL;
    else if (!parking_park(h->lot, &w->spot, conn, h->group, w->key, w->deadline_ms, w->client))
        r = CONSISTENCY_CLOSED;
    pthread_mutex_unlock(&h->mu);
    return r;
}

void consistency_hub_count(struct consistency_hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->seq++;
    pthread_mutex_unlock(&h->mu);
}

void consistency_hub_notify(struct consistency_hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->seq++;
    parking_wake_group(h->lot, h->group);
    pthread_mutex_unlock(&h->mu);
}

size_t consistency_hub_wake_applied(struct consistency_hub *h, consistency_check_fn check,
                                    void *cls)
{
    const char **arrays;
    uint64_t *keys;
    bool *applied;
    size_t n = 0, woken = 0;

    if (parking_count(h->lot, h->group, NULL) == 0)
        return 0; /* nobody waits: no query */
    /* a snapshot of the live waits: a wait is freed only by its request, which may complete
     * meanwhile, so the check works on copies and wakes by key (a key is never reused) */
    pthread_mutex_lock(&h->mu);
    arrays = xcalloc(h->nwaits + 1, sizeof *arrays);
    keys = xcalloc(h->nwaits + 1, sizeof *keys);
    applied = xcalloc(h->nwaits + 1, sizeof *applied);
    for (struct consistency_wait *w = h->all.next; w != &h->all; w = w->next) {
        arrays[n] = xstrdup(w->array);
        keys[n++] = w->key;
    }
    pthread_mutex_unlock(&h->mu);
    if (n > 0 && check(cls, arrays, n, applied) != 0) {
        consistency_hub_notify(h); /* could not tell: every parked request checks itself */
    } else {
        for (size_t i = 0; i < n; i++)
            woken += applied[i] ? parking_wake(h->lot, keys[i]) : 0;
    }
    for (size_t i = 0; i < n; i++)
        free((char *)arrays[i]);
    free(arrays);
    free(keys);
    free(applied);
    return woken;
}

void consistency_hub_close(struct consistency_hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->closed = true;
    parking_wake_group(h->lot, h->group);
    pthread_mutex_unlock(&h->mu);
}

bool consistency_hub_wait_idle(struct consistency_hub *h, long timeout_ms)
{
    bool idle;

    pthread_mutex_lock(&h->mu);
    idle = deadline_wait_zero(&h->mu, &h->idle, &h->nwaits, timeout_ms);
    pthread_mutex_unlock(&h->mu);
    return idle;
}

size_t consistency_hub_parked(struct consistency_hub *h)
{
    return parking_count(h->lot, h->group, NULL);
}
