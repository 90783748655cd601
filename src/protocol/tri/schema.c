/* Protobuf without generated code (include/dubbo/triple.h, "Protobuf
 * schemas"): a schema is a set of FileDescriptorProtos (from `protoc
 * --descriptor_set_out`, or from a server's reflection service) indexed
 * by full name; messages convert between the protobuf wire format and
 * dubbo_value_t maps by it (field names as protobuf's JSON mapping names
 * them), and between protobuf and JSON through those values.
 *
 * The descriptors are read with the descriptor.proto subset reflection.c
 * compiles (package dubbo.tri.descriptor, the same field numbers as
 * google/protobuf/descriptor.proto; what it lacks is skipped as unknown
 * fields). Decoding is bounded: nesting at most 64 deep, every length
 * checked against what is left. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/cluster.h"
#include "dubbo/triple.h"
#include "core/base64.h"
#include "core/internal.h"
#include "protocol/tri/descriptor.pb-c.h"
#include "protocol/tri/grpc.h"
#include "protocol/tri/reflection_v1.pb-c.h"

#define MAX_DEPTH 64

typedef Dubbo__Tri__Descriptor__FileDescriptorProto file_t;
typedef Dubbo__Tri__Descriptor__DescriptorProto msg_t;
typedef Dubbo__Tri__Descriptor__FieldDescriptorProto field_t;
typedef Dubbo__Tri__Descriptor__EnumDescriptorProto enum_t;
typedef Dubbo__Tri__Descriptor__ServiceDescriptorProto svc_t;

enum { K_MSG, K_ENUM, K_SVC };

typedef struct {
    char *name; /* full, without the leading dot */
    int kind;
    void *p;
    bool proto3; /* its file's syntax */
} entry_t;

struct dubbo_tri_schema {
    file_t **files;
    size_t nfiles;
    entry_t *ents;
    size_t nents, cap;
};

/* ---- the index ---------------------------------------------------------- */

static int add_entry(dubbo_tri_schema_t *s, const char *prefix, const char *name, int kind, void *p,
                     bool proto3)
{
    if (s->nents == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        entry_t *e = realloc(s->ents, cap * sizeof(*e));
        if (!e) return DUBBO_ENOMEM;
        s->ents = e;
        s->cap = cap;
    }
    size_t n = strlen(prefix) + strlen(name) + 2;
    char *full = malloc(n);
    if (!full) return DUBBO_ENOMEM;
    snprintf(full, n, "%s%s%s", prefix, *prefix ? "." : "", name ? name : "");
    s->ents[s->nents++] = (entry_t){full, kind, p, proto3};
    return 0;
}

static int index_msg(dubbo_tri_schema_t *s, const char *prefix, msg_t *m, bool proto3, int depth)
{
    if (depth > MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "schema: types nested over %d deep", MAX_DEPTH);
    int rc = add_entry(s, prefix, m->name, K_MSG, m, proto3);
    if (rc) return rc;
    const char *me = s->ents[s->nents - 1].name;
    char *copy = strdup(me);
    if (!copy) return DUBBO_ENOMEM;
    for (size_t i = 0; !rc && i < m->n_nested_type; i++)
        rc = index_msg(s, copy, m->nested_type[i], proto3, depth + 1);
    for (size_t i = 0; !rc && i < m->n_enum_type; i++)
        rc = add_entry(s, copy, m->enum_type[i]->name, K_ENUM, m->enum_type[i], proto3);
    free(copy);
    return rc;
}

static const entry_t *find(const dubbo_tri_schema_t *s, const char *name, int kind)
{
    if (name && name[0] == '.') name++;
    for (size_t i = 0; name && i < s->nents; i++)
        if (s->ents[i].kind == kind && strcmp(s->ents[i].name, name) == 0) return &s->ents[i];
    return NULL;
}

void dubbo_tri_schema_free(dubbo_tri_schema_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nfiles; i++)
        dubbo__tri__descriptor__file_descriptor_proto__free_unpacked(s->files[i], NULL);
    for (size_t i = 0; i < s->nents; i++)
        free(s->ents[i].name);
    free(s->files);
    free(s->ents);
    free(s);
}

/* Add one serialized FileDescriptorProto (a file already there by name is
 * skipped). */
static int add_file(dubbo_tri_schema_t *s, const uint8_t *p, size_t n)
{
    file_t *f = dubbo__tri__descriptor__file_descriptor_proto__unpack(NULL, n, p);
    if (!f)
        return dubbo__seterr(DUBBO_EMALFORMED, "schema: %zu bytes are not a FileDescriptorProto",
                             n);
    for (size_t i = 0; i < s->nfiles; i++)
        if (f->name && s->files[i]->name && strcmp(f->name, s->files[i]->name) == 0) {
            dubbo__tri__descriptor__file_descriptor_proto__free_unpacked(f, NULL);
            return 0;
        }
    file_t **files = realloc(s->files, (s->nfiles + 1) * sizeof(*files));
    if (!files) {
        dubbo__tri__descriptor__file_descriptor_proto__free_unpacked(f, NULL);
        return DUBBO_ENOMEM;
    }
    s->files = files;
    s->files[s->nfiles++] = f;
    bool proto3 = f->syntax && strcmp(f->syntax, "proto3") == 0;
    const char *pkg = f->package ? f->package : "";
    int rc = 0;
    for (size_t i = 0; !rc && i < f->n_message_type; i++)
        rc = index_msg(s, pkg, f->message_type[i], proto3, 0);
    for (size_t i = 0; !rc && i < f->n_enum_type; i++)
        rc = add_entry(s, pkg, f->enum_type[i]->name, K_ENUM, f->enum_type[i], proto3);
    for (size_t i = 0; !rc && i < f->n_service; i++)
        rc = add_entry(s, pkg, f->service[i]->name, K_SVC, f->service[i], proto3);
    return rc;
}

static bool has_file(const dubbo_tri_schema_t *s, const char *name)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (s->files[i]->name && strcmp(s->files[i]->name, name) == 0) return true;
    return false;
}

int dubbo_tri_schema_load(dubbo_tri_schema_t **out, const void *fdset, size_t n)
{
    *out = NULL;
    Dubbo__Tri__Descriptor__FileDescriptorSet *set =
        dubbo__tri__descriptor__file_descriptor_set__unpack(NULL, n, fdset);
    if (!set)
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "schema: %zu bytes are not a FileDescriptorSet (protoc "
                             "--descriptor_set_out)",
                             n);
    dubbo_tri_schema_t *s = calloc(1, sizeof(*s));
    int rc = s ? 0 : DUBBO_ENOMEM;
    for (size_t i = 0; !rc && i < set->n_file; i++) {
        /* each file once more through its own bytes, so the schema owns
         * it apart from the set */
        size_t len = protobuf_c_message_get_packed_size(&set->file[i]->base);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf) {
            rc = DUBBO_ENOMEM;
            break;
        }
        protobuf_c_message_pack(&set->file[i]->base, buf);
        rc = add_file(s, buf, len);
        free(buf);
    }
    dubbo__tri__descriptor__file_descriptor_set__free_unpacked(set, NULL);
    if (rc) {
        dubbo_tri_schema_free(s);
        if (rc == DUBBO_ENOMEM) dubbo__seterr(rc, "out of memory");
        return rc;
    }
    *out = s;
    return 0;
}

