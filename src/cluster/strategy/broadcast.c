/* cluster=broadcast: call every routed provider, one after another (to
 * refresh caches or local state everywhere). Any failure (business
 * exceptions included) fails the call with the last failure's outcome;
 * otherwise the last provider's answer is the result.
 * `broadcast.fail.percent` (0-100, default 100): stop calling the rest once
 * n * percent / 100 providers (integer division) have failed. As in Java's
 * BroadcastClusterInvoker, a threshold of 0 (percent 0, or below 100/n) is
 * never reached: every provider is called. */
#include <stdio.h>

#include "dubbo/cluster.h"
#include "cluster/strategy/strategy.h"
#include "core/internal.h"
#include "core/log.h"

static int broadcast_invoke(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    const dubbo_url_t *url = dubbo_cluster_url(cl);
    dubbo_invoker_t **cands = NULL;
    int n = dubbo__list_or_fail(cl, inv, &cands, r);
    if (n < 0) return n;
    long percent = dubbo_url_param_int(url, "broadcast.fail.percent", 100);
    if (percent < 0 || percent > 100) {
        DLOG_INFO("broadcast: broadcast.fail.percent must be within 0-100, not %ld; using 100",
                  percent);
        percent = 100;
    }
    long limit = (long)n * percent / 100; /* 0: never stop early */

    /* r holds the last failure once there is one, else the last answer. */
    int rc = 0, failures = 0, called = 0;
    const char *failed_on = NULL;
    for (int i = 0; i < n && (limit == 0 || failures < limit); i++) {
        dubbo_result_t cur;
        int crc = dubbo_cluster_invoke_one(cl, cands[i], inv, &cur);
        called++;
        bool failed = dubbo__outcome(crc, &cur) != DUBBO__OUT_OK;
        if (failed) {
            DLOG_WARN("broadcast: %s.%s failed on %s: %s", url->path, inv->method,
                      cands[i]->address, dubbo__result_message(crc, &cur));
            failures++;
            failed_on = cands[i]->address;
        }
        if (failed || failures == 0) {
            dubbo_result_destroy(r);
            *r = cur;
            rc = crc;
        } else {
            dubbo_result_destroy(&cur);
        }
    }
    if (failures) {
        char msg[1200];
        snprintf(msg, sizeof(msg),
                 "Failed to broadcast the method %s of the service %s: %d of %d providers failed "
                 "(%d called). Last error is: %s (on %s)",
                 inv->method, url->path, failures, n, called, dubbo__result_message(rc, r),
                 failed_on);
        /* A business exception keeps rc 0 and its exception object. */
        rc = dubbo__result_set_error(r, rc, msg);
    }
    dubbo_invokers_release(cands, (size_t)n);
    return rc;
}

const dubbo_cluster_ops_t dubbo__cluster_broadcast = {
    .name = "broadcast",
    .invoke = broadcast_invoke,
};
