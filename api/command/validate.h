/* validate: the command API's request-body validators. Each parses body strictly (lib/http/jsonv)
 * and checks every field's presence, type and range, rejecting unknown fields. On success the
 * original body text is what the SQL command function receives. Pure functions: unit-tested
 * and fuzzed. */
#ifndef CQ_VALIDATE_H
#define CQ_VALIDATE_H

#include "http/api_error.h"

#include <jansson.h>
#include <stddef.h>

#define VALIDATE_MAX_ORDER_ITEMS 100
#define VALIDATE_MAX_QUANTITY 1000000
#define VALIDATE_MAX_STOCK 1000000000LL
#define VALIDATE_MAX_ID 9007199254740991LL /* 2^53 - 1: exact in every JSON client */

typedef int (*validate_fn)(const char *body, size_t len, struct api_error *err);

/* Parses body strictly (lib/http/jsonv) and refuses keys outside allowed (NULL-terminated): the
 * object, a new reference the caller json_decref's, or NULL with err. */
json_t *validate_parse_with_keys(const char *body, size_t len, const char *const *allowed,
                                 struct api_error *err);

int validate_create_product(const char *body, size_t len, struct api_error *err);
int validate_create_order(const char *body, size_t len, struct api_error *err);
int validate_pay_order(const char *body, size_t len, struct api_error *err);
/* ship and complete: no body, or an empty JSON object */
int validate_no_fields(const char *body, size_t len, struct api_error *err);
int validate_cancel_order(const char *body, size_t len, struct api_error *err);
int validate_adjust_inventory(const char *body, size_t len, struct api_error *err);
int validate_create_todo(const char *body, size_t len, struct api_error *err);
int validate_update_todo(const char *body, size_t len, struct api_error *err);
/* {"type": "good" | "bad"} */
int validate_record_mood(const char *body, size_t len, struct api_error *err);

#endif
