/* libFuzzer target: the protobuf-json serialization
 * (src/serialize/protobuf_json.c, id 21) on arbitrary bytes, through the
 * Dubbo codec as a provider and a consumer call it: the input decoded as a
 * request body, a response body, an error body and an event. Aborts on an
 * undocumented error code, on a decoder's message that names no offset,
 * and when what decoded does not write back the same bytes twice (decode,
 * encode, decode, encode: JSON's 64-bit integers become strings on the
 * first pass, nothing changes after). A 64 KiB arena exercises the limit
 * paths. */
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
    fprintf(stderr, "protobuf_json_decode_fuzz: %s (rc %d %s, message \"%s\")\n", what, rc,
            dubbo_err_name(rc), dubbo_last_error());
    abort();
}

static void check_error(int rc)
{
    switch (rc) {
    case DUBBO_EMALFORMED:
    case DUBBO_ETYPE:
    case DUBBO_ETOO_DEEP: break;
    case DUBBO_ETOO_BIG:
    case DUBBO_ENOMEM: return; /* the arena's message */
    default: fail("undocumented error code", rc);
    }
    const char *m = dubbo_last_error();
    /* the codec's own checks (kind, attachments' type, path) name none */
    if (!strstr(m, "offset ") && !strstr(m, "dubbo: ") && !strstr(m, "nested past"))
        fail("error message names no offset", rc);
}

static bool same(const dubbo_buf_t *a, const dubbo_buf_t *b)
{
    return a->len == b->len && (!a->len || memcmp(a->base, b->base, a->len) == 0);
}

/* Encodes what `data` decodes to, into out; false if it did not decode. */
static bool request_once(const dubbo_serialization_ops_t *pj, const uint8_t *data, size_t size,
                         dubbo_buf_t *out, bool first)
{
    dubbo_arena_t *a = dubbo_arena_new(first ? 64 << 10 : 0);
    dubbo_request_t req;
    int rc = dubbo_request_decode(pj, a, data, size, &req);
    if (rc) {
        if (!first) fail("cannot read a request written", rc);
        check_error(rc);
        dubbo_arena_free(a);
        return false;
    }
    rc = dubbo_request_encode(pj, out, &req);
    /* a typed attachment we cannot write as text */
    if (rc && (rc != DUBBO_ETYPE || !first)) fail("cannot write a request read", rc);
    dubbo_arena_free(a);
    return rc == 0;
}

static void request(const dubbo_serialization_ops_t *pj, const uint8_t *data, size_t size)
{
    dubbo_buf_t b1, b2;
    dubbo_buf_init(&b1, 0);
    dubbo_buf_init(&b2, 0);
    if (request_once(pj, data, size, &b1, true)) {
        dubbo_buf_t b3;
        dubbo_buf_init(&b3, 0);
        request_once(pj, b1.base, b1.len, &b2, false);
        request_once(pj, b2.base, b2.len, &b3, false);
        if (!same(&b2, &b3)) fail("a request changed through encode + decode", 0);
        dubbo_buf_destroy(&b3);
    }
    dubbo_buf_destroy(&b1);
    dubbo_buf_destroy(&b2);
}

static bool response_once(const dubbo_serialization_ops_t *pj, const uint8_t *data, size_t size,
                          dubbo_buf_t *out, bool first)
{
    dubbo_arena_t *a = dubbo_arena_new(first ? 64 << 10 : 0);
    dubbo_response_t res;
    int rc = dubbo_response_decode(pj, a, data, size, &res);
    if (rc) {
        if (!first) fail("cannot read a response written", rc);
        check_error(rc);
        dubbo_arena_free(a);
        return false;
    }
    bool exc = res.kind == 0 || res.kind == 3;
    rc = dubbo_response_encode(pj, out, res.value, exc, false, NULL);
    if (rc) fail("cannot write a response read", rc);
    dubbo_arena_free(a);
    return true;
}

static void response(const dubbo_serialization_ops_t *pj, const uint8_t *data, size_t size)
{
    dubbo_buf_t b1, b2, b3;
    dubbo_buf_init(&b1, 0);
    dubbo_buf_init(&b2, 0);
    dubbo_buf_init(&b3, 0);
    if (response_once(pj, data, size, &b1, true)) {
        response_once(pj, b1.base, b1.len, &b2, false);
        response_once(pj, b2.base, b2.len, &b3, false);
        if (!same(&b2, &b3)) fail("a response changed through encode + decode", 0);
    }
    dubbo_buf_destroy(&b1);
    dubbo_buf_destroy(&b2);
    dubbo_buf_destroy(&b3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const dubbo_serialization_ops_t *pj = dubbo_serialization_by_id(21);
    if (!pj) abort();
    request(pj, data, size);
    response(pj, data, size);
    /* an error body, as a consumer reads it */
    dubbo_arena_t *a = dubbo_arena_new(64 << 10);
    dubbo_serial_state_t d;
    pj->reader_init(&d, a, data, size);
    const char *s;
    size_t n;
    int rc = pj->read_string(&d, &s, &n);
    if (rc) check_error(rc);
    pj->reader_destroy(&d);
    dubbo_arena_free(a);
    /* an event */
    dubbo_frame_t f = {.flags = DUBBO_FLAG_EVENT | 21,
                       .body = data,
                       .body_len = (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size)};
    (void)dubbo_event_kind(&f);
    return 0;
}
