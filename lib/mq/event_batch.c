#include "mq/event_batch.h"

#include "base/buf.h"
#include "base/log.h"

#include <jansson.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void copy_string(json_t *obj, const char *key, char *out, size_t outlen)
{
    const char *s = json_string_value(json_object_get(obj, key));
    snprintf(out, outlen, "%s", s != NULL ? s : "");
}

/* Copies s when it is a short lowercase name ([a-z_]+), fit to build a log key from; else "". */
static void copy_name(const char *s, char *out, size_t outlen)
{
    size_t n = 0;

    out[0] = '\0';
    if (s == NULL)
        return;
    for (; s[n] != '\0'; n++)
        if (n + 1 >= outlen || !((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_'))
            return;
    memcpy(out, s, n + 1);
}

/* "2026-11-22T01:06:02.887993Z" (fraction optional; Z or +hh:mm / -hh:mm) as Unix seconds; 0 when
 * s is NULL or not such a time. */
static double iso_seconds(const char *s)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
    double frac = 0, scale = 0.1;
    time_t t;

    if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        n == 0)
        return 0;
    s += n;
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
            frac += (*s - '0') * scale;
    }
    if ((*s == '+' || *s == '-') && sscanf(s + 1, "%2d:%2d", &oh, &om) == 2) {
        if (*s == '-') {
            oh = -oh;
            om = -om;
        }
    } else if (strcmp(s, "Z") != 0) {
        return 0;
    }
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return 0;
    return (double)t - oh * 3600 - om * 60 + frac;
}

/* An id given as a JSON integer, or as a string of digits. 0 when absent or not an id. */
static long long id_value(json_t *v)
{
    if (json_is_integer(v))
        return (long long)json_integer_value(v);
    if (json_is_string(v)) {
        long long id = 0;
        char tail;
        if (sscanf(json_string_value(v), "%lld%c", &id, &tail) == 1)
            return id;
    }
    return 0;
}

int event_info_parse(const void *body, size_t len, struct event_info *info, char *err,
                     size_t errlen)
{
    json_error_t jerr;
    json_t *root = NULL;
    int rc = -1;

    memset(info, 0, sizeof *info);
    root = json_loadb(body, len, 0, &jerr);
    if (root == NULL) {
        snprintf(err, errlen, "body is not JSON: %s at byte %d", jerr.text, jerr.position);
        goto out;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "body is not a JSON object");
        goto out;
    }
    copy_string(root, "eventId", info->event_id, sizeof info->event_id);
    copy_string(root, "eventType", info->event_type, sizeof info->event_type);
    if (!json_is_string(json_object_get(root, "eventId")) || info->event_id[0] == '\0') {
        snprintf(err, errlen, "envelope has no eventId string");
        goto out;
    }
    if (!json_is_string(json_object_get(root, "eventType")) || info->event_type[0] == '\0') {
        snprintf(err, errlen, "envelope has no eventType string");
        goto out;
    }
    info->order_id = id_value(json_object_get(root, "orderId"));
    info->product_id = id_value(json_object_get(root, "productId"));
    info->aggregate_id = id_value(json_object_get(root, "aggregateId"));
    info->occurred_at = iso_seconds(json_string_value(json_object_get(root, "occurredAt")));
    copy_name(json_string_value(json_object_get(root, "aggregateType")), info->aggregate_type,
              sizeof info->aggregate_type);
    if (info->order_id == 0 && strcmp(info->aggregate_type, "order") == 0)
        info->order_id = info->aggregate_id;
    if (info->product_id == 0 && strcmp(info->aggregate_type, "product") == 0)
        info->product_id = info->aggregate_id;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

const char *event_info_keys(const struct event_info *info, char *buf, size_t len)
{
    char id[sizeof info->event_id + 8];
    size_t o = 0;
    bool plain = info->event_id[0] != '\0';

    for (const char *c = info->event_id; *c != '\0'; c++)
        plain = plain && (isxdigit((unsigned char)*c) || *c == '-');
    if (plain)
        snprintf(id, sizeof id, "%s", info->event_id);
    else
        log_quote(id, sizeof id, info->event_id);
    buf[0] = '\0';
    if (info->order_id != 0)
        o = (size_t)snprintf(buf, len, "order_id=%lld ", info->order_id);
    else if (info->product_id != 0)
        o = (size_t)snprintf(buf, len, "product_id=%lld ", info->product_id);
    else if (info->aggregate_type[0] != '\0' && info->aggregate_id != 0)
        o = (size_t)snprintf(buf, len, "%s_id=%lld ", info->aggregate_type, info->aggregate_id);
    if (o < len)
        o += (size_t)snprintf(buf + o, len - o, "event_id=%s", id);
    if (o < len && info->trace_id[0] != '\0')
        snprintf(buf + o, len - o, " trace_id=%s", info->trace_id);
    return buf;
}

void event_batch_init(struct event_batch *b)
{
    memset(b, 0, sizeof *b);
}

void event_batch_release(struct event_batch *b)
{
    buf_free(&b->buf);
    b->count = 0;
}

void event_batch_reset(struct event_batch *b)
{
    buf_reset(&b->buf);
    b->count = 0;
}

void event_batch_add(struct event_batch *b, const void *body, size_t len)
{
    buf_reserve(&b->buf, len + 2); /* separator, plus room for the "]" of event_batch_json */
    buf_put(&b->buf, b->count == 0 ? "[" : ",", 1);
    buf_put(&b->buf, body, len);
    b->count++;
}

const char *event_batch_json(struct event_batch *b)
{
    if (b->count == 0) {
        buf_reset(&b->buf);
        buf_puts(&b->buf, "[]");
        b->buf.len = 0; /* the text stays readable; the batch is still empty */
        return b->buf.s;
    }
    buf_put(&b->buf, "]", 1);
    b->buf.len--; /* the "]" is not part of the batch: a later add replaces it */
    return b->buf.s;
}

const char *event_batch_one(struct event_batch *b, const void *body, size_t len)
{
    event_batch_reset(b);
    buf_put(&b->buf, body, len);
    b->buf.len = 0; /* the text stays readable; the batch itself is empty */
    return b->buf.s;
}
