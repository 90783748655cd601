/* The protobuf-json serialization of the Dubbo protocol (Java's
 * GenericProtobufJsonSerialization, "protobuf-json", header id 21). A body
 * is a row of lines, each a message printed by protobuf's JsonFormat
 * (compact) and "\n": the request's strings as StringValue (a bare JSON
 * string), the response kind as Int32Value (a bare number), arguments and
 * results as the caller's messages (JSON objects: dubbo maps here, no
 * schema needed on the wire), attachments as Java's Map wrapper
 * ({"attachments":{...}}; "attachmentsV2", whose values are
 * google.protobuf.Any, is read and never written), exceptions as
 * ThrowableProto, events as a StringValue ("H" for a heartbeat; Java 3.3
 * sends a heartbeat's null as an empty body). Items carry no type, so the
 * order of calls decides (order.h, shared with protobuf.c). Strings are
 * escaped as JsonFormat does (Gson's HTML-safe set), so what we print is
 * byte for byte what Java prints (tests/vectors/protobuf-json). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/serialization.h"
#include "core/base64.h"
#include "core/internal.h"
#include "serialize/order.h"

#define PJ_MAX_DEPTH 64

typedef struct {
    dubbo_arena_t *arena;
    const uint8_t *in;
    size_t len, pos;
    dubbo__order_t o;
} reader_t;

typedef struct {
    dubbo_buf_t *out;
    dubbo__order_t o;
    bool in_map;
    bool have_key;
    size_t entries;
    dubbo_buf_t map; /* the attachments object being built */
} writer_t;

_Static_assert(sizeof(reader_t) <= DUBBO_SERIAL_STATE_SIZE &&
                   sizeof(writer_t) <= DUBBO_SERIAL_STATE_SIZE,
               "protobuf-json state must fit dubbo_serial_state_t");

static int oom(void)
{
    int code = dubbo__last_code();
    return code == DUBBO_ETOO_BIG || code == DUBBO_ENOMEM
               ? code
               : dubbo__seterr(DUBBO_ENOMEM, "protobuf-json: out of memory");
}

/* ---- reading ------------------------------------------------------------- */

/* The next line as JSON (the caller json_decref's it); `at` its offset. */
static int next_line(reader_t *r, json_t **out, size_t *at, const char *what)
{
    if (r->pos >= r->len)
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "protobuf-json: %s expected at offset %zu, found the end", what,
                             r->pos);
    const uint8_t *p = r->in + r->pos;
    const uint8_t *nl = memchr(p, '\n', r->len - r->pos);
    size_t n = nl ? (size_t)(nl - p) : r->len - r->pos;
    *at = r->pos;
    r->pos += n + (nl ? 1 : 0);
    json_error_t err;
    /* Java's reader takes a blank line for the end of the body */
    json_t *j = json_loadb((const char *)p, n, JSON_DECODE_ANY, &err);
    if (!j)
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "protobuf-json: %s at offset %zu is not JSON: %s (line byte %d)", what,
                             *at, err.text, err.position);
    *out = j;
    return 0;
}

static int json_value(reader_t *r, const json_t *j, int depth, dubbo_value_t **out)
{
    if (depth > PJ_MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "protobuf-json: JSON nested past %d", PJ_MAX_DEPTH);
    dubbo_arena_t *a = r->arena;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        dubbo_value_t *m = dubbo_v_map(a, NULL, json_object_size(j) ? json_object_size(j) : 1);
        if (!m) return oom();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            dubbo_value_t *key = dubbo_v_cstr(a, k), *x = NULL;
            if (!key) return oom();
            int rc = json_value(r, v, depth + 1, &x);
            if (rc) return rc;
            if ((rc = dubbo_map_put(a, m, key, x))) return rc;
        }
        *out = m;
        return 0;
    }
    case JSON_ARRAY: {
        dubbo_value_t *l = dubbo_v_list(a, NULL, json_array_size(j) ? json_array_size(j) : 1);
        if (!l) return oom();
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            dubbo_value_t *x = NULL;
            int rc = json_value(r, v, depth + 1, &x);
            if (rc) return rc;
            if ((rc = dubbo_list_push(a, l, x))) return rc;
        }
        *out = l;
        return 0;
    }
    case JSON_STRING: *out = dubbo_v_string(a, json_string_value(j), json_string_length(j)); break;
    case JSON_INTEGER: {
        /* int32 fields print as numbers, 64-bit ones as strings */
        json_int_t x = json_integer_value(j);
        *out = x >= INT32_MIN && x <= INT32_MAX ? dubbo_v_int(a, (int32_t)x)
                                                : dubbo_v_long(a, (int64_t)x);
        break;
    }
    case JSON_REAL: *out = dubbo_v_double(a, json_real_value(j)); break;
    case JSON_TRUE: *out = dubbo_v_bool(a, true); break;
    case JSON_FALSE: *out = dubbo_v_bool(a, false); break;
    default: *out = dubbo_v_null(); break;
    }
    return *out ? 0 : oom();
}

