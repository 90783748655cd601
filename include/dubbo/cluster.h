/* The cluster layer: a reference holds a directory of invokers (one per
 * provider), and each call goes router chain -> load balancer -> cluster
 * strategy (failover, failfast, ...) -> consumer filter chain -> invoker,
 * with Java Dubbo's semantics. Every piece is an extension (extension.h)
 * chosen by a URL parameter: loadbalance=, cluster=, filter=, and rules for
 * the routers.
 *
 * Threading: a reference may be called from any number of threads at once;
 * its directory can be replaced while calls are in flight (calls keep the
 * snapshot they started with). Extension hooks are called concurrently and
 * must be thread-safe (stateful ones lock, or use atomics).
 *
 * Ownership: invokers are reference-counted; a list handed to a hook is
 * borrowed for the duration of the call.
 *
 * Asynchronous calls (docs/async.md). Below the reference, every layer has
 * an asynchronous form: the strategy's invoke_async, the consumer filters'
 * invoke_async, the invoker's invoke_async (the Dubbo invoker's is
 * dubbo_client_call_async). dubbo_reference_call_async goes down them
 * without blocking; dubbo_reference_call is one wrapper over it that waits
 * on a condition. Hooks that exist only in their synchronous form (a
 * third party's invoker, filter or strategy) still work: the part of the
 * call from that hook down runs synchronously, on the thread of a
 * dubbo_reference_call that waits for it anyway (so such code sees the
 * thread it saw before), else on a small pool of helper threads (at most
 * 64, started on demand, shared by the process), never on the loop
 * thread. Internal asynchronous hooks (the `*_async` members below) share
 * one contract unless said otherwise: they return 0 and `done` runs
 * exactly once, on any thread, possibly before they return; or they return
 * a negative code (message set) and `done` never runs. */
#ifndef DUBBO_CLUSTER_H
#define DUBBO_CLUSTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/export.h"
#include "dubbo/extension.h"
#include "dubbo/protocol.h"
#include "dubbo/rpc.h"
#include "dubbo/url.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ====================================================================== *
 * Invokers: one provider
 * ====================================================================== */

typedef struct dubbo_invoker dubbo_invoker_t;

typedef struct {
    const char *name; /* "dubbo", or a test's "fake" */
    /* one synchronous call, rc and result as dubbo_client_call(). Required
     * unless invoke_async is given (then a sync caller waits on it). */
    int (*invoke)(dubbo_invoker_t *self, const dubbo_invocation_t *inv, dubbo_result_t *r);
    /* optional: false while the provider cannot take calls (connection
     * down, provider read-only). Default: true. */
    bool (*available)(dubbo_invoker_t *self);
    /* optional: release `impl` when the last reference goes. */
    void (*destroy)(dubbo_invoker_t *self);
    /* optional: true while a live connection to the provider is up and the
     * provider is not read-only (empty-list protection keeps only such
     * providers when a registry says "none"). Default: available(). */
    bool (*connected)(dubbo_invoker_t *self);
    /* optional: one asynchronous call (the contract at the top of this
     * file; rc and the result, which `done` owns, as dubbo_client_call()).
     * `inv` and all it points to are borrowed only until invoke_async
     * returns (encode or copy them before). Without it, the call runs
     * `invoke` synchronously, on the caller of dubbo_reference_call or a
     * helper thread (with a deep copy of `inv`). */
    int (*invoke_async)(dubbo_invoker_t *self, const dubbo_invocation_t *inv, dubbo_done_fn done,
                        void *user);
} dubbo_invoker_ops_t;

struct dubbo_invoker {
    const dubbo_invoker_ops_t *ops;
    dubbo_url_t *url;  /* the provider URL (weight, timestamp, warmup, dubbo.tag, ...); owned */
    char address[300]; /* "host:port" */
    void *impl;        /* the ops' own state */
    atomic_int refs;
    /* Statistics the cluster layer keeps for balancers and filters. */
    atomic_int active;                         /* calls in flight (leastactive, actives) */
    atomic_uint_fast64_t calls;                /* finished calls */
    atomic_uint_fast64_t succeeded;            /* finished without error */
    atomic_uint_fast64_t succeeded_elapsed_us; /* sum of their durations */
    atomic_uint_fast64_t ewma_us;              /* smoothed latency of recent calls (p2c) */
    /* The URL's weight settings, parsed once (dubbo_invoker_weight is on
     * every call's path). */
    int weight;          /* `weight`, default 100 */
    int64_t timestamp;   /* `timestamp` (ms since the epoch), 0 if none */
    int64_t warmup;      /* `warmup` ms, default 600000 */
    bool method_weights; /* some `<method>.weight` parameter exists */
    bool actives;        /* the provider publishes `actives` or `<method>.actives` */
};

