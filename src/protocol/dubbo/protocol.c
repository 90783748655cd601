/* The Dubbo protocol's table (include/dubbo/protocol.h): the provider side
 * here, without I/O (frames cut, heartbeats answered, requests decoded into
 * the neutral call, answers, refusals and the readonly event encoded), the
 * consumer side's invoker in invoker.c and its framing in client.c, the
 * codec in codec.c. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "dubbo/protocol.h"
#include "dubbo/serialization.h"
#include "core/log.h"
#include "protocol/dubbo/client.h"
#include "protocol/dubbo/codec.h"
#include "runtime/call.h"
#include "serialize/h2scan.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* The magic 0xdabb. */
static int detect(const uint8_t *p, size_t n)
{
    if (n == 0) return DUBBO_DETECT_MORE;
    if (p[0] != 0xda) return DUBBO_DETECT_NO;
    if (n == 1) return DUBBO_DETECT_MORE;
    return p[1] == 0xbb ? DUBBO_DETECT_YES : DUBBO_DETECT_NO;
}

static int64_t cut(const uint8_t *p, size_t n, size_t limit, size_t *total)
{
    dubbo_frame_t f;
    int64_t r = dubbo_frame_decode(p, n, limit, &f);
    *total = r == 0 && n >= DUBBO_HEADER_LEN ? DUBBO_HEADER_LEN + (size_t)be32(p + 12) : 0;
    return r;
}

static int on_unit(dubbo_sconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u)
{
    dubbo_frame_t f;
    if (dubbo_frame_decode(unit, len, len, &f) <= 0) return 0; /* cut checked it */
    if (!dubbo_frame_is_request(&f)) return 0; /* e.g. a consumer's heartbeat answer */
    if (dubbo_frame_is_event(&f)) {
        /* A heartbeat is an event whose body is null (in the header's
         * serialization): answered in it when two-way. Other events
         * (readonly from a peer) get no answer, as in Java. */
        if (dubbo_frame_is_twoway(&f) && dubbo_event_kind(&f) == DUBBO_EVENT_HEARTBEAT) {
            dubbo_buf_t out;
            dubbo_buf_init(&out, 0);
            if (!dubbo_event_answer(&f, &out)) dubbo_sconn_send(c, out.base, out.len);
            dubbo_buf_destroy(&out);
        }
        return 0;
    }
    u->id = f.id;
    u->twoway = dubbo_frame_is_twoway(&f);
    u->tag = f.flags;
    u->payload = f.body;
    u->payload_len = f.body_len;
    return 1;
}

static const char *att_str(const dubbo_value_t *att, const char *key)
{
    const dubbo_value_t *v = dubbo_map_get(att, key);
    return v && v->type == DUBBO_T_STRING ? v->u.s.ptr : NULL;
}

static bool no_version(const char *v)
{
    return !v || !*v || strcmp(v, "0.0.0") == 0;
}

/* The serialization the header names (checked when the frame was cut). */
static const dubbo_serialization_ops_t *serialization_of(uint32_t tag)
{
    const dubbo_serialization_ops_t *ser = dubbo_serialization_by_id(tag & DUBBO_SERIAL_MASK);
    return ser ? ser : dubbo_serialization_default();
}

/* The protocol's per-call data: the request, and where its attachments
 * lie in the payload while they are not decoded. */
#define MAX_LAZY_ATTS 24 /* a map with more is decoded whole */

typedef struct {
    dubbo_request_t req;
    const uint8_t *att; /* the attachments' bytes, while not decoded */
    size_t att_len;
    int natts;
    dubbo__h2_att_t idx[MAX_LAZY_ATTS];
    dubbo_value_t *val[MAX_LAZY_ATTS]; /* decoded once asked for: repeated
                                          lookups do not grow the arena */
} dreq_t;

/* An attachment by key in the request's bytes (the call's att_find): the
 * first entry of the key, as dubbo_map_get finds on a decoded map. */
