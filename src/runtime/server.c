/* The provider runtime, the exporter: the public dubbo_server_* API, the
 * service table (export, announcing in registries), the worker pool, and
 * the calls: each unit the listener hands over (src/transport/listener.c:
 * sockets, protocol detection, read buffers, coalesced writes, timeouts)
 * is refused or queued, decoded by its protocol (include/dubbo/protocol.h),
 * budgeted (src/transport/budget.c, shared with the listener), looked up,
 * run through the provider filters and the handler, and answered; and the
 * graceful shutdown (withdraw, the listener's goaway and grace, drain,
 * close). It knows no protocol: the Dubbo protocol is
 * src/protocol/dubbo/protocol.c. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/random.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/extension.h"
#include "dubbo/hessian2.h"
#include "dubbo/protocol.h"
#include "dubbo/rpc.h"
#include "core/opstats.h"
#include "core/internal.h"
#include "core/jvm.h"
#include "core/log.h"
#include "transport/budget.h"
#include "transport/listener.h"
#include "transport/loop.h"
#include "transport/tls.h"
#include "runtime/call.h"
#include "dubbo/registry.h"

_Static_assert((int)DUBBO__DETECT_YES == (int)DUBBO_DETECT_YES &&
                   (int)DUBBO__DETECT_MORE == (int)DUBBO_DETECT_MORE &&
                   (int)DUBBO__DETECT_NO == (int)DUBBO_DETECT_NO,
               "the listener reads detect()'s answers");

/* Room for a unit's header beside the payload limit, in the memory budget. */
#define UNIT_HEADER_ROOM 64

/* ---- services ---------------------------------------------------------- */

static bool no_version(const char *v)
{
    return !v || !*v || strcmp(v, "0.0.0") == 0;
}

static bool same_opt(const char *a, const char *b, bool version)
{
    if (version ? no_version(a) : (!a || !*a)) return version ? no_version(b) : (!b || !*b);
    return b && strcmp(a, b) == 0;
}

typedef struct job {
    struct job *next;
    sconn_t *c;
    dubbo_unit_t unit; /* its payload lies in `own` or `copy` */
    size_t charged;    /* memory-budget bytes this job holds */
    uint8_t *own;      /* a read buffer the job took over, or NULL */
    uint8_t copy[];    /* else the payload, copied */
} job_t;

static void job_free(job_t *j)
{
    free(j->own);
    free(j);
}

/* One per loop, padded so that no two share a cache line (the server is
 * calloc'ed: 16-byte aligned at best): the loops fill theirs at once. */
typedef struct {
    job_t *head, *tail;
    size_t n;
    char pad[128 - 2 * sizeof(job_t *) - sizeof(size_t)];
} batch_t;

typedef struct {
    dubbo_registry_t *reg;
    char *url; /* what was registered */
} announced_t;

/* An idle worker, on its own stack while it waits (see wake_one). */
typedef struct waiter {
    struct waiter *next;
    pthread_cond_t cv;
    bool woken; /* taken off the idle stack by wake_one */
} waiter_t;

#define MAX_PROTOCOLS 8

struct dubbo_server {
    dubbo_server_options_t opts;
    const dubbo_protocol_ops_t *protos[MAX_PROTOCOLS]; /* opts.protocols, in order */
    size_t nprotos;
    pthread_rwlock_t svc_lock;
    service_t **services; /* each allocated on its own: a call in flight keeps its
                             service_t while an export grows the table */
    size_t nservices;
    /* registries, and what was announced in them (svc_lock guards both) */
    dubbo_registry_t **regs;
    size_t nregs;
    announced_t *announced;
    size_t nannounced;

    dubbo__wire_t wires[MAX_PROTOCOLS]; /* protos' connection-facing hooks */
    dubbo__listener_t *l;               /* from start on */
    bool listening;
    int port;

    pthread_mutex_t mu; /* queue, counters, state */
    pthread_cond_t idle_cv;
    job_t *qhead, *qtail;
    size_t qlen;
    int busy;                /* jobs taken by workers */
    int idle;                /* workers waiting for a job: on the idle stack */
    int waking;              /* workers woken or started, not yet back at the queue */
    struct waiter *idle_top; /* the idle stack: the last worker to go idle on top */
    pthread_t *threads;
    int nthreads; /* started so far: workers start on demand, up to opts.threads */
    bool started;
    bool stopping;        /* workers exit */
    bool abandon;         /* ... without running the jobs still queued */
    bool shut;            /* shutdown done */
    atomic_int inflight;  /* jobs queued or running */
    atomic_long rejected; /* requests refused because the pool and its queue were full */
    /* The memory budget: bytes held by requests in flight (frames being
     * read, queued bodies, decoded arenas) and answers being written. */
    dubbo__budget_t budget;
    /* the jobs of the read being handled, one batch per loop (its thread's) */
    batch_t batch[DUBBO__LOOPS_MAX];
    dubbo__ratelimit_t log_rl; /* protocol-error warnings */
    dubbo__tls_ctx_t *tls;     /* options.tls */
};

void dubbo_server_options_init(dubbo_server_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->version = DUBBO_SERVER_OPTIONS_VERSION;
    o->host = "0.0.0.0";
    o->port = 20880;
    o->threads = 200;
    o->queue = 0;
    o->payload = (size_t)8 << 20;
    o->heartbeat_ms = 60000;
    o->shutdown_timeout_ms = 10000;
    o->accepts = 0;
    o->read_timeout_ms = 30000;
    o->first_request_timeout_ms = 0; /* 2 x heartbeat */
    o->memory_budget = (size_t)64 << 20;
}

void dubbo_io_threads_set(int n)
{
    dubbo__loops_set(n);
}

int dubbo_io_threads(void)
{
    return dubbo__loops_count();
}

dubbo_server_t *dubbo_server_new(const dubbo_server_options_t *opts)
{
    dubbo_server_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    if (opts)
        s->opts = *opts;
    else
        dubbo_server_options_init(&s->opts);
    if (s->opts.version < 3) s->opts.protocols = NULL;
    if (s->opts.version < 4) {
        s->opts.tls = DUBBO_TLS_OFF;
        s->opts.tls_cert_file = s->opts.tls_key_file = s->opts.tls_ca_file = NULL;
        s->opts.tls_client_auth = false;
        s->opts.accepts_per_ip = 0;
    }
    if (s->opts.version < 5) s->opts.io_threads = 0;
    if (s->opts.io_threads < 0) s->opts.io_threads = 0;
    if (!s->opts.host) s->opts.host = "0.0.0.0";
    s->opts.host = strdup(s->opts.host);
    /* copied: a configuration the name came from may be freed before us */
    if (s->opts.application) s->opts.application = strdup(s->opts.application);
    if (s->opts.threads <= 0) s->opts.threads = 200;
    if (s->opts.queue <= 0) s->opts.queue = 1024;
    if (!s->opts.payload) s->opts.payload = (size_t)8 << 20;
    if (s->opts.heartbeat_ms <= 0) s->opts.heartbeat_ms = 60000;
    if (s->opts.shutdown_timeout_ms <= 0) s->opts.shutdown_timeout_ms = 10000;
    if (s->opts.read_timeout_ms <= 0) s->opts.read_timeout_ms = 30000;
    if (!s->opts.memory_budget) s->opts.memory_budget = (size_t)64 << 20;
    /* at least room for one unit of the largest size allowed, header included */
    if (s->opts.memory_budget < s->opts.payload + UNIT_HEADER_ROOM)
        s->opts.memory_budget = s->opts.payload + UNIT_HEADER_ROOM;
    /* the protocols: each must exist and have a provider side */
    const char *list = s->opts.protocols && *s->opts.protocols ? s->opts.protocols : "dubbo";
    s->opts.protocols = NULL;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)(n < 63 ? n : 63), p);
        const dubbo_protocol_ops_t *proto = n ? dubbo_protocol_find(name) : NULL;
        if (proto && proto->cut &&
            (!proto->detect || !proto->on_unit || !proto->decode || !proto->answer ||
             !proto->refuse || !proto->goaway)) {
            dubbo__seterr(DUBBO_EINVAL,
                          "server: protocol \"%s\" lacks a provider hook (detect, cut, on_unit, "
                          "decode, answer, refuse and goaway are all required)",
                          name);
            free((char *)s->opts.host);
            free((char *)s->opts.application);
            free(s);
            return NULL;
        }
        if (n && (!proto || !proto->cut || s->nprotos == MAX_PROTOCOLS)) {
            if (!proto)
                dubbo__seterr(DUBBO_EINVAL, "server: unknown protocol \"%s\" in \"%s\"", name,
                              list);
            else if (!proto->cut)
                dubbo__seterr(DUBBO_EINVAL,
                              "server: protocol \"%s\" has no provider side (in \"%s\")", name,
                              list);
            else
                dubbo__seterr(DUBBO_EINVAL, "server: more than %d protocols in \"%s\"",
                              MAX_PROTOCOLS, list);
            free((char *)s->opts.host);
            free((char *)s->opts.application);
            free(s);
            return NULL;
        }
        if (n) {
            s->wires[s->nprotos] = (dubbo__wire_t){
                .proto = proto,
                .detect = proto->detect,
                .cut = proto->cut,
                .refuse = proto->refuse,
                .goaway = proto->goaway,
                .conn_open = proto->conn_open,
                .conn_close = proto->conn_close,
                .tick = proto->tick,
                .stateful = proto->on_answer != NULL,
            };
            s->protos[s->nprotos++] = proto;
        }
        p += n;
        if (*p == ',') p++;
    }
    s->opts.protocols = strdup(list);
    s->budget.limit = s->opts.memory_budget;
    dubbo__ratelimit_init(&s->log_rl, 10);
    s->port = -1;
    pthread_rwlock_init(&s->svc_lock, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle_cv, NULL);
    /* copied (only read by dubbo_server_start) */
    s->opts.tls_cert_file = s->opts.tls_cert_file ? strdup(s->opts.tls_cert_file) : NULL;
    s->opts.tls_key_file = s->opts.tls_key_file ? strdup(s->opts.tls_key_file) : NULL;
    s->opts.tls_ca_file = s->opts.tls_ca_file ? strdup(s->opts.tls_ca_file) : NULL;
    return s;
}

