/* loadbalance=consistenthash: Java's ConsistentHashLoadBalance, so that a
 * C and a Java consumer send the same key to the same provider.
 *
 * Per method, a ring of `hash.nodes` (default 160) virtual nodes per
 * provider: for i in 0 .. nodes/4 - 1, the MD5 of "<host:port><i>" gives
 * four points (digest bytes 4h..4h+3, little-endian, h = 0..3); where two
 * points collide the later provider keeps it, as Java's TreeMap.put. A
 * call's key is the concatenation of the arguments listed by
 * `hash.arguments` (default "0"; indexes out of range are skipped) as
 * Java's String.valueOf: strings as their text, int and long in decimal,
 * null as "null", anything else as its typed JSON (dubbo_value_to_json).
 * The call goes to the first point at or after the first four bytes of the
 * key's MD5, wrapping around. Both settings are read as
 * "<method>.<key>" then "<key>" from the reference URL, then from the
 * first provider's.
 *
 * A method's ring is rebuilt when the candidate list changes (other
 * invokers, or the same in another order), as Java rebuilds when the
 * list's hash changes. Unlike Java, a rebuild reuses the points of the
 * providers that stay (hashing only the new ones and merging), so a
 * failover retry or a flapping provider costs tens of microseconds instead
 * of milliseconds. Points are kept with their owner's position in the list
 * and equal points are resolved at lookup (the later provider wins, as the
 * later TreeMap.put does), so a reused ring answers exactly as a new one.
 *
 * The ring remembers its invokers' pointers and addresses only to compare
 * them with the next list; it never uses them otherwise, so it holds no
 * references. Rings are read under a shared lock and replaced under an
 * exclusive one; a rebuild holds a counted reference on the ring it
 * reuses. */
#include <inttypes.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/loadbalance/util.h"
#include "core/internal.h"
#include "dubbo/buf.h"

#define DEFAULT_NODES 160
#define MAX_NODES     65536
#define MAX_ARGS      64

typedef struct {
    atomic_int refs;
    size_t n;
    dubbo_invoker_t **members; /* compared with the next list, never dereferenced */
    char **addresses;
    long nodes;
    uint64_t *points; /* (hash << 32) | owner's position, sorted by hash */
    size_t npoints;
    int args[MAX_ARGS];
    size_t nargs;
} ring_t;

typedef struct {
    dubbo_lb_t base;
    pthread_rwlock_t lock;
    dubbo__lb_methods_t rings; /* method -> ring_t * (one reference) */
} ch_t;

static uint32_t point(const uint8_t digest[16], int h)
{
    return (uint32_t)digest[h * 4] | (uint32_t)digest[h * 4 + 1] << 8 |
           (uint32_t)digest[h * 4 + 2] << 16 | (uint32_t)digest[h * 4 + 3] << 24;
}

/* Parse "0", "0,2", " 1 , 3 " (Java splits on \s*,+\s*). */
static int parse_args(const char *spec, int *out, size_t *n)
{
    *n = 0;
    const char *p = spec;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < INT32_MIN || v > INT32_MAX || *n == MAX_ARGS) return DUBBO_EINVAL;
        out[(*n)++] = (int)v;
        p = end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != ',') return DUBBO_EINVAL;
    }
    return *n ? 0 : DUBBO_EINVAL;
}

static int parse_nodes(const char *spec, long *nodes)
{
    char *end;
    long v = strtol(spec, &end, 10);
    if (end == spec || *end || v < 4 || v > MAX_NODES) return DUBBO_EINVAL;
    *nodes = v;
    return 0;
}

