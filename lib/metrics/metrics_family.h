/* metrics_family: the registry's insides, shared by lib/metrics/metrics.c (registration and
 * updates) and lib/metrics/metrics_text.c (the text exposition). Not for callers of
 * lib/metrics/metrics.h. */
#ifndef CQ_METRICS_FAMILY_H
#define CQ_METRICS_FAMILY_H

#include "metrics/metrics.h"

#include "base/buf.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum family_type { FAMILY_COUNTER, FAMILY_GAUGE, FAMILY_HISTOGRAM };

struct family;

struct metrics_counter {
    _Atomic uint64_t v;
    const struct family *fam;
    char *labels; /* rendered: a="x",b="y"; "" when unlabelled */
};

struct metrics_gauge {
    _Atomic uint64_t bits; /* the double's bit pattern */
    const struct family *fam;
    char *labels;
};

struct metrics_histogram {
    _Atomic uint64_t buckets[METRICS_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
    _Atomic uint64_t sum_bits;
    const struct family *fam;
    char *labels;
};

struct family {
    struct family *next;
    enum family_type type;
    char *name, *help;
    bool labelled;
    size_t nchildren;
    double bounds[METRICS_MAX_BUCKETS];
    size_t nbounds;
    union {
        struct metrics_counter *counters;
        struct metrics_gauge *gauges;
        struct metrics_histogram *histograms;
    } u;
};

struct metrics {
    struct family *first, *last;
    struct {
        void (*fn)(void *arg);
        void *arg;
    } collectors[METRICS_MAX_COLLECTORS];
    size_t ncollectors;
};

/* Appends s to b escaped as the exposition format wants: a backslash and a newline always, a
 * double quote in a label value (help: false) but not in a HELP text (help: true). */
void metrics_text_escape(struct buf *b, const char *s, bool help);

#endif
