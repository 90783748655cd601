/* Loading the `dubbo:` YAML configuration (dubbo-go / dubbo-rust schema):
 * libyaml builds the document, then one pass checks every key against the
 * schema and copies what it finds into an arena owned by the config, with
 * the registry URLs and reference/service parameters worked out at load
 * time so that accessors only look things up. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "dubbo/buf.h"
#include "dubbo/config.h"
#include "dubbo/registry.h"
#include "dubbo/rest.h"
#include "dubbo/url.h"
#include "dubbo/value.h"
#include "core/internal.h"
#include "protocol/rest/rest.h"

/* A mapping or list longer than this is refused (duplicate checks are
 * quadratic, and no real configuration comes near it). */
#define MAX_ENTRIES 4096
/* Aliases let a small file name the same large node many times; stop
 * before that costs real time. Counted in mapping/list entries visited. */
#define MAX_VISITS 200000
#define MAX_FIELDS 40

struct dubbo_config {
    dubbo_arena_t *arena;
    const char *name;
    dubbo_config_application_t app;
    dubbo_config_registry_t *reg;
    size_t nreg;
    dubbo_config_protocol_t *proto;
    size_t nproto;
    dubbo_config_service_t *svc;
    size_t nsvc;
    dubbo_config_reference_t *ref;
    size_t nref;
    /* dubbo.protocols.<id>.rest.cors and dubbo.openapi, for
     * dubbo_rest_configure(); has_rest_opts when the file sets either */
    dubbo_rest_options_t rest_opts;
    bool has_rest_opts;
};

/* ====================================================================== *
 * Loader state, error messages, key paths
 * ====================================================================== */

/* A `rest:` list read: whose, and where (key path, line). */
typedef struct {
    const char *interface, *version, *group, *where;
    int line;
} rest_decl_t;

typedef struct {
    const char *name; /* FILE in messages */
    const char *text;
    yaml_document_t doc;
    bool loaded;
    dubbo_config_t *c;
    char path[512]; /* dotted key path of what is being read */
    size_t plen;
    size_t visits;
    /* the `rest:` lists read so far, to refuse a second declaration for
     * the same interface, version and group (bindings are process-wide) */
    rest_decl_t *decls;
    size_t ndecls;
    const char *cors_where; /* the protocol path whose rest.cors was read */
    int cors_line;
    /* dubbo.tls_config, read first: the default of ports and references */
    struct tls_conf *root_tls;
} ld_t;

static int fail(ld_t *l, const yaml_node_t *at, const char *fmt, ...) DUBBO__PRINTF(3, 4);
static int fail(ld_t *l, const yaml_node_t *at, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line = at ? (int)at->start_mark.line + 1 : 1;
    if (l->plen) return dubbo__seterr(DUBBO_EINVAL, "%s:%d: %s: %s", l->name, line, l->path, msg);
    return dubbo__seterr(DUBBO_EINVAL, "%s:%d: %s", l->name, line, msg);
}

static int nomem(ld_t *l)
{
    return dubbo__seterr(DUBBO_ENOMEM, "%s: out of memory", l->name);
}

/* Append ".seg" (or "[i]" style text given as is when it starts with '[')
 * to the key path; returns the old length for pop(). */
static size_t push(ld_t *l, const char *seg)
{
    size_t old = l->plen, room = sizeof(l->path) - l->plen;
    const char *dot = l->plen && seg[0] != '[' ? "." : "";
    int n = snprintf(l->path + l->plen, room, "%s%s", dot, seg);
    if (n < 0 || (size_t)n >= room) {
        l->plen = sizeof(l->path) - 1; /* truncated; keep what fits */
        memcpy(l->path + l->plen - 3, "...", 3);
    } else {
        l->plen += (size_t)n;
    }
    return old;
}

static size_t push_index(ld_t *l, size_t i)
{
    char seg[32];
    snprintf(seg, sizeof(seg), "[%zu]", i);
    return push(l, seg);
}

static void pop(ld_t *l, size_t old)
{
    l->plen = old;
    l->path[old] = '\0';
}

static yaml_node_t *node(ld_t *l, int id)
{
    return yaml_document_get_node(&l->doc, id);
}

static const char *kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "a scalar";
    }
}

/* A plain `~`, `null` or nothing: YAML's null, which here means "not set". */
static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* Count `n` more entries against the per-node and whole-file limits. */
static int visit(ld_t *l, const yaml_node_t *at, size_t n)
{
    if (n > MAX_ENTRIES)
        return fail(l, at, "%zu entries, more than the limit of %d", n, MAX_ENTRIES);
    l->visits += n;
    if (l->visits > MAX_VISITS)
        return fail(l, at,
                    "the configuration is too large once aliases are expanded (over %d entries)",
                    MAX_VISITS);
    return 0;
}

static char *adup(ld_t *l, const char *s)
{
    return dubbo_arena_strndup(l->c->arena, s, strlen(s));
}

/* ====================================================================== *
 * Typed values. Each pushes `key` so that its errors name it.
 * ====================================================================== */

/* The scalar text of n (borrowed from the document), or an error. */
static int scalar(ld_t *l, yaml_node_t *n, const char **out)
{
    if (n->type != YAML_SCALAR_NODE) return fail(l, n, "expected a string, not %s", kind(n));
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return fail(l, n, "contains a NUL character");
    *out = (const char *)n->data.scalar.value;
    return 0;
}

/* A string copied into the config. */
static int get_str(ld_t *l, yaml_node_t *n, const char *key, const char **out)
{
    size_t m = push(l, key);
    const char *s = NULL;
    int rc = scalar(l, n, &s);
    if (!rc && !(*out = adup(l, s))) rc = nomem(l);
    pop(l, m);
    return rc;
}

static bool all_digits(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

/* A whole number 0..max. */
static int get_uint(ld_t *l, yaml_node_t *n, const char *key, long max, long *out)
{
    size_t m = push(l, key);
    const char *s = NULL;
    int rc = scalar(l, n, &s);
    if (!rc) {
        errno = 0;
        long v = all_digits(s) ? strtol(s, NULL, 10) : -1;
        if (v < 0 || errno || v > max) {
            if (max == 65535)
                rc = fail(l, n, "expected a port number 0-65535, not \"%s\"", s);
            else
                rc = fail(l, n, "expected a whole number 0-%ld, not \"%s\"", max, s);
        } else {
            *out = v;
        }
    }
    pop(l, m);
    return rc;
}

/* Milliseconds from "3000" (ms), "500ms", "3s", "1.5s", "1m", "2h", "1m30s".
 * False for anything else, for fractions of a millisecond and past INT_MAX. */
static bool parse_duration(const char *s, long *ms)
{
    if (all_digits(s)) {
        errno = 0;
        long v = strtol(s, NULL, 10);
        if (errno || v > INT_MAX) return false;
        *ms = v;
        return true;
    }
    long long total = 0;
    const char *p = s;
    if (!*p) return false;
    while (*p) {
        /* <digits>[.<digits>]<unit>, in integers: value = whole + frac/scale */
        long long whole = 0, frac = 0, scale = 1;
        const char *start = p;
        while (*p >= '0' && *p <= '9') {
            whole = whole * 10 + (*p++ - '0');
            if (whole > INT_MAX) return false;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') {
                if (scale >= 1000000000LL) return false;
                frac = frac * 10 + (*p++ - '0');
                scale *= 10;
            }
        }
        if (p == start || (p == start + 1 && *start == '.')) return false;
        long long unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'm') {
            unit = 60000;
            p++;
        } else if (*p == 'h') {
            unit = 3600000;
            p++;
        } else {
            return false;
        }
        if ((frac * unit) % scale != 0) return false; /* not a whole millisecond */
        total += whole * unit + frac * unit / scale;
        if (total > INT_MAX) return false;
    }
    *ms = (long)total;
    return true;
}

static int get_duration(ld_t *l, yaml_node_t *n, const char *key, long *out)
{
    size_t m = push(l, key);
    const char *s = NULL;
    int rc = scalar(l, n, &s);
    if (!rc && !parse_duration(s, out))
        rc = fail(l, n,
                  "bad duration \"%s\" (expected milliseconds, or a number with a unit: 500ms, 3s, "
                  "1.5s, 1m, 1h, 1m30s)",
                  s);
    pop(l, m);
    return rc;
}

static int get_bool(ld_t *l, yaml_node_t *n, const char *key, bool *out)
{
    size_t m = push(l, key);
    const char *s = NULL;
    int rc = scalar(l, n, &s);
    if (!rc) {
        /* YAML 1.1 booleans, as Java's SnakeYAML and Go's yaml.v2 read them */
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
            *out = true;
        else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
            *out = false;
        else
            rc = fail(l, n, "expected true or false, not \"%s\"", s);
    }
    pop(l, m);
    return rc;
}

/* ====================================================================== *
 * Mappings with a fixed set of keys
 * ====================================================================== */

/* Look up the keys of `map` in known[0..n): keys[i]/vals[i] are the key
 * and value nodes of known[i] (vals[i] NULL when absent or null). A null
 * map is an empty one. Unknown and repeated keys are errors. */
static int fields(ld_t *l, yaml_node_t *map, const char *const *known, size_t n, yaml_node_t **keys,
                  yaml_node_t **vals)
{
    for (size_t i = 0; i < n; i++)
        keys[i] = vals[i] = NULL;
    if (!map || is_null(map)) return 0;
    if (map->type != YAML_MAPPING_NODE)
        return fail(l, map, "expected a mapping (key: value lines), not %s", kind(map));
    size_t count = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    int rc = visit(l, map, count);
    if (rc) return rc;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = node(l, pr->key), *v = node(l, pr->value);
        if (k->type != YAML_SCALAR_NODE) return fail(l, k, "a key must be a name, not %s", kind(k));
        const char *name = (const char *)k->data.scalar.value;
        size_t i = 0;
        while (i < n && strcmp(known[i], name) != 0)
            i++;
        if (i == n) {
            char list[600] = "";
            size_t used = 0;
            for (size_t j = 0; j < n && used < sizeof(list); j++)
                used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", j ? ", " : "",
                                         known[j]);
            push(l, name);
            if (strcmp(name, "<<") == 0)
                return fail(l, k, "merge keys are not supported (aliases are: key: *name)");
            return fail(l, k, "unknown key (expected one of: %s)", list);
        }
        if (keys[i]) {
            push(l, name);
            return fail(l, k, "appears twice (first at line %d)",
                        (int)keys[i]->start_mark.line + 1);
        }
        keys[i] = k;
        vals[i] = is_null(v) ? NULL : v;
    }
    return 0;
}

/* Two spellings of one setting (registry / registry-ids, ip / host): the
 * one given, or an error when both are. */
static int either(ld_t *l, yaml_node_t **keys, yaml_node_t **vals, size_t a, size_t b,
                  const char *na, const char *nb, yaml_node_t **out)
{
    if (keys[a] && keys[b]) {
        yaml_node_t *later =
            keys[a]->start_mark.index > keys[b]->start_mark.index ? keys[a] : keys[b];
        return fail(l, later, "%s and %s are the same setting: give one", na, nb);
    }
    *out = keys[a] ? vals[a] : vals[b];
    return 0;
}

/* Iterate an id-keyed mapping (registries, services, ...): checks it is a
 * mapping, its size, and that the ids are distinct non-empty names. */
static int id_map(ld_t *l, yaml_node_t *map, size_t *count)
{
    *count = 0;
    if (!map || is_null(map)) return 0;
    if (map->type != YAML_MAPPING_NODE)
        return fail(l, map, "expected a mapping of ids (id: {...} lines), not %s", kind(map));
    *count = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    int rc = visit(l, map, *count);
    if (rc) return rc;
    for (size_t i = 0; i < *count; i++) {
        yaml_node_t *k = node(l, map->data.mapping.pairs.start[i].key);
        if (k->type != YAML_SCALAR_NODE || is_null(k))
            return fail(l, k, "an id must be a name, not %s", is_null(k) ? "empty" : kind(k));
        const char *id = (const char *)k->data.scalar.value;
        if (strlen(id) != k->data.scalar.length || strpbrk(id, ",; \t\r\n")) {
            push(l, id);
            return fail(l, k, "an id may not contain ',', ';', spaces or NUL");
        }
        for (size_t j = 0; j < i; j++) {
            yaml_node_t *e = node(l, map->data.mapping.pairs.start[j].key);
            if (strcmp((const char *)e->data.scalar.value, id) == 0) {
                push(l, id);
                return fail(l, k, "defined twice (first at line %d)", (int)e->start_mark.line + 1);
            }
        }
    }
    return 0;
}

/* ====================================================================== *
 * Parameter lists: key, value pairs built in layers (defaults, then the
 * service's or reference's own settings), finished into an arena array.
 * ====================================================================== */

typedef struct {
    const char *key, *value;
    int level; /* 0 = provider/consumer default, 1 = the entry's own */
    int line;
} kv_t;

/* The pairs in order, with an open-addressing index (slot = position + 1,
 * 0 = empty) so that long params maps, repeated through aliases, stay
 * linear to load. */
typedef struct {
    kv_t *a;
    size_t n, cap;
    size_t *slots;
    size_t nslots; /* a power of two, twice cap */
} kvs_t;

