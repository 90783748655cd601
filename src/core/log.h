/* Internal logging to stderr, one line per event with time and level.
 * DUBBO_LOG=debug|info|warn|error|off picks the threshold (default info). */
#ifndef DUBBO_CORE_LOG_H
#define DUBBO_CORE_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/internal.h"

enum { DUBBO_LOG_DEBUG, DUBBO_LOG_INFO, DUBBO_LOG_WARN, DUBBO_LOG_ERROR, DUBBO_LOG_OFF };

void dubbo__log(int level, const char *fmt, ...) DUBBO__PRINTF(2, 3);
/* Change the threshold DUBBO_LOG set (the QoS port's switchLogLevel); a
 * DUBBO_LOG_* level. Any thread. */
void dubbo__log_set_level(int level);

#define DLOG_DEBUG(...) dubbo__log(DUBBO_LOG_DEBUG, __VA_ARGS__)
#define DLOG_INFO(...)  dubbo__log(DUBBO_LOG_INFO, __VA_ARGS__)
#define DLOG_WARN(...)  dubbo__log(DUBBO_LOG_WARN, __VA_ARGS__)
#define DLOG_ERROR(...) dubbo__log(DUBBO_LOG_ERROR, __VA_ARGS__)

/* A rate limit for repeated warnings (a peer sending garbage must not fill
 * the log): at most `per_sec` lines a second (the environment's
 * DUBBO_LOG_LIMIT overrides it; 0 lifts the limit); the rest are counted and
 * the next line that passes says how many were suppressed. Thread-safe. */
typedef struct {
    pthread_mutex_t mu;
    unsigned per_sec;
    uint64_t window; /* second of the current window */
    unsigned used;
    unsigned long suppressed;
} dubbo__ratelimit_t;

void dubbo__ratelimit_init(dubbo__ratelimit_t *rl, unsigned per_sec);
void dubbo__ratelimit_destroy(dubbo__ratelimit_t *rl);
/* A warning through the limit: logged with " (N similar suppressed)" when
 * some were, or counted and dropped. */
void dubbo__log_limited(dubbo__ratelimit_t *rl, const char *fmt, ...) DUBBO__PRINTF(2, 3);
/* Says how many warnings were suppressed, once their second is over and no
 * later warning has said it; call it now and then (the server does, from
 * its timer, at most a second late). Returns the count it reported. */
unsigned long dubbo__ratelimit_flush(dubbo__ratelimit_t *rl);

/* Monotonic milliseconds. */
uint64_t dubbo__now_ms(void);

/* *ts = the time of `clock` now plus ms, for pthread_cond_timedwait (use
 * CLOCK_REALTIME unless the condition variable was made for another). */
void dubbo__deadline(struct timespec *ts, clockid_t clock, uint64_t ms);

#endif
