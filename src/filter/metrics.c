/* The metrics filter (Java Dubbo's MetricsFilter with its
 * DefaultMetricsCollector), on both sides: per side, interface, group,
 * version and method, the requests counted as Java names them (total,
 * succeed, business failed, failed by reason: timeout, limit, network,
 * service unavailable, codec, unknown), the requests being processed, and
 * the response time (min, max, sum, avg, last, and a histogram). The QoS
 * port renders them in the Prometheus text format (metrics.h,
 * dubbo__metrics_write; docs/qos.md lists every name).
 *
 * Active by default on every service and reference; `filter=-metrics`
 * (or `metrics.enable=false`) leaves it out. Cost per call: two monotonic
 * clock reads and a dozen relaxed atomic adds on the method's series,
 * found without a lock after the method's first call (docs/qos.md has the
 * measured cost). Series live until the process ends: a service exported
 * again continues its counts, as Java's collector keeps them. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/rpc.h"
#include "core/log.h"
#include "filter/filter.h"
#include "filter/metrics.h"
#include "runtime/call.h"

/* Histogram bounds in seconds (Prometheus' base unit), from 100 us: the
 * calls of a C provider are mostly far below Java's first bucket. */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

/* Why a call failed, Java's MetricsKey reasons. */
enum {
    R_SUCCEED,
    R_BUSINESS,
    R_TIMEOUT,
    R_LIMIT,
    R_NETWORK,
    R_UNAVAILABLE,
    R_CODEC,
    R_UNKNOWN,
    NR
};

typedef struct series {
    struct series *next; /* the process-wide list (mu) */
    int side;
    char *interface, *group, *version, *method;
    atomic_uint_fast64_t count[NR];
    atomic_int_fast64_t processing;
    atomic_uint_fast64_t rt_count, rt_sum, rt_min, rt_max, rt_last; /* ns */
    atomic_uint_fast64_t bucket[NBOUNDS + 1];                       /* not cumulative */
} series_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static series_t *all; /* newest first */
static uint64_t bound_ns[NBOUNDS];

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* The series of one method, made on its first call; lives for ever. */
static series_t *series_get(int side, const char *iface, const char *group, const char *version,
                            const char *method)
{
    pthread_mutex_lock(&mu);
    series_t *s = all;
    for (; s; s = s->next)
        if (s->side == side && same(s->interface, iface) && same(s->group, group) &&
            same(s->version, version) && same(s->method, method))
            break;
    if (!s && (s = calloc(1, sizeof(*s)))) {
        s->side = side;
        s->interface = strdup(iface ? iface : "");
        s->group = strdup(group ? group : "");
        s->version = strdup(version ? version : "");
        s->method = strdup(method ? method : "");
        if (!s->interface || !s->group || !s->version || !s->method) {
            free(s->interface);
            free(s->group);
            free(s->version);
            free(s->method);
            free(s);
            s = NULL;
        } else {
            atomic_store(&s->rt_min, UINT64_MAX);
            if (!bound_ns[0])
                for (size_t i = 0; i < NBOUNDS; i++)
                    bound_ns[i] = (uint64_t)(bounds[i] * 1e9 + 0.5);
            s->next = all;
            all = s;
        }
    }
    pthread_mutex_unlock(&mu);
    return s;
}

/* ---- the filter instance: one per service or reference ---- */

/* A method's series, cached in the instance: a list pushed with a CAS and
 * never shrunk, so a call finds its series without a lock. */
typedef struct mcache {
    struct mcache *next;
    series_t *s;
    char method[];
} mcache_t;

typedef struct {
    dubbo_filter_t base;
    int side;
    char *interface, *group, *version;
    _Atomic(mcache_t *) head;
} metrics_filter_t;

