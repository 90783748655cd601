/* The tps filter (Java's TpsLimitFilter with DefaultTPSLimiter): a
 * service exported with `tps` = N serves at most N calls per window of
 * `tps.interval` ms (default 60000), counted over all its methods (Java's
 * per-service-key StatItem: the window starts at the first call and
 * refills all N tokens once it has passed). Calls over the limit get an
 * org.apache.dubbo.rpc.RpcException as the result, as Dubbo 3's filter
 * returns it (a Java consumer gets it thrown; no status error, so no
 * failover retry). Provider side, active when `tps` > 0. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "dubbo/rpc.h"
#include "core/log.h"
#include "filter/filter.h"
#include "runtime/call.h"

typedef struct {
    dubbo_filter_t base;
    long rate;
    long interval_ms;
    pthread_mutex_t mu;
    uint64_t reset_at; /* start of the current window, monotonic ms */
    long tokens;       /* left in it */
} tps_filter_t;

static dubbo_filter_t *tps_create(const dubbo_url_t *url, int side, int *rc)
{
    *rc = 0;
    long rate = dubbo_url_param_int(url, "tps", -1);
    if (side != DUBBO_FILTER_PROVIDER || rate <= 0) return NULL;
    long interval = dubbo_url_param_int(url, "tps.interval", 60000);
    if (interval <= 0) {
        *rc = dubbo__seterr(DUBBO_EINVAL, "tps.interval=%s on %s: must be a positive number of ms",
                            dubbo_url_param(url, "tps.interval", ""), url->path);
        return NULL;
    }
    tps_filter_t *f = calloc(1, sizeof(*f));
    if (!f) {
        *rc = dubbo__seterr(DUBBO_ENOMEM, "tps filter: out of memory");
        return NULL;
    }
    f->base.ops = &dubbo__filter_tps;
    f->rate = rate;
    f->interval_ms = interval;
    f->reset_at = dubbo__now_ms();
    f->tokens = rate;
    pthread_mutex_init(&f->mu, NULL);
    return &f->base;
}

static void tps_destroy(dubbo_filter_t *self)
{
    tps_filter_t *f = (tps_filter_t *)self;
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static bool allowable(tps_filter_t *f)
{
    uint64_t now = dubbo__now_ms();
    pthread_mutex_lock(&f->mu);
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
    if (allowable(f)) {
        dubbo_call_next(call);
        return;
    }
    char msg[600];
    snprintf(msg, sizeof(msg),
             "Failed to invoke service %s.%s because exceed max service tps (tps=%ld per %ld ms)",
             call->svc->interface, call->req.method, f->rate, f->interval_ms);
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
