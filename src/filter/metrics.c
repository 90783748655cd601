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
 * (or `metrics.enable=false`) leaves it out. Cost per call (docs/qos.md
 * has it measured): the method's series found by a pointer compare in
 * the instance's cache (a provider call; a consumer call compares the
 * name), and about a dozen plain loads and stores on this thread's cell
 * of it: the counts are sharded per thread, no locked instruction and no
 * cache line shared with another thread, and added up only when /metrics
 * is read. Two monotonic clock reads, which the provider's timeout filter
 * shares instead of taking its own (filter.h, dubbo__filter_clock).
 * Series live until the process ends: a service exported again continues
 * its counts, as Java's collector keeps them. */
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
 * calls of a C provider are mostly far below Java's first bucket. The
 * same in nanoseconds, which the calls are timed in. */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))
static const uint64_t bound_ns[NBOUNDS] = {
    100000,   250000,    500000,    1000000,   2500000,    5000000,    10000000,   25000000,
    50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000};

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

/* One thread's counts of one series. Only the thread that owns the shard
 * writes them, with relaxed loads and stores (plain moves, no locked
 * instruction, no line shared with another writer); /metrics reads them
 * with relaxed loads and adds the shards up. processing may go below zero
 * in one shard (an async consumer call begins on one thread and ends on
 * another); the sum is exact. */
typedef struct {
    atomic_uint_fast64_t count[NR];
    atomic_int_fast64_t processing;
    atomic_uint_fast64_t rt_sum, rt_min, rt_max; /* ns */
    atomic_uint_fast64_t rt_last, last_at;       /* the last call's rt, and when it ended */
    atomic_uint_fast64_t bucket[NBOUNDS + 1];    /* not cumulative */
} cell_t;

/* A thread's cells, by series id. The owner reads `cells` and `n` without
 * a lock and changes them only under mu; readers hold mu. A shard outlives
 * its thread (the counts stay in the sums): at the thread's exit it is
 * marked free, and the next new thread adopts it. */
typedef struct shard {
    struct shard *next; /* every shard (mu) */
    bool owned;         /* (mu) */
    size_t n;
    cell_t **cells;
} shard_t;

typedef struct series {
    struct series *next; /* the process-wide list (mu) */
    size_t id;           /* index in every shard's cells */
    int side;
    char *interface, *group, *version, *method;
} series_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static series_t *all; /* newest first */
static size_t nseries;
static shard_t *shards;
static pthread_key_t shard_key;
static _Thread_local shard_t *mine;

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* The thread's exit: its shard is free for the next thread (mu). */
static void shard_release(void *p)
{
    pthread_mutex_lock(&mu);
    ((shard_t *)p)->owned = false;
    mine = NULL; /* a call in a later destructor takes a shard again */
    pthread_mutex_unlock(&mu);
}

static void once_init(void)
{
    pthread_key_create(&shard_key, shard_release);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The series of one method, made on its first call; lives for ever. */
static series_t *series_get(int side, const char *iface, const char *group, const char *version,
                            const char *method)
{
    pthread_once(&once, once_init);
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
            s->id = nseries++;
            s->next = all;
            all = s;
        }
    }
    pthread_mutex_unlock(&mu);
    return s;
}

/* The calling thread's cell of series `id`, made on its first use there:
 * adopts a free shard or makes one, grows its cells. NULL on
 * out-of-memory (the call is then not counted). */
static cell_t *cell_slow(size_t id)
{
    cell_t *c = NULL;
    pthread_mutex_lock(&mu);
    shard_t *sh = mine;
    if (!sh) {
        for (sh = shards; sh && sh->owned; sh = sh->next)
            ;
        if (!sh && (sh = calloc(1, sizeof(*sh)))) {
            sh->next = shards;
            shards = sh;
        }
        if (!sh) goto out;
        sh->owned = true;
        mine = sh;
        pthread_setspecific(shard_key, sh);
    }
    if (id >= sh->n) {
        size_t n = sh->n ? sh->n : 8;
        while (n <= id)
            n *= 2;
        cell_t **cells = calloc(n, sizeof(*cells));
        if (!cells) goto out;
        if (sh->n) memcpy(cells, sh->cells, sh->n * sizeof(*cells));
        free(sh->cells); /* readers hold mu */
        sh->cells = cells;
        sh->n = n;
    }
    if (!(c = sh->cells[id])) {
        /* a line of its own: no false sharing with another thread's cell */
        size_t size = (sizeof(cell_t) + 63) / 64 * 64;
        if (!(c = aligned_alloc(64, size))) goto out;
        memset(c, 0, size);
        atomic_store_explicit(&c->rt_min, UINT64_MAX, memory_order_relaxed);
        sh->cells[id] = c;
    }
out:
    pthread_mutex_unlock(&mu);
    return c;
}

