/* project: which deliveries a CQ425 from apply_events() names as early (project_ids_name over the
 * error's DETAIL, event ids separated by spaces). A delivery it names is set aside; one it does
 * not name must never be, or the batch would be acked without it being applied. And what a failed
 * ack means (project_acked): the broker connection is lost, the error names the delivery. */
#include "consumer/project.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define A "00000000-0000-0000-0000-000000000030"
#define B "00000000-0000-0000-0000-000000000031"

START_TEST(every_listed_id_is_named)
{
    ck_assert(project_ids_name(A, A));
    ck_assert(project_ids_name(A " " B, A));
    ck_assert(project_ids_name(A " " B, B));
    ck_assert(project_ids_name("x " A " y", A));
}
END_TEST

START_TEST(a_part_or_a_prefix_is_not_named)
{
    ck_assert(!project_ids_name(A, "00000000-0000-0000-0000-00000000003"));
    ck_assert(!project_ids_name(A, "0000-0000-000000000030"));
    ck_assert(!project_ids_name(A "1", A));
    ck_assert(!project_ids_name("1" A, A));
    ck_assert(!project_ids_name("", A));
    ck_assert(!project_ids_name(A, ""));
    ck_assert(!project_ids_name(B, A));
}
END_TEST

START_TEST(a_later_whole_word_is_found_after_a_partial_match)
{
    ck_assert(project_ids_name(A "9 " A, A));
    ck_assert(project_ids_name("aaa aa", "aa")); /* overlapping partial matches first */
}
END_TEST

START_TEST(a_failed_ack_loses_the_broker_and_names_the_delivery)
{
    char err[128] = "";

    ck_assert_int_eq(project_acked(AMQP_STATUS_OK, 42, err, sizeof err), PROJECT_DONE);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(project_acked(AMQP_STATUS_CONNECTION_CLOSED, 42, err, sizeof err),
                     PROJECT_MQ_LOST);
    ck_assert_msg(strncmp(err, "could not ack delivery 42: ", 27) == 0, "err: %s", err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("project");
    unit_tcase(s, "early",
               UNIT_TESTS(every_listed_id_is_named, a_part_or_a_prefix_is_not_named,
                          a_later_whole_word_is_found_after_a_partial_match));
    unit_tcase(s, "ack", UNIT_TESTS(a_failed_ack_loses_the_broker_and_names_the_delivery));
    return unit_run(s);
}
