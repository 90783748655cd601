/* cluster=failfast: one attempt on the balancer's pick; its outcome is the
 * call's, errors included (for calls that must not be repeated, such as
 * non-idempotent writes). */
#include "dubbo/cluster.h"
#include "cluster/strategy/strategy.h"
#include "core/internal.h"

static int failfast_invoke(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    dubbo_invoker_t **cands = NULL;
    int n = dubbo_cluster_list(cl, inv, &cands);
    if (n < 0) return dubbo_result_fail(r, n, "%s", dubbo_last_error());
    dubbo_invoker_t *chosen = dubbo_cluster_select(cl, inv, cands, (size_t)n, NULL, 0);
    int rc;
    if (!chosen) {
        int code = dubbo__last_code() ? dubbo__last_code() : DUBBO_ENOT_FOUND;
        rc = dubbo_result_fail(r, code, "%s", dubbo_last_error());
    } else {
        rc = dubbo_cluster_invoke_one(cl, chosen, inv, r);
    }
    dubbo_invokers_release(cands, (size_t)n);
    return rc;
}

const dubbo_cluster_ops_t dubbo__cluster_failfast = {
    .name = "failfast",
    .invoke = failfast_invoke,
};
