/* The Nacos registry, nacos://host:port?namespace=&group=: Java Dubbo's
 * NacosRegistry layout over Nacos's v1 HTTP open API (naming), spoken with
 * libcurl, which is loaded when the first Nacos registry is opened
 * (curl_dl.h), as the etcd registry does.
 *
 *   service  <category>:<interface>:<version>:<group>   (empty parts kept:
 *            "providers:org.apache.dubbo.demo.DemoService::")
 *   group    the registry URL's `group` (default DEFAULT_GROUP), sent as
 *            groupName beside the plain service name, as the open API
 *            documents it (Nacos 1.x/2.x file the service under
 *            "<group>@@<service>"; 0.x predates groups and ignores it)
 *   instance ip and port of the URL, cluster DEFAULT, weight 1, ephemeral;
 *            metadata = the URL's parameters plus category, protocol and
 *            path (Java's createInstance)
 *
 * Registering: POST /v1/ns/instance, then a heartbeat (PUT
 * /v1/ns/instance/beat) every `beat` ms (5000, as Nacos's clients beat):
 * Nacos marks an ephemeral instance unhealthy 15 s after its last beat and
 * removes it later, so a process that dies leaves within ~15 s. A beat
 * Nacos answers with "not found" (it expired while we were cut off, or the
 * server restarted) registers the instance again. Only provider URLs are
 * registered, as Java Dubbo 3 does, unless the registry URL says
 * register-consumer-url=true.
 *
 * Subscribing: every `poll` ms (1000) GET /v1/ns/instance/list of the
 * service name and of the legacy name Dubbo <= 2.7.3 used
 * ("providers:<interface>[:<version>][:<group>]", when it differs); the
 * usable instances (enabled, healthy, weight > 0) become provider URLs
 * (protocol and path from the metadata, every metadata entry a parameter,
 * as Java's buildURL), and the sorted list is delivered when it changed.
 *
 * Routers and configurators come from Nacos's config service
 * (/v1/cs/configs), read as Java's NacosDynamicConfiguration reads them
 * (group `dubbo`: <interface>:<version>:<group>.condition-router,
 * <application>.condition-router, <app>.tag-router, <app>.configurators,
 * <interface>:<version>:<group>.configurators, ...; rules_wanted() has the
 * list, seed 001's keys too) and delivered as <router>://0.0.0.0/<iface>
 * ?rule=<YAML>&scope=..., as the ZooKeeper registry delivers its
 * config-center rules. A config client (dubbo__nacos_config_*, nacos.h)
 * follows them with Nacos's long polling on its own thread; a change wakes
 * the worker, which delivers. Other categories are delivered empty once.
 *
 * URL parameters: namespace (namespaceId; default Nacos's public), group,
 * timeout (ms, every HTTP call, default 3000), beat (ms), poll (ms),
 * context-path (default /nacos), backup (more host:port, comma-separated;
 * a call that cannot reach one moves to the next),
 * register-consumer-url, config (false: no rules from config),
 * config-group (default dubbo), config-long-poll (ms, default 30000). */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/registry.h"
#include "cluster/loadbalance/util.h"
#include "core/internal.h"
#include "core/log.h"
#include "registry/curl_dl.h"
#include "registry/nacos.h"
#include "registry/subscribers.h"

#define REPLY_LIMIT   (16u << 20) /* largest reply accepted */
#define DEFAULT_GROUP "DEFAULT_GROUP"
#define CLUSTER       "DEFAULT"

/* ---- libcurl: loaded (curl_dl.h) with the first registry, its global
 * state set up with the first and torn down with the last (libcurl counts
 * its own init calls too, so this and the etcd registry may share it). */

static pthread_mutex_t curl_mu = PTHREAD_MUTEX_INITIALIZER;
static int curl_users;

static int curl_acquire(void)
{
    int rc = 0;
    pthread_mutex_lock(&curl_mu);
    if (curl_users == 0) {
        rc = dubbo__curl_load("nacos registry");
        if (!rc && dubbo__curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            rc = dubbo__seterr(DUBBO_EIO, "nacos registry: curl_global_init failed");
    }
    if (!rc) curl_users++;
    pthread_mutex_unlock(&curl_mu);
    return rc;
}

static void curl_release(void)
{
    pthread_mutex_lock(&curl_mu);
    if (--curl_users == 0) dubbo__curl.global_cleanup();
    pthread_mutex_unlock(&curl_mu);
}

/* ---- text ------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} sbuf_t;

static int sbuf_add(sbuf_t *b, const char *d, size_t n)
{
    if (b->len + n + 1 > REPLY_LIMIT) return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int sbuf_str(sbuf_t *b, const char *s)
{
    return sbuf_add(b, s, strlen(s));
}

/* s with every byte outside letters, digits and `keep` as %XX. */
static int sbuf_esc(sbuf_t *b, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr(keep, *p);
        char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        if (plain ? sbuf_add(b, (const char *)p, 1) : sbuf_add(b, e, 3)) return -1;
    }
    return 0;
}

/* One key=value of a form (application/x-www-form-urlencoded). */
static int form_add(sbuf_t *b, const char *key, const char *value)
{
    if ((b->len && sbuf_add(b, "&", 1)) || sbuf_str(b, key) || sbuf_add(b, "=", 1)) return -1;
    return sbuf_esc(b, value, "-._*");
}

static size_t on_body(char *d, size_t size, size_t n, void *ud)
{
    (void)size; /* always 1 */
    return sbuf_add(ud, d, n) ? 0 : n;
}

/* What Nacos answered, fit for a message: at most 200 bytes, one line. */
static void answer_text(const sbuf_t *b, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; b->p && i < b->len && k + 4 < cap && k < 200; i++) {
        unsigned char c = (unsigned char)b->p[i];
        out[k++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    if (b->p && b->len > k && k + 4 < cap) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    if (!k && cap > 8) {
        memcpy(out, "no body", 7);
        k = 7;
    }
    out[k] = '\0';
}

static bool transient(int err)
{
    return err == -ECONNREFUSED || err == DUBBO_ETIMEOUT || err == DUBBO_EIO;
}

/* ---- instance lists -> provider URLs ----------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool jbool(const json_t *o, const char *key, bool def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

/* The provider URL of one host of an instance list, or NULL when it is not
 * usable (not enabled, not healthy, no weight) or not Dubbo's (no protocol
 * metadata, no address). */
static char *host_url(const json_t *h)
{
    if (!json_is_object(h)) return NULL;
    const char *ip = json_string_value(json_object_get(h, "ip"));
    const json_t *jport = json_object_get(h, "port");
    const json_t *meta = json_object_get(h, "metadata");
    const json_t *jw = json_object_get(h, "weight");
    /* healthy since Nacos 1.0; 0.x calls it valid */
    bool healthy = jbool(h, "healthy", jbool(h, "valid", true));
    if (!ip || !*ip || !json_is_integer(jport) || !json_is_object(meta) ||
        !jbool(h, "enabled", true) || !healthy ||
        (jw && (!json_is_number(jw) || !(json_number_value(jw) > 0))))
        return NULL;
    json_int_t port = json_integer_value(jport);
    const char *proto = json_string_value(json_object_get(meta, "protocol"));
    const char *path = json_string_value(json_object_get(meta, "path"));
    if (!path) path = json_string_value(json_object_get(meta, "interface"));
    if (port < 0 || port > 65535 || !proto || !*proto || strlen(proto) > 32 || strlen(ip) > 64)
        return NULL;
    if (!((*proto >= 'a' && *proto <= 'z') || (*proto >= 'A' && *proto <= 'Z')) ||
        proto[strspn(proto, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")] ||
        ip[strspn(ip, "0123456789abcdefABCDEF.:")] || (ip[0] == ':' && ip[1] != ':'))
        return NULL; /* an address Dubbo URLs cannot carry (host names: Java's parser neither) */

    size_t nkeys = json_object_size(meta), k = 0;
    const char **keys = malloc((nkeys ? nkeys : 1) * sizeof(char *));
    if (!keys) return NULL;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)meta, key, val)
    {
        if (*key && json_is_string(val)) keys[k++] = key;
    }
    qsort(keys, k, sizeof(char *), cmp_str);

    sbuf_t b = {0};
    char head[160];
    bool v6 = strchr(ip, ':') != NULL;
    snprintf(head, sizeof(head), "%s://%s%s%s:%d/", proto, v6 ? "[" : "", ip, v6 ? "]" : "",
             (int)port);
    bool bad = sbuf_str(&b, head) || sbuf_esc(&b, path ? path : "", "-._~,:*@!$'()/");
    for (size_t i = 0; !bad && i < k; i++)
        bad = sbuf_add(&b, i ? "&" : "?", 1) || sbuf_esc(&b, keys[i], "-._~,:*@!$'()/") ||
              sbuf_add(&b, "=", 1) ||
              sbuf_esc(&b, json_string_value(json_object_get(meta, keys[i])), "-._~,:*@!$'()/");
    free(keys);
    if (bad) {
        free(b.p);
        return NULL;
    }
    /* what subscribers will parse: never hand over what does not */
    dubbo_url_t *u = dubbo_url_parse(b.p);
    if (!u) {
        free(b.p);
        return NULL;
    }
    dubbo_url_free(u);
    return b.p;
}

/* Append the usable hosts of one reply to (*v, *n, *cap). `what` names the
 * reply for messages. */
static int hosts_urls(const char *body, size_t len, const char *what, char ***v, size_t *n,
                      size_t *cap)
{
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    if (!j)
        return dubbo__seterr(DUBBO_EMALFORMED, "nacos: %s: not JSON: %s (line %d column %d)", what,
                             je.text, je.line, je.column);
    json_t *hosts = json_object_get(j, "hosts");
    if (!json_is_object(j) || !json_is_array(hosts)) {
        bool object = json_is_object(j);
        json_decref(j);
        return dubbo__seterr(DUBBO_EMALFORMED, "nacos: %s: %s", what,
                             object ? "no hosts array" : "not a JSON object");
    }
    for (size_t i = 0; i < json_array_size(hosts); i++) {
        char *u = host_url(json_array_get(hosts, i));
        if (!u) continue;
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 8;
            char **p = realloc(*v, ncap * sizeof(char *));
            if (!p) {
                free(u);
                json_decref(j);
                return dubbo__seterr(DUBBO_ENOMEM, "nacos: %s: out of memory", what);
            }
            *v = p;
            *cap = ncap;
        }
        (*v)[(*n)++] = u;
    }
    json_decref(j);
    return 0;
}

