/* The ZooKeeper registry, zookeeper://host:port[,host:port...][?backup=...],
 * with Java Dubbo's node layout (ZookeeperRegistry.java):
 *   /dubbo/<URL.encode(interface)>/<category>/<URL.encode(full URL)>
 * provider and consumer nodes ephemeral, their parents persistent; child
 * watches re-armed on every event; routing rules read from the config nodes
 * /dubbo/config/dubbo/<key>.condition-router and .tag-router and delivered in
 * the routers category, configurator rules from <key>.configurators in the
 * configurators category (docs/configurators.md); a new session (and every node and watch again)
 * after the old one expires. See docs/registry-zookeeper.md.
 *
 * Threads: the ZooKeeper client runs two of its own (I/O and completions);
 * its watcher only queues an event. One worker thread per registry reads
 * nodes, re-arms watches, replaces an expired session and calls the
 * subscribers. reg/unreg/list run ZooKeeper's synchronous calls on the
 * caller's thread, under the read side of a lock whose write side the
 * worker takes only to swap the handle after an expiry. */
#define THREADED 1 /* the synchronous API of libzookeeper_mt */
#include <zookeeper/zookeeper.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/registry.h"
#include "core/internal.h"
#include "core/log.h"
#include "registry/subscribers.h"

#define DEFAULT_PORT       2181
#define DEFAULT_SESSION_MS 60000 /* Java's DEFAULT_SESSION_TIMEOUT_MS */
#define DEFAULT_CONNECT_MS 5000  /* how long create() waits for the first session */
#define RETRY_MS           1000  /* failed work is retried this often while connected */
#define CONFIG_ROOT        "/dubbo/config/dubbo" /* Java's config center: /<namespace>/config/<group> */
#define MAX_CATEGORIES     8
#define GEN_FAILED         UINT_MAX /* regent_t.gen: tried, failed, due at the next retry */

typedef struct zk zk_t;

/* The watcher context of one handle: which registry, which generation. */
typedef struct {
    zk_t *z;
    unsigned gen;
} hctx_t;

/* A watched path and what it held when last read (worker only). */
typedef struct node {
    struct node *next;
    char *path;
    int data;    /* 1: a config node whose data is read; 0: a category, children */
    int refs;    /* subscriptions reading it */
    int fresh;   /* read, with a watch armed, since the last (re)connect */
    char **kids; /* children, sorted */
    size_t nkids;
    char *text; /* data, NUL-terminated; NULL when the node does not exist */
} node_t;

typedef struct {
    char *name; /* providers, routers, ... */
    char *path;
    node_t *node;
    dubbo__last_t last;
} cat_t;

/* A routing rule config node followed for a subscription. */
typedef struct {
    const char *router; /* "condition" or "tag" */
    const char *scope;  /* "application" or "service" */
    char *key;
    node_t *node;
} rule_t;

typedef struct sub {
    dubbo__sub_t base; /* the consumer URL, fn, user; removed under mu */
    dubbo_url_t *cu;
    const char *iface; /* in cu */
    int ready;         /* worker: the first lists went out */
    cat_t cats[MAX_CATEGORIES];
    size_t ncats;
    int routers, providers; /* indexes in cats, or -1 */
    int configurators;      /* index in cats, or -1 */
    int raw;                /* node_watch: 1 a node's data, 2 its children's (in rules) */
    rule_t *rules;
    size_t nrules;
} sub_t;

enum { T_EVENT, T_SUB, T_UNSUB };

typedef struct task {
    struct task *next;
    int kind;
    int type, state; /* T_EVENT */
    unsigned gen;
    char *path;
    sub_t *sub; /* T_SUB, T_UNSUB */
} task_t;

/* A URL this registry registered. */
typedef struct regent {
    struct regent *next;
    char *url, *path; /* url: the URL, or "node:<key>" for node_put */
    char *data;       /* the node's data; NULL: this machine's address (as Curator) */
    int ephemeral;
    int busy;     /* someone is creating its node right now */
    unsigned gen; /* the handle generation its node was created on; 0: none */
} regent_t;

typedef struct del {
    struct del *next;
    char *path;
} del_t;

struct zk {
    dubbo_registry_t base;
    char *hosts;
    char *root; /* "/dubbo", or "" for group=/ */
    int session_ms;

    pthread_mutex_t mu;     /* everything below up to `nodes` */
    pthread_cond_t cv;      /* wakes the worker */
    pthread_cond_t conn_cv; /* announces a connection (create() waits for one) */
    int closing, connected;
    uint64_t retry_at;
    task_t *head, *tail;
    regent_t *regs;
    del_t *dels;
    dubbo__subs_t subs; /* of sub_t; unlinked and freed by the worker */

    node_t *nodes; /* worker only */
    int need_renew;

    pthread_rwlock_t hl; /* read: use zh; write: replace it */
    zhandle_t *zh;
    hctx_t *hctx;
    unsigned hgen; /* written by the worker under hl's write side */

    pthread_t worker;
};

/* ---- small helpers --------------------------------------------------------------------- */

static char *strf(const char *fmt, ...) DUBBO__PRINTF(1, 2);
static char *strf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

static uint64_t now_ms(void)
{
    return dubbo__now_ms();
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int empty(const char *s)
{
    return !s || !*s;
}

/* Errors that go away when the session is back: the work is kept and retried. */
static int transient(int rc)
{
    return rc == ZINVALIDSTATE || rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT ||
           rc == ZSESSIONEXPIRED || rc == ZCLOSING || rc == ZSESSIONMOVED;
}

static const char *zk_err(int rc)
{
    return rc == ZINVALIDSTATE ? "no session" : zerror(rc);
}

static const char *interface_of(const dubbo_url_t *u)
{
    const char *i = dubbo_url_param(u, "interface", NULL);
    return empty(i) ? u->path : i;
}

/* root/URL.encode(iface)/category */
static char *category_path(const zk_t *z, const char *iface, const char *category)
{
    char *e = dubbo_url_encode(iface);
    char *p = e ? strf("%s/%s/%s", z->root, e, category) : NULL;
    free(e);
    return p;
}

/* The directory a registered URL goes to: consumers for a consumer, else
 * its single `category` (routers, configurators, ...), else providers. */
static const char *register_category(const dubbo_url_t *u)
{
    const char *side = dubbo_url_param(u, "side", "");
    if (strcmp(u->protocol, "consumer") == 0 || strcmp(side, "consumer") == 0) return "consumers";
    const char *c = dubbo_url_param(u, "category", NULL);
    if (!empty(c) && !strchr(c, ',') && strcmp(c, "*") != 0) return c;
    return "providers";
}

/* The node of a URL to register; *ephemeral unless dynamic=false. */
static char *url_node_path(const zk_t *z, const char *url, int *ephemeral)
{
    dubbo_url_t *u = dubbo_url_parse(url);
    if (!u) return NULL;
    const char *iface = interface_of(u);
    char *path = NULL;
    if (empty(iface) || strcmp(iface, "*") == 0) {
        dubbo__seterr(DUBBO_EINVAL, "zookeeper: no interface in \"%.200s\"", url);
    } else {
        char *dir = category_path(z, iface, register_category(u));
        char *name = dubbo_url_encode(url);
        if (dir && name) path = strf("%s/%s", dir, name);
        free(dir);
        free(name);
        if (!path) dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
    }
    *ephemeral = strcmp(dubbo_url_param(u, "dynamic", "true"), "false") != 0;
    dubbo_url_free(u);
    return path;
}

/* ---- the handle ------------------------------------------------------------------------ */

static int usable(const zk_t *z)
{
    return z->zh && zoo_state(z->zh) == ZOO_CONNECTED_STATE;
}

static int64_t session_id(const zk_t *z)
{
    const clientid_t *c = zoo_client_id(z->zh);
    return c ? c->client_id : 0;
}

/* Creates every missing ancestor of `path` (not path itself) as persistent
 * nodes holding this machine's address, as Curator does. hl held. */
static int make_parents(zk_t *z, const char *path)
{
    char *p = strdup(path);
    if (!p) return ZSYSTEMERROR;
    int rc = ZOK;
    const char *ip = dubbo_local_ip();
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        rc = zoo_create(z->zh, p, ip, (int)strlen(ip), &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL,
                        0);
        *s = '/';
        if (rc == ZNODEEXISTS) rc = ZOK;
        if (rc != ZOK) break;
    }
    free(p);
    return rc;
}

