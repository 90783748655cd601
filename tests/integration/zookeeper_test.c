/* The zookeeper registry against a real ZooKeeper 3.8 (started by
 * zookeeper_test.sh, address in DUBBO_ZK): node layout checked with the C
 * client and node-zookeeper-client, notifications on add/remove with their
 * latency, a killed and a paused child process, a forced session expiry,
 * routing rule config nodes, and a server restart.
 *   zookeeper_test [test-name-filter]
 *   zookeeper_test --child zookeeper://... URL   (registers URL, waits) */
#define THREADED 1
#include <zookeeper/zookeeper.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/extension.h"
#include "dubbo/registry.h"
#include "dubbo/rpc.h"
#include "test.h"

extern const dubbo_registry_ops_t dubbo__registry_zookeeper;
int dubbo__zk_session(dubbo_registry_t *r, int64_t *id, char passwd[16]);

static const char *zk_addr; /* 127.0.0.1:port */
static const char *const methods[] = {"sayHello", "echo"};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static dubbo_registry_t *open_reg(int session_ms)
{
    char url[256];
    snprintf(url, sizeof(url), "zookeeper://%s?session=%d", zk_addr, session_ms);
    dubbo_registry_t *r = dubbo_registry_open(url);
    if (!r) fprintf(stderr, "open %s: %s\n", url, dubbo_last_error());
    return r;
}

static char *provider(const char *iface, int port, const char *app, const char *const *extra)
{
    return dubbo_provider_url("dubbo", "127.0.0.1", port, iface, NULL, NULL, app, methods, 2,
                              extra);
}

/* ---- a plain ZooKeeper client to look at what the registry did ------------------------ */

static pthread_mutex_t raw_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t raw_cv = PTHREAD_COND_INITIALIZER;
static int raw_state;

static void raw_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    if (type != ZOO_SESSION_EVENT) return;
    pthread_mutex_lock(&raw_mu);
    raw_state = state;
    pthread_cond_broadcast(&raw_cv);
    pthread_mutex_unlock(&raw_mu);
}

static void quiet(const char *msg) {}

static zhandle_t *raw_open(const clientid_t *cid)
{
    pthread_mutex_lock(&raw_mu);
    raw_state = 0;
    pthread_mutex_unlock(&raw_mu);
    zhandle_t *zh = zookeeper_init2(zk_addr, raw_watcher, 4000, cid, NULL, 0, quiet);
    if (!zh) return NULL;
    long long end = now_ms() + 5000;
    pthread_mutex_lock(&raw_mu);
    while (raw_state != ZOO_CONNECTED_STATE && now_ms() < end) {
        pthread_mutex_unlock(&raw_mu);
        sleep_ms(10);
        pthread_mutex_lock(&raw_mu);
    }
    int ok = raw_state == ZOO_CONNECTED_STATE;
    pthread_mutex_unlock(&raw_mu);
    if (!ok) {
        zookeeper_close(zh);
        return NULL;
    }
    return zh;
}

static zhandle_t *raw;

/* Children of path (sorted by the server's order), count in *n; -1 on error. */
static int raw_children(const char *path, struct String_vector *sv)
{
    memset(sv, 0, sizeof(*sv));
    int rc = zoo_get_children(raw, path, 0, sv);
    return rc == ZOK ? sv->count : rc == ZNONODE ? 0 : -1;
}

static int64_t raw_owner(const char *path)
{
    struct Stat st;
    return zoo_exists(raw, path, 0, &st) == ZOK ? st.ephemeralOwner : -1;
}

static int raw_mkdirs(const char *path)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s", path);
    for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
        if (s) *s = '\0';
        int rc = zoo_create(raw, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
        if (rc != ZOK && rc != ZNODEEXISTS) return rc;
        if (!s) return 0;
        *s = '/';
    }
}

static char *node_path(const char *iface, const char *category, const char *url)
{
    char *ei = dubbo_url_encode(iface), *eu = dubbo_url_encode(url);
    char *p = malloc(strlen(ei) + strlen(eu) + strlen(category) + 16);
    sprintf(p, "/dubbo/%s/%s/%s", ei, category, eu);
    free(ei);
    free(eu);
    return p;
}

static int64_t reg_session(dubbo_registry_t *r)
{
    int64_t id = 0;
    char pw[16];
    return dubbo__zk_session(r, &id, pw) == 0 ? id : 0;
}

/* ---- a subscriber that records what it is told ----------------------------------------- */

#define MAX_LIST 32

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct {
        char name[32];
        char *urls[MAX_LIST];
        size_t n;
        int count;
    } cats[4];
    int total;
    int providers_emptied; /* providers went from non-empty to empty */
} rec_t;

