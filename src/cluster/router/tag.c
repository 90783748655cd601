/* The tag router (Java Dubbo 3's TagStateRouter): a call carrying a tag
 * (attachment or reference parameter dubbo.tag) goes to the providers with
 * that tag, falling back to untagged providers unless dubbo.force.tag is
 * true; a call without a tag goes to untagged providers only. Providers are
 * tagged by their own URL (dubbo.tag=gray) or by a tag rule (addresses or
 * parameter matches). docs/routing.md has the rule format. */
#include <arpa/inet.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dubbo/cluster.h"
#include "cluster/router/rule_yaml.h"
#include "core/log.h"

#define TAG_KEY       "dubbo.tag"
#define FORCE_TAG_KEY "dubbo.force.tag"

/* Java's TagStateRouterFactory activation order. */
#define PRIORITY_TAG 100

/* ---- address patterns (Java's NetUtils.matchIpExpression) ---------------------------------- */

typedef enum {
    A_ANY,  /* "*", "*.*.*.*", or "0.0.0.0:port" (any host on that port) */
    A_CIDR, /* "10.0.0.0/8", "fd00::/8" */
    A_MASK, /* IPv4 with * or ranges per octet: "10.0.*.1-9" */
    A_HOST, /* one host, compared as text */
} addr_kind_t;

typedef struct {
    addr_kind_t kind;
    int port; /* -1: any port */
    int family;
    unsigned char net[16];
    int bits;
    int lo[4], hi[4];
    char *host;
} addr_pat_t;

/* One IPv4 octet pattern: "*", "n" or "a-b". */
static bool octet_pat(const char *s, size_t n, int *lo, int *hi)
{
    if (n == 1 && *s == '*') {
        *lo = 0;
        *hi = 255;
        return true;
    }
    int v[2] = {0, 0}, k = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-' && k == 0 && digits > 0) {
            k = 1;
            digits = 0;
        } else if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
            v[k] = v[k] * 10 + (s[i] - '0');
            digits++;
        } else {
            return false;
        }
    }
    if (digits == 0) return false;
    *lo = v[0];
    *hi = k ? v[1] : v[0];
    return *hi <= 255 && *lo <= *hi;
}

/* Parse an address pattern; false when it is malformed. */
static bool addr_parse(const char *pat, addr_pat_t *a)
{
    memset(a, 0, sizeof(*a));
    a->port = -1;
    if (strcmp(pat, "*") == 0 || strcmp(pat, "*.*.*.*") == 0) {
        a->kind = A_ANY;
        return true;
    }
    char buf[300];
    if (strlen(pat) >= sizeof(buf) || !*pat) return false;
    snprintf(buf, sizeof(buf), "%s", pat);
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        char *e;
        long bits = strtol(slash + 1, &e, 10);
        a->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
        int max = a->family == AF_INET6 ? 128 : 32;
        if (!slash[1] || *e || bits < 0 || bits > max || inet_pton(a->family, buf, a->net) != 1)
            return false;
        a->kind = A_CIDR;
        a->bits = (int)bits;
        return true;
    }
    /* split off the port: [v6]:port, v4-or-name:port; a bare IPv6 has no port */
    char *host = buf, *port = NULL;
    if (buf[0] == '[') {
        char *rb = strchr(buf, ']');
        if (!rb || (rb[1] && rb[1] != ':')) return false;
        *rb = '\0';
        host = buf + 1;
        if (rb[1]) port = rb + 2;
    } else {
        char *c = strchr(buf, ':');
        if (c && !strchr(c + 1, ':')) {
            *c = '\0';
            port = c + 1;
        }
    }
    if (port) {
        char *e;
        long p = strtol(port, &e, 10);
        if (!*port || *e || p < 0 || p > 65535) return false;
        a->port = (int)p;
    }
    if (!*host) return false;
    if (strcmp(host, "0.0.0.0") == 0 && port) {
        a->kind = A_ANY;
        return true;
    }
    if (strcmp(host, "*") == 0 || strcmp(host, "*.*.*.*") == 0) {
        a->kind = A_ANY;
        return true;
    }
    if (strpbrk(host, "*-") && !strchr(host, ':')) {
        /* an IPv4 mask: four octet patterns */
        const char *s = host;
        for (int i = 0; i < 4; i++) {
            size_t n = strcspn(s, ".");
            if (!octet_pat(s, n, &a->lo[i], &a->hi[i])) return false;
            s += n;
            if (i < 3 && *s++ != '.') return false;
        }
        if (*s) return false;
        a->kind = A_MASK;
        return true;
    }
    if (strchr(host, '*')) return false;
    /* something that looks like an IPv4 address must be one */
    unsigned char ip[16];
    if (strspn(host, "0123456789.") == strlen(host) && inet_pton(AF_INET, host, ip) != 1)
        return false;
    if (strchr(host, ':') && inet_pton(AF_INET6, host, ip) != 1) return false;
    a->kind = A_HOST;
    a->host = strdup(host);
    return a->host != NULL;
}

