/* Dubbo 3 configurator rules in YAML (configVersion v2.7 / v3.0; Java's
 * ConfigParser, ConfiguratorConfig, ConfigItem and ConditionMatch) turned
 * into the override URLs Java makes, each with its `match`; and Java's
 * older form, a JSON array of override URLs. Errors name the rule line. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cluster/configurator/configurator.h"
#include "cluster/router/rule_yaml.h"
#include "dubbo/buf.h"

#define WHAT "configurator rule"

/* ---- the match condition ----------------------------------------------------------------- */

static int dup_str(dubbo__rule_doc_t *d, yaml_node_t *n, const char *name, char **out)
{
    const char *s = NULL;
    int rc = dubbo__rule_string(d, n, name, &s);
    if (rc || !s) return rc;
    if (!(*out = strdup(s))) return dubbo__seterr(DUBBO_ENOMEM, WHAT ": out of memory");
    return 0;
}

/* StringMatch {exact, prefix, regex, noempty, empty, wildcard} */
static int parse_str(dubbo__rule_doc_t *d, yaml_node_t *n, const char *ctx,
                     dubbo__conf_strmatch_t *m)
{
    static const char *const known[] = {"exact", "prefix", "regex", "noempty", "empty", "wildcard"};
    yaml_node_t *v[6] = {0};
    int rc = dubbo__rule_fields(d, n, ctx, known, 6, v);
    char **dst[6] = {&m->exact, &m->prefix, &m->regex, &m->noempty, &m->empty, &m->wildcard};
    for (int i = 0; !rc && i < 6; i++)
        rc = dup_str(d, v[i], known[i], dst[i]);
    if (!rc && m->regex) {
        /* Java's String.matches: the whole text */
        size_t len = strlen(m->regex) + 5;
        char *whole = malloc(len);
        regex_t *re = malloc(sizeof(*re));
        if (!whole || !re) {
            free(whole);
            free(re);
            return dubbo__seterr(DUBBO_ENOMEM, WHAT ": out of memory");
        }
        snprintf(whole, len, "^(%s)$", m->regex);
        int e = regcomp(re, whole, REG_EXTENDED | REG_NOSUB);
        free(whole);
        if (e) {
            char why[128];
            regerror(e, re, why, sizeof(why));
            free(re);
            return dubbo__rule_fail(d, v[2], "%s: bad regex \"%.100s\": %s", ctx, m->regex, why);
        }
        m->re = re;
    }
    return rc;
}

/* ListStringMatch {oneof: [StringMatch]} */
static int parse_list(dubbo__rule_doc_t *d, yaml_node_t *n, const char *ctx,
                      dubbo__conf_listmatch_t **out)
{
    static const char *const known[] = {"oneof"};
    yaml_node_t *v[1] = {0};
    int rc = dubbo__rule_fields(d, n, ctx, known, 1, v);
    if (rc) return rc;
    if (!v[0]) return dubbo__rule_fail(d, n, "%s: needs `oneof`, a list of matches", ctx);
    size_t cnt = 0;
    if ((rc = dubbo__rule_seq(d, v[0], "oneof", &cnt))) return rc;
    dubbo__conf_listmatch_t *l = calloc(1, sizeof(*l));
    if (l) l->oneof = calloc(cnt ? cnt : 1, sizeof(*l->oneof));
    if (!l || !l->oneof) {
        free(l);
        return dubbo__seterr(DUBBO_ENOMEM, WHAT ": out of memory");
    }
    *out = l;
    for (size_t i = 0; i < cnt && !rc; i++) {
        rc = parse_str(d, dubbo__rule_item(d, v[0], i), ctx, &l->oneof[i]);
        l->n++;
    }
    return rc;
}

