#include "seeds.h"

#include "command.h"
#include "http/jsonv.h"

/* The seed commands. id_field names the command function's id (the log line reads it from the
 * untranslated answer); name is what cmd_idempotent runs, with the translated body. */
#define SEED_COMMAND(var, stmt_, validate_, msg, key, field, name_, loc)                           \
    const struct command var = {                                                                   \
        .stmt = stmt_,                                                                             \
        .validate = validate_,                                                                     \
        .takes_id = false,                                                                         \
        .status = 201,                                                                             \
        .log_msg = msg,                                                                            \
        .log_key = key,                                                                            \
        .id_field = field,                                                                         \
        .idempotent_stmt = stmt_ "_idempotent",                                                    \
        .name = name_,                                                                             \
        .location = loc,                                                                           \
    };

SEED_COMMAND(seeds_create_order, "seed_create_order", seeds_validate_order, "created order",
             "order_id", "orderId", "create_order", "/queries/orders/")
SEED_COMMAND(seeds_pay_order, "seed_pay_order", seeds_validate_payment, "paid order", "order_id",
             "orderId", "pay_order", "/queries/orders/")
SEED_COMMAND(seeds_adjust_inventory, "seed_adjust_inventory", seeds_validate_inventory,
             "adjusted inventory", "product_id", "productId", "adjust_inventory", "/api/products/")

int seeds_validate_order(const char *body, size_t len, struct api_error *err)
{
    static const char *const keys[] = {"user_id", "product_id", "quantity", NULL};
    json_t *root = validate_parse_with_keys(body, len, keys, err);
    int rc;

    if (root == NULL)
        return -1;
    rc = jsonv_int(root, "user_id", "user_id", 1, VALIDATE_MAX_ID, true, err) != 0 ||
                 jsonv_int(root, "product_id", "product_id", 1, VALIDATE_MAX_ID, true, err) != 0 ||
                 jsonv_int(root, "quantity", "quantity", 1, VALIDATE_MAX_QUANTITY, true, err) != 0
             ? -1
             : 0;
    json_decref(root);
    return rc;
}

int seeds_validate_payment(const char *body, size_t len, struct api_error *err)
{
    static const char *const keys[] = {"order_id", "amount", "method", NULL};
    json_t *root = validate_parse_with_keys(body, len, keys, err);
    int rc;

    if (root == NULL)
        return -1;
    rc = jsonv_int(root, "order_id", "order_id", 1, VALIDATE_MAX_ID, true, err) != 0 ||
                 jsonv_money(root, "amount", "amount", true, err) != 0 ||
                 jsonv_string(root, "method", "method", 1, 50, err) != 0
             ? -1
             : 0;
    json_decref(root);
    return rc;
}

int seeds_validate_inventory(const char *body, size_t len, struct api_error *err)
{
    static const char *const keys[] = {"product_id", "quantity", NULL};
    json_t *root = validate_parse_with_keys(body, len, keys, err);
    int rc = -1;

    if (root == NULL)
        return -1;
    if (jsonv_int(root, "product_id", "product_id", 1, VALIDATE_MAX_ID, true, err) != 0 ||
        jsonv_int(root, "quantity", "quantity", -VALIDATE_MAX_STOCK, VALIDATE_MAX_STOCK, true,
                  err) != 0)
        goto out;
    if (json_integer_value(json_object_get(root, "quantity")) == 0) {
        api_error_field(err, "quantity", "must not be 0");
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}
