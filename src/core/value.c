/* Constructors, accessors and deep equality for dubbo_value_t. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/value.h"
#include "core/internal.h"

static dubbo_value_t null_value = {.type = DUBBO_T_NULL};

dubbo_value_t *dubbo_v_null(void)
{
    return &null_value;
}

static dubbo_value_t *v_new(dubbo_arena_t *a, dubbo_vtype_t t)
{
    dubbo_value_t *v = dubbo_arena_alloc(a, sizeof(*v));
    if (!v) return NULL;
    memset(v, 0, sizeof(*v));
    v->type = t;
    return v;
}

dubbo_value_t *dubbo_v_bool(dubbo_arena_t *a, bool b)
{
    dubbo_value_t *v = v_new(a, DUBBO_T_BOOL);
    if (v) v->u.b = b;
    return v;
}

dubbo_value_t *dubbo_v_int(dubbo_arena_t *a, int32_t i)
{
    dubbo_value_t *v = v_new(a, DUBBO_T_INT);
    if (v) v->u.i = i;
    return v;
}

dubbo_value_t *dubbo_v_long(dubbo_arena_t *a, int64_t l)
{
    dubbo_value_t *v = v_new(a, DUBBO_T_LONG);
    if (v) v->u.l = l;
    return v;
}

dubbo_value_t *dubbo_v_double(dubbo_arena_t *a, double d)
{
    dubbo_value_t *v = v_new(a, DUBBO_T_DOUBLE);
    if (v) v->u.d = d;
    return v;
}

dubbo_value_t *dubbo_v_date(dubbo_arena_t *a, int64_t ms)
{
    dubbo_value_t *v = v_new(a, DUBBO_T_DATE);
    if (v) v->u.l = ms;
    return v;
}

static dubbo_value_t *v_bytes(dubbo_arena_t *a, dubbo_vtype_t t, const void *s, size_t len)
{
    dubbo_value_t *v = v_new(a, t);
    if (!v) return NULL;
    char *p = dubbo_arena_strndup(a, s, len);
    if (!p) return NULL;
    v->u.s.ptr = p;
    v->u.s.len = len;
    return v;
}

dubbo_value_t *dubbo_v_string(dubbo_arena_t *a, const char *s, size_t len)
{
    return v_bytes(a, DUBBO_T_STRING, s, len);
}

dubbo_value_t *dubbo_v_cstr(dubbo_arena_t *a, const char *s)
{
    return v_bytes(a, DUBBO_T_STRING, s, strlen(s));
}

dubbo_value_t *dubbo_v_binary(dubbo_arena_t *a, const void *data, size_t len)
{
    return v_bytes(a, DUBBO_T_BINARY, data, len);
}

dubbo_value_t *dubbo_v_list(dubbo_arena_t *a, const char *type, size_t cap)
{
    dubbo_value_t *v = v_new(a, DUBBO_T_LIST);
    if (!v) return NULL;
    if (type && !(v->u.list.type = dubbo_arena_strndup(a, type, strlen(type)))) return NULL;
    if (cap) {
        if (cap > SIZE_MAX / sizeof(dubbo_value_t *)) {
            dubbo__seterr(DUBBO_ETOO_BIG, "value: list capacity %zu is too large", cap);
            return NULL;
        }
        v->u.list.items = dubbo_arena_alloc(a, cap * sizeof(dubbo_value_t *));
        if (!v->u.list.items) return NULL;
        v->u.list.cap = cap;
    }
    return v;
}

dubbo_value_t *dubbo_v_map(dubbo_arena_t *a, const char *type, size_t cap)
{
    dubbo_value_t *v = v_new(a, DUBBO_T_MAP);
    if (!v) return NULL;
    if (type && !(v->u.map.type = dubbo_arena_strndup(a, type, strlen(type)))) return NULL;
    if (cap) {
        if (cap > SIZE_MAX / sizeof(dubbo_map_entry_t)) {
            dubbo__seterr(DUBBO_ETOO_BIG, "value: map capacity %zu is too large", cap);
            return NULL;
        }
        v->u.map.items = dubbo_arena_alloc(a, cap * sizeof(dubbo_map_entry_t));
        if (!v->u.map.items) return NULL;
        v->u.map.cap = cap;
    }
    return v;
}

dubbo_class_t *dubbo_class_new(dubbo_arena_t *a, const char *name, size_t nfields,
                               const char *const *fields)
{
    dubbo_class_t *c = dubbo_arena_alloc(a, sizeof(*c));
    if (!c) return NULL;
    c->name = dubbo_arena_strndup(a, name, strlen(name));
    c->nfields = nfields;
    c->fields = dubbo_arena_alloc(a, (nfields ? nfields : 1) * sizeof(char *));
    if (!c->name || !c->fields) return NULL;
    for (size_t i = 0; i < nfields; i++)
        if (!(c->fields[i] = dubbo_arena_strndup(a, fields[i], strlen(fields[i])))) return NULL;
    return c;
}

dubbo_value_t *dubbo_v_object(dubbo_arena_t *a, const dubbo_class_t *cls)
{
    dubbo_value_t *v = v_new(a, DUBBO_T_OBJECT);
    if (!v) return NULL;
    v->u.obj.cls = cls;
    size_t n = cls->nfields ? cls->nfields : 1;
    v->u.obj.fields = dubbo_arena_alloc(a, n * sizeof(dubbo_value_t *));
    if (!v->u.obj.fields) return NULL;
    memset(v->u.obj.fields, 0, n * sizeof(dubbo_value_t *));
    return v;
}

/* Grow an arena array; the old copy is left behind in the arena (cheap, and
 * decoders size lists up front so this is rare). */
