/* loadbalance=random, the default: Java's RandomLoadBalance. A weighted
 * random pick (weights with warm-up, dubbo_invoker_weight); uniform when
 * every weight is equal or they sum to 0. As Java, weights are computed
 * only when the first provider's URL sets `weight`, `<method>.weight` or
 * `timestamp`; otherwise the pick is uniform at once. Stateless. */
#include <stdlib.h>
#include <string.h>

#include "cluster/loadbalance/util.h"

/* Java's needWeightLoadBalance: does the first provider set `weight`,
 * `<method>.weight` or `timestamp`? */
static bool need_weights(const dubbo_invoker_t *first, const char *method)
{
    if (!first->url) return false;
    return dubbo_url_method_param(first->url, method, "weight", NULL) ||
           *dubbo_url_param(first->url, "timestamp", "");
}

static dubbo_invoker_t *random_select(dubbo_lb_t *self, dubbo_invoker_t *const *invokers, size_t n,
                                      const dubbo_url_t *url, const dubbo_invocation_t *inv)
{
    if (n == 1) return invokers[0];
    const char *method = dubbo_invocation_method(inv);
    if (!need_weights(invokers[0], method)) return invokers[dubbo_random(n)];

    int64_t stack[DUBBO__LB_SCRATCH_MAX];
    int64_t *cum = n <= DUBBO__LB_SCRATCH_MAX ? stack : malloc(n * sizeof(*cum));
    if (!cum) return invokers[dubbo_random(n)];
    int64_t now = dubbo__lb_clock();
    int64_t total = 0;
    int first = 0;
    bool same = true;
    for (size_t i = 0; i < n; i++) {
        int w = dubbo_invoker_weight(invokers[i], method, now);
        if (i == 0)
            first = w;
        else if (w != first)
            same = false;
        total += w;
        cum[i] = total;
    }
    dubbo_invoker_t *pick;
    if (total > 0 && !same) {
        /* the first provider whose running total passes the offset */
        int64_t offset = (int64_t)dubbo_random((uint64_t)total);
        size_t lo = 0, hi = n - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (offset < cum[mid])
                hi = mid;
            else
                lo = mid + 1;
        }
        pick = invokers[lo];
    } else {
        pick = invokers[dubbo_random(n)];
    }
    if (cum != stack) free(cum);
    return pick;
}

static dubbo_lb_t *random_create(const dubbo_url_t *url);

const dubbo_lb_ops_t dubbo__lb_random = {
    .name = "random",
    .create = random_create,
    .select = random_select,
};

static dubbo_lb_t random_instance = {&dubbo__lb_random};

static dubbo_lb_t *random_create(const dubbo_url_t *url)
{
    return &random_instance; /* no state: one instance serves every reference */
}
