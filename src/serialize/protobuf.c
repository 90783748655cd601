/* The protobuf serialization of the Dubbo protocol (Java's
 * GenericProtobufSerialization, "protobuf", header id 22; dubbo-go's old id
 * 21 is not taken over, docs/serialization-protobuf.md says why). A body is
 * a row of varint-delimited messages: the request's strings as
 * google.protobuf.StringValue, the response kind as Int32Value, arguments
 * and results as the caller's own messages (DUBBO_T_BINARY holding their
 * bytes, as Triple's IDL mode), attachments as Java's wrapper
 * `Map { map<string,string> attachments = 1; map<string,Any> attachmentsV2
 * = 2; }`, exceptions as ThrowableProto, events as a StringValue ("H" for
 * a heartbeat).
 *
 * Messages carry no type, so reader and writer follow the codec's order of
 * calls (order.h, shared with protobuf-json): a reader whose first call is
 * read_string reads a request (five strings, the arguments the descriptor
 * counts, the attachments) or an error body; one whose first call is read
 * reads a response (the kind, then what the kind says) or an event. Writers
 * choose a value's wrapper by its type. */
#include <stdio.h>
#include <string.h>

#include "dubbo/serialization.h"
#include "core/internal.h"
#include "core/jvm.h"
#include "serialize/order.h"

#define PB_MAX_DEPTH 32 /* ThrowableProto causes */

typedef struct {
    dubbo_arena_t *arena;
    const uint8_t *in;
    size_t len, pos;
    dubbo__order_t o; /* where the reader is in its body */
} reader_t;

typedef struct {
    dubbo_buf_t *out;
    dubbo__order_t o; /* what the writer is writing */
    bool in_map;
    bool have_key;
    dubbo_buf_t map; /* the attachments map being built */
    size_t key_at;   /* where the pending entry's key starts in `map` */
} writer_t;

_Static_assert(sizeof(reader_t) <= DUBBO_SERIAL_STATE_SIZE &&
                   sizeof(writer_t) <= DUBBO_SERIAL_STATE_SIZE,
               "protobuf state must fit dubbo_serial_state_t");

/* ---- the wire ------------------------------------------------------------ */

/* A varint at in[*pos..len); 0, or DUBBO_EMALFORMED naming `what`. */
static int varint(const uint8_t *in, size_t len, size_t *pos, uint64_t *v, const char *what,
                  size_t base)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return dubbo__seterr(DUBBO_EMALFORMED, "protobuf: truncated varint (%s) at offset %zu",
                                 what, base + *pos);
        uint8_t b = in[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return dubbo__seterr(DUBBO_EMALFORMED,
                         "protobuf: varint (%s) longer than 10 bytes at offset %zu", what,
                         base + *pos);
}

/* One field of a message: its number, wire type and (for length-delimited
 * ones) its bytes, (for varints) its value. */
typedef struct {
    uint32_t num;
    int wt;
    uint64_t v;
    const uint8_t *p;
    size_t n;
} field_t;

/* The next field of msg[*pos..len); 1, 0 at the end, or an error. `base`
 * is msg's offset in the body, for messages. */
static int next_field(const uint8_t *msg, size_t len, size_t *pos, field_t *f, size_t base)
{
    if (*pos >= len) return 0;
    size_t at = *pos;
    uint64_t key = 0;
    int rc = varint(msg, len, pos, &key, "field key", base);
    if (rc) return rc;
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    if (f->num == 0 || key >> 3 > 0x1fffffff)
        return dubbo__seterr(DUBBO_EMALFORMED, "protobuf: field number %llu at offset %zu",
                             (unsigned long long)(key >> 3), base + at);
    switch (f->wt) {
    case 0: return (rc = varint(msg, len, pos, &f->v, "field value", base)) ? rc : 1;
    case 1:
    case 5: {
        size_t w = f->wt == 1 ? 8 : 4;
        if (len - *pos < w)
            return dubbo__seterr(DUBBO_EMALFORMED,
                                 "protobuf: fixed%zu field %u past the end at offset %zu", w * 8,
                                 f->num, base + at);
        f->v = 0;
        for (size_t i = 0; i < w; i++)
            f->v |= (uint64_t)msg[*pos + i] << (8 * i);
        *pos += w;
        return 1;
    }
    case 2: {
        uint64_t n = 0;
        if ((rc = varint(msg, len, pos, &n, "field length", base))) return rc;
        if (n > len - *pos)
            return dubbo__seterr(DUBBO_EMALFORMED,
                                 "protobuf: field %u of %llu bytes past the end at offset %zu "
                                 "(%zu left)",
                                 f->num, (unsigned long long)n, base + at, len - *pos);
        f->p = msg + *pos;
        f->n = (size_t)n;
        *pos += (size_t)n;
        return 1;
    }
    default:
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "protobuf: wire type %d (field %u) at offset %zu is not one of 0, 1, "
                             "2, 5",
                             f->wt, f->num, base + at);
    }
}

