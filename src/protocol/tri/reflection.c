/* gRPC server reflection over Triple (grpc.reflection.v1 and v1alpha,
 * include/dubbo/triple.h: dubbo_tri_serve_reflection), and the .proto
 * files it describes, synthesized from protoc-c's runtime descriptors.
 *
 * protoc-c does not embed the serialized FileDescriptorProtos that other
 * generators do, so what a client gets is rebuilt from what its
 * descriptors keep, one synthetic file per proto package, named
 * "<package>.dubbo-c-reflection.proto" (the real file names are not in
 * the descriptors; "dubbo-c-reflection.proto" without a package):
 *   - the exported IDL services of the package, each method with its
 *     input and output type and its streaming kind as dubbo_tri_export
 *     registered it (a method without a handler reads as unary);
 *   - the messages and enums of the package those services reach through
 *     method and field types (only those: the descriptors do not list a
 *     message's nested types), nested ones inside their parents (a parent
 *     no field reaches is an empty message holding them);
 *   - fields with name, number, label, type, type name (".pkg.Msg"),
 *     json_name (as protoc derives it), oneof membership (names are not
 *     kept: "oneof_<n>"), packed and deprecated options, proto2 defaults;
 *     map fields as protoc writes them (a nested *Entry message with
 *     map_entry set);
 *   - syntax: proto2 when a field is required or optional (protoc-c 1.4
 *     compiles no proto3 `optional`), else proto3; in a package mixing
 *     both, proto3 with the optional fields as proto3 optional;
 *   - dependency: the packages whose types it uses.
 * What is lost: file names and file boundaries within a package,
 * comments, options other than the above, enum value order (by number),
 * extensions (protoc-c has none), types nothing reaches.
 *
 * The FileDescriptorProtos are built with protoc-c's code for
 * descriptor.proto (our own subset of google/protobuf/descriptor.proto,
 * same field numbers): the generated packer gets every wire detail right
 * for free and the unit test decodes with the same code, for a few KB of
 * generated tables; a hand-written writer would be a second encoder to
 * test. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/triple.h"
#include "core/internal.h"
#include "protocol/tri/descriptor.pb-c.h"
#include "protocol/tri/grpc.h"
#include "protocol/tri/reflection.h"
#include "protocol/tri/reflection_v1.pb-c.h"
#include "protocol/tri/reflection_v1alpha.pb-c.h"
#include "protocol/tri/tri.h"
#include "runtime/call.h"

typedef Dubbo__Tri__Descriptor__FileDescriptorProto file_pb;
typedef Dubbo__Tri__Descriptor__DescriptorProto msg_pb;
typedef Dubbo__Tri__Descriptor__FieldDescriptorProto field_pb;
typedef Dubbo__Tri__Descriptor__OneofDescriptorProto oneof_pb;
typedef Dubbo__Tri__Descriptor__EnumDescriptorProto enum_pb;
typedef Dubbo__Tri__Descriptor__EnumValueDescriptorProto value_pb;
typedef Dubbo__Tri__Descriptor__ServiceDescriptorProto service_pb;
typedef Dubbo__Tri__Descriptor__MethodDescriptorProto method_pb;

/* A message or enum of the model. */
typedef struct {
    const char *full; /* "pkg.Outer.Inner" */
    const char *pkg;  /* "" for none */
    const char *short_name;
    const ProtobufCMessageDescriptor *md; /* a message (NULL: an enum, or a placeholder) */
    const ProtobufCEnumDescriptor *ed;    /* an enum */
    int parent;                           /* index of the enclosing message, -1 at top */
    size_t file;
    bool map_entry;
} type_t;

typedef struct {
    const dubbo_tri_service_t *ts;
    size_t file;
} svc_t;

struct dubbo__tri_files {
    dubbo_arena_t *a;
    type_t *types;
    size_t ntypes, cap;
    svc_t *svcs;
    size_t nsvcs;
    dubbo__tri_file_t *files;
    size_t nfiles;
    bool *dep; /* dep[i * nfiles + j]: file i uses a type of file j */
};

/* ---- the model ---- */

static int type_index(const dubbo__tri_files_t *f, const char *full)
{
    for (size_t i = 0; i < f->ntypes; i++)
        if (strcmp(f->types[i].full, full) == 0) return (int)i;
    return -1;
}

static int add_type(dubbo__tri_files_t *f, const type_t *t)
{
    int i = type_index(f, t->full);
    if (i >= 0) return i;
    if (f->ntypes == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        type_t *n = realloc(f->types, cap * sizeof(*n));
        if (!n) return -1;
        f->types = n;
        f->cap = cap;
    }
    f->types[f->ntypes] = *t;
    f->types[f->ntypes].parent = -1;
    return (int)f->ntypes++;
}

static int add_message(dubbo__tri_files_t *f, const ProtobufCMessageDescriptor *md)
{
    type_t t = {.full = md->name,
                .pkg = md->package_name ? md->package_name : "",
                .short_name = md->short_name,
                .md = md};
    return add_type(f, &t);
}

static int add_enum(dubbo__tri_files_t *f, const ProtobufCEnumDescriptor *ed)
{
    type_t t = {.full = ed->name,
                .pkg = ed->package_name ? ed->package_name : "",
                .short_name = ed->short_name,
                .ed = ed};
    return add_type(f, &t);
}

