/* The `match` condition of a Dubbo 3 configurator item (Java's
 * ConditionMatch): the consumer address, the provider address, the service
 * key, the application and parameters, each with Java's matchers
 * (StringMatch, ListStringMatch, AddressMatch), and the view of a provider
 * URL that configurators are matched against. */
#include <arpa/inet.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/configurator/configurator.h"

const char *dubbo__conf_param(const dubbo__conf_view_t *view, const dubbo_url_t *url,
                              const char *key)
{
    const char *a = view->applied ? dubbo_url_param(view->applied, key, NULL) : NULL;
    if (a) return a;
    if (strcmp(key, "side") == 0 && view->side) return view->side;
    if (strcmp(key, "application") == 0 && view->application) return view->application;
    /* Java's merged URL keeps the provider's group and version */
    bool provider_first =
        strcmp(key, "group") == 0 || strcmp(key, "version") == 0 || strcmp(key, "interface") == 0;
    const char *v = provider_first ? dubbo_url_param(url, key, NULL) : NULL;
    if (!v && view->merged) v = dubbo_url_param(view->merged, key, NULL);
    return v ? v : dubbo_url_param(url, key, NULL);
}

/* Java's UrlUtils.isMatchGlobPattern (no "$param" here): "*" matches
 * anything, else the last '*' splits a prefix and a suffix. */
static bool glob(const char *pat, const char *val)
{
    if (strcmp(pat, "*") == 0) return true;
    if (!*pat || !*val) return !*pat && !*val;
    const char *star = strrchr(pat, '*');
    if (!star) return strcmp(pat, val) == 0;
    size_t pre = (size_t)(star - pat), suf = strlen(star + 1), vl = strlen(val);
    if (star[1] == '\0') return strncmp(val, pat, pre) == 0;
    if (star == pat) return vl >= suf && strcmp(val + vl - suf, star + 1) == 0;
    return vl >= pre + suf && strncmp(val, pat, pre) == 0 && strcmp(val + vl - suf, star + 1) == 0;
}

/* StringMatch.isMatch: the first field that is set (and, for the ones
 * that compare, a value that exists) decides. */
static bool str_match(const dubbo__conf_strmatch_t *m, const char *in)
{
    if (m->exact && in) return strcmp(in, m->exact) == 0;
    if (m->prefix && in) return strncmp(in, m->prefix, strlen(m->prefix)) == 0;
    if (m->regex && in) return m->re && regexec((const regex_t *)m->re, in, 0, NULL, 0) == 0;
    if (m->wildcard && in) return strcmp(in, m->wildcard) == 0 || strcmp(m->wildcard, "*") == 0;
    if (m->empty) return !in || !*in;
    if (m->noempty) return in && *in;
    return false;
}

static bool list_match(const dubbo__conf_listmatch_t *l, const char *in)
{
    for (size_t i = 0; i < l->n; i++)
        if (str_match(&l->oneof[i], in)) return true;
    return false;
}

/* One octet pattern of Java's NetUtils.matchIpExpression: "*", "a-b" or
 * a number. */
static bool octet_match(const char *pat, size_t n, unsigned v)
{
    char buf[16];
    if (n == 0 || n >= sizeof(buf)) return false;
    memcpy(buf, pat, n);
    buf[n] = '\0';
    if (strcmp(buf, "*") == 0) return true;
    char *e;
    unsigned long lo = strtoul(buf, &e, 10), hi = lo;
    if (e == buf) return false;
    if (*e == '-') {
        char *e2;
        hi = strtoul(e + 1, &e2, 10);
        if (e2 == e + 1 || *e2) return false;
    } else if (*e) {
        return false;
    }
    return v >= lo && v <= hi;
}

/* NetUtils.matchIpExpression for IPv4: a CIDR block ("10.0.0.0/8") or a
 * dotted pattern of octets ("192.168.1.*", "10.0.1-5.*"); an optional
 * ":port" on the host is ignored. */
