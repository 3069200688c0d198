#include "idempotency.h"

#include <string.h>

bool idempotency_key_valid(const char *key)
{
    size_t n = 0;

    for (; key[n] != '\0'; n++) {
        if (n >= IDEMPOTENCY_KEY_MAX || key[n] < '!' || key[n] > '~')
            return false;
    }
    return n > 0;
}

int idempotency_key_get(const struct http_request *req, const char **key, struct api_error *err)
{
    const char *value;
    unsigned count = http_request_header_count(req, IDEMPOTENCY_HEADER, &value);

    *key = NULL;
    if (count == 0)
        return 0;
    if (count > 1)
        return api_error_field(err, IDEMPOTENCY_HEADER, "must be sent once, not %u times", count);
    if (value == NULL || !idempotency_key_valid(value))
        return api_error_field(err, IDEMPOTENCY_HEADER,
                               "must be 1 to %d visible ASCII characters (no spaces)",
                               IDEMPOTENCY_KEY_MAX);
    *key = value;
    return 0;
}