/* A setting of a call to invoker `i`, read as Java reads it from the invoker
 * URL that ClusterUtils.mergeUrl builds: the reference's parameters over the
 * provider's, less the provider's server-only keys (threads, threadpool,
 * corethreads, queues, alive, threadname, iothreads, accepts, payload,
 * transporter, server, heartbeat). With a method, "<method>.<key>" of the
 * merged URL comes before "<key>" (Java's getMethodParameter), so a
 * provider's method-level setting beats the reference's service-level one.
 * `ref` or `method` may be NULL; `def` when neither URL has the key. */
DUBBO_API const char *dubbo_invoker_setting(const dubbo_invoker_t *i, const dubbo_url_t *ref,
                                            const char *method, const char *key, const char *def);

/* A new invoker with one reference. Takes ownership of `url` (freed with
 * the invoker); address is url's host:port. NULL on out-of-memory. */
DUBBO_API dubbo_invoker_t *dubbo_invoker_new(const dubbo_invoker_ops_t *ops, dubbo_url_t *url,
                                             void *impl);
DUBBO_API dubbo_invoker_t *dubbo_invoker_ref(dubbo_invoker_t *i);
DUBBO_API void dubbo_invoker_unref(dubbo_invoker_t *i); /* NULL is fine */
DUBBO_API bool dubbo_invoker_available(dubbo_invoker_t *i);

/* The invoker for a provider URL of a protocol whose table has the
 * consumer framing hooks, e.g. dubbo:// or tri:// (a dubbo_client_t
 * underneath; the connection is made on the first call): such a
 * protocol's `refer`. Consumer-side settings are read from `consumer`
 * first, then from the provider URL (version, group, timeout,
 * connections, payload, heartbeat, serialization, application,
 * compressor). NULL with DUBBO_EINVAL for a URL of another protocol, or
 * dubbo_client_new's error. dubbo_invoker_new_dubbo takes dubbo:// only. */
DUBBO_API dubbo_invoker_t *dubbo_invoker_new_client(const char *provider_url,
                                                    const dubbo_url_t *consumer);
DUBBO_API dubbo_invoker_t *dubbo_invoker_new_dubbo(const char *provider_url,
                                                   const dubbo_url_t *consumer);

/* Java's AbstractLoadBalance.getWeight: the provider's `weight` (or
 * `<method>.weight`, default 100), ramped up linearly over `warmup` ms
 * (default 600000) after the provider's `timestamp` (ms since the epoch),
 * at least 1 while warming; 0 if the weight is 0. `now_ms` is the current
 * time in ms since the epoch (pass dubbo_now_epoch_ms()). */
DUBBO_API int dubbo_invoker_weight(const dubbo_invoker_t *i, const char *method, int64_t now_ms);
DUBBO_API int64_t dubbo_now_epoch_ms(void);

/* ====================================================================== *
 * Extension points. Each table's first member is its name; instances are
 * made per reference from its URL (`create`), embed their base struct
 * first, and are destroyed with the reference.
 * ====================================================================== */

/* ---- protocols: include/dubbo/protocol.h (refer is the consumer side) ---- */

/* The method a call is for, as Java's RpcUtils.getMethodName: for a
 * generic call ($invoke / $invokeAsync with a string first argument) the
 * method it names, else inv->method ("" for NULL). Routers, balancers and
 * filters match on this name, so a generic call cannot bypass a rule. */
DUBBO_API const char *dubbo_invocation_method(const dubbo_invocation_t *inv);
/* The arguments of that method, as Java's RpcUtils.getArguments: for a
 * generic call the items of its third argument (when a list), else
 * inv->args. *args may be NULL when *nargs is 0. */
