/* The event-loop threads and their cross-thread task queues (loop.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "transport/loop.h"
#include "core/internal.h"
#include "core/log.h"

typedef dubbo__task_t task_t;

struct dubbo__loop {
    uv_loop_t uv;
    uv_async_t wakeup;
    pthread_t thread;
    int index;
    atomic_int state; /* 0 not started, 1 running, -1 could not start */
    atomic_int load;  /* connections on it (dubbo__loop_load) */
    pthread_mutex_t mu;
    task_t *head, *tail;
};

static dubbo__loop_t loops[DUBBO__LOOPS_MAX];
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int count;    /* 0: not decided yet */
static atomic_uint next_rr; /* where the next tie-break starts */
static _Thread_local dubbo__loop_t *current;

static void drain(uv_async_t *h)
{
    dubbo__loop_t *l = h->data;
    pthread_mutex_lock(&l->mu);
    task_t *t = l->head;
    l->head = l->tail = NULL;
    pthread_mutex_unlock(&l->mu);
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
    dubbo__loop_t *l = arg;
    current = l;
    uv_run(&l->uv, UV_RUN_DEFAULT);
    return NULL;
}

static int clamp(int n)
{
    return n < 1 ? 1 : n > DUBBO__LOOPS_MAX ? DUBBO__LOOPS_MAX : n;
}

int dubbo__loops_count(void)
{
    int n = atomic_load(&count);
    if (n) return n;
    const char *e = getenv("DUBBO_IO_THREADS");
    if (e && atoi(e) > 0)
        n = atoi(e);
    else
        n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    n = clamp(n);
    int zero = 0;
    atomic_compare_exchange_strong(&count, &zero, n);
    return atomic_load(&count);
}

void dubbo__loops_set(int n)
{
    atomic_store(&count, n > 0 ? clamp(n) : 0);
}

dubbo__loop_t *dubbo__loop_at(int i)
{
    if (i < 0 || i >= DUBBO__LOOPS_MAX) return NULL;
    dubbo__loop_t *l = &loops[i];
    int st = atomic_load_explicit(&l->state, memory_order_acquire);
    if (st) return st > 0 ? l : NULL;
    pthread_mutex_lock(&start_mu);
    if (!(st = atomic_load(&l->state))) {
        st = -1;
        l->index = i;
        pthread_mutex_init(&l->mu, NULL);
        if (!uv_loop_init(&l->uv)) {
            l->wakeup.data = l;
            if (!uv_async_init(&l->uv, &l->wakeup, drain)) {
                /* A loop thread must not take the signals the application
                 * waits for. */
                sigset_t all, old;
                sigfillset(&all);
                pthread_sigmask(SIG_BLOCK, &all, &old);
                int rc = pthread_create(&l->thread, NULL, run, l);
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                if (rc)
                    DLOG_ERROR("cannot start event-loop thread %d: error %d", i, rc);
                else
                    st = 1;
            }
        }
        atomic_store_explicit(&l->state, st, memory_order_release);
    }
    pthread_mutex_unlock(&start_mu);
    return st > 0 ? l : NULL;
}

dubbo__loop_t *dubbo__loop_current(void)
{
    return current;
}

int dubbo__loop_index(const dubbo__loop_t *l)
{
    return l->index;
}

uv_loop_t *dubbo__loop_uv(dubbo__loop_t *l)
{
    return &l->uv;
}

dubbo__loop_t *dubbo__loop_pick(int n)
{
    if (n <= 0) n = dubbo__loops_count();
    n = clamp(n);
    if (n == 1) return dubbo__loop_at(0);
    unsigned start = atomic_fetch_add(&next_rr, 1);
    int best = -1, best_load = 0;
    for (int k = 0; k < n; k++) {
        int i = (int)((start + (unsigned)k) % (unsigned)n);
        int ld = atomic_load_explicit(&loops[i].load, memory_order_relaxed);
        if (best < 0 || ld < best_load) {
            best = i;
            best_load = ld;
        }
    }
    dubbo__loop_t *l = dubbo__loop_at(best);
    return l ? l : dubbo__loop_at(0);
}

void dubbo__loop_load(dubbo__loop_t *l, int delta)
{
    atomic_fetch_add_explicit(&l->load, delta, memory_order_relaxed);
}

bool dubbo__on_loop_thread(void)
{
    return current != NULL;
}

static int enqueue(dubbo__loop_t *l, task_t *t)
{
    t->next = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
    pthread_mutex_unlock(&l->mu);
    uv_async_send(&l->wakeup);
    return 0;
}

int dubbo__loop_post_to(dubbo__loop_t *l, dubbo__task_fn fn, void *arg)
{
    if (!l) return dubbo__seterr(DUBBO_ENOMEM, "event loop: the loop thread could not be started");
    task_t *t = malloc(sizeof(*t));
    if (!t) return dubbo__seterr(DUBBO_ENOMEM, "event loop: out of memory for a task");
    t->fn = fn;
    t->arg = arg;
    t->owned = true;
    return enqueue(l, t);
}

int dubbo__loop_post_task_to(dubbo__loop_t *l, dubbo__task_t *t)
{
    if (!l) return dubbo__seterr(DUBBO_ENOMEM, "event loop: the loop thread could not be started");
    t->owned = false;
    return enqueue(l, t);
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

int dubbo__loop_run_sync_on(dubbo__loop_t *l, dubbo__task_fn fn, void *arg)
{
    sync_task_t s = {.fn = fn, .arg = arg, .done = false};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    int rc = dubbo__loop_post_to(l, run_sync, &s);
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

static void nothing(void *arg)
{
    (void)arg;
}

void dubbo__loops_sync_all(void)
{
    for (int i = 0; i < DUBBO__LOOPS_MAX; i++)
        if (atomic_load_explicit(&loops[i].state, memory_order_acquire) > 0)
            dubbo__loop_run_sync_on(&loops[i], nothing, NULL);
}

uv_loop_t *dubbo__loop(void)
{
    dubbo__loop_t *l = dubbo__loop_at(0);
    return l ? &l->uv : NULL;
}

int dubbo__loop_post(dubbo__task_fn fn, void *arg)
{
    return dubbo__loop_post_to(dubbo__loop_at(0), fn, arg);
}

int dubbo__loop_post_task(dubbo__task_t *t)
{
    return dubbo__loop_post_task_to(dubbo__loop_at(0), t);
}

int dubbo__loop_run_sync(dubbo__task_fn fn, void *arg)
{
    return dubbo__loop_run_sync_on(dubbo__loop_at(0), fn, arg);
}