static void service_free(service_t *x)
{
    for (size_t k = 0; k < x->nmethods && x->methods; k++) {
        free(x->methods[k].name);
        free(x->methods[k].desc);
    }
    free(x->methods);
    free(x->interface);
    free(x->version);
    free(x->group);
    for (size_t i = 0; i < x->nfilters; i++)
        if (x->filters[i]->ops->destroy) x->filters[i]->ops->destroy(x->filters[i]);
    free(x->filters);
    dubbo_url_free(x->url);
}

/* A version 4 UUID in its 36-character text form (Java's UUID.randomUUID). */
static int random_uuid(char out[37])
{
    uint8_t b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        return dubbo__seterr(DUBBO_EIO, "token: no random bytes for a generated token: %s",
                             strerror(errno));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

/* The service's URL (its parameters) and its provider filter chain, built
 * as the reference's is (service.filter or filter, -name, default). */
static int service_setup(dubbo_server_t *s, service_t *x, const char *const *params)
{
    char head[600];
    /* the port's first protocol names the service URL the filters read */
    const char *host = strncmp(s->opts.host, "unix:", 5) == 0 ? "localhost" : s->opts.host;
    snprintf(head, sizeof(head), "%s://" DUBBO__HOST_FMT ":%d/%s", s->protos[0]->name,
             DUBBO__HOST_ARGS(host), s->port > 0 ? s->port : s->opts.port, x->interface);
    if (!(x->url = dubbo_url_parse(head))) return dubbo__last_code();
    if (*x->version) dubbo_url_add_param(x->url, "version", x->version);
    if (*x->group) dubbo_url_add_param(x->url, "group", x->group);
    for (const char *const *kv = params; kv && kv[0] && kv[1]; kv += 2) {
        char uuid[37];
        const char *v = kv[1];
        /* Java's ServiceConfig: token=true|default becomes a random UUID,
         * published with the provider URL for consumers to send back. */
        if (strcmp(kv[0], "token") == 0 &&
            (strcasecmp(v, "true") == 0 || strcasecmp(v, "default") == 0)) {
            if (random_uuid(uuid)) return dubbo__last_code();
            v = uuid;
        }
        if (dubbo_url_add_param(x->url, kv[0], v)) return DUBBO_ENOMEM;
    }
    return dubbo__filter_chain_build(x->url, DUBBO_FILTER_PROVIDER, &x->filters, &x->nfilters);
}

/* Register one service's provider URL in one registry; svc_lock held.
 * A registry that fails is logged: registries recover on their own. */
static void announce(dubbo_server_t *s, dubbo_registry_t *reg, const service_t *x)
{
    /* register=false: exported, never registered (Java's ServiceConfig
     * register; MetadataService is one) */
    if (strcmp(dubbo_url_param(x->url, "register", "true"), "false") == 0) return;
    const char *host = s->opts.host;
    if (!host || !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
        host = dubbo_local_ip();
    /* a unix-domain socket: localhost, and the path as the `unix`
     * parameter, which dubbo-c consumers dial (docs/unix-sockets.md) */
    const char *unix_path = NULL;
    if (strncmp(host, "unix:", 5) == 0) {
        unix_path = host + 5;
        if (strncmp(unix_path, "//", 2) == 0) unix_path += 2;
        host = "localhost";
    }
    const char **methods = calloc(x->nmethods ? x->nmethods : 1, sizeof(char *));
    const char **extra = calloc(x->url->nparams * 2 + 3, sizeof(char *));
    if (!methods || !extra) {
        free(methods);
        free(extra);
        return;
    }
    size_t nm = 0; /* each name once (overloads share one) */
    for (size_t i = 0; i < x->nmethods; i++) {
        bool seen = false;
        for (size_t k = 0; k < nm && !seen; k++)
            seen = strcmp(methods[k], x->methods[i].name) == 0;
        if (!seen) methods[nm++] = x->methods[i].name;
    }
    size_t k = 0;
    for (size_t i = 0; i < x->url->nparams; i++) {
        const char *key = x->url->params[i].key;
        if (strcmp(key, "version") == 0 || strcmp(key, "group") == 0) continue;
        extra[k++] = key;
        extra[k++] = x->url->params[i].value;
    }
    if (unix_path) {
        extra[k++] = "unix";
        extra[k++] = unix_path;
    }
    extra[k] = NULL;
    /* one URL per protocol this port serves, as Java registers one per
     * protocol of a service */
    for (size_t p = 0; p < s->nprotos; p++) {
        char *url = dubbo_provider_url(s->protos[p]->name, host, s->port, x->interface, x->version,
                                       x->group, s->opts.application, methods, nm, extra);
        if (!url) break;
        int rc = reg->ops->reg(reg, url);
        dubbo__op_count(reg->url->protocol, DUBBO__OP_REGISTER_SERVICE, rc == 0, 0);
        if (rc)
            DLOG_WARN("cannot register %s (%s) in %s: %s", x->interface, s->protos[p]->name,
                      reg->url->protocol, dubbo_last_error());
        announced_t *na = realloc(s->announced, (s->nannounced + 1) * sizeof(*na));
        if (!na) {
            free(url);
            break;
        }
        s->announced = na;
        s->announced[s->nannounced].reg = reg;
        s->announced[s->nannounced].url = url;
        s->nannounced++;
    }
    free(methods);
    free(extra);
}

int dubbo_server_add_registry(dubbo_server_t *s, const char *registry_url)
{
    dubbo_extensions_init();
    dubbo_registry_t *reg = dubbo_registry_open(registry_url);
    if (!reg) return dubbo__last_code() ? dubbo__last_code() : DUBBO_EINVAL;
    /* a registry that serves something exports it first (application-level
     * discovery: MetadataService) */
    if (reg->ops->attach) {
        int rc = reg->ops->attach(reg, s, s->opts.application);
        if (rc) {
            dubbo_registry_close(reg);
            return rc;
        }
    }
    pthread_rwlock_wrlock(&s->svc_lock);
    dubbo_registry_t **nr = realloc(s->regs, (s->nregs + 1) * sizeof(*nr));
    if (!nr) {
        pthread_rwlock_unlock(&s->svc_lock);
        dubbo_registry_close(reg);
        return dubbo__seterr(DUBBO_ENOMEM, "server: out of memory");
    }
    s->regs = nr;
    s->regs[s->nregs++] = reg;
    if (s->listening)
        for (size_t i = 0; i < s->nservices; i++)
            announce(s, reg, s->services[i]);
    pthread_rwlock_unlock(&s->svc_lock);
    return 0;
}

/* Withdraw every announcement (shutdown's first step). */
static void withdraw_all(dubbo_server_t *s)
{
    pthread_rwlock_wrlock(&s->svc_lock);
    for (size_t i = 0; i < s->nannounced; i++) {
        announced_t *a = &s->announced[i];
        if (a->reg->ops->unreg(a->reg, a->url))
            DLOG_WARN("cannot unregister from %s: %s", a->reg->url->protocol, dubbo_last_error());
        free(a->url);
    }
    if (s->nannounced) DLOG_INFO("shutdown: unregistered %zu provider URL(s)", s->nannounced);
    free(s->announced);
    s->announced = NULL;
    s->nannounced = 0;
    pthread_rwlock_unlock(&s->svc_lock);
}

int dubbo_server_export(dubbo_server_t *s, const dubbo_service_t *svc)
{
    dubbo_extensions_init();
    if (!svc || !svc->interface || !*svc->interface || !svc->methods || !svc->nmethods)
        return dubbo__seterr(DUBBO_EINVAL, "export: a service needs an interface and methods");
    for (size_t i = 0; i < svc->nmethods; i++) {
        const dubbo_method_t *m = &svc->methods[i];
        if (!m->name || !m->fn)
            return dubbo__seterr(DUBBO_EINVAL, "export %s: method %zu has no name or handler",
                                 svc->interface, i);
        /* "name(desc)": the descriptor must be whole and well formed */
        const char *open = strchr(m->name, '(');
        size_t nl = strlen(m->name);
        if (open && (open == m->name || m->name[nl - 1] != ')' || strchr(open + 1, '(')))
            return dubbo__seterr(DUBBO_EMALFORMED,
                                 "export %s: method \"%s\": expected name(descriptor), e.g. "
                                 "greet(Ljava/lang/String;I)",
                                 svc->interface, m->name);
        if (open) {
            char desc[512];
            snprintf(desc, sizeof(desc), "%.*s", (int)(nl - (size_t)(open - m->name) - 2),
                     open + 1);
            if (dubbo__jvm_desc_count(desc) < 0) {
                char detail[300];
                snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
                return dubbo__seterr(DUBBO_EMALFORMED, "export %s: method %s: %s", svc->interface,
                                     m->name, detail);
            }
        }
        for (size_t k = 0; k < i; k++) /* one handler per name and descriptor */
            if (strcmp(svc->methods[k].name, m->name) == 0)
                return dubbo__seterr(DUBBO_EINVAL, "export %s: method %s is in the table twice",
                                     svc->interface, m->name);
    }
    pthread_rwlock_wrlock(&s->svc_lock);
    for (size_t i = 0; i < s->nservices; i++) {
        service_t *x = s->services[i];
        if (strcmp(x->interface, svc->interface) == 0 && same_opt(x->version, svc->version, true) &&
            same_opt(x->group, svc->group, false)) {
            pthread_rwlock_unlock(&s->svc_lock);
            return dubbo__seterr(DUBBO_EEXISTS,
                                 "export: %s (version \"%s\", group \"%s\") is "
                                 "already exported",
                                 svc->interface, svc->version ? svc->version : "",
                                 svc->group ? svc->group : "");
        }
    }
    service_t **ns = realloc(s->services, (s->nservices + 1) * sizeof(*ns));
    service_t *x = ns ? calloc(1, sizeof(*x)) : NULL;
    if (ns) s->services = ns;
    if (!x) {
        pthread_rwlock_unlock(&s->svc_lock);
        return dubbo__seterr(DUBBO_ENOMEM, "export: out of memory");
    }
    x->interface = strdup(svc->interface);
    x->version = strdup(svc->version ? svc->version : "");
    x->group = strdup(svc->group ? svc->group : "");
    x->methods = calloc(svc->nmethods, sizeof(method_t));
    for (size_t i = 0; i < svc->nmethods && x->methods; i++) {
        x->methods[i].fn = svc->methods[i].fn;
        const char *full = svc->methods[i].name, *open = strchr(full, '(');
        x->methods[i].name = open ? strndup(full, (size_t)(open - full)) : strdup(full);
        x->methods[i].desc = open ? strndup(open + 1, strlen(open + 1) - 1) : NULL;
    }
    x->nmethods = svc->nmethods;
    x->user = svc->user;
    x->url = NULL;
    x->filters = NULL;
    x->nfilters = 0;
    int rc = service_setup(s, x, svc->params);
    if (rc) {
        char detail[512];
        snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
        service_free(x);
        free(x);
        pthread_rwlock_unlock(&s->svc_lock);
        return dubbo__seterr(rc, "export %s: %s", svc->interface, detail);
    }
    s->services[s->nservices++] = x;
    /* Java's provider URL carries the server's settings: `heartbeat` (idle
     * limit 3x) and `accepts` on a service exported before start are the
     * server's. */
    for (const char *const *p = svc->params; !s->listening && p && p[0] && p[1]; p += 2) {
        char *end;
        bool hbk = strcmp(p[0], "heartbeat") == 0, acc = strcmp(p[0], "accepts") == 0,
             aip = strcmp(p[0], "accepts-per-ip") == 0;
        long v = hbk || acc || aip ? strtol(p[1], &end, 10) : 0;
        if (v > 0 && v <= INT32_MAX && *end == '\0') {
            if (hbk) s->opts.heartbeat_ms = (int)v;
            if (acc) s->opts.accepts = (int)v;
            if (aip) s->opts.accepts_per_ip = (int)v;
        }
    }
    if (s->listening)
        for (size_t i = 0; i < s->nregs; i++)
            announce(s, s->regs[i], x);
    pthread_rwlock_unlock(&s->svc_lock);
    return 0;
}

/* ---- writing (loop thread) ----------------------------------------------- */
static void conn_unref_task(void *c)
{
    dubbo__lconn_unref(c);
}

/* A protocol's view of its connection (include/dubbo/protocol.h). */
int dubbo_sconn_send(dubbo_sconn_t *c, const void *bytes, size_t n)
{
    return dubbo__lconn_send(c, bytes, n);
}

const char *dubbo_sconn_remote(const dubbo_sconn_t *c)
{
    return dubbo__lconn_remote(c);
}

const char *dubbo_sconn_local(const dubbo_sconn_t *c)
{
    return dubbo__lconn_local(c);
}

void *dubbo_sconn_state(const dubbo_sconn_t *c)
{
    return dubbo__lconn_state(c);
}

void dubbo_sconn_close(dubbo_sconn_t *c, const char *why)
{
    dubbo__lconn_close(c, why);
}

size_t dubbo_sconn_limit(const dubbo_sconn_t *c)
{
    return dubbo__lconn_limit(c);
}

int dubbo_sconn_heartbeat(const dubbo_sconn_t *c)
{
    return dubbo__lconn_heartbeat(c);
}

/* The connection's protocol table (the wire's proto is one of s->protos). */
static const dubbo_protocol_ops_t *conn_proto(const sconn_t *c)
{
    return dubbo__lconn_proto(c);
}

typedef struct {
    dubbo__task_t task; /* posted without another allocation */
    dubbo_server_t *s;
    sconn_t *c;
    dubbo_unit_t unit; /* the request it answers */
    dubbo_buf_t frame; /* a whole frame, header included */
} answer_t;

/* Hand a whole frame, charged with dubbo__budget_out_charge, to the
 * connection: framed by its protocol's on_answer, else queued as it is
 * (dubbo__lconn_write); a frame that cannot go (closing connection, no
 * memory) is released. Loop thread. */
static void queue_answer(dubbo_server_t *s, sconn_t *c, const dubbo_unit_t *u, dubbo_buf_t *frame)
{
    const dubbo_protocol_ops_t *proto = conn_proto(c);
    if (!proto->on_answer) {
        dubbo__lconn_write(c, frame);
        return;
    }
    /* the protocol frames it with the connection's state */
    size_t n = frame->len;
    if (!dubbo__lconn_closing(c))
        proto->on_answer(dubbo__lconn_state(c), c, u, frame->base, frame->len);
    dubbo__budget_out_release(&s->budget, n);
    dubbo_buf_destroy(frame);
}

static void answer_on_loop(void *arg)
{
    answer_t *a = arg;
    sconn_t *c = a->c;
    queue_answer(a->s, c, &a->unit, &a->frame);
    free(a);
    dubbo__lconn_unref(c);
}

/* A loop task whose node is on the poster's stack: for the paths where an
 * allocation failed and the work must still be done (an answer to queue,
 * a connection reference to drop), so that a failed malloc costs a wait
 * instead of an answer never sent or a connection never freed. */
typedef struct {
    dubbo__task_t task;
    dubbo__task_fn fn;
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} stack_task_t;

static void stack_task_run(void *arg)
{
    stack_task_t *t = arg;
    t->fn(t->arg);
    pthread_mutex_lock(&t->mu);
    t->done = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* Run fn(arg) on loop l's thread and wait for it; allocates nothing. Not
 * on a loop thread. Fails only when the loop is not running. */
static int loop_run_nomem(dubbo__loop_t *l, dubbo__task_fn fn, void *arg)
{
    stack_task_t t = {.task = {.fn = stack_task_run}, .fn = fn, .arg = arg, .done = false};
    t.task.arg = &t;
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    int rc = dubbo__loop_post_task_to(l, &t.task);
    pthread_mutex_lock(&t.mu);
    while (!rc && !t.done)
        pthread_cond_wait(&t.cv, &t.mu);
    pthread_mutex_unlock(&t.mu);
    pthread_mutex_destroy(&t.mu);
    pthread_cond_destroy(&t.cv);
    return rc;
}

/* answer_on_loop for an answer_t on the worker's stack. */
static void answer_on_loop_stack(void *arg)
{
    answer_t *a = arg;
    queue_answer(a->s, a->c, &a->unit, &a->frame);
    dubbo__lconn_unref(a->c);
}

/* ---- dispatch -------------------------------------------------------------- */

/* Hand a whole frame to its connection: directly on its loop's thread,
 * else through a task of that loop (one allocation: the task is inside the
 * answer),
 * which takes over the job's connection reference when `call` has one
 * (call->job_ref_given then tells the worker not to drop it). Takes the
 * buffer's memory. */
static void deliver_owned(dubbo_call_t *call, dubbo_buf_t *frame);

static void deliver(dubbo_call_t *call, dubbo_buf_t *frame)
{
    dubbo_server_t *s = call->srv;
    sconn_t *c = call->c;
    dubbo__budget_out_charge(&s->budget, frame->len);
    dubbo__loop_t *loop = dubbo__lconn_loop(c);
    if (dubbo__loop_current() == loop) {
        queue_answer(s, c, &call->unit, frame);
        return;
    }
    /* Unframed answers join the connection's inbox: copied, without a
     * task of their own (the worker keeps its buffer and its reference). */
    if (!conn_proto(c)->on_answer && !dubbo__lconn_write_any(c, frame->base, frame->len)) {
        if (frame == call->scratch)
            frame->len = 0;
        else
            dubbo_buf_destroy(frame);
        return;
    }
    if (frame == call->scratch) {
        /* the task below takes the memory: the worker starts a new one */
        dubbo_buf_t owned = *frame;
        dubbo_buf_init(frame, 0);
        deliver_owned(call, &owned);
        return;
    }
    deliver_owned(call, frame);
}

/* deliver's path through a loop task of the answer's own. */
static void deliver_owned(dubbo_call_t *call, dubbo_buf_t *frame)
{
    dubbo_server_t *s = call->srv;
    sconn_t *c = call->c;
    dubbo__loop_t *loop = dubbo__lconn_loop(c);
    answer_t *a = malloc(sizeof(*a));
    if (!a) {
        /* no memory for the task: the answer goes through one on this
         * stack, the worker waiting for the loop to take it */
        answer_t sa = {.s = s, .c = c, .unit = call->unit, .frame = *frame};
        bool given = call->job_ref && !call->job_ref_given;
        if (!given) dubbo__lconn_ref(c);
        if (loop_run_nomem(loop, answer_on_loop_stack, &sa)) {
            dubbo__budget_out_release(&s->budget, frame->len);
            dubbo_buf_destroy(frame);
            if (!given) dubbo__lconn_unref(c);
            return;
        }
        if (given) call->job_ref_given = true;
        return;
    }
    a->frame = *frame;
    a->s = s;
    a->c = c;
    a->unit = call->unit;
    a->task.fn = answer_on_loop;
    a->task.arg = a;
    bool given = call->job_ref && !call->job_ref_given;
    if (!given) dubbo__lconn_ref(c);
    if (dubbo__loop_post_task_to(loop, &a->task)) {
        dubbo__budget_out_release(&s->budget, a->frame.len);
        dubbo_buf_destroy(&a->frame);
        if (!given) dubbo__lconn_unref(c);
        free(a);
        return;
    }
    if (given) call->job_ref_given = true;
}

static void write_answer(dubbo_call_t *call)
{
    if (!call->unit.twoway) return;
    dubbo_buf_t own, *out = call->scratch ? call->scratch : &own;
    if (!call->scratch) dubbo_buf_init(out, 0);
    out->len = 0;
    if (call->proto->answer(call, call->srv->opts.payload, out)) {
        /* The consumer must hear of it, not wait for its timeout: a
         * SERVER_ERROR answer naming the failure (short, without the
         * result that could not be written). */
        char msg[600];
        snprintf(msg, sizeof(msg), "provider %s cannot write the answer of %s.%s: %s",
                 dubbo__lconn_local(call->c), call->service ? call->service : "",
                 call->method ? call->method : "", dubbo_last_error());
        DLOG_ERROR("%s (to %s)", msg, dubbo__lconn_remote(call->c));
        out->len = 0;
        call->status = DUBBO_STATUS_SERVER_ERROR;
        call->error = msg;
        call->value = NULL;
        call->res_att = NULL;
        call->is_exception = false;
        if (call->proto->answer(call, call->srv->opts.payload, out)) {
            DLOG_ERROR("cannot write the error answer of %s.%s to %s either: %s",
                       call->service ? call->service : "", call->method ? call->method : "",
                       dubbo__lconn_remote(call->c), dubbo_last_error());
            if (!call->scratch) dubbo_buf_destroy(out);
            return;
        }
    }
    deliver(call, out);
}

/* Each thread keeps one arena for its calls, reset between them, instead of
 * making and freeing one per call. Freed when the thread ends. */
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void arena_key_free(void *a)
{
    dubbo_arena_free(a);
}

static void arena_key_init(void)
{
    pthread_key_create(&arena_key, arena_key_free);
}

static dubbo_arena_t *call_arena(size_t limit)
{
    pthread_once(&arena_once, arena_key_init);
    dubbo_arena_t *a = pthread_getspecific(arena_key);
    if (!a) {
        if (!(a = dubbo_arena_new(limit))) return NULL;
        pthread_setspecific(arena_key, a);
    }
    dubbo__arena_set_limit(a, limit);
    return a;
}

static void release_arena(dubbo_arena_t *a)
{
    dubbo_arena_reset(a);
}

const service_t *dubbo__call_lookup(const dubbo_call_t *call, const char *path, const char *version,
                                    const char *group)
{
    dubbo_server_t *s = call->srv;
    pthread_rwlock_rdlock(&s->svc_lock);
    service_t *svc = NULL;
    for (size_t i = 0; i < s->nservices; i++) {
        service_t *x = s->services[i];
        if (strcmp(x->interface, path) == 0 && same_opt(x->version, version, true) &&
            same_opt(x->group, group, false)) {
            svc = x;
            break;
        }
    }
    pthread_rwlock_unlock(&s->svc_lock);
    return svc;
}

/* Run one request: `u` as the connection's protocol cut it, `charged` the
 * budget its bytes hold, `j` the queued job (NULL with dispatcher=direct),
 * whose large payload is given back as soon as it is decoded. */
static bool run_job(dubbo_server_t *s, sconn_t *c, const dubbo_unit_t *u, size_t charged, job_t *j,
                    dubbo_buf_t *scratch)
{
    dubbo_call_t call = {0};
    call.scratch = scratch;
    call.srv = s;
    call.c = c;
    call.job_ref = j != NULL;
    call.payload_kept = !(j && j->own); /* a job's own read buffer goes once decoded */
    call.proto = conn_proto(c);
    call.unit = *u;
    call.status = DUBBO_STATUS_OK;
    call.arena = call_arena(s->opts.payload * 8 + ((size_t)1 << 20));
    char msg[1024];
    if (!call.arena) {
        /* not even an arena: answered, not dropped (the consumer would
         * only time out) */
        call.status = DUBBO_STATUS_SERVER_ERROR;
        call.error = "provider out of memory: no arena for the request";
        call.service = call.method = "";
        write_answer(&call);
        return call.job_ref_given;
    }
    int rc = call.proto->decode(&call, u);
    /* The decoded arguments count against the memory budget too, three
     * times: the arguments, and room for a result and its encoded answer
     * of their size (a service that makes more is charged for it when it
     * does, below). Without the room, requests admitted within the budget
     * went on to double it with their answers. */
    size_t decoded = dubbo_arena_used(call.arena);
    size_t hold = decoded * 3;
    if (!rc && decoded > ((size_t)64 << 10) &&
        !dubbo__budget_take_admitted(&s->budget, hold, charged)) {
        dubbo__budget_overload_message(&s->budget, dubbo__lconn_local(c), decoded, msg,
                                       sizeof(msg));
        dubbo__log_limited(&s->log_rl, "request %llu from %s refused: %s",
                           (unsigned long long)u->id, dubbo__lconn_remote(c), msg);
        call.status = DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED;
        call.error = msg;
        write_answer(&call);
        release_arena(call.arena);
        return call.job_ref_given;
    }
    if (rc || decoded <= ((size_t)64 << 10)) decoded = hold = 0;
    if (!rc && j && j->own) {
        /* the values live in the arena now: the unit is no longer needed */
        free(j->own);
        j->own = NULL;
        dubbo__budget_give(&s->budget, j->charged);
        j->charged = 0;
    }
    if (rc) {
        dubbo__log_limited(&s->log_rl, "bad request %llu from %s: %s", (unsigned long long)u->id,
                           dubbo__lconn_remote(c), dubbo_last_error());
        snprintf(msg, sizeof(msg), "Fail to decode request due to: %s", dubbo_last_error());
        /* out of memory is the provider's failure, not a bad request */
        call.status = rc == DUBBO_ENOMEM ? DUBBO_STATUS_SERVER_ERROR : DUBBO_STATUS_BAD_REQUEST;
        call.error = msg;
        call.service = call.method = "";
        write_answer(&call);
        release_arena(call.arena);
        return call.job_ref_given;
    }
    const char *path = call.service ? call.service : "";
    const char *version = call.version, *group = call.group;
    const service_t *svc = dubbo__call_lookup(&call, path, version, group);
    if (!svc) {
        snprintf(msg, sizeof(msg),
                 "Not found exported service: %s%s%s%s%s in this provider, may be version or "
                 "group mismatch, channel: consumer: %s --> provider: %s, message: %s.%s",
                 group && *group ? group : "", group && *group ? "/" : "", path,
                 no_version(version) ? "" : ":", no_version(version) ? "" : version,
                 dubbo__lconn_remote(c), dubbo__lconn_local(c), path,
                 call.method ? call.method : "");
        call.status = DUBBO_STATUS_SERVICE_NOT_FOUND;
        call.error = msg;
        write_answer(&call);
        release_arena(call.arena);
        dubbo__budget_give(&s->budget, hold);
        return call.job_ref_given;
    }
    /* $echo and generic $invoke are provider filters (src/filter/echo.c,
     * generic.c); generic looks the real method up again. */
    call.svc = svc;
    dubbo__call_set_invocation(&call, call.method ? call.method : "", call.desc, call.args,
                               call.nargs);
    /* Provider filters (echo, generic, token, tps, executes, accesslog,
     * ...), then the handler, as the last link of the chain. */
    size_t before = dubbo_arena_used(call.arena);
    dubbo_call_next(&call);
    /* A result larger than the room held for it counts until it is
     * encoded, so that new frames are refused meanwhile. */
    size_t made = dubbo_arena_used(call.arena) - before;
    made = made > 2 * decoded ? made - 2 * decoded : 0;
    if (made > ((size_t)64 << 10))
        atomic_fetch_add(&s->budget.mem, made);
    else
        made = 0;
    write_answer(&call);
    release_arena(call.arena);
    dubbo__budget_give(&s->budget, hold + made);
    return call.job_ref_given;
}

/* The pool wakes as few workers as keep the queue moving. A burst of
 * jobs wakes one worker; each worker that takes a job and leaves more
 * behind wakes the next, unless one is already on its way (Go's scheduler
 * does the same with its spinning threads). Short calls are then served by
 * the few workers already running, instead of a thread switch per call;
 * calls that block spread over as many workers as they need, one wake-up
 * at a time. Idle workers wait on a stack, the most recent on top, so
 * that the worker woken is the one whose stack and caches are warm. */
static void spawn_workers(dubbo_server_t *s, size_t n);

/* A worker keeps up to this much of its answer buffer between calls. */
#define SCRATCH_KEEP ((size_t)64 << 10)

/* s->mu held. */
static void wake_one(dubbo_server_t *s)
{
    waiter_t *w = s->idle_top;
    if (w) {
        s->idle_top = w->next;
        s->idle--;
        w->woken = true;
        s->waking++;
        pthread_cond_signal(&w->cv);
        return;
    }
    spawn_workers(s, 1);
}

static void *worker_main(void *arg)
{
    dubbo_server_t *s = arg;
    waiter_t self = {.next = NULL, .woken = false};
    pthread_cond_init(&self.cv, NULL);
    dubbo_buf_t scratch;
    dubbo_buf_init(&scratch, 0);
    pthread_mutex_lock(&s->mu);
    s->waking--; /* spawn_workers counted this one as on its way */
    for (;;) {
        while (!s->qhead && !s->stopping) {
            self.woken = false;
            self.next = s->idle_top;
            s->idle_top = &self;
            s->idle++;
            while (!self.woken && !s->stopping)
                pthread_cond_wait(&self.cv, &s->mu);
            if (self.woken) {
                s->waking--;
            } else { /* stopping: off the stack by itself */
                waiter_t **pp = &s->idle_top;
                while (*pp != &self)
                    pp = &(*pp)->next;
                *pp = self.next;
                s->idle--;
            }
        }
        /* past the shutdown deadline, queued jobs are dropped, not run */
        if (!s->qhead || s->abandon) break;
        job_t *j = s->qhead;
        s->qhead = j->next;
        if (!s->qhead) s->qtail = NULL;
        s->qlen--;
        s->busy++;
        if (s->qhead && !s->waking) wake_one(s);
        pthread_mutex_unlock(&s->mu);

        bool given = run_job(s, j->c, &j->unit, j->charged, j, &scratch);
        /* The job's connection reference: taken over by the answer's task,
         * else dropped here (the last one may go on any thread). */
        sconn_t *c = j->c;
        size_t charged = j->charged;
        job_free(j);
        dubbo__budget_give(&s->budget, charged);
        if (!given) dubbo__lconn_unref(c);
        if (scratch.cap > SCRATCH_KEEP) { /* a large answer's memory goes back */
            dubbo_buf_destroy(&scratch);
            dubbo_buf_init(&scratch, 0);
        }

        pthread_mutex_lock(&s->mu);
        s->busy--;
        if (atomic_fetch_sub(&s->inflight, 1) == 1) pthread_cond_broadcast(&s->idle_cv);
    }
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&self.cv);
    dubbo_buf_destroy(&scratch);
    return NULL;
}

/* Refuse a unit on_unit took as a request: the protocol's refuse() bytes,
 * framed by its on_answer (with the connection's state, for the unit `u`)
 * when it has one, else sent as they are. Loop thread. */
static void refuse_unit(sconn_t *c, const dubbo_unit_t *u, const uint8_t *p, size_t len, int status,
                        const char *msg)
{
    const dubbo_protocol_ops_t *proto = conn_proto(c);
    if (!proto->on_answer) {
        dubbo__lconn_refuse(c, p, len, status, msg);
        return;
    }
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    if (!proto->refuse(p, len, status, msg, &out) && out.len && !dubbo__lconn_closing(c))
        proto->on_answer(dubbo__lconn_state(c), c, u, out.base, out.len);
    dubbo_buf_destroy(&out);
}

/* One whole unit of `len` bytes (the listener's unit hook, loop thread).
 * `charged`: budget bytes already held for it (taken as its bytes
 * arrived), which the job takes over or this gives back. `*own`: a
 * malloc'ed read buffer holding the unit, which a queued job takes over
 * instead of copying the payload (*own set to NULL then), or NULL. */
static void handle_unit(void *user, sconn_t *c, const uint8_t *p, size_t len, size_t charged,
                        uint8_t **own)
{
    dubbo_server_t *s = user;
    batch_t *batch = &s->batch[dubbo__loop_index(dubbo__lconn_loop(c))];
    dubbo_unit_t u = {0};
    if (!conn_proto(c)->on_unit(c, p, len, &u)) { /* the protocol dealt with it */
        dubbo__budget_give(&s->budget, charged);
        return;
    }
    /* A payload the protocol assembled itself (HTTP/2: a message from
     * several DATA frames) lies outside the unit: the budget counts the
     * payload instead of the unit, and the job copies it. */
    bool inside = !u.payload_len || (u.payload >= p && u.payload + u.payload_len <= p + len);
    size_t need = len;
    if (!inside) {
        dubbo__budget_give(&s->budget, charged);
        charged = 0;
        need = u.payload_len;
    }
    if (!charged) {
        if (!dubbo__budget_take(&s->budget, need)) {
            char msg[256];
            dubbo__budget_overload_message(&s->budget, dubbo__lconn_local(c), need, msg,
                                           sizeof(msg));
            dubbo__log_limited(&s->log_rl, "request %llu from %s refused: %s",
                               (unsigned long long)u.id, dubbo__lconn_remote(c), msg);
            refuse_unit(c, &u, p, len, DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED, msg);
            return;
        }
        charged = need;
    }
    /* Queued plus running: a burst decoded before any worker wakes must not
     * all be queued past the limit. (Direct dispatch has no queue: no lock,
     * which the loops would otherwise contend for on every request.) */
    bool full = !s->opts.direct && (size_t)atomic_load(&s->inflight) >=
                                       (size_t)s->opts.queue + (size_t)s->opts.threads;
    if (full) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "Server side(%s) thread pool is exhausted, detail msg: %d threads busy, %d "
                 "requests queued",
                 dubbo__lconn_local(c), s->opts.threads, s->opts.queue);
        atomic_fetch_add(&s->rejected, 1);
        refuse_unit(c, &u, p, len, DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED, msg);
        dubbo__budget_give(&s->budget, charged);
        return;
    }
    if (s->opts.direct) {
        /* Java's dispatcher=direct: the handler runs here, on the loop. */
        run_job(s, c, &u, charged, NULL, NULL);
        dubbo__budget_give(&s->budget, charged);
        return;
    }
    uint8_t **take = inside ? own : &(uint8_t *){NULL};
    job_t *j = malloc(sizeof(*j) + (*take ? 0 : u.payload_len));
    if (!j) {
        char msg[256];
        snprintf(msg, sizeof(msg), "Server side(%s) out of memory for a request of %zu bytes",
                 dubbo__lconn_local(c), len);
        dubbo__log_limited(&s->log_rl, "request %llu from %s refused: %s", (unsigned long long)u.id,
                           dubbo__lconn_remote(c), msg);
        refuse_unit(c, &u, p, len, DUBBO_STATUS_SERVER_ERROR, msg);
        dubbo__budget_give(&s->budget, charged);
        return;
    }
    j->charged = charged;
    j->next = NULL;
    j->c = c;
    j->unit = u;
    j->own = *take;
    *take = NULL;
    if (!j->own) {
        memcpy(j->copy, u.payload, u.payload_len);
        j->unit.payload = j->copy;
    }
    dubbo__lconn_ref(c);
    atomic_fetch_add(&s->inflight, 1);
    /* Queued in a batch: one lock and one wakeup per read, not per request. */
    if (batch->tail)
        batch->tail->next = j;
    else
        batch->head = j;
    batch->tail = j;
    batch->n++;
}

