/* Helpers shared by the cluster strategies: outcome classification, error
 * messages, method parameters, and deep copies of invocations for calls
 * that outlive their caller. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/strategy/strategy.h"
#include "core/internal.h"

dubbo__outcome_t dubbo__outcome(int rc, const dubbo_result_t *r)
{
    if (dubbo_result_retryable(rc, r)) return DUBBO__OUT_RETRYABLE;
    return r->exception ? DUBBO__OUT_BIZ : DUBBO__OUT_OK;
}

const char *dubbo__result_message(int rc, const dubbo_result_t *r)
{
    if (r->error && *r->error) return r->error;
    if (rc) return dubbo_strerror(rc);
    if (r->status != DUBBO_STATUS_OK) return dubbo_status_name(r->status);
    return r->exception ? "exception" : "no error";
}

int dubbo__result_set_error(dubbo_result_t *r, int rc, const char *msg)
{
    if (!r->arena) r->arena = dubbo_arena_new(0);
    r->error = r->arena ? dubbo_arena_strndup(r->arena, msg, strlen(msg)) : NULL;
    if (rc < 0) dubbo__seterr(rc, "%s", msg);
    return rc;
}

int dubbo__result_empty(dubbo_result_t *r)
{
    dubbo_result_destroy(r);
    dubbo_result_init(r);
    r->status = DUBBO_STATUS_OK;
    r->value = dubbo_v_null();
    return 0;
}

void dubbo__addresses(char *out, size_t cap, dubbo_invoker_t *const *list, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", list[i]->address);
        if (w < 0 || (size_t)w >= cap - len) {
            if (cap >= 4) memcpy(out + cap - 4, "...", 4);
            return;
        }
        len += (size_t)w;
    }
}

/* ---- deep copies ------------------------------------------------------------------ */

#define COPY_MAX_DEPTH 512

/* Copies already made, by source address: containers (so sharing and
 * cycles survive) and class definitions (shared by their objects). */
typedef struct {
    const void *from;
    void *to;
} memo_slot_t;

typedef struct {
    dubbo_arena_t *a;
    memo_slot_t *slots; /* open addressing, cap a power of two */
    size_t cap, n;
} copier_t;

static size_t slot_of(const void *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 20) & (cap - 1);
}

static void *memo_get(const copier_t *c, const void *from)
{
    if (!c->cap) return NULL;
    for (size_t i = slot_of(from, c->cap);; i = (i + 1) & (c->cap - 1)) {
        if (!c->slots[i].from) return NULL;
        if (c->slots[i].from == from) return c->slots[i].to;
    }
}

static int memo_put(copier_t *c, const void *from, void *to)
{
    if ((c->n + 1) * 2 > c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        memo_slot_t *ns = calloc(ncap, sizeof(*ns));
        if (!ns) return dubbo__seterr(DUBBO_ENOMEM, "invocation copy: out of memory");
        for (size_t i = 0; i < c->cap; i++) {
            if (!c->slots[i].from) continue;
            size_t j = slot_of(c->slots[i].from, ncap);
            while (ns[j].from)
                j = (j + 1) & (ncap - 1);
            ns[j] = c->slots[i];
        }
        free(c->slots);
        c->slots = ns;
        c->cap = ncap;
    }
    size_t i = slot_of(from, c->cap);
    while (c->slots[i].from)
        i = (i + 1) & (c->cap - 1);
    c->slots[i].from = from;
    c->slots[i].to = to;
    c->n++;
    return 0;
}

static char *copy_str(dubbo_arena_t *a, const char *s)
{
    return s ? dubbo_arena_strndup(a, s, strlen(s)) : NULL;
}

static dubbo_value_t *copy_value(copier_t *c, const dubbo_value_t *v, int depth);

static const dubbo_class_t *copy_class(copier_t *c, const dubbo_class_t *cls)
{
    dubbo_class_t *done = memo_get(c, cls);
    if (done) return done;
    done = dubbo_class_new(c->a, cls->name ? cls->name : "", cls->nfields, cls->fields);
    if (!done || memo_put(c, cls, done)) return NULL;
    return done;
}