static bool ip_expr_match(const char *pattern, const char *host)
{
    char h[64];
    snprintf(h, sizeof(h), "%.*s", (int)strcspn(host, ":"), host);
    struct in_addr a;
    if (inet_pton(AF_INET, h, &a) != 1) return false;
    uint32_t ip = ntohl(a.s_addr);
    const char *slash = strchr(pattern, '/');
    if (slash) {
        char net[64];
        snprintf(net, sizeof(net), "%.*s", (int)(slash - pattern), pattern);
        char *e;
        unsigned long bits = strtoul(slash + 1, &e, 10);
        struct in_addr na;
        if (*e || e == slash + 1 || bits > 32 || inet_pton(AF_INET, net, &na) != 1) return false;
        uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
        return (ip & mask) == (ntohl(na.s_addr) & mask);
    }
    const char *p = pattern;
    for (int i = 0; i < 4; i++) {
        size_t n = strcspn(p, ".");
        if (!octet_match(p, n, (ip >> (24 - 8 * i)) & 0xff)) return false;
        p += n;
        if (i < 3) {
            if (*p != '.') return false;
            p++;
        }
    }
    return *p == '\0';
}

/* AddressMatch.isMatch */
static bool addr_match(const dubbo__conf_addrmatch_t *m, const char *in)
{
    if (m->cird && in) return strcmp(in, m->cird) == 0 || ip_expr_match(m->cird, in);
    if (m->wildcard && in) {
        if (strcmp(m->wildcard, "0.0.0.0") == 0 || strcmp(m->wildcard, "*") == 0) return true;
        return glob(m->wildcard, in);
    }
    if (m->exact && in) return strcmp(in, m->exact) == 0;
    return false;
}

bool dubbo__conf_match_eval(const dubbo__conf_match_t *m, const char *host, const dubbo_url_t *url,
                            const dubbo__conf_view_t *view)
{
    if (m->address && !addr_match(m->address, host)) return false;
    if (m->provider_address) {
        char addr[300];
        snprintf(addr, sizeof(addr), "%s:%d", url->host, url->port);
        if (!addr_match(m->provider_address, addr)) return false;
    }
    if (m->service) {
        const char *iface = dubbo__conf_param(view, url, "interface");
        const char *group = dubbo__conf_param(view, url, "group");
        const char *version = dubbo__conf_param(view, url, "version");
        char key[600];
        snprintf(key, sizeof(key), "%s%s%s%s%s", group && *group ? group : "",
                 group && *group ? "/" : "", iface && *iface ? iface : url->path,
                 version && *version ? ":" : "", version && *version ? version : "");
        if (!list_match(m->service, key)) return false;
    }
    if (m->app && !list_match(m->app, dubbo__conf_param(view, url, "application"))) return false;
    for (size_t i = 0; m->has_params && i < m->nparams; i++) {
        const dubbo__conf_parammatch_t *p = &m->params[i];
        if (!p->key || !p->has_value) return false;
        if (!str_match(&p->value, dubbo__conf_param(view, url, p->key))) return false;
    }
    return true;
}

static void str_free(dubbo__conf_strmatch_t *m)
{
    free(m->exact);
    free(m->prefix);
    free(m->regex);
    free(m->wildcard);
    free(m->empty);
    free(m->noempty);
    if (m->re) {
        regfree((regex_t *)m->re);
        free(m->re);
    }
}

static void list_free(dubbo__conf_listmatch_t *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        str_free(&l->oneof[i]);
    free(l->oneof);
    free(l);
}

static void addr_free(dubbo__conf_addrmatch_t *a)
{
    if (!a) return;
    free(a->wildcard);
    free(a->cird);
    free(a->exact);
    free(a);
}

void dubbo__conf_match_free(dubbo__conf_match_t *m)
{
    if (!m) return;
    addr_free(m->address);
    addr_free(m->provider_address);
    list_free(m->service);
    list_free(m->app);
    for (size_t i = 0; i < m->nparams; i++) {
        free(m->params[i].key);
        str_free(&m->params[i].value);
    }
    free(m->params);
    free(m);
}