/* Sort, and drop repeats (a URL found under both service names). */
static void sort_unique(char **v, size_t *n)
{
    if (*n < 2) return;
    qsort(v, *n, sizeof(char *), cmp_str);
    size_t k = 1;
    for (size_t i = 1; i < *n; i++) {
        if (strcmp(v[i], v[k - 1]) == 0)
            free(v[i]);
        else
            v[k++] = v[i];
    }
    *n = k;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

int dubbo__nacos_replay(const char *reply, size_t len, char ***urls, size_t *n)
{
    char **v = NULL;
    size_t m = 0, cap = 0;
    int rc = hosts_urls(reply, len, "instance list reply", &v, &m, &cap);
    if (rc) {
        strv_free(v, m);
        return rc;
    }
    sort_unique(v, &m);
    if (!v && !(v = malloc(sizeof(char *))))
        return dubbo__seterr(DUBBO_ENOMEM, "nacos: instance list reply: out of memory");
    *urls = v;
    *n = m;
    return 0;
}

/* ---- the server ------------------------------------------------------- */

/* Where calls go: the server and its backups, shared by naming and config. */
typedef struct {
    char **endpoints; /* "http://host:port<context-path>" */
    size_t nendpoints;
    atomic_size_t cur; /* the endpoint calls go to */
    char *ns;          /* namespaceId, "" for Nacos's default */
    long timeout_ms;
} srv_t;

static int srv_init(srv_t *sv, const dubbo_url_t *url, const char *who);
static void srv_destroy(srv_t *sv);

/* ---- the registry ----------------------------------------------------- */

typedef struct {
    char *url;     /* the Dubbo URL, as registered */
    char *service; /* <category>:<interface>:<version>:<group> */
    char *ip;
    int port;
    char *metadata;  /* JSON object text */
    bool registered; /* Nacos acknowledged it (beats go out) */
} inst_t;

typedef struct {
    dubbo__sub_t base; /* the consumer URL, fn, user; removed: freed by the worker */
    char *names[2];    /* the service names polled */
    size_t nnames;
    char **others; /* categories with nothing in Nacos (delivered empty once) */
    size_t nothers;
    bool others_sent;
    dubbo__last_t last; /* the providers list delivered last */
    bool failing;       /* the last poll failed (log once per outage) */
    /* routers and configurators, from the config service */
    char *iface, *version, *sgroup, *app; /* of the consumer URL ("" when absent) */
    bool want_routers, want_confs;
    struct rule *rules; /* the configs followed (rule_t) */
    size_t nrules;
    dubbo__last_t last_routers, last_confs;
    /* node_watch (application-level discovery): 1 the mapping config named
     * names[0] (group "mapping"), 2 the instances of the application
     * names[0], delivered as instance JSON; 0 a subscription */
    int raw;
} sub_t;

typedef struct {
    dubbo_registry_t base;
    srv_t srv;
    char *group;
    long beat_ms, poll_ms;
    dubbo__nacos_config_t *cfg; /* routers and configurators are read through it */
    uint64_t config_off_until;  /* the config API refused: not asked before this */
    char *config_group;         /* their Nacos group (config-group, default dubbo) */
    bool reg_consumers;

    /* Registered instances; held across their HTTP calls. */
    pthread_mutex_t reg_mu;
    inst_t *insts;
    size_t ninsts, capinsts;
    CURL *reg_easy;

    /* Subscriptions and the worker (beats and polls). */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop, poll_now;
    dubbo__subs_t subs; /* of sub_t */
    pthread_t thread;
    CURL *poll_easy; /* the worker's */
} nacos_t;

static const char *endpoint(srv_t *r)
{
    return r->endpoints[atomic_load(&r->cur) % r->nendpoints];
}

/* Set `easy` up for one request to `ep`: `form` goes in the body of POST
 * and PUT (it must live until the request ends), in the query of GET and
 * DELETE; the body comes into *out; errors into errbuf. */
static int prepare(CURL *easy, const char *ep, const char *method, const char *path,
                   const char *form, const char *what, sbuf_t *out, long timeout_ms,
                   long connect_ms, char *errbuf)
{
    bool in_body = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
    sbuf_t url = {0};
    if (sbuf_str(&url, ep) || sbuf_str(&url, path) ||
        (!in_body && *form && (sbuf_add(&url, "?", 1) || sbuf_str(&url, form)))) {
        free(url.p);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos %s: %.300s: out of memory", ep, what);
    }
    errbuf[0] = '\0';
    dubbo__curl.easy_reset(easy);
    dubbo__curl.easy_setopt(easy, CURLOPT_URL, url.p); /* copied by libcurl */
    free(url.p);
    dubbo__curl.easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    dubbo__curl.easy_setopt(easy, CURLOPT_PROXY, ""); /* never through an http_proxy */
    if (in_body) {
        dubbo__curl.easy_setopt(easy, CURLOPT_POSTFIELDS, form);
        dubbo__curl.easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        dubbo__curl.easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    dubbo__curl.easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    dubbo__curl.easy_setopt(easy, CURLOPT_WRITEDATA, out);
    dubbo__curl.easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    dubbo__curl.easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    dubbo__curl.easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    return 0;
}

/* The error of a request libcurl could not complete. */
static int transport_error(CURLcode c, const char *ep, const char *what, const char *errbuf)
{
    int err = c == CURLE_COULDNT_CONNECT      ? -ECONNREFUSED
              : c == CURLE_OPERATION_TIMEDOUT ? DUBBO_ETIMEOUT
              : c == CURLE_OUT_OF_MEMORY      ? DUBBO_ENOMEM
                                              : DUBBO_EIO;
    return dubbo__seterr(err, "nacos %s: %.300s: %s", ep, what,
                         errbuf[0] ? errbuf : dubbo__curl.easy_strerror(c));
}

/* One request. 0 when Nacos answered (any status: *status, body in
 * *out); else the transport error, with a message naming the server and
 * `what`. */
static int http_once(srv_t *r, CURL *easy, const char *ep, const char *method, const char *path,
                     const char *form, const char *what, long *status, sbuf_t *out)
{
    char errbuf[CURL_ERROR_SIZE];
    *status = 0;
    int err =
        prepare(easy, ep, method, path, form, what, out, r->timeout_ms, r->timeout_ms, errbuf);
    if (err) return err;
    CURLcode c = dubbo__curl.easy_perform(easy);
    dubbo__curl.easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
    dubbo__curl.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, status);
    return c == CURLE_OK ? 0 : transport_error(c, ep, what, errbuf);
}

/* One request to the current endpoint, moving on to the next ones while
 * they cannot be reached. 0 when HTTP 200 (body in *out, free it); a
 * transport error; or, for another status, DUBBO_EIO (502-504: a server
 * starting or a proxy) or DUBBO_EREMOTE (Nacos refused), with a message
 * naming the server, `what` and Nacos's answer. *status is the status
 * (0 when none came). */
static int call(srv_t *r, CURL *easy, const char *method, const char *path, const char *form,
                const char *what, long *status, sbuf_t *out)
{
    int err = 0;
    for (size_t tries = 0; tries < r->nendpoints; tries++) {
        size_t idx = atomic_load(&r->cur) % r->nendpoints;
        free(out->p);
        *out = (sbuf_t){0};
        err = http_once(r, easy, r->endpoints[idx], method, path, form, what, status, out);
        if (err != -ECONNREFUSED && err != DUBBO_ETIMEOUT) break;
        atomic_compare_exchange_strong(&r->cur, &idx, (idx + 1) % r->nendpoints);
    }
    if (err) return err;
    if (*status == 200) return 0;
    char ans[256];
    answer_text(out, ans, sizeof(ans));
    return dubbo__seterr(*status >= 502 && *status <= 504 ? DUBBO_EIO : DUBBO_EREMOTE,
                         "nacos %s: %.300s: HTTP %ld: %s", endpoint(r), what, *status, ans);
}

/* Nacos's answer for something it does not know (0.x: "dom not found",
 * 1.x/2.x: code 20404 or "not found"). */
static bool says_not_found(long status, const sbuf_t *b)
{
    if (status == 404) return true;
    if (!b->p) return false;
    if (strstr(b->p, "not found") || strstr(b->p, "\"code\":20404")) return true;
    return false;
}

/* The parameters every naming call about a service carries. */
static int form_service(nacos_t *r, sbuf_t *f, const char *service)
{
    if (form_add(f, "serviceName", service) || form_add(f, "groupName", r->group)) return -1;
    return *r->srv.ns ? form_add(f, "namespaceId", r->srv.ns) : 0;
}

/* ---- config: /v1/cs/configs and its long-polling listener -------------- */

#define LONG_POLL_MS    30000 /* what Nacos's clients ask the server to hold */
#define CONFIG_RETRY_MS 60000 /* a config API that refused is asked again after */

/* Nacos's rule for dataIds and groups (its ParamUtils.isValid). */
static bool valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 256) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("-_.:", *p)))
            return false;
    return true;
}

int dubbo__nacos_config_reply(const char *op, const char *data_id, const char *group, long status,
                              const char *body, size_t len, char **content)
{
    if (content) *content = NULL;
    sbuf_t b = {(char *)body, len, len};
    char ans[256];
    answer_text(&b, ans, sizeof(ans));
    bool get = strcmp(op, "get") == 0;
    /* "config data not exist" (every version); another 404 is no Nacos */
    if (get && status == 404 && body && len < 256 && memmem(body, len, "not exist", 9)) return 0;
    if (status != 200)
        return dubbo__seterr(status >= 502 && status <= 504 ? DUBBO_EIO : DUBBO_EREMOTE,
                             "nacos config: %s dataId=%.200s group=%.200s: HTTP %ld: %s", op,
                             data_id, group, status, ans);
    if (!get) {
        /* publish and remove answer the text true (1.x/2.x: or JSON true) */
        size_t a = 0, e = len;
        while (a < e && (body[a] == ' ' || body[a] == '\n' || body[a] == '\r' || body[a] == '\t'))
            a++;
        while (e > a && (body[e - 1] == ' ' || body[e - 1] == '\n' || body[e - 1] == '\r' ||
                         body[e - 1] == '\t'))
            e--;
        if (e - a == 4 && memcmp(body + a, "true", 4) == 0) return 0;
        return dubbo__seterr(DUBBO_EREMOTE,
                             "nacos config: %s dataId=%.200s group=%.200s: the server answered "
                             "'%s', not true",
                             op, data_id, group, ans);
    }
    if (len > REPLY_LIMIT)
        return dubbo__seterr(DUBBO_ETOO_BIG,
                             "nacos config: get dataId=%.200s group=%.200s: %zu bytes exceed the "
                             "limit of %u",
                             data_id, group, len, REPLY_LIMIT);
    if (memchr(body, '\0', len))
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "nacos config: get dataId=%.200s group=%.200s: the content holds a "
                             "NUL byte at offset %zu",
                             data_id, group,
                             (size_t)((const char *)memchr(body, '\0', len) - body));
    if (content) {
        char *s = malloc(len + 1);
        if (!s)
            return dubbo__seterr(DUBBO_ENOMEM, "nacos config: get dataId=%.200s: out of memory",
                                 data_id);
        memcpy(s, body, len);
        s[len] = '\0';
        *content = s;
    }
    return 0;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int dubbo__nacos_changed_parse(const char *body, size_t len, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (len > REPLY_LIMIT)
        return dubbo__seterr(DUBBO_ETOO_BIG, "nacos config: listener answer of %zu bytes", len);
    /* the answer is URL-encoded once: dataId %02 group [%02 tenant] %01 ... */
    char *d = malloc(len + 1);
    if (!d) return dubbo__seterr(DUBBO_ENOMEM, "nacos config: listener answer: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (body[i] == '%') {
            int h = i + 2 < len ? hexval((unsigned char)body[i + 1]) : -1;
            int l = h >= 0 ? hexval((unsigned char)body[i + 2]) : -1;
            if (l < 0) {
                free(d);
                return dubbo__seterr(DUBBO_EMALFORMED,
                                     "nacos config: listener answer: bad %%-escape at offset %zu",
                                     i);
            }
            d[k++] = (char)(h * 16 + l);
            i += 2;
        } else {
            d[k++] = body[i] == '+' ? ' ' : body[i];
        }
    }
    d[k] = '\0';
    char **v = NULL;
    size_t m = 0;
    int err = 0;
    size_t line = 0;
    for (char *p = d; !err && p < d + k; line++) {
        char *end = memchr(p, '\x01', (size_t)(d + k - p));
        if (!end) {
            /* what Nacos sends ends every entry with %01; a tail without one
             * was cut off */
            while (p < d + k && (*p == '\r' || *p == '\n' || *p == ' '))
                p++;
            if (p == d + k) break;
            err = dubbo__seterr(DUBBO_EMALFORMED,
                                "nacos config: listener answer: entry %zu has no end (%%01)", line);
            break;
        }
        if (memchr(p, '\0', (size_t)(end - p))) {
            err = dubbo__seterr(DUBBO_EMALFORMED,
                                "nacos config: listener answer: entry %zu holds a NUL byte", line);
            break;
        }
        *end = '\0';
        char *f[4] = {p, NULL, NULL, NULL};
        int nf = 1;
        for (char *q = p; *q && nf < 4; q++)
            if (*q == '\x02') {
                *q = '\0';
                f[nf++] = q + 1;
            }
        bool extra = nf == 4;
        if (nf < 2 || extra || !valid_name(f[0]) || !valid_name(f[1])) {
            err = dubbo__seterr(DUBBO_EMALFORMED,
                                "nacos config: listener answer: entry %zu is not dataId^2group"
                                "[^2tenant] with Nacos's characters (dataId '%.100s')",
                                line, f[0]);
            break;
        }
        char **nv = realloc(v, (m + 2) * sizeof(char *));
        if (!nv) {
            err = dubbo__seterr(DUBBO_ENOMEM, "nacos config: listener answer: out of memory");
            break;
        }
        v = nv;
        v[m] = strdup(f[0]);
        v[m + 1] = strdup(f[1]);
        m += 2;
        if (!v[m - 2] || !v[m - 1])
            err = dubbo__seterr(DUBBO_ENOMEM, "nacos config: listener answer: out of memory");
        p = end + 1;
    }
    free(d);
    if (err) {
        strv_free(v, m);
        return err;
    }
    *out = v;
    *n = m / 2;
    return 0;
}

