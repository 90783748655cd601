/* The Dubbo protocol's consumer framing (the consumer hooks of its table,
 * include/dubbo/protocol.h), without I/O: a call into a request frame,
 * frames from the provider cut and read (answers decoded into the result,
 * heartbeats answered, the readonly event), our heartbeat. The connection
 * is the transport's (src/transport/dialer.c), the client the rpc layer's
 * (src/runtime/client.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/extension.h"
#include "dubbo/protocol.h"
#include "dubbo/serialization.h"
#include "core/internal.h"
#include "core/jvm.h"
#include "protocol/dubbo/client.h"
#include "protocol/dubbo/codec.h"

typedef struct {
    char *interface, *version, *group;
    const dubbo_serialization_ops_t *ser; /* the URL's `serialization`, default hessian2 */
} dclient_t;

void dubbo__dubbo_client_close(void *state)
{
    dclient_t *d = state;
    if (!d) return;
    free(d->interface);
    free(d->version);
    free(d->group);
    free(d);
}

void *dubbo__dubbo_client_open(const char *url, const dubbo_url_t *u)
{
    const char *sname = dubbo_url_param(u, "serialization", "hessian2");
    const dubbo_serialization_ops_t *ser = dubbo_serialization_by_name(sname);
    if (!ser) {
        char known[256] = "";
        const char *names[32];
        size_t n = dubbo_extension_list(DUBBO_EXT_SERIALIZATION, names, 32);
        for (size_t i = 0; i < n && i < 32; i++) {
            size_t l = strlen(known);
            snprintf(known + l, sizeof(known) - l, "%s%s", i ? ", " : "", names[i]);
        }
        dubbo__seterr(DUBBO_ENOT_FOUND,
                      "client: url \"%s\": no serialization named \"%s\" (known: %s)", url, sname,
                      known);
        return NULL;
    }
    dclient_t *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->ser = ser;
    d->interface = strdup(dubbo_url_param(u, "interface", u->path));
    d->version = strdup(dubbo_url_param(u, "version", ""));
    d->group = strdup(dubbo_url_param(u, "group", ""));
    if (!d->interface || !d->version || !d->group) {
        dubbo__dubbo_client_close(d);
        return NULL;
    }
    return d;
}

/* The attachments every request carries, then the call's own: written
 * straight from these pairs, without a map built for each call. */
#define FIXED_ATTS 5
#define STACK_ATTS 16

int dubbo__dubbo_request(void *state, const dubbo_invocation_t *inv, uint64_t id, bool twoway,
                         int timeout_ms, size_t limit, dubbo_buf_t *out)
{
    const dclient_t *c = state;
    /* The descriptor, when the call gives none: on the stack when every
     * argument's is a constant (the common case), else built in a buffer. */
    char sdesc[256];
    size_t sl = 0;
    const char *d = inv->desc;
    for (size_t i = 0; !d && i < inv->nargs; i++) {
        const char *one = dubbo__desc_simple(inv->args[i]);
        size_t n = one ? strlen(one) : 0;
        if (!one || sl + n >= sizeof(sdesc)) break;
        memcpy(sdesc + sl, one, n);
        sl += n;
        if (i + 1 == inv->nargs) d = sdesc;
    }
    sdesc[sl] = '\0';
    if (!inv->nargs) d = "";
    dubbo_buf_t desc;
    dubbo_buf_init(&desc, 0);
    int rc = 0;
    if (!d) {
        for (size_t i = 0; !rc && i < inv->nargs; i++)
            rc = dubbo_desc_append(&desc, inv->args[i]);
        if (!rc) rc = dubbo_buf_append(&desc, "", 1);
        d = (const char *)desc.base;
    }
    size_t extra = 0;
    for (const char *const *kv = inv->attachments; kv && kv[0] && kv[1]; kv += 2)
        extra++;
    dubbo_att_t stack[STACK_ATTS];
    dubbo_att_t *atts = stack;
    if (!rc && FIXED_ATTS + extra > STACK_ATTS &&
        !(atts = malloc((FIXED_ATTS + extra) * sizeof(*atts))))
        rc = dubbo__seterr(DUBBO_ENOMEM, "out of memory for %zu attachments", extra);
    size_t n = 0;
    if (!rc) {
        atts[n++] = (dubbo_att_t){"path", c->interface, 0};
        atts[n++] = (dubbo_att_t){"interface", c->interface, 0};
        if (*c->version) atts[n++] = (dubbo_att_t){"version", c->version, 0};
        if (*c->group) atts[n++] = (dubbo_att_t){"group", c->group, 0};
        atts[n++] = (dubbo_att_t){"timeout", NULL, timeout_ms};
        /* the call's own replaces a fixed one of the same key, as a map put did */
        for (const char *const *kv = inv->attachments; kv && kv[0] && kv[1]; kv += 2) {
            size_t k = 0;
            while (k < n && strcmp(atts[k].key, kv[0]) != 0)
                k++;
            atts[k] = (dubbo_att_t){kv[0], kv[1], 0};
            if (k == n) n++;
        }
    }
    if (!rc) {
        dubbo_request_t req = {
            .dubbo_version = DUBBO_PROTOCOL_VERSION,
            .path = c->interface,
            .version = *c->version ? c->version : "0.0.0",
            .method = inv->method,
            .desc = d,
            .nargs = inv->nargs,
            .args = (dubbo_value_t **)inv->args,
            .atts = atts,
            .natts = n,
        };
        size_t start = out->len;
        uint8_t h[DUBBO_HEADER_LEN] = {0};
        rc = dubbo_buf_append(out, h, sizeof(h));
        if (!rc) rc = dubbo_request_encode(c->ser, out, &req);
        size_t body = out->len - start - DUBBO_HEADER_LEN;
        if (!rc && body > limit)
            rc = dubbo__seterr(DUBBO_ETOO_BIG,
                               "client: request %s.%s of %zu bytes exceeds the payload limit %zu",
                               c->interface, inv->method, body, limit);
        if (!rc)
            dubbo_frame_header(out->base + start,
                               DUBBO_FLAG_REQUEST | (twoway ? DUBBO_FLAG_TWOWAY : 0) | c->ser->id,
                               0, id, (uint32_t)body);
    }
    if (rc && rc != DUBBO_ETOO_BIG) {
        char detail[400];
        snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
        dubbo__seterr(rc, "client: cannot encode %s.%s: %s", c->interface, inv->method, detail);
    }
    if (atts != stack) free(atts);
    dubbo_buf_destroy(&desc);
    return rc;
}