int dubbo_tri_schema_method(const dubbo_tri_schema_t *s, const char *service, const char *method,
                            const char **input, const char **output, dubbo_tri_kind_t *kind)
{
    const entry_t *e = find(s, service, K_SVC);
    if (!e) return dubbo__seterr(DUBBO_ENOT_FOUND, "schema: no service %s", service);
    const svc_t *sv = e->p;
    for (size_t i = 0; i < sv->n_method; i++) {
        const Dubbo__Tri__Descriptor__MethodDescriptorProto *m = sv->method[i];
        if (!m->name || strcmp(m->name, method) != 0) continue;
        if (input)
            *input = m->input_type && m->input_type[0] == '.' ? m->input_type + 1 : m->input_type;
        if (output)
            *output =
                m->output_type && m->output_type[0] == '.' ? m->output_type + 1 : m->output_type;
        if (kind)
            *kind = m->client_streaming && m->server_streaming ? DUBBO_TRI_BIDI_STREAM
                    : m->client_streaming                      ? DUBBO_TRI_CLIENT_STREAM
                    : m->server_streaming                      ? DUBBO_TRI_SERVER_STREAM
                                                               : DUBBO_TRI_UNARY;
        return 0;
    }
    char known[512] = "";
    for (size_t i = 0; i < sv->n_method; i++) {
        size_t l = strlen(known);
        snprintf(known + l, sizeof(known) - l, "%s%s", i ? ", " : "", sv->method[i]->name);
    }
    return dubbo__seterr(DUBBO_ENOT_FOUND, "schema: service %s has no method %s (it has: %s)",
                         service, method, known);
}

/* ---- wire helpers -------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n, off;
    size_t base; /* where p is in the whole input, for errors */
} rd_t;

static int rd_varint(rd_t *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->off >= r->n) return DUBBO_ETRUNCATED;
        uint8_t b = r->p[r->off++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return DUBBO_EMALFORMED;
}

static int put_varint(dubbo_buf_t *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    do {
        x[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) x[n] |= 0x80;
        n++;
    } while (v);
    return dubbo_buf_append(b, x, n);
}

