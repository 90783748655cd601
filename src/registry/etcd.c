/* The etcd registry, etcd://host:port: dubbo-go's etcdv3 key layout over
 * etcd's v3 JSON gateway, spoken with libcurl (docs/registry-etcd.md says
 * why not gRPC), which is loaded when the first etcd registry is opened
 * (curl_dl.h): processes without one never map it.
 *
 *   /dubbo/<URL.encode(interface)>/<category>/<URL.encode(full URL)> = full URL
 *
 * Registering: every key this registry puts hangs on one lease of its own
 * (TTL `ttl` s, default 10), which a keep-alive thread renews every 3/10 of
 * the TTL; a process that dies takes its keys with it when the lease runs
 * out. A lease etcd no longer knows (it expired while we were cut off, or
 * etcd lost its data) is replaced and every key put again.
 *
 * Subscribing: per category, range the prefix (the full list), deliver it,
 * then watch the prefix from the next revision (a streaming POST to
 * /v3/watch) and deliver the full list after each batch of events. All the
 * watch streams of one registry run on one thread, in one curl multi
 * handle. A broken stream is re-established with backoff: range again
 * (deliver if the list changed), watch again; subscribers keep their last
 * list meanwhile.
 *
 * Configurator rules (docs/configurators.md): a subscription to the
 * configurators category also follows the config center's keys
 * /dubbo/config/dubbo/<application>.configurators and
 * /dubbo/config/dubbo/<iface>:<version>:<group>.configurators (Java's
 * TreePathDynamicConfiguration layout, as on ZooKeeper), each rule
 * delivered with the override URLs as
 * configurator://0.0.0.0/<iface>?rule=<encoded YAML>&scope=application|service.
 *
 * URL parameters: timeout (ms, every HTTP call, default 3000), ttl (s,
 * default 10), group (the root, default "dubbo"), backup (more host:port,
 * comma-separated; a call that cannot reach one endpoint moves to the
 * next). */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
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
#include "core/base64.h"
#include "core/internal.h"
#include "core/log.h"
#include "registry/curl_dl.h"
#include "registry/etcd.h"
#include "registry/subscribers.h"

#define REPLY_LIMIT    (64u << 20) /* largest reply or watch message accepted */
#define RETRY_MS       1000        /* keep-alive retry period while etcd is unreachable */
#define BACKOFF_MIN_MS 100         /* watch reconnects: first delay, doubled up to... */
#define BACKOFF_MAX_MS 5000

/* ---- libcurl: loaded (curl_dl.h) and its global state set up with the
 * first registry; the state is torn down with the last (curl_global_init
 * is not safe to race with itself), the library stays loaded. */

static pthread_mutex_t curl_mu = PTHREAD_MUTEX_INITIALIZER;
static int curl_users;

/* 0, or an error code with the message set. */
static int curl_acquire(void)
{
    int rc = 0;
    pthread_mutex_lock(&curl_mu);
    if (curl_users == 0) {
        rc = dubbo__curl_load("etcd registry");
        if (!rc && dubbo__curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            rc = dubbo__seterr(DUBBO_EIO, "etcd registry: curl_global_init failed");
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

/* ---- small helpers ---------------------------------------------------- */

/* etcd's JSON gateway carries keys and values as base64 (core/base64.c). */
static char *b64_encode(const char *s)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    if (dubbo__base64_encode((const uint8_t *)s, strlen(s), &b)) {
        dubbo_buf_destroy(&b);
        return NULL;
    }
    return (char *)b.base; /* NUL-terminated, malloc'd */
}

/* NUL-terminated; NULL on bad input or an embedded NUL (keys and values
 * here are text). What follows the first '=' is padding. */
static char *b64_decode(const char *s)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    if (dubbo__base64_decode_chars(s, strcspn(s, "="), &b, NULL) || dubbo_buf_append(&b, "", 1) ||
        memchr(b.base, 0, b.len - 1)) {
        dubbo_buf_destroy(&b);
        return NULL;
    }
    return (char *)b.base;
}

/* etcd's int64s arrive as JSON strings; accept numbers too. */
static int64_t jint(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    return 0;
}

static char *jb64(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return b64_decode(s ? s : "");
}

typedef struct {
    char *p;
    size_t len, cap;
} sbuf_t;

static int sbuf_add(sbuf_t *b, const char *d, size_t n)
{
    if (b->len + n + 1 > REPLY_LIMIT) return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
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

static size_t on_body(char *d, size_t size, size_t n, void *ud)
{
    return sbuf_add(ud, d, n) ? 0 : n;
}

static bool transient(int err)
{
    return err == -ECONNREFUSED || err == DUBBO_ETIMEOUT || err == DUBBO_EIO;
}

/* The end of the key range holding every key that starts with `prefix`. */
static char *prefix_end(const char *prefix)
{
    char *e = strdup(prefix);
    if (e && *e) e[strlen(e) - 1]++;
    return e;
}

/* ---- the registry ----------------------------------------------------- */

typedef struct {
    char *key; /* <root>/<iface>/<category>/<URL.encode(url)> */
    char *url;
    bool put; /* in etcd under the current lease */
    bool del; /* withdrawn; its delete is still owed */
} record_t;

typedef struct {
    char *key, *url;
} entry_t;

typedef struct sub sub_t;

/* One category of one subscription: its list and its watch stream. Only
 * the watch thread touches it. */
typedef struct {
    sub_t *sub;
    char *category;
    char *prefix;      /* <root>/<iface>/<category>/, or a rule's key */
    const char *scope; /* a configurator rule's key (exact): "application" or
                          "service"; NULL for a category */
    entry_t *v;        /* etcd's list, sorted by key */
    size_t n, cap;
    bool known;     /* a range succeeded: v is etcd's */
    bool changed;   /* v changed since it was last delivered */
    bool delivered; /* something was delivered: last, in key order */
    entry_t *last;
    size_t nlast;
    int64_t rev_seen; /* highest revision seen, to notice etcd losing its data */
    uint64_t hold_ms; /* deliver no removal before this (etcd lost its data) */
    CURL *stream;     /* the watch stream; NULL between streams */
    char *body;       /* its request, read by libcurl during the transfer */
    sbuf_t line;      /* the partial line of the stream */
    uint64_t due_ms;  /* when to (re)connect when there is no stream */
    unsigned backoff_ms;
    bool failing; /* the last attempt failed (log once per outage) */
    char why[200];
    char errbuf[CURL_ERROR_SIZE];
} watch_t;

struct sub {
    dubbo__sub_t base; /* the consumer URL, fn, user; removed: freed by the watch thread */
    watch_t *w;
    size_t nw;
    char *iface;
    /* node_watch (application-level discovery): 1 one key's value (w[0].prefix
     * is the key; other keys under that prefix are not it), 2 the values
     * under w[0].prefix; 0 a subscription */
    int raw;
};

#define CONFIG_ROOT "/dubbo/config/dubbo" /* Java's config center: /<namespace>/config/<group> */

typedef struct {
    dubbo_registry_t base;
    char **endpoints; /* "http://host:port" */
    size_t nendpoints;
    atomic_size_t cur; /* the endpoint calls go to */
    char *root;        /* "/dubbo" */
    long timeout_ms, ttl_s, keepalive_ms;
    struct curl_slist *hdrs, *watch_hdrs;

    /* Registered keys and the lease; held across the HTTP calls that use
     * them, so keys are put under the lease that is current. */
    pthread_mutex_t reg_mu;
    record_t *recs;
    size_t nrecs, caprecs;
    int64_t lease;
    CURL *reg_easy;

    /* Subscriptions and the threads. */
    pthread_mutex_t mu;
    pthread_cond_t ka_cond; /* wakes the keep-alive thread */
    bool stop;
    dubbo__subs_t subs; /* of sub_t */
    pthread_t ka_thread, watch_thread;
    CURLM *multi;
    CURL *range_easy; /* the watch thread's */
} etcd_t;

static const char *endpoint(etcd_t *r)
{
    return r->endpoints[atomic_load(&r->cur) % r->nendpoints];
}

/* One POST of `body` to `ep``path`. `what` names the operation and key for
 * messages. On HTTP 200, *out is the parsed reply. */
static int post_once(etcd_t *r, CURL *easy, const char *ep, const char *path, const char *body,
                     const char *what, json_t **out)
{
    char url[320], errbuf[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof(url), "%s%s", ep, path);
    sbuf_t b = {0};
    dubbo__curl.easy_reset(easy);
    dubbo__curl.easy_setopt(easy, CURLOPT_URL, url);
    dubbo__curl.easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    dubbo__curl.easy_setopt(easy, CURLOPT_PROXY, ""); /* never through an http_proxy */
    dubbo__curl.easy_setopt(easy, CURLOPT_HTTPHEADER, r->hdrs);
    dubbo__curl.easy_setopt(easy, CURLOPT_POSTFIELDS, body);
    dubbo__curl.easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    dubbo__curl.easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    dubbo__curl.easy_setopt(easy, CURLOPT_WRITEDATA, &b);
    dubbo__curl.easy_setopt(easy, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    dubbo__curl.easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
    dubbo__curl.easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode c = dubbo__curl.easy_perform(easy);
    dubbo__curl.easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
    long status = 0;
    dubbo__curl.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    int err = 0;
    if (c != CURLE_OK) {
        err = c == CURLE_COULDNT_CONNECT      ? -ECONNREFUSED
              : c == CURLE_OPERATION_TIMEDOUT ? DUBBO_ETIMEOUT
              : c == CURLE_OUT_OF_MEMORY      ? DUBBO_ENOMEM
                                              : DUBBO_EIO;
        dubbo__seterr(err, "etcd %s: %.300s: %s", ep, what,
                      errbuf[0] ? errbuf : dubbo__curl.easy_strerror(c));
        free(b.p);
        return err;
    }
    json_error_t je;
    json_t *j = b.p ? json_loadb(b.p, b.len, 0, &je) : NULL;
    if (status != 200) {
        const char *msg = json_string_value(json_object_get(j, "message"));
        int code = (int)json_integer_value(json_object_get(j, "code"));
        /* gRPC codes: 5 NotFound (a lease), 4 DeadlineExceeded and 14
         * Unavailable (no leader, shutting down) are worth retrying. */
        err = code == 5                                  ? DUBBO_ENOT_FOUND
              : status >= 500 || code == 4 || code == 14 ? DUBBO_EIO
                                                         : DUBBO_EINVAL;
        dubbo__seterr(err, "etcd %s: %.300s: HTTP %ld: %.120s (code %d)", ep, what, status,
                      msg   ? msg
                      : b.p ? b.p
                            : "no body",
                      code);
        json_decref(j);
        free(b.p);
        return err;
    }
    if (!j) {
        free(b.p);
        return dubbo__seterr(DUBBO_EMALFORMED, "etcd %s: %.300s: the reply is not JSON", ep, what);
    }
    free(b.p);
    *out = j;
    return 0;
}

/* POST `req` (consumed) to the current endpoint; when it cannot be
 * reached, move on to the next one (for this call and the ones after). */
static int post(etcd_t *r, CURL *easy, const char *path, json_t *req, const char *what,
                json_t **out)
{
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) return dubbo__seterr(DUBBO_ENOMEM, "etcd: %.300s: out of memory", what);
    int err = 0;
    for (size_t tries = 0; tries < r->nendpoints; tries++) {
        size_t idx = atomic_load(&r->cur) % r->nendpoints;
        err = post_once(r, easy, r->endpoints[idx], path, body, what, out);
        if (err != -ECONNREFUSED && err != DUBBO_ETIMEOUT) break;
        atomic_compare_exchange_strong(&r->cur, &idx, (idx + 1) % r->nendpoints);
    }
    free(body);
    return err;
}

/* The entries of a range reply `out` (sorted by key, as etcd sends them) and
 * the revision they are as of. Empty values (another client's
 * registration) are read from the key's last segment; entries that are not
 * text are skipped. */
static int range_entries(const json_t *out, bool keys_only, const char *prefix, entry_t **outv,
                         size_t *outn, int64_t *rev)
{
    json_t *kvs = json_object_get(out, "kvs");
    size_t n = json_array_size(kvs), m = 0;
    entry_t *v = calloc(n ? n : 1, sizeof(entry_t));
    if (!v) return dubbo__seterr(DUBBO_ENOMEM, "etcd: range %s: out of memory", prefix);
    for (size_t i = 0; i < n; i++) {
        json_t *kv = json_array_get(kvs, i);
        char *key = jb64(kv, "key"), *val = keys_only ? strdup("") : jb64(kv, "value");
        if (!keys_only && val && !*val && key && strrchr(key, '/')) {
            free(val);
            val = dubbo_url_decode(strrchr(key, '/') + 1);
        }
        if (!key || !*key || !val || (!keys_only && !*val)) {
            free(key);
            free(val);
            continue; /* not ours: no key, or no text */
        }
        v[m++] = (entry_t){key, val};
    }
    *rev = jint(json_object_get(out, "header"), "revision");
    *outv = v;
    *outn = m;
    return 0;
}

/* Range every key under `prefix`: range_entries() of etcd's reply. */
static int range(etcd_t *r, CURL *easy, const char *prefix, bool keys_only, entry_t **outv,
                 size_t *outn, int64_t *rev)
{
    char *k = b64_encode(prefix), *end = prefix_end(prefix), *e = end ? b64_encode(end) : NULL;
    json_t *req =
        k && e ? json_pack("{s:s, s:s, s:b}", "key", k, "range_end", e, "keys_only", keys_only)
               : NULL;
    free(k);
    free(end);
    free(e);
    char what[300];
    snprintf(what, sizeof(what), "range %s", prefix);
    json_t *out;
    int err = post(r, easy, "/v3/kv/range", req, what, &out);
    if (err) return err;
    err = range_entries(out, keys_only, prefix, outv, outn, rev);
    json_decref(out);
    return err;
}

static void entries_free(entry_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].url);
    }
    free(v);
}

