/* loadbalance=roundrobin: Java's RoundRobinLoadBalance, the smooth
 * weighted round robin (nginx's): on every pick each provider's `current`
 * grows by its weight, the largest current wins and gives back the total
 * of the weights. Weights {5,1,1} give a a b a c a a; equal weights a
 * plain rotation. State per method (the instance belongs to one
 * reference, so one service), per provider keyed by "host:port"; a
 * changed weight restarts that provider's current at 0, and providers not
 * seen for 60 s are forgotten when the provider set changes. One mutex per
 * reference guards the state; weights are computed outside it. */
#include <pthread.h>
#include <stdlib.h>

#include "cluster/loadbalance/util.h"
#include "core/internal.h"

#define RECYCLE_PERIOD_MS 60000

typedef struct {
    dubbo_lb_t base;
    pthread_mutex_t mu;
    dubbo__lb_methods_t methods; /* method -> dubbo__lb_table_t * */
} rr_t;

static void free_table(void *state)
{
    dubbo__lb_table_t *t = state;
    dubbo__lb_table_destroy(t);
    free(t);
}

/* The method's table, made on first use; NULL on out-of-memory. */
static dubbo__lb_table_t *table_of(rr_t *rr, const char *method)
{
    void **slot = dubbo__lb_methods_find(&rr->methods, method);
    if (slot) return *slot;
    dubbo__lb_table_t *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    if (dubbo__lb_methods_add(&rr->methods, method, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

static dubbo_invoker_t *rr_select(dubbo_lb_t *self, dubbo_invoker_t *const *invokers, size_t n,
                                  const dubbo_url_t *url, const dubbo_invocation_t *inv)
{
    rr_t *rr = (rr_t *)self;
    if (n == 1) return invokers[0];
    int stack[DUBBO__LB_SCRATCH_MAX];
    int *weights = n <= DUBBO__LB_SCRATCH_MAX ? stack : malloc(n * sizeof(*weights));
    if (!weights) return invokers[dubbo_random(n)];
    const char *method = dubbo_invocation_method(inv);
    int64_t now = dubbo__lb_clock();
    for (size_t i = 0; i < n; i++)
        weights[i] = dubbo_invoker_weight(invokers[i], method, now);

    pthread_mutex_lock(&rr->mu);
    dubbo__lb_table_t *t = table_of(rr, method);
    int64_t total = 0, max = INT64_MIN;
    size_t chosen = n;
    for (size_t i = 0; t && i < n; i++) {
        bool created;
        dubbo__lb_slot_t *s = dubbo__lb_table_get(t, invokers[i]->address, &created);
        if (!s) {
            chosen = n; /* out of memory: a random pick below */
            break;
        }
        if (created || s->u.rr.weight != weights[i]) {
            s->u.rr.weight = weights[i];
            s->u.rr.current = 0;
        }
        s->u.rr.current += weights[i];
        s->seen_ms = now;
        if (s->u.rr.current > max) {
            max = s->u.rr.current;
            chosen = i;
        }
        total += weights[i];
    }
    if (chosen < n) {
        if (t->count != n) dubbo__lb_table_sweep(t, now - RECYCLE_PERIOD_MS);
        bool created;
        dubbo__lb_slot_t *s = dubbo__lb_table_get(t, invokers[chosen]->address, &created);
        if (s) s->u.rr.current -= total;
    }
    pthread_mutex_unlock(&rr->mu);
    if (weights != stack) free(weights);
    return chosen < n ? invokers[chosen] : invokers[dubbo_random(n)];
}

static dubbo_lb_t *rr_create(const dubbo_url_t *url);

static void rr_destroy(dubbo_lb_t *self)
{
    rr_t *rr = (rr_t *)self;
    dubbo__lb_methods_destroy(&rr->methods, free_table);
    pthread_mutex_destroy(&rr->mu);
    free(rr);
}

const dubbo_lb_ops_t dubbo__lb_roundrobin = {
    .name = "roundrobin",
    .create = rr_create,
    .select = rr_select,
    .destroy = rr_destroy,
};

static dubbo_lb_t *rr_create(const dubbo_url_t *url)
{
    rr_t *rr = calloc(1, sizeof(*rr));
    if (!rr) {
        dubbo__seterr(DUBBO_ENOMEM, "loadbalance roundrobin: out of memory");
        return NULL;
    }
    rr->base.ops = &dubbo__lb_roundrobin;
    pthread_mutex_init(&rr->mu, NULL);
    return &rr->base;
}
