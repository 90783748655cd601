/* libFuzzer target: the Hessian 2.0 decoder on arbitrary bytes.
 *
 * Decodes values one after another, as a Dubbo body is read, until the
 * input is used up or an error. Besides the sanitizers' findings, aborts
 * when the decoder breaks its contract: an undocumented error code, a
 * message that names no offset, a NULL value, no progress, or a typed JSON
 * rendering of a decoded value failing for a reason other than its buffer.
 * Each input is decoded three ways: with a 16 MiB arena and the default
 * depth, with a 4 KiB arena and depth 4 (the limit paths), and as strings
 * through dubbo_h2_decode_string(). The provider's attachment lookup
 * (dubbo__h2_map_find) must agree with the decoder on every input it
 * reads. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/error.h"
#include "dubbo/hessian2.h"
#include "dubbo/value.h"
#include "serialize/h2scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BIG_ARENA   ((size_t)16 << 20)
#define SMALL_ARENA ((size_t)4 << 10)
#define JSON_LIMIT  ((size_t)64 << 20)

static void fail(const char *what, int rc)
{
    fprintf(stderr, "hessian2_decode_fuzz: %s (rc %d %s, message \"%s\")\n", what, rc,
            dubbo_err_name(rc), dubbo_last_error());
    abort();
}

/* The codes dubbo_h2_decode() documents, each with a message naming the
 * offset (out of memory excepted: there may be no offset to name). */
static void check_error(int rc, bool string_api)
{
    switch (rc) {
    case DUBBO_ETRUNCATED:
    case DUBBO_EMALFORMED:
    case DUBBO_EBAD_REF:
    case DUBBO_ETOO_DEEP:
    case DUBBO_ETOO_BIG: break;
    case DUBBO_ENOMEM: return;
    case DUBBO_ETYPE:
        if (string_api) break;
        /* fall through */
    default: fail("undocumented error code", rc);
    }
    if (!strstr(dubbo_last_error(), "offset ")) fail("error message names no offset", rc);
}

static void decode_values(const uint8_t *data, size_t size, size_t limit, unsigned max_depth,
                          dubbo_buf_t *json)
{
    dubbo_arena_t *a = dubbo_arena_new(limit);
    if (!a) return;
    dubbo_h2_decoder_t d;
    dubbo_h2_decoder_init(&d, a, data, size);
    if (max_depth) d.max_depth = max_depth;
    while (!dubbo_h2_decoder_done(&d)) {
        size_t before = d.pos;
        dubbo_value_t *v = NULL;
        int rc = dubbo_h2_decode(&d, &v);
        if (rc) {
            check_error(rc, false);
            break;
        }
        if (!v) fail("decode returned a NULL value", 0);
        if (d.pos <= before || d.pos > size) fail("decode made no progress or overran", 0);
        if (json) {
            dubbo_buf_clear(json);
            rc = dubbo_value_to_json(v, json);
            if (rc && rc != DUBBO_ETOO_BIG && rc != DUBBO_ENOMEM)
                fail("typed JSON of a decoded value failed", rc);
        }
    }
    dubbo_h2_decoder_destroy(&d);
    dubbo_arena_free(a);
}

static void decode_strings(const uint8_t *data, size_t size)
{
    dubbo_arena_t *a = dubbo_arena_new(BIG_ARENA);
    if (!a) return;
    dubbo_h2_decoder_t d;
    dubbo_h2_decoder_init(&d, a, data, size);
    while (!dubbo_h2_decoder_done(&d)) {
        size_t before = d.pos;
        const char *s = NULL;
        size_t len = 0;
        int rc = dubbo_h2_decode_string(&d, &s, &len);
        if (rc) {
            check_error(rc, true);
            if (rc == DUBBO_ETYPE && d.pos != before) fail("DUBBO_ETYPE moved the decoder", rc);
            break;
        }
        if (d.pos <= before) fail("decode_string made no progress", 0);
        if (s && s[len] != '\0') fail("decoded string is not NUL-terminated", 0);
        if (!s && len != 0) fail("null string with a length", 0);
    }
    dubbo_h2_decoder_destroy(&d);
    dubbo_arena_free(a);
}

/* The one-shot API agrees with the stream decoder on the first value. */
static void decode_one_shot(const uint8_t *data, size_t size)
{
    dubbo_arena_t *a = dubbo_arena_new(BIG_ARENA);
    if (!a) return;
    dubbo_value_t *v = NULL;
    size_t used = 0;
    int rc = dubbo_hessian2_decode(a, data, size, &v, &used);
    if (rc) {
        check_error(rc, false);
    } else {
        if (!v || used == 0 || used > size) fail("one-shot decode: bad value or length", 0);
        rc = dubbo_hessian2_decode(a, data, size, &v, NULL);
        if (used == size && rc) fail("one-shot decode of exactly one value failed", rc);
        if (used < size && rc != DUBBO_EMALFORMED) fail("trailing bytes were not refused", rc);
    }
    dubbo_arena_free(a);
}

/* The provider's attachment lookup (src/serialize/h2scan.h) against the
 * decoder: when it reads the input as a map, the decoder must read the
 * same map from the same bytes, and give the same value for each key. */
static bool same_value(const dubbo_value_t *x, const dubbo_value_t *y)
{
    if (!x || !y) return !x && !y;
    dubbo_buf_t a, b;
    dubbo_buf_init(&a, 0);
    dubbo_buf_init(&b, 0);
    bool ok = !dubbo_hessian2_encode(x, &a) && !dubbo_hessian2_encode(y, &b) && a.len == b.len &&
              (!a.len || memcmp(a.base, b.base, a.len) == 0);
    dubbo_buf_destroy(&a);
    dubbo_buf_destroy(&b);
    return ok;
}

static void lookup_attachments(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"path", "x", ""};
    dubbo_arena_t *a = dubbo_arena_new(BIG_ARENA);
    if (!a) return;
    dubbo_value_t *whole = NULL;
    int whole_rc = -1;
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        dubbo_value_t *v = NULL;
        if (dubbo__h2_map_find(a, data, size, keys[k], &v)) continue;
        if (whole_rc == -1) whole_rc = dubbo_hessian2_decode(a, data, size, &whole, NULL);
        if (whole_rc == DUBBO_ENOMEM) break;
        if (whole_rc || !whole || (whole->type != DUBBO_T_MAP && whole->type != DUBBO_T_NULL))
            fail("the attachment lookup read a map the decoder does not", whole_rc);
        const dubbo_value_t *want =
            whole->type == DUBBO_T_MAP ? dubbo_map_get(whole, keys[k]) : NULL;
        if (!same_value(v, want)) fail("the attachment lookup found another value", 0);
    }
    dubbo_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lookup_attachments(data, size);
    dubbo_buf_t json;
    dubbo_buf_init(&json, JSON_LIMIT);
    decode_values(data, size, BIG_ARENA, 0, &json);
    decode_values(data, size, SMALL_ARENA, 4, NULL);
    decode_strings(data, size);
    decode_one_shot(data, size);
    dubbo_buf_destroy(&json);
    return 0;
}