static void rec_init(rec_t *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void rec_free(rec_t *r)
{
    for (int c = 0; c < 4; c++)
        for (size_t i = 0; i < r->cats[c].n; i++)
            free(r->cats[c].urls[i]);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static int rec_cat(rec_t *r, const char *category, int add)
{
    for (int c = 0; c < 4; c++) {
        if (strcmp(r->cats[c].name, category) == 0) return c;
        if (add && !r->cats[c].name[0]) {
            snprintf(r->cats[c].name, sizeof(r->cats[c].name), "%s", category);
            return c;
        }
    }
    return -1;
}

static void on_notify(void *user, const char *category, const char *const *urls, size_t n)
{
    rec_t *r = user;
    pthread_mutex_lock(&r->mu);
    int c = rec_cat(r, category, 1);
    if (c >= 0) {
        if (strcmp(category, "providers") == 0 && r->cats[c].n > 0 && n == 0)
            r->providers_emptied = 1;
        for (size_t i = 0; i < r->cats[c].n; i++)
            free(r->cats[c].urls[i]);
        r->cats[c].n = 0;
        for (size_t i = 0; i < n && i < MAX_LIST; i++)
            r->cats[c].urls[r->cats[c].n++] = strdup(urls[i]);
        r->cats[c].count++;
    }
    r->total++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* rec mutex held */
static int rec_has(rec_t *r, const char *category, const char *url)
{
    int c = rec_cat(r, category, 0);
    if (c < 0) return 0;
    for (size_t i = 0; i < r->cats[c].n; i++)
        if (strcmp(r->cats[c].urls[i], url) == 0) return 1;
    return 0;
}

static int rec_n(rec_t *r, const char *category)
{
    int c = rec_cat(r, category, 0);
    return c < 0 || !r->cats[c].count ? -1 : (int)r->cats[c].n;
}

enum { HAS, HAS_NOT, COUNT };

/* Waits until the category's latest list has url (HAS), lacks it
 * (HAS_NOT) or has `n` entries (COUNT). Returns the ms waited since t0, or
 * -1 after timeout_ms. */
static long long wait_for(rec_t *r, const char *category, int what, const char *url, int n,
                          long long t0, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        int ok = what == HAS       ? rec_has(r, category, url)
                 : what == HAS_NOT ? rec_n(r, category) >= 0 && !rec_has(r, category, url)
                                   : rec_n(r, category) == n;
        if (ok) break;
        if (now_ms() >= end) {
            pthread_mutex_unlock(&r->mu);
            return -1;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return now_ms() - t0;
}

static int rec_total(rec_t *r)
{
    pthread_mutex_lock(&r->mu);
    int t = r->total;
    pthread_mutex_unlock(&r->mu);
    return t;
}

/* The routers entry of `router` (condition/tag) with key `key`, copied, or NULL. */
static char *rec_rule(rec_t *r, const char *router, const char *key)
{
    char *found = NULL;
    pthread_mutex_lock(&r->mu);
    int c = rec_cat(r, "routers", 0);
    for (size_t i = 0; c >= 0 && i < r->cats[c].n && !found; i++) {
        dubbo_url_t *u = dubbo_url_parse(r->cats[c].urls[i]);
        if (u && strcmp(u->protocol, router) == 0 &&
            strcmp(dubbo_url_param(u, "key", ""), key) == 0)
            found = strdup(r->cats[c].urls[i]);
        dubbo_url_free(u);
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

static long long wait_rule(rec_t *r, const char *router, const char *key, const char *text,
                           long long t0, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        char *e = rec_rule(r, router, key);
        dubbo_url_t *u = e ? dubbo_url_parse(e) : NULL;
        int ok = text ? u && strcmp(dubbo_url_param(u, "rule", ""), text) == 0 : !e;
        dubbo_url_free(u);
        free(e);
        if (ok) return now_ms() - t0;
        if (now_ms() >= end) return -1;
        sleep_ms(5);
    }
}

/* ---- child processes ------------------------------------------------------------------ */

typedef struct {
    pid_t pid;
    int out;
} child_t;

/* Starts this binary as `--child REGURL URL`; returns once it registered. */
static int child_start(child_t *c, const char *regurl, const char *url)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    c->pid = fork();
    if (c->pid < 0) return -1;
    if (c->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char *argv[] = {"zookeeper_test", "--child", (char *)regurl, (char *)url, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(fds[1]);
    c->out = fds[0];
    struct pollfd p = {c->out, POLLIN, 0};
    char buf[64] = {0};
    if (poll(&p, 1, 10000) != 1 || read(c->out, buf, sizeof(buf) - 1) <= 0 ||
        strncmp(buf, "ready", 5) != 0) {
        fprintf(stderr, "child did not register: \"%s\"\n", buf);
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        close(c->out);
        return -1;
    }
    return 0;
}

static void child_kill(child_t *c)
{
    kill(c->pid, SIGCONT);
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    close(c->out);
}

static int child_main(const char *regurl, const char *url)
{
    dubbo_extensions_init();
    int rc = dubbo_extension_register(DUBBO_EXT_REGISTRY, &dubbo__registry_zookeeper);
    if (rc != 0 && rc != DUBBO_EEXISTS) return 2;
    dubbo_registry_t *r = dubbo_registry_open(regurl);
    if (!r || r->ops->reg(r, url) != 0) {
        fprintf(stderr, "child: %s\n", dubbo_last_error());
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause(); /* until killed */
}

static void say_name(void)
{
    printf("%s\n", test__current);
    fflush(stdout);
}

/* ---- tests ----------------------------------------------------------------------------- */

TEST(register_layout)
{
    say_name();
    const char *iface = "org.apache.dubbo.demo.DemoService";
    dubbo_registry_t *r = open_reg(4000);
    CHECK(r != NULL);
    if (!r) return;
    const char *extra[] = {"weight", "100", NULL};
    char *url = provider(iface, 20880, "demo-provider", extra);
    char *path = node_path(iface, "providers", url);
    CHECK_EQ_INT(r->ops->reg(r, url), 0);

    struct String_vector sv;
    CHECK_EQ_INT(raw_children("/dubbo/org.apache.dubbo.demo.DemoService/providers", &sv), 1);
    if (sv.count == 1) {
        char *enc = dubbo_url_encode(url), *dec = dubbo_url_decode(sv.data[0]);
        CHECK_EQ_STR(sv.data[0], enc);
        CHECK_EQ_STR(dec, url);
        free(enc);
        free(dec);
    }
    deallocate_String_vector(&sv);
    int64_t sid = reg_session(r);
    CHECK(sid != 0);
    CHECK(raw_owner(path) == sid);   /* ephemeral, ours */
    CHECK(raw_owner("/dubbo") == 0); /* persistent parents */
    CHECK(raw_owner("/dubbo/org.apache.dubbo.demo.DemoService") == 0);
    CHECK(raw_owner("/dubbo/org.apache.dubbo.demo.DemoService/providers") == 0);

    /* the same node seen by a third-party client (dubbo2.js's ZooKeeper client) */
    const char *ls = getenv("DUBBO_ZK_LS");
    if (ls && *ls) {
        char cmd[512], line[4096] = {0}, want[4096];
        snprintf(cmd, sizeof(cmd), "%s %s /dubbo/org.apache.dubbo.demo.DemoService/providers", ls,
                 zk_addr);
        FILE *p = popen(cmd, "r");
        CHECK(p != NULL);
        if (p) {
            if (!fgets(line, sizeof(line), p)) line[0] = '\0';
            CHECK_EQ_INT(pclose(p), 0);
        }
        line[strcspn(line, "\n")] = '\0';
        char *enc = dubbo_url_encode(url);
        snprintf(want, sizeof(want), "%s %016llx", enc, (unsigned long long)sid);
        CHECK_EQ_STR(line, want);
        free(enc);
        printf("  node-zookeeper-client sees the provider node, ephemeral owner 0x%llx\n",
               (unsigned long long)sid);
    } else {
        printf("  (node-zookeeper-client check skipped: DUBBO_ZK_LS not set)\n");
    }

    /* a consumer goes to consumers/ */
    char *curl = dubbo_consumer_url("127.0.0.1", iface, NULL, NULL, "demo-consumer");
    char *cpath = node_path(iface, "consumers", curl);
    CHECK_EQ_INT(r->ops->reg(r, curl), 0);
    CHECK(raw_owner(cpath) == sid);

    /* registering twice keeps one node; list sees it */
    CHECK_EQ_INT(r->ops->reg(r, url), 0);
    CHECK_EQ_INT(raw_children("/dubbo/org.apache.dubbo.demo.DemoService/providers", &sv), 1);
    deallocate_String_vector(&sv);
    char **names;
    size_t n;
    CHECK_EQ_INT(r->ops->list(r, NULL, NULL, &names, &n), 0);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        seen += strcmp(names[i], iface) == 0;
        free(names[i]);
    }
    free(names);
    CHECK_EQ_INT(seen, 1);
    CHECK_EQ_INT(r->ops->list(r, iface, "providers", &names, &n), 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1) CHECK_EQ_STR(names[0], url);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);

    /* unregister removes the nodes, the directories stay */
    CHECK_EQ_INT(r->ops->unreg(r, url), 0);
    CHECK_EQ_INT(r->ops->unreg(r, curl), 0);
    CHECK(raw_owner(path) == -1);
    CHECK(raw_owner(cpath) == -1);
    CHECK(raw_owner("/dubbo/org.apache.dubbo.demo.DemoService/providers") == 0);

    /* a node left by an older session of ours is replaced (apache/dubbo#5135) */
    zhandle_t *old = raw_open(NULL);
    CHECK(old != NULL);
    if (old) {
        CHECK_EQ_INT(zoo_create(old, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0),
                     ZOK);
        int64_t old_sid = zoo_client_id(old)->client_id;
        CHECK(raw_owner(path) == old_sid);
        CHECK_EQ_INT(r->ops->reg(r, url), 0);
        CHECK(raw_owner(path) == sid);
        zookeeper_close(old); /* the old session's end must not take our node */
        sleep_ms(100);
        CHECK(raw_owner(path) == sid);
    }
    /* close: the ephemeral node goes at once */
    dubbo_registry_close(r);
    CHECK(raw_owner(path) == -1);
    free(url);
    free(path);
    free(curl);
    free(cpath);
}

TEST(subscribe_add_remove)
{
    say_name();
    const char *iface = "org.example.zk.AddRemoveService";
    dubbo_registry_t *s = open_reg(4000), *p = open_reg(4000);
    CHECK(s && p);
    if (!s || !p) return;
    rec_t rec;
    rec_init(&rec);
    char *curl = dubbo_consumer_url("127.0.0.1", iface, NULL, NULL, "demo-consumer");
    long long t0 = now_ms();
    CHECK_EQ_INT(s->ops->subscribe(s, curl, on_notify, &rec), 0);
    long long first = wait_for(&rec, "providers", COUNT, NULL, 0, t0, 5000);
    CHECK(first >= 0);
    CHECK(wait_for(&rec, "routers", COUNT, NULL, 0, t0, 1000) >= 0);
    CHECK(wait_for(&rec, "configurators", COUNT, NULL, 0, t0, 1000) >= 0);
    printf("  first lists (all empty) %lld ms after subscribe\n", first);

    char *u1 = provider(iface, 20881, "demo-provider", NULL);
    char *u2 = provider(iface, 20882, "demo-provider", NULL);
    const char *v2[] = {"version", "2.0.0", NULL};
    char *other = provider(iface, 20883, "demo-provider", v2); /* another version: filtered */
    long long lat[4];
    t0 = now_ms();
    CHECK_EQ_INT(p->ops->reg(p, u1), 0);
    lat[0] = wait_for(&rec, "providers", HAS, u1, 0, t0, 5000);
    CHECK(lat[0] >= 0);
    CHECK_EQ_INT(p->ops->reg(p, other), 0);
    t0 = now_ms();
    CHECK_EQ_INT(p->ops->reg(p, u2), 0);
    lat[1] = wait_for(&rec, "providers", HAS, u2, 0, t0, 5000);
    CHECK(lat[1] >= 0);
    pthread_mutex_lock(&rec.mu);
    CHECK_EQ_INT(rec_n(&rec, "providers"), 2);
    CHECK(!rec_has(&rec, "providers", other));
    pthread_mutex_unlock(&rec.mu);
    t0 = now_ms();
    CHECK_EQ_INT(p->ops->unreg(p, u1), 0);
    lat[2] = wait_for(&rec, "providers", HAS_NOT, u1, 0, t0, 5000);
    CHECK(lat[2] >= 0);
    t0 = now_ms();
    dubbo_registry_close(p); /* its nodes go: the list empties */
    lat[3] = wait_for(&rec, "providers", COUNT, NULL, 0, t0, 5000);
    CHECK(lat[3] >= 0);
    printf("  notification latency: add %lld ms, add %lld ms, remove %lld ms, registry closed "
           "%lld ms\n",
           lat[0], lat[1], lat[2], lat[3]);

    /* rules and configurators were not touched: delivered once */
    pthread_mutex_lock(&rec.mu);
    CHECK_EQ_INT(rec.cats[rec_cat(&rec, "routers", 0)].count, 1);
    CHECK_EQ_INT(rec.cats[rec_cat(&rec, "configurators", 0)].count, 1);
    pthread_mutex_unlock(&rec.mu);

    /* after unsubscribe, nothing more */
    CHECK_EQ_INT(s->ops->unsubscribe(s, curl, on_notify, &rec), 0);
    CHECK(s->ops->unsubscribe(s, curl, on_notify, &rec) == DUBBO_ENOT_FOUND);
    int before = rec_total(&rec);
    CHECK_EQ_INT(s->ops->reg(s, u1), 0);
    sleep_ms(300);
    CHECK_EQ_INT(rec_total(&rec), before);
    dubbo_registry_close(s);
    rec_free(&rec);
    free(curl);
    free(u1);
    free(u2);
    free(other);
}

TEST(killed_child)
{
    say_name();
    const char *iface = "org.example.zk.KilledService";
    dubbo_registry_t *s = open_reg(4000);
    CHECK(s != NULL);
    if (!s) return;
    rec_t rec;
    rec_init(&rec);
    char *curl = dubbo_consumer_url("127.0.0.1", iface, NULL, NULL, "demo-consumer");
    CHECK_EQ_INT(s->ops->subscribe(s, curl, on_notify, &rec), 0);
    char *url = provider(iface, 20890, "child-provider", NULL), regurl[256];
    snprintf(regurl, sizeof(regurl), "zookeeper://%s?session=2000", zk_addr);
    child_t c;
    CHECK_EQ_INT(child_start(&c, regurl, url), 0);
    CHECK(wait_for(&rec, "providers", HAS, url, 0, now_ms(), 5000) >= 0);
    long long t0 = now_ms();
    kill(c.pid, SIGKILL);
    long long gone = wait_for(&rec, "providers", HAS_NOT, url, 0, t0, 10000);
    CHECK(gone >= 1000); /* the node lives until the 2 s session times out */
    printf("  SIGKILLed provider (session 2000 ms) dropped from the list after %lld ms\n", gone);
    child_kill(&c);
    dubbo_registry_close(s);
    rec_free(&rec);
    free(curl);
    free(url);
}

TEST(paused_child_recovers)
{
    say_name();
    const char *iface = "org.example.zk.PausedService";
    dubbo_registry_t *s = open_reg(4000);
    CHECK(s != NULL);
    if (!s) return;
    rec_t rec;
    rec_init(&rec);
    char *curl = dubbo_consumer_url("127.0.0.1", iface, NULL, NULL, "demo-consumer");
    CHECK_EQ_INT(s->ops->subscribe(s, curl, on_notify, &rec), 0);
    char *url = provider(iface, 20891, "child-provider", NULL), regurl[256];
    snprintf(regurl, sizeof(regurl), "zookeeper://%s?session=2000", zk_addr);
    child_t c;
    CHECK_EQ_INT(child_start(&c, regurl, url), 0);
    CHECK(wait_for(&rec, "providers", HAS, url, 0, now_ms(), 5000) >= 0);
    /* frozen past its session timeout (a long GC pause, a stopped VM) */
    long long t0 = now_ms();
    kill(c.pid, SIGSTOP);
    long long gone = wait_for(&rec, "providers", HAS_NOT, url, 0, t0, 10000);
    CHECK(gone >= 1000);
    t0 = now_ms();
    kill(c.pid, SIGCONT); /* it finds its session expired, opens one, registers again */
    long long back = wait_for(&rec, "providers", HAS, url, 0, t0, 10000);
    CHECK(back >= 0);
    printf("  SIGSTOPped provider dropped after %lld ms; after SIGCONT re-registered in %lld ms\n",
           gone, back);
    child_kill(&c);
    dubbo_registry_close(s);
    rec_free(&rec);
    free(curl);
    free(url);
}

/* The usual trick: a second client with the same session id and password
 * closes the session; the registry's own client finds it expired. */
static int expire_session(dubbo_registry_t *r)
{
    clientid_t cid;
    if (dubbo__zk_session(r, &cid.client_id, cid.passwd) != 0) return -1;
    zhandle_t *twin = raw_open(&cid);
    if (!twin) return -1;
    zookeeper_close(twin);
    return 0;
}

TEST(session_expiry_recovers)
{
    say_name();
    const char *iface = "org.example.zk.ExpiryService";
    dubbo_registry_t *r = open_reg(4000), *p = open_reg(4000);
    CHECK(r && p);
    if (!r || !p) return;
    rec_t rec;
    rec_init(&rec);
    char *curl = dubbo_consumer_url("127.0.0.1", iface, NULL, NULL, "demo-consumer");
    char *url = provider(iface, 20892, "demo-provider", NULL);
    char *path = node_path(iface, "providers", url);
    CHECK_EQ_INT(r->ops->reg(r, url), 0);
    CHECK_EQ_INT(r->ops->subscribe(r, curl, on_notify, &rec), 0);
    CHECK(wait_for(&rec, "providers", HAS, url, 0, now_ms(), 5000) >= 0);
    int64_t sid = reg_session(r), nsid = 0;
    long long t0 = now_ms(), renewed = -1;
    /* the registry's client may win its session back before the twin's
     * close; try again then */
    for (int attempt = 0; attempt < 3 && renewed < 0; attempt++) {
        CHECK_EQ_INT(expire_session(r), 0);
        for (long long end = now_ms() + 3000; now_ms() < end; sleep_ms(5)) {
            nsid = reg_session(r);
            if (nsid && nsid != sid) {
                renewed = now_ms() - t0;
                break;
            }
        }
    }
    CHECK(renewed >= 0);
    /* our node is back, owned by the new session */
    long long back = -1;
    for (long long end = now_ms() + 5000; now_ms() < end; sleep_ms(5))
        if (raw_owner(path) == nsid) {
            back = now_ms() - t0;
            break;
        }
    CHECK(back >= 0);
    /* notifications continue on the new session */
    char *u2 = provider(iface, 20893, "demo-provider", NULL);
    long long t1 = now_ms();
    CHECK_EQ_INT(p->ops->reg(p, u2), 0);
    long long seen = wait_for(&rec, "providers", HAS, u2, 0, t1, 5000);
    CHECK(seen >= 0);
    pthread_mutex_lock(&rec.mu);
    CHECK(rec_has(&rec, "providers", url));
    CHECK_EQ_INT(rec.providers_emptied, 0); /* never told empty meanwhile */
    pthread_mutex_unlock(&rec.mu);
    printf("  session 0x%llx expired: new session after %lld ms, our node back after %lld ms, "
           "next change seen in %lld ms\n",
           (unsigned long long)sid, renewed, back, seen);
    dubbo_registry_close(p);
    dubbo_registry_close(r);
    rec_free(&rec);
    free(curl);
    free(url);
    free(path);
    free(u2);
}

TEST(routing_rules)
{
    say_name();
    const char *iface = "org.example.zk.RoutedService";
    dubbo_registry_t *s = open_reg(4000);
    CHECK(s != NULL);
    if (!s) return;
    rec_t rec;
    rec_init(&rec);
    char *curl = dubbo_consumer_url("127.0.0.1", iface, NULL, NULL, "routed-consumer");
    CHECK_EQ_INT(s->ops->subscribe(s, curl, on_notify, &rec), 0);
    CHECK(wait_for(&rec, "routers", COUNT, NULL, 0, now_ms(), 5000) >= 0);

    const char *cond1 = "configVersion: v3.0\nscope: service\nforce: true\nenabled: true\n"
                        "key: org.example.zk.RoutedService\nconditions:\n"
                        "  - 'method = sayHello => port = 20880'\n";
    const char *cond2 = "configVersion: v3.0\nscope: service\nforce: false\nenabled: true\n"
                        "key: org.example.zk.RoutedService\nconditions:\n"
                        "  - '=> host != 10.0.0.1 & weight+plus=100%'\n";
    const char *appcond = "configVersion: v3.0\nscope: application\nenabled: true\n"
                          "key: routed-consumer\nconditions:\n  - '=> port = 20881'\n";
    const char *tag = "configVersion: v3.0\nforce: false\nenabled: true\nkey: tagged-provider\n"
                      "tags:\n  - name: gray\n    match:\n      - key: env\n        value:\n"
                      "          exact: gray\n";
    /* Java's rule key: interface:version:group */
    const char *svc = "/dubbo/config/dubbo/org.example.zk.RoutedService::.condition-router";
    CHECK_EQ_INT(raw_mkdirs("/dubbo/config/dubbo"), 0);
    long long t0 = now_ms();
    CHECK_EQ_INT(zoo_create(raw, svc, cond1, (int)strlen(cond1), &ZOO_OPEN_ACL_UNSAFE,
                            ZOO_PERSISTENT, NULL, 0),
                 ZOK);
    long long l1 = wait_rule(&rec, "condition", "org.example.zk.RoutedService::", cond1, t0, 5000);
    CHECK(l1 >= 0);
    char *e = rec_rule(&rec, "condition", "org.example.zk.RoutedService::");
    const char *prefix = "condition://0.0.0.0/org.example.zk.RoutedService?category=routers&";
    CHECK(e && strncmp(e, prefix, strlen(prefix)) == 0);
    dubbo_url_t *u = e ? dubbo_url_parse(e) : NULL;
    CHECK(u && strcmp(dubbo_url_param(u, "scope", ""), "service") == 0);
    dubbo_url_free(u);
    free(e);
    t0 = now_ms();
    CHECK_EQ_INT(zoo_set(raw, svc, cond2, (int)strlen(cond2), -1), ZOK);
    long long l2 = wait_rule(&rec, "condition", "org.example.zk.RoutedService::", cond2, t0, 5000);
    CHECK(l2 >= 0);

    /* an application rule (the consumer's application) comes first */
    const char *app = "/dubbo/config/dubbo/routed-consumer.condition-router";
    CHECK_EQ_INT(zoo_create(raw, app, appcond, (int)strlen(appcond), &ZOO_OPEN_ACL_UNSAFE,
                            ZOO_PERSISTENT, NULL, 0),
                 ZOK);
    CHECK(wait_rule(&rec, "condition", "routed-consumer", appcond, now_ms(), 5000) >= 0);
    pthread_mutex_lock(&rec.mu);
    int rc = rec_cat(&rec, "routers", 0);
    CHECK(rc >= 0 && rec.cats[rc].n == 2 && strstr(rec.cats[rc].urls[0], "scope=application"));
    pthread_mutex_unlock(&rec.mu);

    /* a tag rule is keyed by the providers' application */
    const char *tagx[] = {"dubbo.tag", "gray", NULL};
    char *purl = provider(iface, 20894, "tagged-provider", tagx);
    CHECK_EQ_INT(s->ops->reg(s, purl), 0);
    CHECK(wait_for(&rec, "providers", HAS, purl, 0, now_ms(), 5000) >= 0);
    const char *tagp = "/dubbo/config/dubbo/tagged-provider.tag-router";
    t0 = now_ms();
    CHECK_EQ_INT(
        zoo_create(raw, tagp, tag, (int)strlen(tag), &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0),
        ZOK);
    long long l3 = wait_rule(&rec, "tag", "tagged-provider", tag, t0, 5000);
    CHECK(l3 >= 0);

    /* an old-style route URL under routers/ is passed on as it is */
    char route[512];
    snprintf(route, sizeof(route),
             "condition://0.0.0.0/%s?category=routers&dynamic=false&enabled=true&force=false&"
             "name=legacy&priority=0&router=condition&rule=%s&runtime=false",
             iface, "%3D%3E+host+%21%3D+10.20.153.11");
    CHECK_EQ_INT(s->ops->reg(s, route), 0);
    char *rpath = node_path(iface, "routers", route);
    CHECK(raw_owner(rpath) == 0); /* dynamic=false: persistent */
    free(rpath);
    CHECK(wait_for(&rec, "routers", HAS, route, 0, now_ms(), 5000) >= 0);

    /* deleting a rule node withdraws it */
    t0 = now_ms();
    CHECK_EQ_INT(zoo_delete(raw, svc, -1), ZOK);
    long long l4 = wait_rule(&rec, "condition", "org.example.zk.RoutedService::", NULL, t0, 5000);
    CHECK(l4 >= 0);
    printf("  rule node created: delivered in %lld ms; changed: %lld ms; tag rule: %lld ms; "
           "deleted: %lld ms\n",
           l1, l2, l3, l4);
    CHECK_EQ_INT(s->ops->unreg(s, route), 0);
    zoo_delete(raw, app, -1);
    zoo_delete(raw, tagp, -1);
    dubbo_registry_close(s);
    rec_free(&rec);
    free(curl);
    free(purl);
}

/* The server goes away and comes back (same data, within the session
 * timeout): lists are kept meanwhile, a registration made while it was
 * down happens when it is back. */
TEST(server_restart)
{
    say_name();
    const char *ctl = getenv("DUBBO_ZK_CTL"), *dir = getenv("DUBBO_ZK_DIR");
    if (!ctl || !dir) {
        printf("  (skipped: DUBBO_ZK_CTL/DUBBO_ZK_DIR not set)\n");
        return;
    }
    const char *iface = "org.example.zk.RestartService";
    dubbo_registry_t *s = open_reg(8000);
    CHECK(s != NULL);
    if (!s) return;
    rec_t rec;
    rec_init(&rec);
    char *curl = dubbo_consumer_url("127.0.0.1", iface, NULL, NULL, "demo-consumer");
    char *u1 = provider(iface, 20895, "demo-provider", NULL);
    char *u2 = provider(iface, 20896, "demo-provider", NULL);
    CHECK_EQ_INT(s->ops->reg(s, u1), 0);
    CHECK_EQ_INT(s->ops->subscribe(s, curl, on_notify, &rec), 0);
    CHECK(wait_for(&rec, "providers", HAS, u1, 0, now_ms(), 5000) >= 0);
    int before = rec_total(&rec);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s stop %s", ctl, dir);
    CHECK_EQ_INT(system(cmd), 0);
    CHECK_EQ_INT(s->ops->reg(s, u2), 0); /* no server: done when it is back */
    sleep_ms(1000);
    CHECK_EQ_INT(rec_total(&rec), before); /* nobody told anything */
    snprintf(cmd, sizeof(cmd), "%s start %s >/dev/null", ctl, dir);
    long long t0 = now_ms();
    CHECK_EQ_INT(system(cmd), 0);
    long long up = now_ms() - t0;
    long long seen = wait_for(&rec, "providers", HAS, u2, 0, t0, 20000);
    CHECK(seen >= 0);
    pthread_mutex_lock(&rec.mu);
    CHECK(rec_has(&rec, "providers", u1));
    CHECK_EQ_INT(rec.providers_emptied, 0);
    pthread_mutex_unlock(&rec.mu);
    printf("  server down ~1 s: lists kept; back after %lld ms, the registration made meanwhile "
           "seen %lld ms after the restart began\n",
           up, seen);
    if (raw) zookeeper_close(raw);
    raw = raw_open(NULL); /* the checker's session may have moved on */
    dubbo_registry_close(s);
    rec_free(&rec);
    free(curl);
    free(u1);
    free(u2);
}

TEST(server_down_at_open)
{
    say_name();
    /* nothing listens on port 1: open returns (after `timeout`), calls queue */
    long long t0 = now_ms();
    dubbo_registry_t *r = dubbo_registry_open("zookeeper://127.0.0.1:1?timeout=300&session=2000");
    CHECK(r != NULL);
    if (!r) return;
    CHECK(now_ms() - t0 < 2000);
    char *url = provider("org.example.zk.Nowhere", 20897, "x", NULL);
    CHECK_EQ_INT(r->ops->reg(r, url), 0);
    char **names;
    size_t n;
    CHECK(r->ops->list(r, NULL, NULL, &names, &n) == DUBBO_ECLOSED);
    dubbo_registry_close(r);
    free(url);
}

/* subscribe() right after open(), before the session exists: the first
 * lists come once it does. */
TEST(subscribe_before_connected)
{
    say_name();
    char url[256];
    snprintf(url, sizeof(url), "zookeeper://%s?session=2000&timeout=0", zk_addr);
    dubbo_registry_t *r = dubbo_registry_open(url);
    CHECK(r != NULL);
    if (!r) return;
    rec_t rec;
    rec_init(&rec);
    const char *iface = "org.example.zk.EarlyService";
    char *curl = dubbo_consumer_url("127.0.0.1", iface, NULL, NULL, "demo-consumer");
    char *purl = provider(iface, 20899, "x", NULL);
    long long t0 = now_ms();
    CHECK_EQ_INT(r->ops->reg(r, purl), 0);
    CHECK_EQ_INT(r->ops->subscribe(r, curl, on_notify, &rec), 0);
    long long got = wait_for(&rec, "providers", HAS, purl, 0, t0, 5000);
    CHECK(got >= 0);
    CHECK(wait_for(&rec, "routers", COUNT, NULL, 0, t0, 1000) >= 0);
    printf("  first lists %lld ms after open(timeout=0) + reg + subscribe\n", got);
    dubbo_registry_close(r);
    rec_free(&rec);
    free(curl);
    free(purl);
}

/* Several servers: `backup=` (Java's form) and a host list; a dead one is
 * skipped. dubbo_url_parse cannot read "h1:p1,h2:p2" as a host, so the
 * list form is handed to create() directly. */
TEST(server_lists)
{
    say_name();
    char url[256];
    snprintf(url, sizeof(url), "zookeeper://127.0.0.1:1?backup=%s&session=2000", zk_addr);
    dubbo_registry_t *r = dubbo_registry_open(url);
    CHECK(r != NULL);
    char *purl = provider("org.example.zk.BackupService", 20898, "x", NULL);
    char *path = node_path("org.example.zk.BackupService", "providers", purl);
    if (r) {
        CHECK_EQ_INT(r->ops->reg(r, purl), 0);
        CHECK(raw_owner(path) == reg_session(r));
        dubbo_registry_close(r);
    }
    const char *colon = strrchr(zk_addr, ':');
    char hosts[128];
    snprintf(hosts, sizeof(hosts), "127.0.0.1:1,%.*s", (int)(colon - zk_addr), zk_addr);
    dubbo_url_t u = {.protocol = "zookeeper", .host = hosts, .port = atoi(colon + 1), .path = ""};
    r = dubbo__registry_zookeeper.create(&u);
    CHECK(r != NULL);
    if (r) {
        r->ops = &dubbo__registry_zookeeper;
        r->url = NULL;
        CHECK_EQ_INT(r->ops->reg(r, purl), 0);
        CHECK(raw_owner(path) == reg_session(r));
        r->ops->destroy(r);
    }
    CHECK(raw_owner(path) == -1);
    free(purl);
    free(path);
}

/* Application-level discovery (src/registry/discovery.c) in one process: a
 * server with register-mode=instance and a FORCE_APPLICATION reference,
 * so that ThreadSanitizer (scripts/tsan.sh runs this file) sees the
 * discovery wrapper's threads (the registry's, the metadata fetch on it,
 * the retry thread) next to the server's and the client's. The layout
 * against Java is interop/discovery-java's. */
static void sd_hello(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_value_t *a = dubbo_call_arg(call, 0);
    char out[128];
    snprintf(out, sizeof(out), "Hello %s", a && a->type == DUBBO_T_STRING ? a->u.s.ptr : "?");
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), out));
}

static int sd_call(dubbo_reference_t *ref, char *out, size_t cap)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *arg = dubbo_v_cstr(a, "sd");
    dubbo_invocation_t inv = {.method = "sayHello", .args = &arg, .nargs = 1};
    dubbo_result_t r;
    int rc = dubbo_reference_call(ref, &inv, &r);
    snprintf(out, cap, "%s",
             rc == 0 && r.value && r.value->type == DUBBO_T_STRING ? r.value->u.s.ptr
             : r.error                                             ? r.error
                                                                   : "?");
    if (rc == 0 && r.error) rc = -1;
    dubbo_result_destroy(&r);
    dubbo_arena_free(a);
    return rc;
}

TEST(application_level_discovery)
{
    say_name();
    const char *iface = "org.example.zk.SdService";
    static const dubbo_method_t m[] = {{"sayHello", sd_hello}};
    dubbo_service_t svc = {.interface = iface, .methods = m, .nmethods = 1};
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.application = "zk-sd-app";
    dubbo_server_t *srv = dubbo_server_new(&o);
    CHECK(srv != NULL);
    if (!srv) return;
    char reg[300], refurl[400];
    snprintf(reg, sizeof(reg), "zookeeper://%s?register-mode=instance", zk_addr);
    CHECK_EQ_INT(dubbo_server_export(srv, &svc), 0);
    CHECK_EQ_INT(dubbo_server_add_registry(srv, reg), 0);
    CHECK_EQ_INT(dubbo_server_start(srv), 0);
    struct String_vector sv = {0, NULL};
    int n = -1;
    for (int i = 0; i < 50 && n != 1; i++) {
        n = raw_children("/services/zk-sd-app", &sv);
        if (n >= 0) deallocate_String_vector(&sv);
        if (n != 1) usleep(100 * 1000);
    }
    CHECK_EQ_INT(n, 1);
    snprintf(refurl, sizeof(refurl), "zookeeper://%s/%s?migration=FORCE_APPLICATION", zk_addr,
             iface);
    const char *params[] = {"interface", iface, NULL};
    dubbo_reference_t *ref = dubbo_reference_new(refurl, params);
    CHECK(ref != NULL);
    char out[512] = "";
    if (ref) {
        int rc = -1;
        for (int i = 0; i < 50 && rc != 0; i++)
            if ((rc = sd_call(ref, out, sizeof(out))) != 0) usleep(100 * 1000);
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_STR(out, "Hello sd");
    }
    /* the instance goes at shutdown (the reference keeps its last provider:
     * empty-list protection, as Java's; calls to it then fail) */
    dubbo_server_shutdown(srv);
    n = -1;
    for (int i = 0; i < 50 && n != 0; i++) {
        n = raw_children("/services/zk-sd-app", &sv);
        if (n >= 0) deallocate_String_vector(&sv);
        if (n != 0) usleep(100 * 1000);
    }
    CHECK_EQ_INT(n, 0);
    if (ref) {
        int rc = 0;
        for (int i = 0; i < 50 && rc == 0; i++)
            if ((rc = sd_call(ref, out, sizeof(out))) == 0) usleep(100 * 1000);
        CHECK(rc != 0);
    }
    dubbo_reference_free(ref);
    dubbo_server_free(srv);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child") == 0) return child_main(argv[2], argv[3]);
    zk_addr = getenv("DUBBO_ZK");
    if (!zk_addr || !*zk_addr) {
        fprintf(stderr, "zookeeper_test: set DUBBO_ZK=host:port (zookeeper_test.sh does)\n");
        return 2;
    }
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    dubbo_extensions_init();
    int rc = dubbo_extension_register(DUBBO_EXT_REGISTRY, &dubbo__registry_zookeeper);
    if (rc != 0 && rc != DUBBO_EEXISTS) {
        fprintf(stderr, "register: %s\n", dubbo_last_error());
        return 1;
    }
    raw = raw_open(NULL);
    if (!raw) {
        fprintf(stderr, "zookeeper_test: no ZooKeeper at %s\n", zk_addr);
        return 1;
    }
    static const test_case_t tests[] = {
        TEST_ENTRY(register_layout),
        TEST_ENTRY(subscribe_add_remove),
        TEST_ENTRY(killed_child),
        TEST_ENTRY(paused_child_recovers),
        TEST_ENTRY(session_expiry_recovers),
        TEST_ENTRY(routing_rules),
        TEST_ENTRY(application_level_discovery),
        TEST_ENTRY(server_restart),
        TEST_ENTRY(server_down_at_open),
        TEST_ENTRY(server_lists),
        TEST_ENTRY(subscribe_before_connected),
    };
    int ret = test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
    if (raw) zookeeper_close(raw);
    return ret;
}
