/* validate + jsonv: every malformed or invalid body is refused with the right code and field. */
#include "http/api_error.h"
#include "http/jsonv.h"
#include "api/command/validate.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static int order(const char *body, struct api_error *err)
{
    memset(err, 0, sizeof *err);
    return validate_create_order(body, strlen(body), err);
}

static int product(const char *body, struct api_error *err)
{
    memset(err, 0, sizeof *err);
    return validate_create_product(body, strlen(body), err);
}

#define REFUSED(call, code_, field_)                                                               \
    do {                                                                                           \
        struct api_error e_;                                                                       \
        ck_assert_int_eq(call(&e_), -1);                                                           \
        ck_assert_str_eq(e_.code, code_);                                                          \
        ck_assert_str_eq(e_.field, field_);                                                        \
        ck_assert_int_eq(api_status_http(e_.kind), 400);                                           \
    } while (0)

START_TEST(valid_bodies_pass)
{
    struct api_error err;
    ck_assert_int_eq(
        order("{\"customerId\":101,\"items\":[{\"productId\":1,\"quantity\":2,\"price\":50000}]}",
              &err),
        0);
    ck_assert_int_eq(order("{\"customerId\":1,\"items\":[{\"productId\":1,\"quantity\":1,"
                           "\"price\":null}]}",
                           &err),
                     0);
    ck_assert_int_eq(product("{\"name\":\"Laptop\",\"category\":\"Electronics\",\"price\":99.99,"
                             "\"stock\":10,\"lowStockThreshold\":3}",
                             &err),
                     0);
    /* 200 characters of 2-byte UTF-8 is 200 characters, not 400 */
    char body[1024] = "{\"name\":\"";
    for (int i = 0; i < 200; i++)
        strcat(body, "\xc3\xa9");
    strcat(body, "\",\"category\":\"C\",\"price\":1,\"stock\":0}");
    ck_assert_int_eq(product(body, &err), 0);
}
END_TEST

static int body_case(const char *b, struct api_error *e)
{
    return order(b, e);
}

START_TEST(malformed_json_is_invalid_json)
{
    const char *bad[] = {"",
                         "{",
                         "[1]",
                         "\"x\"",
                         "{\"customerId\":1,\"customerId\":2,\"items\":[]}",
                         "{\"customerId\":NaN}",
                         "{\"customerId\":\"\\u0000\"}",
                         "{\"customerId\":\"\xff\"}",
                         "{\"customerId\":99999999999999999999999}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct api_error e;
        ck_assert_int_eq(body_case(bad[i], &e), -1);
        ck_assert_str_eq(e.code, "invalid_json");
        ck_assert_int_eq(api_status_http(e.kind), 400);
    }
}
END_TEST

static int c1(struct api_error *e)
{
    return order("{\"items\":[{\"productId\":1,\"quantity\":1}]}", e);
}
static int c2(struct api_error *e)
{
    return order("{\"customerId\":0,\"items\":[{\"productId\":1,\"quantity\":1}]}", e);
}
static int c3(struct api_error *e)
{
    return order("{\"customerId\":1.5,\"items\":[{\"productId\":1,\"quantity\":1}]}", e);
}
static int c4(struct api_error *e)
{
    return order("{\"customerId\":1,\"items\":[]}", e);
}
static int c5(struct api_error *e)
{
    return order("{\"customerId\":1,\"items\":{}}", e);
}
static int c6(struct api_error *e)
{
    return order("{\"customerId\":1,\"items\":[{\"productId\":1,\"quantity\":0}]}", e);
}
static int c7(struct api_error *e)
{
    return order("{\"customerId\":1,\"items\":[{\"productId\":1,\"quantity\":1},{\"productId\":"
                 "\"2\",\"quantity\":1}]}",
                 e);
}
static int c8(struct api_error *e)
{
    return order("{\"customerId\":1,\"items\":[{\"productId\":1,\"quantity\":1,\"price\":\"5\"}]}",
                 e);
}
static int c9(struct api_error *e)
{
    return order("{\"customerId\":1,\"items\":[{\"productId\":1,\"quantity\":1}],\"coupon\":1}", e);
}
static int c10(struct api_error *e)
{
    return order("{\"customerId\":1,\"items\":[7]}", e);
}
static int c11(struct api_error *e)
{
    return order("{\"customerId\":1,\"items\":[{\"productId\":1,\"quantity\":1,\"x\":1}]}", e);
}
static int c12(struct api_error *e)
{
    return order("{\"customerId\":1,\"items\":[{\"productId\":1,\"quantity\":1000001}]}", e);
}

