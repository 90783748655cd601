/* Dubbo binary protocol codec: header, request and response bodies. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/dubbo/codec.h"
#include "dubbo/hessian2.h"
#include "dubbo/extension.h"
#include "dubbo/serialization.h"
#include "core/internal.h"
#include "core/jvm.h"

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int64_t dubbo_frame_decode(const uint8_t *in, size_t len, size_t max_payload, dubbo_frame_t *f)
{
    /* The magic can be judged from the first bytes: garbage is refused
     * without waiting for a whole header. */
    if (len == 1 && in[0] != DUBBO_MAGIC_HI)
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "dubbo: bad magic 0x%02x at offset 0 (expected 0xdabb)", in[0]);
    if (len >= 2 && (in[0] != DUBBO_MAGIC_HI || in[1] != DUBBO_MAGIC_LO))
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "dubbo: bad magic 0x%02x%02x at offset 0 (expected 0xdabb)", in[0],
                             in[1]);
    if (len < DUBBO_HEADER_LEN) return 0;
    f->flags = in[2];
    f->status = in[3];
    f->id = (uint64_t)rd32(in + 4) << 32 | rd32(in + 8);
    f->body_len = rd32(in + 12);
    /* The serialization id is judged by whoever reads the body: a provider
     * answers an unknown one with BAD_REQUEST naming it, as Java does. */
    if (f->body_len > max_payload)
        return dubbo__seterr(DUBBO_ETOO_BIG,
                             "dubbo: frame %llu body of %u bytes exceeds the payload limit of %zu",
                             (unsigned long long)f->id, f->body_len, max_payload);
    if (len - DUBBO_HEADER_LEN < f->body_len) return 0;
    f->body = in + DUBBO_HEADER_LEN;
    return (int64_t)DUBBO_HEADER_LEN + f->body_len;
}