static dubbo_value_t *copy_container(copier_t *c, const dubbo_value_t *v, int depth)
{
    dubbo_value_t *n = NULL;
    switch (v->type) {
    case DUBBO_T_LIST: n = dubbo_v_list(c->a, v->u.list.type, v->u.list.len); break;
    case DUBBO_T_MAP: n = dubbo_v_map(c->a, v->u.map.type, v->u.map.len); break;
    default: {
        if (!v->u.obj.cls) {
            dubbo__seterr(DUBBO_EINVAL, "invocation copy: an object without a class");
            return NULL;
        }
        const dubbo_class_t *cls = copy_class(c, v->u.obj.cls);
        n = cls ? dubbo_v_object(c->a, cls) : NULL;
        break;
    }
    }
    /* Remember the copy before its contents, so a cycle back to v finds it. */
    if (!n || memo_put(c, v, n)) return NULL;
    n->flags = v->flags;
    if (v->type == DUBBO_T_LIST) {
        for (size_t i = 0; i < v->u.list.len; i++) {
            dubbo_value_t *item = copy_value(c, v->u.list.items[i], depth + 1);
            if (!item || dubbo_list_push(c->a, n, item)) return NULL;
        }
    } else if (v->type == DUBBO_T_MAP) {
        for (size_t i = 0; i < v->u.map.len; i++) {
            dubbo_value_t *k = copy_value(c, v->u.map.items[i].key, depth + 1);
            dubbo_value_t *val = k ? copy_value(c, v->u.map.items[i].value, depth + 1) : NULL;
            if (!val || dubbo_map_put(c->a, n, k, val)) return NULL;
        }
    } else {
        for (size_t i = 0; i < v->u.obj.cls->nfields; i++) {
            if (!v->u.obj.fields[i]) continue; /* NULL fields stay null */
            if (!(n->u.obj.fields[i] = copy_value(c, v->u.obj.fields[i], depth + 1))) return NULL;
        }
    }
    return n;
}

static dubbo_value_t *copy_value(copier_t *c, const dubbo_value_t *v, int depth)
{
    if (!v || v->type == DUBBO_T_NULL) return dubbo_v_null();
    if (depth > COPY_MAX_DEPTH) {
        dubbo__seterr(DUBBO_ETOO_DEEP, "invocation copy: values nested deeper than %d",
                      COPY_MAX_DEPTH);
        return NULL;
    }
    dubbo_value_t *n = NULL;
    switch (v->type) {
    case DUBBO_T_BOOL: n = dubbo_v_bool(c->a, v->u.b); break;
    case DUBBO_T_INT: n = dubbo_v_int(c->a, v->u.i); break;
    case DUBBO_T_LONG: n = dubbo_v_long(c->a, v->u.l); break;
    case DUBBO_T_DOUBLE: n = dubbo_v_double(c->a, v->u.d); break;
    case DUBBO_T_DATE: n = dubbo_v_date(c->a, v->u.l); break;
    case DUBBO_T_STRING: n = dubbo_v_string(c->a, v->u.s.ptr, v->u.s.len); break;
    case DUBBO_T_BINARY: n = dubbo_v_binary(c->a, v->u.s.ptr, v->u.s.len); break;
    case DUBBO_T_LIST:
    case DUBBO_T_MAP:
    case DUBBO_T_OBJECT: n = memo_get(c, v); return n ? n : copy_container(c, v, depth);
    default:
        dubbo__seterr(DUBBO_EINVAL, "invocation copy: a value of unknown type %d", (int)v->type);
        return NULL;
    }
    if (n) n->flags = v->flags;
    return n;
}

dubbo_value_t *dubbo__value_copy(dubbo_arena_t *a, const dubbo_value_t *v)
{
    copier_t c = {a, NULL, 0, 0};
    dubbo_value_t *n = copy_value(&c, v, 0);
    free(c.slots);
    return n;
}