/* The next delimited message of the body: its bytes and offset. */
static int next_message(reader_t *r, const uint8_t **msg, size_t *n, size_t *at, const char *what)
{
    if (r->pos >= r->len)
        return dubbo__seterr(DUBBO_EMALFORMED, "protobuf: %s expected at offset %zu, found the end",
                             what, r->pos);
    size_t start = r->pos;
    uint64_t len = 0;
    int rc = varint(r->in, r->len, &r->pos, &len, what, 0);
    if (rc) return rc;
    if (len > r->len - r->pos)
        return dubbo__seterr(
            DUBBO_EMALFORMED,
            "protobuf: %s of %llu bytes at offset %zu runs past the end (%zu left)", what,
            (unsigned long long)len, start, r->len - r->pos);
    *msg = r->in + r->pos;
    *n = (size_t)len;
    *at = r->pos;
    r->pos += (size_t)len;
    return 0;
}

/* A wrapper's field 1 as a string (StringValue) or varint (the others);
 * other fields are skipped as protobuf says, a field 1 of another wire type
 * is the wrong wrapper. */
static int wrapper_field(const uint8_t *msg, size_t n, size_t base, int want_wt, const char *name,
                         field_t *out)
{
    memset(out, 0, sizeof(*out));
    out->wt = want_wt;
    out->p = msg;
    size_t pos = 0;
    field_t f = {0};
    int rc;
    while ((rc = next_field(msg, n, &pos, &f, base)) == 1)
        if (f.num == 1) {
            if (f.wt != want_wt)
                return dubbo__seterr(DUBBO_ETYPE,
                                     "protobuf: %s expected at offset %zu: its field 1 has wire "
                                     "type %d, not %d",
                                     name, base, f.wt, want_wt);
            *out = f;
        }
    return rc;
}

/* ---- reading ------------------------------------------------------------- */

static void r_init(dubbo_serial_state_t *s, dubbo_arena_t *a, const uint8_t *in, size_t len)
{
    reader_t *r = (reader_t *)s;
    memset(r, 0, sizeof(*r));
    r->arena = a;
    r->in = in;
    r->len = len;
}

static int oom(void)
{
    /* the arena said which: its limit or memory */
    int code = dubbo__last_code();
    return code == DUBBO_ETOO_BIG || code == DUBBO_ENOMEM
               ? code
               : dubbo__seterr(DUBBO_ENOMEM, "protobuf: out of memory");
}

/* How many delimited messages the rest of the body holds (-1: not a row of
 * them). */
static int messages_left(const reader_t *r)
{
    size_t pos = r->pos;
    int n = 0;
    while (pos < r->len) {
        uint64_t len = 0;
        if (varint(r->in, r->len, &pos, &len, "length", 0) || len > r->len - pos) return -1;
        pos += (size_t)len;
        n++;
    }
    return n;
}

static int read_string_value(reader_t *r, const char **out, size_t *len, const char *what)
{
    const uint8_t *msg;
    size_t n = 0, at = 0;
    field_t f = {0};
    int rc = next_message(r, &msg, &n, &at, what);
    if (!rc) rc = wrapper_field(msg, n, at, 2, "a StringValue", &f);
    if (rc) return rc;
    char *s = dubbo_arena_strndup(r->arena, (const char *)f.p, f.n);
    if (!s) return oom();
    *out = s;
    *len = f.n;
    return 0;
}

