/* REST bindings (include/dubbo/rest.h): the process-wide table of
 * services' HTTP mappings, routing a request to one, the settings, and
 * the OpenAPI 3 document made from them. One read-write lock: requests
 * route under the read lock, dubbo_rest_register takes the write lock. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/version.h"
#include "core/internal.h"
#include "protocol/rest/rest.h"

struct rest_map {
    char *method, *verb, *path, *consumes, *produces, *desc;
    dubbo_rest_param_t *params;
    size_t nparams;
    char **segs; /* the template's segments; a variable as "{name}" */
    size_t nsegs;
    int *var; /* per segment: the parameter it fills, or -1 for a literal */
    size_t literals;
};

struct rest_bind {
    char *interface, *version, *group;
    rest_map_t *maps;
    size_t nmaps;
    rest_bind_t *next;
};

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static rest_bind_t *binds;
static dubbo_rest_options_t opts = {.version = DUBBO_REST_OPTIONS_VERSION, .openapi = true};
static char *opt_strs[3];

void dubbo__rest_rdlock(void)
{
    pthread_rwlock_rdlock(&lock);
}

void dubbo__rest_unlock(void)
{
    pthread_rwlock_unlock(&lock);
}

static char *dup0(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static void map_free(rest_map_t *m)
{
    free(m->method);
    free(m->verb);
    free(m->path);
    free(m->consumes);
    free(m->produces);
    free(m->desc);
    for (size_t i = 0; i < m->nparams; i++) {
        free((char *)m->params[i].name);
        free((char *)m->params[i].type);
        free((char *)m->params[i].default_value);
    }
    free(m->params);
    for (size_t i = 0; i < m->nsegs; i++)
        free(m->segs[i]);
    free(m->segs);
    free(m->var);
}

static void bind_free(rest_bind_t *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->nmaps; i++)
        map_free(&b->maps[i]);
    free(b->maps);
    free(b->interface);
    free(b->version);
    free(b->group);
    free(b);
}

