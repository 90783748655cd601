/* The Dubbo binary protocol codec (Java's ExchangeCodec + DubboCodec): the
 * 16-byte header, request/response/event bodies in hessian2. No I/O: it
 * parses bytes it is given and appends bytes to a buffer, so every case is
 * testable byte for byte and fuzzable. */
#ifndef DUBBO_PROTOCOL_DUBBO_CODEC_H
#define DUBBO_PROTOCOL_DUBBO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"
#include "dubbo/buf.h"
#include "dubbo/serialization.h"
#include "dubbo/value.h"
#include "dubbo/value.h"

#define DUBBO_HEADER_LEN 16
#define DUBBO_MAGIC_HI   0xda
#define DUBBO_MAGIC_LO   0xbb

/* Byte 2 of the header. */
#define DUBBO_FLAG_REQUEST 0x80
#define DUBBO_FLAG_TWOWAY  0x40
#define DUBBO_FLAG_EVENT   0x20
#define DUBBO_SERIAL_MASK  0x1f

#define DUBBO_SERIAL_HESSIAN2 2

/* Default payload limit (the `payload` URL parameter), Java's 8 MiB. */
#define DUBBO_DEFAULT_PAYLOAD ((size_t)8 << 20)

/* The protocol version we announce; >= 2.0.2 (outside 2.0.10-2.6.2) means
 * "responses may carry attachments". */
#define DUBBO_PROTOCOL_VERSION "2.0.2"

/* Response body kinds (the first value of a response body). */
enum {
    DUBBO_RESPONSE_WITH_EXCEPTION = 0,
    DUBBO_RESPONSE_VALUE = 1,
    DUBBO_RESPONSE_NULL_VALUE = 2,
    DUBBO_RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS = 3,
    DUBBO_RESPONSE_VALUE_WITH_ATTACHMENTS = 4,
    DUBBO_RESPONSE_NULL_VALUE_WITH_ATTACHMENTS = 5,
};

/* A parsed frame; `body` points into the caller's input. */
typedef struct {
    uint8_t flags;  /* header byte 2 */
    uint8_t status; /* header byte 3 (responses) */
    uint64_t id;
    uint32_t body_len;
    const uint8_t *body;
} dubbo_frame_t;

static inline bool dubbo_frame_is_request(const dubbo_frame_t *f)
{
    return f->flags & DUBBO_FLAG_REQUEST;
}
static inline bool dubbo_frame_is_event(const dubbo_frame_t *f)
{
    return f->flags & DUBBO_FLAG_EVENT;
}
static inline bool dubbo_frame_is_twoway(const dubbo_frame_t *f)
{
    return f->flags & DUBBO_FLAG_TWOWAY;
}
static inline int dubbo_frame_serial(const dubbo_frame_t *f)
{
    return f->flags & DUBBO_SERIAL_MASK;
}

/* Parse one frame from in[0..len). Checks the magic and the payload limit
 * from the header alone, before the body is there; not the serialization
 * id (dubbo_frame_serialization: a provider answers an unknown one).
 * Returns the frame's total length (> 0), 0 when more bytes are needed, or
 * DUBBO_EMALFORMED (bad magic) / DUBBO_ETOO_BIG (body length past
 * max_payload), with a detail message. */
int64_t dubbo_frame_decode(const uint8_t *in, size_t len, size_t max_payload, dubbo_frame_t *f);

/* The serialization the frame's header names, or DUBBO_EUNSUPPORTED with
 * a message naming the id (dubbo_frame_decode does not judge it). */
int dubbo_frame_serialization(const dubbo_frame_t *f, const dubbo_serialization_ops_t **out);

/* What an event frame's body holds, read with the serialization its header
 * names: a heartbeat's null, the readonly event's "R", or anything else
 * (also an unknown serialization or an unreadable body). */
enum { DUBBO_EVENT_OTHER, DUBBO_EVENT_HEARTBEAT, DUBBO_EVENT_READONLY };
int dubbo_event_kind(const dubbo_frame_t *f);

/* Append the whole answer to the heartbeat f (an event response, status
 * OK, a null body) in f's serialization (hessian2 for an unknown one). */
int dubbo_event_answer(const dubbo_frame_t *f, dubbo_buf_t *out);

/* Write a 16-byte header. */
void dubbo_frame_header(uint8_t out[DUBBO_HEADER_LEN], uint8_t flags, uint8_t status, uint64_t id,
                        uint32_t body_len);

/* One attachment to encode: a string value, or an int when `str` is NULL. */
typedef struct {
    const char *key;
    const char *str;
    int32_t i;
} dubbo_att_t;

/* A request body (Java's DecodeableRpcInvocation). Strings live in the
 * arena the body was decoded into (or belong to the caller when encoding). */
typedef struct {
    const char *dubbo_version; /* "2.0.2" */
    const char *path;          /* service path, usually the interface name */
    const char *version;       /* service version; NULL or "" for none */
    const char *method;
    const char *desc; /* JVM parameter descriptor, e.g. "Ljava/lang/String;I" */
    size_t nargs;
    dubbo_value_t **args;
    dubbo_value_t *attachments; /* a map (string keys), or NULL */
    /* Encoding only: entries written after those of `attachments`, so
     * that a consumer need not build a map for each call. */
    const dubbo_att_t *atts;
    size_t natts;
} dubbo_request_t;

/* The body functions below read and write with `ser`, the serialization
 * the frame's header names (dubbo_serialization_by_id(dubbo_frame_serial(f)));
 * NULL is hessian2. */

/* Decode a request body. Bounded by the arena's limit. */
int dubbo_request_decode(const dubbo_serialization_ops_t *ser, dubbo_arena_t *a,
                         const uint8_t *body, size_t len, dubbo_request_t *req);
/* dubbo_request_decode up to the attachments, which are left unread:
 * req->attachments is NULL and *att_at the body offset where they begin
 * (len when the body has none). */
int dubbo_request_decode_head(const dubbo_serialization_ops_t *ser, dubbo_arena_t *a,
                              const uint8_t *body, size_t len, dubbo_request_t *req,
                              size_t *att_at);

/* Append a request body. */
int dubbo_request_encode(const dubbo_serialization_ops_t *ser, dubbo_buf_t *out,
                         const dubbo_request_t *req);

/* A response body for status OK. */
typedef struct {
    int kind;                   /* DUBBO_RESPONSE_* */
    dubbo_value_t *value;       /* the value, or the exception object */
    dubbo_value_t *attachments; /* kinds 3-5 only; a map or NULL */
} dubbo_response_t;

/* Decode a status-OK response body. */
int dubbo_response_decode(const dubbo_serialization_ops_t *ser, dubbo_arena_t *a,
                          const uint8_t *body, size_t len, dubbo_response_t *res);

/* Append a status-OK response body. The kind is chosen from the value and
 * whether the peer announced attachment support (`attach`): value / null /
 * exception, plus 3 when attach. With attach, the attachments map (may be
 * NULL: an empty one is written) gets "dubbo" = DUBBO_PROTOCOL_VERSION like
 * Java does. */
int dubbo_response_encode(const dubbo_serialization_ops_t *ser, dubbo_buf_t *out,
                          const dubbo_value_t *value, bool is_exception, bool attach,
                          const dubbo_value_t *attachments);

/* Append the body of a non-OK response: the error message as a string. */
int dubbo_error_body_encode(const dubbo_serialization_ops_t *ser, dubbo_buf_t *out,
                            const char *message);

/* Java's Version.isSupportResponseAttachment for the request's dubbo version. */
bool dubbo_version_supports_attachments(const char *version);

#endif