/* The enclosing scope of a type: its name without ".<short name>". */
static char *scope_of(dubbo_arena_t *a, const type_t *t)
{
    size_t n = strlen(t->full), s = strlen(t->short_name);
    if (n <= s) return dubbo_arena_strndup(a, "", 0);
    return dubbo_arena_strndup(a, t->full, n - s - 1);
}

static const char *last_part(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : name;
}

/* protoc's json_name: underscores dropped, the letter after one upper-cased. */
static char *json_name(dubbo_arena_t *a, const char *name)
{
    char *out = dubbo_arena_alloc(a, strlen(name) + 1);
    if (!out) return NULL;
    size_t k = 0;
    bool up = false;
    for (const char *p = name; *p; p++) {
        if (*p == '_') {
            up = true;
        } else {
            out[k++] = up && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
            up = false;
        }
    }
    out[k] = 0;
    return out;
}

/* A map field's entry type, as protoc makes it: "<CamelCase field>Entry",
 * nested in the message, fields key = 1 and value = 2. */
static bool is_map_entry(const dubbo__tri_files_t *f, const type_t *t)
{
    const ProtobufCMessageDescriptor *md = t->md;
    if (!md || t->parent < 0 || md->n_fields != 2 || md->fields[0].id != 1 ||
        md->fields[1].id != 2 || strcmp(md->fields[0].name, "key") != 0 ||
        strcmp(md->fields[1].name, "value") != 0)
        return false;
    const ProtobufCMessageDescriptor *pd = f->types[t->parent].md;
    if (!pd) return false;
    for (unsigned i = 0; i < pd->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &pd->fields[i];
        if (fd->label != PROTOBUF_C_LABEL_REPEATED || fd->type != PROTOBUF_C_TYPE_MESSAGE ||
            fd->descriptor != md)
            continue;
        char camel[256];
        const char *j = json_name(f->a, fd->name);
        if (!j || snprintf(camel, sizeof(camel), "%c%sEntry",
                           *j >= 'a' && *j <= 'z' ? *j - 'a' + 'A' : *j,
                           *j ? j + 1 : "") >= (int)sizeof(camel))
            return false;
        if (strcmp(camel, md->short_name) == 0) return true;
    }
    return false;
}

static int kind_of(const dubbo_tri_service_t *ts, const char *method)
{
    for (size_t i = 0; i < ts->nmethods; i++)
        if (strcmp(ts->methods[i].name, method) == 0) return (int)ts->methods[i].kind;
    return DUBBO_TRI_UNARY;
}

static size_t file_of_pkg(dubbo__tri_files_t *f, const char *pkg)
{
    for (size_t i = 0; i < f->nfiles; i++)
        if (strcmp(f->files[i].package, pkg) == 0) return i;
    return (size_t)-1;
}

static int cmp_file(const void *x, const void *y)
{
    return strcmp(((const dubbo__tri_file_t *)x)->package, ((const dubbo__tri_file_t *)y)->package);
}