static int create_one(zk_t *z, const char *path, int ephemeral, const char *data)
{
    if (!data) data = dubbo_local_ip();
    return zoo_create(z->zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE,
                      ephemeral ? ZOO_EPHEMERAL : ZOO_PERSISTENT, NULL, 0);
}

/* Creates a registered URL's node, and its parents when missing. An
 * ephemeral node that exists but belongs to another session (ours, before
 * it expired) is deleted and created again: otherwise it would vanish when
 * that session's expiry is processed (apache/dubbo#5135). *gen gets the
 * handle generation the node now lives on. */
static int create_registered(zk_t *z, const char *path, int ephemeral, const char *data,
                             unsigned *gen)
{
    pthread_rwlock_rdlock(&z->hl);
    int rc = ZINVALIDSTATE;
    if (usable(z)) {
        rc = create_one(z, path, ephemeral, data);
        if (rc == ZNONODE) {
            rc = make_parents(z, path);
            if (rc == ZOK) rc = create_one(z, path, ephemeral, data);
        }
        if (rc == ZNODEEXISTS && !ephemeral) rc = ZOK;
        if (rc == ZNODEEXISTS) {
            struct Stat st;
            rc = zoo_exists(z->zh, path, 0, &st);
            if (rc == ZOK && st.ephemeralOwner == session_id(z)) {
                /* ours already: registered twice, or new data for it */
                rc = data ? zoo_set(z->zh, path, data, (int)strlen(data), -1) : ZOK;
            } else if (rc == ZOK || rc == ZNONODE) {
                rc = zoo_delete(z->zh, path, -1);
                if (rc == ZOK || rc == ZNONODE) rc = create_one(z, path, ephemeral, data);
            }
        }
        *gen = z->hgen;
    }
    pthread_rwlock_unlock(&z->hl);
    return rc;
}

static int delete_node(zk_t *z, const char *path)
{
    pthread_rwlock_rdlock(&z->hl);
    int rc = usable(z) ? zoo_delete(z->zh, path, -1) : ZINVALIDSTATE;
    pthread_rwlock_unlock(&z->hl);
    return rc == ZNONODE ? ZOK : rc;
}

static void arm_retry(zk_t *z)
{
    pthread_mutex_lock(&z->mu);
    if (!z->retry_at) z->retry_at = now_ms() + RETRY_MS;
    pthread_cond_signal(&z->cv);
    pthread_mutex_unlock(&z->mu);
}

/* Append a task for the registry's thread and wake it; z->mu held. */
static void enqueue_locked(zk_t *z, task_t *t)
{
    if (z->tail)
        z->tail->next = t;
    else
        z->head = t;
    z->tail = t;
    pthread_cond_signal(&z->cv);
}

/* Called by the client's completion thread: only queue the event. */
static void on_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    hctx_t *h = ctx;
    zk_t *z = h->z;
    task_t *t = calloc(1, sizeof(*t));
    if (!t) return;
    t->kind = T_EVENT;
    t->type = type;
    t->state = state;
    t->gen = h->gen;
    t->path = path && *path ? strdup(path) : NULL;
    pthread_mutex_lock(&z->mu);
    enqueue_locked(z, t);
    pthread_mutex_unlock(&z->mu);
}