/* Start up to n more workers, within opts.threads; s->mu held. Workers
 * start when calls need them, so an idle provider holds few threads. */
static void spawn_workers(dubbo_server_t *s, size_t n)
{
    while (n-- > 0 && s->nthreads < s->opts.threads && !s->stopping) {
        /* Decoding recurses once per nesting level (up to the decoder's
         * 512) and handlers are user code: give workers the usual 8 MiB.
         * It is address space; only the pages touched cost memory. */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, (size_t)8 << 20);
        int rc = pthread_create(&s->threads[s->nthreads], &attr, worker_main, s);
        pthread_attr_destroy(&attr);
        if (rc) {
            dubbo__log_limited(&s->log_rl, "server: cannot start worker %d of %d: %s",
                               s->nthreads + 1, s->opts.threads, strerror(rc));
            return;
        }
        s->nthreads++;
        s->waking++; /* until it reaches the queue */
    }
}

static void enqueue_batch(dubbo_server_t *s, batch_t *batch)
{
    if (!batch->n) return;
    pthread_mutex_lock(&s->mu);
    if (s->qtail)
        s->qtail->next = batch->head;
    else
        s->qhead = batch->head;
    s->qtail = batch->tail;
    s->qlen += batch->n;
    /* one worker, unless one is on its way already: see wake_one */
    if (!s->waking) wake_one(s);
    pthread_mutex_unlock(&s->mu);
    batch->head = batch->tail = NULL;
    batch->n = 0;
}
/* ---- start / shutdown ------------------------------------------------------- */

