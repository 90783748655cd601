/* loadbalance=p2c: power of two choices. Two distinct providers are drawn
 * at random and the less loaded one wins, where
 *
 *     load = (active + 1) * max(ewma_us, 1)
 *
 * active is the invoker's calls in flight and ewma_us the smoothed latency
 * of its recent calls (kept by the cluster core, weight 1/8). The product
 * estimates how long a new call would wait: the latency of one call times
 * the calls ahead of it. A provider never called has ewma 0, so it counts
 * as fast and gets tried, as dubbo-go's p2c sends calls to a node without
 * metrics. On equal loads the first draw wins (the draws are random, so
 * this is fair). Weights are not used (nor are they by Java's or dubbo-go's
 * p2c). Stateless. */
#include "cluster/loadbalance/util.h"

static uint64_t load(dubbo_invoker_t *i)
{
    int active = atomic_load(&i->active);
    uint64_t ewma = atomic_load(&i->ewma_us);
    if (ewma < 1) ewma = 1;
    if (ewma > UINT32_MAX) ewma = UINT32_MAX; /* keeps the product in 64 bits */
    return (uint64_t)(active > 0 ? active + 1 : 1) * ewma;
}

static dubbo_invoker_t *p2c_select(dubbo_lb_t *self, dubbo_invoker_t *const *invokers, size_t n,
                                   const dubbo_url_t *url, const dubbo_invocation_t *inv)
{
    if (n == 1) return invokers[0];
    size_t a = (size_t)dubbo_random(n);
    size_t b = (size_t)dubbo_random(n - 1);
    if (b >= a) b++; /* distinct, and uniform over the other n - 1 */
    return load(invokers[b]) < load(invokers[a]) ? invokers[b] : invokers[a];
}

static dubbo_lb_t *p2c_create(const dubbo_url_t *url);

const dubbo_lb_ops_t dubbo__lb_p2c = {
    .name = "p2c",
    .create = p2c_create,
    .select = p2c_select,
};

static dubbo_lb_t p2c_instance = {&dubbo__lb_p2c};

static dubbo_lb_t *p2c_create(const dubbo_url_t *url)
{
    return &p2c_instance;
}
