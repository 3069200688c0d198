/* metrics: the registry of lib/metrics/metrics.h: registration (families and their labelled
 * children, made once) and the lock-free updates. Rendering is lib/metrics/metrics_text.c. */
#include "metrics/metrics_family.h"

#include "base/buf.h"
#include "base/xalloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t double_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double bits_double(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("metrics: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* --- registration ---------------------------------------------------------------------------- */

struct metrics *metrics_new(void)
{
    return xcalloc(1, sizeof(struct metrics));
}

static void family_free(struct family *f)
{
    for (size_t i = 0; i < f->nchildren; i++) {
        switch (f->type) {
        case FAMILY_COUNTER:
            free(f->u.counters[i].labels);
            break;
        case FAMILY_GAUGE:
            free(f->u.gauges[i].labels);
            break;
        case FAMILY_HISTOGRAM:
            free(f->u.histograms[i].labels);
            break;
        }
    }
    switch (f->type) {
    case FAMILY_COUNTER:
        free(f->u.counters);
        break;
    case FAMILY_GAUGE:
        free(f->u.gauges);
        break;
    case FAMILY_HISTOGRAM:
        free(f->u.histograms);
        break;
    }
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_free(struct metrics *m)
{
    struct family *f, *next;

    if (m == NULL)
        return;
    for (f = m->first; f != NULL; f = next) {
        next = f->next;
        family_free(f);
    }
    free(m);
}

static bool valid_name(const char *s, bool colon)
{
    if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s != '\0'; s++) {
        bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                  (*s >= '0' && *s <= '9') || *s == '_' || (colon && *s == ':');
        if (!ok)
            return false;
    }
    return true;
}

/* The rendered label pairs of child i. */
static char *child_labels(const struct metrics_labels *l, size_t i)
{
    struct buf b = {NULL, 0, 0};

    buf_reserve(&b, 0);
    b.s[0] = '\0';
    for (size_t k = 0; l != NULL && k < l->nlabels; k++) {
        const char *v = l->values[i * l->nlabels + k];
        buf_printf(&b, "%s%s=\"", k > 0 ? "," : "", l->names[k]);
        metrics_text_escape(&b, v != NULL ? v : "", false);
        buf_puts(&b, "\"");
    }
    return b.s;
}

static struct family *family_add(struct metrics *m, enum family_type type, const char *name,
                                 const char *help, const struct metrics_labels *l)
{
    struct family *f;

    if (!valid_name(name, true))
        die("invalid metric name \"%s\"", name != NULL ? name : "(null)");
    for (f = m->first; f != NULL; f = f->next)
        if (strcmp(f->name, name) == 0)
            die("metric \"%s\" registered twice", name);
    if (l != NULL) {
        if (l->nlabels == 0 || l->nlabels > METRICS_MAX_LABELS || l->nchildren == 0)
            die("metric \"%s\": 1 to %d labels and at least one child expected", name,
                METRICS_MAX_LABELS);
        for (size_t k = 0; k < l->nlabels; k++) {
            if (!valid_name(l->names[k], false) || strncmp(l->names[k], "__", 2) == 0)
                die("metric \"%s\": invalid label name \"%s\"", name, l->names[k]);
            if (type == FAMILY_HISTOGRAM && strcmp(l->names[k], "le") == 0)
                die("metric \"%s\": a histogram cannot have a label named le", name);
        }
    }
    f = xcalloc(1, sizeof *f);
    f->type = type;
    f->name = xstrdup(name);
    f->help = xstrdup(help != NULL ? help : "");
    f->labelled = l != NULL;
    f->nchildren = l != NULL ? l->nchildren : 1;
    if (m->last != NULL)
        m->last->next = f;
    else
        m->first = f;
    m->last = f;
    return f;
}

static struct metrics_counter *counter_family(struct metrics *m, const char *name, const char *help,
                                              const struct metrics_labels *l)
{
    struct family *f = family_add(m, FAMILY_COUNTER, name, help, l);

    f->u.counters = xcalloc(f->nchildren, sizeof *f->u.counters);
    for (size_t i = 0; i < f->nchildren; i++) {
        atomic_init(&f->u.counters[i].v, 0);
        f->u.counters[i].fam = f;
        f->u.counters[i].labels = child_labels(l, i);
    }
    return f->u.counters;
}

static struct metrics_gauge *gauge_family(struct metrics *m, const char *name, const char *help,
                                          const struct metrics_labels *l)
{
    struct family *f = family_add(m, FAMILY_GAUGE, name, help, l);

    f->u.gauges = xcalloc(f->nchildren, sizeof *f->u.gauges);
    for (size_t i = 0; i < f->nchildren; i++) {
        atomic_init(&f->u.gauges[i].bits, double_bits(0.0));
        f->u.gauges[i].fam = f;
        f->u.gauges[i].labels = child_labels(l, i);
    }
    return f->u.gauges;
}