static int r_read_string(dubbo_serial_state_t *s, const char **out, size_t *len)
{
    reader_t *r = (reader_t *)s;
    if (!dubbo__order_string(&r->o))
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf-json: a string was asked for at offset %zu where a "
                             "message is",
                             r->pos);
    json_t *j;
    size_t at;
    int rc = next_line(r, &j, &at, "a StringValue");
    if (rc) return rc;
    if (!json_is_string(j)) {
        json_decref(j);
        return dubbo__seterr(
            DUBBO_ETYPE, "protobuf-json: a StringValue (a JSON string) expected at offset %zu", at);
    }
    char *str = dubbo_arena_strndup(r->arena, json_string_value(j), json_string_length(j));
    *len = json_string_length(j);
    json_decref(j);
    if (!str) return oom();
    *out = str;
    return dubbo__order_string_done(&r->o, str);
}

/* A string member of obj, or NULL. */
static const char *member(const json_t *obj, const char *key, size_t *len)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) return NULL;
    if (len) *len = json_string_length(v);
    return json_string_value(v);
}

/* ThrowableProto into Java's exception shape (class, detailMessage, cause). */
static int throwable(reader_t *r, const json_t *j, size_t at, int depth, dubbo_value_t **out)
{
    if (depth > PJ_MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "protobuf-json: ThrowableProto causes nested past %d",
                             PJ_MAX_DEPTH);
    if (!json_is_object(j))
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf-json: a ThrowableProto (a JSON object) expected at offset "
                             "%zu",
                             at);
    const char *cls = member(j, "originalClassName", NULL);
    const char *msg = member(j, "originalMessage", NULL);
    dubbo_value_t *cause = NULL;
    const json_t *c = json_object_get(j, "cause");
    if (c) {
        int rc = throwable(r, c, at, depth + 1, &cause);
        if (rc) return rc;
    }
    char *cn = dubbo_arena_strndup(r->arena, cls && *cls ? cls : "java.lang.RuntimeException",
                                   strlen(cls && *cls ? cls : "java.lang.RuntimeException"));
    char *text = msg && *msg ? dubbo_arena_strndup(r->arena, msg, strlen(msg)) : NULL;
    if (!cn || (msg && *msg && !text)) return oom();
    dubbo_value_t *e = dubbo_exception_new(r->arena, cn, text);
    if (!e) return oom();
    if (cause) dubbo_object_set(e, "cause", cause);
    *out = e;
    return 0;
}

/* An attachmentsV2 value: Any of `Attachment { type, data }`, data an Any
 * of the wrapper of the Java class `type` names; JSON prints a wrapper
 * inside Any as {"@type":..., "value": <its JSON>}. */