static void zk_log(const char *msg)
{
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        n--;
    DLOG_DEBUG("zookeeper client: %.*s", (int)n, msg);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void set_log_level(void)
{
    const char *l = getenv("DUBBO_LOG");
    zoo_set_debug_level(l && strcmp(l, "debug") == 0 ? ZOO_LOG_LEVEL_INFO : ZOO_LOG_LEVEL_WARN);
}

/* A new handle for generation `gen` (a new session). */
static zhandle_t *open_handle(zk_t *z, unsigned gen, hctx_t **ctx)
{
    hctx_t *h = malloc(sizeof(*h));
    if (!h) return NULL;
    h->z = z;
    h->gen = gen;
    zhandle_t *zh = zookeeper_init2(z->hosts, on_watch, z->session_ms, NULL, h, 0, zk_log);
    if (!zh) {
        free(h);
        return NULL;
    }
    *ctx = h;
    return zh;
}

/* ---- watched nodes (worker) ------------------------------------------------------------ */

static node_t *node_ref(zk_t *z, const char *path, int data)
{
    for (node_t *n = z->nodes; n; n = n->next)
        if (n->data == data && strcmp(n->path, path) == 0) {
            n->refs++;
            return n;
        }
    node_t *n = calloc(1, sizeof(*n));
    if (!n || !(n->path = strdup(path))) {
        free(n);
        return NULL;
    }
    n->data = data;
    n->refs = 1;
    n->next = z->nodes;
    z->nodes = n;
    return n;
}

static void node_free(node_t *n)
{
    free(n->path);
    free_strs(n->kids, n->nkids);
    free(n->text);
    free(n);
}

/* No way to remove the watch in every server version: a later event on
 * the path simply finds no node and is dropped. */
static void node_unref(zk_t *z, node_t *n)
{
    if (!n || --n->refs > 0) return;
    for (node_t **p = &z->nodes; *p; p = &(*p)->next)
        if (*p == n) {
            *p = n->next;
            break;
        }
    node_free(n);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Children with a child watch. A missing category path is created (as
 * Java does on subscribe); if it is deleted again, an exists watch waits
 * for it and the list is empty. hl held. */
static int read_children(zk_t *z, node_t *n)
{
    struct String_vector sv = {0, NULL};
    int rc = ZNONODE;
    for (int tries = 0; tries < 3; tries++) {
        rc = zoo_get_children(z->zh, n->path, 1, &sv);
        if (rc != ZNONODE) break;
        if (tries == 0) {
            rc = make_parents(z, n->path);
            if (rc == ZOK) rc = create_one(z, n->path, 0, NULL);
            if (rc != ZOK && rc != ZNODEEXISTS) return rc;
            continue;
        }
        struct Stat st;
        rc = zoo_exists(z->zh, n->path, 1, &st);
        if (rc == ZNONODE) {
            rc = ZOK;
            sv.count = 0;
            break;
        }
        if (rc != ZOK) return rc;
    }
    if (rc != ZOK) return rc;
    size_t cnt = sv.count > 0 ? (size_t)sv.count : 0;
    char **kids = calloc(cnt ? cnt : 1, sizeof(char *));
    if (!kids) {
        deallocate_String_vector(&sv);
        return ZSYSTEMERROR;
    }
    for (size_t i = 0; i < cnt; i++)
        if (!(kids[i] = strdup(sv.data[i]))) {
            free_strs(kids, i);
            deallocate_String_vector(&sv);
            return ZSYSTEMERROR;
        }
    deallocate_String_vector(&sv);
    qsort(kids, cnt, sizeof(char *), cmp_str);
    free_strs(n->kids, n->nkids);
    n->kids = kids;
    n->nkids = cnt;
    return ZOK;
}

/* Data with a data watch, or an exists watch while the node is missing. hl held. */
static int read_data(zk_t *z, node_t *n)
{
    for (int tries = 0; tries < 3; tries++) {
        struct Stat st;
        int rc = zoo_exists(z->zh, n->path, 1, &st);
        if (rc == ZNONODE) {
            free(n->text);
            n->text = NULL;
            return ZOK;
        }
        if (rc != ZOK) return rc;
        int cap = st.dataLength > 0 ? st.dataLength : 0, len = cap;
        char *buf = malloc((size_t)cap + 1);
        if (!buf) return ZSYSTEMERROR;
        rc = zoo_get(z->zh, n->path, 1, buf, &len, &st);
        if (rc == ZOK && st.dataLength <= cap) {
            buf[len > 0 ? len : 0] = '\0';
            free(n->text);
            n->text = buf;
            return ZOK;
        }
        free(buf);
        if (rc != ZOK && rc != ZNONODE) return rc;
        /* deleted or grown between the two calls: again */
    }
    return ZOPERATIONTIMEOUT;
}

/* Reads a node and re-arms its watch; on failure it stays stale (its last
 * contents kept) and is read again later. */
static int node_read(zk_t *z, node_t *n)
{
    pthread_rwlock_rdlock(&z->hl);
    int rc = ZINVALIDSTATE;
    if (usable(z)) rc = n->data ? read_data(z, n) : read_children(z, n);
    pthread_rwlock_unlock(&z->hl);
    if (rc == ZBADARGUMENTS && n->data) { /* a key ZooKeeper cannot have: no rule */
        free(n->text);
        n->text = NULL;
        rc = ZOK;
    }
    n->fresh = rc == ZOK;
    if (rc != ZOK) {
        DLOG_DEBUG("zookeeper: reading %s: %s (will retry)", n->path, zk_err(rc));
        if (rc != ZINVALIDSTATE) arm_retry(z); /* else the next connection does it */
    }
    return rc;
}

/* ---- subscriptions (worker) ------------------------------------------------------------ */

static int str_in_list(const char *list, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && strncmp(p, v, n) == 0) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static int same_opt(const char *a, const char *b)
{
    if (empty(a) || empty(b)) return empty(a) && empty(b);
    return strcmp(a, b) == 0;
}

/* Java's UrlUtils.isMatch, less the category (the node's directory gives
 * it): interface, enabled, group (or one of a comma list, or *), version
 * (or *), classifier. */
static int url_matches(const dubbo_url_t *c, const dubbo_url_t *p)
{
    const char *ci = interface_of(c), *pi = interface_of(p);
    if (strcmp(ci, "*") != 0 && strcmp(pi, "*") != 0 && strcmp(ci, pi) != 0) return 0;
    if (strcmp(dubbo_url_param(p, "enabled", "true"), "false") == 0 &&
        strcmp(dubbo_url_param(c, "enabled", ""), "*") != 0)
        return 0;
    if (!dubbo__service_key_match(dubbo_url_param(c, "group", NULL),
                                  dubbo_url_param(p, "group", NULL), false) ||
        !dubbo__service_key_match(dubbo_url_param(c, "version", NULL),
                                  dubbo_url_param(p, "version", NULL), true))
        return 0;
    const char *cc = dubbo_url_param(c, "classifier", "*");
    if (!(strcmp(cc, "*") == 0 || same_opt(cc, dubbo_url_param(p, "classifier", NULL)))) return 0;
    return 1;
}

/* A child's URL if it matches the subscription (decoded, malloc'd), with
 * the parsed form in *pu when asked for; NULL for a foreign child. */
static char *match_child(const sub_t *s, const char *kid, dubbo_url_t **pu)
{
    char *dec = dubbo_url_decode(kid);
    if (!dec) return NULL;
    dubbo_url_t *u = strstr(dec, "://") ? dubbo_url_parse(dec) : NULL;
    if (!u || !url_matches(s->cu, u)) {
        if (!u) DLOG_DEBUG("zookeeper: ignoring node %.200s (not a URL)", kid);
        dubbo_url_free(u);
        free(dec);
        return NULL;
    }
    if (pu)
        *pu = u;
    else
        dubbo_url_free(u);
    return dec;
}

/* Percent-encoding with %20 for a space (not Java's '+'), so that both
 * dubbo_url_parse and Java's URL.decode give the text back. */
static char *encode_param(const char *s)
{
    char *e = dubbo_url_encode(s);
    if (!e) return NULL;
    size_t plus = 0;
    for (const char *p = e; *p; p++)
        plus += *p == '+';
    char *out = malloc(strlen(e) + plus * 2 + 1), *w = out;
    if (out) {
        for (const char *p = e; *p; p++)
            if (*p == '+') {
                memcpy(w, "%20", 3);
                w += 3;
            } else {
                *w++ = *p;
            }
        *w = '\0';
    }
    free(e);
    return out;
}

/* A rule in the routers category, as Java's route URLs were:
 *   condition://0.0.0.0/<iface>?category=routers&dynamic=false&key=<key>
 *     &rule=<encoded rule text>&scope=service
 * and a configurator rule (router "configurator") the same way in the
 * configurators category. */
static char *rule_url(const sub_t *s, const rule_t *r)
{
    char *k = encode_param(r->key), *t = encode_param(r->node->text);
    const char *cat = strcmp(r->router, "configurator") == 0 ? "configurators" : "routers";
    char *u = k && t ? strf("%s://0.0.0.0/%s?category=%s&dynamic=false&key=%s&rule=%s&"
                            "scope=%s",
                            r->router, s->iface, cat, k, t, r->scope)
                     : NULL;
    free(k);
    free(t);
    return u;
}

static int push_str(char ***v, size_t *n, size_t *cap, char *s)
{
    if (!s) return -1;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        char **nv = realloc(*v, c * sizeof(char *));
        if (!nv) {
            free(s);
            return -1;
        }
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = s;
    return 0;
}

/* The rule config nodes a subscription follows (when it wants routers):
 *   <application>.condition-router          application scope (AppStateRouter)
 *   <iface>:<version>:<group>.condition-router  Java's rule key (ServiceStateRouter)
 *   <iface>.condition-router, <iface>.tag-router    the bare interface key
 *   <provider application>.tag-router       for each provider's application
 *                                            (TagStateRouter)
 * and (when it wants configurators) Java's consumer configurator keys:
 *   <application>.configurators             ConsumerConfigurationListener
 *   <iface>:<version>:<group>.configurators  ReferenceConfigurationListener */
static int sub_rules(zk_t *z, sub_t *s)
{
    typedef struct {
        const char *router, *scope;
        char *key;
    } want_t;
    want_t want[64];
    size_t nw = 0;
    const char *app = dubbo_url_param(s->cu, "application", NULL);
    const char *ver = dubbo_url_param(s->cu, "version", ""),
               *grp = dubbo_url_param(s->cu, "group", "");
    if (s->configurators >= 0) {
        if (!empty(app)) want[nw++] = (want_t){"configurator", "application", strdup(app)};
        want[nw++] = (want_t){"configurator", "service", strf("%s:%s:%s", s->iface, ver, grp)};
    }
    if (s->routers >= 0) {
        if (!empty(app)) want[nw++] = (want_t){"condition", "application", strdup(app)};
        want[nw++] = (want_t){"condition", "service", strf("%s:%s:%s", s->iface, ver, grp)};
        want[nw++] = (want_t){"condition", "service", strdup(s->iface)};
        want[nw++] = (want_t){"tag", "service", strdup(s->iface)};
    }
    /* Per provider application: its tag rule, and its configurators, whose
     * provider-side rules a provider applies by registering again (the
     * directory applies them for it; docs/configurators.md). */
    if ((s->routers >= 0 || s->configurators >= 0) && s->providers >= 0 &&
        s->cats[s->providers].node) {
        const node_t *pn = s->cats[s->providers].node;
        for (size_t i = 0; i < pn->nkids && nw < 63; i++) {
            dubbo_url_t *u = NULL;
            char *dec = match_child(s, pn->kids[i], &u);
            if (!dec) continue;
            const char *pa = dubbo_url_param(u, "application", NULL);
            for (int r = 0; r < 2 && !empty(pa); r++) {
                const char *router = r ? "configurator" : "tag";
                if (r ? s->configurators < 0 || (!empty(app) && strcmp(app, pa) == 0)
                      : s->routers < 0)
                    continue;
                int seen = 0;
                for (size_t k = 0; k < nw && !seen; k++)
                    seen = strcmp(want[k].router, router) == 0 &&
                           strcmp(want[k].scope, "application") == 0 && want[k].key &&
                           strcmp(want[k].key, pa) == 0;
                if (!seen) want[nw++] = (want_t){router, "application", strdup(pa)};
            }
            dubbo_url_free(u);
            free(dec);
        }
    }
    rule_t *rules = calloc(nw, sizeof(rule_t));
    int rc = rules ? 0 : -1;
    size_t nr = 0;
    for (size_t i = 0; i < nw && rc == 0; i++) {
        int conf = strcmp(want[i].router, "configurator") == 0;
        char *path = !want[i].key ? NULL
                     : conf       ? strf(CONFIG_ROOT "/%s.configurators", want[i].key)
                                  : strf(CONFIG_ROOT "/%s.%s-router", want[i].key, want[i].router);
        if (!path) {
            rc = -1;
            break;
        }
        /* one path segment per key: an application or group with '/' has no rule */
        int dup = strchr(want[i].key, '/') != NULL;
        for (size_t k = 0; k < nr && !dup; k++)
            dup = strcmp(rules[k].node->path, path) == 0;
        if (dup) {
            free(path);
            continue;
        }
        /* keep the node of a rule followed already; a new one is referenced */
        node_t *n = NULL;
        for (size_t k = 0; k < s->nrules && !n; k++)
            if (s->rules[k].node && strcmp(s->rules[k].node->path, path) == 0) n = s->rules[k].node;
        n = n ? (n->refs++, n) : node_ref(z, path, 1);
        free(path);
        if (!n) {
            rc = -1;
            break;
        }
        rules[nr++] = (rule_t){want[i].router, want[i].scope, want[i].key, n};
        want[i].key = NULL;
    }
    for (size_t i = 0; i < nw; i++)
        free(want[i].key);
    if (rc != 0) {
        for (size_t i = 0; i < nr; i++) {
            node_unref(z, rules[i].node);
            free(rules[i].key);
        }
        free(rules);
        return -1;
    }
    for (size_t k = 0; k < s->nrules; k++) {
        node_unref(z, s->rules[k].node);
        free(s->rules[k].key);
    }
    free(s->rules);
    s->rules = rules;
    s->nrules = nr;
    for (size_t i = 0; i < nr; i++)
        if (!rules[i].node->fresh && node_read(z, rules[i].node) != ZOK) return -1;
    return 0;
}

/* The current list of a category: the matching children, decoded, and for
 * routers the rules after them. */
static int build_list(const sub_t *s, const cat_t *c, char ***out, size_t *n)
{
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    for (size_t i = 0; i < c->node->nkids; i++) {
        char *dec = match_child(s, c->node->kids[i], NULL);
        if (dec && push_str(&v, &cnt, &cap, dec) != 0) goto oom;
    }
    int conf = s->configurators >= 0 && c == &s->cats[s->configurators];
    if ((s->routers >= 0 && c == &s->cats[s->routers]) || conf)
        for (size_t i = 0; i < s->nrules; i++)
            if (s->rules[i].node->text && *s->rules[i].node->text &&
                (strcmp(s->rules[i].router, "configurator") == 0) == conf &&
                push_str(&v, &cnt, &cap, rule_url(s, &s->rules[i])) != 0)
                goto oom;
    *out = v;
    *n = cnt;
    return 0;
oom:
    free_strs(v, cnt);
    return -1;
}

/* Brings a subscription up to date: reads what is stale, then delivers
 * every category whose list changed (all of them the first time). Nothing
 * is delivered while a node cannot be read: subscribers keep their last
 * lists until the registry is back. */
static void raw_update(zk_t *z, sub_t *s);

static void sub_update(zk_t *z, sub_t *s)
{
    if (s->raw) {
        raw_update(z, s);
        return;
    }
    for (size_t i = 0; i < s->ncats; i++) {
        if (!s->cats[i].node) {
            s->cats[i].node = node_ref(z, s->cats[i].path, 0);
            if (!s->cats[i].node) return;
        }
        if (!s->cats[i].node->fresh && node_read(z, s->cats[i].node) != ZOK) return;
    }
    if ((s->routers >= 0 || s->configurators >= 0) && sub_rules(z, s) != 0) return;
    for (size_t i = 0; i < s->ncats; i++) {
        cat_t *c = &s->cats[i];
        char **v;
        size_t n;
        if (build_list(s, c, &v, &n) != 0) return;
        if (dubbo__last_same(&c->last, (const char *const *)v, n)) {
            free_strs(v, n);
            continue;
        }
        dubbo__last_set(&c->last, v, n);
        dubbo__subs_notify(&z->subs, &s->base, &z->mu, NULL, c->name, (const char *const *)v, n);
    }
    s->ready = 1;
}

static int sub_uses(const sub_t *s, const node_t *n)
{
    for (size_t i = 0; i < s->ncats; i++)
        if (s->cats[i].node == n) return 1;
    for (size_t i = 0; i < s->nrules; i++)
        if (s->rules[i].node == n) return 1;
    return 0;
}

static void sub_free(zk_t *z, sub_t *s)
{
    for (size_t i = 0; i < s->ncats; i++) {
        if (z) node_unref(z, s->cats[i].node);
        free(s->cats[i].name);
        free(s->cats[i].path);
        dubbo__last_clear(&s->cats[i].last);
    }
    for (size_t i = 0; i < s->nrules; i++) {
        if (z) node_unref(z, s->rules[i].node);
        free(s->rules[i].key);
    }
    free(s->rules);
    dubbo_url_free(s->cu);
    dubbo__sub_destroy(&s->base);
    free(s);
}

/* The subscriptions now (they are freed by the worker only, so the
 * pointers stay valid while the worker uses them). */
static sub_t **subs_snapshot(zk_t *z, size_t *n)
{
    pthread_mutex_lock(&z->mu);
    size_t cnt = 0;
    for (dubbo__sub_t *s = z->subs.head; s; s = s->next)
        cnt++;
    sub_t **v = malloc((cnt ? cnt : 1) * sizeof(*v));
    cnt = 0;
    if (v)
        for (dubbo__sub_t *s = z->subs.head; s; s = s->next)
            v[cnt++] = (sub_t *)s;
    pthread_mutex_unlock(&z->mu);
    *n = cnt;
    return v;
}

/* ---- the worker ------------------------------------------------------------------------ */

/* Deletes queued by unreg while the server was away, then (re)creates the
 * nodes of registered URLs not created on the current handle. */
static void sync_registrations(zk_t *z)
{
    pthread_mutex_lock(&z->mu);
    del_t *dels = z->dels;
    z->dels = NULL;
    pthread_mutex_unlock(&z->mu);
    while (dels) {
        del_t *d = dels;
        dels = d->next;
        int rc = delete_node(z, d->path);
        if (transient(rc)) {
            pthread_mutex_lock(&z->mu);
            d->next = z->dels;
            z->dels = d;
            pthread_mutex_unlock(&z->mu);
            if (rc != ZINVALIDSTATE) arm_retry(z);
        } else {
            if (rc != ZOK) DLOG_WARN("zookeeper: unregister %s: %s", d->path, zk_err(rc));
            free(d->path);
            free(d);
        }
    }
    for (;;) {
        char *url = NULL, *path = NULL, *data = NULL;
        int eph = 0, nodata = 0; /* nodata: a copy failed */
        pthread_mutex_lock(&z->mu);
        for (regent_t *e = z->regs; e; e = e->next)
            if (!e->busy && e->gen != z->hgen && e->gen != GEN_FAILED) {
                url = strdup(e->url);
                path = strdup(e->path);
                data = e->data ? strdup(e->data) : NULL;
                nodata = !url || !path || (e->data && !data);
                eph = e->ephemeral;
                e->busy = !nodata; /* out of memory: left due, for the next retry */
                break;
            }
        pthread_mutex_unlock(&z->mu);
        if (!url || nodata) {
            free(url);
            free(path);
            free(data);
            if (nodata) arm_retry(z);
            return;
        }
        unsigned gen = 0;
        int rc = create_registered(z, path, eph, data, &gen);
        free(data);
        int found = 0;
        pthread_mutex_lock(&z->mu);
        for (regent_t *e = z->regs; e; e = e->next)
            if (strcmp(e->url, url) == 0) {
                found = 1;
                e->busy = 0;
                e->gen = rc == ZOK ? gen : rc == ZINVALIDSTATE ? 0 : GEN_FAILED;
            }
        pthread_mutex_unlock(&z->mu);
        if (rc == ZOK) {
            DLOG_INFO("zookeeper: registered %.300s", url);
            if (!found) delete_node(z, path); /* unregistered meanwhile */
        } else if (rc != ZINVALIDSTATE) {
            if (transient(rc))
                DLOG_DEBUG("zookeeper: register %s: %s (will retry)", path, zk_err(rc));
            else
                DLOG_WARN("zookeeper: register %s: %s (will retry)", path, zk_err(rc));
            arm_retry(z);
        }
        free(url);
        free(path);
        if (rc == ZINVALIDSTATE) return; /* no session: the next connection does the rest */
    }
}

/* After a retry tick, entries that failed carry gen -1: make them due again. */
static void reset_failed(zk_t *z)
{
    pthread_mutex_lock(&z->mu);
    for (regent_t *e = z->regs; e; e = e->next)
        if (e->gen == GEN_FAILED) e->gen = 0;
    pthread_mutex_unlock(&z->mu);
}

static void refresh_all(zk_t *z, int mark_stale)
{
    if (mark_stale)
        for (node_t *n = z->nodes; n; n = n->next)
            n->fresh = 0;
    size_t ns;
    sub_t **subs = subs_snapshot(z, &ns);
    for (size_t i = 0; subs && i < ns; i++)
        if (subs[i]->cats[0].node || subs[i]->ready) sub_update(z, subs[i]);
    free(subs);
}

/* The session expired: every ephemeral node and watch of it is gone. A new
 * handle (a new session) replaces it; its first connection re-registers
 * and re-reads everything. */
static void renew_session(zk_t *z)
{
    pthread_rwlock_wrlock(&z->hl);
    zhandle_t *old = z->zh;
    hctx_t *oldctx = z->hctx;
    z->zh = NULL;
    z->hctx = NULL;
    z->hgen++;
    unsigned gen = z->hgen;
    pthread_rwlock_unlock(&z->hl);
    if (old) zookeeper_close(old); /* joins its threads: no more events from it */
    free(oldctx);
    hctx_t *h = NULL;
    zhandle_t *zh = open_handle(z, gen, &h);
    pthread_rwlock_wrlock(&z->hl);
    z->zh = zh;
    z->hctx = h;
    pthread_rwlock_unlock(&z->hl);
    z->need_renew = !zh;
    if (!zh) {
        DLOG_ERROR("zookeeper: new session for %s: %s (will retry)", z->hosts, strerror(errno));
        arm_retry(z);
    }
}

static void on_session(zk_t *z, int state)
{
    if (state == ZOO_CONNECTED_STATE) {
        pthread_rwlock_rdlock(&z->hl);
        long long sid = z->zh ? (long long)session_id(z) : 0;
        pthread_rwlock_unlock(&z->hl);
        pthread_mutex_lock(&z->mu);
        z->connected = 1;
        pthread_cond_broadcast(&z->conn_cv);
        pthread_mutex_unlock(&z->mu);
        DLOG_INFO("zookeeper: connected to %s, session 0x%llx", z->hosts, sid);
        reset_failed(z);
        sync_registrations(z);
        refresh_all(z, 1);
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
        pthread_mutex_lock(&z->mu);
        z->connected = 0;
        pthread_mutex_unlock(&z->mu);
        DLOG_WARN("zookeeper: session expired at %s; opening a new one, subscribers keep their "
                  "lists",
                  z->hosts);
        renew_session(z);
    } else if (state == ZOO_AUTH_FAILED_STATE) {
        DLOG_ERROR("zookeeper: authentication failed at %s", z->hosts);
    } else {
        pthread_mutex_lock(&z->mu);
        int was = z->connected;
        z->connected = 0;
        pthread_mutex_unlock(&z->mu);
        if (was)
            DLOG_WARN("zookeeper: lost %s; reconnecting, subscribers keep their lists", z->hosts);
    }
}

static void on_node(zk_t *z, const char *path)
{
    /* pinned: updating a subscription may drop the rule nodes it follows */
    node_t *hits[2];
    size_t nh = 0, ns = 0;
    for (node_t *n = z->nodes; n && nh < 2; n = n->next)
        if (strcmp(n->path, path) == 0) {
            n->refs++;
            hits[nh++] = n;
        }
    sub_t **subs = nh ? subs_snapshot(z, &ns) : NULL;
    for (size_t h = 0; h < nh; h++) {
        node_read(z, hits[h]);
        for (size_t i = 0; subs && i < ns; i++)
            if (subs[i]->ready && sub_uses(subs[i], hits[h])) sub_update(z, subs[i]);
    }
    free(subs);
    for (size_t h = 0; h < nh; h++)
        node_unref(z, hits[h]);
}

static void run_task(zk_t *z, task_t *t)
{
    if (t->kind == T_EVENT) {
        if (t->gen != z->hgen) return; /* from a handle closed since */
        if (t->type == ZOO_SESSION_EVENT)
            on_session(z, t->state);
        else if (t->path && t->type != ZOO_NOTWATCHING_EVENT)
            on_node(z, t->path);
    } else if (t->kind == T_SUB) {
        sub_update(z, t->sub);
    } else if (t->kind == T_UNSUB) {
        pthread_mutex_lock(&z->mu);
        dubbo__subs_unlink(&z->subs, &t->sub->base);
        pthread_mutex_unlock(&z->mu);
        sub_free(z, t->sub);
    }
}

static void *worker_main(void *arg)
{
    zk_t *z = arg;
    pthread_mutex_lock(&z->mu);
    while (!z->closing) {
        if (z->head) {
            task_t *t = z->head;
            z->head = t->next;
            if (!z->head) z->tail = NULL;
            pthread_mutex_unlock(&z->mu);
            run_task(z, t);
            free(t->path);
            free(t);
            pthread_mutex_lock(&z->mu);
            continue;
        }
        if (z->retry_at && now_ms() >= z->retry_at) {
            z->retry_at = 0;
            pthread_mutex_unlock(&z->mu);
            if (z->need_renew) {
                renew_session(z);
            } else {
                reset_failed(z);
                sync_registrations(z);
                refresh_all(z, 0);
            }
            pthread_mutex_lock(&z->mu);
            continue;
        }
        if (z->retry_at) {
            uint64_t at = z->retry_at;
            struct timespec ts;
            dubbo__deadline(&ts, CLOCK_REALTIME, at > now_ms() ? at - now_ms() : 0);
            pthread_cond_timedwait(&z->cv, &z->mu, &ts);
        } else {
            pthread_cond_wait(&z->cv, &z->mu);
        }
    }
    pthread_mutex_unlock(&z->mu);
    return NULL;
}

/* ---- the extension --------------------------------------------------------------------- */

/* host[:port] entries of the URL's host (which may itself be a list) and
 * of `backup`, each given the URL's port (or 2181) when it has none. */
static char *connect_string(const dubbo_url_t *u)
{
    int port = u->port > 0 ? u->port : DEFAULT_PORT;
    const char *backup = dubbo_url_param(u, "backup", "");
    char *all = strf("%s,%s", u->host, backup);
    if (!all) return NULL;
    size_t cap = strlen(all) * 2 + 64, len = 0;
    char *out = calloc(1, cap);
    if (!out) {
        free(all);
        return NULL;
    }
    char *save = NULL;
    for (char *h = strtok_r(all, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
        while (*h == ' ')
            h++;
        if (!*h) continue;
        if (len + strlen(h) + 16 >= cap) break;
        if (strchr(h, ':'))
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", h);
        else
            len += (size_t)snprintf(out + len, cap - len, "%s%s:%d", len ? "," : "", h, port);
    }
    free(all);
    if (!len) {
        free(out);
        return NULL;
    }
    return out;
}

static void zk_free(zk_t *z)
{
    while (z->head) {
        task_t *t = z->head;
        z->head = t->next;
        free(t->path);
        free(t);
    }
    while (z->subs.head) {
        sub_t *s = (sub_t *)z->subs.head;
        dubbo__subs_unlink(&z->subs, &s->base);
        sub_free(NULL, s);
    }
    dubbo__subs_destroy(&z->subs);
    while (z->nodes) {
        node_t *n = z->nodes;
        z->nodes = n->next;
        node_free(n);
    }
    while (z->regs) {
        regent_t *e = z->regs;
        z->regs = e->next;
        free(e->url);
        free(e->path);
        free(e->data);
        free(e);
    }
    while (z->dels) {
        del_t *d = z->dels;
        z->dels = d->next;
        free(d->path);
        free(d);
    }
    pthread_mutex_destroy(&z->mu);
    pthread_cond_destroy(&z->cv);
    pthread_cond_destroy(&z->conn_cv);
    pthread_rwlock_destroy(&z->hl);
    free(z->hctx);
    free(z->hosts);
    free(z->root);
    free(z);
}

static dubbo_registry_t *zk_create(const dubbo_url_t *url)
{
    pthread_once(&log_once, set_log_level);
    zk_t *z = calloc(1, sizeof(*z));
    if (!z) {
        dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
        return NULL;
    }
    pthread_mutex_init(&z->mu, NULL);
    dubbo__subs_init(&z->subs);
    pthread_rwlock_init(&z->hl, NULL);
    pthread_cond_init(&z->cv, NULL);
    pthread_cond_init(&z->conn_cv, NULL);
    z->hosts = connect_string(url);
    const char *group = dubbo_url_param(url, "group", "dubbo");
    if (empty(group)) group = "dubbo";
    while (*group == '/')
        group++;
    z->root = strf("%s%s", *group ? "/" : "", group);
    long session = dubbo_url_param_int(url, "session", DEFAULT_SESSION_MS);
    long wait_ms = dubbo_url_param_int(url, "timeout", DEFAULT_CONNECT_MS);
    z->session_ms = session > 0 && session < 3600000 ? (int)session : DEFAULT_SESSION_MS;
    z->hgen = 1;
    if (!z->hosts || !z->root) {
        dubbo__seterr(DUBBO_EINVAL, "zookeeper: no server address in zookeeper://%s:%d", url->host,
                      url->port);
        zk_free(z);
        return NULL;
    }
    z->zh = open_handle(z, z->hgen, &z->hctx);
    if (!z->zh) {
        dubbo__seterr(DUBBO_EINVAL, "zookeeper: cannot use server list \"%s\": %s", z->hosts,
                      strerror(errno));
        zk_free(z);
        return NULL;
    }
    if (pthread_create(&z->worker, NULL, worker_main, z) != 0) {
        zookeeper_close(z->zh);
        dubbo__seterr(DUBBO_ENOMEM, "zookeeper: cannot start a thread");
        zk_free(z);
        return NULL;
    }
    /* A server that is down is not an error: wait a little, then go on
     * (registrations and subscriptions wait for the connection). */
    uint64_t deadline = now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
    pthread_mutex_lock(&z->mu);
    while (!z->connected && now_ms() < deadline) {
        struct timespec ts;
        dubbo__deadline(&ts, CLOCK_REALTIME, 20);
        pthread_cond_timedwait(&z->conn_cv, &z->mu, &ts);
    }
    int connected = z->connected;
    pthread_mutex_unlock(&z->mu);
    if (!connected)
        DLOG_WARN("zookeeper: %s not reachable within %ld ms; will keep trying", z->hosts, wait_ms);
    return &z->base;
}

/* Registers `url` (a URL, or "node:<key>") as the node `path` (taken),
 * holding `data` (NULL: this machine's address), and keeps it registered
 * across sessions until unreg_node. */
static int reg_node(zk_t *z, const char *url, char *path, int eph, const char *data)
{
    pthread_mutex_lock(&z->mu);
    /* a delete still queued for this node must not remove it after this */
    for (del_t **p = &z->dels; *p;)
        if (strcmp((*p)->path, path) == 0) {
            del_t *d = *p;
            *p = d->next;
            free(d->path);
            free(d);
        } else {
            p = &(*p)->next;
        }
    regent_t *e = z->regs;
    while (e && strcmp(e->url, url) != 0)
        e = e->next;
    char *ndata = data ? strdup(data) : NULL;
    if (data && !ndata) {
        pthread_mutex_unlock(&z->mu);
        free(path);
        return dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
    }
    if (e && e->busy) { /* being created by someone else: it writes the new data next */
        if (ndata) {
            free(e->data);
            e->data = ndata;
            e->gen = 0;
            arm_retry(z);
        }
        pthread_mutex_unlock(&z->mu);
        free(path);
        return 0;
    }
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e || !(e->url = strdup(url))) {
            free(e);
            free(ndata);
            pthread_mutex_unlock(&z->mu);
            free(path);
            return dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
        }
        e->path = strdup(path);
        e->ephemeral = eph;
        e->next = z->regs;
        z->regs = e;
    }
    if (ndata) {
        free(e->data);
        e->data = ndata;
    }
    e->busy = 1;
    pthread_mutex_unlock(&z->mu);

    unsigned gen = 0;
    int rc = create_registered(z, path, eph, data, &gen);
    int found = 0;
    pthread_mutex_lock(&z->mu);
    for (regent_t **p = &z->regs; *p; p = &(*p)->next)
        if (strcmp((*p)->url, url) == 0) {
            e = *p;
            found = 1;
            e->busy = 0;
            e->gen = rc == ZOK ? gen : 0;
            if (rc != ZOK && !transient(rc)) { /* it will not get better: forget it */
                *p = e->next;
                free(e->url);
                free(e->path);
                free(e->data);
                free(e);
            }
            break;
        }
    pthread_mutex_unlock(&z->mu);
    int ret = 0;
    if (rc == ZOK) {
        if (!found) delete_node(z, path); /* unregistered meanwhile */
        DLOG_DEBUG("zookeeper: registered %s", path);
    } else if (transient(rc)) {
        DLOG_INFO("zookeeper: %s: %s; %.200s will be registered when it is back", z->hosts,
                  zk_err(rc), url);
        arm_retry(z);
    } else {
        ret =
            dubbo__seterr(DUBBO_EIO, "zookeeper: create %s at %s: %s", path, z->hosts, zk_err(rc));
    }
    free(path);
    return ret;
}

static int zk_reg(dubbo_registry_t *r, const char *url)
{
    zk_t *z = (zk_t *)r;
    int eph;
    char *path = url_node_path(z, url, &eph);
    if (!path) return dubbo__last_code() ? dubbo__last_code() : DUBBO_EINVAL;
    return reg_node(z, url, path, eph, NULL);
}

/* Withdraws what reg_node registered as `url`; path taken. */
static int unreg_node(zk_t *z, const char *url, char *path)
{
    pthread_mutex_lock(&z->mu);
    for (regent_t **p = &z->regs; *p; p = &(*p)->next)
        if (strcmp((*p)->url, url) == 0) {
            regent_t *e = *p;
            *p = e->next;
            free(e->url);
            free(e->path);
            free(e->data);
            free(e);
            break;
        }
    pthread_mutex_unlock(&z->mu);
    int rc = delete_node(z, path), ret = 0;
    if (transient(rc)) {
        del_t *d = malloc(sizeof(*d));
        if (d) {
            d->path = path;
            path = NULL;
            pthread_mutex_lock(&z->mu);
            d->next = z->dels;
            z->dels = d;
            pthread_mutex_unlock(&z->mu);
            arm_retry(z);
        }
    } else if (rc != ZOK) {
        ret =
            dubbo__seterr(DUBBO_EIO, "zookeeper: delete %s at %s: %s", path, z->hosts, zk_err(rc));
    }
    free(path);
    return ret;
}

static int zk_unreg(dubbo_registry_t *r, const char *url)
{
    zk_t *z = (zk_t *)r;
    int eph;
    char *path = url_node_path(z, url, &eph);
    if (!path) return dubbo__last_code() ? dubbo__last_code() : DUBBO_EINVAL;
    return unreg_node(z, url, path);
}

static int add_category(sub_t *s, const char *name, const zk_t *z)
{
    for (size_t i = 0; i < s->ncats; i++)
        if (strcmp(s->cats[i].name, name) == 0) return 0;
    if (s->ncats == MAX_CATEGORIES) return 0;
    cat_t *c = &s->cats[s->ncats];
    c->name = strdup(name);
    c->path = category_path(z, s->iface, name);
    if (!c->name || !c->path) {
        free(c->name);
        free(c->path);
        c->name = c->path = NULL;
        return -1;
    }
    s->ncats++;
    return 0;
}

static int zk_subscribe(dubbo_registry_t *r, const char *consumer_url, dubbo_notify_fn fn,
                        void *user)
{
    zk_t *z = (zk_t *)r;
    if (!fn) return dubbo__seterr(DUBBO_EINVAL, "zookeeper: subscribe without a callback");
    sub_t *s = calloc(1, sizeof(*s));
    if (!s) return dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
    s->routers = s->providers = s->configurators = -1;
    int rc = dubbo__sub_init(&s->base, consumer_url, fn, user, "zookeeper");
    if (rc || !(s->cu = dubbo_url_parse(consumer_url))) {
        rc = rc ? rc : dubbo__last_code();
        sub_free(NULL, s);
        return rc ? rc : DUBBO_EINVAL;
    }
    s->iface = interface_of(s->cu);
    if (empty(s->iface) || strcmp(s->iface, "*") == 0) {
        sub_free(NULL, s);
        return dubbo__seterr(DUBBO_EUNSUPPORTED,
                             "zookeeper: subscribe needs one interface (not \"*\") in \"%.200s\"",
                             consumer_url);
    }
    /* Delivery order: rules before the providers they route. */
    const char *cats = dubbo_url_param(s->cu, "category", "providers");
    static const char *const order[] = {"configurators", "routers", "providers", "consumers"};
    int all = strcmp(cats, "*") == 0;
    for (size_t i = 0; i < 4; i++)
        if ((all || str_in_list(cats, order[i])) && add_category(s, order[i], z) != 0) goto oom;
    if (!all) {
        char *copy = strdup(cats), *save = NULL;
        if (!copy) goto oom;
        for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save))
            if (*c && *c != '-' && !strchr(c, '/') && add_category(s, c, z) != 0) {
                free(copy);
                goto oom;
            }
        free(copy);
    }
    for (size_t i = 0; i < s->ncats; i++) {
        if (strcmp(s->cats[i].name, "routers") == 0) s->routers = (int)i;
        if (strcmp(s->cats[i].name, "configurators") == 0) s->configurators = (int)i;
        if (strcmp(s->cats[i].name, "providers") == 0) s->providers = (int)i;
    }
    task_t *t = calloc(1, sizeof(*t));
    if (!t) goto oom;
    t->kind = T_SUB;
    t->sub = s;
    pthread_mutex_lock(&z->mu);
    dubbo__subs_append(&z->subs, &s->base);
    enqueue_locked(z, t);
    pthread_mutex_unlock(&z->mu);
    return 0;