static int r_read_string(dubbo_serial_state_t *s, const char **out, size_t *len)
{
    reader_t *r = (reader_t *)s;
    if (!dubbo__order_string(&r->o))
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf: a string was asked for at offset %zu where a message is",
                             r->pos);
    int rc = read_string_value(r, out, len, "a StringValue");
    if (rc) return rc;
    if (r->o.strings == 4) {
        int n = dubbo__jvm_desc_count(*out);
        if (n < 0) return n;
        /* dubbo-go's protobuf requests, and dubbo_tri_call over dubbo://,
         * send one message under an empty descriptor: read it as one
         * argument of an unnamed message type. */
        if (n == 0 && messages_left(r) == 2) {
            static const char any[] = "Lcom/google/protobuf/Message;";
            char *d = dubbo_arena_strndup(r->arena, any, sizeof(any) - 1);
            if (!d) return oom();
            *out = d;
            *len = sizeof(any) - 1;
        }
    }
    return dubbo__order_string_done(&r->o, *out);
}

/* The bytes of field `num` (length-delimited) of msg, or NULL. */
static int bytes_field(const uint8_t *msg, size_t n, size_t base, uint32_t num, const uint8_t **out,
                       size_t *len, size_t *at)
{
    size_t pos = 0;
    field_t f = {0};
    int rc;
    *out = NULL;
    *len = 0;
    *at = base;
    while ((rc = next_field(msg, n, &pos, &f, base)) == 1)
        if (f.num == num && f.wt == 2) {
            *out = f.p;
            *len = f.n;
            *at = base + (size_t)(f.p - msg);
        }
    return rc;
}

/* Java's attachmentsV2 value: google.protobuf.Any packing an
 * `Attachment { string type = 1; Any data = 2; }`, whose data packs the
 * wrapper of the Java class `type` names ("null": Empty). */
static int any_attachment(reader_t *r, const uint8_t *p, size_t n, size_t base, dubbo_value_t **out)
{
    const uint8_t *att, *cls, *data, *w;
    size_t an, cn, dn, wn, aat, cat, dat, wat;
    int rc;
    if ((rc = bytes_field(p, n, base, 2, &att, &an, &aat)) ||
        (rc = bytes_field(att ? att : p, an, aat, 1, &cls, &cn, &cat)) ||
        (rc = bytes_field(att ? att : p, an, aat, 2, &data, &dn, &dat)) ||
        (rc = bytes_field(data ? data : p, dn, dat, 2, &w, &wn, &wat)))
        return rc;
    char *c = dubbo_arena_strndup(r->arena, cls ? (const char *)cls : "", cn);
    if (!c) return oom();
    if (strcmp(c, "null") == 0) {
        *out = dubbo_v_null();
        return 0;
    }
    bool str = strcmp(c, "java.lang.String") == 0;
    bool dbl = strcmp(c, "java.lang.Double") == 0, flt = strcmp(c, "java.lang.Float") == 0;
    field_t f = {0};
    if ((rc = wrapper_field(w ? w : p, wn, wat, str ? 2 : dbl ? 1 : flt ? 5 : 0, c, &f))) return rc;
    if (str)
        *out = dubbo_v_string(r->arena, (const char *)f.p, f.n);
    else if (strcmp(c, "java.lang.Integer") == 0)
        *out = dubbo_v_int(r->arena, (int32_t)f.v);
    else if (strcmp(c, "java.lang.Long") == 0)
        *out = dubbo_v_long(r->arena, (int64_t)f.v);
    else if (strcmp(c, "java.lang.Boolean") == 0)
        *out = dubbo_v_bool(r->arena, f.v != 0);
    else if (dbl) {
        double d;
        memcpy(&d, &f.v, sizeof(d));
        *out = dubbo_v_double(r->arena, d);
    } else if (flt) {
        uint32_t bits = (uint32_t)f.v;
        float x;
        memcpy(&x, &bits, sizeof(x));
        *out = dubbo_v_double(r->arena, x);
    } else
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf: attachment of class \"%s\" at offset %zu (known: String, "
                             "Integer, Long, Boolean, Float, Double, null)",
                             c, base);
    return *out ? 0 : oom();
}

