/* fake_engine: what the unit tests of the two engines (relay/engine.c, consumer/engine.c) share in
 * their fake ports and set-up. The fake connections are the addresses of two tokens, and the fakes
 * count how often the engine made and closed each (in L, reset by fake_engine_env_init); every case
 * gives its engine a topology over exchange "ex" and queue "q" and base metrics on a free port. */
#ifndef CQ_TEST_FAKE_ENGINE_H
#define CQ_TEST_FAKE_ENGINE_H

#include "mq/mq.h"
#include "pg/pg.h"
#include "service/daemon.h"
#include "service/svc_metrics.h"

#include <check.h>
#include <stdbool.h>
#include <string.h>

/* How often the engine made and closed its connections; the tokens' addresses stand for them. */
static struct fake_links {
    int pg_connects, pg_closes, mq_connects, mq_closes;
    char pg_token, mq_token;
} L;

static inline PGconn *fake_pg_connect(const char *dsn)
{
    (void)dsn;
    L.pg_connects++;
    return (PGconn *)(void *)&L.pg_token;
}

static inline void fake_pg_close(PGconn *pg)
{
    if (pg != NULL)
        L.pg_closes++;
}

/* What each engine's fake mq_connect returns (and counts). */
static inline amqp_connection_state_t fake_mq_token(void)
{
    L.mq_connects++;
    return (amqp_connection_state_t)(void *)&L.mq_token;
}

static inline void fake_mq_close(amqp_connection_state_t conn, bool polite)
{
    (void)polite;
    if (conn != NULL)
        L.mq_closes++;
}

/* Resets L and makes e, what an engine is given besides its ports and configuration, for the
 * service svc (logs): database "postgres://fake", names ex, q and moods, a topology of those, and
 * metrics whose port variable port_var is unset (port 0: any free one) and whose database db_name
 * names in the help texts. */
static inline void fake_engine_env_init(struct daemon_env *e, const char *svc, const char *port_var,
                                        const char *db_name)
{
    const struct svc_metrics_opts opts = {
        .svc = svc, .port_var = port_var, .default_port = "0", .db_name = db_name};
    char err[256];

    memset(&L, 0, sizeof L);
    *e = (struct daemon_env){.database_url = "postgres://fake", .names = {"ex", "q", "moods"}};
    ck_assert_int_eq(mq_topology_init(&e->topo, "ex", "q", "#", err, sizeof err), 0);
    e->metrics = svc_metrics_new(&opts);
    ck_assert_ptr_nonnull(e->metrics);
}

static inline void fake_engine_env_release(struct daemon_env *e)
{
    svc_metrics_free(e->metrics);
}

#endif
