/* The process-wide event loop: one libuv loop on its own thread, started on
 * first use, shared by every server and client. Other threads hand it work
 * with dubbo__loop_post(). */
#ifndef DUBBO_TRANSPORT_LOOP_H
#define DUBBO_TRANSPORT_LOOP_H

#include <stdbool.h>
#include <uv.h>

typedef void (*dubbo__task_fn)(void *arg);

/* A task node the caller embeds in its own struct (dubbo__loop_post_task):
 * posting then allocates nothing. */
typedef struct dubbo__task {
    struct dubbo__task *next;
    dubbo__task_fn fn;
    void *arg;
    bool owned; /* the loop frees it after running (dubbo__loop_post's) */
} dubbo__task_t;

/* The loop, starting its thread if needed. NULL if it cannot start. */
uv_loop_t *dubbo__loop(void);

/* Run fn(arg) on the loop thread, soon. From any thread (also the loop's
 * own, where it runs on the next iteration). Returns 0 or DUBBO_ENOMEM. */
int dubbo__loop_post(dubbo__task_fn fn, void *arg);

/* The same with a node the caller owns: t->fn and t->arg set, the rest is
 * the loop's. The node must stay valid until fn has started (fn may free
 * it). Returns 0, or DUBBO_ENOMEM when the loop thread cannot start. */
int dubbo__loop_post_task(dubbo__task_t *t);

/* Run fn(arg) on the loop thread and wait for it to finish. Must not be
 * called from the loop thread. */
int dubbo__loop_run_sync(dubbo__task_fn fn, void *arg);

bool dubbo__on_loop_thread(void);

#endif
