/* cluster=failover (the default): on a failure that another provider might
 * not have (timeout, connection, error status), retry on a provider not
 * tried yet in this call, up to `retries` (default 2, or
 * `<method>.retries`) more times. A provider's business exception is an
 * answer and returned at once. Each attempt keeps the call's timeout, and
 * the directory is listed again before each retry so that a provider that
 * went away is not called and a new one can be. Asynchronous: a retry
 * starts from the failed attempt's completion, which never blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/cluster.h"
#include "cluster/reference.h"
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
    char msg[4096]; /* every part bounded: a long error is cut, not the rest */
    snprintf(msg, sizeof(msg),
             "Failed to invoke the method %.200s in the service %.300s. Tried %d time%s of the "
             "providers [%.1000s] (%zu/%zu). Last error is: %.600s%s%.600s%s%.600s",
             inv->method, dubbo_cluster_url(cl)->path, attempts, attempts == 1 ? "" : "s",
             providers, ntried, ncands, last, then ? "; then: " : "", then ? then : "",
             strcmp(first, last) ? "; the first error was: " : "",
             strcmp(first, last) ? first : "");
    return dubbo__result_set_error(r, rc, msg);
}

/* One failover call, from attempt to attempt: each attempt starts from
 * the previous one's completion (on the loop thread for Dubbo invokers),
 * never waiting. */
typedef struct {
    dubbo_cluster_t *cl;
    const dubbo_invocation_t *inv; /* valid until done (the strategy's contract) */
    dubbo_done_fn done;
    void *user;
    int max, attempt;
    /* Providers tried so far, each referenced: a re-list may drop one from
     * the directory, and pointer identity must stay meaningful. */
    dubbo_invoker_t **tried;
    size_t ntried, ncands;
    dubbo_invoker_t *chosen; /* this attempt's, referenced */
    bool seen;               /* it had been tried before */
    int rc;
    dubbo_result_t r; /* the last failure */
    bool failed_before;
    char first[600], last[600]; /* "<message> (on <address>)" */
} failover_t;

static void finish(failover_t *s)
{
    dubbo_done_fn done = s->done;
    void *user = s->user;
    int rc = s->rc;
    dubbo_result_t r = s->r;
    for (size_t i = 0; i < s->ntried; i++)
        dubbo_invoker_unref(s->tried[i]);
    free(s->tried);
    free(s);
    done(rc, &r, user);
}

static void attempt(failover_t *s);

static void attempt_done(int crc, dubbo_result_t *cur, void *arg)
{
    failover_t *s = arg;
    dubbo_cluster_t *cl = s->cl;
    const dubbo_invocation_t *inv = s->inv;
    dubbo_invoker_t *chosen = s->chosen;
    s->chosen = NULL;
    if (dubbo__outcome(crc, cur) != DUBBO__OUT_RETRYABLE) {
        if (s->failed_before) {
            /* the failures: every provider tried, less this one unless it
             * had failed on an earlier attempt too */
            char providers[1024];
            dubbo__addresses(providers, sizeof(providers), s->tried,
                             s->seen ? s->ntried : s->ntried - 1);
            DLOG_WARN("failover: %s.%s succeeded on %s after failures on [%s]; last error: %s",
                      dubbo_cluster_url(cl)->path, inv->method, chosen->address, providers,
                      dubbo__result_message(s->rc, &s->r));
        }
        dubbo_result_destroy(&s->r);
        s->r = *cur;
        s->rc = crc;
        dubbo_invoker_unref(chosen);
        finish(s);
        return;
    }
    /* Keep the failed attempt as the last error (status, attachments). */
    dubbo_result_destroy(&s->r);
    s->r = *cur;
    s->rc = crc;
    s->failed_before = true;
    snprintf(s->last, sizeof(s->last), "%s (on %s)", dubbo__result_message(s->rc, &s->r),
             chosen->address);
    if (!s->first[0]) snprintf(s->first, sizeof(s->first), "%s", s->last);
    if (s->attempt + 1 == s->max) {
        s->rc = fail_with_summary(cl, inv, &s->r, s->rc, s->max, s->tried, s->ntried, s->ncands,
                                  s->first, s->last, NULL);
        dubbo_invoker_unref(chosen);
        finish(s);
        return;
    }
    DLOG_DEBUG("failover: %s.%s failed on %s (%s); retrying (%d of %d)",
               dubbo_cluster_url(cl)->path, inv->method, chosen->address,
               dubbo__result_message(s->rc, &s->r), s->attempt + 1, s->max - 1);
    dubbo_invoker_unref(chosen);
    s->attempt++;
    attempt(s);
}

/* The directory is listed again before each attempt, so that a provider
 * that went away is not called and a new one can be. */
static void attempt(failover_t *s)
{
    dubbo_cluster_t *cl = s->cl;
    const dubbo_invocation_t *inv = s->inv;
    dubbo_invoker_t **cands = NULL;
    int n = dubbo_cluster_list(cl, inv, &cands);
    if (n < 0) {
        /* a router failed: the last error, if any, is not what stopped us */
        dubbo_result_destroy(&s->r);
        s->rc = dubbo_result_fail(&s->r, n, "%s", dubbo_last_error());
        finish(s);
        return;
    }
    s->ncands = (size_t)n;
    dubbo_invoker_t *chosen = dubbo_cluster_select(cl, inv, cands, s->ncands, s->tried, s->ntried);
    if (!chosen) {
        int code = dubbo__last_code() ? dubbo__last_code() : DUBBO_ENOT_FOUND;
        if (!s->failed_before) {
            s->rc = dubbo_result_fail(&s->r, code, "%s", dubbo_last_error());
        } else {
            /* The directory emptied between retries: report the tries
             * made, their errors, and then this. */
            char then[600];
            snprintf(then, sizeof(then), "%s", dubbo_last_error());
            s->rc = fail_with_summary(cl, inv, &s->r, s->rc ? s->rc : code, s->attempt, s->tried,
                                      s->ntried, s->ncands, s->first, s->last, then);
        }
        dubbo_invokers_release(cands, s->ncands);
        finish(s);
        return;
    }
    /* each provider once in the list, however often it is called */
    s->seen = false;
    for (size_t i = 0; i < s->ntried && !s->seen; i++)
        s->seen = s->tried[i] == chosen;
    if (!s->seen) s->tried[s->ntried++] = dubbo_invoker_ref(chosen);
    s->chosen = dubbo_invoker_ref(chosen);
    dubbo_invokers_release(cands, s->ncands);
    /* may complete on this thread before it returns: s is then gone */
    dubbo_cluster_invoke_one_async(cl, s->chosen, inv, attempt_done, s);
}

static int failover_invoke_async(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                                 dubbo_done_fn done, void *user)
{
    long retries = dubbo__cluster_param_int(cl, inv->method, "retries", DEFAULT_RETRIES);
    int max = retries < 0 ? 1 : retries > 100 ? 101 : (int)retries + 1;
    failover_t *s = calloc(1, sizeof(*s));
    if (s) s->tried = calloc((size_t)max, sizeof(*s->tried));
    if (!s || !s->tried) {
        free(s);
        return dubbo__complete_fail(done, user, DUBBO_ENOMEM, "failover: out of memory");
    }
    s->cl = cl;
    s->inv = inv;
    s->done = done;
    s->user = user;
    s->max = max;
    dubbo_result_init(&s->r);
    attempt(s);
    return 0;
}

const dubbo_cluster_ops_t dubbo__cluster_failover = {
    .name = "failover",
    .invoke_async = failover_invoke_async,
};
