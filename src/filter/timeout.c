/* The timeout filter (Java's TimeoutFilter): logs a warning when a call
 * took longer than its timeout, so slow handlers show up on the provider
 * even though the consumer has already given up; the answer is still
 * sent. The timeout is the service's `<method>.timeout` or `timeout`, else
 * the `timeout` attachment every Dubbo consumer sends (Java 2.7 uses only
 * the service's; Dubbo 3 also follows the consumer's deadline). Provider
 * side, always on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/value.h"
#include "core/log.h"
#include "filter/filter.h"
#include "runtime/call.h"

static dubbo_filter_t timeout_instance = {&dubbo__filter_timeout};

static dubbo_filter_t *timeout_create(const dubbo_url_t *url, int side, int *rc)
{
    (void)url;
    *rc = 0;
    return side == DUBBO_FILTER_PROVIDER ? &timeout_instance : NULL;
}

/* The consumer's timeout attachment: an int (Dubbo 3, dubbo-c) or a
 * string (Dubbo 2.7). 0 when absent. */
static long consumer_timeout(const dubbo_call_t *call)
{
    const dubbo_value_t *v = dubbo__call_attachment_value(call, "timeout");
    if (!v) return 0;
    if (v->type == DUBBO_T_INT) return v->u.i;
    if (v->type == DUBBO_T_LONG) return (long)v->u.l;
    if (v->type == DUBBO_T_STRING) return strtol(v->u.s.ptr, NULL, 10);
    return 0;
}

static void timeout_serve(dubbo_filter_t *self, dubbo_call_t *call)
{
    (void)self;
    /* the metrics filter's start when it timed this call (filter.h): the
     * time then also covers the filters between them (token, tps, an
     * executes wait, accesslog) */
    dubbo__filter_clock_t *k = &dubbo__filter_clock;
    uint64_t t0 = k->call == call && !k->end_ns ? k->start_ns : dubbo__filter_now_ns();
    dubbo_call_next(call);
    uint64_t t1 = dubbo__filter_now_ns();
    k = &dubbo__filter_clock;
    k->call = call;
    k->end_ns = t1;
    uint64_t elapsed = t1 / 1000000 - t0 / 1000000; /* whole ms, as dubbo__now_ms() */
    if (elapsed == 0) return;
    const char *method = dubbo_call_method(call);
    long limit = dubbo_url_method_param_int(dubbo_call_url(call), method, "timeout", 0);
    const char *whose = "service";
    if (limit <= 0) {
        limit = consumer_timeout(call);
        whose = "consumer";
    }
    if (limit <= 0 || elapsed <= (uint64_t)limit) return;
    dubbo_buf_t args;
    dubbo_buf_init(&args, 4096);
    for (size_t i = 0; i < dubbo_call_nargs(call); i++) {
        if ((i && dubbo_buf_append(&args, ",", 1)) ||
            dubbo_value_to_json(dubbo_call_arg(call, i), &args))
            break;
    }
    DLOG_WARN("invoke time out. service: %s, method: %s, arguments: [%.*s%s], consumer: %s, "
              "invoke elapsed %llu ms, timeout (%s's) %ld ms",
              call->svc->interface, method, args.len > 256 ? 256 : (int)args.len,
              args.base ? (const char *)args.base : "", args.len > 256 ? "..." : "",
              dubbo_call_remote(call), (unsigned long long)elapsed, whose, limit);
    dubbo_buf_destroy(&args);
}

/* Stateless: one static instance serves every service (no destroy). */
const dubbo_filter_ops_t dubbo__filter_timeout = {
    .name = "timeout",
    .sides = DUBBO_FILTER_PROVIDER,
    .order = DUBBO__ORDER_TIMEOUT,
    .create = timeout_create,
    .serve = timeout_serve,
};