DUBBO_API void dubbo_invocation_args(const dubbo_invocation_t *inv, dubbo_value_t *const **args,
                                     size_t *nargs);

/* A process-wide, thread-safe random source for balancers and strategies:
 * [0, n) uniformly (n > 0). Seeded from the OS (getrandom) on first use, so
 * every process draws its own sequence; dubbo_random_seed() fixes the
 * sequence instead, to make runs reproducible (tests). */
DUBBO_API uint64_t dubbo_random(uint64_t n);
DUBBO_API void dubbo_random_seed(uint64_t seed);

/* ---- load balancers (loadbalance=random|roundrobin|leastactive|
 *      consistenthash|shortestresponse|p2c) ---- */

typedef struct dubbo_lb dubbo_lb_t;
typedef struct {
    const char *name;
    /* required: an instance for the reference whose URL is `url`. NULL
     * with a message on failure. */
    dubbo_lb_t *(*create)(const dubbo_url_t *url);
    /* required: pick one of invokers[0..n) (n >= 1, all available). */
    dubbo_invoker_t *(*select)(dubbo_lb_t *self, dubbo_invoker_t *const *invokers, size_t n,
                               const dubbo_url_t *url, const dubbo_invocation_t *inv);
    /* optional */
    void (*destroy)(dubbo_lb_t *self);
} dubbo_lb_ops_t;
struct dubbo_lb {
    const dubbo_lb_ops_t *ops;
};

/* ---- routers (condition, tag) ---- */

typedef struct dubbo_router dubbo_router_t;
typedef struct {
    const char *name;
    /* required: a router for the reference `url` from a rule text (YAML,
     * Dubbo 3 format; may be NULL for routers that need none, like tag
     * without a rule). NULL with DUBBO_EINVAL and a message naming the rule
     * line on a bad rule. */
    dubbo_router_t *(*create)(const dubbo_url_t *url, const char *rule);
    /* required: copy the invokers of in[0..n) that the rule lets `inv` reach
     * into out (room for n); return how many, or a negative error. */
    int (*route)(dubbo_router_t *self, dubbo_invoker_t *const *in, size_t n, dubbo_invoker_t **out,
                 const dubbo_url_t *url, const dubbo_invocation_t *inv);
    /* optional */
    void (*destroy)(dubbo_router_t *self);
} dubbo_router_ops_t;
struct dubbo_router {
    const dubbo_router_ops_t *ops;
    int priority; /* lower runs first; built-ins: tag 100, condition 140 (service
                     scope) / 150 (application scope), as Java orders them */
};

/* ---- filters (echo, generic, context, token, accesslog, tps,
 *      actives, executes, timeout, exception, and users' own) ---- */

typedef struct dubbo_filter dubbo_filter_t;
typedef struct dubbo_filter_chain dubbo_filter_chain_t;

#define DUBBO_FILTER_CONSUMER 1
#define DUBBO_FILTER_PROVIDER 2

typedef struct {
    const char *name;
    int sides; /* DUBBO_FILTER_CONSUMER | DUBBO_FILTER_PROVIDER */
    int order; /* lower runs first (outermost) */
    /* required: an instance for a reference (consumer) or exported service
     * (provider) URL. Return NULL with *rc = 0 when the filter is not
     * active for this URL (e.g. `actives` unset), or NULL with *rc < 0 and
     * a message on a bad setting. Filters named in the URL's `filter`
     * parameter are always created. */
    dubbo_filter_t *(*create)(const dubbo_url_t *url, int side, int *rc);
    /* consumer side: continue with dubbo_filter_next(), or fill r and
     * return without calling it (short-circuit). Returns like
     * dubbo_client_call(). */
    int (*invoke)(dubbo_filter_t *self, dubbo_filter_chain_t *chain, dubbo_invoker_t *invoker,
                  const dubbo_invocation_t *inv, dubbo_result_t *r);
    /* provider side: continue with dubbo_call_next(call), or answer with
     * dubbo_call_return/throw/fail and return without it. */
    void (*serve)(dubbo_filter_t *self, dubbo_call_t *call);
    /* optional */
    void (*destroy)(dubbo_filter_t *self);
    /* optional, consumer side: the asynchronous form of invoke (contract at
     * the top of this file). Continue with dubbo_filter_next_async() at most
     * once, before returning (wrap done/user to see the outcome), or
     * return a negative code with a message to fail the call. `inv` is
     * borrowed until it returns. A consumer filter without it runs its
     * invoke, and the rest of the chain after it, synchronously (on the
     * caller of dubbo_reference_call, or a helper thread). */
    int (*invoke_async)(dubbo_filter_t *self, dubbo_filter_chain_t *chain, dubbo_invoker_t *invoker,
                        const dubbo_invocation_t *inv, dubbo_done_fn done, void *user);
} dubbo_filter_ops_t;
struct dubbo_filter {
    const dubbo_filter_ops_t *ops;
};