typedef struct {
    dubbo_server_t *s;
    int rc;
    char msg[512]; /* the loop thread's message for rc (errors are per thread) */
} start_t;

/* The end of a read: queue its jobs (the listener's read_end hook, on the
 * connection's loop). */
static void read_end(void *user)
{
    dubbo_server_t *s = user;
    enqueue_batch(s, &s->batch[dubbo__loop_index(dubbo__loop_current())]);
}

static void start_listener(start_t *st)
{
    dubbo_server_t *s = st->s;
    dubbo__listen_cfg_t cfg = {
        .host = s->opts.host,
        .port = s->opts.port,
        .payload = s->opts.payload,
        .heartbeat_ms = s->opts.heartbeat_ms,
        .read_timeout_ms = s->opts.read_timeout_ms,
        .first_request_timeout_ms = s->opts.first_request_timeout_ms,
        .accepts = s->opts.accepts,
        .accepts_per_ip = s->opts.accepts_per_ip,
        .protocols = s->opts.protocols,
        .wires = s->wires,
        .nwires = s->nprotos,
        .budget = &s->budget,
        .log_rl = &s->log_rl,
        .overload_status = DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED,
        .tls = s->tls,
        .tls_mode = s->opts.tls == DUBBO_TLS_PERMISSIVE ? DUBBO__TLS_PERMISSIVE : DUBBO__TLS_STRICT,
        .unit = handle_unit,
        .read_end = read_end,
        .user = s,
    };
    if (!(s->l = dubbo__listener_new(&cfg, s->opts.io_threads))) {
        st->rc = dubbo__last_code();
        snprintf(st->msg, sizeof(st->msg), "%s", dubbo_last_error());
        return;
    }
    s->port = dubbo__listener_port(s->l);
    s->listening = true;
    st->rc = 0;
}