static const char *const VERBS[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", NULL};
static const char *const TYPES[] = {"string", "int", "long", "double", "boolean", "object", NULL};

static bool in_list(const char *const *l, const char *s)
{
    for (; *l; l++)
        if (strcmp(*l, s) == 0) return true;
    return false;
}

/* Every media type of a comma-separated list is one this protocol reads
 * or writes. */
static int check_media(const char *what, const char *list, const char *itf, const char *method)
{
    const char *it;
    size_t n;
    for (const char *p = list ? list : ""; dubbo__rest_list_next(&p, &it, &n);) {
        int k = dubbo__rest_media(it, n);
        if (k == REST_MEDIA_OTHER || k == REST_MEDIA_NONE || k == REST_MEDIA_PROTO)
            return dubbo__seterr(DUBBO_EINVAL,
                                 "rest: %s.%s: %s media type \"%.*s\" is not one of "
                                 "application/json, text/plain, application/xml, text/xml, "
                                 "application/x-www-form-urlencoded, text/html",
                                 itf, method, what, (int)n, it);
    }
    return 0;
}

static int map_init(rest_map_t *m, const dubbo_rest_mapping_t *src, const char *itf)
{
    const char *mn = src->method ? src->method : "";
    if (!*mn) return dubbo__seterr(DUBBO_EINVAL, "rest: %s: a mapping without a method", itf);
    if (!src->verb || !in_list(VERBS, src->verb))
        return dubbo__seterr(
            DUBBO_EINVAL, "rest: %s.%s: verb \"%s\" is not GET, POST, PUT, DELETE, PATCH or HEAD",
            itf, mn, src->verb ? src->verb : "(none)");
    if (!src->path || src->path[0] != '/')
        return dubbo__seterr(DUBBO_EINVAL, "rest: %s.%s: path \"%s\" does not start with /", itf,
                             mn, src->path ? src->path : "(none)");
    int rc = check_media("consumes", src->consumes, itf, mn);
    if (!rc) rc = check_media("produces", src->produces, itf, mn);
    if (rc) return rc;
    m->method = strdup(mn);
    m->verb = strdup(src->verb);
    m->path = strdup(src->path);
    m->consumes = dup0(src->consumes);
    m->produces = dup0(src->produces);
    m->desc = dup0(src->desc);
    if (!m->method || !m->verb || !m->path) return DUBBO_ENOMEM;
    size_t bodies = 0, forms = 0;
    if (src->nparams) {
        m->params = calloc(src->nparams, sizeof(*m->params));
        if (!m->params) return DUBBO_ENOMEM;
    }
    for (size_t i = 0; i < src->nparams; i++) {
        const dubbo_rest_param_t *p = &src->params[i];
        m->nparams++;
        if (p->from < DUBBO_REST_PATH || p->from > DUBBO_REST_BODY)
            return dubbo__seterr(DUBBO_EINVAL,
                                 "rest: %s.%s: parameter %zu has an unknown source %d", itf, mn, i,
                                 (int)p->from);
        if (p->from != DUBBO_REST_BODY && (!p->name || !*p->name))
            return dubbo__seterr(DUBBO_EINVAL, "rest: %s.%s: parameter %zu has no name", itf, mn,
                                 i);
        if (p->type && !in_list(TYPES, p->type))
            return dubbo__seterr(DUBBO_EINVAL,
                                 "rest: %s.%s: parameter %zu has type \"%s\" (string, int, long, "
                                 "double, boolean or object)",
                                 itf, mn, i, p->type);
        bodies += p->from == DUBBO_REST_BODY;
        forms += p->from == DUBBO_REST_FORM;
        m->params[i].from = p->from;
        m->params[i].name = dup0(p->name);
        m->params[i].type = dup0(p->type);
        m->params[i].default_value = p->default_value ? strdup(p->default_value) : NULL;
        if ((p->name && *p->name && !m->params[i].name) ||
            (p->type && *p->type && !m->params[i].type) ||
            (p->default_value && !m->params[i].default_value))
            return DUBBO_ENOMEM;
    }
    if (bodies > 1)
        return dubbo__seterr(DUBBO_EINVAL, "rest: %s.%s: two parameters take the body", itf, mn);
    if (bodies && forms)
        return dubbo__seterr(DUBBO_EINVAL,
                             "rest: %s.%s: a body parameter and form parameters together", itf, mn);
    /* segments */
    size_t cap = 1;
    for (const char *q = m->path; *q; q++)
        cap += *q == '/';
    m->segs = calloc(cap, sizeof(*m->segs));
    m->var = calloc(cap, sizeof(*m->var));
    if (!m->segs || !m->var) return DUBBO_ENOMEM;
    const char *q = m->path + 1;
    while (*q) {
        const char *e = strchr(q, '/');
        size_t n = e ? (size_t)(e - q) : strlen(q);
        if (n) {
            char *s = strndup(q, n);
            if (!s) return DUBBO_ENOMEM;
            m->segs[m->nsegs] = s;
            m->var[m->nsegs++] = -1;
            if (n >= 2 && s[0] == '{' && s[n - 1] == '}') {
                int found = -1;
                for (size_t i = 0; i < m->nparams; i++)
                    if (m->params[i].from == DUBBO_REST_PATH &&
                        strlen(m->params[i].name) == n - 2 &&
                        memcmp(m->params[i].name, s + 1, n - 2) == 0)
                        found = (int)i;
                if (found < 0)
                    return dubbo__seterr(DUBBO_EINVAL,
                                         "rest: %s.%s: path variable %s of \"%s\" is taken by no "
                                         "parameter",
                                         itf, mn, s, m->path);
                m->var[m->nsegs - 1] = found;
            } else {
                m->literals++;
            }
        }
        if (!e) break;
        q = e + 1;
    }
    for (size_t i = 0; i < m->nparams; i++) {
        if (m->params[i].from != DUBBO_REST_PATH) continue;
        bool used = false;
        for (size_t k = 0; k < m->nsegs; k++)
            used |= m->var[k] == (int)i;
        if (!used)
            return dubbo__seterr(DUBBO_EINVAL,
                                 "rest: %s.%s: path parameter \"%s\" is not in \"%s\"", itf, mn,
                                 m->params[i].name, m->path);
    }
    return 0;
}

int dubbo_rest_register(const dubbo_rest_service_t *svc)
{
    if (!svc || !svc->interface || !*svc->interface)
        return dubbo__seterr(DUBBO_EINVAL, "dubbo_rest_register: no interface");
    rest_bind_t *b = calloc(1, sizeof(*b));
    if (!b) return DUBBO_ENOMEM;
    int rc = 0;
    b->interface = strdup(svc->interface);
    b->version = dup0(svc->version);
    b->group = dup0(svc->group);
    if (!b->interface) rc = DUBBO_ENOMEM;
    if (!rc && svc->nmappings && !(b->maps = calloc(svc->nmappings, sizeof(*b->maps))))
        rc = DUBBO_ENOMEM;
    for (size_t i = 0; !rc && i < svc->nmappings; i++) {
        b->nmaps++;
        rc = map_init(&b->maps[i], &svc->mappings[i], svc->interface);
    }
    if (rc) {
        bind_free(b);
        return rc;
    }
    pthread_rwlock_wrlock(&lock);
    rest_bind_t **pp = &binds, *old = NULL;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->interface, b->interface) == 0 && same((*pp)->version, b->version) &&
            same((*pp)->group, b->group)) {
            old = *pp;
            *pp = old->next;
            break;
        }
    b->next = binds;
    binds = b;
    pthread_rwlock_unlock(&lock);
    bind_free(old);
    return 0;
}