/* Consumer side, from a filter's invoke: the rest of the chain, then the
 * invoker (its invoke, or a wait on its invoke_async: refused with
 * DUBBO_EINVAL on the loop thread). Returns like dubbo_client_call(). */
DUBBO_API int dubbo_filter_next(dubbo_filter_chain_t *chain, dubbo_invoker_t *invoker,
                                const dubbo_invocation_t *inv, dubbo_result_t *r);
/* From a filter's invoke_async: the rest of the chain, asynchronously
 * (contract at the top of this file). */
DUBBO_API int dubbo_filter_next_async(dubbo_filter_chain_t *chain, dubbo_invoker_t *invoker,
                                      const dubbo_invocation_t *inv, dubbo_done_fn done,
                                      void *user);
/* Provider side: run the rest of the chain and then the method handler. */
DUBBO_API void dubbo_call_next(dubbo_call_t *call);
/* The exported service's URL (its parameters: token, executes, tps, ...). */
DUBBO_API const dubbo_url_t *dubbo_call_url(const dubbo_call_t *call);
/* The call's status/exception so far (after dubbo_call_next()), for
 * filters that look at the outcome. */
DUBBO_API int dubbo_call_status(const dubbo_call_t *call);
DUBBO_API bool dubbo_call_is_exception(const dubbo_call_t *call);

/* The filter chain of a reference (side DUBBO_FILTER_CONSUMER) or an
 * exported service (DUBBO_FILTER_PROVIDER), as Java's
 * ExtensionLoader.getActivateExtension(url, key, group) builds it. The list
 * is the URL's `reference.filter` (consumer) or `service.filter` (provider)
 * when set, else its `filter`: names separated by commas.
 * - Every registered filter of that side whose create() gives an instance
 *   for `url` is active, unless the list says "-name" or "-default".
 * - A named filter is asked too (create() still decides: NULL leaves it
 *   out), unless the list also says "-name" (removal wins).
 * - Without "default" in the list, active and named filters run by their
 *   order (ties: registration order); with it, the filters named before
 *   "default" run first and those after it last, in the list's order, and
 *   the active ones in between, by order.
 * A name no filter is registered under fails with DUBBO_ENOT_FOUND naming
 * it. On success *out is a malloc'd array of *n instances (free each with
 * its ops->destroy, then the array); on failure nothing is left.
 * Internal (src/filter/support.c), not part of the API: declared here so
 * that the provider (src/runtime/server.c, which includes no src/filter/
 * header) and the reference build their chains with the same rules. */
int dubbo__filter_chain_build(const dubbo_url_t *url, int side, dubbo_filter_t ***out, size_t *n);

/* ---- cluster strategies (cluster=failover|failfast|failsafe|failback|
 *      forking|broadcast|available) ---- */

