/* The invocation layer of a reference: one consumer call from the strategy
 * down through the consumer filters to the invoker, asynchronous at every
 * step, and the synchronous calls (dubbo_reference_call,
 * dubbo_cluster_invoke_one, a sync filter's dubbo_filter_next over an
 * async-only invoker) as one wrapper over it that waits on a condition.
 * Hooks that are synchronous only (third parties' invokers, filters and
 * strategies) run, from that hook down, on a thread that may block: the
 * caller of a synchronous call, or a small pool of helper threads. The
 * rules are in include/dubbo/cluster.h and docs/async.md. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/cluster.h"
#include "cluster/reference.h"
#include "cluster/strategy/strategy.h"
#include "core/internal.h"
#include "core/log.h"
#include "runtime/client.h"
#include "transport/loop.h"

/* True on a thread that may run a synchronous hook to its end: the caller
 * of a synchronous call while it starts the call (it waits for it anyway,
 * and so synchronous invokers see the thread they always saw), and the
 * helper threads. Never the loop thread. */
static _Thread_local bool may_block;

/* ---- helper threads ------------------------------------------------------------------ */

#define POOL_MAX 64 /* threads at most; they start on demand and stay */

typedef struct job {
    struct job *next;
    void (*fn)(void *arg);
    void *arg;
} job_t;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static job_t *pool_head, *pool_tail;
static int pool_threads, pool_idle, pool_queued;

static void *pool_main(void *arg)
{
    may_block = true;
    pthread_mutex_lock(&pool_mu);
    for (;;) {
        while (!pool_head) {
            pool_idle++;
            pthread_cond_wait(&pool_cv, &pool_mu);
            pool_idle--;
        }
        job_t *j = pool_head;
        pool_head = j->next;
        if (!pool_head) pool_tail = NULL;
        pool_queued--;
        pthread_mutex_unlock(&pool_mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&pool_mu);
    }
    return NULL;
}

/* Run fn(arg) on a helper thread. 0, or an error (message set) when no
 * thread can run it. */
static int pool_submit(void (*fn)(void *), void *arg)
{
    job_t *j = malloc(sizeof(*j));
    if (!j) return dubbo__seterr(DUBBO_ENOMEM, "cluster: out of memory");
    j->next = NULL;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&pool_mu);
    if (pool_tail)
        pool_tail->next = j;
    else
        pool_head = j;
    pool_tail = j;
    pool_queued++;
    if (pool_queued > pool_idle && pool_threads < POOL_MAX) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t th;
        int err = pthread_create(&th, &attr, pool_main, NULL);
        pthread_attr_destroy(&attr);
        if (err == 0) {
            pool_threads++;
        } else if (pool_threads == 0) {
            /* nobody would ever run it: take it back */
            job_t **p = &pool_head;
            while (*p != j)
                p = &(*p)->next;
            *p = NULL;
            pool_tail = NULL;
            for (job_t *x = pool_head; x; x = x->next)
                pool_tail = x;
            pool_queued--;
            pthread_mutex_unlock(&pool_mu);
            free(j);
            return dubbo__seterr(-err,
                                 "cluster: cannot start a helper thread for a "
                                 "synchronous invoker, filter or strategy (error %d)",
                                 err);
        }
    }
    pthread_cond_signal(&pool_cv);
    pthread_mutex_unlock(&pool_mu);
    return 0;
}

/* ---- timers on the loop thread ------------------------------------------------------- */

enum { T_ARMED, T_FIRED, T_CANCELLED };

struct dubbo__timer {
    uv_timer_t h;
    void (*fn)(void *arg);
    void *arg;
    int ms;
    atomic_int state;
    bool started; /* loop thread only */
};

static void timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void timer_fire(uv_timer_t *h)
{
    dubbo__timer_t *t = h->data;
    int armed = T_ARMED;
    /* A cancel that won leaves the closing to its stop task. */
    if (!atomic_compare_exchange_strong(&t->state, &armed, T_FIRED)) return;
    t->fn(t->arg);
    uv_close((uv_handle_t *)&t->h, timer_closed);
}

