/* cluster=forking: call `forks` providers (default 2; all of them when
 * forks <= 0 or covers them all) in parallel, and return
 * the first answer (a value, or a provider's business exception). If every
 * one fails, the last failure is the result; if none answers within the
 * call's timeout, DUBBO_ETIMEOUT. For latency-critical reads, at the price
 * of more load on the providers.
 *
 * Asynchronous: the forks are started side by side (a synchronous-only
 * invoker or filter runs on a helper thread each, never on the caller's),
 * the first outcome that settles the call completes it, and a timer on the
 * loop thread ends it at the timeout. The calls that lose keep running
 * after the caller has its answer; their results are dropped when they
 * finish, and the reference waits for them when it is freed (its
 * per-reference state). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/cluster.h"
#include "cluster/reference.h"
#include "cluster/strategy/strategy.h"
#include "core/internal.h"
#include "core/log.h"

#define DEFAULT_FORKS 2

/* Per reference: the forks still running on it. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int running;
} fork_state_t;

/* One forking call, shared by its forks, its timer and the starter; freed
 * by the last of them. */
typedef struct {
    pthread_mutex_t mu;
    int refs;
    int nforks, failed;
    bool closed; /* the caller has its outcome: later ones are dropped */
    int last_rc;
    dubbo_result_t last; /* owned while has_last */
    bool has_last;
    char last_addr[300];
    char providers[1024];
    char method[256];
    char service[512];
    int timeout;
    fork_state_t *st;
    dubbo__timer_t *timer; /* NULL: none (or it can no longer be cancelled) */
    dubbo_done_fn done;
    void *user;
    struct fork_arg *args; /* one per fork */
} fork_call_t;

typedef struct fork_arg {
    fork_call_t *call;
    dubbo_invoker_t *invoker; /* referenced until the fork completes */
} fork_arg_t;