/* Every type the services reach, their enclosing messages, the files. */
static int build_model(dubbo__tri_files_t *f, const dubbo_tri_service_t *const *svcs, size_t n)
{
    f->svcs = calloc(n ? n : 1, sizeof(*f->svcs));
    if (!f->svcs) return DUBBO_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const dubbo_tri_service_t *ts = svcs[i];
        if (!ts || !ts->desc) continue;
        bool dup = false;
        for (size_t k = 0; k < f->nsvcs; k++)
            dup |= strcmp(f->svcs[k].ts->desc->name, ts->desc->name) == 0;
        if (dup) continue;
        f->svcs[f->nsvcs++].ts = ts;
        for (unsigned m = 0; m < ts->desc->n_methods; m++)
            if (add_message(f, ts->desc->methods[m].input) < 0 ||
                add_message(f, ts->desc->methods[m].output) < 0)
                return DUBBO_ENOMEM;
    }
    /* the types the fields reach, then the enclosing messages (the array
     * grows as it is walked) */
    for (size_t i = 0; i < f->ntypes; i++) {
        const ProtobufCMessageDescriptor *md = f->types[i].md;
        for (unsigned k = 0; md && k < md->n_fields; k++) {
            const ProtobufCFieldDescriptor *fd = &md->fields[k];
            if (fd->type == PROTOBUF_C_TYPE_MESSAGE && add_message(f, fd->descriptor) < 0)
                return DUBBO_ENOMEM;
            if (fd->type == PROTOBUF_C_TYPE_ENUM && add_enum(f, fd->descriptor) < 0)
                return DUBBO_ENOMEM;
        }
    }
    for (size_t i = 0; i < f->ntypes; i++) {
        char *scope = scope_of(f->a, &f->types[i]);
        if (!scope) return DUBBO_ENOMEM;
        if (strcmp(scope, f->types[i].pkg) == 0) continue;
        type_t outer = {.full = scope, .pkg = f->types[i].pkg, .short_name = last_part(scope)};
        int p = add_type(f, &outer); /* may move f->types */
        if (p < 0) return DUBBO_ENOMEM;
        f->types[i].parent = p;
    }
    for (size_t i = 0; i < f->ntypes; i++)
        f->types[i].map_entry = is_map_entry(f, &f->types[i]);
    /* one file per package, in package order */
    f->files = calloc(f->ntypes + f->nsvcs + 1, sizeof(*f->files));
    if (!f->files) return DUBBO_ENOMEM;
    for (size_t i = 0; i < f->ntypes + f->nsvcs; i++) {
        const char *pkg =
            i < f->ntypes ? f->types[i].pkg : f->svcs[i - f->ntypes].ts->desc->package;
        if (!pkg) pkg = "";
        if (file_of_pkg(f, pkg) != (size_t)-1) continue;
        dubbo__tri_file_t *file = &f->files[f->nfiles++];
        file->package = (char *)pkg;
    }
    qsort(f->files, f->nfiles, sizeof(*f->files), cmp_file);
    for (size_t i = 0; i < f->nfiles; i++) {
        dubbo__tri_file_t *file = &f->files[i];
        size_t len = strlen(file->package) + 32;
        if (!(file->name = dubbo_arena_alloc(f->a, len))) return DUBBO_ENOMEM;
        snprintf(file->name, len, "%s%sdubbo-c-reflection.proto", file->package,
                 *file->package ? "." : "");
        if (!(file->package = dubbo_arena_strndup(f->a, file->package, strlen(file->package))))
            return DUBBO_ENOMEM;
    }
    for (size_t i = 0; i < f->ntypes; i++)
        f->types[i].file = file_of_pkg(f, f->types[i].pkg);
    for (size_t i = 0; i < f->nsvcs; i++) {
        const char *pkg = f->svcs[i].ts->desc->package;
        f->svcs[i].file = file_of_pkg(f, pkg ? pkg : "");
    }
    /* which file uses which */
    f->dep = calloc(f->nfiles * f->nfiles + 1, sizeof(*f->dep));
    if (!f->dep) return DUBBO_ENOMEM;
    for (size_t i = 0; i < f->ntypes; i++) {
        const ProtobufCMessageDescriptor *md = f->types[i].md;
        for (unsigned k = 0; md && k < md->n_fields; k++) {
            const ProtobufCFieldDescriptor *fd = &md->fields[k];
            if (fd->type != PROTOBUF_C_TYPE_MESSAGE && fd->type != PROTOBUF_C_TYPE_ENUM) continue;
            const char *name = fd->type == PROTOBUF_C_TYPE_MESSAGE
                                   ? ((const ProtobufCMessageDescriptor *)fd->descriptor)->name
                                   : ((const ProtobufCEnumDescriptor *)fd->descriptor)->name;
            size_t j = f->types[type_index(f, name)].file;
            if (j != f->types[i].file) f->dep[f->types[i].file * f->nfiles + j] = true;
        }
    }
    for (size_t i = 0; i < f->nsvcs; i++) {
        const ProtobufCServiceDescriptor *d = f->svcs[i].ts->desc;
        for (unsigned m = 0; m < d->n_methods; m++) {
            size_t in = f->types[type_index(f, d->methods[m].input->name)].file;
            size_t out = f->types[type_index(f, d->methods[m].output->name)].file;
            if (in != f->svcs[i].file) f->dep[f->svcs[i].file * f->nfiles + in] = true;
            if (out != f->svcs[i].file) f->dep[f->svcs[i].file * f->nfiles + out] = true;
        }
    }
    return 0;
}

/* ---- the FileDescriptorProtos ---- */

/* A message of type d, initialised, in a. */
static void *new_msg(dubbo_arena_t *a, const ProtobufCMessageDescriptor *d)
{
    ProtobufCMessage *m = dubbo_arena_alloc(a, d->sizeof_message);
    if (m) protobuf_c_message_init(d, m);
    return m;
}

static void *new_array(dubbo_arena_t *a, size_t n, size_t size)
{
    void *p = dubbo_arena_alloc(a, (n ? n : 1) * size);
    if (p) memset(p, 0, (n ? n : 1) * size);
    return p;
}

static char *dotted(dubbo_arena_t *a, const char *name)
{
    size_t n = strlen(name);
    char *s = dubbo_arena_alloc(a, n + 2);
    if (!s) return NULL;
    s[0] = '.';
    memcpy(s + 1, name, n + 1);
    return s;
}

static char *dup_str(dubbo_arena_t *a, const char *s)
{
    return dubbo_arena_strndup(a, s, strlen(s));
}

static int pb_type(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32: return 5;
    case PROTOBUF_C_TYPE_SINT32: return 17;
    case PROTOBUF_C_TYPE_SFIXED32: return 15;
    case PROTOBUF_C_TYPE_INT64: return 3;
    case PROTOBUF_C_TYPE_SINT64: return 18;
    case PROTOBUF_C_TYPE_SFIXED64: return 16;
    case PROTOBUF_C_TYPE_UINT32: return 13;
    case PROTOBUF_C_TYPE_FIXED32: return 7;
    case PROTOBUF_C_TYPE_UINT64: return 4;
    case PROTOBUF_C_TYPE_FIXED64: return 6;
    case PROTOBUF_C_TYPE_FLOAT: return 2;
    case PROTOBUF_C_TYPE_DOUBLE: return 1;
    case PROTOBUF_C_TYPE_BOOL: return 8;
    case PROTOBUF_C_TYPE_ENUM: return 14;
    case PROTOBUF_C_TYPE_STRING: return 9;
    case PROTOBUF_C_TYPE_BYTES: return 12;
    case PROTOBUF_C_TYPE_MESSAGE: return 11;
    }
    return 0;
}

static bool packable(ProtobufCType t)
{
    return t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_BYTES &&
           t != PROTOBUF_C_TYPE_MESSAGE;
}