/* Java's attachments wrapper: a map of string keys. */
static int read_map(reader_t *r, dubbo_value_t **out)
{
    const uint8_t *msg;
    size_t n = 0, at = 0;
    int rc = next_message(r, &msg, &n, &at, "the attachments Map");
    if (rc) return rc;
    dubbo_value_t *m = dubbo_v_map(r->arena, NULL, 8);
    if (!m) return oom();
    size_t pos = 0;
    field_t f = {0};
    while ((rc = next_field(msg, n, &pos, &f, at)) == 1) {
        if (f.num != 1 && f.num != 2) continue;
        if (f.wt != 2)
            return dubbo__seterr(DUBBO_ETYPE,
                                 "protobuf: attachments Map expected at offset %zu: field %u has "
                                 "wire type %d, not an entry",
                                 at, f.num, f.wt);
        size_t base = at + (size_t)(f.p - msg), epos = 0;
        field_t e = {0};
        const uint8_t *k = (const uint8_t *)"", *v = (const uint8_t *)"";
        size_t kn = 0, vn = 0, vat = base;
        while ((rc = next_field(f.p, f.n, &epos, &e, base)) == 1) {
            if ((e.num == 1 || e.num == 2) && e.wt != 2)
                return dubbo__seterr(DUBBO_ETYPE,
                                     "protobuf: attachment entry at offset %zu: field %u has wire "
                                     "type %d, not a string",
                                     base, e.num, e.wt);
            if (e.num == 1) k = e.p, kn = e.n;
            if (e.num == 2) v = e.p, vn = e.n, vat = base + (size_t)(e.p - f.p);
        }
        if (rc) return rc;
        dubbo_value_t *key = dubbo_v_string(r->arena, (const char *)k, kn), *val = NULL;
        if (!key) return oom();
        if (f.num == 1)
            val = dubbo_v_string(r->arena, (const char *)v, vn);
        else if ((rc = any_attachment(r, v, vn, vat, &val)))
            return rc;
        if (!val) return oom();
        /* attachmentsV2 (typed) wins over the same key's string, as in Java */
        dubbo_map_entry_t *old = NULL;
        for (size_t i = 0; i < m->u.map.len; i++)
            if (strcmp(m->u.map.items[i].key->u.s.ptr, key->u.s.ptr) == 0) old = &m->u.map.items[i];
        if (old) {
            if (f.num == 2) old->value = val;
        } else if ((rc = dubbo_map_put(r->arena, m, key, val)))
            return rc;
    }
    if (rc) return rc;
    *out = m;
    return 0;
}

/* ThrowableProto into Java's exception shape (class, detailMessage, cause). */
static int throwable(reader_t *r, const uint8_t *msg, size_t n, size_t at, int depth,
                     dubbo_value_t **out)
{
    if (depth > PB_MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "protobuf: ThrowableProto causes nested past %d",
                             PB_MAX_DEPTH);
    const uint8_t *cls = NULL, *m = NULL;
    size_t cn = 0, mn = 0;
    dubbo_value_t *cause = NULL;
    size_t pos = 0;
    field_t f = {0};
    int rc;
    while ((rc = next_field(msg, n, &pos, &f, at)) == 1) {
        if (f.num >= 1 && f.num <= 4 && f.wt != 2)
            return dubbo__seterr(DUBBO_ETYPE,
                                 "protobuf: ThrowableProto expected at offset %zu: field %u has "
                                 "wire type %d",
                                 at, f.num, f.wt);
        if (f.num == 1) cls = f.p, cn = f.n;
        if (f.num == 2) m = f.p, mn = f.n;
        if (f.num == 4 &&
            (rc = throwable(r, f.p, f.n, at + (size_t)(f.p - msg), depth + 1, &cause)))
            return rc;
    }
    if (rc) return rc;
    char *c = dubbo_arena_strndup(r->arena, cn ? (const char *)cls : "java.lang.RuntimeException",
                                  cn ? cn : strlen("java.lang.RuntimeException"));
    char *text = mn ? dubbo_arena_strndup(r->arena, (const char *)m, mn) : NULL;
    if (!c || (mn && !text)) return oom();
    dubbo_value_t *e = dubbo_exception_new(r->arena, c, text);
    if (!e) return oom();
    if (cause) dubbo_object_set(e, "cause", cause);
    *out = e;
    return 0;
}

