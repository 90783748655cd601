/* libFuzzer target: the protobuf serialization (src/serialize/protobuf.c)
 * on arbitrary bytes, through the Dubbo codec as a provider and a consumer
 * call it: the input decoded as a request body, a response body, an error
 * body and an event. Aborts on an undocumented error code, on a decoder's
 * message that names no offset, and when a request or response that
 * decoded does not survive encode + decode unchanged. A 64 KiB arena
 * exercises the limit paths. */
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
    fprintf(stderr, "protobuf_decode_fuzz: %s (rc %d %s, message \"%s\")\n", what, rc,
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

static bool same_value(const dubbo_value_t *a, const dubbo_value_t *b)
{
    return dubbo_value_equal(a, b);
}

static void request(const dubbo_serialization_ops_t *pb, const uint8_t *data, size_t size)
{
    dubbo_arena_t *a = dubbo_arena_new(64 << 10);
    dubbo_request_t req;
    int rc = dubbo_request_decode(pb, a, data, size, &req);
    if (rc) {
        check_error(rc);
        dubbo_arena_free(a);
        return;
    }
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    rc = dubbo_request_encode(pb, &b, &req);
    if (rc && rc != DUBBO_ETYPE) fail("cannot write a request read", rc);
    if (!rc) {
        dubbo_arena_t *a2 = dubbo_arena_new(0);
        dubbo_request_t back;
        rc = dubbo_request_decode(pb, a2, b.base, b.len, &back);
        if (rc) fail("cannot read a request written", rc);
        if (strcmp(back.path, req.path) || strcmp(back.method, req.method) ||
            back.nargs != req.nargs)
            fail("a request changed through encode + decode", 0);
        for (size_t i = 0; i < req.nargs; i++)
            if (!same_value(back.args[i], req.args[i])) fail("an argument changed", 0);
        dubbo_arena_free(a2);
    }
    dubbo_buf_destroy(&b);
    dubbo_arena_free(a);
}

static void response(const dubbo_serialization_ops_t *pb, const uint8_t *data, size_t size)
{
    dubbo_arena_t *a = dubbo_arena_new(64 << 10);
    dubbo_response_t res;
    int rc = dubbo_response_decode(pb, a, data, size, &res);
    if (rc) {
        check_error(rc);
        dubbo_arena_free(a);
        return;
    }
    bool exc = res.kind == 0 || res.kind == 3;
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    rc = dubbo_response_encode(pb, &b, res.value, exc, false, NULL);
    if (rc) fail("cannot write a response read", rc);
    dubbo_arena_t *a2 = dubbo_arena_new(0);
    dubbo_response_t back;
    if ((rc = dubbo_response_decode(pb, a2, b.base, b.len, &back)))
        fail("cannot read a response written", rc);
    if (!exc && res.value && res.value->type == DUBBO_T_BINARY &&
        !same_value(back.value, res.value))
        fail("a response value changed through encode + decode", 0);
    dubbo_arena_free(a2);
    dubbo_buf_destroy(&b);
    dubbo_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const dubbo_serialization_ops_t *pb = dubbo_serialization_by_id(22);
    if (!pb) abort();
    request(pb, data, size);
    response(pb, data, size);
    /* an error body, as a consumer reads it */
    dubbo_arena_t *a = dubbo_arena_new(64 << 10);
    dubbo_serial_state_t d;
    pb->reader_init(&d, a, data, size);
    const char *s;
    size_t n;
    int rc = pb->read_string(&d, &s, &n);
    if (rc) check_error(rc);
    pb->reader_destroy(&d);
    dubbo_arena_free(a);
    /* an event */
    dubbo_frame_t f = {.flags = DUBBO_FLAG_EVENT | 22,
                       .body = data,
                       .body_len = (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size)};
    (void)dubbo_event_kind(&f);
    return 0;
}