static void timer_arm(void *arg)
{
    dubbo__timer_t *t = arg;
    if (atomic_load(&t->state) != T_ARMED) return; /* the stop task (queued after) frees it */
    uv_timer_init(dubbo__loop(), &t->h);
    t->h.data = t;
    t->started = true;
    uv_timer_start(&t->h, timer_fire, (uint64_t)t->ms, 0);
}

static void timer_stop(void *arg)
{
    dubbo__timer_t *t = arg;
    if (!t->started) {
        free(t);
        return;
    }
    uv_timer_stop(&t->h);
    uv_close((uv_handle_t *)&t->h, timer_closed);
}

dubbo__timer_t *dubbo__timer_start(int ms, void (*fn)(void *arg), void *arg)
{
    dubbo__timer_t *t = calloc(1, sizeof(*t));
    if (!t) {
        dubbo__seterr(DUBBO_ENOMEM, "cluster: out of memory");
        return NULL;
    }
    t->fn = fn;
    t->arg = arg;
    t->ms = ms > 0 ? ms : 0;
    atomic_init(&t->state, T_ARMED);
    if (!dubbo__loop() || dubbo__loop_post(timer_arm, t)) {
        free(t);
        dubbo__seterr(DUBBO_ENOMEM, "cluster: cannot start a timer on the event loop");
        return NULL;
    }
    return t;
}

bool dubbo__timer_cancel(dubbo__timer_t *t)
{
    int armed = T_ARMED;
    if (!atomic_compare_exchange_strong(&t->state, &armed, T_CANCELLED)) return false;
    /* After timer_arm (the loop runs tasks in order): stop, close, free. */
    if (dubbo__loop_post(timer_stop, t))
        DLOG_ERROR("cluster: cannot stop a timer (out of memory); it stays until it fires");
    return true;
}

/* ---- waiting for an asynchronous call (the one sync wrapper) ------------------------- */

/* Start an asynchronous call with start(arg, done, user) and wait for it;
 * synchronous hooks under it run on this thread. r is initialised on every
 * path. `what` names the call for the refusal on the loop thread. */
static int wait_for(dubbo__start_fn start, void *arg, dubbo_result_t *r, const char *what)
{
    dubbo_result_init(r);
    if (dubbo__on_loop_thread())
        return dubbo_result_fail(r, DUBBO_EINVAL,
                                 "%s: a synchronous call from the event-loop thread (e.g. a "
                                 "completion callback) would deadlock; use the _async call",
                                 what);
    /* synchronous hooks the start reaches run here, on the caller's thread
     * (nothing else runs on it while it waits) */
    bool prev = may_block;
    may_block = true;
    int rc = dubbo__wait_async(start, arg, r);
    may_block = prev;
    return rc;
}

/* A call refused before it started ends as a failed one: `done` gets a
 * result whose error is the refusal's message (dubbo_last_error()). */
static void complete_with_last_error(int rc, dubbo_done_fn done, void *user)
{
    char detail[600];
    snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
    dubbo_result_t r;
    dubbo_result_init(&r);
    dubbo_result_fail(&r, rc, "%s", detail);
    done(rc, &r, user);
}

/* ---- the consumer filter chain ------------------------------------------------------- */

struct dubbo_filter_chain {
    dubbo_cluster_t *cl;
    size_t pos;
    bool fork; /* a synchronous part never runs on the starting thread */
};

typedef struct {
    dubbo_filter_t *f; /* NULL: the invoker */
    dubbo_filter_chain_t *chain;
    dubbo_invoker_t *invoker;
    const dubbo_invocation_t *inv;
} hook_call_t;

