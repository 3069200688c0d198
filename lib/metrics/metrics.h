/* metrics: a registry of counters, gauges and fixed-bucket histograms, rendered in the
 * Prometheus text exposition format (version 0.0.4: HELP and TYPE lines, then the samples;
 * histograms as cumulative name_bucket{le="..."}, name_sum and name_count).
 *
 * There is no global registry: main creates one with metrics_new(), registers what it measures
 * while it is still single-threaded, and hands the registry and the metric pointers to whoever
 * updates them (through its context). Updates are lock-free (C11 atomics) and may come from any
 * thread; metrics_render() may run concurrently with them and with itself.
 *
 * Labels are limited to a set fixed at registration: a labelled family is registered with its
 * label names and one row of label values per child, and callers address a child by its index
 * (metrics_counter_child), so no update ever allocates or looks up a string. Children of a
 * labelled counter or histogram that were never touched are left out of the output (a series
 * appears with its first observation, as with Prometheus client libraries); unlabelled metrics
 * and labelled gauges are always rendered.
 *
 * Registration errors (an invalid or duplicate name, "le" as a histogram label, bounds not
 * strictly increasing) are programming errors: they abort with a message, like xalloc.
 *
 * Memory: the registry owns every family and child; metrics_free() releases them all, after the
 * last update and render. */
#ifndef CQ_METRICS_H
#define CQ_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS 6
#define METRICS_MAX_BUCKETS 32
#define METRICS_MAX_COLLECTORS 8

struct metrics;
struct metrics_counter;
struct metrics_gauge;
struct metrics_histogram;

/* A labelled family's children: nlabels names, and nchildren rows of nlabels values each
 * (values[child * nlabels + label]). The strings are copied. */
struct metrics_labels {
    size_t nlabels;
    const char *const *names;
    size_t nchildren;
    const char *const *values;
};

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Unlabelled metrics. name: [a-zA-Z_:][a-zA-Z0-9_:]*; help: one line of text. */
struct metrics_counter *metrics_counter_new(struct metrics *m, const char *name, const char *help);
struct metrics_gauge *metrics_gauge_new(struct metrics *m, const char *name, const char *help);
/* bounds: the buckets' upper bounds, strictly increasing, at most METRICS_MAX_BUCKETS (the +Inf
 * bucket is implicit). Copied. */
struct metrics_histogram *metrics_histogram_new(struct metrics *m, const char *name,
                                                const char *help, const double *bounds,
                                                size_t nbounds);

/* Labelled families: return child 0; metrics_*_child() gives child i. */
struct metrics_counter *metrics_counter_vec_new(struct metrics *m, const char *name,
                                                const char *help, const struct metrics_labels *l);
struct metrics_gauge *metrics_gauge_vec_new(struct metrics *m, const char *name, const char *help,
                                            const struct metrics_labels *l);
struct metrics_histogram *metrics_histogram_vec_new(struct metrics *m, const char *name,
                                                    const char *help, const double *bounds,
                                                    size_t nbounds, const struct metrics_labels *l);
/* Child i of the family whose child 0 is c (i < nchildren). */
struct metrics_counter *metrics_counter_child(struct metrics_counter *c, size_t i);
struct metrics_gauge *metrics_gauge_child(struct metrics_gauge *g, size_t i);
struct metrics_histogram *metrics_histogram_child(struct metrics_histogram *h, size_t i);

/* Updates: lock-free, from any thread. A NULL metric is ignored, so optional metrics need no
 * checks at the call sites. */
void metrics_counter_add(struct metrics_counter *c, uint64_t n);
void metrics_counter_inc(struct metrics_counter *c);
/* For a total kept elsewhere (e.g. a pool's count of broken connections): sets the value. */
void metrics_counter_set(struct metrics_counter *c, uint64_t v);
uint64_t metrics_counter_value(const struct metrics_counter *c);

void metrics_gauge_set(struct metrics_gauge *g, double v);
void metrics_gauge_add(struct metrics_gauge *g, double delta);
double metrics_gauge_value(const struct metrics_gauge *g);

void metrics_histogram_observe(struct metrics_histogram *h, double v);
/* Observations so far, and their sum. */
uint64_t metrics_histogram_count(const struct metrics_histogram *h);
double metrics_histogram_sum(const struct metrics_histogram *h);

/* Registers fn(arg) to run at the start of every metrics_render(), to copy values kept elsewhere
 * into gauges or counters. Runs in the rendering thread, possibly in several at once. */
void metrics_on_collect(struct metrics *m, void (*fn)(void *arg), void *arg);

/* The registry in the text exposition format, families in registration order. Returns a
 * NUL-terminated string the caller frees; *len gets its length. */
char *metrics_render(struct metrics *m, size_t *len);

/* The content type of metrics_render()'s output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Writes v as the exposition format writes floats: integers without a fraction, otherwise the
 * shortest text that reads back as v; NaN, +Inf, -Inf. Returns buf. */
const char *metrics_format_double(char *buf, size_t len, double v);

#endif