static void kvs_free(kvs_t *s)
{
    free(s->a);
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

static size_t hash(const char *k)
{
    size_t h = 2166136261u; /* FNV-1a */
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h;
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t *kvs_slot(const kvs_t *s, const char *key)
{
    size_t mask = s->nslots - 1, i = hash(key) & mask;
    while (s->slots[i] && strcmp(s->a[s->slots[i] - 1].key, key) != 0)
        i = (i + 1) & mask;
    return &s->slots[i];
}

static kv_t *kvs_find(const kvs_t *s, const char *key)
{
    if (!s->nslots) return NULL;
    size_t at = *kvs_slot(s, key);
    return at ? &s->a[at - 1] : NULL;
}

/* Set key=value at `level`: a lower level is overridden in place (keeping
 * its position); the same level twice is an error naming both lines. The
 * caller has pushed the key path; `at` is the node for the message. */
static int put(ld_t *l, kvs_t *s, const char *key, const char *value, int level, yaml_node_t *at)
{
    kv_t *e = kvs_find(s, key);
    int line = at ? (int)at->start_mark.line + 1 : 0;
    if (e && e->level >= level)
        return fail(l, at, "sets parameter \"%s\", already set at line %d", key, e->line);
    if (e) {
        e->value = value;
        e->level = level;
        e->line = line;
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16, nslots = cap * 2;
        kv_t *a = realloc(s->a, cap * sizeof(*a));
        if (!a) return nomem(l);
        s->a = a;
        size_t *slots = calloc(nslots, sizeof(*slots));
        if (!slots) return nomem(l);
        free(s->slots);
        s->slots = slots;
        s->nslots = nslots;
        s->cap = cap;
        for (size_t i = 0; i < s->n; i++)
            *kvs_slot(s, s->a[i].key) = i + 1;
    }
    s->a[s->n] = (kv_t){key, value, level, line};
    *kvs_slot(s, key) = ++s->n;
    return 0;
}

/* `pre` (NULL-terminated pairs) then the list, as a NULL-terminated array
 * in the arena. */
static const char *const *kvs_finish(ld_t *l, const char *const *pre, const kvs_t *s)
{
    size_t npre = 0;
    while (pre && pre[npre])
        npre++;
    const char **a = dubbo_arena_alloc(l->c->arena, (npre + 2 * s->n + 1) * sizeof(*a));
    if (!a) return NULL;
    size_t w = 0;
    for (size_t i = 0; i < npre; i++)
        a[w++] = pre[i];
    for (size_t i = 0; i < s->n; i++) {
        a[w++] = s->a[i].key;
        a[w++] = s->a[i].value;
    }
    a[w] = NULL;
    return a;
}

/* A setting given as its own key, and the URL parameter it becomes. */
typedef enum { T_STR, T_INT, T_DUR, T_BOOL } type_t;
typedef struct {
    const char *key;
    const char *param;
    type_t type;
} setting_t;

/* Provider URL parameters a service (or dubbo.provider) may give directly. */
static const setting_t service_settings[] = {
    {"token", "token", T_STR},
    {"weight", "weight", T_INT},
    {"loadbalance", "loadbalance", T_STR},
    {"cluster", "cluster", T_STR},
    {"retries", "retries", T_INT},
    {"timeout", "timeout", T_DUR},
    {"warmup", "warmup", T_DUR},
    {"executes", "executes", T_INT},
    {"actives", "actives", T_INT},
    {"tps", "tps", T_INT},
    {"tps.interval", "tps.interval", T_DUR},
    {"accesslog", "accesslog", T_STR},
    {"filter", "filter", T_STR},
    {"tag", "dubbo.tag", T_STR},
};

/* Reference settings a reference (or dubbo.consumer) may give directly. */
static const setting_t reference_settings[] = {
    {"cluster", "cluster", T_STR},         {"loadbalance", "loadbalance", T_STR},
    {"retries", "retries", T_INT},         {"timeout", "timeout", T_DUR},
    {"request-timeout", "timeout", T_DUR}, {"actives", "actives", T_INT},
    {"connections", "connections", T_INT}, {"forks", "forks", T_INT},
    {"filter", "filter", T_STR},           {"check", "check", T_BOOL},
    {"sticky", "sticky", T_BOOL},          {"tag", "dubbo.tag", T_STR},
};

/* Per-method settings under `methods:` (parameter "<name>.<param>"). */
static const setting_t service_method_settings[] = {
    {"timeout", "timeout", T_DUR},         {"retries", "retries", T_INT},
    {"loadbalance", "loadbalance", T_STR}, {"weight", "weight", T_INT},
    {"executes", "executes", T_INT},       {"actives", "actives", T_INT},
};
static const setting_t reference_method_settings[] = {
    {"timeout", "timeout", T_DUR},
    {"retries", "retries", T_INT},
    {"loadbalance", "loadbalance", T_STR},
    {"actives", "actives", T_INT},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The value of one setting as parameter text in the arena. */
static int setting_value(ld_t *l, const setting_t *st, yaml_node_t *v, const char **out)
{
    char num[32];
    long x = 0;
    bool b = false;
    int rc;
    switch (st->type) {
    case T_STR: return get_str(l, v, st->key, out);
    case T_INT: rc = get_uint(l, v, st->key, INT_MAX, &x); break;
    case T_DUR: rc = get_duration(l, v, st->key, &x); break;
    default:
        rc = get_bool(l, v, st->key, &b);
        if (rc) return rc;
        *out = b ? "true" : "false";
        return 0;
    }
    if (rc) return rc;
    snprintf(num, sizeof(num), "%ld", x);
    return (*out = adup(l, num)) ? 0 : nomem(l);
}

/* Apply the settings found at keys/vals[0..nst) (parallel to st) to s. */
static int apply_settings(ld_t *l, const setting_t *st, size_t nst, yaml_node_t **keys,
                          yaml_node_t **vals, const char *prefix, kvs_t *s, int level)
{
    for (size_t i = 0; i < nst; i++) {
        if (!vals[i]) continue;
        const char *v = NULL;
        int rc = setting_value(l, &st[i], vals[i], &v);
        if (rc) return rc;
        const char *param = st[i].param;
        if (prefix) {
            char *p = dubbo_arena_alloc(l->c->arena, strlen(prefix) + strlen(param) + 2);
            if (!p) return nomem(l);
            sprintf(p, "%s.%s", prefix, param);
            param = p;
        }
        size_t m = push(l, st[i].key);
        rc = put(l, s, param, v, level, keys[i]);
        pop(l, m);
        if (rc) return rc;
    }
    return 0;
}

/* `params:` — any URL parameters. interface, version and group have keys
 * of their own and may not hide here. */
static int apply_params(ld_t *l, yaml_node_t *map, kvs_t *s, int level)
{
    size_t m = push(l, "params"), count = 0;
    int rc = 0;
    if (map->type != YAML_MAPPING_NODE) {
        rc = fail(l, map, "expected a mapping (key: value lines), not %s", kind(map));
        goto out;
    }
    count = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    if ((rc = visit(l, map, count))) goto out;
    for (size_t i = 0; i < count && !rc; i++) {
        yaml_node_t *k = node(l, map->data.mapping.pairs.start[i].key);
        yaml_node_t *v = node(l, map->data.mapping.pairs.start[i].value);
        const char *key = NULL, *val = NULL;
        if (k->type != YAML_SCALAR_NODE || is_null(k)) {
            rc = fail(l, k, "a parameter name must be a string, not %s",
                      is_null(k) ? "empty" : kind(k));
            break;
        }
        if ((rc = scalar(l, k, &key))) break;
        if (!(key = adup(l, key))) {
            rc = nomem(l);
            break;
        }
        size_t m2 = push(l, key);
        if (!strcmp(key, "interface") || !strcmp(key, "version") || !strcmp(key, "group")) {
            rc = fail(l, k, "set %s with its own key, not in params", key);
        } else if (!is_null(v)) {
            const char *text = NULL;
            if (v->type != YAML_SCALAR_NODE)
                rc = fail(l, v, "a parameter value must be a string, not %s", kind(v));
            else if (!(rc = scalar(l, v, &text)) && !(val = adup(l, text)))
                rc = nomem(l);
            if (!rc) rc = put(l, s, key, val, level, k);
        }
        pop(l, m2);
    }
out:
    pop(l, m);
    return rc;
}

/* `methods:` — a list of {name: sayHello, timeout: 200, ...}. */
static int apply_methods(ld_t *l, yaml_node_t *seq, const setting_t *st, size_t nst, kvs_t *s,
                         int level)
{
    size_t m = push(l, "methods"), count = 0;
    int rc = 0;
    if (seq->type != YAML_SEQUENCE_NODE) {
        rc = fail(l, seq, "expected a list (\"- name: ...\" items), not %s", kind(seq));
        goto out;
    }
    count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if ((rc = visit(l, seq, count))) goto out;
    const char **names = calloc(count + 1, sizeof(*names));
    int *lines = calloc(count + 1, sizeof(*lines));
    if (!names || !lines) rc = nomem(l);
    for (size_t i = 0; i < count && !rc; i++) {
        yaml_node_t *item = node(l, seq->data.sequence.items.start[i]);
        size_t m2 = push_index(l, i);
        const char *known[MAX_FIELDS] = {"name"};
        for (size_t j = 0; j < nst; j++)
            known[1 + j] = st[j].key;
        yaml_node_t *keys[MAX_FIELDS], *vals[MAX_FIELDS];
        const char *name = NULL;
        if (is_null(item) || item->type != YAML_MAPPING_NODE)
            rc = fail(l, item, "expected a mapping (name: ..., timeout: ...), not %s",
                      is_null(item) ? "nothing" : kind(item));
        if (!rc) rc = fields(l, item, known, 1 + nst, keys, vals);
        if (!rc && !vals[0]) rc = fail(l, item, "name is required");
        if (!rc) rc = get_str(l, vals[0], "name", &name);
        if (!rc && (!*name || strpbrk(name, " \t.,;=&?")))
            rc = fail(l, vals[0], "name: \"%s\" is not a method name", name);
        for (size_t j = 0; j < i && !rc; j++)
            if (strcmp(names[j], name) == 0)
                rc = fail(l, vals[0], "method \"%s\" is listed twice (first at line %d)", name,
                          lines[j]);
        if (!rc) {
            names[i] = name;
            lines[i] = (int)vals[0]->start_mark.line + 1;
            rc = apply_settings(l, st, nst, keys + 1, vals + 1, name, s, level);
        }
        pop(l, m2);
    }
    free(names);
    free(lines);
out:
    pop(l, m);
    return rc;
}

/* ====================================================================== *
 * Registry ids and URLs
 * ====================================================================== */

static const dubbo_config_registry_t *find_reg(const dubbo_config_t *c, const char *id)
{
    for (size_t i = 0; i < c->nreg; i++)
        if (strcmp(c->reg[i].id, id) == 0) return &c->reg[i];
    return NULL;
}

static const dubbo_config_protocol_t *find_proto(const dubbo_config_t *c, const char *id)
{
    for (size_t i = 0; i < c->nproto; i++)
        if (strcmp(c->proto[i].id, id) == 0) return &c->proto[i];
    return NULL;
}

/* "a, b, c" of the ids defined, for messages. */
static const char *id_list(const char *const *ids, size_t stride, size_t n, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
                                 *(const char *const *)((const char *)ids + i * stride));
    if (!n) snprintf(buf, cap, "none");
    return buf;
}

static const char *reg_ids_text(const dubbo_config_t *c, char *buf, size_t cap)
{
    return id_list(c->nreg ? &c->reg[0].id : NULL, sizeof(c->reg[0]), c->nreg, buf, cap);
}

/* A list of registry ids: `[a, b]`, `a`, or dubbo-go's "a,b". Each must
 * be defined under dubbo.registries. The result is NULL-terminated. */
static int reg_ids(ld_t *l, yaml_node_t *n, const char *key, const char *const **out, size_t *nout)
{
    size_t m = push(l, key), cap = 0, cnt = 0;
    int rc = 0;
    const char **ids = NULL;
    yaml_node_t **at = NULL;
    if (n->type == YAML_SEQUENCE_NODE) {
        cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if ((rc = visit(l, n, cap))) goto out;
    } else if (n->type == YAML_SCALAR_NODE) {
        cap = 1;
        for (const char *p = (const char *)n->data.scalar.value; *p; p++)
            cap += *p == ',';
    } else {
        rc = fail(l, n, "expected a registry id or a list of them, not %s", kind(n));
        goto out;
    }
    ids = dubbo_arena_alloc(l->c->arena, (cap + 1) * sizeof(*ids));
    at = calloc(cap + 1, sizeof(*at));
    if (!ids || !at) {
        rc = nomem(l);
        goto out;
    }
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = NULL;
        if ((rc = scalar(l, n, &s))) goto out;
        while (*s) {
            size_t len = strcspn(s, ",");
            const char *b = s, *e = s + len;
            while (b < e && (*b == ' ' || *b == '\t'))
                b++;
            while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (e > b) {
                if (!(ids[cnt] = dubbo_arena_strndup(l->c->arena, b, (size_t)(e - b)))) {
                    rc = nomem(l);
                    goto out;
                }
                at[cnt++] = n;
            }
            s += len + (s[len] == ',');
        }
    } else {
        for (size_t i = 0; i < cap; i++) {
            yaml_node_t *item = node(l, n->data.sequence.items.start[i]);
            size_t m2 = push_index(l, i);
            if (is_null(item))
                rc = fail(l, item, "expected a registry id, not nothing");
            else
                rc = get_str(l, item, "", &ids[cnt]);
            pop(l, m2);
            if (rc) goto out;
            at[cnt++] = item;
        }
    }
    for (size_t i = 0; i < cnt && !rc; i++) {
        char list[300];
        /* list items are named by index: registry[1] */
        size_t m2 = n->type == YAML_SEQUENCE_NODE ? push_index(l, i) : l->plen;
        if (!find_reg(l->c, ids[i]))
            rc = fail(l, at[i], "no registry \"%s\" in dubbo.registries (defined: %s)", ids[i],
                      reg_ids_text(l->c, list, sizeof(list)));
        for (size_t j = 0; j < i && !rc; j++)
            if (strcmp(ids[i], ids[j]) == 0)
                rc = fail(l, at[i], "registry \"%s\" is listed twice", ids[i]);
        pop(l, m2);
    }
    if (rc) goto out;
    ids[cnt] = NULL;
    *out = ids;
    *nout = cnt;
out:
    free(at);
    pop(l, m);
    return rc;
}

static const char *const no_ids[] = {NULL};

/* Every registry, the default when nothing names some. */
static int all_regs(ld_t *l, const char *const **out, size_t *n)
{
    const char **ids = dubbo_arena_alloc(l->c->arena, (l->c->nreg + 1) * sizeof(*ids));
    if (!ids) return nomem(l);
    for (size_t i = 0; i < l->c->nreg; i++)
        ids[i] = l->c->reg[i].id;
    ids[l->c->nreg] = NULL;
    *out = ids;
    *n = l->c->nreg;
    return 0;
}

static int sb_add(dubbo_buf_t *b, const char *s)
{
    return dubbo_buf_append(b, s, strlen(s));
}

static int sb_add_encoded(dubbo_buf_t *b, const char *s)
{
    char *e = dubbo_url_encode(s);
    if (!e) return DUBBO_ENOMEM;
    int rc = sb_add(b, e);
    free(e);
    return rc;
}

/* A query key or value: percent-encoded, except for the characters that
 * are safe there and make addresses readable (backup=h2:2181,h3:2181).
 * ';' is encoded, since reference URLs are ';'-joined. */
static int sb_add_query(dubbo_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr(".-_*~:,/", c)) {
            rc = dubbo_buf_append(b, p, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = dubbo_buf_append(b, e, 3);
        }
    }
    return rc;
}

