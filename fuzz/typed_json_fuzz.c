/* libFuzzer target: typed JSON (src/serialize/typed_json.c), the text form
 * of values that arrives from the network in Triple's unary JSON calls and
 * from users of `dubbo call`: dubbo_value_from_json() on the whole input,
 * and dubbo_json_read() over it as a stream of documents (as a body of
 * several values is read). Aborts on an undocumented error code, a
 * malformed-input message that says neither where (line/column or JSONPath)
 * nor what, a stream read that does not advance, or a value that does not
 * survive to_json -> from_json unchanged (and print the same bytes twice). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/buf.h"
#include "dubbo/error.h"
#include "dubbo/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, int rc)
{
    fprintf(stderr, "typed_json_fuzz: %s (rc %d %s, message \"%s\")\n", what, rc,
            dubbo_err_name(rc), dubbo_last_error());
    abort();
}

static void check_error(int rc)
{
    switch (rc) {
    case DUBBO_EMALFORMED:
    case DUBBO_ETOO_DEEP:
        if (strncmp(dubbo_last_error(), "typed JSON: ", 12) != 0)
            fail("message does not start with \"typed JSON: \"", rc);
        break;
    case DUBBO_ETOO_BIG:
    case DUBBO_ENOMEM: break;
    default: fail("undocumented error code", rc);
    }
}

/* v prints, reads back equal, and prints the same again. */
static void roundtrip(const dubbo_value_t *v)
{
    dubbo_buf_t b1, b2;
    dubbo_buf_init(&b1, (size_t)64 << 20);
    dubbo_buf_init(&b2, (size_t)64 << 20);
    int rc = dubbo_value_to_json(v, &b1);
    if (rc && rc != DUBBO_ETOO_BIG && rc != DUBBO_ENOMEM && rc != DUBBO_ETOO_DEEP)
        fail("a value read does not print", rc);
    if (!rc) {
        dubbo_arena_t *a = dubbo_arena_new((size_t)64 << 20);
        dubbo_value_t *back = NULL;
        rc = dubbo_value_from_json(a, (const char *)b1.base, b1.len, &back);
        if (rc && rc != DUBBO_ETOO_BIG && rc != DUBBO_ENOMEM)
            fail("printed JSON does not read", rc);
        if (!rc) {
            if (!dubbo_value_equal(v, back)) fail("a value changed through print + read", 0);
            rc = dubbo_value_to_json(back, &b2);
            if (!rc && (b1.len != b2.len || memcmp(b1.base, b2.base, b1.len) != 0))
                fail("printing the value read back gives other bytes", 0);
        }
        dubbo_arena_free(a);
    }
    dubbo_buf_destroy(&b1);
    dubbo_buf_destroy(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    dubbo_arena_t *a = dubbo_arena_new((size_t)16 << 20);
    dubbo_value_t *v = NULL;
    int rc = dubbo_value_from_json(a, text, size, &v);
    if (rc)
        check_error(rc);
    else if (!v)
        fail("success without a value", 0);
    else
        roundtrip(v);
    dubbo_arena_free(a);

    /* the same bytes as a stream of documents, one reader for all */
    a = dubbo_arena_new((size_t)16 << 20);
    dubbo_json_reader_t *r = dubbo_json_reader_new(a);
    size_t pos = 0;
    for (int i = 0; r && pos < size && i < 64; i++) {
        size_t before = pos;
        v = NULL;
        rc = dubbo_json_read(r, text, size, &pos, &v);
        if (rc) {
            check_error(rc);
            break;
        }
        if (!v) fail("stream: success without a value", 0);
        if (pos <= before || pos > size) fail("stream: position did not advance", 0);
    }
    dubbo_json_reader_free(r);
    dubbo_arena_free(a);

    /* a small arena: the limit paths */
    a = dubbo_arena_new(4096);
    rc = dubbo_value_from_json(a, text, size, &v);
    if (rc) check_error(rc);
    dubbo_arena_free(a);
    return 0;
}