static struct metrics_histogram *histogram_family(struct metrics *m, const char *name,
                                                  const char *help, const double *bounds,
                                                  size_t nbounds, const struct metrics_labels *l)
{
    struct family *f;

    if (nbounds > METRICS_MAX_BUCKETS)
        die("metric \"%s\": at most %d buckets", name, METRICS_MAX_BUCKETS);
    for (size_t i = 0; i < nbounds; i++)
        if (isnan(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            die("metric \"%s\": bucket bounds must increase strictly", name);
    f = family_add(m, FAMILY_HISTOGRAM, name, help, l);
    memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
    f->nbounds = nbounds;
    f->u.histograms = xcalloc(f->nchildren, sizeof *f->u.histograms);
    for (size_t i = 0; i < f->nchildren; i++) {
        struct metrics_histogram *h = &f->u.histograms[i];
        for (size_t k = 0; k <= METRICS_MAX_BUCKETS; k++)
            atomic_init(&h->buckets[k], 0);
        atomic_init(&h->sum_bits, double_bits(0.0));
        h->fam = f;
        h->labels = child_labels(l, i);
    }
    return f->u.histograms;
}

struct metrics_counter *metrics_counter_new(struct metrics *m, const char *name, const char *help)
{
    return counter_family(m, name, help, NULL);
}

struct metrics_gauge *metrics_gauge_new(struct metrics *m, const char *name, const char *help)
{
    return gauge_family(m, name, help, NULL);
}

struct metrics_histogram *metrics_histogram_new(struct metrics *m, const char *name,
                                                const char *help, const double *bounds,
                                                size_t nbounds)
{
    return histogram_family(m, name, help, bounds, nbounds, NULL);
}

struct metrics_counter *metrics_counter_vec_new(struct metrics *m, const char *name,
                                                const char *help, const struct metrics_labels *l)
{
    return counter_family(m, name, help, l);
}

struct metrics_gauge *metrics_gauge_vec_new(struct metrics *m, const char *name, const char *help,
                                            const struct metrics_labels *l)
{
    return gauge_family(m, name, help, l);
}

struct metrics_histogram *metrics_histogram_vec_new(struct metrics *m, const char *name,
                                                    const char *help, const double *bounds,
                                                    size_t nbounds, const struct metrics_labels *l)
{
    return histogram_family(m, name, help, bounds, nbounds, l);
}

struct metrics_counter *metrics_counter_child(struct metrics_counter *c, size_t i)
{
    if (c == NULL || i >= c->fam->nchildren)
        die("counter child %zu out of range", i);
    return &c->fam->u.counters[i];
}

struct metrics_gauge *metrics_gauge_child(struct metrics_gauge *g, size_t i)
{
    if (g == NULL || i >= g->fam->nchildren)
        die("gauge child %zu out of range", i);
    return &g->fam->u.gauges[i];
}

struct metrics_histogram *metrics_histogram_child(struct metrics_histogram *h, size_t i)
{
    if (h == NULL || i >= h->fam->nchildren)
        die("histogram child %zu out of range", i);
    return &h->fam->u.histograms[i];
}

void metrics_on_collect(struct metrics *m, void (*fn)(void *arg), void *arg)
{
    if (m->ncollectors >= METRICS_MAX_COLLECTORS)
        die("at most %d collectors", METRICS_MAX_COLLECTORS);
    m->collectors[m->ncollectors].fn = fn;
    m->collectors[m->ncollectors].arg = arg;
    m->ncollectors++;
}

/* --- updates --------------------------------------------------------------------------------- */

void metrics_counter_add(struct metrics_counter *c, uint64_t n)
{
    if (c != NULL)
        atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

void metrics_counter_inc(struct metrics_counter *c)
{
    metrics_counter_add(c, 1);
}

void metrics_counter_set(struct metrics_counter *c, uint64_t v)
{
    if (c != NULL)
        atomic_store_explicit(&c->v, v, memory_order_relaxed);
}

uint64_t metrics_counter_value(const struct metrics_counter *c)
{
    return c != NULL ? atomic_load_explicit(&c->v, memory_order_relaxed) : 0;
}

void metrics_gauge_set(struct metrics_gauge *g, double v)
{
    if (g != NULL)
        atomic_store_explicit(&g->bits, double_bits(v), memory_order_relaxed);
}

/* Adds delta to the double stored in *bits (compare-and-swap loop: lock-free). */
static void add_double(_Atomic uint64_t *bits, double delta)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(bits, &old, double_bits(bits_double(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void metrics_gauge_add(struct metrics_gauge *g, double delta)
{
    if (g != NULL)
        add_double(&g->bits, delta);
}

double metrics_gauge_value(const struct metrics_gauge *g)
{
    return g != NULL ? bits_double(atomic_load_explicit(&g->bits, memory_order_relaxed)) : 0.0;
}

void metrics_histogram_observe(struct metrics_histogram *h, double v)
{
    size_t i = 0, n;

    if (h == NULL)
        return;
    n = h->fam->nbounds;
    while (i < n && v > h->fam->bounds[i]) /* a bucket counts values <= its bound */
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    add_double(&h->sum_bits, v);
}

uint64_t metrics_histogram_count(const struct metrics_histogram *h)
{
    uint64_t n = 0;

    if (h == NULL)
        return 0;
    for (size_t i = 0; i <= h->fam->nbounds; i++)
        n += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    return n;
}

double metrics_histogram_sum(const struct metrics_histogram *h)
{
    return h != NULL ? bits_double(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)) : 0.0;
}
