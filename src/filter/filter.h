/* Shared by the built-in filters of this folder: their tables (for
 * register.c), their orders, and the helpers several of them use (URL
 * activation, per-key concurrency counters, Java type names). Internal. */
#ifndef DUBBO_FILTER_FILTER_H
#define DUBBO_FILTER_FILTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dubbo/buf.h"
#include "dubbo/cluster.h"
#include "dubbo/url.h"
#include "core/internal.h"

/* Orders, lower runs first (outermost). Java's @Activate orders where Java
 * has one (echo -110000, generic -20000); the rest of Java's provider
 * filters share order 0, so their relative order here is ours: reject
 * cheaply first (token, tps, executes), then log what is served, then time
 * and check the handler. docs/filters.md explains each. */
enum {
    DUBBO__ORDER_ECHO = -110000,
    DUBBO__ORDER_GENERIC = -20000,
    DUBBO__ORDER_METRICS = -10000, /* after generic: a generic call counts as its method */
    DUBBO__ORDER_TOKEN = 100,
    DUBBO__ORDER_TPS = 200,
    DUBBO__ORDER_ACTIVES = 250, /* consumer side */
    DUBBO__ORDER_EXECUTES = 300,
    DUBBO__ORDER_ACCESSLOG = 400,
    DUBBO__ORDER_TIMEOUT = 500,
    DUBBO__ORDER_EXCEPTION = 600,
};

extern const dubbo_filter_ops_t dubbo__filter_echo;      /* echo.c */
extern const dubbo_filter_ops_t dubbo__filter_generic;   /* generic.c */
extern const dubbo_filter_ops_t dubbo__filter_token;     /* token.c */
extern const dubbo_filter_ops_t dubbo__filter_tps;       /* tps.c */
extern const dubbo_filter_ops_t dubbo__filter_actives;   /* actives.c */
extern const dubbo_filter_ops_t dubbo__filter_executes;  /* executes.c */
extern const dubbo_filter_ops_t dubbo__filter_accesslog; /* accesslog.c */
extern const dubbo_filter_ops_t dubbo__filter_timeout;   /* timeout.c */
extern const dubbo_filter_ops_t dubbo__filter_exception; /* exception.c */
extern const dubbo_filter_ops_t dubbo__filter_metrics;   /* metrics.c */

/* ---- the chain (support.c) ---- */

/* dubbo__filter_chain_build() is declared in include/dubbo/cluster.h, for the
 * provider (src/runtime/server.c) and the consumer (src/cluster/cluster.c). */

/* ---- settings (support.c) ---- */

/* Java's ConfigUtils.isNotEmpty: set and not "", "false", "0", "null" or
 * "N/A". */
bool dubbo__filter_value_set(const char *v);

/* Java's @Activate(value = key) test: the URL has `key` or `<method>.key`
 * with a value that is set (above). */
bool dubbo__filter_url_has(const dubbo_url_t *u, const char *key);

/* Answer a provider call as Java does when a filter throws RpcException:
 * status SERVICE_ERROR (70) with "org.apache.dubbo.rpc.RpcException: "
 * and the message. A Java consumer sees an RpcException with that text. */
void dubbo__filter_rpc_fail(dubbo_call_t *call, const char *fmt, ...) DUBBO__PRINTF(2, 3);

/* ---- one clock for a provider call's filters (metrics.c) ---- */

static inline uint64_t dubbo__filter_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The metrics filter and the timeout filter inside it both time a
 * provider call; so that it pays for two clock reads, not four, they share
 * them through this thread's slot (a call's filters run on one thread):
 * metrics sets {call, start, 0} before the chain goes on and clears `call`
 * after it returns; timeout takes `start` when `call` is its call and
 * `end_ns` is 0, and leaves its end reading in `end_ns` for metrics. A
 * call nested on the same thread has its own `call`, so neither takes the
 * other's readings. */
typedef struct {
    const void *call;
    uint64_t start_ns, end_ns;
} dubbo__filter_clock_t;
extern _Thread_local dubbo__filter_clock_t dubbo__filter_clock;

/* ---- concurrency counters, Java's RpcStatus (support.c) ---- */

typedef struct dubbo__status_entry {
    struct dubbo__status_entry *next;
    int active;  /* calls holding a slot */
    int waiters; /* calls waiting for one */
    char key[];
} dubbo__status_entry_t;

/* Counters by key (a method, or provider address and method), with a
 * condition variable for those who wait for a slot. Entries live until
 * the table is destroyed. Thread-safe. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    dubbo__status_entry_t *buckets[64];
} dubbo__status_t;

int dubbo__status_init(dubbo__status_t *s);
void dubbo__status_destroy(dubbo__status_t *s);

/* Take a slot for `key` when fewer than `max` are taken (max <= 0: no
 * limit), waiting up to wait_ms for one (0: not at all). Returns the entry
 * to pass to dubbo__status_end(), or NULL when no slot came in time (or on
 * out-of-memory, then *active is -1). *active is the count seen last;
 * *waited_ms how long it waited. */
dubbo__status_entry_t *dubbo__status_begin(dubbo__status_t *s, const char *key, int max,
                                           long wait_ms, int *active, long *waited_ms);
/* Give the slot back and wake a waiter. */
void dubbo__status_end(dubbo__status_t *s, dubbo__status_entry_t *e);

#endif
