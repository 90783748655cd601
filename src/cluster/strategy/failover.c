/* cluster=failover (the default): on a failure that another provider might
 * not have (timeout, connection, error status), retry on a provider not
 * tried yet in this call, up to `retries` (default 2, or
 * `<method>.retries`) more times. A provider's business exception is an
 * answer and returned at once. Each attempt keeps the call's timeout, and
 * the directory is listed again before each retry so that a provider that
 * went away is not called and a new one can be. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/cluster.h"
#include "cluster/strategy/strategy.h"
#include "core/internal.h"
#include "core/log.h"

#define DEFAULT_RETRIES 2

/* The final error, as Java's, plus the first error when it differs from
 * the last: the cause (a provider going away mid-call, say) is often the
 * first failure, while the retries only meet its consequences. */
static int fail_with_summary(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_result_t *r,
                             int rc, int attempts, dubbo_invoker_t *const *tried, size_t ntried,
                             size_t ncands, const char *first, const char *last, const char *then)
{
    char providers[1024];
    dubbo__addresses(providers, sizeof(providers), tried, ntried);
    char msg[2400];
    snprintf(msg, sizeof(msg),
             "Failed to invoke the method %s in the service %s. Tried %d time%s of the providers "
             "[%s] (%zu/%zu). Last error is: %s%s%s%s%s",
             inv->method, dubbo_cluster_url(cl)->path, attempts, attempts == 1 ? "" : "s",
             providers, ntried, ncands, last, then ? "; then: " : "", then ? then : "",
             strcmp(first, last) ? "; the first error was: " : "",
             strcmp(first, last) ? first : "");
    return dubbo__result_set_error(r, rc, msg);
}

static int failover_invoke(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    long retries =
        dubbo_url_method_param_int(dubbo_cluster_url(cl), inv->method, "retries", DEFAULT_RETRIES);
    int max = retries < 0 ? 1 : retries > 100 ? 101 : (int)retries + 1;

    /* Providers tried so far, each referenced: a re-list may drop one from
     * the directory, and pointer identity must stay meaningful. */
    dubbo_invoker_t **tried = calloc((size_t)max, sizeof(*tried));
    if (!tried) return dubbo_result_fail(r, DUBBO_ENOMEM, "failover: out of memory");
    size_t ntried = 0;
    dubbo_invoker_t **cands = NULL;
    size_t ncands = 0;
    int rc = 0;
    bool failed_before = false;
    char first[600] = "", last[600] = ""; /* "<message> (on <address>)" */

    for (int attempt = 0; attempt < max; attempt++) {
        dubbo_invokers_release(cands, ncands);
        cands = NULL;
        ncands = 0;
        int n = dubbo_cluster_list(cl, inv, &cands);
        if (n < 0) {
            /* a router failed: the last error, if any, is not what stopped us */
            dubbo_result_destroy(r);
            rc = dubbo_result_fail(r, n, "%s", dubbo_last_error());
            break;
        }
        ncands = (size_t)n;
        dubbo_invoker_t *chosen = dubbo_cluster_select(cl, inv, cands, ncands, tried, ntried);
        if (!chosen) {
            int code = dubbo__last_code() ? dubbo__last_code() : DUBBO_ENOT_FOUND;
            if (!failed_before) {
                rc = dubbo_result_fail(r, code, "%s", dubbo_last_error());
            } else {
                /* The directory emptied between retries: report the tries
                 * made, their errors, and then this. */
                char then[600];
                snprintf(then, sizeof(then), "%s", dubbo_last_error());
                rc = fail_with_summary(cl, inv, r, rc ? rc : code, attempt, tried, ntried, ncands,
                                       first, last, then);
            }
            break;
        }
        /* each provider once in the list, however often it is called */
        bool seen = false;
        for (size_t i = 0; i < ntried && !seen; i++)
            seen = tried[i] == chosen;
        if (!seen) tried[ntried++] = dubbo_invoker_ref(chosen);

        dubbo_result_t cur;
        int crc = dubbo_cluster_invoke_one(cl, chosen, inv, &cur);
        if (dubbo__outcome(crc, &cur) != DUBBO__OUT_RETRYABLE) {
            if (failed_before) {
                /* the failures: every provider tried, less this one unless
                 * it had failed on an earlier attempt too */
                char providers[1024];
                dubbo__addresses(providers, sizeof(providers), tried, seen ? ntried : ntried - 1);
                DLOG_WARN("failover: %s.%s succeeded on %s after failures on [%s]; last error: %s",
                          dubbo_cluster_url(cl)->path, inv->method, chosen->address, providers,
                          dubbo__result_message(rc, r));
            }
            dubbo_result_destroy(r);
            *r = cur;
            rc = crc;
            failed_before = false;
            break;
        }
        /* Keep the failed attempt as the last error (status, attachments). */
        dubbo_result_destroy(r);
        *r = cur;
        rc = crc;
        failed_before = true;
        snprintf(last, sizeof(last), "%s (on %s)", dubbo__result_message(rc, r), chosen->address);
        if (!first[0]) snprintf(first, sizeof(first), "%s", last);
        if (attempt + 1 == max) {
            rc = fail_with_summary(cl, inv, r, rc, max, tried, ntried, ncands, first, last, NULL);
        } else {
            DLOG_DEBUG("failover: %s.%s failed on %s (%s); retrying (%d of %d)",
                       dubbo_cluster_url(cl)->path, inv->method, chosen->address,
                       dubbo__result_message(rc, r), attempt + 1, max - 1);
        }
    }
    dubbo_invokers_release(cands, ncands);
    for (size_t i = 0; i < ntried; i++)
        dubbo_invoker_unref(tried[i]);
    free(tried);
    return rc;
}

const dubbo_cluster_ops_t dubbo__cluster_failover = {
    .name = "failover",
    .invoke = failover_invoke,
};
