/* Helpers shared by the load balancers of this folder (never installed):
 * the clock, the method name of a call, weighted picks among tied
 * invokers, per-address and per-method state tables, and MD5. */
#ifndef DUBBO_CLUSTER_LOADBALANCE_UTIL_H
#define DUBBO_CLUSTER_LOADBALANCE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/cluster.h"

/* The balancers of this folder, registered by register.c. */
extern const dubbo_lb_ops_t dubbo__lb_random;
extern const dubbo_lb_ops_t dubbo__lb_roundrobin;
extern const dubbo_lb_ops_t dubbo__lb_leastactive;
extern const dubbo_lb_ops_t dubbo__lb_consistenthash;
extern const dubbo_lb_ops_t dubbo__lb_shortestresponse;
extern const dubbo_lb_ops_t dubbo__lb_p2c;

/* ---- time and calls ---- */

/* The clock the balancers read (ms since the epoch): dubbo_now_epoch_ms,
 * replaced by tests that need time to pass. Not for concurrent writes. */
extern int64_t (*dubbo__lb_clock)(void);

/* Java's tie break of leastactive and shortestresponse: among the `count`
 * invokers invokers[idx[0..count)], a weighted random pick when their
 * weights (weights[] is indexed like invokers) differ and sum above 0,
 * else a uniform one. */
dubbo_invoker_t *dubbo__lb_pick_tied(dubbo_invoker_t *const *invokers, const size_t *idx,
                                     size_t count, const int *weights, int64_t total,
                                     bool same_weight);

/* Scratch arrays for a select: on the stack up to SCRATCH_MAX entries,
 * else on the heap. */
#define DUBBO__LB_SCRATCH_MAX 256

/* ---- per-address state (roundrobin, shortestresponse, consistenthash) ---- */

/* One provider's state in a balancer, keyed by its "host:port". */
typedef struct {
    char *key;       /* NULL: an empty slot */
    uint64_t hash;   /* of key */
    int64_t seen_ms; /* last select that saw the provider */
    union {
        struct {
            int weight;      /* the weight `current` was built with */
            int64_t current; /* smooth round robin's current weight */
        } rr;
        struct {
            const dubbo_invoker_t *invoker; /* whose counters the offsets belong to */
            uint64_t succeeded;             /* counters at the start of the window */
            uint64_t elapsed_us;
            uint64_t window; /* the window the offsets belong to */
        } sr;
        size_t index; /* a position in a list (consistenthash's rebuild) */
    } u;
} dubbo__lb_slot_t;

/* An open-addressing hash table of slots. Not thread-safe (callers lock). */
typedef struct {
    dubbo__lb_slot_t *slots;
    size_t cap; /* a power of two, or 0 */
    size_t count;
} dubbo__lb_table_t;

/* The slot of `key`, made (zeroed, *created = true) when absent; NULL on
 * out-of-memory. The pointer is valid until the next get or sweep. */
dubbo__lb_slot_t *dubbo__lb_table_get(dubbo__lb_table_t *t, const char *key, bool *created);
/* Drop the slots last seen before `cutoff_ms`. */
void dubbo__lb_table_sweep(dubbo__lb_table_t *t, int64_t cutoff_ms);
void dubbo__lb_table_destroy(dubbo__lb_table_t *t);

/* ---- per-method state (roundrobin, consistenthash) ---- */

typedef struct {
    char *method;
    void *state;
} dubbo__lb_method_t;

/* A small list of method name -> state. Not thread-safe (callers lock). */
typedef struct {
    dubbo__lb_method_t *items;
    size_t n;
} dubbo__lb_methods_t;

/* Where the method's state is kept (to read or replace it), or NULL when
 * the method has none. Valid until the next add. */
void **dubbo__lb_methods_find(const dubbo__lb_methods_t *m, const char *method);
/* Add `method` (absent) with `state`; DUBBO_ENOMEM leaves m unchanged. */
int dubbo__lb_methods_add(dubbo__lb_methods_t *m, const char *method, void *state);
/* Free every entry, releasing each state with free_state. */
void dubbo__lb_methods_destroy(dubbo__lb_methods_t *m, void (*free_state)(void *state));

/* ---- MD5 (RFC 1321), for consistenthash's ring as Java's, and the hex
 * digests Nacos (config MD5s) and application-level discovery (Java's
 * MetadataInfo revision) need ---- */

typedef struct {
    uint32_t h[4];
    uint64_t len; /* bytes so far */
    uint8_t block[64];
} dubbo__md5_t;

void dubbo__md5_init(dubbo__md5_t *c);
void dubbo__md5_update(dubbo__md5_t *c, const void *data, size_t len);
void dubbo__md5_final(dubbo__md5_t *c, uint8_t digest[16]);
/* The digest of data[0..len) as 32 lowercase hex digits and a NUL. */
void dubbo__md5_hex(const void *data, size_t len, char out[33]);

#endif
