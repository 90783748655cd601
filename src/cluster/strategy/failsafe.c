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

static int ignore(const char *service, const char *method, const char *why, dubbo_done_fn done,
                  void *user)
{
    DLOG_WARN("failsafe: ignoring the failure of %s.%s: %s", service, method, why);
    dubbo_result_t r;
    dubbo_result_init(&r);
    done(dubbo__result_empty(&r), &r, user);
    return 0;
}

static int after(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_invoker_t *chosen,
                 int rc, dubbo_result_t *r)
{
    if (dubbo__outcome(rc, r) != DUBBO__OUT_RETRYABLE) return rc;
    DLOG_WARN("failsafe: ignoring the failure of %s.%s on %s: %s", dubbo_cluster_url(cl)->path,
              inv->method, chosen->address, dubbo__result_message(rc, r));
    return dubbo__result_empty(r);
}

static int failsafe_invoke_async(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                                 dubbo_done_fn done, void *user)
{
    const char *service = dubbo_cluster_url(cl)->path;
    dubbo_invoker_t **cands = NULL;
    int n = dubbo_cluster_list(cl, inv, &cands);
    if (n < 0) return ignore(service, inv->method, dubbo_last_error(), done, user);
    dubbo_invoker_t *chosen = dubbo_cluster_select(cl, inv, cands, (size_t)n, NULL, 0);
    if (!chosen)
        ignore(service, inv->method, dubbo_last_error(), done, user);
    else
        dubbo__attempt_async(cl, inv, chosen, after, done, user);
    dubbo_invokers_release(cands, (size_t)n);
    return 0;
}

const dubbo_cluster_ops_t dubbo__cluster_failsafe = {
    .name = "failsafe",
    .invoke_async = failsafe_invoke_async,
};
