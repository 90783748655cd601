/* gRPC server reflection's synthesized descriptors (src/protocol/tri/
 * reflection.c) and the reflection and health API on a server
 * (include/dubbo/triple.h): the FileDescriptorProtos rebuilt from
 * protoc-c's descriptors of tests/unit/proto/refl_{a,b}.proto and
 * tools/proto/helloworld.proto are decoded back and compared, message by
 * message and field by field, with what protoc 3.21 itself writes for the
 * same files (--descriptor_set_out, made at build time: REFL_DESCRIPTOR_SET),
 * minus what protoc-c does not keep (file names, oneof names, declaration
 * order of enum values). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "dubbo/error.h"
#include "dubbo/triple.h"
#include "helloworld.pb-c.h"
#include "protocol/tri/descriptor.pb-c.h"
#include "protocol/tri/reflection.h"
#include "refl_a.pb-c.h"
#include "refl_b.pb-c.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

typedef Dubbo__Tri__Descriptor__FileDescriptorProto file_pb;
typedef Dubbo__Tri__Descriptor__DescriptorProto msg_pb;
typedef Dubbo__Tri__Descriptor__FieldDescriptorProto field_pb;
typedef Dubbo__Tri__Descriptor__EnumDescriptorProto enum_pb;

static void unary(dubbo_call_t *call, const ProtobufCMessage *req, ProtobufCMessage *resp,
                  void *user)
{
    (void)call, (void)req, (void)resp, (void)user;
}

static void stream(dubbo_call_t *call, dubbo_tri_stream_t *s, const ProtobufCMessage *req,
                   void *user)
{
    (void)call, (void)s, (void)req, (void)user;
}

static const dubbo_tri_method_t svc_methods[] = {
    {"Unary", unary, NULL, DUBBO_TRI_UNARY},
    {"ServerStream", NULL, stream, DUBBO_TRI_SERVER_STREAM},
    {"ClientStream", NULL, stream, DUBBO_TRI_CLIENT_STREAM},
    {"Bidi", NULL, stream, DUBBO_TRI_BIDI_STREAM},
};
static const dubbo_tri_service_t svc = {
    .desc = &refl__a__svc__descriptor, .methods = svc_methods, .nmethods = N(svc_methods)};

static const dubbo_tri_method_t greeter_methods[] = {
    {"SayHello", unary, NULL, DUBBO_TRI_UNARY},
    {"SayHelloStream", NULL, stream, DUBBO_TRI_SERVER_STREAM},
};
static const dubbo_tri_service_t greeter = {.desc = &helloworld__greeter__descriptor,
                                            .methods = greeter_methods,
                                            .nmethods = N(greeter_methods)};

static file_pb *decode(const dubbo__tri_file_t *f)
{
    return dubbo__tri__descriptor__file_descriptor_proto__unpack(NULL, f->len, f->bytes);
}

static const dubbo__tri_file_t *file_of(const dubbo__tri_files_t *fs, const char *pkg)
{
    size_t n;
    const dubbo__tri_file_t *list = dubbo__tri_files_list(fs, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].package, pkg) == 0) return &list[i];
    return NULL;
}

static dubbo__tri_files_t *describe_all(void)
{
    const dubbo_tri_service_t *svcs[] = {&svc, &greeter, &svc, NULL};
    return dubbo__tri_files_new(svcs, N(svcs));
}

TEST(files_per_package)
{
    dubbo__tri_files_t *fs = describe_all();
    CHECK(fs != NULL);
    if (!fs) return;
    size_t n;
    const dubbo__tri_file_t *list = dubbo__tri_files_list(fs, &n);
    CHECK_EQ_INT(n, 3); /* helloworld, refl.a, refl.b: in package order */
    CHECK_EQ_STR(list[0].name, "helloworld.dubbo-c-reflection.proto");
    CHECK_EQ_STR(list[1].name, "refl.a.dubbo-c-reflection.proto");
    CHECK_EQ_STR(list[2].name, "refl.b.dubbo-c-reflection.proto");
    CHECK(dubbo__tri_files_by_name(fs, "refl.b.dubbo-c-reflection.proto") == &list[2]);
    CHECK(dubbo__tri_files_by_name(fs, "refl_b.proto") == NULL);
    /* symbols: services, methods, messages (nested too), fields, enums */
    CHECK(dubbo__tri_files_by_symbol(fs, "refl.a.Svc") == &list[1]);
    CHECK(dubbo__tri_files_by_symbol(fs, "refl.a.Svc.Bidi") == &list[1]);
    CHECK(dubbo__tri_files_by_symbol(fs, "refl.a.Outer.Inner") == &list[1]);
    CHECK(dubbo__tri_files_by_symbol(fs, "refl.a.Outer.Inner.Color") == &list[1]);
    CHECK(dubbo__tri_files_by_symbol(fs, "refl.a.Outer.my_field_name") == &list[1]);
    CHECK(dubbo__tri_files_by_symbol(fs, "refl.a.Hidden") == &list[1]);
    CHECK(dubbo__tri_files_by_symbol(fs, "refl.b.Legacy.Kind") == &list[2]);
    CHECK(dubbo__tri_files_by_symbol(fs, "helloworld.HelloReply") == &list[0]);
    CHECK(dubbo__tri_files_by_symbol(fs, "refl.a.Nope") == NULL);
    CHECK(dubbo__tri_files_by_symbol(fs, "refl.a.Svc.Nope") == NULL);
    CHECK(dubbo__tri_files_by_symbol(fs, "") == NULL);
    CHECK(dubbo__tri_files_has_message(fs, "refl.a.Outer"));
    CHECK(!dubbo__tri_files_has_message(fs, "refl.a.Top"));
    /* refl.a uses refl.b; helloworld nothing */
    const dubbo__tri_file_t *deps[3];
    CHECK_EQ_INT(dubbo__tri_files_deps(fs, &list[1], deps), 1);
    CHECK(deps[0] == &list[2]);
    CHECK_EQ_INT(dubbo__tri_files_deps(fs, &list[0], deps), 0);
    file_pb *a = decode(&list[1]);
    CHECK(a != NULL);
    if (a) {
        CHECK_EQ_STR(a->package, "refl.a");
        CHECK_EQ_STR(a->syntax, "proto3");
        CHECK_EQ_INT(a->n_dependency, 1);
        if (a->n_dependency) CHECK_EQ_STR(a->dependency[0], "refl.b.dubbo-c-reflection.proto");
        CHECK_EQ_INT(a->n_service, 1); /* svc given twice, described once */
        dubbo__tri__descriptor__file_descriptor_proto__free_unpacked(a, NULL);
    }
    file_pb *b = decode(&list[2]);
    CHECK(b != NULL);
    if (b) {
        CHECK(b->syntax == NULL); /* proto2, as protoc writes it */
        CHECK_EQ_INT(b->n_service, 0);
        dubbo__tri__descriptor__file_descriptor_proto__free_unpacked(b, NULL);
    }
    dubbo__tri_files_free(fs);
}

