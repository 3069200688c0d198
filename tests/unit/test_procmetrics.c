/* procmetrics: build_info carries the version and the libraries; process_* read this process's
 * real figures (CPU grows with work, memory and descriptors are positive, an opened file shows,
 * the start time is in the past). */
#include "base/version.h"
#include "metrics/metrics.h"
#include "metrics/procmetrics.h"

#include "unit.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The value of the first sample line that starts with name followed by a space or '{'. */
static double sample(const char *text, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p) {
        if (strncmp(p, name, n) == 0 && (p[n] == ' ' || p[n] == '{')) {
            const char *v = strchr(p, '}');
            v = v != NULL && v < strchr(p, '\n') ? v + 1 : p + n;
            return strtod(v, NULL);
        }
    }
    ck_abort_msg("no sample %s in:\n%s", name, text);
    return 0;
}

static char *render(struct metrics *m)
{
    size_t len;
    return metrics_render(m, &len);
}

START_TEST(build_info_names_version_and_libraries)
{
    struct metrics *m = metrics_new();
    struct procmetrics *p = procmetrics_new(m);
    char *s = render(m), want[256];

    snprintf(want, sizeof want, "build_info{version=\"%s\",libpq=\"", version_string());
    ck_assert_msg(strstr(s, want) != NULL, "%s", s);
    ck_assert_ptr_nonnull(strstr(s, "libmicrohttpd=\"0."));
    ck_assert_ptr_nonnull(strstr(s, "librabbitmq=\""));
    ck_assert_ptr_nonnull(strstr(s, "jansson=\"2."));
    ck_assert(sample(s, "build_info") == 1);
    ck_assert_ptr_nonnull(strstr(s, "# TYPE process_cpu_seconds_total gauge"));
    free(s);
    metrics_free(m);
    procmetrics_free(p);
}
END_TEST

START_TEST(process_figures_are_this_process)
{
    struct metrics *m = metrics_new();
    struct procmetrics *p = procmetrics_new(m);
    char *s = render(m);
    double cpu0 = sample(s, "process_cpu_seconds_total"), fds0 = sample(s, "process_open_fds");
    volatile double x = 0;
    int fd = open("/dev/null", O_RDONLY);

    ck_assert(sample(s, "process_resident_memory_bytes") > 1024 * 1024);
    ck_assert(sample(s, "process_virtual_memory_bytes") >=
              sample(s, "process_resident_memory_bytes"));
    ck_assert(fds0 >= 3);
    ck_assert(sample(s, "process_max_fds") >= fds0);
    ck_assert(sample(s, "process_start_time_seconds") <=
              (double)time(NULL) + 1); /* btime is whole seconds */
    ck_assert(sample(s, "process_start_time_seconds") > (double)time(NULL) - 3600);
    free(s);
    ck_assert_int_ge(fd, 0);
    for (long i = 0; i < 200000000L; i++) /* about 0.2 s of CPU */
        x += (double)i;
    s = render(m);
    ck_assert(sample(s, "process_cpu_seconds_total") > cpu0);
    ck_assert(sample(s, "process_open_fds") == fds0 + 1);
    free(s);
    close(fd);
    metrics_free(m);
    procmetrics_free(p);
}
END_TEST

static Suite *procmetrics_suite(void)
{
    Suite *s = suite_create("procmetrics");
    TCase *tc = unit_tcase(
        s, "core",
        UNIT_TESTS(build_info_names_version_and_libraries, process_figures_are_this_process));

    tcase_set_timeout(tc, 30);
    return s;
}

int main(void)
{
    return unit_run(procmetrics_suite());
}