typedef struct {
    dubbo__nacos_config_fn fn;
    void *user;
    int refs; /* listen calls not matched by unlisten yet */
} cfg_listener_t;

typedef struct {
    char *data_id, *group;
    char md5[33];  /* of content; "" while absent, as Nacos compares it */
    char *content; /* NULL: absent */
    cfg_listener_t *ls;
    size_t nls;
} cfg_key_t;

struct dubbo__nacos_config {
    srv_t srv;
    long hold_ms;            /* Long-Pulling-Timeout asked of the server */
    pthread_mutex_t call_mu; /* callers' requests, on `easy` */
    CURL *easy;

    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cond;
    cfg_key_t **keys; /* listened to */
    size_t nkeys;
    uint64_t gen; /* bumped when the keys change: the long poll starts again */
    bool stop, started, dispatching, failing;
    pthread_t thread;
    CURLM *multi;
    CURL *poll_easy, *fetch_easy; /* the thread's */
};

/* dataId, group (and tenant) of every config call. */
static int form_config(const dubbo__nacos_config_t *c, sbuf_t *f, const char *data_id,
                       const char *group)
{
    if (form_add(f, "dataId", data_id) || form_add(f, "group", group)) return -1;
    return *c->srv.ns ? form_add(f, "tenant", c->srv.ns) : 0;
}

static int check_names(const char *op, const char *data_id, const char *group)
{
    if (!valid_name(data_id) || !valid_name(group))
        return dubbo__seterr(DUBBO_EINVAL,
                             "nacos config: %s dataId=%.200s group=%.200s: Nacos takes 1-256 "
                             "letters, digits and -_.: in both",
                             op, data_id ? data_id : "(null)", group ? group : "(null)");
    return 0;
}

/* GET one config with `easy`: 0 and *content (NULL when absent). */
static int cfg_fetch(dubbo__nacos_config_t *c, CURL *easy, const char *data_id, const char *group,
                     char **content)
{
    *content = NULL;
    sbuf_t f = {0}, body = {0};
    if (form_config(c, &f, data_id, group)) {
        free(f.p);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos config: out of memory");
    }
    char what[600];
    snprintf(what, sizeof(what), "get config dataId=%.200s group=%.200s", data_id, group);
    long status = 0;
    int err = call(&c->srv, easy, "GET", "/v1/cs/configs", f.p, what, &status, &body);
    free(f.p);
    if (!err || err == DUBBO_EREMOTE || err == DUBBO_EIO) {
        if (!err || status) {
            char msg[700] = "";
            if (err) snprintf(msg, sizeof(msg), "%s", dubbo_last_error());
            err = dubbo__nacos_config_reply("get", data_id, group, status, body.p ? body.p : "",
                                            body.len, content);
            if (err && *msg) dubbo__seterr(err, "%s", msg); /* names the server */
        }
    }
    free(body.p);
    return err;
}

int dubbo__nacos_config_get(dubbo__nacos_config_t *c, const char *data_id, const char *group,
                            char **content)
{
    *content = NULL;
    int err = check_names("get", data_id, group);
    if (err) return err;
    pthread_mutex_lock(&c->call_mu);
    err = cfg_fetch(c, c->easy, data_id, group, content);
    pthread_mutex_unlock(&c->call_mu);
    return err;
}

/* POST (publish) or DELETE (remove); Nacos answers true. */
static int cfg_write(dubbo__nacos_config_t *c, const char *op, const char *data_id,
                     const char *group, const char *content)
{
    int err = check_names(op, data_id, group);
    if (err) return err;
    if (content && !*content)
        return dubbo__seterr(DUBBO_EINVAL,
                             "nacos config: publish dataId=%.200s group=%.200s: empty content "
                             "(Nacos refuses it; remove the config instead)",
                             data_id, group);
    sbuf_t f = {0}, body = {0};
    if (form_config(c, &f, data_id, group) || (content && form_add(&f, "content", content))) {
        free(f.p);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos config: out of memory");
    }
    char what[600];
    snprintf(what, sizeof(what), "%s config dataId=%.200s group=%.200s", op, data_id, group);
    long status = 0;
    pthread_mutex_lock(&c->call_mu);
    err = call(&c->srv, c->easy, content ? "POST" : "DELETE", "/v1/cs/configs", f.p, what, &status,
               &body);
    pthread_mutex_unlock(&c->call_mu);
    free(f.p);
    if (!err) err = dubbo__nacos_config_reply(op, data_id, group, status, body.p, body.len, NULL);
    free(body.p);
    return err;
}

int dubbo__nacos_config_publish(dubbo__nacos_config_t *c, const char *data_id, const char *group,
                                const char *content)
{
    if (!content) content = "";
    return cfg_write(c, "publish", data_id, group, content);
}

int dubbo__nacos_config_remove(dubbo__nacos_config_t *c, const char *data_id, const char *group)
{
    return cfg_write(c, "remove", data_id, group, NULL);
}

/* mu held. */
static cfg_key_t *key_find(dubbo__nacos_config_t *c, const char *data_id, const char *group)
{
    for (size_t i = 0; i < c->nkeys; i++)
        if (strcmp(c->keys[i]->data_id, data_id) == 0 && strcmp(c->keys[i]->group, group) == 0)
            return c->keys[i];
    return NULL;
}

static void key_free(cfg_key_t *k)
{
    if (!k) return;
    free(k->data_id);
    free(k->group);
    free(k->content);
    free(k->ls);
    free(k);
}

static void set_content(cfg_key_t *k, char *content)
{
    free(k->content);
    k->content = content;
    if (content)
        dubbo__md5_hex(content, strlen(content), k->md5);
    else
        k->md5[0] = '\0';
}

/* The Listening-Configs form of every key: dataId^2group^2md5[^2tenant]^1. */
static char *listening_form(dubbo__nacos_config_t *c)
{
    sbuf_t line = {0}, f = {0};
    bool oom = false;
    for (size_t i = 0; !oom && i < c->nkeys; i++) {
        const cfg_key_t *k = c->keys[i];
        oom = sbuf_str(&line, k->data_id) || sbuf_add(&line, "\x02", 1) ||
              sbuf_str(&line, k->group) || sbuf_add(&line, "\x02", 1) || sbuf_str(&line, k->md5) ||
              (*c->srv.ns && (sbuf_add(&line, "\x02", 1) || sbuf_str(&line, c->srv.ns))) ||
              sbuf_add(&line, "\x01", 1);
    }
    oom = oom || !line.p || form_add(&f, "Listening-Configs", line.p);
    free(line.p);
    if (oom) {
        free(f.p);
        return NULL;
    }
    return f.p;
}

/* One long poll, on the thread's multi handle: 0 with the answer in *out;
 * 1 when the keys changed or the client stops meanwhile (the request is
 * dropped); else the transport error or Nacos's refusal. */
static int long_poll(dubbo__nacos_config_t *c, const char *form, uint64_t gen, sbuf_t *out)
{
    const char *ep = endpoint(&c->srv);
    char errbuf[CURL_ERROR_SIZE], hold[64];
    snprintf(hold, sizeof(hold), "Long-Pulling-Timeout: %ld", c->hold_ms);
    struct curl_slist *hdrs = dubbo__curl.slist_append(NULL, hold);
    if (!hdrs) return dubbo__seterr(DUBBO_ENOMEM, "nacos config: out of memory");
    int err =
        prepare(c->poll_easy, ep, "POST", "/v1/cs/configs/listener", form, "config listener", out,
                c->hold_ms + c->hold_ms / 2 + c->srv.timeout_ms, c->srv.timeout_ms, errbuf);
    if (err) {
        dubbo__curl.slist_free_all(hdrs);
        return err;
    }
    dubbo__curl.easy_setopt(c->poll_easy, CURLOPT_HTTPHEADER, hdrs);
    dubbo__curl.multi_add_handle(c->multi, c->poll_easy);
    CURLcode res = CURLE_OK;
    bool done = false, dropped = false;
    while (!done && !dropped) {
        int running;
        dubbo__curl.multi_perform(c->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = dubbo__curl.multi_info_read(c->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == c->poll_easy) {
                res = m->data.result;
                done = true;
            }
        if (done) break;
        pthread_mutex_lock(&c->mu);
        dropped = c->stop || c->gen != gen;
        pthread_mutex_unlock(&c->mu);
        if (!dropped) dubbo__curl.multi_poll(c->multi, NULL, 0, 1000, NULL);
    }
    long status = 0;
    dubbo__curl.easy_getinfo(c->poll_easy, CURLINFO_RESPONSE_CODE, &status);
    dubbo__curl.multi_remove_handle(c->multi, c->poll_easy);
    dubbo__curl.easy_setopt(c->poll_easy, CURLOPT_ERRORBUFFER, NULL);
    dubbo__curl.easy_setopt(c->poll_easy, CURLOPT_HTTPHEADER, NULL);
    dubbo__curl.slist_free_all(hdrs);
    if (dropped) return 1;
    if (res != CURLE_OK) {
        /* the next endpoint for the next try */
        size_t idx = atomic_load(&c->srv.cur) % c->srv.nendpoints;
        atomic_compare_exchange_strong(&c->srv.cur, &idx, (idx + 1) % c->srv.nendpoints);
        return transport_error(res, ep, "config listener", errbuf);
    }
    if (status == 200) return 0;
    char ans[256];
    answer_text(out, ans, sizeof(ans));
    return dubbo__seterr(status >= 502 && status <= 504 ? DUBBO_EIO : DUBBO_EREMOTE,
                         "nacos %s: config listener: HTTP %ld: %s", ep, status, ans);
}

/* A key the listener reported: fetch it, and tell its listeners when it
 * changed. Runs on the thread. False when it had not changed. */
static bool refresh(dubbo__nacos_config_t *c, const char *data_id, const char *group)
{
    char *content = NULL;
    int err = cfg_fetch(c, c->fetch_easy, data_id, group, &content);
    if (err) {
        DLOG_WARN("%s; tried again with the next answer", dubbo_last_error());
        return false;
    }
    char md5[33] = "";
    if (content) dubbo__md5_hex(content, strlen(content), md5);
    pthread_mutex_lock(&c->mu);
    cfg_key_t *k = key_find(c, data_id, group);
    if (!k || strcmp(k->md5, md5) == 0) {
        pthread_mutex_unlock(&c->mu);
        free(content);
        return !k;
    }
    set_content(k, content);
    size_t n = k->nls;
    cfg_listener_t *ls = n ? malloc(n * sizeof(*ls)) : NULL;
    char *copy = ls && k->content ? strdup(k->content) : NULL;
    if (ls) memcpy(ls, k->ls, n * sizeof(*ls));
    if (!ls || (k->content && !copy)) n = 0; /* out of memory: the cached copy is right */
    c->dispatching = n > 0;
    pthread_mutex_unlock(&c->mu);
    DLOG_INFO("nacos config: dataId=%s group=%s %s", data_id, group,
              content ? "changed" : "removed");
    for (size_t i = 0; i < n; i++)
        ls[i].fn(ls[i].user, data_id, group, copy);
    free(ls);
    free(copy);
    pthread_mutex_lock(&c->mu);
    c->dispatching = false;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    return true;
}

/* mu not held. Wait ms, or less when the keys change or the client stops. */
static void cfg_pause(dubbo__nacos_config_t *c, uint64_t gen, long ms)
{
    pthread_mutex_lock(&c->mu);
    struct timespec ts;
    dubbo__deadline(&ts, CLOCK_MONOTONIC, (uint64_t)ms);
    while (!c->stop && c->gen == gen &&
           pthread_cond_timedwait(&c->cond, &c->mu, &ts) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&c->mu);
}

/* The listener thread: long polls while there are keys, keeps their MD5s
 * across failures and reconnects after 1 s, then 2, 4, ... up to 30 s. */
static void *cfg_worker(void *arg)
{
    dubbo__nacos_config_t *c = arg;
    long backoff = 0;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (!c->stop && !c->nkeys)
            pthread_cond_wait(&c->cond, &c->mu);
        if (c->stop) {
            pthread_mutex_unlock(&c->mu);
            break;
        }
        uint64_t gen = c->gen;
        char *form = listening_form(c);
        pthread_mutex_unlock(&c->mu);
        sbuf_t out = {0};
        int rc = form ? long_poll(c, form, gen, &out)
                      : dubbo__seterr(DUBBO_ENOMEM, "nacos config: out of memory");
        free(form);
        char **changed = NULL;
        size_t n = 0;
        if (rc == 0) rc = dubbo__nacos_changed_parse(out.p ? out.p : "", out.len, &changed, &n);
        free(out.p);
        if (rc < 0) {
            if (!c->failing) DLOG_WARN("%s; listening again, config kept", dubbo_last_error());
            c->failing = true;
            backoff = backoff ? (backoff * 2 > 30000 ? 30000 : backoff * 2) : 1000;
            cfg_pause(c, gen, backoff);
            continue;
        }
        if (rc == 0 && c->failing) DLOG_INFO("nacos config: listening again");
        if (rc == 0) {
            c->failing = false;
            backoff = 0;
        }
        bool any = false;
        for (size_t i = 0; i < n; i++)
            any |= refresh(c, changed[2 * i], changed[2 * i + 1]);
        strv_free(changed, 2 * n);
        /* "changed" yet the same content (an MD5 the server computes
         * otherwise, a fetch that failed): not at once again */
        if (n && !any) cfg_pause(c, gen, 1000);
    }
    return NULL;
}