static int put_fixed(dubbo_buf_t *b, uint64_t v, int bytes)
{
    uint8_t x[8];
    for (int i = 0; i < bytes; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    return dubbo_buf_append(b, x, (size_t)bytes);
}

static uint64_t get_fixed(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#define T(x) DUBBO__TRI__DESCRIPTOR__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x

static int wire_type(int type)
{
    switch (type) {
    case T(DOUBLE):
    case T(FIXED64):
    case T(SFIXED64): return 1;
    case T(FLOAT):
    case T(FIXED32):
    case T(SFIXED32): return 5;
    case T(STRING):
    case T(BYTES):
    case T(MESSAGE): return 2;
    case T(GROUP): return 3;
    default: return 0;
    }
}

static bool repeated(const field_t *f)
{
    return f->has_label &&
           f->label == DUBBO__TRI__DESCRIPTOR__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
}

/* protobuf's JSON name: json_name, else lowerCamelCase of the name. */
static const char *json_name(const field_t *f, char *buf, size_t cap)
{
    if (f->json_name && *f->json_name) return f->json_name;
    size_t o = 0;
    bool up = false;
    for (const char *p = f->name ? f->name : ""; *p && o + 1 < cap; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        buf[o++] = up && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        up = false;
    }
    buf[o] = 0;
    return buf;
}

static const msg_t *map_entry(const dubbo_tri_schema_t *s, const field_t *f)
{
    if (!repeated(f) || !f->has_type || f->type != T(MESSAGE)) return NULL;
    const entry_t *e = find(s, f->type_name, K_MSG);
    const msg_t *m = e ? e->p : NULL;
    return m && m->options && m->options->has_map_entry && m->options->map_entry ? m : NULL;
}

static const field_t *field_no(const msg_t *m, int no)
{
    for (size_t i = 0; i < m->n_field; i++)
        if (m->field[i]->number == no) return m->field[i];
    return NULL;
}

/* ---- protobuf -> value ------------------------------------------------------ */

static const char *type_label(int type)
{
    static const char *const names[] = {"?",        "double",   "float",   "int64",  "uint64",
                                        "int32",    "fixed64",  "fixed32", "bool",   "string",
                                        "group",    "message",  "bytes",   "uint32", "enum",
                                        "sfixed32", "sfixed64", "sint32",  "sint64"};
    return type > 0 && type < (int)(sizeof(names) / sizeof(names[0])) ? names[type] : "?";
}

/* An error in the input: in a message of type tname, at byte `at` of the
 * whole input (where the bad item starts), in field f (or, unknown to the
 * schema, field number no). */
static int wire_err(int code, const char *tname, size_t at, const field_t *f, uint64_t no,
                    const char *fmt, ...)
{
    char what[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (f && f->name)
        return dubbo__seterr(code, "schema: %s: %s at byte %zu in field %s", tname, what, at,
                             f->name);
    if (no)
        return dubbo__seterr(code, "schema: %s: %s at byte %zu in field %llu", tname, what, at,
                             (unsigned long long)no);
    return dubbo__seterr(code, "schema: %s: %s at byte %zu", tname, what, at);
}

static int varint_at(rd_t *r, uint64_t *x, const char *tname, const field_t *f, uint64_t no)
{
    size_t at = r->base + r->off;
    int rc = rd_varint(r, x);
    if (rc == DUBBO_ETRUNCATED) return wire_err(rc, tname, at, f, no, "truncated");
    if (rc) return wire_err(rc, tname, at, f, no, "a varint over 10 bytes");
    return 0;
}

/* A length-delimited item as a reader of its own (its offsets still
 * count from the start of the whole input). */
static int chunk(rd_t *r, rd_t *sub, const char *tname, const field_t *f, uint64_t no)
{
    size_t at = r->base + r->off;
    uint64_t len = 0;
    int rc = varint_at(r, &len, tname, f, no);
    if (rc) return rc;
    if (len > r->n - r->off)
        return wire_err(DUBBO_ETRUNCATED, tname, at, f, no, "truncated (length %llu, %zu left)",
                        (unsigned long long)len, r->n - r->off);
    *sub = (rd_t){r->p + r->off, (size_t)len, 0, r->base + r->off};
    r->off += (size_t)len;
    return 0;
}

static int decode_msg(const dubbo_tri_schema_t *s, const msg_t *m, const char *tname, rd_t *r,
                      dubbo_arena_t *a, int depth, dubbo_value_t **out);

static dubbo_value_t *enum_value(const dubbo_tri_schema_t *s, const field_t *f, dubbo_arena_t *a,
                                 int32_t n)
{
    const entry_t *e = find(s, f->type_name, K_ENUM);
    const enum_t *en = e ? e->p : NULL;
    for (size_t i = 0; en && i < en->n_value; i++)
        if (en->value[i]->number == n && en->value[i]->name)
            return dubbo_v_cstr(a, en->value[i]->name);
    return dubbo_v_int(a, n); /* unknown numbers stay numbers */
}

/* One scalar (or message) of field f, whose wire type the caller checked;
 * errors name field `named` (f itself, or the map field f is an entry of). */
static int decode_one(const dubbo_tri_schema_t *s, const char *tname, const field_t *f,
                      const field_t *named, rd_t *r, dubbo_arena_t *a, int depth, dubbo_value_t **v)
{
    uint64_t x = 0;
    int rc = 0;
    int type = f->type;
    int wt = wire_type(type);
    if (wt == 0) {
        if ((rc = varint_at(r, &x, tname, named, 0))) return rc;
        switch (type) {
        case T(INT32): *v = dubbo_v_int(a, (int32_t)x); break;
        case T(UINT32): *v = dubbo_v_long(a, (uint32_t)x); break;
        case T(SINT32):
            *v = dubbo_v_int(a, (int32_t)((uint32_t)x >> 1 ^ -(uint32_t)(x & 1)));
            break;
        case T(INT64):
        case T(UINT64): *v = dubbo_v_long(a, (int64_t)x); break;
        case T(SINT64): *v = dubbo_v_long(a, (int64_t)(x >> 1 ^ -(x & 1))); break;
        case T(BOOL): *v = dubbo_v_bool(a, x != 0); break;
        default: *v = enum_value(s, f, a, (int32_t)x); break;
        }
    } else if (wt == 1 || wt == 5) {
        int bytes = wt == 1 ? 8 : 4;
        if (r->n - r->off < (size_t)bytes)
            return wire_err(DUBBO_ETRUNCATED, tname, r->base + r->off, named, 0, "truncated");
        x = get_fixed(r->p + r->off, bytes);
        r->off += (size_t)bytes;
        switch (type) {
        case T(DOUBLE): {
            double d;
            memcpy(&d, &x, 8);
            *v = dubbo_v_double(a, d);
            break;
        }
        case T(FLOAT): {
            float fl;
            uint32_t x32 = (uint32_t)x;
            memcpy(&fl, &x32, 4);
            *v = dubbo_v_double(a, fl);
            break;
        }
        case T(FIXED64):
        case T(SFIXED64): *v = dubbo_v_long(a, (int64_t)x); break;
        case T(FIXED32): *v = dubbo_v_long(a, (uint32_t)x); break;
        default: *v = dubbo_v_int(a, (int32_t)(uint32_t)x); break; /* sfixed32 */
        }
    } else {
        rd_t sub;
        if ((rc = chunk(r, &sub, tname, named, 0))) return rc;
        if (type == T(STRING))
            *v = dubbo_v_string(a, (const char *)sub.p, sub.n);
        else if (type == T(BYTES))
            *v = dubbo_v_binary(a, sub.n ? sub.p : (const uint8_t *)"", sub.n);
        else {
            const entry_t *e = find(s, f->type_name, K_MSG);
            if (!e)
                return dubbo__seterr(DUBBO_ENOT_FOUND, "schema: field %s: no message type %s",
                                     f->name, f->type_name);
            return decode_msg(s, e->p, e->name, &sub, a, depth + 1, v);
        }
    }
    return *v ? 0 : DUBBO_ENOMEM;
}

static int wrong_wire_type(const char *tname, size_t at, const field_t *f, int wt, const char *what)
{
    return wire_err(DUBBO_EMALFORMED, tname, at, f, 0, "wire type %d for %s%s", wt,
                    what ? what : type_label(f->type), wt == 3 || wt == 4 ? " (a group)" : "");
}

/* Past a field the schema does not know (or a map entry's extra one). */
static int skip(rd_t *r, int wt, const char *tname, size_t at, const field_t *f, uint64_t no)
{
    uint64_t x = 0;
    rd_t sub;
    switch (wt) {
    case 0: return varint_at(r, &x, tname, f, no);
    case 1:
    case 5:
        if (r->n - r->off < (size_t)(wt == 1 ? 8 : 4))
            return wire_err(DUBBO_ETRUNCATED, tname, r->base + r->off, f, no, "truncated");
        r->off += wt == 1 ? 8 : 4;
        return 0;
    case 2: return chunk(r, &sub, tname, f, no);
    case 3:
    case 4: return wire_err(DUBBO_EMALFORMED, tname, at, f, no, "a group (not supported)");
    default: return wire_err(DUBBO_EMALFORMED, tname, at, f, no, "wire type %d", wt);
    }
}

/* The value under key in map m (a list or map being filled), or NULL. */
static dubbo_value_t *slot(dubbo_value_t *m, const char *key)
{
    return (dubbo_value_t *)dubbo_map_get(m, key);
}

/* Put key = v into map m, in place of an earlier value under an equal
 * key (a field or map key seen again: the last one wins, as protobuf's
 * parsers have it). */
static int put_last(dubbo_arena_t *a, dubbo_value_t *m, dubbo_value_t *k, dubbo_value_t *v)
{
    for (size_t i = 0; i < m->u.map.len; i++) {
        const dubbo_value_t *o = m->u.map.items[i].key;
        if (o->type == DUBBO_T_STRING && o->u.s.len == k->u.s.len &&
            memcmp(o->u.s.ptr, k->u.s.ptr, k->u.s.len) == 0) {
            m->u.map.items[i].value = v;
            return 0;
        }
    }
    return dubbo_map_put(a, m, k, v) ? DUBBO_ENOMEM : 0;
}

static void drop(dubbo_value_t *m, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < m->u.map.len; i++) {
        const dubbo_value_t *o = m->u.map.items[i].key;
        if (o->u.s.len == kl && memcmp(o->u.s.ptr, key, kl) == 0) {
            memmove(&m->u.map.items[i], &m->u.map.items[i + 1],
                    (m->u.map.len - i - 1) * sizeof(m->u.map.items[0]));
            m->u.map.len--;
            return;
        }
    }
}

static int push(dubbo_arena_t *a, dubbo_value_t *obj, const char *jn, dubbo_value_t *v)
{
    dubbo_value_t *list = slot(obj, jn);
    if (!list) {
        list = dubbo_v_list(a, NULL, 4);
        if (!list || dubbo_map_put(a, obj, dubbo_v_cstr(a, jn), list)) return DUBBO_ENOMEM;
    }
    return dubbo_list_push(a, list, v) ? DUBBO_ENOMEM : 0;
}

/* What a field absent from a map entry is: its type's default. */
static dubbo_value_t *default_of(const dubbo_tri_schema_t *s, const field_t *f, dubbo_arena_t *a)
{
    switch (f->type) {
    case T(INT32):
    case T(SINT32):
    case T(SFIXED32): return dubbo_v_int(a, 0);
    case T(DOUBLE):
    case T(FLOAT): return dubbo_v_double(a, 0);
    case T(BOOL): return dubbo_v_bool(a, false);
    case T(STRING): return dubbo_v_cstr(a, "");
    case T(BYTES): return dubbo_v_binary(a, "", 0);
    case T(MESSAGE): return dubbo_v_map(a, NULL, 1);
    case T(ENUM): {
        /* the first value (proto3's is 0) */
        const entry_t *e = find(s, f->type_name, K_ENUM);
        const enum_t *en = e ? e->p : NULL;
        return enum_value(s, f, a, en && en->n_value ? en->value[0]->number : 0);
    }
    default: return dubbo_v_long(a, 0);
    }
}

/* One map entry (key 1, value 2) of map field f into obj[jn]. */
static int decode_entry(const dubbo_tri_schema_t *s, const char *tname, const field_t *f,
                        const msg_t *me, rd_t *r, dubbo_arena_t *a, int depth, dubbo_value_t *obj,
                        const char *jn)
{
    const field_t *kf = field_no(me, 1), *vf = field_no(me, 2);
    if (!kf || !vf || !kf->has_type || !vf->has_type)
        return dubbo__seterr(DUBBO_EMALFORMED, "schema: bad map entry %s", f->type_name);
    rd_t sub;
    int rc = chunk(r, &sub, tname, f, 0);
    if (rc) return rc;
    dubbo_value_t *k = NULL, *v = NULL;
    while (sub.off < sub.n) {
        size_t at = sub.base + sub.off;
        uint64_t ek = 0;
        if ((rc = varint_at(&sub, &ek, tname, f, 0))) return rc;
        int wt = (int)(ek & 7);
        if (!(ek >> 3)) return wire_err(DUBBO_EMALFORMED, tname, at, f, 0, "field number 0");
        const field_t *ef = ek >> 3 == 1 ? kf : ek >> 3 == 2 ? vf : NULL;
        if (!ef) {
            if ((rc = skip(&sub, wt, tname, at, f, 0))) return rc;
            continue;
        }
        if (wt != wire_type(ef->type))
            return wrong_wire_type(tname, at, f, wt, type_label(ef->type));
        if ((rc = decode_one(s, tname, ef, f, &sub, a, depth, ef == kf ? &k : &v))) return rc;
    }
    if (!k) k = default_of(s, kf, a);
    if (!v) v = default_of(s, vf, a);
    if (!k || !v) return DUBBO_ENOMEM;
    /* JSON keys are strings */
    if (k->type != DUBBO_T_STRING) {
        char kb[32];
        if (k->type == DUBBO_T_BOOL)
            snprintf(kb, sizeof(kb), "%s", k->u.b ? "true" : "false");
        else if (k->type == DUBBO_T_INT)
            snprintf(kb, sizeof(kb), "%d", (int)k->u.i);
        else if (kf->type == T(UINT64) || kf->type == T(FIXED64))
            snprintf(kb, sizeof(kb), "%llu", (unsigned long long)k->u.l);
        else
            snprintf(kb, sizeof(kb), "%lld", (long long)k->u.l);
        k = dubbo_v_cstr(a, kb);
        if (!k) return DUBBO_ENOMEM;
    }
    dubbo_value_t *mv = slot(obj, jn);
    if (!mv) {
        mv = dubbo_v_map(a, NULL, 4);
        if (!mv || dubbo_map_put(a, obj, dubbo_v_cstr(a, jn), mv)) return DUBBO_ENOMEM;
    }
    return put_last(a, mv, k, v);
}

static int decode_msg(const dubbo_tri_schema_t *s, const msg_t *m, const char *tname, rd_t *r,
                      dubbo_arena_t *a, int depth, dubbo_value_t **out)
{
    if (depth > MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "schema: %s nested over %d deep", tname, MAX_DEPTH);
    dubbo_value_t *obj = dubbo_v_map(a, NULL, m->n_field ? m->n_field : 1);
    if (!obj) return DUBBO_ENOMEM;
    const entry_t *self = find(s, tname, K_MSG);
    bool proto3 = self && self->proto3;
    while (r->off < r->n) {
        size_t at = r->base + r->off;
        uint64_t key = 0;
        int rc = varint_at(r, &key, tname, NULL, 0);
        if (rc) return rc;
        int wt = (int)(key & 7);
        uint64_t no = key >> 3;
        if (!no) return wire_err(DUBBO_EMALFORMED, tname, at, NULL, 0, "field number 0");
        const field_t *f = no <= 0x1fffffff ? field_no(m, (int)no) : NULL;
        if (!f || !f->has_type) {
            if ((rc = skip(r, wt, tname, at, NULL, no))) return rc;
            continue;
        }
        char jb[128];
        const char *jn = json_name(f, jb, sizeof(jb));
        const msg_t *me = map_entry(s, f);
        if (me) {
            if (wt != 2) return wrong_wire_type(tname, at, f, wt, "a map entry");
            if ((rc = decode_entry(s, tname, f, me, r, a, depth, obj, jn))) return rc;
            continue;
        }
        int want = wire_type(f->type);
        dubbo_value_t *v;
        if (repeated(f) && wt == 2 && want != 2) {
            /* packed; a run of none adds nothing */
            rd_t sub;
            if ((rc = chunk(r, &sub, tname, f, 0))) return rc;
            while (sub.off < sub.n) {
                if ((rc = decode_one(s, tname, f, f, &sub, a, depth, &v))) return rc;
                if ((rc = push(a, obj, jn, v))) return rc;
            }
            continue;
        }
        if (wt != want) return wrong_wire_type(tname, at, f, wt, NULL);
        size_t vstart = r->off;
        if ((rc = decode_one(s, tname, f, f, r, a, depth, &v))) return rc;
        if (repeated(f)) {
            if ((rc = push(a, obj, jn, v))) return rc;
            continue;
        }
        if (proto3 && f->type != T(MESSAGE) && !f->has_oneof_index &&
            !(f->has_proto3_optional && f->proto3_optional)) {
            /* proto3's implicit presence: a default (a zero varint, zero
             * fixed bits, an empty string or bytes) is no value at all, as
             * protobuf's JSON printer has it; the last one seen counts */
            bool zero = true;
            if (wt == 1 || wt == 5) {
                for (size_t i = vstart; i < r->off && zero; i++)
                    zero = r->p[i] == 0;
            } else {
                /* a varint's value, or a length's: 0 however it is spelt
                 * (80 00 is a 0 too) */
                for (size_t i = vstart; i < r->off && zero; i++) {
                    zero = (r->p[i] & 0x7f) == 0;
                    if (!(r->p[i] & 0x80)) break;
                }
            }
            if (zero) {
                drop(obj, jn);
                continue;
            }
        }
        /* a oneof holds the member seen last */
        for (size_t i = 0; f->has_oneof_index && i < m->n_field; i++) {
            const field_t *o = m->field[i];
            char ob[128];
            if (o != f && o->has_oneof_index && o->oneof_index == f->oneof_index)
                drop(obj, json_name(o, ob, sizeof(ob)));
        }
        /* a field seen again: the last one wins (a message field merges in
         * protobuf; kept simple: the last) */
        dubbo_value_t *k = dubbo_v_cstr(a, jn);
        if (!k || (rc = put_last(a, obj, k, v))) return DUBBO_ENOMEM;
    }
    *out = obj;
    return 0;
}

int dubbo_tri_pb_to_value(const dubbo_tri_schema_t *s, const char *type, const void *pb, size_t n,
                          dubbo_arena_t *a, dubbo_value_t **out)
{
    *out = NULL;
    const entry_t *e = find(s, type, K_MSG);
    if (!e) return dubbo__seterr(DUBBO_ENOT_FOUND, "schema: no message type %s", type);
    rd_t r = {pb, n, 0, 0};
    int rc = decode_msg(s, e->p, e->name, &r, a, 0, out);
    if (rc == DUBBO_ENOMEM) dubbo__seterr(rc, "out of memory");
    if (rc) *out = NULL;
    return rc;
}

/* ---- value -> protobuf ------------------------------------------------------ */

static int encode_msg(const dubbo_tri_schema_t *s, const entry_t *e, const dubbo_value_t *v,
                      int depth, dubbo_buf_t *out);

static int type_err(const char *tname, const field_t *f, const dubbo_value_t *v, const char *want)
{
    return dubbo__seterr(DUBBO_ETYPE, "schema: %s.%s: %s expected, got a %s", tname, f->name, want,
                         dubbo_vtype_name(v->type));
}

static int to_i64(const char *tname, const field_t *f, const dubbo_value_t *v, int64_t *x)
{
    switch (v->type) {
    case DUBBO_T_INT: *x = v->u.i; return 0;
    case DUBBO_T_LONG: *x = v->u.l; return 0;
    case DUBBO_T_DOUBLE:
        if (v->u.d != floor(v->u.d) || fabs(v->u.d) > 9.2e18) break;
        *x = (int64_t)v->u.d;
        return 0;
    case DUBBO_T_STRING: {
        /* JSON carries 64-bit integers as strings: signed ones within
         * int64, unsigned ones within uint64 (their bits in x) */
        const char *p = v->u.s.ptr;
        bool uns = f->type == T(UINT64) || f->type == T(FIXED64);
        char *e;
        if (!v->u.s.len || strlen(p) != v->u.s.len || !(p[*p == '-'] >= '0' && p[*p == '-'] <= '9'))
            break;
        errno = 0;
        if (uns && *p != '-') {
            unsigned long long ull = strtoull(p, &e, 10);
            if (*e) break;
            *x = (int64_t)ull;
        } else {
            long long ll = strtoll(p, &e, 10);
            if (*e) break;
            *x = ll;
        }
        if (errno || (uns && *p == '-'))
            return dubbo__seterr(DUBBO_ETYPE, "schema: %s.%s: %s is out of %s range", tname,
                                 f->name, p, type_label(f->type));
        return 0;
    }
    default: break;
    }
    return type_err(tname, f, v, "an integer");
}

static int encode_scalar(const dubbo_tri_schema_t *s, const char *tname, const field_t *f,
                         const dubbo_value_t *v, int depth, dubbo_buf_t *out)
{
    int64_t x = 0;
    int rc;
    if (!v) v = dubbo_v_null();
    switch (f->type) {
    case T(INT32):
    case T(INT64):
    case T(UINT32):
    case T(UINT64):
    case T(SINT32):
    case T(SINT64):
    case T(FIXED32):
    case T(FIXED64):
    case T(SFIXED32):
    case T(SFIXED64):
        if ((rc = to_i64(tname, f, v, &x))) return rc;
        if ((f->type == T(INT32) || f->type == T(SINT32) || f->type == T(SFIXED32)) &&
            (x < INT32_MIN || x > INT32_MAX))
            return dubbo__seterr(DUBBO_ETYPE, "schema: %s.%s: %lld is out of int32 range", tname,
                                 f->name, (long long)x);
        if ((f->type == T(UINT32) || f->type == T(FIXED32)) && (x < 0 || x > (int64_t)UINT32_MAX))
            return dubbo__seterr(DUBBO_ETYPE, "schema: %s.%s: %lld is out of uint32 range", tname,
                                 f->name, (long long)x);
        switch (f->type) {
        case T(SINT32): return put_varint(out, (uint32_t)x << 1 ^ (uint32_t)((int32_t)x >> 31));
        case T(SINT64): return put_varint(out, (uint64_t)x << 1 ^ (uint64_t)(x >> 63));
        case T(FIXED32):
        case T(SFIXED32): return put_fixed(out, (uint64_t)x, 4);
        case T(FIXED64):
        case T(SFIXED64): return put_fixed(out, (uint64_t)x, 8);
        default: return put_varint(out, (uint64_t)x); /* int32: sign-extended, as protobuf does */
        }
    case T(DOUBLE):
    case T(FLOAT): {
        double d;
        if (v->type == DUBBO_T_DOUBLE)
            d = v->u.d;
        else if (v->type == DUBBO_T_INT)
            d = v->u.i;
        else if (v->type == DUBBO_T_LONG)
            d = (double)v->u.l;
        else if (v->type == DUBBO_T_STRING && strcmp(v->u.s.ptr, "NaN") == 0)
            d = NAN;
        else if (v->type == DUBBO_T_STRING && strcmp(v->u.s.ptr, "Infinity") == 0)
            d = INFINITY;
        else if (v->type == DUBBO_T_STRING && strcmp(v->u.s.ptr, "-Infinity") == 0)
            d = -INFINITY;
        else
            return type_err(tname, f, v, "a number");
        if (f->type == T(FLOAT)) {
            float fl = (float)d;
            uint32_t b;
            memcpy(&b, &fl, 4);
            return put_fixed(out, b, 4);
        }
        uint64_t b;
        memcpy(&b, &d, 8);
        return put_fixed(out, b, 8);
    }
    case T(BOOL):
        if (v->type != DUBBO_T_BOOL) return type_err(tname, f, v, "a boolean");
        return put_varint(out, v->u.b ? 1 : 0);
    case T(STRING):
        if (v->type != DUBBO_T_STRING) return type_err(tname, f, v, "a string");
        if ((rc = put_varint(out, v->u.s.len))) return rc;
        return dubbo_buf_append(out, v->u.s.ptr, v->u.s.len);
    case T(BYTES): {
        dubbo_buf_t raw;
        dubbo_buf_init(&raw, 0);
        const void *p;
        size_t n;
        if (v->type == DUBBO_T_BINARY) {
            p = v->u.s.ptr;
            n = v->u.s.len;
        } else if (v->type == DUBBO_T_STRING) {
            /* JSON: base64, standard or URL-safe (a NUL in it is no
             * base64 either) */
            char *t = malloc(v->u.s.len + 1);
            for (size_t i = 0; t && i < v->u.s.len; i++) {
                char c = v->u.s.ptr[i];
                t[i] = c == '-' ? '+' : c == '_' ? '/' : c;
            }
            rc = t ? dubbo__base64_decode(t, v->u.s.len, &raw) : DUBBO_ENOMEM;
            free(t);
            if (rc) {
                dubbo_buf_destroy(&raw);
                return dubbo__seterr(DUBBO_ETYPE, "schema: %s.%s: bytes as a string must be base64",
                                     tname, f->name);
            }
            p = raw.base;
            n = raw.len;
        } else {
            return type_err(tname, f, v, "bytes (base64 in JSON)");
        }
        rc = put_varint(out, n);
        if (!rc && n) rc = dubbo_buf_append(out, p, n);
        dubbo_buf_destroy(&raw);
        return rc;
    }
    case T(ENUM): {
        if (v->type == DUBBO_T_INT || v->type == DUBBO_T_LONG)
            return put_varint(out, (uint64_t)(int64_t)(v->type == DUBBO_T_INT ? v->u.i : v->u.l));
        if (v->type != DUBBO_T_STRING) return type_err(tname, f, v, "an enum name or number");
        const entry_t *e = find(s, f->type_name, K_ENUM);
        const enum_t *en = e ? e->p : NULL;
        for (size_t i = 0; en && i < en->n_value; i++)
            if (en->value[i]->name && strcmp(en->value[i]->name, v->u.s.ptr) == 0)
                return put_varint(out, (uint64_t)(int64_t)en->value[i]->number);
        return dubbo__seterr(
            DUBBO_ETYPE, "schema: %s.%s: \"%s\" is not a value of %s", tname, f->name, v->u.s.ptr,
            f->type_name && f->type_name[0] == '.' ? f->type_name + 1 : f->type_name);
    }
    case T(MESSAGE): {
        const entry_t *e = find(s, f->type_name, K_MSG);
        if (!e)
            return dubbo__seterr(DUBBO_ENOT_FOUND, "schema: %s.%s: no message type %s", tname,
                                 f->name, f->type_name);
        dubbo_buf_t sub;
        dubbo_buf_init(&sub, 0);
        rc = encode_msg(s, e, v, depth + 1, &sub);
        if (!rc) rc = put_varint(out, sub.len);
        if (!rc && sub.len) rc = dubbo_buf_append(out, sub.base, sub.len);
        dubbo_buf_destroy(&sub);
        return rc;
    }
    default:
        return dubbo__seterr(DUBBO_EUNSUPPORTED, "schema: %s.%s: type %d is not supported", tname,
                             f->name, (int)f->type);
    }
}

static int put_key(dubbo_buf_t *out, int no, int wt)
{
    return put_varint(out, (uint64_t)no << 3 | (uint64_t)wt);
}

/* A map entry's key from a JSON object key (a string): errors name map
 * field f. */
static int map_key(const dubbo_tri_schema_t *s, const char *tname, const field_t *f,
                   const field_t *kf, const dubbo_value_t *k, dubbo_buf_t *out)
{
    dubbo_value_t b = {.type = DUBBO_T_BOOL};
    if (kf->type == T(BOOL) && k->type == DUBBO_T_STRING) {
        if (strcmp(k->u.s.ptr, "true") != 0 && strcmp(k->u.s.ptr, "false") != 0)
            return dubbo__seterr(DUBBO_ETYPE, "schema: %s.%s: key \"%s\" is not a bool", tname,
                                 f->name, k->u.s.ptr);
        b.u.b = k->u.s.ptr[0] == 't';
        k = &b;
    }
    int rc = encode_scalar(s, tname, kf, k, 0, out);
    if (rc == DUBBO_ETYPE && k->type == DUBBO_T_STRING)
        return dubbo__seterr(DUBBO_ETYPE, "schema: %s.%s: key \"%s\" is not a %s", tname, f->name,
                             k->u.s.ptr, type_label(kf->type));
    return rc;
}

/* A map entry's value (field vf of the entry) with errors naming map field f. */
static int encode_value(const dubbo_tri_schema_t *s, const char *tname, const field_t *f,
                        const field_t *vf, const dubbo_value_t *v, int depth, dubbo_buf_t *out)
{
    field_t named = *vf;
    named.name = f->name;
    return encode_scalar(s, tname, &named, v ? v : dubbo_v_null(), depth, out);
}

static int encode_field(const dubbo_tri_schema_t *s, const entry_t *e, const field_t *f,
                        const dubbo_value_t *v, int depth, dubbo_buf_t *out)
{
    const char *tname = e->name;
    const msg_t *me = map_entry(s, f);
    int rc = 0;
    if (me) {
        if (v->type != DUBBO_T_MAP) return type_err(tname, f, v, "an object (a map)");
        const field_t *kf = field_no(me, 1), *vf = field_no(me, 2);
        if (!kf || !vf)
            return dubbo__seterr(DUBBO_EMALFORMED, "schema: bad map entry %s", f->type_name);
        for (size_t i = 0; !rc && i < v->u.map.len; i++) {
            dubbo_buf_t ent;
            dubbo_buf_init(&ent, 0);
            rc = put_key(&ent, 1, wire_type(kf->type));
            if (!rc) rc = map_key(s, tname, f, kf, v->u.map.items[i].key, &ent);
            if (!rc) rc = put_key(&ent, 2, wire_type(vf->type));
            if (!rc) rc = encode_value(s, tname, f, vf, v->u.map.items[i].value, depth, &ent);
            if (!rc) rc = put_key(out, f->number, 2);
            if (!rc) rc = put_varint(out, ent.len);
            if (!rc) rc = dubbo_buf_append(out, ent.base, ent.len);
            dubbo_buf_destroy(&ent);
        }
        return rc;
    }
    if (repeated(f)) {
        if (v->type != DUBBO_T_LIST) return type_err(tname, f, v, "an array (a list)");
        int wt = wire_type(f->type);
        bool packed =
            wt != 2 && (e->proto3 ? !(f->options && f->options->has_packed && !f->options->packed)
                                  : f->options && f->options->has_packed && f->options->packed);
        if (packed) {
            if (!v->u.list.len) return 0;
            dubbo_buf_t p;
            dubbo_buf_init(&p, 0);
            for (size_t i = 0; !rc && i < v->u.list.len; i++)
                rc = encode_scalar(s, tname, f, v->u.list.items[i], depth, &p);
            if (!rc) rc = put_key(out, f->number, 2);
            if (!rc) rc = put_varint(out, p.len);
            if (!rc) rc = dubbo_buf_append(out, p.base, p.len);
            dubbo_buf_destroy(&p);
            return rc;
        }
        for (size_t i = 0; !rc && i < v->u.list.len; i++) {
            rc = put_key(out, f->number, wt);
            if (!rc) rc = encode_scalar(s, tname, f, v->u.list.items[i], depth, out);
        }
        return rc;
    }
    if (e->proto3 && f->type != T(MESSAGE) && !f->has_oneof_index &&
        !(f->has_proto3_optional && f->proto3_optional)) {
        /* proto3's implicit presence: a field at its default (0, false, "",
         * empty bytes, the first enum value; not -0.0) is not written, as
         * protobuf's own encoders do */
        dubbo_buf_t tmp;
        dubbo_buf_init(&tmp, 0);
        rc = encode_scalar(s, tname, f, v, depth, &tmp);
        bool zero = true;
        for (size_t i = 0; !rc && i < tmp.len && zero; i++)
            zero = tmp.base[i] == 0;
        if (!rc && !(zero && (tmp.len == 1 || tmp.len == 4 || tmp.len == 8))) {
            rc = put_key(out, f->number, wire_type(f->type));
            if (!rc) rc = dubbo_buf_append(out, tmp.base, tmp.len);
        }
        dubbo_buf_destroy(&tmp);
        return rc;
    }
    rc = put_key(out, f->number, wire_type(f->type));
    return rc ? rc : encode_scalar(s, tname, f, v, depth, out);
}

static int encode_msg(const dubbo_tri_schema_t *s, const entry_t *e, const dubbo_value_t *v,
                      int depth, dubbo_buf_t *out)
{
    if (depth > MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "schema: %s nested over %d deep", e->name, MAX_DEPTH);
    if (v->type != DUBBO_T_MAP)
        return dubbo__seterr(DUBBO_ETYPE, "schema: a %s is an object (a map), not a %s", e->name,
                             dubbo_vtype_name(v->type));
    const msg_t *m = e->p;
    for (size_t i = 0; i < v->u.map.len; i++) {
        const dubbo_value_t *k = v->u.map.items[i].key, *fv = v->u.map.items[i].value;
        if (!k || k->type != DUBBO_T_STRING)
            return dubbo__seterr(DUBBO_ETYPE, "schema: %s: field names are strings", e->name);
        const field_t *f = NULL;
        for (size_t j = 0; j < m->n_field && !f; j++) {
            char jb[128];
            const field_t *c = m->field[j];
            /* a name holding a NUL names no field */
            if (strlen(k->u.s.ptr) == k->u.s.len &&
                ((c->name && strcmp(c->name, k->u.s.ptr) == 0) ||
                 strcmp(json_name(c, jb, sizeof(jb)), k->u.s.ptr) == 0))
                f = c;
        }
        if (!f) {
            char known[512] = "";
            for (size_t j = 0; j < m->n_field; j++) {
                size_t l = strlen(known);
                snprintf(known + l, sizeof(known) - l, "%s%s", j ? ", " : "", m->field[j]->name);
            }
            return dubbo__seterr(DUBBO_ENOT_FOUND, "schema: %s has no field \"%s\" (fields: %s)",
                                 e->name, k->u.s.ptr, known);
        }
        if (!fv || fv->type == DUBBO_T_NULL || !f->has_type) continue; /* null: the default */
        int rc = encode_field(s, e, f, fv, depth, out);
        if (rc) return rc;
    }
    return 0;
}

int dubbo_tri_pb_from_value(const dubbo_tri_schema_t *s, const char *type, const dubbo_value_t *v,
                            dubbo_buf_t *out)
{
    const entry_t *e = find(s, type, K_MSG);
    if (!e) return dubbo__seterr(DUBBO_ENOT_FOUND, "schema: no message type %s", type);
    size_t start = out->len;
    int rc = encode_msg(s, e, v, 0, out);
    if (rc) out->len = start;
    if (rc == DUBBO_ENOMEM) dubbo__seterr(rc, "out of memory");
    return rc;
}

/* ---- JSON ------------------------------------------------------------------- */

static int json_to_value(json_t *j, dubbo_arena_t *a, int depth, dubbo_value_t **out)
{
    if (depth > MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "JSON nested over %d deep", MAX_DEPTH);
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        dubbo_value_t *m = dubbo_v_map(a, NULL, json_object_size(j) ? json_object_size(j) : 1);
        const char *k;
        json_t *v;
        if (!m) return DUBBO_ENOMEM;
        json_object_foreach(j, k, v)
        {
            dubbo_value_t *x;
            int rc = json_to_value(v, a, depth + 1, &x);
            if (rc) return rc;
            if (dubbo_map_put(a, m, dubbo_v_cstr(a, k), x)) return DUBBO_ENOMEM;
        }
        *out = m;
        return 0;
    }
    case JSON_ARRAY: {
        dubbo_value_t *l = dubbo_v_list(a, NULL, json_array_size(j) ? json_array_size(j) : 1);
        size_t i;
        json_t *v;
        if (!l) return DUBBO_ENOMEM;
        json_array_foreach(j, i, v)
        {
            dubbo_value_t *x;
            int rc = json_to_value(v, a, depth + 1, &x);
            if (rc) return rc;
            if (dubbo_list_push(a, l, x)) return DUBBO_ENOMEM;
        }
        *out = l;
        return 0;
    }
    case JSON_STRING: *out = dubbo_v_string(a, json_string_value(j), json_string_length(j)); break;
    case JSON_INTEGER: *out = dubbo_v_long(a, json_integer_value(j)); break;
    case JSON_REAL: *out = dubbo_v_double(a, json_real_value(j)); break;
    case JSON_TRUE: *out = dubbo_v_bool(a, true); break;
    case JSON_FALSE: *out = dubbo_v_bool(a, false); break;
    default: *out = dubbo_v_null(); break;
    }
    return *out ? 0 : DUBBO_ENOMEM;
}