/* AddressMatch {wildcard, cird, exact} */
static int parse_addr(dubbo__rule_doc_t *d, yaml_node_t *n, const char *ctx,
                      dubbo__conf_addrmatch_t **out)
{
    static const char *const known[] = {"wildcard", "cird", "exact"};
    yaml_node_t *v[3] = {0};
    int rc = dubbo__rule_fields(d, n, ctx, known, 3, v);
    if (rc) return rc;
    dubbo__conf_addrmatch_t *a = calloc(1, sizeof(*a));
    if (!a) return dubbo__seterr(DUBBO_ENOMEM, WHAT ": out of memory");
    *out = a;
    rc = dup_str(d, v[0], "wildcard", &a->wildcard);
    if (!rc) rc = dup_str(d, v[1], "cird", &a->cird);
    if (!rc) rc = dup_str(d, v[2], "exact", &a->exact);
    return rc;
}

/* ConditionMatch {address, providerAddress, service, app, param}; Java's
 * field is `app`, `application` is taken as the same. */
static int parse_match(dubbo__rule_doc_t *d, yaml_node_t *n, dubbo__conf_match_t **out)
{
    static const char *const known[] = {"address", "providerAddress", "service",
                                        "app",     "application",     "param"};
    yaml_node_t *v[6] = {0};
    int rc = dubbo__rule_fields(d, n, "match", known, 6, v);
    if (rc) return rc;
    if (v[3] && v[4])
        return dubbo__rule_fail(d, v[4], "match: `app` and `application` are the same field");
    dubbo__conf_match_t *m = calloc(1, sizeof(*m));
    if (!m) return dubbo__seterr(DUBBO_ENOMEM, WHAT ": out of memory");
    if (v[0]) rc = parse_addr(d, v[0], "match.address", &m->address);
    if (!rc && v[1]) rc = parse_addr(d, v[1], "match.providerAddress", &m->provider_address);
    if (!rc && v[2]) rc = parse_list(d, v[2], "match.service", &m->service);
    if (!rc && (v[3] || v[4])) rc = parse_list(d, v[3] ? v[3] : v[4], "match.app", &m->app);
    if (!rc && v[5]) {
        size_t cnt = 0;
        rc = dubbo__rule_seq(d, v[5], "match.param", &cnt);
        if (!rc && !(m->params = calloc(cnt ? cnt : 1, sizeof(*m->params))))
            rc = dubbo__seterr(DUBBO_ENOMEM, WHAT ": out of memory");
        m->has_params = !rc;
        for (size_t i = 0; i < cnt && !rc; i++) {
            static const char *const pk[] = {"key", "value"};
            yaml_node_t *pv[2] = {0};
            yaml_node_t *item = dubbo__rule_item(d, v[5], i);
            m->nparams++;
            rc = dubbo__rule_fields(d, item, "match.param", pk, 2, pv);
            if (!rc) rc = dup_str(d, pv[0], "match.param key", &m->params[i].key);
            if (!rc && !m->params[i].key)
                rc = dubbo__rule_fail(d, item, "match.param %zu: needs a `key`", i + 1);
            if (!rc && !pv[1])
                rc = dubbo__rule_fail(d, item, "match.param %zu: needs a `value` match", i + 1);
            if (!rc) {
                rc = parse_str(d, pv[1], "match.param value", &m->params[i].value);
                m->params[i].has_value = true;
            }
        }
    }
    if (rc) {
        dubbo__conf_match_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- items to URLs ------------------------------------------------------------------------- */

static int put_enc(dubbo_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || strchr("-._~*,:/", ch);
        char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
        int rc = keep ? dubbo_buf_append(b, p, 1) : dubbo_buf_append(b, e, 3);
        if (rc) return rc;
    }
    return 0;
}

static int put(dubbo_buf_t *b, const char *s)
{
    return dubbo_buf_append(b, s, strlen(s));
}

static int put_kv(dubbo_buf_t *b, const char *k, const char *v)
{
    int rc = put(b, "&");
    if (!rc) rc = put_enc(b, k);
    if (!rc) rc = put(b, "=");
    if (!rc) rc = put_enc(b, v);
    return rc;
}

/* A list of scalars (Java: String.valueOf of each item). */
static int str_list(dubbo__rule_doc_t *d, yaml_node_t *n, const char *name, const char ***out,
                    size_t *cnt)
{
    *out = NULL;
    *cnt = 0;
    if (!n) return 0;
    size_t c = 0;
    int rc = dubbo__rule_seq(d, n, name, &c);
    if (rc) return rc;
    const char **v = calloc(c ? c : 1, sizeof(*v));
    if (!v) return dubbo__seterr(DUBBO_ENOMEM, WHAT ": out of memory");
    for (size_t i = 0; i < c; i++) {
        yaml_node_t *it = dubbo__rule_item(d, n, i);
        v[i] = dubbo__rule_scalar(it);
        if (!v[i] || !*v[i]) {
            free(v);
            return dubbo__rule_fail(d, it, "%s: item %zu must be a non-empty string", name, i + 1);
        }
    }
    *out = v;
    *cnt = c;
    return 0;
}

enum { I_TYPE, I_ENABLED, I_ADDRS, I_PADDRS, I_SERVICES, I_APPS, I_PARAMS, I_MATCH, I_SIDE, I_N };

typedef struct {
    const char *version, *key, *enabled; /* enabled: "true"/"false" */
    bool app_scope;
} head_t;

/* appendService: "<iface>?[group=g&][version=v&]" */
static int put_service(dubbo_buf_t *b, const char *key)
{
    const char *slash = strchr(key, '/');
    const char *group = NULL, *iface = key;
    size_t glen = 0;
    if (slash && slash > key) {
        group = key;
        glen = (size_t)(slash - key);
        iface = slash + 1;
    }
    const char *colon = strchr(iface, ':');
    size_t ilen = colon && colon > iface ? (size_t)(colon - iface) : strlen(iface);
    int rc = dubbo_buf_append(b, iface, ilen);
    if (!rc) rc = put(b, "?");
    if (!rc && group) {
        char g[512];
        snprintf(g, sizeof(g), "%.*s", (int)glen, group);
        rc = put(b, "group=");
        if (!rc) rc = put_enc(b, g);
        if (!rc) rc = put(b, "&");
    }
    if (!rc && colon && colon > iface) {
        rc = put(b, "version=");
        if (!rc) rc = put_enc(b, colon + 1);
        if (!rc) rc = put(b, "&");
    }
    return rc;
}

/* toParameterString: category, side, the parameters, providerAddresses */
static int put_params(dubbo__rule_doc_t *d, dubbo_buf_t *b, yaml_node_t **v, const char *side,
                      const char *const *paddrs, size_t npaddrs, const char *const *addrs,
                      size_t naddrs)
{
    int rc = put(b, "category=dynamicconfigurators");
    if (!rc && side) rc = put_kv(b, "side", side);
    yaml_node_t *p = v[I_PARAMS];
    for (yaml_node_pair_t *pr = p->data.mapping.pairs.start; !rc && pr < p->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(&d->doc, pr->key);
        yaml_node_t *val = yaml_document_get_node(&d->doc, pr->value);
        const char *ks = dubbo__rule_scalar(k), *vs = dubbo__rule_scalar(val);
        if (!ks || !*ks) return dubbo__rule_fail(d, k, "parameters: a key must be a plain name");
        if (!vs) return dubbo__rule_fail(d, val, "parameters.%s: the value must be a string", ks);
        rc = put_kv(b, ks, vs);
    }
    const char *const *list = npaddrs ? paddrs : addrs;
    size_t n = npaddrs ? npaddrs : naddrs;
    /* a provider-side item names its providers by `addresses` */
    if (!rc && (npaddrs || (side && strcmp(side, "provider") == 0))) {
        rc = put(b, "&providerAddresses=");
        for (size_t i = 0; !rc && i < n; i++) {
            if (i) rc = put(b, ",");
            if (!rc) rc = put_enc(b, list[i]);
        }
    }
    return rc;
}

static int add_one(dubbo__rule_doc_t *d, dubbo__confs_t *l, dubbo_buf_t *b, yaml_node_t *match)
{
    int rc = dubbo_buf_append(b, "", 1);
    if (rc) return dubbo__seterr(DUBBO_ENOMEM, WHAT ": out of memory");
    size_t before = l->n;
    rc = dubbo__confs_add_url(l, (const char *)b->base);
    b->len--; /* the NUL again off */
    if (rc == DUBBO_ENOMEM) return rc;
    if (rc) {
        char why[400];
        snprintf(why, sizeof(why), "%s", dubbo_last_error());
        return dubbo__rule_fail(d, match, "%s", why);
    }
    if (l->n == before || !match) return 0;
    return parse_match(d, match, &l->items[l->n - 1].match);
}

static int item_urls(dubbo__rule_doc_t *d, dubbo__confs_t *l, const head_t *h, yaml_node_t *item,
                     size_t idx)
{
    static const char *const known[I_N] = {
        "type",       "enabled", "addresses", "providerAddresses", "services", "applications",
        "parameters", "match",   "side"};
    yaml_node_t *v[I_N] = {0};
    char ctx[48];
    snprintf(ctx, sizeof(ctx), "configs item %zu", idx + 1);
    int rc = dubbo__rule_fields(d, item, ctx, known, I_N, v);
    if (rc) return rc;
    const char *type = NULL, *side = NULL;
    bool ienabled = false;
    rc = dubbo__rule_string(d, v[I_TYPE], "type", &type);
    if (!rc) rc = dubbo__rule_string(d, v[I_SIDE], "side", &side);
    if (!rc) rc = dubbo__rule_bool(d, v[I_ENABLED], "enabled", &ienabled);
    if (rc) return rc;
    if (!v[I_PARAMS] || v[I_PARAMS]->type != YAML_MAPPING_NODE ||
        v[I_PARAMS]->data.mapping.pairs.start == v[I_PARAMS]->data.mapping.pairs.top)
        return dubbo__rule_fail(d, v[I_PARAMS] ? v[I_PARAMS] : item,
                                "%s: `parameters` must be a mapping with at least one parameter "
                                "to change",
                                ctx);
    if (v[I_MATCH] && v[I_MATCH]->type != YAML_MAPPING_NODE)
        return dubbo__rule_fail(d, v[I_MATCH], "%s: `match` must be a mapping", ctx);
    const char **addrs = NULL, **paddrs = NULL, **svcs = NULL, **apps = NULL;
    size_t na = 0, npa = 0, ns = 0, nap = 0;
    rc = str_list(d, v[I_ADDRS], "addresses", &addrs, &na);
    if (!rc) rc = str_list(d, v[I_PADDRS], "providerAddresses", &paddrs, &npa);
    if (!rc) rc = str_list(d, v[I_SERVICES], "services", &svcs, &ns);
    if (!rc) rc = str_list(d, v[I_APPS], "applications", &apps, &nap);
    static const char *const anyhost[] = {"0.0.0.0"};
    static const char *const anysvc[] = {"*"};
    const char *const *A = na ? addrs : anyhost;
    size_t nA = na ? na : 1;
    /* parseEnabled: the rule's, unless the item has a type other than general */
    const char *enabled = !type || strcmp(type, "general") == 0 ? h->enabled
                          : v[I_ENABLED]                        ? (ienabled ? "true" : "false")
                                                                : "null";
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    for (size_t a = 0; !rc && a < nA; a++) {
        const char *const *S = h->app_scope ? (ns ? svcs : anysvc) : &h->key;
        size_t nS = h->app_scope ? (ns ? ns : 1) : 1;
        for (size_t s = 0; !rc && s < nS; s++) {
            b.len = 0;
            rc = put(&b, "override://");
            if (!rc) rc = put(&b, A[a]);
            if (!rc) rc = put(&b, "/");
            if (!rc) rc = put_service(&b, S[s]);
            if (!rc) rc = put_params(d, &b, v, side, paddrs, npa, A, nA);
            if (rc) break;
            if (h->app_scope) {
                rc = put_kv(&b, "application", h->key);
                if (!rc) rc = put_kv(&b, "enabled", enabled);
                if (!rc) rc = put_kv(&b, "category", "appdynamicconfigurators");
                if (!rc) rc = put_kv(&b, "configVersion", h->version);
                if (!rc) rc = add_one(d, l, &b, v[I_MATCH]);
                continue;
            }
            rc = put_kv(&b, "enabled", enabled);
            if (!rc) rc = put_kv(&b, "configVersion", h->version);
            if (!rc && !nap) rc = add_one(d, l, &b, v[I_MATCH]);
            size_t base = b.len;
            for (size_t k = 0; !rc && k < nap; k++) {
                b.len = base;
                rc = put_kv(&b, "application", apps[k]);
                if (!rc) rc = add_one(d, l, &b, v[I_MATCH]);
            }
        }
    }
    if (rc == DUBBO_ENOMEM) dubbo__seterr(DUBBO_ENOMEM, WHAT ": out of memory");
    dubbo_buf_destroy(&b);
    free(addrs);
    free(paddrs);
    free(svcs);
    free(apps);
    return rc;
}

/* A refused rule leaves the list as it was (no array when it had none). */
static void drop_tail(dubbo__confs_t *l, size_t before)
{
    for (size_t i = before; i < l->n; i++) {
        dubbo_url_free(l->items[i].url);
        dubbo__conf_match_free(l->items[i].match);
    }
    l->n = before;
    if (before == 0) {
        free(l->items);
        l->items = NULL;
    }
}

/* Java's parseJsonArray: ["override://...", ...]; 1 when `text` is not one. */
static int json_url_list(dubbo__confs_t *l, const char *text)
{
    const char *p = text;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p != '[') return 1;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_array(j) || json_array_size(j) == 0) {
        json_decref(j);
        return 1;
    }
    for (size_t i = 0; i < json_array_size(j); i++)
        if (!json_is_string(json_array_get(j, i))) {
            json_decref(j);
            return 1;
        }
    int rc = 0;
    for (size_t i = 0; i < json_array_size(j) && !rc; i++)
        rc = dubbo__confs_add_url(l, json_string_value(json_array_get(j, i)));
    json_decref(j);
    return rc;
}

