#include "base/nofile.h"

#include "base/log.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

long nofile_raise(void)
{
    struct rlimit rl;
    rlim_t before;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        log_warn("could not read the open-file limit", "error=\"%s\"", strerror(errno));
        return -1;
    }
    before = rl.rlim_cur;
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            log_warn("could not raise the open-file limit", "soft=%llu hard=%llu error=\"%s\"",
                     (unsigned long long)before, (unsigned long long)rl.rlim_max, strerror(errno));
            return (long)before;
        }
    }
    log_info("open-file limit", "soft=%llu hard=%llu was=%llu", (unsigned long long)rl.rlim_cur,
             (unsigned long long)rl.rlim_max, (unsigned long long)before);
    return (long)rl.rlim_cur;
}
