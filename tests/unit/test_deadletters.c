/* The command API's dead-letter actions (api/command/deadletters): which origins CORS allows,
 * which paths leave the token to the handler, and that those paths stay out of the public ones
 * for any other route. */
#include "api/command/auth.h"
#include "api/command/deadletters.h"
#include "api/command/routes.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>

START_TEST(the_default_origins_are_the_query_apis_local_ones)
{
    setenv("QUERY_SERVICE_PORT", "9181", 1);
    unsetenv("DASHBOARD_ORIGINS");
    unsetenv("BROKER_URL");
    struct dl_actions *a = dl_actions_new();

    ck_assert_ptr_nonnull(a);
    ck_assert(dl_actions_origin_allowed(a, "http://127.0.0.1:9181"));
    ck_assert(dl_actions_origin_allowed(a, "http://localhost:9181"));
    ck_assert(!dl_actions_origin_allowed(a, "http://127.0.0.1:8081"));
    ck_assert(!dl_actions_origin_allowed(a, "http://evil.example"));
    ck_assert(!dl_actions_origin_allowed(a, NULL));
    dl_actions_free(a);
}
END_TEST

START_TEST(configured_origins_replace_the_default)
{
    setenv("DASHBOARD_ORIGINS", " https://ops.example.com , http://10.0.0.5:8081", 1);
    struct dl_actions *a = dl_actions_new();

    ck_assert_ptr_nonnull(a);
    ck_assert(dl_actions_origin_allowed(a, "https://ops.example.com"));
    ck_assert(dl_actions_origin_allowed(a, "http://10.0.0.5:8081"));
    ck_assert(!dl_actions_origin_allowed(a, "http://localhost:8081"));
    dl_actions_free(a);
    setenv("DASHBOARD_ORIGINS", "ops.example.com", 1); /* not an origin */
    ck_assert_ptr_null(dl_actions_new());
    unsetenv("DASHBOARD_ORIGINS");
}
END_TEST

/* The route a request is matched to, in the command API's table (NULL: none). */
static const struct route *route_of(const char *method, const char *path)
{
    struct route_match m;

    router_find(command_routes, command_nroutes, method, path, &m);
    return m.route;
}

START_TEST(only_the_dead_letter_paths_check_the_token_in_their_handler)
{
    const struct route *r = route_of("POST", "/api/dead-letters/abc/requeue");

    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->access, ROUTE_OWN_TOKEN);
    ck_assert(auth_is_public("POST", "/api/dead-letters/abc/requeue"));
    ck_assert(auth_is_public("OPTIONS", "/api/dead-letters/abc/drop"));
    ck_assert_ptr_null(route_of("POST", "/api/dead-letters"));
    ck_assert(!auth_is_public("POST", "/api/dead-letters"));
    ck_assert(!auth_is_public("OPTIONS", "/api/orders"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("deadletters");
    unit_tcase(s, "cors",
               UNIT_TESTS(the_default_origins_are_the_query_apis_local_ones,
                          configured_origins_replace_the_default,
                          only_the_dead_letter_paths_check_the_token_in_their_handler));
    return unit_run(s);
}
