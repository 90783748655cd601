/* cluster=broadcast: call every routed provider, one after another (to
 * refresh caches or local state everywhere). Any failure (business
 * exceptions included) fails the call with the last failure's outcome;
 * otherwise the last provider's answer is the result.
 * `broadcast.fail.percent` (0-100, default 100): stop calling the rest once
 * n * percent / 100 providers (integer division) have failed. As in Java's
 * BroadcastClusterInvoker, a threshold of 0 (percent 0, or below 100/n) is
 * never reached: every provider is called. */
#include <stdio.h>
#include <stdlib.h>

#include "dubbo/cluster.h"
#include "cluster/strategy/strategy.h"
#include "core/internal.h"
#include "core/log.h"

/* One broadcast call: provider after provider, each started from the
 * previous one's completion. */
typedef struct {
    dubbo_cluster_t *cl;
    const dubbo_invocation_t *inv; /* valid until done */
    dubbo_done_fn done;
    void *user;
    dubbo_invoker_t **cands;
    int n, i, called, failures;
    long limit; /* 0: never stop early */
    /* r holds the last failure once there is one, else the last answer. */
    int rc;
    dubbo_result_t r;
    char failed_on[300];
} broadcast_t;

static void step(broadcast_t *s);

static void one_done(int crc, dubbo_result_t *cur, void *arg)
{
    broadcast_t *s = arg;
    const dubbo_url_t *url = dubbo_cluster_url(s->cl);
    dubbo_invoker_t *callee = s->cands[s->i];
    s->called++;
    bool failed = dubbo__outcome(crc, cur) != DUBBO__OUT_OK;
    if (failed) {
        DLOG_WARN("broadcast: %s.%s failed on %s: %s", url->path, s->inv->method, callee->address,
                  dubbo__result_message(crc, cur));
        s->failures++;
        snprintf(s->failed_on, sizeof(s->failed_on), "%s", callee->address);
    }
    if (failed || s->failures == 0) {
        dubbo_result_destroy(&s->r);
        s->r = *cur;
        s->rc = crc;
    } else {
        dubbo_result_destroy(cur);
    }
    s->i++;
    step(s);
}

static void step(broadcast_t *s)
{
    if (s->i < s->n && (s->limit == 0 || s->failures < s->limit)) {
        /* may complete on this thread before it returns: s may be gone */
        dubbo_cluster_invoke_one_async(s->cl, s->cands[s->i], s->inv, one_done, s);
        return;
    }
    const dubbo_url_t *url = dubbo_cluster_url(s->cl);
    int rc = s->rc;
    if (s->failures) {
        char msg[1200];
        snprintf(msg, sizeof(msg),
                 "Failed to broadcast the method %s of the service %s: %d of %d providers failed "
                 "(%d called). Last error is: %s (on %s)",
                 s->inv->method, url->path, s->failures, s->n, s->called,
                 dubbo__result_message(rc, &s->r), s->failed_on);
        /* A business exception keeps rc 0 and its exception object. */
        rc = dubbo__result_set_error(&s->r, rc, msg);
    }
    dubbo_invokers_release(s->cands, (size_t)s->n);
    dubbo_done_fn done = s->done;
    void *user = s->user;
    dubbo_result_t r = s->r;
    free(s);
    done(rc, &r, user);
}

static int broadcast_invoke_async(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                                  dubbo_done_fn done, void *user)
{
    const dubbo_url_t *url = dubbo_cluster_url(cl);
    broadcast_t *s = calloc(1, sizeof(*s));
    if (!s) return dubbo__complete_fail(done, user, DUBBO_ENOMEM, "broadcast: out of memory");
    dubbo_result_init(&s->r);
    int n = dubbo__list_or_fail(cl, inv, &s->cands, &s->r);
    if (n < 0) {
        dubbo_result_t r = s->r;
        free(s);
        done(n, &r, user);
        return 0;
    }
    long percent = dubbo_url_param_int(url, "broadcast.fail.percent", 100);
    if (percent < 0 || percent > 100) {
        DLOG_INFO("broadcast: broadcast.fail.percent must be within 0-100, not %ld; using 100",
                  percent);
        percent = 100;
    }
    s->cl = cl;
    s->inv = inv;
    s->done = done;
    s->user = user;
    s->n = n;
    s->limit = (long)n * percent / 100;
    step(s);
    return 0;
}

const dubbo_cluster_ops_t dubbo__cluster_broadcast = {
    .name = "broadcast",
    .invoke_async = broadcast_invoke_async,
};