void dubbo_rest_options_init(dubbo_rest_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->version = DUBBO_REST_OPTIONS_VERSION;
    o->openapi = true;
}

int dubbo_rest_configure(const dubbo_rest_options_t *o)
{
    if (!o || o->version != DUBBO_REST_OPTIONS_VERSION)
        return dubbo__seterr(DUBBO_EINVAL, "dubbo_rest_configure: options version %d (expected %d)",
                             o ? o->version : 0, DUBBO_REST_OPTIONS_VERSION);
    char *s[3] = {dup0(o->cors_origins), dup0(o->cors_methods), dup0(o->cors_headers)};
    if ((o->cors_origins && *o->cors_origins && !s[0]) ||
        (o->cors_methods && *o->cors_methods && !s[1]) ||
        (o->cors_headers && *o->cors_headers && !s[2])) {
        for (int i = 0; i < 3; i++)
            free(s[i]);
        return DUBBO_ENOMEM;
    }
    pthread_rwlock_wrlock(&lock);
    char *old[3] = {opt_strs[0], opt_strs[1], opt_strs[2]};
    opts = *o;
    opts.cors_origins = opt_strs[0] = s[0];
    opts.cors_methods = opt_strs[1] = s[1];
    opts.cors_headers = opt_strs[2] = s[2];
    pthread_rwlock_unlock(&lock);
    for (int i = 0; i < 3; i++)
        free(old[i]);
    return 0;
}

static const char *adup(dubbo_arena_t *a, const char *s)
{
    return s ? dubbo_arena_strndup(a, s, strlen(s)) : NULL;
}

void dubbo__rest_options(dubbo_arena_t *a, dubbo_rest_options_t *o)
{
    pthread_rwlock_rdlock(&lock);
    *o = opts;
    o->cors_origins = adup(a, opts.cors_origins);
    o->cors_methods = adup(a, opts.cors_methods);
    o->cors_headers = adup(a, opts.cors_headers);
    pthread_rwlock_unlock(&lock);
}

static void add_allow(char *allow, size_t cap, const char *verb)
{
    size_t vl = strlen(verb), n = strlen(allow);
    for (const char *p = allow; (p = strstr(p, verb)); p += vl)
        if ((p == allow || p[-1] == ' ') && (p[vl] == ',' || !p[vl])) return;
    if (n + vl + 3 < cap) snprintf(allow + n, cap - n, "%s%s", n ? ", " : "", verb);
}

int dubbo__rest_route(const char *verb, const char *const *segs, const size_t *lens, size_t nsegs,
                      bool (*exported)(void *ctx, const char *itf, const char *ver,
                                       const char *grp),
                      void *ctx, rest_route_t *r)
{
    r->bind = NULL;
    r->map = NULL;
    r->allow[0] = 0;
    size_t best = 0;
    for (const rest_bind_t *b = binds; b; b = b->next) {
        bool checked = false, on = false;
        for (size_t i = 0; i < b->nmaps; i++) {
            const rest_map_t *m = &b->maps[i];
            if (m->nsegs != nsegs || nsegs > 32) continue;
            bool ok = true;
            for (size_t k = 0; ok && k < nsegs; k++)
                if (m->var[k] < 0)
                    ok = strlen(m->segs[k]) == lens[k] && memcmp(m->segs[k], segs[k], lens[k]) == 0;
                else
                    ok = lens[k] > 0;
            if (!ok) continue;
            if (!checked) {
                on = exported(ctx, b->interface, b->version, b->group);
                checked = true;
            }
            if (!on) break;
            bool verb_ok = strcmp(m->verb, verb) == 0 ||
                           (strcmp(verb, "HEAD") == 0 && strcmp(m->verb, "GET") == 0);
            if (!verb_ok) {
                add_allow(r->allow, sizeof(r->allow), m->verb);
                continue;
            }
            if (r->map && m->literals + 1 <= best) continue;
            best = m->literals + 1;
            r->bind = b;
            r->map = m;
            for (size_t k = 0; k < nsegs; k++) {
                r->vars[k] = m->var[k] >= 0 ? segs[k] : NULL;
                r->vlens[k] = lens[k];
            }
        }
    }
    if (r->map) {
        /* the variables by parameter index, for the caller */
        const char *v[32] = {0};
        size_t l[32] = {0};
        for (size_t k = 0; k < nsegs; k++)
            if (r->map->var[k] >= 0 && r->map->var[k] < 32) {
                v[r->map->var[k]] = r->vars[k];
                l[r->map->var[k]] = r->vlens[k];
            }
        memcpy(r->vars, v, sizeof(v));
        memcpy(r->vlens, l, sizeof(l));
    }
    return r->map != NULL;
}