static int any_attachment(reader_t *r, const json_t *j, size_t at, dubbo_value_t **out)
{
    const char *cls = member(j, "type", NULL);
    const json_t *data = json_object_get(j, "data");
    const json_t *v = json_object_get(data, "value");
    if (!cls || !strcmp(cls, "null")) {
        *out = dubbo_v_null();
        return 0;
    }
    dubbo_arena_t *a = r->arena;
    if (!strcmp(cls, "java.lang.String") && (json_is_string(v) || !v))
        *out = v ? dubbo_v_string(a, json_string_value(v), json_string_length(v))
                 : dubbo_v_string(a, "", 0);
    else if (!strcmp(cls, "java.lang.Integer") && (json_is_integer(v) || !v))
        *out = dubbo_v_int(a, v ? (int32_t)json_integer_value(v) : 0);
    else if (!strcmp(cls, "java.lang.Long") && (json_is_string(v) || json_is_integer(v) || !v)) {
        long long x = 0;
        if (json_is_string(v)) {
            char *end;
            x = strtoll(json_string_value(v), &end, 10);
            if (*end || !json_string_length(v)) goto bad;
        } else if (v)
            x = json_integer_value(v);
        *out = dubbo_v_long(a, x);
    } else if (!strcmp(cls, "java.lang.Boolean") && (json_is_boolean(v) || !v))
        *out = dubbo_v_bool(a, v && json_is_true(v));
    else if ((!strcmp(cls, "java.lang.Double") || !strcmp(cls, "java.lang.Float")) &&
             (json_is_number(v) || json_is_string(v) || !v)) {
        double d = json_is_number(v) ? json_number_value(v) : 0;
        const char *t = json_string_value(v);
        if (t) d = !strcmp(t, "NaN") ? NAN : !strcmp(t, "Infinity") ? INFINITY : -INFINITY;
        *out = dubbo_v_double(a, d);
    } else {
    bad:
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf-json: attachment of class \"%s\" at offset %zu (known: "
                             "String, Integer, Long, Boolean, Float, Double, null, each with its "
                             "wrapper's JSON)",
                             cls, at);
    }
    return *out ? 0 : oom();
}

/* Java's attachments wrapper. */
static int read_map(reader_t *r, const json_t *j, size_t at, dubbo_value_t **out)
{
    if (!json_is_object(j))
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf-json: the attachments Map (a JSON object) expected at "
                             "offset %zu",
                             at);
    const json_t *plain = json_object_get(j, "attachments");
    const json_t *typed = json_object_get(j, "attachmentsV2");
    if ((plain && !json_is_object(plain)) || (typed && !json_is_object(typed)))
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf-json: attachments Map at offset %zu: its maps are not "
                             "objects",
                             at);
    dubbo_value_t *m = dubbo_v_map(r->arena, NULL, 8);
    if (!m) return oom();
    const char *k;
    json_t *v;
    int rc;
    json_object_foreach((json_t *)plain, k, v)
    {
        if (!json_is_string(v))
            return dubbo__seterr(DUBBO_ETYPE,
                                 "protobuf-json: attachment \"%s\" at offset %zu is not a string",
                                 k, at);
        dubbo_value_t *key = dubbo_v_cstr(r->arena, k),
                      *val = dubbo_v_string(r->arena, json_string_value(v), json_string_length(v));
        if (!key || !val) return oom();
        if ((rc = dubbo_map_put(r->arena, m, key, val))) return rc;
    }
    json_object_foreach((json_t *)typed, k, v)
    {
        dubbo_value_t *val = NULL;
        if ((rc = any_attachment(r, v, at, &val))) return rc;
        /* attachmentsV2 (typed) wins over the same key's string, as in Java */
        bool found = false;
        for (size_t i = 0; i < m->u.map.len; i++)
            if (strcmp(m->u.map.items[i].key->u.s.ptr, k) == 0) {
                m->u.map.items[i].value = val;
                found = true;
            }
        dubbo_value_t *key = found ? NULL : dubbo_v_cstr(r->arena, k);
        if (!found && !key) return oom();
        if (!found && (rc = dubbo_map_put(r->arena, m, key, val))) return rc;
    }
    *out = m;
    return 0;
}

