/* unit: what every Check unit test shares: register its tests, run the suite, report, and turn
 * the result into the process's exit status (make test-unit and tests/run.sh read the exit status
 * and Check's output).
 */
#ifndef CQ_TEST_UNIT_H
#define CQ_TEST_UNIT_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

/* The tests of one case for unit_tcase, in the order they run: UNIT_TESTS(a, b, c) stands for the
 * array of START_TEST names and its length. */
#define UNIT_TESTS(...)                                                                            \
    (const TTest *const[]){__VA_ARGS__},                                                           \
        sizeof((const TTest *const[]){__VA_ARGS__}) / sizeof(const TTest *)

/* Adds to s a test case named name holding tests[0..n) in that order, and returns it (the suite
 * owns it) for what some cases add: a timeout, a fixture. */
static inline TCase *unit_tcase(Suite *s, const char *name, const TTest *const *tests, size_t n)
{
    TCase *tc = tcase_create(name);

    for (size_t i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return tc;
}

/* Runs every test of s (the runner takes the suite and frees it) and returns EXIT_SUCCESS if none
 * failed, else EXIT_FAILURE. */
static inline int unit_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* A request line, for cases that ask the same question about many requests. */
struct unit_request {
    const char *method, *path;
};

/* The requests for unit_each_request: UNIT_REQUESTS({"GET", "/"}, {"POST", "/x"}) stands for the
 * array and its length. */
#define UNIT_REQUESTS(...)                                                                         \
    (const struct unit_request[]){__VA_ARGS__},                                                    \
        sizeof((const struct unit_request[]){__VA_ARGS__}) / sizeof(struct unit_request)

/* Checks that pred(method, path) is want for each of reqs[0..n), naming the request that is not. */
static inline void unit_each_request(bool (*pred)(const char *method, const char *path), bool want,
                                     const struct unit_request *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(pred(reqs[i].method, reqs[i].path) == want, "%s %s: not %s", reqs[i].method,
                      reqs[i].path, want ? "true" : "false");
}

#endif
