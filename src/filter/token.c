/* The token filter (Java's TokenFilter): a provider exported with `token`
 * serves only calls whose `token` attachment equals it; others get
 * status SERVICE_ERROR with Java's "Invalid token! ..." message, which is
 * what a Java consumer sees when Java's TokenFilter throws. On the
 * consumer side the filter adds that attachment from the provider URL's
 * `token` (as Java's RpcInvocation does) or the reference's own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dubbo/rpc.h"
#include "filter/filter.h"
#include "runtime/call.h"

typedef struct {
    dubbo_filter_t base;
    char *token; /* the provider's, or the reference's (may be NULL) */
} token_filter_t;

static dubbo_filter_t *token_create(const dubbo_url_t *url, int side, int *rc)
{
    *rc = 0;
    const char *token = dubbo_url_param(url, "token", NULL);
    bool set = dubbo__filter_value_set(token);
    /* token=true|default was replaced by a generated UUID at export. */
    if (side == DUBBO_FILTER_PROVIDER && !set) return NULL;
    token_filter_t *f = calloc(1, sizeof(*f));
    if (!f || (set && !(f->token = strdup(token)))) {
        free(f);
        *rc = dubbo__seterr(DUBBO_ENOMEM, "token filter: out of memory");
        return NULL;
    }
    f->base.ops = &dubbo__filter_token;
    return &f->base;
}

static void token_destroy(dubbo_filter_t *self)
{
    token_filter_t *f = (token_filter_t *)self;
    free(f->token);
    free(f);
}

/* Compares without stopping at the first difference, so the time taken
 * says nothing about how much of a guess was right. */
static bool same_token(const char *want, const char *got)
{
    if (!got) return false;
    size_t lw = strlen(want), lg = strlen(got);
    unsigned diff = (unsigned)(lw ^ lg);
    for (size_t i = 0; i < lg; i++)
        diff |= (unsigned char)got[i] ^ (unsigned char)want[i % (lw ? lw : 1)];
    return diff == 0;
}

static void token_serve(dubbo_filter_t *self, dubbo_call_t *call)
{
    token_filter_t *f = (token_filter_t *)self;
    const char *got = dubbo_call_attachment(call, "token");
    if (!same_token(f->token, got)) {
        dubbo__filter_rpc_fail(
            call,
            "Invalid token! Forbid invoke remote service interface %s method "
            "%s() from consumer %s to provider %s, consumer incorrect token is %s",
            call->svc->interface, dubbo_call_method(call), dubbo_call_remote(call),
            dubbo_call_local(call), got ? got : "null");
        return;
    }
    dubbo_call_next(call);
}

/* The token a consumer call must carry and does not yet (the provider's
 * URL's, else the reference's), or NULL; *n: the call's attachment pairs. */
static const char *token_to_add(const token_filter_t *f, const dubbo_invoker_t *invoker,
                                const dubbo_invocation_t *inv, size_t *n)
{
    const char *token = invoker->url ? dubbo_url_param(invoker->url, "token", NULL) : NULL;
    if (!dubbo__filter_value_set(token)) token = f->token;
    if (!token) return NULL;
    *n = 0;
    for (const char *const *kv = inv->attachments; kv && kv[0] && kv[1]; kv += 2, (*n)++)
        if (strcmp(kv[0], "token") == 0) return NULL;
    return token;
}

/* The caller's n attachment pairs plus the token, NULL-terminated, in
 * `local` (room for 8 pairs) or malloc'ed; NULL when out of memory. */
static const char **with_token(const dubbo_invocation_t *inv, size_t n, const char *token,
                               const char **local)
{
    const char **att = n <= 8 ? local : malloc((2 * n + 3) * sizeof(*att));
    if (!att) return NULL;
    if (n) memcpy(att, inv->attachments, 2 * n * sizeof(*att));
    att[2 * n] = "token";
    att[2 * n + 1] = token;
    att[2 * n + 2] = NULL;
    return att;
}

static int token_invoke(dubbo_filter_t *self, dubbo_filter_chain_t *chain, dubbo_invoker_t *invoker,
                        const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    size_t n;
    const char *token = token_to_add((token_filter_t *)self, invoker, inv, &n);
    if (!token) return dubbo_filter_next(chain, invoker, inv, r);
    const char *local[2 * 8 + 3];
    const char **att = with_token(inv, n, token, local);
    if (!att) return dubbo_result_fail(r, DUBBO_ENOMEM, "token filter: out of memory");
    dubbo_invocation_t with = *inv;
    with.attachments = att;
    int rc = dubbo_filter_next(chain, invoker, &with, r);
    if (att != local) free(att);
    return rc;
}

/* The same attachment, asynchronously: the rest of the chain borrows the
 * invocation only until it returns, so the array may go then. */
static int token_invoke_async(dubbo_filter_t *self, dubbo_filter_chain_t *chain,
                              dubbo_invoker_t *invoker, const dubbo_invocation_t *inv,
                              dubbo_done_fn done, void *user)
{
    size_t n;
    const char *token = token_to_add((token_filter_t *)self, invoker, inv, &n);
    if (!token) return dubbo_filter_next_async(chain, invoker, inv, done, user);
    const char *local[2 * 8 + 3];
    const char **att = with_token(inv, n, token, local);
    if (!att) return dubbo__seterr(DUBBO_ENOMEM, "token filter: out of memory");
    dubbo_invocation_t with = *inv;
    with.attachments = att;
    int rc = dubbo_filter_next_async(chain, invoker, &with, done, user);
    if (att != local) free(att);
    return rc;
}

const dubbo_filter_ops_t dubbo__filter_token = {
    .name = "token",
    .sides = DUBBO_FILTER_CONSUMER | DUBBO_FILTER_PROVIDER,
    .order = DUBBO__ORDER_TOKEN,
    .create = token_create,
    .invoke = token_invoke,
    .serve = token_serve,
    .destroy = token_destroy,
    .invoke_async = token_invoke_async,
};