oom:
    sub_free(NULL, s);
    return dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
}

static int zk_unsubscribe(dubbo_registry_t *r, const char *consumer_url, dubbo_notify_fn fn,
                          void *user)
{
    zk_t *z = (zk_t *)r;
    task_t *t = calloc(1, sizeof(*t));
    if (!t) return dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
    pthread_mutex_lock(&z->mu);
    sub_t *s = (sub_t *)dubbo__subs_find(&z->subs, consumer_url, fn, user);
    if (!s) {
        pthread_mutex_unlock(&z->mu);
        free(t);
        return dubbo__seterr(DUBBO_ENOT_FOUND, "zookeeper: no subscription of \"%.200s\"",
                             consumer_url);
    }
    t->kind = T_UNSUB;
    t->sub = s;
    enqueue_locked(z, t);
    /* wait for its callback in progress, unless this is that callback */
    dubbo__subs_remove(&z->subs, &s->base, &z->mu, z->worker);
    pthread_mutex_unlock(&z->mu);
    return 0;
}

static void zk_destroy(dubbo_registry_t *r)
{
    zk_t *z = (zk_t *)r;
    if (pthread_equal(pthread_self(), z->worker)) {
        DLOG_ERROR("zookeeper: registry closed from its own notification; leaking it");
        return;
    }
    pthread_mutex_lock(&z->mu);
    z->closing = 1;
    pthread_cond_broadcast(&z->cv);
    pthread_mutex_unlock(&z->mu);
    pthread_join(z->worker, NULL);
    /* Java's destroy unregisters the dynamic (ephemeral) URLs; static
     * (dynamic=false) ones stay. The session's close would remove the
     * ephemeral nodes too; deleting them first makes it explicit. */
    for (regent_t *e = z->regs; e; e = e->next)
        if (e->ephemeral && e->gen == z->hgen) delete_node(z, e->path);
    for (del_t *d = z->dels; d; d = d->next)
        delete_node(z, d->path);
    if (z->zh) zookeeper_close(z->zh);
    z->zh = NULL;
    zk_free(z);
}

