/* The generic filter (Java's GenericFilter): a consumer without the
 * service's classes calls $invoke(String method, String[] parameterTypes,
 * Object[] args) (or $invokeAsync); this filter turns the call into the
 * real one, so the rest of the chain and the handler see the real method,
 * descriptor and arguments, and turns the answer back into generic form:
 * objects become maps with a "class" entry (PojoUtils.generalize), and an
 * exception becomes a GenericException naming the original class.
 * Provider side, always on. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dubbo/rpc.h"
#include "dubbo/value.h"
#include "core/jvm.h"
#include "core/log.h"
#include "filter/filter.h"
#include "runtime/call.h"

#define GENERIC_EXCEPTION "org.apache.dubbo.rpc.service.GenericException"
#define MAX_DEPTH         64

/* ---- arguments: maps back to objects (PojoUtils.realize) ---------------------------- */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t l = strlen(s), n = strlen(suffix);
    return l >= n && strcmp(s + l - n, suffix) == 0;
}

static bool is_any(const char *t, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(t, *names) == 0) return true;
    return false;
}

static const char *const int_types[] = {"int",  "java.lang.Integer", "short", "java.lang.Short",
                                        "byte", "java.lang.Byte",    NULL};
static const char *const long_types[] = {"long", "java.lang.Long", NULL};
static const char *const double_types[] = {"double", "java.lang.Double", "float", "java.lang.Float",
                                           NULL};

/* A map type: the value stays a map even when it has a "class" entry. */
static bool is_map_type(const char *t)
{
    return t && (starts_with(t, "java.util.") || starts_with(t, "java.util.concurrent.")) &&
           ends_with(t, "Map");
}

/* A class whose objects a generic consumer sends as a map without "class":
 * anything but JDK types, primitives and arrays. */
static bool is_pojo_type(const char *t)
{
    return t && *t && !strchr(t, '[') && strchr(t, '.') && !starts_with(t, "java.") &&
           !starts_with(t, "javax.");
}

static dubbo_value_t *realize(dubbo_arena_t *a, dubbo_value_t *v, const char *declared, int depth);

/* An object of class `cls` from a map's string-keyed entries but "class". */
static dubbo_value_t *map_to_object(dubbo_arena_t *a, dubbo_value_t *m, const char *cls, int depth)
{
    size_t n = 0;
    for (size_t i = 0; i < m->u.map.len; i++) {
        const dubbo_value_t *k = m->u.map.items[i].key;
        if (k && k->type == DUBBO_T_STRING && strcmp(k->u.s.ptr, "class") != 0) n++;
    }
    const char **names = dubbo_arena_alloc(a, (n ? n : 1) * sizeof(*names));
    if (!names) return m;
    size_t j = 0;
    for (size_t i = 0; i < m->u.map.len; i++) {
        const dubbo_value_t *k = m->u.map.items[i].key;
        if (k && k->type == DUBBO_T_STRING && strcmp(k->u.s.ptr, "class") != 0)
            names[j++] = k->u.s.ptr;
    }
    dubbo_class_t *c = dubbo_class_new(a, cls, n, names);
    dubbo_value_t *o = c ? dubbo_v_object(a, c) : NULL;
    if (!o) return m;
    j = 0;
    for (size_t i = 0; i < m->u.map.len; i++) {
        const dubbo_value_t *k = m->u.map.items[i].key;
        if (k && k->type == DUBBO_T_STRING && strcmp(k->u.s.ptr, "class") != 0)
            o->u.obj.fields[j++] = realize(a, m->u.map.items[i].value, NULL, depth + 1);
    }
    return o;
}

/* Java's PojoUtils.realize, as far as C values allow: maps with a "class"
 * entry (or sent for a declared class) become objects, numbers take the
 * declared width; lists and maps are walked. `declared` is the Java type
 * name from the call's parameterTypes, or NULL below the top level. */
