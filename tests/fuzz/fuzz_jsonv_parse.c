/* fuzz_jsonv_parse: lib/http/jsonv on arbitrary bodies: jsonv_parse, then every field check on
 * every key of the object (and of the objects in it, one level down). The validators name fields
 * with constants, so the field checks get a constant name; jsonv_only_keys names the client's key.
 */
#include "fuzz.h"
#include "http/jsonv.h"

#include <stdlib.h>
#include <string.h>

static const char *const choices[] = {"good", "bad", NULL};

static void check(int rc, const struct api_error *err)
{
    if (rc == -1)
        fuzz_check_error(err);
    else if (rc != 0)
        fuzz_fail("a jsonv check returned %d", rc);
}

/* Count code points independently of jsonv_utf8_length: the string is valid UTF-8. */
static size_t code_points(const char *s, size_t n)
{
    size_t count = 0;

    for (size_t i = 0; i < n; count++) {
        unsigned char c = (unsigned char)s[i];
        i += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    }
    return count;
}

static void check_fields(const json_t *obj, int depth)
{
    static const char *const none[] = {NULL};
    struct api_error err;
    const char *key;
    json_t *value;

    memset(&err, 0, sizeof err);
    check(jsonv_only_keys(obj, none, depth ? "items[0]." : "", &err), &err);
    json_object_foreach((json_t *)(uintptr_t)obj, key, value)
    {
        check(jsonv_string(obj, key, "field", 1, 3, &err), &err);
        check(jsonv_int(obj, key, "field", -5, 9007199254740991LL, true, &err), &err);
        check(jsonv_int(obj, key, "field", 0, 0, false, &err), &err);
        check(jsonv_money(obj, key, "field", true, &err), &err);
        check(jsonv_bool(obj, key, "field", false, &err), &err);
        check(jsonv_enum(obj, key, "field", choices, true, &err), &err);
        if (json_is_string(value)) {
            const char *s = json_string_value(value);
            size_t n = json_string_length(value);
            if (jsonv_utf8_length(s, n) != code_points(s, n))
                fuzz_fail("jsonv_utf8_length disagrees on \"%s\"", s);
        }
        if (json_is_object(value) && depth == 0)
            check_fields(value, 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_copy(data, size, 0);
    struct api_error err;
    json_t *root;

    memset(&err, 0, sizeof err);
    root = jsonv_parse(body, size, &err);
    if (root == NULL) {
        fuzz_check_error(&err);
        if (strcmp(err.code, "invalid_json") != 0)
            fuzz_fail("jsonv_parse refused with %s", err.code);
    } else {
        if (!json_is_object(root))
            fuzz_fail("jsonv_parse returned something other than an object");
        if (!fuzz_utf8_valid(data, size))
            fuzz_fail("jsonv_parse accepted a body that is not well-formed UTF-8");
        check_fields(root, 0);
        json_decref(root);
    }
    free(body);
    return 0;
}
