/* Internal logging to stderr, one line per event with time and level.
 * DUBBO_LOG=debug|info|warn|error|off picks the threshold (default info). */
#ifndef DUBBO_CORE_LOG_H
#define DUBBO_CORE_LOG_H

#include <stdint.h>
#include <time.h>

#include "core/internal.h"

enum { DUBBO_LOG_DEBUG, DUBBO_LOG_INFO, DUBBO_LOG_WARN, DUBBO_LOG_ERROR, DUBBO_LOG_OFF };

void dubbo__log(int level, const char *fmt, ...) DUBBO__PRINTF(2, 3);

#define DLOG_DEBUG(...) dubbo__log(DUBBO_LOG_DEBUG, __VA_ARGS__)
#define DLOG_INFO(...)  dubbo__log(DUBBO_LOG_INFO, __VA_ARGS__)
#define DLOG_WARN(...)  dubbo__log(DUBBO_LOG_WARN, __VA_ARGS__)
#define DLOG_ERROR(...) dubbo__log(DUBBO_LOG_ERROR, __VA_ARGS__)

/* Monotonic milliseconds. */
uint64_t dubbo__now_ms(void);

/* *ts = the time of `clock` now plus ms, for pthread_cond_timedwait (use
 * CLOCK_REALTIME unless the condition variable was made for another). */
void dubbo__deadline(struct timespec *ts, clockid_t clock, uint64_t ms);

#endif
