/* Protobuf IDL services over Triple (include/dubbo/triple.h): a service
 * descriptor from protoc-c becomes an exported service whose every method
 * is dubbo__tri_idl_handler, which unpacks the request with the method's
 * input descriptor (into the call's arena), runs the typed handler and
 * packs its response. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/triple.h"
#include "core/internal.h"
#include "protocol/tri/grpc.h"
#include "protocol/tri/reflection.h"
#include "protocol/tri/tri.h"
#include "runtime/call.h"

static void *arena_alloc(void *a, size_t n)
{
    return dubbo_arena_alloc(a, n ? n : 1);
}

static void arena_free(void *a, void *p)
{
    (void)a;
    (void)p; /* the arena goes with the call */
}

ProtobufCAllocator dubbo__tri_allocator(dubbo_arena_t *a)
{
    return (ProtobufCAllocator){arena_alloc, arena_free, a};
}

static const dubbo_tri_method_t *find_method(const dubbo_tri_service_t *ts, const char *name)
{
    for (size_t i = 0; i < ts->nmethods; i++)
        if (strcmp(ts->methods[i].name, name) == 0) return &ts->methods[i];
    return NULL;
}

/* application/grpc+json: a schema per IDL service, made on its first JSON
 * call from the descriptors (reflection.c's synthetic files), kept until
 * exit like the export entries below. */
typedef struct json_schema {
    struct json_schema *next;
    const dubbo_tri_service_t *ts;
    dubbo_tri_schema_t *schema;
} json_schema_t;

static pthread_mutex_t schemas_mu = PTHREAD_MUTEX_INITIALIZER;
static json_schema_t *schemas;

static const dubbo_tri_schema_t *schema_of(const dubbo_tri_service_t *ts)
{
    pthread_mutex_lock(&schemas_mu);
    json_schema_t *j = schemas;
    while (j && j->ts != ts)
        j = j->next;
    if (!j) {
        /* the files as a FileDescriptorSet: each its field 1 */
        const dubbo_tri_service_t *one[] = {ts};
        dubbo__tri_files_t *files = dubbo__tri_files_new(one, 1);
        size_t n = 0;
        const dubbo__tri_file_t *list = files ? dubbo__tri_files_list(files, &n) : NULL;
        dubbo_buf_t set;
        dubbo_buf_init(&set, 0);
        for (size_t i = 0; list && i < n; i++) {
            uint8_t hdr[11] = {0x0a};
            size_t h = 1;
            for (uint64_t v = list[i].len; h < sizeof(hdr); v >>= 7) {
                hdr[h++] = (uint8_t)(v & 0x7f) | (v >> 7 ? 0x80 : 0);
                if (!(v >> 7)) break;
            }
            dubbo_buf_append(&set, hdr, h);
            dubbo_buf_append(&set, list[i].bytes, list[i].len);
        }
        dubbo_tri_schema_t *schema = NULL;
        if (list &&
            !dubbo_tri_schema_load(&schema, set.base ? set.base : (const uint8_t *)"", set.len) &&
            (j = calloc(1, sizeof(*j)))) {
            *j = (json_schema_t){schemas, ts, schema};
            schemas = j;
        } else {
            dubbo_tri_schema_free(schema);
        }
        dubbo_buf_destroy(&set);
        dubbo__tri_files_free(files);
    }
    pthread_mutex_unlock(&schemas_mu);
    return j ? j->schema : NULL;
}