typedef struct dubbo_cluster dubbo_cluster_t; /* one reference's runtime (opaque) */
typedef struct {
    const char *name;
    /* make the call using the helpers below. Returns like
     * dubbo_client_call(). Required unless invoke_async is given; a
     * strategy with only this runs on the caller of dubbo_reference_call or
     * on a helper thread. */
    int (*invoke)(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_result_t *r);
    /* optional: per-reference state, for strategies whose work outlives a
     * call (failback's retry queue and worker, forking's losing calls).
     * Called once, last in dubbo_reference_new(), when cl is complete (URL,
     * balancer, filters, routers, directory); sets *state (NULL is fine).
     * Returns 0, or a negative error with a message, which fails
     * dubbo_reference_new() (destroy is then not called). */
    int (*create)(dubbo_cluster_t *cl, void **state);
    /* optional: called first in dubbo_reference_free(), while cl is still
     * whole (its directory, balancer and filters usable): stop background
     * work, wait for what still runs on cl, free state. No call is in
     * flight on the reference (that would be the caller's bug). */
    void (*destroy)(dubbo_cluster_t *cl, void *state);
    /* optional: the call, asynchronously, with dubbo_cluster_invoke_one_async
     * (all the built-ins have it). Returns 0 and runs `done` exactly once,
     * on any thread, possibly before returning (a negative return: done
     * never runs). `inv` (timeout resolved) stays valid until done has
     * run, so retries may use it from a completion. Never block here nor
     * in a completion: it may be the loop thread. */
    int (*invoke_async)(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_done_fn done,
                        void *user);
} dubbo_cluster_ops_t;

/* The state the strategy's create hook made for this reference, or NULL. */
DUBBO_API void *dubbo_cluster_state(const dubbo_cluster_t *cl);

/* The reference URL: consumer settings (retries, forks, timeout, ...). */
DUBBO_API const dubbo_url_t *dubbo_cluster_url(const dubbo_cluster_t *cl);
/* The routed candidates for `inv`: a snapshot of the directory after the
 * router chain, each invoker referenced; release with
 * dubbo_invokers_release(). Returns the count (0 is possible) or an error. */
DUBBO_API int dubbo_cluster_list(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                                 dubbo_invoker_t ***out);
DUBBO_API void dubbo_invokers_release(dubbo_invoker_t **list, size_t n);
/* Java's AbstractClusterInvoker.select: the load balancer's pick among the
 * available candidates, avoiding those in tried[0..ntried) while another
 * is available. NULL when none is available (message set: "No provider
 * available ..."). The result is borrowed from `cands`. */
DUBBO_API dubbo_invoker_t *dubbo_cluster_select(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                                                dubbo_invoker_t *const *cands, size_t n,
                                                dubbo_invoker_t *const *tried, size_t ntried);
/* One call on one invoker through the consumer filter chain, keeping the
 * invoker's statistics. A timeout the reference set is in inv already;
 * otherwise the invoker's URL gives it (`<method>.timeout`, `timeout`,
 * default 1000), so the invoker and filters always see a number. */
DUBBO_API int dubbo_cluster_invoke_one(dubbo_cluster_t *cl, dubbo_invoker_t *invoker,
                                       const dubbo_invocation_t *inv, dubbo_result_t *r);
/* The same, asynchronously: always returns 0, and `done` runs exactly once
 * with rc and the result it owns (a filter's refusal or a failure to start
 * included, as a local error), on any thread: the loop thread for the
 * Dubbo invoker, possibly this thread before it returns. `inv` is borrowed
 * until it returns. dubbo_cluster_invoke_one waits on this (refused with
 * DUBBO_EINVAL on the loop thread). */
DUBBO_API int dubbo_cluster_invoke_one_async(dubbo_cluster_t *cl, dubbo_invoker_t *invoker,
                                             const dubbo_invocation_t *inv, dubbo_done_fn done,
                                             void *user);
/* True when a failed call may be retried on another provider: a local
 * failure (timeout, connection) or an error status other than a provider's
 * business exception, as Java's failover retries RpcExceptions only. */
DUBBO_API bool dubbo_result_retryable(int rc, const dubbo_result_t *r);
/* Fill r with a local error (r->error = message) and return rc; for
 * strategies that fail without calling. */
