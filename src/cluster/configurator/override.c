/* Override and absent configurators (Java's AbstractConfigurator,
 * OverrideConfigurator, AbsentConfigurator and Configurator.toConfigurators):
 * the list, its order, when one applies to a provider URL, and the URL the
 * directory then uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/configurator/configurator.h"
#include "dubbo/buf.h"
#include "core/internal.h"

void dubbo__confs_init(dubbo__confs_t *l)
{
    l->items = NULL;
    l->n = 0;
}

void dubbo__confs_destroy(dubbo__confs_t *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        dubbo_url_free(l->items[i].url);
        dubbo__conf_match_free(l->items[i].match);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int dubbo__confs_add_url(dubbo__confs_t *l, const char *url)
{
    dubbo_url_t *u = dubbo_url_parse(url);
    if (!u) {
        if (dubbo__last_code() == DUBBO_ENOMEM)
            return dubbo__seterr(DUBBO_ENOMEM, "configurator: out of memory");
        /* dubbo_url_parse's message quotes the URL already */
        char why[400];
        snprintf(why, sizeof(why), "%s", dubbo_last_error());
        return dubbo__seterr(DUBBO_EINVAL, "configurator %s", why);
    }
    bool absent = strcmp(u->protocol, "absent") == 0;
    if (!absent && strcmp(u->protocol, "override") != 0) {
        int rc = dubbo__seterr(DUBBO_EINVAL,
                               "configurator URL \"%.200s\": scheme \"%s\" is neither override "
                               "nor absent",
                               url, u->protocol);
        dubbo_url_free(u);
        return rc;
    }
    /* toConfigurators: `anyhost` alone changes nothing */
    size_t useful = 0;
    for (size_t i = 0; i < u->nparams; i++)
        useful += strcmp(u->params[i].key, "anyhost") != 0;
    if (useful == 0) {
        dubbo_url_free(u);
        return 0;
    }
    dubbo__conf_t *np = realloc(l->items, (l->n + 1) * sizeof(*np));
    if (!np) {
        dubbo_url_free(u);
        return dubbo__seterr(DUBBO_ENOMEM, "configurator: out of memory");
    }
    l->items = np;
    l->items[l->n++] = (dubbo__conf_t){.url = u, .absent = absent, .match = NULL};
    return 0;
}

/* Java's URL.getParameter(key, int): the default when absent or not a number. */
static long priority(const dubbo__conf_t *c)
{
    return dubbo_url_param_int(c->url, "priority", 0);
}

static int conf_cmp(const dubbo__conf_t *a, const dubbo__conf_t *b)
{
    int h = strcmp(a->url->host, b->url->host);
    if (h) return h;
    long pa = priority(a), pb = priority(b);
    return pa < pb ? -1 : pa > pb;
}

void dubbo__confs_sort(dubbo__confs_t *l)
{
    /* stable, as Collections.sort; the lists are short */
    for (size_t i = 1; i < l->n; i++) {
        dubbo__conf_t x = l->items[i];
        size_t j = i;
        for (; j > 0 && conf_cmp(&l->items[j - 1], &x) > 0; j--)
            l->items[j] = l->items[j - 1];
        l->items[j] = x;
    }
}

/* Java's Boolean.parseBoolean over URL.getParameter(key, def). */
static bool param_bool(const dubbo_url_t *u, const char *key, bool def)
{
    const char *v = dubbo_url_param(u, key, NULL);
    if (!v || !*v) return def;
    return strcasecmp(v, "true") == 0;
}

static bool empty(const char *s)
{
    return !s || !*s;
}

/* group/interface:version, as Java's URL.getServiceKey (URL.buildKey). */
static void service_key(const dubbo__conf_view_t *view, const dubbo_url_t *u, char *out, size_t cap)
{
    const char *iface =
        view ? dubbo__conf_param(view, u, "interface") : dubbo_url_param(u, "interface", NULL);
    const char *group =
        view ? dubbo__conf_param(view, u, "group") : dubbo_url_param(u, "group", NULL);
    const char *version =
        view ? dubbo__conf_param(view, u, "version") : dubbo_url_param(u, "version", NULL);
    if (empty(iface)) iface = u->path;
    snprintf(out, cap, "%s%s%s%s%s", empty(group) ? "" : group, empty(group) ? "" : "/", iface,
             empty(version) ? "" : ":", empty(version) ? "" : version);
}

/* The keys that say where a configurator applies, never what it sets
 * (AbstractConfigurator.genConditionKeys). */
