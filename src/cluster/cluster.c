/* The cluster core: references, their directory snapshots, the router
 * chain, selection with exclusion and availability, the consumer filter
 * chain, invoker statistics, weights with warm-up, and randomness. The
 * plugins live in loadbalance/, router/, strategy/ and ../filter/. */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "dubbo/registry.h"
#include "core/opstats.h"
#include "core/internal.h"
#include "cluster/reference.h"
#include "cluster/configurator/configurator.h"
#include "core/log.h"
#include "filter/filter.h"

/* ---- randomness ------------------------------------------------------------------ */

static atomic_uint_fast64_t rng_state;
static pthread_once_t rng_once = PTHREAD_ONCE_INIT;
static atomic_bool rng_fixed; /* dubbo_random_seed() was called: keep its sequence */

/* Every process starts from its own seed, as Java's ThreadLocalRandom
 * does: consumers started together must not pick in lockstep. */
static void rng_seed_from_os(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec ^
               ((uint64_t)getpid() << 32);
    }
    if (!atomic_load(&rng_fixed)) atomic_store(&rng_state, seed);
}

void dubbo_random_seed(uint64_t seed)
{
    pthread_once(&rng_once, rng_seed_from_os);
    atomic_store(&rng_fixed, true);
    atomic_store(&rng_state, seed ? seed : 0x9e3779b97f4a7c15ULL);
}

uint64_t dubbo_random(uint64_t n)
{
    /* splitmix64 over an atomic counter: thread-safe, lock-free, and
     * reproducible for a single-threaded test after dubbo_random_seed(). */
    pthread_once(&rng_once, rng_seed_from_os);
    uint64_t z = atomic_fetch_add(&rng_state, 0x9e3779b97f4a7c15ULL) + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return n ? z % n : 0;
}

/* ---- calls ---------------------------------------------------------------------------- */

static bool is_generic(const dubbo_invocation_t *inv)
{
    return inv->method &&
           (strcmp(inv->method, "$invoke") == 0 || strcmp(inv->method, "$invokeAsync") == 0) &&
           inv->nargs == 3 && inv->args && inv->args[0] && inv->args[0]->type == DUBBO_T_STRING;
}

const char *dubbo_invocation_method(const dubbo_invocation_t *inv)
{
    if (!inv) return "";
    if (is_generic(inv)) return inv->args[0]->u.s.ptr;
    return inv->method ? inv->method : "";
}

void dubbo_invocation_args(const dubbo_invocation_t *inv, dubbo_value_t *const **args,
                           size_t *nargs)
{
    *args = NULL;
    *nargs = 0;
    if (!inv) return;
    if (is_generic(inv)) {
        const dubbo_value_t *l = inv->args[2];
        if (l && l->type == DUBBO_T_LIST) {
            *args = l->u.list.items;
            *nargs = l->u.list.len;
        }
        return;
    }
    *args = inv->args;
    *nargs = inv->args ? inv->nargs : 0;
}

/* ---- invokers -------------------------------------------------------------------- */

dubbo_invoker_t *dubbo_invoker_new(const dubbo_invoker_ops_t *ops, dubbo_url_t *url, void *impl)
{
    dubbo_invoker_t *i = calloc(1, sizeof(*i));
    if (!i) {
        dubbo__seterr(DUBBO_ENOMEM, "invoker: out of memory");
        return NULL;
    }
    i->ops = ops;
    i->url = url;
    i->impl = impl;
    atomic_init(&i->refs, 1);
    i->weight = 100;
    i->warmup = 10 * 60 * 1000;
    if (url) {
        snprintf(i->address, sizeof(i->address), "%s:%d", url->host, url->port);
        long w = dubbo_url_param_int(url, "weight", 100);
        i->weight = w < 0 ? 0 : w > 1000000 ? 1000000 : (int)w;
        i->timestamp = dubbo_url_param_int(url, "timestamp", 0);
        i->warmup = dubbo_url_param_int(url, "warmup", 10 * 60 * 1000);
        for (size_t k = 0; k < url->nparams; k++) {
            size_t kl = strlen(url->params[k].key);
            if (kl > 7 && strcmp(url->params[k].key + kl - 7, ".weight") == 0)
                i->method_weights = true;
            if ((kl == 7 || (kl > 8 && url->params[k].key[kl - 8] == '.')) &&
                strcmp(url->params[k].key + kl - 7, "actives") == 0 && url->params[k].value[0])
                i->actives = true;
        }
    }
    return i;
}

/* Keys a provider URL carries for its own server, which Java's
 * DefaultProviderURLMergeProcessor leaves out of the consumer's view. */
static bool provider_only(const char *key)
{
    static const char *const keys[] = {"threads", "threadpool",  "corethreads", "queues",
                                       "alive",   "threadname",  "iothreads",   "accepts",
                                       "payload", "transporter", "server",      "heartbeat"};
    const char *dot = strrchr(key, '.');
    const char *base = dot ? dot + 1 : key;
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        if (strcmp(base, keys[k]) == 0) return true;
    return false;
}

bool dubbo__invoker_overrides(const dubbo_invoker_t *i, const char *method, const char *key)
{
    if (!i || !i->url || !dubbo_url_param(i->url, DUBBO__CONF_KEYS, NULL)) return false;
    if (dubbo__conf_overridden(i->url, key)) return true;
    if (!method || !*method) return false;
    char mkey[256];
    snprintf(mkey, sizeof(mkey), "%s.%s", method, key);
    return dubbo__conf_overridden(i->url, mkey);
}

static const char *merged_param(const dubbo_invoker_t *i, const dubbo_url_t *ref, const char *key)
{
    /* a configurator's setting wins over the reference's */
    if (i && i->url && dubbo__conf_overridden(i->url, key)) {
        const char *o = dubbo_url_param(i->url, key, NULL);
        if (o && *o) return o;
    }
    const char *v = ref ? dubbo_url_param(ref, key, NULL) : NULL;
    if (v && *v) return v;
    if (!i || !i->url || provider_only(key)) return NULL;
    v = dubbo_url_param(i->url, key, NULL);
    return v && *v ? v : NULL;
}

const char *dubbo_invoker_setting(const dubbo_invoker_t *i, const dubbo_url_t *ref,
                                  const char *method, const char *key, const char *def)
{
    if (method && *method) {
        char mkey[256];
        snprintf(mkey, sizeof(mkey), "%s.%s", method, key);
        const char *v = merged_param(i, ref, mkey);
        if (v) return v;
    }
    const char *v = merged_param(i, ref, key);
    return v ? v : def;
}

dubbo_invoker_t *dubbo_invoker_ref(dubbo_invoker_t *i)
{
    atomic_fetch_add(&i->refs, 1);
    return i;
}

