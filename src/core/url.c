/* Dubbo URL parsing. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/url.h"
#include "core/internal.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *dubbo__pct_decode(const char *s, size_t n, unsigned flags)
{
    char *out = malloc(n + 1), *w = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *w++ = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
            i += 2;
        } else if (s[i] == '%' && (flags & DUBBO__PCT_STRICT)) {
            free(out);
            if (i + 2 >= n)
                dubbo__seterr(DUBBO_EINVAL, "url decode: truncated escape at %zu in \"%.80s\"", i,
                              s);
            else
                dubbo__seterr(DUBBO_EINVAL, "url decode: bad escape at %zu in \"%.80s\"", i, s);
            return NULL;
        } else {
            *w++ = s[i] == '+' && (flags & DUBBO__PCT_PLUS) ? ' ' : s[i];
        }
    }
    *w = '\0';
    return out;
}

/* A URL's path and parameters: '+' is kept (dubbo_url_parse never did
 * form decoding; registry entries are decoded before they are parsed). */
static char *pct_decode(const char *s, size_t n)
{
    return dubbo__pct_decode(s, n, 0);
}

void dubbo_url_free(dubbo_url_t *u)
{
    if (!u) return;
    free(u->protocol);
    free(u->host);
    free(u->path);
    for (size_t i = 0; i < u->nparams; i++) {
        free((char *)u->params[i].key);
        free((char *)u->params[i].value);
    }
    free(u->params);
    free(u);
}

static dubbo_url_t *fail(dubbo_url_t *u, const char *s, const char *why)
{
    dubbo__seterr(DUBBO_EINVAL, "url \"%s\": %s", s, why);
    dubbo_url_free(u);
    return NULL;
}

static dubbo_url_t *oom(dubbo_url_t *u, const char *s)
{
    dubbo__seterr(DUBBO_ENOMEM, "url \"%s\": out of memory", s);
    dubbo_url_free(u);
    return NULL;
}

dubbo_url_t *dubbo_url_parse(const char *s)
{
    dubbo_url_t *u = calloc(1, sizeof(*u));
    if (!u) return oom(NULL, s);
    const char *p = strstr(s, "://");
    if (!p || p == s) return fail(u, s, "expected protocol://host:port/...");
    u->protocol = strndup(s, (size_t)(p - s));
    p += 3;
    const char *end = p + strcspn(p, "/?");
    /* user:password is not used by dubbo-c yet; the host follows the last
     * '@', as in Java's URL.valueOf (a decoded password may hold one) */
    const char *at = memrchr(p, '@', (size_t)(end - p));
    if (at) p = at + 1;
    const char *hp_end = end, *colon;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) return fail(u, s, "unterminated IPv6 address");
        u->host = strndup(p + 1, (size_t)(rb - p - 1));
        if (rb + 1 < end && rb[1] != ':') return fail(u, s, "junk after the IPv6 address");
        colon = rb + 1 < end ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        u->host = strndup(p, (size_t)((colon ? colon : end) - p));
    }
    if (colon) {
        char *e;
        if (colon[1] < '0' || colon[1] > '9') return fail(u, s, "port must be a number 0-65535");
        long port = strtol(colon + 1, &e, 10);
        if (e != hp_end || port < 0 || port > 65535 || colon + 1 == hp_end)
            return fail(u, s, "port must be a number 0-65535");
        u->port = (int)port;
    }
    p = end;
    if (*p == '/') p++;
    size_t plen = strcspn(p, "?");
    u->path = pct_decode(p, plen);
    p += plen;
    if (*p == '?') {
        p++;
        while (*p) {
            size_t n = strcspn(p, "&");
            if (n) {
                const char *eq = memchr(p, '=', n);
                size_t kl = eq ? (size_t)(eq - p) : n;
                dubbo_url_param_t *np = realloc(u->params, (u->nparams + 1) * sizeof(*np));
                if (!np) return oom(u, s);
                u->params = np;
                u->params[u->nparams].key = pct_decode(p, kl);
                u->params[u->nparams].value = eq ? pct_decode(eq + 1, n - kl - 1) : strdup("");
                u->nparams++;
                if (!u->params[u->nparams - 1].key || !u->params[u->nparams - 1].value)
                    return oom(u, s);
            }
            p += n;
            if (*p == '&') p++;
        }
    }
    if (!u->protocol || !u->host || !u->path) return oom(u, s);
    return u;
}

const char *dubbo_url_param(const dubbo_url_t *u, const char *key, const char *def)
{
    for (size_t i = u->nparams; i-- > 0;)
        if (strcmp(u->params[i].key, key) == 0) return u->params[i].value;
    return def;
}