void dubbo__tri_idl_handler(dubbo_call_t *call, void *user)
{
    const dubbo_tri_service_t *ts = user;
    const char *name = dubbo_call_method(call);
    const ProtobufCMethodDescriptor *md =
        protobuf_c_service_descriptor_get_method_by_name(ts->desc, name);
    const dubbo_tri_method_t *m = find_method(ts, name);
    const dubbo__tri_call_t *tc = call->proto == &dubbo__protocol_tri ? call->proto_call : NULL;
    const dubbo_tri_schema_t *js = NULL; /* application/grpc+json */
    if (tc && tc->json && md && m) {
        if (m->kind != DUBBO_TRI_UNARY) {
            dubbo_tri_fail(call, DUBBO_GRPC_UNIMPLEMENTED,
                           "application/grpc+json is served for unary methods only");
            return;
        }
        if (!(js = schema_of(ts))) {
            dubbo_tri_fail(call, DUBBO_GRPC_INTERNAL, "no JSON schema for the service");
            return;
        }
    }
    if (m && m->kind != DUBBO_TRI_UNARY && m->stream && md) {
        if (m->kind == DUBBO_TRI_CLIENT_STREAM || m->kind == DUBBO_TRI_BIDI_STREAM) {
            dubbo__tri_run_stream(call, m, md, NULL, ts->user);
            return;
        }
        /* a server stream: its one request first */
    } else if (!md || !m || !m->unary) {
        char msg[300];
        snprintf(msg, sizeof(msg), "Method not found: %s/%s", ts->desc->name, name);
        dubbo_tri_fail(call, DUBBO_GRPC_UNIMPLEMENTED, msg);
        return;
    }
    const dubbo_value_t *arg = dubbo_call_nargs(call) == 1 ? dubbo_call_arg(call, 0) : NULL;
    /* a message as a map (the Dubbo protocol's protobuf-json): converted
     * with the service's schema both ways */
    const dubbo_tri_schema_t *ms = NULL;
    if (!js && arg && arg->type == DUBBO_T_MAP && m->kind == DUBBO_TRI_UNARY &&
        !(ms = schema_of(ts))) {
        dubbo_call_fail(call, DUBBO_STATUS_SERVER_ERROR, "no protobuf schema for the service");
        return;
    }
    if (!arg || (arg->type != DUBBO_T_BINARY && !ms)) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "%s/%s is a protobuf method: it takes one %s message (call it over tri)",
                 ts->desc->name, name, md->input->name);
        dubbo_tri_fail(call, DUBBO_GRPC_INVALID_ARGUMENT, msg);
        return;
    }
    dubbo_arena_t *a = dubbo_call_arena(call);
    ProtobufCAllocator alloc = dubbo__tri_allocator(a);
    dubbo_buf_t pb;
    dubbo_buf_init(&pb, 0);
    const uint8_t *in = ms ? NULL : (const uint8_t *)arg->u.s.ptr;
    size_t in_len = ms ? 0 : arg->u.s.len;
    if (ms) {
        if (dubbo_tri_pb_from_value(ms, md->input->name, arg, &pb)) {
            char msg[600];
            snprintf(msg, sizeof(msg), "%s/%s: %s", ts->desc->name, name, dubbo_last_error());
            dubbo_buf_destroy(&pb);
            dubbo_tri_fail(call, DUBBO_GRPC_INVALID_ARGUMENT, msg);
            return;
        }
        in = pb.base ? pb.base : (const uint8_t *)"";
        in_len = pb.len;
    } else if (js) {
        if (dubbo_tri_json_to_pb(js, md->input->name, (const char *)in, in_len, &pb)) {
            char msg[600];
            snprintf(msg, sizeof(msg), "%s/%s: %s", ts->desc->name, name, dubbo_last_error());
            dubbo_buf_destroy(&pb);
            dubbo_tri_fail(call, DUBBO_GRPC_INVALID_ARGUMENT, msg);
            return;
        }
        in = pb.base ? pb.base : (const uint8_t *)"";
        in_len = pb.len;
    }
    ProtobufCMessage *req = protobuf_c_message_unpack(md->input, &alloc, in_len, in);
    dubbo_buf_destroy(&pb);
    if (!req) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s/%s: the request is not a valid %s message", ts->desc->name,
                 name, md->input->name);
        dubbo_tri_fail(call, DUBBO_GRPC_INTERNAL, msg);
        return;
    }
    if (m->kind == DUBBO_TRI_SERVER_STREAM) {
        dubbo__tri_run_stream(call, m, md, req, ts->user);
        return;
    }
    ProtobufCMessage *resp = dubbo_arena_alloc(a, md->output->sizeof_message);
    if (!resp) {
        dubbo_call_fail(call, DUBBO_STATUS_SERVER_ERROR, "out of memory");
        return;
    }
    protobuf_c_message_init(md->output, resp);
    m->unary(call, req, resp, ts->user);
    if (call->answered) return; /* failed or threw */
    size_t n = protobuf_c_message_get_packed_size(resp);
    uint8_t *bytes = dubbo_arena_alloc(a, n ? n : 1);
    if (!bytes) {
        dubbo_call_fail(call, DUBBO_STATUS_SERVER_ERROR, "out of memory");
        return;
    }
    protobuf_c_message_pack(resp, bytes);
    if (ms) {
        dubbo_value_t *v = NULL;
        if (dubbo_tri_pb_to_value(ms, md->output->name, bytes, n, a, &v))
            dubbo_call_fail(call, DUBBO_STATUS_SERVER_ERROR, dubbo_last_error());
        else
            dubbo_call_return(call, v);
        return;
    }
    char *json = NULL;
    if (js && dubbo_tri_pb_to_json(js, md->output->name, bytes, n, &json)) {
        dubbo_call_fail(call, DUBBO_STATUS_SERVER_ERROR, dubbo_last_error());
        return;
    }
    dubbo_call_return(call,
                      json ? dubbo_v_binary(a, json, strlen(json)) : dubbo_v_binary(a, bytes, n));
    free(json);
}