/* ---- registering ------------------------------------------------------ */

/* The key of a URL: its interface (the interface parameter, else the
 * path), and its category (the category parameter when it names one,
 * else consumers for a consumer URL, else providers). */
static char *key_of(etcd_t *r, const char *url)
{
    dubbo_url_t *u = dubbo_url_parse(url);
    if (!u) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s", dubbo_last_error());
        dubbo__seterr(DUBBO_EINVAL, "etcd registry: %s", msg);
        return NULL;
    }
    const char *iface = dubbo_url_param(u, "interface", u->path);
    if (!iface || !*iface) {
        dubbo_url_free(u);
        dubbo__seterr(DUBBO_EINVAL, "etcd registry: %.300s names no interface", url);
        return NULL;
    }
    const char *cat = dubbo_url_param(u, "category", NULL);
    if (!cat || !*cat || strchr(cat, ','))
        cat = strcmp(u->protocol, "consumer") == 0 ||
                      strcmp(dubbo_url_param(u, "side", ""), "consumer") == 0
                  ? "consumers"
                  : "providers";
    char *ei = dubbo_url_encode(iface), *eu = dubbo_url_encode(url), *key = NULL;
    if (ei && eu && asprintf(&key, "%s/%s/%s/%s", r->root, ei, cat, eu) < 0) key = NULL;
    free(ei);
    free(eu);
    dubbo_url_free(u);
    if (!key) dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
    return key;
}

static int lease_grant(etcd_t *r)
{
    char what[64];
    snprintf(what, sizeof(what), "lease grant (TTL %ld s)", r->ttl_s);
    json_t *out;
    int err = post(r, r->reg_easy, "/v3/lease/grant",
                   json_pack("{s:I}", "TTL", (json_int_t)r->ttl_s), what, &out);
    if (err) return err;
    int64_t id = jint(out, "ID");
    const char *e = json_string_value(json_object_get(out, "error"));
    json_decref(out);
    if (id == 0)
        return dubbo__seterr(DUBBO_EIO, "etcd %s: %s: no lease in the reply%s%s", endpoint(r), what,
                             e ? ": " : "", e ? e : "");
    r->lease = id;
    for (size_t i = 0; i < r->nrecs; i++)
        r->recs[i].put = false;
    DLOG_DEBUG("etcd %s: lease %" PRIx64 " granted, TTL %ld s", endpoint(r), (uint64_t)id,
               r->ttl_s);
    return 0;
}