static int start_hook(void *arg, dubbo_done_fn done, void *user)
{
    hook_call_t *h = arg;
    if (h->f) return h->f->ops->invoke_async(h->f, h->chain, h->invoker, h->inv, done, user);
    return h->invoker->ops->invoke_async(h->invoker, h->inv, done, user);
}

int dubbo_filter_next(dubbo_filter_chain_t *chain, dubbo_invoker_t *invoker,
                      const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    hook_call_t h = {NULL, chain, invoker, inv};
    if (chain->pos < chain->cl->nfilters) {
        dubbo_filter_t *f = chain->cl->filters[chain->pos++];
        if (f->ops->invoke) return f->ops->invoke(f, chain, invoker, inv, r);
        h.f = f; /* asynchronous only: wait for it */
        return wait_for(start_hook, &h, r, f->ops->name);
    }
    if (invoker->ops->invoke) return invoker->ops->invoke(invoker, inv, r);
    return wait_for(start_hook, &h, r, invoker->address);
}

/* The synchronous rest of a chain from filter `pos` (or the invoker), for
 * a thread that may block or a helper thread. */
typedef struct {
    dubbo_cluster_t *cl;
    size_t pos;
    dubbo_invoker_t *invoker; /* referenced */
    dubbo__inv_copy_t *copy;
    dubbo_done_fn done;
    void *user;
} tail_job_t;

static void run_tail(dubbo_cluster_t *cl, size_t pos, dubbo_invoker_t *invoker,
                     const dubbo_invocation_t *inv, dubbo_done_fn done, void *user)
{
    dubbo_filter_chain_t chain = {cl, pos, false};
    dubbo_result_t r;
    dubbo_result_init(&r);
    int rc = dubbo_filter_next(&chain, invoker, inv, &r);
    done(rc, &r, user); /* last: cl may go once the call is complete */
}

static void tail_job_main(void *arg)
{
    tail_job_t *j = arg;
    dubbo_invoker_t *invoker = j->invoker;
    dubbo__inv_copy_t *copy = j->copy;
    run_tail(j->cl, j->pos, invoker, &copy->inv, j->done, j->user);
    free(j);
    dubbo__inv_copy_free(copy);
    dubbo_invoker_unref(invoker);
}

static int start_tail(dubbo_filter_chain_t *chain, dubbo_invoker_t *invoker,
                      const dubbo_invocation_t *inv, dubbo_done_fn done, void *user)
{
    if (may_block && !chain->fork) {
        run_tail(chain->cl, chain->pos, invoker, inv, done, user);
        return 0;
    }
    /* Later, elsewhere: the invocation is the caller's only until we return. */
    tail_job_t *j = calloc(1, sizeof(*j));
    if (!j) return dubbo__seterr(DUBBO_ENOMEM, "cluster: out of memory");
    if (!(j->copy = dubbo__inv_copy_new(inv))) {
        free(j);
        return dubbo__last_code();
    }
    j->cl = chain->cl;
    j->pos = chain->pos;
    j->invoker = dubbo_invoker_ref(invoker);
    j->done = done;
    j->user = user;
    int rc = pool_submit(tail_job_main, j);
    if (rc) {
        dubbo_invoker_unref(j->invoker);
        dubbo__inv_copy_free(j->copy);
        free(j);
    }
    return rc;
}

int dubbo__filter_blocking(dubbo_filter_chain_t *chain, dubbo_invoker_t *invoker,
                           const dubbo_invocation_t *inv, dubbo_done_fn done, void *user)
{
    chain->pos--; /* back to the filter whose invoke_async this is */
    return start_tail(chain, invoker, inv, done, user);
}

