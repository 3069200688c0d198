#include "http/jsonv.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

json_t *jsonv_parse(const char *body, size_t len, struct api_error *err)
{
    json_error_t jerr;
    json_t *root;

    if (len == 0) {
        api_error_set(err, API_BAD_REQUEST, "invalid_json", "request body is empty");
        return NULL;
    }
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        api_error_set(err, API_BAD_REQUEST, "invalid_json", "malformed JSON at line %d: %s",
                      jerr.line, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        api_error_set(err, API_BAD_REQUEST, "invalid_json", "request body must be a JSON object");
        return NULL;
    }
    return root;
}

int jsonv_only_keys(const json_t *obj, const char *const *allowed, const char *field_prefix,
                    struct api_error *err)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)(uintptr_t)obj, key, value)
    {
        bool known = false;
        (void)value;
        for (const char *const *a = allowed; *a != NULL; a++) {
            if (strcmp(*a, key) == 0) {
                known = true;
                break;
            }
        }
        if (!known) {
            char field[96];
            /* the empty key is named "" (quotes included), so that the error names a field */
            snprintf(field, sizeof field, "%s%s", field_prefix, key[0] != '\0' ? key : "\"\"");
            return api_error_field(err, field, "unknown field");
        }
    }
    return 0;
}

size_t jsonv_utf8_length(const char *s, size_t bytes)
{
    size_t n = 0;

    for (size_t i = 0; i < bytes; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    }
    return n;
}

int jsonv_string(const json_t *obj, const char *key, const char *field, size_t min, size_t max,
                 struct api_error *err)
{
    const json_t *v = json_object_get(obj, key);
    size_t n;

    if (v == NULL || json_is_null(v))
        return api_error_field(err, field, "is required");
    if (!json_is_string(v))
        return api_error_field(err, field, "must be a string");
    n = jsonv_utf8_length(json_string_value(v), json_string_length(v));
    if (n < min || n > max)
        return api_error_field(err, field, "must be %zu to %zu characters long", min, max);
    return 0;
}

int jsonv_int(const json_t *obj, const char *key, const char *field, long long min, long long max,
              bool required, struct api_error *err)
{
    const json_t *v = json_object_get(obj, key);
    json_int_t i;

    if (v == NULL || json_is_null(v))
        return required ? api_error_field(err, field, "is required") : 0;
    if (!json_is_integer(v))
        return api_error_field(err, field, "must be an integer");
    i = json_integer_value(v);
    if (i < min || i > max)
        return api_error_field(err, field, "must be between %lld and %lld", min, max);
    return 0;
}

int jsonv_money(const json_t *obj, const char *key, const char *field, bool required,
                struct api_error *err)
{
    const json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v))
        return required ? api_error_field(err, field, "is required") : 0;
    if (!json_is_number(v))
        return api_error_field(err, field, "must be a number");
    return 0;
}

int jsonv_bool(const json_t *obj, const char *key, const char *field, bool required,
               struct api_error *err)
{
    const json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v))
        return required ? api_error_field(err, field, "is required") : 0;
    if (!json_is_boolean(v))
        return api_error_field(err, field, "must be true or false");
    return 0;
}

int jsonv_enum(const json_t *obj, const char *key, const char *field, const char *const *choices,
               bool required, struct api_error *err)
{
    const json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v))
        return required ? api_error_field(err, field, "is required") : 0;
    if (json_is_string(v)) {
        for (const char *const *c = choices; *c != NULL; c++) {
            if (strcmp(*c, json_string_value(v)) == 0)
                return 0;
        }
    }
    char list[160] = "";
    size_t o = 0;
    for (const char *const *c = choices; *c != NULL && o < sizeof list; c++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s\"%s\"", o ? ", " : "", *c);
    return api_error_field(err, field, "must be one of %s", list);
}