/* glibc raises its mmap threshold each time a large mmap'ed block is freed
 * (up to 32 MiB), after which a burst of multi-megabyte requests is served
 * from the heaps, where freed memory stays with the process: 16 x 7 MiB
 * requests left 17-167 MiB behind. A fixed threshold keeps every block of
 * 128 KiB and more in its own mapping, given back on free. Process-wide,
 * so done once, and not when the user chose (MALLOC_MMAP_THRESHOLD_ or
 * DUBBO_MALLOC_TUNE=0). */
static pthread_once_t malloc_once = PTHREAD_ONCE_INIT;

static void tune_malloc(void)
{
#ifdef __GLIBC__
    const char *v = getenv("DUBBO_MALLOC_TUNE");
    if ((v && strcmp(v, "0") == 0) || getenv("MALLOC_MMAP_THRESHOLD_")) return;
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

/* start, shutdown and free wait for the loop thread: called on it (from a
 * completion callback or a direct handler) they would wait for ever. */
static int refuse_on_loop(const char *what)
{
    if (!dubbo__on_loop_thread()) return 0;
    return dubbo__seterr(
        DUBBO_EINVAL,
        "%s cannot be called on the event-loop thread (from a completion callback or a "
        "dispatcher=direct handler): it waits for that thread; call it from another one",
        what);
}

int dubbo_server_start(dubbo_server_t *s)
{
    if (s->listening) return 0;
    int lrc = refuse_on_loop("dubbo_server_start");
    if (lrc) return lrc;
    pthread_once(&malloc_once, tune_malloc);
    if (!s->threads && !(s->threads = calloc((size_t)s->opts.threads, sizeof(pthread_t))))
        return dubbo__seterr(DUBBO_ENOMEM, "server: out of memory");
    if (s->opts.tls != DUBBO_TLS_OFF && !s->tls) {
        /* ALPN: what the port's protocols speak over TLS, HTTP/1.1 first
         * when rest is served (a client offering both, curl or a browser,
         * gets REST; gRPC clients offer h2 alone) */
        bool h1 = false, h2 = false;
        for (size_t i = 0; i < s->nprotos; i++) {
            h2 |= strcmp(s->protos[i]->name, "tri") == 0;
            h1 |= strcmp(s->protos[i]->name, "rest") == 0;
        }
        const char *alpn = h1 && h2 ? "http/1.1,h2" : h1 ? "http/1.1" : h2 ? "h2" : "";
        dubbo__tls_cfg_t tc = {.cert_file = s->opts.tls_cert_file,
                               .key_file = s->opts.tls_key_file,
                               .ca_file = s->opts.tls_ca_file,
                               .verify_peer = s->opts.tls_client_auth,
                               .alpn = *alpn ? alpn : NULL};
        if (!(s->tls = dubbo__tls_ctx_new(&tc, true))) return dubbo__last_code();
    }
    start_t st = {s, 0, ""};
    start_listener(&st);
    if (st.rc) return dubbo__seterr(st.rc, "%s", st.msg);
    /* Workers start on demand (spawn_workers); one now, so that the first
     * call does not wait for a thread to start. */
    pthread_mutex_lock(&s->mu);
    if (!s->opts.direct && !s->nthreads) spawn_workers(s, 1);
    pthread_mutex_unlock(&s->mu);
    /* Services exported before start (port 0) learn the bound port. */
    pthread_rwlock_wrlock(&s->svc_lock);
    for (size_t i = 0; i < s->nservices; i++)
        s->services[i]->url->port = s->port;
    for (size_t r = 0; r < s->nregs; r++)
        for (size_t i = 0; i < s->nservices; i++)
            announce(s, s->regs[r], s->services[i]);
    pthread_rwlock_unlock(&s->svc_lock);
    s->started = true;
    DLOG_INFO("serving %s on %s:%d (up to %d workers)", s->opts.protocols, s->opts.host, s->port,
              s->opts.threads);
    return 0;
}

int dubbo_server_port(const dubbo_server_t *s)
{
    return s->listening || s->shut ? s->port : -1;
}

/* The grace after the readonly event: open connections are still read and
 * answered, because requests a consumer sent before it saw the event, and
 * calls that had already picked this provider, are still on their way. A
 * connection closes when its consumer closes it, or once it has nothing to
 * answer or write and no frame has come on it for SHUTDOWN_QUIET_MS (counted
 * from the readonly event at the earliest); the shutdown timeout bounds it.
 * 1 s: a consumer thread that picked this provider just before the event
 * and was then descheduled for longer than the quiet period finds the
 * connection closed and fails (fault/sigterm_under_load saw one such call
 * with 200 ms on a loaded machine). Java waits longer still (its shutdown
 * wait, 10 s by default). */
#define SHUTDOWN_QUIET_MS 1000

typedef struct {
    dubbo_server_t *s;
    uint64_t since;    /* when the readonly event was queued */
    uint64_t quiet_ms; /* SHUTDOWN_QUIET_MS, or less with a shorter timeout */
    int open;          /* connections still open */
} grace_t;

int dubbo_server_shutdown(dubbo_server_t *s)
{
    if (s->shut) return 0;
    int rc = refuse_on_loop("dubbo_server_shutdown");
    if (rc) return rc;
    /* Java's order: leave the registries first, so consumers stop picking
     * this provider, then tell connected consumers (readonly), then go on
     * serving open connections for a grace period, then drain. The shutdown
     * timeout bounds the grace and the drain together. */
    withdraw_all(s);
    struct timespec dl;
    dubbo__deadline(&dl, CLOCK_REALTIME, (uint64_t)s->opts.shutdown_timeout_ms);
    uint64_t t0 = dubbo__now_ms(), limit = (uint64_t)s->opts.shutdown_timeout_ms;
    if (s->l) {
        dubbo__listener_goaway(s->l);
        s->listening = false;
        grace_t g = {s, dubbo__now_ms(), limit < SHUTDOWN_QUIET_MS ? limit : SHUTDOWN_QUIET_MS, 0};
        while ((g.open = dubbo__listener_grace(s->l, g.since, g.quiet_ms)) > 0 &&
               dubbo__now_ms() - t0 < limit) {
            struct timespec nap = {0, 5 * 1000000L};
            nanosleep(&nap, NULL);
        }
        if (g.open > 0)
            DLOG_INFO("shutdown: %d connection(s) still busy after %llu ms; closing them", g.open,
                      (unsigned long long)(dubbo__now_ms() - t0));
        else
            DLOG_INFO("shutdown: every connection closed or quiet after %llu ms",
                      (unsigned long long)(dubbo__now_ms() - t0));
    }
    /* Drain: wait for every queued or running call, up to the deadline. */
    pthread_mutex_lock(&s->mu);
    while (atomic_load(&s->inflight) > 0)
        if (pthread_cond_timedwait(&s->idle_cv, &s->mu, &dl) == ETIMEDOUT) break;
    int left = atomic_load(&s->inflight);
    s->stopping = true;
    s->abandon = left > 0; /* the deadline passed: what is still queued is dropped */
    for (waiter_t *w = s->idle_top; w; w = w->next)
        pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&s->mu);
    if (left > 0) {
        rc = dubbo__seterr(DUBBO_ETIMEOUT,
                           "server: %d call(s) still running after %d ms of shutdown", left,
                           s->opts.shutdown_timeout_ms);
        DLOG_WARN("%s", dubbo_last_error());
    }
    /* Give the answers just written a loop turn to be flushed, then close. */
    dubbo__loops_sync_all();
    if (s->l) dubbo__listener_close_all(s->l);
    for (int i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    /* Jobs that never ran (deadline passed) are dropped. */
    job_t *j = s->qhead;
    while (j) {
        job_t *n = j->next;
        dubbo__loop_post_to(dubbo__lconn_loop(j->c), conn_unref_task, j->c);
        atomic_fetch_sub(&s->budget.mem, j->charged);
        job_free(j);
        j = n;
    }
    s->qhead = s->qtail = NULL;
    /* Let the close callbacks and pending unrefs run. */
    dubbo__loops_sync_all();
    dubbo__loops_sync_all();
    s->shut = true;
    dubbo__ratelimit_flush(&s->log_rl);
    DLOG_INFO("shutdown of port %d complete", s->port);
    return rc;
}

void dubbo_server_free(dubbo_server_t *s)
{
    if (!s) return;
    if (refuse_on_loop("dubbo_server_free")) {
        DLOG_ERROR("%s (the server is left as it is)", dubbo_last_error());
        return;
    }
    if ((s->started || s->nthreads) && !s->shut) dubbo_server_shutdown(s);
    withdraw_all(s); /* a server never started may still have none */
    for (size_t i = 0; i < s->nregs; i++)
        dubbo_registry_close(s->regs[i]);
    free(s->regs);
    for (size_t i = 0; i < s->nservices; i++) {
        service_free(s->services[i]);
        free(s->services[i]);
    }
    free(s->services);
    free(s->threads);
    dubbo__listener_free(s->l);
    free((char *)s->opts.host);
    free((char *)s->opts.application);
    free((char *)s->opts.protocols);
    free((char *)s->opts.tls_cert_file);
    free((char *)s->opts.tls_key_file);
    free((char *)s->opts.tls_ca_file);
    dubbo__tls_ctx_free(s->tls);
    pthread_rwlock_destroy(&s->svc_lock);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle_cv);
    dubbo__ratelimit_destroy(&s->log_rl);
    free(s);
}

