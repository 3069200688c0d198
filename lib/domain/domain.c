#include "domain/domain.h"

#include <stddef.h>

static const struct config_var names_vars[] = {
    {"AMQP_EXCHANGE", CONFIG_STRING, DOMAIN_EXCHANGE_DEFAULT,
     offsetof(struct domain_names, exchange), 0, 0},
    {"AMQP_QUEUE", CONFIG_STRING, DOMAIN_QUEUE_DEFAULT, offsetof(struct domain_names, queue), 0, 0},
    {"MOOD_QUEUE", CONFIG_STRING, DOMAIN_MOOD_QUEUE_DEFAULT,
     offsetof(struct domain_names, mood_queue), 0, 0},
};
const struct config_table domain_names_table = CONFIG_TABLE(names_vars);

int domain_names_load(struct domain_names *n, char *err, size_t errlen)
{
    return config_load(n, names_vars, domain_names_table.n, err, errlen);
}

static const struct config_var idempotency_vars[] = {
    {"IDEMPOTENCY_KEY_TTL_S", CONFIG_INT, "86400", offsetof(struct domain_idempotency, key_ttl_s),
     1, DOMAIN_IDEMPOTENCY_KEY_TTL_MAX_S},
};
const struct config_table domain_idempotency_table = CONFIG_TABLE(idempotency_vars);

int domain_idempotency_load(struct domain_idempotency *d, char *err, size_t errlen)
{
    return config_load(d, idempotency_vars, domain_idempotency_table.n, err, errlen);
}
