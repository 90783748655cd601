/* Helpers for the built-in filters: the chain (which filters activate,
 * in which order), URL activation and method-level settings, the RpcException-style answer, JVM
 * descriptor <-> Java type names, and per-key concurrency counters (Java's RpcStatus). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/extension.h"
#include "dubbo/rpc.h"
#include "filter/filter.h"
#include "core/log.h"

/* ---- the chain ----------------------------------------------------------------------- */

enum { MAX_CHAIN = 64 };

typedef struct {
    const dubbo_url_t *url;
    int side;
    char **tok; /* the URL's list */
    size_t ntok;
    dubbo_filter_t **chain;
    size_t n;
} chain_build_t;

static bool listed(const chain_build_t *b, const char *name, bool removed)
{
    for (size_t i = 0; i < b->ntok; i++) {
        const char *t = b->tok[i];
        if (removed && t[0] != '-') continue;
        if (strcmp(removed ? t + 1 : t, name) == 0) return true;
    }
    return false;
}

/* Has this side a hook in f, and is f not in the chain yet? */
static bool usable(const chain_build_t *b, const dubbo_filter_ops_t *f)
{
    if (!f || !(f->sides & b->side)) return false;
    if (b->side == DUBBO_FILTER_CONSUMER ? !f->invoke && !f->invoke_async : !f->serve) return false;
    for (size_t i = 0; i < b->n; i++)
        if (b->chain[i]->ops == f) return false;
    return true;
}

/* Create f and put it in the chain: by order among chain[from..n), or
 * last when from == n. Returns 0 (also when create() declines) or its
 * error. */
static int add(chain_build_t *b, const dubbo_filter_ops_t *f, size_t from)
{
    if (b->n >= MAX_CHAIN)
        return dubbo__seterr(DUBBO_EINVAL, "%s: more than %d filters", b->url->path, MAX_CHAIN);
    int rc = 0;
    dubbo_filter_t *inst = f->create(b->url, b->side, &rc);
    if (rc < 0) return rc;
    if (!inst) return 0;
    size_t pos = b->n;
    while (pos > from && b->chain[pos - 1]->ops->order > f->order)
        pos--;
    memmove(&b->chain[pos + 1], &b->chain[pos], (b->n - pos) * sizeof(*b->chain));
    b->chain[pos] = inst;
    b->n++;
    return 0;
}

/* The filters named in tok[from..to), in the list's order. */
static int add_named(chain_build_t *b, size_t from, size_t to)
{
    int rc = 0;
    for (size_t i = from; i < to && !rc; i++) {
        const char *t = b->tok[i];
        if (t[0] == '-' || strcmp(t, "default") == 0 || listed(b, t, true)) continue;
        const dubbo_filter_ops_t *f = dubbo_extension_find(DUBBO_EXT_FILTER, t);
        if (usable(b, f)) rc = add(b, f, b->n);
    }
    return rc;
}

int dubbo__filter_chain_build(const dubbo_url_t *url, int side, dubbo_filter_t ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const char *spec = dubbo_url_param(
        url, side == DUBBO_FILTER_PROVIDER ? "service.filter" : "reference.filter", NULL);
    if (!spec || !*spec) spec = dubbo_url_param(url, "filter", "");
    chain_build_t b = {url, side, NULL, 0, NULL, 0};
    char *copy = strdup(spec);
    b.tok = calloc(strlen(spec) / 2 + 1, sizeof(*b.tok));
    b.chain = calloc(MAX_CHAIN + 1, sizeof(*b.chain));
    int rc = copy && b.tok && b.chain ? 0 : dubbo__seterr(DUBBO_ENOMEM, "filters: out of memory");
    for (char *save = NULL, *t = rc ? NULL : strtok_r(copy, ", \t", &save); t;
         t = strtok_r(NULL, ", \t", &save))
        b.tok[b.ntok++] = t;
    size_t at_default = b.ntok; /* where "default" stands */
    for (size_t i = 0; i < b.ntok && !rc; i++) {
        const char *name = b.tok[i][0] == '-' ? b.tok[i] + 1 : b.tok[i];
        if (strcmp(name, "default") == 0) {
            if (b.tok[i][0] != '-' && at_default == b.ntok) at_default = i;
        } else if (!dubbo_extension_find(DUBBO_EXT_FILTER, name)) {
            rc = dubbo__last_code();
        }
    }
    const char *names[MAX_CHAIN];
    size_t nreg = rc ? 0 : dubbo_extension_list(DUBBO_EXT_FILTER, names, MAX_CHAIN);
    if (nreg > MAX_CHAIN) nreg = MAX_CHAIN;
    bool defaults = !listed(&b, "default", true);
    if (!rc && at_default < b.ntok) rc = add_named(&b, 0, at_default);
    size_t from = b.n;
    for (size_t i = 0; i < nreg && !rc; i++) {
        const dubbo_filter_ops_t *f = dubbo_extension_find(DUBBO_EXT_FILTER, names[i]);
        if (!usable(&b, f) || listed(&b, f->name, true)) continue;
        bool named = listed(&b, f->name, false);
        /* without "default", the named ones join the active ones by order */
        if (named ? at_default == b.ntok : defaults) rc = add(&b, f, from);
    }
    if (!rc && at_default < b.ntok) rc = add_named(&b, at_default + 1, b.ntok);
    free(copy);
    free(b.tok);
    if (rc) {
        for (size_t i = 0; i < b.n; i++)
            if (b.chain[i]->ops->destroy) b.chain[i]->ops->destroy(b.chain[i]);
        free(b.chain);
        return rc;
    }
    *out = b.chain;
    *n = b.n;
    return 0;
}

