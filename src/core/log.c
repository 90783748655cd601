/* Logging and clocks. */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

/* read once from DUBBO_LOG, by whichever thread logs first */
static int threshold = -1;
static pthread_once_t threshold_once = PTHREAD_ONCE_INIT;

static int level_from_env(void)
{
    const char *e = getenv("DUBBO_LOG");
    if (!e) return DUBBO_LOG_INFO;
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++)
        if (strcmp(e, names[i]) == 0) return i;
    return DUBBO_LOG_INFO;
}

static void init_threshold(void)
{
    threshold = level_from_env();
}

void dubbo__log(int level, const char *fmt, ...)
{
    pthread_once(&threshold_once, init_threshold);
    if (level < __atomic_load_n(&threshold, __ATOMIC_RELAXED)) return;
    static const char *const tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld dubbo %-5s ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, tags[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

uint64_t dubbo__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void dubbo__deadline(struct timespec *ts, clockid_t clock, uint64_t ms)
{
    clock_gettime(clock, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

void dubbo__ratelimit_init(dubbo__ratelimit_t *rl, unsigned per_sec)
{
    pthread_mutex_init(&rl->mu, NULL);
    /* DUBBO_LOG_LIMIT=N: N lines a second instead; 0: no limit */
    const char *env = getenv("DUBBO_LOG_LIMIT");
    if (env && *env) {
        char *end;
        unsigned long v = strtoul(env, &end, 10);
        if (!*end) per_sec = v == 0 || v > 1000000 ? UINT32_MAX : (unsigned)v;
    }
    rl->per_sec = per_sec ? per_sec : 1;
    rl->window = 0;
    rl->used = 0;
    rl->suppressed = 0;
}

void dubbo__ratelimit_destroy(dubbo__ratelimit_t *rl)
{
    pthread_mutex_destroy(&rl->mu);
}

unsigned long dubbo__ratelimit_flush(dubbo__ratelimit_t *rl)
{
    uint64_t sec = dubbo__now_ms() / 1000;
    pthread_mutex_lock(&rl->mu);
    unsigned long dropped = 0;
    if (rl->suppressed && sec != rl->window) {
        dropped = rl->suppressed;
        rl->suppressed = 0;
    }
    unsigned per_sec = rl->per_sec;
    pthread_mutex_unlock(&rl->mu);
    if (dropped)
        dubbo__log(DUBBO_LOG_WARN,
                   "%lu similar warnings suppressed (at most %u a second are logged; "
                   "DUBBO_LOG_LIMIT sets it)",
                   dropped, per_sec);
    return dropped;
}

void dubbo__log_limited(dubbo__ratelimit_t *rl, const char *fmt, ...)
{
    uint64_t sec = dubbo__now_ms() / 1000;
    pthread_mutex_lock(&rl->mu);
    if (sec != rl->window) {
        rl->window = sec;
        rl->used = 0;
    }
    bool pass = rl->used < rl->per_sec;
    unsigned long dropped = 0;
    if (pass) {
        rl->used++;
        dropped = rl->suppressed;
        rl->suppressed = 0;
    } else {
        rl->suppressed++;
    }
    pthread_mutex_unlock(&rl->mu);
    if (!pass) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (dropped)
        dubbo__log(DUBBO_LOG_WARN, "%s (%lu similar warnings suppressed)", line, dropped);
    else
        dubbo__log(DUBBO_LOG_WARN, "%s", line);
}

void dubbo__log_set_level(int level)
{
    pthread_once(&threshold_once, init_threshold);
    if (level < DUBBO_LOG_DEBUG) level = DUBBO_LOG_DEBUG;
    if (level > DUBBO_LOG_OFF) level = DUBBO_LOG_OFF;
    __atomic_store_n(&threshold, level, __ATOMIC_RELAXED);
}