int dubbo__nacos_config_listen(dubbo__nacos_config_t *c, const char *data_id, const char *group,
                               dubbo__nacos_config_fn fn, void *user, char **content)
{
    if (content) *content = NULL;
    int err = check_names("listen to", data_id, group);
    if (err) return err;
    if (!fn) return dubbo__seterr(DUBBO_EINVAL, "nacos config: listen without a callback");
    pthread_mutex_lock(&c->mu);
    cfg_key_t *k = key_find(c, data_id, group);
    pthread_mutex_unlock(&c->mu);
    char *now = NULL;
    if (!k) {
        /* the first listener reads it now, so that it starts from the
         * current content and the long poll from its MD5 */
        err = dubbo__nacos_config_get(c, data_id, group, &now);
        if (err) return err;
    }
    pthread_mutex_lock(&c->mu);
    if (!c->started) {
        if (pthread_create(&c->thread, NULL, cfg_worker, c)) {
            pthread_mutex_unlock(&c->mu);
            free(now);
            return dubbo__seterr(DUBBO_EIO, "nacos config: cannot start the listener thread");
        }
        c->started = true;
    }
    k = key_find(c, data_id, group);
    bool oom = false;
    if (!k) {
        cfg_key_t **nk = realloc(c->keys, (c->nkeys + 1) * sizeof(*nk));
        if (nk) c->keys = nk;
        k = nk ? calloc(1, sizeof(*k)) : NULL;
        if (k) {
            k->data_id = strdup(data_id);
            k->group = strdup(group);
        }
        if (!k || !k->data_id || !k->group) {
            key_free(k);
            k = NULL;
            oom = true;
        } else {
            set_content(k, now);
            now = NULL;
            c->keys[c->nkeys++] = k;
            c->gen++;
        }
    }
    free(now);
    cfg_listener_t *l = NULL;
    for (size_t i = 0; k && i < k->nls && !l; i++)
        if (k->ls[i].fn == fn && k->ls[i].user == user) l = &k->ls[i];
    if (k && !l) {
        cfg_listener_t *nl = realloc(k->ls, (k->nls + 1) * sizeof(*nl));
        if (nl) {
            k->ls = nl;
            l = &k->ls[k->nls++];
            *l = (cfg_listener_t){fn, user, 0};
        } else {
            oom = true;
        }
    }
    if (l) l->refs++;
    if (!oom && content && k->content && !(*content = strdup(k->content))) oom = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    if (c->multi) dubbo__curl.multi_wakeup(c->multi);
    if (oom) {
        if (l) dubbo__nacos_config_unlisten(c, data_id, group, fn, user);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos config: listen to dataId=%.200s: out of memory",
                             data_id);
    }
    return 0;
}

int dubbo__nacos_config_unlisten(dubbo__nacos_config_t *c, const char *data_id, const char *group,
                                 dubbo__nacos_config_fn fn, void *user)
{
    pthread_mutex_lock(&c->mu);
    cfg_key_t *k = data_id && group ? key_find(c, data_id, group) : NULL;
    size_t i = 0;
    while (k && i < k->nls && !(k->ls[i].fn == fn && k->ls[i].user == user))
        i++;
    if (!k || i == k->nls) {
        pthread_mutex_unlock(&c->mu);
        return dubbo__seterr(DUBBO_ENOT_FOUND,
                             "nacos config: dataId=%.200s group=%.200s has no such listener",
                             data_id ? data_id : "(null)", group ? group : "(null)");
    }
    if (--k->ls[i].refs == 0) k->ls[i] = k->ls[--k->nls];
    if (!k->nls) {
        for (size_t j = 0; j < c->nkeys; j++)
            if (c->keys[j] == k) c->keys[j] = c->keys[--c->nkeys];
        key_free(k);
        c->gen++;
    }
    /* a callback in progress may be this one's: wait for it, unless this
     * runs inside it */
    while (c->dispatching && c->started && !pthread_equal(pthread_self(), c->thread))
        pthread_cond_wait(&c->cond, &c->mu);
    pthread_mutex_unlock(&c->mu);
    if (c->multi) dubbo__curl.multi_wakeup(c->multi);
    return 0;
}

int dubbo__nacos_config_cached(dubbo__nacos_config_t *c, const char *data_id, const char *group,
                               char **content)
{
    *content = NULL;
    pthread_mutex_lock(&c->mu);
    cfg_key_t *k = key_find(c, data_id, group);
    int err = 0;
    if (!k)
        err = dubbo__seterr(DUBBO_ENOT_FOUND,
                            "nacos config: dataId=%.200s group=%.200s is not listened to", data_id,
                            group);
    else if (k->content && !(*content = strdup(k->content)))
        err = dubbo__seterr(DUBBO_ENOMEM, "nacos config: out of memory");
    pthread_mutex_unlock(&c->mu);
    return err;
}

static dubbo__nacos_config_t *cfg_create(const dubbo_url_t *url)
{
    if (curl_acquire()) return NULL;
    dubbo__nacos_config_t *c = calloc(1, sizeof(*c));
    if (!c) {
        curl_release();
        dubbo__seterr(DUBBO_ENOMEM, "nacos config: out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->call_mu, NULL);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (srv_init(&c->srv, url, "nacos config")) {
        c->srv = (srv_t){0};
        dubbo__nacos_config_free(c);
        return NULL;
    }
    c->hold_ms = dubbo_url_param_int(url, "config-long-poll", LONG_POLL_MS);
    if (c->hold_ms < 10000) c->hold_ms = 10000; /* Nacos holds a request that long anyway */
    c->easy = dubbo__curl.easy_init();
    c->poll_easy = dubbo__curl.easy_init();
    c->fetch_easy = dubbo__curl.easy_init();
    c->multi = dubbo__curl.multi_init();
    if (!c->easy || !c->poll_easy || !c->fetch_easy || !c->multi) {
        dubbo__nacos_config_free(c);
        dubbo__seterr(DUBBO_ENOMEM, "nacos config: out of memory");
        return NULL;
    }
    return c;
}

dubbo__nacos_config_t *dubbo__nacos_config_new(const char *url)
{
    dubbo_url_t *u = dubbo_url_parse(url);
    if (!u) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s", dubbo_last_error());
        dubbo__seterr(DUBBO_EINVAL, "nacos config: %s", msg);
        return NULL;
    }
    dubbo__nacos_config_t *c = cfg_create(u);
    dubbo_url_free(u);
    return c;
}

void dubbo__nacos_config_free(dubbo__nacos_config_t *c)
{
    if (!c) return;
    if (c->started) {
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->mu);
        dubbo__curl.multi_wakeup(c->multi);
        pthread_join(c->thread, NULL);
    }
    for (size_t i = 0; i < c->nkeys; i++)
        key_free(c->keys[i]);
    free(c->keys);
    if (c->easy) dubbo__curl.easy_cleanup(c->easy);
    if (c->poll_easy) dubbo__curl.easy_cleanup(c->poll_easy);
    if (c->fetch_easy) dubbo__curl.easy_cleanup(c->fetch_easy);
    if (c->multi) dubbo__curl.multi_cleanup(c->multi);
    srv_destroy(&c->srv);
    pthread_mutex_destroy(&c->call_mu);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
    free(c);
    curl_release();
}

/* ---- registering ------------------------------------------------------ */

static void inst_clear(inst_t *in)
{
    free(in->url);
    free(in->service);
    free(in->ip);
    free(in->metadata);
    *in = (inst_t){0};
}

/* The Nacos instance of a Dubbo URL. 0, DUBBO_EINVAL for a URL that is not
 * one, or 1 for a consumer URL this registry does not register. */
static int inst_make(nacos_t *r, const char *url, inst_t *in)
{
    *in = (inst_t){0};
    dubbo_url_t *u = dubbo_url_parse(url);
    if (!u) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s", dubbo_last_error());
        return dubbo__seterr(DUBBO_EINVAL, "nacos registry: %s", msg);
    }
    const char *iface = dubbo_url_param(u, "interface", u->path);
    if (!iface || !*iface) {
        dubbo_url_free(u);
        return dubbo__seterr(DUBBO_EINVAL, "nacos registry: %.300s names no interface", url);
    }
    bool consumer = strcmp(u->protocol, "consumer") == 0 ||
                    strcmp(dubbo_url_param(u, "side", ""), "consumer") == 0;
    if (consumer && !r->reg_consumers) {
        dubbo_url_free(u);
        return 1;
    }
    const char *cat = dubbo_url_param(u, "category", NULL);
    if (!cat || !*cat || strchr(cat, ',')) cat = consumer ? "consumers" : "providers";
    json_t *meta = json_object();
    for (size_t i = 0; meta && i < u->nparams; i++)
        json_object_set_new(meta, u->params[i].key, json_string(u->params[i].value));
    if (meta) {
        json_object_set_new(meta, "category", json_string(cat));
        json_object_set_new(meta, "protocol", json_string(u->protocol));
        json_object_set_new(meta, "path", json_string(u->path ? u->path : ""));
    }
    in->metadata = meta ? json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(meta);
    if (asprintf(&in->service, "%s:%s:%s:%s", cat, iface, dubbo_url_param(u, "version", ""),
                 dubbo_url_param(u, "group", "")) < 0)
        in->service = NULL;
    in->url = strdup(url);
    in->ip = strdup(u->host ? u->host : "");
    in->port = u->port;
    dubbo_url_free(u);
    if (!in->metadata || !in->service || !in->url || !in->ip) {
        inst_clear(in);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    }
    return 0;
}

static int form_instance(nacos_t *r, sbuf_t *f, const inst_t *in)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", in->port);
    return form_service(r, f, in->service) || form_add(f, "ip", in->ip) ||
           form_add(f, "port", port) || form_add(f, "clusterName", CLUSTER) ||
           form_add(f, "ephemeral", "true");
}

static int do_register(nacos_t *r, inst_t *in)
{
    sbuf_t f = {0}, out = {0};
    char what[400];
    snprintf(what, sizeof(what), "register %s:%d in %s", in->ip, in->port, in->service);
    if (form_instance(r, &f, in) || form_add(&f, "weight", "1.0") ||
        form_add(&f, "enabled", "true") || form_add(&f, "healthy", "true") ||
        form_add(&f, "metadata", in->metadata)) {
        free(f.p);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    }
    long status;
    int err = call(&r->srv, r->reg_easy, "POST", "/v1/ns/instance", f.p, what, &status, &out);
    free(f.p);
    free(out.p);
    if (!err) in->registered = true;
    return err;
}

static int do_deregister(nacos_t *r, const inst_t *in)
{
    sbuf_t f = {0}, out = {0};
    char what[400];
    snprintf(what, sizeof(what), "deregister %s:%d from %s", in->ip, in->port, in->service);
    if (form_instance(r, &f, in)) {
        free(f.p);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    }
    long status;
    int err = call(&r->srv, r->reg_easy, "DELETE", "/v1/ns/instance", f.p, what, &status, &out);
    if (err == DUBBO_EREMOTE && says_not_found(status, &out)) err = 0; /* gone already */
    free(f.p);
    free(out.p);
    return err;
}

