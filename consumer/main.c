/* consumer: projects events from the read-model queue into the read DB. The start-up is every
 * daemon's (lib/service/daemon.h), the loop is the engine's (engine.h). */
#include "base/log.h"
#include "config.h"
#include "consumer_metrics.h"
#include "engine.h"
#include "service/daemon.h"

int main(int argc, char **argv)
{
    static struct consumer c;
    struct consumer_config cfg;
    const struct daemon_spec spec = {
        .svc = "consumer",
        .summary = "consumer: projects events into the read model",
        /* the consumer owns the read model: both name the read DB's owner */
        .db_var = "CONSUMER_DATABASE_URL",
        .owner_db_var = "READ_DATABASE_URL",
        .config = &consumer_config_table,
        .cfg = &cfg,
        .metrics = consumer_metrics_opts,
    };
    struct daemon d;
    int rc;

    if ((rc = daemon_start(&d, &spec, argc, argv)) >= 0)
        return rc;
    consumer_init(&c, &consumer_ports_live, &cfg, &d.env);
    daemon_listen(&d);
    log_info("starting",
             "queue=%s prefetch=%ld batch_size=%ld mv_refresh_interval_ms=%ld max_attempts=%ld "
             "early_max_attempts=%ld retry_delay_ms=%ld processed_events_retention=\"%s\" "
             "purge_interval_ms=%ld",
             d.env.topo.queue, cfg.prefetch, cfg.batch_size, cfg.mv_refresh_interval_ms,
             cfg.max_attempts, cfg.early_max_attempts, cfg.retry_delay_ms,
             cfg.processed_events_retention, cfg.purge_interval_ms);
    if (cfg.fault_pause_before_commit_ms > 0 || cfg.fault_pause_after_commit_ms > 0 ||
        cfg.fault_abort_marker[0] != '\0')
        log_warn("fault hooks on: for tests only, never in production",
                 "fault_pause_before_commit_ms=%ld fault_pause_after_commit_ms=%ld "
                 "fault_abort_on_marker=%s",
                 cfg.fault_pause_before_commit_ms, cfg.fault_pause_after_commit_ms,
                 cfg.fault_abort_marker[0] != '\0' ? "set" : "off");
    rc = consumer_run(&c);
    consumer_close(&c);
    return daemon_stop(&d, rc);
}
