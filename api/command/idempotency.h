/* idempotency: the Idempotency-Key request header of the command API.
 *
 * Every command (POST, PATCH, DELETE) may carry one key: 1..255 visible ASCII characters. The
 * command then runs through the write DB's cmd_idempotent(), which claims the key in the
 * command's transaction: a repeat of the same request (method, path, body as JSON, hashed by
 * PostgreSQL) within IDEMPOTENCY_KEY_TTL_S answers the first response again (same status, body
 * and X-Consistency-Token, plus "Idempotent-Replayed: true") and writes nothing; another request
 * under the key is 422 idempotency_key_reused. A request that fails keeps no key. */
#ifndef CQ_COMMAND_IDEMPOTENCY_H
#define CQ_COMMAND_IDEMPOTENCY_H

#include "http/api_error.h"
#include "http/http.h"

#include <stdbool.h>

#define IDEMPOTENCY_HEADER "Idempotency-Key"
#define IDEMPOTENCY_KEY_MAX 255

/* Whether key is 1..255 visible ASCII characters (0x21..0x7e). */
bool idempotency_key_valid(const char *key);

/* Reads the request's key: 0 with *key NULL when none was sent, 0 with *key set, or -1 with err
 * (400 validation_error naming Idempotency-Key) when it is invalid or sent more than once. */
int idempotency_key_get(const struct http_request *req, const char **key, struct api_error *err);

#endif