static inline cell_t *cell_of(size_t id)
{
    shard_t *sh = mine;
    if (sh && id < sh->n && sh->cells[id]) return sh->cells[id];
    return cell_slow(id);
}

/* The sums over every shard, for /metrics. */
typedef struct {
    uint64_t count[NR];
    int64_t processing;
    uint64_t rt_count, rt_sum, rt_min, rt_max, rt_last, last_at;
    uint64_t bucket[NBOUNDS + 1];
} agg_t;

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Called with mu held. */
static void aggregate(const series_t *s, agg_t *a)
{
    memset(a, 0, sizeof(*a));
    a->rt_min = UINT64_MAX;
    for (shard_t *sh = shards; sh; sh = sh->next) {
        const cell_t *c = s->id < sh->n ? sh->cells[s->id] : NULL;
        if (!c) continue;
        for (int r = 0; r < NR; r++)
            a->count[r] += LOAD(c->count[r]);
        a->processing += LOAD(c->processing);
        a->rt_sum += LOAD(c->rt_sum);
        uint64_t v = LOAD(c->rt_min);
        if (v < a->rt_min) a->rt_min = v;
        if ((v = LOAD(c->rt_max)) > a->rt_max) a->rt_max = v;
        if ((v = LOAD(c->last_at)) >= a->last_at) {
            a->last_at = v;
            a->rt_last = LOAD(c->rt_last);
        }
        for (size_t b = 0; b <= NBOUNDS; b++)
            a->bucket[b] += LOAD(c->bucket[b]);
    }
    for (int r = 0; r < NR; r++)
        a->rt_count += a->count[r];
    if (!a->rt_count) a->rt_min = 0;
}

/* ---- the filter instance: one per service or reference ---- */

/* A method's series, cached in the instance: a list pushed with a CAS and
 * never shrunk, so a call finds its series without a lock. A provider
 * call is matched by its method's definition (a pointer compare, no
 * string), a consumer call by name. */
typedef struct mcache {
    struct mcache *next;
    const void *def; /* the provider's method_t, or NULL */
    size_t id;
    char method[];
} mcache_t;

typedef struct {
    dubbo_filter_t base;
    int side;
    char *interface, *group, *version;
    _Atomic(mcache_t *) head;
} metrics_filter_t;

static bool find_slow(metrics_filter_t *f, const void *def, const char *method, size_t *id)
{
    mcache_t *h = atomic_load_explicit(&f->head, memory_order_acquire);
    for (mcache_t *m = h; m; m = m->next)
        if (m->def == def && strcmp(m->method, method) == 0) {
            *id = m->id;
            return true;
        }
    series_t *s = series_get(f->side, f->interface, f->group, f->version, method);
    if (!s) return false;
    *id = s->id;
    size_t n = strlen(method);
    mcache_t *m = malloc(sizeof(*m) + n + 1);
    if (!m) return true;
    m->def = def;
    m->id = s->id;
    memcpy(m->method, method, n + 1);
    /* another thread may have pushed the same method meanwhile: a second
     * entry for it is harmless (same series) */
    m->next = h;
    while (!atomic_compare_exchange_weak_explicit(&f->head, &m->next, m, memory_order_release,
                                                  memory_order_acquire))
        ;
    return true;
}

/* The series id of a call: by `def` when it is not NULL, else by name. */
static inline bool find(metrics_filter_t *f, const void *def, const char *method, size_t *id)
{
    mcache_t *h = atomic_load_explicit(&f->head, memory_order_acquire);
    if (def) {
        for (mcache_t *m = h; m; m = m->next)
            if (m->def == def) {
                *id = m->id;
                return true;
            }
    } else {
        for (mcache_t *m = h; m; m = m->next)
            if (!m->def && strcmp(m->method, method) == 0) {
                *id = m->id;
                return true;
            }
    }
    return find_slow(f, def, method, id);
}

