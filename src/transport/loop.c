/* The shared event-loop thread and its cross-thread task queue. */
#include <pthread.h>
#include <stdlib.h>

#include "transport/loop.h"
#include "core/internal.h"
#include "core/log.h"

typedef dubbo__task_t task_t;

static uv_loop_t loop;
static uv_async_t wakeup;
static pthread_t thread;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool started;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static task_t *head, *tail;

static void drain(uv_async_t *h)
{
    (void)h;
    pthread_mutex_lock(&mu);
    task_t *t = head;
    head = tail = NULL;
    pthread_mutex_unlock(&mu);
    while (t) {
        task_t *n = t->next;
        bool owned = t->owned;
        t->fn(t->arg); /* may free a caller's node: read nothing of it after */
        if (owned) free(t);
        t = n;
    }
}

static void *run(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

static void start(void)
{
    if (uv_loop_init(&loop)) return;
    if (uv_async_init(&loop, &wakeup, drain)) return;
    /* The loop thread must not take the signals the application waits for. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&thread, NULL, run, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        DLOG_ERROR("cannot start the event-loop thread: error %d", rc);
        return;
    }
    started = true;
}

uv_loop_t *dubbo__loop(void)
{
    pthread_once(&once, start);
    return started ? &loop : NULL;
}

bool dubbo__on_loop_thread(void)
{
    return started && pthread_equal(pthread_self(), thread);
}

static int enqueue(task_t *t);

int dubbo__loop_post(dubbo__task_fn fn, void *arg)
{
    if (!dubbo__loop())
        return dubbo__seterr(DUBBO_ENOMEM, "event loop: the loop thread could not be started");
    task_t *t = malloc(sizeof(*t));
    if (!t) return dubbo__seterr(DUBBO_ENOMEM, "event loop: out of memory for a task");
    t->fn = fn;
    t->arg = arg;
    t->owned = true;
    return enqueue(t);
}

int dubbo__loop_post_task(dubbo__task_t *t)
{
    if (!dubbo__loop())
        return dubbo__seterr(DUBBO_ENOMEM, "event loop: the loop thread could not be started");
    t->owned = false;
    return enqueue(t);
}

static int enqueue(task_t *t)
{
    t->next = NULL;
    pthread_mutex_lock(&mu);
    if (tail)
        tail->next = t;
    else
        head = t;
    tail = t;
    pthread_mutex_unlock(&mu);
    uv_async_send(&wakeup);
    return 0;
}

typedef struct {
    dubbo__task_fn fn;
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} sync_task_t;

static void run_sync(void *arg)
{
    sync_task_t *s = arg;
    s->fn(s->arg);
    pthread_mutex_lock(&s->mu);
    s->done = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int dubbo__loop_run_sync(dubbo__task_fn fn, void *arg)
{
    sync_task_t s = {.fn = fn, .arg = arg, .done = false};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    int rc = dubbo__loop_post(run_sync, &s);
    if (!rc) {
        pthread_mutex_lock(&s.mu);
        while (!s.done)
            pthread_cond_wait(&s.cv, &s.mu);
        pthread_mutex_unlock(&s.mu);
    }
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    return rc;
}