TEST(helloworld_by_hand)
{
    const dubbo_tri_service_t *svcs[] = {&greeter};
    dubbo__tri_files_t *fs = dubbo__tri_files_new(svcs, 1);
    CHECK(fs != NULL);
    if (!fs) return;
    file_pb *f = decode(file_of(fs, "helloworld"));
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ_STR(f->name, "helloworld.dubbo-c-reflection.proto");
        CHECK_EQ_INT(f->n_message_type, 2);
        CHECK_EQ_INT(f->n_service, 1);
        CHECK_EQ_STR(f->service[0]->name, "Greeter");
        CHECK_EQ_INT(f->service[0]->n_method, 2);
        for (size_t i = 0; i < f->service[0]->n_method; i++) {
            const Dubbo__Tri__Descriptor__MethodDescriptorProto *m = f->service[0]->method[i];
            bool stream = strcmp(m->name, "SayHelloStream") == 0;
            CHECK_EQ_STR(m->input_type, ".helloworld.HelloRequest");
            CHECK_EQ_STR(m->output_type, ".helloworld.HelloReply");
            CHECK(!m->client_streaming);
            CHECK_EQ_INT(m->server_streaming, stream);
        }
        for (size_t i = 0; i < f->n_message_type; i++) {
            const msg_pb *m = f->message_type[i];
            CHECK_EQ_INT(m->n_field, 1);
            const field_pb *x = m->field[0];
            CHECK_EQ_STR(x->name, strcmp(m->name, "HelloRequest") == 0 ? "name" : "message");
            CHECK_EQ_INT(x->number, 1);
            CHECK_EQ_INT(x->label, 1);
            CHECK_EQ_INT(x->type, 9);
            CHECK_EQ_STR(x->json_name, x->name);
        }
        dubbo__tri__descriptor__file_descriptor_proto__free_unpacked(f, NULL);
    }
    dubbo__tri_files_free(fs);
}