/* One heartbeat. *lost when Nacos no longer knows the instance. */
static int do_beat(nacos_t *r, const inst_t *in, bool *lost)
{
    *lost = false;
    json_error_t je;
    json_t *meta = json_loads(in->metadata, 0, &je);
    json_t *beat =
        json_pack("{s:s, s:s, s:i, s:o, s:s, s:f, s:b, s:b}", "cluster", CLUSTER, "ip", in->ip,
                  "port", in->port, "metadata", meta ? meta : json_object(), "serviceName",
                  in->service, "weight", 1.0, "scheduled", 0, "stopped", 0);
    char *bj = beat ? json_dumps(beat, JSON_COMPACT) : NULL;
    json_decref(beat);
    sbuf_t f = {0}, out = {0};
    if (!bj || form_instance(r, &f, in) || form_add(&f, "beat", bj)) {
        free(bj);
        free(f.p);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    }
    free(bj);
    char what[400];
    snprintf(what, sizeof(what), "beat %s:%d in %s", in->ip, in->port, in->service);
    long status;
    int err = call(&r->srv, r->reg_easy, "PUT", "/v1/ns/instance/beat", f.p, what, &status, &out);
    free(f.p);
    if (!err) {
        /* {"clientBeatInterval":5000,"code":10200,...}; 20404: not registered */
        json_t *j = out.p ? json_loadb(out.p, out.len, 0, &je) : NULL;
        *lost = json_integer_value(json_object_get(j, "code")) == 20404;
        json_decref(j);
    } else if (err == DUBBO_EREMOTE) {
        /* 0.x answers a beat of a service it lost with HTTP 500; register
         * again either way: POST is idempotent */
        *lost = true;
        DLOG_DEBUG("%s; registering again", dubbo_last_error());
        err = 0;
    }
    free(out.p);
    return err;
}

static inst_t *inst_find(nacos_t *r, const inst_t *in)
{
    for (size_t i = 0; i < r->ninsts; i++)
        if (strcmp(r->insts[i].service, in->service) == 0 && strcmp(r->insts[i].ip, in->ip) == 0 &&
            r->insts[i].port == in->port)
            return &r->insts[i];
    return NULL;
}

static int reg_inst(nacos_t *r, inst_t *inp);

static int nacos_reg(dubbo_registry_t *base, const char *url)
{
    nacos_t *r = (nacos_t *)base;
    inst_t in;
    int rc = inst_make(r, url, &in);
    if (rc == 1) {
        DLOG_DEBUG("nacos registry: not registering consumer %s (register-consumer-url=false, "
                   "as Java Dubbo 3)",
                   url);
        return 0;
    }
    if (rc) return rc;
    return reg_inst(r, &in);
}

/* Registers `in` (taken) and keeps it registered with heartbeats. */
static int reg_inst(nacos_t *r, inst_t *inp)
{
    inst_t in = *inp;
    pthread_mutex_lock(&r->reg_mu);
    inst_t *cur = inst_find(r, &in);
    if (cur && cur->registered && strcmp(cur->metadata, in.metadata) == 0) {
        pthread_mutex_unlock(&r->reg_mu);
        inst_clear(&in);
        return 0;
    }
    if (!cur) {
        if (r->ninsts == r->capinsts) {
            size_t cap = r->capinsts ? r->capinsts * 2 : 8;
            inst_t *p = realloc(r->insts, cap * sizeof(inst_t));
            if (!p) {
                pthread_mutex_unlock(&r->reg_mu);
                inst_clear(&in);
                return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
            }
            r->insts = p;
            r->capinsts = cap;
        }
        cur = &r->insts[r->ninsts++];
    } else {
        inst_clear(cur); /* the same instance with new metadata */
    }
    *cur = in;
    int err = do_register(r, cur);
    char *cur_url = strdup(cur->url);
    if (err && !transient(err)) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s", dubbo_last_error());
        inst_clear(cur);
        *cur = r->insts[--r->ninsts];
        pthread_mutex_unlock(&r->reg_mu);
        free(cur_url);
        return dubbo__seterr(err, "%s", msg);
    }
    pthread_mutex_unlock(&r->reg_mu);
    if (err) /* down is not an error: the worker registers it when Nacos is back */
        DLOG_WARN("%s; %s will be registered when Nacos is back", dubbo_last_error(),
                  cur_url ? cur_url : "the instance");
    free(cur_url);
    return 0;
}

/* Withdraw at once; when Nacos cannot be reached, the instance expires as
 * its beats stop. */
static int nacos_unreg(dubbo_registry_t *base, const char *url)
{
    nacos_t *r = (nacos_t *)base;
    inst_t in;
    int rc = inst_make(r, url, &in);
    if (rc == 1) return 0;
    if (rc) return rc;
    pthread_mutex_lock(&r->reg_mu);
    inst_t *cur = inst_find(r, &in);
    if (cur) {
        inst_clear(cur);
        *cur = r->insts[--r->ninsts];
    }
    int err = do_deregister(r, &in);
    pthread_mutex_unlock(&r->reg_mu);
    inst_clear(&in);
    if (err && transient(err)) {
        DLOG_WARN("%s; the instance expires without heartbeats", dubbo_last_error());
        return 0;
    }
    return err;
}

/* Beat every instance; register those Nacos does not have. */
static int beat_all(nacos_t *r)
{
    pthread_mutex_lock(&r->reg_mu);
    int first = 0;
    for (size_t i = 0; i < r->ninsts; i++) {
        inst_t *in = &r->insts[i];
        bool lost = !in->registered;
        int err = in->registered ? do_beat(r, in, &lost) : 0;
        if (!err && lost) {
            if (in->registered)
                DLOG_INFO("nacos %s: %s:%d is gone from %s; registering it again",
                          endpoint(&r->srv), in->ip, in->port, in->service);
            in->registered = false;
            err = do_register(r, in);
        }
        if (err && !first) first = err;
        if (err && transient(err)) break; /* the rest waits for the next round */
        if (err) DLOG_ERROR("%s", dubbo_last_error());
    }
    pthread_mutex_unlock(&r->reg_mu);
    if (first && transient(first)) return first;
    return 0;
}

/* ---- subscribing ------------------------------------------------------ */

/* The merged, sorted list of `names` (with `easy`); a name Nacos does not
 * know counts as empty. */
static int poll_names(nacos_t *r, CURL *easy, char *const *names, size_t nnames, char ***out,
                      size_t *n)
{
    char **v = NULL;
    size_t m = 0, cap = 0;
    int err = 0;
    for (size_t i = 0; !err && i < nnames; i++) {
        sbuf_t f = {0}, body = {0};
        if (form_service(r, &f, names[i]) || form_add(&f, "clusters", "") ||
            form_add(&f, "healthyOnly", "false")) {
            free(f.p);
            err = dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
            break;
        }
        char what[400];
        snprintf(what, sizeof(what), "instance list of %s", names[i]);
        long status;
        err = call(&r->srv, easy, "GET", "/v1/ns/instance/list", f.p, what, &status, &body);
        free(f.p);
        if (err == DUBBO_EREMOTE && says_not_found(status, &body))
            err = 0; /* nobody registered it yet */
        else if (!err) {
            char what2[440];
            snprintf(what2, sizeof(what2), "%s %s", endpoint(&r->srv), what);
            err = hosts_urls(body.p ? body.p : "", body.len, what2, &v, &m, &cap);
        }
        free(body.p);
    }
    if (err) {
        strv_free(v, m);
        return err;
    }
    sort_unique(v, &m);
    *out = v;
    *n = m;
    return 0;
}

/* ---- rules from the config service -------------------------------------- */

/* A config a subscription follows: a router rule or configurators. */
typedef struct rule {
    const char *router;   /* the URL scheme: condition, tag or configurator */
    const char *category; /* routers or configurators */
    const char *scope;    /* application or service */
    char *key;            /* the rule's key: an application or <interface>:<version>:<group> */
    char *data_id, *group;
} rule_t;

static void rule_clear(rule_t *rl)
{
    free(rl->key);
    free(rl->data_id);
    free(rl->group);
}

static void rules_free(rule_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        rule_clear(&v[i]);
    free(v);
}

/* The config service told of a change: every subscription looks again. */
static void on_rule(void *user, const char *data_id, const char *group, const char *content)
{
    (void)data_id;
    (void)group;
    (void)content;
    nacos_t *r = user;
    pthread_mutex_lock(&r->mu);
    r->poll_now = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static int rule_add(rule_t **v, size_t *n, const char *router, const char *category,
                    const char *scope, const char *key, const char *data_id, const char *group)
{
    if (!valid_name(data_id) || !valid_name(group)) {
        DLOG_DEBUG("nacos registry: no %s rule for %s (dataId %.200s: Nacos does not take its "
                   "characters)",
                   router, key, data_id);
        return 0;
    }
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].data_id, data_id) == 0 && strcmp((*v)[i].group, group) == 0 &&
            strcmp((*v)[i].router, router) == 0)
            return 0;
    rule_t *nv = realloc(*v, (*n + 1) * sizeof(rule_t));
    if (!nv) return -1;
    *v = nv;
    rule_t *rl = &nv[*n];
    *rl = (rule_t){router, category, scope, strdup(key), strdup(data_id), strdup(group)};
    if (!rl->key || !rl->data_id || !rl->group) {
        rule_clear(rl);
        return -1;
    }
    (*n)++;
    return 0;
}

/* What a subscription reads from the config service, in the order its
 * subscribers apply them (a later rule of the same router and scope
 * wins, so Java's keys come after seed 001's):
 *   routers        seed 001 (dubbo-rust): dataId application, group condition
 *                  (application scope) and group tag; dataId <interface>,
 *                  group condition;
 *                  Java (group config-group, default dubbo):
 *                  <interface>.condition-router, <interface>.tag-router,
 *                  <interface>:<version>:<group>.condition-router,
 *                  <application>.condition-router, and <app>.tag-router of
 *                  each provider's application
 *   configurators  <application>.configurators,
 *                  <interface>:<version>:<group>.configurators, and
 *                  <app>.configurators of each provider's application */
static int rules_wanted(const nacos_t *r, const sub_t *s, char *const *providers, size_t np,
                        rule_t **out, size_t *n)
{
    rule_t *v = NULL;
    size_t m = 0;
    const char *cg = r->config_group;
    char *skey = NULL, *id = NULL;
    bool oom = asprintf(&skey, "%s:%s:%s", s->iface, s->version, s->sgroup) < 0;
    if (oom) skey = NULL;
#define ADD(router, cat, scope, key, did, grp)                                                     \
    oom = oom || rule_add(&v, &m, router, cat, scope, key, did, grp)
#define ADDF(router, cat, scope, key, fmt, arg)                                                    \
    do {                                                                                           \
        if (!oom && asprintf(&id, fmt, arg) < 0) id = NULL, oom = true;                            \
        ADD(router, cat, scope, key, id, cg);                                                      \
        free(id);                                                                                  \
        id = NULL;                                                                                 \
    } while (0)
    if (s->want_routers && !oom) {
        ADD("condition", "routers", "application", "application", "application", "condition");
        ADD("condition", "routers", "service", s->iface, s->iface, "condition");
        ADD("tag", "routers", "application", "application", "application", "tag");
        ADDF("condition", "routers", "service", s->iface, "%s.condition-router", s->iface);
        ADDF("tag", "routers", "service", s->iface, "%s.tag-router", s->iface);
        ADDF("condition", "routers", "service", skey, "%s.condition-router", skey);
        if (*s->app)
            ADDF("condition", "routers", "application", s->app, "%s.condition-router", s->app);
    }
    if (s->want_confs && !oom) {
        if (*s->app)
            ADDF("configurator", "configurators", "application", s->app, "%s.configurators",
                 s->app);
        ADDF("configurator", "configurators", "service", skey, "%s.configurators", skey);
    }
    /* per provider application: its tag rule, and its configurators, whose
     * provider-side rules the directory applies for the providers (as the
     * ZooKeeper registry; docs/configurators.md) */
    for (size_t i = 0; (s->want_routers || s->want_confs) && i < np && !oom; i++) {
        dubbo_url_t *u = dubbo_url_parse(providers[i]);
        const char *pa = u ? dubbo_url_param(u, "application", "") : "";
        if (*pa && s->want_routers) ADDF("tag", "routers", "application", pa, "%s.tag-router", pa);
        if (*pa && s->want_confs && strcmp(pa, s->app) != 0)
            ADDF("configurator", "configurators", "application", pa, "%s.configurators", pa);
        dubbo_url_free(u);
    }
#undef ADD
#undef ADDF
    free(skey);
    if (oom) {
        rules_free(v, m);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    }
    *out = v;
    *n = m;
    return 0;
}