static bool addr_match(const addr_pat_t *a, const char *host, int port)
{
    if (a->port >= 0 && a->port != port) return false;
    switch (a->kind) {
    case A_ANY: return true;
    case A_HOST: return strcasecmp(a->host, host) == 0;
    case A_MASK: {
        unsigned char ip[4];
        if (inet_pton(AF_INET, host, ip) != 1) return false;
        for (int i = 0; i < 4; i++)
            if (ip[i] < a->lo[i] || ip[i] > a->hi[i]) return false;
        return true;
    }
    case A_CIDR: {
        unsigned char ip[16];
        if (inet_pton(a->family, host, ip) != 1) return false;
        int full = a->bits / 8, rest = a->bits % 8;
        if (memcmp(ip, a->net, (size_t)full) != 0) return false;
        if (rest == 0) return true;
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        return (ip[full] & mask) == (a->net[full] & mask);
    }
    }
    return false;
}

/* ---- the rule ---------------------------------------------------------------------------- */

typedef enum { SM_EXACT, SM_PREFIX, SM_REGEX, SM_WILDCARD, SM_EMPTY, SM_NOEMPTY } sm_kind_t;

typedef struct {
    char *key; /* a provider URL parameter */
    sm_kind_t kind;
    char *value;
    regex_t re;
    bool has_re;
} param_match_t;

typedef struct {
    char *name;
    addr_pat_t *addrs; /* when given, `match` is not used (as in Java) */
    size_t naddrs;
    param_match_t *match; /* all must hold */
    size_t nmatch;
} tag_t;

typedef struct {
    dubbo_router_t base;
    bool rule;  /* a rule is in force (given and enabled) */
    bool force; /* the rule's force: a tag's empty address group is final */
    char *key;  /* the provider application the rule is for, or NULL */
    tag_t *tags;
    size_t ntags;
} tag_router_t;

static void tag_destroy(dubbo_router_t *self)
{
    tag_router_t *r = (tag_router_t *)self;
    if (!r) return;
    for (size_t i = 0; i < r->ntags; i++) {
        tag_t *t = &r->tags[i];
        for (size_t j = 0; j < t->naddrs; j++)
            free(t->addrs[j].host);
        for (size_t j = 0; j < t->nmatch; j++) {
            free(t->match[j].key);
            free(t->match[j].value);
            if (t->match[j].has_re) regfree(&t->match[j].re);
        }
        free(t->addrs);
        free(t->match);
        free(t->name);
    }
    free(r->tags);
    free(r->key);
    free(r);
}

static int nomem(void)
{
    return dubbo__seterr(DUBBO_ENOMEM, "tag rule: out of memory");
}

/* value: { exact: x } (or prefix, regex, wildcard, empty, noempty), or a
 * plain string as a short form of exact. */