int dubbo_filter_next_async(dubbo_filter_chain_t *chain, dubbo_invoker_t *invoker,
                            const dubbo_invocation_t *inv, dubbo_done_fn done, void *user)
{
    dubbo_cluster_t *cl = chain->cl;
    if (chain->pos < cl->nfilters) {
        dubbo_filter_t *f = cl->filters[chain->pos];
        if (!f->ops->invoke_async) return start_tail(chain, invoker, inv, done, user);
        chain->pos++;
        return f->ops->invoke_async(f, chain, invoker, inv, done, user);
    }
    if (invoker->ops->invoke_async) return invoker->ops->invoke_async(invoker, inv, done, user);
    return start_tail(chain, invoker, inv, done, user);
}

/* ---- one call on one invoker --------------------------------------------------------- */

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

/* A call's timeout, the one lookup of it: the call's own, else the
 * reference's (`ref`: "<method>.timeout", then "timeout"), else the picked
 * provider's (`invoker`: the same keys of its URL), else 1000; 0 when
 * neither `ref` nor `invoker` is given and the call has none. */
static int call_timeout(const dubbo_url_t *ref, const dubbo_invoker_t *invoker,
                        const dubbo_invocation_t *inv)
{
    if (inv->timeout_ms > 0) return inv->timeout_ms;
    long t = ref ? dubbo_url_method_param_int(ref, inv->method, "timeout", 0) : 0;
    if (t <= 0 && invoker && invoker->url)
        t = dubbo_url_method_param_int(invoker->url, inv->method, "timeout", 0);
    return t > 0 ? (int)t : invoker ? 1000 : 0;
}

typedef struct {
    dubbo_filter_chain_t chain;
    dubbo_invoker_t *invoker; /* referenced */
    uint64_t t0;
    dubbo_done_fn done;
    void *user;
} one_t;

/* The invoker's statistics, then the strategy's completion. */
static void one_done(int rc, dubbo_result_t *r, void *arg)
{
    one_t *o = arg;
    dubbo_invoker_t *invoker = o->invoker;
    uint64_t us = mono_us() - o->t0;
    atomic_fetch_sub(&invoker->active, 1);
    atomic_fetch_add(&invoker->calls, 1);
    if (rc == 0 && r->status == DUBBO_STATUS_OK) {
        atomic_fetch_add(&invoker->succeeded, 1);
        atomic_fetch_add(&invoker->succeeded_elapsed_us, us);
    }
    /* EWMA with weight 1/8 (a lost race only drops one sample). */
    uint64_t old = atomic_load(&invoker->ewma_us);
    uint64_t nv = old ? old - old / 8 + us / 8 : us;
    atomic_compare_exchange_strong(&invoker->ewma_us, &old, nv);
    dubbo_done_fn done = o->done;
    void *user = o->user;
    dubbo_invoker_unref(invoker);
    free(o);
    done(rc, r, user);
}

static int invoke_one(dubbo_cluster_t *cl, dubbo_invoker_t *invoker, const dubbo_invocation_t *inv,
                      bool fork, dubbo_done_fn done, void *user)
{
    /* Without a timeout from the reference, the provider's URL gives it
     * (`<method>.timeout`, `timeout`, default 1000): resolved here so that
     * every invoker and filter sees a number, the same on every retry. */
    dubbo_invocation_t resolved;
    if (inv->timeout_ms <= 0) {
        resolved = *inv;
        resolved.timeout_ms = call_timeout(NULL, invoker, inv);
        inv = &resolved;
    } else if (dubbo__invoker_overrides(invoker, inv->method, "timeout")) {
        /* A consumer-side configurator's timeout replaces the reference's
         * (Java overrides the merged URL), not one the call gave itself. */
        long over = dubbo_url_method_param_int(invoker->url, inv->method, "timeout", 0);
        long reft = dubbo_url_method_param_int(cl->url, inv->method, "timeout", 0);
        if (over > 0 && inv->timeout_ms == reft) {
            resolved = *inv;
            resolved.timeout_ms = (int)over;
            inv = &resolved;
        }
    }
    one_t *o = calloc(1, sizeof(*o));
    if (!o) {
        dubbo_result_t r;
        dubbo_result_init(&r);
        int rc = dubbo_result_fail(&r, DUBBO_ENOMEM, "cluster: out of memory calling %s on %s",
                                   inv->method, invoker->address);
        done(rc, &r, user);
        return 0;
    }
    o->chain = (dubbo_filter_chain_t){cl, 0, fork};
    o->invoker = dubbo_invoker_ref(invoker);
    o->done = done;
    o->user = user;
    atomic_fetch_add(&invoker->active, 1);
    o->t0 = mono_us();
    int rc = dubbo_filter_next_async(&o->chain, invoker, inv, one_done, o);
    /* Refused before it started (a filter, the invoker's encoding): the
     * same outcome as a failed call. */
    if (rc < 0) complete_with_last_error(rc, one_done, o);
    return 0;
}