/* `dubbo list`'s application-level view: the applications under /services,
 * or one application's instance nodes (their data). */
static int list_instances(zk_t *z, const char *app, char ***out, size_t *n)
{
    char *path = app ? strf("/services/%s", app) : strdup("/services");
    if (!path) return dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
    struct String_vector sv = {0, NULL};
    pthread_rwlock_rdlock(&z->hl);
    int rc = usable(z) ? zoo_get_children(z->zh, path, 0, &sv) : ZINVALIDSTATE;
    size_t cnt = rc == ZOK && sv.count > 0 ? (size_t)sv.count : 0, k = 0;
    char **v = calloc(cnt ? cnt : 1, sizeof(char *));
    for (size_t i = 0; v && i < cnt; i++) {
        if (!app) {
            if ((v[k] = strdup(sv.data[i]))) k++;
            continue;
        }
        char *kid = strf("%s/%s", path, sv.data[i]);
        char buf[8192];
        int len = (int)sizeof(buf) - 1;
        struct Stat st;
        if (kid && zoo_get(z->zh, kid, 0, buf, &len, &st) == ZOK && len > 0) {
            buf[len] = '\0';
            if ((v[k] = strdup(buf))) k++;
        }
        free(kid);
    }
    pthread_rwlock_unlock(&z->hl);
    if (rc == ZOK) deallocate_String_vector(&sv);
    if (rc == ZNONODE) rc = ZOK;
    if (rc != ZOK || !v) {
        free_strs(v, k);
        int e = v ? dubbo__seterr(transient(rc) ? DUBBO_ECLOSED : DUBBO_EIO,
                                  "zookeeper: list %s at %s: %s", path, z->hosts, zk_err(rc))
                  : dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
        free(path);
        return e;
    }
    free(path);
    qsort(v, k, sizeof(char *), cmp_str);
    *out = v;
    *n = k;
    return 0;
}

