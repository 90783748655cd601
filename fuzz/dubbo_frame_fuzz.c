/* libFuzzer target for the Dubbo protocol codec: the input is the byte
 * stream of one connection. It is cut into frames with dubbo_frame_decode
 * as a connection does, and each complete frame's body is decoded as a
 * request, a response, an error message or an event by its header, with an
 * arena limit. A decoded request or response is encoded, decoded and encoded
 * again; the two encodings must be the same bytes (or the process aborts). Seeds:
 * fuzz/corpus/dubbo/ (frames captured from Node consumers). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/buf.h"
#include "dubbo/error.h"
#include "dubbo/hessian2.h"
#include "dubbo/value.h"
#include "dubbo/rpc.h"
#include "core/jvm.h"
#include "protocol/dubbo/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small enough that the fuzzer reaches the limits, big enough for real
 * frames. */
#define MAX_PAYLOAD ((size_t)64 << 10)
#define ARENA_LIMIT ((size_t)1 << 20)

/* Our own output must decode; only the limits may stop it. */
static void must_decode(int rc)
{
    if (rc && rc != DUBBO_ETOO_BIG && rc != DUBBO_ETOO_DEEP && rc != DUBBO_ENOMEM) abort();
}

static bool same_bytes(const dubbo_buf_t *x, const dubbo_buf_t *y)
{
    return x->len == y->len && (x->len == 0 || memcmp(x->base, y->base, x->len) == 0);
}

static int encode_request(dubbo_buf_t *out, const dubbo_request_t *req)
{
    /* A peer may send null for the version; we write "" for it. */
    dubbo_request_t copy = *req;
    if (!copy.version) copy.version = "";
    return dubbo_request_encode(NULL, out, &copy);
}

/* decode -> encode (E1) -> decode -> encode (E2): E1 must decode to the
 * same shape and E2 must equal E1 byte for byte (values compare through
 * their encoding, so Java's -0.0 -> 0.0 is no false alarm). */
static void request_roundtrip(const dubbo_request_t *req)
{
    dubbo_buf_t e1, e2;
    dubbo_buf_init(&e1, 4 * MAX_PAYLOAD);
    dubbo_buf_init(&e2, 4 * MAX_PAYLOAD);
    dubbo_arena_t *a2 = dubbo_arena_new(4 * ARENA_LIMIT);
    if (a2 && encode_request(&e1, req) == 0) {
        dubbo_request_t back;
        int rc = dubbo_request_decode(NULL, a2, e1.base, e1.len, &back);
        must_decode(rc);
        if (rc == 0) {
            if (back.nargs != req->nargs || !back.path || strcmp(back.path, req->path) != 0 ||
                !back.method || strcmp(back.method, req->method) != 0)
                abort();
            if (encode_request(&e2, &back) != 0 || !same_bytes(&e1, &e2)) abort();
        }
    }
    dubbo_arena_free(a2);
    dubbo_buf_destroy(&e1);
    dubbo_buf_destroy(&e2);
}

static int encode_response(dubbo_buf_t *out, const dubbo_response_t *res)
{
    bool exc = res->kind == DUBBO_RESPONSE_WITH_EXCEPTION ||
               res->kind == DUBBO_RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS;
    bool attach = res->kind >= DUBBO_RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS;
    return dubbo_response_encode(NULL, out, res->value, exc, attach, res->attachments);
}

static void response_roundtrip(const dubbo_response_t *res)
{
    dubbo_buf_t e1, e2;
    dubbo_buf_init(&e1, 4 * MAX_PAYLOAD);
    dubbo_buf_init(&e2, 4 * MAX_PAYLOAD);
    dubbo_arena_t *a2 = dubbo_arena_new(4 * ARENA_LIMIT);
    if (a2 && encode_response(&e1, res) == 0) {
        dubbo_response_t back;
        int rc = dubbo_response_decode(NULL, a2, e1.base, e1.len, &back);
        must_decode(rc);
        if (rc == 0) {
            /* A value response of null is written as the null kind. */
            bool null_value = !res->value || res->value->type == DUBBO_T_NULL;
            int kind = res->kind;
            if (null_value &&
                (kind == DUBBO_RESPONSE_VALUE || kind == DUBBO_RESPONSE_VALUE_WITH_ATTACHMENTS))
                kind++;
            if (back.kind != kind) abort();
            if (kind >= DUBBO_RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS && !back.attachments)
                abort();
            if (encode_response(&e2, &back) != 0 || !same_bytes(&e1, &e2)) abort();
        }
    }
    dubbo_arena_free(a2);
    dubbo_buf_destroy(&e1);
    dubbo_buf_destroy(&e2);
}

static void body(dubbo_arena_t *a, const dubbo_frame_t *f)
{
    if (dubbo_frame_is_event(f)) {
        /* heartbeats and other events carry one value (null for heartbeats) */
        dubbo_value_t *v;
        (void)dubbo_hessian2_decode(a, f->body, f->body_len, &v, NULL);
    } else if (dubbo_frame_is_request(f)) {
        dubbo_request_t req;
        if (dubbo_request_decode(NULL, a, f->body, f->body_len, &req) == 0) {
            /* what a server does next with the peer's strings */
            (void)dubbo_version_supports_attachments(req.dubbo_version);
            if (req.desc) (void)dubbo__jvm_desc_count(req.desc);
            request_roundtrip(&req);
        }
    } else if (f->status == DUBBO_STATUS_OK) {
        dubbo_response_t res;
        if (dubbo_response_decode(NULL, a, f->body, f->body_len, &res) == 0) {
            if (res.kind == DUBBO_RESPONSE_WITH_EXCEPTION ||
                res.kind == DUBBO_RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS)
                (void)dubbo_exception_message(res.value);
            response_roundtrip(&res);
        }
    } else {
        /* an error response: the message as one string */
        dubbo_value_t *v;
        (void)dubbo_hessian2_decode(a, f->body, f->body_len, &v, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dubbo_arena_t *a = dubbo_arena_new(ARENA_LIMIT);
    if (!a) return 0;
    size_t off = 0;
    while (off < size) {
        dubbo_frame_t f;
        int64_t n = dubbo_frame_decode(data + off, size - off, MAX_PAYLOAD, &f);
        /* 0: the stream ends inside a frame; < 0: the connection would be
         * closed. Either way nothing more is read. */
        if (n <= 0) break;
        if ((uint64_t)n > size - off || (uint64_t)n != DUBBO_HEADER_LEN + (uint64_t)f.body_len ||
            f.body != data + off + DUBBO_HEADER_LEN || f.body_len > MAX_PAYLOAD)
            abort();
        body(a, &f);
        dubbo_arena_reset(a);
        off += (size_t)n;
    }
    dubbo_arena_free(a);
    return 0;
}
