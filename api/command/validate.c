#include "validate.h"

#include "http/jsonv.h"

#include <stdio.h>

int validate_create_product(const char *body, size_t len, struct api_error *err)
{
    static const char *const keys[] = {"name",  "category",          "price",
                                       "stock", "lowStockThreshold", NULL};
    json_t *root = jsonv_parse(body, len, err);
    int rc = -1;

    if (root == NULL)
        return -1;
    if (jsonv_only_keys(root, keys, "", err) != 0 ||
        jsonv_string(root, "name", "name", 1, 200, err) != 0 ||
        jsonv_string(root, "category", "category", 1, 100, err) != 0 ||
        jsonv_money(root, "price", "price", true, err) != 0 ||
        jsonv_int(root, "stock", "stock", 0, VALIDATE_MAX_STOCK, true, err) != 0 ||
        jsonv_int(root, "lowStockThreshold", "lowStockThreshold", 0, VALIDATE_MAX_STOCK, false,
                  err) != 0)
        goto out;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

static int validate_order_item(const json_t *item, size_t i, struct api_error *err)
{
    static const char *const keys[] = {"productId", "quantity", "price", NULL};
    char prefix[32], f_pid[48], f_qty[48], f_price[48];

    snprintf(prefix, sizeof prefix, "items[%zu].", i);
    if (!json_is_object(item)) {
        snprintf(f_pid, sizeof f_pid, "items[%zu]", i);
        return api_error_field(err, f_pid, "must be an object");
    }
    snprintf(f_pid, sizeof f_pid, "%sproductId", prefix);
    snprintf(f_qty, sizeof f_qty, "%squantity", prefix);
    snprintf(f_price, sizeof f_price, "%sprice", prefix);
    if (jsonv_only_keys(item, keys, prefix, err) != 0 ||
        jsonv_int(item, "productId", f_pid, 1, VALIDATE_MAX_ID, true, err) != 0 ||
        jsonv_int(item, "quantity", f_qty, 1, VALIDATE_MAX_QUANTITY, true, err) != 0 ||
        jsonv_money(item, "price", f_price, false, err) != 0)
        return -1;
    return 0;
}

int validate_create_order(const char *body, size_t len, struct api_error *err)
{
    static const char *const keys[] = {"customerId", "items", NULL};
    json_t *root = jsonv_parse(body, len, err);
    const json_t *items;
    int rc = -1;

    if (root == NULL)
        return -1;
    if (jsonv_only_keys(root, keys, "", err) != 0 ||
        jsonv_int(root, "customerId", "customerId", 1, VALIDATE_MAX_ID, true, err) != 0)
        goto out;
    items = json_object_get(root, "items");
    if (items == NULL || json_is_null(items)) {
        api_error_field(err, "items", "is required");
        goto out;
    }
    if (!json_is_array(items)) {
        api_error_field(err, "items", "must be an array");
        goto out;
    }
    if (json_array_size(items) < 1 || json_array_size(items) > VALIDATE_MAX_ORDER_ITEMS) {
        api_error_field(err, "items", "must hold 1 to %d items", VALIDATE_MAX_ORDER_ITEMS);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(items); i++) {
        if (validate_order_item(json_array_get(items, i), i, err) != 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

json_t *validate_parse_with_keys(const char *body, size_t len, const char *const *allowed,
                                 struct api_error *err)
{
    json_t *root = jsonv_parse(body, len, err);

    if (root != NULL && jsonv_only_keys(root, allowed, "", err) != 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

int validate_pay_order(const char *body, size_t len, struct api_error *err)
{
    static const char *const keys[] = {"amount", "method", NULL};
    json_t *root = validate_parse_with_keys(body, len, keys, err);
    int rc;

    if (root == NULL)
        return -1;
    rc = jsonv_money(root, "amount", "amount", true, err) != 0 ||
                 jsonv_string(root, "method", "method", 1, 50, err) != 0
             ? -1
             : 0;
    json_decref(root);
    return rc;
}

int validate_no_fields(const char *body, size_t len, struct api_error *err)
{
    static const char *const keys[] = {NULL};
    json_t *root;

    if (len == 0)
        return 0;
    root = validate_parse_with_keys(body, len, keys, err);
    if (root == NULL)
        return -1;
    json_decref(root);
    return 0;
}

int validate_cancel_order(const char *body, size_t len, struct api_error *err)
{
    static const char *const keys[] = {"reason", NULL};
    json_t *root;
    int rc = 0;

    if (len == 0)
        return 0;
    root = validate_parse_with_keys(body, len, keys, err);
    if (root == NULL)
        return -1;
    if (json_object_get(root, "reason") != NULL && !json_is_null(json_object_get(root, "reason")))
        rc = jsonv_string(root, "reason", "reason", 0, 500, err);
    json_decref(root);
    return rc;
}

int validate_adjust_inventory(const char *body, size_t len, struct api_error *err)
{
    static const char *const keys[] = {"productId", "delta", "reason", NULL};
    json_t *root = validate_parse_with_keys(body, len, keys, err);
    int rc = -1;

    if (root == NULL)
        return -1;
    if (jsonv_int(root, "productId", "productId", 1, VALIDATE_MAX_ID, true, err) != 0 ||
        jsonv_int(root, "delta", "delta", -VALIDATE_MAX_STOCK, VALIDATE_MAX_STOCK, true, err) != 0)
        goto out;
    if (json_integer_value(json_object_get(root, "delta")) == 0) {
        api_error_field(err, "delta", "must not be 0");
        goto out;
    }
    if (json_object_get(root, "reason") != NULL && !json_is_null(json_object_get(root, "reason")) &&
        jsonv_string(root, "reason", "reason", 0, 200, err) != 0)
        goto out;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int validate_create_todo(const char *body, size_t len, struct api_error *err)
{
    static const char *const keys[] = {"title", NULL};
    json_t *root = validate_parse_with_keys(body, len, keys, err);
    int rc;

    if (root == NULL)
        return -1;
    rc = jsonv_string(root, "title", "title", 1, 200, err);
    json_decref(root);
    return rc;
}

int validate_update_todo(const char *body, size_t len, struct api_error *err)
{
    static const char *const keys[] = {"completed", NULL};
    json_t *root = validate_parse_with_keys(body, len, keys, err);
    int rc;

    if (root == NULL)
        return -1;
    rc = jsonv_bool(root, "completed", "completed", true, err);
    json_decref(root);
    return rc;
}

int validate_record_mood(const char *body, size_t len, struct api_error *err)
{
    static const char *const keys[] = {"type", NULL};
    static const char *const types[] = {"good", "bad", NULL};
    json_t *root = validate_parse_with_keys(body, len, keys, err);
    int rc;

    if (root == NULL)
        return -1;
    rc = jsonv_enum(root, "type", "type", types, true, err);
    json_decref(root);
    return rc;
}