void dubbo_invoker_unref(dubbo_invoker_t *i)
{
    if (!i || atomic_fetch_sub(&i->refs, 1) != 1) return;
    if (i->ops->destroy) i->ops->destroy(i);
    dubbo_url_free(i->url);
    free(i);
}

bool dubbo_invoker_available(dubbo_invoker_t *i)
{
    return !i->ops->available || i->ops->available(i);
}

int64_t dubbo_now_epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int dubbo_invoker_weight(const dubbo_invoker_t *i, const char *method, int64_t now_ms)
{
    long weight = i->method_weights && method
                      ? dubbo_url_method_param_int(i->url, method, "weight", i->weight)
                      : i->weight;
    if (weight > 0 && i->timestamp > 0) {
        int64_t uptime = now_ms - i->timestamp;
        if (uptime < 0) return 1;
        if (uptime > 0 && uptime < i->warmup) {
            /* Java: (int) (uptime / ((float) warmup / weight)), at least 1 */
            int ww = (int)((float)uptime / ((float)i->warmup / (float)weight));
            weight = ww < 1 ? 1 : ww < weight ? ww : weight;
        }
    }
    return weight > 0 ? (int)(weight > 1000000 ? 1000000 : weight) : 0;
}

/* ---- references -------------------------------------------------------------------- */

typedef struct snapshot {
    atomic_int refs;
    size_t n;
    dubbo_invoker_t *items[];
} snapshot_t;

typedef struct router_slot {
    char name[64];
    dubbo_router_t *router;
} router_slot_t;

/* One registry a reference follows, and the providers it last announced. */
typedef struct regsub {
    dubbo_cluster_t *cl;
    dubbo_registry_t *reg;
    char *consumer_url;
    char **providers;
    size_t nproviders;
    bool subscribed, registered;
    bool notified; /* its first providers list arrived */
    /* Its configurators (category "configurators"), in Java's order of
     * application: override:// URLs, then the application's rules, then
     * the service's (RegistryDirectory.overrideWithConfigurator). The
     * providers above stay as announced; each directory update passes
     * them through these. Guarded by the reference's reg_mu. */
    dubbo__confs_t confs[3];
} regsub_t;

static void snapshot_unref(snapshot_t *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
    for (size_t i = 0; i < s->n; i++)
        dubbo_invoker_unref(s->items[i]);
    free(s);
}

static snapshot_t *snapshot_take(dubbo_cluster_t *cl)
{
    pthread_mutex_lock(&cl->mu);
    snapshot_t *s = cl->snap;
    if (s) atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&cl->mu);
    return s;
}

const dubbo_url_t *dubbo_cluster_url(const dubbo_cluster_t *cl)
{
    return cl->url;
}

void *dubbo_cluster_state(const dubbo_cluster_t *cl)
{
    return cl->strategy_state;
}

const dubbo_url_t *dubbo_reference_url(const dubbo_reference_t *ref)
{
    return ((const dubbo_cluster_t *)ref)->url;
}

int dubbo_reference_set_invokers(dubbo_reference_t *ref, dubbo_invoker_t *const *invokers, size_t n)
{
    dubbo_cluster_t *cl = (dubbo_cluster_t *)ref;
    snapshot_t *s = malloc(sizeof(*s) + (n ? n : 1) * sizeof(dubbo_invoker_t *));
    if (!s) return dubbo__seterr(DUBBO_ENOMEM, "reference: out of memory");
    atomic_init(&s->refs, 1);
    s->n = n;
    for (size_t i = 0; i < n; i++)
        s->items[i] = dubbo_invoker_ref(invokers[i]);
    pthread_mutex_lock(&cl->mu);
    snapshot_t *old = cl->snap;
    cl->snap = s;
    pthread_mutex_unlock(&cl->mu);
    snapshot_unref(old);
    return 0;
}

/* The same provider URL, parameter for parameter: a configurator or a
 * re-registration that changed a parameter makes a new invoker, as Java's
 * directory keys its invokers by the whole URL (connections are shared, so
 * this costs no reconnect). */
static bool url_same(const dubbo_url_t *a, const dubbo_url_t *b)
{
    if (strcmp(a->protocol, b->protocol) != 0 || strcmp(a->host, b->host) != 0 ||
        a->port != b->port || strcmp(a->path, b->path) != 0 || a->nparams != b->nparams)
        return false;
    for (size_t i = 0; i < a->nparams; i++)
        if (strcmp(a->params[i].key, b->params[i].key) != 0 ||
            strcmp(a->params[i].value, b->params[i].value) != 0)
            return false;
    return true;
}

int dubbo_reference_set_providers(dubbo_reference_t *ref, const char *const *urls, size_t n)
{
    dubbo_cluster_t *cl = (dubbo_cluster_t *)ref;
    dubbo_invoker_t **list = calloc(n ? n : 1, sizeof(*list));
    if (!list) return dubbo__seterr(DUBBO_ENOMEM, "reference: out of memory");
    /* Keep the invokers of providers that stay (their connections and
     * statistics survive the update); make new ones for the rest. */
    snapshot_t *old = snapshot_take(cl);
    int rc = 0;
    size_t made = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        dubbo_url_t *u = dubbo_url_parse(urls[i]);
        if (!u) {
            rc = DUBBO_EINVAL;
            break;
        }
        char addr[300];
        snprintf(addr, sizeof(addr), "%s:%d", u->host, u->port);
        dubbo_invoker_t *keep = NULL;
        for (size_t k = 0; old && k < old->n && !keep; k++)
            /* (url_same compares the scheme: an invoker of another protocol
             * at the same address is not this one) */
            if (strcmp(old->items[k]->address, addr) == 0 && old->items[k]->url &&
                url_same(old->items[k]->url, u))
                keep = old->items[k];
        dubbo_url_free(u);
        if (keep) {
            list[made] = dubbo_invoker_ref(keep);
        } else {
            /* the protocol extension named by the URL's scheme */
            char scheme[32];
            snprintf(scheme, sizeof(scheme), "%.*s", (int)strcspn(urls[i], ":"), urls[i]);
            const dubbo_protocol_ops_t *proto = dubbo_extension_find(DUBBO_EXT_PROTOCOL, scheme);
            if (proto && !proto->refer)
                dubbo__seterr(DUBBO_EUNSUPPORTED,
                              "protocol \"%s\" is served here but has no consumer side yet "
                              "(provider %s)",
                              scheme, urls[i]);
            list[made] = proto && proto->refer ? proto->refer(urls[i], cl->url) : NULL;
        }
        if (!list[made])
            rc = dubbo__last_code() ? dubbo__last_code() : DUBBO_ENOMEM;
        else
            made++;
    }
    snapshot_unref(old);
    if (!rc) rc = dubbo_reference_set_invokers(ref, list, made);
    for (size_t i = 0; i < made; i++)
        dubbo_invoker_unref(list[i]);
    free(list);
    return rc;
}