/* Renew the lease: *alive false when etcd no longer knows it. */
static int lease_keepalive(etcd_t *r, bool *alive)
{
    char id[24], what[64];
    snprintf(id, sizeof(id), "%" PRId64, r->lease);
    snprintf(what, sizeof(what), "lease keep-alive %" PRIx64, (uint64_t)r->lease);
    json_t *out;
    int err = post(r, r->reg_easy, "/v3/lease/keepalive", json_pack("{s:s}", "ID", id), what, &out);
    if (err == DUBBO_ENOT_FOUND) {
        *alive = false;
        return 0;
    }
    if (err) return err;
    json_t *res = json_object_get(out, "result");
    if (!res) {
        /* a stream error in the body: {"error":{"grpc_code":5,...}} */
        json_t *e = json_object_get(out, "error");
        int code = (int)json_integer_value(json_object_get(e, "grpc_code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (code == 5) {
            *alive = false;
            json_decref(out);
            return 0;
        }
        err = dubbo__seterr(DUBBO_EIO, "etcd %s: %s: %s", endpoint(r), what,
                            msg ? msg : "no result in the reply");
        json_decref(out);
        return err;
    }
    *alive = jint(res, "TTL") > 0;
    json_decref(out);
    return 0;
}

static int put_key(etcd_t *r, const record_t *rec)
{
    char *k = b64_encode(rec->key), *v = b64_encode(rec->url), lease[24], what[320];
    snprintf(lease, sizeof(lease), "%" PRId64, r->lease);
    snprintf(what, sizeof(what), "put %s", rec->key);
    json_t *req =
        k && v ? json_pack("{s:s, s:s, s:s}", "key", k, "value", v, "lease", lease) : NULL;
    free(k);
    free(v);
    json_t *out;
    int err = post(r, r->reg_easy, "/v3/kv/put", req, what, &out);
    if (!err) json_decref(out);
    return err;
}

static int del_key(etcd_t *r, const char *key)
{
    char *k = b64_encode(key), what[320];
    snprintf(what, sizeof(what), "delete %s", key);
    json_t *req = k ? json_pack("{s:s}", "key", k) : NULL;
    free(k);
    json_t *out;
    int err = post(r, r->reg_easy, "/v3/kv/deleterange", req, what, &out);
    if (!err) json_decref(out);
    return err;
}

static void rec_remove(etcd_t *r, size_t i)
{
    free(r->recs[i].key);
    free(r->recs[i].url);
    r->recs[i] = r->recs[--r->nrecs];
}

static record_t *rec_find(etcd_t *r, const char *key)
{
    for (size_t i = 0; i < r->nrecs; i++)
        if (strcmp(r->recs[i].key, key) == 0) return &r->recs[i];
    return NULL;
}

static record_t *rec_add(etcd_t *r, char *key, const char *url)
{
    if (r->nrecs == r->caprecs) {
        size_t cap = r->caprecs ? r->caprecs * 2 : 8;
        record_t *p = realloc(r->recs, cap * sizeof(record_t));
        if (!p) return NULL;
        r->recs = p;
        r->caprecs = cap;
    }
    char *u = strdup(url);
    if (!u) return NULL;
    record_t *rec = &r->recs[r->nrecs++];
    *rec = (record_t){.key = key, .url = u};
    return rec;
}

/* Bring etcd in line with the records (reg_mu held): grant a lease if
 * there is none, put what is not put, delete what is withdrawn. Stops at
 * the first error that says etcd is unreachable and returns it (the rest
 * is retried later). A record that etcd refuses for good is dropped with
 * a log line; when it is `mine`, its error goes to *mine_err with the
 * message kept in `mine_msg`. */
static int flush_locked(etcd_t *r, const char *mine, int *mine_err, char *mine_msg, size_t msglen)
{
    for (int round = 0; round < 2; round++) {
        bool lost = false;
        for (size_t i = 0; i < r->nrecs;) {
            record_t *rec = &r->recs[i];
            int err;
            if (rec->del) {
                err = del_key(r, rec->key);
            } else if (!rec->put) {
                if (!r->lease && (err = lease_grant(r)) != 0) return err;
                err = put_key(r, rec);
                if (err == DUBBO_ENOT_FOUND) { /* the lease is gone */
                    lost = true;
                    break;
                }
                if (!err) rec->put = true;
            } else {
                i++;
                continue;
            }
            if (err && transient(err)) return err;
            if (err) {
                if (mine && strcmp(mine, rec->key) == 0) {
                    *mine_err = err;
                    snprintf(mine_msg, msglen, "%s", dubbo_last_error());
                } else {
                    DLOG_ERROR("%s; giving up on %s", dubbo_last_error(), rec->url);
                }
            }
            if (rec->del || err) {
                rec_remove(r, i);
                continue;
            }
            i++;
        }
        if (!lost) return 0;
        DLOG_WARN("etcd %s: lease %" PRIx64 " is gone; granting a new one and putting %zu keys "
                  "again",
                  endpoint(r), (uint64_t)r->lease, r->nrecs);
        r->lease = 0;
    }
    return 0;
}

static int reg_record(etcd_t *r, char *key, const char *url);

static int etcd_reg(dubbo_registry_t *base, const char *url)
{
    etcd_t *r = (etcd_t *)base;
    char *key = key_of(r, url);
    if (!key) return dubbo__last_code();
    return reg_record(r, key, url);
}

/* Puts `key` (taken) = `url` (any value) under the lease and keeps it
 * there; a record put already with another value is put again. */
static int reg_record(etcd_t *r, char *key, const char *url)
{
    pthread_mutex_lock(&r->reg_mu);
    record_t *rec = rec_find(r, key);
    if (rec && !rec->del && rec->put && strcmp(rec->url, url) == 0) {
        pthread_mutex_unlock(&r->reg_mu);
        free(key);
        return 0;
    }
    if (rec) {
        char *v = strcmp(rec->url, url) != 0 ? strdup(url) : NULL;
        if (v) {
            free(rec->url);
            rec->url = v;
        }
        rec->del = false;
        rec->put = false;
        free(key);
        key = strdup(rec->key);
    } else if (!rec_add(r, key, url)) {
        pthread_mutex_unlock(&r->reg_mu);
        free(key);
        return dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
    } else {
        key = strdup(key); /* the record owns the first copy */
    }
    int mine = 0;
    char msg[512] = "";
    int err = key ? flush_locked(r, key, &mine, msg, sizeof(msg)) : 0;
    pthread_mutex_unlock(&r->reg_mu);
    free(key);
    if (mine) return dubbo__seterr(mine, "%s", msg);
    if (err) /* down is not an error: the keep-alive thread puts it when etcd is back */
        DLOG_WARN("%s; %s will be registered when etcd is back", dubbo_last_error(), url);
    return 0;
}

static int etcd_unreg(dubbo_registry_t *base, const char *url)
{
    etcd_t *r = (etcd_t *)base;
    char *key = key_of(r, url);
    if (!key) return dubbo__last_code();
    pthread_mutex_lock(&r->reg_mu);
    record_t *rec = rec_find(r, key);
    if (rec) {
        rec->del = true;
        free(key);
        key = strdup(rec->key);
    } else if (!rec_add(r, key, url)) { /* not ours, but withdraw it all the same */
        pthread_mutex_unlock(&r->reg_mu);
        free(key);
        return dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
    } else {
        r->recs[r->nrecs - 1].del = true;
        key = strdup(key);
    }
    int mine = 0;
    char msg[512] = "";
    int err = key ? flush_locked(r, key, &mine, msg, sizeof(msg)) : 0;
    pthread_mutex_unlock(&r->reg_mu);
    free(key);
    if (mine) return dubbo__seterr(mine, "%s", msg);
    if (err) DLOG_WARN("%s; %s will be withdrawn when etcd is back", dubbo_last_error(), url);
    return 0;
}

/* One keep-alive period: renew the lease (or notice it is gone), then
 * sync the records. */
static int ka_tick(etcd_t *r)
{
    pthread_mutex_lock(&r->reg_mu);
    int err = 0;
    if (r->lease) {
        bool alive = true;
        err = lease_keepalive(r, &alive);
        if (!err && !alive) {
            DLOG_WARN("etcd %s: lease %" PRIx64 " expired or etcd lost it; granting a new one "
                      "and putting %zu keys again",
                      endpoint(r), (uint64_t)r->lease, r->nrecs);
            r->lease = 0;
            for (size_t i = 0; i < r->nrecs; i++)
                r->recs[i].put = false;
        }
    }
    if (!err) err = flush_locked(r, NULL, NULL, NULL, 0);
    pthread_mutex_unlock(&r->reg_mu);
    return err;
}

static void deadline(struct timespec *ts, uint64_t ms)
{
    dubbo__deadline(ts, CLOCK_MONOTONIC, ms);
}

static void *ka_main(void *arg)
{
    etcd_t *r = arg;
    uint64_t next = dubbo__now_ms() + (uint64_t)r->keepalive_ms;
    bool down = false;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        uint64_t now = dubbo__now_ms();
        if (now < next) {
            struct timespec ts;
            deadline(&ts, next - now);
            pthread_cond_timedwait(&r->ka_cond, &r->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&r->mu);
        int err = ka_tick(r);
        if (err && !down)
            DLOG_WARN("%s; retrying every %d ms", dubbo_last_error(), RETRY_MS);
        else if (!err && down)
            DLOG_INFO("etcd %s: reachable again, registrations in place", endpoint(r));
        down = err != 0;
        next = dubbo__now_ms() + (uint64_t)(err ? RETRY_MS : r->keepalive_ms);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- subscribing ------------------------------------------------------ */

static size_t entry_pos(const watch_t *w, const char *key, bool *found)
{
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(w->v[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Takes key and url. */
static int entry_set(watch_t *w, char *key, char *url)
{
    bool found;
    size_t i = entry_pos(w, key, &found);
    if (found) {
        free(key);
        if (strcmp(w->v[i].url, url) == 0) {
            free(url);
            return 0;
        }
        free(w->v[i].url);
        w->v[i].url = url;
        w->changed = true;
        return 0;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        entry_t *p = realloc(w->v, cap * sizeof(entry_t));
        if (!p) {
            free(key);
            free(url);
            return -1;
        }
        w->v = p;
        w->cap = cap;
    }
    memmove(&w->v[i + 1], &w->v[i], (w->n - i) * sizeof(entry_t));
    w->v[i] = (entry_t){key, url};
    w->n++;
    w->changed = true;
    return 0;
}

static void entry_del(watch_t *w, const char *key)
{
    bool found;
    size_t i = entry_pos(w, key, &found);
    if (!found) return;
    free(w->v[i].key);
    free(w->v[i].url);
    memmove(&w->v[i], &w->v[i + 1], (w->n - i - 1) * sizeof(entry_t));
    w->n--;
    w->changed = true;
}

/* Whether every entry last delivered is still there unchanged: all of
 * them (`exact`) or more. */
static bool same_as_last(const watch_t *w, bool exact)
{
    if (exact && w->n != w->nlast) return false;
    for (size_t i = 0; i < w->nlast; i++) {
        bool found;
        size_t k = entry_pos(w, w->last[i].key, &found);
        if (!found || strcmp(w->v[k].url, w->last[i].url) != 0) return false;
    }
    return true;
}

/* One message of a watch stream: apply its events. Nonzero (with w->why)
 * ends the stream, to range and watch again. */
static int watch_message(watch_t *w, const char *s, size_t len)
{
    while (len && (s[len - 1] == '\r' || s[len - 1] == ' '))
        len--;
    if (!len) return 0;
    json_error_t je;
    json_t *j = json_loadb(s, len, 0, &je);
    if (!j) {
        snprintf(w->why, sizeof(w->why), "a watch message is not JSON: %s", je.text);
        return -1;
    }
    int rc = 0;
    json_t *res = json_object_get(j, "result");
    if (!res) {
        json_t *e = json_object_get(j, "error");
        const char *msg = json_string_value(json_object_get(e, "message"));
        snprintf(w->why, sizeof(w->why), "etcd: %s", msg ? msg : "a message without a result");
        rc = -1;
    } else if (json_is_true(json_object_get(res, "canceled")) || jint(res, "compact_revision")) {
        const char *why = json_string_value(json_object_get(res, "cancel_reason"));
        snprintf(w->why, sizeof(w->why), "etcd canceled the watch (%s, compacted at %" PRId64 ")",
                 why ? why : "no reason", jint(res, "compact_revision"));
        rc = -1;
    } else {
        if (json_is_true(json_object_get(res, "created"))) {
            w->backoff_ms = BACKOFF_MIN_MS;
            w->failing = false;
        }
        int64_t rev = jint(json_object_get(res, "header"), "revision");
        if (rev > w->rev_seen) w->rev_seen = rev;
        json_t *evs = json_object_get(res, "events");
        for (size_t i = 0; i < json_array_size(evs); i++) {
            json_t *ev = json_array_get(evs, i), *kv = json_object_get(ev, "kv");
            const char *type = json_string_value(json_object_get(ev, "type"));
            char *key = jb64(kv, "key");
            if (key && !*key) { /* no key: not an event of ours */
                free(key);
                key = NULL;
            }
            if (!key) continue;
            if (type && strcmp(type, "DELETE") == 0) {
                entry_del(w, key);
                free(key);
                continue;
            }
            char *url = jb64(kv, "value");
            if (url && !*url && strrchr(key, '/')) {
                free(url);
                url = dubbo_url_decode(strrchr(key, '/') + 1);
            }
            if (!url || !*url) { /* not text, or no URL */
                free(key);
                free(url);
                continue;
            }
            if (entry_set(w, key, url)) {
                snprintf(w->why, sizeof(w->why), "out of memory");
                rc = -1;
                break;
            }
        }
    }
    json_decref(j);
    return rc;
}

static size_t on_watch(char *d, size_t size, size_t n, void *ud)
{
    watch_t *w = ud;
    size_t off = 0;
    while (off < n) {
        const char *nl = memchr(d + off, '\n', n - off);
        size_t take = nl ? (size_t)(nl - (d + off)) : n - off;
        if (sbuf_add(&w->line, d + off, take)) {
            snprintf(w->why, sizeof(w->why), "a watch message over %u bytes", REPLY_LIMIT);
            return 0;
        }
        off += take;
        if (nl) {
            off++;
            if (w->line.len && watch_message(w, w->line.p, w->line.len)) return 0;
            w->line.len = 0;
        }
    }
    return n;
}

/* For fuzz/etcd_json_fuzz.c and the malformed-input table of
 * tests/unit/etcd_malformed_test.c: what a subscription makes of etcd's
 * JSON, with no HTTP. `reply` is the body of a /v3/kv/range answer, read as
 * range() reads it; `stream` is the body of a /v3/watch stream, handed to
 * the stream's reader as libcurl would, `chunk` bytes at a time (0: at
 * once). On success, *urls (malloc'd, each string too) are the category's
 * list a subscriber would be given, *n of them. Errors: DUBBO_EMALFORMED
 * for a reply that is not JSON; DUBBO_EIO when a watch message ends the
 * stream (not JSON, an error, a cancel, a compaction, too long), which the
 * registry answers by ranging and watching again; the message says why. */
int dubbo__etcd_replay(const char *reply, size_t reply_len, const char *stream, size_t stream_len,
                       size_t chunk, char ***urls, size_t *n)
{
    *urls = NULL;
    *n = 0;
    json_error_t je;
    json_t *out = json_loadb(reply, reply_len, 0, &je);
    if (!out)
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "etcd: range reply: not JSON: %s at line %d column %d", je.text,
                             je.line, je.column);
    watch_t w = {0};
    int64_t rev;
    int err = range_entries(out, false, "(replay)", &w.v, &w.n, &rev);
    json_decref(out);
    if (err) return err;
    w.cap = w.n;
    w.rev_seen = rev;
    if (!chunk) chunk = stream_len ? stream_len : 1;
    for (size_t off = 0; !err && off < stream_len; off += chunk) {
        size_t take = stream_len - off < chunk ? stream_len - off : chunk;
        /* libcurl hands the body over as writable memory */
        char *piece = malloc(take);
        if (!piece) {
            err = dubbo__seterr(DUBBO_ENOMEM, "etcd: watch: out of memory");
            break;
        }
        memcpy(piece, stream + off, take);
        if (on_watch(piece, 1, take, &w) != take)
            err = dubbo__seterr(DUBBO_EIO, "etcd: watch stream ends: %s", w.why);
        free(piece);
    }
    char **list = err ? NULL : calloc(w.n ? w.n : 1, sizeof(char *));
    if (!err && !list) err = dubbo__seterr(DUBBO_ENOMEM, "etcd: watch: out of memory");
    for (size_t i = 0; list && i < w.n; i++) {
        list[i] = w.v[i].url;
        w.v[i].url = NULL;
    }
    if (list) {
        *urls = list;
        *n = w.n;
    }
    entries_free(w.v, w.n);
    free(w.line.p);
    return err;
}

static void watch_schedule(watch_t *w)
{
    w->due_ms = dubbo__now_ms() + w->backoff_ms;
    w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : w->backoff_ms * 2;
}

static void watch_drop(etcd_t *r, watch_t *w)
{
    if (!w->stream) return;
    dubbo__curl.multi_remove_handle(r->multi, w->stream);
    dubbo__curl.easy_cleanup(w->stream);
    w->stream = NULL;
    free(w->body);
    w->body = NULL;
    w->line.len = 0;
}

static int watch_start(etcd_t *r, watch_t *w, int64_t from)
{
    char *k = b64_encode(w->prefix), *end = prefix_end(w->prefix),
         *e = end ? b64_encode(end) : NULL, rev[24];
    snprintf(rev, sizeof(rev), "%" PRId64, from);
    json_t *req = k && e ? json_pack("{s:{s:s, s:s, s:s}}", "create_request", "key", k, "range_end",
                                     e, "start_revision", rev)
                         : NULL;
    free(k);
    free(end);
    free(e);
    w->body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    CURL *c = w->body ? dubbo__curl.easy_init() : NULL;
    if (!c) {
        free(w->body);
        w->body = NULL;
        snprintf(w->why, sizeof(w->why), "out of memory");
        return -1;
    }
    char url[320];
    snprintf(url, sizeof(url), "%s/v3/watch", endpoint(r));
    w->errbuf[0] = '\0';
    w->why[0] = '\0';
    dubbo__curl.easy_setopt(c, CURLOPT_URL, url);
    dubbo__curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    dubbo__curl.easy_setopt(c, CURLOPT_PROXY, "");
    dubbo__curl.easy_setopt(c, CURLOPT_HTTPHEADER, r->watch_hdrs);
    dubbo__curl.easy_setopt(c, CURLOPT_POSTFIELDS, w->body);
    dubbo__curl.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(w->body));
    dubbo__curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_watch);
    dubbo__curl.easy_setopt(c, CURLOPT_WRITEDATA, w);
    dubbo__curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
    /* a stream has no overall timeout; TCP keep-alive finds a dead peer */
    dubbo__curl.easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    dubbo__curl.easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 10L);
    dubbo__curl.easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 5L);
    dubbo__curl.easy_setopt(c, CURLOPT_ERRORBUFFER, w->errbuf);
    dubbo__curl.easy_setopt(c, CURLOPT_PRIVATE, w);
    if (dubbo__curl.multi_add_handle(r->multi, c) != CURLM_OK) {
        dubbo__curl.easy_cleanup(c);
        free(w->body);
        w->body = NULL;
        snprintf(w->why, sizeof(w->why), "curl_multi_add_handle failed");
        return -1;
    }
    w->stream = c;
    return 0;
}

/* Range the category (the full list), then watch it from the next
 * revision. On failure the last list stays and a retry is scheduled. */
static void watch_connect(etcd_t *r, watch_t *w)
{
    entry_t *v;
    size_t n;
    int64_t rev;
    int err = range(r, r->range_easy, w->prefix, false, &v, &n, &rev);
    if (err) {
        if (!w->failing)
            DLOG_WARN("%s; keeping the last %zu %s, retrying", dubbo_last_error(), w->n,
                      w->category);
        w->failing = true;
        watch_schedule(w);
        return;
    }
    if (w->known && rev < w->rev_seen) {
        /* etcd's history restarted: it lost its data. Its providers put
         * their keys again within a keep-alive period; until then deliver
         * additions but no removals. */
        DLOG_WARN("etcd %s: revision went back from %" PRId64 " to %" PRId64
                  " (etcd lost its data); no %s removed for %ld ms",
                  endpoint(r), w->rev_seen, rev, w->category, r->keepalive_ms + RETRY_MS);
        w->hold_ms = dubbo__now_ms() + (uint64_t)(r->keepalive_ms + RETRY_MS);
    }
    w->rev_seen = rev;
    entries_free(w->v, w->n);
    w->v = v;
    w->n = w->cap = n;
    w->known = true;
    w->changed = true; /* delivered only when it differs from the last delivered */
    if (w->failing) DLOG_INFO("etcd %s: %s read again (%zu)", endpoint(r), w->prefix, n);
    if (watch_start(r, w, rev + 1)) {
        DLOG_WARN("etcd %s: watch %s: %s", endpoint(r), w->prefix, w->why);
        w->failing = true;
        watch_schedule(w);
    }
}

static void watch_ended(etcd_t *r, watch_t *w, CURLcode c)
{
    long status = 0;
    dubbo__curl.easy_getinfo(w->stream, CURLINFO_RESPONSE_CODE, &status);
    char why[300];
    if (w->why[0])
        snprintf(why, sizeof(why), "%s", w->why);
    else if (c != CURLE_OK)
        snprintf(why, sizeof(why), "%s", w->errbuf[0] ? w->errbuf : dubbo__curl.easy_strerror(c));
    else if (status != 200)
        snprintf(why, sizeof(why), "HTTP %ld", status);
    else
        snprintf(why, sizeof(why), "etcd closed the stream");
    watch_drop(r, w);
    if (!w->failing)
        DLOG_WARN("etcd %s: watch %s ended: %s; keeping the last %zu %s, watching again",
                  endpoint(r), w->prefix, why, w->n, w->category);
    w->failing = true;
    watch_schedule(w);
}

/* Percent-encoding with %20 for a space, which dubbo_url_parse decodes
 * back (it keeps '+'). */
static char *encode_param(const char *s)
{
    char *e = dubbo_url_encode(s);
    size_t plus = 0;
    for (const char *p = e; p && *p; p++)
        plus += *p == '+';
    char *out = e ? malloc(strlen(e) + plus * 2 + 1) : NULL, *o = out;
    for (const char *p = e; out && *p; p++)
        if (*p == '+') {
            memcpy(o, "%20", 3);
            o += 3;
        } else {
            *o++ = *p;
        }
    if (out) *o = '\0';
    free(e);
    return out;
}

/* The configurators category of a subscription: the override URLs of its
 * category watch, then each rule key's text as a configurator URL. NULL
 * when out of memory; *n entries, each malloc'd. */
static char **configurators_list(const sub_t *s, size_t *n)
{
    size_t total = 0;
    for (size_t k = 0; k < s->nw; k++)
        if (strcmp(s->w[k].category, "configurators") == 0) total += s->w[k].n;
    char **v = calloc(total ? total : 1, sizeof(char *));
    size_t m = 0;
    bool oom = !v;
    for (size_t k = 0; !oom && k < s->nw; k++) {
        const watch_t *w = &s->w[k];
        if (strcmp(w->category, "configurators") != 0) continue;
        for (size_t i = 0; !oom && i < w->n; i++) {
            if (!w->scope) {
                oom = !(v[m++] = strdup(w->v[i].url));
                continue;
            }
            /* the key itself (the prefix watch also sees longer keys); an
             * empty value reads as the decoded key's last segment */
            const char *key = w->v[i].key, *last = strrchr(key, '/');
            if (strcmp(key, w->prefix) != 0) continue;
            char *name = last ? dubbo_url_decode(last + 1) : NULL;
            bool blank = name && strcmp(name, w->v[i].url) == 0;
            free(name);
            if (blank) continue;
            const char *k0 = last ? last + 1 : key;
            char *ek = encode_param(k0), *et = encode_param(w->v[i].url);
            if (!ek || !et ||
                asprintf(&v[m],
                         "configurator://0.0.0.0/%s?category=configurators&"
                         "dynamic=false&key=%s&rule=%s&scope=%s",
                         s->iface, ek, et, w->scope) < 0)
                oom = true;
            else
                m++;
            free(ek);
            free(et);
        }
    }
    if (oom) {
        for (size_t i = 0; v && i < m; i++)
            free(v[i]);
        free(v);
        return NULL;
    }
    *n = m;
    return v;
}

static void deliver(etcd_t *r, watch_t *w)
{
    w->changed = false;
    if (w->delivered && same_as_last(w, true)) return;
    if (w->sub->raw) {
        entries_free(w->last, w->nlast);
        w->last = NULL;
        w->nlast = 0;
        const char **vals = malloc((w->n ? w->n : 1) * sizeof(char *));
        entry_t *copy = calloc(w->n ? w->n : 1, sizeof(entry_t));
        size_t n = 0;
        bool oom = !vals || !copy;
        for (size_t i = 0; !oom && i < w->n; i++) {
            copy[i].key = strdup(w->v[i].key);
            copy[i].url = strdup(w->v[i].url);
            oom = !copy[i].key || !copy[i].url;
            if (w->sub->raw == 2 || strcmp(w->v[i].key, w->prefix) == 0) vals[n++] = w->v[i].url;
        }
        if (oom) {
            entries_free(copy, copy ? w->n : 0);
            free(vals);
            w->changed = true;
            return;
        }
        w->last = copy;
        w->nlast = w->n;
        w->delivered = true;
        dubbo__subs_notify(&r->subs, &w->sub->base, &r->mu, &r->stop, w->category, vals, n);
        free(vals);
        return;
    }
    /* keep a copy: it is what the next list is compared with */
    entry_t *copy = calloc(w->n ? w->n : 1, sizeof(entry_t));
    const char **urls = malloc((w->n ? w->n : 1) * sizeof(char *));
    bool oom = !copy || !urls;
    for (size_t i = 0; !oom && i < w->n; i++) {
        copy[i].key = strdup(w->v[i].key);
        copy[i].url = strdup(w->v[i].url);
        urls[i] = w->v[i].url;
        oom = !copy[i].key || !copy[i].url;
    }
    if (oom) {
        entries_free(copy, copy ? w->n : 0);
        free(urls);
        w->changed = true; /* try again next round */
        return;
    }
    entries_free(w->last, w->nlast);
    w->last = copy;
    w->nlast = w->n;
    w->delivered = true;
    if (strcmp(w->category, "configurators") == 0) {
        /* the category's list is what every watch of it holds */
        size_t n = 0;
        char **all = configurators_list(w->sub, &n);
        if (!all) {
            w->changed = true;
            free(urls);
            return;
        }
        dubbo__subs_notify(&r->subs, &w->sub->base, &r->mu, &r->stop, w->category,
                           (const char *const *)all, n);
        for (size_t i = 0; i < n; i++)
            free(all[i]);
        free(all);
        free(urls);
        return;
    }
    dubbo__subs_notify(&r->subs, &w->sub->base, &r->mu, &r->stop, w->category, urls, w->n);
    free(urls);
}

static void sub_free(etcd_t *r, sub_t *s)
{
    for (size_t i = 0; i < s->nw; i++) {
        watch_t *w = &s->w[i];
        watch_drop(r, w);
        free(w->line.p);
        entries_free(w->v, w->n);
        entries_free(w->last, w->nlast);
        free(w->category);
        free(w->prefix);
    }
    free(s->w);
    free(s->iface);
    dubbo__sub_destroy(&s->base);
    free(s);
}

static void *watch_main(void *arg)
{
    etcd_t *r = arg;
    sub_t **active = NULL;
    size_t nactive = 0, cap = 0;
    for (;;) {
        /* Take the removed subscriptions out, and a snapshot of the rest:
         * only this thread unlinks and frees, so the snapshot stays valid. */
        dubbo__sub_t *dead = NULL;
        pthread_mutex_lock(&r->mu);
        bool stop = r->stop;
        for (dubbo__sub_t **pp = &r->subs.head; *pp;) {
            dubbo__sub_t *s = *pp;
            if (s->removed || stop) {
                *pp = s->next;
                s->next = dead;
                dead = s;
            } else {
                pp = &s->next;
            }
        }
        nactive = 0;
        for (dubbo__sub_t *s = r->subs.head; s; s = s->next) {
            if (nactive == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                sub_t **p = realloc(active, ncap * sizeof(sub_t *));
                if (!p) break;
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

        uint64_t now = dubbo__now_ms();
        for (size_t i = 0; i < nactive; i++)
            for (size_t k = 0; k < active[i]->nw; k++) {
                watch_t *w = &active[i]->w[k];
                if (!w->stream && w->due_ms <= now) watch_connect(r, w);
            }
        int running;
        dubbo__curl.multi_perform(r->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = dubbo__curl.multi_info_read(r->multi, &left)))
            if (m->msg == CURLMSG_DONE) {
                char *priv = NULL;
                CURLcode c = m->data.result;
                dubbo__curl.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
                if (priv) watch_ended(r, (watch_t *)priv, c);
            }
        now = dubbo__now_ms();
        long wait = 1000;
        for (size_t i = 0; i < nactive; i++)
            for (size_t k = 0; k < active[i]->nw; k++) {
                watch_t *w = &active[i]->w[k];
                if (w->changed && w->known && (now >= w->hold_ms || same_as_last(w, false)))
                    deliver(r, w);
                uint64_t due = !w->stream ? w->due_ms : now + 1000;
                if (w->changed && w->hold_ms < due) due = w->hold_ms; /* a held removal */
                long d = due > now ? (long)(due - now) : 0;
                if (d < wait) wait = d;
            }
        dubbo__curl.multi_poll(r->multi, NULL, 0, (int)wait, NULL);
    }
    free(active);
    return NULL;
}

static int etcd_subscribe(dubbo_registry_t *base, const char *consumer_url, dubbo_notify_fn fn,
                          void *user)
{
    etcd_t *r = (etcd_t *)base;
    if (!fn) return dubbo__seterr(DUBBO_EINVAL, "etcd registry: subscribe without a callback");
    dubbo_url_t *u = dubbo_url_parse(consumer_url);
    if (!u) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s", dubbo_last_error());
        return dubbo__seterr(DUBBO_EINVAL, "etcd registry: subscribe: %s", msg);
    }
    const char *iface = dubbo_url_param(u, "interface", u->path);
    if (!iface || !*iface || strcmp(iface, "*") == 0) {
        int err =
            dubbo__seterr(!iface || !*iface ? DUBBO_EINVAL : DUBBO_EUNSUPPORTED,
                          "etcd registry: subscribe %.300s: %s", consumer_url,
                          !iface || !*iface ? "no interface" : "interface=* is not supported");
        dubbo_url_free(u);
        return err;
    }
    const char *cats = dubbo_url_param(u, "category", "providers");
    sub_t *s = calloc(1, sizeof(sub_t));
    size_t maxw = 3; /* the categories, and two configurator rule keys */
    for (const char *p = cats; *p; p++)
        maxw += *p == ',';
    char *ei = dubbo_url_encode(iface);
    if (s) s->w = calloc(maxw, sizeof(watch_t));
    if (s) s->iface = strdup(iface);
    bool oom = !s || !s->w || !ei || !s->iface ||
               dubbo__sub_init(&s->base, consumer_url, fn, user, "etcd");
    bool confs = false;
    for (const char *p = cats; !oom && *p;) {
        size_t len = strcspn(p, ",");
        if (len) {
            watch_t *w = &s->w[s->nw++];
            w->sub = s;
            w->category = strndup(p, len);
            w->backoff_ms = BACKOFF_MIN_MS;
            if (!w->category || asprintf(&w->prefix, "%s/%s/%s/", r->root, ei, w->category) < 0) {
                w->prefix = NULL;
                oom = true;
            }
            confs |= w->category && strcmp(w->category, "configurators") == 0;
        }
        p += len + (p[len] == ',');
    }
    /* Java's consumer configurator keys: the application's and the service's */
    const char *app = dubbo_url_param(u, "application", NULL);
    for (int k = 0; confs && !oom && k < 2; k++) {
        if (k == 0 && (!app || !*app || strchr(app, '/'))) continue;
        watch_t *w = &s->w[s->nw++];
        w->sub = s;
        w->scope = k == 0 ? "application" : "service";
        w->category = strdup("configurators");
        w->backoff_ms = BACKOFF_MIN_MS;
        int rc = k == 0
                     ? asprintf(&w->prefix, CONFIG_ROOT "/%s.configurators", app)
                     : asprintf(&w->prefix, CONFIG_ROOT "/%s:%s:%s.configurators", iface,
                                dubbo_url_param(u, "version", ""), dubbo_url_param(u, "group", ""));
        if (rc < 0) w->prefix = NULL;
        oom = !w->category || rc < 0;
    }
    free(ei);
    dubbo_url_free(u);
    if (oom) {
        if (s) sub_free(r, s);
        return dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
    }
    pthread_mutex_lock(&r->mu);
    if (dubbo__subs_find(&r->subs, consumer_url, fn, user)) {
        pthread_mutex_unlock(&r->mu);
        sub_free(r, s);
        return dubbo__seterr(DUBBO_EEXISTS,
                             "etcd registry: %.300s is already subscribed with "
                             "this callback",
                             consumer_url);
    }
    dubbo__subs_append(&r->subs, &s->base);
    pthread_mutex_unlock(&r->mu);
    dubbo__curl.multi_wakeup(r->multi);
    return 0;
}

static int etcd_unsubscribe(dubbo_registry_t *base, const char *consumer_url, dubbo_notify_fn fn,
                            void *user)
{
    etcd_t *r = (etcd_t *)base;
    pthread_mutex_lock(&r->mu);
    dubbo__sub_t *s = dubbo__subs_find(&r->subs, consumer_url, fn, user);
    if (!s) {
        pthread_mutex_unlock(&r->mu);
        return dubbo__seterr(DUBBO_ENOT_FOUND, "etcd registry: %.300s is not subscribed",
                             consumer_url);
    }
    /* From a callback on the watch thread it cannot be running another one. */
    dubbo__subs_remove(&r->subs, s, &r->mu, r->watch_thread);
    pthread_mutex_unlock(&r->mu);
    dubbo__curl.multi_wakeup(r->multi);
    return 0;
}

/* ---- dubbo list ------------------------------------------------------- */

static int list_instances(etcd_t *r, const char *app, char ***out, size_t *n);

static int etcd_list(dubbo_registry_t *base, const char *interface, const char *category,
                     char ***out, size_t *n)
{
    etcd_t *r = (etcd_t *)base;
    *out = NULL;
    *n = 0;
    if (category && ((!interface && strcmp(category, "applications") == 0) ||
                     (interface && strcmp(category, "instances") == 0)))
        return list_instances(r, interface, out, n);
    char *prefix = NULL, *ei = interface ? dubbo_url_encode(interface) : NULL;
    int rc = interface ? (ei ? asprintf(&prefix, "%s/%s/%s/", r->root, ei,
                                        category && *category ? category : "providers")
                             : -1)
                       : asprintf(&prefix, "%s/", r->root);
    free(ei);
    CURL *easy = rc >= 0 ? dubbo__curl.easy_init() : NULL;
    if (!easy) {
        if (rc >= 0) free(prefix);
        return dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
    }
    entry_t *v;
    size_t m;
    int64_t rev;
    int err = range(r, easy, prefix, !interface, &v, &m, &rev);
    dubbo__curl.easy_cleanup(easy);
    if (err) {
        free(prefix);
        return err;
    }
    char **list = calloc(m ? m : 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; list && i < m; i++) {
        if (interface) { /* the URLs */
            list[k++] = v[i].url;
            v[i].url = NULL;
            continue;
        }
        /* the interfaces: the first segment after the root, once each
         * (keys come sorted, so equal ones are adjacent) */
        const char *seg = v[i].key + strlen(prefix);
        size_t len = strcspn(seg, "/");
        if (!len || !seg[len]) continue;
        char *enc = strndup(seg, len), *name = enc ? dubbo_url_decode(enc) : NULL;
        free(enc);
        if (name && k && strcmp(list[k - 1], name) == 0) {
            free(name);
            continue;
        }
        if (name) list[k++] = name;
    }
    entries_free(v, m);
    free(prefix);
    if (!list) return dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
    *out = list;
    *n = k;
    return 0;
}

/* ---- create / destroy ------------------------------------------------- */

static void etcd_free(etcd_t *r)
{
    for (size_t i = 0; i < r->nendpoints; i++)
        free(r->endpoints[i]);
    free(r->endpoints);
    free(r->root);
    for (size_t i = 0; i < r->nrecs; i++) {
        free(r->recs[i].key);
        free(r->recs[i].url);
    }
    free(r->recs);
    dubbo__curl.slist_free_all(r->hdrs);
    dubbo__curl.slist_free_all(r->watch_hdrs);
    if (r->reg_easy) dubbo__curl.easy_cleanup(r->reg_easy);
    if (r->range_easy) dubbo__curl.easy_cleanup(r->range_easy);
    if (r->multi) dubbo__curl.multi_cleanup(r->multi);
    pthread_mutex_destroy(&r->reg_mu);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->ka_cond);
    dubbo__subs_destroy(&r->subs);
    free(r);
    curl_release();
}