static void *grow(dubbo_arena_t *a, void *old, size_t elem, size_t len, size_t *cap)
{
    size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap > SIZE_MAX / elem) {
        dubbo__seterr(DUBBO_ETOO_BIG, "value: container of %zu entries is too large", ncap);
        return NULL;
    }
    void *p = dubbo_arena_alloc(a, ncap * elem);
    if (!p) return NULL;
    if (len) memcpy(p, old, len * elem);
    *cap = ncap;
    return p;
}

int dubbo_list_push(dubbo_arena_t *a, dubbo_value_t *list, dubbo_value_t *item)
{
    if (!list || list->type != DUBBO_T_LIST)
        return dubbo__seterr(DUBBO_ETYPE, "value: push onto a %s, not a list",
                             list ? dubbo_vtype_name(list->type) : "null");
    if (list->u.list.len == list->u.list.cap) {
        void *p = grow(a, list->u.list.items, sizeof(dubbo_value_t *), list->u.list.len,
                       &list->u.list.cap);
        if (!p) return dubbo__last_code();
        list->u.list.items = p;
    }
    list->u.list.items[list->u.list.len++] = item;
    return 0;
}

int dubbo_map_put(dubbo_arena_t *a, dubbo_value_t *map, dubbo_value_t *key, dubbo_value_t *value)
{
    if (!map || map->type != DUBBO_T_MAP)
        return dubbo__seterr(DUBBO_ETYPE, "value: put into a %s, not a map",
                             map ? dubbo_vtype_name(map->type) : "null");
    if (map->u.map.len == map->u.map.cap) {
        void *p =
            grow(a, map->u.map.items, sizeof(dubbo_map_entry_t), map->u.map.len, &map->u.map.cap);
        if (!p) return DUBBO_ENOMEM;
        map->u.map.items = p;
    }
    map->u.map.items[map->u.map.len].key = key;
    map->u.map.items[map->u.map.len].value = value;
    map->u.map.len++;
    return 0;
}

dubbo_value_t *dubbo_map_get(const dubbo_value_t *map, const char *key)
{
    if (!map || map->type != DUBBO_T_MAP) return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < map->u.map.len; i++) {
        const dubbo_value_t *k = map->u.map.items[i].key;
        if (k && k->type == DUBBO_T_STRING && k->u.s.len == kl && memcmp(k->u.s.ptr, key, kl) == 0)
            return map->u.map.items[i].value;
    }
    return NULL;
}

static int field_index(const dubbo_value_t *obj, const char *field)
{
    if (!obj || obj->type != DUBBO_T_OBJECT) return -1;
    for (size_t i = 0; i < obj->u.obj.cls->nfields; i++)
        if (strcmp(obj->u.obj.cls->fields[i], field) == 0) return (int)i;
    return -1;
}

dubbo_value_t *dubbo_object_get(const dubbo_value_t *obj, const char *field)
{
    int i = field_index(obj, field);
    return i < 0 ? NULL : obj->u.obj.fields[i];
}

int dubbo_object_set(dubbo_value_t *obj, const char *field, dubbo_value_t *value)
{
    int i = field_index(obj, field);
    if (i < 0)
        return dubbo__seterr(
            DUBBO_ENOT_FOUND, "value: class %s has no field \"%s\"",
            obj && obj->type == DUBBO_T_OBJECT ? obj->u.obj.cls->name : "(not an object)", field);
    obj->u.obj.fields[i] = value;
    return 0;
}

