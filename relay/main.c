/* relay: publishes the write DB's outbox to RabbitMQ (transactional outbox pattern). The start-up
 * is every daemon's (lib/service/daemon.h), the loop is the engine's (engine.h). */
#include "base/log.h"
#include "config.h"
#include "engine.h"
#include "relay_metrics.h"
#include "service/daemon.h"

int main(int argc, char **argv)
{
    static struct relay r;
    struct relay_config cfg;
    const struct daemon_spec spec = {
        .svc = "relay",
        .summary = "relay: publishes the outbox to RabbitMQ",
        .db_var = "RELAY_DATABASE_URL", /* the relay's own role (least privilege) */
        .owner_db_var = "DATABASE_URL",
        .config = &relay_config_table,
        .cfg = &cfg,
        .check = relay_config_check,
        .extra = &domain_idempotency_table, /* loaded by relay_config_check */
        .nextra = 1,
        .metrics = relay_metrics_opts(&r.metrics),
    };
    struct daemon d;
    char q[300];
    int rc;

    if ((rc = daemon_start(&d, &spec, argc, argv)) >= 0)
        return rc;
    relay_init(&r, &relay_ports_live, &cfg, &d.env);
    daemon_listen(&d);
    log_info("starting",
             "holder=%s exchange=%s batch_size=%ld max_in_flight=%ld lease_ms=%ld "
             "poll_interval_ms=%ld notify_mode=%s "
             "outbox_retention=%s idempotency_key_ttl_s=%ld purge_interval_ms=%ld",
             r.holder, d.env.topo.exchange, cfg.batch_size, cfg.max_in_flight, cfg.lease_ms,
             cfg.poll_interval_ms, cfg.notify_mode, log_quote(q, sizeof q, cfg.outbox_retention),
             cfg.idem.key_ttl_s, cfg.purge_interval_ms);
    if (cfg.fault_pause_after_publish_ms > 0)
        log_warn("fault hooks on: for tests only, never in production",
                 "fault_pause_after_publish_ms=%ld", cfg.fault_pause_after_publish_ms);
    rc = relay_run(&r);
    return daemon_stop(&d, rc);
}