static const dubbo_value_t *att_find(const dubbo_call_t *call, const char *key)
{
    dreq_t *q = call->proto_call;
    size_t kl = strlen(key);
    for (int i = 0; i < q->natts; i++)
        if (q->idx[i].klen == kl && memcmp(q->idx[i].key, key, kl) == 0) {
            if (!q->val[i] &&
                dubbo__h2_value_at(call->arena, q->att, q->att_len, q->idx[i].at, &q->val[i]))
                q->val[i] = NULL; /* no memory: absent, as a failed decode would be */
            return q->val[i];
        }
    return NULL;
}

static const char *att_find_str(const dubbo_call_t *call, const char *key)
{
    const dubbo_value_t *v = att_find(call, key);
    return v && v->type == DUBBO_T_STRING ? v->u.s.ptr : NULL;
}

static int decode(dubbo_call_t *call, const dubbo_unit_t *u)
{
    dreq_t *q = dubbo_arena_alloc(call->arena, sizeof(*q));
    if (!q) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    memset(q, 0, offsetof(dreq_t, idx)); /* the index is filled as far as natts says */
    dubbo_request_t *req = &q->req;
    call->proto_call = q;
    /* an id nobody registered: the server answers BAD_REQUEST naming it */
    dubbo_frame_t f = {.flags = (uint8_t)u->tag, .id = u->id};
    const dubbo_serialization_ops_t *ser;
    int rc = dubbo_frame_serialization(&f, &ser);
    if (rc) return rc;
    /* Java finds the exporter by the "path" attachment, which the body's
     * path fills and the attachments map may override; the version and
     * group come from the attachments too when the body has none. With
     * hessian2, and the payload kept for the whole call, the attachments
     * stay in it and are looked up by key (most requests need 3-5 of
     * them), unless the map holds more than strings and numbers. */
    const char *path = NULL, *version = NULL, *group = NULL;
    bool lazy = false;
    if (call->payload_kept && ser == dubbo_serialization_default()) {
        size_t at = 0;
        rc = dubbo_request_decode_head(ser, call->arena, u->payload, u->payload_len, req, &at);
        if (rc) return rc;
        q->att = u->payload + at;
        q->att_len = u->payload_len - at;
        q->natts = q->att_len ? dubbo__h2_map_index(q->att, q->att_len, q->idx, MAX_LAZY_ATTS) : 0;
        lazy = q->natts >= 0;
        if (lazy) {
            memset(q->val, 0, (size_t)q->natts * sizeof(q->val[0]));
            path = att_find_str(call, "path");
            version = req->version;
            if (no_version(version)) version = att_find_str(call, "version");
            group = att_find_str(call, "group");
        } else {
            memset(q, 0, offsetof(dreq_t, idx));
        }
    }
    if (!lazy) {
        rc = dubbo_request_decode(ser, call->arena, u->payload, u->payload_len, req);
        if (rc) return rc;
        const dubbo_value_t *att = req->attachments;
        path = att_str(att, "path");
        version = req->version;
        if (no_version(version)) version = att_str(att, "version");
        group = att_str(att, "group");
    }
    if (!path || !*path) path = req->path;
    dubbo__call_set_request(call, path, version, group, req->method, req->desc, req->args,
                            req->nargs, req->attachments);
    if (lazy) call->att_find = att_find;
    return 0;
}