static int r_read(dubbo_serial_state_t *s, dubbo_value_t **out)
{
    reader_t *r = (reader_t *)s;
    const uint8_t *msg;
    size_t n = 0, at = 0;
    field_t f = {0};
    int rc;
    dubbo__item_t item = dubbo__order_next(&r->o, false);
    if (item == DUBBO__ITEM_FIRST) {
        /* Java 3.3 sends a heartbeat with an empty body (its protobuf
         * cannot write null), dubbo-go with hessian's null */
        if (r->len == 0 || (r->len == 1 && r->in[0] == 'N')) {
            r->pos = 1;
            *out = dubbo_v_null();
            return 0;
        }
        if ((rc = next_message(r, &msg, &n, &at, "the response kind"))) return rc;
        /* the kind (Int32Value), or an event's StringValue: field 1's wire
         * type tells them apart */
        size_t pos = 0;
        int wt = 0;
        while ((rc = next_field(msg, n, &pos, &f, at)) == 1)
            if (f.num == 1) wt = f.wt;
        if (rc) return rc;
        if (wt == 2) {
            if ((rc = wrapper_field(msg, n, at, 2, "a StringValue", &f))) return rc;
            if (f.n == 1 && f.p[0] == 'H')
                *out = dubbo_v_null(); /* Java's heartbeat */
            else if (!(*out = dubbo_v_string(r->arena, (const char *)f.p, f.n)))
                return oom();
            return 0;
        }
        if ((rc = wrapper_field(msg, n, at, 0, "the response kind (an Int32Value)", &f))) return rc;
        dubbo__order_kind(&r->o, (int32_t)f.v);
        return (*out = dubbo_v_int(r->arena, (int32_t)f.v)) ? 0 : oom();
    }
    if (item == DUBBO__ITEM_EARLY)
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf: a value was asked for at offset %zu before the "
                             "request's five strings",
                             r->pos);
    if (item == DUBBO__ITEM_MAP) return read_map(r, out);
    if (item == DUBBO__ITEM_THROWABLE) {
        if ((rc = next_message(r, &msg, &n, &at, "a ThrowableProto"))) return rc;
        return throwable(r, msg, n, at, 0, out);
    }
    if ((rc = next_message(r, &msg, &n, &at, "a message"))) return rc;
    return (*out = dubbo_v_binary(r->arena, msg, n)) ? 0 : oom();
}

static size_t r_pos(const dubbo_serial_state_t *s)
{
    return ((const reader_t *)s)->pos;
}

static bool r_done(const dubbo_serial_state_t *s)
{
    const reader_t *r = (const reader_t *)s;
    return r->pos >= r->len;
}

static void r_destroy(dubbo_serial_state_t *s)
{
    (void)s;
}

/* ---- writing ------------------------------------------------------------- */

static int put_varint(dubbo_buf_t *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) t[n] |= 0x80;
        n++;
    } while (v);
    return dubbo_buf_append(b, t, n);
}

/* Field `num` as length-delimited bytes. */
static int put_bytes_field(dubbo_buf_t *b, uint32_t num, const void *p, size_t n)
{
    int rc = put_varint(b, (uint64_t)num << 3 | 2);
    if (!rc) rc = put_varint(b, n);
    return rc ? rc : dubbo_buf_append(b, p, n);
}

/* A delimited message whose body is `body` (n bytes). */
static int put_message(dubbo_buf_t *b, const void *body, size_t n)
{
    int rc = put_varint(b, n);
    return rc ? rc : dubbo_buf_append(b, body, n);
}

/* A delimited wrapper: StringValue / BytesValue (wire type 2), Int32Value,
 * Int64Value, BoolValue (0), DoubleValue (1); proto3 leaves out a default. */
static int put_wrapper(dubbo_buf_t *b, int wt, uint64_t v, const void *p, size_t n)
{
    uint8_t body[16];
    size_t bn = 0;
    if (wt == 2) {
        if (!n) return put_varint(b, 0);
        uint8_t hdr[11];
        size_t hn = 1;
        hdr[0] = 0x0a; /* field 1, length-delimited */
        for (uint64_t x = n;; x >>= 7) {
            hdr[hn++] = (uint8_t)((x & 0x7f) | (x >= 0x80 ? 0x80 : 0));
            if (x < 0x80) break;
        }
        int rc = put_varint(b, hn + n);
        if (!rc) rc = dubbo_buf_append(b, hdr, hn);
        return rc ? rc : dubbo_buf_append(b, p, n);
    }
    if (v) {
        body[bn++] = (uint8_t)(wt == 1 ? 0x09 : 0x08);
        if (wt == 1)
            for (int i = 0; i < 8; i++)
                body[bn++] = (uint8_t)(v >> (8 * i));
        else
            do {
                body[bn] = (uint8_t)(v & 0x7f);
                v >>= 7;
                if (v) body[bn] |= 0x80;
                bn++;
            } while (v);
    }
    return put_message(b, body, bn);
}