static int zk_list(dubbo_registry_t *r, const char *interface, const char *category, char ***out,
                   size_t *n)
{
    zk_t *z = (zk_t *)r;
    *out = NULL;
    *n = 0;
    if (category && !interface && strcmp(category, "applications") == 0)
        return list_instances(z, NULL, out, n);
    if (category && interface && strcmp(category, "instances") == 0)
        return list_instances(z, interface, out, n);
    char *path = interface ? category_path(z, interface, category ? category : "providers")
                           : strdup(*z->root ? z->root : "/");
    if (!path) return dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
    struct String_vector sv = {0, NULL};
    pthread_rwlock_rdlock(&z->hl);
    int rc = usable(z) ? zoo_get_children(z->zh, path, 0, &sv) : ZINVALIDSTATE;
    pthread_rwlock_unlock(&z->hl);
    if (rc == ZNONODE) {
        free(path);
        return 0;
    }
    if (rc != ZOK) {
        int e = dubbo__seterr(transient(rc) ? DUBBO_ECLOSED : DUBBO_EIO,
                              "zookeeper: list %s at %s: %s", path, z->hosts, zk_err(rc));
        free(path);
        return e;
    }
    free(path);
    size_t cnt = sv.count > 0 ? (size_t)sv.count : 0;
    char **v = calloc(cnt ? cnt : 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; v && i < cnt; i++) {
        /* Java's own directories beside the interfaces: config center,
         * interface-to-application mapping, metadata report */
        const char *name = sv.data[i];
        if (!interface &&
            (!strcmp(name, "config") || !strcmp(name, "mapping") || !strcmp(name, "metadata")))
            continue;
        char *d = dubbo_url_decode(name);
        if (d) v[k++] = d;
    }
    deallocate_String_vector(&sv);
    if (!v) return dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
    qsort(v, k, sizeof(char *), cmp_str);
    *out = v;
    *n = k;
    return 0;
}