static bool same_config(const rule_t *a, const rule_t *b)
{
    return strcmp(a->data_id, b->data_id) == 0 && strcmp(a->group, b->group) == 0;
}

static bool listened(const rule_t *v, size_t n, const rule_t *rl)
{
    for (size_t k = 0; k < n; k++)
        if (same_config(&v[k], rl)) return true;
    return false;
}

/* Listen to what `want` has and s->rules has not, stop listening to what
 * only s->rules has, and make want s's list (taken). A server that cannot
 * be reached fails it all (nothing changes: subscribers keep their rules);
 * one that refuses the config API (none there, or no permission) leaves
 * the rules out for CONFIG_RETRY_MS, so that naming goes on without them. */
static int rules_sync(nacos_t *r, sub_t *s, rule_t *want, size_t nwant)
{
    size_t n = 0, rest = nwant; /* want[0, n): kept; want[rest, nwant): not looked at */
    int err = 0;
    bool *fresh = calloc(nwant ? nwant : 1, sizeof(bool));
    if (!fresh) {
        rules_free(want, nwant);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    }
    for (size_t i = 0; i < nwant; i++) {
        rule_t rl = want[i];
        bool had = listened(s->rules, s->nrules, &rl) || listened(want, n, &rl);
        if (!had && dubbo__now_ms() < r->config_off_until)
            err = DUBBO_EREMOTE; /* refused lately: not asked again yet */
        else if (!had)
            err = dubbo__nacos_config_listen(r->cfg, rl.data_id, rl.group, on_rule, r, NULL);
        if (err && (transient(err) || err == DUBBO_ENOMEM)) {
            want[n++] = rl;
            rest = i + 1;
            break;
        }
        if (err) {
            if (dubbo__now_ms() >= r->config_off_until) {
                DLOG_WARN("%s; routers and configurators from Nacos config left out, asked again "
                          "in %d s",
                          dubbo_last_error(), CONFIG_RETRY_MS / 1000);
                r->config_off_until = dubbo__now_ms() + CONFIG_RETRY_MS;
            }
            rule_clear(&rl);
            err = 0;
            continue;
        }
        fresh[n] = !had;
        want[n++] = rl;
    }
    if (err) { /* undo the listens of this round */
        int keep = err;
        char msg[700];
        snprintf(msg, sizeof(msg), "%s", dubbo_last_error());
        for (size_t j = 0; j < n; j++)
            if (fresh[j])
                dubbo__nacos_config_unlisten(r->cfg, want[j].data_id, want[j].group, on_rule, r);
        for (size_t j = 0; j < n; j++)
            rule_clear(&want[j]);
        for (size_t j = rest; j < nwant; j++)
            rule_clear(&want[j]);
        free(want);
        free(fresh);
        return dubbo__seterr(keep, "%s", msg);
    }
    free(fresh);
    for (size_t k = 0; k < s->nrules; k++)
        if (!listened(want, n, &s->rules[k]) && !listened(s->rules, k, &s->rules[k]))
            dubbo__nacos_config_unlisten(r->cfg, s->rules[k].data_id, s->rules[k].group, on_rule,
                                         r);
    rules_free(s->rules, s->nrules);
    s->rules = want;
    s->nrules = n;
    return 0;
}

/* A rule as a URL of its category, the form every registry delivers:
 *   <router>://0.0.0.0/<interface>?category=<category>&dynamic=false
 *     &key=<key>&rule=<the YAML, percent-encoded>&scope=<scope> */
