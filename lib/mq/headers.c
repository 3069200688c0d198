/* mq headers: reading an AMQP headers table, writing an entry, a JSON message's properties
 * (mq.h). */
#include "mq/mq.h"

#include <string.h>

static const amqp_field_value_t *header_find(const amqp_table_t *t, const char *key)
{
    size_t klen = strlen(key);

    if (t == NULL)
        return NULL;
    for (int i = 0; i < t->num_entries; i++) {
        const amqp_table_entry_t *e = &t->entries[i];
        if (e->key.len == klen && memcmp(e->key.bytes, key, klen) == 0)
            return &e->value;
    }
    return NULL;
}

bool mq_header_int(const amqp_table_t *t, const char *key, long long *out)
{
    const amqp_field_value_t *v = header_find(t, key);

    if (v == NULL)
        return false;
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8:
        *out = v->value.i8;
        return true;
    case AMQP_FIELD_KIND_U8:
        *out = v->value.u8;
        return true;
    case AMQP_FIELD_KIND_I16:
        *out = v->value.i16;
        return true;
    case AMQP_FIELD_KIND_U16:
        *out = v->value.u16;
        return true;
    case AMQP_FIELD_KIND_I32:
        *out = v->value.i32;
        return true;
    case AMQP_FIELD_KIND_U32:
        *out = v->value.u32;
        return true;
    case AMQP_FIELD_KIND_I64:
        *out = (long long)v->value.i64;
        return true;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
        *out = (long long)v->value.u64;
        return true;
    default:
        return false;
    }
}

bool mq_header_str(const amqp_table_t *t, const char *key, char *buf, size_t len)
{
    const amqp_field_value_t *v = header_find(t, key);
    size_t n;

    buf[0] = '\0';
    if (v == NULL || (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES))
        return false;
    n = v->value.bytes.len < len - 1 ? v->value.bytes.len : len - 1;
    if (n > 0)
        memcpy(buf, v->value.bytes.bytes, n);
    buf[n] = '\0';
    return true;
}

const amqp_table_t *mq_headers(const amqp_basic_properties_t *props)
{
    return (props->_flags & AMQP_BASIC_HEADERS_FLAG) ? &props->headers : NULL;
}

amqp_table_entry_t mq_utf8_entry(const char *key, const char *value)
{
    amqp_table_entry_t e;
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = amqp_cstring_bytes(value);
    return e;
}

void mq_json_props(amqp_basic_properties_t *props)
{
    memset(props, 0, sizeof *props);
    props->_flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props->content_type = amqp_cstring_bytes("application/json");
    props->delivery_mode = AMQP_DELIVERY_PERSISTENT;
}