static series_t *find(metrics_filter_t *f, const char *method)
{
    mcache_t *h = atomic_load_explicit(&f->head, memory_order_acquire);
    for (mcache_t *m = h; m; m = m->next)
        if (strcmp(m->method, method) == 0) return m->s;
    series_t *s = series_get(f->side, f->interface, f->group, f->version, method);
    if (!s) return NULL;
    size_t n = strlen(method);
    mcache_t *m = malloc(sizeof(*m) + n + 1);
    if (!m) return s;
    m->s = s;
    memcpy(m->method, method, n + 1);
    /* another thread may have pushed the same method meanwhile: a second
     * entry for it is harmless (same series) */
    m->next = h;
    while (!atomic_compare_exchange_weak_explicit(&f->head, &m->next, m, memory_order_release,
                                                  memory_order_acquire))
        ;
    return s;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void record(series_t *s, uint64_t rt, int reason)
{
    atomic_fetch_add_explicit(&s->count[reason], 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&s->processing, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->rt_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->rt_sum, rt, memory_order_relaxed);
    atomic_store_explicit(&s->rt_last, rt, memory_order_relaxed);
    uint64_t v = atomic_load_explicit(&s->rt_min, memory_order_relaxed);
    while (rt < v && !atomic_compare_exchange_weak_explicit(
                         &s->rt_min, &v, rt, memory_order_relaxed, memory_order_relaxed))
        ;
    v = atomic_load_explicit(&s->rt_max, memory_order_relaxed);
    while (rt > v && !atomic_compare_exchange_weak_explicit(
                         &s->rt_max, &v, rt, memory_order_relaxed, memory_order_relaxed))
        ;
    size_t b = 0;
    while (b < NBOUNDS && rt > bound_ns[b])
        b++;
    atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
}

/* A response status (not OK) as Java's collector files it. */
static int status_reason(int status)
{
    switch (status) {
    case DUBBO_STATUS_CLIENT_TIMEOUT:
    case DUBBO_STATUS_SERVER_TIMEOUT: return R_TIMEOUT;
    case DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED: return R_LIMIT;
    case DUBBO_STATUS_BAD_REQUEST:
    case DUBBO_STATUS_BAD_RESPONSE: return R_CODEC;
    case DUBBO_STATUS_SERVICE_NOT_FOUND: return R_UNAVAILABLE;
    case DUBBO_STATUS_CLIENT_ERROR: return R_NETWORK;
    default: return R_UNKNOWN;
    }
}

/* An exception answered: the service's own (business), or an
 * RpcException a filter threw (tps, executes: limit; else unknown). */
static int exception_reason(const dubbo_value_t *exc)
{
    const char *cls =
        exc && exc->type == DUBBO_T_OBJECT && exc->u.obj.cls ? exc->u.obj.cls->name : NULL;
    if (!cls || strcmp(cls, "org.apache.dubbo.rpc.RpcException") != 0) return R_BUSINESS;
    const char *msg = dubbo_exception_message(exc);
    return msg && (strstr(msg, "exceed") || strstr(msg, "limit")) ? R_LIMIT : R_UNKNOWN;
}

/* A local failure of a consumer call (rc < 0). */
static int rc_reason(int rc)
{
    switch (rc) {
    case DUBBO_ETIMEOUT: return R_TIMEOUT;
    case DUBBO_ENOT_FOUND: return R_UNAVAILABLE; /* No provider available */
    case DUBBO_EMALFORMED:
    case DUBBO_ETRUNCATED:
    case DUBBO_ETOO_BIG:
    case DUBBO_ETOO_DEEP:
    case DUBBO_ETYPE: return R_CODEC;
    case DUBBO_ECLOSED:
    case DUBBO_EIO: return R_NETWORK;
    default: return rc > -1000 ? R_NETWORK : R_UNKNOWN; /* -errno: the socket's */
    }
}

static int result_reason(int rc, const dubbo_result_t *r)
{
    if (rc < 0) return rc_reason(rc);
    if (r->status != DUBBO_STATUS_OK) return status_reason(r->status);
    return r->exception ? exception_reason(r->exception) : R_SUCCEED;
}

static dubbo_filter_t *metrics_create(const dubbo_url_t *url, int side, int *rc)
{
    *rc = 0;
    const char *on = dubbo_url_param(url, "metrics.enable", NULL);
    if (on && !dubbo__filter_value_set(on)) return NULL;
    metrics_filter_t *f = calloc(1, sizeof(*f));
    if (!f) {
        *rc = dubbo__seterr(DUBBO_ENOMEM, "metrics filter: out of memory");
        return NULL;
    }
    f->base.ops = &dubbo__filter_metrics;
    f->side = side;
    const char *iface = dubbo_url_param(url, "interface", NULL);
    if (!iface || !*iface) iface = url->path ? url->path : "";
    f->interface = strdup(iface);
    f->group = strdup(dubbo_url_param(url, "group", ""));
    const char *v = dubbo_url_param(url, "version", "");
    f->version = strdup(strcmp(v, "0.0.0") == 0 ? "" : v);
    if (!f->interface || !f->group || !f->version) {
        free(f->interface);
        free(f->group);
        free(f->version);
        free(f);
        *rc = dubbo__seterr(DUBBO_ENOMEM, "metrics filter: out of memory");
        return NULL;
    }
    return &f->base;
}

static void metrics_destroy(dubbo_filter_t *self)
{
    metrics_filter_t *f = (metrics_filter_t *)self;
    mcache_t *m = atomic_load(&f->head);
    while (m) {
        mcache_t *n = m->next;
        free(m);
        m = n;
    }
    free(f->interface);
    free(f->group);
    free(f->version);
    free(f);
}

/* ---- provider side ---- */

static void metrics_serve(dubbo_filter_t *self, dubbo_call_t *call)
{
    /* after generic (order): a generic call counts under its real method */
    series_t *s = find((metrics_filter_t *)self, dubbo_call_method(call));
    if (!s) {
        dubbo_call_next(call);
        return;
    }
    atomic_fetch_add_explicit(&s->processing, 1, memory_order_relaxed);
    uint64_t t0 = now_ns();
    dubbo_call_next(call);
    uint64_t rt = now_ns() - t0;
    int reason = call->status != DUBBO_STATUS_OK ? status_reason(call->status)
                 : call->is_exception            ? exception_reason(call->value)
                                                 : R_SUCCEED;
    record(s, rt, reason);
}

/* ---- consumer side ---- */

static int metrics_invoke(dubbo_filter_t *self, dubbo_filter_chain_t *chain,
                          dubbo_invoker_t *invoker, const dubbo_invocation_t *inv,
                          dubbo_result_t *r)
{
    series_t *s = find((metrics_filter_t *)self, dubbo_invocation_method(inv));
    if (!s) return dubbo_filter_next(chain, invoker, inv, r);
    atomic_fetch_add_explicit(&s->processing, 1, memory_order_relaxed);
    uint64_t t0 = now_ns();
    int rc = dubbo_filter_next(chain, invoker, inv, r);
    record(s, now_ns() - t0, result_reason(rc, r));
    return rc;
}

typedef struct {
    dubbo_done_fn done;
    void *user;
    series_t *s;
    uint64_t t0;
} pending_t;

static void async_done(int rc, dubbo_result_t *r, void *user)
{
    pending_t *p = user;
    record(p->s, now_ns() - p->t0, result_reason(rc, r));
    dubbo_done_fn done = p->done;
    void *u = p->user;
    free(p);
    done(rc, r, u);
}

static int metrics_invoke_async(dubbo_filter_t *self, dubbo_filter_chain_t *chain,
                                dubbo_invoker_t *invoker, const dubbo_invocation_t *inv,
                                dubbo_done_fn done, void *user)
{
    series_t *s = find((metrics_filter_t *)self, dubbo_invocation_method(inv));
    pending_t *p = s ? malloc(sizeof(*p)) : NULL;
    if (!p) return dubbo_filter_next_async(chain, invoker, inv, done, user);
    *p = (pending_t){done, user, s, 0};
    atomic_fetch_add_explicit(&s->processing, 1, memory_order_relaxed);
    p->t0 = now_ns();
    int rc = dubbo_filter_next_async(chain, invoker, inv, async_done, p);
    if (rc < 0) { /* async_done never runs: the call failed to start */
        record(s, now_ns() - p->t0, rc_reason(rc));
        free(p);
    }
    return rc;
}

const dubbo_filter_ops_t dubbo__filter_metrics = {
    .name = "metrics",
    .sides = DUBBO_FILTER_PROVIDER | DUBBO_FILTER_CONSUMER,
    .order = DUBBO__ORDER_METRICS,
    .create = metrics_create,
    .invoke = metrics_invoke,
    .serve = metrics_serve,
    .destroy = metrics_destroy,
    .invoke_async = metrics_invoke_async,
};

/* ---- the Prometheus text ---- */

static int bprintf(dubbo_buf_t *out, const char *fmt, ...) DUBBO__PRINTF(2, 3);
static int bprintf(dubbo_buf_t *out, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) return DUBBO_EINVAL;
    if ((size_t)n < sizeof(line)) return dubbo_buf_append(out, line, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) return DUBBO_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = dubbo_buf_append(out, big, (size_t)n);
    free(big);
    return rc;
}

