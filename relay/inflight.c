#include "inflight.h"

#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>

void inflight_init(struct inflight *q, size_t cap)
{
    memset(q, 0, sizeof *q);
    q->cap = cap;
    q->slots = xcalloc(cap, sizeof q->slots[0]);
    q->confirms = xcalloc(cap, sizeof q->confirms[0]);
    for (size_t i = 0; i < cap; i++)
        mq_confirms_init(&q->slots[i].c);
}

void inflight_release(struct inflight *q)
{
    if (q->slots == NULL)
        return;
    inflight_clear(q);
    for (size_t i = 0; i < q->cap; i++) {
        outbox_batch_release(&q->slots[i].b); /* a fetched slot never pushed */
        mq_confirms_release(&q->slots[i].c);
    }
    free(q->slots);
    free(q->confirms);
    memset(q, 0, sizeof *q);
}

bool inflight_full(const struct inflight *q)
{
    return q->len == q->cap;
}

struct inflight_batch *inflight_at(struct inflight *q, size_t i)
{
    if (i >= q->len)
        return NULL;
    return &q->slots[(q->head + i) % q->cap];
}

struct inflight_batch *inflight_next(struct inflight *q)
{
    if (inflight_full(q))
        return NULL;
    return &q->slots[(q->head + q->len) % q->cap];
}

void inflight_push(struct inflight *q)
{
    if (!inflight_full(q))
        q->len++;
}

void inflight_pop(struct inflight *q)
{
    if (q->len == 0)
        return;
    outbox_batch_release(&q->slots[q->head].b);
    q->head = (q->head + 1) % q->cap;
    q->len--;
}

void inflight_clear(struct inflight *q)
{
    while (q->len > 0)
        inflight_pop(q);
}

struct mq_confirms *const *inflight_confirms(struct inflight *q, size_t *n)
{
    for (size_t i = 0; i < q->len; i++)
        q->confirms[i] = &inflight_at(q, i)->c;
    *n = q->len;
    return q->confirms;
}

bool inflight_return(struct inflight *q, const char *event_id)
{
    for (size_t k = 0; k < q->len; k++) {
        struct inflight_batch *s = inflight_at(q, k);
        for (int i = 0; i < s->b.n; i++) {
            if (strcmp(outbox_value(&s->b, i, OUTBOX_EVENT_ID), event_id) == 0) {
                mq_confirms_return(&s->c, (size_t)i);
                return true;
            }
        }
    }
    return false;
}

size_t inflight_markable(struct inflight *q)
{
    struct inflight_batch *s = inflight_at(q, 0);
    size_t k;

    if (s == NULL || q->stalled)
        return 0;
    k = mq_confirms_acked_prefix(&s->c);
    if (k < (size_t)s->b.n)
        q->stalled = true;
    return k;
}

bool inflight_stalled(const struct inflight *q)
{
    return q->stalled;
}

void inflight_resume(struct inflight *q)
{
    q->stalled = false;
}

char *inflight_id_array(const struct inflight *q, size_t *count)
{
    size_t size = 3, len = 0; /* "{", "}", NUL */
    char *ids;

    *count = 0;
    if (q->len == 0)
        return NULL;
    for (size_t k = 0; k < q->len; k++)
        size += outbox_ids_size(&q->slots[(q->head + k) % q->cap].b);
    ids = xmalloc(size);
    ids[len++] = '{';
    for (size_t k = 0; k < q->len; k++)
        outbox_ids_append(&q->slots[(q->head + k) % q->cap].b, NULL, ids, &len, count);
    ids[len++] = '}';
    ids[len] = '\0';
    return ids;
}
