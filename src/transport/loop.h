/* The process-wide event loop: one libuv loop on its own thread, started on
 * first use, shared by every server and client. Other threads hand it work
 * with dubbo__loop_post(). */
#ifndef DUBBO_TRANSPORT_LOOP_H
#define DUBBO_TRANSPORT_LOOP_H

#include <stdbool.h>
#include <uv.h>

typedef void (*dubbo__task_fn)(void *arg);

/* The loop, starting its thread if needed. NULL if it cannot start. */
uv_loop_t *dubbo__loop(void);

/* Run fn(arg) on the loop thread, soon. From any thread (also the loop's
 * own, where it runs on the next iteration). Returns 0 or DUBBO_ENOMEM. */
int dubbo__loop_post(dubbo__task_fn fn, void *arg);

/* Run fn(arg) on the loop thread and wait for it to finish. Must not be
 * called from the loop thread. */
int dubbo__loop_run_sync(dubbo__task_fn fn, void *arg);

bool dubbo__on_loop_thread(void);

#endif