int dubbo_cluster_invoke_one_async(dubbo_cluster_t *cl, dubbo_invoker_t *invoker,
                                   const dubbo_invocation_t *inv, dubbo_done_fn done, void *user)
{
    return invoke_one(cl, invoker, inv, false, done, user);
}

int dubbo__cluster_invoke_one_fork(dubbo_cluster_t *cl, dubbo_invoker_t *invoker,
                                   const dubbo_invocation_t *inv, dubbo_done_fn done, void *user)
{
    return invoke_one(cl, invoker, inv, true, done, user);
}

typedef struct {
    dubbo_cluster_t *cl;
    dubbo_invoker_t *invoker;
    const dubbo_invocation_t *inv;
} one_call_t;

static int start_one(void *arg, dubbo_done_fn done, void *user)
{
    one_call_t *c = arg;
    return invoke_one(c->cl, c->invoker, c->inv, false, done, user);
}

int dubbo_cluster_invoke_one(dubbo_cluster_t *cl, dubbo_invoker_t *invoker,
                             const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    one_call_t c = {cl, invoker, inv};
    return wait_for(start_one, &c, r, "dubbo_cluster_invoke_one");
}

/* ---- reference calls ------------------------------------------------------------------- */

typedef struct {
    dubbo_cluster_t *cl;
    dubbo__inv_copy_t *copy; /* the async call's own copy of the invocation */
    dubbo_invocation_t inv;  /* timeout resolved; the sync caller's strings, or copy's */
    dubbo_done_fn done;
    void *user;
    bool async;       /* done goes to the loop thread, never inside the start */
    atomic_int state; /* R_INSIDE: still in the starting call; R_PENDING: ...
                         and the outcome came (the starter posts it on its way
                         out); R_OUTSIDE */
    atomic_int refs;  /* the starter and the completion */
    int rc;           /* the outcome, while posted to the loop */
    dubbo_result_t r;
} rcall_t;

enum { R_INSIDE, R_PENDING, R_OUTSIDE };

static void rcall_unref(rcall_t *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1) return;
    dubbo__inv_copy_free(c->copy);
    free(c);
}

static void deliver(rcall_t *c, int rc, dubbo_result_t *r)
{
    /* the failure's text for dubbo_last_error() on the loop thread */
    if (rc && r->error) dubbo__seterr(rc, "%s", r->error);
    c->done(rc, r, c->user);
}

static void deliver_task(void *arg)
{
    rcall_t *c = arg;
    deliver(c, c->rc, &c->r);
    rcall_unref(c);
}

/* The stored outcome to the loop thread; takes the completion's reference. */
static void post_delivery(rcall_t *c)
{
    if (dubbo__loop_post(deliver_task, c) == 0) return;
    /* the loop cannot take it: better here than never */
    DLOG_ERROR("reference %s: cannot hand a completion of %s to the event loop (out of "
               "memory); running it on this thread",
               c->cl->url->path, c->inv.method);
    deliver_task(c);
}