dubbo__inv_copy_t *dubbo__inv_copy_new(const dubbo_invocation_t *inv)
{
    dubbo__inv_copy_t *cp = calloc(1, sizeof(*cp));
    dubbo_arena_t *a = dubbo_arena_new(0);
    if (!cp || !a) {
        free(cp);
        dubbo_arena_free(a);
        dubbo__seterr(DUBBO_ENOMEM, "invocation copy: out of memory");
        return NULL;
    }
    cp->arena = a;
    cp->inv.timeout_ms = inv->timeout_ms;
    cp->inv.nargs = inv->nargs;
    bool ok = (cp->inv.method = copy_str(a, inv->method)) != NULL || !inv->method;
    if (ok && inv->desc) ok = (cp->inv.desc = copy_str(a, inv->desc)) != NULL;
    if (ok && inv->nargs) {
        /* One copier for every argument: arguments may share values, as
         * one hessian stream shares references across them. */
        copier_t c = {a, NULL, 0, 0};
        dubbo_value_t **args = dubbo_arena_alloc(a, inv->nargs * sizeof(*args));
        ok = args != NULL;
        for (size_t i = 0; ok && i < inv->nargs; i++)
            ok = (args[i] = copy_value(&c, inv->args[i], 0)) != NULL;
        free(c.slots);
        cp->inv.args = args;
    }
    if (ok && inv->attachments) {
        size_t n = 0;
        while (inv->attachments[n] && inv->attachments[n + 1])
            n += 2;
        const char **kv = dubbo_arena_alloc(a, (n + 1) * sizeof(*kv));
        ok = kv != NULL;
        for (size_t i = 0; ok && i < n; i++)
            ok = (kv[i] = copy_str(a, inv->attachments[i])) != NULL;
        if (ok) kv[n] = NULL;
        cp->inv.attachments = kv;
    }
    if (!ok) {
        int code = dubbo__last_code() ? dubbo__last_code() : DUBBO_ENOMEM;
        char detail[300];
        snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
        dubbo__inv_copy_free(cp);
        dubbo__seterr(code, "invocation copy of %s: %s", inv->method ? inv->method : "?", detail);
        return NULL;
    }
    return cp;
}

void dubbo__inv_copy_free(dubbo__inv_copy_t *c)
{
    if (!c) return;
    dubbo_arena_free(c->arena);
    free(c);
}

int dubbo__list_or_fail(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                        dubbo_invoker_t ***cands, dubbo_result_t *r)
{
    *cands = NULL;
    int n = dubbo_cluster_list(cl, inv, cands);
    if (n < 0) return dubbo_result_fail(r, n, "%s", dubbo_last_error());
    if (n == 0) {
        dubbo_invokers_release(*cands, 0);
        *cands = NULL;
        return dubbo_result_fail(r, DUBBO_ENOT_FOUND,
                                 "No provider available for the service %s (method %s): the "
                                 "directory is empty or the routers left no provider",
                                 dubbo_cluster_url(cl)->path, inv->method);
    }
    return n;
}

/* ---- asynchronous completions ---------------------------------------------------- */

int dubbo__complete_fail(dubbo_done_fn done, void *user, int rc, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    dubbo_result_t r;
    dubbo_result_init(&r);
    rc = dubbo_result_fail(&r, rc, "%s", msg);
    done(rc, &r, user);
    return 0;
}

typedef struct {
    dubbo_cluster_t *cl;
    const dubbo_invocation_t *inv; /* valid until done (the strategy's contract) */
    dubbo_invoker_t *chosen;       /* referenced */
    dubbo__after_fn after;
    dubbo_done_fn done;
    void *user;
} attempt_t;

static void attempt_done(int rc, dubbo_result_t *r, void *arg)
{
    attempt_t *a = arg;
    if (a->after) rc = a->after(a->cl, a->inv, a->chosen, rc, r);
    dubbo_done_fn done = a->done;
    void *user = a->user;
    dubbo_invoker_unref(a->chosen);
    free(a);
    done(rc, r, user);
}

int dubbo__attempt_async(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                         dubbo_invoker_t *chosen, dubbo__after_fn after, dubbo_done_fn done,
                         void *user)
{
    attempt_t *a = malloc(sizeof(*a));
    if (!a)
        return dubbo__complete_fail(done, user, DUBBO_ENOMEM,
                                    "cluster: out of memory calling %s on %s", inv->method,
                                    chosen->address);
    *a = (attempt_t){cl, inv, dubbo_invoker_ref(chosen), after, done, user};
    return dubbo_cluster_invoke_one_async(cl, chosen, inv, attempt_done, a);
}
