/* Application-level service discovery, as Java Dubbo 3.3 does it
 * (ServiceDiscoveryRegistry, ServiceInstancesChangedListener,
 * MetadataServiceDelegation; docs/service-discovery.md).
 *
 * A wrapper around a registry that has the node_* operations (registry.h):
 *
 * Provider (register-mode instance or all): the provider URLs registered
 * through it become one application instance, services/<app>/<host:port>,
 * whose metadata names the revision of the application's MetadataInfo (the
 * services, their protocols, ports and parameters; the revision is Java's
 * MD5 over them, so the same services give Java's revision), and
 * mapping/<interface> gets the application's name. The MetadataInfo itself
 * is served by org.apache.dubbo.metadata.MetadataService (group <app>,
 * version 1.0.0, getMetadataInfo(revision)), exported on the server the
 * registry is attached to and never registered (Java keeps it internal).
 * register-mode=all also registers the interface-level URLs.
 *
 * Consumer (migration APPLICATION_FIRST or FORCE_APPLICATION): a
 * subscription reads mapping/<interface> (or the consumer URL's
 * provided-by), follows services/<app> for each application, fetches each
 * new revision's MetadataInfo from one of its instances (cached by
 * revision) and delivers one provider URL per instance and matching
 * service: protocol://<instance address>:<the protocol's endpoint
 * port>/<path>?<the service's parameters>. Routers and configurators still
 * come from the interface-level subscription. APPLICATION_FIRST delivers
 * the application-level list when it is not empty, else the
 * interface-level one (Java's DefaultMigrationAddressComparator with its
 * default threshold 0).
 *
 * Threads: reg/unreg/subscribe from any thread; notifications arrive on
 * the wrapped registry's thread, where metadata is fetched synchronously
 * (as Java does in its listener), up to 3 tries of METADATA_TIMEOUT_MS. An
 * instance whose metadata cannot be fetched is left out and tried again by
 * a thread of the wrapper's own after 1, 2, 4 ... 30 s, until it answers or
 * its application's list changes. */
#include <arpa/inet.h>
#include <jansson.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/registry.h"
#include "dubbo/rpc.h"
#include "dubbo/version.h"
#include "cluster/loadbalance/util.h"
#include "core/internal.h"
#include "core/log.h"
#include "core/opstats.h"
#include "registry/discovery.h"

#define MS_IFACE            "org.apache.dubbo.metadata.MetadataService"
#define MS_VERSION          "1.0.0"
#define METADATA_TIMEOUT_MS 3000
#define METADATA_TRIES      3
#define CACHE_MAX           32

enum { MODE_INTERFACE = 1, MODE_INSTANCE = 2 };
enum { FORCE_INTERFACE, APPLICATION_FIRST, FORCE_APPLICATION };

static char *strf(const char *fmt, ...) DUBBO__PRINTF(1, 2);
static char *strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

static bool empty(const char *s)
{
    return !s || !*s;
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* Wall-clock milliseconds, for the timestamps an instance carries (retries
 * are timed on dubbo__now_ms, which a clock step does not move). */
static int64_t epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the metadata this process serves (MetadataService) --------------------------------- */

/* One application's MetadataInfo as typed JSON, by revision. Entries are
 * never freed (handlers hold them); they are emptied when their registry
 * goes. */
typedef struct meta {
    struct meta *next;
    char *app;
    char *revision, *json;           /* current */
    char *prev_revision, *prev_json; /* the one before, for consumers mid-change */
} meta_t;

static pthread_mutex_t meta_mu = PTHREAD_MUTEX_INITIALIZER;
static meta_t *metas;

static meta_t *meta_get(const char *app)
{
    pthread_mutex_lock(&meta_mu);
    meta_t *m = metas;
    while (m && strcmp(m->app, app) != 0)
        m = m->next;
    if (!m && (m = calloc(1, sizeof(*m)))) {
        if ((m->app = strdup(app))) {
            m->next = metas;
            metas = m;
        } else {
            free(m);
            m = NULL;
        }
    }
    pthread_mutex_unlock(&meta_mu);
    return m;
}

/* Take revision and json (NULL, NULL: the application serves nothing). */
static void meta_set(meta_t *m, char *revision, char *json)
{
    pthread_mutex_lock(&meta_mu);
    if (m->revision && revision && strcmp(m->revision, revision) == 0) {
        free(revision);
        free(json);
    } else {
        free(m->prev_revision);
        free(m->prev_json);
        m->prev_revision = m->revision;
        m->prev_json = m->json;
        m->revision = revision;
        m->json = json;
        if (!revision) {
            free(m->prev_revision);
            free(m->prev_json);
            m->prev_revision = m->prev_json = NULL;
        }
    }
    pthread_mutex_unlock(&meta_mu);
}

/* getMetadataInfo(String revision): the MetadataInfo of that revision, or
 * null (as Java's MetadataServiceDelegation for an unknown one). */
static void ms_get_metadata_info(dubbo_call_t *call, void *user)
{
    meta_t *m = user;
    const dubbo_value_t *a = dubbo_call_nargs(call) > 0 ? dubbo_call_arg(call, 0) : NULL;
    const char *rev = a && a->type == DUBBO_T_STRING ? a->u.s.ptr : NULL;
    char *json = NULL;
    pthread_mutex_lock(&meta_mu);
    if (!empty(rev)) {
        if (m->revision && strcmp(m->revision, rev) == 0)
            json = m->json ? strdup(m->json) : NULL;
        else if (m->prev_revision && strcmp(m->prev_revision, rev) == 0)
            json = m->prev_json ? strdup(m->prev_json) : NULL;
    }
    pthread_mutex_unlock(&meta_mu);
    if (!json) {
        dubbo_call_return(call, NULL);
        return;
    }
    dubbo_value_t *v = NULL;
    int rc = dubbo_value_from_json(dubbo_call_arena(call), json, strlen(json), &v);
    free(json);
    if (rc)
        dubbo_call_fail(call, DUBBO_STATUS_SERVER_ERROR, dubbo_last_error());
    else
        dubbo_call_return(call, v);
}

static void ms_service_name(dubbo_call_t *call, void *user)
{
    meta_t *m = user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), m->app));
}

static void ms_version(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), MS_VERSION));
}

/* ---- the wrapper ----------------------------------------------------------------------- */

/* One service of a MetadataInfo, as a consumer read it. */
typedef struct {
    char *name, *group, *version, *protocol, *path;
    int port;
    char **keys, **vals;
    size_t np;
} svcinfo_t;

typedef struct mcache {
    struct mcache *next;
    char *app, *revision;
    svcinfo_t *svcs;
    size_t n;
} mcache_t;

typedef struct csub csub_t;

/* An application a consumer subscription follows. */
typedef struct {
    csub_t *cs;
    char *app, *key; /* key: services/<app> */
    char **urls;     /* provider URLs from its instances */
    size_t n;
    bool notified, watching;
    /* the last instance list (for a retry when an instance's metadata could
     * not be fetched), its generation, and when to try again (0: never) */
    char **vals;
    size_t nvals;
    unsigned gen, tries;
    int64_t retry_at;
    pthread_mutex_t proc_mu; /* one processing of its instances at a time */
} appw_t;

struct csub {
    csub_t *next;
    struct sd *sd;
    char *curl;
    dubbo_notify_fn fn;
    void *user;
    dubbo_url_t *cu;
    const char *iface; /* in cu */
    char *mapkey;      /* mapping/<interface> */
    pthread_mutex_t mu;
    /* one delivery at a time, in the order the lists were made (the
     * registry's thread and the retry thread both deliver) */
    pthread_mutex_t deliver_mu;
    appw_t **apps;
    size_t napps;
    int retrying; /* the retry thread is processing one of apps (sd->mu) */
    char **iurls; /* the interface-level providers */
    size_t ni;
    bool inotified, mapped, inner_sub, map_watch;
};

