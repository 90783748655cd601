/* cluster=failfast: one attempt on the balancer's pick; its outcome is the
 * call's, errors included (for calls that must not be repeated, such as
 * non-idempotent writes). */
#include "dubbo/cluster.h"
#include "cluster/strategy/strategy.h"
#include "core/internal.h"

static int failfast_invoke_async(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                                 dubbo_done_fn done, void *user)
{
    dubbo_invoker_t **cands = NULL;
    int n = dubbo_cluster_list(cl, inv, &cands);
    if (n < 0) return dubbo__complete_fail(done, user, n, "%s", dubbo_last_error());
    dubbo_invoker_t *chosen = dubbo_cluster_select(cl, inv, cands, (size_t)n, NULL, 0);
    if (!chosen) {
        int code = dubbo__last_code() ? dubbo__last_code() : DUBBO_ENOT_FOUND;
        dubbo__complete_fail(done, user, code, "%s", dubbo_last_error());
    } else {
        dubbo__attempt_async(cl, inv, chosen, NULL, done, user);
    }
    dubbo_invokers_release(cands, (size_t)n);
    return 0;
}

const dubbo_cluster_ops_t dubbo__cluster_failfast = {
    .name = "failfast",
    .invoke_async = failfast_invoke_async,
};