static int set_rule_slot(dubbo_cluster_t *cl, const char *router, const char *rule);

/* Record one source's tag rule (NULL: none) and install the one in force. */
static int set_tag_rule(dubbo_cluster_t *cl, bool registry, const char *rule)
{
    char *copy = NULL;
    if (rule && !(copy = strdup(rule)))
        return dubbo__seterr(DUBBO_ENOMEM, "reference: out of memory");
    pthread_mutex_lock(&cl->tag_mu);
    const char *effective =
        registry ? (copy ? copy : cl->tag_api) : (cl->tag_registry ? cl->tag_registry : copy);
    int rc = set_rule_slot(cl, "tag", effective);
    if (rc == 0) {
        char **slot = registry ? &cl->tag_registry : &cl->tag_api;
        free(*slot);
        *slot = copy;
        copy = NULL;
    }
    if (rc == 0 && !registry && cl->tag_registry)
        DLOG_INFO("reference %s: tag rule stored; the registry's tag rule stays in force until "
                  "it is removed",
                  cl->url->path);
    pthread_mutex_unlock(&cl->tag_mu);
    free(copy);
    return rc;
}

int dubbo_reference_set_rule(dubbo_reference_t *ref, const char *router, const char *rule)
{
    dubbo_cluster_t *cl = (dubbo_cluster_t *)ref;
    if (router && strcmp(router, "tag") == 0) return set_tag_rule(cl, false, rule);
    return set_rule_slot(cl, router, rule);
}

static int set_rule_slot(dubbo_cluster_t *cl, const char *router, const char *rule)
{
    if (!router || strlen(router) >= sizeof(cl->routers[0].name))
        return dubbo__seterr(DUBBO_EINVAL, "reference: bad router name \"%s\"",
                             router ? router : "(null)");
    /* "condition#application": the condition router, in a slot of its own,
     * so that rules of several scopes are active at once. */
    char ext[64];
    snprintf(ext, sizeof(ext), "%.*s", (int)strcspn(router, "#"), router);
    const dubbo_router_ops_t *ops = dubbo_extension_find(DUBBO_EXT_ROUTER, ext);
    if (!ops) return dubbo__last_code();
    /* Removing the tag rule keeps tag routing by the providers' own
     * dubbo.tag: the router goes back to its rule-less form. */
    dubbo_router_t *r = NULL;
    if (rule || strcmp(router, "tag") == 0) {
        r = ops->create(cl->url, rule);
        if (!r) return dubbo__last_code() ? dubbo__last_code() : DUBBO_EINVAL;
    }
    pthread_rwlock_wrlock(&cl->routers_lock);
    dubbo_router_t *old = NULL;
    for (size_t i = 0; i < cl->nrouters; i++)
        if (strcmp(cl->routers[i].name, router) == 0) {
            old = cl->routers[i].router;
            memmove(&cl->routers[i], &cl->routers[i + 1],
                    (cl->nrouters - i - 1) * sizeof(router_slot_t));
            cl->nrouters--;
            break;
        }
    if (r) {
        router_slot_t *ns = realloc(cl->routers, (cl->nrouters + 1) * sizeof(*ns));
        if (!ns) {
            pthread_rwlock_unlock(&cl->routers_lock);
            if (r->ops->destroy) r->ops->destroy(r);
            if (old && old->ops->destroy) old->ops->destroy(old);
            return dubbo__seterr(DUBBO_ENOMEM, "reference: out of memory");
        }
        cl->routers = ns;
        /* keep the chain sorted by priority (stable: equal ones in order) */
        size_t pos = cl->nrouters;
        while (pos > 0 && cl->routers[pos - 1].router->priority > r->priority)
            pos--;
        memmove(&cl->routers[pos + 1], &cl->routers[pos],
                (cl->nrouters - pos) * sizeof(router_slot_t));
        snprintf(cl->routers[pos].name, sizeof(cl->routers[pos].name), "%s", router);
        cl->routers[pos].router = r;
        cl->nrouters++;
    }
    pthread_rwlock_unlock(&cl->routers_lock);
    if (old && old->ops->destroy) old->ops->destroy(old);
    return 0;
}

/* The consumer filter chain of a reference (src/filter/support.c: Java's
 * getActivateExtension over `reference.filter` or `filter`). */
static int build_filters(dubbo_cluster_t *cl)
{
    return dubbo__filter_chain_build(cl->url, DUBBO_FILTER_CONSUMER, &cl->filters, &cl->nfilters);
}

/* Empty-list protection (Java's `enable-empty-protection`, on by default
 * here): a registry that has just reconnected, or whose session or lease
 * has just expired, announces an empty list for a moment although every
 * provider is healthy; applying it fails every call until the providers
 * register again. So an empty list is held back while some provider of the
 * current directory is still connected and not read-only (the invoker's
 * `connected`): those are not gone. A connection that is down, or being
 * retried, does not count. Providers that really left (killed, shut down: connection
 * closed or read-only) are unavailable, and then the empty list applies.
 * An explicit empty:// entry always applies. reg_mu held. */
static bool hold_empty_list(dubbo_cluster_t *cl, const regsub_t *sub)
{
    const char *v = dubbo_url_param(cl->url, "enable-empty-protection", "true");
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) return false;
    snapshot_t *s = snapshot_take(cl);
    size_t up = 0;
    for (size_t i = 0; s && i < s->n; i++) {
        dubbo_invoker_t *inv = s->items[i];
        up += inv->ops->connected ? inv->ops->connected(inv) : dubbo_invoker_available(inv);
    }
    size_t known = s ? s->n : 0;
    snapshot_unref(s);
    if (up == 0) return false;
    if (!cl->holding)
        DLOG_WARN("reference %s: the %s registry announced no providers while %zu of the %zu "
                  "known are still reachable; keeping them (enable-empty-protection; "
                  "unreachable ones are skipped)",
                  cl->url->path, sub->reg->url->protocol, up, known);
    cl->holding = true;
    return true;
}

/* A provider URL as the directory uses it: the provider-side rules first,
 * standing in for a provider that re-registers with them (Java's
 * providers apply those themselves), then the consumer-side ones, matched
 * against the consumer's view of the URL (its address, application and
 * settings). NULL on failure (message set). reg_mu held. */
static char *configured_url(dubbo_cluster_t *cl, const regsub_t *sub, const char *raw)
{
    if (!sub->confs[0].n && !sub->confs[1].n && !sub->confs[2].n) return strdup(raw);
    const dubbo__confs_t *lists[3] = {&sub->confs[0], &sub->confs[1], &sub->confs[2]};
    dubbo__conf_view_t pv = {.side = "provider", .host = NULL};
    char *p = dubbo__confs_configure(lists, 3, &pv, raw, false);
    if (!p) return NULL;
    dubbo__conf_view_t cv = {.side = "consumer",
                             .host = dubbo_local_ip(),
                             .application = dubbo_url_param(cl->url, "application", NULL),
                             .merged = cl->url};
    char *c = dubbo__confs_configure(lists, 3, &cv, p, true);
    free(p);
    return c;
}