int64_t dubbo__dubbo_reply_cut(const uint8_t *p, size_t n, size_t limit)
{
    dubbo_frame_t f;
    int64_t r = dubbo_frame_decode(p, n, limit, &f);
    /* an answer in a serialization we cannot read closes the connection */
    const dubbo_serialization_ops_t *ser;
    if (r > 0 && dubbo_frame_serialization(&f, &ser)) return DUBBO_EMALFORMED;
    return r;
}

int dubbo__dubbo_on_reply(dubbo_cconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u)
{
    dubbo_frame_t f;
    if (dubbo_frame_decode(unit, len, len, &f) <= 0) return 0; /* cut checked it */
    if (dubbo_frame_is_request(&f)) {
        if (!dubbo_frame_is_event(&f)) return 0; /* providers do not call consumers here */
        /* "R": the provider is shutting down; heartbeat (null): answer it,
         * both in the serialization the header names. */
        if (dubbo_event_kind(&f) == DUBBO_EVENT_READONLY) {
            dubbo_cconn_goaway(c);
        } else if (dubbo_frame_is_twoway(&f)) {
            dubbo_buf_t out;
            dubbo_buf_init(&out, 0);
            if (!dubbo_event_answer(&f, &out)) dubbo_cconn_send(c, out.base, out.len);
            dubbo_buf_destroy(&out);
        }
        return 0;
    }
    if (dubbo_frame_is_event(&f)) return 0; /* our heartbeat's answer */
    u->id = f.id;
    u->twoway = false;
    u->tag = (uint32_t)f.flags | (uint32_t)f.status << 8;
    u->payload = f.body;
    u->payload_len = f.body_len;
    return 1;
}

int dubbo__dubbo_reply_decode(const dubbo_unit_t *u, dubbo_result_t *r)
{
    int status = (int)(u->tag >> 8 & 0xff);
    r->status = status;
    /* the answer's serialization is the one its header names (checked
     * when the frame was cut) */
    const dubbo_serialization_ops_t *ser =
        dubbo_serialization_by_id((int)(u->tag & DUBBO_SERIAL_MASK));
    if (!ser) ser = dubbo_serialization_default();
    if (status != DUBBO_STATUS_OK) {
        dubbo_serial_state_t d;
        ser->reader_init(&d, r->arena, u->payload, u->payload_len);
        const char *msg = NULL;
        size_t mlen;
        if (ser->read_string(&d, &msg, &mlen) || !msg) msg = dubbo_status_name(status);
        ser->reader_destroy(&d);
        r->error = msg;
        return 0;
    }
    dubbo_response_t res;
    int rc = dubbo_response_decode(ser, r->arena, u->payload, u->payload_len, &res);
    if (rc) return rc;
    r->attachments = res.attachments;
    if (res.kind == DUBBO_RESPONSE_WITH_EXCEPTION ||
        res.kind == DUBBO_RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS) {
        r->exception = res.value;
        r->value = dubbo_v_null();
        const char *m = dubbo_exception_message(res.value);
        char buf[600];
        snprintf(buf, sizeof(buf), "%s: %s",
                 res.value && res.value->type == DUBBO_T_OBJECT ? res.value->u.obj.cls->name
                                                                : "exception",
                 m ? m : "(no message)");
        r->error = dubbo_arena_strndup(r->arena, buf, strlen(buf));
    } else {
        r->value = res.value ? res.value : dubbo_v_null();
    }
    return 0;
}

int dubbo__dubbo_heartbeat(uint64_t id, dubbo_buf_t *out)
{
    uint8_t h[DUBBO_HEADER_LEN + 1];
    dubbo_frame_header(
        h, DUBBO_FLAG_REQUEST | DUBBO_FLAG_TWOWAY | DUBBO_FLAG_EVENT | DUBBO_SERIAL_HESSIAN2, 0, id,
        1);
    h[DUBBO_HEADER_LEN] = 'N';
    return dubbo_buf_append(out, h, sizeof(h));
}