static char *rule_url(const sub_t *s, const rule_t *rl, const char *text)
{
    sbuf_t b = {0};
    bool oom = sbuf_str(&b, rl->router) || sbuf_str(&b, "://0.0.0.0/") ||
               sbuf_esc(&b, s->iface, "-._~:$") || sbuf_str(&b, "?category=") ||
               sbuf_str(&b, rl->category) || sbuf_str(&b, "&dynamic=false&key=") ||
               sbuf_esc(&b, rl->key, "-._~:") || sbuf_str(&b, "&rule=") ||
               sbuf_esc(&b, text, "-._~") || sbuf_str(&b, "&scope=") || sbuf_str(&b, rl->scope);
    if (oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* The current list of one category from the configs s follows; NULL
 * (out of memory) or a malloc'd array (*n entries). */
static char **rules_list(nacos_t *r, const sub_t *s, const char *category, size_t *n)
{
    char **v = malloc((s->nrules ? s->nrules : 1) * sizeof(char *));
    size_t m = 0;
    for (size_t i = 0; v && i < s->nrules; i++) {
        if (strcmp(s->rules[i].category, category) != 0) continue;
        char *text = NULL;
        if (dubbo__nacos_config_cached(r->cfg, s->rules[i].data_id, s->rules[i].group, &text) ||
            !text)
            continue;
        bool blank = text[strspn(text, " \t\r\n")] == '\0';
        char *u = blank ? NULL : rule_url(s, &s->rules[i], text);
        free(text);
        if (blank) continue;
        if (!u) {
            strv_free(v, m);
            return NULL;
        }
        v[m++] = u;
    }
    *n = m;
    return v;
}

/* Deliver one category of rules when it changed (the first time always). */
static void rules_deliver(nacos_t *r, sub_t *s, const char *category, dubbo__last_t *last)
{
    size_t n = 0;
    char **v = rules_list(r, s, category, &n);
    if (!v) return; /* out of memory: next round */
    if (dubbo__last_same(last, (const char *const *)v, n)) {
        strv_free(v, n);
        return;
    }
    const char **urls = malloc((n ? n : 1) * sizeof(char *));
    if (!urls) {
        strv_free(v, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        urls[i] = v[i];
    dubbo__last_set(last, v, n);
    dubbo__subs_notify(&r->subs, &s->base, &r->mu, &r->stop, category, urls, n);
    free(urls);
}

static void sub_free(nacos_t *r, sub_t *s)
{
    for (size_t i = 0; i < s->nnames; i++)
        free(s->names[i]);
    strv_free(s->others, s->nothers);
    dubbo__last_clear(&s->last);
    if (r && r->cfg) rules_sync(r, s, NULL, 0); /* stops listening */
    rules_free(s->rules, s->nrules);
    dubbo__last_clear(&s->last_routers);
    dubbo__last_clear(&s->last_confs);
    free(s->iface);
    free(s->version);
    free(s->sgroup);
    free(s->app);
    dubbo__sub_destroy(&s->base);
    free(s);
}

static void poll_raw(nacos_t *r, sub_t *s);

static void poll_one(nacos_t *r, sub_t *s)
{
    if (s->raw) {
        poll_raw(r, s);
        return;
    }
    char **v = NULL;
    size_t n = 0;
    int err = poll_names(r, r->poll_easy, s->names, s->nnames, &v, &n);
    if (err) {
        if (!s->failing)
            DLOG_WARN("%s; subscribers keep their last list and polling goes on",
                      dubbo_last_error());
        s->failing = true;
        return;
    }
    if (s->want_routers || s->want_confs) {
        /* the rules first, so that the first providers are routed by them */
        rule_t *want = NULL;
        size_t nwant = 0;
        err = rules_wanted(r, s, v, n, &want, &nwant);
        if (!err) err = rules_sync(r, s, want, nwant); /* takes want */
        if (err) {
            if (!s->failing)
                DLOG_WARN("%s; subscribers keep their last lists and polling goes on",
                          dubbo_last_error());
            s->failing = true;
            strv_free(v, n);
            return;
        }
        if (s->want_confs) rules_deliver(r, s, "configurators", &s->last_confs);
        if (s->want_routers) rules_deliver(r, s, "routers", &s->last_routers);
    }
    if (s->failing) DLOG_INFO("nacos %s: polling %s again", endpoint(&r->srv), s->names[0]);
    s->failing = false;
    if (!s->others_sent) {
        s->others_sent = true;
        for (size_t i = 0; i < s->nothers; i++)
            dubbo__subs_notify(&r->subs, &s->base, &r->mu, &r->stop, s->others[i], NULL, 0);
    }
    if (dubbo__last_same(&s->last, (const char *const *)v, n)) {
        strv_free(v, n);
        return;
    }
    /* the subscriber gets a copy of the pointers; last keeps the strings */
    const char **urls = malloc((n ? n : 1) * sizeof(char *));
    if (!urls) {
        strv_free(v, n);
        return; /* delivered next round */
    }
    for (size_t i = 0; i < n; i++)
        urls[i] = v[i];
    dubbo__last_set(&s->last, v ? v : calloc(1, sizeof(char *)), n);
    dubbo__subs_notify(&r->subs, &s->base, &r->mu, &r->stop, "providers", urls, n);
    free(urls);
}

/* The worker: beats every beat_ms, polls every poll_ms (at once for a new
 * subscription). Only it frees removed subscriptions. */
static void *worker(void *arg)
{
    nacos_t *r = arg;
    uint64_t next_beat = dubbo__now_ms() + (uint64_t)r->beat_ms, next_poll = 0;
    bool down = false;
    sub_t **active = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        for (;;) {
            uint64_t now = dubbo__now_ms(), due = next_beat < next_poll ? next_beat : next_poll;
            if (r->stop || r->poll_now || now >= due) break;
            struct timespec ts;
            dubbo__deadline(&ts, CLOCK_MONOTONIC, due - now);
            pthread_cond_timedwait(&r->cond, &r->mu, &ts);
        }
        bool stop = r->stop, poll = r->poll_now || dubbo__now_ms() >= next_poll;
        r->poll_now = false;
        dubbo__sub_t *dead = NULL;
        size_t nactive = 0;
        for (dubbo__sub_t **pp = &r->subs.head; *pp;) {
            dubbo__sub_t *s = *pp;
            if (s->removed || stop) {
                *pp = s->next;
                s->next = dead;
                dead = s;
                continue;
            }
            pp = &s->next;
            if (nactive == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                sub_t **p = realloc(active, ncap * sizeof(sub_t *));
                if (!p) continue; /* polled next round */
                active = p;
                cap = ncap;
            }
            active[nactive++] = (sub_t *)s;
        }
        pthread_mutex_unlock(&r->mu);
        while (dead) {
            sub_t *s = (sub_t *)dead;
            dead = dead->next;
            sub_free(r, s);
        }
        if (stop) break;

        if (dubbo__now_ms() >= next_beat) {
            int err = beat_all(r);
            if (err && !down)
                DLOG_WARN("%s; retrying every %ld ms", dubbo_last_error(), r->beat_ms);
            else if (!err && down)
                DLOG_INFO("nacos %s: reachable again, instances registered", endpoint(&r->srv));
            down = err != 0;
            next_beat = dubbo__now_ms() + (uint64_t)r->beat_ms;
        }
        if (poll) {
            for (size_t i = 0; i < nactive; i++)
                poll_one(r, active[i]);
            next_poll = dubbo__now_ms() + (uint64_t)r->poll_ms;
        }
    }
    free(active);
    return NULL;
}

/* "providers:<interface>[:<version>][:<group>]": Dubbo <= 2.7.3's name. */
static char *legacy_name(const char *iface, const char *version, const char *group)
{
    char *s = NULL;
    if (asprintf(&s, "providers:%s%s%s%s%s", iface, *version ? ":" : "", version, *group ? ":" : "",
                 group) < 0)
        return NULL;
    return s;
}

static int nacos_subscribe(dubbo_registry_t *base, const char *consumer_url, dubbo_notify_fn fn,
                           void *user)
{
    nacos_t *r = (nacos_t *)base;
    if (!fn) return dubbo__seterr(DUBBO_EINVAL, "nacos registry: subscribe without a callback");
    dubbo_url_t *u = dubbo_url_parse(consumer_url);
    if (!u) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s", dubbo_last_error());
        return dubbo__seterr(DUBBO_EINVAL, "nacos registry: subscribe: %s", msg);
    }
    const char *iface = dubbo_url_param(u, "interface", u->path);
    if (!iface || !*iface || strcmp(iface, "*") == 0) {
        int err =
            dubbo__seterr(!iface || !*iface ? DUBBO_EINVAL : DUBBO_EUNSUPPORTED,
                          "nacos registry: subscribe %.300s: %s", consumer_url,
                          !iface || !*iface ? "no interface" : "interface=* is not supported");
        dubbo_url_free(u);
        return err;
    }
    const char *version = dubbo_url_param(u, "version", ""),
               *group = dubbo_url_param(u, "group", "");
    const char *cats = dubbo_url_param(u, "category", "providers");
    sub_t *s = calloc(1, sizeof(sub_t));
    size_t maxc = 1;
    for (const char *p = cats; *p; p++)
        maxc += *p == ',';
    bool oom = !s || dubbo__sub_init(&s->base, consumer_url, fn, user, "nacos");
    if (!oom) s->others = calloc(maxc, sizeof(char *));
    oom = oom || !s->others;
    if (!oom && asprintf(&s->names[0], "providers:%s:%s:%s", iface, version, group) < 0)
        s->names[0] = NULL;
    oom = oom || !s->names[0];
    if (!oom) s->nnames = 1;
    if (!oom) {
        s->iface = strdup(iface);
        s->version = strdup(version);
        s->sgroup = strdup(group);
        s->app = strdup(dubbo_url_param(u, "application", ""));
        oom = !s->iface || !s->version || !s->sgroup || !s->app;
    }
    char *legacy = oom ? NULL : legacy_name(iface, version, group);
    if (legacy && strcmp(legacy, s->names[0]) != 0)
        s->names[s->nnames++] = legacy;
    else
        free(legacy);
    for (const char *p = cats; !oom && *p;) {
        size_t len = strcspn(p, ",");
        bool routers = len == 7 && strncmp(p, "routers", 7) == 0;
        bool confs = len == 13 && strncmp(p, "configurators", 13) == 0;
        s->want_routers |= routers && r->cfg;
        s->want_confs |= confs && r->cfg;
        if ((routers || confs) && r->cfg) {
            /* read from the config service */
        } else if (len && !(len == 9 && strncmp(p, "providers", 9) == 0)) {
            s->others[s->nothers] = strndup(p, len);
            oom = !s->others[s->nothers++];
        }
        p += len + (p[len] == ',');
    }
    dubbo_url_free(u);
    if (oom) {
        if (s) sub_free(r, s);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    }
    pthread_mutex_lock(&r->mu);
    if (dubbo__subs_find(&r->subs, consumer_url, fn, user)) {
        pthread_mutex_unlock(&r->mu);
        sub_free(r, s);
        return dubbo__seterr(DUBBO_EEXISTS,
                             "nacos registry: %.300s is already subscribed with this callback",
                             consumer_url);
    }
    dubbo__subs_append(&r->subs, &s->base);
    r->poll_now = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static int nacos_unsubscribe(dubbo_registry_t *base, const char *consumer_url, dubbo_notify_fn fn,
                             void *user)
{
    nacos_t *r = (nacos_t *)base;
    pthread_mutex_lock(&r->mu);
    dubbo__sub_t *s = dubbo__subs_find(&r->subs, consumer_url, fn, user);
    if (!s) {
        pthread_mutex_unlock(&r->mu);
        return dubbo__seterr(DUBBO_ENOT_FOUND, "nacos registry: %.300s is not subscribed",
                             consumer_url);
    }
    dubbo__subs_remove(&r->subs, s, &r->mu, r->thread);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* ---- dubbo list ------------------------------------------------------- */

/* Every service name of the group ("<category>:<interface>:<version>:<group>",
 * without the group prefix), paged as Nacos serves them. */
static int service_names(nacos_t *r, CURL *easy, char ***out, size_t *n)
{
    char **v = NULL;
    size_t m = 0;
    int err = 0;
    for (long page = 1, total = 1; !err && (page - 1) * 500 < total && page <= 1000; page++) {
        sbuf_t f = {0}, body = {0};
        char pg[24];
        snprintf(pg, sizeof(pg), "%ld", page);
        if (form_add(&f, "pageNo", pg) || form_add(&f, "pageSize", "500") ||
            form_add(&f, "groupName", r->group) ||
            (*r->srv.ns && form_add(&f, "namespaceId", r->srv.ns))) {
            free(f.p);
            err = dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
            break;
        }
        long status;
        err =
            call(&r->srv, easy, "GET", "/v1/ns/service/list", f.p, "service list", &status, &body);
        free(f.p);
        json_error_t je;
        json_t *j = err ? NULL : json_loadb(body.p ? body.p : "", body.len, 0, &je);
        json_t *doms = json_object_get(j, "doms");
        if (!err && !json_is_array(doms))
            err = dubbo__seterr(DUBBO_EMALFORMED, "nacos %s: service list: %s", endpoint(&r->srv),
                                j ? "no doms array" : "not JSON");
        total = err ? 0 : (long)json_integer_value(json_object_get(j, "count"));
        size_t k = json_array_size(doms);
        char **p = err || !k ? NULL : realloc(v, (m + k) * sizeof(char *));
        if (p) v = p;
        for (size_t i = 0; p && i < k; i++) {
            const char *name = json_string_value(json_array_get(doms, i));
            const char *at = name ? strstr(name, "@@") : NULL;
            if (name && (v[m] = strdup(at ? at + 2 : name))) m++;
        }
        if (!err && k && !p) err = dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
        if (!k) total = 0;
        json_decref(j);
        free(body.p);
    }
    if (err) {
        strv_free(v, m);
        return err;
    }
    *out = v;
    *n = m;
    return 0;
}

/* "<category>:<interface>:<version>:<group>" split; false for another form. */
static bool name_parts(const char *name, char parts[4][256])
{
    int k = 0;
    for (const char *p = name;; k++) {
        size_t len = strcspn(p, ":");
        if (k == 4 || len >= 256) return false;
        memcpy(parts[k], p, len);
        parts[k][len] = '\0';
        if (!p[len]) break;
        p += len + 1;
    }
    return k == 3;
}

static int app_instances(nacos_t *r, CURL *easy, const char *app, char ***out, size_t *n);

static int nacos_list(dubbo_registry_t *base, const char *interface, const char *category,
                      char ***out, size_t *n)
{
    nacos_t *r = (nacos_t *)base;
    CURL *easy = dubbo__curl.easy_init();
    if (!easy) return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    /* `dubbo list`'s application-level view: the services whose name is an
     * application's (no "<category>:" prefix), or one's instances */
    if (category && interface && strcmp(category, "instances") == 0) {
        int err = app_instances(r, easy, interface, out, n);
        dubbo__curl.easy_cleanup(easy);
        return err;
    }
    if (category && !interface && strcmp(category, "applications") == 0) {
        char **names = NULL;
        size_t nn = 0, k = 0;
        int err = service_names(r, easy, &names, &nn);
        dubbo__curl.easy_cleanup(easy);
        for (size_t i = 0; !err && i < nn; i++)
            if (!strchr(names[i], ':') && !strchr(names[i], '@'))
                names[k++] = names[i];
            else
                free(names[i]);
        if (err) {
            strv_free(names, nn);
            return err;
        }
        *out = names;
        *n = k;
        return 0;
    }
    char **names = NULL, **v = NULL;
    size_t nn = 0, m = 0, cap = 0;
    int err = service_names(r, easy, &names, &nn);
    const char *cat = category && *category ? category : "providers";
    for (size_t i = 0; !err && i < nn; i++) {
        char parts[4][256];
        if (!name_parts(names[i], parts) || !*parts[1]) continue;
        if (!interface) { /* the interfaces, once each */
            if (m == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                char **p = realloc(v, ncap * sizeof(char *));
                if (!p) {
                    err = dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
                    break;
                }
                v = p;
                cap = ncap;
            }
            if ((v[m] = strdup(parts[1]))) m++;
            continue;
        }
        if (strcmp(parts[0], cat) != 0 || strcmp(parts[1], interface) != 0) continue;
        char *one = NULL;
        if (!(one = strdup(names[i]))) {
            err = dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
            break;
        }
        char **got = NULL;
        size_t ng = 0;
        err = poll_names(r, easy, &one, 1, &got, &ng);
        free(one);
        for (size_t k = 0; !err && k < ng; k++) {
            if (m == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                char **p = realloc(v, ncap * sizeof(char *));
                if (!p) {
                    err = dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
                    break;
                }
                v = p;
                cap = ncap;
            }
            v[m++] = got[k];
            got[k] = NULL;
        }
        strv_free(got, ng);
    }
    dubbo__curl.easy_cleanup(easy);
    strv_free(names, nn);
    if (err) {
        strv_free(v, m);
        return err;
    }
    sort_unique(v, &m);
    if (!v && !(v = malloc(sizeof(char *))))
        return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    *out = v;
    *n = m;
    return 0;
}

/* ---- create / destroy ------------------------------------------------- */

static void srv_destroy(srv_t *sv)
{
    strv_free(sv->endpoints, sv->nendpoints);
    free(sv->ns);
    *sv = (srv_t){0};
}

static int add_endpoint(srv_t *sv, const char *host, size_t hostlen, int port, const char *ctx)
{
    char **p = realloc(sv->endpoints, (sv->nendpoints + 1) * sizeof(char *));
    if (!p) return -1;
    sv->endpoints = p;
    bool v6 = memchr(host, ':', hostlen) != NULL;
    if (asprintf(&p[sv->nendpoints], "http://%s%.*s%s:%d%s", v6 ? "[" : "", (int)hostlen, host,
                 v6 ? "]" : "", port, ctx) < 0)
        return -1;
    sv->nendpoints++;
    return 0;
}

/* backup=host:port,host:port (Java's form); IPv6 as [addr]:port. */
static int add_backups(srv_t *sv, const char *list, const char *ctx)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        const char *end = p + len, *h = p, *colon = NULL;
        size_t hl;
        if (*h == '[') {
            const char *rb = memchr(h, ']', len);
            if (!rb) return -1;
            h++;
            hl = (size_t)(rb - h);
            colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        } else {
            colon = memchr(h, ':', len);
            hl = colon ? (size_t)(colon - h) : len;
        }
        int port = colon ? atoi(colon + 1) : 8848;
        if (len && (!hl || port <= 0 || port > 65535)) return -1;
        if (len && add_endpoint(sv, h, hl, port, ctx)) return -1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* The server part of a nacos:// URL: host, backup, context-path,
 * namespace, timeout. `who` starts the messages. */
static int srv_init(srv_t *sv, const dubbo_url_t *url, const char *who)
{
    *sv = (srv_t){0};
    if (!url->host || !*url->host)
        return dubbo__seterr(DUBBO_EINVAL, "%s: no host in the registry URL", who);
    const char *ctx = dubbo_url_param(url, "context-path", "/nacos");
    if (*ctx &&
        (*ctx != '/' ||
         ctx[strspn(ctx, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-._~")]))
        return dubbo__seterr(DUBBO_EINVAL, "%s: bad context-path=%.200s (want /path)", who, ctx);
    sv->timeout_ms = dubbo_url_param_int(url, "timeout", 3000);
    if (sv->timeout_ms <= 0) sv->timeout_ms = 3000;
    sv->ns = strdup(dubbo_url_param(url, "namespace", ""));
    if (!sv->ns ||
        add_endpoint(sv, url->host, strlen(url->host), url->port ? url->port : 8848, ctx)) {
        srv_destroy(sv);
        return dubbo__seterr(DUBBO_ENOMEM, "%s: out of memory", who);
    }
    if (add_backups(sv, dubbo_url_param(url, "backup", ""), ctx)) {
        srv_destroy(sv);
        return dubbo__seterr(DUBBO_EINVAL, "%s: bad backup=%.200s (want host:port,...)", who,
                             dubbo_url_param(url, "backup", ""));
    }
    return 0;
}

static void nacos_free(nacos_t *r)
{
    dubbo__nacos_config_free(r->cfg);
    srv_destroy(&r->srv);
    free(r->group);
    free(r->config_group);
    for (size_t i = 0; i < r->ninsts; i++)
        inst_clear(&r->insts[i]);
    free(r->insts);
    if (r->reg_easy) dubbo__curl.easy_cleanup(r->reg_easy);
    if (r->poll_easy) dubbo__curl.easy_cleanup(r->poll_easy);
    pthread_mutex_destroy(&r->reg_mu);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cond);
    dubbo__subs_destroy(&r->subs);
    free(r);
    curl_release();
}

static dubbo_registry_t *nacos_create(const dubbo_url_t *url)
{
    if (curl_acquire()) return NULL;
    nacos_t *r = calloc(1, sizeof(nacos_t));
    if (!r) {
        curl_release();
        dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->reg_mu, NULL);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    dubbo__subs_init(&r->subs);
    if (srv_init(&r->srv, url, "nacos registry")) {
        nacos_free(r);
        return NULL;
    }

    r->beat_ms = dubbo_url_param_int(url, "beat", 5000);
    if (r->beat_ms < 100) r->beat_ms = 5000;
    r->poll_ms = dubbo_url_param_int(url, "poll", 1000);
    if (r->poll_ms < 10) r->poll_ms = 1000;
    r->reg_consumers = strcmp(dubbo_url_param(url, "register-consumer-url", "false"), "true") == 0;
    const char *group = dubbo_url_param(url, "group", DEFAULT_GROUP);
    r->group = strdup(*group ? group : DEFAULT_GROUP);
    bool oom = !r->group;
    if (!oom && strstr(r->group, "@@")) {
        dubbo__seterr(DUBBO_EINVAL,
                      "nacos registry: bad group=%.200s ('@@' separates Nacos "
                      "groups from service names)",
                      r->group);
        nacos_free(r);
        return NULL;
    }
    const char *cg = dubbo_url_param(url, "config-group", "dubbo");
    r->config_group = strdup(cg);
    oom = oom || !r->config_group;
    if (!oom && !valid_name(r->config_group)) {
        dubbo__seterr(DUBBO_EINVAL,
                      "nacos registry: bad config-group=%.200s (Nacos takes letters, digits and "
                      "-_.:)",
                      cg);
        nacos_free(r);
        return NULL;
    }
    /* rules and configurators: config=false leaves them out (delivered
     * empty, as before this registry read them) */
    if (!oom && strcmp(dubbo_url_param(url, "config", "true"), "false") != 0 &&
        !(r->cfg = cfg_create(url))) {
        nacos_free(r);
        return NULL;
    }
    r->reg_easy = dubbo__curl.easy_init();
    r->poll_easy = dubbo__curl.easy_init();
    if (oom || !r->reg_easy || !r->poll_easy) {
        nacos_free(r);
        dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
        return NULL;
    }
    if (pthread_create(&r->thread, NULL, worker, r)) {
        nacos_free(r);
        dubbo__seterr(DUBBO_EIO, "nacos registry: cannot start its thread");
        return NULL;
    }
    return &r->base;
}

/* Stops the worker and deregisters every instance (when Nacos cannot be
 * reached, they expire as their beats stop). Not from a notification. */
static void nacos_destroy(dubbo_registry_t *base)
{
    nacos_t *r = (nacos_t *)base;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);

    pthread_mutex_lock(&r->reg_mu);
    for (size_t i = 0; i < r->ninsts; i++) {
        int err = do_deregister(r, &r->insts[i]);
        if (err) DLOG_WARN("%s", dubbo_last_error());
        if (err && transient(err)) break;
    }
    pthread_mutex_unlock(&r->reg_mu);
    nacos_free(r);
}

/* ---- nodes for application-level discovery (registry.h node_*) -------- */

/* Java's layout in Nacos: an application's instances are the naming
 * instances of the service <application> (NacosServiceDiscovery), their
 * metadata the instance metadata; the service-name mapping is the config
 * <interface> in group "mapping" (NacosMetadataReport). The data the
 * discovery layer hands over is Curator's JSON (address, port,
 * payload.metadata); what it gets back is {address, port, metadata}. */
#define MAPPING_GROUP "mapping"

static const char *key_rest(const char *key, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(key, prefix, n) == 0 && key[n] && !strchr(key + n, '/') ? key + n : NULL;
}

static int nacos_node_put(dubbo_registry_t *base, const char *key, const char *data, int flags)
{
    nacos_t *r = (nacos_t *)base;
    const char *itf = key_rest(key, "mapping/");
    if ((flags & DUBBO_NODE_ADD_TO_LIST) && itf) {
        if (!r->cfg)
            return dubbo__seterr(DUBBO_EUNSUPPORTED,
                                 "nacos registry: no config client for the mapping of %s", itf);
        char *cur = NULL;
        int err = dubbo__nacos_config_get(r->cfg, itf, MAPPING_GROUP, &cur);
        if (err) return err;
        char *next = NULL;
        err = dubbo__list_add(cur, data, &next);
        free(cur);
        if (err || !next) return err; /* out of memory, or in the list already */
        err = dubbo__nacos_config_publish(r->cfg, itf, MAPPING_GROUP, next);
        free(next);
        return err;
    }
    const char *svc = strncmp(key, "services/", 9) == 0 ? key + 9 : NULL;
    const char *slash = svc ? strchr(svc, '/') : NULL;
    if (!svc || !slash || slash == svc || !slash[1] || !(flags & DUBBO_NODE_EPHEMERAL))
        return dubbo__seterr(DUBBO_EINVAL, "nacos registry: no node for the key \"%.200s\"", key);
    json_error_t je;
    json_t *j = json_loads(data, 0, &je);
    json_t *payload = json_object_get(j, "payload");
    json_t *md = json_object_get(json_is_object(payload) ? payload : j, "metadata");
    const char *addr = json_string_value(json_object_get(j, "address"));
    json_int_t port = json_integer_value(json_object_get(j, "port"));
    if (!json_is_object(md) || !addr || !*addr || port <= 0 || port > 65535) {
        json_decref(j);
        return dubbo__seterr(DUBBO_EINVAL, "nacos registry: %s: not an instance: %.200s", key,
                             data);
    }
    inst_t in = {0};
    size_t al = strlen(addr);
    in.ip =
        addr[0] == '[' && al > 2 && addr[al - 1] == ']' ? strndup(addr + 1, al - 2) : strdup(addr);
    in.port = (int)port;
    in.service = strndup(svc, (size_t)(slash - svc));
    in.metadata = json_dumps(md, JSON_COMPACT | JSON_SORT_KEYS);
    if (asprintf(&in.url, "node:%s", key) < 0) in.url = NULL;
    json_decref(j);
    if (!in.ip || !in.service || !in.metadata || !in.url) {
        inst_clear(&in);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    }
    return reg_inst(r, &in);
}

static int nacos_node_del(dubbo_registry_t *base, const char *key)
{
    nacos_t *r = (nacos_t *)base;
    char *id = NULL;
    if (asprintf(&id, "node:%s", key) < 0) return DUBBO_ENOMEM;
    pthread_mutex_lock(&r->reg_mu);
    int err = 0;
    for (size_t i = 0; i < r->ninsts; i++)
        if (strcmp(r->insts[i].url, id) == 0) {
            inst_t in = r->insts[i];
            r->insts[i] = r->insts[--r->ninsts];
            err = do_deregister(r, &in);
            inst_clear(&in);
            break;
        }
    pthread_mutex_unlock(&r->reg_mu);
    free(id);
    if (err && transient(err)) {
        DLOG_WARN("%s; the instance expires without heartbeats", dubbo_last_error());
        return 0;
    }
    return err;
}

/* The instances of an application as {address, port, metadata} JSON, the
 * enabled and healthy ones with an address Dubbo URLs can carry. */
static int app_instances(nacos_t *r, CURL *easy, const char *app, char ***out, size_t *n)
{
    sbuf_t f = {0}, body = {0};
    if (form_service(r, &f, app) || form_add(&f, "clusters", "") ||
        form_add(&f, "healthyOnly", "false")) {
        free(f.p);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    }
    char what[400];
    snprintf(what, sizeof(what), "instance list of %s", app);
    long status;
    int err = call(&r->srv, easy, "GET", "/v1/ns/instance/list", f.p, what, &status, &body);
    free(f.p);
    *out = NULL;
    *n = 0;
    if (err == DUBBO_EREMOTE && says_not_found(status, &body)) {
        free(body.p);
        return 0;
    }
    json_t *j = err ? NULL : json_loadb(body.p ? body.p : "", body.len, 0, NULL);
    free(body.p);
    if (err) return err;
    json_t *hosts = json_object_get(j, "hosts");
    if (!json_is_array(hosts)) {
        json_decref(j);
        return dubbo__seterr(DUBBO_EMALFORMED, "nacos %s: %s: no hosts array", endpoint(&r->srv),
                             what);
    }
    char **v = calloc(json_array_size(hosts) + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; v && i < json_array_size(hosts); i++) {
        json_t *h = json_array_get(hosts, i);
        const char *ip = json_string_value(json_object_get(h, "ip"));
        json_t *meta = json_object_get(h, "metadata");
        json_int_t port = json_integer_value(json_object_get(h, "port"));
        if (!ip || !*ip || strlen(ip) > 64 || ip[strspn(ip, "0123456789abcdefABCDEF.:")] ||
            port <= 0 || port > 65535 || !json_is_object(meta) || !jbool(h, "enabled", true) ||
            !jbool(h, "healthy", jbool(h, "valid", true)))
            continue;
        json_t *o = json_pack("{s:s, s:I, s:O}", "address", ip, "port", port, "metadata", meta);
        char *t = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(o);
        if (t) v[k++] = t;
    }
    json_decref(j);
    if (!v) return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    sort_unique(v, &k);
    *out = v;
    *n = k;
    return 0;
}

/* One poll of a node_watch subscription (worker). */
static void poll_raw(nacos_t *r, sub_t *s)
{
    char **v = NULL;
    size_t n = 0;
    int err = 0;
    if (s->raw == 2) {
        err = app_instances(r, r->poll_easy, s->names[0], &v, &n);
    } else if (r->cfg) {
        char *text = NULL;
        err = dubbo__nacos_config_get(r->cfg, s->names[0], MAPPING_GROUP, &text);
        if (!err && text && *text) {
            v = calloc(1, sizeof(char *));
            if (v)
                v[n++] = text;
            else
                free(text);
        } else {
            free(text);
        }
    }
    if (err) {
        if (!s->failing)
            DLOG_WARN("%s; the last %s stays and polling goes on", dubbo_last_error(), s->base.url);
        s->failing = true;
        return;
    }
    s->failing = false;
    if (dubbo__last_same(&s->last, (const char *const *)v, n)) {
        strv_free(v, n);
        return;
    }
    const char **vals = malloc((n ? n : 1) * sizeof(char *));
    if (!vals) {
        strv_free(v, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        vals[i] = v[i];
    dubbo__last_set(&s->last, v ? v : calloc(1, sizeof(char *)), n);
    dubbo__subs_notify(&r->subs, &s->base, &r->mu, &r->stop, s->base.url, vals, n);
    free(vals);
}

static int nacos_node_watch(dubbo_registry_t *base, const char *key, int children,
                            dubbo_notify_fn fn, void *user)
{
    nacos_t *r = (nacos_t *)base;
    const char *app = key_rest(key, "services/"), *itf = key_rest(key, "mapping/");
    if (!fn || (children && !app) || (!children && !itf))
        return dubbo__seterr(DUBBO_EINVAL, "nacos registry: cannot follow \"%.200s\"", key);
    sub_t *s = calloc(1, sizeof(sub_t));
    if (!s || dubbo__sub_init(&s->base, key, fn, user, "nacos") ||
        !(s->names[0] = strdup(children ? app : itf))) {
        if (s) sub_free(r, s);
        return dubbo__seterr(DUBBO_ENOMEM, "nacos registry: out of memory");
    }
    s->nnames = 1;
    s->raw = children ? 2 : 1;
    pthread_mutex_lock(&r->mu);
    dubbo__subs_append(&r->subs, &s->base);
    r->poll_now = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static int nacos_node_unwatch(dubbo_registry_t *base, const char *key, dubbo_notify_fn fn,
                              void *user)
{
    return nacos_unsubscribe(base, key, fn, user);
}

const dubbo_registry_ops_t dubbo__registry_nacos = {
    .name = "nacos",
    .create = nacos_create,
    .reg = nacos_reg,
    .unreg = nacos_unreg,
    .subscribe = nacos_subscribe,
    .unsubscribe = nacos_unsubscribe,
    .destroy = nacos_destroy,
    .list = nacos_list,
    .node_put = nacos_node_put,
    .node_del = nacos_node_del,
    .node_watch = nacos_node_watch,
    .node_unwatch = nacos_node_unwatch,
};
