/* Helpers shared by the cluster strategies of this folder (private). */
#ifndef DUBBO_CLUSTER_STRATEGY_H
#define DUBBO_CLUSTER_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>

#include "dubbo/cluster.h"
#include "dubbo/rpc.h"
#include "core/internal.h"

/* The strategies' tables (register.c registers them). */
extern const dubbo_cluster_ops_t dubbo__cluster_failover, dubbo__cluster_failfast,
    dubbo__cluster_failsafe, dubbo__cluster_failback, dubbo__cluster_forking,
    dubbo__cluster_broadcast, dubbo__cluster_available;

/* The outcome of one attempt, as the strategies see it. */
typedef enum {
    DUBBO__OUT_OK,       /* the provider answered a value */
    DUBBO__OUT_BIZ,      /* the provider answered an exception: a real answer, never retried */
    DUBBO__OUT_RETRYABLE /* local failure or error status: another provider may do better */
} dubbo__outcome_t;

dubbo__outcome_t dubbo__outcome(int rc, const dubbo_result_t *r);

/* The routed candidates, or r filled with "No provider available ..." (or
 * the listing's error) and that code returned as a negative number; on
 * success the count (> 0) and *cands to release with
 * dubbo_invokers_release(). */
int dubbo__list_or_fail(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                        dubbo_invoker_t ***cands, dubbo_result_t *r);

/* A message for a failed attempt: r->error, else the status name or the
 * code's text. Never NULL; valid as long as r. */
const char *dubbo__result_message(int rc, const dubbo_result_t *r);

/* Replace r->error with `msg` (copied into r's arena, made if needed) and,
 * for rc < 0, record it for dubbo_last_error(). Returns rc. */
int dubbo__result_set_error(dubbo_result_t *r, int rc, const char *msg);

/* Turn r (which may hold anything) into an empty success: status OK, value
 * null, no exception, no error (failsafe, failback). Returns 0. */
int dubbo__result_empty(dubbo_result_t *r);

/* Append "a, b, c" (the invokers' addresses) to out[0..cap), always
 * NUL-terminated, truncated with "..." when it does not fit. */
void dubbo__addresses(char *out, size_t cap, dubbo_invoker_t *const *list, size_t n);

/* A private deep copy of an invocation (method, descriptor, argument value
 * graphs with their sharing and cycles, attachments, timeout), for calls
 * that outlive their caller (failback retries, forking). */
typedef struct {
    dubbo_invocation_t inv;
    dubbo_arena_t *arena; /* owns everything inv points to */
} dubbo__inv_copy_t;

/* NULL with DUBBO_ENOMEM or DUBBO_ETOO_DEEP (nesting past 512) and a message. */
dubbo__inv_copy_t *dubbo__inv_copy_new(const dubbo_invocation_t *inv);
void dubbo__inv_copy_free(dubbo__inv_copy_t *c); /* NULL is fine */

/* A deep copy of the value graph v into arena a (shared and circular
 * references are kept as such). NULL and DUBBO_T_NULL copy to
 * dubbo_v_null(). NULL on failure (message set). */
dubbo_value_t *dubbo__value_copy(dubbo_arena_t *a, const dubbo_value_t *v);

/* Complete a call at once with a local failure: r gets the message (and
 * dubbo_last_error()), then done(rc, r, user) runs on this thread.
 * Returns 0 (the call is complete), for an invoke_async to return. */
int dubbo__complete_fail(dubbo_done_fn done, void *user, int rc, const char *fmt, ...)
    DUBBO__PRINTF(4, 5);

/* What a single-attempt strategy does with the attempt's outcome before
 * the caller gets it (failsafe and failback turn a failure into an empty
 * success). `chosen` is the provider called. */
typedef int (*dubbo__after_fn)(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                               dubbo_invoker_t *chosen, int rc, dubbo_result_t *r);

/* One attempt on `chosen` (referenced for the attempt), its outcome through
 * `after` (NULL: as it is), then done. Returns 0. */
int dubbo__attempt_async(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                         dubbo_invoker_t *chosen, dubbo__after_fn after, dubbo_done_fn done,
                         void *user);

#endif
