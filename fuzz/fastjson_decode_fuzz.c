/* libFuzzer target: the fastjson serialization (src/serialize/fastjson.c)
 * on arbitrary bytes, through the serialization table as the Dubbo codec
 * calls it.
 *
 * Reads values one after another, as a Dubbo body is read, until the input
 * is used up or an error (both framings: the first byte picks one). Aborts
 * when the reader breaks its contract (an undocumented error code, an error
 * message without an offset, no progress, a NULL value) or when a value it
 * read does not survive write + read unchanged. Also decodes the input as a
 * request and a response body, with a 4 KiB arena for the limit paths. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/error.h"
#include "dubbo/serialization.h"
#include "protocol/dubbo/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, int rc)
{
    fprintf(stderr, "fastjson_decode_fuzz: %s (rc %d %s, message \"%s\")\n", what, rc,
            dubbo_err_name(rc), dubbo_last_error());
    abort();
}

static void check_error(int rc)
{
    switch (rc) {
    case DUBBO_EMALFORMED:
    case DUBBO_ETOO_DEEP: break;
    case DUBBO_ETOO_BIG:
    case DUBBO_ENOMEM: return; /* the arena's message */
    default: fail("undocumented error code", rc);
    }
    if (!strstr(dubbo_last_error(), "offset ")) fail("error message names no offset", rc);
}

/* What we write of v reads back as an equal value. */
static void roundtrip(const dubbo_serialization_ops_t *fj, const dubbo_value_t *v)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, (size_t)64 << 20);
    dubbo_serial_state_t s;
    fj->writer_init(&s, &b);
    int rc = fj->write(&s, v);
    fj->writer_destroy(&s);
    /* a string read from JSON is always UTF-8 and nesting is bounded */
    if (rc && rc != DUBBO_ETOO_BIG && rc != DUBBO_ENOMEM) fail("cannot write a value read", rc);
    if (!rc) {
        dubbo_arena_t *a = dubbo_arena_new((size_t)64 << 20);
        dubbo_value_t *back = NULL;
        fj->reader_init(&s, a, b.base, b.len);
        rc = fj->read(&s, &back);
        if (rc && rc != DUBBO_ETOO_BIG && rc != DUBBO_ENOMEM)
            fail("cannot read a value written", rc);
        if (!rc && (!fj->reader_done(&s) || !dubbo_value_equal(v, back)))
            fail("a value changed through write + read", 0);
        fj->reader_destroy(&s);
        dubbo_arena_free(a);
    }
    dubbo_buf_destroy(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const dubbo_serialization_ops_t *fj = dubbo_serialization_by_name("fastjson");
    if (!fj) fail("fastjson is not registered", 0);
    dubbo_arena_t *a = dubbo_arena_new((size_t)16 << 20);
    dubbo_serial_state_t s;
    fj->reader_init(&s, a, data, size);
    while (!fj->reader_done(&s)) {
        size_t before = fj->reader_pos(&s);
        dubbo_value_t *v = NULL;
        int rc = fj->read(&s, &v);
        if (rc) {
            check_error(rc);
            break;
        }
        if (!v) fail("NULL value", 0);
        if (fj->reader_pos(&s) <= before) fail("no progress", 0);
        roundtrip(fj, v);
    }
    fj->reader_destroy(&s);
    dubbo_arena_free(a);

    a = dubbo_arena_new(4096);
    dubbo_request_t req;
    (void)dubbo_request_decode(fj, a, data, size, &req);
    dubbo_arena_reset(a);
    dubbo_response_t res;
    (void)dubbo_response_decode(fj, a, data, size, &res);
    dubbo_arena_free(a);
    return 0;
}
