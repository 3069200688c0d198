/* parking: the one place that parks (suspends) libmicrohttpd connections and wakes (resumes)
 * them, used by everything in a server that waits without holding a pool thread: the event
 * streams (lib/http/sse.h) and the query API's read-your-writes waits.
 *
 * A struct parking_spot is embedded in its owner's state (a stream, a wait) and parked with a
 * group (its owner: a stream hub, the waits' hub), a key (what wakes it: a stream hub's change,
 * one wait's events) and an optional deadline. parking_wake wakes the spots of one key only,
 * parking_wake_group those of one owner, parking_expire those whose deadline passed, and
 * parking_close every spot, refusing new ones (shutdown). Each spot is resumed exactly once per
 * park, and never after its owner unparked it (parking_unpark, when MHD frees the connection).
 *
 * Deadlines: one thread (the query API's notifier) sleeps until the earliest deadline, as
 * parking_expire returns it; when a spot is parked with an earlier deadline, the lot calls its
 * waker (mutex held: it must not block) so that the thread sleeps less.
 *
 * Threads: one mutex guards the lot; every function may be called from any thread. An owner that
 * decides to park under its own mutex keeps it across parking_park and parking_wake (lock order:
 * the owner's mutex, then the lot's), so no wake-up can slip between its decision and the park. */
#ifndef CQ_PARKING_H
#define CQ_PARKING_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;

#define PARKING_NO_DEADLINE LLONG_MAX

/* Owned by the caller (embedded); zero it before the first park. Guarded by the lot's mutex. */
struct parking_spot {
    struct parking_spot *prev, *next; /* the lot's list, while parked */
    struct MHD_Connection *conn;
    uint64_t group, key;
    long long deadline_ms; /* CLOCK_MONOTONIC ms (deadline_now_ms), or PARKING_NO_DEADLINE */
    char client[48];       /* the client's address, for parking_count */
    bool parked;
};

struct parking;

struct parking *parking_new(void);
/* Only after the HTTP server stopped; spots still parked are forgotten, not resumed. */
void parking_free(struct parking *lot);
/* For tests: replace http_connection_suspend and http_connection_resume. */
void parking_set_conn_ops(struct parking *lot, void (*suspend)(struct MHD_Connection *),
                          void (*resume)(struct MHD_Connection *));
/* wake(cls) is called (lot mutex held, must not block) when a spot is parked with a deadline
 * earlier than the one the deadline thread sleeps until. */
void parking_set_waker(struct parking *lot, void (*wake)(void *cls), void *cls);

/* A key (or group) no other caller of this lot gets: never 0. */
uint64_t parking_new_key(struct parking *lot);

/* Suspends conn and parks spot. false (nothing suspended) when the lot is closed. client may be
 * NULL (counted against no address). */
bool parking_park(struct parking *lot, struct parking_spot *spot, struct MHD_Connection *conn,
                  uint64_t group, uint64_t key, long long deadline_ms, const char *client)
    __attribute__((warn_unused_result));
/* Resumes the spots parked with key; returns how many. */
size_t parking_wake(struct parking *lot, uint64_t key);
/* Resumes the spots parked with group; returns how many. */
size_t parking_wake_group(struct parking *lot, uint64_t group);
/* Unparks spot without resuming it (its connection is going away); whether it was parked. */
bool parking_unpark(struct parking *lot, struct parking_spot *spot);
/* Resumes the spots whose deadline is <= now_ms; returns the earliest deadline of those still
 * parked, or -1 when none has one. */
long long parking_expire(struct parking *lot, long long now_ms);
/* Resumes every spot and refuses new parks. */
void parking_close(struct parking *lot);
bool parking_closed(struct parking *lot);
/* Spots parked with group (0: any), and with client address client (NULL: any). */
size_t parking_count(struct parking *lot, uint64_t group, const char *client);

#endif