static bool condition_key(const char *k)
{
    static const char *const keys[] = {
        "category",    "check", "dynamic",       "enabled",           "group",     "version",
        "application", "side",  "configVersion", "compatible_config", "interfaces"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(k, keys[i]) == 0) return true;
    return false;
}

/* isV27ConditionMatchOrUnset: providerAddresses, application, service. */
static bool v27_match(const dubbo_url_t *cu, const dubbo__conf_view_t *view, const dubbo_url_t *url)
{
    const char *providers = dubbo_url_param(cu, "providerAddresses", NULL);
    if (!empty(providers)) {
        char addr[300], anyport[32];
        snprintf(addr, sizeof(addr), "%s:%d", url->host, url->port);
        snprintf(anyport, sizeof(anyport), "0.0.0.0:%d", url->port);
        bool match = false;
        const char *p = providers;
        while (*p && !match) {
            size_t n = strcspn(p, ",");
            match = (n == strlen(addr) && strncmp(p, addr, n) == 0) ||
                    (n == 7 && strncmp(p, "0.0.0.0", 7) == 0) ||
                    (n == 9 && strncmp(p, "0.0.0.0:*", 9) == 0) ||
                    (n == strlen(anyport) && strncmp(p, anyport, n) == 0) ||
                    (n == strlen(url->host) && strncmp(p, url->host, n) == 0);
            p += n;
            if (*p == ',') p++;
        }
        if (!match) return false;
    }
    const char *capp = dubbo_url_param(cu, "application", NULL);
    const char *app = dubbo__conf_param(view, url, "application");
    if (!empty(capp) && strcmp(capp, "*") != 0 && (!app || strcmp(capp, app) != 0)) return false;
    char ck[600], uk[600];
    service_key(NULL, cu, ck, sizeof(ck));
    service_key(view, url, uk, sizeof(uk));
    return strcmp(ck, "*") == 0 || strcmp(ck, uk) == 0;
}

/* isDeprecatedConditionMatch: "~key", application and side must equal the
 * URL's (or be "*"). */
static bool deprecated_match(const dubbo_url_t *cu, const dubbo__conf_view_t *view,
                             const dubbo_url_t *url)
{
    for (size_t i = 0; i < cu->nparams; i++) {
        const char *k = cu->params[i].key, *v = cu->params[i].value;
        bool tilde = k[0] == '~';
        if (!tilde && strcmp(k, "application") != 0 && strcmp(k, "side") != 0) continue;
        /* the last value of a repeated key is the one Java's map holds */
        if (dubbo_url_param(cu, k, NULL) != v) continue;
        const char *got = dubbo__conf_param(view, url, tilde ? k + 1 : k);
        if (strcmp(v, "*") != 0 && (!got || strcmp(v, got) != 0)) return false;
    }
    return true;
}

/* doConfigure: every parameter but the condition keys ("~key" ones too),
 * the last value of a repeated key. */
static int configure(const dubbo__conf_t *c, const dubbo__conf_view_t *view, const dubbo_url_t *url,
                     dubbo_url_t *out)
{
    const dubbo_url_t *cu = c->url;
    int added = 0;
    for (size_t i = 0; i < cu->nparams; i++) {
        const char *k = cu->params[i].key, *v = cu->params[i].value;
        if (condition_key(k) || k[0] == '~' || dubbo_url_param(cu, k, NULL) != v) continue;
        if (c->absent && dubbo__conf_param(view, url, k)) continue;
        if (dubbo_url_add_param(out, k, v)) return DUBBO_ENOMEM;
        added++;
    }
    return added;
}

static int if_match(const dubbo__conf_t *c, const dubbo__conf_view_t *view, const char *host,
                    const dubbo_url_t *url, dubbo_url_t *out)
{
    const dubbo_url_t *cu = c->url;
    if (strcmp(cu->host, "0.0.0.0") != 0 && strcmp(cu->host, host) != 0) return 0;
    if (!v27_match(cu, view, url)) return 0;
    const char *api = dubbo_url_param(cu, "configVersion", NULL);
    if (api && strncmp(api, "v3.0", 4) == 0) {
        if (c->match && !dubbo__conf_match_eval(c->match, host, url, view)) return 0;
        return configure(c, view, url, out);
    }
    return deprecated_match(cu, view, url) ? configure(c, view, url, out) : 0;
}