static void call_unref(fork_call_t *c)
{
    pthread_mutex_lock(&c->mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (!last) return;
    if (c->has_last) dubbo_result_destroy(&c->last);
    pthread_mutex_destroy(&c->mu);
    free(c->args);
    free(c);
}

/* The call is settled (c->closed set by the caller, under the lock):
 * stop the timer. */
static void stop_timer(fork_call_t *c, dubbo__timer_t *t)
{
    if (t && dubbo__timer_cancel(t)) call_unref(c); /* the timer's reference */
}

static void fork_done(int rc, dubbo_result_t *res, void *arg)
{
    fork_arg_t *fa = arg;
    fork_call_t *c = fa->call;
    fork_state_t *st = c->st;
    bool finish = false;
    int out_rc = 0;
    dubbo_result_t out;
    dubbo__timer_t *t = NULL;
    pthread_mutex_lock(&c->mu);
    if (!c->closed) {
        if (dubbo__outcome(rc, res) != DUBBO__OUT_RETRYABLE) {
            out = *res; /* the winner */
            out_rc = rc;
            finish = true;
            res = NULL;
        } else {
            c->failed++;
            if (c->has_last) dubbo_result_destroy(&c->last);
            c->last = *res;
            c->last_rc = rc;
            c->has_last = true;
            res = NULL;
            snprintf(c->last_addr, sizeof(c->last_addr), "%s", fa->invoker->address);
            if (c->failed >= c->nforks) {
                out = c->last;
                out_rc = c->last_rc;
                c->has_last = false;
                char msg[4096];
                snprintf(msg, sizeof(msg),
                         "Failed to forking invoke the method %s in the service %s on the "
                         "providers [%s]: all %d failed. Last error is: %s (on %s)",
                         c->method, c->service, c->providers, c->nforks,
                         dubbo__result_message(out_rc, &out), c->last_addr);
                out_rc = dubbo__result_set_error(&out, out_rc, msg);
                finish = true;
            }
        }
        if (finish) {
            c->closed = true;
            t = c->timer;
            c->timer = NULL;
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (res) dubbo_result_destroy(res); /* a loser's */
    dubbo_invoker_unref(fa->invoker);
    if (finish) {
        stop_timer(c, t);
        c->done(out_rc, &out, c->user);
    }
    call_unref(c);
    /* Last: after this the reference may be freed. */
    pthread_mutex_lock(&st->mu);
    if (--st->running == 0) pthread_cond_broadcast(&st->idle);
    pthread_mutex_unlock(&st->mu);
}

static void timed_out(void *arg)
{
    fork_call_t *c = arg;
    pthread_mutex_lock(&c->mu);
    bool finish = !c->closed;
    c->closed = true;
    c->timer = NULL;
    pthread_mutex_unlock(&c->mu);
    if (finish)
        dubbo__complete_fail(c->done, c->user, DUBBO_ETIMEOUT,
                             "Failed to forking invoke the method %s in the service %s on the "
                             "providers [%s]: no answer within %d ms",
                             c->method, c->service, c->providers, c->timeout);
    call_unref(c);
}

static fork_state_t *state_of(dubbo_cluster_t *cl)
{
    return dubbo_cluster_state(cl);
}

static int forking_invoke_async(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                                dubbo_done_fn done, void *user)
{
    const dubbo_url_t *url = dubbo_cluster_url(cl);
    dubbo_invoker_t **cands = NULL;
    dubbo_result_t r;
    dubbo_result_init(&r);
    int n = dubbo__list_or_fail(cl, inv, &cands, &r);
    if (n < 0) {
        done(n, &r, user);
        return 0;
    }

    /* Which providers: the balancer's picks, each once. */
    long forks = dubbo_url_param_int(url, "forks", DEFAULT_FORKS);
    dubbo_invoker_t **sel = malloc((size_t)n * sizeof(*sel));
    fork_call_t *c = calloc(1, sizeof(*c));
    if (c) c->args = calloc((size_t)n, sizeof(*c->args));
    if (!sel || !c || !c->args) {
        free(sel);
        if (c) free(c->args);
        free(c);
        dubbo_invokers_release(cands, (size_t)n);
        return dubbo__complete_fail(done, user, DUBBO_ENOMEM, "forking: out of memory");
    }
    size_t nsel = 0;
    if (forks <= 0 || forks >= n) {
        memcpy(sel, cands, (size_t)n * sizeof(*sel));
        nsel = (size_t)n;
    } else {
        while (nsel < (size_t)forks) {
            dubbo_invoker_t *pick = dubbo_cluster_select(cl, inv, cands, (size_t)n, sel, nsel);
            bool dup = !pick;
            for (size_t i = 0; i < nsel && !dup; i++)
                dup = sel[i] == pick;
            if (dup) break;
            sel[nsel++] = pick;
        }
    }
    if (nsel == 0) { /* the balancer gave nothing */
        free(sel);
        free(c->args);
        free(c);
        dubbo_invokers_release(cands, (size_t)n);
        return dubbo__complete_fail(done, user, DUBBO_ENOT_FOUND,
                                    "No provider available for the service %s (method %s): the "
                                    "balancer selected none of %d providers",
                                    url->path, inv->method, n);
    }
    dubbo__addresses(c->providers, sizeof(c->providers), sel, nsel);
    snprintf(c->method, sizeof(c->method), "%s", inv->method);
    snprintf(c->service, sizeof(c->service), "%s", url->path);
    pthread_mutex_init(&c->mu, NULL);
    c->nforks = (int)nsel;
    c->st = state_of(cl);
    c->done = done;
    c->user = user;
    c->timeout = inv->timeout_ms > 0 ? inv->timeout_ms : 1000;
    c->refs = 2 + (int)nsel; /* the starter, the timer, each fork */
    dubbo__timer_t *t = dubbo__timer_start(c->timeout, timed_out, c);
    if (!t) {
        DLOG_WARN("forking: %s.%s runs without its overall timeout: %s", url->path, inv->method,
                  dubbo_last_error());
        c->refs--;
    }
    pthread_mutex_lock(&c->mu);
    if (!c->closed) c->timer = t; /* (it cannot have fired: no fork started yet) */
    pthread_mutex_unlock(&c->mu);

    pthread_mutex_lock(&c->st->mu);
    c->st->running += (int)nsel;
    pthread_mutex_unlock(&c->st->mu);
    for (size_t i = 0; i < nsel; i++) {
        fork_arg_t *fa = &c->args[i];
        fa->call = c;
        fa->invoker = dubbo_invoker_ref(sel[i]);
        dubbo__cluster_invoke_one_fork(cl, sel[i], inv, fork_done, fa);
    }
    free(sel);
    dubbo_invokers_release(cands, (size_t)n);
    call_unref(c);
    return 0;
}

static int forking_create(dubbo_cluster_t *cl, void **state)
{
    fork_state_t *st = calloc(1, sizeof(*st));
    if (!st) return dubbo__seterr(DUBBO_ENOMEM, "forking: out of memory");
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->idle, NULL);
    *state = st;
    return 0;
}

static void forking_destroy(dubbo_cluster_t *cl, void *state)
{
    fork_state_t *st = state;
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    while (st->running > 0)
        pthread_cond_wait(&st->idle, &st->mu);
    pthread_mutex_unlock(&st->mu);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->idle);
    free(st);
}

const dubbo_cluster_ops_t dubbo__cluster_forking = {
    .name = "forking",
    .invoke_async = forking_invoke_async,
    .create = forking_create,
    .destroy = forking_destroy,
};