static int r_read(dubbo_serial_state_t *s, dubbo_value_t **out)
{
    reader_t *r = (reader_t *)s;
    dubbo__item_t item = dubbo__order_next(&r->o, false);
    if (item == DUBBO__ITEM_EARLY)
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf-json: a value was asked for at offset %zu before the "
                             "request's five strings",
                             r->pos);
    if (item == DUBBO__ITEM_FIRST && r->len == 0) {
        *out = dubbo_v_null(); /* Java 3.3's heartbeat: an empty body */
        return 0;
    }
    json_t *j;
    size_t at;
    int rc = next_line(r, &j, &at,
                       item == DUBBO__ITEM_FIRST       ? "the response kind"
                       : item == DUBBO__ITEM_MAP       ? "the attachments Map"
                       : item == DUBBO__ITEM_THROWABLE ? "a ThrowableProto"
                                                       : "a message");
    if (rc) return rc;
    switch (item) {
    case DUBBO__ITEM_FIRST:
        if (json_is_integer(j)) {
            json_int_t k = json_integer_value(j);
            if (k < INT32_MIN || k > INT32_MAX) {
                rc = dubbo__seterr(DUBBO_ETYPE,
                                   "protobuf-json: response kind %lld at offset %zu is no int32",
                                   (long long)k, at);
                break;
            }
            dubbo__order_kind(&r->o, (int32_t)k);
            *out = dubbo_v_int(r->arena, (int32_t)k);
            rc = *out ? 0 : oom();
        } else if (json_is_string(j)) {
            /* an event's StringValue: "H" is Java's heartbeat */
            if (json_string_length(j) == 1 && json_string_value(j)[0] == 'H')
                *out = dubbo_v_null();
            else
                *out = dubbo_v_string(r->arena, json_string_value(j), json_string_length(j));
            rc = *out ? 0 : oom();
        } else
            rc = dubbo__seterr(DUBBO_ETYPE,
                               "protobuf-json: the response kind (a number) or an event (a "
                               "string) expected at offset %zu",
                               at);
        break;
    case DUBBO__ITEM_MAP: rc = read_map(r, j, at, out); break;
    case DUBBO__ITEM_THROWABLE: rc = throwable(r, j, at, 0, out); break;
    default: rc = json_value(r, j, 0, out); break;
    }
    json_decref(j);
    return rc;
}

static void r_init(dubbo_serial_state_t *s, dubbo_arena_t *a, const uint8_t *in, size_t len)
{
    reader_t *r = (reader_t *)s;
    memset(r, 0, sizeof(*r));
    r->arena = a;
    r->in = in;
    r->len = len;
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

static int put(dubbo_buf_t *b, const char *s)
{
    return dubbo_buf_append(b, s, strlen(s));
}

/* A JSON string escaped as JsonFormat prints it: Gson's HTML-safe
 * escaping (<, >, &, =, ' as \u00xx; U+2028/9), other non-ASCII as is. */
static int put_string(dubbo_buf_t *b, const char *s, size_t n)
{
    int rc = dubbo_buf_append(b, "\"", 1);
    size_t from = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        const char *e = NULL;
        size_t skip = 1;
        switch (c) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\n': e = "\\n"; break;
        case '\t': e = "\\t"; break;
        case '\r': e = "\\r"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        case '<':
        case '>':
        case '&':
        case '=':
        case '\'':
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            e = esc;
            break;
        case 0xe2:
            if (i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
                e = (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
                skip = 3;
            }
            break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                e = esc;
            }
        }
        if (!e) continue;
        if (i > from) rc = dubbo_buf_append(b, s + from, i - from);
        if (!rc) rc = put(b, e);
        i += skip - 1;
        from = i + 1;
    }
    if (!rc && n > from) rc = dubbo_buf_append(b, s + from, n - from);
    return rc ? rc : dubbo_buf_append(b, "\"", 1);
}

static int put_double(dubbo_buf_t *b, double d)
{
    if (isnan(d)) return put(b, "\"NaN\"");
    if (isinf(d)) return put(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    char t[40];
    /* the shortest text that reads back the same double */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(t, sizeof(t), "%.*g", prec, d);
        if (strtod(t, NULL) == d) break;
    }
    if (!strpbrk(t, ".eEn")) strcat(t, ".0"); /* as Java prints a double */
    return put(b, t);
}

/* A dubbo value as protobuf's JSON mapping prints it: 64-bit integers as
 * strings, bytes as base64, maps as objects (keys as Java's String.valueOf
 * prints them). */