static int parse_string_match(dubbo__rule_doc_t *d, yaml_node_t *n, param_match_t *pm,
                              const char *ctx)
{
    if (n && n->type == YAML_SCALAR_NODE) {
        const char *s = NULL;
        int rc = dubbo__rule_string(d, n, "value", &s);
        if (rc) return rc;
        pm->kind = SM_EXACT;
        pm->value = strdup(s);
        return pm->value ? 0 : nomem();
    }
    static const char *const kinds[] = {"exact", "prefix", "regex", "wildcard", "empty", "noempty"};
    yaml_node_t *v[6];
    int rc = dubbo__rule_fields(d, n, ctx, kinds, 6, v);
    if (rc) return rc;
    int which = -1;
    for (int i = 0; i < 6; i++) {
        if (!v[i]) continue;
        if (which >= 0)
            return dubbo__rule_fail(d, v[i],
                                    "%s: give one of exact, prefix, regex, wildcard, "
                                    "empty, noempty (found %s and %s)",
                                    ctx, kinds[which], kinds[i]);
        which = i;
    }
    if (which < 0)
        return dubbo__rule_fail(d, n,
                                "%s: give one of exact, prefix, regex, wildcard, empty, "
                                "noempty",
                                ctx);
    const char *s = "";
    rc = dubbo__rule_string(d, v[which], kinds[which], &s);
    if (rc) return rc;
    pm->kind = (sm_kind_t)which;
    pm->value = strdup(s);
    if (!pm->value) return nomem();
    if (pm->kind == SM_REGEX) {
        /* Java's String.matches: the whole value must match */
        size_t len = strlen(s) + 5;
        char *anchored = malloc(len);
        if (!anchored) return nomem();
        snprintf(anchored, len, "^(%s)$", s);
        int e = regcomp(&pm->re, anchored, REG_EXTENDED | REG_NOSUB);
        free(anchored);
        if (e) {
            char why[120];
            regerror(e, &pm->re, why, sizeof(why));
            return dubbo__rule_fail(d, v[which], "%s: bad regex \"%.100s\": %s", ctx, s, why);
        }
        pm->has_re = true;
    }
    return 0;
}

static int parse_tag(dubbo__rule_doc_t *d, yaml_node_t *n, tag_t *t, size_t idx)
{
    char ctx[300];
    snprintf(ctx, sizeof(ctx), "tag %zu", idx + 1);
    static const char *const known[] = {"name", "addresses", "match"};
    yaml_node_t *v[3];
    int rc = dubbo__rule_fields(d, n, ctx, known, 3, v);
    const char *name = NULL;
    if (!rc) rc = dubbo__rule_string(d, v[0], "name", &name);
    if (rc) return rc;
    if (!name || !*name) return dubbo__rule_fail(d, n, "%s has no name", ctx);
    t->name = strdup(name);
    if (!t->name) return nomem();
    snprintf(ctx, sizeof(ctx), "tag \"%.200s\"", name);
    size_t na = 0, nm = 0;
    if ((rc = dubbo__rule_seq(d, v[1], "addresses", &na)) ||
        (rc = dubbo__rule_seq(d, v[2], "match", &nm)))
        return rc;
    t->addrs = calloc(na ? na : 1, sizeof(*t->addrs));
    t->match = calloc(nm ? nm : 1, sizeof(*t->match));
    if (!t->addrs || !t->match) return nomem();
    for (size_t i = 0; i < na; i++) {
        yaml_node_t *item = dubbo__rule_item(d, v[1], i);
        const char *s = NULL;
        if ((rc = dubbo__rule_string(d, item, "an address", &s))) return rc;
        if (!s || !addr_parse(s, &t->addrs[i]))
            return dubbo__rule_fail(d, item,
                                    "%s: bad address \"%.100s\" (expected host:port, an IPv4 "
                                    "pattern like 10.0.*.1-9, a CIDR like 10.0.0.0/8, or *)",
                                    ctx, s ? s : "");
        t->naddrs = i + 1;
    }
    for (size_t i = 0; i < nm; i++) {
        yaml_node_t *item = dubbo__rule_item(d, v[2], i);
        static const char *const mk[] = {"key", "value"};
        yaml_node_t *mv[2];
        char mctx[340];
        snprintf(mctx, sizeof(mctx), "%s match %zu", ctx, i + 1);
        const char *key = NULL;
        if ((rc = dubbo__rule_fields(d, item, mctx, mk, 2, mv)) ||
            (rc = dubbo__rule_string(d, mv[0], "key", &key)))
            return rc;
        if (!key || !*key) return dubbo__rule_fail(d, item, "%s has no key", mctx);
        if (!mv[1]) return dubbo__rule_fail(d, item, "%s has no value", mctx);
        t->nmatch = i + 1;
        t->match[i].key = strdup(key);
        if (!t->match[i].key) return nomem();
        if ((rc = parse_string_match(d, mv[1], &t->match[i], mctx))) return rc;
    }
    return 0;
}