/* ThrowableProto for a dubbo exception value (class name, detailMessage,
 * cause) or a plain message. */
static int put_throwable(dubbo_buf_t *b, const dubbo_value_t *v, int depth)
{
    if (depth > PB_MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "protobuf: exception causes nested past %d",
                             PB_MAX_DEPTH);
    dubbo_buf_t t;
    dubbo_buf_init(&t, 0);
    int rc = 0;
    const char *cls = "java.lang.RuntimeException", *msg = NULL;
    const dubbo_value_t *cause = NULL;
    if (v && v->type == DUBBO_T_OBJECT) {
        cls = v->u.obj.cls->name;
        const dubbo_value_t *d = dubbo_object_get(v, "detailMessage");
        msg = d && d->type == DUBBO_T_STRING ? d->u.s.ptr : NULL;
        cause = dubbo_object_get(v, "cause");
        if (cause == v || (cause && cause->type != DUBBO_T_OBJECT)) cause = NULL;
    } else if (v && v->type == DUBBO_T_STRING) {
        msg = v->u.s.ptr;
    }
    rc = put_bytes_field(&t, 1, cls, strlen(cls));
    if (!rc && msg && *msg) rc = put_bytes_field(&t, 2, msg, strlen(msg));
    if (!rc && cause) {
        dubbo_buf_t c;
        dubbo_buf_init(&c, 0);
        rc = put_throwable(&c, cause, depth + 1);
        /* put_throwable wrote a delimited message: as field 4 it is the
         * same length prefix after the key */
        if (!rc) rc = put_varint(&t, 4 << 3 | 2);
        if (!rc) rc = dubbo_buf_append(&t, c.base, c.len);
        dubbo_buf_destroy(&c);
    }
    if (!rc) rc = put_message(b, t.base, t.len);
    dubbo_buf_destroy(&t);
    return rc;
}

/* An attachment value as Java's String.valueOf prints it. */
static int att_text(const dubbo_value_t *v, char *buf, size_t cap, const char **out)
{
    *out = dubbo_value_java_string(v, buf, cap);
    if (!*out)
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf: an attachment of type %s (the Map wrapper holds strings)",
                             dubbo_vtype_name(v ? v->type : DUBBO_T_NULL));
    return 0;
}

/* The Map wrapper of a dubbo map (keys and values as text). */
static int put_map(dubbo_buf_t *b, const dubbo_value_t *m)
{
    dubbo_buf_t t, e;
    dubbo_buf_init(&t, 0);
    dubbo_buf_init(&e, 0);
    int rc = 0;
    for (size_t i = 0; !rc && i < m->u.map.len; i++) {
        char kb[32], vb[32];
        const char *k, *v;
        if ((rc = att_text(m->u.map.items[i].key, kb, sizeof(kb), &k)) ||
            (rc = att_text(m->u.map.items[i].value, vb, sizeof(vb), &v)))
            break;
        dubbo_buf_clear(&e);
        if (!(rc = put_bytes_field(&e, 1, k, strlen(k))) &&
            !(rc = put_bytes_field(&e, 2, v, strlen(v))))
            rc = put_bytes_field(&t, 1, e.base, e.len);
    }
    if (!rc) rc = put_message(b, t.base, t.len);
    dubbo_buf_destroy(&t);
    dubbo_buf_destroy(&e);
    return rc;
}

static void w_init(dubbo_serial_state_t *s, dubbo_buf_t *out)
{
    writer_t *w = (writer_t *)s;
    memset(w, 0, sizeof(*w));
    w->out = out;
    dubbo_buf_init(&w->map, 0);
}

static int map_entry_part(writer_t *w, const char *text, size_t len)
{
    /* an entry is key then value: the key waits in `map` until its value */
    if (!w->have_key) {
        w->key_at = w->map.len;
        w->have_key = true;
        return put_bytes_field(&w->map, 1, text, len);
    }
    w->have_key = false;
    dubbo_buf_t e;
    dubbo_buf_init(&e, 0);
    int rc = dubbo_buf_append(&e, w->map.base + w->key_at, w->map.len - w->key_at);
    if (!rc) rc = put_bytes_field(&e, 2, text, len);
    w->map.len = w->key_at;
    if (!rc) rc = put_bytes_field(&w->map, 1, e.base, e.len);
    dubbo_buf_destroy(&e);
    return rc;
}

