/* cluster=forking: call `forks` providers (default 2; all of them when
 * forks <= 0 or covers them all) in parallel, one thread each, and return
 * the first answer (a value, or a provider's business exception). If every
 * one fails, the last failure is the result; if none answers within the
 * call's timeout, DUBBO_ETIMEOUT. For latency-critical reads, at the price
 * of more load on the providers.
 *
 * The calls that lose keep running after the caller has its answer: each
 * works on a deep copy of the invocation, and their results are dropped
 * when they finish. The reference waits for them when it is freed (its
 * per-reference state); without that state the caller waits for them
 * before it returns (the answer is the same, only later). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/cluster.h"
#include "cluster/strategy/strategy.h"
#include "core/internal.h"
#include "core/log.h"

#define DEFAULT_FORKS 2

/* Per reference: the fork threads still running on it. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int running;
} fork_state_t;

/* One forking call, shared by the caller and its threads; freed by the
 * last of them. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* an outcome arrived (CLOCK_MONOTONIC) */
    int refs;
    int nforks, finished, failed;
    bool answered; /* `answer` holds the winner */
    bool closed;   /* the caller has left: later outcomes are dropped */
    int answer_rc, last_rc;
    dubbo_result_t answer, last; /* owned while set */
    bool has_last;
    char last_addr[300];
    dubbo__inv_copy_t *copy;
    dubbo_cluster_t *cl;
    fork_state_t *st;
} fork_call_t;

typedef struct {
    fork_call_t *call;
    dubbo_invoker_t *invoker; /* referenced */
} fork_arg_t;

static void call_free(fork_call_t *c)
{
    if (c->answered) dubbo_result_destroy(&c->answer);
    if (c->has_last) dubbo_result_destroy(&c->last);
    dubbo__inv_copy_free(c->copy);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

static void *fork_main(void *p)
{
    fork_arg_t *fa = p;
    fork_call_t *c = fa->call;
    fork_state_t *st = c->st;

    pthread_mutex_lock(&c->mu);
    bool skip = c->answered || c->closed; /* too late to be useful */
    pthread_mutex_unlock(&c->mu);
    dubbo_result_t res;
    int rc = 0;
    if (skip)
        dubbo_result_init(&res);
    else
        rc = dubbo_cluster_invoke_one(c->cl, fa->invoker, &c->copy->inv, &res);

    bool kept = false;
    pthread_mutex_lock(&c->mu);
    c->finished++;
    if (!skip && !c->closed) {
        if (dubbo__outcome(rc, &res) != DUBBO__OUT_RETRYABLE) {
            if (!c->answered) {
                c->answer = res;
                c->answer_rc = rc;
                c->answered = kept = true;
            }
        } else {
            c->failed++;
            if (c->has_last) dubbo_result_destroy(&c->last);
            c->last = res;
            c->last_rc = rc;
            c->has_last = kept = true;
            snprintf(c->last_addr, sizeof(c->last_addr), "%s", fa->invoker->address);
        }
    }
    pthread_cond_broadcast(&c->cv);
    bool free_it = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);

    if (!kept) dubbo_result_destroy(&res);
    dubbo_invoker_unref(fa->invoker);
    free(fa);
    if (free_it) call_free(c);
    if (st) {
        /* Last: after this the reference may be freed. */
        pthread_mutex_lock(&st->mu);
        if (--st->running == 0) pthread_cond_broadcast(&st->idle);
        pthread_mutex_unlock(&st->mu);
    }
    return NULL;
}

static fork_state_t *state_of(dubbo_cluster_t *cl)
{
    return dubbo_cluster_state(cl);
}

static void deadline_after(struct timespec *ts, int ms)
{
    dubbo__deadline(ts, CLOCK_MONOTONIC, ms > 0 ? (uint64_t)ms : 0);
}

/* Start one thread per selected invoker; returns how many started. A fork
 * that cannot start counts as failed. */
static int start_forks(fork_call_t *c, dubbo_invoker_t *const *sel, size_t nsel)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int started = 0;
    for (size_t i = 0; i < nsel; i++) {
        fork_arg_t *fa = malloc(sizeof(*fa));
        if (fa) {
            fa->call = c;
            fa->invoker = dubbo_invoker_ref(sel[i]);
        }
        pthread_mutex_lock(&c->mu);
        c->refs++;
        pthread_mutex_unlock(&c->mu);
        if (c->st) {
            pthread_mutex_lock(&c->st->mu);
            c->st->running++;
            pthread_mutex_unlock(&c->st->mu);
        }
        pthread_t th;
        int err = fa ? pthread_create(&th, &attr, fork_main, fa) : DUBBO_ENOMEM;
        if (err == 0) {
            started++;
            continue;
        }
        DLOG_ERROR("forking: cannot start a call of %s on %s (error %d)", c->copy->inv.method,
                   sel[i]->address, err);
        if (fa) {
            dubbo_invoker_unref(fa->invoker);
            free(fa);
        }
        pthread_mutex_lock(&c->mu);
        c->refs--;
        c->finished++;
        c->failed++;
        pthread_mutex_unlock(&c->mu);
        if (c->st) {
            pthread_mutex_lock(&c->st->mu);
            c->st->running--;
            pthread_mutex_unlock(&c->st->mu);
        }
    }
    pthread_attr_destroy(&attr);
    return started;
}

