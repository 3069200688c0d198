/* deadline: absolute times for pthread_cond_timedwait (which measures CLOCK_REALTIME). */
#ifndef CQ_DEADLINE_H
#define CQ_DEADLINE_H

#include <time.h>

/* Now (CLOCK_REALTIME) plus ms milliseconds. */
struct timespec deadline_after_ms(long ms);

#endif