int dubbo_tri_json_to_pb(const dubbo_tri_schema_t *s, const char *type, const char *json,
                         size_t len, dubbo_buf_t *out)
{
    json_error_t err;
    json_t *j = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!j)
        return dubbo__seterr(DUBBO_EMALFORMED, "JSON for %s: %s at line %d column %d", type,
                             err.text, err.line, err.column);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *v = NULL;
    int rc = a ? json_to_value(j, a, 0, &v) : DUBBO_ENOMEM;
    json_decref(j);
    if (!rc) rc = dubbo_tri_pb_from_value(s, type, v, out);
    dubbo_arena_free(a);
    if (rc == DUBBO_ENOMEM) dubbo__seterr(rc, "out of memory");
    return rc;
}

/* ---- protobuf -> JSON --------------------------------------------------------- *
 * Written by the schema rather than from the value alone: the value does
 * not tell a uint32 (a JSON number) from an int64 (a string), a uint64
 * past INT64_MAX from a negative long, or a float from a double (printed
 * in the fewest digits that read back as the same float). */

static int jput(dubbo_buf_t *b, const char *s)
{
    return dubbo_buf_append(b, s, strlen(s));
}

/* The length of the UTF-8 sequence at p (n bytes left), 0 if invalid
 * (overlong forms, surrogates and past U+10FFFF included). */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (!len || len > n) return 0;
    uint8_t lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    uint8_t hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    return len;
}