static int add_endpoint(etcd_t *r, const char *host, size_t hostlen, int port)
{
    char **p = realloc(r->endpoints, (r->nendpoints + 1) * sizeof(char *));
    if (!p) return -1;
    r->endpoints = p;
    bool v6 = memchr(host, ':', hostlen) != NULL;
    if (asprintf(&p[r->nendpoints], "http://%s%.*s%s:%d", v6 ? "[" : "", (int)hostlen, host,
                 v6 ? "]" : "", port) < 0)
        return -1;
    r->nendpoints++;
    return 0;
}

/* backup=host:port,host:port (Java's form); IPv6 as [addr]:port. */
static int add_backups(etcd_t *r, const char *list)
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
        int port = colon ? atoi(colon + 1) : 2379;
        if (len && (!hl || port <= 0 || port > 65535)) return -1;
        if (len && add_endpoint(r, h, hl, port)) return -1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

static dubbo_registry_t *etcd_create(const dubbo_url_t *url)
{
    if (!url->host || !*url->host) {
        dubbo__seterr(DUBBO_EINVAL, "etcd registry: no host in the registry URL");
        return NULL;
    }
    if (curl_acquire()) return NULL;
    etcd_t *r = calloc(1, sizeof(etcd_t));
    if (!r) {
        curl_release();
        dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->reg_mu, NULL);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->ka_cond, &ca);
    pthread_condattr_destroy(&ca);
    dubbo__subs_init(&r->subs);

    r->timeout_ms = dubbo_url_param_int(url, "timeout", 3000);
    if (r->timeout_ms <= 0) r->timeout_ms = 3000;
    r->ttl_s = dubbo_url_param_int(url, "ttl", 10);
    if (r->ttl_s < 2) r->ttl_s = 10;
    r->keepalive_ms = r->ttl_s * 300; /* 3 s for the default 10 s */
    const char *group = dubbo_url_param(url, "group", "dubbo");
    while (*group == '/')
        group++;
    bool oom = asprintf(&r->root, "/%s", *group ? group : "dubbo") < 0;
    if (oom) r->root = NULL;
    if (!oom && add_endpoint(r, url->host, strlen(url->host), url->port ? url->port : 2379))
        oom = true;
    if (!oom && add_backups(r, dubbo_url_param(url, "backup", ""))) {
        dubbo__seterr(DUBBO_EINVAL, "etcd registry: bad backup=%.200s (want host:port,...)",
                      dubbo_url_param(url, "backup", ""));
        etcd_free(r);
        return NULL;
    }
    struct curl_slist *h = dubbo__curl.slist_append(NULL, "Content-Type: application/json");
    if (h) r->hdrs = h;
    /* no "Expect: 100-continue" round trip before a large body */
    if (h && (h = dubbo__curl.slist_append(r->hdrs, "Expect:"))) r->hdrs = h;
    /* The gateway passes Grpc-Metadata-* headers on as gRPC metadata:
     * "hasleader" makes a member that has lost its leader cancel the watch
     * (we then reconnect, maybe elsewhere) instead of keeping it silent. */
    struct curl_slist *wh = dubbo__curl.slist_append(NULL, "Content-Type: application/json");
    if (wh) r->watch_hdrs = wh;
    if (wh && (wh = dubbo__curl.slist_append(r->watch_hdrs, "Grpc-Metadata-hasleader: true")))
        r->watch_hdrs = wh;
    r->reg_easy = dubbo__curl.easy_init();
    r->range_easy = dubbo__curl.easy_init();
    r->multi = dubbo__curl.multi_init();
    if (oom || !h || !wh || !r->reg_easy || !r->range_easy || !r->multi) {
        etcd_free(r);
        dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
        return NULL;
    }
    if (pthread_create(&r->ka_thread, NULL, ka_main, r)) {
        etcd_free(r);
        dubbo__seterr(DUBBO_EIO, "etcd registry: cannot start the keep-alive thread");
        return NULL;
    }
    if (pthread_create(&r->watch_thread, NULL, watch_main, r)) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_broadcast(&r->ka_cond);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->ka_thread, NULL);
        etcd_free(r);
        dubbo__seterr(DUBBO_EIO, "etcd registry: cannot start the watch thread");
        return NULL;
    }
    return &r->base;
}