static int answer(dubbo_call_t *call, size_t limit, dubbo_buf_t *out)
{
    const dubbo_serialization_ops_t *ser = serialization_of(call->unit.tag);
    const dreq_t *q = call->proto_call; /* NULL when decode never ran */
    const dubbo_request_t *req = q ? &q->req : NULL;
    size_t start = out->len;
    static const uint8_t zero[DUBBO_HEADER_LEN];
    int rc = dubbo_buf_append(out, zero, sizeof(zero));
    if (rc) return rc;
    int status = call->status;
    if (status == DUBBO_STATUS_OK) {
        bool attach = dubbo_version_supports_attachments(req ? req->dubbo_version : NULL);
        rc =
            dubbo_response_encode(ser, out, call->value, call->is_exception, attach, call->res_att);
        if (rc) {
            DLOG_ERROR("cannot encode the answer of %s.%s: %s", call->service, call->method,
                       dubbo_last_error());
            out->len = start + DUBBO_HEADER_LEN;
            status = DUBBO_STATUS_SERVER_ERROR;
            char msg[600];
            snprintf(msg, sizeof(msg), "provider failed to serialize the result of %s.%s: %s",
                     call->service, call->method, dubbo_last_error());
            rc = dubbo_error_body_encode(ser, out, msg);
        }
    } else {
        rc = dubbo_error_body_encode(ser, out,
                                     call->error ? call->error : dubbo_status_name(status));
    }
    size_t body_len = out->len - start - DUBBO_HEADER_LEN;
    if (!rc && body_len > limit) {
        char msg[200];
        snprintf(msg, sizeof(msg), "Data length %zu too large, max payload: %zu", body_len, limit);
        out->len = start + DUBBO_HEADER_LEN;
        status = DUBBO_STATUS_BAD_RESPONSE;
        rc = dubbo_error_body_encode(ser, out, msg);
        body_len = out->len - start - DUBBO_HEADER_LEN;
    }
    if (rc) {
        out->len = start;
        return rc;
    }
    dubbo_frame_header(out->base + start, ser->id, (uint8_t)status, call->unit.id,
                       (uint32_t)body_len);
    return 0;
}

static int refuse(const uint8_t *p, size_t n, int status, const char *message, dubbo_buf_t *out)
{
    if (n < DUBBO_HEADER_LEN) return 0;
    uint8_t flags = p[2];
    if (!(flags & DUBBO_FLAG_REQUEST) || (flags & DUBBO_FLAG_EVENT) || !(flags & DUBBO_FLAG_TWOWAY))
        return 0;
    const dubbo_serialization_ops_t *ser = serialization_of(flags);
    size_t start = out->len;
    static const uint8_t zero[DUBBO_HEADER_LEN];
    int rc = dubbo_buf_append(out, zero, sizeof(zero));
    if (!rc) rc = dubbo_error_body_encode(ser, out, message);
    if (rc) {
        out->len = start;
        return rc;
    }
    dubbo_frame_header(out->base + start, ser->id, (uint8_t)status, be64(p + 4),
                       (uint32_t)(out->len - start - DUBBO_HEADER_LEN));
    return 0;
}

/* The readonly event: a one-way request event whose body is hessian's "R"
 * string, as Java's provider sends before it goes. */
static int goaway(dubbo_buf_t *out)
{
    static const uint8_t body[] = {0x01, 'R'};
    uint8_t h[DUBBO_HEADER_LEN];
    dubbo_frame_header(h, DUBBO_FLAG_REQUEST | DUBBO_FLAG_EVENT | DUBBO_SERIAL_HESSIAN2, 0, 0,
                       sizeof(body));
    int rc = dubbo_buf_append(out, h, sizeof(h));
    return rc ? rc : dubbo_buf_append(out, body, sizeof(body));
}

/* The dubbo protocol as an extension: references find it by URL scheme,
 * servers by name (and connections by the magic). */
const dubbo_protocol_ops_t dubbo__protocol_dubbo = {
    .name = "dubbo",
    .refer = dubbo_invoker_new_dubbo,
    .detect = detect,
    .cut = cut,
    .on_unit = on_unit,
    .decode = decode,
    .answer = answer,
    .refuse = refuse,
    .goaway = goaway,
    .client_open = dubbo__dubbo_client_open,
    .client_close = dubbo__dubbo_client_close,
    .request = dubbo__dubbo_request,
    .reply_cut = dubbo__dubbo_reply_cut,
    .on_reply = dubbo__dubbo_on_reply,
    .reply_decode = dubbo__dubbo_reply_decode,
    .heartbeat = dubbo__dubbo_heartbeat,
};
