#include "http/parking.h"

#include "base/xalloc.h"
#include "http/http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parking {
    pthread_mutex_t mu;
    struct parking_spot spots; /* circular list head of the parked spots */
    uint64_t next_key;
    long long armed_ms; /* the deadline thread sleeps until then at the latest */
    bool closed;
    void (*suspend)(struct MHD_Connection *);
    void (*resume)(struct MHD_Connection *);
    void (*wake)(void *);
    void *wake_cls;
};

struct parking *parking_new(void)
{
    struct parking *lot = xcalloc(1, sizeof *lot);

    pthread_mutex_init(&lot->mu, NULL);
    lot->spots.prev = lot->spots.next = &lot->spots;
    lot->armed_ms = PARKING_NO_DEADLINE;
    lot->suspend = http_connection_suspend;
    lot->resume = http_connection_resume;
    return lot;
}

void parking_free(struct parking *lot)
{
    if (lot == NULL)
        return;
    pthread_mutex_destroy(&lot->mu);
    free(lot);
}

void parking_set_conn_ops(struct parking *lot, void (*suspend)(struct MHD_Connection *),
                          void (*resume)(struct MHD_Connection *))
{
    pthread_mutex_lock(&lot->mu);
    lot->suspend = suspend;
    lot->resume = resume;
    pthread_mutex_unlock(&lot->mu);
}

void parking_set_waker(struct parking *lot, void (*wake)(void *cls), void *cls)
{
    pthread_mutex_lock(&lot->mu);
    lot->wake = wake;
    lot->wake_cls = cls;
    pthread_mutex_unlock(&lot->mu);
}

uint64_t parking_new_key(struct parking *lot)
{
    uint64_t key;

    pthread_mutex_lock(&lot->mu);
    key = ++lot->next_key;
    pthread_mutex_unlock(&lot->mu);
    return key;
}

/* Called with the lot's mutex held. */
static void unlink_spot(struct parking_spot *spot)
{
    spot->prev->next = spot->next;
    spot->next->prev = spot->prev;
    spot->prev = spot->next = NULL;
    spot->parked = false;
}

bool parking_park(struct parking *lot, struct parking_spot *spot, struct MHD_Connection *conn,
                  uint64_t group, uint64_t key, long long deadline_ms, const char *client)
{
    pthread_mutex_lock(&lot->mu);
    if (lot->closed || spot->parked) {
        pthread_mutex_unlock(&lot->mu);
        return false;
    }
    spot->conn = conn;
    spot->group = group;
    spot->key = key;
    spot->deadline_ms = deadline_ms;
    snprintf(spot->client, sizeof spot->client, "%s", client != NULL ? client : "");
    spot->parked = true;
    spot->next = &lot->spots;
    spot->prev = lot->spots.prev;
    spot->prev->next = spot;
    lot->spots.prev = spot;
    lot->suspend(conn);
    if (deadline_ms < lot->armed_ms) {
        lot->armed_ms = deadline_ms;
        if (lot->wake != NULL)
            lot->wake(lot->wake_cls);
    }
    pthread_mutex_unlock(&lot->mu);
    return true;
}

enum match { BY_KEY, BY_GROUP, BY_DEADLINE, ALL };

/* Resumes the parked spots that match; returns how many. Called with the lot's mutex held. */
static size_t resume_where(struct parking *lot, enum match m, uint64_t v, long long now_ms)
{
    struct parking_spot *spot = lot->spots.next;
    size_t n = 0;

    while (spot != &lot->spots) {
        struct parking_spot *next = spot->next;
        bool hit = m == ALL || (m == BY_KEY && spot->key == v) ||
                   (m == BY_GROUP && spot->group == v) ||
                   (m == BY_DEADLINE && spot->deadline_ms <= now_ms);
        if (hit) {
            struct MHD_Connection *conn = spot->conn;
            unlink_spot(spot);
            lot->resume(conn);
            n++;
        }
        spot = next;
    }
    return n;
}

/* resume_where under the lot's mutex. */
static size_t resume_locked(struct parking *lot, enum match m, uint64_t v)
{
    size_t n;

    pthread_mutex_lock(&lot->mu);
    n = resume_where(lot, m, v, 0);
    pthread_mutex_unlock(&lot->mu);
    return n;
}

size_t parking_wake(struct parking *lot, uint64_t key)
{
    return resume_locked(lot, BY_KEY, key);
}

size_t parking_wake_group(struct parking *lot, uint64_t group)
{
    return resume_locked(lot, BY_GROUP, group);
}

bool parking_unpark(struct parking *lot, struct parking_spot *spot)
{
    bool was;

    pthread_mutex_lock(&lot->mu);
    was = spot->parked;
    if (was)
        unlink_spot(spot);
    pthread_mutex_unlock(&lot->mu);
    return was;
}

long long parking_expire(struct parking *lot, long long now_ms)
{
    long long next = PARKING_NO_DEADLINE;

    pthread_mutex_lock(&lot->mu);
    resume_where(lot, BY_DEADLINE, 0, now_ms);
    for (const struct parking_spot *s = lot->spots.next; s != &lot->spots; s = s->next) {
        if (s->deadline_ms < next)
            next = s->deadline_ms;
    }
    lot->armed_ms = next;
    pthread_mutex_unlock(&lot->mu);
    return next == PARKING_NO_DEADLINE ? -1 : next;
}

void parking_close(struct parking *lot)
{
    pthread_mutex_lock(&lot->mu);
    lot->closed = true;
    resume_where(lot, ALL, 0, 0);
    pthread_mutex_unlock(&lot->mu);
}

bool parking_closed(struct parking *lot)
{
    bool closed;

    pthread_mutex_lock(&lot->mu);
    closed = lot->closed;
    pthread_mutex_unlock(&lot->mu);
    return closed;
}

size_t parking_count(struct parking *lot, uint64_t group, const char *client)
{
    size_t n = 0;

    pthread_mutex_lock(&lot->mu);
    for (const struct parking_spot *s = lot->spots.next; s != &lot->spots; s = s->next)
        n +=
            (group == 0 || s->group == group) && (client == NULL || strcmp(s->client, client) == 0);
    pthread_mutex_unlock(&lot->mu);
    return n;
}