/* ---- against protoc ---- */

#ifdef REFL_DESCRIPTOR_SET
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, fp)) > 0)
        if ((n += r) == cap) buf = realloc(buf, cap *= 2);
    fclose(fp);
    *len = n;
    return buf;
}

static const msg_pb *find_nested(const msg_pb *const *list, size_t n, const char *name)
{
    const char *dot = strchr(name, '.');
    size_t len = dot ? (size_t)(dot - name) : strlen(name);
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]->name) == len && strncmp(list[i]->name, name, len) == 0)
            return dot ? find_nested((const msg_pb *const *)list[i]->nested_type,
                                     list[i]->n_nested_type, dot + 1)
                       : list[i];
    return NULL;
}

static bool effective_packed(const field_pb *x, bool proto3)
{
    if (x->options && x->options->has_packed) return x->options->packed;
    return proto3 && x->label == 3 && x->type != 9 && x->type != 12 && x->type != 11;
}

static void same_enum(const char *where, const enum_pb *want, const enum_pb *got)
{
    test__current = where;
    CHECK_EQ_STR(got->name, want->name);
    CHECK_EQ_INT(got->n_value, want->n_value);
    for (size_t i = 0; i < want->n_value; i++) {
        bool found = false;
        for (size_t k = 0; k < got->n_value; k++)
            found |= strcmp(got->value[k]->name, want->value[i]->name) == 0 &&
                     got->value[k]->number == want->value[i]->number;
        CHECK(found);
    }
}

/* got (ours) describes what want (protoc's) does, nested types included. */
static void same_message(const char *scope, const msg_pb *want, const msg_pb *got, bool w3, bool g3)
{
    char where[256];
    snprintf(where, sizeof(where), "against_protoc %s.%s", scope, want->name);
    test__current = where;
    CHECK_EQ_INT(got->n_field, want->n_field);
    CHECK_EQ_INT(got->n_oneof_decl, want->n_oneof_decl);
    bool wmap = want->options && want->options->map_entry;
    bool gmap = got->options && got->options->map_entry;
    CHECK_EQ_INT(gmap, wmap);
    for (size_t i = 0; i < want->n_field; i++) {
        const field_pb *w = want->field[i], *g = NULL;
        for (size_t k = 0; k < got->n_field; k++)
            if (strcmp(got->field[k]->name, w->name) == 0) g = got->field[k];
        CHECK(g != NULL);
        if (!g) {
            fprintf(stderr, "  field %s missing\n", w->name);
            continue;
        }
        CHECK_EQ_INT(g->number, w->number);
        CHECK_EQ_INT(g->label, w->label);
        CHECK_EQ_INT(g->type, w->type);
        if (w->type_name || g->type_name) CHECK_EQ_STR(g->type_name, w->type_name);
        CHECK_EQ_STR(g->json_name, w->json_name);
        if (w->default_value || g->default_value) CHECK_EQ_STR(g->default_value, w->default_value);
        CHECK_EQ_INT(effective_packed(g, g3), effective_packed(w, w3));
        bool wdep = w->options && w->options->deprecated;
        bool gdep = g->options && g->options->deprecated;
        CHECK_EQ_INT(gdep, wdep);
        CHECK_EQ_INT(g->has_oneof_index, w->has_oneof_index);
        CHECK_EQ_INT(g->proto3_optional, w->proto3_optional);
        /* the same fields share a oneof */
        for (size_t j = 0; j < want->n_field && w->has_oneof_index; j++) {
            const field_pb *w2 = want->field[j], *g2 = NULL;
            for (size_t k = 0; k < got->n_field; k++)
                if (strcmp(got->field[k]->name, w2->name) == 0) g2 = got->field[k];
            if (g2 && w2->has_oneof_index)
                CHECK_EQ_INT(g->oneof_index == g2->oneof_index, w->oneof_index == w2->oneof_index);
        }
    }
    CHECK_EQ_INT(got->n_enum_type, want->n_enum_type);
    for (size_t i = 0; i < want->n_enum_type; i++)
        for (size_t k = 0; k < got->n_enum_type; k++)
            if (strcmp(got->enum_type[k]->name, want->enum_type[i]->name) == 0)
                same_enum(where, want->enum_type[i], got->enum_type[k]);
    CHECK_EQ_INT(got->n_nested_type, want->n_nested_type);
    char inner[256];
    snprintf(inner, sizeof(inner), "%s.%s", scope, want->name);
    for (size_t i = 0; i < want->n_nested_type; i++) {
        const msg_pb *g = find_nested((const msg_pb *const *)got->nested_type, got->n_nested_type,
                                      want->nested_type[i]->name);
        test__current = where;
        CHECK(g != NULL);
        if (g) same_message(inner, want->nested_type[i], g, w3, g3);
    }
}