/* The buffer's text as an arena string; destroys the buffer. */
static const char *sb_finish(ld_t *l, dubbo_buf_t *b, int rc)
{
    const char *s =
        rc ? NULL : dubbo_arena_strndup(l->c->arena, b->base ? (const char *)b->base : "", b->len);
    dubbo_buf_destroy(b);
    return s;
}

/* protocol://[user[:password]@]address[/path][?params] for registry r. */
static const char *reg_url(ld_t *l, const dubbo_config_registry_t *r, const char *user,
                           const char *password, const char *path)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    int rc = sb_add(&b, r->protocol);
    if (!rc) rc = sb_add(&b, "://");
    if (!rc && user) {
        rc = sb_add_encoded(&b, user);
        if (!rc && password) rc = sb_add(&b, ":");
        if (!rc && password) rc = sb_add_encoded(&b, password);
        if (!rc) rc = sb_add(&b, "@");
    }
    /* the first host:port of a cluster; the others are in `backup` */
    if (!rc) rc = dubbo_buf_append(&b, r->address, strcspn(r->address, ","));
    if (!rc && path) rc = sb_add(&b, "/");
    if (!rc && path) rc = sb_add(&b, path);
    for (size_t i = 0; !rc && r->params[i]; i += 2) {
        rc = sb_add(&b, i ? "&" : "?");
        if (!rc) rc = sb_add_query(&b, r->params[i]);
        if (!rc) rc = sb_add(&b, "=");
        if (!rc) rc = sb_add_query(&b, r->params[i + 1]);
    }
    return sb_finish(l, &b, rc);
}

/* ====================================================================== *
 * REST (include/dubbo/rest.h): a service's or reference's `rest:` list of
 * mappings, checked here as dubbo_rest_register() checks them so that a
 * mistake names its line and key path, and the process-wide settings
 * (dubbo.protocols.<id>.rest.cors, dubbo.openapi).
 * ====================================================================== */

static const char *const rest_verbs[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};
static const char *const rest_types[] = {"string", "int", "long", "double", "boolean", "object"};
static const struct {
    const char *name;
    dubbo_rest_from_t from;
} rest_froms[] = {{"path", DUBBO_REST_PATH},
                  {"query", DUBBO_REST_QUERY},
                  {"header", DUBBO_REST_HEADER},
                  {"form", DUBBO_REST_FORM},
                  {"body", DUBBO_REST_BODY}};

static bool scheme_name(const char *s);

static bool in_words(const char *const *words, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(words[i], s) == 0) return true;
    return false;
}

/* An HTTP token (RFC 9110): header names and methods. */
static bool is_token(const char *s)
{
    if (!*s) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return true;
}

/* item is one of the ','-separated list's. */
static bool has_item(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && strncmp(p, item, n) == 0) return true;
        p += k + (p[k] == ',');
    }
    return false;
}

static void upper(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z') *s = (char)(*s - 'a' + 'A');
}

/* What the items of a list setting are. */
enum { L_CONSUMES, L_PRODUCES, L_ORIGINS, L_METHODS, L_HEADERS };

/* One item of a list setting (NUL-terminated, trimmed, may be rewritten:
 * methods are upper-cased); the key path names it. */
static int check_item(ld_t *l, yaml_node_t *at, int what, char *s)
{
    if (strchr(s, ',')) return fail(l, at, "\"%s\": one item per list entry", s);
    switch (what) {
    case L_CONSUMES:
    case L_PRODUCES: {
        int k = dubbo__rest_media(s, strlen(s));
        bool ok = k == REST_MEDIA_JSON || k == REST_MEDIA_TEXT || k == REST_MEDIA_XML ||
                  k == REST_MEDIA_FORM || (what == L_PRODUCES && k == REST_MEDIA_HTML);
        if (ok) return 0;
        return fail(l, at,
                    "\"%s\" is not one of application/json, text/plain, application/xml, "
                    "text/xml, application/x-www-form-urlencoded%s",
                    s, what == L_PRODUCES ? ", text/html" : " (bodies read)");
    }
    case L_ORIGINS: {
        /* "*", or an Origin as browsers send it: scheme://host[:port] */
        const char *sep = strstr(s, "://");
        if (strcmp(s, "*") == 0) return 0;
        if (sep && sep > s && sep[3] && !strpbrk(sep + 3, "/?#*") && !strpbrk(s, " \t\r\n")) {
            char *scheme = strndup(s, (size_t)(sep - s));
            bool ok = scheme && scheme_name(scheme);
            free(scheme);
            if (ok) return 0;
        }
        return fail(l, at,
                    "\"%s\" is not an origin (\"*\", or scheme://host[:port] without a path, as "
                    "a browser's Origin header has it)",
                    s);
    }
    case L_METHODS:
        upper(s);
        if (strcmp(s, "*") == 0 || strcmp(s, "OPTIONS") == 0 ||
            in_words(rest_verbs, COUNT(rest_verbs), s))
            return 0;
        return fail(l, at, "\"%s\" is not GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS or *", s);
    default:
        if (strcmp(s, "*") == 0 || is_token(s)) return 0;
        return fail(l, at, "\"%s\" is not a header name", s);
    }
}

/* A list setting given as `[a, b]` or as "a, b": each item trimmed and
 * checked (list entries named by index), then ','-joined into the arena.
 * *out stays NULL when nothing is given. */
static int get_list(ld_t *l, yaml_node_t *n, const char *key, int what, const char **out)
{
    size_t m = push(l, key), count = 1;
    int rc = 0;
    bool seq = n->type == YAML_SEQUENCE_NODE;
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    if (seq) {
        count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        rc = visit(l, n, count);
    } else if (n->type != YAML_SCALAR_NODE) {
        rc = fail(l, n, "expected a string or a list of strings, not %s", kind(n));
    }
    for (size_t i = 0; i < count && !rc; i++) {
        yaml_node_t *item = seq ? node(l, n->data.sequence.items.start[i]) : n;
        size_t m2 = seq ? push_index(l, i) : l->plen;
        const char *text = NULL;
        if (is_null(item))
            rc = fail(l, item, "expected a string, not nothing");
        else
            rc = scalar(l, item, &text);
        /* a string holds ','-separated items; a list entry one */
        while (!rc && *text) {
            size_t len = seq ? strlen(text) : strcspn(text, ",");
            const char *s = text, *e = text + len;
            text += len + (text[len] == ',');
            while (s < e && (*s == ' ' || *s == '\t'))
                s++;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (s == e) continue;
            char *one = strndup(s, (size_t)(e - s));
            if (!one) {
                rc = nomem(l);
                break;
            }
            rc = check_item(l, item, what, one);
            if (!rc && b.len) rc = sb_add(&b, ",") ? nomem(l) : 0;
            if (!rc) rc = sb_add(&b, one) ? nomem(l) : 0;
            free(one);
        }
        pop(l, m2);
    }
    if (!rc && b.len) {
        if (!(*out = sb_finish(l, &b, 0))) rc = nomem(l);
    } else {
        dubbo_buf_destroy(&b);
    }
    pop(l, m);
    return rc;
}

/* One of a mapping's `params`: {from: path, name: id, type: long,
 * default-value: "1"}. *name_at is the node to name in later messages
 * about it. */
static int rest_param(ld_t *l, yaml_node_t *item, dubbo_rest_param_t *p, yaml_node_t **name_at)
{
    enum { FROM, NAME, TYPE, DEFAULT, N };
    static const char *const known[N] = {"from", "name", "type", "default-value"};
    yaml_node_t *keys[N], *vals[N];
    if (is_null(item) || item->type != YAML_MAPPING_NODE)
        return fail(l, item, "expected a mapping ({from: path, name: id, type: long}), not %s",
                    is_null(item) ? "nothing" : kind(item));
    int rc = fields(l, item, known, N, keys, vals);
    if (rc) return rc;
    const char *from = NULL;
    if (!vals[FROM])
        return fail(l, keys[FROM] ? keys[FROM] : item,
                    "from is required (path, query, header, form or body)");
    if ((rc = get_str(l, vals[FROM], "from", &from))) return rc;
    size_t i = 0;
    while (i < COUNT(rest_froms) && strcmp(rest_froms[i].name, from) != 0)
        i++;
    if (i == COUNT(rest_froms)) {
        size_t m = push(l, "from");
        rc = fail(l, vals[FROM], "\"%s\" is not path, query, header, form or body", from);
        pop(l, m);
        return rc;
    }
    p->from = rest_froms[i].from;
    *name_at = vals[NAME] ? vals[NAME] : item;
    if (vals[NAME] && (rc = get_str(l, vals[NAME], "name", &p->name))) return rc;
    size_t m = push(l, "name");
    if (p->from != DUBBO_REST_BODY && (!p->name || !*p->name))
        rc = fail(l, *name_at, "a parameter from %s needs a name", from);
    else if (p->from == DUBBO_REST_HEADER && !is_token(p->name))
        rc = fail(l, *name_at, "\"%s\" is not a header name", p->name);
    else if (p->from == DUBBO_REST_PATH && strpbrk(p->name, "/{}"))
        rc = fail(l, *name_at, "\"%s\" is not a path variable name", p->name);
    pop(l, m);
    if (rc) return rc;
    if (vals[TYPE]) {
        if ((rc = get_str(l, vals[TYPE], "type", &p->type))) return rc;
        if (!in_words(rest_types, COUNT(rest_types), p->type)) {
            m = push(l, "type");
            rc = fail(l, vals[TYPE], "\"%s\" is not string, int, long, double, boolean or object",
                      p->type);
            pop(l, m);
            return rc;
        }
    }
    if (vals[DEFAULT]) rc = get_str(l, vals[DEFAULT], "default-value", &p->default_value);
    return rc;
}

/* "/users/{id}": from the root, no query, fragment or spaces, and each
 * {variable} a whole segment, as dubbo_rest_register() reads templates. */
static int check_rest_path(ld_t *l, yaml_node_t *at, const char *path)
{
    if (path[0] != '/') return fail(l, at, "\"%s\" does not start with /", path);
    if (strpbrk(path, "?# \t\r\n"))
        return fail(l, at,
                    "\"%s\": a path template has no query, fragment or spaces (query arguments "
                    "are params with from: query)",
                    path);
    for (const char *s = path + 1; *s;) {
        size_t n = strcspn(s, "/");
        bool braces = memchr(s, '{', n) || memchr(s, '}', n);
        bool var = n >= 3 && s[0] == '{' && s[n - 1] == '}' && !memchr(s + 1, '{', n - 2) &&
                   !memchr(s + 1, '}', n - 2);
        if (braces && !var)
            return fail(l, at,
                        "\"%s\": \"%.*s\": a {variable} is a whole segment between slashes, with "
                        "a name",
                        path, (int)n, s);
        s += n + (s[n] == '/');
    }
    return 0;
}

/* Two templates route the same requests: the same literal segments and
 * variables in the same places (empty segments skipped, as routing does). */
static bool same_route(const char *a, const char *b)
{
    for (;;) {
        while (*a == '/')
            a++;
        while (*b == '/')
            b++;
        if (!*a || !*b) return !*a && !*b;
        size_t na = strcspn(a, "/"), nb = strcspn(b, "/");
        bool va = a[0] == '{', vb = b[0] == '{';
        if (va != vb || (!va && (na != nb || memcmp(a, b, na) != 0))) return false;
        a += na;
        b += nb;
    }
}

/* The parameter taking path variable s[0..n) ("{id}"), or -1. */
static long path_param(const dubbo_rest_mapping_t *mp, const char *s, size_t n)
{
    for (size_t i = 0; i < mp->nparams; i++) {
        const dubbo_rest_param_t *p = &mp->params[i];
        if (p->from == DUBBO_REST_PATH && strlen(p->name) == n - 2 &&
            memcmp(p->name, s + 1, n - 2) == 0)
            return (long)i;
    }
    return -1;
}