static int forking_invoke(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    const dubbo_url_t *url = dubbo_cluster_url(cl);
    dubbo_invoker_t **cands = NULL;
    int n = dubbo__list_or_fail(cl, inv, &cands, r);
    if (n < 0) return n;

    /* Which providers: the balancer's picks, each once. */
    long forks = dubbo_url_param_int(url, "forks", DEFAULT_FORKS);
    dubbo_invoker_t **sel = malloc((size_t)n * sizeof(*sel));
    if (!sel) {
        dubbo_invokers_release(cands, (size_t)n);
        return dubbo_result_fail(r, DUBBO_ENOMEM, "forking: out of memory");
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
        dubbo_invokers_release(cands, (size_t)n);
        return dubbo_result_fail(r, DUBBO_ENOT_FOUND,
                                 "No provider available for the service %s (method %s): the "
                                 "balancer selected none of %d providers",
                                 url->path, inv->method, n);
    }
    char providers[1024];
    dubbo__addresses(providers, sizeof(providers), sel, nsel);

    fork_call_t *c = calloc(1, sizeof(*c));
    if (c) c->copy = dubbo__inv_copy_new(inv);
    if (!c || !c->copy) {
        int code = c ? dubbo__last_code() : DUBBO_ENOMEM;
        char detail[400];
        snprintf(detail, sizeof(detail), "%s", c ? dubbo_last_error() : "out of memory");
        free(c);
        free(sel);
        dubbo_invokers_release(cands, (size_t)n);
        return dubbo_result_fail(r, code ? code : DUBBO_ENOMEM, "forking: %s", detail);
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->refs = 1; /* the caller */
    c->nforks = (int)nsel;
    c->cl = cl;
    c->st = state_of(cl);
    int timeout = inv->timeout_ms > 0 ? inv->timeout_ms : 1000;
    struct timespec deadline;
    deadline_after(&deadline, timeout);

    start_forks(c, sel, nsel);
    free(sel);
    dubbo_invokers_release(cands, (size_t)n);

    int rc;
    bool free_it;
    pthread_mutex_lock(&c->mu);
    bool timed_out = false;
    while (!c->answered && c->failed < c->nforks && !timed_out)
        timed_out = pthread_cond_timedwait(&c->cv, &c->mu, &deadline) != 0;
    if (c->answered) {
        *r = c->answer;
        rc = c->answer_rc;
        c->answered = false; /* moved out; later answers are dropped as closed */
        c->closed = true;
    } else if (c->failed >= c->nforks) {
        char msg[1800];
        if (c->has_last) {
            *r = c->last;
            rc = c->last_rc;
            c->has_last = false;
            snprintf(msg, sizeof(msg),
                     "Failed to forking invoke the method %s in the service %s on the providers "
                     "[%s]: all %d failed. Last error is: %s (on %s)",
                     inv->method, url->path, providers, c->nforks, dubbo__result_message(rc, r),
                     c->last_addr);
        } else {
            dubbo_result_init(r);
            rc = DUBBO_ENOMEM;
            snprintf(msg, sizeof(msg),
                     "Failed to forking invoke the method %s in the service %s on the providers "
                     "[%s]: no call could be started",
                     inv->method, url->path, providers);
        }
        rc = dubbo__result_set_error(r, rc, msg);
    } else {
        rc = dubbo_result_fail(r, DUBBO_ETIMEOUT,
                               "Failed to forking invoke the method %s in the service %s on the "
                               "providers [%s]: no answer within %d ms",
                               inv->method, url->path, providers, timeout);
    }
    c->closed = true;
    if (!c->st) {
        /* No per-reference state to wait for the losers when the reference
         * goes: wait for them here (each is bounded by the timeout). */
        while (c->finished < c->nforks)
            pthread_cond_wait(&c->cv, &c->mu);
    }
    free_it = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (free_it) call_free(c);
    return rc;
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
    .invoke = forking_invoke,
    .create = forking_create,
    .destroy = forking_destroy,
};