START_TEST(invalid_order_fields_are_named)
{
    REFUSED(c1, "validation_error", "customerId");
    REFUSED(c2, "validation_error", "customerId");
    REFUSED(c3, "validation_error", "customerId");
    REFUSED(c4, "validation_error", "items");
    REFUSED(c5, "validation_error", "items");
    REFUSED(c6, "validation_error", "items[0].quantity");
    REFUSED(c7, "validation_error", "items[1].productId");
    REFUSED(c8, "validation_error", "items[0].price");
    REFUSED(c9, "validation_error", "coupon");
    REFUSED(c10, "validation_error", "items[0]");
    REFUSED(c11, "validation_error", "items[0].x");
    REFUSED(c12, "validation_error", "items[0].quantity");
}
END_TEST

START_TEST(too_many_items)
{
    char *body = malloc(64 + 40 * 101);
    strcpy(body, "{\"customerId\":1,\"items\":[");
    for (int i = 0; i < 101; i++)
        strcat(body, i ? ",{\"productId\":1,\"quantity\":1}" : "{\"productId\":1,\"quantity\":1}");
    strcat(body, "]}");
    struct api_error e;
    ck_assert_int_eq(order(body, &e), -1);
    ck_assert_str_eq(e.field, "items");
    free(body);
}
END_TEST

static int p1(struct api_error *e)
{
    return product("{\"category\":\"C\",\"price\":1,\"stock\":1}", e);
}
static int p2(struct api_error *e)
{
    return product("{\"name\":\"\",\"category\":\"C\",\"price\":1,\"stock\":1}", e);
}
static int p3(struct api_error *e)
{
    return product("{\"name\":\"N\",\"category\":5,\"price\":1,\"stock\":1}", e);
}
static int p4(struct api_error *e)
{
    return product("{\"name\":\"N\",\"category\":\"C\",\"stock\":1}", e);
}
static int p5(struct api_error *e)
{
    return product("{\"name\":\"N\",\"category\":\"C\",\"price\":1,\"stock\":-1}", e);
}
static int p6(struct api_error *e)
{
    return product("{\"name\":\"N\",\"category\":\"C\",\"price\":true,\"stock\":1}", e);
}
static int p7(struct api_error *e)
{
    return product(
        "{\"name\":\"N\",\"category\":\"C\",\"price\":1,\"stock\":1,\"lowStockThreshold\":-2}", e);
}

START_TEST(invalid_product_fields_are_named)
{
    REFUSED(p1, "validation_error", "name");
    REFUSED(p2, "validation_error", "name");
    REFUSED(p3, "validation_error", "category");
    REFUSED(p4, "validation_error", "price");
    REFUSED(p5, "validation_error", "stock");
    REFUSED(p6, "validation_error", "price");
    REFUSED(p7, "validation_error", "lowStockThreshold");
}
END_TEST

START_TEST(deep_nesting_is_refused_without_crash)
{
    size_t depth = 10000;
    char *body = malloc(2 * depth + 32);
    size_t o = 0;
    o += (size_t)sprintf(body, "{\"customerId\":");
    for (size_t i = 0; i < depth; i++)
        body[o++] = '[';
    for (size_t i = 0; i < depth; i++)
        body[o++] = ']';
    body[o++] = '}';
    body[o] = '\0';
    struct api_error e;
    ck_assert_int_eq(order(body, &e), -1);
    ck_assert_int_eq(api_status_http(e.kind), 400);
    free(body);
}
END_TEST

