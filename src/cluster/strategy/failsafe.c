/* cluster=failsafe: one attempt; a failure (no provider, timeout,
 * connection, error status) is logged and the caller gets an empty success
 * (status OK, null value), as Java's FailsafeClusterInvoker does for calls
 * whose outcome does not matter (audit logs). A provider's business
 * exception is an answer, not a failure, and is returned as it is, as in
 * Java. */
#include "dubbo/cluster.h"
#include "cluster/strategy/strategy.h"
#include "core/internal.h"
#include "core/log.h"

static int failsafe_invoke(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    const char *service = dubbo_cluster_url(cl)->path;
    dubbo_invoker_t **cands = NULL;
    int n = dubbo_cluster_list(cl, inv, &cands);
    if (n < 0) {
        DLOG_WARN("failsafe: ignoring the failure of %s.%s: %s", service, inv->method,
                  dubbo_last_error());
        return dubbo__result_empty(r);
    }
    dubbo_invoker_t *chosen = dubbo_cluster_select(cl, inv, cands, (size_t)n, NULL, 0);
    int rc = 0;
    if (!chosen) {
        DLOG_WARN("failsafe: ignoring the failure of %s.%s: %s", service, inv->method,
                  dubbo_last_error());
        dubbo__result_empty(r);
    } else {
        rc = dubbo_cluster_invoke_one(cl, chosen, inv, r);
        if (dubbo__outcome(rc, r) == DUBBO__OUT_RETRYABLE) {
            DLOG_WARN("failsafe: ignoring the failure of %s.%s on %s: %s", service, inv->method,
                      chosen->address, dubbo__result_message(rc, r));
            rc = dubbo__result_empty(r);
        }
    }
    dubbo_invokers_release(cands, (size_t)n);
    return rc;
}

const dubbo_cluster_ops_t dubbo__cluster_failsafe = {
    .name = "failsafe",
    .invoke = failsafe_invoke,
};