/* One thread adds to its own cell: load and store, no read-modify-write. */
#define BUMP(x, d) atomic_store_explicit(&(x), LOAD(x) + (d), memory_order_relaxed)

static inline void begin(cell_t *c)
{
    BUMP(c->processing, 1);
}

static void record(cell_t *c, uint64_t rt, uint64_t end, int reason)
{
    BUMP(c->count[reason], 1);
    BUMP(c->processing, -1);
    BUMP(c->rt_sum, rt);
    atomic_store_explicit(&c->rt_last, rt, memory_order_relaxed);
    atomic_store_explicit(&c->last_at, end, memory_order_relaxed);
    if (rt < LOAD(c->rt_min)) atomic_store_explicit(&c->rt_min, rt, memory_order_relaxed);
    if (rt > LOAD(c->rt_max)) atomic_store_explicit(&c->rt_max, rt, memory_order_relaxed);
    size_t b = 0;
    while (b < NBOUNDS && rt > bound_ns[b])
        b++;
    BUMP(c->bucket[b], 1);
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

_Thread_local dubbo__filter_clock_t dubbo__filter_clock;

static void metrics_serve(dubbo_filter_t *self, dubbo_call_t *call)
{
    /* after generic (order): a generic call counts under its real method */
    size_t id;
    cell_t *c;
    if (!find((metrics_filter_t *)self, call->method_def, dubbo_call_method(call), &id) ||
        !(c = cell_of(id))) {
        dubbo_call_next(call);
        return;
    }
    begin(c);
    /* the timeout filter, inside, takes this start and leaves its end */
    uint64_t t0 = dubbo__filter_now_ns();
    dubbo__filter_clock = (dubbo__filter_clock_t){call, t0, 0};
    dubbo_call_next(call);
    dubbo__filter_clock_t *k = &dubbo__filter_clock;
    uint64_t t1 = k->call == call && k->end_ns ? k->end_ns : dubbo__filter_now_ns();
    k->call = NULL;
    int reason = call->status != DUBBO_STATUS_OK ? status_reason(call->status)
                 : call->is_exception            ? exception_reason(call->value)
                                                 : R_SUCCEED;
    record(c, t1 - t0, t1, reason);
}

/* ---- consumer side ---- */

static int metrics_invoke(dubbo_filter_t *self, dubbo_filter_chain_t *chain,
                          dubbo_invoker_t *invoker, const dubbo_invocation_t *inv,
                          dubbo_result_t *r)
{
    size_t id;
    cell_t *c;
    if (!find((metrics_filter_t *)self, NULL, dubbo_invocation_method(inv), &id) ||
        !(c = cell_of(id)))
        return dubbo_filter_next(chain, invoker, inv, r);
    begin(c);
    uint64_t t0 = dubbo__filter_now_ns();
    int rc = dubbo_filter_next(chain, invoker, inv, r);
    uint64_t t1 = dubbo__filter_now_ns();
    record(c, t1 - t0, t1, result_reason(rc, r));
    return rc;
}

typedef struct {
    dubbo_done_fn done;
    void *user;
    size_t id;
    uint64_t t0;
} pending_t;

/* May run on another thread than the call began on: counts in this
 * thread's cell (the sums are the same). */
static void async_done(int rc, dubbo_result_t *r, void *user)
{
    pending_t *p = user;
    cell_t *c = cell_of(p->id);
    uint64_t t1 = dubbo__filter_now_ns();
    if (c)
        record(c, t1 - p->t0, t1, result_reason(rc, r));
    else /* out of memory: processing stays one too high rather than lose the call */
        DLOG_WARN("metrics: a call's end not counted (out of memory)");
    dubbo_done_fn done = p->done;
    void *u = p->user;
    free(p);
    done(rc, r, u);
}

static int metrics_invoke_async(dubbo_filter_t *self, dubbo_filter_chain_t *chain,
                                dubbo_invoker_t *invoker, const dubbo_invocation_t *inv,
                                dubbo_done_fn done, void *user)
{
    size_t id;
    cell_t *c = NULL;
    if (find((metrics_filter_t *)self, NULL, dubbo_invocation_method(inv), &id)) c = cell_of(id);
    pending_t *p = c ? malloc(sizeof(*p)) : NULL;
    if (!p) return dubbo_filter_next_async(chain, invoker, inv, done, user);
    *p = (pending_t){done, user, id, 0};
    begin(c);
    uint64_t t0 = p->t0 = dubbo__filter_now_ns();
    int rc = dubbo_filter_next_async(chain, invoker, inv, async_done, p);
    if (rc < 0) { /* async_done never runs: the call failed to start */
        uint64_t t1 = dubbo__filter_now_ns();
        record(c, t1 - t0, t1, rc_reason(rc));
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

static uint64_t count_of(const agg_t *a, int reason)
{
    uint64_t n = 0;
    if (reason >= 0) return a->count[reason];
    for (int r = reason == -1 ? 0 : R_TIMEOUT; r < NR; r++)
        n += a->count[r];
    return n;
}

/* `snap` is every series' sums, by id. */
static int write_side(dubbo_buf_t *out, const char *common, int side, series_t *head,
                      const agg_t *snap)
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
                         (unsigned long long)count_of(&snap[s->id], counts[f].reason));
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
                     (long long)snap[s->id].processing);
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
            const agg_t *a = &snap[s->id];
            uint64_t n = a->rt_count, sum = a->rt_sum;
            uint64_t v = k == 0   ? a->rt_min
                         : k == 1 ? a->rt_max
                         : k == 2 ? sum
                         : k == 3 ? (n ? sum / n : 0)
                                  : a->rt_last;
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
        const agg_t *a = &snap[s->id];
        series_labels(lb, sizeof(lb), common, s);
        uint64_t cum = 0;
        for (size_t b = 0; b <= NBOUNDS && !rc; b++) {
            cum += a->bucket[b];
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
                         sn, lb, (unsigned long long)cum, sn, lb, (double)a->rt_sum / 1e9);
    }
    return rc;
}