static bool in_path(const char *path, const char *name)
{
    size_t nl = strlen(name);
    for (const char *s = path; (s = strchr(s, '{')); s++)
        if (strncmp(s + 1, name, nl) == 0 && s[1 + nl] == '}') return true;
    return false;
}

/* One item of `rest:`: {method, verb, path, params, consumes, produces, desc}. */
static int rest_mapping(ld_t *l, yaml_node_t *item, dubbo_rest_mapping_t *mp)
{
    enum { METHOD, VERB, PATH, PARAMS, CONSUMES, PRODUCES, DESC, N };
    static const char *const known[N] = {"method",   "verb",     "path", "params",
                                         "consumes", "produces", "desc"};
    yaml_node_t *keys[N], *vals[N];
    if (is_null(item) || item->type != YAML_MAPPING_NODE)
        return fail(l, item, "expected a mapping (method: ..., verb: ..., path: ...), not %s",
                    is_null(item) ? "nothing" : kind(item));
    int rc = fields(l, item, known, N, keys, vals);
    if (rc) return rc;
    static const char *const required[] = {"method", "verb", "path"};
    for (size_t i = 0; i < COUNT(required); i++)
        if (!vals[i])
            return fail(l, keys[i] ? keys[i] : item, "%s is required%s", required[i],
                        i == VERB ? " (GET, POST, PUT, DELETE, PATCH or HEAD)" : "");
    size_t m;
    if ((rc = get_str(l, vals[METHOD], "method", &mp->method))) return rc;
    if (!*mp->method || strpbrk(mp->method, " \t.,;=&?/")) {
        m = push(l, "method");
        rc = fail(l, vals[METHOD], "\"%s\" is not a method name", mp->method);
        pop(l, m);
        return rc;
    }
    if ((rc = get_str(l, vals[VERB], "verb", &mp->verb))) return rc;
    upper((char *)mp->verb);
    if (!in_words(rest_verbs, COUNT(rest_verbs), mp->verb)) {
        m = push(l, "verb");
        rc = fail(l, vals[VERB], "\"%s\" is not GET, POST, PUT, DELETE, PATCH or HEAD",
                  (const char *)vals[VERB]->data.scalar.value);
        pop(l, m);
        return rc;
    }
    if ((rc = get_str(l, vals[PATH], "path", &mp->path))) return rc;
    m = push(l, "path");
    rc = check_rest_path(l, vals[PATH], mp->path);
    pop(l, m);
    if (rc) return rc;

    yaml_node_t *seq = vals[PARAMS];
    yaml_node_t **name_at = NULL;
    size_t count = 0;
    m = push(l, "params");
    if (seq && seq->type != YAML_SEQUENCE_NODE)
        rc =
            fail(l, seq, "expected a list (\"- {from: ..., name: ...}\" items), not %s", kind(seq));
    if (!rc && seq) {
        count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
        rc = visit(l, seq, count);
    }
    dubbo_rest_param_t *ps = NULL;
    if (!rc && count) {
        ps = dubbo_arena_alloc(l->c->arena, count * sizeof(*ps));
        name_at = calloc(count, sizeof(*name_at));
        if (!ps || !name_at) rc = nomem(l);
    }
    long body = -1, form = -1;
    for (size_t i = 0; i < count && !rc; i++) {
        yaml_node_t *pi = node(l, seq->data.sequence.items.start[i]);
        dubbo_rest_param_t *p = &ps[i];
        memset(p, 0, sizeof(*p));
        size_t m2 = push_index(l, i);
        rc = rest_param(l, pi, p, &name_at[i]);
        for (size_t j = 0; j < i && !rc; j++)
            if (p->from != DUBBO_REST_BODY && ps[j].from == p->from &&
                strcmp(ps[j].name, p->name) == 0) {
                size_t m3 = push(l, "name");
                rc = fail(l, name_at[i], "%s parameter \"%s\" is also params[%zu]",
                          rest_froms[p->from - 1].name, p->name, j);
                pop(l, m3);
            }
        if (!rc && p->from == DUBBO_REST_BODY && body >= 0)
            rc = fail(l, pi, "a second body parameter (params[%ld] takes the body)", body);
        if (!rc && ((p->from == DUBBO_REST_BODY && form >= 0) ||
                    (p->from == DUBBO_REST_FORM && body >= 0)))
            rc = fail(l, pi,
                      "form parameters and a body parameter exclude each other (params[%ld] "
                      "takes the %s)",
                      body >= 0 ? body : form, body >= 0 ? "body" : "form");
        if (!rc && p->from == DUBBO_REST_BODY) body = (long)i;
        if (!rc && p->from == DUBBO_REST_FORM && form < 0) form = (long)i;
        pop(l, m2);
    }
    mp->params = ps;
    mp->nparams = rc ? 0 : count;
    /* every {variable} taken by a path parameter, every path parameter in the path */
    for (size_t i = 0; i < count && !rc; i++) {
        if (ps[i].from != DUBBO_REST_PATH || in_path(mp->path, ps[i].name)) continue;
        size_t m2 = push_index(l, i), m3 = push(l, "name");
        rc = fail(l, name_at[i], "\"%s\" is not a {variable} of path \"%s\"", ps[i].name, mp->path);
        pop(l, m3);
        pop(l, m2);
    }
    pop(l, m);
    free(name_at);
    for (const char *s = mp->path; !rc && *s;) {
        size_t n = strcspn(s, "/");
        if (n && s[0] == '{' && path_param(mp, s, n) < 0) {
            m = push(l, "path");
            rc = fail(l, vals[PATH],
                      "%.*s is taken by no parameter (add {from: path, name: %.*s} to params)",
                      (int)n, s, (int)n - 2, s + 1);
            pop(l, m);
        }
        s += n + (s[n] == '/');
    }
    if (!rc && vals[CONSUMES])
        rc = get_list(l, vals[CONSUMES], "consumes", L_CONSUMES, &mp->consumes);
    if (!rc && vals[PRODUCES])
        rc = get_list(l, vals[PRODUCES], "produces", L_PRODUCES, &mp->produces);
    if (!rc && vals[DESC]) rc = get_str(l, vals[DESC], "desc", &mp->desc);
    return rc;
}

/* "group/interface:version", for messages. */
static const char *service_key(const char *itf, const char *ver, const char *grp, char *buf,
                               size_t cap)
{
    snprintf(buf, cap, "%s%s%s%s%s", *grp ? grp : "", *grp ? "/" : "", itf, *ver ? ":" : "", ver);
    return buf;
}

/* A service's or reference's `rest:`: the mappings of interface itf,
 * version ver, group grp. An empty list declares nothing. */
static int parse_rest(ld_t *l, yaml_node_t *seq, const char *itf, const char *ver, const char *grp,
                      const dubbo_rest_mapping_t **out, size_t *nout)
{
    size_t m = push(l, "rest"), count = 0;
    int rc = 0;
    dubbo_rest_mapping_t *a = NULL;
    if (seq->type != YAML_SEQUENCE_NODE)
        rc = fail(l, seq, "expected a list (\"- method: ...\" items), not %s", kind(seq));
    if (!rc) {
        count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
        rc = visit(l, seq, count);
    }
    if (!rc && count && !(a = dubbo_arena_alloc(l->c->arena, count * sizeof(*a)))) rc = nomem(l);
    for (size_t i = 0; i < count && !rc; i++) {
        yaml_node_t *item = node(l, seq->data.sequence.items.start[i]);
        memset(&a[i], 0, sizeof(a[i]));
        size_t m2 = push_index(l, i);
        rc = rest_mapping(l, item, &a[i]);
        for (size_t j = 0; j < i && !rc; j++)
            if (strcmp(a[i].verb, a[j].verb) == 0 && same_route(a[i].path, a[j].path))
                rc = fail(l, item, "%s %s is also the route of rest[%zu] (line %d)", a[i].verb,
                          a[i].path, j,
                          (int)node(l, seq->data.sequence.items.start[j])->start_mark.line + 1);
        pop(l, m2);
    }
    /* one declaration per interface, version and group in the file */
    for (size_t i = 0; i < l->ndecls && count && !rc; i++) {
        const rest_decl_t *d = &l->decls[i];
        char key[300];
        if (strcmp(d->interface, itf) == 0 && strcmp(d->version, ver) == 0 &&
            strcmp(d->group, grp) == 0)
            rc = fail(l, seq,
                      "%s has REST mappings at %s already (line %d); bindings are process-wide: "
                      "declare them once",
                      service_key(itf, ver, grp, key, sizeof(key)), d->where, d->line);
    }
    if (!rc && count) {
        rest_decl_t *d = realloc(l->decls, (l->ndecls + 1) * sizeof(*d));
        if (!d) {
            rc = nomem(l);
        } else {
            l->decls = d;
            d = &l->decls[l->ndecls];
            *d = (rest_decl_t){itf, ver, grp, adup(l, l->path), (int)seq->start_mark.line + 1};
            if (d->where)
                l->ndecls++;
            else
                rc = nomem(l);
        }
    }
    if (!rc) {
        *out = count ? a : NULL;
        *nout = count;
    }
    pop(l, m);
    return rc;
}

static dubbo_rest_options_t *rest_opts(ld_t *l)
{
    if (!l->c->has_rest_opts) {
        dubbo_rest_options_init(&l->c->rest_opts);
        l->c->has_rest_opts = true;
    }
    return &l->c->rest_opts;
}

/* dubbo.protocols.<id>.rest: {cors: {...}}, Java's
 * dubbo.protocol.triple.rest.cors. Process-wide, so one protocol has it. */
static int parse_rest_settings(ld_t *l, yaml_node_t *map)
{
    enum { CORS, N };
    static const char *const known[N] = {"cors"};
    yaml_node_t *keys[N], *vals[N];
    size_t m = push(l, "rest");
    int rc = fields(l, map, known, N, keys, vals);
    if (!rc && keys[CORS] && l->cors_where) {
        size_t m2 = push(l, "cors");
        rc = fail(l, keys[CORS],
                  "the REST settings are process-wide: %s sets them already (line %d)",
                  l->cors_where, l->cors_line);
        pop(l, m2);
    }
    if (!rc && keys[CORS]) {
        enum { ORIGINS, METHODS, HEADERS, MAX_AGE, CREDENTIALS, NC };
        static const char *const cknown[NC] = {"allowed-origins", "allowed-methods",
                                               "allowed-headers", "max-age", "allow-credentials"};
        yaml_node_t *ck[NC], *cv[NC];
        size_t m2 = push(l, "cors");
        const char *origins = NULL, *methods = NULL, *headers = NULL;
        long age = 0;
        bool cred = false;
        rc = fields(l, vals[CORS], cknown, NC, ck, cv);
        if (!rc && !(l->cors_where = adup(l, l->path))) rc = nomem(l);
        l->cors_line = (int)keys[CORS]->start_mark.line + 1;
        if (!rc && cv[ORIGINS])
            rc = get_list(l, cv[ORIGINS], "allowed-origins", L_ORIGINS, &origins);
        if (!rc && !origins)
            rc = fail(l, vals[CORS] ? vals[CORS] : keys[CORS],
                      "allowed-origins is required: \"*\" or the origins pages may call from "
                      "(leave cors out for none)");
        if (!rc && cv[METHODS])
            rc = get_list(l, cv[METHODS], "allowed-methods", L_METHODS, &methods);
        if (!rc && cv[HEADERS])
            rc = get_list(l, cv[HEADERS], "allowed-headers", L_HEADERS, &headers);
        if (!rc && cv[MAX_AGE]) rc = get_uint(l, cv[MAX_AGE], "max-age", INT_MAX, &age);
        if (!rc && cv[CREDENTIALS]) rc = get_bool(l, cv[CREDENTIALS], "allow-credentials", &cred);
        /* Spring's rule: "*" with credentials would let every site call
         * with the user's cookies */
        if (!rc && cred && has_item(origins, "*")) {
            size_t m3 = push(l, "allow-credentials");
            rc = fail(l, cv[CREDENTIALS],
                      "true with allowed-origins \"*\" lets every site call with the user's "
                      "credentials: list the origins");
            pop(l, m3);
        }
        if (!rc) {
            dubbo_rest_options_t *o = rest_opts(l);
            o->cors_origins = origins;
            o->cors_methods = methods;
            o->cors_headers = headers;
            o->cors_max_age = (int)age;
            o->cors_credentials = cred;
        }
        pop(l, m2);
    }
    pop(l, m);
    return rc;
}

/* dubbo.openapi: {enabled: false}, Java's dubbo.openapi.enabled. */
static int parse_openapi(ld_t *l, yaml_node_t *map)
{
    static const char *const known[] = {"enabled"};
    yaml_node_t *k, *v;
    size_t m = push(l, "openapi");
    bool on = true;
    int rc = fields(l, map, known, 1, &k, &v);
    if (!rc && v && !(rc = get_bool(l, v, "enabled", &on))) rest_opts(l)->openapi = on;
    pop(l, m);
    return rc;
}

/* ====================================================================== *
 * Sections
 * ====================================================================== */