static void ring_unref(void *state)
{
    ring_t *r = state;
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
    for (size_t i = 0; r->addresses && i < r->n; i++)
        free(r->addresses[i]);
    free(r->addresses);
    free(r->members);
    free(r->points);
    free(r);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The points of `old` whose owners are still in the list, renumbered, in
 * order; marks those owners in `reused`. Returns how many were copied. */
static size_t reuse_points(const ring_t *old, ring_t *r, bool *reused, uint64_t *out)
{
    /* address -> position in the new list (the last one for duplicates,
     * which is the one whose points win in Java) */
    dubbo__lb_table_t pos = {0};
    size_t *map = malloc(old->n * sizeof(*map));
    size_t k = 0;
    bool ok = map != NULL;
    for (size_t i = 0; ok && i < r->n; i++) {
        bool created;
        dubbo__lb_slot_t *s = dubbo__lb_table_get(&pos, r->addresses[i], &created);
        if (s)
            s->u.index = i;
        else
            ok = false;
    }
    for (size_t m = 0; ok && m < old->n; m++) {
        bool created;
        dubbo__lb_slot_t *s = dubbo__lb_table_get(&pos, old->addresses[m], &created);
        if (!s) {
            ok = false;
        } else if (created || s->u.index == SIZE_MAX || reused[s->u.index]) {
            /* gone, or a second old invoker of that address: one set of
             * points per new position keeps the ring within its size */
            s->u.index = SIZE_MAX;
            map[m] = SIZE_MAX;
        } else {
            map[m] = s->u.index;
            reused[s->u.index] = true;
        }
    }
    if (ok) {
        for (size_t i = 0; i < old->npoints; i++) {
            size_t m = map[(size_t)(old->points[i] & 0xffffffffu)];
            if (m != SIZE_MAX) out[k++] = (old->points[i] & ~(uint64_t)0xffffffffu) | m;
        }
    } else {
        memset(reused, 0, r->n * sizeof(*reused)); /* out of memory: hash everything */
    }
    free(map);
    dubbo__lb_table_destroy(&pos);
    return k;
}

/* A ring for invokers[0..n), reusing the points of `old` (may be NULL). */
static ring_t *ring_build(dubbo_invoker_t *const *invokers, size_t n, const dubbo_url_t *url,
                          const char *method, const ring_t *old)
{
    if (n > UINT32_MAX) return NULL;
    ring_t *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    atomic_init(&r->refs, 1);
    r->nodes = DEFAULT_NODES;
    const char *spec = dubbo_invoker_setting(invokers[0], url, method, "hash.nodes", NULL);
    if (spec && parse_nodes(spec, &r->nodes) != 0)
        r->nodes = DEFAULT_NODES; /* a provider's bad value */
    spec = dubbo_invoker_setting(invokers[0], url, method, "hash.arguments", "0");
    if (parse_args(spec, r->args, &r->nargs) != 0) {
        r->args[0] = 0;
        r->nargs = 1;
    }
    size_t per_member = (size_t)(r->nodes / 4) * 4;
    uint64_t *fresh = NULL;
    bool *reused = NULL;
    r->n = n;
    r->members = malloc(n * sizeof(*r->members));
    r->addresses = calloc(n, sizeof(*r->addresses));
    r->points = malloc(n * per_member * sizeof(*r->points));
    reused = calloc(n, sizeof(*reused));
    if (!r->members || !r->addresses || !r->points || !reused) goto oom;
    for (size_t m = 0; m < n; m++) {
        r->members[m] = invokers[m];
        r->addresses[m] = strdup(invokers[m]->address);
        if (!r->addresses[m]) goto oom;
    }
    size_t kept = old && old->nodes == r->nodes ? reuse_points(old, r, reused, r->points) : 0;

    size_t nfresh = 0;
    for (size_t m = 0; m < n; m++)
        nfresh += reused[m] ? 0 : per_member;
    fresh = malloc((nfresh ? nfresh : 1) * sizeof(*fresh));
    if (!fresh) goto oom;
    size_t f = 0;
    for (size_t m = 0; m < n; m++) {
        if (reused[m]) continue;
        size_t alen = strlen(r->addresses[m]);
        for (long i = 0; i < r->nodes / 4; i++) {
            char num[24];
            int nlen = snprintf(num, sizeof(num), "%ld", i);
            dubbo__md5_t c;
            uint8_t d[16];
            dubbo__md5_init(&c);
            dubbo__md5_update(&c, r->addresses[m], alen);
            dubbo__md5_update(&c, num, (size_t)nlen);
            dubbo__md5_final(&c, d);
            for (int h = 0; h < 4; h++)
                fresh[f++] = (uint64_t)point(d, h) << 32 | (uint64_t)m;
        }
    }
    qsort(fresh, f, sizeof(*fresh), cmp_u64);
    /* merge the kept points (sorted) and the fresh ones, from the back so
     * that r->points can hold both */
    size_t i = kept, j = f, out = kept + f;
    while (j > 0) {
        if (i > 0 && r->points[i - 1] > fresh[j - 1])
            r->points[--out] = r->points[--i];
        else
            r->points[--out] = fresh[--j];
    }
    r->npoints = kept + f;
    free(fresh);
    free(reused);
    return r;
oom:
    free(fresh);
    free(reused);
    ring_unref(r);
    return NULL;
}

static bool ring_matches(const ring_t *r, dubbo_invoker_t *const *invokers, size_t n)
{
    if (r->n != n || memcmp(r->members, invokers, n * sizeof(*invokers)) != 0) return false;
    /* A freed invoker's memory may hold a new one: check the addresses. */
    for (size_t i = 0; i < n; i++)
        if (strcmp(r->addresses[i], invokers[i]->address) != 0) return false;
    return true;
}

/* Java hashes String.valueOf(argument); values with no such text form here
 * (lists, maps, objects: Java would use their toString) hash as typed JSON. */
static void md5_arg(dubbo__md5_t *c, const dubbo_value_t *v)
{
    char num[64];
    const char *s = dubbo_value_java_string(v, num, sizeof(num));
    if (s) {
        dubbo__md5_update(c, s, v && v->type == DUBBO_T_STRING ? v->u.s.len : strlen(s));
        return;
    }
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    if (dubbo_value_to_json(v, &b) == 0) dubbo__md5_update(c, b.base, b.len);
    dubbo_buf_destroy(&b);
}

static uint32_t key_hash(const ring_t *r, const dubbo_invocation_t *inv)
{
    dubbo_value_t *const *args;
    size_t nargs;
    dubbo_invocation_args(inv, &args, &nargs);
    dubbo__md5_t c;
    uint8_t d[16];
    dubbo__md5_init(&c);
    for (size_t i = 0; i < r->nargs; i++)
        if (r->args[i] >= 0 && (size_t)r->args[i] < nargs) md5_arg(&c, args[r->args[i]]);
    dubbo__md5_final(&c, d);
    return point(d, 0);
}

/* The position of the provider owning the first point at or after hash,
 * wrapping around; of equal points the later provider's. */
static size_t ring_lookup(const ring_t *r, uint32_t hash)
{
    size_t lo = 0, hi = r->npoints;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uint32_t)(r->points[mid] >> 32) < hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == r->npoints) lo = 0;
    /* Equal points (rare) are adjacent, in no particular owner order after
     * a reuse: the highest position wins. */
    size_t owner = (size_t)(r->points[lo] & 0xffffffffu);
    for (size_t i = lo + 1; i < r->npoints && r->points[i] >> 32 == r->points[lo] >> 32; i++)
        if ((size_t)(r->points[i] & 0xffffffffu) > owner)
            owner = (size_t)(r->points[i] & 0xffffffffu);
    return owner;
}