/* For tests: the session of the registry's current handle (to expire it
 * with a second client of the same id, ZooKeeper's usual trick). */
int dubbo__zk_session(dubbo_registry_t *r, int64_t *id, char passwd[16]);
int dubbo__zk_session(dubbo_registry_t *r, int64_t *id, char passwd[16])
{
    zk_t *z = (zk_t *)r;
    int rc = DUBBO_ECLOSED;
    pthread_rwlock_rdlock(&z->hl);
    if (usable(z)) {
        const clientid_t *c = zoo_client_id(z->zh);
        *id = c->client_id;
        memcpy(passwd, c->passwd, 16);
        rc = 0;
    }
    pthread_rwlock_unlock(&z->hl);
    return rc ? dubbo__seterr(rc, "zookeeper: no session") : 0;
}

/* ---- nodes for application-level discovery (registry.h node_put) ----------------------- */

/* The path of a logical key, as Java lays them out: instances under
 * /services (ZookeeperServiceDiscovery's default root), the service-name
 * mapping under the registry root (ZookeeperMetadataReport). */
static char *key_path(const zk_t *z, const char *key)
{
    char *p = NULL;
    if (strncmp(key, "services/", 9) == 0 && key[9] && key[9] != '/')
        p = strf("/%s", key);
    else if (strncmp(key, "mapping/", 8) == 0 && key[8] && key[8] != '/')
        p = strf("%s/%s", z->root, key);
    else {
        dubbo__seterr(DUBBO_EINVAL, "zookeeper: no node for the key \"%.200s\"", key);
        return NULL;
    }
    if (!p) dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
    return p;
}