/* Stops both threads, deletes the keys and revokes the lease (when etcd
 * is unreachable the lease's TTL does it). Not from a notification. */
static void etcd_destroy(dubbo_registry_t *base)
{
    etcd_t *r = (etcd_t *)base;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->ka_cond);
    pthread_mutex_unlock(&r->mu);
    dubbo__curl.multi_wakeup(r->multi);
    pthread_join(r->ka_thread, NULL);
    pthread_join(r->watch_thread, NULL);

    pthread_mutex_lock(&r->reg_mu);
    bool down = false;
    for (size_t i = 0; i < r->nrecs && !down; i++) {
        if (!r->recs[i].put && !r->recs[i].del) continue;
        int err = del_key(r, r->recs[i].key);
        if (err) DLOG_WARN("%s", dubbo_last_error());
        down = transient(err);
    }
    if (r->lease && !down) {
        char id[24], what[64];
        snprintf(id, sizeof(id), "%" PRId64, r->lease);
        snprintf(what, sizeof(what), "lease revoke %" PRIx64, (uint64_t)r->lease);
        json_t *out;
        int err =
            post(r, r->reg_easy, "/v3/lease/revoke", json_pack("{s:s}", "ID", id), what, &out);
        if (!err)
            json_decref(out);
        else if (err != DUBBO_ENOT_FOUND)
            DLOG_WARN("%s", dubbo_last_error());
    }
    pthread_mutex_unlock(&r->reg_mu);
    etcd_free(r);
}

