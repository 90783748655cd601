/* The condition router (Java Dubbo 3's ConditionStateRouter with the v3.0
 * rule format): each condition "when => then" sends the calls matching
 * `when` to the providers matching `then`. docs/routing.md has the rule
 * format; here are the parser and the matching. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/cluster.h"
#include "cluster/router/rule_yaml.h"
#include "core/log.h"

/* Default priorities: Java's activation order of ServiceStateRouter and
 * AppStateRouter (the tag router is 100). */
#define PRIORITY_SERVICE     140
#define PRIORITY_APPLICATION 150

typedef enum {
    K_PARAM,    /* a URL parameter */
    K_METHOD,   /* the invocation's method (when side) */
    K_ARG,      /* arguments[N] (when side) */
    K_ATTACH,   /* attachments[name] (when side) */
    K_HOST,     /* the URL's host */
    K_PORT,     /* its port */
    K_ADDRESS,  /* host:port */
    K_PROTOCOL, /* its protocol */
    K_PATH,     /* its path (the interface) */
} key_kind_t;

typedef struct {
    char *text; /* as written: a glob ("10.0.*"), "$param", or a range "a~b" */
    bool range;
    bool has_lo, has_hi;
    long long lo, hi;
} pattern_t;

typedef struct {
    key_kind_t kind;
    char *name;  /* the key as written */
    char *aname; /* K_ATTACH: the attachment's name */
    long index;  /* K_ARG */
    pattern_t *match, *mismatch;
    size_t nmatch, nmismatch;
} matcher_t;

typedef struct {
    char *text; /* the condition as written, for logs */
    int line;
    matcher_t *when, *then;
    size_t nwhen, nthen; /* nwhen == 0: every call */
    bool blacklist;      /* empty (or "false") then: no provider */
} condition_t;

typedef struct {
    dubbo_router_t base;
    bool active; /* enabled, and the key is this reference's */
    bool force;
    condition_t *conds;
    size_t nconds;
} cond_router_t;

/* ---- cleanup ------------------------------------------------------------------------ */

static void matchers_free(matcher_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < m[i].nmatch; j++)
            free(m[i].match[j].text);
        for (size_t j = 0; j < m[i].nmismatch; j++)
            free(m[i].mismatch[j].text);
        free(m[i].match);
        free(m[i].mismatch);
        free(m[i].name);
        free(m[i].aname);
    }
    free(m);
}

static void cond_destroy(dubbo_router_t *self)
{
    cond_router_t *r = (cond_router_t *)self;
    if (!r) return;
    for (size_t i = 0; i < r->nconds; i++) {
        matchers_free(r->conds[i].when, r->conds[i].nwhen);
        matchers_free(r->conds[i].then, r->conds[i].nthen);
        free(r->conds[i].text);
    }
    free(r->conds);
    free(r);
}

/* ---- parsing one condition ------------------------------------------------------------- */

/* Characters that make up operators; keys and values are runs of others. */
#define OP_CHARS "&!=,<>"

typedef struct {
    dubbo__rule_doc_t *doc;
    yaml_node_t *node; /* the condition's node, for its line */
    const char *cond;  /* the whole condition, quoted in messages */
    int rc;
} parse_t;

static int perr(parse_t *p, const char *fmt, ...) DUBBO__PRINTF(2, 3);
static int perr(parse_t *p, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->rc = dubbo__rule_fail(p->doc, p->node, "%s in \"%.200s\"", msg, p->cond);
    return p->rc;
}