/* The directory again from every registry's last providers, each passed
 * through its registry's configurators; providers they disable are left
 * out. reg_mu held. */
static void refresh_directory(dubbo_cluster_t *cl, regsub_t *sub, bool explicit_empty)
{
    size_t total = 0;
    for (size_t i = 0; i < cl->nsubs; i++)
        total += cl->subs[i].nproviders;
    char **all = calloc(total ? total : 1, sizeof(char *));
    size_t m = 0;
    for (size_t i = 0; all && i < cl->nsubs; i++)
        for (size_t k = 0; k < cl->subs[i].nproviders; k++) {
            if (!cl->subs[i].providers[k]) continue; /* its copy failed */
            char *u = configured_url(cl, &cl->subs[i], cl->subs[i].providers[k]);
            /* parsed only when it may say disabled (every call of a big
             * directory's rebuild counts) */
            bool maybe = u && (strstr(u, "disabled=") || strstr(u, "enabled="));
            dubbo_url_t *pu = maybe ? dubbo_url_parse(u) : NULL;
            bool off = pu && dubbo__conf_disabled(pu);
            dubbo_url_free(pu);
            if (!u || (maybe && !pu)) {
                DLOG_WARN("reference %s: provider %.200s left as announced: %s", cl->url->path,
                          cl->subs[i].providers[k], dubbo_last_error());
                free(u);
                u = strdup(cl->subs[i].providers[k]);
                if (!u) continue;
            }
            /* the same provider through two registries counts once */
            bool dup = off;
            for (size_t j = 0; j < m && !dup; j++)
                dup = strcmp(all[j], u) == 0;
            if (dup)
                free(u);
            else
                all[m++] = u;
        }
    /* providers that configurators disabled are gone on purpose */
    if (all && total == 0 && !explicit_empty && hold_empty_list(cl, sub)) {
        free(all);
        return;
    }
    if (m > 0 && cl->holding)
        DLOG_INFO("reference %s: %zu providers announced again; empty-list protection ends",
                  cl->url->path, m);
    cl->holding = false;
    if (all && dubbo_reference_set_providers((dubbo_reference_t *)cl, (const char *const *)all, m))
        DLOG_WARN("reference %s: cannot apply %zu providers from %s: %s", cl->url->path, m,
                  sub->reg->url->protocol, dubbo_last_error());
    else
        DLOG_DEBUG("reference %s: %zu providers (%zu from %s)", cl->url->path, m, sub->nproviders,
                   sub->reg->url->protocol);
    for (size_t i = 0; i < m; i++)
        free(all[i]);
    free(all);
}

long dubbo__cluster_param_int(dubbo_cluster_t *cl, const char *method, const char *key, long def)
{
    if (atomic_load(&cl->overridden)) {
        long v = LONG_MIN;
        pthread_mutex_lock(&cl->mu);
        if (cl->conf_over) v = dubbo_url_method_param_int(cl->conf_over, method, key, LONG_MIN);
        pthread_mutex_unlock(&cl->mu);
        if (v != LONG_MIN) return v;
    }
    return dubbo_url_method_param_int(cl->url, method, key, def);
}

/* Configure the reference's own URL as Java's overrideConsumerUrl does
 * (the consumer URL each registry was subscribed with, through that
 * registry's configurators) and keep what consumer-side rules set on it.
 * reg_mu held. */
static void configure_reference(dubbo_cluster_t *cl)
{
    dubbo_url_t *over = calloc(1, sizeof(*over));
    for (size_t i = 0; over && i < cl->nsubs; i++) {
        const regsub_t *sub = &cl->subs[i];
        if (!sub->consumer_url || (!sub->confs[0].n && !sub->confs[1].n && !sub->confs[2].n))
            continue;
        const dubbo__confs_t *lists[3] = {&sub->confs[0], &sub->confs[1], &sub->confs[2]};
        dubbo__conf_view_t cv = {.side = "consumer",
                                 .host = dubbo_local_ip(),
                                 .application = dubbo_url_param(cl->url, "application", NULL)};
        char *c = dubbo__confs_configure(lists, 3, &cv, sub->consumer_url, true);
        dubbo_url_t *u = c ? dubbo_url_parse(c) : NULL;
        for (size_t k = 0; u && k < u->nparams; k++)
            if (dubbo__conf_overridden(u, u->params[k].key) &&
                dubbo_url_param(u, u->params[k].key, NULL) == u->params[k].value &&
                dubbo_url_add_param(over, u->params[k].key, u->params[k].value))
                break;
        dubbo_url_free(u);
        free(c);
    }
    if (over && over->nparams == 0) {
        free(over);
        over = NULL;
    }
    pthread_mutex_lock(&cl->mu);
    dubbo_url_t *old = cl->conf_over;
    cl->conf_over = over;
    atomic_store(&cl->overridden, over != NULL);
    pthread_mutex_unlock(&cl->mu);
    dubbo_url_free(old);
}

/* A registry's configurators: override:// and absent:// URLs (an empty://
 * entry: none), and Dubbo 3 rules as configurator://...?rule=<YAML>&scope=.
 * A rule that does not parse leaves that scope's configurators as they
 * were (Java logs it and keeps its old ones). Runs on the registry's
 * thread. */
static void notify_configurators(dubbo_cluster_t *cl, regsub_t *sub, const char *const *urls,
                                 size_t n)
{
    dubbo__confs_t next[3];
    bool bad[3] = {false, false, false};
    for (int k = 0; k < 3; k++)
        dubbo__confs_init(&next[k]);
    bool cleared = false;
    for (size_t i = 0; i < n; i++) {
        char scheme[32];
        size_t sl = strcspn(urls[i], ":");
        snprintf(scheme, sizeof(scheme), "%.*s", (int)(sl < 31 ? sl : 31), urls[i]);
        int rc = 0, k = 0;
        if (strcmp(scheme, "empty") == 0) {
            cleared = true;
            continue;
        } else if (strcmp(scheme, "configurator") == 0) {
            dubbo_url_t *u = dubbo_url_parse(urls[i]);
            const char *scope = u ? dubbo_url_param(u, "scope", "service") : "service";
            const char *rule = u ? dubbo_url_param(u, "rule", NULL) : NULL;
            k = strcmp(scope, "application") == 0 ? 1 : 2;
            rc = !u     ? DUBBO_EINVAL
                 : rule ? dubbo__confs_add_yaml(&next[k], rule)
                        : dubbo__seterr(DUBBO_EINVAL, "configurator URL without a rule");
            dubbo_url_free(u);
        } else if (!cleared) {
            rc = dubbo__confs_add_url(&next[0], urls[i]);
        }
        if (rc) {
            bad[k] = true;
            DLOG_WARN("reference %s: configurator from %s refused (%s configurators kept as they "
                      "were): %s",
                      cl->url->path, sub->reg->url->protocol,
                      k == 0   ? "override"
                      : k == 1 ? "application"
                               : "service",
                      dubbo_last_error());
        }
    }
    if (cleared) {
        dubbo__confs_destroy(&next[0]);
        bad[0] = false;
    }
    pthread_mutex_lock(&cl->reg_mu);
    for (int k = 0; k < 3; k++) {
        if (bad[k]) continue;
        dubbo__confs_sort(&next[k]);
        dubbo__confs_t t = sub->confs[k];
        sub->confs[k] = next[k];
        next[k] = t;
    }
    configure_reference(cl);
    /* before the first providers list there is nothing to configure */
    if (sub->notified) refresh_directory(cl, sub, false);
    pthread_mutex_unlock(&cl->reg_mu);
    for (int k = 0; k < 3; k++)
        dubbo__confs_destroy(&next[k]);
    DLOG_DEBUG("reference %s: %zu configurator entries from %s", cl->url->path, n,
               sub->reg->url->protocol);
}