int dubbo__confs_add_yaml(dubbo__confs_t *l, const char *text)
{
    size_t before = l->n;
    int rc = text ? json_url_list(l, text) : 1;
    if (rc <= 0) {
        /* all or nothing */
        if (rc < 0) drop_tail(l, before);
        return rc;
    }
    dubbo__rule_doc_t d;
    rc = dubbo__rule_load(&d, WHAT, text);
    yaml_node_t *root = rc ? NULL : dubbo__rule_root(&d);
    static const char *const known[] = {"configVersion", "scope", "key", "enabled", "configs"};
    yaml_node_t *v[5] = {0};
    if (!rc) rc = dubbo__rule_fields(&d, root, "the rule", known, 5, v);
    head_t h = {0};
    const char *scope = NULL;
    bool enabled = true;
    if (!rc) rc = dubbo__rule_string(&d, v[0], "configVersion", &h.version);
    if (!rc) rc = dubbo__rule_string(&d, v[1], "scope", &scope);
    if (!rc) rc = dubbo__rule_string(&d, v[2], "key", &h.key);
    if (!rc) rc = dubbo__rule_bool(&d, v[3], "enabled", &enabled);
    if (!rc &&
        (!h.version || (strcmp(h.version, "v2.7") != 0 && strncmp(h.version, "v3.0", 4) != 0)))
        rc = dubbo__rule_fail(&d, v[0] ? v[0] : root,
                              "configVersion must be v2.7 or v3.0, not \"%s\"",
                              h.version ? h.version : "(absent)");
    if (!rc && scope && strcmp(scope, "service") != 0 && strcmp(scope, "application") != 0)
        rc = dubbo__rule_fail(&d, v[1], "scope must be service or application, not \"%s\"", scope);
    if (!rc && (!h.key || !*h.key))
        rc = dubbo__rule_fail(&d, v[2] ? v[2] : root,
                              "`key` (the application or service the rule is for) is missing");
    if (!rc && !v[4]) rc = dubbo__rule_fail(&d, root, "`configs` (a list of items) is missing");
    size_t n = 0;
    if (!rc) rc = dubbo__rule_seq(&d, v[4], "configs", &n);
    h.app_scope = scope && strcmp(scope, "application") == 0;
    h.enabled = enabled ? "true" : "false";
    for (size_t i = 0; i < n && !rc; i++)
        rc = item_urls(&d, l, &h, dubbo__rule_item(&d, v[4], i), i);
    dubbo__rule_free(&d);
    if (rc) drop_tail(l, before);
    return rc;
}
