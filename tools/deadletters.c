/* deadletters: lists, requeues or drops the read model's dead letters (<AMQP_QUEUE>.dead).
 *
 *   deadletters list                     one line per dead letter (tab-separated, with a header)
 *   deadletters requeue --all | ID...    back to <AMQP_QUEUE> with a fresh attempt count
 *   deadletters drop --all | ID...       delete for good
 *
 * ID is an event id (the message_id the relay set). Reads BROKER_URL, AMQP_EXCHANGE, AMQP_QUEUE
 * and MOOD_QUEUE like the services (scripts/deadletters.sh loads .env for it).
 *
 * How the queue is read and acted on: lib/mq/dlq.h (shared with the command API's dead-letter
 * actions). Exit status: 0, 1 when an ID was not found, 2 on a usage or broker error. */
#include "service/cli.h"
#include "base/config.h"
#include "mq/dlq.h"
#include "mq/mq.h"
#include "service/topology.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONFIRM_TIMEOUT_MS 30000

struct dl_config {
    const char *broker_url;
};

#define VAR(name, type, def, field, min, max)                                                      \
    {                                                                                              \
        name, type, def, offsetof(struct dl_config, field), min, max                               \
    }
static const struct config_var dl_vars[] = {
    VAR("BROKER_URL", CONFIG_STRING, NULL, broker_url, 0, 0),
};
#undef VAR

enum action { LIST, REQUEUE, DROP };

static void print_letter(void *arg, const struct dlq_letter *l)
{
    const enum action *action = arg;

    if (*action == LIST)
        printf("%s\t%s\t%lld\t%s\t%s\t%s\t%s\n", l->id, l->type, l->attempts, l->sqlstate,
               l->failed_at, l->routing_key, l->reason);
    else
        printf("%s %s (%s, %lld attempts)\n", *action == REQUEUE ? "requeued" : "dropped", l->id,
               l->type, l->attempts);
}

static int run(amqp_connection_state_t conn, const struct mq_topology *t, enum action action,
               bool all, char **ids, int nids, bool *found)
{
    const struct dlq_request r = {
        .action = action == LIST      ? DLQ_LIST
                  : action == REQUEUE ? DLQ_REQUEUE
                                      : DLQ_DROP,
        .all = all,
        .ids = (const char *const *)ids,
        .nids = nids,
        .found = found,
        .visit = print_letter,
        .arg = &action,
        .confirm_timeout_ms = CONFIRM_TIMEOUT_MS,
    };
    uint64_t next_tag = 1;
    long count = 0, done = 0;
    char err[512];

    if (action == LIST)
        printf("event_id\tevent_type\tattempts\tsqlstate\tfailed_at\trouting_key\treason\n");
    if (dlq_run(conn, &next_tag, t, &r, &count, &done, err, sizeof err) != 0) {
        fprintf(stderr, "deadletters: %s\n", err);
        return 2;
    }
    if (action == LIST)
        fprintf(stderr, "deadletters: %ld dead letter%s in \"%s\"\n", count, count == 1 ? "" : "s",
                t->dead_queue);
    else
        fprintf(stderr, "deadletters: %s %ld of %ld dead letters\n",
                action == REQUEUE ? "requeued" : "dropped", done, count);
    return 0;
}

static const char usage_text[] = "usage: deadletters list\n"
                                 "       deadletters requeue --all | EVENT_ID...\n"
                                 "       deadletters drop --all | EVENT_ID...\n"
                                 "       deadletters --help | --version\n";

static int usage(void)
{
    fputs(usage_text, stderr);
    return 2;
}

int main(int argc, char **argv)
{
    const struct config_table tables[] = {CONFIG_TABLE(dl_vars), domain_names_table,
                                          mq_config_table};
    const struct cli_spec cli = {
        "deadletters", "deadletters: lists, requeues and drops the dead-letter queue",
        NULL,          0,
        tables,        sizeof tables / sizeof tables[0],
        usage_text};
    struct dl_config cfg;
    struct domain_names names;
    struct mq_broker broker;
    struct mq_topology topo;
    amqp_connection_state_t conn;
    enum action action;
    bool all = false, *found = NULL;
    char **ids = NULL;
    int nids = 0, rc;
    char err[512];

    if (argc < 2)
        return usage();
    if (argv[1][0] == '-')
        return cli_handle(&cli, argc, argv);
    if (strcmp(argv[1], "list") == 0 && argc == 2)
        action = LIST;
    else if (strcmp(argv[1], "requeue") == 0 && argc > 2)
        action = REQUEUE;
    else if (strcmp(argv[1], "drop") == 0 && argc > 2)
        action = DROP;
    else
        return usage();
    if (action != LIST) {
        all = strcmp(argv[2], "--all") == 0;
        if (all && argc != 3)
            return usage();
        ids = argv + 2;
        nids = all ? 0 : argc - 2;
    }
    if (config_load(&cfg, dl_vars, sizeof dl_vars / sizeof dl_vars[0], err, sizeof err) != 0 ||
        domain_names_load(&names, err, sizeof err) != 0) {
        fprintf(stderr, "deadletters: %s\n", err);
        return 2;
    }
    if (mq_broker_parse(&broker, cfg.broker_url, err, sizeof err) != 0) {
        fprintf(stderr, "deadletters: BROKER_URL: %s\n", err);
        return 2;
    }
    if (svc_topology_init(&topo, &names, err, sizeof err) != 0) {
        fprintf(stderr, "deadletters: AMQP_QUEUE: %s\n", err);
        mq_broker_release(&broker);
        return 2;
    }
    conn = mq_connect(&broker, &topo, MQ_CONFIRMS, err, sizeof err);
    if (conn == NULL) {
        fprintf(stderr, "deadletters: %s\n", err);
        mq_broker_release(&broker);
        return 2;
    }
    found = calloc((size_t)nids + 1, sizeof *found);
    if (found == NULL) {
        fprintf(stderr, "deadletters: out of memory\n");
        abort();
    }
    rc = run(conn, &topo, action, all, ids, nids, found);
    for (int i = 0; rc == 0 && i < nids; i++) {
        if (!found[i]) {
            fprintf(stderr, "deadletters: no dead letter with event id %s\n", ids[i]);
            rc = 1;
        }
    }
    fflush(stdout);
    mq_close(conn, true); /* unacked dead letters go back to the queue */
    free(found);
    mq_broker_release(&broker);
    return rc;
}