/* A registry announced a category's full list. Providers of other versions
 * or groups, of protocols we cannot call, and Java's empty:// marker are
 * left out; the directory becomes the union over the reference's
 * registries. Runs on the registry's thread. */
static void reference_notify(void *user, const char *category, const char *const *urls, size_t n)
{
    regsub_t *sub = user;
    dubbo_cluster_t *cl = sub->cl;
    /* for /metrics: Java's notify and config-center counts */
    dubbo__op_count(sub->reg->url->protocol,
                    strcmp(category, "providers") == 0 ? DUBBO__OP_NOTIFY : DUBBO__OP_CONFIG, true,
                    n);
    if (strcmp(category, "routers") == 0) {
        /* rules as <router>://.../<interface>?rule=<encoded YAML>[&scope=];
         * one slot per router and scope ("condition#application"), so an
         * application rule and a service rule apply together, as in Java */
        static const char *const slots[] = {"condition#service", "condition#application",
                                            "tag#registry"};
        bool seen[3] = {false, false, false};
        for (size_t i = 0; i < n; i++) {
            dubbo_url_t *u = dubbo_url_parse(urls[i]);
            if (!u) continue;
            const char *raw = dubbo_url_param(u, "rule", NULL);
            const char *scope = dubbo_url_param(u, "scope", NULL);
            /* Old route URLs (dubbo-admin) encode spaces as '+', read by
             * Java with getParameterAndDecoded; config-node rules carry a
             * `scope` and encode them as %20, so their '+' is a '+'. */
            char *rule = raw ? strdup(raw) : NULL;
            for (char *p = rule; !scope && p && *p; p++)
                if (*p == '+') *p = ' ';
            int slot = strcmp(u->protocol, "tag") == 0 ? 2
                       : strcmp(u->protocol, "condition") == 0
                           ? (scope && strcmp(scope, "application") == 0 ? 1 : 0)
                           : -1;
            if (rule && slot >= 0) {
                int rc =
                    slot == 2 ? set_tag_rule(cl, true, rule) : set_rule_slot(cl, slots[slot], rule);
                if (rc)
                    DLOG_WARN("reference %s: rule from %s refused: %s", cl->url->path,
                              sub->reg->url->protocol, dubbo_last_error());
                seen[slot] = true;
            }
            free(rule);
            dubbo_url_free(u);
        }
        /* A rule that a registry no longer lists goes, with a line saying so;
         * rules set through the API are not the registry's to remove. */
        for (int k = 0; k < 3; k++) {
            if (seen[k]) continue;
            bool had = false;
            if (k == 2) {
                pthread_mutex_lock(&cl->tag_mu);
                had = cl->tag_registry != NULL;
                pthread_mutex_unlock(&cl->tag_mu);
                if (had) set_tag_rule(cl, true, NULL);
            } else {
                pthread_rwlock_rdlock(&cl->routers_lock);
                for (size_t i = 0; i < cl->nrouters; i++)
                    had |= strcmp(cl->routers[i].name, slots[k]) == 0;
                pthread_rwlock_unlock(&cl->routers_lock);
                if (had) set_rule_slot(cl, slots[k], NULL);
            }
            if (had)
                DLOG_INFO("reference %s: the %s registry no longer has a %s rule; removed",
                          cl->url->path, sub->reg->url->protocol, slots[k]);
        }
        return;
    }
    if (strcmp(category, "configurators") == 0) {
        notify_configurators(cl, sub, urls, n);
        return;
    }
    if (strcmp(category, "providers") != 0) return;
    const char *version = dubbo_url_param(cl->url, "version", NULL);
    const char *group = dubbo_url_param(cl->url, "group", NULL);
    /* Java's consumer `protocol` parameter: only providers of that scheme
     * (a provider that serves several protocols registers one URL each). */
    const char *want = dubbo_url_param(cl->url, "protocol", NULL);
    char **keep = calloc(n ? n : 1, sizeof(char *));
    size_t nkeep = 0;
    bool explicit_empty = false; /* an empty:// entry: "no providers", said on purpose */
    for (size_t i = 0; keep && i < n; i++) {
        dubbo_url_t *u = dubbo_url_parse(urls[i]);
        if (!u) continue;
        explicit_empty |= strcmp(u->protocol, "empty") == 0;
        const dubbo_protocol_ops_t *proto = dubbo_extension_find(DUBBO_EXT_PROTOCOL, u->protocol);
        bool ok = strcmp(u->protocol, "empty") != 0 && proto && proto->refer &&
                  (!want || !*want || strcmp(want, u->protocol) == 0) &&
                  dubbo__service_key_match(version, dubbo_url_param(u, "version", NULL), true) &&
                  dubbo__service_key_match(group, dubbo_url_param(u, "group", NULL), false);
        dubbo_url_free(u);
        if (ok) keep[nkeep++] = strdup(urls[i]);
    }
    pthread_mutex_lock(&cl->reg_mu);
    for (size_t k = 0; k < sub->nproviders; k++)
        free(sub->providers[k]);
    free(sub->providers);
    sub->providers = keep;
    sub->nproviders = nkeep;
    sub->notified = true;
    pthread_cond_broadcast(&cl->reg_cv);
    refresh_directory(cl, sub, explicit_empty);
    pthread_mutex_unlock(&cl->reg_mu);
}