typedef struct sd {
    dubbo_registry_t base;
    dubbo_registry_t *inner;
    int mode, migration;
    pthread_mutex_t mu; /* provider state and the subscription list */
    char **purls;       /* provider URLs in the instance */
    size_t npurls;
    char *app, *inst_key, *inst_rev;
    char **mapped; /* interfaces written to mapping/ */
    size_t nmapped;
    meta_t *meta;
    csub_t *subs;
    pthread_mutex_t cache_mu;
    mcache_t *cache;
    /* the retry thread (started with the first retry): metadata fetches
     * that failed are tried again after 1, 2, 4 ... 30 s */
    pthread_t retry_thread;
    bool retry_started, closing;
    pthread_cond_t retry_cv; /* with mu: a retry due, a subscription released, closing */
} sd_t;

int dubbo__sd_wanted(const dubbo_url_t *u)
{
    const char *rm = dubbo_url_param(u, "register-mode", "interface");
    const char *mg = dubbo_url_param(u, "migration", "FORCE_INTERFACE");
    if (strcmp(rm, "interface") && strcmp(rm, "instance") && strcmp(rm, "all"))
        return dubbo__seterr(DUBBO_EINVAL,
                             "registry %s: register-mode=%s: not interface, instance or all",
                             u->protocol, rm);
    if (strcmp(mg, "FORCE_INTERFACE") && strcmp(mg, "APPLICATION_FIRST") &&
        strcmp(mg, "FORCE_APPLICATION"))
        return dubbo__seterr(DUBBO_EINVAL,
                             "registry %s: migration=%s: not FORCE_INTERFACE, "
                             "APPLICATION_FIRST or FORCE_APPLICATION",
                             u->protocol, mg);
    return strcmp(rm, "interface") != 0 || strcmp(mg, "FORCE_INTERFACE") != 0;
}

/* ---- provider: the instance and its MetadataInfo --------------------------------------- */

/* Java's DefaultMetadataParamsFilter: service parameters left out of the
 * MetadataInfo (a key equal to one, or containing "." + one). anyhost
 * and unix are ours: where the instance is says that. */
static bool excluded_param(const char *key)
{
    static const char *const ex[] = {"monitor",
                                     "bind.ip",
                                     "bind.port",
                                     "qos.enable",
                                     "qos.host",
                                     "qos.port",
                                     "qos.accept.foreign.ip",
                                     "validation",
                                     "interfaces",
                                     "pid",
                                     "timestamp",
                                     "heartbeat.timeout",
                                     "ipv6",
                                     "anyhost"};
    for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
        if (strcasecmp(key, ex[i]) == 0) return true;
        const char *hit = strstr(key, ex[i]);
        if (hit && hit > key && hit[-1] == '.') return true;
    }
    return false;
}

typedef struct {
    const dubbo_url_t *u;
    char *match_key; /* [group/]interface[:version]:protocol */
    char *desc;      /* Java's ServiceInfo.toDescString() */
} pinfo_t;

static int cmp_pinfo(const void *a, const void *b)
{
    return strcmp(((const pinfo_t *)a)->match_key, ((const pinfo_t *)b)->match_key);
}

static int cmp_param(const void *a, const void *b)
{
    return strcmp(((const dubbo_url_param_t *)a)->key, ((const dubbo_url_param_t *)b)->key);
}

static const char *iface_of(const dubbo_url_t *u)
{
    const char *i = dubbo_url_param(u, "interface", NULL);
    return empty(i) ? u->path : i;
}

/* The parameters a ServiceInfo carries, sorted by key (Java's TreeMap). */
static dubbo_url_param_t *service_params(const dubbo_url_t *u, size_t *n)
{
    dubbo_url_param_t *v = calloc(u->nparams ? u->nparams : 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; v && i < u->nparams; i++)
        if (!excluded_param(u->params[i].key)) v[k++] = u->params[i];
    if (v) qsort(v, k, sizeof(*v), cmp_param);
    *n = k;
    return v;
}

static char *build_desc(const dubbo_url_t *u, const char *match_key)
{
    size_t np;
    dubbo_url_param_t *ps = service_params(u, &np);
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    char head[64];
    snprintf(head, sizeof(head), "%d", u->port);
    int rc = !ps || dubbo_buf_append(&b, match_key, strlen(match_key)) ||
             dubbo_buf_append(&b, head, strlen(head)) ||
             dubbo_buf_append(&b, u->path, strlen(u->path)) || dubbo_buf_append(&b, "{", 1);
    for (size_t i = 0; !rc && i < np; i++)
        rc = (i && dubbo_buf_append(&b, ", ", 2)) ||
             dubbo_buf_append(&b, ps[i].key, strlen(ps[i].key)) || dubbo_buf_append(&b, "=", 1) ||
             dubbo_buf_append(&b, ps[i].value, strlen(ps[i].value));
    rc = rc || dubbo_buf_append(&b, "}", 2);
    free(ps);
    char *s = rc ? NULL : strdup((const char *)b.base);
    dubbo_buf_destroy(&b);
    return s;
}

/* The MetadataInfo of the provider URLs as typed JSON (what
 * getMetadataInfo answers), and its revision. */
static int build_metadata(const char *app, const dubbo_url_t *const *us, size_t n, char **rev_out,
                          char **json_out)
{
    pinfo_t *pi = calloc(n ? n : 1, sizeof(*pi));
    if (!pi) return DUBBO_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const dubbo_url_t *u = us[i];
        const char *g = dubbo_url_param(u, "group", NULL), *v = dubbo_url_param(u, "version", NULL);
        pi[i].u = u;
        pi[i].match_key = strf("%s%s%s%s%s:%s", empty(g) ? "" : g, empty(g) ? "" : "/", iface_of(u),
                               empty(v) ? "" : ":", empty(v) ? "" : v, u->protocol);
        pi[i].desc = pi[i].match_key ? build_desc(u, pi[i].match_key) : NULL;
        if (!pi[i].desc) rc = DUBBO_ENOMEM;
    }
    if (!rc) qsort(pi, n, sizeof(*pi), cmp_pinfo);
    dubbo_buf_t all;
    dubbo_buf_init(&all, 0);
    rc = rc || dubbo_buf_append(&all, app, strlen(app));
    for (size_t i = 0; i < n && !rc; i++)
        if (i == 0 || strcmp(pi[i].match_key, pi[i - 1].match_key) != 0)
            rc = dubbo_buf_append(&all, pi[i].desc, strlen(pi[i].desc));
    char *rev = rc ? NULL : malloc(33);
    if (rev) dubbo__md5_hex(all.base, all.len, rev);
    dubbo_buf_destroy(&all);

    json_t *services = json_object();
    for (size_t i = 0; i < n && rev && services; i++) {
        const dubbo_url_t *u = pi[i].u;
        json_t *params = json_object();
        size_t np;
        dubbo_url_param_t *ps = service_params(u, &np);
        for (size_t k = 0; ps && params && k < np; k++)
            json_object_set_new(params, ps[k].key, json_string(ps[k].value));
        free(ps);
        const char *g = dubbo_url_param(u, "group", NULL), *v = dubbo_url_param(u, "version", NULL);
        json_t *si = json_pack("{s:s, s:{s:s, s:o, s:o, s:s, s:i, s:s, s:o?}}", "$class",
                               "org.apache.dubbo.metadata.MetadataInfo$ServiceInfo", "$", "name",
                               iface_of(u), "group", empty(g) ? json_null() : json_string(g),
                               "version", empty(v) ? json_null() : json_string(v), "protocol",
                               u->protocol, "port", u->port, "path", u->path, "params", params);
        if (si) json_object_set_new(services, pi[i].match_key, si);
    }
    json_t *root = rev && services ? json_pack("{s:s, s:{s:s, s:s, s:O}}", "$class",
                                               "org.apache.dubbo.metadata.MetadataInfo", "$", "app",
                                               app, "revision", rev, "services", services)
                                   : NULL;
    json_decref(services);
    char *json = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    for (size_t i = 0; i < n; i++) {
        free(pi[i].match_key);
        free(pi[i].desc);
    }
    free(pi);
    if (!rev || !json) {
        free(rev);
        free(json);
        return dubbo__seterr(DUBBO_ENOMEM, "service discovery: out of memory");
    }
    *rev_out = rev;
    *json_out = json;
    return 0;
}

