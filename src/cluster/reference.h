/* A reference's runtime (struct dubbo_cluster), shared by cluster.c
 * (directory, routers, selection, registries) and invoke.c (the invocation
 * layer: filters, invokers, the sync wrapper and the async path).
 * Internal. */
#ifndef DUBBO_CLUSTER_REFERENCE_H
#define DUBBO_CLUSTER_REFERENCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "dubbo/cluster.h"

struct dubbo_cluster {
    dubbo_url_t *url;
    const dubbo_cluster_ops_t *strategy;
    dubbo_lb_t *lb;
    pthread_mutex_t mu; /* guards snap */
    struct snapshot *snap;
    pthread_rwlock_t routers_lock;
    struct router_slot *routers;
    size_t nrouters;
    /* The tag rule's two sources: the API's (dubbo_reference_set_rule) and
     * the registry's (<app>.tag-router). The registry's is in force while
     * it exists; a registry notification never touches the API's. Guarded
     * by tag_mu. */
    pthread_mutex_t tag_mu;
    char *tag_api, *tag_registry;
    bool holding;             /* empty-list protection is holding back an empty list (reg_mu) */
    dubbo_filter_t **filters; /* consumer side, in order */
    size_t nfilters;
    void *strategy_state; /* from strategy->create */
    bool strategy_made;   /* create succeeded: destroy is due */
    /* registry-backed references: one subscription per registry */
    pthread_mutex_t reg_mu; /* guards every sub's provider list */
    pthread_cond_t reg_cv;  /* a first providers notification arrived */
    struct regsub *subs;
    size_t nsubs;
    /* Balancers a configurator named (loadbalance=) other than the
     * reference's own, made on first use, kept until the reference goes
     * (a call may still hold one). Guarded by mu. */
    dubbo_lb_t *lb_over[8];
    size_t nlb_over;
    /* What consumer-side configurators set on the reference's own URL
     * (Java's overrideConsumerUrl): a parameters-only URL, replaced as a
     * whole under mu; `overridden` tells readers whether to look. */
    dubbo_url_t *conf_over;
    atomic_bool overridden;
};

/* A reference setting as a strategy reads it: "<method>.<key>", then
 * "<key>", of what a configurator set on the reference's URL, else of the
 * reference's URL; `def` when neither has it or it is not a number. Any
 * thread. */
long dubbo__cluster_param_int(dubbo_cluster_t *cl, const char *method, const char *key, long def);

/* Whether provider `i`'s setting `key` (or "<method>.<key>") was set by a
 * consumer-side configurator, and so wins over the reference's own, as
 * Java's override of the merged URL does (configurator/configurator.h). */
bool dubbo__invoker_overrides(const dubbo_invoker_t *i, const char *method, const char *key);

/* dubbo_cluster_invoke_one_async for a fan-out (forking): a synchronous-only
 * part of the chain never runs on the calling thread, so that the forks run
 * side by side. */
int dubbo__cluster_invoke_one_fork(dubbo_cluster_t *cl, dubbo_invoker_t *invoker,
                                   const dubbo_invocation_t *inv, dubbo_done_fn done, void *user);

/* From a filter's invoke_async: run that filter's synchronous invoke and
 * the rest of the chain where blocking is allowed instead (the caller of a
 * synchronous call, or a helper thread), e.g. to wait for a slot. */
int dubbo__filter_blocking(dubbo_filter_chain_t *chain, dubbo_invoker_t *invoker,
                           const dubbo_invocation_t *inv, dubbo_done_fn done, void *user);

/* Run fn(arg) on the loop thread after `ms` milliseconds, unless
 * dubbo__timer_cancel() wins the race first. Returns NULL (message set)
 * when the loop cannot take it. Exactly one of "fn ran" and "cancel
 * returned true" happens; the handle is freed by the loop afterwards and
 * must not be used after either. */
typedef struct dubbo__timer dubbo__timer_t;
dubbo__timer_t *dubbo__timer_start(int ms, void (*fn)(void *arg), void *arg);
bool dubbo__timer_cancel(dubbo__timer_t *t);

/* For the QoS port (src/qos/: ls, getRouterSnapshot; at the end of
 * cluster.c): how many providers the directory holds and how many are
 * available, and, when out is not NULL, each router's step over them as
 * text ("[ condition ] 3 -> 2 invoker(s): h:p h:p"), routed as a call of
 * no particular method. 0 or DUBBO_ENOMEM. Any thread. */
int dubbo__reference_snapshot(dubbo_reference_t *ref, size_t *all, size_t *valid, dubbo_buf_t *out);

#endif
