/* The Nacos config client and the rules the nacos:// registry reads from it,
 * against the real Nacos 0.8.0 server nacos_test.sh starts (DUBBO_NACOS=
 * host:port): publish, get, remove, namespaces, errors; listening with
 * long polling (the delay from publish to callback, measured); router
 * rules and configurators delivered to subscribers as every registry
 * delivers them; and a condition rule in Nacos config steering our
 * consumer between our two providers (DUBBO_NACOS_P1/P2, demo providers
 * registered through nacos://), reverted when the rule is removed. A TCP
 * relay of our own between the listener and Nacos is cut to show that the
 * listener reconnects and, keeping its MD5s, gets what changed meanwhile.
 *   nacos_config_test [test-name-filter] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/extension.h"
#include "dubbo/registry.h"
#include "dubbo/rpc.h"
#include "dubbo/url.h"
#include "registry/nacos.h"
#include "test.h"

#define DEMO "org.apache.dubbo.demo.DemoService"

static const char *addr;            /* 127.0.0.1:port */
static int p1, p2;                  /* the two demo providers */
static const char *const *call_att; /* attachments of the calls whoami makes */

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

static dubbo__nacos_config_t *client(const char *params)
{
    char url[256];
    snprintf(url, sizeof(url), "nacos://%s%s%s", addr, params ? "?" : "", params ? params : "");
    dubbo__nacos_config_t *c = dubbo__nacos_config_new(url);
    if (!c) fprintf(stderr, "config client %s: %s\n", url, dubbo_last_error());
    return c;
}

/* Poll get until it answers `want` (NULL: absent); the ms it took, or -1. */
static long long get_until(dubbo__nacos_config_t *c, const char *id, const char *group,
                           const char *want, int limit_ms)
{
    long long t0 = now_ms();
    do {
        char *got = NULL;
        int rc = dubbo__nacos_config_get(c, id, group, &got);
        bool same = rc == 0 && (want ? got && strcmp(got, want) == 0 : !got);
        free(got);
        if (same) return now_ms() - t0;
        sleep_ms(20);
    } while (now_ms() - t0 < limit_ms);
    return -1;
}

/* ---- a listener that records ----------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    char *last; /* content of the last call; NULL: removed */
    long long at_ms;
} rec_t;