static int parse_application(ld_t *l, yaml_node_t *map)
{
    /* the QoS keys as Java's application config (qosEnable, qosPort,
     * qosAcceptForeignIp) and dubbo-go name them in YAML */
    static const char *const known[] = {"name",         "version",  "owner",
                                        "organization", "module",   "environment",
                                        "qos-enable",   "qos-port", "qos-accept-foreign-ip"};
    enum { NSTR = 6, QOS_ENABLE = 6, QOS_PORT, QOS_FOREIGN };
    yaml_node_t *keys[COUNT(known)], *vals[COUNT(known)];
    const char **out[] = {&l->c->app.name,         &l->c->app.version, &l->c->app.owner,
                          &l->c->app.organization, &l->c->app.module,  &l->c->app.environment};
    size_t m = push(l, "application");
    int rc = fields(l, map, known, COUNT(known), keys, vals);
    for (size_t i = 0; i < NSTR && !rc; i++)
        if (vals[i]) rc = get_str(l, vals[i], known[i], out[i]);
    l->c->app.qos_port = -1;
    if (!rc && vals[QOS_ENABLE])
        rc = get_bool(l, vals[QOS_ENABLE], "qos-enable", &l->c->app.qos_enable);
    if (!rc && vals[QOS_PORT]) {
        long port = 0;
        rc = get_uint(l, vals[QOS_PORT], "qos-port", 65535, &port);
        l->c->app.qos_port = (int)port;
    }
    if (!rc && vals[QOS_FOREIGN])
        rc = get_bool(l, vals[QOS_FOREIGN], "qos-accept-foreign-ip",
                      &l->c->app.qos_accept_foreign_ip);
    pop(l, m);
    return rc;
}

/* host, host:port, [v6] or [v6]:port in s[0..n), as dubbo_url_parse()
 * reads a URL authority (checked here without allocating). */
static bool host_port_ok(const char *s, size_t n)
{
    const char *e = s + n, *colon;
    if (n && *s == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb || rb == s + 1) return false;
        colon = rb + 1 < e ? rb + 1 : NULL;
        if (colon && *colon != ':') return false;
    } else {
        colon = memchr(s, ':', n);
        size_t hlen = (size_t)((colon ? colon : e) - s);
        if (!hlen) return false;
        for (size_t i = 0; i < hlen; i++)
            if (strchr("/?#@[]:", s[i])) return false;
    }
    if (!colon) return true;
    long port = 0;
    const char *p = colon + 1;
    if (p == e) return false;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9') return false;
        port = port * 10 + (*p - '0');
        if (port > 65535) return false;
    }
    return true;
}

/* The address may carry the scheme (dubbo-go: "zookeeper://host:port"). */
static int check_address(ld_t *l, yaml_node_t *at, dubbo_config_registry_t *r)
{
    const char *a = r->address;
    if (!*a) return fail(l, at, "is empty");
    if (strpbrk(a, "?;@ \t"))
        return fail(l, at,
                    "\"%s\": put parameters under params and credentials under "
                    "username/password",
                    a);
    if (strcmp(r->protocol, "file") == 0) {
        if (a[0] != '/' || strchr(a, ','))
            return fail(l, at, "\"%s\": a file registry's address is one absolute directory", a);
        return 0;
    }
    /* each host[:port] of a cluster */
    for (;;) {
        size_t len = strcspn(a, ",");
        if (!host_port_ok(a, len))
            return fail(l, at, "\"%s\": expected host:port[,host:port...]", r->address);
        if (!a[len]) break;
        a += len + 1;
    }
    return 0;
}

static bool scheme_name(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '+' || *s == '-' || *s == '.'))
            return false;
    return true;
}

static int parse_registry(ld_t *l, yaml_node_t *idk, yaml_node_t *map, dubbo_config_registry_t *r)
{
    enum {
        PROTOCOL,
        ADDRESS,
        TIMEOUT,
        GROUP,
        TTL,
        USERNAME,
        PASSWORD,
        NAMESPACE,
        PARAMS,
        REGMODE,
        REGTYPE,
        MIGRATION,
        N
    };
    static const char *const known[N] = {"protocol", "address",       "timeout",       "group",
                                         "ttl",      "username",      "password",      "namespace",
                                         "params",   "register-mode", "registry-type", "migration"};
    yaml_node_t *keys[N], *vals[N];
    int rc = fields(l, map, known, N, keys, vals);
    if (rc) return rc;
    const char *proto = NULL, *addr = NULL, *user = NULL, *pass = NULL;
    if (!vals[ADDRESS]) return fail(l, keys[ADDRESS] ? keys[ADDRESS] : idk, "address is required");
    if ((rc = get_str(l, vals[ADDRESS], "address", &addr))) return rc;
    if (vals[PROTOCOL] && (rc = get_str(l, vals[PROTOCOL], "protocol", &proto))) return rc;
    const char *sep = strstr(addr, "://");
    size_t m = push(l, "address");
    if (sep) {
        /* dubbo-go's "zookeeper://127.0.0.1:2181": the scheme names the protocol */
        char *scheme = dubbo_arena_strndup(l->c->arena, addr, (size_t)(sep - addr));
        if (!scheme)
            rc = nomem(l);
        else if (proto && strcmp(proto, scheme) != 0)
            rc = fail(l, vals[ADDRESS], "the scheme \"%s\" disagrees with protocol \"%s\"", scheme,
                      proto);
        proto = scheme;
        addr = sep + 3;
    }
    pop(l, m);
    if (rc) return rc;
    if (!proto)
        return fail(l, idk,
                    "protocol is required (zookeeper, etcd, nacos, file, ...), or give "
                    "the address as protocol://host:port");
    if (!scheme_name(proto)) {
        m = push(l, "protocol");
        rc = fail(l, vals[PROTOCOL] ? vals[PROTOCOL] : vals[ADDRESS],
                  "\"%s\" is not a protocol name", proto);
        pop(l, m);
        return rc;
    }
    r->protocol = proto;
    r->address = addr;
    r->timeout_ms = -1;
    m = push(l, "address");
    rc = check_address(l, vals[ADDRESS], r);
    pop(l, m);
    if (rc) return rc;

    kvs_t s = {0};
    long ms = 0;
    char num[32];
    const char *v = NULL;
    const char *comma = strchr(addr, ',');
    /* Java's form of a cluster address, which dubbo_url_parse() reads and the
     * zookeeper and etcd registries follow: the first host:port as the URL's
     * authority, the others in `backup` */
    if (comma && !(v = adup(l, comma + 1))) rc = nomem(l);
    if (comma && !rc) rc = put(l, &s, "backup", v, 1, vals[ADDRESS]);
    if (!rc && vals[TIMEOUT]) {
        rc = get_duration(l, vals[TIMEOUT], "timeout", &ms);
        snprintf(num, sizeof(num), "%ld", ms);
        if (!rc && !(v = adup(l, num))) rc = nomem(l);
        if (!rc) rc = put(l, &s, "timeout", v, 1, keys[TIMEOUT]);
        r->timeout_ms = (int)ms;
    }
    if (!rc && vals[GROUP] && !(rc = get_str(l, vals[GROUP], "group", &v)))
        rc = put(l, &s, "group", v, 1, keys[GROUP]);
    if (!rc && vals[TTL] && !(rc = get_duration(l, vals[TTL], "ttl", &ms))) {
        snprintf(num, sizeof(num), "%ld", ms);
        rc = (v = adup(l, num)) ? put(l, &s, "ttl", v, 1, keys[TTL]) : nomem(l);
    }
    if (!rc && vals[NAMESPACE] && !(rc = get_str(l, vals[NAMESPACE], "namespace", &v)))
        rc = put(l, &s, "namespace", v, 1, keys[NAMESPACE]);
    /* application-level discovery (docs/service-discovery.md): Java's
     * register-mode, dubbo-go's registry-type (service = instance), and the
     * consumer's migration step */
    if (!rc && (vals[REGMODE] || vals[REGTYPE])) {
        int k = vals[REGMODE] ? REGMODE : REGTYPE;
        rc = get_str(l, vals[k], known[k], &v);
        if (!rc && k == REGTYPE && strcmp(v, "service") == 0) v = "instance";
        if (!rc && strcmp(v, "interface") && strcmp(v, "instance") && strcmp(v, "all")) {
            size_t mk = push(l, known[k]);
            rc = fail(l, vals[k], "\"%s\" is not %s", v,
                      k == REGMODE ? "interface, instance or all" : "interface, service or all");
            pop(l, mk);
        }
        if (!rc) rc = put(l, &s, "register-mode", v, 1, keys[k]);
    }
    if (!rc && vals[MIGRATION] && !(rc = get_str(l, vals[MIGRATION], "migration", &v))) {
        if (strcmp(v, "FORCE_INTERFACE") && strcmp(v, "APPLICATION_FIRST") &&
            strcmp(v, "FORCE_APPLICATION")) {
            size_t mk = push(l, "migration");
            rc = fail(l, vals[MIGRATION],
                      "\"%s\" is not FORCE_INTERFACE, APPLICATION_FIRST or FORCE_APPLICATION", v);
            pop(l, mk);
        } else {
            rc = put(l, &s, "migration", v, 1, keys[MIGRATION]);
        }
    }
    if (!rc && vals[USERNAME]) rc = get_str(l, vals[USERNAME], "username", &user);
    if (!rc && vals[PASSWORD]) rc = get_str(l, vals[PASSWORD], "password", &pass);
    if (!rc && pass && !user) rc = fail(l, keys[PASSWORD], "password without username");
    if (!rc && vals[PARAMS]) rc = apply_params(l, vals[PARAMS], &s, 1);
    if (!rc && !(r->params = kvs_finish(l, NULL, &s))) rc = nomem(l);
    if (!rc && !(r->url = reg_url(l, r, user, pass, NULL))) rc = nomem(l);
    kvs_free(&s);
    return rc;
}

static int parse_registries(ld_t *l, yaml_node_t *map)
{
    size_t m = push(l, "registries"), n = 0;
    int rc = id_map(l, map, &n);
    if (!rc && n && !(l->c->reg = dubbo_arena_alloc(l->c->arena, n * sizeof(*l->c->reg))))
        rc = nomem(l);
    for (size_t i = 0; i < n && !rc; i++) {
        yaml_node_t *k = node(l, map->data.mapping.pairs.start[i].key);
        yaml_node_t *v = node(l, map->data.mapping.pairs.start[i].value);
        dubbo_config_registry_t *r = &l->c->reg[i];
        memset(r, 0, sizeof(*r));
        const char *id = (const char *)k->data.scalar.value;
        size_t m2 = push(l, id);
        if (!(r->id = adup(l, id))) rc = nomem(l);
        if (!rc) rc = parse_registry(l, k, v, r);
        pop(l, m2);
        if (!rc) l->c->nreg = i + 1;
    }
    pop(l, m);
    return rc;
}

/* ---- tls_config: dubbo-go's keys ---- */

/* One tls_config mapping: the files and the server name as written, NULL
 * when not set. */
typedef struct tls_conf {
    const char *ca, *cert, *key, *server_name;
    int mode;        /* a port's: DUBBO_TLS_STRICT, or `mode: permissive` */
    yaml_node_t *at; /* its key, for messages */
} tls_conf_t;

/* Where a tls_config is: dubbo.tls_config, a port's, a consumer's or a
 * reference's. */
enum { TLS_ROOT, TLS_PORT, TLS_CONSUMER };

static int tls_fail(ld_t *l, const char *key, const yaml_node_t *at, const char *msg)
{
    size_t m = push(l, key);
    int rc = fail(l, at, "%s", msg);
    pop(l, m);
    return rc;
}

static int parse_tls(ld_t *l, yaml_node_t *key, yaml_node_t *map, int where, tls_conf_t *t)
{
    enum { CA, CERT, KEY, NAME, MODE, N };
    static const char *const known[N] = {"ca-cert-file", "tls-cert-file", "tls-key-file",
                                         "tls-server-name", "mode"};
    yaml_node_t *keys[N] = {0}, *vals[N] = {0};
    memset(t, 0, sizeof(*t));
    t->mode = DUBBO_TLS_STRICT;
    t->at = key;
    size_t m = push(l, "tls_config");
    /* `mode` only where a port is configured */
    int rc = fields(l, map, known, where == TLS_CONSUMER ? N - 1 : N, keys, vals);
    const char **out[4] = {&t->ca, &t->cert, &t->key, &t->server_name};
    for (size_t i = 0; i < 4 && !rc; i++) {
        if (!vals[i]) continue;
        rc = get_str(l, vals[i], known[i], out[i]);
        if (!rc && !**out[i]) rc = tls_fail(l, known[i], vals[i], "empty (leave the key out)");
    }
    if (!rc && vals[MODE]) {
        const char *mode = NULL;
        rc = get_str(l, vals[MODE], "mode", &mode);
        if (!rc && strcmp(mode, "permissive") == 0) {
            t->mode = DUBBO_TLS_PERMISSIVE;
        } else if (!rc && strcmp(mode, "strict") != 0) {
            char msg[200];
            snprintf(msg, sizeof(msg),
                     "\"%.60s\": strict (TLS only) or permissive (TLS and plaintext)", mode);
            rc = tls_fail(l, "mode", vals[MODE], msg);
        }
    }
    if (!rc && t->key && !t->cert)
        rc = tls_fail(l, "tls-key-file", keys[KEY], "a key without tls-cert-file");
    if (!rc && where == TLS_PORT && !t->cert)
        rc = fail(l, map, "tls-cert-file is required: the certificate this port serves");
    if (!rc && where == TLS_PORT && t->server_name)
        rc = tls_fail(l, "tls-server-name", keys[NAME],
                      "a consumer's setting (the name the provider's certificate must "
                      "carry): give it in dubbo.consumer or a reference");
    if (!rc && where == TLS_ROOT && vals[MODE] && !t->cert)
        rc = tls_fail(l, "mode", keys[MODE], "mode is for a port: give tls-cert-file too");
    pop(l, m);
    return rc;
}