const char *dubbo_vtype_name(dubbo_vtype_t t)
{
    switch (t) {
    case DUBBO_T_NULL: return "null";
    case DUBBO_T_BOOL: return "boolean";
    case DUBBO_T_INT: return "int";
    case DUBBO_T_LONG: return "long";
    case DUBBO_T_DOUBLE: return "double";
    case DUBBO_T_STRING: return "string";
    case DUBBO_T_BINARY: return "binary";
    case DUBBO_T_DATE: return "date";
    case DUBBO_T_LIST: return "list";
    case DUBBO_T_MAP: return "map";
    case DUBBO_T_OBJECT: return "object";
    }
    return "unknown";
}

/* Equality walks both graphs in step. A pair of containers already being
 * compared higher up is assumed equal (coinduction), which makes cycles
 * terminate; the stack of such pairs is bounded by the nesting depth. Pairs
 * found equal are remembered, so a shared subgraph (a DAG) is compared once
 * instead of once per path to it. A remembered pair may rest on an
 * assumption that later fails, but then the whole comparison is false
 * anyway: && short-circuits every level up to the root. */
typedef struct {
    const dubbo_value_t *x, *y;
} pair_t;

typedef struct {
    pair_t *stack;
    size_t len, cap;
    pair_t *seen; /* open-addressing set of pairs proven equal */
    size_t nseen, seen_cap;
    bool oom;
} eq_ctx_t;

static size_t pair_hash(const dubbo_value_t *x, const dubbo_value_t *y)
{
    uint64_t h = (uint64_t)(uintptr_t)x * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)y;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
    return (size_t)(h ^ (h >> 29));
}

static bool seen_has(const eq_ctx_t *c, const dubbo_value_t *x, const dubbo_value_t *y)
{
    if (!c->seen_cap) return false;
    for (size_t i = pair_hash(x, y) & (c->seen_cap - 1);; i = (i + 1) & (c->seen_cap - 1)) {
        if (!c->seen[i].x) return false;
        if (c->seen[i].x == x && c->seen[i].y == y) return true;
    }
}

static void seen_add(eq_ctx_t *c, const dubbo_value_t *x, const dubbo_value_t *y)
{
    if ((c->nseen + 1) * 2 > c->seen_cap) {
        size_t ncap = c->seen_cap ? c->seen_cap * 2 : 64;
        pair_t *t = calloc(ncap, sizeof(*t));
        if (!t) return; /* only slower without it */
        for (size_t i = 0; i < c->seen_cap; i++) {
            if (!c->seen[i].x) continue;
            size_t k = pair_hash(c->seen[i].x, c->seen[i].y) & (ncap - 1);
            while (t[k].x)
                k = (k + 1) & (ncap - 1);
            t[k] = c->seen[i];
        }
        free(c->seen);
        c->seen = t;
        c->seen_cap = ncap;
    }
    size_t k = pair_hash(x, y) & (c->seen_cap - 1);
    while (c->seen[k].x)
        k = (k + 1) & (c->seen_cap - 1);
    c->seen[k] = (pair_t){x, y};
    c->nseen++;
}

static bool opt_str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static bool eq(eq_ctx_t *c, const dubbo_value_t *x, const dubbo_value_t *y);

static bool eq_container(eq_ctx_t *c, const dubbo_value_t *x, const dubbo_value_t *y)
{
    if (x == y || seen_has(c, x, y)) return true;
    for (size_t i = 0; i < c->len; i++)
        if (c->stack[i].x == x && c->stack[i].y == y) return true;
    if (c->len == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        pair_t *p = realloc(c->stack, ncap * sizeof(*p));
        if (!p) {
            c->oom = true;
            return false;
        }
        c->stack = p;
        c->cap = ncap;
    }
    c->stack[c->len++] = (pair_t){x, y};
    bool r = true;
    switch (x->type) {
    case DUBBO_T_LIST:
        r = opt_str_eq(x->u.list.type, y->u.list.type) && x->u.list.len == y->u.list.len &&
            (x->flags & DUBBO_VF_VARIABLE) == (y->flags & DUBBO_VF_VARIABLE);
        for (size_t i = 0; r && i < x->u.list.len; i++)
            r = eq(c, x->u.list.items[i], y->u.list.items[i]);
        break;
    case DUBBO_T_MAP:
        r = opt_str_eq(x->u.map.type, y->u.map.type) && x->u.map.len == y->u.map.len;
        for (size_t i = 0; r && i < x->u.map.len; i++)
            r = eq(c, x->u.map.items[i].key, y->u.map.items[i].key) &&
                eq(c, x->u.map.items[i].value, y->u.map.items[i].value);
        break;
    case DUBBO_T_OBJECT: {
        const dubbo_class_t *a = x->u.obj.cls, *b = y->u.obj.cls;
        r = strcmp(a->name, b->name) == 0 && a->nfields == b->nfields;
        for (size_t i = 0; r && i < a->nfields; i++)
            r = strcmp(a->fields[i], b->fields[i]) == 0 &&
                eq(c, x->u.obj.fields[i], y->u.obj.fields[i]);
        break;
    }
    default: break;
    }
    c->len--;
    if (r) seen_add(c, x, y);
    return r;
}