static void same_file(const file_pb *want, const file_pb *got)
{
    bool w3 = want->syntax && strcmp(want->syntax, "proto3") == 0;
    bool g3 = got->syntax && strcmp(got->syntax, "proto3") == 0;
    CHECK_EQ_INT(g3, w3);
    CHECK_EQ_STR(got->package, want->package);
    CHECK_EQ_INT(got->n_dependency, want->n_dependency);
    CHECK_EQ_INT(got->n_message_type, want->n_message_type);
    for (size_t i = 0; i < want->n_message_type; i++) {
        const msg_pb *g = find_nested((const msg_pb *const *)got->message_type, got->n_message_type,
                                      want->message_type[i]->name);
        CHECK(g != NULL);
        if (g) same_message(want->package, want->message_type[i], g, w3, g3);
        test__current = "against_protoc";
    }
    CHECK_EQ_INT(got->n_enum_type, want->n_enum_type);
    for (size_t i = 0; i < want->n_enum_type; i++)
        for (size_t k = 0; k < got->n_enum_type; k++)
            if (strcmp(got->enum_type[k]->name, want->enum_type[i]->name) == 0)
                same_enum("against_protoc", want->enum_type[i], got->enum_type[k]);
    test__current = "against_protoc";
    CHECK_EQ_INT(got->n_service, want->n_service);
    for (size_t i = 0; i < want->n_service && i < got->n_service; i++) {
        const Dubbo__Tri__Descriptor__ServiceDescriptorProto *w = want->service[i],
                                                             *g = got->service[i];
        CHECK_EQ_STR(g->name, w->name);
        CHECK_EQ_INT(g->n_method, w->n_method);
        for (size_t m = 0; m < w->n_method; m++)
            for (size_t k = 0; k < g->n_method; k++) {
                if (strcmp(g->method[k]->name, w->method[m]->name) != 0) continue;
                CHECK_EQ_STR(g->method[k]->input_type, w->method[m]->input_type);
                CHECK_EQ_STR(g->method[k]->output_type, w->method[m]->output_type);
                CHECK_EQ_INT(g->method[k]->client_streaming, w->method[m]->client_streaming);
                CHECK_EQ_INT(g->method[k]->server_streaming, w->method[m]->server_streaming);
            }
    }
}
#endif

TEST(against_protoc)
{
#ifndef REFL_DESCRIPTOR_SET
    fprintf(stderr, "against_protoc: no protoc at build time, skipped\n");
#else
    size_t len = 0;
    uint8_t *bytes = slurp(REFL_DESCRIPTOR_SET, &len);
    CHECK(bytes != NULL);
    if (!bytes) return;
    Dubbo__Tri__Descriptor__FileDescriptorSet *set =
        dubbo__tri__descriptor__file_descriptor_set__unpack(NULL, len, bytes);
    free(bytes);
    CHECK(set != NULL);
    if (!set) return;
    CHECK_EQ_INT(set->n_file, 3); /* refl_b.proto, refl_a.proto, helloworld.proto */
    dubbo__tri_files_t *fs = describe_all();
    CHECK(fs != NULL);
    for (size_t i = 0; fs && i < set->n_file; i++) {
        const file_pb *want = set->file[i];
        const dubbo__tri_file_t *ours = file_of(fs, want->package);
        CHECK(ours != NULL);
        file_pb *got = ours ? decode(ours) : NULL;
        CHECK(got != NULL);
        if (got) same_file(want, got);
        test__current = "against_protoc";
        if (got) dubbo__tri__descriptor__file_descriptor_proto__free_unpacked(got, NULL);
    }
    dubbo__tri_files_free(fs);
    dubbo__tri__descriptor__file_descriptor_set__free_unpacked(set, NULL);
#endif
}

