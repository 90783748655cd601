/* cluster=failback: on a failure (no provider, timeout, connection, error
 * status) the caller gets an empty success at once, and the call is retried
 * in the background (for notifications that must arrive eventually).
 *
 * Each reference has one retry worker, started at its first failure and
 * joined when the reference is freed. A retry goes to a provider other than
 * the one that failed last (while another exists), keeps the call's
 * timeout, and works on a deep copy of the invocation (the caller's
 * arguments are gone when it runs). Parameters:
 *   retries              background attempts per failed call (default 3;
 *                        also `<method>.retries`); 0 disables them
 *   failbacktasks        failed calls waiting at most (default 100); more are
 *                        dropped with a log line
 *   failbackinterval     delay before the first retry in ms (default 5000);
 *                        it doubles with each retry ...
 *   failbackmaxinterval  ... up to this (default 60000)
 * Each delay is drawn from [d/2, d] so that calls which failed together do
 * not all retry together (Java retries every 5 s: a retry storm, dubbo-go
 * issue 3179). A business exception is an answer and is returned as is. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/cluster.h"
#include "cluster/reference.h"
#include "cluster/strategy/strategy.h"
#include "core/internal.h"
#include "core/log.h"

#define DEFAULT_RETRIES      3
#define DEFAULT_TASKS        100
#define DEFAULT_INTERVAL_MS  5000
#define DEFAULT_MAX_INTERVAL 60000

typedef struct task {
    struct task *next;
    dubbo__inv_copy_t *copy;
    dubbo_invoker_t *last; /* the provider that failed last (referenced), or NULL */
    int retries;           /* background attempts allowed */
    int done;              /* background attempts made */
    uint64_t due_ms;       /* monotonic */
} task_t;

typedef struct {
    dubbo_cluster_t *cl;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* tasks added, or stop */
    task_t *queue;     /* waiting tasks, unordered (at most max_tasks) */
    int ntasks;        /* waiting or running */
    bool started, stop;
    pthread_t worker;
    int max_tasks;
    long base_ms, max_ms;
} failback_t;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void task_free(task_t *t)
{
    dubbo__inv_copy_free(t->copy);
    dubbo_invoker_unref(t->last);
    free(t);
}

/* The delay before background attempt number `done` (from 0). */
static uint64_t backoff_ms(const failback_t *fb, int done)
{
    uint64_t d = (uint64_t)(fb->base_ms > 0 ? fb->base_ms : 1);
    for (int i = 0; i < done && d < (uint64_t)fb->max_ms; i++)
        d *= 2;
    if (d > (uint64_t)fb->max_ms) d = (uint64_t)fb->max_ms;
    return d / 2 + dubbo_random(d - d / 2 + 1);
}

/* One background attempt; true when the call is settled (an answer came,
 * or there is nothing left to try). Runs without the lock. */
static bool attempt(failback_t *fb, task_t *t)
{
    dubbo_cluster_t *cl = fb->cl;
    const dubbo_invocation_t *inv = &t->copy->inv;
    const char *service = dubbo_cluster_url(cl)->path;
    dubbo_invoker_t **cands = NULL;
    int n = dubbo_cluster_list(cl, inv, &cands);
    dubbo_invoker_t *chosen = NULL;
    if (n >= 0) {
        dubbo_invoker_t *const avoid[1] = {t->last};
        chosen = dubbo_cluster_select(cl, inv, cands, (size_t)n, avoid, t->last ? 1 : 0);
    }
    t->done++;
    bool settled = false;
    if (!chosen) {
        DLOG_WARN("failback: retry %d/%d of %s.%s: %s", t->done, t->retries, service, inv->method,
                  dubbo_last_error());
    } else {
        dubbo_result_t r;
        int rc = dubbo_cluster_invoke_one(cl, chosen, inv, &r);
        if (dubbo__outcome(rc, &r) != DUBBO__OUT_RETRYABLE) {
            DLOG_INFO("failback: retry %d/%d of %s.%s succeeded on %s", t->done, t->retries,
                      service, inv->method, chosen->address);
            settled = true;
        } else {
            DLOG_WARN("failback: retry %d/%d of %s.%s failed on %s: %s", t->done, t->retries,
                      service, inv->method, chosen->address, dubbo__result_message(rc, &r));
            dubbo_invoker_unref(t->last);
            t->last = dubbo_invoker_ref(chosen);
        }
        dubbo_result_destroy(&r);
    }
    if (!settled && t->done >= t->retries) {
        DLOG_ERROR("failback: giving up on %s.%s after %d retries", service, inv->method,
                   t->retries);
        settled = true;
    }
    dubbo_invokers_release(cands, n > 0 ? (size_t)n : 0);
    return settled;
}

