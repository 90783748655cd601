/* The tps filter (Java's TpsLimitFilter with DefaultTPSLimiter): a
 * service exported with `tps` = N serves at most N calls per window of
 * `tps.interval` ms (default 60000). Method-level `<method>.tps` and
 * `<method>.tps.interval` override them for that method, as Java's
 * url.getMethodParameter does (the method a generic call names counts).
 * As in Java there is one window per service (its StatItem): it starts at
 * the first limited call, refills all N tokens once it has passed, and is
 * rebuilt when a call's rate or interval differs from the window's. Calls
 * over the limit get an org.apache.dubbo.rpc.RpcException as the result,
 * as Dubbo 3's filter returns it (a Java consumer gets it thrown; no status
 * error, so no failover retry). Provider side, active when `tps` or any
 * `<method>.tps` is set (Java's @Activate matches "tps" and "*.tps"). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/rpc.h"
#include "core/log.h"
#include "filter/filter.h"
#include "runtime/call.h"

typedef struct {
    dubbo_filter_t base;
    dubbo_url_t *url; /* the service URL (a copy) */
    pthread_mutex_t mu;
    long rate, interval_ms; /* of the current window; rate 0: no window yet */
    uint64_t reset_at;      /* start of the current window, monotonic ms */
    long tokens;            /* left in it */
} tps_filter_t;

static dubbo_filter_t *tps_create(const dubbo_url_t *url, int side, int *rc)
{
    *rc = 0;
    if (side != DUBBO_FILTER_PROVIDER || !dubbo__filter_url_has(url, "tps")) return NULL;
    for (size_t i = 0; i < url->nparams; i++) {
        const char *k = url->params[i].key;
        size_t n = strlen(k);
        if (n >= 12 && strcmp(k + n - 12, "tps.interval") == 0 &&
            dubbo_url_param_int(url, k, -1) <= 0) {
            *rc = dubbo__seterr(DUBBO_EINVAL, "%s=%s on %s: must be a positive number of ms", k,
                                url->params[i].value, url->path);
            return NULL;
        }
    }
    tps_filter_t *f = calloc(1, sizeof(*f));
    if (!f) {
        *rc = dubbo__seterr(DUBBO_ENOMEM, "tps filter: out of memory");
        return NULL;
    }
    if (!(f->url = dubbo_url_clone(url))) {
        free(f);
        *rc = dubbo__seterr(DUBBO_ENOMEM, "tps filter: out of memory");
        return NULL;
    }
    f->base.ops = &dubbo__filter_tps;
    pthread_mutex_init(&f->mu, NULL);
    return &f->base;
}

static void tps_destroy(dubbo_filter_t *self)
{
    tps_filter_t *f = (tps_filter_t *)self;
    pthread_mutex_destroy(&f->mu);
    dubbo_url_free(f->url);
    free(f);
}

/* Java's StatItem.isAllowable, one item per service, rebuilt (window
 * restarted, tokens refilled) when the rate or interval changes. */
static bool allowable(tps_filter_t *f, long rate, long interval)
{
    uint64_t now = dubbo__now_ms();
    pthread_mutex_lock(&f->mu);
    if (f->rate != rate || f->interval_ms != interval) {
        f->rate = rate;
        f->interval_ms = interval;
        f->tokens = rate;
        f->reset_at = now;
    }
    if (now > f->reset_at + (uint64_t)f->interval_ms) {
        f->tokens = f->rate;
        f->reset_at = now;
    }
    bool ok = f->tokens > 0;
    if (ok) f->tokens--;
    pthread_mutex_unlock(&f->mu);
    return ok;
}

static void tps_serve(dubbo_filter_t *self, dubbo_call_t *call)
{
    tps_filter_t *f = (tps_filter_t *)self;
    const char *method = dubbo_call_method(call);
    const dubbo_value_t *g = dubbo_call_arg(call, 0);
    if ((strcmp(method, "$invoke") == 0 || strcmp(method, "$invokeAsync") == 0) && g &&
        g->type == DUBBO_T_STRING)
        method = g->u.s.ptr;
    long rate = dubbo_url_method_param_int(f->url, method, "tps", -1);
    long interval = dubbo_url_method_param_int(f->url, method, "tps.interval", 60000);
    if (rate <= 0 || interval <= 0 || allowable(f, rate, interval)) {
        dubbo_call_next(call);
        return;
    }
    char msg[600];
    snprintf(msg, sizeof(msg),
             "Failed to invoke service %s.%s because exceed max service tps (tps=%ld per %ld ms)",
             call->svc->interface, method, rate, interval);
    dubbo_call_throw(call, "org.apache.dubbo.rpc.RpcException", msg);
}

const dubbo_filter_ops_t dubbo__filter_tps = {
    .name = "tps",
    .sides = DUBBO_FILTER_PROVIDER,
    .order = DUBBO__ORDER_TPS,
    .create = tps_create,
    .serve = tps_serve,
    .destroy = tps_destroy,
};