const rest_bind_t *dubbo__rest_find(const char *itf, const char *ver, const char *grp)
{
    for (const rest_bind_t *b = binds; b; b = b->next)
        if (strcmp(b->interface, itf) == 0 && same(b->version, ver) && same(b->group, grp))
            return b;
    /* a binding without version/group serves every version and group */
    for (const rest_bind_t *b = binds; b; b = b->next)
        if (strcmp(b->interface, itf) == 0 && !b->version && !b->group) return b;
    return NULL;
}

const rest_map_t *dubbo__rest_find_method(const rest_bind_t *b, const char *method)
{
    for (size_t i = 0; b && i < b->nmaps; i++)
        if (strcmp(b->maps[i].method, method) == 0) return &b->maps[i];
    return NULL;
}

void dubbo__rest_bind_info(const rest_bind_t *b, rest_bind_info_t *out)
{
    out->interface = b->interface;
    out->version = b->version;
    out->group = b->group;
}

void dubbo__rest_map_info(const rest_map_t *m, rest_map_info_t *out)
{
    out->method = m->method;
    out->verb = m->verb;
    out->path = m->path;
    out->consumes = m->consumes;
    out->produces = m->produces;
    out->desc = m->desc;
    out->params = m->params;
    out->nparams = m->nparams;
}

/* ---- OpenAPI 3 ---------------------------------------------------------- */

static int puts_(dubbo_buf_t *o, const char *s)
{
    return dubbo_buf_append(o, s, strlen(s));
}

static const char *schema_of(const char *type)
{
    if (!type || strcmp(type, "string") == 0) return "{\"type\":\"string\"}";
    if (strcmp(type, "int") == 0) return "{\"type\":\"integer\",\"format\":\"int32\"}";
    if (strcmp(type, "long") == 0) return "{\"type\":\"integer\",\"format\":\"int64\"}";
    if (strcmp(type, "double") == 0) return "{\"type\":\"number\",\"format\":\"double\"}";
    if (strcmp(type, "boolean") == 0) return "{\"type\":\"boolean\"}";
    return "{}";
}

static int media_list(dubbo_buf_t *o, const char *list, const char *deflt, const char *schema)
{
    int rc = puts_(o, "{");
    const char *it;
    size_t n;
    bool first = true;
    for (const char *p = list ? list : deflt; !rc && dubbo__rest_list_next(&p, &it, &n);) {
        if (!first) rc = puts_(o, ",");
        if (!rc) rc = dubbo__rest_put_json_string(o, it, n);
        if (!rc) rc = puts_(o, ":{\"schema\":");
        if (!rc) rc = puts_(o, schema);
        if (!rc) rc = puts_(o, "}");
        first = false;
    }
    return rc ? rc : puts_(o, "}");
}