/* The shortest %g text that reads back as v (protoc's default_value). */
static void real_text(char *out, size_t n, double v, bool is_float)
{
    if (isnan(v)) {
        snprintf(out, n, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(out, n, v < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        double back = strtod(out, NULL);
        if (is_float ? (float)back == (float)v : back == v) return;
    }
}

/* A proto2 default as descriptor.proto writes it: numbers in decimal, bools
 * true/false, enums by value name, strings as they are, bytes C-escaped. */
static char *default_text(dubbo_arena_t *a, const ProtobufCFieldDescriptor *fd)
{
    const void *d = fd->default_value;
    char buf[64];
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(buf, sizeof(buf), "%" PRId32, *(const int32_t *)d);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)d);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, sizeof(buf), "%" PRIu32, *(const uint32_t *)d);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)d);
        break;
    case PROTOBUF_C_TYPE_FLOAT: real_text(buf, sizeof(buf), *(const float *)d, true); break;
    case PROTOBUF_C_TYPE_DOUBLE: real_text(buf, sizeof(buf), *(const double *)d, false); break;
    case PROTOBUF_C_TYPE_BOOL:
        snprintf(buf, sizeof(buf), "%s", *(const protobuf_c_boolean *)d ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(fd->descriptor, *(const int *)d);
        return v ? dup_str(a, v->name) : NULL;
    }
    case PROTOBUF_C_TYPE_STRING: return dup_str(a, (const char *)d);
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = d;
        char *out = dubbo_arena_alloc(a, b->len * 4 + 1), *p = out;
        if (!out) return NULL;
        for (size_t i = 0; i < b->len; i++) {
            uint8_t c = b->data[i];
            const char *esc = c == '\n'   ? "\\n"
                              : c == '\r' ? "\\r"
                              : c == '\t' ? "\\t"
                              : c == '"'  ? "\\\""
                              : c == '\'' ? "\\'"
                              : c == '\\' ? "\\\\"
                                          : NULL;
            if (esc)
                p += sprintf(p, "%s", esc);
            else if (c < 0x20 || c >= 0x7f)
                p += sprintf(p, "\\%03o", c);
            else
                *p++ = (char)c;
        }
        *p = 0;
        return out;
    }
    case PROTOBUF_C_TYPE_MESSAGE: return NULL;
    }
    return dup_str(a, buf);
}

/* A proto2 string default is the char array itself (protoc-c stores its
 * address); every other type's default_value points to the value. */
static bool has_default(const ProtobufCFieldDescriptor *fd)
{
    return fd->default_value && fd->label != PROTOBUF_C_LABEL_REPEATED &&
           fd->type != PROTOBUF_C_TYPE_MESSAGE;
}

static int build_field(dubbo__tri_files_t *f, const ProtobufCFieldDescriptor *fd, bool proto3,
                       field_pb *out)
{
    dubbo_arena_t *a = f->a;
    *out = (field_pb)DUBBO__TRI__DESCRIPTOR__FIELD_DESCRIPTOR_PROTO__INIT;
    out->name = dup_str(a, fd->name);
    out->json_name = json_name(a, fd->name);
    out->has_number = out->has_label = out->has_type = true;
    out->number = (int32_t)fd->id;
    out->label = fd->label == PROTOBUF_C_LABEL_REPEATED   ? 3
                 : fd->label == PROTOBUF_C_LABEL_REQUIRED ? 2
                                                          : 1;
    out->type = pb_type(fd->type);
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
        out->type_name = dotted(a, ((const ProtobufCMessageDescriptor *)fd->descriptor)->name);
    else if (fd->type == PROTOBUF_C_TYPE_ENUM)
        out->type_name = dotted(a, ((const ProtobufCEnumDescriptor *)fd->descriptor)->name);
    if (!out->name || !out->json_name ||
        ((fd->type == PROTOBUF_C_TYPE_MESSAGE || fd->type == PROTOBUF_C_TYPE_ENUM) &&
         !out->type_name))
        return DUBBO_ENOMEM;
    if (!proto3 && has_default(fd) && !(out->default_value = default_text(a, fd)))
        return DUBBO_ENOMEM;
    bool packed = (fd->flags & PROTOBUF_C_FIELD_FLAG_PACKED) != 0;
    bool deprecated = (fd->flags & PROTOBUF_C_FIELD_FLAG_DEPRECATED) != 0;
    bool set_packed =
        fd->label == PROTOBUF_C_LABEL_REPEATED && packable(fd->type) && (proto3 ? !packed : packed);
    if (set_packed || deprecated) {
        Dubbo__Tri__Descriptor__FieldOptions *o =
            new_msg(a, &dubbo__tri__descriptor__field_options__descriptor);
        if (!o) return DUBBO_ENOMEM;
        o->has_packed = set_packed;
        o->packed = packed;
        o->has_deprecated = o->deprecated = deprecated;
        out->options = o;
    }
    return 0;
}

static bool file_is_proto3(const dubbo__tri_files_t *f, size_t file)
{
    bool none = false, opt = false, req = false;
    for (size_t i = 0; i < f->ntypes; i++) {
        const ProtobufCMessageDescriptor *md = f->types[i].md;
        if (f->types[i].file != file || !md) continue;
        for (unsigned k = 0; k < md->n_fields; k++) {
            none |= md->fields[k].label == PROTOBUF_C_LABEL_NONE;
            opt |= md->fields[k].label == PROTOBUF_C_LABEL_OPTIONAL;
            req |= md->fields[k].label == PROTOBUF_C_LABEL_REQUIRED;
        }
    }
    return !req && (none || !opt);
}