/* A label value with \, " and newlines escaped, as the format asks. */
static void escape(char *dst, size_t cap, const char *s)
{
    size_t k = 0;
    for (; *s && k + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') dst[k++] = '\\';
        if (*s == '\n') {
            dst[k++] = '\\';
            dst[k++] = 'n';
            continue;
        }
        dst[k++] = *s;
    }
    dst[k] = '\0';
}

/* Labels in Micrometer's order (sorted by name): application_name,
 * hostname and ip come in `common`; group, interface, method, version are
 * the series'. Written in the order Java's names them when sorted:
 * common first is close enough (Prometheus ignores the order). */
static void series_labels(char *dst, size_t cap, const char *common, const series_t *s)
{
    char i[600], m[300], g[300], v[300];
    escape(i, sizeof(i), s->interface);
    escape(m, sizeof(m), s->method);
    escape(g, sizeof(g), s->group);
    escape(v, sizeof(v), s->version);
    snprintf(dst, cap, "%s%sgroup=\"%s\",interface=\"%s\",method=\"%s\",version=\"%s\"", common,
             *common ? "," : "", g, i, m, v);
}

typedef struct {
    const char *name; /* after dubbo_<side>_ */
    const char *type;
    const char *help;
    int reason; /* counts: a reason; -1 the total; -2 the failed total */
} family_t;