/* ---- signals ------------------------------------------------------------------ */

static pthread_mutex_t wait_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cv = PTHREAD_COND_INITIALIZER;
/* Set by a signal or dubbo_server_wakeup(), consumed by the wait it ends
 * (a lock-free atomic: safe in a signal handler). */
static atomic_int woken;
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    (void)sig;
    woken = 1;
    if (sig_pipe[1] >= 0) {
        char b = 1;
        ssize_t r = write(sig_pipe[1], &b, 1);
        (void)r;
    }
}

static void on_hup(int sig)
{
    (void)sig;
    dubbo__tls_request_reload();
}

void dubbo_server_handle_signals(void)
{
    if (sig_pipe[0] < 0 && pipe(sig_pipe) != 0) sig_pipe[0] = sig_pipe[1] = -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup; /* reload TLS certificates (docs/tls.md) */
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void dubbo_server_wait(void)
{
    /* A wakeup that came before the wait is kept and ends it at once;
     * bytes left in the pipe by earlier wakeups only make the loop look
     * again. */
    while (!atomic_exchange(&woken, 0)) {
        if (sig_pipe[0] >= 0) {
            char b;
            ssize_t r = read(sig_pipe[0], &b, 1);
            if (r < 0 && errno != EINTR) break;
        } else {
            pthread_mutex_lock(&wait_mu);
            while (!atomic_load(&woken))
                pthread_cond_wait(&wait_cv, &wait_mu);
            pthread_mutex_unlock(&wait_mu);
        }
    }
}

void dubbo_server_wakeup(void)
{
    woken = 1;
    if (sig_pipe[1] >= 0) {
        char b = 1;
        ssize_t r = write(sig_pipe[1], &b, 1);
        (void)r;
    }
    pthread_mutex_lock(&wait_mu);
    pthread_cond_broadcast(&wait_cv);
    pthread_mutex_unlock(&wait_mu);
}

/* ---- call accessors --------------------------------------------------------------- */

size_t dubbo_call_nargs(const dubbo_call_t *call)
{
    return call->nargs;
}

dubbo_value_t *dubbo_call_arg(const dubbo_call_t *call, size_t i)
{
    return i < call->nargs ? (call->args[i] ? call->args[i] : dubbo_v_null()) : NULL;
}

const char *dubbo_call_method(const dubbo_call_t *call)
{
    return call->method ? call->method : "";
}

const char *dubbo_call_desc(const dubbo_call_t *call)
{
    return call->desc ? call->desc : "";
}

const char *dubbo_call_attachment(const dubbo_call_t *call, const char *key)
{
    const dubbo_value_t *v = dubbo__call_attachment_value(call, key);
    return v && v->type == DUBBO_T_STRING ? v->u.s.ptr : NULL;
}

const char *dubbo_call_remote(const dubbo_call_t *call)
{
    return dubbo__lconn_remote(call->c);
}

const char *dubbo_call_local(const dubbo_call_t *call)
{
    return dubbo__lconn_local(call->c);
}

dubbo_arena_t *dubbo_call_arena(dubbo_call_t *call)
{
    return call->arena;
}

void dubbo_call_return(dubbo_call_t *call, dubbo_value_t *value)
{
    call->answered = true;
    call->status = DUBBO_STATUS_OK;
    call->is_exception = false;
    call->value = value;
}

void dubbo_call_throw(dubbo_call_t *call, const char *cls, const char *message)
{
    if (!cls || !*cls) cls = "java.lang.RuntimeException";
    call->answered = true;
    call->status = DUBBO_STATUS_OK;
    call->is_exception = true;
    call->value = dubbo_exception_new(call->arena, cls, message);
    if (!call->value) dubbo_call_fail(call, DUBBO_STATUS_SERVICE_ERROR, message);
}

void dubbo_call_fail(dubbo_call_t *call, int status, const char *message)
{
    if (!message) message = "";
    /* The status travels in one byte; anything else is a service error. */
    if (status <= 0 || status > 255) status = DUBBO_STATUS_SERVICE_ERROR;
    call->answered = true;
    call->status = status;
    call->error = dubbo_arena_strndup(call->arena, message, strlen(message));
}

int dubbo_call_set_attachment(dubbo_call_t *call, const char *key, const char *value)
{
    if (!call->res_att && !(call->res_att = dubbo_v_map(call->arena, NULL, 4))) return DUBBO_ENOMEM;
    dubbo_value_t *k = dubbo_v_cstr(call->arena, key), *v = dubbo_v_cstr(call->arena, value);
    if (!k || !v) return DUBBO_ENOMEM;
    return dubbo_map_put(call->arena, call->res_att, k, v);
}

/* ---- the provider filter chain ----------------------------------------------------- */

void dubbo_call_next(dubbo_call_t *call)
{
    const service_t *svc = call->svc;
    if (call->filter_pos < svc->nfilters) {
        dubbo_filter_t *f = svc->filters[call->filter_pos++];
        f->ops->serve(f, call);
        return;
    }
    const method_t *mt = call->method_def;
    if (!mt) {
        /* Java 3.3 fails to decode such a request (no method descriptor) and
         * answers BAD_REQUEST "Fail to decode request due to: ...": an error
         * status, so a consumer's failover tries another provider (one that
         * has the method, in a rolling upgrade) and failsafe does not take
         * it for a business answer. */
        char msg[1024];
        snprintf(msg, sizeof(msg),
                 "Fail to decode request due to: Not found method \"%s\" with parameter types "
                 "\"%s\" in service %s (methods:",
                 dubbo_call_method(call), dubbo_call_desc(call), svc->interface);
        for (size_t i = 0; i < svc->nmethods; i++) {
            size_t l = strlen(msg);
            const method_t *m = &svc->methods[i];
            snprintf(msg + l, sizeof(msg) - l, " %s%s%s%s", m->name, m->desc ? "(" : "",
                     m->desc ? m->desc : "", m->desc ? ")" : "");
        }
        size_t l = strlen(msg);
        snprintf(msg + l, sizeof(msg) - l, ")");
        dubbo_call_fail(call, DUBBO_STATUS_BAD_REQUEST, msg);
        return;
    }
    mt->fn(call, svc->user);
    if (!call->answered) call->answered = true; /* void: null */
}

const dubbo_url_t *dubbo_call_url(const dubbo_call_t *call)
{
    return call->svc->url;
}

int dubbo_call_status(const dubbo_call_t *call)
{
    return call->status;
}

bool dubbo_call_is_exception(const dubbo_call_t *call)
{
    return call->is_exception;
}

void dubbo__call_set_invocation(dubbo_call_t *call, const char *method, const char *desc,
                                dubbo_value_t **args, size_t nargs)
{
    call->method = method;
    call->desc = desc;
    call->args = args;
    call->nargs = nargs;
    /* the entry for this descriptor (an overload), else the one of this
     * name that takes any */
    call->method_def = NULL;
    const service_t *svc = call->svc;
    const method_t *any = NULL;
    for (size_t i = 0; svc && i < svc->nmethods; i++) {
        const method_t *m = &svc->methods[i];
        if (strcmp(m->name, method) != 0) continue;
        if (!m->desc) {
            if (!any) any = m;
        } else if (strcmp(m->desc, desc ? desc : "") == 0) {
            call->method_def = m;
            return;
        }
    }
    call->method_def = any;
}

void dubbo__call_set_request(dubbo_call_t *call, const char *service, const char *version,
                             const char *group, const char *method, const char *desc,
                             dubbo_value_t **args, size_t nargs, const dubbo_value_t *attachments)
{
    call->service = service;
    call->version = version;
    call->group = group;
    call->method = method;
    call->desc = desc;
    call->args = args;
    call->nargs = nargs;
    call->attachments = attachments;
}

const dubbo_protocol_ops_t *dubbo_protocol_find(const char *name)
{
    return dubbo_extension_find(DUBBO_EXT_PROTOCOL, name);
}

const dubbo_value_t *dubbo__call_attachment_value(const dubbo_call_t *call, const char *key)
{
    if (!call->attachments && call->att_find) return call->att_find(call, key);
    return dubbo_map_get(call->attachments, key);
}
/* ---- introspection for the QoS port (src/runtime/introspect.h) ------------------ */

#include "runtime/introspect.h"

void dubbo__server_info(dubbo_server_t *s, dubbo__server_info_t *out)
{
    memset(out, 0, sizeof(*out));
    out->host = s->opts.host;
    out->protocols = s->opts.protocols;
    out->application = s->opts.application ? s->opts.application : "dubbo-c";
    out->port = s->listening || s->shut ? s->port : -1;
    out->listening = s->listening && !s->shut;
    out->max_threads = s->opts.threads;
    out->queue_limit = s->opts.queue;
    pthread_mutex_lock(&s->mu);
    out->threads = s->nthreads;
    out->active = s->busy;
    out->queued = (int)s->qlen;
    pthread_mutex_unlock(&s->mu);
    out->inflight = atomic_load(&s->inflight);
    out->rejected = atomic_load(&s->rejected);
}

/* Whether the provider URL `a` announced is one of service x's: its path
 * is the interface, with the same version and group. */
static bool announced_for(const announced_t *a, const service_t *x)
{
    dubbo_url_t *u = dubbo_url_parse(a->url);
    if (!u) return false;
    bool same = u->path && strcmp(u->path, x->interface) == 0 &&
                same_opt(dubbo_url_param(u, "version", NULL), x->version, true) &&
                same_opt(dubbo_url_param(u, "group", NULL), x->group, false);
    dubbo_url_free(u);
    return same;
}

static bool announced_in(const dubbo_server_t *s, const dubbo_registry_t *reg, const service_t *x)
{
    for (size_t i = 0; i < s->nannounced; i++)
        if (s->announced[i].reg == reg && announced_for(&s->announced[i], x)) return true;
    return false;
}

size_t dubbo__server_services(dubbo_server_t *s,
                              void (*fn)(void *user, const service_t *svc, const char *pub),
                              void *user)
{
    pthread_rwlock_rdlock(&s->svc_lock);
    size_t n = s->nservices;
    for (size_t i = 0; i < n; i++) {
        const service_t *x = s->services[i];
        char pub[512] = "";
        size_t len = 0;
        for (size_t r = 0; r < s->nregs && len < sizeof(pub); r++)
            len += (size_t)snprintf(pub + len, sizeof(pub) - len, "%s%s-I(%s)", r ? "/" : "",
                                    s->regs[r]->url->protocol,
                                    announced_in(s, s->regs[r], x) ? "Y" : "N");
        fn(user, x, pub);
    }
    pthread_rwlock_unlock(&s->svc_lock);
    return n;
}

size_t dubbo__server_set_online(dubbo_server_t *s, bool online,
                                bool (*match)(void *user, const service_t *svc), void *user)
{
    size_t hits = 0;
    pthread_rwlock_wrlock(&s->svc_lock);
    for (size_t i = 0; i < s->nservices; i++) {
        service_t *x = s->services[i];
        if (!match(user, x)) continue;
        hits++;
        if (online) {
            /* announced again where it is not (a server not yet started
             * announces everything at start) */
            for (size_t r = 0; s->listening && r < s->nregs; r++)
                if (!announced_in(s, s->regs[r], x)) announce(s, s->regs[r], x);
            continue;
        }
        size_t keep = 0;
        for (size_t k = 0; k < s->nannounced; k++) {
            announced_t *a = &s->announced[k];
            if (!announced_for(a, x)) {
                s->announced[keep++] = *a;
                continue;
            }
            if (a->reg->ops->unreg(a->reg, a->url))
                DLOG_WARN("offline %s: cannot unregister from %s: %s", x->interface,
                          a->reg->url->protocol, dubbo_last_error());
            free(a->url);
        }
        s->nannounced = keep;
    }
    pthread_rwlock_unlock(&s->svc_lock);
    if (hits)
        DLOG_INFO("%s: %zu service(s) of port %d", online ? "online" : "offline", hits, s->port);
    return hits;
}