void dubbo_reference_free(dubbo_reference_t *ref)
{
    dubbo_cluster_t *cl = (dubbo_cluster_t *)ref;
    if (!cl) return;
    /* Registries first: after unsubscribe no notification can arrive. */
    for (size_t i = 0; i < cl->nsubs; i++) {
        regsub_t *sub = &cl->subs[i];
        if (sub->subscribed)
            sub->reg->ops->unsubscribe(sub->reg, sub->consumer_url, reference_notify, sub);
        if (sub->registered) sub->reg->ops->unreg(sub->reg, sub->consumer_url);
        dubbo_registry_close(sub->reg);
        for (size_t k = 0; k < sub->nproviders; k++)
            free(sub->providers[k]);
        free(sub->providers);
        free(sub->consumer_url);
        for (int k = 0; k < 3; k++)
            dubbo__confs_destroy(&sub->confs[k]);
    }
    free(cl->subs);
    pthread_mutex_destroy(&cl->reg_mu);
    pthread_cond_destroy(&cl->reg_cv);
    /* Then the strategy, while everything it may use is still there. */
    if (cl->strategy_made && cl->strategy->destroy) cl->strategy->destroy(cl, cl->strategy_state);
    snapshot_unref(cl->snap);
    for (size_t i = 0; i < cl->nrouters; i++)
        if (cl->routers[i].router->ops->destroy)
            cl->routers[i].router->ops->destroy(cl->routers[i].router);
    free(cl->routers);
    free(cl->tag_api);
    free(cl->tag_registry);
    pthread_mutex_destroy(&cl->tag_mu);
    for (size_t i = 0; i < cl->nfilters; i++)
        if (cl->filters[i]->ops->destroy) cl->filters[i]->ops->destroy(cl->filters[i]);
    free(cl->filters);
    dubbo_url_free(cl->conf_over);
    if (cl->lb && cl->lb->ops && cl->lb->ops->destroy) cl->lb->ops->destroy(cl->lb);
    for (size_t i = 0; i < cl->nlb_over; i++)
        if (cl->lb_over[i]->ops->destroy) cl->lb_over[i]->ops->destroy(cl->lb_over[i]);
    dubbo_url_free(cl->url);
    pthread_mutex_destroy(&cl->mu);
    pthread_rwlock_destroy(&cl->routers_lock);
    free(cl);
}

/* A URL whose scheme is a registry, not a protocol. */
static bool is_registry_url(const char *u)
{
    char scheme[32];
    size_t n = strcspn(u, ":");
    if (n == 0 || n >= sizeof(scheme) || strncmp(u + n, "://", 3) != 0) return false;
    snprintf(scheme, sizeof(scheme), "%.*s", (int)n, u);
    const char *names[64];
    size_t k = dubbo_extension_list(DUBBO_EXT_REGISTRY, names, 64);
    for (size_t i = 0; i < k && i < 64; i++)
        if (strcmp(names[i], scheme) == 0) return true;
    return false;
}

/* Open, register the consumer in, and subscribe to every registry URL of
 * the list (its last path segment is the interface, unless `interface`
 * was given as a parameter). */
static int subscribe_registries(dubbo_cluster_t *cl, const char *urls)
{
    char *list = strdup(urls);
    if (!list) return dubbo__seterr(DUBBO_ENOMEM, "reference: out of memory");
    size_t count = 0;
    for (const char *p = urls; *p; p++)
        count += *p == ';';
    cl->subs = calloc(count + 1, sizeof(regsub_t));
    int rc = cl->subs ? 0 : DUBBO_ENOMEM;
    const char *app = dubbo_url_param(cl->url, "application", NULL);
    const char *iface = dubbo_url_param(cl->url, "interface", NULL);
    for (char *save = NULL, *t = strtok_r(list, ";", &save); t && !rc;
         t = strtok_r(NULL, ";", &save)) {
        if (!is_registry_url(t)) continue;
        char *regurl = strdup(t);
        if (!regurl) {
            rc = DUBBO_ENOMEM;
            break;
        }
        /* cut "/<interface>" off, keeping any ?parameters; with an explicit
         * `interface` parameter, only a last segment that names it (the
         * rest may be a file registry's directory) */
        size_t qpos = strcspn(regurl, "?");
        const char *scheme_end = strstr(regurl, "://");
        size_t cut = qpos;
        for (size_t i = qpos; i > 0; i--)
            if (regurl[i - 1] == '/') {
                bool names_it = !iface || (qpos - i == strlen(iface) &&
                                           strncmp(regurl + i, iface, qpos - i) == 0);
                if (names_it && scheme_end && regurl + i - 1 > scheme_end + 2) cut = i - 1;
                break;
            }
        /* regurl[0..cut) + regurl[qpos..]: never longer than regurl */
        memmove(regurl + cut, regurl + qpos, strlen(regurl + qpos) + 1);
        regsub_t *sub = &cl->subs[cl->nsubs];
        sub->cl = cl;
        sub->reg = dubbo_registry_open(regurl);
        free(regurl);
        if (!sub->reg) {
            rc = dubbo__last_code() ? dubbo__last_code() : DUBBO_EINVAL;
            break;
        }
        cl->nsubs++;
        sub->consumer_url = dubbo_consumer_url(dubbo_local_ip(), cl->url->path,
                                               dubbo_url_param(cl->url, "version", ""),
                                               dubbo_url_param(cl->url, "group", ""), app);
        /* provided-by: the applications application-level discovery
         * follows without the mapping (Java's providedBy, on the consumer URL) */
        const char *by = dubbo_url_param(cl->url, "provided-by", NULL);
        if (sub->consumer_url && by && *by) {
            char *enc = dubbo_url_encode(by), *cu = NULL;
            if (enc && asprintf(&cu, "%s&provided-by=%s", sub->consumer_url, enc) < 0) cu = NULL;
            free(enc);
            free(sub->consumer_url);
            sub->consumer_url = cu;
        }
        if (!sub->consumer_url) {
            rc = DUBBO_ENOMEM;
            break;
        }
        /* Java registers the consumer too (operators see who calls what);
         * a registry that is down is not an error for the caller. */
        if (sub->reg->ops->reg(sub->reg, sub->consumer_url) == 0) sub->registered = true;
        rc = sub->reg->ops->subscribe(sub->reg, sub->consumer_url, reference_notify, sub);
        dubbo__op_count(sub->reg->url->protocol, DUBBO__OP_SUBSCRIBE_SERVICE, rc == 0, 0);
        if (!rc) sub->subscribed = true;
    }
    free(list);
    /* Like Java's subscribe, hand the reference back with the providers
     * known: wait (up to each registry's `timeout`, default 3000 ms) for
     * the first list. A registry that is down does not fail the reference:
     * it is followed as soon as it answers. */
    for (size_t i = 0; !rc && i < cl->nsubs; i++) {
        regsub_t *sub = &cl->subs[i];
        long ms = dubbo_url_param_int(sub->reg->url, "timeout", 3000);
        struct timespec dl;
        dubbo__deadline(&dl, CLOCK_REALTIME, ms > 0 ? (uint64_t)ms : 0);
        pthread_mutex_lock(&cl->reg_mu);
        while (!sub->notified)
            if (pthread_cond_timedwait(&cl->reg_cv, &cl->reg_mu, &dl)) break;
        if (!sub->notified)
            DLOG_WARN("reference %s: no provider list from %s within %ld ms; going on",
                      cl->url->path, sub->reg->url->protocol, ms);
        pthread_mutex_unlock(&cl->reg_mu);
    }
    return rc;
}