static dubbo_invoker_t *ch_select(dubbo_lb_t *self, dubbo_invoker_t *const *invokers, size_t n,
                                  const dubbo_url_t *url, const dubbo_invocation_t *inv)
{
    ch_t *ch = (ch_t *)self;
    const char *method = dubbo_invocation_method(inv);

    pthread_rwlock_rdlock(&ch->lock);
    void **slot = dubbo__lb_methods_find(&ch->rings, method);
    ring_t *r = slot ? *slot : NULL;
    if (r && ring_matches(r, invokers, n)) {
        size_t m = ring_lookup(r, key_hash(r, inv));
        pthread_rwlock_unlock(&ch->lock);
        return invokers[m];
    }
    if (r) atomic_fetch_add(&r->refs, 1); /* to reuse its points */
    pthread_rwlock_unlock(&ch->lock);

    /* Build outside the lock. */
    ring_t *fresh = ring_build(invokers, n, url, method, r);
    ring_unref(r);
    if (!fresh) return invokers[dubbo_random(n)];
    ring_t *old = NULL, *drop = NULL;
    pthread_rwlock_wrlock(&ch->lock);
    slot = dubbo__lb_methods_find(&ch->rings, method);
    if (slot && ring_matches(*slot, invokers, n)) {
        r = *slot; /* another thread built the same ring first */
        drop = fresh;
    } else if (slot) {
        old = *slot;
        *slot = r = fresh;
    } else if (dubbo__lb_methods_add(&ch->rings, method, fresh) == 0) {
        r = fresh;
    } else {
        r = drop = fresh; /* out of memory: use it for this call only */
    }
    size_t m = ring_lookup(r, key_hash(r, inv));
    pthread_rwlock_unlock(&ch->lock);
    ring_unref(old);
    ring_unref(drop);
    return invokers[m];
}

static dubbo_lb_t *ch_create(const dubbo_url_t *url);

static void ch_destroy(dubbo_lb_t *self)
{
    ch_t *ch = (ch_t *)self;
    dubbo__lb_methods_destroy(&ch->rings, ring_unref);
    pthread_rwlock_destroy(&ch->lock);
    free(ch);
}

const dubbo_lb_ops_t dubbo__lb_consistenthash = {
    .name = "consistenthash",
    .create = ch_create,
    .select = ch_select,
    .destroy = ch_destroy,
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static dubbo_lb_t *ch_create(const dubbo_url_t *url)
{
    /* Check the reference's own settings now, so that a typo fails at
     * dubbo_reference_new instead of being ignored at every call. */
    for (size_t i = 0; i < url->nparams; i++) {
        const char *k = url->params[i].key, *v = url->params[i].value;
        int args[MAX_ARGS];
        size_t nargs;
        long nodes;
        if (ends_with(k, "hash.arguments") && parse_args(v, args, &nargs) != 0) {
            dubbo__seterr(DUBBO_EINVAL,
                          "loadbalance consistenthash: %s=\"%s\" is not a comma-separated list "
                          "of argument indexes (e.g. \"0\" or \"0,1\")",
                          k, v);
            return NULL;
        }
        if (ends_with(k, "hash.nodes") && parse_nodes(v, &nodes) != 0) {
            dubbo__seterr(DUBBO_EINVAL,
                          "loadbalance consistenthash: %s=\"%s\" is not a number of virtual "
                          "nodes between 4 and %d",
                          k, v, MAX_NODES);
            return NULL;
        }
    }
    ch_t *ch = calloc(1, sizeof(*ch));
    if (!ch) {
        dubbo__seterr(DUBBO_ENOMEM, "loadbalance consistenthash: out of memory");
        return NULL;
    }
    ch->base.ops = &dubbo__lb_consistenthash;
    pthread_rwlock_init(&ch->lock, NULL);
    return &ch->base;
}
