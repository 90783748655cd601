/* The process's event loops: N libuv loops, each on its own thread, started
 * on first use and shared by every server and client. Loop 0 is "the" loop
 * of the code that needs one place to run (cluster timers, consumer
 * connections of stateful protocols, the listening sockets); the others
 * serve the connections spread over them (a provider's accepted ones, a
 * consumer's stateless ones): each connection lives on one loop for its
 * whole life, and whatever touches it is posted there. Other threads hand
 * a loop work with dubbo__loop_post_to(). */
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

/* One event-loop thread. */
typedef struct dubbo__loop dubbo__loop_t;

/* The most loops a process runs. */
#define DUBBO__LOOPS_MAX 64

/* How many loops connections are spread over: dubbo__loops_set's, else the
 * environment's DUBBO_IO_THREADS, else the number of cores (1 to
 * DUBBO__LOOPS_MAX). Any thread. */
int dubbo__loops_count(void);
/* Set it (clamped to 1..DUBBO__LOOPS_MAX; 0: back to the default). Loops
 * already running go on serving their connections; new connections are
 * spread over the first n. Any thread. */
void dubbo__loops_set(int n);

/* Loop i (0 <= i < DUBBO__LOOPS_MAX), its thread started if needed; NULL
 * if it cannot start (logged). Any thread. */
dubbo__loop_t *dubbo__loop_at(int i);
/* The loop whose thread calls this, or NULL off the loop threads. */
dubbo__loop_t *dubbo__loop_current(void);
/* Its index (0 .. DUBBO__LOOPS_MAX-1) and its libuv loop (the latter for
 * handles made on its own thread only). */
int dubbo__loop_index(const dubbo__loop_t *l);
uv_loop_t *dubbo__loop_uv(dubbo__loop_t *l);
/* The loop for a new connection among the first n (0: dubbo__loops_count()):
 * the one with the fewest connections (dubbo__loop_load), the earliest
 * after the previous pick on a tie; NULL if none can start. Any thread. */
dubbo__loop_t *dubbo__loop_pick(int n);
/* A connection more (+1) or less (-1) on l, for dubbo__loop_pick. */
void dubbo__loop_load(dubbo__loop_t *l, int delta);

/* Run fn(arg) on loop l's thread, soon, in the order posted. From any
 * thread (also l's own, where it runs on the next iteration). 0 or
 * DUBBO_ENOMEM. */
int dubbo__loop_post_to(dubbo__loop_t *l, dubbo__task_fn fn, void *arg);
/* The same with a node the caller owns: t->fn and t->arg set, the rest is
 * the loop's. The node must stay valid until fn has started (fn may free
 * it). 0 (l NULL: DUBBO_ENOMEM). */
int dubbo__loop_post_task_to(dubbo__loop_t *l, dubbo__task_t *t);
/* Run fn(arg) on l's thread and wait for it to finish. Not from a loop
 * thread (two loops waiting on each other would deadlock). */
int dubbo__loop_run_sync_on(dubbo__loop_t *l, dubbo__task_fn fn, void *arg);
/* One turn of every loop started: what was posted to each before this
 * call has run when it returns. Not from a loop thread. */
void dubbo__loops_sync_all(void);

/* Loop 0: its libuv loop, starting its thread if needed (NULL if it cannot
 * start), and the functions above for it. */
uv_loop_t *dubbo__loop(void);
int dubbo__loop_post(dubbo__task_fn fn, void *arg);
int dubbo__loop_post_task(dubbo__task_t *t);
int dubbo__loop_run_sync(dubbo__task_fn fn, void *arg);

/* On one of the loop threads (any of them): blocking here for a loop
 * would stall it, or deadlock. */
bool dubbo__on_loop_thread(void);

#endif