/* A port's TLS from its tls_config, else from dubbo.tls_config when that
 * names a certificate (dubbo-go: a server gets TLS from a certificate and
 * requires client certificates when ca-cert-file is given). */
static void port_tls(const tls_conf_t *t, dubbo_config_protocol_t *p)
{
    if (!t || !t->cert) return;
    p->tls = t->mode;
    p->tls_cert_file = t->cert;
    p->tls_key_file = t->key;
    p->tls_ca_file = t->ca;
}

/* The tls-* URL parameters of a consumer's or reference's tls_config. */
static int tls_params(ld_t *l, const tls_conf_t *t, kvs_t *s, int level)
{
    const char *const kv[] = {
        "tls",          "true", "tls-ca-cert-file", t->ca,         "tls-cert-file", t->cert,
        "tls-key-file", t->key, "tls-server-name",  t->server_name};
    size_t m = push(l, "tls_config");
    int rc = 0;
    for (size_t i = 0; i < COUNT(kv) && !rc; i += 2)
        if (kv[i + 1]) rc = put(l, s, kv[i], kv[i + 1], level, t->at);
    pop(l, m);
    return rc;
}

static int parse_protocol(ld_t *l, yaml_node_t *map, dubbo_config_protocol_t *p)
{
    enum {
        NAME,
        IP,
        HOST,
        PORT,
        THREADS,
        QUEUES,
        PAYLOAD,
        HEARTBEAT,
        DISPATCHER,
        EXT,
        REST,
        TLS,
        IOTHREADS,
        N
    };
    static const char *const known[N] = {
        "name",      "ip",         "host",         "port", "threads",    "queues",   "payload",
        "heartbeat", "dispatcher", "ext-protocol", "rest", "tls_config", "iothreads"};
    yaml_node_t *keys[N], *vals[N], *host = NULL;
    int rc = fields(l, map, known, N, keys, vals);
    if (!rc) rc = either(l, keys, vals, IP, HOST, "ip", "host", &host);
    if (rc) return rc;
    p->name = "dubbo";
    p->port = -1;
    p->heartbeat_ms = -1;
    long x = 0;
    if (vals[NAME] && (rc = get_str(l, vals[NAME], "name", &p->name))) return rc;
    if (!scheme_name(p->name)) {
        size_t m = push(l, "name");
        rc = fail(l, vals[NAME], "\"%s\" is not a protocol name", p->name);
        pop(l, m);
        return rc;
    }
    p->protocols = p->name;
    if (vals[EXT]) {
        /* Java's ext-protocol: more protocols on this port, "a,b," */
        const char *ext = NULL;
        if ((rc = get_str(l, vals[EXT], "ext-protocol", &ext))) return rc;
        char list[256];
        int w = snprintf(list, sizeof(list), "%s", p->name);
        for (const char *q = ext; *q;) {
            size_t n = strcspn(q, ",");
            char one[64];
            snprintf(one, sizeof(one), "%.*s", (int)(n < 63 ? n : 63), q);
            char *t = one; /* trim */
            while (*t == ' ')
                t++;
            for (size_t k = strlen(t); k && t[k - 1] == ' ';)
                t[--k] = '\0';
            q += n;
            if (*q == ',') q++;
            if (!*t) continue;
            if (!scheme_name(t)) {
                size_t m = push(l, "ext-protocol");
                rc = fail(l, vals[EXT], "\"%s\" is not a protocol name", t);
                pop(l, m);
                return rc;
            }
            bool dup = false; /* already in the list */
            for (const char *s = list; *s && !dup;) {
                size_t k = strcspn(s, ",");
                dup = k == strlen(t) && strncmp(s, t, k) == 0;
                s += k + (s[k] == ',');
            }
            if (!dup && w > 0 && (size_t)w < sizeof(list))
                w += snprintf(list + w, sizeof(list) - (size_t)w, ",%s", t);
        }
        if (w < 0 || (size_t)w >= sizeof(list)) {
            size_t m = push(l, "ext-protocol");
            rc = fail(l, vals[EXT], "too many protocols for one port");
            pop(l, m);
            return rc;
        }
        if (!(p->protocols = adup(l, list))) return nomem(l);
    }
    if (host && (rc = get_str(l, host, keys[IP] ? "ip" : "host", &p->host))) return rc;
    if (vals[PORT]) {
        if ((rc = get_uint(l, vals[PORT], "port", 65535, &x))) return rc;
        p->port = (int)x;
    }
    if (vals[THREADS]) {
        if ((rc = get_uint(l, vals[THREADS], "threads", 100000, &x))) return rc;
        p->threads = (int)x;
    }
    if (vals[IOTHREADS]) {
        if ((rc = get_uint(l, vals[IOTHREADS], "iothreads", 64, &x))) return rc;
        p->iothreads = (int)x;
    }
    if (vals[QUEUES]) {
        if ((rc = get_uint(l, vals[QUEUES], "queues", INT_MAX, &x))) return rc;
        p->queues = (int)x;
    }
    if (vals[PAYLOAD]) {
        if ((rc = get_uint(l, vals[PAYLOAD], "payload", INT_MAX, &x))) return rc;
        p->payload = (size_t)x;
    }
    if (vals[HEARTBEAT]) {
        if ((rc = get_duration(l, vals[HEARTBEAT], "heartbeat", &x))) return rc;
        p->heartbeat_ms = (int)x;
    }
    if (vals[DISPATCHER]) {
        const char *d = NULL;
        if ((rc = get_str(l, vals[DISPATCHER], "dispatcher", &d))) return rc;
        if (strcmp(d, "direct") == 0) {
            p->direct = true;
        } else if (strcmp(d, "all") != 0) {
            size_t m = push(l, "dispatcher");
            rc = fail(l, vals[DISPATCHER],
                      "\"%s\": dubbo-c has all (handlers on the worker pool) and direct", d);
            pop(l, m);
        }
    }
    if (!rc && vals[REST]) rc = parse_rest_settings(l, vals[REST]);
    if (!rc && vals[TLS]) {
        tls_conf_t t;
        if (!(rc = parse_tls(l, keys[TLS], vals[TLS], TLS_PORT, &t))) port_tls(&t, p);
    } else if (!rc) {
        port_tls(l->root_tls, p);
    }
    return rc;
}

static int parse_protocols(ld_t *l, yaml_node_t *map)
{
    size_t m = push(l, "protocols"), n = 0;
    int rc = id_map(l, map, &n);
    if (!rc && n && !(l->c->proto = dubbo_arena_alloc(l->c->arena, n * sizeof(*l->c->proto))))
        rc = nomem(l);
    for (size_t i = 0; i < n && !rc; i++) {
        yaml_node_t *k = node(l, map->data.mapping.pairs.start[i].key);
        yaml_node_t *v = node(l, map->data.mapping.pairs.start[i].value);
        dubbo_config_protocol_t *p = &l->c->proto[i];
        memset(p, 0, sizeof(*p));
        const char *id = (const char *)k->data.scalar.value;
        size_t m2 = push(l, id);
        if (!(p->id = adup(l, id))) rc = nomem(l);
        if (!rc) rc = parse_protocol(l, v, p);
        pop(l, m2);
        if (!rc) l->c->nproto = i + 1;
    }
    pop(l, m);
    return rc;
}

/* A protocol id that must be defined. */
static int proto_id(ld_t *l, yaml_node_t *n, const char **out)
{
    int rc = get_str(l, n, "protocol", out);
    if (rc || find_proto(l->c, *out)) return rc;
    char list[300];
    size_t m = push(l, "protocol");
    rc = fail(l, n, "no protocol \"%s\" in dubbo.protocols (defined: %s)", *out,
              id_list(l->c->nproto ? &l->c->proto[0].id : NULL, sizeof(l->c->proto[0]),
                      l->c->nproto, list, sizeof(list)));
    pop(l, m);
    return rc;
}

/* An interface name goes into URL paths and ';'-joined URL lists as is. */
static int check_iface(ld_t *l, yaml_node_t *at, const char *iface)
{
    if (*iface && !strpbrk(iface, " \t\r\n;?/&=#%,:@")) return 0;
    size_t m = push(l, "interface");
    int rc = fail(l, at, "\"%s\" is not an interface name (like org.apache.dubbo.demo.DemoService)",
                  iface);
    pop(l, m);
    return rc;
}

/* What dubbo.provider / dubbo.consumer give every service / reference. */
typedef struct {
    kvs_t params; /* level 0 */
    const char *const *regs;
    size_t nregs;
    bool has_regs;
    const char *protocol; /* provider only */
    tls_conf_t tls;       /* consumer only: dubbo.consumer.tls_config when has_tls */
    bool has_tls;
} defaults_t;

/* Fixed keys first, then the settings: the names for fields(). */
static size_t known_keys(const char **known, const char *const *fixed, size_t nfixed,
                         const setting_t *st, size_t nst)
{
    size_t n = 0;
    for (size_t i = 0; i < nfixed; i++)
        known[n++] = fixed[i];
    for (size_t i = 0; i < nst; i++)
        known[n++] = st[i].key;
    return n;
}

static int parse_service(ld_t *l, yaml_node_t *idk, yaml_node_t *map, const defaults_t *d,
                         dubbo_config_service_t *sv)
{
    enum { IFACE, VERSION, GROUP, PROTOCOL, REGISTRY, REGISTRY_IDS, METHODS, PARAMS, REST, NFIXED };
    static const char *const fixed[NFIXED] = {"interface", "version",  "group",
                                              "protocol",  "registry", "registry-ids",
                                              "methods",   "params",   "rest"};
    const char *known[MAX_FIELDS];
    size_t n = known_keys(known, fixed, NFIXED, service_settings, COUNT(service_settings));
    yaml_node_t *keys[MAX_FIELDS], *vals[MAX_FIELDS], *reg = NULL;
    int rc = fields(l, map, known, n, keys, vals);
    if (!rc) rc = either(l, keys, vals, REGISTRY, REGISTRY_IDS, "registry", "registry-ids", &reg);
    if (rc) return rc;
    if (!vals[IFACE]) return fail(l, keys[IFACE] ? keys[IFACE] : idk, "interface is required");
    if ((rc = get_str(l, vals[IFACE], "interface", &sv->interface))) return rc;
    if ((rc = check_iface(l, vals[IFACE], sv->interface))) return rc;
    sv->version = sv->group = "";
    if (vals[VERSION] && (rc = get_str(l, vals[VERSION], "version", &sv->version))) return rc;
    if (vals[GROUP] && (rc = get_str(l, vals[GROUP], "group", &sv->group))) return rc;

    if (vals[PROTOCOL]) {
        rc = proto_id(l, vals[PROTOCOL], &sv->protocol);
    } else if (d->protocol) {
        sv->protocol = d->protocol;
    } else if (l->c->nproto == 1) {
        sv->protocol = l->c->proto[0].id;
    } else if (l->c->nproto > 1) {
        char list[300];
        rc = fail(
            l, idk, "%zu protocols are defined (%s): name one with protocol:", l->c->nproto,
            id_list(&l->c->proto[0].id, sizeof(l->c->proto[0]), l->c->nproto, list, sizeof(list)));
    }
    if (rc) return rc;

    if (reg) {
        rc = reg_ids(l, reg, keys[REGISTRY] ? "registry" : "registry-ids", &sv->registries,
                     &sv->nregistries);
    } else if (d->has_regs) {
        sv->registries = d->regs;
        sv->nregistries = d->nregs;
    } else {
        rc = all_regs(l, &sv->registries, &sv->nregistries);
    }
    if (rc) return rc;

    kvs_t s = {0};
    for (size_t i = 0; i < d->params.n && !rc; i++)
        rc = put(l, &s, d->params.a[i].key, d->params.a[i].value, 0, NULL);
    if (!rc)
        rc = apply_settings(l, service_settings, COUNT(service_settings), keys + NFIXED,
                            vals + NFIXED, NULL, &s, 1);
    if (!rc && vals[METHODS])
        rc = apply_methods(l, vals[METHODS], service_method_settings,
                           COUNT(service_method_settings), &s, 1);
    if (!rc && vals[PARAMS]) rc = apply_params(l, vals[PARAMS], &s, 1);
    if (!rc && !(sv->params = kvs_finish(l, NULL, &s))) rc = nomem(l);
    kvs_free(&s);
    if (!rc && vals[REST])
        rc =
            parse_rest(l, vals[REST], sv->interface, sv->version, sv->group, &sv->rest, &sv->nrest);
    return rc;
}

static int parse_provider(ld_t *l, yaml_node_t *map)
{
    enum { SERVICES, REGISTRY, REGISTRY_IDS, PROTOCOL, PARAMS, NFIXED };
    static const char *const fixed[NFIXED] = {"services", "registry", "registry-ids", "protocol",
                                              "params"};
    const char *known[MAX_FIELDS];
    size_t n = known_keys(known, fixed, NFIXED, service_settings, COUNT(service_settings));
    yaml_node_t *keys[MAX_FIELDS], *vals[MAX_FIELDS], *reg = NULL;
    defaults_t d = {0};
    size_t m = push(l, "provider"), count = 0;
    int rc = fields(l, map, known, n, keys, vals);
    if (!rc) rc = either(l, keys, vals, REGISTRY, REGISTRY_IDS, "registry", "registry-ids", &reg);
    if (!rc && reg) {
        d.has_regs = true;
        rc = reg_ids(l, reg, keys[REGISTRY] ? "registry" : "registry-ids", &d.regs, &d.nregs);
    }
    if (!rc && vals[PROTOCOL]) rc = proto_id(l, vals[PROTOCOL], &d.protocol);
    if (!rc)
        rc = apply_settings(l, service_settings, COUNT(service_settings), keys + NFIXED,
                            vals + NFIXED, NULL, &d.params, 0);
    if (!rc && vals[PARAMS]) rc = apply_params(l, vals[PARAMS], &d.params, 0);

    yaml_node_t *svcs = vals[SERVICES];
    size_t m2 = push(l, "services");
    if (!rc) rc = id_map(l, svcs, &count);
    if (!rc && count && !(l->c->svc = dubbo_arena_alloc(l->c->arena, count * sizeof(*l->c->svc))))
        rc = nomem(l);
    for (size_t i = 0; i < count && !rc; i++) {
        yaml_node_t *k = node(l, svcs->data.mapping.pairs.start[i].key);
        yaml_node_t *v = node(l, svcs->data.mapping.pairs.start[i].value);
        dubbo_config_service_t *sv = &l->c->svc[i];
        memset(sv, 0, sizeof(*sv));
        const char *id = (const char *)k->data.scalar.value;
        size_t m3 = push(l, id);
        if (!(sv->id = adup(l, id))) rc = nomem(l);
        if (!rc) rc = parse_service(l, k, v, &d, sv);
        pop(l, m3);
        if (!rc) l->c->nsvc = i + 1;
    }
    pop(l, m2);
    kvs_free(&d.params);
    pop(l, m);
    return rc;
}