static void rec_init(rec_t *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void rec_destroy(rec_t *r)
{
    free(r->last);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static void on_change(void *user, const char *id, const char *group, const char *content)
{
    (void)id;
    (void)group;
    rec_t *r = user;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    free(r->last);
    r->last = content ? strdup(content) : NULL;
    r->at_ms = now_ms();
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* Wait until the recorder has had more than `calls` calls; true if so. */
static bool rec_wait(rec_t *r, int calls, int limit_ms)
{
    long long end = now_ms() + limit_ms;
    pthread_mutex_lock(&r->mu);
    while (r->calls <= calls && now_ms() < end) {
        pthread_mutex_unlock(&r->mu);
        sleep_ms(5);
        pthread_mutex_lock(&r->mu);
    }
    bool got = r->calls > calls;
    pthread_mutex_unlock(&r->mu);
    return got;
}

/* ---- the config client ----------------------------------------------------------------- */

TEST(publish_get_remove)
{
    dubbo__nacos_config_t *c = client(NULL);
    CHECK(c != NULL);
    if (!c) return;
    const char *id = "dubbo-c.config.basic", *group = "dubbo-c-test";
    const char *text = "line one\nkey: a value with spaces & signs =+%/?\n\xc3\xa9t\xc3\xa9\n";
    CHECK_EQ_INT(dubbo__nacos_config_remove(c, id, group), 0); /* absent: fine */
    char *got = (char *)"x";
    CHECK_EQ_INT(dubbo__nacos_config_get(c, id, group, &got), 0);
    CHECK(got == NULL);
    CHECK_EQ_INT(dubbo__nacos_config_publish(c, id, group, text), 0);
    long long ms = get_until(c, id, group, text, 5000);
    printf("publish_get_remove: published content readable after %lld ms\n", ms);
    CHECK(ms >= 0);
    CHECK_EQ_INT(dubbo__nacos_config_publish(c, id, group, "second"), 0);
    CHECK(get_until(c, id, group, "second", 5000) >= 0);
    CHECK_EQ_INT(dubbo__nacos_config_remove(c, id, group), 0);
    ms = get_until(c, id, group, NULL, 5000);
    printf("publish_get_remove: removed after %lld ms\n", ms);
    CHECK(ms >= 0);
    dubbo__nacos_config_free(c);
}

TEST(namespaces)
{
    dubbo__nacos_config_t *d = client(NULL), *ns = client("namespace=dubbo-c-cfg");
    CHECK(d && ns);
    if (!d || !ns) goto out;
    const char *id = "dubbo-c.config.ns", *group = "dubbo-c-test";
    CHECK_EQ_INT(dubbo__nacos_config_publish(ns, id, group, "in the namespace"), 0);
    CHECK(get_until(ns, id, group, "in the namespace", 5000) >= 0);
    char *got = NULL;
    CHECK_EQ_INT(dubbo__nacos_config_get(d, id, group, &got), 0);
    CHECK(got == NULL); /* the default namespace does not see it */
    free(got);

    /* a listener in the namespace (its tenant in Listening-Configs) */
    rec_t rec;
    rec_init(&rec);
    CHECK_EQ_INT(dubbo__nacos_config_listen(ns, id, group, on_change, &rec, &got), 0);
    CHECK_EQ_STR(got, "in the namespace");
    free(got);
    sleep_ms(300);
    CHECK_EQ_INT(dubbo__nacos_config_publish(d, id, group, "in the default one"), 0);
    CHECK(!rec_wait(&rec, 0, 1000)); /* not its namespace */
    CHECK_EQ_INT(dubbo__nacos_config_publish(ns, id, group, "changed in the namespace"), 0);
    CHECK(rec_wait(&rec, 0, 5000));
    pthread_mutex_lock(&rec.mu);
    CHECK_EQ_STR(rec.last, "changed in the namespace");
    pthread_mutex_unlock(&rec.mu);
    CHECK_EQ_INT(dubbo__nacos_config_unlisten(ns, id, group, on_change, &rec), 0);
    rec_destroy(&rec);
    CHECK_EQ_INT(dubbo__nacos_config_remove(d, id, group), 0);
    CHECK_EQ_INT(dubbo__nacos_config_remove(ns, id, group), 0);
out:
    dubbo__nacos_config_free(d);
    dubbo__nacos_config_free(ns);
}

TEST(errors_name_config_and_answer)
{
    dubbo__nacos_config_t *c = client(NULL);
    CHECK(c != NULL);
    if (!c) return;
    char *got = NULL;
    CHECK_EQ_INT(dubbo__nacos_config_get(c, "bad id", "g", &got), DUBBO_EINVAL);
    CHECK_CONTAINS(dubbo_last_error(), "dataId=bad id group=g");
    CHECK_EQ_INT(dubbo__nacos_config_publish(c, "x", "g", ""), DUBBO_EINVAL);
    CHECK_CONTAINS(dubbo_last_error(), "empty content");
    dubbo__nacos_config_free(c);

    /* a server that answers, but not Nacos's config API there */
    c = client("context-path=/nope");
    CHECK(c != NULL);
    if (!c) return;
    int rc = dubbo__nacos_config_publish(c, "dubbo-c.x", "dubbo-c-test", "v");
    CHECK_EQ_INT(rc, DUBBO_EREMOTE);
    CHECK_CONTAINS(dubbo_last_error(), "/nope: publish config dataId=dubbo-c.x group=dubbo-c-test");
    CHECK_CONTAINS(dubbo_last_error(), "HTTP 404");
    rc = dubbo__nacos_config_get(c, "dubbo-c.x", "dubbo-c-test", &got);
    CHECK_EQ_INT(rc, DUBBO_EREMOTE); /* the 404 of a missing API is not "no config" */
    CHECK_CONTAINS(dubbo_last_error(), "get config dataId=dubbo-c.x");
    dubbo__nacos_config_free(c);

    /* nothing listens there */
    c = dubbo__nacos_config_new("nacos://127.0.0.1:1");
    CHECK(c != NULL);
    if (!c) return;
    rc = dubbo__nacos_config_get(c, "dubbo-c.x", "dubbo-c-test", &got);
    CHECK(rc == -ECONNREFUSED || rc == DUBBO_EIO);
    CHECK_CONTAINS(dubbo_last_error(), "http://127.0.0.1:1/nacos: get config dataId=dubbo-c.x");
    dubbo__nacos_config_free(c);
}

TEST(listen_long_poll)
{
    dubbo__nacos_config_t *w = client(NULL), *l = client(NULL);
    CHECK(w && l);
    if (!w || !l) {
        dubbo__nacos_config_free(w);
        dubbo__nacos_config_free(l);
        return;
    }
    const char *id = "dubbo-c.config.listen", *group = "dubbo-c-test";
    dubbo__nacos_config_remove(w, id, group);
    get_until(w, id, group, NULL, 5000);
    rec_t rec;
    rec_init(&rec);
    char *now = (char *)"x";
    CHECK_EQ_INT(dubbo__nacos_config_listen(l, id, group, on_change, &rec, &now), 0);
    CHECK(now == NULL);
    sleep_ms(300); /* the long poll is held by the server now */

    /* absent -> published: the held request answers at once */
    long long worst = 0;
    for (int round = 0; round < 5; round++) {
        char text[64];
        snprintf(text, sizeof(text), "version %d", round);
        int calls = rec.calls;
        long long t0 = now_ms();
        CHECK_EQ_INT(dubbo__nacos_config_publish(w, id, group, text), 0);
        long long t1 = now_ms(); /* Nacos 0.8 takes 25-250 ms to answer a publish */
        CHECK(rec_wait(&rec, calls, 10000));
        pthread_mutex_lock(&rec.mu);
        long long ms = rec.at_ms - t0;
        CHECK_EQ_STR(rec.last, text);
        printf("listen_long_poll: change %d arrived %lld ms after the publish began, %lld ms "
               "after it returned (long poll 30 s)\n",
               round, ms, rec.at_ms - t1);
        pthread_mutex_unlock(&rec.mu);
        if (ms > worst) worst = ms;
        sleep_ms(100);
    }
    CHECK(worst < 2000);

    int calls = rec.calls;
    long long t0 = now_ms();
    CHECK_EQ_INT(dubbo__nacos_config_remove(w, id, group), 0);
    CHECK(rec_wait(&rec, calls, 10000));
    pthread_mutex_lock(&rec.mu);
    CHECK(rec.last == NULL);
    printf("listen_long_poll: removal arrived after %lld ms\n", rec.at_ms - t0);
    pthread_mutex_unlock(&rec.mu);

    /* publishing the same content again is no change */
    CHECK_EQ_INT(dubbo__nacos_config_publish(w, id, group, "same"), 0);
    CHECK(rec_wait(&rec, rec.calls, 10000));
    calls = rec.calls;
    CHECK_EQ_INT(dubbo__nacos_config_publish(w, id, group, "same"), 0);
    CHECK(!rec_wait(&rec, calls, 1500));

    /* after unlisten, nothing more */
    CHECK_EQ_INT(dubbo__nacos_config_unlisten(l, id, group, on_change, &rec), 0);
    CHECK_EQ_INT(dubbo__nacos_config_unlisten(l, id, group, on_change, &rec), DUBBO_ENOT_FOUND);
    calls = rec.calls;
    CHECK_EQ_INT(dubbo__nacos_config_publish(w, id, group, "unheard"), 0);
    CHECK(!rec_wait(&rec, calls, 1500));
    dubbo__nacos_config_remove(w, id, group);
    dubbo__nacos_config_free(l);
    dubbo__nacos_config_free(w);
    rec_destroy(&rec);
}

/* ---- a TCP relay to cut: 127.0.0.1:relay_port -> Nacos -------------------------------- */

typedef struct {
    int lfd, port, target;
    atomic_bool cut, stop; /* cut: drop every connection, refuse new ones */
    atomic_bool no_config; /* answer 404 to every request for /nacos/v1/cs/ */
    pthread_t th;
} relay_t;

static void *relay_main(void *arg)
{
    relay_t *r = arg;
    int pairs[32][2];
    int np = 0;
    while (!atomic_load(&r->stop)) {
        if (atomic_load(&r->cut)) {
            for (int i = 0; i < np; i++) {
                close(pairs[i][0]);
                close(pairs[i][1]);
            }
            np = 0;
        }
        struct pollfd pf[65];
        pf[0] = (struct pollfd){.fd = r->lfd, .events = POLLIN};
        for (int i = 0; i < np; i++) {
            pf[1 + 2 * i] = (struct pollfd){.fd = pairs[i][0], .events = POLLIN};
            pf[2 + 2 * i] = (struct pollfd){.fd = pairs[i][1], .events = POLLIN};
        }
        if (poll(pf, (nfds_t)(1 + 2 * np), 50) <= 0) continue;
        if (pf[0].revents & POLLIN) {
            int c = accept(r->lfd, NULL, NULL);
            if (c >= 0 && (atomic_load(&r->cut) || np == 32)) {
                close(c);
            } else if (c >= 0) {
                int u = socket(AF_INET, SOCK_STREAM, 0);
                struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(r->target)};
                a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                if (u < 0 || connect(u, (struct sockaddr *)&a, sizeof(a)) != 0) {
                    close(c);
                    if (u >= 0) close(u);
                } else {
                    pairs[np][0] = c;
                    pairs[np][1] = u;
                    np++;
                }
            }
        }
        for (int i = 0; i < np; i++) {
            bool dead = false;
            for (int k = 0; k < 2 && !dead; k++) {
                short ev = pf[1 + 2 * i + k].revents;
                if (!ev) continue;
                char buf[16384];
                ssize_t got = read(pairs[i][k], buf, sizeof(buf));
                if (got > 0 && k == 0 && atomic_load(&r->no_config) &&
                    memmem(buf, (size_t)got, " /nacos/v1/cs/", 14)) {
                    /* a server without the config API (a request fits one read here) */
                    static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n"
                                             "Connection: close\r\n\r\nnot found";
                    ssize_t wr = write(pairs[i][0], nf, sizeof(nf) - 1);
                    (void)wr;
                    dead = true;
                    continue;
                }
                dead = got <= 0 || write(pairs[i][1 - k], buf, (size_t)got) != got;
            }
            if (dead) {
                close(pairs[i][0]);
                close(pairs[i][1]);
                pairs[i][0] = pairs[np - 1][0];
                pairs[i][1] = pairs[np - 1][1];
                np--;
                break; /* the pollfds no longer match: poll again */
            }
        }
    }
    for (int i = 0; i < np; i++) {
        close(pairs[i][0]);
        close(pairs[i][1]);
    }
    return NULL;
}

static int relay_start(relay_t *r, int target)
{
    memset(r, 0, sizeof(*r));
    r->target = target;
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(r->lfd, 16) != 0 || getsockname(r->lfd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    r->port = ntohs(a.sin_port);
    return pthread_create(&r->th, NULL, relay_main, r);
}

static void relay_stop(relay_t *r)
{
    atomic_store(&r->stop, true);
    pthread_join(r->th, NULL);
    close(r->lfd);
}

TEST(listener_reconnects)
{
    relay_t rl;
    const char *colon = strrchr(addr, ':');
    CHECK_EQ_INT(relay_start(&rl, atoi(colon + 1)), 0);
    char url[128];
    snprintf(url, sizeof(url), "nacos://127.0.0.1:%d?timeout=1000", rl.port);
    dubbo__nacos_config_t *l = dubbo__nacos_config_new(url), *w = client(NULL);
    CHECK(l && w);
    if (!l || !w) {
        relay_stop(&rl);
        dubbo__nacos_config_free(l);
        dubbo__nacos_config_free(w);
        return;
    }
    const char *id = "dubbo-c.config.relay", *group = "dubbo-c-test";
    CHECK_EQ_INT(dubbo__nacos_config_publish(w, id, group, "before"), 0);
    CHECK(get_until(w, id, group, "before", 5000) >= 0);
    rec_t rec;
    rec_init(&rec);
    char *now = NULL;
    CHECK_EQ_INT(dubbo__nacos_config_listen(l, id, group, on_change, &rec, &now), 0);
    CHECK_EQ_STR(now, "before");
    free(now);
    sleep_ms(300);

    /* cut: the held request fails, new connections are refused; the
     * change made meanwhile reaches the listener once the relay is back */
    atomic_store(&rl.cut, true);
    sleep_ms(300);
    CHECK_EQ_INT(dubbo__nacos_config_publish(w, id, group, "during the outage"), 0);
    CHECK(get_until(w, id, group, "during the outage", 5000) >= 0);
    sleep_ms(1500);
    CHECK_EQ_INT(rec.calls, 0);
    long long back = now_ms();
    atomic_store(&rl.cut, false);
    CHECK(rec_wait(&rec, 0, 35000));
    pthread_mutex_lock(&rec.mu);
    CHECK_EQ_STR(rec.last, "during the outage");
    printf("listener_reconnects: the change made during a cut arrived %lld ms after the relay "
           "was back (reconnect backoff 1, 2, 4 ... s)\n",
           rec.at_ms - back);
    pthread_mutex_unlock(&rec.mu);

    /* and it listens on: the next change comes at once */
    long long t0 = now_ms();
    CHECK_EQ_INT(dubbo__nacos_config_publish(w, id, group, "after"), 0);
    CHECK(rec_wait(&rec, 1, 5000));
    printf("listener_reconnects: the next change arrived %lld ms after publish\n", now_ms() - t0);

    dubbo__nacos_config_free(l);
    dubbo__nacos_config_remove(w, id, group);
    dubbo__nacos_config_free(w);
    rec_destroy(&rec);
    relay_stop(&rl);
}

/* ---- rules through the registry ----------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    char *routers[16], *confs[16];
    size_t nrouters, nconfs;
    int rcalls, ccalls;
    int *providers; /* when set: how many providers the last list had */
} subrec_t;

static void sub_notify(void *user, const char *category, const char *const *urls, size_t n)
{
    subrec_t *s = user;
    pthread_mutex_lock(&s->mu);
    char **v = strcmp(category, "routers") == 0         ? s->routers
               : strcmp(category, "configurators") == 0 ? s->confs
                                                        : NULL;
    size_t *nv = v == s->routers ? &s->nrouters : &s->nconfs;
    if (s->providers && strcmp(category, "providers") == 0) *s->providers = (int)n;
    if (v) {
        for (size_t i = 0; i < *nv; i++)
            free(v[i]);
        *nv = 0;
        for (size_t i = 0; i < n && i < 16; i++)
            v[(*nv)++] = strdup(urls[i]);
        if (v == s->routers)
            s->rcalls++;
        else
            s->ccalls++;
    }
    pthread_mutex_unlock(&s->mu);
}

/* Wait until the category holds `count` entries, one of which (when `has`)
 * contains `has`; the ms it took, or -1. */
static long long sub_wait(subrec_t *s, bool routers, size_t count, const char *has, int limit_ms)
{
    long long t0 = now_ms();
    for (;;) {
        pthread_mutex_lock(&s->mu);
        char **v = routers ? s->routers : s->confs;
        size_t n = routers ? s->nrouters : s->nconfs;
        bool ok = n == count && (routers ? s->rcalls : s->ccalls) > 0;
        if (ok && has) {
            ok = false;
            for (size_t i = 0; i < n; i++)
                ok |= strstr(v[i], has) != NULL;
        }
        pthread_mutex_unlock(&s->mu);
        if (ok) return now_ms() - t0;
        if (now_ms() - t0 > limit_ms) return -1;
        sleep_ms(5);
    }
}

/* The `rule` parameter of the entry containing `has`, decoded. */
static char *sub_param(subrec_t *s, bool routers, const char *has, const char *key)
{
    char *out = NULL;
    pthread_mutex_lock(&s->mu);
    char **v = routers ? s->routers : s->confs;
    size_t n = routers ? s->nrouters : s->nconfs;
    for (size_t i = 0; i < n && !out; i++) {
        if (!strstr(v[i], has)) continue;
        dubbo_url_t *u = dubbo_url_parse(v[i]);
        const char *p = u ? dubbo_url_param(u, key, NULL) : NULL;
        out = p ? strdup(p) : NULL;
        dubbo_url_free(u);
    }
    pthread_mutex_unlock(&s->mu);
    return out;
}

TEST(rules_reach_subscribers)
{
    char url[256];
    snprintf(url, sizeof(url), "nacos://%s?poll=500", addr);
    dubbo_registry_t *r = dubbo_registry_open(url);
    dubbo__nacos_config_t *w = client(NULL);
    CHECK(r && w);
    if (!r || !w) {
        if (r) dubbo_registry_close(r);
        dubbo__nacos_config_free(w);
        return;
    }
    const char *iface = "org.example.nacos.RuledService";
    const char *svc_id = "org.example.nacos.RuledService:1.0:g1.condition-router";
    const char *app_id = "ruled-app.condition-router";
    const char *confapp_id = "ruled-app.configurators";
    const char *confsvc_id = "org.example.nacos.RuledService:1.0:g1.configurators";
    const char *ids[] = {svc_id, app_id, confapp_id, confsvc_id};
    for (size_t i = 0; i < 4; i++)
        dubbo__nacos_config_remove(w, ids[i], "dubbo");
    dubbo__nacos_config_remove(w, "application", "tag");
    for (size_t i = 0; i < 4; i++)
        get_until(w, ids[i], "dubbo", NULL, 5000);
    get_until(w, "application", "tag", NULL, 5000);

    subrec_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char cu[512];
    snprintf(cu, sizeof(cu),
             "consumer://127.0.0.1/%s?application=ruled-app&category=providers,configurators,"
             "routers&group=g1&interface=%s&side=consumer&version=1.0",
             iface, iface);
    CHECK_EQ_INT(r->ops->subscribe(r, cu, sub_notify, &s), 0);
    CHECK(sub_wait(&s, true, 0, NULL, 5000) >= 0); /* nothing yet: delivered empty */
    CHECK(sub_wait(&s, false, 0, NULL, 5000) >= 0);

    const char *cond = "configVersion: v3.0\nscope: service\nkey: org.example.nacos.RuledService\n"
                       "force: true\nenabled: true\nconditions:\n  - method = a => port = 1+1\n";
    long long t0 = now_ms();
    CHECK_EQ_INT(dubbo__nacos_config_publish(w, svc_id, "dubbo", cond), 0);
    long long ms =
        sub_wait(&s, true, 1, "condition://0.0.0.0/org.example.nacos.RuledService?", 5000);
    printf("rules_reach_subscribers: service condition rule delivered %lld ms after publish\n",
           ms < 0 ? -1 : now_ms() - t0);
    CHECK(ms >= 0);
    char *rule = sub_param(&s, true, "condition://", "rule");
    CHECK_EQ_STR(rule, cond); /* '+' and spaces intact */
    free(rule);
    char *scope = sub_param(&s, true, "condition://", "scope");
    CHECK_EQ_STR(scope, "service");
    free(scope);
    char *key = sub_param(&s, true, "condition://", "key");
    CHECK_EQ_STR(key, "org.example.nacos.RuledService:1.0:g1");
    free(key);

    const char *appcond = "configVersion: v3.0\nscope: application\nkey: ruled-app\n"
                          "enabled: true\nconditions:\n  - => host = 127.0.0.1\n";
    CHECK_EQ_INT(dubbo__nacos_config_publish(w, app_id, "dubbo", appcond), 0);
    CHECK(sub_wait(&s, true, 2, "scope=application", 5000) >= 0);

    /* seed 001's key: dataId application, group tag */
    const char *tag = "configVersion: v3.0\nforce: false\nenabled: true\nkey: ruled-provider\n"
                      "tags:\n  - name: gray\n    addresses: [\"127.0.0.1:1\"]\n";
    CHECK_EQ_INT(dubbo__nacos_config_publish(w, "application", "tag", tag), 0);
    CHECK(sub_wait(&s, true, 3, "tag://0.0.0.0/org.example.nacos.RuledService?", 5000) >= 0);

    const char *conf = "configVersion: v3.0\nscope: application\nkey: ruled-app\nenabled: true\n"
                       "configs:\n  - side: consumer\n    parameters:\n      timeout: 777\n";
    t0 = now_ms();
    CHECK_EQ_INT(dubbo__nacos_config_publish(w, confapp_id, "dubbo", conf), 0);
    ms = sub_wait(&s, false, 1, "configurator://0.0.0.0/org.example.nacos.RuledService?", 5000);
    printf("rules_reach_subscribers: configurators delivered %lld ms after publish\n",
           ms < 0 ? -1 : now_ms() - t0);
    CHECK(ms >= 0);
    rule = sub_param(&s, false, "scope=application", "rule");
    CHECK_EQ_STR(rule, conf);
    free(rule);
    CHECK_EQ_INT(dubbo__nacos_config_publish(w, confsvc_id, "dubbo",
                                             "configVersion: v3.0\nscope: service\nkey: "
                                             "org.example.nacos.RuledService\nconfigs: []\n"),
                 0);
    CHECK(sub_wait(&s, false, 2, "scope=service", 5000) >= 0);

    /* removing them reverts: empty lists */
    for (size_t i = 0; i < 4; i++)
        CHECK_EQ_INT(dubbo__nacos_config_remove(w, ids[i], "dubbo"), 0);
    CHECK_EQ_INT(dubbo__nacos_config_remove(w, "application", "tag"), 0);
    CHECK(sub_wait(&s, true, 0, NULL, 5000) >= 0);
    CHECK(sub_wait(&s, false, 0, NULL, 5000) >= 0);

    CHECK_EQ_INT(r->ops->unsubscribe(r, cu, sub_notify, &s), 0);
    dubbo_registry_close(r);
    dubbo__nacos_config_free(w);
    for (size_t i = 0; i < s.nrouters; i++)
        free(s.routers[i]);
    for (size_t i = 0; i < s.nconfs; i++)
        free(s.confs[i]);
}

/* A server that refuses the config API (here: our relay answers 404 for
 * it in front of the real Nacos) must not hold back discovery: providers
 * arrive, routers and configurators come empty. */
TEST(no_config_api_no_rules)
{
    if (!p1 || !p2) {
        printf("no_config_api_no_rules: no providers (DUBBO_NACOS_P1/P2), skipped\n");
        return;
    }
    relay_t rl;
    const char *colon = strrchr(addr, ':');
    CHECK_EQ_INT(relay_start(&rl, atoi(colon + 1)), 0);
    atomic_store(&rl.no_config, true);
    char url[128];
    snprintf(url, sizeof(url), "nacos://127.0.0.1:%d?poll=200", rl.port);
    dubbo_registry_t *r = dubbo_registry_open(url);
    CHECK(r != NULL);
    if (!r) {
        relay_stop(&rl);
        return;
    }
    subrec_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    int nproviders = 0;
    s.providers = &nproviders;
    char cu[512];
    snprintf(cu, sizeof(cu),
             "consumer://127.0.0.1/%s?application=no-config-app&category=providers,configurators,"
             "routers&interface=%s&side=consumer",
             DEMO, DEMO);
    CHECK_EQ_INT(r->ops->subscribe(r, cu, sub_notify, &s), 0);
    long long t0 = now_ms();
    while (now_ms() - t0 < 5000) {
        pthread_mutex_lock(&s.mu);
        bool got = nproviders >= 2;
        pthread_mutex_unlock(&s.mu);
        if (got) break;
        sleep_ms(10);
    }
    printf("no_config_api_no_rules: %d providers after %lld ms with the config API refused\n",
           nproviders, now_ms() - t0);
    CHECK(nproviders >= 2);
    CHECK(sub_wait(&s, true, 0, NULL, 1000) >= 0);
    CHECK(sub_wait(&s, false, 0, NULL, 1000) >= 0);
    CHECK_EQ_INT(r->ops->unsubscribe(r, cu, sub_notify, &s), 0);
    dubbo_registry_close(r);
    relay_stop(&rl);
}

/* ---- a consumer routed by a rule in Nacos ------------------------------------------------- */

/* whoami `n` times; *at1 / *at2 how many answers came from each provider. */
static int whoami(dubbo_reference_t *ref, int n, int *at1, int *at2)
{
    char w1[64], w2[64];
    snprintf(w1, sizeof(w1), "127.0.0.1:%d", p1);
    snprintf(w2, sizeof(w2), "127.0.0.1:%d", p2);
    *at1 = *at2 = 0;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        dubbo_invocation_t inv = {.method = "whoami", .desc = "", .attachments = call_att};
        dubbo_result_t res;
        dubbo_result_init(&res);
        int rc = dubbo_reference_call(ref, &inv, &res);
        const char *who =
            !rc && res.value && res.value->type == DUBBO_T_STRING ? res.value->u.s.ptr : NULL;
        if (who && strcmp(who, w1) == 0)
            (*at1)++;
        else if (who && strcmp(who, w2) == 0)
            (*at2)++;
        else {
            if (!failed++)
                fprintf(stderr, "whoami: %s\n", rc ? dubbo_last_error() : "another answer");
        }
        dubbo_result_destroy(&res);
    }
    return failed;
}

/* Call until every one of 10 answers comes from the providers `want`
 * (1, 2, or 3 for both); the ms it took, or -1. */
static long long routed(dubbo_reference_t *ref, int want, int limit_ms)
{
    long long t0 = now_ms();
    do {
        int a, b;
        whoami(ref, 10, &a, &b);
        if ((want == 1 && a == 10) || (want == 2 && b == 10) || (want == 3 && a > 0 && b > 0))
            return now_ms() - t0;
        sleep_ms(10);
    } while (now_ms() - t0 < limit_ms);
    return -1;
}

/* Publish `rule` as (id, group), or remove it when NULL, then call until
 * the answers come from `want` (as routed()). Prints and returns the ms
 * from the write to the first such round, -1 when none came in 10 s. */
static long long steer(dubbo__nacos_config_t *w, dubbo_reference_t *ref, const char *id,
                       const char *group, const char *rule, int want, const char *what)
{
    long long t0 = now_ms();
    int rc = rule ? dubbo__nacos_config_publish(w, id, group, rule)
                  : dubbo__nacos_config_remove(w, id, group);
    CHECK_EQ_INT(rc, 0);
    long long ms = routed(ref, want, 10000) < 0 ? -1 : now_ms() - t0;
    printf("%s: %s (%s): %s %lld ms after the %s\n", test__current, what, id,
           ms < 0 ? "NOT in force" : "in force", ms < 0 ? now_ms() - t0 : ms,
           rule ? "publish" : "removal");
    return ms;
}

TEST(rule_routes_consumer)
{
    if (!p1 || !p2) {
        printf("rule_routes_consumer: no providers (DUBBO_NACOS_P1/P2), skipped\n");
        return;
    }
    dubbo__nacos_config_t *w = client(NULL);
    CHECK(w != NULL);
    if (!w) return;
    const char *java_id = DEMO "::.condition-router";
    dubbo__nacos_config_remove(w, java_id, "dubbo");
    dubbo__nacos_config_remove(w, DEMO, "condition");
    get_until(w, java_id, "dubbo", NULL, 5000);
    get_until(w, DEMO, "condition", NULL, 5000);

    char urls[256];
    snprintf(urls, sizeof(urls), "nacos://%s/%s", addr, DEMO);
    const char *params[] = {"interface",   DEMO,         "application", "nacos-rules-consumer",
                            "loadbalance", "roundrobin", NULL};
    dubbo_reference_t *ref = dubbo_reference_new(urls, params);
    CHECK(ref != NULL);
    if (!ref) {
        fprintf(stderr, "refer %s: %s\n", urls, dubbo_last_error());
        dubbo__nacos_config_free(w);
        return;
    }
    long long ms = routed(ref, 3, 10000);
    printf("rule_routes_consumer: both providers answer (after %lld ms)\n", ms);
    CHECK(ms >= 0);

    /* Java's key: <interface>:<version>:<group>.condition-router in group dubbo */
    char rule[512];
    snprintf(rule, sizeof(rule),
             "configVersion: v3.0\nscope: service\nkey: %s\nforce: true\nenabled: true\n"
             "conditions:\n  - method = whoami => port = %d\n",
             DEMO, p2);
    ms = steer(w, ref, java_id, "dubbo", rule, 2, "Java's key, whoami => P2");
    CHECK(ms >= 0 && ms < 3000);
    CHECK(steer(w, ref, java_id, "dubbo", NULL, 3, "removed: both providers") >= 0);

    /* seed 001's key: dataId <interface>, group condition */
    snprintf(rule, sizeof(rule),
             "configVersion: v3.0\nscope: service\nkey: %s\nforce: true\nenabled: true\n"
             "conditions:\n  - method = whoami => port = %d\n",
             DEMO, p1);
    CHECK(steer(w, ref, DEMO, "condition", rule, 1, "seed 001's key, whoami => P1") >= 0);
    CHECK(steer(w, ref, DEMO, "condition", NULL, 3, "removed: both providers") >= 0);

    /* Java's tag rule: <provider application>.tag-router (the demo
     * providers' application is dubbo-c); calls tagged gray go to P1 */
    static const char *const gray[] = {"dubbo.tag", "gray", NULL};
    call_att = gray;
    dubbo__nacos_config_remove(w, "dubbo-c.tag-router", "dubbo");
    get_until(w, "dubbo-c.tag-router", "dubbo", NULL, 5000);
    snprintf(rule, sizeof(rule),
             "configVersion: v3.0\nforce: true\nenabled: true\nkey: dubbo-c\ntags:\n"
             "  - name: gray\n    addresses: [\"127.0.0.1:%d\"]\n",
             p1);
    CHECK(steer(w, ref, "dubbo-c.tag-router", "dubbo", rule, 1, "tag rule, gray = P1") >= 0);
    /* no tag rule: gray falls back to every provider */
    CHECK(steer(w, ref, "dubbo-c.tag-router", "dubbo", NULL, 3, "removed: both providers") >= 0);
    call_att = NULL;

    dubbo_reference_free(ref);
    dubbo__nacos_config_free(w);
}

/* Configurators from Nacos config change our consumer's calls (issue 16):
 * disabled takes a provider out, weight shifts the split, a provider
 * application's provider-side rule disables its provider; removal reverts. */
TEST(configurators_change_consumer)
{
    if (!p1 || !p2) {
        printf("configurators_change_consumer: no providers (DUBBO_NACOS_P1/P2), skipped\n");
        return;
    }
    dubbo__nacos_config_t *w = client(NULL);
    CHECK(w != NULL);
    if (!w) return;
    const char *app_id = "nacos-conf-consumer.configurators", *svc_id = DEMO "::.configurators",
               *papp_id = "dubbo-c.configurators";
    const char *ids[] = {app_id, svc_id, papp_id};
    for (size_t i = 0; i < 3; i++) {
        dubbo__nacos_config_remove(w, ids[i], "dubbo");
        get_until(w, ids[i], "dubbo", NULL, 5000);
    }
    char urls[256];
    snprintf(urls, sizeof(urls), "nacos://%s/%s", addr, DEMO);
    const char *params[] = {"interface",   DEMO,         "application", "nacos-conf-consumer",
                            "loadbalance", "roundrobin", NULL};
    dubbo_reference_t *ref = dubbo_reference_new(urls, params);
    CHECK(ref != NULL);
    if (!ref) {
        fprintf(stderr, "refer %s: %s\n", urls, dubbo_last_error());
        dubbo__nacos_config_free(w);
        return;
    }
    CHECK(routed(ref, 3, 10000) >= 0);

    /* the consumer application's rule: P1 disabled */
    char rule[512];
    snprintf(rule, sizeof(rule),
             "configVersion: v3.0\nscope: application\nkey: nacos-conf-consumer\nconfigs:\n"
             "  - side: consumer\n    providerAddresses: ['127.0.0.1:%d']\n"
             "    parameters:\n      disabled: true\n",
             p1);
    long long ms = steer(w, ref, app_id, "dubbo", rule, 2, "P1 disabled");
    CHECK(ms >= 0 && ms < 3000);
    CHECK(steer(w, ref, app_id, "dubbo", NULL, 3, "removed: both providers") >= 0);

    /* the service's rule: P1 weight 300 against 100, round robin 3:1 */
    snprintf(rule, sizeof(rule),
             "configVersion: v3.0\nscope: service\nkey: %s\nconfigs:\n"
             "  - side: consumer\n    providerAddresses: ['127.0.0.1:%d']\n"
             "    parameters:\n      weight: 300\n",
             DEMO, p1);
    long long t0 = now_ms();
    CHECK_EQ_INT(dubbo__nacos_config_publish(w, svc_id, "dubbo", rule), 0);
    int a = 0, b = 0;
    do {
        sleep_ms(20);
        whoami(ref, 40, &a, &b);
    } while (!(a == 30 && b == 10) && now_ms() - t0 < 10000);
    printf("configurators_change_consumer: weight 300: %d/%d of 40 calls, %lld ms after publish\n",
           a, b, now_ms() - t0);
    CHECK_EQ_INT(a, 30);
    CHECK_EQ_INT(b, 10);
    CHECK_EQ_INT(dubbo__nacos_config_remove(w, svc_id, "dubbo"), 0);
    t0 = now_ms();
    do {
        sleep_ms(20);
        whoami(ref, 40, &a, &b);
    } while (!(a == 20 && b == 20) && now_ms() - t0 < 10000);
    CHECK_EQ_INT(a, 20);

    /* the providers' application (dubbo-c): a provider-side rule for P2 */
    snprintf(rule, sizeof(rule),
             "configVersion: v3.0\nscope: application\nkey: dubbo-c\nconfigs:\n"
             "  - side: provider\n    addresses: ['127.0.0.1:%d']\n"
             "    parameters:\n      disabled: true\n",
             p2);
    CHECK(steer(w, ref, papp_id, "dubbo", rule, 1, "provider-side rule, P2 disabled") >= 0);
    CHECK(steer(w, ref, papp_id, "dubbo", NULL, 3, "removed: both providers") >= 0);

    dubbo_reference_free(ref);
    dubbo__nacos_config_free(w);
}

int main(int argc, char **argv)
{
    addr = getenv("DUBBO_NACOS");
    if (!addr || !*addr) {
        fprintf(stderr, "nacos_config_test: set DUBBO_NACOS=host:port (nacos_test.sh does)\n");
        return 2;
    }
    p1 = getenv("DUBBO_NACOS_P1") ? atoi(getenv("DUBBO_NACOS_P1")) : 0;
    p2 = getenv("DUBBO_NACOS_P2") ? atoi(getenv("DUBBO_NACOS_P2")) : 0;
    dubbo_extensions_init();
    static const test_case_t tests[] = {
        TEST_ENTRY(publish_get_remove),
        TEST_ENTRY(namespaces),
        TEST_ENTRY(errors_name_config_and_answer),
        TEST_ENTRY(listen_long_poll),
        TEST_ENTRY(listener_reconnects),
        TEST_ENTRY(rules_reach_subscribers),
        TEST_ENTRY(rule_routes_consumer),
        TEST_ENTRY(configurators_change_consumer),
        TEST_ENTRY(no_config_api_no_rules),
    };
    return test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