/* A JSON string; DUBBO_EMALFORMED for bytes that are not UTF-8. */
static int jstr(dubbo_buf_t *b, const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    int rc = dubbo_buf_append(b, "\"", 1);
    for (size_t i = 0; !rc && i < n;) {
        if (p[i] >= 0x80) {
            size_t len = utf8_len(p + i, n - i);
            if (!len) return DUBBO_EMALFORMED;
            rc = dubbo_buf_append(b, p + i, len);
            i += len;
            continue;
        }
        char esc[8];
        switch (p[i]) {
        case '"': rc = jput(b, "\\\""); break;
        case '\\': rc = jput(b, "\\\\"); break;
        case '\n': rc = jput(b, "\\n"); break;
        case '\r': rc = jput(b, "\\r"); break;
        case '\t': rc = jput(b, "\\t"); break;
        case '\b': rc = jput(b, "\\b"); break;
        case '\f': rc = jput(b, "\\f"); break;
        default:
            if (p[i] < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
                rc = jput(b, esc);
            } else {
                rc = dubbo_buf_append(b, p + i, 1);
            }
        }
        i++;
    }
    return rc ? rc : dubbo_buf_append(b, "\"", 1);
}

static int jdouble(dubbo_buf_t *b, double d, bool is_float)
{
    if (isnan(d)) return jput(b, "\"NaN\"");
    if (isinf(d)) return jput(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    /* "-0" would read back as the integer 0 */
    if (d == 0 && signbit(d)) return jput(b, "-0.0");
    char t[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof(t), "%.*g", prec, d);
        double back = strtod(t, NULL);
        if (is_float ? (float)back == (float)d : back == d) break;
    }
    return jput(b, t);
}