START_TEST(utf8_length_counts_code_points)
{
    ck_assert_uint_eq(jsonv_utf8_length("abc", 3), 3);
    ck_assert_uint_eq(jsonv_utf8_length("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9), 3);
}
END_TEST

START_TEST(error_json_shape)
{
    struct api_error e;
    size_t len;
    api_error_field(&e, "items[0].price", "must be a number");
    char *j = api_error_json(&e, &len);
    ck_assert_str_eq(j, "{\"error\":{\"code\":\"validation_error\",\"message\":\"items[0].price: "
                        "must be a number\",\"field\":\"items[0].price\"}}");
    ck_assert_uint_eq(len, strlen(j));
    free(j);
    api_error_set(&e, API_CONFLICT, "insufficient_stock", "short");
    j = api_error_json(&e, &len);
    ck_assert_str_eq(j, "{\"error\":{\"code\":\"insufficient_stock\",\"message\":\"short\"}}");
    free(j);
    ck_assert_int_eq(api_status_http(API_PAYLOAD_TOO_LARGE), 413);
    ck_assert_int_eq(api_status_http(API_UNSUPPORTED_MEDIA_TYPE), 415);
    ck_assert_int_eq(api_status_http(API_UNAVAILABLE), 503);
}
END_TEST

static int mood(const char *body, struct api_error *err)
{
    memset(err, 0, sizeof *err);
    return validate_record_mood(body, strlen(body), err);
}

static int mood_empty(struct api_error *err)
{
    memset(err, 0, sizeof *err);
    return validate_record_mood("", 0, err);
}

START_TEST(record_mood_takes_good_or_bad_only)
{
    struct api_error err;

    ck_assert_int_eq(mood("{\"type\":\"good\"}", &err), 0);
    ck_assert_int_eq(mood("{\"type\": \"bad\"}", &err), 0);
    ck_assert_int_eq(mood("{\"type\":\"meh\"}", &err), -1);
    ck_assert_str_eq(err.code, "validation_error");
    ck_assert_str_eq(err.field, "type");
    ck_assert_int_eq(mood("{\"type\":\"GOOD\"}", &err), -1);
    ck_assert_str_eq(err.field, "type");
    ck_assert_int_eq(mood("{\"type\":1}", &err), -1);
    ck_assert_str_eq(err.field, "type");
    ck_assert_int_eq(mood("{\"type\":null}", &err), -1);
    ck_assert_str_eq(err.field, "type");
    ck_assert_int_eq(mood("{}", &err), -1);
    ck_assert_str_eq(err.field, "type");
    ck_assert_int_eq(mood("{\"type\":\"good\",\"why\":\"sun\"}", &err), -1);
    ck_assert_str_eq(err.field, "why");
    ck_assert_int_eq(mood("{\"type\":\"good\",\"type\":\"bad\"}", &err), -1);
    ck_assert_str_eq(err.code, "invalid_json");
    ck_assert_int_eq(mood("[\"good\"]", &err), -1);
    ck_assert_str_eq(err.code, "invalid_json");
    ck_assert_int_eq(mood_empty(&err), -1);
    ck_assert_str_eq(err.code, "invalid_json");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("validate");
    unit_tcase(s, "core",
               UNIT_TESTS(valid_bodies_pass, malformed_json_is_invalid_json,
                          invalid_order_fields_are_named, too_many_items,
                          invalid_product_fields_are_named, deep_nesting_is_refused_without_crash,
                          utf8_length_counts_code_points, error_json_shape,
                          record_mood_takes_good_or_bad_only));
    return unit_run(s);
}