static const family_t counts[] = {
    {"requests_total", "counter", "Total Requests", -1},
    {"requests_succeed_total", "counter", "Total Succeed Requests", R_SUCCEED},
    {"requests_business_failed_total", "counter", "Total Failed Business Requests", R_BUSINESS},
    {"requests_failed_total", "counter", "Total Failed Requests", -2},
    {"requests_timeout_total", "counter", "Total Timeout Failed Requests", R_TIMEOUT},
    {"requests_limit_total", "counter", "Total Limit Failed Requests", R_LIMIT},
    {"requests_failed_network_total", "counter", "Total network Failed Requests", R_NETWORK},
    {"requests_failed_service_unavailable_total", "counter",
     "Total Service Unavailable Failed Requests", R_UNAVAILABLE},
    {"requests_failed_codec_total", "counter", "Total Codec Failed Requests", R_CODEC},
    {"requests_unknown_failed_total", "counter", "Total Unknown Failed Requests", R_UNKNOWN},
};

static uint64_t count_of(const series_t *s, int reason)
{
    uint64_t n = 0;
    if (reason >= 0) return atomic_load_explicit(&s->count[reason], memory_order_relaxed);
    for (int r = reason == -1 ? 0 : R_TIMEOUT; r < NR; r++)
        n += atomic_load_explicit(&s->count[r], memory_order_relaxed);
    return n;
}