static int jmsg(const dubbo_tri_schema_t *s, const entry_t *e, const dubbo_value_t *v,
                dubbo_buf_t *b);

/* One value of field f (NULL: a value the schema does not describe). */
static int jvalue(const dubbo_tri_schema_t *s, const char *tname, const field_t *f,
                  const dubbo_value_t *v, dubbo_buf_t *b)
{
    char t[32];
    int rc;
    int type = f ? f->type : 0;
    if (!v) v = dubbo_v_null();
    switch (v->type) {
    case DUBBO_T_BOOL: return jput(b, v->u.b ? "true" : "false");
    case DUBBO_T_INT: snprintf(t, sizeof(t), "%d", (int)v->u.i); return jput(b, t);
    case DUBBO_T_LONG:
        /* protobuf's JSON: 64-bit integers as strings */
        if (type == T(UINT32) || type == T(FIXED32))
            snprintf(t, sizeof(t), "%lld", (long long)v->u.l);
        else if (type == T(UINT64) || type == T(FIXED64))
            snprintf(t, sizeof(t), "\"%llu\"", (unsigned long long)v->u.l);
        else
            snprintf(t, sizeof(t), "\"%lld\"", (long long)v->u.l);
        return jput(b, t);
    case DUBBO_T_DOUBLE: return jdouble(b, v->u.d, type == T(FLOAT));
    case DUBBO_T_STRING:
        rc = jstr(b, v->u.s.ptr, v->u.s.len);
        if (rc == DUBBO_EMALFORMED)
            return dubbo__seterr(rc, "schema: %s.%s: a string that is not UTF-8 has no JSON form",
                                 tname, f && f->name ? f->name : "?");
        return rc;
    case DUBBO_T_BINARY: {
        dubbo_buf_t enc;
        dubbo_buf_init(&enc, 0);
        rc = dubbo__base64_encode((const uint8_t *)v->u.s.ptr, v->u.s.len, &enc);
        if (!rc) rc = jstr(b, enc.len ? (const char *)enc.base : "", enc.len);
        dubbo_buf_destroy(&enc);
        return rc;
    }
    case DUBBO_T_MAP: {
        const entry_t *e = type == T(MESSAGE) ? find(s, f->type_name, K_MSG) : NULL;
        if (e) return jmsg(s, e, v, b);
        rc = dubbo_buf_append(b, "{", 1);
        for (size_t i = 0; !rc && i < v->u.map.len; i++) {
            const dubbo_value_t *k = v->u.map.items[i].key;
            if (i) rc = dubbo_buf_append(b, ",", 1);
            if (!rc) rc = jvalue(s, tname, f, k && k->type == DUBBO_T_STRING ? k : NULL, b);
            if (!rc) rc = dubbo_buf_append(b, ":", 1);
            if (!rc) rc = jvalue(s, tname, NULL, v->u.map.items[i].value, b);
        }
        return rc ? rc : dubbo_buf_append(b, "}", 1);
    }
    case DUBBO_T_LIST:
        rc = dubbo_buf_append(b, "[", 1);
        for (size_t i = 0; !rc && i < v->u.list.len; i++) {
            if (i) rc = dubbo_buf_append(b, ",", 1);
            if (!rc) rc = jvalue(s, tname, f, v->u.list.items[i], b);
        }
        return rc ? rc : dubbo_buf_append(b, "]", 1);
    default: return jput(b, "null");
    }
}