static int load_rule(tag_router_t *r, dubbo__rule_doc_t *d, const char *text)
{
    int rc = dubbo__rule_load(d, "tag rule", text);
    if (rc) return rc;
    static const char *const known[] = {DUBBO__RULE_HEAD_NAMES, "tags"};
    yaml_node_t *v[DUBBO__RULE_HEAD_N + 1];
    rc = dubbo__rule_fields(d, dubbo__rule_root(d), "the rule", known, DUBBO__RULE_HEAD_N + 1, v);
    dubbo__rule_head_t h;
    if (!rc) rc = dubbo__rule_head(d, v, &h);
    if (rc) return rc;
    if (h.scope && strcmp(h.scope, "application") != 0)
        return dubbo__rule_fail(d, v[1], "a tag rule's scope is application, not \"%s\"", h.scope);
    yaml_node_t *tags = v[DUBBO__RULE_HEAD_N];
    size_t n = 0;
    if (!tags) return dubbo__rule_fail(d, dubbo__rule_root(d), "the rule has no \"tags:\" list");
    if ((rc = dubbo__rule_seq(d, tags, "tags", &n))) return rc;
    if (n == 0) return dubbo__rule_fail(d, tags, "tags: is empty");
    r->tags = calloc(n, sizeof(*r->tags));
    if (!r->tags) return nomem();
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = dubbo__rule_item(d, tags, i);
        r->ntags = i + 1;
        if ((rc = parse_tag(d, item, &r->tags[i], i))) return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->tags[j].name, r->tags[i].name) == 0)
                return dubbo__rule_fail(d, item, "tag \"%.200s\" is defined twice",
                                        r->tags[i].name);
    }
    if (h.key && !(r->key = strdup(h.key))) return nomem();
    r->force = h.force;
    r->rule = h.enabled;
    if (h.has_priority) r->base.priority = h.priority;
    return 0;
}

static dubbo_router_t *tag_create(const dubbo_url_t *url, const char *rule)
{
    tag_router_t *r = calloc(1, sizeof(*r));
    if (!r) {
        nomem();
        return NULL;
    }
    r->base.ops = &dubbo__router_tag;
    r->base.priority = PRIORITY_TAG;
    if (!rule) return &r->base;
    dubbo__rule_doc_t d;
    int rc = load_rule(r, &d, rule);
    dubbo__rule_free(&d);
    if (rc) {
        tag_destroy(&r->base);
        return NULL;
    }
    return &r->base;
}

/* ---- routing ------------------------------------------------------------------------------- */

static const char *attachment(const dubbo_invocation_t *inv, const char *key)
{
    for (const char *const *kv = inv ? inv->attachments : NULL; kv && kv[0] && kv[1]; kv += 2)
        if (strcmp(kv[0], key) == 0) return kv[1];
    return NULL;
}

static const char *param(const dubbo_invoker_t *i, const char *key)
{
    return i->url ? dubbo_url_param(i->url, key, NULL) : NULL;
}

static const char *static_tag(const dubbo_invoker_t *i)
{
    const char *t = param(i, TAG_KEY);
    return t && *t ? t : NULL;
}

static bool string_match(const param_match_t *pm, const char *in)
{
    if (!in) return false; /* Java's ParamMatch: a missing parameter never matches */
    switch (pm->kind) {
    case SM_EXACT: return strcmp(in, pm->value) == 0;
    case SM_PREFIX: return strncmp(in, pm->value, strlen(pm->value)) == 0;
    case SM_REGEX: return regexec(&pm->re, in, 0, NULL, 0) == 0;
    case SM_WILDCARD: return strcmp(pm->value, "*") == 0 || strcmp(in, pm->value) == 0;
    case SM_EMPTY: return !*in;
    case SM_NOEMPTY: return *in != '\0';
    }
    return false;
}

/* Does the rule put provider i in tag t? By its addresses when the tag
 * lists some, else by its parameter matches. */
static bool in_tag(const tag_t *t, const dubbo_invoker_t *i)
{
    if (t->naddrs > 0) {
        if (!i->url) return false;
        for (size_t k = 0; k < t->naddrs; k++)
            if (addr_match(&t->addrs[k], i->url->host, i->url->port)) return true;
        return false;
    }
    if (t->nmatch == 0) return false;
    for (size_t k = 0; k < t->nmatch; k++)
        if (!string_match(&t->match[k], param(i, t->match[k].key))) return false;
    return true;
}

static bool in_any_tag(const tag_router_t *r, const dubbo_invoker_t *i)
{
    for (size_t k = 0; k < r->ntags; k++)
        if (in_tag(&r->tags[k], i)) return true;
    return false;
}