dubbo_reference_t *dubbo_reference_new(const char *urls, const char *const *params)
{
    dubbo_extensions_init();
    dubbo_cluster_t *cl = calloc(1, sizeof(*cl));
    if (!cl) {
        dubbo__seterr(DUBBO_ENOMEM, "reference: out of memory");
        return NULL;
    }
    pthread_mutex_init(&cl->mu, NULL);
    pthread_mutex_init(&cl->reg_mu, NULL);
    pthread_cond_init(&cl->reg_cv, NULL);
    pthread_rwlock_init(&cl->routers_lock, NULL);
    pthread_mutex_init(&cl->tag_mu, NULL);
    /* The reference URL: the first provider's address and path, with only
     * the reference's own parameters. A provider URL's parameters (weight,
     * dubbo.tag, timeout, version, ...) stay with that provider's invoker,
     * where consumer settings override them (Java's mergeUrl). */
    char *list = urls ? strdup(urls) : NULL;
    const char *iface = NULL;
    for (const char *const *kv = params; kv && kv[0] && kv[1]; kv += 2)
        if (strcmp(kv[0], "interface") == 0) iface = kv[1];
    char *save_first = NULL;
    char *first = list ? strtok_r(list, ";", &save_first) : NULL;
    if (first && is_registry_url(first)) {
        /* registry://.../<interface>: the interface is the last segment */
        const char *slash = strrchr(first, '/');
        char tmp[600];
        snprintf(tmp, sizeof(tmp), "consumer://" DUBBO__HOST_FMT "/%s",
                 DUBBO__HOST_ARGS(dubbo_local_ip()),
                 iface               ? iface
                 : slash && slash[1] ? slash + 1
                                     : "");
        cl->url = dubbo_url_parse(tmp);
    } else if (first) {
        cl->url = dubbo_url_parse(first);
        if (cl->url) {
            for (size_t i = 0; i < cl->url->nparams; i++) {
                free((char *)cl->url->params[i].key);
                free((char *)cl->url->params[i].value);
            }
            cl->url->nparams = 0;
        }
    } else {
        char tmp[600];
        snprintf(tmp, sizeof(tmp), "consumer://127.0.0.1/%s", iface ? iface : "");
        cl->url = dubbo_url_parse(tmp);
    }
    int rc = cl->url ? 0 : DUBBO_EINVAL;
    for (const char *const *kv = params; !rc && kv && kv[0] && kv[1]; kv += 2)
        rc = dubbo_url_add_param(cl->url, kv[0], kv[1]);
    if (!rc && iface && strcmp(cl->url->path, iface) != 0) {
        free(cl->url->path);
        cl->url->path = strdup(iface);
    }
    if (!rc) {
        cl->strategy = dubbo_extension_find(DUBBO_EXT_CLUSTER,
                                            dubbo_url_param(cl->url, "cluster", "failover"));
        if (!cl->strategy) rc = dubbo__last_code();
    }
    if (!rc) {
        const dubbo_lb_ops_t *lb = dubbo_extension_find(
            DUBBO_EXT_LOADBALANCE, dubbo_url_param(cl->url, "loadbalance", "random"));
        if (!lb)
            rc = dubbo__last_code();
        else if (!(cl->lb = lb->create(cl->url)))
            rc = dubbo__last_code() ? dubbo__last_code() : DUBBO_EINVAL;
    }
    if (!rc) rc = build_filters(cl);
    /* Tag routing is always on, as in Java (it passes everything through
     * when neither the call nor a rule sets a tag). */
    if (!rc && dubbo_extension_find(DUBBO_EXT_ROUTER, "tag")) {
        const dubbo_router_ops_t *tag = dubbo_extension_find(DUBBO_EXT_ROUTER, "tag");
        dubbo_router_t *r = tag->create(cl->url, NULL);
        if (!r)
            rc = dubbo__last_code();
        else {
            cl->routers = calloc(1, sizeof(router_slot_t));
            if (!cl->routers)
                rc = DUBBO_ENOMEM;
            else {
                snprintf(cl->routers[0].name, sizeof(cl->routers[0].name), "tag");
                cl->routers[0].router = r;
                cl->nrouters = 1;
            }
        }
    }
    if (!rc) {
        /* providers: every URL of the list */
        size_t n = 0;
        const char **ps = NULL;
        if (urls) {
            free(list);
            list = strdup(urls);
            for (char *save = NULL, *t = strtok_r(list, ";", &save); t;
                 t = strtok_r(NULL, ";", &save)) {
                if (is_registry_url(t)) continue; /* subscribed below */
                const char **np = realloc(ps, (n + 1) * sizeof(*np));
                if (!np) {
                    rc = DUBBO_ENOMEM;
                    break;
                }
                ps = np;
                ps[n++] = t;
            }
        }
        if (!rc) rc = dubbo_reference_set_providers((dubbo_reference_t *)cl, ps, n);
        free(ps);
    }
    free(list);
    if (!rc && cl->strategy->create) rc = cl->strategy->create(cl, &cl->strategy_state);
    if (!rc) cl->strategy_made = true;
    /* Registries last: their first notification may arrive at once, from
     * their own threads, and finds the reference complete. */
    if (!rc && urls) rc = subscribe_registries(cl, urls);
    if (rc) {
        char detail[512];
        snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
        dubbo_reference_free((dubbo_reference_t *)cl);
        dubbo__seterr(rc, "%s", detail);
        return NULL;
    }
    return (dubbo_reference_t *)cl;
}

/* ---- calls ---------------------------------------------------------------------------- */