int dubbo__metrics_write(dubbo_buf_t *out, const char *labels)
{
    /* the shards are added up once, under the lock; the text is written
     * without it */
    pthread_mutex_lock(&mu);
    series_t *head = all; /* series are only ever added at the head */
    size_t n = nseries;
    agg_t *snap = n ? malloc(n * sizeof(*snap)) : NULL;
    if (snap)
        for (series_t *s = head; s; s = s->next)
            aggregate(s, &snap[s->id]);
    pthread_mutex_unlock(&mu);
    if (n && !snap) return DUBBO_ENOMEM;
    int rc = write_side(out, labels ? labels : "", DUBBO_FILTER_PROVIDER, head, snap);
    if (!rc) rc = write_side(out, labels ? labels : "", DUBBO_FILTER_CONSUMER, head, snap);
    free(snap);
    return rc;
}

int dubbo__metrics_get(int side, const char *interface, const char *group, const char *version,
                       const char *method, dubbo__metrics_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    agg_t a;
    pthread_mutex_lock(&mu);
    series_t *s = all;
    for (; s; s = s->next)
        if (s->side == side && same(s->interface, interface) && same(s->group, group) &&
            same(s->version, version) && same(s->method, method))
            break;
    if (s) aggregate(s, &a);
    pthread_mutex_unlock(&mu);
    if (!s) return DUBBO_ENOT_FOUND;
    out->total = count_of(&a, -1);
    out->failed_total = count_of(&a, -2);
    out->succeed = count_of(&a, R_SUCCEED);
    out->business_failed = count_of(&a, R_BUSINESS);
    out->timeout = count_of(&a, R_TIMEOUT);
    out->limit = count_of(&a, R_LIMIT);
    out->network = count_of(&a, R_NETWORK);
    out->service_unavailable = count_of(&a, R_UNAVAILABLE);
    out->codec = count_of(&a, R_CODEC);
    out->unknown = count_of(&a, R_UNKNOWN);
    out->processing = a.processing;
    out->rt_count = a.rt_count;
    out->rt_sum_ns = a.rt_sum;
    return 0;
}