static int w_write(dubbo_serial_state_t *s, const dubbo_value_t *v)
{
    writer_t *w = (writer_t *)s;
    if (w->in_map) {
        char buf[32];
        const char *t;
        int rc = att_text(v, buf, sizeof(buf), &t);
        return rc ? rc : map_entry_part(w, t, strlen(t));
    }
    dubbo_vtype_t type = v ? v->type : DUBBO_T_NULL;
    dubbo__item_t item = dubbo__order_next(&w->o, true);
    /* an event's data: Java 3.3 sends the heartbeat's null as no bytes at
     * all (and reads "H", what its writeEvent would write, too) */
    if (item == DUBBO__ITEM_EVENT && type == DUBBO_T_NULL) return 0;
    if (item == DUBBO__ITEM_THROWABLE) return put_throwable(w->out, v, 0);
    switch (type) {
    case DUBBO_T_NULL: return put_varint(w->out, 0); /* google.protobuf.Empty, as Java suggests */
    case DUBBO_T_BINARY: return put_message(w->out, v->u.s.ptr, v->u.s.len);
    case DUBBO_T_STRING: return put_wrapper(w->out, 2, 0, v->u.s.ptr, v->u.s.len);
    case DUBBO_T_INT: return put_wrapper(w->out, 0, (uint64_t)(int64_t)v->u.i, NULL, 0);
    case DUBBO_T_LONG: return put_wrapper(w->out, 0, (uint64_t)v->u.l, NULL, 0);
    case DUBBO_T_BOOL: return put_wrapper(w->out, 0, v->u.b, NULL, 0);
    case DUBBO_T_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->u.d, sizeof(bits));
        return put_wrapper(w->out, 1, bits, NULL, 0);
    }
    case DUBBO_T_MAP: return put_map(w->out, v);
    default:
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf: a %s value has no protobuf form (give a message's bytes "
                             "as binary)",
                             dubbo_vtype_name(type));
    }
}

static int w_write_string(dubbo_serial_state_t *s, const char *str, size_t len)
{
    writer_t *w = (writer_t *)s;
    if (w->in_map) return map_entry_part(w, str, len);
    /* the writer's order (a request) matters only for its exception and
     * event: values choose their wrapper by type */
    dubbo__order_string(&w->o);
    return put_wrapper(w->out, 2, 0, str, len);
}

static int w_write_int(dubbo_serial_state_t *s, int32_t v)
{
    writer_t *w = (writer_t *)s;
    if (w->o.mode == DUBBO__ORD_START) dubbo__order_kind(&w->o, v);
    if (w->in_map) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", (int)v);
        return map_entry_part(w, buf, strlen(buf));
    }
    return put_wrapper(w->out, 0, (uint64_t)(int64_t)v, NULL, 0);
}

static int w_map_begin(dubbo_serial_state_t *s)
{
    writer_t *w = (writer_t *)s;
    if (w->in_map) return dubbo__seterr(DUBBO_ETYPE, "protobuf: a map inside the attachments Map");
    w->in_map = true;
    w->have_key = false;
    dubbo_buf_clear(&w->map);
    return 0;
}

static int w_map_end(dubbo_serial_state_t *s)
{
    writer_t *w = (writer_t *)s;
    if (!w->in_map || w->have_key)
        return dubbo__seterr(DUBBO_EINVAL, "protobuf: map end without its begin or a key's value");
    w->in_map = false;
    return put_message(w->out, w->map.base, w->map.len);
}

static void w_destroy(dubbo_serial_state_t *s)
{
    dubbo_buf_destroy(&((writer_t *)s)->map);
}

const dubbo_serialization_ops_t dubbo__serialization_protobuf = {
    .name = "protobuf",
    .id = 22, /* Java's PROTOBUF_SERIALIZATION_ID */
    .state_size = sizeof(reader_t) > sizeof(writer_t) ? sizeof(reader_t) : sizeof(writer_t),
    .reader_init = r_init,
    .read = r_read,
    .read_string = r_read_string,
    .reader_pos = r_pos,
    .reader_done = r_done,
    .reader_destroy = r_destroy,
    .writer_init = w_init,
    .write = w_write,
    .write_string = w_write_string,
    .write_int = w_write_int,
    .write_map_begin = w_map_begin,
    .write_map_end = w_map_end,
    .writer_destroy = w_destroy,
};