static long to_long(const char *v, long def)
{
    if (!v || !*v) return def;
    char *e;
    errno = 0;
    long x = strtol(v, &e, 10);
    return *e || errno ? def : x;
}

long dubbo_url_param_int(const dubbo_url_t *u, const char *key, long def)
{
    return to_long(dubbo_url_param(u, key, NULL), def);
}

const char *dubbo_url_method_param(const dubbo_url_t *u, const char *method, const char *key,
                                   const char *def)
{
    /* "<method>.<key>" matched in place: this runs on every call */
    size_t mlen = method ? strlen(method) : 0;
    if (mlen)
        for (size_t i = u->nparams; i-- > 0;) {
            const char *k = u->params[i].key, *v = u->params[i].value;
            if (strncmp(k, method, mlen) == 0 && k[mlen] == '.' && strcmp(k + mlen + 1, key) == 0)
                if (v && *v) return v;
        }
    const char *v = dubbo_url_param(u, key, NULL);
    return v && *v ? v : def;
}

long dubbo_url_method_param_int(const dubbo_url_t *u, const char *method, const char *key, long def)
{
    return to_long(dubbo_url_method_param(u, method, key, NULL), def);
}

int dubbo_url_add_param(dubbo_url_t *u, const char *key, const char *value)
{
    dubbo_url_param_t *np = realloc(u->params, (u->nparams + 1) * sizeof(*np));
    if (!np) return dubbo__seterr(DUBBO_ENOMEM, "url: out of memory");
    u->params = np;
    char *k = strdup(key), *v = strdup(value ? value : "");
    if (!k || !v) {
        free(k);
        free(v);
        return dubbo__seterr(DUBBO_ENOMEM, "url: out of memory");
    }
    u->params[u->nparams].key = k;
    u->params[u->nparams].value = v;
    u->nparams++;
    return 0;
}

dubbo_url_t *dubbo_url_clone(const dubbo_url_t *u)
{
    dubbo_url_t *c = calloc(1, sizeof(*c));
    if (!c) {
        dubbo__seterr(DUBBO_ENOMEM, "url: out of memory");
        return NULL;
    }
    c->protocol = strdup(u->protocol);
    c->host = strdup(u->host);
    c->path = strdup(u->path);
    c->port = u->port;
    if (!c->protocol || !c->host || !c->path) {
        dubbo_url_free(c);
        dubbo__seterr(DUBBO_ENOMEM, "url: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < u->nparams; i++)
        if (dubbo_url_add_param(c, u->params[i].key, u->params[i].value)) {
            dubbo_url_free(c);
            return NULL;
        }
    return c;
}

bool dubbo__service_key_match(const char *want, const char *got, bool version)
{
    if (want && strcmp(want, "*") == 0) return true;
    bool w_none = !want || !*want || (version && strcmp(want, "0.0.0") == 0);
    bool g_none = !got || !*got || (version && strcmp(got, "0.0.0") == 0);
    if (w_none || g_none) return w_none && g_none;
    if (version) return strcmp(want, got) == 0;
    size_t gl = strlen(got);
    for (const char *p = want; *p;) {
        size_t n = strcspn(p, ",");
        if (n == gl && strncmp(p, got, n) == 0) return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* ---- the machine's address ---- */

static char local_ip[INET6_ADDRSTRLEN] = "127.0.0.1";
static pthread_once_t ip_once = PTHREAD_ONCE_INIT;

static void find_ip(void)
{
    const char *env = getenv("DUBBO_IP_TO_REGISTRY"); /* Java Dubbo's override */
    if (env && *env) {
        snprintf(local_ip, sizeof(local_ip), "%s", env);
        return;
    }
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs)) return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        const struct sockaddr_in *a = (const struct sockaddr_in *)i->ifa_addr;
        if ((ntohl(a->sin_addr.s_addr) >> 24) == 127) continue;
        inet_ntop(AF_INET, &a->sin_addr, local_ip, sizeof(local_ip));
        break;
    }
    freeifaddrs(ifs);
}

const char *dubbo_local_ip(void)
{
    pthread_once(&ip_once, find_ip);
    return local_ip;
}

char *dubbo_url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *w = out;
    if (!out) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '-' || c == '*' || c == '_') {
            *w++ = (char)c;
        } else if (c == ' ') {
            *w++ = '+';
        } else {
            *w++ = '%';
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
        }
    }
    *w = '\0';
    return out;
}

char *dubbo_url_decode(const char *s)
{
    return dubbo__pct_decode(s, strlen(s), DUBBO__PCT_PLUS | DUBBO__PCT_STRICT);
}