static int openapi_op(dubbo_buf_t *o, const rest_bind_t *b, const rest_map_t *m)
{
    static const char *const IN[] = {"", "path", "query", "header", "form", "body"};
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", m->verb);
    for (char *v = buf; *v; v++)
        *v = (char)(*v - 'A' + 'a');
    int rc = dubbo__rest_put_json_string(o, buf, strlen(buf));
    if (!rc) rc = puts_(o, ":{\"operationId\":");
    snprintf(buf, sizeof(buf), "%s.%s", b->interface, m->method);
    if (!rc) rc = dubbo__rest_put_json_string(o, buf, strlen(buf));
    if (!rc) rc = puts_(o, ",\"tags\":[");
    if (!rc) rc = dubbo__rest_put_json_string(o, b->interface, strlen(b->interface));
    if (!rc) rc = puts_(o, "],\"parameters\":[");
    bool first = true, body = false, form = false;
    for (size_t i = 0; !rc && i < m->nparams; i++) {
        const dubbo_rest_param_t *p = &m->params[i];
        if (p->from == DUBBO_REST_BODY) body = true;
        if (p->from == DUBBO_REST_FORM) form = true;
        if (p->from == DUBBO_REST_BODY || p->from == DUBBO_REST_FORM) continue;
        if (!first) rc = puts_(o, ",");
        first = false;
        if (!rc) rc = puts_(o, "{\"name\":");
        if (!rc) rc = dubbo__rest_put_json_string(o, p->name, strlen(p->name));
        snprintf(buf, sizeof(buf), ",\"in\":\"%s\",\"required\":%s,\"schema\":%s}", IN[p->from],
                 p->from == DUBBO_REST_PATH || !p->default_value ? "true" : "false",
                 schema_of(p->type));
        if (!rc) rc = puts_(o, buf);
    }
    if (!rc) rc = puts_(o, "]");
    if (!rc && body) {
        const char *type = NULL;
        for (size_t i = 0; i < m->nparams; i++)
            if (m->params[i].from == DUBBO_REST_BODY) type = m->params[i].type;
        rc = puts_(o, ",\"requestBody\":{\"content\":");
        if (!rc)
            rc = media_list(o, m->consumes, "application/json,text/plain,application/xml",
                            schema_of(type));
        if (!rc) rc = puts_(o, "}");
    }
    if (!rc && form) {
        rc = puts_(o, ",\"requestBody\":{\"content\":{\"application/x-www-form-urlencoded\":"
                      "{\"schema\":{\"type\":\"object\",\"properties\":{");
        bool f1 = true;
        for (size_t i = 0; !rc && i < m->nparams; i++) {
            const dubbo_rest_param_t *p = &m->params[i];
            if (p->from != DUBBO_REST_FORM) continue;
            if (!f1) rc = puts_(o, ",");
            f1 = false;
            if (!rc) rc = dubbo__rest_put_json_string(o, p->name, strlen(p->name));
            if (!rc) rc = puts_(o, ":");
            if (!rc) rc = puts_(o, schema_of(p->type));
        }
        if (!rc) rc = puts_(o, "}}}}}");
    }
    if (!rc)
        rc = puts_(o,
                   ",\"responses\":{\"200\":{\"description\":\"the method's result\",\"content\":");
    if (!rc) rc = media_list(o, m->produces, "application/json,text/plain,application/xml", "{}");
    if (!rc)
        rc = puts_(
            o, "},\"400\":{\"description\":\"an argument did not convert\"},"
               "\"500\":{\"description\":\"the method threw: {status, message, exception}\"}}}");
    return rc;
}

int dubbo__rest_openapi(dubbo_buf_t *o, const char *server,
                        bool (*exported)(void *ctx, const char *itf, const char *ver,
                                         const char *grp),
                        void *ctx)
{
    int rc = puts_(o, "{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"dubbo-c REST services\","
                      "\"version\":\"");
    if (!rc) rc = puts_(o, dubbo_version());
    if (!rc) rc = puts_(o, "\"},\"servers\":[{\"url\":");
    if (!rc) rc = dubbo__rest_put_json_string(o, server, strlen(server));
    if (!rc) rc = puts_(o, "}],\"paths\":{");
    pthread_rwlock_rdlock(&lock);
    /* one path item per template, its operations from every binding */
    bool first = true;
    for (const rest_bind_t *b = binds; !rc && b; b = b->next) {
        if (!exported(ctx, b->interface, b->version, b->group)) continue;
        for (size_t i = 0; !rc && i < b->nmaps; i++) {
            const rest_map_t *m = &b->maps[i];
            /* a template already written by an earlier mapping: skip here */
            bool seen = false;
            for (const rest_bind_t *b2 = binds; b2 && !seen; b2 = b2->next) {
                if (!exported(ctx, b2->interface, b2->version, b2->group)) continue;
                for (size_t k = 0; k < b2->nmaps && !seen; k++) {
                    if (b2 == b && k == i) break;
                    seen = strcmp(b2->maps[k].path, m->path) == 0;
                }
                if (b2 == b) break;
            }
            if (seen) continue;
            if (!first) rc = puts_(o, ",");
            first = false;
            if (!rc) rc = dubbo__rest_put_json_string(o, m->path, strlen(m->path));
            if (!rc) rc = puts_(o, ":{");
            bool op1 = true;
            for (const rest_bind_t *b2 = b; !rc && b2; b2 = b2->next) {
                if (b2 != b && !exported(ctx, b2->interface, b2->version, b2->group)) continue;
                for (size_t k = 0; !rc && k < b2->nmaps; k++) {
                    if (strcmp(b2->maps[k].path, m->path) != 0) continue;
                    if (!op1) rc = puts_(o, ",");
                    op1 = false;
                    if (!rc) rc = openapi_op(o, b2, &b2->maps[k]);
                }
            }
            if (!rc) rc = puts_(o, "}");
        }
    }
    pthread_rwlock_unlock(&lock);
    if (!rc) rc = puts_(o, "}}");
    return rc;
}