/* ---- nodes for application-level discovery (registry.h node_*) ------- */

/* `dubbo list`'s application-level view: the application names under
 * /services, or one application's instances (their values). */
static int list_instances(etcd_t *r, const char *app, char ***out, size_t *n)
{
    char *prefix = NULL;
    if ((app ? asprintf(&prefix, "/services/%s/", app) : asprintf(&prefix, "/services/")) < 0)
        return dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
    CURL *easy = dubbo__curl.easy_init();
    entry_t *v = NULL;
    size_t m = 0;
    int64_t rev;
    int err = easy ? range(r, easy, prefix, false, &v, &m, &rev)
                   : dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
    if (easy) dubbo__curl.easy_cleanup(easy);
    char **list = err ? NULL : calloc(m ? m : 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; list && i < m; i++) {
        if (app) {
            list[k++] = v[i].url;
            v[i].url = NULL;
            continue;
        }
        const char *name = v[i].key + strlen(prefix), *slash = strchr(name, '/');
        size_t len = slash ? (size_t)(slash - name) : strlen(name);
        bool seen = !len;
        for (size_t j = 0; j < k && !seen; j++)
            seen = strlen(list[j]) == len && strncmp(list[j], name, len) == 0;
        if (!seen && (list[k] = strndup(name, len))) k++;
    }
    entries_free(v, m);
    free(prefix);
    if (err) return err;
    if (!list) return dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
    *out = list;
    *n = k;
    return 0;
}