/* The rule's tag for a selector, if it has providers (a tag with listed
 * addresses always counts, a tag by match when one of the providers
 * matches). "beta|team1" falls back to "beta" unless the tag is forced, as
 * Java's selectAddressByTagLevel. */
static const tag_t *select_tag(const tag_router_t *r, const char *tag, bool force_tag,
                               dubbo_invoker_t *const *in, size_t n)
{
    size_t len = strlen(tag);
    for (;;) {
        for (size_t k = 0; k < r->ntags; k++) {
            const tag_t *t = &r->tags[k];
            if (strlen(t->name) != len || strncmp(t->name, tag, len) != 0) continue;
            if (t->naddrs > 0) return t;
            for (size_t i = 0; i < n; i++)
                if (in_tag(t, in[i])) return t;
        }
        if (force_tag) return NULL;
        const char *bar = NULL;
        for (const char *p = tag; p < tag + len; p++)
            if (*p == '|') bar = p;
        if (!bar) return NULL;
        len = (size_t)(bar - tag);
    }
}

typedef enum { F_STATIC_IS, F_UNTAGGED, F_IN_TAG, F_NOT_RULE_TAGGED } filter_t;

static size_t filter(const tag_router_t *r, filter_t f, const void *arg, dubbo_invoker_t *const *in,
                     size_t n, dubbo_invoker_t **out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        bool keep = false;
        switch (f) {
        case F_STATIC_IS: {
            const char *t = static_tag(in[i]);
            keep = t && strcmp(t, (const char *)arg) == 0;
            break;
        }
        case F_UNTAGGED: keep = !static_tag(in[i]); break;
        case F_IN_TAG: keep = in_tag((const tag_t *)arg, in[i]); break;
        case F_NOT_RULE_TAGGED: keep = !in_any_tag(r, in[i]); break;
        }
        if (keep) out[m++] = in[i];
    }
    return m;
}

static bool truthy(const char *s)
{
    return s && strcasecmp(s, "true") == 0;
}

static int tag_route(dubbo_router_t *self, dubbo_invoker_t *const *in, size_t n,
                     dubbo_invoker_t **out, const dubbo_url_t *url, const dubbo_invocation_t *inv)
{
    tag_router_t *r = (tag_router_t *)self;
    if (n == 0) return 0;
    const char *tag = attachment(inv, TAG_KEY);
    if (!tag || !*tag) tag = url ? dubbo_url_param(url, TAG_KEY, NULL) : NULL;
    if (tag && !*tag) tag = NULL;
    const char *ft = attachment(inv, FORCE_TAG_KEY);
    bool force_tag = truthy(ft ? ft : url ? dubbo_url_param(url, FORCE_TAG_KEY, NULL) : NULL);

    /* A rule is for one provider application; providers of another one
     * (their `application` parameter) do not see it. */
    bool rule = r->rule;
    if (rule && r->key) {
        const char *app = param(in[0], "application");
        if (app && strcmp(app, r->key) != 0) rule = false;
    }

    size_t m;
    if (!rule) {
        /* providers' own dubbo.tag only */
        if (!tag) return (int)filter(r, F_UNTAGGED, NULL, in, n, out);
        m = filter(r, F_STATIC_IS, tag, in, n, out);
        if (m == 0 && !force_tag) m = filter(r, F_UNTAGGED, NULL, in, n, out);
        return (int)m;
    }
    if (!tag) {
        /* untagged calls: providers in no rule tag and with no tag of their own */
        m = filter(r, F_NOT_RULE_TAGGED, NULL, in, n, out);
        return (int)filter(r, F_UNTAGGED, NULL, out, m, out);
    }
    const tag_t *t = select_tag(r, tag, force_tag, in, n);
    if (t) {
        m = filter(r, F_IN_TAG, t, in, n, out);
        if (m > 0 || r->force) return (int)m;
    } else {
        m = filter(r, F_STATIC_IS, tag, in, n, out);
    }
    if (m > 0 || force_tag) return (int)m;
    DLOG_DEBUG("tag router: no provider has tag \"%s\"; using the untagged ones", tag);
    m = filter(r, F_NOT_RULE_TAGGED, NULL, in, n, out);
    return (int)filter(r, F_UNTAGGED, NULL, out, m, out);
}

const dubbo_router_ops_t dubbo__router_tag = {
    .name = "tag",
    .create = tag_create,
    .route = tag_route,
    .destroy = tag_destroy,
};