/* ---- settings ------------------------------------------------------------------------ */

bool dubbo__filter_value_set(const char *v)
{
    return v && *v && strcmp(v, "false") != 0 && strcmp(v, "0") != 0 && strcmp(v, "null") != 0 &&
           strcmp(v, "N/A") != 0;
}

bool dubbo__filter_url_has(const dubbo_url_t *u, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; u && i < u->nparams; i++) {
        const char *k = u->params[i].key;
        size_t l = strlen(k);
        bool match =
            strcmp(k, key) == 0 || (l > kl && k[l - kl - 1] == '.' && strcmp(k + l - kl, key) == 0);
        if (match && dubbo__filter_value_set(u->params[i].value)) return true;
    }
    return false;
}

void dubbo__filter_rpc_fail(dubbo_call_t *call, const char *fmt, ...)
{
    char msg[1024];
    int n = snprintf(msg, sizeof(msg), "org.apache.dubbo.rpc.RpcException: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    dubbo_call_fail(call, DUBBO_STATUS_SERVICE_ERROR, msg);
}

/* ---- concurrency counters ---------------------------------------------------------------- */

int dubbo__status_init(dubbo__status_t *s)
{
    memset(s->buckets, 0, sizeof(s->buckets));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc) return dubbo__seterr(-rc, "filter: cannot make a condition variable");
    if ((rc = pthread_mutex_init(&s->mu, NULL)) != 0) {
        pthread_cond_destroy(&s->cv);
        return dubbo__seterr(-rc, "filter: cannot make a mutex");
    }
    return 0;
}

void dubbo__status_destroy(dubbo__status_t *s)
{
    for (size_t i = 0; i < sizeof(s->buckets) / sizeof(s->buckets[0]); i++) {
        dubbo__status_entry_t *e = s->buckets[i];
        while (e) {
            dubbo__status_entry_t *n = e->next;
            free(e);
            e = n;
        }
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

static size_t bucket_of(const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % 64;
}

/* The entry of key, made when missing; under s->mu. */
static dubbo__status_entry_t *entry_of(dubbo__status_t *s, const char *key)
{
    size_t b = bucket_of(key);
    for (dubbo__status_entry_t *e = s->buckets[b]; e; e = e->next)
        if (strcmp(e->key, key) == 0) return e;
    size_t len = strlen(key);
    dubbo__status_entry_t *e = calloc(1, sizeof(*e) + len + 1);
    if (!e) return NULL;
    memcpy(e->key, key, len + 1);
    e->next = s->buckets[b];
    s->buckets[b] = e;
    return e;
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

dubbo__status_entry_t *dubbo__status_begin(dubbo__status_t *s, const char *key, int max,
                                           long wait_ms, int *active, long *waited_ms)
{
    struct timespec t0, deadline;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    deadline = t0;
    if (wait_ms > 0) dubbo__deadline(&deadline, CLOCK_MONOTONIC, (uint64_t)wait_ms);
    pthread_mutex_lock(&s->mu);
    dubbo__status_entry_t *e = entry_of(s, key);
    if (!e) {
        pthread_mutex_unlock(&s->mu);
        *active = -1;
        *waited_ms = 0;
        return NULL;
    }
    bool timed_out = false;
    while (max > 0 && e->active >= max && !timed_out) {
        if (wait_ms <= 0) {
            timed_out = true;
            break;
        }
        e->waiters++;
        int rc = pthread_cond_timedwait(&s->cv, &s->mu, &deadline);
        e->waiters--;
        if (rc == ETIMEDOUT) timed_out = e->active >= max;
    }
    *active = e->active;
    *waited_ms = elapsed_ms(&t0);
    if (timed_out) {
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    e->active++;
    pthread_mutex_unlock(&s->mu);
    return e;
}

void dubbo__status_end(dubbo__status_t *s, dubbo__status_entry_t *e)
{
    pthread_mutex_lock(&s->mu);
    e->active--;
    /* One condition variable serves every key: wake all so that the
     * waiter of this key is among them (waits are rare: only at the limit). */
    if (e->waiters) pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}