int dubbo_cluster_list(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_invoker_t ***out)
{
    *out = NULL;
    snapshot_t *s = snapshot_take(cl);
    size_t n = s ? s->n : 0;
    dubbo_invoker_t **a = malloc((n ? n : 1) * sizeof(*a));
    dubbo_invoker_t **b = malloc((n ? n : 1) * sizeof(*b));
    if (!a || !b) {
        free(a);
        free(b);
        snapshot_unref(s);
        return dubbo__seterr(DUBBO_ENOMEM, "cluster: out of memory");
    }
    if (n) memcpy(a, s->items, n * sizeof(*a));
    int rc = 0;
    pthread_rwlock_rdlock(&cl->routers_lock);
    for (size_t i = 0; i < cl->nrouters && n > 0; i++) {
        dubbo_router_t *r = cl->routers[i].router;
        int m = r->ops->route(r, a, n, b, cl->url, inv);
        if (m < 0) {
            rc = m;
            break;
        }
        dubbo_invoker_t **t = a;
        a = b;
        b = t;
        n = (size_t)m;
    }
    pthread_rwlock_unlock(&cl->routers_lock);
    free(b);
    if (rc) {
        free(a);
        snapshot_unref(s);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        dubbo_invoker_ref(a[i]);
    snapshot_unref(s);
    *out = a;
    return (int)n;
}

void dubbo_invokers_release(dubbo_invoker_t **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        dubbo_invoker_unref(list[i]);
    free(list);
}

static bool in_list(dubbo_invoker_t *x, dubbo_invoker_t *const *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (l[i] == x) return true;
    return false;
}

/* The balancer a consumer-side configurator named (loadbalance=, read
 * from the first candidate as Java's initLoadBalance does), else the
 * reference's own. */
static dubbo_lb_t *override_lb(dubbo_cluster_t *cl, const dubbo_invoker_t *first,
                               const dubbo_invocation_t *inv)
{
    const char *method = inv ? dubbo_invocation_method(inv) : NULL;
    if (!dubbo__invoker_overrides(first, method, "loadbalance")) return cl->lb;
    const char *name = dubbo_url_method_param(first->url, method, "loadbalance", NULL);
    if (!name || strcmp(name, cl->lb->ops->name) == 0) return cl->lb;
    dubbo_lb_t *lb = NULL;
    pthread_mutex_lock(&cl->mu);
    for (size_t i = 0; i < cl->nlb_over && !lb; i++)
        if (strcmp(cl->lb_over[i]->ops->name, name) == 0) lb = cl->lb_over[i];
    if (!lb && cl->nlb_over < sizeof(cl->lb_over) / sizeof(cl->lb_over[0])) {
        const dubbo_lb_ops_t *ops = dubbo_extension_find(DUBBO_EXT_LOADBALANCE, name);
        lb = ops ? ops->create(cl->url) : NULL;
        if (lb) cl->lb_over[cl->nlb_over++] = lb;
    }
    pthread_mutex_unlock(&cl->mu);
    if (!lb)
        DLOG_WARN("reference %s: configurator's loadbalance=%s unknown; using %s", cl->url->path,
                  name, cl->lb->ops->name);
    return lb ? lb : cl->lb;
}

dubbo_invoker_t *dubbo_cluster_select(dubbo_cluster_t *cl, const dubbo_invocation_t *inv,
                                      dubbo_invoker_t *const *cands, size_t n,
                                      dubbo_invoker_t *const *tried, size_t ntried)
{
    if (n == 0) {
        dubbo__seterr(DUBBO_ENOT_FOUND,
                      "No provider available for the service %s (method %s): the directory is "
                      "empty or the routers left no provider",
                      cl->url->path, inv && inv->method ? inv->method : "?");
        return NULL;
    }
    dubbo_invoker_t **pick = malloc(n * sizeof(*pick));
    if (!pick) {
        dubbo__seterr(DUBBO_ENOMEM, "cluster: out of memory");
        return NULL;
    }
    /* Preference, as Java's select/reselect: available and not tried yet;
     * then available (tried again); then not tried (maybe reconnecting);
     * then anything. */
    size_t m = 0;
    for (int pass = 0; pass < 4 && m == 0; pass++)
        for (size_t i = 0; i < n; i++) {
            bool avail = pass >= 2 || dubbo_invoker_available(cands[i]);
            bool fresh = pass == 1 || pass == 3 || !in_list(cands[i], tried, ntried);
            if (avail && fresh) pick[m++] = cands[i];
        }
    dubbo_lb_t *lb = m > 1 ? override_lb(cl, pick[0], inv) : cl->lb;
    dubbo_invoker_t *chosen = m == 1 ? pick[0] : lb->ops->select(lb, pick, m, cl->url, inv);
    free(pick);
    if (!chosen)
        dubbo__seterr(DUBBO_ENOT_FOUND, "the %s load balancer chose no provider among %zu for %s",
                      cl->lb->ops->name, m, cl->url->path);
    return chosen;
}

bool dubbo_result_retryable(int rc, const dubbo_result_t *r)
{
    if (rc) return true;
    return r->status != DUBBO_STATUS_OK;
}

int dubbo_result_fail(dubbo_result_t *r, int rc, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!r->arena) r->arena = dubbo_arena_new(0);
    r->error = r->arena ? dubbo_arena_strndup(r->arena, msg, strlen(msg)) : NULL;
    dubbo__seterr(rc, "%s", msg);
    return rc;
}

/* ---- introspection for the QoS port (src/qos/) ------------------------------------------ */

int dubbo__reference_snapshot(dubbo_reference_t *ref, size_t *all, size_t *valid, dubbo_buf_t *out)
{
    dubbo_cluster_t *cl = (dubbo_cluster_t *)ref;
    snapshot_t *s = snapshot_take(cl);
    size_t n = s ? s->n : 0, ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += dubbo_invoker_available(s->items[i]);
    *all = n;
    *valid = ok;
    if (!out) {
        snapshot_unref(s);
        return 0;
    }
    /* each router's step, as a call of no particular method would be routed */
    dubbo_invoker_t **a = malloc((n ? n : 1) * sizeof(*a)), **b = malloc((n ? n : 1) * sizeof(*b));
    int rc = a && b ? 0 : DUBBO_ENOMEM;
    if (!rc && n) memcpy(a, s->items, n * sizeof(*a));
    dubbo_invocation_t inv = {.method = ""};
    char line[512];
    pthread_rwlock_rdlock(&cl->routers_lock);
    if (!rc && !cl->nrouters) {
        int k = snprintf(line, sizeof(line), "[ no router ] %zu invoker(s)\n", n);
        rc = dubbo_buf_append(out, line, (size_t)k);
    }
    for (size_t i = 0; !rc && i < cl->nrouters; i++) {
        dubbo_router_t *r = cl->routers[i].router;
        int m = r->ops->route(r, a, n, b, cl->url, &inv);
        if (m < 0) m = 0;
        int k =
            snprintf(line, sizeof(line), "[ %s ] %zu -> %d invoker(s):", cl->routers[i].name, n, m);
        rc = dubbo_buf_append(out, line, (size_t)k);
        for (int j = 0; !rc && j < m; j++) {
            k = snprintf(line, sizeof(line), " %s", b[j]->address);
            rc = dubbo_buf_append(out, line, (size_t)k);
        }
        if (!rc) rc = dubbo_buf_append(out, "\n", 1);
        dubbo_invoker_t **t = a;
        a = b;
        b = t;
        n = (size_t)m;
    }
    pthread_rwlock_unlock(&cl->routers_lock);
    free(a);
    free(b);
    snapshot_unref(s);
    return rc;
}