static dubbo_value_t *realize(dubbo_arena_t *a, dubbo_value_t *v, const char *declared, int depth)
{
    if (!v || depth > MAX_DEPTH) return v;
    switch (v->type) {
    case DUBBO_T_INT:
        if (declared && is_any(declared, long_types)) return dubbo_v_long(a, v->u.i);
        if (declared && is_any(declared, double_types)) return dubbo_v_double(a, v->u.i);
        return v;
    case DUBBO_T_LONG:
        if (declared && is_any(declared, int_types) && v->u.l >= INT32_MIN && v->u.l <= INT32_MAX)
            return dubbo_v_int(a, (int32_t)v->u.l);
        if (declared && is_any(declared, double_types)) return dubbo_v_double(a, (double)v->u.l);
        return v;
    case DUBBO_T_LIST:
        for (size_t i = 0; i < v->u.list.len; i++)
            v->u.list.items[i] = realize(a, v->u.list.items[i], NULL, depth + 1);
        return v;
    case DUBBO_T_MAP: {
        const dubbo_value_t *c = dubbo_map_get(v, "class");
        const char *cls = c && c->type == DUBBO_T_STRING && *c->u.s.ptr ? c->u.s.ptr : NULL;
        if (!is_map_type(declared)) {
            if (cls && !is_map_type(cls)) return map_to_object(a, v, cls, depth);
            if (!cls && is_pojo_type(declared)) return map_to_object(a, v, declared, depth);
        }
        for (size_t i = 0; i < v->u.map.len; i++)
            v->u.map.items[i].value = realize(a, v->u.map.items[i].value, NULL, depth + 1);
        return v;
    }
    default: return v;
    }
}

/* ---- results: objects to maps (PojoUtils.generalize) ---------------------------------- */

static dubbo_value_t *generalize(dubbo_arena_t *a, dubbo_value_t *v, int depth)
{
    if (!v || depth > MAX_DEPTH) return v;
    switch (v->type) {
    case DUBBO_T_OBJECT: {
        dubbo_value_t *m = dubbo_v_map(a, NULL, v->u.obj.cls->nfields + 1);
        if (!m) return v;
        dubbo_map_put(a, m, dubbo_v_cstr(a, "class"), dubbo_v_cstr(a, v->u.obj.cls->name));
        for (size_t i = 0; i < v->u.obj.cls->nfields; i++)
            dubbo_map_put(a, m, dubbo_v_cstr(a, v->u.obj.cls->fields[i]),
                          generalize(a, v->u.obj.fields[i], depth + 1));
        return m;
    }
    case DUBBO_T_LIST:
        for (size_t i = 0; i < v->u.list.len; i++)
            v->u.list.items[i] = generalize(a, v->u.list.items[i], depth + 1);
        return v;
    case DUBBO_T_MAP:
        for (size_t i = 0; i < v->u.map.len; i++)
            v->u.map.items[i].value = generalize(a, v->u.map.items[i].value, depth + 1);
        return v;
    default: return v;
    }
}

/* Java's GenericException(Throwable): the original's class and message,
 * and "class: message" as its own message. */
static void wrap_exception(dubbo_call_t *call)
{
    dubbo_value_t *e = call->value;
    if (!e || e->type != DUBBO_T_OBJECT) return;
    const char *cls = e->u.obj.cls->name;
    if (ends_with(cls, ".GenericException")) return;
    const char *msg = dubbo_exception_message(e);
    dubbo_arena_t *a = call->arena;
    static const char *const fields[] = {"detailMessage",  "cause",
                                         "stackTrace",     "suppressedExceptions",
                                         "exceptionClass", "exceptionMessage"};
    dubbo_class_t *c = dubbo_class_new(a, GENERIC_EXCEPTION, 6, fields);
    dubbo_value_t *g = c ? dubbo_v_object(a, c) : NULL;
    if (!g) return;
    size_t dl = strlen(cls) + (msg ? strlen(msg) + 2 : 0) + 1;
    char *detail = dubbo_arena_alloc(a, dl);
    if (!detail) return;
    snprintf(detail, dl, "%s%s%s", cls, msg ? ": " : "", msg ? msg : "");
    g->u.obj.fields[0] = dubbo_v_cstr(a, detail);
    g->u.obj.fields[1] = dubbo_v_null();
    g->u.obj.fields[2] = dubbo_v_list(a, "[java.lang.StackTraceElement", 0);
    g->u.obj.fields[3] = dubbo_v_list(a, NULL, 0);
    g->u.obj.fields[4] = dubbo_v_cstr(a, cls);
    g->u.obj.fields[5] = msg ? dubbo_v_cstr(a, msg) : dubbo_v_null();
    for (int i = 0; i < 6; i++)
        if (!g->u.obj.fields[i]) return;
    call->value = g;
}

/* ---- the filter ------------------------------------------------------------------------- */

static dubbo_filter_t generic_instance = {&dubbo__filter_generic};

static dubbo_filter_t *generic_create(const dubbo_url_t *url, int side, int *rc)
{
    (void)url;
    *rc = 0;
    return side == DUBBO_FILTER_PROVIDER ? &generic_instance : NULL;
}

static const char *type_name(const dubbo_value_t *v)
{
    return v ? dubbo_vtype_name(v->type) : "null";
}

