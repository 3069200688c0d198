/* metrics: the registry's exact text exposition (HELP/TYPE, escaping, cumulative buckets, _sum and
 * _count, untouched labelled children left out), lock-free updates from several threads, the HTTP
 * request metrics (route pattern, never the raw path; "unmatched"; codes and classes). */
#include "http/httpmetrics.h"
#include "metrics/metrics.h"

#include "unit.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static char *render(struct metrics *m)
{
    size_t len;
    char *s = metrics_render(m, &len);
    ck_assert_uint_eq(len, strlen(s));
    return s;
}

START_TEST(test_empty_registry)
{
    struct metrics *m = metrics_new();
    char *s = render(m);

    ck_assert_str_eq(s, "");
    free(s);
    metrics_free(m);
}
END_TEST

START_TEST(test_counter_and_gauge_exact)
{
    struct metrics *m = metrics_new();
    struct metrics_counter *c = metrics_counter_new(m, "jobs_total", "Jobs done");
    struct metrics_gauge *g = metrics_gauge_new(m, "queue_depth", "Jobs waiting");
    char *s;

    metrics_counter_inc(c);
    metrics_counter_add(c, 41);
    metrics_gauge_set(g, 3);
    metrics_gauge_add(g, 0.25);
    s = render(m);
    ck_assert_str_eq(s, "# HELP jobs_total Jobs done\n"
                        "# TYPE jobs_total counter\n"
                        "jobs_total 42\n"
                        "# HELP queue_depth Jobs waiting\n"
                        "# TYPE queue_depth gauge\n"
                        "queue_depth 3.25\n");
    free(s);
    ck_assert_uint_eq(metrics_counter_value(c), 42);
    ck_assert(metrics_gauge_value(g) == 3.25);
    metrics_free(m);
}
END_TEST

START_TEST(test_untouched_metrics_render_zero)
{
    struct metrics *m = metrics_new();
    char *s;

    metrics_counter_new(m, "a_total", "A");
    metrics_gauge_new(m, "b", "B");
    s = render(m);
    ck_assert_str_eq(s, "# HELP a_total A\n# TYPE a_total counter\na_total 0\n"
                        "# HELP b B\n# TYPE b gauge\nb 0\n");
    free(s);
    metrics_free(m);
}
END_TEST

START_TEST(test_histogram_exact)
{
    static const double bounds[] = {0.005, 0.1, 1};
    struct metrics *m = metrics_new();
    struct metrics_histogram *h = metrics_histogram_new(m, "op_seconds", "Op time", bounds, 3);
    char *s;

    metrics_histogram_observe(h, 0.005); /* a bucket counts values <= its bound */
    metrics_histogram_observe(h, 0.05);
    metrics_histogram_observe(h, 0.05);
    metrics_histogram_observe(h, 2);
    s = render(m);
    ck_assert_str_eq(s, "# HELP op_seconds Op time\n"
                        "# TYPE op_seconds histogram\n"
                        "op_seconds_bucket{le=\"0.005\"} 1\n"
                        "op_seconds_bucket{le=\"0.1\"} 3\n"
                        "op_seconds_bucket{le=\"1\"} 3\n"
                        "op_seconds_bucket{le=\"+Inf\"} 4\n"
                        "op_seconds_sum 2.105\n"
                        "op_seconds_count 4\n");
    free(s);
    ck_assert_uint_eq(metrics_histogram_count(h), 4);
    metrics_free(m);
}
END_TEST

START_TEST(test_labelled_children_and_escaping)
{
    static const char *const names[] = {"route", "code"};
    static const char *const values[] = {"/a/{id}",        "200", "/a/{id}", "404",
                                         "say \"hi\"\\\n", "200"};
    const struct metrics_labels l = {2, names, 3, values};
    struct metrics *m = metrics_new();
    struct metrics_counter *c =
        metrics_counter_vec_new(m, "req_total", "Requests\nby \\ route", &l);
    char *s;

    metrics_counter_add(metrics_counter_child(c, 2), 5);
    metrics_counter_inc(c); /* child 0 */
    s = render(m);
    /* child 1 was never touched: left out */
    ck_assert_str_eq(s, "# HELP req_total Requests\\nby \\\\ route\n"
                        "# TYPE req_total counter\n"
                        "req_total{route=\"/a/{id}\",code=\"200\"} 1\n"
                        "req_total{route=\"say \\\"hi\\\"\\\\\\n\",code=\"200\"} 5\n");
    free(s);
    metrics_free(m);
}
END_TEST

