/* The invoker of one provider for any protocol whose table has the
 * consumer framing hooks (Dubbo, Triple): a dubbo_client_t
 * (src/runtime/client.c) made from the provider URL and the reference's
 * consumer settings; invoke_async is dubbo_client_call_async, invoke (for synchronous
 * filters) dubbo_client_call. Such a protocol's `refer` is
 * dubbo_invoker_new_client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/cluster.h"
#include "dubbo/protocol.h"
#include "core/internal.h"
#include "runtime/client.h"

static int invoke(dubbo_invoker_t *self, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    return dubbo_client_call(self->impl, inv, r);
}

/* The request is encoded before this returns (inv may go); done runs on
 * the loop thread, never inside. */
static int invoke_async(dubbo_invoker_t *self, const dubbo_invocation_t *inv, dubbo_done_fn done,
                        void *user)
{
    return dubbo_client_call_async(self->impl, inv, done, user);
}

static bool available(dubbo_invoker_t *self)
{
    return dubbo__client_available(self->impl);
}

static bool connected(dubbo_invoker_t *self)
{
    return dubbo__client_connected(self->impl);
}

static void destroy(dubbo_invoker_t *self)
{
    dubbo_client_free(self->impl);
}

static const dubbo_invoker_ops_t client_invoker_ops = {
    .name = "client",
    .invoke = invoke,
    .available = available,
    .destroy = destroy,
    .connected = connected,
    .invoke_async = invoke_async,
};

/* The consumer's setting if it has one, else the provider's. */
static const char *pick(const dubbo_url_t *consumer, const dubbo_url_t *provider, const char *key)
{
    const char *v = consumer ? dubbo_url_param(consumer, key, NULL) : NULL;
    return v ? v : dubbo_url_param(provider, key, NULL);
}

dubbo_invoker_t *dubbo_invoker_new_client(const char *provider_url, const dubbo_url_t *consumer)
{
    dubbo_url_t *u = dubbo_url_parse(provider_url);
    if (!u) return NULL;
    const dubbo_protocol_ops_t *proto = dubbo_protocol_find(u->protocol);
    if (!proto || !proto->request || (!u->port && !*dubbo_url_param(u, "unix", ""))) {
        dubbo__seterr(DUBBO_EINVAL,
                      "provider url \"%s\": not <protocol>://host:port/... of a protocol with a "
                      "consumer side (dubbo, tri, rest)",
                      provider_url);
        dubbo_url_free(u);
        return NULL;
    }
    const char *iface = consumer && *consumer->path ? consumer->path : u->path;
    char client_url[2048];
    int n = snprintf(client_url, sizeof(client_url), "%s://%s%s%s:%d/%s?x=1", u->protocol,
                     strchr(u->host, ':') ? "[" : "", u->host, strchr(u->host, ':') ? "]" : "",
                     u->port, iface);
    /* the consumer's TLS settings (docs/tls.md) go with it; files are paths */
    static const char *const keys[] = {
        "version",       "group",         "timeout",          "connections",     "payload",
        "heartbeat",     "serialization", "application",      "compressor",      "tls",
        "tls-cert-file", "tls-key-file",  "tls-ca-cert-file", "tls-server-name", "tls-insecure",
        "unix"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *v = pick(consumer, u, keys[i]);
        char *enc = v ? dubbo_url_encode(v) : NULL;
        if (enc && n > 0 && (size_t)n < sizeof(client_url))
            n += snprintf(client_url + n, sizeof(client_url) - (size_t)n, "&%s=%s", keys[i], enc);
        free(enc);
    }
    dubbo_client_t *c = dubbo_client_new(client_url);
    if (!c) {
        dubbo_url_free(u);
        return NULL;
    }
    dubbo_invoker_t *i = dubbo_invoker_new(&client_invoker_ops, u, c);
    if (!i) {
        dubbo_client_free(c);
        dubbo_url_free(u);
    }
    return i;
}

dubbo_invoker_t *dubbo_invoker_new_dubbo(const char *provider_url, const dubbo_url_t *consumer)
{
    if (strncmp(provider_url, "dubbo://", 8) != 0) {
        dubbo__seterr(DUBBO_EINVAL, "provider url \"%s\": only dubbo://host:port/... is supported",
                      provider_url);
        return NULL;
    }
    return dubbo_invoker_new_client(provider_url, consumer);
}
