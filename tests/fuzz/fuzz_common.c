#include "fuzz.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("fuzz property broken: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

char *fuzz_copy(const uint8_t *data, size_t size, int terminate)
{
    size_t n = size + (terminate ? 1 : 0);
    char *p = malloc(n > 0 ? n : 1);

    if (p == NULL)
        abort();
    if (size > 0)
        memcpy(p, data, size);
    if (terminate)
        p[size] = '\0';
    return p;
}

int fuzz_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            len = 2, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return 0;
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

void fuzz_check_error(const struct api_error *err)
{
    static const struct {
        const char *code;
        unsigned status;
    } known[] = {{"invalid_json", 400}, {"validation_error", 400}};
    size_t len = 0;
    char *body;
    json_t *root, *code, *field;
    json_error_t jerr;
    size_t i;

    if (memchr(err->code, '\0', sizeof err->code) == NULL ||
        memchr(err->message, '\0', sizeof err->message) == NULL ||
        memchr(err->field, '\0', sizeof err->field) == NULL)
        fuzz_fail("an api_error string is not terminated");
    for (i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(known[i].code, err->code) == 0)
            break;
    }
    if (i == sizeof known / sizeof known[0])
        fuzz_fail("unexpected error code \"%s\"", err->code);
    if (api_status_http(err->kind) != known[i].status)
        fuzz_fail("code %s answered with status %u", err->code, api_status_http(err->kind));
    if (err->message[0] == '\0')
        fuzz_fail("code %s without a message", err->code);
    if (strcmp(err->code, "validation_error") == 0 && err->field[0] == '\0')
        fuzz_fail("validation_error without a field: %s", err->message);

    /* the body sent to the client: valid JSON whatever client bytes the message quotes */
    body = api_error_json(err, &len);
    if (body == NULL || strlen(body) != len)
        fuzz_fail("api_error_json returned no body or a wrong length");
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        fuzz_fail("error body is not JSON (%s): %s", jerr.text, body);
    code = json_object_get(json_object_get(root, "error"), "code");
    if (!json_is_string(code) || strcmp(json_string_value(code), err->code) != 0)
        fuzz_fail("error body does not carry code %s: %s", err->code, body);
    field = json_object_get(json_object_get(root, "error"), "field");
    if (err->field[0] != '\0' && !json_is_string(field))
        fuzz_fail("error body does not name the field to blame: %s", body);
    json_decref(root);
    free(body);
}

/* Every string (keys too) of an accepted document: no NUL inside, well-formed UTF-8. */
static void check_strings(json_t *v, int depth)
{
    const char *key;
    json_t *item;
    size_t i;

    if (depth > 4096)
        fuzz_fail("accepted a document nested deeper than 4096");
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (strlen(s) != n)
            fuzz_fail("accepted a string with a NUL character");
        if (!fuzz_utf8_valid((const unsigned char *)s, n))
            fuzz_fail("accepted a string that is not well-formed UTF-8");
    } else if (json_is_object(v)) {
        json_object_foreach(v, key, item)
        {
            if (!fuzz_utf8_valid((const unsigned char *)key, strlen(key)))
                fuzz_fail("accepted a key that is not well-formed UTF-8");
            check_strings(item, depth + 1);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, item) check_strings(item, depth + 1);
    }
}

int fuzz_validator(fuzz_validator_fn validate, const uint8_t *data, size_t size)
{
    char *body = fuzz_copy(data, size, 0);
    struct api_error err;
    json_error_t jerr;
    json_t *root;
    int rc;

    memset(&err, 0x5A, sizeof err); /* a validator must not rely on a zeroed error */
    rc = validate(body, size, &err);
    if (rc == -1) {
        fuzz_check_error(&err);
    } else if (rc == 0) {
        /* accepted: the body the SQL function will get is a clean JSON object */
        if (size > 0) {
            if (!fuzz_utf8_valid(data, size))
                fuzz_fail("accepted a body that is not well-formed UTF-8");
            root = json_loadb(body, size, JSON_REJECT_DUPLICATES, &jerr);
            if (root == NULL || !json_is_object(root))
                fuzz_fail("accepted a body that is not a JSON object: %s",
                          root == NULL ? jerr.text : "not an object");
            check_strings(root, 0);
            json_decref(root);
        }
        memset(&err, 0, sizeof err);
        if (validate(body, size, &err) != 0)
            fuzz_fail("the same body was accepted, then refused: %s", err.message);
    } else {
        fuzz_fail("validator returned %d", rc);
    }
    free(body);
    return 0;
}