/* host as an address in a URL or an instance id: IPv6 in brackets */
static char *bracket(const char *host)
{
    return strchr(host, ':') && host[0] != '[' ? strf("[%s]", host) : strdup(host);
}

/* The instance node's data: Curator's ServiceInstance JSON, as Java's
 * ZookeeperServiceDiscovery writes it, with Dubbo's instance metadata. */
static char *instance_json(const sd_t *sd, const dubbo_url_t *first, const dubbo_url_t *const *us,
                           size_t n, const char *rev)
{
    char *addr = bracket(first->host);
    char *id = addr ? strf("%s:%d", addr, first->port) : NULL;
    json_t *eps = json_array();
    const char *msproto = NULL; /* the MetadataService's protocol: dubbo if served */
    for (size_t i = 0; i < n && eps; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(us[k]->protocol, us[i]->protocol) == 0;
        if (!seen)
            json_array_append_new(
                eps, json_pack("{s:i, s:s}", "port", us[i]->port, "protocol", us[i]->protocol));
        if (strcmp(us[i]->protocol, "dubbo") == 0) msproto = "dubbo";
    }
    if (!msproto) msproto = first->protocol;
    char port[16], ts[32];
    snprintf(port, sizeof(port), "%d", first->port);
    snprintf(ts, sizeof(ts), "%lld", (long long)epoch_ms());
    json_t *urlp = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "version", MS_VERSION, "dubbo",
                             "2.0.2", "release", "dubbo-c-" DUBBO_VERSION_STRING, "side",
                             "provider", "port", port, "protocol", msproto);
    char *eps_s = eps ? json_dumps(eps, JSON_COMPACT) : NULL;
    char *urlp_s = urlp ? json_dumps(urlp, JSON_COMPACT) : NULL;
    json_decref(eps);
    json_decref(urlp);
    json_t *md = eps_s && urlp_s
                     ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "dubbo.endpoints", eps_s,
                                 "dubbo.metadata-service.url-params", urlp_s,
                                 "dubbo.metadata.revision", rev, "dubbo.metadata.storage-type",
                                 "local", "meta-v", MS_VERSION, "timestamp", ts)
                     : NULL;
    free(eps_s);
    free(urlp_s);
    json_t *root =
        md && id ? json_pack("{s:s, s:s, s:s, s:i, s:n, s:{s:s, s:s, s:s, s:O}, s:I, s:s, s:n}",
                             "name", sd->app, "id", id, "address", addr, "port", first->port,
                             "sslPort", "payload", "@class",
                             "org.apache.dubbo.registry.zookeeper.ZookeeperInstance", "id", id,
                             "name", sd->app, "metadata", md, "registrationTimeUTC",
                             (json_int_t)epoch_ms(), "serviceType", "DYNAMIC", "uriSpec")
                 : NULL;
    json_decref(md);
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    free(addr);
    free(id);
    return s;
}

/* Brings the instance, its metadata and the mappings up to date with
 * sd->purls. sd->mu held. */
