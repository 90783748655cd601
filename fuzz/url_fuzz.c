/* libFuzzer target: Dubbo URLs (src/core/url.c) as they arrive from the
 * network and registries: provider URLs read from ZooKeeper node names
 * (Java's URL.encode'd, decoded then parsed, as zookeeper.c's match_child
 * does), from etcd values and the embedded registry's files, consumer URLs
 * and references' URL lists.
 *
 * The input (up to its first NUL) is parsed as a URL, and decoded then
 * parsed as a ZooKeeper child node. Aborts when the parser breaks its
 * contract: NULL without DUBBO_EINVAL or a message naming the URL, a port
 * outside 0-65535, a NULL field, a parameter dubbo_url_param() cannot find,
 * a clone that differs, or a URL that does not read back the same when
 * written out again with every field percent-encoded. Java's URL.encode
 * must decode back to the same text. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/error.h"
#include "dubbo/url.h"
#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *input)
{
    fprintf(stderr, "url_fuzz: %s (input \"%s\", code %s, message \"%s\")\n", what, input,
            dubbo_err_name(dubbo__last_code()), dubbo_last_error());
    abort();
}

static void check_refused(const char *s)
{
    if (dubbo__last_code() == DUBBO_ENOMEM) return;
    if (dubbo__last_code() != DUBBO_EINVAL) fail("refused without DUBBO_EINVAL", s);
    if (strncmp(dubbo_last_error(), "url \"", 5) != 0) fail("message does not name the URL", s);
}

static bool same(const dubbo_url_t *a, const dubbo_url_t *b)
{
    if (strcmp(a->protocol, b->protocol) || strcmp(a->host, b->host) || a->port != b->port ||
        strcmp(a->path, b->path) || a->nparams != b->nparams)
        return false;
    for (size_t i = 0; i < a->nparams; i++)
        if (strcmp(a->params[i].key, b->params[i].key) ||
            strcmp(a->params[i].value, b->params[i].value))
            return false;
    return true;
}

/* Every byte but unreserved ones as %XX: what dubbo_url_parse decodes
 * back (it reads no '+' as a space). */
static size_t enc(char *w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '-' || *p == '_') {
            w[n++] = (char)*p;
        } else {
            w[n++] = '%';
            w[n++] = hex[*p >> 4];
            w[n++] = hex[*p & 15];
        }
    }
    return n;
}

static char *format(const dubbo_url_t *u, size_t cap)
{
    char *out = malloc(cap), *w = out;
    if (!out) abort();
    w += sprintf(w, "%s://", u->protocol);
    /* a host with ':' or starting with '[' only reads back bracketed */
    bool br = strchr(u->host, ':') || u->host[0] == '[';
    w += sprintf(w, br ? "[%s]" : "%s", u->host);
    if (u->port) w += sprintf(w, ":%d", u->port);
    *w++ = '/';
    w += enc(w, u->path);
    for (size_t i = 0; i < u->nparams; i++) {
        *w++ = i ? '&' : '?';
        w += enc(w, u->params[i].key);
        *w++ = '=';
        w += enc(w, u->params[i].value);
    }
    *w = '\0';
    return out;
}

static void check_parsed(const char *s, dubbo_url_t *u)
{
    if (!u->protocol || !u->host || !u->path || (u->nparams && !u->params)) fail("NULL field", s);
    if (!*u->protocol) fail("empty protocol accepted", s);
    if (u->port < 0 || u->port > 65535) fail("port out of range", s);
    for (size_t i = 0; i < u->nparams; i++) {
        if (!u->params[i].key || !u->params[i].value) fail("NULL parameter", s);
        if (!dubbo_url_param(u, u->params[i].key, NULL)) fail("parameter not found", s);
        (void)dubbo_url_param_int(u, u->params[i].key, 0);
        (void)dubbo_url_method_param(u, "sayHello", u->params[i].key, NULL);
    }
    /* what registries and references read of a provider URL */
    (void)dubbo__service_key_match(dubbo_url_param(u, "group", NULL),
                                   dubbo_url_param(u, "group", NULL), false);
    (void)dubbo__service_key_match(dubbo_url_param(u, "version", NULL), "1.0.0", true);
    (void)dubbo_url_method_param_int(u, "sayHello", "timeout", 1000);

    dubbo_url_t *c = dubbo_url_clone(u);
    if (c && !same(u, c)) fail("clone differs", s);
    dubbo_url_free(c);

    size_t cap = strlen(s) * 3 + 64 + strlen(u->protocol) + strlen(u->host) * 3;
    for (size_t i = 0; i < u->nparams; i++)
        cap += 2 + 3 * (strlen(u->params[i].key) + strlen(u->params[i].value));
    cap += 3 * strlen(u->path);
    char *text = format(u, cap);
    dubbo_url_t *back = dubbo_url_parse(text);
    if (!back) fail("written out, does not parse again", text);
    if (!same(u, back)) fail("written out, reads back different", text);
    dubbo_url_free(back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = strndup((const char *)data, size);
    if (!s) return 0;

    dubbo_url_t *u = dubbo_url_parse(s);
    if (u)
        check_parsed(s, u);
    else
        check_refused(s);
    dubbo_url_free(u);

    /* a ZooKeeper child: URL.encode'd text, decoded strictly */
    char *dec = dubbo_url_decode(s);
    if (!dec) {
        if (dubbo__last_code() != DUBBO_EINVAL && dubbo__last_code() != DUBBO_ENOMEM)
            fail("decode refused without DUBBO_EINVAL", s);
        if (dubbo__last_code() == DUBBO_EINVAL && !strstr(dubbo_last_error(), "escape at "))
            fail("decode message names no position", s);
    } else if (strstr(dec, "://")) {
        dubbo_url_t *k = dubbo_url_parse(dec);
        if (k)
            check_parsed(dec, k);
        else
            check_refused(dec);
        dubbo_url_free(k);
    }
    free(dec);

    /* what a registry writes must read back */
    char *e = dubbo_url_encode(s);
    char *d = e ? dubbo_url_decode(e) : NULL;
    if (e && !d && dubbo__last_code() != DUBBO_ENOMEM) fail("encoded text does not decode", e);
    if (d && strcmp(d, s) != 0) fail("encode + decode changed the text", s);
    free(e);
    free(d);
    free(s);
    return 0;
}