/* Field f's value: a map field as an object, a repeated one as an array. */
static int jfield(const dubbo_tri_schema_t *s, const char *tname, const field_t *f,
                  const dubbo_value_t *v, dubbo_buf_t *b)
{
    const msg_t *me = f ? map_entry(s, f) : NULL;
    const field_t *kf = me ? field_no(me, 1) : NULL, *vf = me ? field_no(me, 2) : NULL;
    int rc;
    if (kf && vf && v && v->type == DUBBO_T_MAP) {
        rc = dubbo_buf_append(b, "{", 1);
        for (size_t i = 0; !rc && i < v->u.map.len; i++) {
            const dubbo_value_t *k = v->u.map.items[i].key;
            if (i) rc = dubbo_buf_append(b, ",", 1);
            /* keys are strings, whatever the key type */
            if (!rc) rc = jvalue(s, tname, f, k && k->type == DUBBO_T_STRING ? k : NULL, b);
            if (!rc) rc = dubbo_buf_append(b, ":", 1);
            if (!rc) rc = jvalue(s, tname, vf, v->u.map.items[i].value, b);
        }
        return rc ? rc : dubbo_buf_append(b, "}", 1);
    }
    return jvalue(s, tname, f, v, b);
}

static int jmsg(const dubbo_tri_schema_t *s, const entry_t *e, const dubbo_value_t *v,
                dubbo_buf_t *b)
{
    const msg_t *m = e->p;
    int rc = dubbo_buf_append(b, "{", 1);
    for (size_t i = 0; !rc && i < v->u.map.len; i++) {
        const dubbo_value_t *k = v->u.map.items[i].key;
        if (!k || k->type != DUBBO_T_STRING) continue;
        const field_t *f = NULL;
        for (size_t j = 0; j < m->n_field && !f; j++) {
            char jb[128];
            if (strcmp(json_name(m->field[j], jb, sizeof(jb)), k->u.s.ptr) == 0) f = m->field[j];
        }
        if (i) rc = dubbo_buf_append(b, ",", 1);
        if (!rc) rc = jvalue(s, e->name, NULL, k, b);
        if (!rc) rc = dubbo_buf_append(b, ":", 1);
        if (!rc) rc = jfield(s, e->name, f, v->u.map.items[i].value, b);
    }
    return rc ? rc : dubbo_buf_append(b, "}", 1);
}

