/* sse: what each stream's content reader writes, and when it parks (suspends) or is woken. The
 * MHD suspend/resume calls are replaced by fakes that count per connection. */
#include "http/parking.h"
#include "http/sse.h"

#include "tests/unit/fake_conn.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define END_OF_STREAM ((ssize_t)-1)

/* The hubs' parking lot (one per test process, as one per server). */
static struct parking *lot(void)
{
    static struct parking *l;

    if (l == NULL) {
        l = parking_new();
        parking_set_conn_ops(l, fake_suspend, fake_resume);
    }
    return l;
}

static struct sse_hub *hub(size_t max)
{
    return sse_hub_new(lot(), max, 2000);
}

/* A GET request on the fake connection fc. */
static struct http_request get_on(struct fake_conn *fc)
{
    return (struct http_request){.conn = CONN(fc), .method = "GET"};
}

static void attach(struct sse_hub *h, struct fake_conn *fc, struct http_response *resp)
{
    struct http_request req = get_on(fc);
    struct api_error err;

    memset(resp, 0, sizeof *resp);
    ck_assert_int_eq(sse_hub_attach(h, &req, resp, &err), 0);
    ck_assert_uint_eq(resp->status, 200);
    ck_assert_str_eq(resp->content_type, "text/event-stream");
    ck_assert(resp->stream_read != NULL);
}

/* What the HTTP server does when it is done with a response: free the stream and the headers. */
static void done(struct http_response *resp)
{
    resp->stream_free(resp->stream_cls);
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        free(resp->header_values[i]);
}

/* Reads what the stream has now (until it parks or ends), max bytes per call, into out. Returns
 * the last reader result (0: parked, -1: ended). */
static ssize_t drain(struct http_response *resp, size_t max, char *out, size_t outlen)
{
    size_t o = 0;
    char buf[4096];

    for (;;) {
        ssize_t n = resp->stream_read(resp->stream_cls, o, buf, max);
        if (n <= 0) {
            out[o] = '\0';
            return n;
        }
        ck_assert_uint_lt(o + (size_t)n, outlen);
        memcpy(out + o, buf, (size_t)n);
        o += (size_t)n;
    }
}

/* The "one stream" cases' fixture: one hub of up to 10 streams, one stream on it. */
static struct {
    struct sse_hub *h;
    struct fake_conn fc;
    struct http_response r;
} o;

static void one_setup(void)
{
    memset(&o, 0, sizeof o);
    o.h = hub(10);
}

/* The server is done with the stream: the hub forgets it, and is freed. */
static void one_teardown(void)
{
    done(&o.r);
    ck_assert_uint_eq(sse_hub_streams(o.h), 0);
    sse_hub_free(o.h);
}

/* Publishes doc first if it is not NULL, then attaches the stream. */
static void attach_one(const char *doc)
{
    if (doc != NULL)
        sse_hub_publish(o.h, doc, strlen(doc));
    attach(o.h, &o.fc, &o.r);
}

/* Reads and drops what the stream has now. */
static void skip(struct http_response *r)
{
    char out[256];

    (void)drain(r, 1024, out, sizeof out);
}

/* Checks that the stream sends want now (read max bytes per call) and then parks. */
static void expect(struct http_response *r, size_t max, const char *want)
{
    char out[256];

    ck_assert_int_eq(drain(r, max, out, sizeof out), 0);
    ck_assert_str_eq(out, want);
}

START_TEST(new_stream_gets_retry_then_parks)
{
    attach_one(NULL);
    expect(&o.r, 1024, "retry: 2000\n\n");
    ck_assert_int_eq(o.fc.suspended, 1);
    ck_assert_uint_eq(sse_hub_streams(o.h), 1); /* and 0 once done: one_teardown */
}
END_TEST

START_TEST(publish_wakes_and_sends_the_document_once)
{
    struct sse_hub *h = hub(10);
    struct fake_conn a = {0}, b = {0};
    struct http_response ra, rb;

    attach(h, &a, &ra);
    attach(h, &b, &rb);
    skip(&ra);
    skip(&rb);
    ck_assert(sse_hub_publish(h, "{\"happy\":1}", 11));
    ck_assert_int_eq(a.resumed, 1);
    ck_assert_int_eq(b.resumed, 1);
    expect(&ra, 1024, "id: 1\ndata: {\"happy\":1}\n\n");
    ck_assert_int_eq(a.suspended, 2);

    /* the same document again is no news: nobody is woken */
    ck_assert(!sse_hub_publish(h, "{\"happy\":1}", 11));
    ck_assert_int_eq(a.resumed, 1);

    /* a stream that was not parked is not resumed, and gets only the latest document */
    ck_assert(sse_hub_publish(h, "{\"happy\":2}", 11));
    ck_assert(sse_hub_publish(h, "{\"happy\":3}", 11));
    ck_assert_int_eq(a.resumed, 2);
    expect(&ra, 1024, "id: 3\ndata: {\"happy\":3}\n\n");
    expect(&rb, 1024, "id: 3\ndata: {\"happy\":3}\n\n");

    done(&ra);
    done(&rb);
    sse_hub_free(h);
}
END_TEST