static int put_value(dubbo_buf_t *b, const dubbo_value_t *v, int depth)
{
    if (depth > PJ_MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "protobuf-json: value nested past %d", PJ_MAX_DEPTH);
    char t[32];
    int rc = 0;
    switch (v ? v->type : DUBBO_T_NULL) {
    case DUBBO_T_NULL: return put(b, "null");
    case DUBBO_T_BOOL: return put(b, v->u.b ? "true" : "false");
    case DUBBO_T_INT: snprintf(t, sizeof(t), "%d", (int)v->u.i); return put(b, t);
    case DUBBO_T_LONG: snprintf(t, sizeof(t), "\"%lld\"", (long long)v->u.l); return put(b, t);
    case DUBBO_T_DOUBLE: return put_double(b, v->u.d);
    case DUBBO_T_STRING: return put_string(b, v->u.s.ptr, v->u.s.len);
    case DUBBO_T_BINARY: {
        dubbo_buf_t e;
        dubbo_buf_init(&e, 0);
        rc = dubbo__base64_encode((const uint8_t *)v->u.s.ptr, v->u.s.len, &e);
        if (!rc) rc = put_string(b, (const char *)e.base, e.len);
        dubbo_buf_destroy(&e);
        return rc;
    }
    case DUBBO_T_LIST:
        rc = put(b, "[");
        for (size_t i = 0; !rc && i < v->u.list.len; i++) {
            if (i) rc = put(b, ",");
            if (!rc) rc = put_value(b, v->u.list.items[i], depth + 1);
        }
        return rc ? rc : put(b, "]");
    case DUBBO_T_MAP:
        rc = put(b, "{");
        for (size_t i = 0; !rc && i < v->u.map.len; i++) {
            const dubbo_value_t *k = v->u.map.items[i].key;
            const char *ks = dubbo_value_java_string(k, t, sizeof(t));
            if (!ks)
                return dubbo__seterr(DUBBO_ETYPE, "protobuf-json: a map key of type %s",
                                     dubbo_vtype_name(k ? k->type : DUBBO_T_NULL));
            if (i) rc = put(b, ",");
            if (!rc) rc = put_string(b, ks, strlen(ks));
            if (!rc) rc = put(b, ":");
            if (!rc) rc = put_value(b, v->u.map.items[i].value, depth + 1);
        }
        return rc ? rc : put(b, "}");
    default:
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf-json: a %s value has no protobuf JSON form (give a "
                             "message as a map)",
                             dubbo_vtype_name(v->type));
    }
}

/* ThrowableProto for a dubbo exception value or a plain message. */
static int put_throwable(dubbo_buf_t *b, const dubbo_value_t *v, int depth)
{
    if (depth > PJ_MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "protobuf-json: exception causes nested past %d",
                             PJ_MAX_DEPTH);
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
    int rc = put(b, "{\"originalClassName\":");
    if (!rc) rc = put_string(b, cls, strlen(cls));
    if (!rc && msg && *msg) {
        rc = put(b, ",\"originalMessage\":");
        if (!rc) rc = put_string(b, msg, strlen(msg));
    }
    if (!rc && cause) {
        rc = put(b, ",\"cause\":");
        if (!rc) rc = put_throwable(b, cause, depth + 1);
    }
    return rc ? rc : put(b, "}");
}

/* The Map wrapper of a dubbo map: keys and values as text, as Java's
 * String.valueOf prints them. */
static int att_text(const dubbo_value_t *v, char *buf, size_t cap, const char **out)
{
    *out = dubbo_value_java_string(v, buf, cap);
    if (!*out)
        return dubbo__seterr(DUBBO_ETYPE,
                             "protobuf-json: an attachment of type %s (the Map wrapper holds "
                             "strings)",
                             dubbo_vtype_name(v ? v->type : DUBBO_T_NULL));
    return 0;
}

static int put_map(dubbo_buf_t *b, const dubbo_value_t *m)
{
    if (!m || m->type != DUBBO_T_MAP)
        return dubbo__seterr(DUBBO_ETYPE, "protobuf-json: the attachments are a %s, not a map",
                             dubbo_vtype_name(m ? m->type : DUBBO_T_NULL));
    int rc = put(b, "{\"attachments\":{");
    for (size_t i = 0; !rc && i < m->u.map.len; i++) {
        char kb[32], vb[32];
        const char *k, *v;
        if ((rc = att_text(m->u.map.items[i].key, kb, sizeof(kb), &k)) ||
            (rc = att_text(m->u.map.items[i].value, vb, sizeof(vb), &v)))
            break;
        if (i) rc = put(b, ",");
        if (!rc) rc = put_string(b, k, strlen(k));
        if (!rc) rc = put(b, ":");
        if (!rc) rc = put_string(b, v, strlen(v));
    }
    return rc ? rc : put(b, "}}\n");
}