/* Which IDL services each server exported, oldest first, for reflection.
 * The runtime has no hook when a server is freed, so entries outlive it:
 * readers keep only those still exported on the (live) server they ask
 * about, and remember() drops an entry of the same address that is not (a
 * freed server's). One small entry per export stays until exit. */
typedef struct exported {
    struct exported *next;
    dubbo_server_t *s;
    const dubbo_tri_service_t *svc;
} exported_t;

static pthread_mutex_t exported_mu = PTHREAD_MUTEX_INITIALIZER;
static exported_t *exported;

static void remember(dubbo_server_t *s, const dubbo_tri_service_t *svc)
{
    exported_t *e = malloc(sizeof(*e));
    pthread_mutex_lock(&exported_mu);
    exported_t **tail = &exported;
    while (*tail) {
        exported_t *x = *tail;
        if (x->s == s && (x->svc == svc || !dubbo__tri_idl_exported_on(s, x->svc))) {
            *tail = x->next;
            free(x);
        } else {
            tail = &x->next;
        }
    }
    if (e) {
        *e = (exported_t){NULL, s, svc};
        *tail = e;
    }
    pthread_mutex_unlock(&exported_mu);
}

int dubbo_tri_export(dubbo_server_t *s, const dubbo_tri_service_t *svc)
{
    if (!s || !svc || !svc->desc)
        return dubbo__seterr(DUBBO_EINVAL, "dubbo_tri_export: no server or service descriptor");
    const ProtobufCServiceDescriptor *d = svc->desc;
    for (size_t i = 0; i < svc->nmethods; i++) {
        const dubbo_tri_method_t *m = &svc->methods[i];
        if (!m->name || !protobuf_c_service_descriptor_get_method_by_name(d, m->name))
            return dubbo__seterr(DUBBO_EINVAL, "dubbo_tri_export: %s has no method \"%s\"", d->name,
                                 m->name ? m->name : "(null)");
        if (m->kind == DUBBO_TRI_UNARY ? !m->unary : !m->stream || m->kind > DUBBO_TRI_BIDI_STREAM)
            return dubbo__seterr(DUBBO_EINVAL,
                                 "dubbo_tri_export: %s/%s: a unary method needs `unary`, a "
                                 "streaming one `stream` (kind %d)",
                                 d->name, m->name, (int)m->kind);
    }
    for (size_t i = 0; i < svc->nmethods; i++)
        if (svc->methods[i].kind != DUBBO_TRI_UNARY)
            dubbo__tri_kind_set(d->name, svc->methods[i].name, (int)svc->methods[i].kind);
    /* every method of the descriptor is served; those without a handler
     * answer UNIMPLEMENTED */
    dubbo_method_t *methods = calloc(d->n_methods ? d->n_methods : 1, sizeof(*methods));
    if (!methods) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    for (unsigned i = 0; i < d->n_methods; i++) {
        methods[i].name = d->methods[i].name;
        methods[i].fn = dubbo__tri_idl_handler;
    }
    dubbo_service_t ds = {
        .interface = d->name,
        .version = svc->version,
        .group = svc->group,
        .methods = methods,
        .nmethods = d->n_methods,
        .user = (void *)svc,
        .params = svc->params,
    };
    int rc = dubbo_server_export(s, &ds);
    free(methods);
    if (!rc) remember(s, svc);
    return rc;
}

