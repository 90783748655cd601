/* The registry extension point's common parts: opening by scheme, Java's
 * URL encoding, the local address, the provider/consumer URLs Java Dubbo
 * registers, and the subscriber bookkeeping every registry shares
 * (subscribers.h). */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/extension.h"
#include "dubbo/registry.h"
#include "dubbo/version.h"
#include "core/internal.h"
#include "registry/discovery.h"
#include "registry/subscribers.h"

static char default_registry_url[600];

static void default_registry_init(void)
{
    const char *env = getenv("DUBBO_REGISTRY");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (env && *env)
        snprintf(default_registry_url, sizeof(default_registry_url), "%s", env);
    else if (xdg && *xdg)
        snprintf(default_registry_url, sizeof(default_registry_url), "file://%s/dubbo-registry",
                 xdg);
    else
        snprintf(default_registry_url, sizeof(default_registry_url),
                 "file:///tmp/dubbo-registry-%u", (unsigned)getuid());
}

dubbo_registry_t *dubbo_registry_open(const char *url)
{
    /* zookeeper://h1:p1,h2:p2/... is Java's cluster form: the first host,
     * the others as `backup` (UrlUtils.parseURL). */
    char *rewritten = NULL;
    const char *auth = strstr(url, "://");
    if (auth) {
        auth += 3;
        size_t alen = strcspn(auth, "/?");
        const char *comma = memchr(auth, ',', alen);
        if (comma) {
            size_t len = strlen(url) + 16;
            rewritten = malloc(len);
            if (!rewritten) {
                dubbo__seterr(DUBBO_ENOMEM, "registry: out of memory");
                return NULL;
            }
            const char *rest = auth + alen; /* "/path?query" or "?query" or "" */
            const char *q = strchr(rest, '?');
            snprintf(rewritten, len, "%.*s%.*s%s%sbackup=%.*s%s%s", (int)(comma - url), url,
                     (int)(q ? q - rest : (ptrdiff_t)strlen(rest)), rest, "", "?",
                     (int)(auth + alen - comma - 1), comma + 1, q ? "&" : "", q ? q + 1 : "");
            url = rewritten;
        }
    }
    dubbo_url_t *u = dubbo_url_parse(url);
    free(rewritten);
    if (!u) return NULL;
    const dubbo_registry_ops_t *ops = dubbo_extension_find(DUBBO_EXT_REGISTRY, u->protocol);
    if (!ops) {
        dubbo_url_free(u);
        return NULL;
    }
    dubbo_registry_t *r = ops->create(u);
    if (!r) {
        dubbo_url_free(u);
        return NULL;
    }
    r->ops = ops;
    r->url = u;
    /* register-mode / migration: application-level discovery around it */
    int sd = dubbo__sd_wanted(u);
    if (sd < 0) {
        dubbo_registry_close(r);
        return NULL;
    }
    return sd ? dubbo__sd_wrap(r) : r;
}

void dubbo_registry_close(dubbo_registry_t *r)
{
    if (!r) return;
    dubbo_url_t *u = r->url;
    r->ops->destroy(r);
    dubbo_url_free(u);
}

const char *dubbo_default_registry(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, default_registry_init);
    return default_registry_url;
}

typedef struct {
    const char *k, *v;
} kv_t;

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const kv_t *)a)->k, ((const kv_t *)b)->k);
}

/* protocol://host[:port]/path?k=v&... with the keys sorted (Java's
 * toFullString keeps its parameters in a TreeMap) and values as given. */
static char *build(const char *protocol, const char *host, int port, const char *path, kv_t *kv,
                   size_t n)
{
    qsort(kv, n, sizeof(kv_t), kv_cmp);
    size_t cap = 256 + strlen(protocol) + strlen(host) + strlen(path);
    for (size_t i = 0; i < n; i++)
        cap += strlen(kv[i].k) + strlen(kv[i].v) + 2;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t len = port > 0 ? (size_t)snprintf(s, cap, "%s://" DUBBO__HOST_FMT ":%d/%s", protocol,
                                             DUBBO__HOST_ARGS(host), port, path)
                          : (size_t)snprintf(s, cap, "%s://" DUBBO__HOST_FMT "/%s", protocol,
                                             DUBBO__HOST_ARGS(host), path);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%c%s=%s", i ? '&' : '?', kv[i].k, kv[i].v);
    return s;
}

