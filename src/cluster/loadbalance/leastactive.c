/* loadbalance=leastactive: Java's LeastActiveLoadBalance. The providers
 * with the fewest calls in flight (invoker->active) win; among ties, a
 * weighted random pick when their weights differ, else a uniform one.
 * Stateless (the counts are the invokers'). */
#include <stdlib.h>

#include "cluster/loadbalance/util.h"

static dubbo_invoker_t *leastactive_select(dubbo_lb_t *self, dubbo_invoker_t *const *invokers,
                                           size_t n, const dubbo_url_t *url,
                                           const dubbo_invocation_t *inv)
{
    if (n == 1) return invokers[0];
    int wstack[DUBBO__LB_SCRATCH_MAX];
    size_t istack[DUBBO__LB_SCRATCH_MAX];
    bool heap = n > DUBBO__LB_SCRATCH_MAX;
    int *weights = heap ? malloc(n * sizeof(*weights)) : wstack;
    size_t *least = heap ? malloc(n * sizeof(*least)) : istack;
    if (!weights || !least) {
        free(heap ? weights : NULL);
        free(heap ? least : NULL);
        return invokers[dubbo_random(n)];
    }
    const char *method = dubbo_invocation_method(inv);
    int64_t now = dubbo__lb_clock();
    int least_active = -1;
    size_t count = 0;
    int64_t total = 0;
    int first = 0;
    bool same = true;
    for (size_t i = 0; i < n; i++) {
        int active = atomic_load(&invokers[i]->active);
        int w = dubbo_invoker_weight(invokers[i], method, now);
        weights[i] = w;
        if (least_active == -1 || active < least_active) {
            least_active = active;
            count = 1;
            least[0] = i;
            total = w;
            first = w;
            same = true;
        } else if (active == least_active) {
            least[count++] = i;
            total += w;
            if (w != first) same = false;
        }
    }
    dubbo_invoker_t *pick = dubbo__lb_pick_tied(invokers, least, count, weights, total, same);
    if (heap) {
        free(weights);
        free(least);
    }
    return pick;
}

static dubbo_lb_t *leastactive_create(const dubbo_url_t *url);

const dubbo_lb_ops_t dubbo__lb_leastactive = {
    .name = "leastactive",
    .create = leastactive_create,
    .select = leastactive_select,
};

static dubbo_lb_t leastactive_instance = {&dubbo__lb_leastactive};

static dubbo_lb_t *leastactive_create(const dubbo_url_t *url)
{
    return &leastactive_instance;
}