static void rcall_done(int rc, dubbo_result_t *r, void *arg)
{
    rcall_t *c = arg;
    if (c->async && (!dubbo__on_loop_thread() || atomic_load(&c->state) != R_OUTSIDE)) {
        c->rc = rc;
        c->r = *r;
        /* Still inside the start: the starter posts it on its way out (a
         * task posted now could run on the loop before the start returns,
         * when the outcome comes from another thread). */
        int inside = R_INSIDE;
        if (atomic_compare_exchange_strong(&c->state, &inside, R_PENDING)) return;
        post_delivery(c);
        return;
    }
    deliver(c, rc, r);
    rcall_unref(c);
}

/* A strategy with only a synchronous invoke: run it to its end. */
static void sync_strategy_main(void *arg)
{
    rcall_t *c = arg;
    dubbo_result_t r;
    dubbo_result_init(&r);
    int rc = c->cl->strategy->invoke(c->cl, &c->inv, &r);
    rcall_done(rc, &r, c);
}

static int start_call(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, bool async,
                      dubbo_done_fn done, void *user)
{
    rcall_t *c = calloc(1, sizeof(*c));
    if (!c) return dubbo__seterr(DUBBO_ENOMEM, "reference %s: out of memory", cl->url->path);
    if (async) {
        /* The caller's invocation is borrowed until we return; retries and
         * synchronous hooks elsewhere need it later. */
        if (!(c->copy = dubbo__inv_copy_new(inv))) {
            free(c);
            return dubbo__last_code();
        }
        c->inv = c->copy->inv;
    } else {
        c->inv = *inv; /* the sync caller's, valid until it returns */
    }
    /* Resolve the timeout once, so that every retry keeps it (the bug of
     * dubbo-go issue 3710 was losing it on failover). */
    c->inv.timeout_ms = call_timeout(cl->url, NULL, inv);
    c->cl = cl;
    c->done = done;
    c->user = user;
    c->async = async;
    atomic_init(&c->state, R_INSIDE);
    atomic_init(&c->refs, 2);
    int rc;
    if (cl->strategy->invoke_async) {
        rc = cl->strategy->invoke_async(cl, &c->inv, rcall_done, c);
    } else if (may_block) {
        sync_strategy_main(c);
        rc = 0;
    } else {
        rc = pool_submit(sync_strategy_main, c);
    }
    if (rc < 0) complete_with_last_error(rc, rcall_done, c);
    if (atomic_exchange(&c->state, R_OUTSIDE) == R_PENDING) post_delivery(c);
    rcall_unref(c);
    return 0;
}

typedef struct {
    dubbo_cluster_t *cl;
    const dubbo_invocation_t *inv;
} ref_call_t;

static int start_sync(void *arg, dubbo_done_fn done, void *user)
{
    ref_call_t *c = arg;
    return start_call(c->cl, c->inv, false, done, user);
}

int dubbo_reference_call(dubbo_reference_t *ref, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    dubbo_cluster_t *cl = (dubbo_cluster_t *)ref;
    dubbo_result_init(r);
    if (!inv || !inv->method || !*inv->method)
        return dubbo_result_fail(r, DUBBO_EINVAL, "reference %s: a call needs a method name",
                                 cl->url->path);
    char what[300];
    snprintf(what, sizeof(what), "reference %s: dubbo_reference_call of %s", cl->url->path,
             inv->method);
    ref_call_t c = {cl, inv};
    return wait_for(start_sync, &c, r, what);
}

int dubbo_reference_call_async(dubbo_reference_t *ref, const dubbo_invocation_t *inv,
                               dubbo_done_fn done, void *user)
{
    dubbo_cluster_t *cl = (dubbo_cluster_t *)ref;
    if (!cl || !done)
        return dubbo__seterr(DUBBO_EINVAL, "dubbo_reference_call_async: %s is NULL",
                             cl ? "done" : "the reference");
    if (!inv || !inv->method || !*inv->method)
        return dubbo__seterr(DUBBO_EINVAL, "reference %s: a call needs a method name",
                             cl->url->path);
    return start_call(cl, inv, true, done, user);
}