static int write_side(dubbo_buf_t *out, const char *common, int side, series_t *head)
{
    const char *sn = side == DUBBO_FILTER_PROVIDER ? "provider" : "consumer";
    char lb[2048];
    int rc = 0;
    bool any = false;
    for (series_t *s = head; s && !any; s = s->next)
        any = s->side == side;
    if (!any) return 0;
    for (size_t f = 0; f < sizeof(counts) / sizeof(counts[0]) && !rc; f++) {
        rc = bprintf(out, "# HELP dubbo_%s_%s %s\n# TYPE dubbo_%s_%s %s\n", sn, counts[f].name,
                     counts[f].help, sn, counts[f].name, counts[f].type);
        for (series_t *s = head; s && !rc; s = s->next) {
            if (s->side != side) continue;
            series_labels(lb, sizeof(lb), common, s);
            rc = bprintf(out, "dubbo_%s_%s{%s} %llu\n", sn, counts[f].name, lb,
                         (unsigned long long)count_of(s, counts[f].reason));
        }
    }
    if (!rc)
        rc = bprintf(out,
                     "# HELP dubbo_%s_requests_processing_total Processing Requests\n"
                     "# TYPE dubbo_%s_requests_processing_total gauge\n",
                     sn, sn);
    for (series_t *s = head; s && !rc; s = s->next) {
        if (s->side != side) continue;
        series_labels(lb, sizeof(lb), common, s);
        rc = bprintf(out, "dubbo_%s_requests_processing_total{%s} %lld\n", sn, lb,
                     (long long)atomic_load(&s->processing));
    }
    static const char *const rts[] = {"min", "max", "sum", "avg", "last"};
    static const char *const rth[] = {"Min Response Time", "Max Response Time", "Sum Response Time",
                                      "Average Response Time", "Last Response Time"};
    for (size_t k = 0; k < 5 && !rc; k++) {
        rc = bprintf(out,
                     "# HELP dubbo_%s_rt_milliseconds_%s %s\n"
                     "# TYPE dubbo_%s_rt_milliseconds_%s gauge\n",
                     sn, rts[k], rth[k], sn, rts[k]);
        for (series_t *s = head; s && !rc; s = s->next) {
            if (s->side != side) continue;
            uint64_t n = atomic_load(&s->rt_count), sum = atomic_load(&s->rt_sum);
            uint64_t v = k == 0   ? atomic_load(&s->rt_min)
                         : k == 1 ? atomic_load(&s->rt_max)
                         : k == 2 ? sum
                         : k == 3 ? (n ? sum / n : 0)
                                  : atomic_load(&s->rt_last);
            if (!n) v = 0;
            series_labels(lb, sizeof(lb), common, s);
            rc = bprintf(out, "dubbo_%s_rt_milliseconds_%s{%s} %.6f\n", sn, rts[k], lb,
                         (double)v / 1e6);
        }
    }
    if (!rc)
        rc = bprintf(out,
                     "# HELP dubbo_%s_rt_milliseconds_histogram_seconds Response Time Histogram\n"
                     "# TYPE dubbo_%s_rt_milliseconds_histogram_seconds histogram\n",
                     sn, sn);
    for (series_t *s = head; s && !rc; s = s->next) {
        if (s->side != side) continue;
        series_labels(lb, sizeof(lb), common, s);
        uint64_t cum = 0;
        for (size_t b = 0; b <= NBOUNDS && !rc; b++) {
            cum += atomic_load_explicit(&s->bucket[b], memory_order_relaxed);
            char le[32];
            if (b < NBOUNDS)
                snprintf(le, sizeof(le), "%g", bounds[b]);
            else
                snprintf(le, sizeof(le), "+Inf");
            rc = bprintf(out,
                         "dubbo_%s_rt_milliseconds_histogram_seconds_bucket{%s,le=\"%s\"} %llu\n",
                         sn, lb, le, (unsigned long long)cum);
        }
        if (!rc)
            rc = bprintf(out,
                         "dubbo_%s_rt_milliseconds_histogram_seconds_count{%s} %llu\n"
                         "dubbo_%s_rt_milliseconds_histogram_seconds_sum{%s} %.9f\n",
                         sn, lb, (unsigned long long)cum, sn, lb,
                         (double)atomic_load(&s->rt_sum) / 1e9);
    }
    return rc;
}

int dubbo__metrics_write(dubbo_buf_t *out, const char *labels)
{
    pthread_mutex_lock(&mu);
    series_t *head = all; /* series are only ever added at the head */
    pthread_mutex_unlock(&mu);
    int rc = write_side(out, labels ? labels : "", DUBBO_FILTER_PROVIDER, head);
    if (!rc) rc = write_side(out, labels ? labels : "", DUBBO_FILTER_CONSUMER, head);
    return rc;
}

int dubbo__metrics_get(int side, const char *interface, const char *group, const char *version,
                       const char *method, dubbo__metrics_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&mu);
    series_t *s = all;
    for (; s; s = s->next)
        if (s->side == side && same(s->interface, interface) && same(s->group, group) &&
            same(s->version, version) && same(s->method, method))
            break;
    pthread_mutex_unlock(&mu);
    if (!s) return DUBBO_ENOT_FOUND;
    out->total = count_of(s, -1);
    out->failed_total = count_of(s, -2);
    out->succeed = count_of(s, R_SUCCEED);
    out->business_failed = count_of(s, R_BUSINESS);
    out->timeout = count_of(s, R_TIMEOUT);
    out->limit = count_of(s, R_LIMIT);
    out->network = count_of(s, R_NETWORK);
    out->service_unavailable = count_of(s, R_UNAVAILABLE);
    out->codec = count_of(s, R_CODEC);
    out->unknown = count_of(s, R_UNKNOWN);
    out->processing = atomic_load(&s->processing);
    out->rt_count = atomic_load(&s->rt_count);
    out->rt_sum_ns = atomic_load(&s->rt_sum);
    return 0;
}