static bool eq(eq_ctx_t *c, const dubbo_value_t *x, const dubbo_value_t *y)
{
    if (!x) x = &null_value;
    if (!y) y = &null_value;
    if (x->type != y->type) return false;
    switch (x->type) {
    case DUBBO_T_NULL: return true;
    case DUBBO_T_BOOL: return x->u.b == y->u.b;
    case DUBBO_T_INT: return x->u.i == y->u.i;
    case DUBBO_T_LONG:
    case DUBBO_T_DATE: return x->u.l == y->u.l;
    case DUBBO_T_DOUBLE: return memcmp(&x->u.d, &y->u.d, sizeof(double)) == 0;
    case DUBBO_T_STRING:
    case DUBBO_T_BINARY:
        return x->u.s.len == y->u.s.len && memcmp(x->u.s.ptr, y->u.s.ptr, x->u.s.len) == 0;
    case DUBBO_T_LIST:
    case DUBBO_T_MAP:
    case DUBBO_T_OBJECT: return eq_container(c, x, y);
    }
    return false;
}

bool dubbo_value_equal(const dubbo_value_t *x, const dubbo_value_t *y)
{
    eq_ctx_t c = {0};
    bool r = eq(&c, x, y);
    free(c.stack);
    free(c.seen);
    return r && !c.oom;
}

/* ---- Java text forms ---- */

/* Java's String.valueOf(double): the shortest decimal that reads back, in
 * plain form for 1e-3 <= |d| < 1e7, else as 1.5E10. */
static void java_double(double d, char *buf, size_t cap)
{
    if (isnan(d)) {
        snprintf(buf, cap, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, cap, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    double a = fabs(d);
    if (a == 0 || (a >= 1e-3 && a < 1e7)) {
        for (int prec = 1; prec <= 20; prec++) {
            snprintf(buf, cap, "%.*f", prec, d);
            if (strtod(buf, NULL) == d) return;
        }
        return;
    }
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    /* "1.50e+10" -> mantissa without trailing zeros (one digit kept), E10 */
    char *e = strchr(tmp, 'e');
    int exp = atoi(e + 1);
    *e = '\0';
    size_t ml = strlen(tmp);
    while (ml > 2 && tmp[ml - 1] == '0' && tmp[ml - 2] != '.')
        tmp[--ml] = '\0';
    snprintf(buf, cap, "%sE%d", tmp, exp);
}

const char *dubbo_value_java_string(const dubbo_value_t *v, char *buf, size_t cap)
{
    if (!v) return "null";
    switch (v->type) {
    case DUBBO_T_NULL: return "null";
    case DUBBO_T_BOOL: return v->u.b ? "true" : "false";
    case DUBBO_T_INT: snprintf(buf, cap, "%" PRId32, v->u.i); return buf;
    case DUBBO_T_LONG: snprintf(buf, cap, "%" PRId64, v->u.l); return buf;
    case DUBBO_T_DOUBLE: java_double(v->u.d, buf, cap); return buf;
    case DUBBO_T_STRING: return v->u.s.ptr;
    default: return NULL;
    }
}

dubbo_value_t *dubbo_exception_new(dubbo_arena_t *a, const char *cls, const char *message)
{
    static const char *const fields[] = {"detailMessage", "cause", "stackTrace",
                                         "suppressedExceptions"};
    dubbo_class_t *c = dubbo_class_new(a, cls, 4, fields);
    if (!c) return NULL;
    dubbo_value_t *o = dubbo_v_object(a, c);
    if (!o) return NULL;
    o->u.obj.fields[0] = message ? dubbo_v_cstr(a, message) : dubbo_v_null();
    o->u.obj.fields[1] = dubbo_v_null();
    o->u.obj.fields[2] = dubbo_v_list(a, "[java.lang.StackTraceElement", 0);
    o->u.obj.fields[3] = dubbo_v_list(a, NULL, 0);
    if (!o->u.obj.fields[0] || !o->u.obj.fields[2] || !o->u.obj.fields[3]) return NULL;
    return o;
}
