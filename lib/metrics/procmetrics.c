#include "metrics/procmetrics.h"

#include "base/version.h"
#include "base/xalloc.h"

#include <amqp.h>
#include <dirent.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct procmetrics {
    struct metrics_gauge *cpu, *rss, *vsize, *open_fds, *max_fds, *start_time;
};

/* Open file descriptors: the entries of /proc/self/fd, less the one opendir holds. */
static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n - 1;
}

/* Fields of /proc/self/stat after the command name: utime (14), stime (15), starttime (22),
 * vsize (23), rss in pages (24), counted from 1. */
static int read_stat(unsigned long long *utime, unsigned long long *stime,
                     unsigned long long *start, unsigned long long *vsize, long long *rss)
{
    char buf[1024], *p;
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n;

    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (p == NULL)
        return -1;
    if (sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
               "%llu %llu %lld",
               utime, stime, start, vsize, rss) != 5)
        return -1;
    return 0;
}

/* The boot time, from /proc/stat's btime line; 0 when unknown. */
static long long boot_time(void)
{
    char line[256];
    long long bt = 0;
    FILE *f = fopen("/proc/stat", "r");

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "btime %lld", &bt) == 1)
            break;
    }
    fclose(f);
    return bt;
}

static void collect(void *arg)
{
    struct procmetrics *p = arg;
    unsigned long long utime, stime, start, vsize;
    long long rss;
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    struct rlimit rl;
    long fds = count_fds();

    if (ticks > 0 && read_stat(&utime, &stime, &start, &vsize, &rss) == 0) {
        metrics_gauge_set(p->cpu, (double)(utime + stime) / (double)ticks);
        metrics_gauge_set(p->vsize, (double)vsize);
        metrics_gauge_set(p->rss, (double)rss * (double)page);
        metrics_gauge_set(p->start_time, (double)boot_time() + (double)start / (double)ticks);
    }
    if (fds >= 0)
        metrics_gauge_set(p->open_fds, (double)fds);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        metrics_gauge_set(p->max_fds, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
}

struct procmetrics *procmetrics_new(struct metrics *m)
{
    static const char *const names[] = {"version", "libpq", "libmicrohttpd", "librabbitmq",
                                        "jansson"};
    char pq[32];
    int v = PQlibVersion();
    const char *values[5];
    struct procmetrics *p = xcalloc(1, sizeof *p);

    snprintf(pq, sizeof pq, "%d.%d", v / 10000, v % 10000);
    values[0] = version_string();
    values[1] = pq;
    values[2] = MHD_get_version();
    values[3] = amqp_version();
    values[4] = jansson_version_str();
    const struct metrics_labels l = {5, names, 1, values};
    metrics_gauge_set(metrics_gauge_vec_new(m, "build_info",
                                            "The build: its version and the libraries it runs with",
                                            &l),
                      1);
    p->cpu = metrics_gauge_new(m, "process_cpu_seconds_total",
                               "User and system CPU time spent, in seconds");
    p->rss = metrics_gauge_new(m, "process_resident_memory_bytes", "Resident memory size in bytes");
    p->vsize = metrics_gauge_new(m, "process_virtual_memory_bytes", "Virtual memory size in bytes");
    p->open_fds = metrics_gauge_new(m, "process_open_fds", "Open file descriptors");
    p->max_fds = metrics_gauge_new(m, "process_max_fds", "The open-file limit (soft)");
    p->start_time = metrics_gauge_new(m, "process_start_time_seconds",
                                      "Start time of the process since the Unix epoch, in seconds");
    metrics_on_collect(m, collect, p);
    return p;
}

void procmetrics_free(struct procmetrics *p)
{
    free(p);
}