static int refresh_instance(sd_t *sd)
{
    if (sd->npurls == 0) {
        if (sd->inst_key) {
            int rc = sd->inner->ops->node_del(sd->inner, sd->inst_key);
            if (rc) DLOG_WARN("service discovery: %s", dubbo_last_error());
            DLOG_INFO("service discovery: instance %s withdrawn", sd->inst_key);
            free(sd->inst_key);
            free(sd->inst_rev);
            sd->inst_key = sd->inst_rev = NULL;
        }
        if (sd->meta) meta_set(sd->meta, NULL, NULL);
        return 0;
    }
    dubbo_url_t **us = calloc(sd->npurls, sizeof(*us));
    if (!us) return dubbo__seterr(DUBBO_ENOMEM, "service discovery: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < sd->npurls; i++)
        if ((us[n] = dubbo_url_parse(sd->purls[i]))) n++;
    int rc = 0;
    char *rev = NULL, *json = NULL, *inst = NULL, *key = NULL;
    if (n == 0) goto out;
    const char *app = dubbo_url_param(us[0], "application", NULL);
    if (empty(app)) {
        rc = dubbo__seterr(DUBBO_EINVAL,
                           "service discovery: register-mode=%s needs an application name "
                           "(the provider URL %.200s has none)",
                           sd->mode & MODE_INTERFACE ? "all" : "instance", sd->purls[0]);
        goto out;
    }
    if (!sd->app && !(sd->app = strdup(app))) goto oom;
    if (strcmp(sd->app, app) != 0)
        DLOG_WARN("service discovery: provider URL of application %s in the instance of %s: "
                  "one instance is one application",
                  app, sd->app);
    if (!sd->meta && !(sd->meta = meta_get(sd->app))) goto oom;
    if ((rc = build_metadata(sd->app, (const dubbo_url_t *const *)us, n, &rev, &json))) goto out;
    char *addr = bracket(us[0]->host);
    key = addr ? strf("services/%s/%s:%d", sd->app, addr, us[0]->port) : NULL;
    free(addr);
    if (!key) goto oom;
    /* the metadata first: a consumer reading the new revision finds it */
    meta_set(sd->meta, strdup(rev), json);
    json = NULL;
    if (!sd->inst_rev || strcmp(sd->inst_rev, rev) != 0 || !sd->inst_key ||
        strcmp(sd->inst_key, key) != 0) {
        inst = instance_json(sd, us[0], (const dubbo_url_t *const *)us, n, rev);
        if (!inst) goto oom;
        if (sd->inst_key && strcmp(sd->inst_key, key) != 0)
            sd->inner->ops->node_del(sd->inner, sd->inst_key);
        rc = sd->inner->ops->node_put(sd->inner, key, inst, DUBBO_NODE_EPHEMERAL);
        dubbo__op_count(sd->inner->url->protocol, DUBBO__OP_REGISTER, rc == 0, 0);
        if (rc) goto out;
        DLOG_INFO("service discovery: instance %s, revision %s (%zu services)", key, rev, n);
        free(sd->inst_key);
        free(sd->inst_rev);
        sd->inst_key = key;
        sd->inst_rev = rev;
        key = rev = NULL;
    }
    /* the service-name mapping, once per interface (Java's MetadataServiceNameMapping) */
    for (size_t i = 0; i < n; i++) {
        const char *itf = iface_of(us[i]);
        bool done = false;
        for (size_t k = 0; k < sd->nmapped && !done; k++)
            done = strcmp(sd->mapped[k], itf) == 0;
        if (done) continue;
        char *mk = strf("mapping/%s", itf);
        int mrc = mk ? sd->inner->ops->node_put(sd->inner, mk, sd->app, DUBBO_NODE_ADD_TO_LIST)
                     : DUBBO_ENOMEM;
        free(mk);
        char **nm = mrc ? NULL : realloc(sd->mapped, (sd->nmapped + 1) * sizeof(char *));
        if (nm) {
            sd->mapped = nm;
            if ((nm[sd->nmapped] = strdup(itf))) sd->nmapped++;
        } else if (mrc) {
            DLOG_WARN("service discovery: mapping %s -> %s: %s (tried again at the next change)",
                      itf, sd->app, dubbo_last_error());
        }
    }
    goto out;
oom:
    rc = dubbo__seterr(DUBBO_ENOMEM, "service discovery: out of memory");
out:
    for (size_t i = 0; i < n; i++)
        dubbo_url_free(us[i]);
    free(us);
    free(rev);
    free(json);
    free(inst);
    free(key);
    return rc;
}

static bool is_consumer(const dubbo_url_t *u)
{
    return strcmp(u->protocol, "consumer") == 0 ||
           strcmp(dubbo_url_param(u, "side", ""), "consumer") == 0;
}

static int sd_reg(dubbo_registry_t *r, const char *url)
{
    sd_t *sd = (sd_t *)r;
    dubbo_url_t *u = dubbo_url_parse(url);
    if (!u) return dubbo__last_code() ? dubbo__last_code() : DUBBO_EINVAL;
    int rc = 0;
    if (is_consumer(u) || strcmp(iface_of(u), MS_IFACE) != 0) {
        if (is_consumer(u) || (sd->mode & MODE_INTERFACE)) rc = sd->inner->ops->reg(sd->inner, url);
        if (!is_consumer(u) && (sd->mode & MODE_INSTANCE)) {
            pthread_mutex_lock(&sd->mu);
            bool have = false;
            for (size_t i = 0; i < sd->npurls && !have; i++)
                have = strcmp(sd->purls[i], url) == 0;
            char **nv = have ? NULL : realloc(sd->purls, (sd->npurls + 1) * sizeof(char *));
            if (!have && (!nv || !(nv[sd->npurls] = strdup(url)))) {
                if (nv) sd->purls = nv;
                pthread_mutex_unlock(&sd->mu);
                dubbo_url_free(u);
                return dubbo__seterr(DUBBO_ENOMEM, "service discovery: out of memory");
            }
            if (!have) {
                sd->purls = nv;
                sd->npurls++;
            }
            int irc = refresh_instance(sd);
            pthread_mutex_unlock(&sd->mu);
            if (!rc) rc = irc;
        }
    }
    dubbo_url_free(u);
    return rc;
}

static int sd_unreg(dubbo_registry_t *r, const char *url)
{
    sd_t *sd = (sd_t *)r;
    dubbo_url_t *u = dubbo_url_parse(url);
    if (!u) return dubbo__last_code() ? dubbo__last_code() : DUBBO_EINVAL;
    int rc = 0;
    if (is_consumer(u) || (sd->mode & MODE_INTERFACE)) rc = sd->inner->ops->unreg(sd->inner, url);
    if (!is_consumer(u) && (sd->mode & MODE_INSTANCE)) {
        pthread_mutex_lock(&sd->mu);
        for (size_t i = 0; i < sd->npurls; i++)
            if (strcmp(sd->purls[i], url) == 0) {
                free(sd->purls[i]);
                sd->purls[i] = sd->purls[--sd->npurls];
                int irc = refresh_instance(sd);
                if (!rc) rc = irc;
                break;
            }
        pthread_mutex_unlock(&sd->mu);
    }
    dubbo_url_free(u);
    return rc;
}

static int sd_attach(dubbo_registry_t *r, struct dubbo_server *server, const char *application)
{
    sd_t *sd = (sd_t *)r;
    if (!(sd->mode & MODE_INSTANCE)) return 0;
    if (empty(application))
        return dubbo__seterr(DUBBO_EINVAL,
                             "service discovery: register-mode=%s needs the server's "
                             "application name (options.application)",
                             sd->mode & MODE_INTERFACE ? "all" : "instance");
    meta_t *m = meta_get(application);
    if (!m) return dubbo__seterr(DUBBO_ENOMEM, "service discovery: out of memory");
    static const dubbo_method_t methods[] = {
        {"getMetadataInfo", ms_get_metadata_info},
        {"serviceName", ms_service_name},
        {"version", ms_version},
    };
    static const char *const params[] = {"register", "false", NULL};
    dubbo_service_t svc = {MS_IFACE, MS_VERSION, application, methods, 3, m, params};
    int rc = dubbo_server_export((dubbo_server_t *)server, &svc);
    if (rc == DUBBO_EEXISTS) rc = 0; /* a second instance-mode registry of the same server */
    return rc;
}

/* ---- consumer: instances to provider URLs ---------------------------------------------- */

static void svcinfo_free(svcinfo_t *s)
{
    free(s->name);
    free(s->group);
    free(s->version);
    free(s->protocol);
    free(s->path);
    free_strs(s->keys, s->np);
    free_strs(s->vals, s->np);
}

static void mcache_free(mcache_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        svcinfo_free(&c->svcs[i]);
    free(c->svcs);
    free(c->app);
    free(c->revision);
    free(c);
}

static char *vstr(const dubbo_value_t *v)
{
    return v && v->type == DUBBO_T_STRING ? strndup(v->u.s.ptr, v->u.s.len) : NULL;
}

/* A MetadataInfo value (as hessian2 brings it) read into a cache entry. */
static mcache_t *read_metadata(const dubbo_value_t *mi, const char *app, const char *rev)
{
    if (!mi || mi->type != DUBBO_T_OBJECT) {
        dubbo__seterr(DUBBO_EMALFORMED, "MetadataInfo of %s revision %s: not an object", app, rev);
        return NULL;
    }
    const dubbo_value_t *svcs = dubbo_object_get(mi, "services");
    if (!svcs || svcs->type != DUBBO_T_MAP) {
        dubbo__seterr(DUBBO_EMALFORMED, "MetadataInfo of %s revision %s: no services map", app,
                      rev);
        return NULL;
    }
    mcache_t *c = calloc(1, sizeof(*c));
    if (!c || !(c->svcs = calloc(svcs->u.map.len ? svcs->u.map.len : 1, sizeof(svcinfo_t))) ||
        !(c->app = strdup(app)) || !(c->revision = strdup(rev))) {
        if (c) mcache_free(c);
        dubbo__seterr(DUBBO_ENOMEM, "service discovery: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < svcs->u.map.len; i++) {
        const dubbo_value_t *si = svcs->u.map.items[i].value;
        if (!si || si->type != DUBBO_T_OBJECT) continue;
        svcinfo_t *s = &c->svcs[c->n];
        s->name = vstr(dubbo_object_get(si, "name"));
        s->group = vstr(dubbo_object_get(si, "group"));
        s->version = vstr(dubbo_object_get(si, "version"));
        s->protocol = vstr(dubbo_object_get(si, "protocol"));
        s->path = vstr(dubbo_object_get(si, "path"));
        const dubbo_value_t *port = dubbo_object_get(si, "port");
        s->port = port && port->type == DUBBO_T_INT ? port->u.i : -1;
        const dubbo_value_t *ps = dubbo_object_get(si, "params");
        size_t np = ps && ps->type == DUBBO_T_MAP ? ps->u.map.len : 0;
        s->keys = calloc(np ? np : 1, sizeof(char *));
        s->vals = calloc(np ? np : 1, sizeof(char *));
        for (size_t k = 0; s->keys && s->vals && k < np; k++) {
            char *key = vstr(ps->u.map.items[k].key), *val = vstr(ps->u.map.items[k].value);
            if (key && val) {
                s->keys[s->np] = key;
                s->vals[s->np++] = val;
            } else {
                free(key);
                free(val);
            }
        }
        /* name, protocol and path go into URLs as they are */
        static const char ident[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789._$-/";
        if (empty(s->name) || empty(s->protocol) || !s->keys || !s->vals ||
            strspn(s->name, ident) != strlen(s->name) ||
            strspn(s->protocol, ident) != strlen(s->protocol) || strchr(s->protocol, '/') ||
            (s->path && strspn(s->path, ident) != strlen(s->path))) {
            svcinfo_free(s);
            memset(s, 0, sizeof(*s));
            continue;
        }
        if (!s->path && !(s->path = strdup(s->name))) {
            svcinfo_free(s);
            memset(s, 0, sizeof(*s));
            continue;
        }
        c->n++;
    }
    return c;
}

/* An instance as its node holds it (Curator's JSON; a bare
 * {address, port, metadata} too). */
typedef struct {
    const char *address, *revision, *storage;
    int port;
    json_t *md, *endpoints, *urlp; /* endpoints and urlp: parsed from their strings */
} inst_t;

/* An address goes into URLs as it is: a host name, an IPv4 address or an
 * IPv6 one (in brackets or not), nothing else. */
static bool valid_host(const char *h)
{
    if (empty(h) || strlen(h) > 253) return false;
    size_t len = strlen(h);
    if (h[0] == '[' || strchr(h, ':')) {
        char a[64];
        if (h[0] == '[') {
            if (len < 3 || h[len - 1] != ']' || len - 2 >= sizeof(a)) return false;
            memcpy(a, h + 1, len - 2);
            a[len - 2] = '\0';
        } else {
            if (len >= sizeof(a)) return false;
            memcpy(a, h, len + 1);
        }
        struct in6_addr six;
        return inet_pton(AF_INET6, a, &six) == 1;
    }
    return strspn(h, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-") == len &&
           h[0] != '-' && h[0] != '.';
}

static int parse_instance(json_t *root, inst_t *in)
{
    memset(in, 0, sizeof(*in));
    if (!json_is_object(root)) return -1;
    /* Curator's (ZooKeeper) or the flat form (Nacos), else dubbo-go's
     * DefaultServiceInstance (etcd): Host, Port, Metadata, Enable, Healthy */
    bool go = !json_object_get(root, "address") && json_object_get(root, "Host");
    in->address = json_string_value(json_object_get(root, go ? "Host" : "address"));
    json_int_t port = json_integer_value(json_object_get(root, go ? "Port" : "port"));
    in->port = port > 0 && port <= 65535 ? (int)port : 0;
    json_t *payload = json_object_get(root, "payload");
    in->md = go ? json_object_get(root, "Metadata")
                : json_object_get(json_is_object(payload) ? payload : root, "metadata");
    if (go && (json_is_false(json_object_get(root, "Enable")) ||
               json_is_false(json_object_get(root, "Healthy"))))
        return -1;
    if (!valid_host(in->address) || !in->port || !json_is_object(in->md)) return -1;
    in->revision = json_string_value(json_object_get(in->md, "dubbo.metadata.revision"));
    in->storage = json_string_value(json_object_get(in->md, "dubbo.metadata.storage-type"));
    const char *eps = json_string_value(json_object_get(in->md, "dubbo.endpoints"));
    const char *urlp =
        json_string_value(json_object_get(in->md, "dubbo.metadata-service.url-params"));
    in->endpoints = eps ? json_loads(eps, 0, NULL) : NULL;
    in->urlp = urlp ? json_loads(urlp, 0, NULL) : NULL;
    return empty(in->revision) ? -1 : 0;
}

static void inst_clear(inst_t *in)
{
    json_decref(in->endpoints);
    json_decref(in->urlp);
}

/* The port of a protocol: its endpoint, else the instance's. */
static int endpoint_port(const inst_t *in, const char *protocol)
{
    size_t i;
    json_t *e;
    if (json_is_array(in->endpoints)) json_array_foreach(in->endpoints, i, e)
        {
            const char *p = json_string_value(json_object_get(e, "protocol"));
            json_int_t port = json_integer_value(json_object_get(e, "port"));
            if (p && strcmp(p, protocol) == 0 && port > 0 && port <= 65535) return (int)port;
        }
    return in->port;
}

static mcache_t *cache_find(sd_t *sd, const char *app, const char *rev)
{
    pthread_mutex_lock(&sd->cache_mu);
    mcache_t *c = sd->cache;
    while (c && (strcmp(c->app, app) != 0 || strcmp(c->revision, rev) != 0))
        c = c->next;
    pthread_mutex_unlock(&sd->cache_mu);
    return c; /* entries are freed only with the wrapper */
}

static void cache_add(sd_t *sd, mcache_t *c)
{
    pthread_mutex_lock(&sd->cache_mu);
    c->next = sd->cache;
    sd->cache = c;
    pthread_mutex_unlock(&sd->cache_mu);
}

/* getMetadataInfo(revision) on an instance's MetadataService. */
static mcache_t *fetch_metadata(sd_t *sd, const char *app, const inst_t *in)
{
    const char *proto = in->urlp ? json_string_value(json_object_get(in->urlp, "protocol")) : NULL;
    const char *ps = in->urlp ? json_string_value(json_object_get(in->urlp, "port")) : NULL;
    char *end = NULL;
    long lp = ps ? strtol(ps, &end, 10) : 0;
    int port = ps && end != ps && !*end && lp > 0 && lp <= 65535 ? (int)lp : 0;
    if (empty(proto)) proto = "dubbo";
    if (port <= 0 || port > 65535) port = endpoint_port(in, proto);
    char *addr = bracket(in->address);
    char *enc = dubbo_url_encode(app);
    char *url = addr && enc ? strf("%s://%s:%d/" MS_IFACE "?group=%s&version=" MS_VERSION
                                   "&timeout=%d&check=false",
                                   proto, addr, port, enc, METADATA_TIMEOUT_MS)
                            : NULL;
    free(addr);
    free(enc);
    if (!url) {
        dubbo__seterr(DUBBO_ENOMEM, "service discovery: out of memory");
        return NULL;
    }
    dubbo_client_t *cl = dubbo_client_new(url);
    mcache_t *c = NULL;
    for (int t = 0; cl && !c && t < METADATA_TRIES; t++) {
        if (t) usleep(200 * 1000);
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *arg = a ? dubbo_v_cstr(a, in->revision) : NULL;
        dubbo_invocation_t inv = {
            .method = "getMetadataInfo", .desc = "Ljava/lang/String;", .args = &arg, .nargs = 1};
        dubbo_result_t res;
        int rc = arg ? dubbo_client_call(cl, &inv, &res) : DUBBO_ENOMEM;
        if (!arg) dubbo_result_init(&res);
        if (rc == 0 && !res.error && res.value && res.value->type != DUBBO_T_NULL)
            c = read_metadata(res.value, app, in->revision);
        else if (rc == 0 && !res.error)
            dubbo__seterr(DUBBO_ENOT_FOUND, "%s has no MetadataInfo of revision %s", url,
                          in->revision);
        else
            dubbo__seterr(rc ? rc : DUBBO_EIO, "getMetadataInfo(%s) at %s: %s", in->revision, url,
                          res.error ? res.error : dubbo_last_error());
        dubbo_result_destroy(&res);
        dubbo_arena_free(a);
    }
    if (!cl) dubbo__seterr(DUBBO_EINVAL, "service discovery: cannot refer to %s", url);
    dubbo_client_free(cl);
    free(url);
    return c;
}

static bool opt_match(const char *want, const char *have)
{
    if (empty(want) || strcmp(want, "*") == 0) return true;
    if (empty(have)) return empty(want);
    return strcmp(want, have) == 0;
}

/* One provider URL of an instance for a service it serves. */
static char *provider_url(const inst_t *in, const char *app, const svcinfo_t *s)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    char *addr = bracket(in->address);
    char head[512];
    int hl = addr ? snprintf(head, sizeof(head), "%s://%s:%d/", s->protocol, addr,
                             endpoint_port(in, s->protocol))
                  : -1;
    free(addr);
    int rc = hl < 0 || (size_t)hl >= sizeof(head) || dubbo_buf_append(&b, head, (size_t)hl) ||
             dubbo_buf_append(&b, s->path, strlen(s->path));
    char sep = '?';
    bool has_app = false, has_itf = false;
    for (size_t i = 0; !rc && i < s->np; i++) {
        char *k = dubbo_url_encode(s->keys[i]), *v = dubbo_url_encode(s->vals[i]);
        rc = !k || !v || dubbo_buf_append(&b, &sep, 1) || dubbo_buf_append(&b, k, strlen(k)) ||
             dubbo_buf_append(&b, "=", 1) || dubbo_buf_append(&b, v, strlen(v));
        sep = '&';
        has_app |= strcmp(s->keys[i], "application") == 0;
        has_itf |= strcmp(s->keys[i], "interface") == 0;
        free(k);
        free(v);
    }
    const char *extra[][2] = {{"interface", has_itf ? NULL : s->name},
                              {"application", has_app ? NULL : app},
                              {"dubbo.metadata.revision", in->revision}};
    for (size_t i = 0; !rc && i < sizeof(extra) / sizeof(extra[0]); i++) {
        if (!extra[i][1]) continue;
        char *v = dubbo_url_encode(extra[i][1]);
        rc = !v || dubbo_buf_append(&b, &sep, 1) ||
             dubbo_buf_append(&b, extra[i][0], strlen(extra[i][0])) ||
             dubbo_buf_append(&b, "=", 1) || dubbo_buf_append(&b, v, strlen(v));
        sep = '&';
        free(v);
    }
    rc = rc || dubbo_buf_append(&b, "", 1);
    char *out = rc ? NULL : strdup((const char *)b.base);
    dubbo_buf_destroy(&b);
    return out;
}

/* Appends the provider URLs of an instance's services that the consumer
 * URL asks for (interface, version, group, protocol); -1 out of memory. */
static int append_urls(const inst_t *in, const char *app, const mcache_t *c, const dubbo_url_t *cu,
                       const char *iface, char ***urls, size_t *nu)
{
    const char *ver = dubbo_url_param(cu, "version", NULL);
    const char *grp = dubbo_url_param(cu, "group", NULL);
    const char *want = dubbo_url_param(cu, "protocol", NULL);
    for (size_t k = 0; k < c->n; k++) {
        const svcinfo_t *s = &c->svcs[k];
        if (strcmp(s->name, iface) != 0 || !opt_match(ver, s->version) ||
            !opt_match(grp, s->group) || (!empty(want) && strcmp(want, s->protocol) != 0))
            continue;
        char *u = provider_url(in, app, s);
        char **nv = u ? realloc(*urls, (*nu + 1) * sizeof(char *)) : NULL;
        if (!nv) {
            free(u);
            return -1;
        }
        *urls = nv;
        (*urls)[(*nu)++] = u;
    }
    return 0;
}

static void deliver(csub_t *cs);

/* services/<app> changed: its instances' provider URLs for this
 * subscription's interface, version and group. */
static void schedule_retry(sd_t *sd, appw_t *aw, unsigned gen);

/* Turns an application's instance nodes into provider URLs and delivers
 * them, unless a newer list came meanwhile (gen). Instances whose metadata
 * cannot be fetched are left out and tried again later. */
static void process_instances(appw_t *aw, const char *const *vals, size_t n, unsigned gen)
{
    csub_t *cs = aw->cs;
    sd_t *sd = cs->sd;
    char **urls = NULL;
    size_t nu = 0;
    bool oom = false, missing = false;
    pthread_mutex_lock(&aw->proc_mu);
    for (size_t i = 0; !oom && i < n; i++) {
        json_t *root = json_loads(vals[i], 0, NULL);
        inst_t in;
        if (parse_instance(root, &in) != 0) {
            DLOG_WARN("service discovery: %s: an instance that is not one: %.200s", aw->key,
                      vals[i]);
            inst_clear(&in);
            json_decref(root);
            continue;
        }
        if (in.storage && strcmp(in.storage, "remote") == 0) {
            DLOG_WARN("service discovery: %s %s:%d keeps its metadata in a metadata report "
                      "(storage-type remote), which dubbo-c does not read; skipped",
                      aw->app, in.address, in.port);
            inst_clear(&in);
            json_decref(root);
            continue;
        }
        mcache_t *c = cache_find(sd, aw->app, in.revision);
        if (!c) {
            c = fetch_metadata(sd, aw->app, &in);
            dubbo__op_count(sd->inner->url->protocol, DUBBO__OP_METADATA, c != NULL, 0);
            if (c) cache_add(sd, c);
        }
        if (!c) {
            missing = true;
            DLOG_WARN("service discovery: instance %s:%d of %s left out for now: %s", in.address,
                      in.port, aw->app, dubbo_last_error());
        }
        if (c && append_urls(&in, aw->app, c, cs->cu, cs->iface, &urls, &nu) != 0) oom = true;
        inst_clear(&in);
        json_decref(root);
    }
    if (oom) { /* keep the last list rather than deliver a short one */
        free_strs(urls, nu);
        pthread_mutex_unlock(&aw->proc_mu);
        DLOG_ERROR("service discovery: %s: out of memory; providers unchanged", aw->key);
        return;
    }
    pthread_mutex_lock(&cs->mu);
    bool current = aw->gen == gen;
    if (current) {
        free_strs(aw->urls, aw->n);
        aw->urls = urls;
        aw->n = nu;
        aw->notified = true;
    }
    pthread_mutex_unlock(&cs->mu);
    pthread_mutex_unlock(&aw->proc_mu);
    if (!current) { /* a newer list was processed meanwhile */
        free_strs(urls, nu);
        return;
    }
    DLOG_DEBUG("service discovery: %s: %zu instances, %zu providers of %s", aw->key, n, nu,
               cs->iface);
    schedule_retry(sd, aw, missing ? gen : 0);
    deliver(cs);
}

/* services/<app> changed. */
static void on_instances(void *user, const char *key, const char *const *vals, size_t n)
{
    appw_t *aw = user;
    csub_t *cs = aw->cs;
    (void)key;
    char **copy = calloc(n ? n : 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; copy && i < n; i++)
        if ((copy[k] = strdup(vals[i]))) k++;
    pthread_mutex_lock(&cs->mu);
    unsigned gen = ++aw->gen;
    free_strs(aw->vals, aw->nvals);
    aw->vals = copy;
    aw->nvals = copy ? k : 0;
    aw->tries = 0;
    pthread_mutex_unlock(&cs->mu);
    process_instances(aw, vals, n, gen);
}

/* The retry thread: processes again the instance lists of applications
 * whose retry is due. A subscription it works on is marked (retrying) so
 * that unsubscribe waits for it. */
static void *retry_main(void *arg)
{
    sd_t *sd = arg;
    pthread_mutex_lock(&sd->mu);
    while (!sd->closing) {
        int64_t now = (int64_t)dubbo__now_ms(), next = 0;
        appw_t *due = NULL;
        for (csub_t *cs = sd->subs; cs && !due; cs = cs->next) {
            pthread_mutex_lock(&cs->mu);
            for (size_t i = 0; i < cs->napps && !due; i++) {
                int64_t at = cs->apps[i]->retry_at;
                if (at && at <= now)
                    due = cs->apps[i];
                else if (at && (!next || at < next))
                    next = at;
            }
            pthread_mutex_unlock(&cs->mu);
        }
        if (!due) {
            if (next) {
                struct timespec ts;
                dubbo__deadline(&ts, CLOCK_REALTIME, (uint64_t)(next - now));
                pthread_cond_timedwait(&sd->retry_cv, &sd->mu, &ts);
            } else {
                pthread_cond_wait(&sd->retry_cv, &sd->mu);
            }
            continue;
        }
        csub_t *cs = due->cs;
        cs->retrying++;
        pthread_mutex_lock(&cs->mu);
        due->retry_at = 0;
        unsigned gen = due->gen;
        char **vals = calloc(due->nvals ? due->nvals : 1, sizeof(char *));
        size_t n = 0;
        for (size_t i = 0; vals && i < due->nvals; i++)
            if ((vals[n] = strdup(due->vals[i]))) n++;
        pthread_mutex_unlock(&cs->mu);
        pthread_mutex_unlock(&sd->mu);
        DLOG_INFO("service discovery: %s: fetching the metadata that failed again", due->key);
        if (vals) process_instances(due, (const char *const *)vals, n, gen);
        free_strs(vals, n);
        pthread_mutex_lock(&sd->mu);
        cs->retrying--;
        pthread_cond_broadcast(&sd->retry_cv);
    }
    pthread_mutex_unlock(&sd->mu);
    return NULL;
}

/* gen != 0: some instance of the list of that generation was left out;
 * try it again after 1, 2, 4 ... 30 s. 0: nothing to retry. */
static void schedule_retry(sd_t *sd, appw_t *aw, unsigned gen)
{
    pthread_mutex_lock(&sd->mu);
    pthread_mutex_lock(&aw->cs->mu);
    if (!gen || gen != aw->gen) {
        if (!gen) aw->retry_at = 0, aw->tries = 0;
        pthread_mutex_unlock(&aw->cs->mu);
        pthread_mutex_unlock(&sd->mu);
        return;
    }
    int64_t delay = aw->tries < 5 ? (int64_t)1000 << aw->tries : 30000;
    aw->tries++;
    aw->retry_at = (int64_t)dubbo__now_ms() + delay;
    pthread_mutex_unlock(&aw->cs->mu);
    if (!sd->retry_started && !sd->closing)
        sd->retry_started = pthread_create(&sd->retry_thread, NULL, retry_main, sd) == 0;
    pthread_cond_broadcast(&sd->retry_cv);
    pthread_mutex_unlock(&sd->mu);
}

/* Follows one more application (cs->mu not held). */
static void watch_app(csub_t *cs, const char *app)
{
    pthread_mutex_lock(&cs->mu);
    for (size_t i = 0; i < cs->napps; i++)
        if (strcmp(cs->apps[i]->app, app) == 0) {
            pthread_mutex_unlock(&cs->mu);
            return;
        }
    appw_t **na = realloc(cs->apps, (cs->napps + 1) * sizeof(*na));
    appw_t *aw = calloc(1, sizeof(*aw));
    if (na) cs->apps = na;
    if (!na || !aw || !(aw->app = strdup(app)) || !(aw->key = strf("services/%s", app))) {
        if (aw) free(aw->app);
        free(aw);
        pthread_mutex_unlock(&cs->mu);
        DLOG_ERROR("service discovery: out of memory following %s", app);
        return;
    }
    aw->cs = cs;
    pthread_mutex_init(&aw->proc_mu, NULL);
    cs->apps[cs->napps++] = aw;
    pthread_mutex_unlock(&cs->mu);
    if (cs->sd->inner->ops->node_watch(cs->sd->inner, aw->key, 1, on_instances, aw) == 0)
        aw->watching = true;
    else
        DLOG_WARN("service discovery: cannot follow %s: %s", aw->key, dubbo_last_error());
}

/* mapping/<interface> changed: follow every application named (Java
 * never stops following one). */
static void on_mapping(void *user, const char *key, const char *const *vals, size_t n)
{
    csub_t *cs = user;
    (void)key;
    char *list = n ? strdup(vals[0]) : NULL;
    for (char *save = NULL, *a = list ? strtok_r(list, ",", &save) : NULL; a;
         a = strtok_r(NULL, ",", &save)) {
        while (*a == ' ')
            a++;
        if (*a) watch_app(cs, a);
    }
    free(list);
    pthread_mutex_lock(&cs->mu);
    bool first = !cs->mapped;
    cs->mapped = true;
    size_t napps = cs->napps;
    pthread_mutex_unlock(&cs->mu);
    if (first && napps == 0)
        DLOG_INFO("service discovery: no application is mapped to %s yet (%s)", cs->iface,
                  cs->mapkey);
    deliver(cs);
}

/* The interface-level lists: providers kept (they are delivered by the
 * migration rule), every other category passed on. */
static void on_inner(void *user, const char *category, const char *const *urls, size_t n)
{
    csub_t *cs = user;
    if (strcmp(category, "providers") != 0) {
        cs->fn(cs->user, category, urls, n);
        return;
    }
    char **copy = calloc(n ? n : 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; copy && i < n; i++)
        if ((copy[k] = strdup(urls[i]))) k++;
    pthread_mutex_lock(&cs->mu);
    free_strs(cs->iurls, cs->ni);
    cs->iurls = copy;
    cs->ni = copy ? k : 0;
    cs->inotified = true;
    pthread_mutex_unlock(&cs->mu);
    deliver(cs);
}

/* The providers list by the migration step, once it is known. */
static void deliver(csub_t *cs)
{
    int mig = cs->sd->migration;
    pthread_mutex_lock(&cs->deliver_mu);
    pthread_mutex_lock(&cs->mu);
    /* application level known: the mapping read, and each application's instances */
    bool app_known = cs->mapped;
    size_t napp = 0;
    for (size_t i = 0; i < cs->napps; i++) {
        app_known &= cs->apps[i]->notified || !cs->apps[i]->watching;
        napp += cs->apps[i]->n;
    }
    char **list = NULL;
    size_t n = 0;
    bool go = false;
    if (mig == FORCE_APPLICATION || (mig == APPLICATION_FIRST && napp > 0 && app_known)) {
        go = app_known;
        list = calloc(napp ? napp : 1, sizeof(char *));
        for (size_t i = 0; list && i < cs->napps; i++)
            for (size_t k = 0; k < cs->apps[i]->n; k++)
                if ((list[n] = strdup(cs->apps[i]->urls[k])))
                    n++;
                else
                    go = false; /* out of memory: no short list */
    } else if (cs->inotified && (app_known || mig == FORCE_INTERFACE)) {
        go = true;
        list = calloc(cs->ni ? cs->ni : 1, sizeof(char *));
        for (size_t i = 0; list && i < cs->ni; i++)
            if ((list[n] = strdup(cs->iurls[i])))
                n++;
            else
                go = false;
    }
    /* copies: another thread may replace the lists once mu is released */
    pthread_mutex_unlock(&cs->mu);
    if (go && list) cs->fn(cs->user, "providers", (const char *const *)list, n);
    pthread_mutex_unlock(&cs->deliver_mu);
    free_strs(list, n);
}

static void csub_free(csub_t *cs)
{
    for (size_t i = 0; i < cs->napps; i++) {
        free_strs(cs->apps[i]->urls, cs->apps[i]->n);
        free_strs(cs->apps[i]->vals, cs->apps[i]->nvals);
        pthread_mutex_destroy(&cs->apps[i]->proc_mu);
        free(cs->apps[i]->app);
        free(cs->apps[i]->key);
        free(cs->apps[i]);
    }
    free(cs->apps);
    free_strs(cs->iurls, cs->ni);
    free(cs->curl);
    free(cs->mapkey);
    dubbo_url_free(cs->cu);
    pthread_mutex_destroy(&cs->mu);
    pthread_mutex_destroy(&cs->deliver_mu);
    free(cs);
}

static void csub_stop(csub_t *cs)
{
    dubbo_registry_t *in = cs->sd->inner;
    if (cs->inner_sub) in->ops->unsubscribe(in, cs->curl, on_inner, cs);
    if (cs->map_watch) in->ops->node_unwatch(in, cs->mapkey, on_mapping, cs);
    /* no new application is followed after the mapping's watch is gone */
    for (size_t i = 0; i < cs->napps; i++)
        if (cs->apps[i]->watching)
            in->ops->node_unwatch(in, cs->apps[i]->key, on_instances, cs->apps[i]);
}

static int sd_subscribe(dubbo_registry_t *r, const char *consumer_url, dubbo_notify_fn fn,
                        void *user)
{
    sd_t *sd = (sd_t *)r;
    if (sd->migration == FORCE_INTERFACE)
        return sd->inner->ops->subscribe(sd->inner, consumer_url, fn, user);
    csub_t *cs = calloc(1, sizeof(*cs));
    if (!cs) return dubbo__seterr(DUBBO_ENOMEM, "service discovery: out of memory");
    pthread_mutex_init(&cs->mu, NULL);
    pthread_mutex_init(&cs->deliver_mu, NULL);
    cs->sd = sd;
    cs->fn = fn;
    cs->user = user;
    if (!(cs->curl = strdup(consumer_url)) || !(cs->cu = dubbo_url_parse(consumer_url))) {
        int rc = dubbo__last_code() ? dubbo__last_code() : DUBBO_ENOMEM;
        csub_free(cs);
        return rc;
    }
    cs->iface = iface_of(cs->cu);
    if (empty(cs->iface) || strcmp(cs->iface, "*") == 0 ||
        !(cs->mapkey = strf("mapping/%s", cs->iface))) {
        csub_free(cs);
        return dubbo__seterr(DUBBO_EINVAL,
                             "service discovery: subscribe needs one interface in "
                             "\"%.200s\"",
                             consumer_url);
    }
    pthread_mutex_lock(&sd->mu);
    cs->next = sd->subs;
    sd->subs = cs;
    pthread_mutex_unlock(&sd->mu);
    /* routers and configurators (and interface-level providers) */
    int rc = sd->inner->ops->subscribe(sd->inner, consumer_url, on_inner, cs);
    cs->inner_sub = rc == 0;
    /* provided-by names the applications itself (Java's providedBy) */
    const char *by = dubbo_url_param(cs->cu, "provided-by", NULL);
    if (!rc && !empty(by)) {
        char *list = strdup(by);
        for (char *save = NULL, *a = list ? strtok_r(list, ",", &save) : NULL; a;
             a = strtok_r(NULL, ",", &save))
            if (*a) watch_app(cs, a);
        free(list);
        pthread_mutex_lock(&cs->mu);
        cs->mapped = true;
        pthread_mutex_unlock(&cs->mu);
    } else if (!rc) {
        rc = sd->inner->ops->node_watch(sd->inner, cs->mapkey, 0, on_mapping, cs);
        cs->map_watch = rc == 0;
    }
    if (rc) {
        int e = dubbo__last_code() ? dubbo__last_code() : rc;
        csub_stop(cs);
        pthread_mutex_lock(&sd->mu);
        for (csub_t **p = &sd->subs; *p; p = &(*p)->next)
            if (*p == cs) {
                *p = cs->next;
                break;
            }
        while (cs->retrying)
            pthread_cond_wait(&sd->retry_cv, &sd->mu);
        pthread_mutex_unlock(&sd->mu);
        csub_free(cs);
        return e;
    }
    return 0;
}

static int sd_unsubscribe(dubbo_registry_t *r, const char *consumer_url, dubbo_notify_fn fn,
                          void *user)
{
    sd_t *sd = (sd_t *)r;
    if (sd->migration == FORCE_INTERFACE)
        return sd->inner->ops->unsubscribe(sd->inner, consumer_url, fn, user);
    pthread_mutex_lock(&sd->mu);
    csub_t *cs = NULL;
    for (csub_t **p = &sd->subs; *p; p = &(*p)->next)
        if ((*p)->fn == fn && (*p)->user == user && strcmp((*p)->curl, consumer_url) == 0) {
            cs = *p;
            *p = cs->next;
            break;
        }
    while (cs && cs->retrying) /* the retry thread is fetching for it */
        pthread_cond_wait(&sd->retry_cv, &sd->mu);
    pthread_mutex_unlock(&sd->mu);
    if (!cs)
        return dubbo__seterr(DUBBO_ENOT_FOUND, "service discovery: no subscription of \"%.200s\"",
                             consumer_url);
    csub_stop(cs);
    csub_free(cs);
    return 0;
}

static void sd_destroy(dubbo_registry_t *r)
{
    sd_t *sd = (sd_t *)r;
    pthread_mutex_lock(&sd->mu);
    sd->closing = true;
    pthread_cond_broadcast(&sd->retry_cv);
    bool join = sd->retry_started;
    pthread_mutex_unlock(&sd->mu);
    if (join) pthread_join(sd->retry_thread, NULL);
    while (sd->subs) {
        csub_t *cs = sd->subs;
        sd->subs = cs->next;
        csub_stop(cs);
        csub_free(cs);
    }
    pthread_mutex_lock(&sd->mu);
    free_strs(sd->purls, sd->npurls);
    sd->purls = NULL;
    sd->npurls = 0;
    refresh_instance(sd); /* withdraws the instance, empties the served metadata */
    pthread_mutex_unlock(&sd->mu);
    dubbo_registry_close(sd->inner);
    while (sd->cache) {
        mcache_t *c = sd->cache;
        sd->cache = c->next;
        mcache_free(c);
    }
    free_strs(sd->mapped, sd->nmapped);
    free(sd->app);
    free(sd->inst_key);
    free(sd->inst_rev);
    pthread_mutex_destroy(&sd->mu);
    pthread_mutex_destroy(&sd->cache_mu);
    pthread_cond_destroy(&sd->retry_cv);
    free(sd);
}

static int sd_list(dubbo_registry_t *r, const char *interface, const char *category, char ***out,
                   size_t *n)
{
    sd_t *sd = (sd_t *)r;
    if (!sd->inner->ops->list)
        return dubbo__seterr(DUBBO_EUNSUPPORTED, "registry %s cannot list",
                             sd->inner->url->protocol);
    return sd->inner->ops->list(sd->inner, interface, category, out, n);
}

static const dubbo_registry_ops_t sd_ops = {
    .name = "service-discovery",
    .reg = sd_reg,
    .unreg = sd_unreg,
    .subscribe = sd_subscribe,
    .unsubscribe = sd_unsubscribe,
    .destroy = sd_destroy,
    .list = sd_list,
    .attach = sd_attach,
};

dubbo_registry_t *dubbo__sd_wrap(dubbo_registry_t *inner)
{
    const dubbo_registry_ops_t *o = inner->ops;
    if (!o->node_put || !o->node_del || !o->node_watch || !o->node_unwatch) {
        dubbo__seterr(DUBBO_EUNSUPPORTED,
                      "registry %s has no application-level discovery (register-mode and "
                      "migration need zookeeper://, nacos:// or etcd://)",
                      inner->url->protocol);
        dubbo_registry_close(inner);
        return NULL;
    }
    sd_t *sd = calloc(1, sizeof(*sd));
    dubbo_url_t *u = sd ? dubbo_url_clone(inner->url) : NULL;
    if (!u) {
        free(sd);
        dubbo_registry_close(inner);
        dubbo__seterr(DUBBO_ENOMEM, "service discovery: out of memory");
        return NULL;
    }
    const char *rm = dubbo_url_param(u, "register-mode", "interface");
    const char *mg = dubbo_url_param(u, "migration", "FORCE_INTERFACE");
    sd->mode = strcmp(rm, "instance") == 0 ? MODE_INSTANCE
               : strcmp(rm, "all") == 0    ? MODE_INSTANCE | MODE_INTERFACE
                                           : MODE_INTERFACE;
    sd->migration = strcmp(mg, "FORCE_APPLICATION") == 0   ? FORCE_APPLICATION
                    : strcmp(mg, "APPLICATION_FIRST") == 0 ? APPLICATION_FIRST
                                                           : FORCE_INTERFACE;
    pthread_mutex_init(&sd->mu, NULL);
    pthread_mutex_init(&sd->cache_mu, NULL);
    pthread_cond_init(&sd->retry_cv, NULL);
    sd->inner = inner;
    sd->base.ops = &sd_ops;
    sd->base.url = u;
    return &sd->base;
}

/* ---- for tests and fuzzing (discovery.h) ----------------------------------------------- */

int dubbo__sd_revision(const char *app, const char *const *urls, size_t n, char **revision,
                       char **metadata_json)
{
    dubbo_url_t **us = calloc(n ? n : 1, sizeof(*us));
    if (!us) return dubbo__seterr(DUBBO_ENOMEM, "service discovery: out of memory");
    int rc = 0;
    size_t k = 0;
    for (; k < n && !rc; k++)
        if (!(us[k] = dubbo_url_parse(urls[k]))) rc = dubbo__last_code() ? dubbo__last_code() : -1;
    char *json = NULL;
    if (!rc) rc = build_metadata(app, (const dubbo_url_t *const *)us, n, revision, &json);
    for (size_t i = 0; i < k; i++)
        dubbo_url_free(us[i]);
    free(us);
    if (!rc && metadata_json)
        *metadata_json = json;
    else
        free(json);
    return rc;
}

int dubbo__sd_instance_urls(const char *app, const char *instance_json, const char *metadata_json,
                            const char *consumer_url, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    dubbo_url_t *cu = dubbo_url_parse(consumer_url);
    if (!cu) return dubbo__last_code() ? dubbo__last_code() : DUBBO_EINVAL;
    json_t *root = json_loads(instance_json, JSON_REJECT_DUPLICATES, NULL);
    inst_t in;
    int rc = 0;
    if (parse_instance(root, &in) != 0)
        rc = dubbo__seterr(DUBBO_EMALFORMED, "service discovery: not an instance: %.200s",
                           instance_json);
    else if (in.storage && strcmp(in.storage, "remote") == 0)
        rc = dubbo__seterr(DUBBO_EUNSUPPORTED, "service discovery: storage-type remote");
    dubbo_arena_t *a = rc ? NULL : dubbo_arena_new(0);
    dubbo_value_t *v = NULL;
    if (!rc && (!a || (rc = dubbo_value_from_json(a, metadata_json, strlen(metadata_json), &v))))
        rc = rc ? rc : DUBBO_ENOMEM;
    mcache_t *c = rc ? NULL : read_metadata(v, app, in.revision);
    if (!rc && !c) rc = dubbo__last_code() ? dubbo__last_code() : DUBBO_EMALFORMED;
    if (c && append_urls(&in, app, c, cu, iface_of(cu), out, n) != 0) {
        free_strs(*out, *n);
        *out = NULL;
        *n = 0;
        rc = dubbo__seterr(DUBBO_ENOMEM, "service discovery: out of memory");
    }
    if (c) mcache_free(c);
    dubbo_arena_free(a);
    inst_clear(&in);
    json_decref(root);
    dubbo_url_free(cu);
    return rc;
}