bool dubbo__tri_idl_exported_on(dubbo_server_t *s, const dubbo_tri_service_t *svc)
{
    dubbo_call_t probe = {.srv = s};
    const service_t *x = dubbo__call_lookup(&probe, svc->desc->name, svc->version, svc->group);
    return x && x->user == svc;
}

const dubbo_tri_service_t **dubbo__tri_idl_exported(dubbo_server_t *s, size_t *n)
{
    *n = 0;
    pthread_mutex_lock(&exported_mu);
    size_t cap = 0;
    for (exported_t *e = exported; e; e = e->next)
        cap += e->s == s;
    const dubbo_tri_service_t **out = malloc((cap ? cap : 1) * sizeof(*out));
    for (exported_t *e = exported; out && e; e = e->next)
        if (e->s == s && dubbo__tri_idl_exported_on(s, e->svc)) out[(*n)++] = e->svc;
    pthread_mutex_unlock(&exported_mu);
    return out;
}

void dubbo_tri_fail(dubbo_call_t *call, int grpc_code, const char *message)
{
    if (grpc_code <= 0 || grpc_code > 16) grpc_code = DUBBO_GRPC_UNKNOWN;
    dubbo_call_fail(call, dubbo__grpc_to_dubbo(grpc_code), message);
    if (call->proto != &dubbo__protocol_tri || !call->proto_call) return;
    dubbo__tri_call_t *t = call->proto_call;
    t->grpc_code = grpc_code;
    t->grpc_msg = call->error; /* dubbo_call_fail's copy, in the arena */
}

int dubbo_tri_set_header(dubbo_call_t *call, const char *key, const char *value)
{
    if (call->proto != &dubbo__protocol_tri || !call->proto_call)
        return dubbo__seterr(DUBBO_EINVAL, "dubbo_tri_set_header: %s.%s did not come over tri",
                             call->service ? call->service : "", call->method ? call->method : "");
    if (!key || !*key || key[0] == ':' || strncmp(key, "grpc-", 5) == 0 ||
        strcmp(key, "content-type") == 0 || !value)
        return dubbo__seterr(DUBBO_EINVAL, "dubbo_tri_set_header: \"%s\" is reserved or empty",
                             key ? key : "(null)");
    dubbo__tri_call_t *t = call->proto_call;
    dubbo_arena_t *a = call->arena;
    if (!t->headers && !(t->headers = dubbo_v_map(a, NULL, 4)))
        return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    dubbo_value_t *k = dubbo_v_cstr(a, key), *v = dubbo_v_cstr(a, value);
    if (!k || !v || dubbo_map_put(a, t->headers, k, v))
        return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    return 0;
}

const void *dubbo_tri_attachment_bin(const dubbo_call_t *call, const char *key, size_t *len)
{
    const dubbo_value_t *v = dubbo__call_attachment_value(call, key);
    if (!v || v->type != DUBBO_T_BINARY) return NULL;
    *len = v->u.s.len;
    return v->u.s.ptr;
}

int dubbo_tri_set_attachment_bin(dubbo_call_t *call, const char *key, const void *data, size_t len)
{
    dubbo_arena_t *a = call->arena;
    if (!call->res_att && !(call->res_att = dubbo_v_map(a, NULL, 4)))
        return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    dubbo_value_t *k = dubbo_v_cstr(a, key), *v = dubbo_v_binary(a, data, len);
    if (!k || !v || dubbo_map_put(a, call->res_att, k, v))
        return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    return 0;
}