static void *worker_main(void *arg)
{
    failback_t *fb = arg;
    pthread_mutex_lock(&fb->mu);
    while (!fb->stop) {
        task_t **next = NULL;
        for (task_t **p = &fb->queue; *p; p = &(*p)->next)
            if (!next || (*p)->due_ms < (*next)->due_ms) next = p;
        if (!next) {
            pthread_cond_wait(&fb->cv, &fb->mu);
            continue;
        }
        uint64_t now = mono_ms();
        if ((*next)->due_ms > now) {
            struct timespec until;
            dubbo__deadline(&until, CLOCK_MONOTONIC, (*next)->due_ms - now);
            pthread_cond_timedwait(&fb->cv, &fb->mu, &until);
            continue;
        }
        task_t *t = *next;
        *next = t->next;
        pthread_mutex_unlock(&fb->mu);
        bool settled = attempt(fb, t);
        pthread_mutex_lock(&fb->mu);
        if (settled) {
            task_free(t);
            fb->ntasks--;
        } else {
            t->due_ms = mono_ms() + backoff_ms(fb, t->done);
            t->next = fb->queue;
            fb->queue = t;
        }
    }
    pthread_mutex_unlock(&fb->mu);
    return NULL;
}

/* Queue a failed call for the background; the task is consumed. */
static void enqueue(failback_t *fb, task_t *t)
{
    const char *service = dubbo_cluster_url(fb->cl)->path;
    pthread_mutex_lock(&fb->mu);
    if (fb->stop || fb->ntasks >= fb->max_tasks) {
        int waiting = fb->ntasks;
        bool stopping = fb->stop;
        pthread_mutex_unlock(&fb->mu);
        if (stopping)
            DLOG_ERROR("failback: the reference to %s is closing; dropping this call of %s",
                       service, t->copy->inv.method);
        else
            DLOG_ERROR("failback: %d failed calls of %s are already waiting (failbacktasks=%d); "
                       "dropping this call of %s",
                       waiting, service, fb->max_tasks, t->copy->inv.method);
        task_free(t);
        return;
    }
    if (!fb->started) {
        int err = pthread_create(&fb->worker, NULL, worker_main, fb);
        if (err) {
            pthread_mutex_unlock(&fb->mu);
            DLOG_ERROR("failback: cannot start the retry worker of %s (error %d); dropping this "
                       "call of %s",
                       service, err, t->copy->inv.method);
            task_free(t);
            return;
        }
        fb->started = true;
    }
    t->due_ms = mono_ms() + backoff_ms(fb, 0);
    t->next = fb->queue;
    fb->queue = t;
    fb->ntasks++;
    pthread_cond_signal(&fb->cv);
    pthread_mutex_unlock(&fb->mu);
}

static failback_t *state_of(dubbo_cluster_t *cl)
{
    return dubbo_cluster_state(cl);
}

/* The caller's call failed (detail in `why`): schedule the retries. */
static void schedule(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_invoker_t *failed,
                     const char *why)
{
    const char *service = dubbo_cluster_url(cl)->path;
    long retries = dubbo__cluster_param_int(cl, inv->method, "retries", DEFAULT_RETRIES);
    if (retries < 0) retries = DEFAULT_RETRIES;
    if (retries > 1000) retries = 1000;
    failback_t *fb = state_of(cl);
    if (retries == 0 || !fb) {
        DLOG_WARN("failback: %s.%s failed (%s); %s", service, inv->method, why,
                  fb ? "not retried (retries=0)"
                     : "not retried (no per-reference state for a retry worker)");
        return;
    }
    DLOG_WARN("failback: %s.%s failed (%s); retrying in the background", service, inv->method, why);
    task_t *t = calloc(1, sizeof(*t));
    if (t) t->copy = dubbo__inv_copy_new(inv);
    if (!t || !t->copy) {
        DLOG_ERROR("failback: cannot keep the call %s.%s for retries: %s", service, inv->method,
                   t ? dubbo_last_error() : "out of memory");
        free(t);
        return;
    }
    t->retries = (int)retries;
    t->last = failed ? dubbo_invoker_ref(failed) : NULL;
    enqueue(fb, t);
}