/* dubbo_url_parse(), telling out-of-memory (*oom = DUBBO_ENOMEM) from a
 * bad URL: it reports the first as a bad URL, or sets no message at all.
 * The caller's last error survives a URL that parses. */
static dubbo_url_t *parse_url(const char *s, int *oom)
{
    char saved[512];
    int code = dubbo__last_code();
    snprintf(saved, sizeof(saved), "%s", dubbo_last_error());
    dubbo__seterr(0, "%s", "");
    dubbo_url_t *u = dubbo_url_parse(s);
    *oom = !u && (!dubbo__last_code() || strstr(dubbo_last_error(), "out of memory")) ? DUBBO_ENOMEM
                                                                                      : 0;
    if (u) dubbo__seterr(code, "%s", saved);
    return u;
}

/* A reference's direct `url`: ';'-separated provider URLs, each checked,
 * each given "/<interface>" when it has no path. */
static int direct_urls(ld_t *l, yaml_node_t *at, const char *url, const char *iface,
                       const char **out)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    int rc = 0;
    size_t m = push(l, "url"), count = 0;
    for (const char *p = url; *p && !rc;) {
        size_t len = strcspn(p, ";");
        const char *s = p, *e = p + len;
        p += len + (p[len] == ';');
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (s == e) continue;
        char *one = strndup(s, (size_t)(e - s));
        if (!one) {
            rc = nomem(l);
            break;
        }
        dubbo_url_t *u = parse_url(one, &rc);
        if (rc) {
            rc = nomem(l);
        } else if (!u) {
            rc = fail(l, at, "%s", dubbo_last_error());
        } else if (!*u->host) {
            rc = fail(l, at, "\"%s\" has no host", one);
        } else {
            /* insert the path before any query: scheme://host:port/iface?k=v */
            const char *auth = strstr(one, "://") + 3;
            size_t alen = strcspn(auth, "/?");
            rc = count ? sb_add(&b, ";") : 0;
            if (!rc) rc = dubbo_buf_append(&b, one, (size_t)(auth - one) + alen);
            if (!rc && !*u->path) {
                rc = sb_add(&b, "/");
                if (!rc) rc = sb_add(&b, iface);
                if (!rc && auth[alen] == '/') alen++; /* "host:port/?k=v" */
            }
            if (!rc) rc = sb_add(&b, auth + alen);
            if (rc) rc = nomem(l);
            count++;
        }
        dubbo_url_free(u);
        free(one);
    }
    if (!rc && !count) rc = fail(l, at, "is empty");
    pop(l, m);
    *out = sb_finish(l, &b, rc);
    if (!rc && !*out) rc = nomem(l);
    return rc;
}

static int parse_reference(ld_t *l, yaml_node_t *idk, yaml_node_t *map, const defaults_t *d,
                           dubbo_config_reference_t *rf)
{
    enum { IFACE, VERSION, GROUP, URL, REGISTRY, REGISTRY_IDS, METHODS, PARAMS, REST, TLS, NFIXED };
    static const char *const fixed[NFIXED] = {"interface", "version",      "group",   "url",
                                              "registry",  "registry-ids", "methods", "params",
                                              "rest",      "tls_config"};
    const char *known[MAX_FIELDS];
    size_t n = known_keys(known, fixed, NFIXED, reference_settings, COUNT(reference_settings));
    yaml_node_t *keys[MAX_FIELDS], *vals[MAX_FIELDS], *reg = NULL;
    int rc = fields(l, map, known, n, keys, vals);
    if (!rc) rc = either(l, keys, vals, REGISTRY, REGISTRY_IDS, "registry", "registry-ids", &reg);
    if (rc) return rc;
    if (!vals[IFACE]) return fail(l, keys[IFACE] ? keys[IFACE] : idk, "interface is required");
    if ((rc = get_str(l, vals[IFACE], "interface", &rf->interface))) return rc;
    if ((rc = check_iface(l, vals[IFACE], rf->interface))) return rc;
    rf->version = rf->group = "";
    if (vals[VERSION] && (rc = get_str(l, vals[VERSION], "version", &rf->version))) return rc;
    if (vals[GROUP] && (rc = get_str(l, vals[GROUP], "group", &rf->group))) return rc;

    if (vals[URL] && reg) {
        yaml_node_t *rk = keys[REGISTRY] ? keys[REGISTRY] : keys[REGISTRY_IDS];
        size_t m = push(l, keys[REGISTRY] ? "registry" : "registry-ids");
        rc = fail(l, rk,
                  "url and registry exclude each other: providers come from one or the "
                  "other");
        pop(l, m);
        return rc;
    }
    if (vals[URL]) {
        if ((rc = get_str(l, vals[URL], "url", &rf->url))) return rc;
        if ((rc = direct_urls(l, vals[URL], rf->url, rf->interface, &rf->urls))) return rc;
        rf->registries = no_ids;
        rf->nregistries = 0;
    } else {
        if (reg) {
            rc = reg_ids(l, reg, keys[REGISTRY] ? "registry" : "registry-ids", &rf->registries,
                         &rf->nregistries);
        } else if (d->has_regs) {
            rf->registries = d->regs;
            rf->nregistries = d->nregs;
        } else {
            rc = all_regs(l, &rf->registries, &rf->nregistries);
        }
        if (rc) return rc;
        if (!rf->nregistries)
            return fail(l, reg ? reg : idk,
                        "no url and no registry to find providers in (give url, or define "
                        "dubbo.registries)");
        dubbo_buf_t b;
        dubbo_buf_init(&b, 0);
        for (size_t i = 0; i < rf->nregistries && !rc; i++) {
            const dubbo_config_registry_t *r = find_reg(l->c, rf->registries[i]);
            /* the registry URL with the interface as its path */
            const char *q = strchr(r->url, '?');
            size_t base = q ? (size_t)(q - r->url) : strlen(r->url);
            if (i) rc = sb_add(&b, ";");
            if (!rc) rc = dubbo_buf_append(&b, r->url, base);
            if (!rc) rc = sb_add(&b, "/");
            if (!rc) rc = sb_add(&b, rf->interface);
            if (!rc && q) rc = sb_add(&b, q);
        }
        if (!(rf->urls = sb_finish(l, &b, rc))) return nomem(l);
    }

    kvs_t s = {0};
    for (size_t i = 0; i < d->params.n && !rc; i++)
        rc = put(l, &s, d->params.a[i].key, d->params.a[i].value, 0, NULL);
    if (!rc)
        rc = apply_settings(l, reference_settings, COUNT(reference_settings), keys + NFIXED,
                            vals + NFIXED, NULL, &s, 1);
    if (!rc && vals[METHODS])
        rc = apply_methods(l, vals[METHODS], reference_method_settings,
                           COUNT(reference_method_settings), &s, 1);
    /* TLS: the reference's tls_config, else the consumer's, else
     * dubbo.tls_config when it names a CA (dubbo-go: a client gets TLS
     * from ca-cert-file); one of them whole, never a mix */
    if (!rc && vals[TLS]) {
        tls_conf_t t;
        rc = parse_tls(l, keys[TLS], vals[TLS], TLS_CONSUMER, &t);
        if (!rc) rc = tls_params(l, &t, &s, 1);
    } else if (!rc && d->has_tls) {
        rc = tls_params(l, &d->tls, &s, 0);
    } else if (!rc && l->root_tls && l->root_tls->ca) {
        rc = tls_params(l, l->root_tls, &s, 0);
    }
    if (!rc && vals[PARAMS]) rc = apply_params(l, vals[PARAMS], &s, 1);
    const char *pre[9];
    size_t np = 0;
    pre[np++] = "interface";
    pre[np++] = rf->interface;
    if (*rf->version) pre[np++] = "version", pre[np++] = rf->version;
    if (*rf->group) pre[np++] = "group", pre[np++] = rf->group;
    /* an `application` in params wins over the application name */
    if (l->c->app.name && !kvs_find(&s, "application"))
        pre[np++] = "application", pre[np++] = l->c->app.name;
    pre[np] = NULL;
    if (!rc && !(rf->params = kvs_finish(l, pre, &s))) rc = nomem(l);
    kvs_free(&s);
    if (!rc && vals[REST])
        rc =
            parse_rest(l, vals[REST], rf->interface, rf->version, rf->group, &rf->rest, &rf->nrest);
    return rc;
}

static int parse_consumer(ld_t *l, yaml_node_t *map)
{
    enum { REFERENCES, REGISTRY, REGISTRY_IDS, PARAMS, TLS, NFIXED };
    static const char *const fixed[NFIXED] = {"references", "registry", "registry-ids", "params",
                                              "tls_config"};
    const char *known[MAX_FIELDS];
    size_t n = known_keys(known, fixed, NFIXED, reference_settings, COUNT(reference_settings));
    yaml_node_t *keys[MAX_FIELDS], *vals[MAX_FIELDS], *reg = NULL;
    defaults_t d = {0};
    size_t m = push(l, "consumer"), count = 0;
    int rc = fields(l, map, known, n, keys, vals);
    if (!rc) rc = either(l, keys, vals, REGISTRY, REGISTRY_IDS, "registry", "registry-ids", &reg);
    if (!rc && reg) {
        d.has_regs = true;
        rc = reg_ids(l, reg, keys[REGISTRY] ? "registry" : "registry-ids", &d.regs, &d.nregs);
    }
    if (!rc)
        rc = apply_settings(l, reference_settings, COUNT(reference_settings), keys + NFIXED,
                            vals + NFIXED, NULL, &d.params, 0);
    if (!rc && vals[PARAMS]) rc = apply_params(l, vals[PARAMS], &d.params, 0);
    if (!rc && vals[TLS]) {
        rc = parse_tls(l, keys[TLS], vals[TLS], TLS_CONSUMER, &d.tls);
        d.has_tls = !rc;
    }

    yaml_node_t *refs = vals[REFERENCES];
    size_t m2 = push(l, "references");
    if (!rc) rc = id_map(l, refs, &count);
    if (!rc && count && !(l->c->ref = dubbo_arena_alloc(l->c->arena, count * sizeof(*l->c->ref))))
        rc = nomem(l);
    for (size_t i = 0; i < count && !rc; i++) {
        yaml_node_t *k = node(l, refs->data.mapping.pairs.start[i].key);
        yaml_node_t *v = node(l, refs->data.mapping.pairs.start[i].value);
        dubbo_config_reference_t *rf = &l->c->ref[i];
        memset(rf, 0, sizeof(*rf));
        const char *id = (const char *)k->data.scalar.value;
        size_t m3 = push(l, id);
        if (!(rf->id = adup(l, id))) rc = nomem(l);
        if (!rc) rc = parse_reference(l, k, v, &d, rf);
        pop(l, m3);
        if (!rc) l->c->nref = i + 1;
    }
    pop(l, m2);
    kvs_free(&d.params);
    pop(l, m);
    return rc;
}

/* ====================================================================== *
 * The document
 * ====================================================================== */

static size_t line_of_offset(const char *text, size_t off)
{
    size_t line = 0;
    for (size_t i = 0; i < off && text[i]; i++)
        line += text[i] == '\n';
    return line;
}

static int load_yaml(ld_t *l)
{
    size_t len = strlen(l->text);
    if (len > DUBBO_CONFIG_MAX_BYTES)
        return dubbo__seterr(DUBBO_EINVAL, "%s: %zu bytes, more than the limit of %zu", l->name,
                             len, DUBBO_CONFIG_MAX_BYTES);
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return nomem(l);
    yaml_parser_set_input_string(&p, (const unsigned char *)l->text, len);
    int rc = 0;
    if (!yaml_parser_load(&p, &l->doc)) {
        size_t line = p.error == YAML_READER_ERROR ? line_of_offset(l->text, p.problem_offset)
                                                   : p.problem_mark.line;
        if (p.error == YAML_MEMORY_ERROR)
            rc = nomem(l);
        else if (p.context)
            rc = dubbo__seterr(DUBBO_EINVAL, "%s:%zu: bad YAML: %s (%s at line %zu)", l->name,
                               line + 1, p.problem ? p.problem : "syntax error", p.context,
                               p.context_mark.line + 1);
        else
            rc = dubbo__seterr(DUBBO_EINVAL, "%s:%zu: bad YAML: %s", l->name, line + 1,
                               p.problem ? p.problem : "syntax error");
        yaml_parser_delete(&p);
        return rc;
    }
    l->loaded = true;
    if (yaml_document_get_root_node(&l->doc)) {
        /* a second document ("---") would be silently ignored: refuse it */
        yaml_document_t extra;
        if (yaml_parser_load(&p, &extra)) {
            yaml_node_t *root = yaml_document_get_root_node(&extra);
            if (root)
                rc = dubbo__seterr(DUBBO_EINVAL,
                                   "%s:%zu: a second YAML document; a configuration is one",
                                   l->name, (size_t)root->start_mark.line + 1);
            yaml_document_delete(&extra);
        } else if (p.error == YAML_MEMORY_ERROR) {
            rc = nomem(l);
        } else if (p.error != YAML_NO_ERROR) {
            rc = dubbo__seterr(DUBBO_EINVAL, "%s:%zu: bad YAML: %s", l->name,
                               (size_t)p.problem_mark.line + 1,
                               p.problem ? p.problem : "syntax error");
        }
    }
    yaml_parser_delete(&p);
    return rc;
}

