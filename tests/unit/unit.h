/* unit: what every Check unit test shares: run a suite, report, and turn the result into the
 * process's exit status (make test-unit and tests/run.sh read the exit status and Check's output).
 */
#ifndef CQ_TEST_UNIT_H
#define CQ_TEST_UNIT_H

#include <check.h>
#include <stdlib.h>

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

#endif
