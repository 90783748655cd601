/* loadbalance=shortestresponse: Java's ShortestResponseLoadBalance. Each
 * provider's expected response time is the average duration of its
 * successful calls in the current window times (active + 1); the
 * shortest wins, ties go to a weighted random pick (uniform when the
 * weights are equal). A provider without a successful call in the window
 * expects 0, so it is tried.
 *
 * The window, as Java's slide window: every `shortestResponseSlidePeriod`
 * ms (URL parameter, default 30000) the averages restart from the
 * counters' values at that moment. The restart is lazy: a provider's
 * offsets are taken the first time a select sees it in the new window.
 * Java keeps the statistics per method; the cluster core keeps them per
 * provider, so the averages here mix the methods of the service. */
#include <pthread.h>
#include <stdlib.h>

#include "cluster/loadbalance/util.h"
#include "core/internal.h"

#define RECYCLE_PERIOD_MS 60000

typedef struct {
    dubbo_lb_t base;
    pthread_mutex_t mu;
    int64_t period_ms;
    int64_t window_start_ms;
    uint64_t window; /* number of the current window */
    dubbo__lb_table_t offsets;
} sr_t;

typedef struct {
    uint64_t succeeded, elapsed_us;
} counters_t;

static counters_t counters(dubbo_invoker_t *i)
{
    counters_t c = {atomic_load(&i->succeeded), atomic_load(&i->succeeded_elapsed_us)};
    return c;
}

static dubbo_invoker_t *sr_select(dubbo_lb_t *self, dubbo_invoker_t *const *invokers, size_t n,
                                  const dubbo_url_t *url, const dubbo_invocation_t *inv)
{
    sr_t *sr = (sr_t *)self;
    if (n == 1) return invokers[0];
    int wstack[DUBBO__LB_SCRATCH_MAX];
    size_t istack[DUBBO__LB_SCRATCH_MAX];
    uint64_t estack[DUBBO__LB_SCRATCH_MAX];
    bool heap = n > DUBBO__LB_SCRATCH_MAX;
    int *weights = heap ? malloc(n * sizeof(*weights)) : wstack;
    size_t *shortest = heap ? malloc(n * sizeof(*shortest)) : istack;
    uint64_t *estimate = heap ? malloc(n * sizeof(*estimate)) : estack;
    if (!weights || !shortest || !estimate) {
        if (heap) {
            free(weights);
            free(shortest);
            free(estimate);
        }
        return invokers[dubbo_random(n)];
    }
    const char *method = dubbo_invocation_method(inv);
    int64_t now = dubbo__lb_clock();

    pthread_mutex_lock(&sr->mu);
    bool rolled = now - sr->window_start_ms > sr->period_ms;
    if (rolled) {
        sr->window_start_ms = now;
        sr->window++;
        if (sr->offsets.count > n) dubbo__lb_table_sweep(&sr->offsets, now - RECYCLE_PERIOD_MS);
    }
    for (size_t i = 0; i < n; i++) {
        counters_t c = counters(invokers[i]);
        bool created;
        dubbo__lb_slot_t *s = dubbo__lb_table_get(&sr->offsets, invokers[i]->address, &created);
        if (!s) { /* out of memory: the average since the invoker began */
            estimate[i] = c.succeeded ? c.elapsed_us / c.succeeded : 0;
        } else {
            if (created || s->u.sr.invoker != invokers[i] || c.succeeded < s->u.sr.succeeded) {
                /* a provider first seen, or a new invoker at that address:
                 * its own counters so far make the average */
                s->u.sr.invoker = invokers[i];
                s->u.sr.succeeded = 0;
                s->u.sr.elapsed_us = 0;
                s->u.sr.window = sr->window;
            } else if (s->u.sr.window != sr->window) {
                s->u.sr.succeeded = c.succeeded;
                s->u.sr.elapsed_us = c.elapsed_us;
                s->u.sr.window = sr->window;
            }
            s->seen_ms = now;
            uint64_t succ = c.succeeded - s->u.sr.succeeded;
            uint64_t el = c.elapsed_us - s->u.sr.elapsed_us;
            estimate[i] = succ ? el / succ : 0;
        }
        int active = atomic_load(&invokers[i]->active);
        estimate[i] *= (uint64_t)(active > 0 ? active + 1 : 1);
    }
    pthread_mutex_unlock(&sr->mu);

    uint64_t best = UINT64_MAX;
    size_t count = 0;
    int64_t total = 0;
    int first = 0;
    bool same = true;
    for (size_t i = 0; i < n; i++) {
        int w = dubbo_invoker_weight(invokers[i], method, now);
        weights[i] = w;
        if (estimate[i] < best) {
            best = estimate[i];
            count = 1;
            shortest[0] = i;
            total = w;
            first = w;
            same = true;
        } else if (estimate[i] == best) {
            shortest[count++] = i;
            total += w;
            if (w != first) same = false;
        }
    }
    dubbo_invoker_t *pick = dubbo__lb_pick_tied(invokers, shortest, count, weights, total, same);
    if (heap) {
        free(weights);
        free(shortest);
        free(estimate);
    }
    return pick;
}

static dubbo_lb_t *sr_create(const dubbo_url_t *url);

static void sr_destroy(dubbo_lb_t *self)
{
    sr_t *sr = (sr_t *)self;
    dubbo__lb_table_destroy(&sr->offsets);
    pthread_mutex_destroy(&sr->mu);
    free(sr);
}

const dubbo_lb_ops_t dubbo__lb_shortestresponse = {
    .name = "shortestresponse",
    .create = sr_create,
    .select = sr_select,
    .destroy = sr_destroy,
};

static dubbo_lb_t *sr_create(const dubbo_url_t *url)
{
    long period = dubbo_url_param_int(url, "shortestResponseSlidePeriod", 30000);
    if (period <= 0) {
        dubbo__seterr(DUBBO_EINVAL,
                      "loadbalance shortestresponse: shortestResponseSlidePeriod=%s is not a "
                      "positive number of milliseconds",
                      dubbo_url_param(url, "shortestResponseSlidePeriod", ""));
        return NULL;
    }
    sr_t *sr = calloc(1, sizeof(*sr));
    if (!sr) {
        dubbo__seterr(DUBBO_ENOMEM, "loadbalance shortestresponse: out of memory");
        return NULL;
    }
    sr->base.ops = &dubbo__lb_shortestresponse;
    pthread_mutex_init(&sr->mu, NULL);
    sr->period_ms = period;
    sr->window_start_ms = dubbo__lb_clock();
    return &sr->base;
}
