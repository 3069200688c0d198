/* assets: the files under web/ are embedded, found by path, and served with the right types. */
#include "http/assets.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(mood_files_are_embedded)
{
    const char *const files[] = {"mood/send.html", "mood/send.js",  "mood/wall.html",
                                 "mood/wall.js",   "mood/mood.css", "mood/happy.svg",
                                 "mood/sad.svg"};

    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        const struct asset *a = assets_find(files[i]);
        ck_assert_msg(a != NULL, "%s is not embedded", files[i]);
        ck_assert_uint_gt(a->len, 0);
        ck_assert_int_eq(a->data[a->len], '\0');
    }
    ck_assert_ptr_null(assets_find("mood/nope.svg"));
    ck_assert_ptr_null(assets_find("/mood/happy.svg"));
    ck_assert(memcmp(assets_find("mood/happy.svg")->data, "<svg", 4) == 0);
}
END_TEST

START_TEST(content_types_by_extension)
{
    ck_assert_str_eq(assets_content_type("a/b.html"), "text/html; charset=utf-8");
    ck_assert_str_eq(assets_content_type("b.js"), "text/javascript; charset=utf-8");
    ck_assert_str_eq(assets_content_type("c.css"), "text/css; charset=utf-8");
    ck_assert_str_eq(assets_content_type("d.svg"), "image/svg+xml");
    ck_assert_str_eq(assets_content_type("svg"), "application/octet-stream");
    ck_assert_str_eq(assets_content_type("e.svgz"), "application/octet-stream");
}
END_TEST

static void release(struct http_response *r)
{
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        free(r->header_values[i]);
}

static const char *header(const struct http_response *r, const char *name)
{
    for (int i = 0; i < HTTP_MAX_HEADERS; i++) {
        if (r->header_names[i] != NULL && strcmp(r->header_names[i], name) == 0)
            return r->header_values[i];
    }
    return NULL;
}

START_TEST(route_serves_the_file_named_by_the_path)
{
    struct http_request req = {.method = "GET", .path = "/mood/sad.svg"};
    struct http_response r;
    struct api_error err;

    memset(&r, 0, sizeof r);
    ck_assert_int_eq(assets_route(NULL, &req, NULL, &r, &err), 0);
    ck_assert_uint_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "image/svg+xml");
    ck_assert(r.body_static);
    ck_assert_uint_eq(r.len, assets_find("mood/sad.svg")->len);
    ck_assert_str_eq(header(&r, "Cache-Control"), "no-cache");
    ck_assert_ptr_null(header(&r, "Content-Security-Policy"));
    release(&r);

    req.path = "/mood/wall.js/"; /* the router tolerates one trailing slash */
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(assets_route(NULL, &req, NULL, &r, &err), 0);
    ck_assert_str_eq(r.content_type, "text/javascript; charset=utf-8");
    release(&r);

    memset(&r, 0, sizeof r);
    ck_assert_int_eq(assets_respond("mood/wall.html", &r, &err), 0);
    ck_assert_str_eq(r.content_type, "text/html; charset=utf-8");
    ck_assert_ptr_nonnull(header(&r, "Content-Security-Policy"));
    release(&r);

    req.path = "/mood/missing.svg";
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(assets_route(NULL, &req, NULL, &r, &err), -1);
    ck_assert_uint_eq(api_status_http(err.kind), 404);
    release(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("assets");
    unit_tcase(s, "core",
               UNIT_TESTS(mood_files_are_embedded, content_types_by_extension,
                          route_serves_the_file_named_by_the_path));
    return unit_run(s);
}
