/* metrics_text: the registry in the Prometheus text exposition format (lib/metrics/metrics.h's
 * metrics_render and metrics_format_double). */
#include "metrics/metrics_family.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void metrics_text_escape(struct buf *b, const char *s, bool help)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            buf_puts(b, "\\\\");
        else if (*s == '\n')
            buf_puts(b, "\\n");
        else if (*s == '"' && !help)
            buf_puts(b, "\\\"");
        else
            buf_put(b, s, 1);
    }
}

const char *metrics_format_double(char *buf, size_t len, double v)
{
    if (isnan(v)) {
        snprintf(buf, len, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
    } else if (v > -1e15 && v < 1e15 && v == (double)(long long)v) {
        snprintf(buf, len, "%lld", (long long)v); /* an integer, and never "-0" */
    } else {
        for (int p = 1; p <= 17; p++) {
            snprintf(buf, len, "%.*g", p, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    }
    return buf;
}

/* name{labels[,extra]} or name{extra} or name, without the value. */
static void sample_name(struct buf *b, const char *name, const char *suffix, const char *labels,
                        const char *extra)
{
    bool has_labels = labels[0] != '\0', has_extra = extra != NULL;

    buf_puts(b, name);
    buf_puts(b, suffix);
    if (!has_labels && !has_extra)
        return;
    buf_puts(b, "{");
    buf_puts(b, labels);
    if (has_labels && has_extra)
        buf_puts(b, ",");
    if (has_extra)
        buf_puts(b, extra);
    buf_puts(b, "}");
}

static void render_histogram(struct buf *b, const struct family *f,
                             const struct metrics_histogram *h)
{
    uint64_t counts[METRICS_MAX_BUCKETS + 1], cumulative = 0;
    char num[64], le[80];

    for (size_t i = 0; i <= f->nbounds; i++)
        counts[i] = atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    for (size_t i = 0; i <= f->nbounds; i++)
        cumulative += counts[i];
    if (f->labelled && cumulative == 0)
        return;
    cumulative = 0;
    for (size_t i = 0; i <= f->nbounds; i++) {
        cumulative += counts[i];
        if (i < f->nbounds)
            snprintf(le, sizeof le, "le=\"%s\"",
                     metrics_format_double(num, sizeof num, f->bounds[i]));
        else
            snprintf(le, sizeof le, "le=\"+Inf\"");
        sample_name(b, f->name, "_bucket", h->labels, le);
        buf_printf(b, " %llu\n", (unsigned long long)cumulative);
    }
    sample_name(b, f->name, "_sum", h->labels, NULL);
    buf_printf(b, " %s\n", metrics_format_double(num, sizeof num, metrics_histogram_sum(h)));
    /* the +Inf bucket's count, so that _count always equals it */
    sample_name(b, f->name, "_count", h->labels, NULL);
    buf_printf(b, " %llu\n", (unsigned long long)cumulative);
}

static void render_family(struct buf *b, const struct family *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    char num[64];

    buf_printf(b, "# HELP %s ", f->name);
    metrics_text_escape(b, f->help, true);
    buf_printf(b, "\n# TYPE %s %s\n", f->name, types[f->type]);
    for (size_t i = 0; i < f->nchildren; i++) {
        switch (f->type) {
        case FAMILY_COUNTER: {
            uint64_t v = metrics_counter_value(&f->u.counters[i]);
            if (f->labelled && v == 0)
                break;
            sample_name(b, f->name, "", f->u.counters[i].labels, NULL);
            buf_printf(b, " %llu\n", (unsigned long long)v);
            break;
        }
        case FAMILY_GAUGE:
            sample_name(b, f->name, "", f->u.gauges[i].labels, NULL);
            buf_printf(
                b, " %s\n",
                metrics_format_double(num, sizeof num, metrics_gauge_value(&f->u.gauges[i])));
            break;
        case FAMILY_HISTOGRAM:
            render_histogram(b, f, &f->u.histograms[i]);
            break;
        }
    }
}

char *metrics_render(struct metrics *m, size_t *len)
{
    struct buf b = {NULL, 0, 0};

    for (size_t i = 0; i < m->ncollectors; i++)
        m->collectors[i].fn(m->collectors[i].arg);
    buf_reserve(&b, 0);
    b.s[0] = '\0';
    for (const struct family *f = m->first; f != NULL; f = f->next)
        render_family(&b, f);
    if (len != NULL)
        *len = b.len;
    return b.s;
}