/* Adds `item` to the comma-separated list in the persistent node `path`
 * (created when missing), with the node's version as compare-and-set. */
static int add_to_list(zk_t *z, const char *path, const char *item)
{
    int rc = ZINVALIDSTATE;
    pthread_rwlock_rdlock(&z->hl);
    for (int tries = 0; tries < 8 && usable(z); tries++) {
        struct Stat st;
        rc = zoo_exists(z->zh, path, 0, &st);
        if (rc == ZNONODE) {
            rc = make_parents(z, path);
            if (rc == ZOK) rc = create_one(z, path, 0, item);
            if (rc == ZNODEEXISTS) continue; /* someone else was first: read theirs */
            break;
        }
        if (rc != ZOK) break;
        int cap = st.dataLength > 0 ? st.dataLength : 0, len = cap;
        char *buf = malloc((size_t)cap + 1), *next = NULL;
        if (!buf) {
            rc = ZSYSTEMERROR;
            break;
        }
        rc = zoo_get(z->zh, path, 0, buf, &len, &st);
        if (rc != ZOK || st.dataLength > cap) {
            free(buf);
            if (rc == ZOK || rc == ZNONODE) continue; /* changed meanwhile */
            break;
        }
        buf[len > 0 ? len : 0] = '\0';
        int lrc = dubbo__list_add(buf, item, &next);
        free(buf);
        if (lrc) rc = ZSYSTEMERROR;
        if (lrc || !next) break; /* out of memory, or in the list already (rc == ZOK) */
        rc = zoo_set(z->zh, path, next, (int)strlen(next), st.version);
        free(next);
        if (rc != ZBADVERSION && rc != ZNONODE) break;
    }
    pthread_rwlock_unlock(&z->hl);
    return rc;
}

static int zk_node_put(dubbo_registry_t *r, const char *key, const char *data, int flags)
{
    zk_t *z = (zk_t *)r;
    if (!data) return dubbo__seterr(DUBBO_EINVAL, "zookeeper: node_put %s without data", key);
    char *path = key_path(z, key);
    if (!path) return dubbo__last_code();
    if (flags & DUBBO_NODE_ADD_TO_LIST) {
        int rc = add_to_list(z, path, data);
        int ret = rc == ZOK ? 0
                            : dubbo__seterr(DUBBO_EIO, "zookeeper: add \"%.100s\" to %s at %s: %s",
                                            data, path, z->hosts, zk_err(rc));
        free(path);
        return ret;
    }
    char *id = strf("node:%s", key);
    if (!id) {
        free(path);
        return dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
    }
    int rc = reg_node(z, id, path, (flags & DUBBO_NODE_EPHEMERAL) != 0, data);
    free(id);
    return rc;
}

static int zk_node_del(dubbo_registry_t *r, const char *key)
{
    zk_t *z = (zk_t *)r;
    char *path = key_path(z, key);
    char *id = strf("node:%s", key);
    if (!path || !id) {
        free(path);
        free(id);
        return dubbo__last_code() ? dubbo__last_code() : DUBBO_ENOMEM;
    }
    int rc = unreg_node(z, id, path);
    free(id);
    return rc;
}

/* A node_watch subscription brought up to date (worker): the node, for
 * children each child's data node (kept in s->rules, router NULL), and
 * the list delivered when it changed. */
static void raw_update(zk_t *z, sub_t *s)
{
    cat_t *c = &s->cats[0];
    if (!c->node && !(c->node = node_ref(z, c->path, s->raw == 1))) return;
    if (!c->node->fresh && node_read(z, c->node) != ZOK) return;
    char **v = NULL;
    size_t n = 0, cap = 0;
    if (s->raw == 1) {
        if (c->node->text && push_str(&v, &n, &cap, strdup(c->node->text)) != 0) return;
    } else {
        size_t nk = c->node->nkids;
        rule_t *kids = calloc(nk ? nk : 1, sizeof(rule_t));
        if (!kids) return;
        for (size_t i = 0; i < nk; i++) {
            char *path = strf("%s/%s", c->path, c->node->kids[i]);
            node_t *kn = NULL;
            for (size_t k = 0; path && k < s->nrules && !kn; k++)
                if (strcmp(s->rules[k].node->path, path) == 0) kn = s->rules[k].node;
            kn = kn ? (kn->refs++, kn) : path ? node_ref(z, path, 1) : NULL;
            free(path);
            if (!kn) {
                for (size_t k = 0; k < i; k++)
                    node_unref(z, kids[k].node);
                free(kids);
                return;
            }
            kids[i].node = kn;
        }
        for (size_t k = 0; k < s->nrules; k++)
            node_unref(z, s->rules[k].node);
        free(s->rules);
        s->rules = kids;
        s->nrules = nk;
        for (size_t i = 0; i < nk; i++) {
            node_t *kn = kids[i].node;
            if ((!kn->fresh && node_read(z, kn) != ZOK) ||
                (kn->text && *kn->text && push_str(&v, &n, &cap, strdup(kn->text)) != 0)) {
                free_strs(v, n); /* stale or out of memory: the next event or retry */
                return;
            }
        }
    }
    s->ready = 1;
    if (dubbo__last_same(&c->last, (const char *const *)v, n)) {
        free_strs(v, n);
        return;
    }
    dubbo__last_set(&c->last, v, n);
    dubbo__subs_notify(&z->subs, &s->base, &z->mu, NULL, c->name, (const char *const *)v, n);
}

static int zk_node_watch(dubbo_registry_t *r, const char *key, int children, dubbo_notify_fn fn,
                         void *user)
{
    zk_t *z = (zk_t *)r;
    if (!fn) return dubbo__seterr(DUBBO_EINVAL, "zookeeper: node_watch without a callback");
    char *path = key_path(z, key);
    if (!path) return dubbo__last_code();
    sub_t *s = calloc(1, sizeof(*s));
    task_t *t = calloc(1, sizeof(*t));
    if (!s || !t || dubbo__sub_init(&s->base, key, fn, user, "zookeeper") != 0) {
        free(s);
        free(t);
        free(path);
        return dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
    }
    s->routers = s->providers = s->configurators = -1;
    s->raw = children ? 2 : 1;
    s->cats[0].path = path;
    s->cats[0].name = strdup(key);
    s->ncats = 1;
    if (!s->cats[0].name) {
        sub_free(NULL, s);
        free(t);
        return dubbo__seterr(DUBBO_ENOMEM, "zookeeper: out of memory");
    }
    t->kind = T_SUB;
    t->sub = s;
    pthread_mutex_lock(&z->mu);
    dubbo__subs_append(&z->subs, &s->base);
    enqueue_locked(z, t);
    pthread_mutex_unlock(&z->mu);
    return 0;
}

static int zk_node_unwatch(dubbo_registry_t *r, const char *key, dubbo_notify_fn fn, void *user)
{
    return zk_unsubscribe(r, key, fn, user);
}

const dubbo_registry_ops_t dubbo__registry_zookeeper = {
    .name = "zookeeper",
    .create = zk_create,
    .reg = zk_reg,
    .unreg = zk_unreg,
    .subscribe = zk_subscribe,
    .unsubscribe = zk_unsubscribe,
    .destroy = zk_destroy,
    .list = zk_list,
    .node_put = zk_node_put,
    .node_del = zk_node_del,
    .node_watch = zk_node_watch,
    .node_unwatch = zk_node_unwatch,
};
