#include "base/deadline.h"

struct timespec deadline_after_ms(long ms)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

long long deadline_now_ms(void)
{
    return deadline_now_us() / 1000;
}

long long deadline_now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

long long deadline_wall_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

long long deadline_wall_ms(void)
{
    return deadline_wall_us() / 1000;
}

bool deadline_wait_zero(pthread_mutex_t *mu, pthread_cond_t *cv, const size_t *count,
                        long timeout_ms)
{
    struct timespec deadline = deadline_after_ms(timeout_ms);

    while (*count > 0) {
        if (pthread_cond_timedwait(cv, mu, &deadline) != 0)
            break;
    }
    return *count == 0;
}
