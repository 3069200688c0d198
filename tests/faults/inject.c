/* faults-inject ROUTING_KEY MESSAGE_ID < body: publishes stdin as it is (persistent, with a
 * publisher confirm) to AMQP_EXCHANGE. Test-only: the fault suite sends poison messages with it
 * (malformed JSON, an unknown event type, an event whose predecessor never comes), which no
 * command can produce. Reads BROKER_URL, AMQP_EXCHANGE, AMQP_QUEUE and MOOD_QUEUE. */
#include "mq/mq.h"
#include "service/topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : def;
}

int main(int argc, char **argv)
{
    struct mq_broker broker;
    struct domain_names names;
    struct mq_topology topo;
    amqp_basic_properties_t props;
    amqp_connection_state_t conn;
    char body[65536], err[512];
    uint64_t tag = 1;
    size_t len;
    int rc;

    if (argc != 3) {
        fprintf(stderr, "usage: faults-inject ROUTING_KEY MESSAGE_ID < body\n");
        return 2;
    }
    len = fread(body, 1, sizeof body, stdin);
    if (mq_broker_parse(&broker, env_or("BROKER_URL", ""), err, sizeof err) != 0 ||
        domain_names_load(&names, err, sizeof err) != 0 ||
        svc_topology_init(&topo, &names, err, sizeof err) != 0) {
        fprintf(stderr, "faults-inject: %s\n", err);
        return 2;
    }
    conn = mq_connect(&broker, &topo, MQ_CONFIRMS, err, sizeof err);
    if (conn == NULL) {
        fprintf(stderr, "faults-inject: %s\n", err);
        mq_broker_release(&broker);
        return 2;
    }
    memset(&props, 0, sizeof props);
    props._flags =
        AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    props.message_id = amqp_cstring_bytes(argv[2]);
    rc = mq_publish_confirmed(conn, &tag, topo.exchange, argv[1], &props, (amqp_bytes_t){len, body},
                              10000, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "faults-inject: %s\n", err);
    mq_close(conn, true);
    mq_broker_release(&broker);
    return rc == 0 ? 0 : 1;
}