void dubbo_frame_header(uint8_t out[DUBBO_HEADER_LEN], uint8_t flags, uint8_t status, uint64_t id,
                        uint32_t body_len)
{
    out[0] = DUBBO_MAGIC_HI;
    out[1] = DUBBO_MAGIC_LO;
    out[2] = flags;
    out[3] = status;
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(id >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        out[12 + i] = (uint8_t)(body_len >> (24 - 8 * i));
}

int dubbo_frame_serialization(const dubbo_frame_t *f, const dubbo_serialization_ops_t **out)
{
    int id = dubbo_frame_serial(f);
    *out = dubbo_serialization_by_id(id);
    if (*out) return 0;
    /* name the registered ones: name=id, ... */
    char known[256] = "";
    const char *names[32];
    size_t n = dubbo_extension_list(DUBBO_EXT_SERIALIZATION, names, 32);
    for (size_t i = 0; i < n && i < 32; i++) {
        const dubbo_serialization_ops_t *s = dubbo_serialization_by_name(names[i]);
        size_t l = strlen(known);
        if (s) snprintf(known + l, sizeof(known) - l, "%s%s=%d", l ? ", " : "", s->name, s->id);
    }
    return dubbo__seterr(DUBBO_EUNSUPPORTED,
                         "dubbo: unsupported serialization id %d in frame %llu (the registered "
                         "ones are %s)",
                         id, (unsigned long long)f->id, known);
}

int dubbo_event_kind(const dubbo_frame_t *f)
{
    const dubbo_serialization_ops_t *ser = dubbo_serialization_by_id(dubbo_frame_serial(f));
    if (!ser) return DUBBO_EVENT_OTHER;
    dubbo_arena_t *a = dubbo_arena_new(4096);
    if (!a) return DUBBO_EVENT_OTHER;
    dubbo_serial_state_t d;
    ser->reader_init(&d, a, f->body, f->body_len);
    dubbo_value_t *v;
    int kind = DUBBO_EVENT_OTHER;
    if (ser->read(&d, &v) == 0 && ser->reader_done(&d)) {
        if (v->type == DUBBO_T_NULL)
            kind = DUBBO_EVENT_HEARTBEAT;
        else if (v->type == DUBBO_T_STRING && strcmp(v->u.s.ptr, "R") == 0)
            kind = DUBBO_EVENT_READONLY;
    }
    ser->reader_destroy(&d);
    dubbo_arena_free(a);
    return kind;
}

int dubbo_event_answer(const dubbo_frame_t *f, dubbo_buf_t *out)
{
    const dubbo_serialization_ops_t *ser = dubbo_serialization_by_id(dubbo_frame_serial(f));
    if (!ser) ser = dubbo_serialization_default();
    size_t start = out->len;
    static const uint8_t zero[DUBBO_HEADER_LEN];
    int rc = dubbo_buf_append(out, zero, sizeof(zero));
    dubbo_serial_state_t e;
    if (!rc) {
        ser->writer_init(&e, out);
        rc = ser->write(&e, dubbo_v_null());
        ser->writer_destroy(&e);
    }
    if (rc) {
        out->len = start;
        return rc;
    }
    dubbo_frame_header(out->base + start, DUBBO_FLAG_EVENT | ser->id, 20 /* OK */, f->id,
                       (uint32_t)(out->len - start - DUBBO_HEADER_LEN));
    return 0;
}

#define SER(s) ((s) ? (s) : dubbo_serialization_default())

static int body_string(const dubbo_serialization_ops_t *ser, dubbo_serial_state_t *d,
                       const char **out, const char *field)
{
    size_t len;
    int rc = ser->read_string(d, out, &len);
    if (rc) {
        char detail[400];
        snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
        return dubbo__seterr(rc, "dubbo: request %s: %s", field, detail);
    }
    return 0;
}

static int request_decode(const dubbo_serialization_ops_t *ser, dubbo_arena_t *a,
                          const uint8_t *body, size_t len, dubbo_request_t *req, size_t *att_at);

int dubbo_request_decode(const dubbo_serialization_ops_t *ser, dubbo_arena_t *a,
                         const uint8_t *body, size_t len, dubbo_request_t *req)
{
    return request_decode(ser, a, body, len, req, NULL);
}

int dubbo_request_decode_head(const dubbo_serialization_ops_t *ser, dubbo_arena_t *a,
                              const uint8_t *body, size_t len, dubbo_request_t *req, size_t *att_at)
{
    return request_decode(ser, a, body, len, req, att_at);
}

static int request_decode(const dubbo_serialization_ops_t *ser, dubbo_arena_t *a,
                          const uint8_t *body, size_t len, dubbo_request_t *req, size_t *att_at)
{
    ser = SER(ser);
    dubbo_serial_state_t d;
    ser->reader_init(&d, a, body, len);
    memset(req, 0, sizeof(*req));
    int rc;
    if ((rc = body_string(ser, &d, &req->dubbo_version, "dubbo version")) ||
        (rc = body_string(ser, &d, &req->path, "service path")) ||
        (rc = body_string(ser, &d, &req->version, "service version")) ||
        (rc = body_string(ser, &d, &req->method, "method name")) ||
        (rc = body_string(ser, &d, &req->desc, "parameter types")))
        goto out;
    if (!req->path || !req->method) {
        rc = dubbo__seterr(DUBBO_EMALFORMED, "dubbo: request without %s",
                           !req->path ? "a service path" : "a method name");
        goto out;
    }
    int n = dubbo__jvm_desc_count(req->desc ? req->desc : "");
    if (n < 0) {
        rc = n;
        goto out;
    }
    req->nargs = (size_t)n;
    if (n > 0) {
        req->args = dubbo_arena_alloc(a, (size_t)n * sizeof(dubbo_value_t *));
        if (!req->args) {
            rc = DUBBO_ETOO_BIG;
            goto out;
        }
    }
    for (int i = 0; i < n; i++) {
        size_t at = ser->reader_pos(&d);
        if ((rc = ser->read(&d, &req->args[i]))) {
            char detail[400];
            snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
            rc = dubbo__seterr(rc, "dubbo: %s.%s argument %d (at body offset %zu): %s", req->path,
                               req->method, i, at, detail);
            goto out;
        }
    }
    if (att_at) { /* the caller reads them (or not) itself */
        *att_at = ser->reader_pos(&d);
        goto out;
    }
    /* Attachments are optional for very old peers; present in every peer we
     * know (Java, Go, dubbo2.js). */
    if (!ser->reader_done(&d)) {
        dubbo_value_t *att;
        if ((rc = ser->read(&d, &att))) {
            char detail[400];
            snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
            rc = dubbo__seterr(rc, "dubbo: %s.%s attachments: %s", req->path, req->method, detail);
            goto out;
        }
        if (att->type != DUBBO_T_MAP && att->type != DUBBO_T_NULL) {
            rc = dubbo__seterr(DUBBO_EMALFORMED,
                               "dubbo: %s.%s attachments must be a map, found a value of type %s",
                               req->path, req->method, dubbo_vtype_name(att->type));
            goto out;
        }
        req->attachments = att->type == DUBBO_T_MAP ? att : NULL;
    }
    if (!ser->reader_done(&d))
        rc = dubbo__seterr(DUBBO_EMALFORMED, "dubbo: %zu trailing bytes after the request at %zu",
                           len - ser->reader_pos(&d), ser->reader_pos(&d));
out:
    ser->reader_destroy(&d);
    return rc;
}

int dubbo_request_encode(const dubbo_serialization_ops_t *ser, dubbo_buf_t *out,
                         const dubbo_request_t *req)
{
    if (!req->path || !req->method)
        return dubbo__seterr(DUBBO_EINVAL, "dubbo: a request needs a service path and a method");
    ser = SER(ser);
    dubbo_serial_state_t e;
    ser->writer_init(&e, out);
    const char *dv = req->dubbo_version ? req->dubbo_version : DUBBO_PROTOCOL_VERSION;
    const char *desc = req->desc ? req->desc : "";
    int rc;
    if ((rc = ser->write_string(&e, dv, strlen(dv))) ||
        (rc = ser->write_string(&e, req->path, strlen(req->path))) ||
        (rc = ser->write_string(&e, req->version ? req->version : "",
                                req->version ? strlen(req->version) : 0)) ||
        (rc = ser->write_string(&e, req->method, strlen(req->method))) ||
        (rc = ser->write_string(&e, desc, strlen(desc))))
        goto out;
    for (size_t i = 0; i < req->nargs; i++)
        if ((rc = ser->write(&e, req->args[i]))) goto out;
    if (req->attachments && !req->natts) {
        rc = ser->write(&e, req->attachments);
        goto out;
    }
    if ((rc = ser->write_map_begin(&e))) goto out;
    if (req->attachments)
        for (size_t i = 0; i < req->attachments->u.map.len; i++) {
            const dubbo_map_entry_t *it = &req->attachments->u.map.items[i];
            if ((rc = ser->write(&e, it->key)) || (rc = ser->write(&e, it->value))) goto out;
        }
    for (size_t i = 0; i < req->natts; i++) {
        const dubbo_att_t *t = &req->atts[i];
        if ((rc = ser->write_string(&e, t->key, strlen(t->key))) ||
            (rc =
                 t->str ? ser->write_string(&e, t->str, strlen(t->str)) : ser->write_int(&e, t->i)))
            goto out;
    }
    rc = ser->write_map_end(&e);
out:
    ser->writer_destroy(&e);
    return rc;
}

/* Wrap the hessian2 detail of a failed response field with its name. */
static int field_error(int rc, const char *field)
{
    char detail[400];
    snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
    return dubbo__seterr(rc, "dubbo: response %s: %s", field, detail);
}

int dubbo_response_decode(const dubbo_serialization_ops_t *ser, dubbo_arena_t *a,
                          const uint8_t *body, size_t len, dubbo_response_t *res)
{
    ser = SER(ser);
    dubbo_serial_state_t d;
    ser->reader_init(&d, a, body, len);
    memset(res, 0, sizeof(*res));
    dubbo_value_t *kind;
    int rc = ser->read(&d, &kind);
    if (rc) {
        rc = field_error(rc, "kind");
        goto out;
    }
    if (kind->type != DUBBO_T_INT) {
        rc = dubbo__seterr(DUBBO_EMALFORMED,
                           "dubbo: response kind must be an int 0-5, found a value of type %s",
                           dubbo_vtype_name(kind->type));
        goto out;
    }
    if (kind->u.i < 0 || kind->u.i > 5) {
        rc = dubbo__seterr(DUBBO_EMALFORMED, "dubbo: response kind %d is not one of 0-5",
                           (int)kind->u.i);
        goto out;
    }
    res->kind = kind->u.i;
    if (res->kind != DUBBO_RESPONSE_NULL_VALUE &&
        res->kind != DUBBO_RESPONSE_NULL_VALUE_WITH_ATTACHMENTS) {
        bool exc = res->kind == DUBBO_RESPONSE_WITH_EXCEPTION ||
                   res->kind == DUBBO_RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS;
        if ((rc = ser->read(&d, &res->value))) {
            rc = field_error(rc, exc ? "exception" : "value");
            goto out;
        }
    }
    if (res->kind >= 3) {
        dubbo_value_t *att;
        if ((rc = ser->read(&d, &att))) {
            rc = field_error(rc, "attachments");
            goto out;
        }
        if (att->type != DUBBO_T_MAP && att->type != DUBBO_T_NULL) {
            rc =
                dubbo__seterr(DUBBO_EMALFORMED,
                              "dubbo: response attachments must be a map, found a value of type %s",
                              dubbo_vtype_name(att->type));
            goto out;
        }
        res->attachments = att->type == DUBBO_T_MAP ? att : NULL;
    }
out:
    ser->reader_destroy(&d);
    return rc;
}

int dubbo_response_encode(const dubbo_serialization_ops_t *ser, dubbo_buf_t *out,
                          const dubbo_value_t *value, bool is_exception, bool attach,
                          const dubbo_value_t *attachments)
{
    ser = SER(ser);
    dubbo_serial_state_t e;
    ser->writer_init(&e, out);
    bool null = !value || value->type == DUBBO_T_NULL;
    int kind = is_exception ? DUBBO_RESPONSE_WITH_EXCEPTION
               : null       ? DUBBO_RESPONSE_NULL_VALUE
                            : DUBBO_RESPONSE_VALUE;
    if (attach) kind += 3;
    int rc = ser->write_int(&e, kind);
    if (!rc && (is_exception || !null)) rc = ser->write(&e, value);
    if (!rc && attach) {
        /* Java adds its protocol version to every response's attachments. */
        rc = ser->write_map_begin(&e);
        bool has_dubbo = false;
        if (attachments && attachments->type == DUBBO_T_MAP) {
            for (size_t i = 0; !rc && i < attachments->u.map.len; i++) {
                const dubbo_value_t *k = attachments->u.map.items[i].key;
                if (k && k->type == DUBBO_T_STRING && strcmp(k->u.s.ptr, "dubbo") == 0)
                    has_dubbo = true;
                if (!(rc = ser->write(&e, k)))
                    rc = ser->write(&e, attachments->u.map.items[i].value);
            }
        }
        if (!rc && !has_dubbo) {
            rc = ser->write_string(&e, "dubbo", 5);
            if (!rc)
                rc = ser->write_string(&e, DUBBO_PROTOCOL_VERSION, strlen(DUBBO_PROTOCOL_VERSION));
        }
        if (!rc) rc = ser->write_map_end(&e);
    }
    ser->writer_destroy(&e);
    return rc;
}

int dubbo_error_body_encode(const dubbo_serialization_ops_t *ser, dubbo_buf_t *out,
                            const char *message)
{
    if (!message) message = "";
    ser = SER(ser);
    dubbo_serial_state_t e;
    ser->writer_init(&e, out);
    int rc = ser->write_string(&e, message, strlen(message));
    ser->writer_destroy(&e);
    return rc;
}

/* Java's Version.getIntVersion: each dot-separated part's leading digits,
 * weighted by 100 per position, times 100 for three-part versions. */
static long java_int_version(const char *v)
{
    long parts[8];
    int n = 0;
    const char *p = v;
    while (n < 8) {
        long x = 0;
        bool digits = false;
        while (*p >= '0' && *p <= '9') {
            /* Java parses each part as an int; saturate instead of overflowing. */
            if (x < 100000000) x = x * 10 + (*p - '0');
            p++;
            digits = true;
        }
        parts[n++] = digits ? x : 0;
        p = strchr(p, '.');
        if (!p) break;
        p++;
    }
    /* The peer controls this string: saturate rather than overflow. Any
     * saturated value is far above every range that matters. */
    long r = 0;
    for (int i = 0; i < n; i++) {
        long w = 1, term;
        for (int k = 0; k < (n - i - 1) * 2; k++)
            if (__builtin_mul_overflow(w, 10L, &w)) return LONG_MAX;
        if (__builtin_mul_overflow(parts[i], w, &term) || __builtin_add_overflow(r, term, &r))
            return LONG_MAX;
    }
    if (n == 3 && __builtin_mul_overflow(r, 100L, &r)) return LONG_MAX;
    return r;
}

bool dubbo_version_supports_attachments(const char *version)
{
    if (!version || !*version) return false;
    /* what every consumer of today sends: no parse */
    if (strcmp(version, "2.0.2") == 0) return true;
    long v = java_int_version(version);
    if (v >= 2001000 && v < 2060300) return false; /* 2.0.10 .. 2.6.2 */
    return v >= 2000200;
}