static enum_pb *build_enum(dubbo__tri_files_t *f, const type_t *t)
{
    dubbo_arena_t *a = f->a;
    const ProtobufCEnumDescriptor *ed = t->ed;
    enum_pb *e = new_msg(a, &dubbo__tri__descriptor__enum_descriptor_proto__descriptor);
    if (!e || !(e->name = dup_str(a, t->short_name)) ||
        !(e->value = new_array(a, ed->n_values, sizeof(*e->value))))
        return NULL;
    for (unsigned i = 0; i < ed->n_values; i++) {
        value_pb *v = new_msg(a, &dubbo__tri__descriptor__enum_value_descriptor_proto__descriptor);
        if (!v || !(v->name = dup_str(a, ed->values[i].name))) return NULL;
        v->has_number = true;
        v->number = ed->values[i].value;
        e->value[e->n_value++] = v;
    }
    return e;
}

static msg_pb *build_message(dubbo__tri_files_t *f, size_t ti, bool proto3)
{
    dubbo_arena_t *a = f->a;
    const type_t *t = &f->types[ti];
    const ProtobufCMessageDescriptor *md = t->md;
    msg_pb *m = new_msg(a, &dubbo__tri__descriptor__descriptor_proto__descriptor);
    if (!m || !(m->name = dup_str(a, t->short_name))) return NULL;
    size_t nf = md ? md->n_fields : 0;
    if (!(m->field = new_array(a, nf, sizeof(*m->field))) ||
        !(m->oneof_decl = new_array(a, nf, sizeof(*m->oneof_decl))))
        return NULL;
    /* real oneofs (members share the offset of their case), numbered as
     * they first appear; then proto3 optional's synthetic ones after them */
    unsigned *oneof_at = new_array(a, nf, sizeof(*oneof_at));
    size_t nreal = 0;
    if (!oneof_at) return NULL;
    for (size_t i = 0; i < nf; i++) {
        const ProtobufCFieldDescriptor *fd = &md->fields[i];
        field_pb *fp = new_msg(a, &dubbo__tri__descriptor__field_descriptor_proto__descriptor);
        if (!fp || build_field(f, fd, proto3, fp)) return NULL;
        m->field[m->n_field++] = fp;
        if (!(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) continue;
        size_t k = 0;
        while (k < nreal && oneof_at[k] != fd->quantifier_offset)
            k++;
        if (k == nreal) {
            oneof_at[nreal++] = fd->quantifier_offset;
            oneof_pb *o = new_msg(a, &dubbo__tri__descriptor__oneof_descriptor_proto__descriptor);
            char name[32];
            snprintf(name, sizeof(name), "oneof_%zu", k);
            if (!o || !(o->name = dup_str(a, name))) return NULL;
            m->oneof_decl[m->n_oneof_decl++] = o;
        }
        fp->has_oneof_index = true;
        fp->oneof_index = (int32_t)k;
    }
    for (size_t i = 0; proto3 && i < nf; i++) {
        const ProtobufCFieldDescriptor *fd = &md->fields[i];
        if (fd->label != PROTOBUF_C_LABEL_OPTIONAL || (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        oneof_pb *o = new_msg(a, &dubbo__tri__descriptor__oneof_descriptor_proto__descriptor);
        size_t n = strlen(fd->name) + 2;
        if (!o || !(o->name = dubbo_arena_alloc(a, n))) return NULL;
        snprintf(o->name, n, "_%s", fd->name);
        m->field[i]->has_proto3_optional = m->field[i]->proto3_optional = true;
        m->field[i]->has_oneof_index = true;
        m->field[i]->oneof_index = (int32_t)m->n_oneof_decl;
        m->oneof_decl[m->n_oneof_decl++] = o;
    }
    if (t->map_entry) {
        Dubbo__Tri__Descriptor__MessageOptions *o =
            new_msg(a, &dubbo__tri__descriptor__message_options__descriptor);
        if (!o) return NULL;
        o->has_map_entry = o->map_entry = true;
        m->options = o;
    }
    /* nested messages and enums */
    size_t nkids = 0;
    for (size_t i = 0; i < f->ntypes; i++)
        nkids += f->types[i].parent == (int)ti;
    if (!(m->nested_type = new_array(a, nkids, sizeof(*m->nested_type))) ||
        !(m->enum_type = new_array(a, nkids, sizeof(*m->enum_type))))
        return NULL;
    for (size_t i = 0; i < f->ntypes; i++) {
        if (f->types[i].parent != (int)ti) continue;
        if (f->types[i].ed) {
            if (!(m->enum_type[m->n_enum_type++] = build_enum(f, &f->types[i]))) return NULL;
        } else if (!(m->nested_type[m->n_nested_type++] = build_message(f, i, proto3))) {
            return NULL;
        }
    }
    return m;
}

static service_pb *build_service(dubbo__tri_files_t *f, const dubbo_tri_service_t *ts)
{
    dubbo_arena_t *a = f->a;
    const ProtobufCServiceDescriptor *d = ts->desc;
    service_pb *s = new_msg(a, &dubbo__tri__descriptor__service_descriptor_proto__descriptor);
    if (!s || !(s->name = dup_str(a, d->short_name)) ||
        !(s->method = new_array(a, d->n_methods, sizeof(*s->method))))
        return NULL;
    for (unsigned i = 0; i < d->n_methods; i++) {
        const ProtobufCMethodDescriptor *md = &d->methods[i];
        method_pb *m = new_msg(a, &dubbo__tri__descriptor__method_descriptor_proto__descriptor);
        if (!m || !(m->name = dup_str(a, md->name)) ||
            !(m->input_type = dotted(a, md->input->name)) ||
            !(m->output_type = dotted(a, md->output->name)))
            return NULL;
        int kind = kind_of(ts, md->name);
        if (kind == DUBBO_TRI_CLIENT_STREAM || kind == DUBBO_TRI_BIDI_STREAM)
            m->has_client_streaming = m->client_streaming = true;
        if (kind == DUBBO_TRI_SERVER_STREAM || kind == DUBBO_TRI_BIDI_STREAM)
            m->has_server_streaming = m->server_streaming = true;
        s->method[s->n_method++] = m;
    }
    return s;
}

static int build_file(dubbo__tri_files_t *f, size_t fi)
{
    dubbo_arena_t *a = f->a;
    dubbo__tri_file_t *file = &f->files[fi];
    bool proto3 = file_is_proto3(f, fi);
    file_pb fp = DUBBO__TRI__DESCRIPTOR__FILE_DESCRIPTOR_PROTO__INIT;
    fp.name = file->name;
    if (*file->package) fp.package = file->package;
    if (proto3) fp.syntax = "proto3";
    if (!(fp.dependency = new_array(a, f->nfiles, sizeof(*fp.dependency))) ||
        !(fp.message_type = new_array(a, f->ntypes, sizeof(*fp.message_type))) ||
        !(fp.enum_type = new_array(a, f->ntypes, sizeof(*fp.enum_type))) ||
        !(fp.service = new_array(a, f->nsvcs, sizeof(*fp.service))))
        return DUBBO_ENOMEM;
    for (size_t j = 0; j < f->nfiles; j++)
        if (f->dep[fi * f->nfiles + j]) fp.dependency[fp.n_dependency++] = f->files[j].name;
    for (size_t i = 0; i < f->ntypes; i++) {
        if (f->types[i].file != fi || f->types[i].parent >= 0) continue;
        if (f->types[i].ed) {
            if (!(fp.enum_type[fp.n_enum_type++] = build_enum(f, &f->types[i])))
                return DUBBO_ENOMEM;
        } else if (!(fp.message_type[fp.n_message_type++] = build_message(f, i, proto3))) {
            return DUBBO_ENOMEM;
        }
    }
    for (size_t i = 0; i < f->nsvcs; i++)
        if (f->svcs[i].file == fi &&
            !(fp.service[fp.n_service++] = build_service(f, f->svcs[i].ts)))
            return DUBBO_ENOMEM;
    file->len = protobuf_c_message_get_packed_size(&fp.base);
    if (!(file->bytes = dubbo_arena_alloc(a, file->len ? file->len : 1))) return DUBBO_ENOMEM;
    protobuf_c_message_pack(&fp.base, file->bytes);
    return 0;
}

dubbo__tri_files_t *dubbo__tri_files_new(const dubbo_tri_service_t *const *svcs, size_t n)
{
    dubbo__tri_files_t *f = calloc(1, sizeof(*f));
    if (!f || !(f->a = dubbo_arena_new(0))) {
        free(f);
        dubbo__seterr(DUBBO_ENOMEM, "out of memory");
        return NULL;
    }
    int rc = build_model(f, svcs, n);
    for (size_t i = 0; !rc && i < f->nfiles; i++)
        rc = build_file(f, i);
    if (rc) {
        dubbo__tri_files_free(f);
        dubbo__seterr(DUBBO_ENOMEM, "out of memory describing the IDL services");
        return NULL;
    }
    return f;
}

void dubbo__tri_files_free(dubbo__tri_files_t *f)
{
    if (!f) return;
    dubbo_arena_free(f->a);
    free(f->types);
    free(f->svcs);
    free(f->files);
    free(f->dep);
    free(f);
}

const dubbo__tri_file_t *dubbo__tri_files_list(const dubbo__tri_files_t *f, size_t *n)
{
    *n = f->nfiles;
    return f->files;
}

const dubbo__tri_file_t *dubbo__tri_files_by_name(const dubbo__tri_files_t *f, const char *name)
{
    for (size_t i = 0; i < f->nfiles; i++)
        if (strcmp(f->files[i].name, name) == 0) return &f->files[i];
    return NULL;
}

/* Whether sym is prefix + "." + name. */
static bool is_member(const char *sym, const char *prefix, const char *name)
{
    size_t n = strlen(prefix);
    return strncmp(sym, prefix, n) == 0 && sym[n] == '.' && strcmp(sym + n + 1, name) == 0;
}

const dubbo__tri_file_t *dubbo__tri_files_by_symbol(const dubbo__tri_files_t *f, const char *sym)
{
    for (size_t i = 0; i < f->nsvcs; i++) {
        const ProtobufCServiceDescriptor *d = f->svcs[i].ts->desc;
        if (strcmp(d->name, sym) == 0) return &f->files[f->svcs[i].file];
        for (unsigned m = 0; m < d->n_methods; m++)
            if (is_member(sym, d->name, d->methods[m].name)) return &f->files[f->svcs[i].file];
    }
    for (size_t i = 0; i < f->ntypes; i++) {
        const type_t *t = &f->types[i];
        if (strcmp(t->full, sym) == 0) return &f->files[t->file];
        for (unsigned k = 0; t->md && k < t->md->n_fields; k++)
            if (is_member(sym, t->full, t->md->fields[k].name)) return &f->files[t->file];
    }
    return NULL;
}

bool dubbo__tri_files_has_message(const dubbo__tri_files_t *f, const char *sym)
{
    int i = type_index(f, sym);
    return i >= 0 && !f->types[i].ed;
}

size_t dubbo__tri_files_deps(const dubbo__tri_files_t *f, const dubbo__tri_file_t *file,
                             const dubbo__tri_file_t **out)
{
    /* breadth first from the file: each dependency once */
    size_t start = (size_t)(file - f->files), n = 0;
    bool *seen = calloc(f->nfiles + 1, sizeof(*seen));
    size_t *queue = calloc(f->nfiles + 1, sizeof(*queue));
    if (!seen || !queue) {
        free(seen);
        free(queue);
        return 0;
    }
    size_t head = 0, tail = 0;
    seen[start] = true;
    queue[tail++] = start;
    while (head < tail) {
        size_t i = queue[head++];
        for (size_t j = 0; j < f->nfiles; j++)
            if (f->dep[i * f->nfiles + j] && !seen[j]) {
                seen[j] = true;
                queue[tail++] = j;
                out[n++] = &f->files[j];
            }
    }
    free(seen);
    free(queue);
    return n;
}

/* ---- the service ---- */

typedef Grpc__Reflection__V1__ServerReflectionRequest req_t;
typedef Grpc__Reflection__V1__ServerReflectionResponse resp_t;

/* msg as a message of type `to` with the same fields (v1alpha <-> v1: the
 * same messages in another package), in a: by its bytes, so no struct is
 * read as another type. */
static ProtobufCMessage *recode(dubbo_arena_t *a, const ProtobufCMessage *msg,
                                const ProtobufCMessageDescriptor *to)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *bytes = dubbo_arena_alloc(a, n ? n : 1);
    if (!bytes) return NULL;
    protobuf_c_message_pack(msg, bytes);
    ProtobufCAllocator alloc = dubbo__tri_allocator(a);
    return protobuf_c_message_unpack(to, &alloc, n, bytes);
}

static void set_error(dubbo_arena_t *a, resp_t *r, int code, const char *fmt, const char *arg)
{
    Grpc__Reflection__V1__ErrorResponse *e =
        new_msg(a, &grpc__reflection__v1__error_response__descriptor);
    size_t n = strlen(fmt) + strlen(arg) + 1;
    char *msg = dubbo_arena_alloc(a, n);
    if (!e || !msg) return; /* answered without a body: the client sees an empty response */
    snprintf(msg, n, fmt, arg);
    e->error_code = code;
    e->error_message = msg;
    r->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
    r->error_response = e;
}

/* file and what it depends on, in that order */
static void set_files(dubbo_arena_t *a, resp_t *r, const dubbo__tri_files_t *f,
                      const dubbo__tri_file_t *file)
{
    size_t nfiles;
    dubbo__tri_files_list(f, &nfiles);
    const dubbo__tri_file_t **deps = dubbo_arena_alloc(a, (nfiles + 1) * sizeof(*deps));
    Grpc__Reflection__V1__FileDescriptorResponse *fr =
        new_msg(a, &grpc__reflection__v1__file_descriptor_response__descriptor);
    ProtobufCBinaryData *out = dubbo_arena_alloc(a, (nfiles + 1) * sizeof(*out));
    if (!deps || !fr || !out) return;
    size_t n = dubbo__tri_files_deps(f, file, deps);
    out[0] = (ProtobufCBinaryData){file->len, file->bytes};
    for (size_t i = 0; i < n; i++)
        out[i + 1] = (ProtobufCBinaryData){deps[i]->len, deps[i]->bytes};
    fr->n_file_descriptor_proto = n + 1;
    fr->file_descriptor_proto = out;
    r->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
    r->file_descriptor_response = fr;
}

static void set_services(dubbo_arena_t *a, resp_t *r, const dubbo__tri_files_t *f)
{
    Grpc__Reflection__V1__ListServiceResponse *l =
        new_msg(a, &grpc__reflection__v1__list_service_response__descriptor);
    Grpc__Reflection__V1__ServiceResponse **list = new_array(a, f->nsvcs, sizeof(*list));
    if (!l || !list) return;
    for (size_t i = 0; i < f->nsvcs; i++) {
        Grpc__Reflection__V1__ServiceResponse *s =
            new_msg(a, &grpc__reflection__v1__service_response__descriptor);
        if (!s) return;
        s->name = (char *)f->svcs[i].ts->desc->name;
        list[l->n_service++] = s;
    }
    l->service = list;
    r->message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
    r->list_services_response = l;
}

/* The answer to one request, in a. */
static void answer(dubbo_call_t *call, dubbo_arena_t *a, const req_t *req, resp_t *r)
{
    *r = (resp_t)GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
    r->valid_host = req->host;
    r->original_request = (req_t *)req;
    size_t n;
    const dubbo_tri_service_t **svcs = dubbo__tri_idl_exported(call->srv, &n);
    dubbo__tri_files_t *f = svcs ? dubbo__tri_files_new(svcs, n) : NULL;
    free(svcs);
    if (!f) {
        set_error(a, r, DUBBO_GRPC_RESOURCE_EXHAUSTED, "%sout of memory", "");
        return;
    }
    const dubbo__tri_file_t *file;
    switch (req->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
        set_services(a, r, f);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        if ((file = dubbo__tri_files_by_name(f, req->file_by_filename)))
            set_files(a, r, f, file);
        else
            set_error(a, r, DUBBO_GRPC_NOT_FOUND, "file not found: %s", req->file_by_filename);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        if ((file = dubbo__tri_files_by_symbol(f, req->file_containing_symbol)))
            set_files(a, r, f, file);
        else
            set_error(a, r, DUBBO_GRPC_NOT_FOUND, "symbol not found: %s",
                      req->file_containing_symbol);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
        set_error(a, r, DUBBO_GRPC_NOT_FOUND,
                  "extension not found: %s has no extensions (protoc-c compiles none)",
                  req->file_containing_extension && req->file_containing_extension->containing_type
                      ? req->file_containing_extension->containing_type
                      : "");
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
        /* a type we describe has no extensions: an empty list, as grpc-go
         * answers; a type we do not know is NOT_FOUND */
        if (dubbo__tri_files_has_message(f, req->all_extension_numbers_of_type)) {
            Grpc__Reflection__V1__ExtensionNumberResponse *e =
                new_msg(a, &grpc__reflection__v1__extension_number_response__descriptor);
            if (!e) break;
            e->base_type_name = req->all_extension_numbers_of_type;
            r->message_response_case =
                GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
            r->all_extension_numbers_response = e;
        } else {
            set_error(a, r, DUBBO_GRPC_NOT_FOUND, "type not found: %s",
                      req->all_extension_numbers_of_type);
        }
        break;
    default:
        set_error(a, r, DUBBO_GRPC_INVALID_ARGUMENT, "%sthe request asks for nothing known", "");
        break;
    }
    /* the files' bytes go into the answer: copy them out of f */
    if (r->message_response_case ==
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE) {
        Grpc__Reflection__V1__FileDescriptorResponse *fr = r->file_descriptor_response;
        for (size_t i = 0; i < fr->n_file_descriptor_proto; i++) {
            ProtobufCBinaryData *b = &fr->file_descriptor_proto[i];
            uint8_t *copy = dubbo_arena_alloc(a, b->len ? b->len : 1);
            if (copy) memcpy(copy, b->data, b->len);
            b->data = copy;
            if (!copy) b->len = 0;
        }
    }
    dubbo__tri_files_free(f);
}

/* ServerReflectionInfo, either version: `user` is its response type. */
static void reflection_info(dubbo_call_t *call, dubbo_tri_stream_t *stream, const void *none,
                            void *user)
{
    (void)none;
    const ProtobufCMessageDescriptor *out = user;
    ProtobufCMessage *m;
    int rc;
    while ((rc = dubbo_tri_stream_recv(stream, &m)) == 1) {
        /* each answer in its own arena: a long stream holds only its
         * requests (in the call's) */
        dubbo_arena_t *a = dubbo_arena_new(0);
        req_t *req =
            a ? (req_t *)recode(a, m, &grpc__reflection__v1__server_reflection_request__descriptor)
              : NULL;
        if (!req) {
            dubbo_arena_free(a);
            dubbo_tri_fail(call, DUBBO_GRPC_RESOURCE_EXHAUSTED, "reflection: out of memory");
            return;
        }
        resp_t r;
        answer(call, a, req, &r);
        ProtobufCMessage *send = out == r.base.descriptor ? &r.base : recode(a, &r.base, out);
        rc = send ? dubbo_tri_stream_send(stream, send) : DUBBO_ENOMEM;
        dubbo_arena_free(a);
        if (rc) break;
    }
    if (rc == DUBBO_ETIMEOUT)
        dubbo_tri_fail(call, DUBBO_GRPC_DEADLINE_EXCEEDED, "reflection: the deadline passed");
    else if (rc == DUBBO_ETOO_BIG)
        dubbo_tri_fail(call, DUBBO_GRPC_RESOURCE_EXHAUSTED, dubbo_last_error());
    else if (rc < 0 && rc != DUBBO_ECLOSED)
        dubbo_tri_fail(call, DUBBO_GRPC_INTERNAL, dubbo_last_error());
}

static const dubbo_tri_method_t v1_methods[] = {
    {"ServerReflectionInfo", NULL, DUBBO_TRI_STREAM(reflection_info), DUBBO_TRI_BIDI_STREAM},
};
static const dubbo_tri_service_t v1_service = {
    .desc = &grpc__reflection__v1__server_reflection__descriptor,
    .methods = v1_methods,
    .nmethods = 1,
    .user = (void *)&grpc__reflection__v1__server_reflection_response__descriptor,
};
static const dubbo_tri_service_t v1alpha_service = {
    .desc = &grpc__reflection__v1alpha__server_reflection__descriptor,
    .methods = v1_methods,
    .nmethods = 1,
    .user = (void *)&grpc__reflection__v1alpha__server_reflection_response__descriptor,
};

int dubbo_tri_serve_reflection(dubbo_server_t *s)
{
    if (!s) return dubbo__seterr(DUBBO_EINVAL, "dubbo_tri_serve_reflection: no server");
    int rc = dubbo_tri_export(s, &v1_service);
    if (!rc) rc = dubbo_tri_export(s, &v1alpha_service);
    return rc;
}