START_TEST(test_labelled_histogram_exact)
{
    static const double bounds[] = {1, 2};
    static const char *const names[] = {"kind"};
    static const char *const values[] = {"x", "y"};
    const struct metrics_labels l = {1, names, 2, values};
    struct metrics *m = metrics_new();
    struct metrics_histogram *h = metrics_histogram_vec_new(m, "d_seconds", "D", bounds, 2, &l);
    char *s;

    metrics_histogram_observe(metrics_histogram_child(h, 1), 1.5);
    s = render(m);
    ck_assert_str_eq(s, "# HELP d_seconds D\n"
                        "# TYPE d_seconds histogram\n"
                        "d_seconds_bucket{kind=\"y\",le=\"1\"} 0\n"
                        "d_seconds_bucket{kind=\"y\",le=\"2\"} 1\n"
                        "d_seconds_bucket{kind=\"y\",le=\"+Inf\"} 1\n"
                        "d_seconds_sum{kind=\"y\"} 1.5\n"
                        "d_seconds_count{kind=\"y\"} 1\n");
    free(s);
    metrics_free(m);
}
END_TEST

START_TEST(test_labelled_gauges_always_render)
{
    static const char *const names[] = {"view"};
    static const char *const values[] = {"a", "b"};
    const struct metrics_labels l = {1, names, 2, values};
    struct metrics *m = metrics_new();
    struct metrics_gauge *g = metrics_gauge_vec_new(m, "up", "Up", &l);
    char *s;

    metrics_gauge_set(metrics_gauge_child(g, 1), 1);
    s = render(m);
    ck_assert_str_eq(s, "# HELP up Up\n# TYPE up gauge\nup{view=\"a\"} 0\nup{view=\"b\"} 1\n");
    free(s);
    metrics_free(m);
}
END_TEST

START_TEST(test_format_double)
{
    char b[64];

    ck_assert_str_eq(metrics_format_double(b, sizeof b, 0), "0");
    ck_assert_str_eq(metrics_format_double(b, sizeof b, -0.0), "0");
    ck_assert_str_eq(metrics_format_double(b, sizeof b, 100), "100");
    ck_assert_str_eq(metrics_format_double(b, sizeof b, -7), "-7");
    ck_assert_str_eq(metrics_format_double(b, sizeof b, 0.1), "0.1");
    ck_assert_str_eq(metrics_format_double(b, sizeof b, 0.0005), "0.0005");
    ck_assert_str_eq(metrics_format_double(b, sizeof b, 2.5), "2.5");
    ck_assert_str_eq(metrics_format_double(b, sizeof b, 1.0 / 3), "0.3333333333333333");
    ck_assert_str_eq(metrics_format_double(b, sizeof b, 1e20), "1e+20");
    ck_assert_str_eq(metrics_format_double(b, sizeof b, NAN), "NaN");
    ck_assert_str_eq(metrics_format_double(b, sizeof b, INFINITY), "+Inf");
    ck_assert_str_eq(metrics_format_double(b, sizeof b, -INFINITY), "-Inf");
}
END_TEST

static int collected;
static void collect(void *arg)
{
    metrics_gauge_set(arg, 7);
    collected++;
}

START_TEST(test_collector_runs_before_render)
{
    struct metrics *m = metrics_new();
    struct metrics_gauge *g = metrics_gauge_new(m, "pool_open", "Open");
    char *s;

    collected = 0;
    metrics_on_collect(m, collect, g);
    s = render(m);
    ck_assert_int_eq(collected, 1);
    ck_assert_str_eq(s, "# HELP pool_open Open\n# TYPE pool_open gauge\npool_open 7\n");
    free(s);
    metrics_free(m);
}
END_TEST

START_TEST(test_null_metrics_are_ignored)
{
    metrics_counter_inc(NULL);
    metrics_counter_add(NULL, 3);
    metrics_gauge_set(NULL, 1);
    metrics_gauge_add(NULL, 1);
    metrics_histogram_observe(NULL, 1);
    ck_assert_uint_eq(metrics_counter_value(NULL), 0);
    http_metrics_observe(NULL, NULL, "GET", 200, 0.1);
}
END_TEST

/* --- concurrency: counts and sums add up exactly ------------------------------------------- */

#define THREADS 4
#define ROUNDS 20000

struct hammer {
    struct metrics_counter *c;
    struct metrics_gauge *g;
    struct metrics_histogram *h;
};

static void *hammer_main(void *arg)
{
    struct hammer *hm = arg;

    for (int i = 0; i < ROUNDS; i++) {
        metrics_counter_inc(hm->c);
        metrics_gauge_add(hm->g, 1);
        metrics_histogram_observe(hm->h, (i % 4) * 0.5); /* 0, 0.5, 1, 1.5: exact in binary */
    }
    return NULL;
}

