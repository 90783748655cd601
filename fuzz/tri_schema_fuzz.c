/* libFuzzer target for protobuf without generated code
 * (src/protocol/tri/schema.c), on the schema of
 * tests/unit/proto/schema_test{,2}.proto (protoc's descriptor set, made at
 * build time and embedded: SCHEMA_SET). The first byte picks a message
 * type; the rest is decoded with dubbo_tri_pb_to_value. A decoded value
 * must encode again, decode to an equal value and encode to the same
 * bytes; its JSON must read back to a message whose JSON is the same
 * text. The rest is also read as JSON for that type; what it gives must
 * decode. The process aborts on any of these, or on an error code the
 * header does not document. Seeds: fuzz/corpus/tri_schema/ (protoc-c's
 * encodings of tests/unit/tri_schema_test.c's messages, a type byte
 * first). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/buf.h"
#include "dubbo/error.h"
#include "dubbo/triple.h"
#include "dubbo/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The descriptor set, in the binary as it is. */
__asm__(".section .rodata\n"
        ".balign 16\n"
        "tri_schema_fuzz_set:\n"
        ".incbin \"" SCHEMA_SET "\"\n"
        "tri_schema_fuzz_set_end:\n"
        ".previous\n");
extern const uint8_t tri_schema_fuzz_set[] __asm__("tri_schema_fuzz_set");
extern const uint8_t tri_schema_fuzz_set_end[] __asm__("tri_schema_fuzz_set_end");

static const char *const types[] = {
    "schematest.Scalars", "schematest.Outer", "schematest.Outer.Inner",
    "schematest.Deep",    "schematest2.P2",
};

static dubbo_tri_schema_t *schema(void)
{
    static dubbo_tri_schema_t *s;
    if (!s && dubbo_tri_schema_load(&s, tri_schema_fuzz_set,
                                    (size_t)(tri_schema_fuzz_set_end - tri_schema_fuzz_set)) != 0)
        abort();
    return s;
}

static bool same(const dubbo_buf_t *a, const dubbo_buf_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->base, b->base, a->len) == 0);
}

/* protobuf -> value -> protobuf -> value: equal values, equal bytes. */
static void round_trip(const dubbo_tri_schema_t *s, const char *type, const uint8_t *p, size_t n)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    if (!a) return;
    dubbo_value_t *v1 = NULL, *v2 = NULL, *v3 = NULL;
    int rc = dubbo_tri_pb_to_value(s, type, p, n, a, &v1);
    if (rc && rc != DUBBO_EMALFORMED && rc != DUBBO_ETRUNCATED && rc != DUBBO_ETOO_DEEP &&
        rc != DUBBO_ENOMEM)
        abort();
    if (rc) {
        if (v1) abort();
        dubbo_arena_free(a);
        return;
    }
    dubbo_buf_t b1, b2;
    dubbo_buf_init(&b1, 0);
    dubbo_buf_init(&b2, 0);
    /* what was decoded encodes, with no error at all */
    if (dubbo_tri_pb_from_value(s, type, v1, &b1) != 0) abort();
    if (dubbo_tri_pb_to_value(s, type, b1.base ? b1.base : (const uint8_t *)"", b1.len, a, &v2) !=
        0)
        abort();
    if (!dubbo_value_equal(v1, v2)) abort();
    if (dubbo_tri_pb_from_value(s, type, v2, &b2) != 0 || !same(&b1, &b2)) abort();
    if (dubbo_tri_pb_to_value(s, type, b2.base ? b2.base : (const uint8_t *)"", b2.len, a, &v3) !=
            0 ||
        !dubbo_value_equal(v2, v3))
        abort();
    dubbo_buf_destroy(&b1);
    dubbo_buf_destroy(&b2);
    dubbo_arena_free(a);
}

/* protobuf -> JSON -> protobuf -> JSON: the same text (NaN's payload and
 * such do not survive JSON, so the texts are compared, not values). */
static void json_trip(const dubbo_tri_schema_t *s, const char *type, const uint8_t *p, size_t n)
{
    char *j1 = NULL, *j2 = NULL;
    int rc = dubbo_tri_pb_to_json(s, type, p, n, &j1);
    if (rc && rc != DUBBO_EMALFORMED && rc != DUBBO_ETRUNCATED && rc != DUBBO_ETOO_DEEP &&
        rc != DUBBO_ENOMEM)
        abort();
    if (rc) {
        if (j1) abort();
        return;
    }
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    rc = dubbo_tri_json_to_pb(s, type, j1, strlen(j1), &b);
    /* the one text it writes that it cannot read: a NUL in a map key
     * (jansson takes none in object keys) */
    if (rc == DUBBO_EMALFORMED && strstr(j1, "\\u0000")) {
        free(j1);
        dubbo_buf_destroy(&b);
        return;
    }
    if (rc) abort();
    if (dubbo_tri_pb_to_json(s, type, b.base ? b.base : (const uint8_t *)"", b.len, &j2) != 0)
        abort();
    if (strcmp(j1, j2) != 0) abort();
    free(j1);
    free(j2);
    dubbo_buf_destroy(&b);
}

/* The input as JSON: a documented error, or a message that decodes. */
static void json_in(const dubbo_tri_schema_t *s, const char *type, const uint8_t *p, size_t n)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    int rc = dubbo_tri_json_to_pb(s, type, (const char *)p, n, &b);
    if (rc && rc != DUBBO_EMALFORMED && rc != DUBBO_ETYPE && rc != DUBBO_ENOT_FOUND &&
        rc != DUBBO_ETOO_DEEP && rc != DUBBO_ENOMEM)
        abort();
    if (rc && b.len) abort();
    if (!rc) {
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *v;
        if (a && dubbo_tri_pb_to_value(s, type, b.base ? b.base : (const uint8_t *)"", b.len, a,
                                       &v) != 0)
            abort();
        dubbo_arena_free(a);
    }
    dubbo_buf_destroy(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const dubbo_tri_schema_t *s = schema();
    const char *type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
    round_trip(s, type, data + 1, size - 1);
    json_trip(s, type, data + 1, size - 1);
    json_in(s, type, data + 1, size - 1);
    return 0;
}