/* ---- on a server (not started: export and the service table only) ---- */

TEST(serve_on_a_server)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.protocols = "tri";
    dubbo_server_t *s = dubbo_server_new(&o);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(dubbo_tri_health_set(s, "", DUBBO_TRI_HEALTH_NOT_SERVING), DUBBO_ENOT_FOUND);
    CHECK_EQ_INT(dubbo_tri_health_shutdown(s), DUBBO_ENOT_FOUND);
    CHECK_EQ_INT(dubbo_tri_export(s, &greeter), 0);
    CHECK_EQ_INT(dubbo_tri_serve_reflection(s), 0);
    CHECK_EQ_INT(dubbo_tri_serve_reflection(s), DUBBO_EEXISTS);
    CHECK_EQ_INT(dubbo_tri_serve_health(s), 0);
    CHECK_EQ_INT(dubbo_tri_serve_health(s), DUBBO_EEXISTS);
    CHECK_EQ_INT(dubbo_tri_export(s, &svc), 0); /* after reflection: listed too */
    size_t n;
    const dubbo_tri_service_t **list = dubbo__tri_idl_exported(s, &n);
    CHECK_EQ_INT(n, 5);
    const char *want[] = {"helloworld.Greeter", "grpc.reflection.v1.ServerReflection",
                          "grpc.reflection.v1alpha.ServerReflection", "grpc.health.v1.Health",
                          "refl.a.Svc"};
    for (size_t i = 0; list && i < n && i < N(want); i++)
        CHECK_EQ_STR(list[i]->desc->name, want[i]);
    /* the reflection and health services describe themselves */
    dubbo__tri_files_t *fs = list ? dubbo__tri_files_new(list, n) : NULL;
    CHECK(fs != NULL);
    if (fs) {
        CHECK(dubbo__tri_files_by_symbol(fs, "grpc.reflection.v1alpha.ServerReflection") != NULL);
        CHECK(dubbo__tri_files_by_symbol(fs, "grpc.health.v1.HealthCheckResponse.ServingStatus") !=
              NULL);
        file_pb *h = decode(dubbo__tri_files_by_symbol(fs, "grpc.health.v1.Health"));
        CHECK(h != NULL);
        if (h && h->n_service == 1) {
            const Dubbo__Tri__Descriptor__ServiceDescriptorProto *sp = h->service[0];
            CHECK_EQ_INT(sp->n_method, 2);
            for (size_t i = 0; i < sp->n_method; i++)
                CHECK_EQ_INT(sp->method[i]->server_streaming,
                             strcmp(sp->method[i]->name, "Watch") == 0);
        }
        if (h) dubbo__tri__descriptor__file_descriptor_proto__free_unpacked(h, NULL);
        dubbo__tri_files_free(fs);
    }
    free(list);
    CHECK_EQ_INT(dubbo_tri_health_set(s, "x", DUBBO_TRI_HEALTH_SERVING), 0);
    CHECK_EQ_INT(dubbo_tri_health_set(s, "x", DUBBO_TRI_HEALTH_UNKNOWN), 0);
    CHECK_EQ_INT(dubbo_tri_health_set(s, "x", (dubbo_tri_health_status_t)4), DUBBO_EINVAL);
    CHECK_EQ_INT(dubbo_tri_health_set(s, NULL, DUBBO_TRI_HEALTH_SERVING), DUBBO_EINVAL);
    CHECK_EQ_INT(dubbo_tri_health_shutdown(s), 0);
    dubbo_server_free(s);
}

int main(int argc, char **argv)
{
    static const test_case_t tests[] = {
        TEST_ENTRY(files_per_package),
        TEST_ENTRY(helloworld_by_hand),
        TEST_ENTRY(against_protoc),
        TEST_ENTRY(serve_on_a_server),
    };
    return test_main(tests, N(tests), argc, argv);
}