/* The real call's descriptor: from parameterTypes, else from the arguments. */
static const char *real_desc(dubbo_call_t *call, const dubbo_value_t *types, dubbo_value_t **args,
                             size_t nargs, bool *ok)
{
    dubbo_buf_t d;
    dubbo_buf_init(&d, 0);
    int rc = 0;
    *ok = true;
    if (types && types->type == DUBBO_T_LIST && types->u.list.len) {
        for (size_t i = 0; i < types->u.list.len && !rc; i++) {
            const dubbo_value_t *t = types->u.list.items[i];
            if (!t || t->type != DUBBO_T_STRING) {
                *ok = false;
                break;
            }
            rc = dubbo__jvm_name_to_desc(t->u.s.ptr, &d);
            if (rc == DUBBO_EINVAL) *ok = false;
        }
    } else {
        for (size_t i = 0; i < nargs && !rc; i++)
            rc = dubbo_desc_append(&d, args[i] ? args[i] : dubbo_v_null());
    }
    const char *out = rc || !*ok ? NULL
                      : d.len    ? dubbo_arena_strndup(call->arena, (const char *)d.base, d.len)
                                 : "";
    if (rc) *ok = false;
    dubbo_buf_destroy(&d);
    return out;
}

static void generic_serve(dubbo_filter_t *self, dubbo_call_t *call)
{
    (void)self;
    const char *m = dubbo_call_method(call);
    /* A service that implements $invoke itself (a GenericService) gets it. */
    if (m[0] != '$' || dubbo_call_nargs(call) != 3 || call->method_def ||
        (strcmp(m, "$invoke") != 0 && strcmp(m, "$invokeAsync") != 0)) {
        dubbo_call_next(call);
        return;
    }
    const char *iface = call->svc->interface;
    dubbo_value_t *name = dubbo_call_arg(call, 0), *types = dubbo_call_arg(call, 1),
                  *gargs = dubbo_call_arg(call, 2);
    if (!name || name->type != DUBBO_T_STRING ||
        (types && types->type != DUBBO_T_LIST && types->type != DUBBO_T_NULL) ||
        (gargs && gargs->type != DUBBO_T_LIST && gargs->type != DUBBO_T_NULL)) {
        dubbo__filter_rpc_fail(call,
                               "%s of service %s expects (String method, String[] "
                               "parameterTypes, Object[] args), got (%s, %s, %s)",
                               m, iface, type_name(name), type_name(types), type_name(gargs));
        return;
    }
    const char *generic = dubbo_call_attachment(call, "generic");
    bool raw = generic && strcmp(generic, "raw.return") == 0;
    if (generic && *generic && strcasecmp(generic, "true") != 0 && !raw) {
        dubbo__filter_rpc_fail(call,
                               "Generic serialization [%s] is not supported by this provider "
                               "(service %s, method %s); supported: true, raw.return",
                               generic, iface, name->u.s.ptr);
        return;
    }
    size_t nargs = gargs && gargs->type == DUBBO_T_LIST ? gargs->u.list.len : 0;
    dubbo_value_t **args = nargs ? gargs->u.list.items : NULL;
    size_t ntypes = types && types->type == DUBBO_T_LIST ? types->u.list.len : 0;
    if (ntypes && nargs != ntypes) {
        dubbo__filter_rpc_fail(call,
                               "%s of %s.%s: %zu parameter types but %zu arguments "
                               "(args.length != types.length)",
                               m, iface, name->u.s.ptr, ntypes, nargs);
        return;
    }
    bool ok;
    const char *desc = real_desc(call, types, args, nargs, &ok);
    if (!ok) {
        dubbo__filter_rpc_fail(call,
                               "%s of %s.%s: parameterTypes must be non-empty Java type names", m,
                               iface, name->u.s.ptr);
        return;
    }
    for (size_t i = 0; i < nargs; i++) {
        const dubbo_value_t *t = ntypes ? types->u.list.items[i] : NULL;
        args[i] = realize(call->arena, args[i], t ? t->u.s.ptr : NULL, 0);
    }
    /* From here on the call is the real one (Java passes a new
     * RpcInvocation down the chain). */
    dubbo__call_set_invocation(call, name->u.s.ptr, desc, args, nargs);
    dubbo_call_next(call);
    if (call->status != DUBBO_STATUS_OK) return;
    if (call->is_exception)
        wrap_exception(call);
    else if (!raw)
        call->value = generalize(call->arena, call->value, 0);
}

/* Stateless: one static instance serves every service (no destroy). */
const dubbo_filter_ops_t dubbo__filter_generic = {
    .name = "generic",
    .sides = DUBBO_FILTER_PROVIDER,
    .order = DUBBO__ORDER_GENERIC,
    .create = generic_create,
    .serve = generic_serve,
};