int dubbo_tri_pb_to_json(const dubbo_tri_schema_t *s, const char *type, const void *pb, size_t n,
                         char **json)
{
    *json = NULL;
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *v = NULL;
    int rc = a ? dubbo_tri_pb_to_value(s, type, pb, n, a, &v) : DUBBO_ENOMEM;
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    if (!rc) rc = jmsg(s, find(s, type, K_MSG), v, &b);
    if (!rc) rc = dubbo_buf_append(&b, "", 1);
    if (!rc) {
        *json = malloc(b.len);
        if (*json)
            memcpy(*json, b.base, b.len);
        else
            rc = DUBBO_ENOMEM;
    }
    dubbo_buf_destroy(&b);
    dubbo_arena_free(a);
    if (rc == DUBBO_ENOMEM) dubbo__seterr(rc, "out of memory");
    return rc;
}

/* ---- reflection ------------------------------------------------------------- */

/* One reflection round trip on stream st: a request of `kind` ("symbol"
 * or "file") for `what`, its files added to s. 1: found; 0: the server
 * said NOT_FOUND; negative: the stream failed. */
static int reflect_one(dubbo_tri_schema_t *s, dubbo_tri_cstream_t *st, bool symbol,
                       const char *what)
{
    Grpc__Reflection__V1__ServerReflectionRequest req =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
    if (symbol) {
        req.message_request_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL;
        req.file_containing_symbol = (char *)what;
    } else {
        req.message_request_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME;
        req.file_by_filename = (char *)what;
    }
    int rc = dubbo_tri_cstream_send(st, &req.base);
    if (rc) return rc;
    ProtobufCMessage *m;
    rc = dubbo_tri_cstream_recv(st, &grpc__reflection__v1__server_reflection_response__descriptor,
                                &m);
    if (rc != 1) return rc ? rc : dubbo__seterr(DUBBO_ECLOSED, "reflection: the stream ended");
    Grpc__Reflection__V1__ServerReflectionResponse *r =
        (Grpc__Reflection__V1__ServerReflectionResponse *)m;
    rc = 0;
    if (r->message_response_case ==
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE) {
        const Grpc__Reflection__V1__FileDescriptorResponse *fr = r->file_descriptor_response;
        for (size_t i = 0; !rc && i < fr->n_file_descriptor_proto; i++)
            rc = add_file(s, fr->file_descriptor_proto[i].data, fr->file_descriptor_proto[i].len);
        if (!rc) rc = 1;
    } else if (r->message_response_case ==
               GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE) {
        rc = r->error_response->error_code == DUBBO_GRPC_NOT_FOUND
                 ? 0
                 : dubbo__seterr(DUBBO_EREMOTE, "reflection: %s: %s (code %d)", what,
                                 r->error_response->error_message, r->error_response->error_code);
    } else {
        rc = dubbo__seterr(DUBBO_EMALFORMED, "reflection: an unexpected answer for %s", what);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int reflect_via(dubbo_tri_schema_t *s, const char *hostport, const char *service,
                       const char *symbol, int timeout_ms)
{
    char url[600];
    snprintf(url, sizeof(url), "tri://%s/%s", hostport, service);
    char tmo[16];
    snprintf(tmo, sizeof(tmo), "%d", timeout_ms);
    const char *params[] = {"serialization", "protobuf", "cluster", "failfast",
                            "timeout",       tmo,        NULL};
    dubbo_reference_t *ref = dubbo_reference_new(url, params);
    if (!ref) return dubbo__last_code() ? dubbo__last_code() : DUBBO_ENOMEM;
    dubbo_tri_cstream_t *st;
    int rc = dubbo_tri_stream_open(ref, "ServerReflectionInfo", DUBBO_TRI_BIDI_STREAM, NULL, NULL,
                                   timeout_ms, &st);
    if (!rc) {
        rc = reflect_one(s, st, true, symbol);
        /* the files it depends on that did not come with it */
        for (size_t i = 0; rc == 1 && i < s->nfiles; i++)
            for (size_t d = 0; rc == 1 && d < s->files[i]->n_dependency; d++) {
                const char *dep = s->files[i]->dependency[d];
                if (!has_file(s, dep)) {
                    rc = reflect_one(s, st, false, dep);
                    if (rc == 0)
                        rc = dubbo__seterr(DUBBO_ENOT_FOUND,
                                           "reflection: %s needs %s, which the "
                                           "server does not have",
                                           s->files[i]->name, dep);
                }
            }
        dubbo_tri_cstream_close_send(st);
        int code = -1;
        if (rc < 0) {
            const char *msg;
            char saved[600];
            snprintf(saved, sizeof(saved), "%s", dubbo_last_error());
            dubbo_tri_cstream_cancel(st);
            ProtobufCMessage *m;
            while (dubbo_tri_cstream_recv(
                       st, &grpc__reflection__v1__server_reflection_response__descriptor, &m) == 1)
                protobuf_c_message_free_unpacked(m, NULL);
            if (!dubbo_tri_cstream_status(st, &code, &msg, NULL) &&
                code == DUBBO_GRPC_UNIMPLEMENTED)
                rc = DUBBO_EUNSUPPORTED; /* try the other version */
            dubbo__seterr(rc, "%s", saved);
        }
        dubbo_tri_cstream_free(st);
    }
    dubbo_reference_free(ref);
    return rc;
}

int dubbo_tri_schema_reflect(dubbo_tri_schema_t **out, const char *hostport, const char *symbol,
                             int timeout_ms)
{
    *out = NULL;
    dubbo_tri_schema_t *s = calloc(1, sizeof(*s));
    if (!s) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    if (timeout_ms <= 0) timeout_ms = 5000;
    int rc = reflect_via(s, hostport, "grpc.reflection.v1.ServerReflection", symbol, timeout_ms);
    if (rc == DUBBO_EUNSUPPORTED) /* an older server: v1alpha, the same messages */
        rc = reflect_via(s, hostport, "grpc.reflection.v1alpha.ServerReflection", symbol,
                         timeout_ms);
    if (rc == 0)
        rc = dubbo__seterr(DUBBO_ENOT_FOUND, "reflection at %s does not know %s", hostport, symbol);
    if (rc < 0) {
        if (rc == DUBBO_EUNSUPPORTED)
            dubbo__seterr(rc, "%s serves no gRPC reflection (grpc.reflection.v1 or v1alpha)",
                          hostport);
        dubbo_tri_schema_free(s);
        return rc;
    }
    *out = s;
    return 0;
}