static int after(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_invoker_t *chosen,
                 int rc, dubbo_result_t *r)
{
    if (dubbo__outcome(rc, r) != DUBBO__OUT_RETRYABLE) return rc;
    char why[700];
    snprintf(why, sizeof(why), "on %s: %s", chosen->address, dubbo__result_message(rc, r));
    schedule(cl, inv, chosen, why);
    return dubbo__result_empty(r);
}

/* The first attempt, asynchronously; the retries are the worker's
 * (synchronous, on its own thread). */
static int failback_invoke_async(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                                 dubbo_done_fn done, void *user)
{
    dubbo_invoker_t **cands = NULL;
    int n = dubbo_cluster_list(cl, inv, &cands);
    dubbo_invoker_t *chosen =
        n >= 0 ? dubbo_cluster_select(cl, inv, cands, (size_t)n, NULL, 0) : NULL;
    if (!chosen) {
        char why[600];
        snprintf(why, sizeof(why), "%s", dubbo_last_error());
        schedule(cl, inv, NULL, why);
        dubbo_result_t r;
        dubbo_result_init(&r);
        done(dubbo__result_empty(&r), &r, user);
    } else {
        dubbo__attempt_async(cl, inv, chosen, after, done, user);
    }
    dubbo_invokers_release(cands, n > 0 ? (size_t)n : 0);
    return 0;
}

static int failback_create(dubbo_cluster_t *cl, void **state)
{
    const dubbo_url_t *url = dubbo_cluster_url(cl);
    failback_t *fb = calloc(1, sizeof(*fb));
    if (!fb) return dubbo__seterr(DUBBO_ENOMEM, "failback: out of memory");
    fb->cl = cl;
    long tasks = dubbo_url_param_int(url, "failbacktasks", DEFAULT_TASKS);
    fb->max_tasks = tasks > 0 && tasks < 1000000 ? (int)tasks : DEFAULT_TASKS;
    fb->base_ms = dubbo_url_param_int(url, "failbackinterval", DEFAULT_INTERVAL_MS);
    if (fb->base_ms <= 0) fb->base_ms = DEFAULT_INTERVAL_MS;
    fb->max_ms = dubbo_url_param_int(url, "failbackmaxinterval", DEFAULT_MAX_INTERVAL);
    if (fb->max_ms < fb->base_ms) fb->max_ms = fb->base_ms;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&fb->mu, NULL);
    pthread_cond_init(&fb->cv, &ca);
    pthread_condattr_destroy(&ca);
    *state = fb;
    return 0;
}

static void failback_destroy(dubbo_cluster_t *cl, void *state)
{
    failback_t *fb = state;
    if (!fb) return;
    pthread_mutex_lock(&fb->mu);
    fb->stop = true;
    pthread_cond_signal(&fb->cv);
    bool started = fb->started;
    pthread_mutex_unlock(&fb->mu);
    /* A retry in flight finishes first (bounded by its timeout). */
    if (started) pthread_join(fb->worker, NULL);
    int dropped = 0;
    while (fb->queue) {
        task_t *t = fb->queue;
        fb->queue = t->next;
        task_free(t);
        dropped++;
    }
    if (dropped)
        DLOG_WARN("failback: the reference to %s is closed: %d failed call%s not retried",
                  dubbo_cluster_url(cl)->path, dropped, dropped == 1 ? "" : "s");
    pthread_mutex_destroy(&fb->mu);
    pthread_cond_destroy(&fb->cv);
    free(fb);
}

const dubbo_cluster_ops_t dubbo__cluster_failback = {
    .name = "failback",
    .invoke_async = failback_invoke_async,
    .create = failback_create,
    .destroy = failback_destroy,
};