DUBBO_API int dubbo_result_fail(dubbo_result_t *r, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ====================================================================== *
 * References: what applications call
 * ====================================================================== */

typedef struct dubbo_reference dubbo_reference_t;

/* A reference to one service over one or more providers.
 *   urls:   provider URLs separated by ';' (Java's reference `url`), e.g.
 *           "dubbo://10.0.0.1:20880/org.x.Demo;dubbo://10.0.0.2:20880/org.x.Demo";
 *           may be NULL for a reference whose providers are set later.
 *   params: NULL or NULL-terminated key, value pairs: the reference's
 *           settings (interface, version, group, cluster, loadbalance,
 *           retries, timeout, actives, filter, dubbo.tag, ...); they
 *           override the parameters of the first URL.
 * Unknown extension names (cluster=, loadbalance=, filter=) fail here with
 * DUBBO_ENOT_FOUND naming the point and the name. NULL on failure. */
DUBBO_API dubbo_reference_t *dubbo_reference_new(const char *urls, const char *const *params);
/* Free a reference. No call may be in flight on it: every async call's
 * `done` has run (a forking call's losing forks are waited for here). */
DUBBO_API void dubbo_reference_free(dubbo_reference_t *ref);

/* Call through the cluster: routers, balancer, strategy, filters; blocks
 * until the outcome (a wrapper that waits on dubbo_reference_call_async).
 * Returns and fills r as dubbo_client_call(); a failure names the service,
 * method and providers tried (r->error and dubbo_last_error() on the
 * calling thread). r is initialised on every path: destroy it after every
 * call. Not from the loop thread (a completion callback, a direct
 * handler): refused with DUBBO_EINVAL. */
DUBBO_API int dubbo_reference_call(dubbo_reference_t *ref, const dubbo_invocation_t *inv,
                                   dubbo_result_t *r);

/* Call through the cluster without blocking: routers, balancer, the
 * strategy and the consumer filters run asynchronously (failover retries
 * on another provider from the failed attempt's completion; forking and
 * broadcast fan out and complete once).
 * Returns 0 and `done` runs exactly once, later (never inside this call),
 * on the event-loop thread, with rc and the result as dubbo_reference_call
 * would give them: `done` owns the result (destroy it, or move the
 * struct); on a failure r->error and dubbo_last_error() name it there.
 * Every outcome of the call ("No provider available", a timeout, the
 * failover summary, ...) comes through `done`. A negative code, with a
 * message and `done` never run: DUBBO_EINVAL (NULL ref or done, no
 * method), DUBBO_ENOMEM or DUBBO_ETOO_DEEP (the invocation cannot be
 * copied).
 * `inv` and everything it points to (strings, argument values,
 * attachments) are borrowed only until this returns: the call keeps a deep
 * copy for its retries. `user` is passed back as is and must stay valid
 * until `done` ran. Any thread, `done` included (one call may start the
 * next from its completion); in `done` nothing may block:
 * dubbo_reference_call and dubbo_client_call are refused there. The
 * reference must outlive the call (see dubbo_reference_free). */
DUBBO_API int dubbo_reference_call_async(dubbo_reference_t *ref, const dubbo_invocation_t *inv,
                                         dubbo_done_fn done, void *user);

/* Replace the providers (registry notifications, tests). Atomic for
 * calls: each call sees the old or the new list, never a mix. n == 0
 * empties the directory. */
DUBBO_API int dubbo_reference_set_providers(dubbo_reference_t *ref, const char *const *urls,
                                            size_t n);
/* Replace the providers with ready-made invokers (takes a reference to
 * each). For tests and custom protocols. */
DUBBO_API int dubbo_reference_set_invokers(dubbo_reference_t *ref, dubbo_invoker_t *const *invokers,
                                           size_t n);
/* Add (or replace, by router name) a routing rule: router "condition" or
 * "tag" and a Dubbo 3 YAML rule text (docs/routing.md). "condition#NAME"
 * is the condition router in a slot of its own (rules of several scopes at
 * once: registries use condition#service and condition#application). DUBBO_EINVAL
 * naming the line on a bad rule (the old rule stays). A NULL rule removes
 * the rule: the condition router goes, the tag router returns to routing
 * by the providers' own dubbo.tag. */
DUBBO_API int dubbo_reference_set_rule(dubbo_reference_t *ref, const char *router,
                                       const char *rule);
/* The reference URL (consumer settings). */
DUBBO_API const dubbo_url_t *dubbo_reference_url(const dubbo_reference_t *ref);

#ifdef __cplusplus
}
#endif
#endif