static int nomem(parse_t *p)
{
    return p->rc = dubbo__seterr(DUBBO_ENOMEM, "condition rule: out of memory");
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_op(char c)
{
    return c && strchr(OP_CHARS, c) != NULL;
}

/* The next token of s..end: a run of operator characters or a word (a run
 * of anything else but spaces); its length in *n (0 at the end). */
static const char *token(const char *s, const char *end, size_t *n, bool *op)
{
    while (s < end && is_space(*s))
        s++;
    const char *t = s;
    *op = t < end && is_op(*t);
    while (t < end && !is_space(*t) && is_op(*t) == *op)
        t++;
    *n = (size_t)(t - s);
    return s;
}

static int parse_pattern(parse_t *p, pattern_t *pt, const char *s, size_t n)
{
    pt->text = strndup(s, n);
    if (!pt->text) return nomem(p);
    if (strcmp(pt->text, "$") == 0)
        return perr(p, "\"$\" needs the name of a consumer parameter (\"$region\")");
    char *tilde = strchr(pt->text, '~');
    if (!tilde) return 0;
    /* a numeric range: a~b, ~b or a~ (Java's RangeValuePattern) */
    pt->range = true;
    char *e;
    if (tilde != pt->text) {
        errno = 0;
        pt->lo = strtoll(pt->text, &e, 10);
        if (e != tilde || errno)
            return perr(p, "bad range \"%s\": the bounds must be integers", pt->text);
        pt->has_lo = true;
    }
    if (tilde[1]) {
        errno = 0;
        pt->hi = strtoll(tilde + 1, &e, 10);
        if (*e || errno) return perr(p, "bad range \"%s\": the bounds must be integers", pt->text);
        pt->has_hi = true;
    }
    if (!pt->has_lo && !pt->has_hi)
        return perr(p, "bad range \"%s\": give a bound (a~b, a~ or ~b)", pt->text);
    if (pt->has_lo && pt->has_hi && pt->lo > pt->hi)
        return perr(p, "bad range \"%s\": the low bound is above the high one", pt->text);
    return 0;
}

static int classify_key(parse_t *p, matcher_t *m, bool when)
{
    const char *k = m->name;
    m->kind = K_PARAM;
    bool arg = strncmp(k, "arguments[", 10) == 0, att = strncmp(k, "attachments[", 12) == 0;
    if (arg || att) {
        const char *in = k + (arg ? 10 : 12);
        const char *close = strchr(in, ']');
        if (!close || close[1] || close == in)
            return perr(p, "bad key \"%s\": write %s", k,
                        arg ? "arguments[N] with N a number" : "attachments[name]");
        if (!when)
            return perr(p, "\"%s\" is a property of the call: it can only be tested before =>", k);
        if (att) {
            m->kind = K_ATTACH;
            m->aname = strndup(in, (size_t)(close - in));
            return m->aname ? 0 : nomem(p);
        }
        char *e;
        errno = 0;
        m->index = strtol(in, &e, 10);
        if (e != close || errno || *in < '0' || *in > '9')
            return perr(p, "bad key \"%s\": write arguments[N] with N a number", k);
        m->kind = K_ARG;
    } else if (when && (strcmp(k, "method") == 0 || strcmp(k, "methods") == 0)) {
        m->kind = K_METHOD;
    } else if (strcmp(k, "host") == 0) {
        m->kind = K_HOST;
    } else if (strcmp(k, "port") == 0) {
        m->kind = K_PORT;
    } else if (strcmp(k, "address") == 0) {
        m->kind = K_ADDRESS;
    } else if (strcmp(k, "protocol") == 0) {
        m->kind = K_PROTOCOL;
    } else if (strcmp(k, "path") == 0) {
        m->kind = K_PATH;
    }
    return 0;
}

static int push_pattern(parse_t *p, pattern_t **arr, size_t *n, const char *s, size_t len)
{
    pattern_t *na = realloc(*arr, (*n + 1) * sizeof(*na));
    if (!na) return nomem(p);
    *arr = na;
    memset(&na[*n], 0, sizeof(*na));
    (*n)++;
    return parse_pattern(p, &na[*n - 1], s, len);
}

/* Parse one side, "key op v1,v2 & key op v ...", into matchers (all must
 * hold). The same key twice adds to one matcher, as in Java, so
 * "method = a & method = b" means a or b. */
static int parse_side(parse_t *p, const char *s, const char *end, bool when, matcher_t **out,
                      size_t *nout)
{
    *out = NULL;
    *nout = 0;
    while (s < end && is_space(*s))
        s++;
    const char *e = end;
    while (e > s && is_space(e[-1]))
        e--;
    size_t len = (size_t)(e - s);
    /* nothing (or Java's "true" before =>, "false" after): every call /
     * no provider */
    if (len == 0 || (when && len == 4 && strncmp(s, "true", 4) == 0) ||
        (!when && len == 5 && strncmp(s, "false", 5) == 0))
        return 0;
    for (;;) {
        size_t n;
        bool op;
        const char *k = token(s, end, &n, &op);
        if (n == 0) return perr(p, "a condition is missing after \"&\"");
        if (op) return perr(p, "expected a key, found \"%.*s\"", (int)n, k);
        /* Java's rules may say consumer.host / provider.port */
        if (n > 9 && (strncmp(k, "consumer.", 9) == 0 || strncmp(k, "provider.", 9) == 0)) {
            k += 9;
            n -= 9;
        }
        s = k + n;
        matcher_t *m = NULL;
        for (size_t i = 0; i < *nout && !m; i++)
            if (strlen((*out)[i].name) == n && strncmp((*out)[i].name, k, n) == 0) m = &(*out)[i];
        if (!m) {
            matcher_t *na = realloc(*out, (*nout + 1) * sizeof(*na));
            if (!na) return nomem(p);
            *out = na;
            m = &na[(*nout)++];
            memset(m, 0, sizeof(*m));
            m->name = strndup(k, n);
            if (!m->name) return nomem(p);
            if (classify_key(p, m, when)) return p->rc;
        }
        const char *o = token(s, end, &n, &op);
        if (n == 0) return perr(p, "\"%s\" has no operator and value (expected = or !=)", m->name);
        if (!op)
            return perr(p, "expected = or != after \"%s\", found \"%.*s\"", m->name, (int)n, o);
        bool neg = n == 2 && strncmp(o, "!=", 2) == 0;
        if (!neg && !(n == 1 && *o == '='))
            return perr(p, "unknown operator \"%.*s\" after \"%s\" (expected = or !=)", (int)n, o,
                        m->name);
        s = o + n;
        const char *after = neg ? "!=" : "=";
        for (;;) {
            const char *v = token(s, end, &n, &op);
            if (n == 0 || op) return perr(p, "a value is missing after \"%s\"", after);
            if (neg ? push_pattern(p, &m->mismatch, &m->nmismatch, v, n)
                    : push_pattern(p, &m->match, &m->nmatch, v, n))
                return p->rc;
            s = v + n;
            size_t vn = n;
            const char *sep = token(s, end, &n, &op);
            if (n == 0) return 0;
            s = sep + n;
            if (n == 1 && *sep == ',') {
                after = ",";
                continue;
            }
            if (n == 1 && *sep == '&') break;
            if (op)
                return perr(p, "unexpected \"%.*s\" after \"%.*s\" (expected , or &)", (int)n, sep,
                            (int)vn, v);
            return perr(p, "expected , or & before \"%.*s\"", (int)n, sep);
        }
    }
}

static int parse_condition(parse_t *p, condition_t *c, const char *text)
{
    c->text = strdup(text);
    if (!c->text) return nomem(p);
    const char *arrow = strstr(text, "=>");
    if (!arrow)
        return perr(p, "missing \"=>\" (write \"when => then\"; \"=> then\" routes every call)");
    if (strstr(arrow + 2, "=>")) return perr(p, "more than one \"=>\"");
    if (parse_side(p, text, arrow, true, &c->when, &c->nwhen)) return p->rc;
    if (parse_side(p, arrow + 2, text + strlen(text), false, &c->then, &c->nthen)) return p->rc;
    c->blacklist = c->nthen == 0;
    return 0;
}

/* ---- matching -------------------------------------------------------------------------- */

/* Java's UrlUtils.isMatchGlobPattern: one '*' (the last one) matches any
 * run, as a prefix, suffix or infix pattern. Unlike Java, an infix pattern
 * needs the value to be as long as its two parts ("ab*b" does not match
 * "ab"). */
static bool glob_match(const char *pat, const char *val)
{
    if (strcmp(pat, "*") == 0) return true;
    if (!*pat || !*val) return !*pat && !*val;
    const char *star = strrchr(pat, '*');
    if (!star) return strcmp(pat, val) == 0;
    size_t pre = (size_t)(star - pat), suf = strlen(star + 1), vl = strlen(val);
    return vl >= pre + suf && strncmp(val, pat, pre) == 0 && strcmp(val + vl - suf, star + 1) == 0;
}

static bool pattern_match(const pattern_t *pt, const char *val, const dubbo_url_t *consumer)
{
    if (pt->range) {
        char *e;
        errno = 0;
        long long v = strtoll(val, &e, 10);
        if (!*val || *e || errno) return false;
        return (!pt->has_lo || v >= pt->lo) && (!pt->has_hi || v <= pt->hi);
    }
    const char *pat = pt->text;
    if (pat[0] == '$') {
        /* a reference to the consumer's parameter, e.g. "region = $region" */
        pat = consumer ? dubbo_url_param(consumer, pat + 1, NULL) : NULL;
        if (!pat) return !*val;
    }
    return glob_match(pat, val);
}

/* Java's AbstractConditionMatcher.isMatch: a missing value never matches;
 * != patterns are checked first, then = patterns. */
static bool matcher_match(const matcher_t *m, const char *val, const dubbo_url_t *consumer)
{
    if (!val) return false;
    for (size_t i = 0; i < m->nmismatch; i++)
        if (pattern_match(&m->mismatch[i], val, consumer)) return false;
    if (m->nmatch == 0) return m->nmismatch > 0;
    for (size_t i = 0; i < m->nmatch; i++)
        if (pattern_match(&m->match[i], val, consumer)) return true;
    return false;
}

static const char *attachment(const dubbo_invocation_t *inv, const char *key)
{
    for (const char *const *kv = inv ? inv->attachments : NULL; kv && kv[0] && kv[1]; kv += 2)
        if (strcmp(kv[0], key) == 0) return kv[1];
    return NULL;
}

/* The consumer-side value of a key: the call and the reference URL. The
 * consumer's host is the reference's `host` parameter, or this machine's
 * address as registered in consumer URLs (dubbo_local_ip(), Java's
 * NetUtils.getLocalHost()); the reference URL's own host is its first
 * provider's. */
static const char *when_value(const matcher_t *m, const dubbo_url_t *u,
                              const dubbo_invocation_t *inv, char *buf, size_t cap)
{
    switch (m->kind) {
    case K_METHOD: return inv ? dubbo_invocation_method(inv) : NULL;
    case K_ARG: {
        dubbo_value_t *const *args;
        size_t nargs;
        dubbo_invocation_args(inv, &args, &nargs);
        if (!inv || (size_t)m->index >= nargs) return NULL;
        return dubbo_value_java_string(args[m->index], buf, cap);
    }
    case K_ATTACH: return attachment(inv, m->aname);
    case K_HOST: return u ? dubbo_url_param(u, "host", dubbo_local_ip()) : dubbo_local_ip();
    case K_PORT: return u ? dubbo_url_param(u, "port", NULL) : NULL;
    case K_ADDRESS: {
        const char *host = u ? dubbo_url_param(u, "host", dubbo_local_ip()) : dubbo_local_ip();
        const char *port = u ? dubbo_url_param(u, "port", NULL) : NULL;
        if (!port) return host;
        snprintf(buf, cap, "%s:%s", host, port);
        return buf;
    }
    case K_PROTOCOL: return "consumer";
    case K_PATH: return u ? u->path : NULL;
    case K_PARAM:
    default:
        if (!u) return NULL;
        if (strcmp(m->name, "interface") == 0) return dubbo_url_param(u, "interface", u->path);
        return dubbo_url_param(u, m->name, NULL);
    }
}

/* The provider-side value of a key: the provider URL. */
static const char *then_value(const matcher_t *m, const dubbo_invoker_t *i, char *buf, size_t cap)
{
    const dubbo_url_t *u = i->url;
    if (m->kind == K_ADDRESS) return i->address;
    if (!u) return NULL;
    switch (m->kind) {
    case K_HOST: return u->host;
    case K_PORT:
        if (u->port <= 0) return NULL;
        snprintf(buf, cap, "%d", u->port);
        return buf;
    case K_PROTOCOL: return u->protocol;
    case K_PATH: return u->path;
    default:
        if (strcmp(m->name, "interface") == 0) return dubbo_url_param(u, "interface", u->path);
        return dubbo_url_param(u, m->name, NULL);
    }
}

static bool match_when(const condition_t *c, const dubbo_url_t *url, const dubbo_invocation_t *inv)
{
    char buf[320];
    for (size_t i = 0; i < c->nwhen; i++)
        if (!matcher_match(&c->when[i], when_value(&c->when[i], url, inv, buf, sizeof(buf)), url))
            return false;
    return true;
}

static bool match_then(const condition_t *c, const dubbo_invoker_t *inv, const dubbo_url_t *url)
{
    char buf[320];
    for (size_t i = 0; i < c->nthen; i++)
        if (!matcher_match(&c->then[i], then_value(&c->then[i], inv, buf, sizeof(buf)), url))
            return false;
    return true;
}

/* Each condition whose `when` matches narrows the list to the providers
 * matching its `then`, in order (Java runs one ConditionStateRouter per
 * condition). An empty result keeps that condition's input unless
 * force=true; a blacklist (empty then) leaves no provider. */
static int cond_route(dubbo_router_t *self, dubbo_invoker_t *const *in, size_t n,
                      dubbo_invoker_t **out, const dubbo_url_t *url, const dubbo_invocation_t *inv)
{
    cond_router_t *r = (cond_router_t *)self;
    if (n) memcpy(out, in, n * sizeof(*out));
    if (!r->active) return (int)n;
    unsigned char stack_keep[256];
    unsigned char *keep = n <= sizeof(stack_keep) ? stack_keep : malloc(n);
    if (!keep) return dubbo__seterr(DUBBO_ENOMEM, "condition router: out of memory");
    size_t m = n;
    for (size_t ci = 0; ci < r->nconds && m > 0; ci++) {
        const condition_t *c = &r->conds[ci];
        if (!match_when(c, url, inv)) continue;
        if (c->blacklist) {
            DLOG_DEBUG("condition router: rule line %d \"%s\" blacklists method %s of %s", c->line,
                       c->text, inv && inv->method ? inv->method : "?", url ? url->path : "?");
            m = 0;
            break;
        }
        size_t kept = 0;
        for (size_t i = 0; i < m; i++)
            kept += keep[i] = match_then(c, out[i], url);
        if (kept == 0) {
            DLOG_DEBUG("condition router: rule line %d \"%s\" matches none of %zu providers%s",
                       c->line, c->text, m,
                       r->force ? " (force: none left)" : "; keeping them (force is false)");
            if (r->force) m = 0;
            continue;
        }
        size_t w = 0;
        for (size_t i = 0; i < m; i++)
            if (keep[i]) out[w++] = out[i];
        m = w;
    }
    if (keep != stack_keep) free(keep);
    return (int)m;
}

/* ---- the rule ------------------------------------------------------------------------ */

/* Does a service-scope key name this reference? Java's service key form
 * [group/]interface[:version] is accepted. */
static bool service_key_matches(const char *key, const dubbo_url_t *url)
{
    const char *iface = url ? dubbo_url_param(url, "interface", url->path) : "";
    const char *slash = strchr(key, '/');
    const char *name = slash ? slash + 1 : key;
    const char *colon = strchr(name, ':');
    size_t nl = colon ? (size_t)(colon - name) : strlen(name);
    if (strlen(iface) != nl || strncmp(iface, name, nl) != 0) return false;
    if (slash) {
        const char *group = url ? dubbo_url_param(url, "group", "") : "";
        if (strlen(group) != (size_t)(slash - key) || strncmp(group, key, (size_t)(slash - key)))
            return false;
    }
    if (colon && strcmp(colon + 1, url ? dubbo_url_param(url, "version", "") : "") != 0)
        return false;
    return true;
}

static int load_rule(cond_router_t *r, dubbo__rule_doc_t *d, const dubbo_url_t *url,
                     const char *text)
{
    int rc = dubbo__rule_load(d, "condition rule", text);
    if (rc) return rc;
    static const char *const known[] = {DUBBO__RULE_HEAD_NAMES, "conditions"};
    yaml_node_t *v[DUBBO__RULE_HEAD_N + 1];
    rc = dubbo__rule_fields(d, dubbo__rule_root(d), "the rule", known, DUBBO__RULE_HEAD_N + 1, v);
    dubbo__rule_head_t h;
    if (!rc) rc = dubbo__rule_head(d, v, &h);
    if (rc) return rc;
    const char *scope = h.scope ? h.scope : "service";
    bool app = strcmp(scope, "application") == 0;
    if (!app && strcmp(scope, "service") != 0)
        return dubbo__rule_fail(d, v[1], "scope must be service or application, not \"%s\"", scope);
    if (app && !h.key)
        return dubbo__rule_fail(d, dubbo__rule_root(d),
                                "an application-scope rule needs a key: the consumer application");
    size_t n = 0;
    if (!v[DUBBO__RULE_HEAD_N])
        return dubbo__rule_fail(d, dubbo__rule_root(d), "the rule has no \"conditions:\" list");
    rc = dubbo__rule_seq(d, v[DUBBO__RULE_HEAD_N], "conditions", &n);
    if (rc) return rc;
    if (n == 0) return dubbo__rule_fail(d, v[DUBBO__RULE_HEAD_N], "conditions: is empty");
    r->conds = calloc(n, sizeof(*r->conds));
    if (!r->conds) return dubbo__seterr(DUBBO_ENOMEM, "condition rule: out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = dubbo__rule_item(d, v[DUBBO__RULE_HEAD_N], i);
        const char *s = NULL;
        if (item->type == YAML_MAPPING_NODE)
            return dubbo__rule_fail(d, item,
                                    "a condition must be a string, not a mapping (quote "
                                    "a condition that contains \": \")");
        rc = dubbo__rule_string(d, item, "a condition", &s);
        if (rc) return rc;
        if (!s || !*s) return dubbo__rule_fail(d, item, "condition %zu is empty", i + 1);
        parse_t p = {d, item, s, 0};
        r->nconds = i + 1;
        r->conds[i].line = dubbo__rule_line(item);
        if (parse_condition(&p, &r->conds[i], s)) return p.rc;
    }
    r->force = h.force;
    r->base.priority = h.has_priority ? h.priority : app ? PRIORITY_APPLICATION : PRIORITY_SERVICE;
    r->active = h.enabled;
    /* A rule for another service or application is ignored, as Java never
     * gives it to this reference. */
    if (h.key && r->active) {
        bool mine = app ? strcmp(h.key, url ? dubbo_url_param(url, "application", "") : "") == 0
                        : service_key_matches(h.key, url);
        if (!mine) {
            DLOG_WARN("condition rule (line %d): key \"%s\" is not this reference's %s (%s); the "
                      "rule is ignored",
                      dubbo__rule_line(v[2]), h.key, app ? "application" : "service",
                      app ? (url ? dubbo_url_param(url, "application", "none") : "none")
                          : (url ? dubbo_url_param(url, "interface", url->path) : "none"));
            r->active = false;
        }
    }
    return 0;
}

static dubbo_router_t *cond_create(const dubbo_url_t *url, const char *rule)
{
    if (!rule) {
        dubbo__seterr(DUBBO_EINVAL, "condition router: a rule is required");
        return NULL;
    }
    cond_router_t *r = calloc(1, sizeof(*r));
    if (!r) {
        dubbo__seterr(DUBBO_ENOMEM, "condition router: out of memory");
        return NULL;
    }
    r->base.ops = &dubbo__router_condition;
    dubbo__rule_doc_t d;
    int rc = load_rule(r, &d, url, rule);
    dubbo__rule_free(&d);
    if (rc) {
        cond_destroy(&r->base);
        return NULL;
    }
    return &r->base;
}

const dubbo_router_ops_t dubbo__router_condition = {
    .name = "condition",
    .create = cond_create,
    .route = cond_route,
    .destroy = cond_destroy,
};
