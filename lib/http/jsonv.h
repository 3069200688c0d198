/* jsonv: strict JSON request-body parsing and field validation on top of jansson.
 *
 * jsonv_parse() rejects malformed JSON, invalid UTF-8, NUL bytes in strings, duplicate keys and a
 * non-object top level. The jsonv_* field checks return 0 or -1 with err naming the field (a
 * path such as items[2].quantity). Money is only checked to be a JSON number here: its exact
 * value (scale, range) is checked by PostgreSQL from the original text, so no binary floating
 * point touches an amount. */
#ifndef CQ_JSONV_H
#define CQ_JSONV_H

#include "http/api_error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Returns a new reference (caller json_decref's it), or NULL with err filled. */
json_t *jsonv_parse(const char *body, size_t len, struct api_error *err);

/* Fails when obj has a key not listed in allowed (NULL-terminated); field_prefix may be "". */
int jsonv_only_keys(const json_t *obj, const char *const *allowed, const char *field_prefix,
                    struct api_error *err);

/* Required string of min..max Unicode code points (valid UTF-8 is guaranteed by the parser). */
int jsonv_string(const json_t *obj, const char *key, const char *field, size_t min, size_t max,
                 struct api_error *err);
/* Integer in [min, max]. required=false accepts a missing key (or null when null_ok). */
int jsonv_int(const json_t *obj, const char *key, const char *field, long long min, long long max,
              bool required, struct api_error *err);
/* A JSON number (value checked exactly by the database). */
int jsonv_money(const json_t *obj, const char *key, const char *field, bool required,
                struct api_error *err);
/* A boolean. */
int jsonv_bool(const json_t *obj, const char *key, const char *field, bool required,
               struct api_error *err);
/* A string that is one of the NULL-terminated choices. */
int jsonv_enum(const json_t *obj, const char *key, const char *field, const char *const *choices,
               bool required, struct api_error *err);

/* Number of Unicode code points in a valid UTF-8 string. */
size_t jsonv_utf8_length(const char *s, size_t bytes);

#endif
