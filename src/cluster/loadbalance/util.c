/* Helpers shared by the load balancers of this folder (util.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/loadbalance/util.h"
#include "core/internal.h"

int64_t (*dubbo__lb_clock)(void) = dubbo_now_epoch_ms;

/* ---- calls ---------------------------------------------------------------------------- */

dubbo_invoker_t *dubbo__lb_pick_tied(dubbo_invoker_t *const *invokers, const size_t *idx,
                                     size_t count, const int *weights, int64_t total,
                                     bool same_weight)
{
    if (count == 1) return invokers[idx[0]];
    if (!same_weight && total > 0) {
        int64_t offset = (int64_t)dubbo_random((uint64_t)total);
        for (size_t i = 0; i < count; i++) {
            offset -= weights[idx[i]];
            if (offset < 0) return invokers[idx[i]];
        }
    }
    return invokers[idx[dubbo_random(count)]];
}

/* ---- per-address table ---------------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Put a slot (key owned) into a table known to have room and no such key. */
static void place(dubbo__lb_slot_t *slots, size_t cap, const dubbo__lb_slot_t *s)
{
    size_t i = (size_t)s->hash & (cap - 1);
    while (slots[i].key)
        i = (i + 1) & (cap - 1);
    slots[i] = *s;
}

static int rehash(dubbo__lb_table_t *t, size_t cap)
{
    dubbo__lb_slot_t *ns = calloc(cap, sizeof(*ns));
    if (!ns) return DUBBO_ENOMEM;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].key) place(ns, cap, &t->slots[i]);
    free(t->slots);
    t->slots = ns;
    t->cap = cap;
    return 0;
}

dubbo__lb_slot_t *dubbo__lb_table_get(dubbo__lb_table_t *t, const char *key, bool *created)
{
    uint64_t h = fnv1a(key);
    *created = false;
    if (t->cap) {
        for (size_t i = (size_t)h & (t->cap - 1); t->slots[i].key; i = (i + 1) & (t->cap - 1))
            if (t->slots[i].hash == h && strcmp(t->slots[i].key, key) == 0) return &t->slots[i];
    }
    /* keep the load at most 1/2 so that probes stay short */
    if ((t->count + 1) * 2 > t->cap && rehash(t, t->cap ? t->cap * 2 : 16) != 0) return NULL;
    dubbo__lb_slot_t s;
    memset(&s, 0, sizeof(s));
    s.key = strdup(key);
    if (!s.key) return NULL;
    s.hash = h;
    place(t->slots, t->cap, &s);
    t->count++;
    *created = true;
    for (size_t i = (size_t)h & (t->cap - 1);; i = (i + 1) & (t->cap - 1))
        if (t->slots[i].key == s.key) return &t->slots[i];
}

void dubbo__lb_table_sweep(dubbo__lb_table_t *t, int64_t cutoff_ms)
{
    /* Removal from linear probing would need tombstones; sweeps are rare
     * (when the provider set changes), so copy the survivors into a new
     * array. Without memory, keep everything and sweep next time. */
    if (!t->cap) return;
    dubbo__lb_slot_t *ns = calloc(t->cap, sizeof(*ns));
    if (!ns) return;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].key) continue;
        if (t->slots[i].seen_ms < cutoff_ms) {
            free(t->slots[i].key);
            t->count--;
        } else {
            place(ns, t->cap, &t->slots[i]);
        }
    }
    free(t->slots);
    t->slots = ns;
}

void dubbo__lb_table_destroy(dubbo__lb_table_t *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].key);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

/* ---- per-method list ------------------------------------------------------------------ */

void **dubbo__lb_methods_find(const dubbo__lb_methods_t *m, const char *method)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->items[i].method, method) == 0) return &m->items[i].state;
    return NULL;
}

int dubbo__lb_methods_add(dubbo__lb_methods_t *m, const char *method, void *state)
{
    char *name = strdup(method);
    dubbo__lb_method_t *ni = name ? realloc(m->items, (m->n + 1) * sizeof(*ni)) : NULL;
    if (!ni) {
        free(name);
        return DUBBO_ENOMEM;
    }
    m->items = ni;
    m->items[m->n].method = name;
    m->items[m->n].state = state;
    m->n++;
    return 0;
}

void dubbo__lb_methods_destroy(dubbo__lb_methods_t *m, void (*free_state)(void *state))
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->items[i].method);
        if (free_state) free_state(m->items[i].state);
    }
    free(m->items);
    m->items = NULL;
    m->n = 0;
}

/* ---- MD5 ------------------------------------------------------------------------------ */

/* floor(|sin(i + 1)| * 2^32), RFC 1321 section 3.4 */
static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* per-round left rotations, four per round */
static const uint8_t md5_r[4][4] = {
    {7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

static uint32_t rotl(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static void md5_block(uint32_t h[4], const uint8_t *p)
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)p[i * 4] | (uint32_t)p[i * 4 + 1] << 8 | (uint32_t)p[i * 4 + 2] << 16 |
               (uint32_t)p[i * 4 + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        switch (i / 16) {
        case 0:
            f = (b & c) | (~b & d);
            g = i;
            break;
        case 1:
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
            break;
        case 2:
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
            break;
        default:
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
            break;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rotl(a + f + md5_k[i] + m[g], md5_r[i / 16][i % 4]);
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

void dubbo__md5_init(dubbo__md5_t *c)
{
    c->h[0] = 0x67452301;
    c->h[1] = 0xefcdab89;
    c->h[2] = 0x98badcfe;
    c->h[3] = 0x10325476;
    c->len = 0;
}

void dubbo__md5_update(dubbo__md5_t *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t used = (size_t)(c->len % 64);
    c->len += len;
    if (used) {
        size_t take = 64 - used < len ? 64 - used : len;
        memcpy(c->block + used, p, take);
        p += take;
        len -= take;
        if (used + take < 64) return;
        md5_block(c->h, c->block);
    }
    for (; len >= 64; p += 64, len -= 64)
        md5_block(c->h, p);
    if (len) memcpy(c->block, p, len);
}

void dubbo__md5_final(dubbo__md5_t *c, uint8_t digest[16])
{
    uint64_t bits = c->len * 8;
    static const uint8_t pad[64] = {0x80};
    size_t used = (size_t)(c->len % 64);
    /* 0x80, zeros up to 56 mod 64, then the bit length little-endian */
    dubbo__md5_update(c, pad, used < 56 ? 56 - used : 120 - used);
    uint8_t tail[8];
    for (int i = 0; i < 8; i++)
        tail[i] = (uint8_t)(bits >> (8 * i));
    dubbo__md5_update(c, tail, 8);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            digest[i * 4 + j] = (uint8_t)(c->h[i] >> (8 * j));
}

void dubbo__md5_hex(const void *data, size_t len, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    dubbo__md5_t c;
    uint8_t d[16];
    dubbo__md5_init(&c);
    dubbo__md5_update(&c, data, len);
    dubbo__md5_final(&c, d);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[32] = '\0';
}