char *dubbo_provider_url(const char *protocol, const char *ip, int port, const char *interface,
                         const char *version, const char *group, const char *application,
                         const char *const *methods, size_t nmethods, const char *const *extra)
{
    size_t mlen = 1;
    for (size_t i = 0; i < nmethods; i++)
        mlen += strlen(methods[i]) + 1;
    char *mlist = calloc(1, mlen);
    if (!mlist) return NULL;
    /* Java sorts the method names */
    const char **sorted = malloc((nmethods ? nmethods : 1) * sizeof(char *));
    if (!sorted) {
        free(mlist);
        return NULL;
    }
    memcpy(sorted, methods, nmethods * sizeof(char *));
    for (size_t i = 1; i < nmethods; i++)
        for (size_t k = i; k > 0 && strcmp(sorted[k - 1], sorted[k]) > 0; k--) {
            const char *t = sorted[k];
            sorted[k] = sorted[k - 1];
            sorted[k - 1] = t;
        }
    for (size_t i = 0; i < nmethods; i++) {
        if (i) strcat(mlist, ",");
        strcat(mlist, sorted[i]);
    }
    free(sorted);
    char pid[32], ts[32];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(ts, sizeof(ts), "%lld", (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    kv_t kv[64];
    size_t n = 0;
    kv[n++] = (kv_t){"anyhost", "true"};
    kv[n++] = (kv_t){"application", application && *application ? application : "dubbo-c"};
    kv[n++] = (kv_t){"deprecated", "false"};
    kv[n++] = (kv_t){"dubbo", "2.0.2"};
    kv[n++] = (kv_t){"dynamic", "true"};
    kv[n++] = (kv_t){"generic", "false"};
    kv[n++] = (kv_t){"interface", interface};
    kv[n++] = (kv_t){"methods", mlist};
    kv[n++] = (kv_t){"pid", pid};
    kv[n++] = (kv_t){"release", "dubbo-c-" DUBBO_VERSION_STRING};
    kv[n++] = (kv_t){"side", "provider"};
    kv[n++] = (kv_t){"timestamp", ts};
    if (version && *version) kv[n++] = (kv_t){"version", version};
    if (group && *group) kv[n++] = (kv_t){"group", group};
    /* What the Dubbo protocol accepts, as Java 3 announces it: the default
     * serialization, and every registered one in registration order
     * (hessian2 first) for consumers that pick from the provider's list. */
    char prefer[256] = "";
    if (strcmp(protocol, "dubbo") == 0) {
        const char *names[32];
        size_t ns = dubbo_extension_list(DUBBO_EXT_SERIALIZATION, names, 32);
        for (size_t i = 0; i < ns && i < 32; i++) {
            size_t l = strlen(prefer);
            snprintf(prefer + l, sizeof(prefer) - l, "%s%s", l ? "," : "", names[i]);
        }
        kv[n++] = (kv_t){"serialization", "hessian2"};
        if (*prefer) kv[n++] = (kv_t){"prefer.serialization", prefer};
    }
    for (const char *const *e = extra; e && e[0] && e[1] && n < 64; e += 2) {
        size_t i = 0;
        while (i < n && strcmp(kv[i].k, e[0]) != 0)
            i++;
        kv[i] = (kv_t){e[0], e[1]};
        if (i == n) n++;
    }
    char *s = build(protocol, ip, port, interface, kv, n);
    free(mlist);
    return s;
}

char *dubbo_consumer_url(const char *ip, const char *interface, const char *version,
                         const char *group, const char *application)
{
    char pid[32], ts[32];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(ts, sizeof(ts), "%lld", (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    kv_t kv[16];
    size_t n = 0;
    kv[n++] = (kv_t){"application", application && *application ? application : "dubbo-c"};
    kv[n++] = (kv_t){"category", "providers,configurators,routers"};
    kv[n++] = (kv_t){"dubbo", "2.0.2"};
    kv[n++] = (kv_t){"interface", interface};
    kv[n++] = (kv_t){"pid", pid};
    kv[n++] = (kv_t){"side", "consumer"};
    kv[n++] = (kv_t){"timestamp", ts};
    if (version && *version) kv[n++] = (kv_t){"version", version};
    if (group && *group) kv[n++] = (kv_t){"group", group};
    return build("consumer", ip, 0, interface, kv, n);
}

/* ---- subscribers (subscribers.h) ---------------------------------------------------------- */

void dubbo__subs_init(dubbo__subs_t *l)
{
    l->head = NULL;
    l->calling = NULL;
    pthread_cond_init(&l->returned, NULL);
}

void dubbo__subs_destroy(dubbo__subs_t *l)
{
    pthread_cond_destroy(&l->returned);
}

int dubbo__sub_init(dubbo__sub_t *s, const char *url, dubbo_notify_fn fn, void *user,
                    const char *who)
{
    *s = (dubbo__sub_t){.fn = fn, .user = user};
    if (!(s->url = strdup(url))) return dubbo__seterr(DUBBO_ENOMEM, "%s: out of memory", who);
    return 0;
}

void dubbo__sub_destroy(dubbo__sub_t *s)
{
    free(s->url);
    s->url = NULL;
}

dubbo__sub_t *dubbo__subs_find(const dubbo__subs_t *l, const char *url, dubbo_notify_fn fn,
                               void *user)
{
    for (dubbo__sub_t *s = l->head; s; s = s->next)
        if (!s->removed && s->fn == fn && s->user == user && strcmp(s->url, url) == 0) return s;
    return NULL;
}

void dubbo__subs_append(dubbo__subs_t *l, dubbo__sub_t *s)
{
    dubbo__sub_t **p = &l->head;
    while (*p)
        p = &(*p)->next;
    s->next = NULL;
    *p = s;
}

void dubbo__subs_unlink(dubbo__subs_t *l, dubbo__sub_t *s)
{
    for (dubbo__sub_t **p = &l->head; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            s->next = NULL;
            return;
        }
}

void dubbo__subs_remove(dubbo__subs_t *l, dubbo__sub_t *s, pthread_mutex_t *mu, pthread_t notifier)
{
    s->removed = true;
    if (!pthread_equal(pthread_self(), notifier))
        while (l->calling == s)
            pthread_cond_wait(&l->returned, mu);
}

void dubbo__subs_notify(dubbo__subs_t *l, dubbo__sub_t *s, pthread_mutex_t *mu, const bool *stop,
                        const char *category, const char *const *urls, size_t n)
{
    pthread_mutex_lock(mu);
    bool skip = s->removed || (stop && *stop);
    if (!skip) l->calling = s;
    pthread_mutex_unlock(mu);
    if (skip) return;
    s->fn(s->user, category, urls, n);
    pthread_mutex_lock(mu);
    l->calling = NULL;
    pthread_cond_broadcast(&l->returned);
    pthread_mutex_unlock(mu);
}

bool dubbo__last_same(const dubbo__last_t *l, const char *const *v, size_t n)
{
    if (!l->sent || l->n != n) return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(l->v[i], v[i]) != 0) return false;
    return true;
}

void dubbo__last_set(dubbo__last_t *l, char **v, size_t n)
{
    dubbo__last_clear(l);
    l->v = v;
    l->n = n;
    l->sent = true;
}

void dubbo__last_clear(dubbo__last_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    *l = (dubbo__last_t){0};
}

int dubbo__list_add(const char *list, const char *item, char **out)
{
    *out = NULL;
    size_t n = strlen(item);
    for (const char *p = list; p && *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && strncmp(p, item, n) == 0) return 0;
        p += l + (p[l] == ',');
    }
    bool first = !list || !*list;
    if (asprintf(out, "%s%s%s", first ? "" : list, first ? "" : ",", item) < 0) {
        *out = NULL;
        return dubbo__seterr(DUBBO_ENOMEM, "registry: out of memory");
    }
    return 0;
}