START_TEST(late_stream_starts_with_the_current_document)
{
    attach_one("x");
    expect(&o.r, 1024, "retry: 2000\nid: 1\ndata: x\n\n");
}
END_TEST

START_TEST(keepalive_is_a_comment)
{
    attach_one("x");
    skip(&o.r);
    sse_hub_keepalive(o.h);
    ck_assert_int_eq(o.fc.resumed, 1);
    expect(&o.r, 1024, ": keep-alive\n\n");
    /* an event due at the same time stands in for the keep-alive */
    sse_hub_keepalive(o.h);
    sse_hub_publish(o.h, "y", 1);
    expect(&o.r, 1024, "id: 2\ndata: y\n\n");
}
END_TEST

START_TEST(small_buffers_and_multiline_documents)
{
    attach_one("a\nb\r\nc\rd");
    expect(&o.r, 3, "retry: 2000\nid: 1\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
    sse_hub_publish(o.h, "", 0);
    expect(&o.r, 1, "id: 2\ndata: \n\n");
}
END_TEST

START_TEST(close_ends_streams_and_refuses_new_ones)
{
    struct sse_hub *h = hub(10);
    struct fake_conn a = {0}, b = {0};
    struct http_response ra, rb, rc;
    struct http_request req = get_on(&b);
    struct api_error err;
    char out[256];

    attach(h, &a, &ra);
    skip(&ra);
    ck_assert(!sse_hub_wait_idle(h, 10));
    sse_hub_close(h);
    ck_assert_int_eq(a.resumed, 1);
    ck_assert_int_eq(drain(&ra, 1024, out, sizeof out), END_OF_STREAM);
    memset(&rc, 0, sizeof rc);
    ck_assert_int_eq(sse_hub_attach(h, &req, &rc, &err), -1);
    ck_assert_uint_eq(api_status_http(err.kind), 503);
    done(&ra);
    ck_assert(sse_hub_wait_idle(h, 10));
    (void)rb;
    sse_hub_free(h);
}
END_TEST

START_TEST(too_many_streams_are_refused)
{
    struct sse_hub *h = hub(1);
    struct fake_conn a = {0}, b = {0};
    struct http_response ra, rb;
    struct http_request req = get_on(&b);
    struct api_error err;

    attach(h, &a, &ra);
    memset(&rb, 0, sizeof rb);
    ck_assert_int_eq(sse_hub_attach(h, &req, &rb, &err), -1);
    ck_assert_str_eq(err.code, "unavailable");
    done(&ra);
    attach(h, &b, &rb);
    done(&rb);
    sse_hub_free(h);
}
END_TEST

START_TEST(streams_per_address_are_capped_with_429)
{
    struct sse_hub *h = hub(10);
    struct fake_conn a = {0}, b = {0}, c = {0};
    struct http_response ra, rb, rc;
    struct http_request ra_req = get_on(&a);
    struct http_request rb_req = get_on(&b);
    struct http_request rc_req = get_on(&c);
    struct api_error err;

    sse_hub_set_per_ip_limit(h, 1);
    strcpy(ra_req.client, "10.0.0.1");
    strcpy(rb_req.client, "10.0.0.1");
    strcpy(rc_req.client, "10.0.0.2");
    memset(&ra, 0, sizeof ra);
    memset(&rb, 0, sizeof rb);
    memset(&rc, 0, sizeof rc);
    ck_assert_int_eq(sse_hub_attach(h, &ra_req, &ra, &err), 0);
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(sse_hub_attach(h, &rb_req, &rb, &err), -1);
    ck_assert_uint_eq(api_status_http(err.kind), 429);
    ck_assert_str_eq(err.code, "rate_limited");
    ck_assert_uint_ge(err.retry_after_s, 1);
    /* another address is served; the first one again once its stream is gone */
    ck_assert_int_eq(sse_hub_attach(h, &rc_req, &rc, &err), 0);
    done(&ra);
    memset(&rb, 0, sizeof rb);
    ck_assert_int_eq(sse_hub_attach(h, &rb_req, &rb, &err), 0);
    done(&rb);
    done(&rc);
    sse_hub_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sse");
    TCase *one = unit_tcase(
        s, "one stream",
        UNIT_TESTS(new_stream_gets_retry_then_parks, late_stream_starts_with_the_current_document,
                   keepalive_is_a_comment, small_buffers_and_multiline_documents));

    tcase_add_checked_fixture(one, one_setup, one_teardown);
    unit_tcase(s, "streams",
               UNIT_TESTS(publish_wakes_and_sends_the_document_once,
                          close_ends_streams_and_refuses_new_ones, too_many_streams_are_refused,
                          streams_per_address_are_capped_with_429));
    return unit_run(s);
}