int dubbo__conf_apply(const dubbo__conf_t *c, const dubbo__conf_view_t *view,
                      const dubbo_url_t *url, dubbo_url_t *out)
{
    const dubbo_url_t *cu = c->url;
    if (!param_bool(cu, "enabled", true) || empty(cu->host) || empty(url->host)) return 0;
    const char *side = view->side ? view->side : "consumer";
    const char *api = dubbo_url_param(cu, "configVersion", NULL);
    if (!empty(api)) {
        const char *cside = dubbo_url_param(cu, "side", NULL);
        if (!cside || strcmp(cside, side) != 0) return 0;
        if (strcmp(cside, "consumer") == 0) return if_match(c, view, view->host, url, out);
        if (strcmp(cside, "provider") == 0) return if_match(c, view, url->host, url, out);
        return 0;
    }
    /* Before 2.7: a port names one provider (and the consumers holding it);
     * no port, a consumer address or 0.0.0.0. The provider view only
     * stands in for providers that apply Dubbo 3 rules themselves. */
    if (strcmp(side, "provider") == 0) return 0;
    if (cu->port != 0) return url->port == cu->port ? if_match(c, view, url->host, url, out) : 0;
    return if_match(c, view, view->host, url, out);
}

/* Percent-encode a parameter key or value for dubbo_url_parse. */
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

char *dubbo__confs_configure(const dubbo__confs_t *const *lists, size_t nlists,
                             const dubbo__conf_view_t *view, const char *raw, bool mark)
{
    dubbo_url_t *u = dubbo_url_parse(raw);
    dubbo_url_t *out = calloc(1, sizeof(*out));
    if (!u || !out) {
        if (u) dubbo__seterr(DUBBO_ENOMEM, "configurator: out of memory");
        dubbo_url_free(u);
        free(out);
        return NULL;
    }
    dubbo__conf_view_t v = *view;
    v.applied = out;
    int rc = 0;
    for (size_t k = 0; k < nlists && rc >= 0; k++)
        for (size_t i = 0; lists[k] && i < lists[k]->n && rc >= 0; i++)
            rc = dubbo__conf_apply(&lists[k]->items[i], &v, u, out);
    char *res = NULL;
    if (rc < 0) {
        dubbo__seterr(DUBBO_ENOMEM, "configurator: out of memory");
    } else if (out->nparams == 0) {
        res = strdup(raw);
    } else {
        dubbo_buf_t b;
        dubbo_buf_init(&b, 0);
        int e = dubbo_buf_append(&b, raw, strlen(raw));
        char sep = u->nparams || strchr(raw, '?') ? '&' : '?';
        for (size_t i = 0; !e && i < out->nparams; i++) {
            e = dubbo_buf_append(&b, &sep, 1);
            sep = '&';
            if (!e) e = put_enc(&b, out->params[i].key);
            if (!e) e = dubbo_buf_append(&b, "=", 1);
            if (!e) e = put_enc(&b, out->params[i].value);
        }
        if (!e && mark) {
            /* keys already marked by an earlier pass stay marked */
            const char *prev = dubbo_url_param(u, DUBBO__CONF_KEYS, NULL);
            e = dubbo_buf_append(&b, "&" DUBBO__CONF_KEYS "=", strlen(DUBBO__CONF_KEYS) + 2);
            bool first = true;
            if (!e && prev && *prev) {
                e = put_enc(&b, prev);
                first = false;
            }
            for (size_t i = 0; !e && i < out->nparams; i++) {
                bool seen = dubbo__conf_overridden(u, out->params[i].key);
                for (size_t j = 0; j < i && !seen; j++)
                    seen = strcmp(out->params[j].key, out->params[i].key) == 0;
                if (seen) continue;
                if (!first) e = dubbo_buf_append(&b, ",", 1);
                first = false;
                if (!e) e = put_enc(&b, out->params[i].key);
            }
        }
        if (!e) e = dubbo_buf_append(&b, "", 1);
        if (e) {
            dubbo__seterr(DUBBO_ENOMEM, "configurator: out of memory");
            dubbo_buf_destroy(&b);
        } else {
            res = (char *)b.base;
        }
    }
    dubbo_url_free(u);
    dubbo_url_free(out);
    return res;
}

bool dubbo__conf_disabled(const dubbo_url_t *u)
{
    const char *d = dubbo_url_param(u, "disabled", NULL);
    if (!empty(d)) return strcasecmp(d, "true") == 0;
    return !param_bool(u, "enabled", true);
}

bool dubbo__conf_overridden(const dubbo_url_t *u, const char *key)
{
    const char *l = u ? dubbo_url_param(u, DUBBO__CONF_KEYS, NULL) : NULL;
    size_t kl = strlen(key);
    while (l && *l) {
        size_t n = strcspn(l, ",");
        if (n == kl && strncmp(l, key, n) == 0) return true;
        l += n;
        if (*l == ',') l++;
    }
    return false;
}