START_TEST(test_concurrent_updates_add_up)
{
    static const double bounds[] = {0.5, 1};
    struct metrics *m = metrics_new();
    struct hammer hm = {metrics_counter_new(m, "c_total", "C"), metrics_gauge_new(m, "g", "G"),
                        metrics_histogram_new(m, "h", "H", bounds, 2)};
    pthread_t t[THREADS];

    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_main, &hm), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    ck_assert_uint_eq(metrics_counter_value(hm.c), THREADS * ROUNDS);
    ck_assert(metrics_gauge_value(hm.g) == THREADS * ROUNDS);
    ck_assert_uint_eq(metrics_histogram_count(hm.h), THREADS * ROUNDS);
    ck_assert(metrics_histogram_sum(hm.h) == THREADS * (ROUNDS / 4) * 3.0);
    metrics_free(m);
}
END_TEST

/* --- HTTP request metrics ------------------------------------------------------------------ */

static int noop(void *ctx, const struct http_request *req, const struct route_match *m,
                struct http_response *resp, struct api_error *err)
{
    (void)ctx;
    (void)req;
    (void)m;
    (void)resp;
    (void)err;
    return 0;
}

static const struct route routes[] = {
    {"GET", "/health", noop, ROUTE_PUBLIC, NULL},
    {"GET", "/api/orders/{id}", noop, ROUTE_PUBLIC, NULL},
    {"POST", "/api/orders", noop, ROUTE_TOKEN, NULL},
    /* a duplicate entry shares the first one's series */
    {"GET", "/api/orders/{id}", noop, ROUTE_PUBLIC, NULL},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* One answered request, as lib/http/http records it: matched once, then observed. */
static void observe(struct http_metrics *hm, const char *method, const char *path, unsigned status,
                    double seconds)
{
    struct route_match m;

    router_find(routes, NROUTES, method, path, &m);
    http_metrics_observe(hm, &m, method, status, seconds);
}

START_TEST(test_http_metrics_by_pattern_and_code)
{
    struct metrics *m = metrics_new();
    struct http_metrics *hm = http_metrics_new(m, routes, NROUTES);
    char *s;

    observe(hm, "GET", "/api/orders/17", 200, 0.002);
    observe(hm, "GET", "/api/orders/18", 200, 0.003);
    observe(hm, "GET", "/api/orders/19", 404, 0.001);
    observe(hm, "POST", "/api/orders", 201, 0.02);
    observe(hm, "POST", "/api/orders", 299, 0.02);     /* unknown code: its class */
    observe(hm, "DELETE", "/api/orders", 405, 0.0001); /* wrong method */
    observe(hm, "GET", "/nope/1", 404, 0.0001);        /* no route */
    observe(hm, "BREW", "/pot", 404, 0.0001);          /* unusual method */
    s = render(m);
    /* the counter family comes first; untouched series are left out */
    const char *want =
        "# HELP http_requests_total HTTP requests answered, by method, route "
        "pattern and status code\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{method=\"GET\",route=\"/api/orders/{id}\",code=\"200\"} 2\n"
        "http_requests_total{method=\"GET\",route=\"/api/orders/{id}\",code=\"404\"} 1\n"
        "http_requests_total{method=\"POST\",route=\"/api/orders\",code=\"201\"} 1\n"
        "http_requests_total{method=\"POST\",route=\"/api/orders\",code=\"2xx\"} 1\n"
        "http_requests_total{method=\"GET\",route=\"unmatched\",code=\"404\"} 1\n"
        "http_requests_total{method=\"DELETE\",route=\"unmatched\",code=\"405\"} 1\n"
        "http_requests_total{method=\"OTHER\",route=\"unmatched\",code=\"404\"} 1\n"
        "# HELP http_request_duration_seconds ";
    ck_assert_msg(strncmp(s, want, strlen(want)) == 0, "got:\n%s", s);
    ck_assert_ptr_nonnull(strstr(s, "http_request_duration_seconds_bucket{method=\"GET\",route="
                                    "\"/api/orders/{id}\",code=\"200\",le=\"0.0025\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(s, "http_request_duration_seconds_count{method=\"GET\",route="
                                    "\"/api/orders/{id}\",code=\"200\"} 2\n"));
    ck_assert_ptr_null(strstr(s, "/api/orders/17")); /* never a raw path */
    free(s);
    http_metrics_free(hm);
    metrics_free(m);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    unit_tcase(s, "core",
               UNIT_TESTS(test_empty_registry, test_counter_and_gauge_exact,
                          test_untouched_metrics_render_zero, test_histogram_exact,
                          test_labelled_children_and_escaping, test_labelled_histogram_exact,
                          test_labelled_gauges_always_render, test_format_double,
                          test_collector_runs_before_render, test_null_metrics_are_ignored,
                          test_concurrent_updates_add_up, test_http_metrics_by_pattern_and_code));
    return s;
}

int main(void)
{
    return unit_run(metrics_suite());
}
