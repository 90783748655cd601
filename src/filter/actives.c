/* The actives filter (Java's ActiveLimitFilter): with `actives` = N (or
 * `<method>.actives`) a consumer has at most N calls of a method in flight
 * to each provider. The setting is read from the invoker's merged URL, as
 * Java does: the reference's, else the one the provider publishes, so a
 * service's own `actives` caps every consumer. A call past the limit waits
 * for a slot up to its timeout, then fails locally with DUBBO_ETIMEOUT and
 * Java's message (which failover, like Java's, may retry on another
 * provider). Consumer side; on every reference, since any provider may
 * publish a limit (one branch per call when neither side sets one). */
#include <stdio.h>
#include <stdlib.h>

#include "cluster/reference.h"
#include "filter/filter.h"

typedef struct {
    dubbo_filter_t base;
    dubbo_url_t *url;       /* the reference's settings (a copy) */
    bool ref_sets;          /* the reference sets actives or <method>.actives */
    dubbo__status_t status; /* by "provider address#method" */
} actives_filter_t;

static dubbo_filter_t *actives_create(const dubbo_url_t *url, int side, int *rc)
{
    *rc = 0;
    if (side != DUBBO_FILTER_CONSUMER) return NULL;
    actives_filter_t *f = calloc(1, sizeof(*f));
    if (!f || !(f->url = dubbo_url_clone(url))) {
        free(f);
        *rc = dubbo__seterr(DUBBO_ENOMEM, "actives filter: out of memory");
        return NULL;
    }
    if ((*rc = dubbo__status_init(&f->status)) != 0) {
        dubbo_url_free(f->url);
        free(f);
        return NULL;
    }
    f->ref_sets = dubbo__filter_url_has(url, "actives");
    f->base.ops = &dubbo__filter_actives;
    return &f->base;
}

static void actives_destroy(dubbo_filter_t *self)
{
    actives_filter_t *f = (actives_filter_t *)self;
    dubbo__status_destroy(&f->status);
    dubbo_url_free(f->url);
    free(f);
}

static int actives_invoke(dubbo_filter_t *self, dubbo_filter_chain_t *chain,
                          dubbo_invoker_t *invoker, const dubbo_invocation_t *inv,
                          dubbo_result_t *r)
{
    actives_filter_t *f = (actives_filter_t *)self;
    if (!f->ref_sets && !invoker->actives) return dubbo_filter_next(chain, invoker, inv, r);
    const char *setting = dubbo_invoker_setting(invoker, f->url, inv->method, "actives", "0");
    char *end;
    long max = strtol(setting, &end, 10);
    if (*end || max <= 0) return dubbo_filter_next(chain, invoker, inv, r);
    if (max > 1000000) max = 1000000;
    char key[512];
    snprintf(key, sizeof(key), "%s#%s", invoker->address, inv->method);
    /* dubbo_cluster_invoke_one, the only way into the chain, has resolved
     * the timeout (call_timeout in cluster.c); no second lookup here. */
    long timeout = inv->timeout_ms > 0 ? inv->timeout_ms : 1000;
    int active;
    long waited;
    dubbo__status_entry_t *e =
        dubbo__status_begin(&f->status, key, (int)max, timeout, &active, &waited);
    if (!e) {
        if (active < 0) return dubbo_result_fail(r, DUBBO_ENOMEM, "actives filter: out of memory");
        return dubbo_result_fail(r, DUBBO_ETIMEOUT,
                                 "Waiting concurrent invoke timeout in client-side for service: "
                                 "%s, method: %s, provider: %s, elapsed: %ld, timeout: %ld. "
                                 "concurrent invokes: %d. max concurrent invoke limit: %ld",
                                 f->url->path, inv->method, invoker->address, waited, timeout,
                                 active, max);
    }
    int rc = dubbo_filter_next(chain, invoker, inv, r);
    dubbo__status_end(&f->status, e);
    return rc;
}

/* Asynchronously: a free slot is taken at once and given back from the
 * call's completion; when none is free, the wait for one (up to the
 * timeout) and the call run synchronously where blocking is allowed
 * (dubbo__filter_blocking), never on the loop thread. */
typedef struct {
    actives_filter_t *f;
    dubbo__status_entry_t *e;
    dubbo_done_fn done;
    void *user;
} slot_t;

static void slot_done(int rc, dubbo_result_t *r, void *arg)
{
    slot_t *s = arg;
    dubbo__status_end(&s->f->status, s->e);
    dubbo_done_fn done = s->done;
    void *user = s->user;
    free(s);
    done(rc, r, user);
}

static int actives_invoke_async(dubbo_filter_t *self, dubbo_filter_chain_t *chain,
                                dubbo_invoker_t *invoker, const dubbo_invocation_t *inv,
                                dubbo_done_fn done, void *user)
{
    actives_filter_t *f = (actives_filter_t *)self;
    if (!f->ref_sets && !invoker->actives)
        return dubbo_filter_next_async(chain, invoker, inv, done, user);
    const char *setting = dubbo_invoker_setting(invoker, f->url, inv->method, "actives", "0");
    char *end;
    long max = strtol(setting, &end, 10);
    if (*end || max <= 0) return dubbo_filter_next_async(chain, invoker, inv, done, user);
    if (max > 1000000) max = 1000000;
    char key[512];
    snprintf(key, sizeof(key), "%s#%s", invoker->address, inv->method);
    int active;
    long waited;
    slot_t *s = malloc(sizeof(*s));
    if (!s) return dubbo__seterr(DUBBO_ENOMEM, "actives filter: out of memory");
    s->e = dubbo__status_begin(&f->status, key, (int)max, 0, &active, &waited);
    if (!s->e) {
        free(s);
        if (active < 0) return dubbo__seterr(DUBBO_ENOMEM, "actives filter: out of memory");
        return dubbo__filter_blocking(chain, invoker, inv, done, user);
    }
    s->f = f;
    s->done = done;
    s->user = user;
    int rc = dubbo_filter_next_async(chain, invoker, inv, slot_done, s);
    if (rc < 0) {
        dubbo__status_end(&f->status, s->e);
        free(s);
    }
    return rc;
}

const dubbo_filter_ops_t dubbo__filter_actives = {
    .name = "actives",
    .sides = DUBBO_FILTER_CONSUMER,
    .order = DUBBO__ORDER_ACTIVES,
    .create = actives_create,
    .invoke = actives_invoke,
    .destroy = actives_destroy,
    .invoke_async = actives_invoke_async,
};
