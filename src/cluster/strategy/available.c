/* cluster=available: the first provider of the routed list that is
 * available (connected, not read-only), without a balancer; one attempt. */
#include <stdio.h>

#include "dubbo/cluster.h"
#include "cluster/strategy/strategy.h"
#include "core/internal.h"

static int available_invoke_async(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                                  dubbo_done_fn done, void *user)
{
    dubbo_invoker_t **cands = NULL;
    int n = dubbo_cluster_list(cl, inv, &cands);
    if (n < 0) return dubbo__complete_fail(done, user, n, "%s", dubbo_last_error());
    for (int i = 0; i < n; i++) {
        if (!dubbo_invoker_available(cands[i])) continue;
        dubbo__attempt_async(cl, inv, cands[i], NULL, done, user);
        dubbo_invokers_release(cands, (size_t)n);
        return 0;
    }
    char providers[1024];
    dubbo__addresses(providers, sizeof(providers), cands, (size_t)n);
    dubbo__complete_fail(done, user, DUBBO_ENOT_FOUND,
                         "No provider available for the service %s (method %s): %s%s%s",
                         dubbo_cluster_url(cl)->path, inv->method,
                         n ? "none of the providers ["
                           : "the directory is empty or the "
                             "routers left no provider",
                         providers, n ? "] is available" : "");
    dubbo_invokers_release(cands, (size_t)n);
    return 0;
}

const dubbo_cluster_ops_t dubbo__cluster_available = {
    .name = "available",
    .invoke_async = available_invoke_async,
};