static void w_init(dubbo_serial_state_t *s, dubbo_buf_t *out)
{
    writer_t *w = (writer_t *)s;
    memset(w, 0, sizeof(*w));
    w->out = out;
    dubbo_buf_init(&w->map, 0);
}

/* A key or a value of the attachments being written. */
static int map_part(writer_t *w, const char *text, size_t len)
{
    int rc = 0;
    if (!w->have_key && w->entries++) rc = put(&w->map, ",");
    if (!rc) rc = put_string(&w->map, text, len);
    if (!rc && !w->have_key) rc = put(&w->map, ":");
    w->have_key = !w->have_key;
    return rc;
}

static int w_write(dubbo_serial_state_t *s, const dubbo_value_t *v)
{
    writer_t *w = (writer_t *)s;
    if (w->in_map) {
        char buf[32];
        const char *t;
        int rc = att_text(v, buf, sizeof(buf), &t);
        return rc ? rc : map_part(w, t, strlen(t));
    }
    bool null = !v || v->type == DUBBO_T_NULL;
    int rc;
    switch (dubbo__order_next(&w->o, true)) {
    case DUBBO__ITEM_EVENT:
        /* Java 3.3 sends the heartbeat's null as no bytes at all (and reads
         * "H", what its writeEvent would write, too) */
        if (null) return 0;
        break;
    case DUBBO__ITEM_THROWABLE:
        rc = put_throwable(w->out, v, 0);
        return rc ? rc : put(w->out, "\n");
    case DUBBO__ITEM_MAP: return put_map(w->out, v);
    default: break;
    }
    /* a message's null: google.protobuf.Empty, as Java suggests */
    rc = null ? put(w->out, "{}") : put_value(w->out, v, 0);
    return rc ? rc : put(w->out, "\n");
}

static int w_write_string(dubbo_serial_state_t *s, const char *str, size_t len)
{
    writer_t *w = (writer_t *)s;
    if (w->in_map) return map_part(w, str, len);
    bool counted = dubbo__order_string(&w->o);
    int rc = put_string(w->out, str, len);
    if (!rc) rc = put(w->out, "\n");
    if (!rc && counted && w->o.strings == 4) {
        /* the descriptor: how many arguments come before the attachments */
        char *desc = malloc(len + 1);
        if (!desc) return dubbo__seterr(DUBBO_ENOMEM, "protobuf-json: out of memory");
        memcpy(desc, str, len);
        desc[len] = 0;
        rc = dubbo__order_string_done(&w->o, desc);
        free(desc);
    } else if (!rc && counted)
        w->o.strings++;
    return rc;
}

static int w_write_int(dubbo_serial_state_t *s, int32_t v)
{
    writer_t *w = (writer_t *)s;
    char t[16];
    snprintf(t, sizeof(t), "%d", (int)v);
    if (w->in_map) return map_part(w, t, strlen(t));
    if (w->o.mode == DUBBO__ORD_START) dubbo__order_kind(&w->o, v);
    int rc = put(w->out, t);
    return rc ? rc : put(w->out, "\n");
}

static int w_map_begin(dubbo_serial_state_t *s)
{
    writer_t *w = (writer_t *)s;
    if (w->in_map)
        return dubbo__seterr(DUBBO_ETYPE, "protobuf-json: a map inside the attachments Map");
    w->in_map = true;
    w->have_key = false;
    w->entries = 0;
    dubbo_buf_clear(&w->map);
    return 0;
}

static int w_map_end(dubbo_serial_state_t *s)
{
    writer_t *w = (writer_t *)s;
    if (!w->in_map || w->have_key)
        return dubbo__seterr(DUBBO_EINVAL,
                             "protobuf-json: map end without its begin or a key's value");
    w->in_map = false;
    int rc = put(w->out, "{\"attachments\":{");
    if (!rc) rc = dubbo_buf_append(w->out, w->map.base, w->map.len);
    return rc ? rc : put(w->out, "}}\n");
}

static void w_destroy(dubbo_serial_state_t *s)
{
    dubbo_buf_destroy(&((writer_t *)s)->map);
}

const dubbo_serialization_ops_t dubbo__serialization_protobuf_json = {
    .name = "protobuf-json",
    .id = 21, /* Java's PROTOBUF_JSON_SERIALIZATION_ID */
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