/* dubbo-go's etcd layout: instances at /services/<application>/<host>:<port>
 * (etcdV3ServiceDiscovery, on the registry's lease), holding dubbo-go's
 * DefaultServiceInstance JSON (ID, ServiceName, Host, Port, Enable,
 * Healthy, Metadata); the mapping at <root>/mapping/<interface>, the
 * applications comma-separated (its etcd metadata report; persistent). */
static char *node_path(etcd_t *r, const char *key)
{
    char *p = NULL;
    if (strncmp(key, "services/", 9) == 0 && key[9] && key[9] != '/') {
        if (asprintf(&p, "/%s", key) < 0) p = NULL;
    } else if (strncmp(key, "mapping/", 8) == 0 && key[8] && !strchr(key + 8, '/')) {
        if (asprintf(&p, "%s/%s", r->root, key) < 0) p = NULL;
    } else {
        dubbo__seterr(DUBBO_EINVAL, "etcd registry: no node for the key \"%.200s\"", key);
        return NULL;
    }
    if (!p) dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
    return p;
}

/* Curator's instance JSON (what the discovery layer writes) as dubbo-go's. */
static char *dubbo_go_instance(const char *key, const char *data)
{
    json_t *j = json_loads(data, 0, NULL);
    json_t *payload = json_object_get(j, "payload");
    json_t *md = json_object_get(json_is_object(payload) ? payload : j, "metadata");
    const char *addr = json_string_value(json_object_get(j, "address"));
    json_int_t port = json_integer_value(json_object_get(j, "port"));
    const char *app = key + 9, *slash = strchr(app, '/');
    char *out = NULL;
    if (json_is_object(md) && addr && *addr && port > 0 && port <= 65535 && slash) {
        size_t al = strlen(addr);
        char *host = addr[0] == '[' && al > 2 && addr[al - 1] == ']' ? strndup(addr + 1, al - 2)
                                                                     : strdup(addr);
        char *name = strndup(app, (size_t)(slash - app));
        json_t *o = host && name ? json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:b, s:O, s:s}", "ID",
                                             slash + 1, "ServiceName", name, "Host", host, "Port",
                                             port, "Weight", (json_int_t)100, "Enable", 1,
                                             "Healthy", 1, "Metadata", md, "Address", slash + 1)
                                 : NULL;
        out = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        free(host);
        free(name);
    }
    json_decref(j);
    if (!out) dubbo__seterr(DUBBO_EINVAL, "etcd registry: %s: not an instance: %.200s", key, data);
    return out;
}