static int parse_root(ld_t *l)
{
    yaml_node_t *root = yaml_document_get_root_node(&l->doc);
    if (!root || is_null(root))
        return fail(l, NULL, "the configuration is empty (expected a dubbo: mapping)");
    static const char *const top[] = {"dubbo"};
    yaml_node_t *tk, *tv;
    int rc = fields(l, root, top, 1, &tk, &tv);
    if (rc) return rc;
    if (!tk) return fail(l, root, "no dubbo: section");
    enum { APPLICATION, REGISTRIES, PROTOCOLS, PROVIDER, CONSUMER, OPENAPI, TLS, N };
    static const char *const known[N] = {"application", "registries", "protocols", "provider",
                                         "consumer",    "openapi",    "tls_config"};
    yaml_node_t *keys[N], *vals[N];
    tls_conf_t root_tls;
    size_t m = push(l, "dubbo");
    rc = fields(l, tv, known, N, keys, vals);
    /* in dependency order, whatever the order in the file */
    if (!rc && vals[TLS] && !(rc = parse_tls(l, keys[TLS], vals[TLS], TLS_ROOT, &root_tls)))
        l->root_tls = &root_tls;
    if (!rc) rc = parse_application(l, vals[APPLICATION]);
    if (!rc) rc = parse_registries(l, vals[REGISTRIES]);
    if (!rc) rc = parse_protocols(l, vals[PROTOCOLS]);
    if (!rc) rc = parse_provider(l, vals[PROVIDER]);
    if (!rc) rc = parse_consumer(l, vals[CONSUMER]);
    if (!rc) rc = parse_openapi(l, vals[OPENAPI]);
    l->root_tls = NULL;
    pop(l, m);
    return rc;
}

dubbo_config_t *dubbo_config_load_string(const char *yaml, const char *name_for_messages)
{
    ld_t l;
    memset(&l, 0, sizeof(l));
    l.name = name_for_messages ? name_for_messages : "config";
    if (!yaml) {
        dubbo__seterr(DUBBO_EINVAL, "%s: no text", l.name);
        return NULL;
    }
    l.text = yaml;
    l.c = calloc(1, sizeof(*l.c));
    if (!l.c || !(l.c->arena = dubbo_arena_new(0))) {
        free(l.c);
        nomem(&l);
        return NULL;
    }
    int rc = (l.c->name = adup(&l, l.name)) ? 0 : nomem(&l);
    if (!rc) rc = load_yaml(&l);
    if (!rc) rc = parse_root(&l);
    if (l.loaded) yaml_document_delete(&l.doc);
    free(l.decls);
    if (rc) {
        dubbo_config_free(l.c);
        return NULL;
    }
    return l.c;
}

dubbo_config_t *dubbo_config_load_file(const char *path)
{
    if (!path) {
        dubbo__seterr(DUBBO_EINVAL, "config: no file name");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        dubbo__seterr(-e, "%s: cannot read: %s", path, strerror(e));
        return NULL;
    }
    size_t cap = DUBBO_CONFIG_MAX_BYTES + 1;
    char *text = malloc(cap + 1);
    if (!text) {
        fclose(f);
        dubbo__seterr(DUBBO_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    size_t n = fread(text, 1, cap, f);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    dubbo_config_t *c = NULL;
    if (err) {
        dubbo__seterr(-err, "%s: cannot read: %s", path, strerror(err));
    } else if (n > DUBBO_CONFIG_MAX_BYTES) {
        dubbo__seterr(DUBBO_EINVAL, "%s: more than the limit of %zu bytes", path,
                      DUBBO_CONFIG_MAX_BYTES);
    } else if (memchr(text, '\0', n)) {
        dubbo__seterr(DUBBO_EINVAL, "%s:%zu: a NUL byte (not a text file?)", path,
                      line_of_offset(text, (size_t)((char *)memchr(text, '\0', n) - text)) + 1);
    } else {
        text[n] = '\0';
        c = dubbo_config_load_string(text, path);
    }
    free(text);
    return c;
}

void dubbo_config_free(dubbo_config_t *c)
{
    if (!c) return;
    dubbo_arena_free(c->arena);
    free(c);
}

/* ====================================================================== *
 * Accessors
 * ====================================================================== */

const char *dubbo_config_application(const dubbo_config_t *c)
{
    return c->app.name;
}

const dubbo_config_application_t *dubbo_config_application_info(const dubbo_config_t *c)
{
    return &c->app;
}

static void not_found(const dubbo_config_t *c, const char *what, const char *section,
                      const char *id, const char *const *ids, size_t stride, size_t n)
{
    char list[300];
    dubbo__seterr(DUBBO_ENOT_FOUND, "%s: no %s \"%s\" in %s (defined: %s)", c->name, what,
                  id ? id : "(null)", section, id_list(ids, stride, n, list, sizeof(list)));
}

size_t dubbo_config_registry_count(const dubbo_config_t *c)
{
    return c->nreg;
}

const dubbo_config_registry_t *dubbo_config_registry_at(const dubbo_config_t *c, size_t i)
{
    return i < c->nreg ? &c->reg[i] : NULL;
}

const dubbo_config_registry_t *dubbo_config_registry(const dubbo_config_t *c, const char *id)
{
    const dubbo_config_registry_t *r = id ? find_reg(c, id) : NULL;
    if (!r)
        not_found(c, "registry", "dubbo.registries", id, c->nreg ? &c->reg[0].id : NULL,
                  sizeof(c->reg[0]), c->nreg);
    return r;
}

size_t dubbo_config_protocol_count(const dubbo_config_t *c)
{
    return c->nproto;
}

const dubbo_config_protocol_t *dubbo_config_protocol_at(const dubbo_config_t *c, size_t i)
{
    return i < c->nproto ? &c->proto[i] : NULL;
}

const dubbo_config_protocol_t *dubbo_config_protocol(const dubbo_config_t *c, const char *id)
{
    const dubbo_config_protocol_t *p = id ? find_proto(c, id) : NULL;
    if (!p)
        not_found(c, "protocol", "dubbo.protocols", id, c->nproto ? &c->proto[0].id : NULL,
                  sizeof(c->proto[0]), c->nproto);
    return p;
}

int dubbo_config_server_options(const dubbo_config_t *c, const char *protocol_id,
                                dubbo_server_options_t *opts)
{
    dubbo_server_options_init(opts);
    const dubbo_config_protocol_t *p = NULL;
    if (protocol_id) {
        if (!(p = dubbo_config_protocol(c, protocol_id))) return DUBBO_ENOT_FOUND;
    } else if (c->nproto == 1) {
        p = &c->proto[0];
    } else if (c->nproto > 1) {
        return dubbo__seterr(DUBBO_EINVAL, "%s: %zu protocols are defined: say which one", c->name,
                             c->nproto);
    }
    if (!p) return 0;
    if (p->host) opts->host = p->host;
    opts->protocols = p->protocols;
    if (p->port >= 0) opts->port = p->port;
    if (p->threads > 0) opts->threads = p->threads;
    if (p->iothreads > 0) opts->io_threads = p->iothreads;
    if (p->queues > 0) opts->queue = p->queues;
    if (p->payload > 0) opts->payload = p->payload;
    if (p->heartbeat_ms >= 0) opts->heartbeat_ms = p->heartbeat_ms;
    opts->direct = p->direct;
    if (p->tls != DUBBO_TLS_OFF) {
        opts->tls = p->tls;
        opts->tls_cert_file = p->tls_cert_file;
        opts->tls_key_file = p->tls_key_file;
        opts->tls_ca_file = p->tls_ca_file;
        opts->tls_client_auth = p->tls_ca_file != NULL;
    }
    return 0;
}

size_t dubbo_config_service_count(const dubbo_config_t *c)
{
    return c->nsvc;
}

const dubbo_config_service_t *dubbo_config_service_at(const dubbo_config_t *c, size_t i)
{
    return i < c->nsvc ? &c->svc[i] : NULL;
}

const dubbo_config_service_t *dubbo_config_service(const dubbo_config_t *c, const char *id)
{
    for (size_t i = 0; id && i < c->nsvc; i++)
        if (strcmp(c->svc[i].id, id) == 0) return &c->svc[i];
    not_found(c, "service", "dubbo.provider.services", id, c->nsvc ? &c->svc[0].id : NULL,
              sizeof(c->svc[0]), c->nsvc);
    return NULL;
}

/* ---- REST ---- */

/* dubbo_rest_register() of one service's or reference's mappings (none:
 * nothing), its errors naming the key path. */
static int rest_register(const dubbo_config_t *c, const char *section, const char *id,
                         const char *itf, const char *ver, const char *grp,
                         const dubbo_rest_mapping_t *mappings, size_t n)
{
    if (!n) return 0;
    dubbo_rest_service_t svc = {
        .interface = itf, .version = ver, .group = grp, .mappings = mappings, .nmappings = n};
    int rc = dubbo_rest_register(&svc);
    if (!rc) return 0;
    char why[400];
    snprintf(why, sizeof(why), "%s", rc == DUBBO_ENOMEM ? "out of memory" : dubbo_last_error());
    return dubbo__seterr(rc, "%s: %s.%s.rest: %s", c->name, section, id, why);
}

/* dubbo_rest_configure() with the file's settings, when it has some. */
static int rest_configure(const dubbo_config_t *c)
{
    if (!c->has_rest_opts) return 0;
    int rc = dubbo_rest_configure(&c->rest_opts);
    if (!rc) return 0;
    char why[400];
    snprintf(why, sizeof(why), "%s", rc == DUBBO_ENOMEM ? "out of memory" : dubbo_last_error());
    return dubbo__seterr(rc, "%s: the REST settings: %s", c->name, why);
}

const dubbo_rest_options_t *dubbo_config_rest_options(const dubbo_config_t *c)
{
    return c->has_rest_opts ? &c->rest_opts : NULL;
}

int dubbo_config_apply_rest(const dubbo_config_t *c)
{
    if (!c) return dubbo__seterr(DUBBO_EINVAL, "dubbo_config_apply_rest: no config");
    int rc = rest_configure(c);
    for (size_t i = 0; i < c->nsvc && !rc; i++)
        rc = rest_register(c, "dubbo.provider.services", c->svc[i].id, c->svc[i].interface,
                           c->svc[i].version, c->svc[i].group, c->svc[i].rest, c->svc[i].nrest);
    for (size_t i = 0; i < c->nref && !rc; i++)
        rc = rest_register(c, "dubbo.consumer.references", c->ref[i].id, c->ref[i].interface,
                           c->ref[i].version, c->ref[i].group, c->ref[i].rest, c->ref[i].nrest);
    return rc;
}

int dubbo_config_bind_service(const dubbo_config_t *c, const char *service_id,
                              const dubbo_method_t *methods, size_t n, void *user,
                              dubbo_service_t *out)
{
    const dubbo_config_service_t *s = dubbo_config_service(c, service_id);
    if (!s) return DUBBO_ENOT_FOUND;
    if (!methods || !n)
        return dubbo__seterr(DUBBO_EINVAL, "%s: service %s: no methods to bind", c->name,
                             service_id);
    int rc = rest_configure(c);
    if (!rc)
        rc = rest_register(c, "dubbo.provider.services", s->id, s->interface, s->version, s->group,
                           s->rest, s->nrest);
    if (rc) return rc;
    memset(out, 0, sizeof(*out));
    out->interface = s->interface;
    out->version = s->version;
    out->group = s->group;
    out->methods = methods;
    out->nmethods = n;
    out->user = user;
    out->params = s->params;
    return 0;
}

size_t dubbo_config_reference_count(const dubbo_config_t *c)
{
    return c->nref;
}

const dubbo_config_reference_t *dubbo_config_reference_at(const dubbo_config_t *c, size_t i)
{
    return i < c->nref ? &c->ref[i] : NULL;
}

const dubbo_config_reference_t *dubbo_config_reference(const dubbo_config_t *c, const char *id)
{
    for (size_t i = 0; id && i < c->nref; i++)
        if (strcmp(c->ref[i].id, id) == 0) return &c->ref[i];
    not_found(c, "reference", "dubbo.consumer.references", id, c->nref ? &c->ref[0].id : NULL,
              sizeof(c->ref[0]), c->nref);
    return NULL;
}

const char *const *dubbo_config_reference_params(const dubbo_config_t *c, const char *ref_id)
{
    const dubbo_config_reference_t *r = dubbo_config_reference(c, ref_id);
    return r ? r->params : NULL;
}

const char *dubbo_config_reference_urls(const dubbo_config_t *c, const char *ref_id)
{
    const dubbo_config_reference_t *r = dubbo_config_reference(c, ref_id);
    return r ? r->urls : NULL;
}
