/* libFuzzer target: Hessian 2.0 decode -> encode -> decode.
 *
 * Whatever the decoder accepts, the encoder must write, and reading that
 * back must give an equal value graph. The values decoded from the input
 * (one stream of several values, sharing classes, types and references)
 * are encoded with one encoder into bytes E1 and decoded again; each value
 * must equal its original (dubbo_value_equal), and encoding the second
 * generation must give E1 again, byte for byte.
 *
 * The one allowed difference: Java's rule writes -0.0 as 0x5b (0.0), so a
 * -0.0 read from a 'D' comes back as 0.0; the originals have their -0.0
 * turned into 0.0 before they are compared. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/error.h"
#include "dubbo/hessian2.h"
#include "dubbo/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_LIMIT  ((size_t)16 << 20)
#define ARENA2_LIMIT ((size_t)64 << 20)
#define OUT_LIMIT    ((size_t)64 << 20)
#define MAX_VALUES   256

static void fail(const char *what, int rc)
{
    fprintf(stderr, "hessian2_roundtrip_fuzz: %s (rc %d %s, message \"%s\")\n", what, rc,
            dubbo_err_name(rc), dubbo_last_error());
    abort();
}

/* A set of container pointers already visited (open addressing). */
typedef struct {
    const void **slots;
    size_t cap, n;
} ptrset_t;

static size_t hash_ptr(const void *p, size_t mask)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 17) & mask;
}

/* Adds p; returns false if it was already there. */
static bool ptrset_add(ptrset_t *s, const void *p)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        const void **ns = calloc(ncap, sizeof(*ns));
        if (!ns) fail("out of memory in the harness", 0);
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i]) continue;
            size_t h = hash_ptr(s->slots[i], ncap - 1);
            while (ns[h])
                h = (h + 1) & (ncap - 1);
            ns[h] = s->slots[i];
        }
        free(s->slots);
        s->slots = ns;
        s->cap = ncap;
    }
    size_t h = hash_ptr(p, s->cap - 1);
    while (s->slots[h]) {
        if (s->slots[h] == p) return false;
        h = (h + 1) & (s->cap - 1);
    }
    s->slots[h] = p;
    s->n++;
    return true;
}

/* Turn every -0.0 into 0.0. Each container is visited once; the recursion
 * follows the decoder's own nesting, so it is bounded by its depth limit. */
static void clear_negative_zeros(dubbo_value_t *v, ptrset_t *seen)
{
    if (!v) return;
    switch (v->type) {
    case DUBBO_T_DOUBLE:
        if (v->u.d == 0 && signbit(v->u.d)) v->u.d = 0.0;
        return;
    case DUBBO_T_LIST:
        if (!ptrset_add(seen, v)) return;
        for (size_t i = 0; i < v->u.list.len; i++)
            clear_negative_zeros(v->u.list.items[i], seen);
        return;
    case DUBBO_T_MAP:
        if (!ptrset_add(seen, v)) return;
        for (size_t i = 0; i < v->u.map.len; i++) {
            clear_negative_zeros(v->u.map.items[i].key, seen);
            clear_negative_zeros(v->u.map.items[i].value, seen);
        }
        return;
    case DUBBO_T_OBJECT:
        if (!ptrset_add(seen, v)) return;
        for (size_t i = 0; i < v->u.obj.cls->nfields; i++)
            clear_negative_zeros(v->u.obj.fields[i], seen);
        return;
    default: return;
    }
}

/* Decode up to MAX_VALUES values; stop quietly at the first error. */
static size_t decode_stream(dubbo_arena_t *a, const uint8_t *in, size_t len, dubbo_value_t **vals,
                            int *err)
{
    dubbo_h2_decoder_t d;
    dubbo_h2_decoder_init(&d, a, in, len);
    size_t n = 0;
    *err = 0;
    while (n < MAX_VALUES && !dubbo_h2_decoder_done(&d)) {
        int rc = dubbo_h2_decode(&d, &vals[n]);
        if (rc) {
            *err = rc;
            break;
        }
        n++;
    }
    dubbo_h2_decoder_destroy(&d);
    return n;
}

static int encode_stream(dubbo_value_t **vals, size_t n, dubbo_buf_t *out)
{
    dubbo_h2_encoder_t e;
    dubbo_h2_encoder_init(&e, out);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = dubbo_h2_encode(&e, vals[i]);
    dubbo_h2_encoder_destroy(&e);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static dubbo_value_t *v1[MAX_VALUES], *v2[MAX_VALUES];
    dubbo_arena_t *a1 = dubbo_arena_new(ARENA_LIMIT), *a2 = dubbo_arena_new(ARENA2_LIMIT);
    dubbo_buf_t e1, e2;
    dubbo_buf_init(&e1, OUT_LIMIT);
    dubbo_buf_init(&e2, OUT_LIMIT);
    if (!a1 || !a2) goto done;

    int err;
    size_t n = decode_stream(a1, data, size, v1, &err);
    if (n == 0) goto done;

    int rc = encode_stream(v1, n, &e1);
    if (rc == DUBBO_ETOO_BIG || rc == DUBBO_ENOMEM) goto done;
    if (rc) fail("a decoded value does not encode", rc);

    size_t n2 = decode_stream(a2, e1.base, e1.len, v2, &err);
    if (err) fail("the encoder's output does not decode", err);
    if (n2 != n) fail("the encoder's output holds another number of values", 0);

    ptrset_t seen = {0};
    for (size_t i = 0; i < n; i++)
        clear_negative_zeros(v1[i], &seen);
    free(seen.slots);
    for (size_t i = 0; i < n; i++)
        if (!dubbo_value_equal(v1[i], v2[i])) {
            fprintf(stderr, "value %zu of %zu differs after the round trip\n", i, n);
            fail("decode(encode(v)) != v", 0);
        }

    rc = encode_stream(v2, n2, &e2);
    if (rc) fail("the second generation does not encode", rc);
    if (e1.len != e2.len || memcmp(e1.base, e2.base, e1.len) != 0)
        fail("encoding is not stable: encode(decode(E1)) != E1", 0);

done:
    dubbo_buf_destroy(&e1);
    dubbo_buf_destroy(&e2);
    dubbo_arena_free(a1);
    dubbo_arena_free(a2);
    return 0;
}