static int etcd_node_put(dubbo_registry_t *base, const char *key, const char *data, int flags)
{
    etcd_t *r = (etcd_t *)base;
    char *path = node_path(r, key);
    if (!path) return dubbo__last_code();
    if (flags & DUBBO_NODE_ADD_TO_LIST) {
        /* get, add, put, as dubbo-go's etcd metadata report does */
        pthread_mutex_lock(&r->reg_mu);
        entry_t *v = NULL;
        size_t n = 0;
        int64_t rev = 0;
        int err = range(r, r->reg_easy, path, false, &v, &n, &rev);
        const char *cur = NULL;
        for (size_t i = 0; !err && i < n; i++)
            if (strcmp(v[i].key, path) == 0) cur = v[i].url;
        char *next = NULL;
        if (!err) err = dubbo__list_add(cur, data, &next);
        if (!err && next) { /* NULL: in the list already */
            char *k = b64_encode(path), *val = b64_encode(next), what[320];
            snprintf(what, sizeof(what), "put %s", path);
            json_t *req = k && val ? json_pack("{s:s, s:s}", "key", k, "value", val) : NULL;
            free(k);
            free(val);
            json_t *out;
            err = post(r, r->reg_easy, "/v3/kv/put", req, what, &out);
            if (!err) json_decref(out);
        }
        pthread_mutex_unlock(&r->reg_mu);
        entries_free(v, n);
        free(next);
        free(path);
        return err;
    }
    if (!(flags & DUBBO_NODE_EPHEMERAL) || strncmp(key, "services/", 9) != 0) {
        free(path);
        return dubbo__seterr(DUBBO_EINVAL, "etcd registry: %s: only instances are ephemeral", key);
    }
    char *value = dubbo_go_instance(key, data);
    if (!value) {
        free(path);
        return dubbo__last_code();
    }
    int err = reg_record(r, path, value);
    free(value);
    return err;
}

static int etcd_node_del(dubbo_registry_t *base, const char *key)
{
    etcd_t *r = (etcd_t *)base;
    char *path = node_path(r, key);
    if (!path) return dubbo__last_code();
    pthread_mutex_lock(&r->reg_mu);
    record_t *rec = rec_find(r, path);
    int err = 0;
    if (rec) {
        rec->del = true;
        int mine = 0;
        char msg[512] = "";
        err = flush_locked(r, path, &mine, msg, sizeof(msg));
        if (mine)
            err = dubbo__seterr(mine, "%s", msg);
        else if (err)
            err = 0; /* etcd away: the lease takes the key with it */
    }
    pthread_mutex_unlock(&r->reg_mu);
    free(path);
    return err;
}

static int etcd_node_watch(dubbo_registry_t *base, const char *key, int children,
                           dubbo_notify_fn fn, void *user)
{
    etcd_t *r = (etcd_t *)base;
    if (!fn) return dubbo__seterr(DUBBO_EINVAL, "etcd registry: node_watch without a callback");
    char *path = node_path(r, key);
    if (!path) return dubbo__last_code();
    sub_t *s = calloc(1, sizeof(sub_t));
    if (s) s->w = calloc(1, sizeof(watch_t));
    bool oom = !s || !s->w || dubbo__sub_init(&s->base, key, fn, user, "etcd");
    if (!oom) {
        watch_t *w = &s->w[s->nw++];
        w->sub = s;
        w->category = strdup(key);
        w->backoff_ms = BACKOFF_MIN_MS;
        s->raw = children ? 2 : 1;
        /* children: everything under "<path>/" */
        if (children && asprintf(&w->prefix, "%s/", path) < 0) w->prefix = NULL;
        if (!children) w->prefix = strdup(path);
        oom = !w->category || !w->prefix;
    }
    free(path);
    if (oom) {
        if (s) sub_free(r, s);
        return dubbo__seterr(DUBBO_ENOMEM, "etcd registry: out of memory");
    }
    pthread_mutex_lock(&r->mu);
    dubbo__subs_append(&r->subs, &s->base);
    pthread_mutex_unlock(&r->mu);
    dubbo__curl.multi_wakeup(r->multi);
    return 0;
}

static int etcd_node_unwatch(dubbo_registry_t *base, const char *key, dubbo_notify_fn fn,
                             void *user)
{
    return etcd_unsubscribe(base, key, fn, user);
}

const dubbo_registry_ops_t dubbo__registry_etcd = {
    .name = "etcd",
    .create = etcd_create,
    .reg = etcd_reg,
    .unreg = etcd_unreg,
    .subscribe = etcd_subscribe,
    .unsubscribe = etcd_unsubscribe,
    .destroy = etcd_destroy,
    .list = etcd_list,
    .node_put = etcd_node_put,
    .node_del = etcd_node_del,
    .node_watch = etcd_node_watch,
    .node_unwatch = etcd_node_unwatch,
};
