/* The provider runtime: accepts connections on the shared event loop, finds
 * which of its protocols each one speaks (include/dubbo/protocol.h), buffers
 * and budgets the units the protocol cuts, runs the calls on a worker pool
 * through the service table, the provider filters and the handler, writes
 * the protocol's answers back coalesced per connection, and shuts down
 * gracefully (the protocol's goaway, stop accepting, go on serving open
 * connections until they are quiet, drain, close). It knows no protocol:
 * the Dubbo protocol is src/protocol/dubbo/protocol.c. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/extension.h"
#include "dubbo/hessian2.h"
#include "dubbo/protocol.h"
#include "dubbo/rpc.h"
#include "core/internal.h"
#include "core/jvm.h"
#include "core/log.h"
#include "transport/loop.h"
#include "runtime/call.h"
#include "dubbo/registry.h"

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

/* ---- connections --------------------------------------------------------- */

struct sconn {
    uv_tcp_t tcp;
    struct dubbo_server *srv;
    const dubbo_protocol_ops_t *proto; /* NULL until detected from the first bytes */
    void *pstate;                      /* the protocol's conn_open */
    struct sconn *prev, *next;
    atomic_int refs; /* the loop's (until closed) + one per job in flight */
    bool closing;
    dubbo_buf_t rbuf;
    dubbo_buf_t out; /* answers waiting to be written */
    bool writing;
    uint64_t last_read;
    uint64_t accepted_at; /* when the connection came */
    uint64_t frame_since; /* when the frame now being read began (0: none) */
    bool served;          /* a whole frame has arrived */
    size_t admitted;      /* budget bytes held for the frame being read */
    size_t discard;       /* bytes of a refused frame still to drop unread */
    char remote[64], local[64];
};

typedef struct {
    uv_write_t req;
    sconn_t *c;
    dubbo_buf_t data;
} wreq_t;

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

typedef struct {
    dubbo_registry_t *reg;
    char *url; /* what was registered */
} announced_t;

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

    uv_tcp_t listener;
    bool listening;
    int port;
    sconn_t *conns;
    uv_timer_t idle_timer;
    bool timer_on;

    pthread_mutex_t mu; /* queue, counters, state */
    pthread_cond_t work_cv;
    pthread_cond_t idle_cv;
    job_t *qhead, *qtail;
    size_t qlen;
    int busy; /* jobs taken by workers */
    int idle; /* workers waiting for a job */
    pthread_t *threads;
    int nthreads; /* started so far: workers start on demand, up to opts.threads */
    bool started;
    bool stopping;       /* workers exit */
    bool abandon;        /* ... without running the jobs still queued */
    bool shut;           /* shutdown done */
    atomic_int inflight; /* jobs queued or running */
    int nconns;          /* open connections (loop thread) */
    /* The memory budget: bytes held by requests in flight (frames being
     * read, queued bodies, decoded arenas), and what went through since the
     * last malloc_trim. */
    atomic_size_t mem;
    atomic_size_t arriving; /* of mem: frames still arriving (c->admitted) */
    atomic_size_t writing;  /* of mem: answers being written */
    atomic_size_t since_trim;
    atomic_uint_fast64_t last_trim_ms;
    dubbo__ratelimit_t log_rl; /* protocol-error warnings */
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

dubbo_server_t *dubbo_server_new(const dubbo_server_options_t *opts)
{
    dubbo_server_t *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    if (opts)
        s->opts = *opts;
    else
        dubbo_server_options_init(&s->opts);
    if (s->opts.version < 3) s->opts.protocols = NULL;
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
        if (n) s->protos[s->nprotos++] = proto;
        p += n;
        if (*p == ',') p++;
    }
    s->opts.protocols = strdup(list);
    dubbo__ratelimit_init(&s->log_rl, 10);
    s->port = -1;
    pthread_rwlock_init(&s->svc_lock, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->idle_cv, NULL);
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
    snprintf(head, sizeof(head), "%s://" DUBBO__HOST_FMT ":%d/%s", s->protos[0]->name,
             DUBBO__HOST_ARGS(s->opts.host), s->port > 0 ? s->port : s->opts.port, x->interface);
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
    const char *host = s->opts.host;
    if (!host || !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
        host = dubbo_local_ip();
    const char **methods = calloc(x->nmethods ? x->nmethods : 1, sizeof(char *));
    const char **extra = calloc(x->url->nparams * 2 + 1, sizeof(char *));
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
    extra[k] = NULL;
    /* one URL per protocol this port serves, as Java registers one per
     * protocol of a service */
    for (size_t p = 0; p < s->nprotos; p++) {
        char *url = dubbo_provider_url(s->protos[p]->name, host, s->port, x->interface, x->version,
                                       x->group, s->opts.application, methods, nm, extra);
        if (!url) break;
        int rc = reg->ops->reg(reg, url);
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
        bool hbk = strcmp(p[0], "heartbeat") == 0, acc = strcmp(p[0], "accepts") == 0;
        long v = hbk || acc ? strtol(p[1], &end, 10) : 0;
        if (v > 0 && v <= INT32_MAX && *end == '\0') {
            if (hbk) s->opts.heartbeat_ms = (int)v;
            if (acc) s->opts.accepts = (int)v;
        }
    }
    if (s->listening)
        for (size_t i = 0; i < s->nregs; i++)
            announce(s, s->regs[i], x);
    pthread_rwlock_unlock(&s->svc_lock);
    return 0;
}

/* ---- writing (loop thread) ----------------------------------------------- */

static void mem_give(dubbo_server_t *s, size_t n);

/* Answers count against the memory budget from the moment they are handed
 * to their connection until written: out_charge when bytes join c->out (or
 * are handed over from a worker), out_release when written or dropped.
 * `writing` is raised before mem and lowered after it (see
 * mem_take_admitted). */
static void out_charge(dubbo_server_t *s, size_t n)
{
    atomic_fetch_add(&s->writing, n);
    atomic_fetch_add(&s->mem, n);
}

static void out_release(dubbo_server_t *s, size_t n)
{
    mem_give(s, n);
    atomic_fetch_sub(&s->writing, n);
}

static void conn_unref(sconn_t *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        dubbo_buf_destroy(&c->rbuf);
        if (c->out.len) out_release(c->srv, c->out.len);
        dubbo_buf_destroy(&c->out);
        free(c);
    }
}

static void conn_unref_task(void *c)
{
    conn_unref(c);
}

static void flush(sconn_t *c);

static void on_written(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    sconn_t *c = w->c;
    size_t n = w->data.len;
    dubbo_buf_destroy(&w->data);
    free(w);
    out_release(c->srv, n);
    c->writing = false;
    if (status == 0 && !c->closing) flush(c);
    conn_unref(c);
}

static void flush(sconn_t *c)
{
    if (c->writing || c->closing || c->out.len == 0) return;
    wreq_t *w = malloc(sizeof(*w));
    if (!w) return;
    w->c = c;
    w->data = c->out; /* hand the whole batch over; start a new one */
    dubbo_buf_init(&c->out, 0);
    uv_buf_t b = uv_buf_init((char *)w->data.base, (unsigned)w->data.len);
    atomic_fetch_add(&c->refs, 1);
    c->writing = true;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc) {
        c->writing = false;
        out_release(c->srv, w->data.len);
        dubbo_buf_destroy(&w->data);
        free(w);
        conn_unref(c);
    }
}

int dubbo_sconn_send(dubbo_sconn_t *c, const void *bytes, size_t n)
{
    if (c->closing) return 0;
    size_t before = c->out.len;
    int rc = dubbo_buf_append(&c->out, bytes, n);
    out_charge(c->srv, c->out.len - before);
    if (!rc) flush(c);
    return rc;
}

const char *dubbo_sconn_remote(const dubbo_sconn_t *c)
{
    return c->remote;
}

const char *dubbo_sconn_local(const dubbo_sconn_t *c)
{
    return c->local;
}

void *dubbo_sconn_state(const dubbo_sconn_t *c)
{
    return c->pstate;
}

/* The connection speaks `proto` from now on (loop thread). */
static void set_protocol(sconn_t *c, const dubbo_protocol_ops_t *proto)
{
    c->proto = proto;
    if (proto->conn_open) c->pstate = proto->conn_open(c);
}

/* The connection's protocol refuses the unit whose first n bytes are p
 * (loop thread). */
static void refuse_unit(sconn_t *c, const uint8_t *p, size_t n, int status, const char *msg)
{
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    if (!c->proto->refuse(p, n, status, msg, &out) && out.len)
        dubbo_sconn_send(c, out.base, out.len);
    dubbo_buf_destroy(&out);
}

typedef struct {
    sconn_t *c;
    dubbo_unit_t unit; /* the request it answers */
    dubbo_buf_t frame; /* a whole frame, header included */
} answer_t;

/* Move a whole frame, charged with out_charge, into c->out (adopting its
 * memory when c->out is empty) and start writing; a frame that cannot go
 * (closing connection, no memory) is released. Loop thread. */
static void queue_answer(sconn_t *c, const dubbo_unit_t *u, dubbo_buf_t *frame)
{
    size_t n = frame->len;
    if (c->proto->on_answer) {
        /* the protocol frames it with the connection's state */
        if (!c->closing) c->proto->on_answer(c->pstate, c, u, frame->base, frame->len);
        out_release(c->srv, n);
    } else if (!c->closing && c->out.len == 0) {
        dubbo_buf_destroy(&c->out);
        c->out = *frame;
        dubbo_buf_init(frame, 0);
        flush(c);
    } else if (!c->closing && !dubbo_buf_append(&c->out, frame->base, frame->len)) {
        flush(c);
    } else {
        out_release(c->srv, n);
    }
    dubbo_buf_destroy(frame);
}

static void answer_on_loop(void *arg)
{
    answer_t *a = arg;
    sconn_t *c = a->c;
    queue_answer(c, &a->unit, &a->frame);
    free(a);
    conn_unref(c);
}

static void on_conn_closed(uv_handle_t *h)
{
    sconn_t *c = h->data;
    dubbo_server_t *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else if (s->conns == c)
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->nconns--;
    if (c->proto && c->proto->conn_close) c->proto->conn_close(c->pstate);
    c->pstate = NULL;
    if (c->admitted) {
        atomic_fetch_sub(&s->mem, c->admitted);
        atomic_fetch_sub(&s->arriving, c->admitted);
    }
    c->admitted = 0;
    conn_unref(c);
}

static void conn_close(sconn_t *c, const char *why)
{
    if (c->closing) return;
    c->closing = true;
    if (why)
        dubbo__log_limited(&c->srv->log_rl, "closing connection from %s to %s: %s", c->remote,
                           c->local, why);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* ---- dispatch -------------------------------------------------------------- */

/* Hand a whole frame to its connection: directly on the loop thread, else
 * through a loop task. Takes the buffer's memory. */
static void deliver(sconn_t *c, const dubbo_unit_t *u, dubbo_buf_t *frame)
{
    out_charge(c->srv, frame->len);
    if (dubbo__on_loop_thread()) {
        queue_answer(c, u, frame);
        return;
    }
    answer_t *a = malloc(sizeof(*a));
    if (!a) {
        out_release(c->srv, frame->len);
        dubbo_buf_destroy(frame);
        return;
    }
    a->frame = *frame;
    a->c = c;
    a->unit = *u;
    atomic_fetch_add(&c->refs, 1);
    if (dubbo__loop_post(answer_on_loop, a)) {
        out_release(c->srv, a->frame.len);
        dubbo_buf_destroy(&a->frame);
        conn_unref(c);
        free(a);
    }
}

static void write_answer(dubbo_call_t *call)
{
    if (!call->unit.twoway) return;
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    if (call->proto->answer(call, call->srv->opts.payload, &out)) {
        DLOG_ERROR("cannot write the answer of %s.%s to %s: %s", call->service ? call->service : "",
                   call->method ? call->method : "", call->c->remote, dubbo_last_error());
        dubbo_buf_destroy(&out);
        return;
    }
    deliver(call->c, &call->unit, &out);
}

static const char *att_str(const dubbo_value_t *att, const char *key)
{
    const dubbo_value_t *v = dubbo_map_get(att, key);
    return v && v->type == DUBBO_T_STRING ? v->u.s.ptr : NULL;
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

/* ---- the memory budget -------------------------------------------------------- */

/* Take n bytes of the budget, or false when they do not fit; when nothing
 * is held, n may go over, so that one frame of the largest size allowed
 * always gets through. */
static bool mem_take(dubbo_server_t *s, size_t n)
{
    size_t cur = atomic_load(&s->mem);
    do {
        if (cur + n > s->opts.memory_budget && cur > 0) return false;
    } while (!atomic_compare_exchange_weak(&s->mem, &cur, cur + n));
    return true;
}

/* Take n bytes for decoding a request that already holds `own` bytes (its
 * whole frame). Frames still arriving and answers being written do not stop
 * it: when it is the only request admitted, it goes over the budget, so a
 * burst of large requests serves at least one instead of refusing them all.
 * At most one request at a time goes over this way. (arriving and writing
 * are raised before mem and lowered after it, so a race errs towards
 * letting the request through.) */
static bool mem_take_admitted(dubbo_server_t *s, size_t n, size_t own)
{
    size_t cur = atomic_load(&s->mem);
    do {
        size_t others = atomic_load(&s->arriving) + atomic_load(&s->writing);
        if (cur + n > s->opts.memory_budget && cur > own + others) return false;
    } while (!atomic_compare_exchange_weak(&s->mem, &cur, cur + n));
    return true;
}

/* Give n bytes back; after a burst, hand freed heap back to the system
 * (glibc keeps it otherwise), at most once a second. */
static void mem_give(dubbo_server_t *s, size_t n)
{
    if (!n) return;
    atomic_fetch_sub(&s->mem, n);
    size_t burst = atomic_fetch_add(&s->since_trim, n) + n;
    if (burst < ((size_t)8 << 20) || atomic_load(&s->mem) > ((size_t)1 << 20)) return;
    uint64_t now = dubbo__now_ms(), last = atomic_load(&s->last_trim_ms);
    if (now - last < 1000 || !atomic_compare_exchange_strong(&s->last_trim_ms, &last, now)) return;
    atomic_store(&s->since_trim, 0);
    malloc_trim(0);
}

static void overload_message(dubbo_server_t *s, sconn_t *c, size_t want, char *msg, size_t cap)
{
    snprintf(msg, cap,
             "Server side(%s) memory budget exhausted: a request of %zu bytes does not fit, "
             "%zu of %zu bytes held by requests in flight",
             c->local, want, atomic_load(&s->mem), s->opts.memory_budget);
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

/* Run one request: `u` as the connection's protocol cut it, `charged` the
 * budget its bytes hold, `j` the queued job (NULL with dispatcher=direct),
 * whose large payload is given back as soon as it is decoded. */
static void run_job(dubbo_server_t *s, sconn_t *c, const dubbo_unit_t *u, size_t charged, job_t *j)
{
    dubbo_call_t call = {0};
    call.srv = s;
    call.c = c;
    call.proto = c->proto;
    call.unit = *u;
    call.status = DUBBO_STATUS_OK;
    call.arena = call_arena(s->opts.payload * 8 + ((size_t)1 << 20));
    char msg[1024];
    if (!call.arena) return;
    int rc = call.proto->decode(&call, u);
    /* The decoded arguments count against the memory budget too, three
     * times: the arguments, and room for a result and its encoded answer
     * of their size (a service that makes more is charged for it when it
     * does, below). Without the room, requests admitted within the budget
     * went on to double it with their answers. */
    size_t decoded = dubbo_arena_used(call.arena);
    size_t hold = decoded * 3;
    if (!rc && decoded > ((size_t)64 << 10) && !mem_take_admitted(s, hold, charged)) {
        overload_message(s, c, decoded, msg, sizeof(msg));
        dubbo__log_limited(&s->log_rl, "request %llu from %s refused: %s",
                           (unsigned long long)u->id, c->remote, msg);
        call.status = DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED;
        call.error = msg;
        write_answer(&call);
        release_arena(call.arena);
        return;
    }
    if (rc || decoded <= ((size_t)64 << 10)) decoded = hold = 0;
    if (!rc && j && j->own) {
        /* the values live in the arena now: the unit is no longer needed */
        free(j->own);
        j->own = NULL;
        mem_give(s, j->charged);
        j->charged = 0;
    }
    if (rc) {
        dubbo__log_limited(&s->log_rl, "bad request %llu from %s: %s", (unsigned long long)u->id,
                           c->remote, dubbo_last_error());
        snprintf(msg, sizeof(msg), "Fail to decode request due to: %s", dubbo_last_error());
        call.status = DUBBO_STATUS_BAD_REQUEST;
        call.error = msg;
        call.service = call.method = "";
        write_answer(&call);
        release_arena(call.arena);
        return;
    }
    const char *path = call.service ? call.service : "";
    const char *version = call.version, *group = call.group;
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
    if (!svc) {
        snprintf(msg, sizeof(msg),
                 "Not found exported service: %s%s%s%s%s in this provider, may be version or "
                 "group mismatch, channel: consumer: %s --> provider: %s, message: %s.%s",
                 group && *group ? group : "", group && *group ? "/" : "", path,
                 no_version(version) ? "" : ":", no_version(version) ? "" : version, c->remote,
                 c->local, path, call.method ? call.method : "");
        call.status = DUBBO_STATUS_SERVICE_NOT_FOUND;
        call.error = msg;
        write_answer(&call);
        release_arena(call.arena);
        mem_give(s, hold);
        return;
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
        atomic_fetch_add(&s->mem, made);
    else
        made = 0;
    write_answer(&call);
    release_arena(call.arena);
    mem_give(s, hold + made);
}

static void *worker_main(void *arg)
{
    dubbo_server_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->qhead && !s->stopping) {
            s->idle++;
            pthread_cond_wait(&s->work_cv, &s->mu);
            s->idle--;
        }
        /* past the shutdown deadline, queued jobs are dropped, not run */
        if (!s->qhead || s->abandon) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        job_t *j = s->qhead;
        s->qhead = j->next;
        if (!s->qhead) s->qtail = NULL;
        s->qlen--;
        s->busy++;
        pthread_mutex_unlock(&s->mu);

        run_job(s, j->c, &j->unit, j->charged, j);
        /* The connection reference is dropped on the loop thread, where
         * everything else about the connection happens. */
        sconn_t *c = j->c;
        size_t charged = j->charged;
        job_free(j);
        mem_give(s, charged);
        dubbo__loop_post(conn_unref_task, c);

        pthread_mutex_lock(&s->mu);
        s->busy--;
        if (atomic_fetch_sub(&s->inflight, 1) == 1) pthread_cond_broadcast(&s->idle_cv);
        pthread_mutex_unlock(&s->mu);
    }
}

/* ---- reading (loop thread) -------------------------------------------------- */

/* Reads land in a buffer of the loop thread's own while a connection has no
 * partial frame: whole frames are handled from it, and only the bytes of an
 * unfinished frame are copied into the connection's buffer. An idle or
 * slow connection so holds only what it has sent (1,000 slowloris clients
 * held 64 KiB each before). */
#define SCRATCH_LEN 65536
static _Thread_local uint8_t *loop_scratch;

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    sconn_t *c = h->data;
    (void)hint;
    if (!c->rbuf.len) {
        if (!loop_scratch) loop_scratch = malloc(SCRATCH_LEN);
        if (loop_scratch) {
            *buf = uv_buf_init((char *)loop_scratch, SCRATCH_LEN);
            return;
        }
    }
    /* A unit whose header is here gets its whole size at once (the header
     * was checked against the payload limit): no copies while it grows. */
    size_t want = 65536, total = 0;
    if (c->proto && c->proto->cut(c->rbuf.base, c->rbuf.len, c->srv->opts.payload, &total) == 0 &&
        total > c->rbuf.len && total - c->rbuf.len > want)
        want = total - c->rbuf.len;
    if (c->rbuf.cap - c->rbuf.len < want) {
        uint8_t *q = realloc(c->rbuf.base, c->rbuf.len + want);
        if (!q) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        c->rbuf.base = q;
        c->rbuf.cap = c->rbuf.len + want;
    }
    *buf = uv_buf_init((char *)c->rbuf.base + c->rbuf.len, (unsigned)(c->rbuf.cap - c->rbuf.len));
}

typedef struct {
    job_t *head, *tail;
    size_t n;
} batch_t;

/* One whole unit of `len` bytes. `charged`: budget bytes already held for
 * it (taken as its bytes arrived), which the job takes over or this gives
 * back. `*own`: a malloc'ed read buffer holding the unit, which a queued job
 * takes over instead of copying the payload (*own set to NULL then), or
 * NULL. */
static void handle_unit(sconn_t *c, const uint8_t *p, size_t len, batch_t *batch, size_t charged,
                        uint8_t **own)
{
    dubbo_server_t *s = c->srv;
    c->served = true;
    dubbo_unit_t u = {0};
    if (!c->proto->on_unit(c, p, len, &u)) { /* the protocol dealt with it */
        mem_give(s, charged);
        return;
    }
    if (!charged) {
        if (!mem_take(s, len)) {
            char msg[256];
            overload_message(s, c, len, msg, sizeof(msg));
            dubbo__log_limited(&s->log_rl, "request %llu from %s refused: %s",
                               (unsigned long long)u.id, c->remote, msg);
            refuse_unit(c, p, len, DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED, msg);
            return;
        }
        charged = len;
    }
    pthread_mutex_lock(&s->mu);
    /* Queued plus running: a burst decoded before any worker wakes must not
     * all be queued past the limit. */
    bool full = !s->opts.direct && s->qlen + (size_t)s->busy + batch->n >=
                                       (size_t)s->opts.queue + (size_t)s->opts.threads;
    pthread_mutex_unlock(&s->mu);
    if (full) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "Server side(%s) thread pool is exhausted, detail msg: %d threads busy, %d "
                 "requests queued",
                 c->local, s->opts.threads, s->opts.queue);
        refuse_unit(c, p, len, DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED, msg);
        mem_give(s, charged);
        return;
    }
    if (s->opts.direct) {
        /* Java's dispatcher=direct: the handler runs here, on the loop. */
        run_job(s, c, &u, charged, NULL);
        mem_give(s, charged);
        return;
    }
    job_t *j = malloc(sizeof(*j) + (*own ? 0 : u.payload_len));
    if (!j) {
        mem_give(s, charged);
        return;
    }
    j->charged = charged;
    j->next = NULL;
    j->c = c;
    j->unit = u;
    j->own = *own;
    *own = NULL;
    if (!j->own) {
        memcpy(j->copy, u.payload, u.payload_len);
        j->unit.payload = j->copy;
    }
    atomic_fetch_add(&c->refs, 1);
    atomic_fetch_add(&s->inflight, 1);
    /* Queued in a batch: one lock and one wakeup per read, not per request. */
    if (batch->tail)
        batch->tail->next = j;
    else
        batch->head = j;
    batch->tail = j;
    batch->n++;
}

static void *worker_main(void *arg);

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
    /* Wake one sleeping worker per new job, no more: a broadcast to a
     * pool of 200 wakes 200 threads to fight over a few jobs. */
    size_t wake = batch->n < (size_t)s->idle ? batch->n : (size_t)s->idle;
    for (size_t i = 0; i < wake; i++)
        pthread_cond_signal(&s->work_cv);
    /* more jobs than sleeping workers: start some, as the pool allows */
    if (batch->n > wake) spawn_workers(s, batch->n - wake);
    pthread_mutex_unlock(&s->mu);
    batch->head = batch->tail = NULL;
    batch->n = 0;
}

/* Which of the server's protocols this connection speaks, from its first
 * bytes: 1 found (c->proto set), 0 more bytes needed, -1 none (closed). */
static int detect_protocol(sconn_t *c, const uint8_t *p, size_t n)
{
    dubbo_server_t *s = c->srv;
    bool maybe = false;
    for (size_t i = 0; i < s->nprotos; i++) {
        int d = s->protos[i]->detect(p, n);
        if (d == DUBBO_DETECT_YES) {
            set_protocol(c, s->protos[i]);
            return 1;
        }
        if (d == DUBBO_DETECT_MORE) maybe = true;
    }
    if (maybe) return 0;
    char why[200];
    int w = snprintf(why, sizeof(why), "no protocol of \"%s\" speaks what it sent (first bytes",
                     s->opts.protocols);
    for (size_t i = 0; i < n && i < 8 && w > 0 && (size_t)w < sizeof(why) - 4; i++)
        w += snprintf(why + w, sizeof(why) - (size_t)w, " %02x", p[i]);
    snprintf(why + w, sizeof(why) - (size_t)w, ")");
    conn_close(c, why);
    return -1;
}

/* A unit this large that fills the connection's buffer is handed to its
 * job with the buffer, not copied. */
#define STEAL_MIN ((size_t)64 << 10)

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    sconn_t *c = st->data;
    dubbo_server_t *s = c->srv;
    if (n < 0) {
        conn_close(c, n == UV_EOF ? NULL : uv_strerror((int)n));
        return;
    }
    if (n == 0) return;
    /* data: the loop's scratch buffer (the connection had nothing pending)
     * or the connection's own buffer */
    bool scratch = buf->base == (char *)loop_scratch;
    uint8_t *data;
    size_t len;
    if (scratch) {
        data = loop_scratch;
        len = (size_t)n;
    } else {
        c->rbuf.len += (size_t)n;
        data = c->rbuf.base;
        len = c->rbuf.len;
    }
    c->last_read = dubbo__now_ms();
    size_t off = 0;
    batch_t batch = {NULL, NULL, 0};
    while (!c->closing) {
        if (c->discard) {
            /* the rest of a refused frame: dropped as it arrives */
            size_t drop = len - off < c->discard ? len - off : c->discard;
            off += drop;
            c->discard -= drop;
            if (c->discard) break;
            continue;
        }
        if (!c->proto && detect_protocol(c, data + off, len - off) <= 0) break;
        size_t total = 0;
        int64_t r = c->proto->cut(data + off, len - off, s->opts.payload, &total);
        if (r < 0) {
            /* Requests before the garbage still get their answers. */
            enqueue_batch(s, &batch);
            conn_close(c, dubbo_last_error());
            return;
        }
        /* The budget counts the bytes a unit really holds, as they arrive
         * (a header announcing 8 MiB holds 16 bytes, so clients that send a
         * header and stall cannot reserve what they never send). A unit
         * whose bytes no longer fit is refused (the protocol answers it
         * with status 100), its bytes given back and the rest of it
         * dropped as it arrives. */
        size_t have = r > 0 ? (size_t)r : len - off;
        const uint8_t *h = data + off;
        if (r == 0 && !total) break; /* a few bytes of a header: not counted */
        if (r > 0) total = (size_t)r;
        /* counted as arriving first, so a decode never sees them in mem alone */
        size_t more = have > c->admitted ? have - c->admitted : 0;
        if (more) atomic_fetch_add(&s->arriving, more);
        if (more && !mem_take(s, more)) {
            atomic_fetch_sub(&s->arriving, more);
            char msg[256];
            overload_message(s, c, total, msg, sizeof(msg));
            dubbo__log_limited(&s->log_rl, "a request of %zu bytes from %s refused: %s", total,
                               c->remote, msg);
            refuse_unit(c, h, have, DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED, msg);
            atomic_fetch_sub(&s->mem, c->admitted);
            atomic_fetch_sub(&s->arriving, c->admitted);
            c->admitted = 0;
            off += have;
            c->discard = total > have ? total - have : 0;
            continue;
        }
        c->admitted += more;
        if (r == 0) break;
        size_t charged = c->admitted;
        atomic_fetch_sub(&s->arriving, charged);
        c->admitted = 0;
        uint8_t *own = NULL;
        if (!scratch && off == 0 && (size_t)r >= STEAL_MIN) {
            /* the job takes the buffer over; what follows the frame moves
             * to a new one */
            own = c->rbuf.base;
            dubbo_buf_init(&c->rbuf, 0);
            if (len > (size_t)r && dubbo_buf_append(&c->rbuf, data + r, len - (size_t)r)) {
                free(own);
                enqueue_batch(s, &batch);
                conn_close(c, "out of memory");
                return;
            }
            handle_unit(c, h, (size_t)r, &batch, charged, &own);
            free(own); /* still ours unless a job took it */
            data = c->rbuf.base;
            len = c->rbuf.len;
            off = 0;
            if (!len) break;
            continue;
        }
        handle_unit(c, h, (size_t)r, &batch, charged, &own);
        off += (size_t)r;
    }
    enqueue_batch(s, &batch);
    if (scratch) {
        /* keep what belongs to the next frame */
        if (off < len && !c->closing && dubbo_buf_append(&c->rbuf, data + off, len - off))
            conn_close(c, "out of memory");
    } else {
        dubbo_buf_consume(&c->rbuf, off);
    }
    /* the time a partial frame has been arriving for (read_timeout_ms) */
    if (!c->rbuf.len && !c->discard)
        c->frame_since = 0;
    else if (!c->frame_since || off)
        c->frame_since = c->last_read;
    /* a buffer grown for a large frame goes back once that frame is done */
    if (!c->rbuf.len && c->rbuf.cap) {
        dubbo_buf_destroy(&c->rbuf);
        dubbo_buf_init(&c->rbuf, 0);
    }
}

static void addr_str(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, host, sizeof(host));
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, host, sizeof(host));
        port = ntohs(a->sin6_port);
    }
    snprintf(out, n, "%s:%d", host, port);
}

static void on_connection(uv_stream_t *server, int status)
{
    dubbo_server_t *s = server->data;
    if (status < 0) {
        DLOG_WARN("accept on port %d failed: %s", s->port, uv_strerror(status));
        return;
    }
    sconn_t *c = calloc(1, sizeof(*c));
    if (!c) return;
    c->srv = s;
    /* One protocol: it judges the first bytes itself (and names what is
     * wrong with them); several: detect_protocol picks one. */
    if (s->nprotos == 1) set_protocol(c, s->protos[0]);
    atomic_init(&c->refs, 1);
    dubbo_buf_init(&c->rbuf, 0);
    dubbo_buf_init(&c->out, 0);
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (!uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len))
        addr_str(&ss, c->remote, sizeof(c->remote));
    len = sizeof(ss);
    if (!uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len))
        addr_str(&ss, c->local, sizeof(c->local));
    c->last_read = c->accepted_at = dubbo__now_ms();
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (s->opts.accepts > 0 && s->nconns > s->opts.accepts) {
        char why[128];
        snprintf(why, sizeof(why), "the server has its %d connections (accepts=%d)",
                 s->opts.accepts, s->opts.accepts);
        conn_close(c, why);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* Every connection against its limits: silent past 3 x heartbeat, a frame
 * taking longer than read_timeout_ms, no first frame within
 * first_request_timeout_ms. */
static void on_idle_timer(uv_timer_t *t)
{
    dubbo_server_t *s = t->data;
    uint64_t now = dubbo__now_ms(), limit = (uint64_t)s->opts.heartbeat_ms * 3;
    uint64_t first = s->opts.first_request_timeout_ms > 0
                         ? (uint64_t)s->opts.first_request_timeout_ms
                         : (uint64_t)s->opts.heartbeat_ms * 2;
    for (sconn_t *c = s->conns; c; c = c->next) {
        if (c->closing) continue;
        char why[160];
        if (now - c->last_read > limit) {
            snprintf(why, sizeof(why), "no data for %llu ms (idle limit %llu ms)",
                     (unsigned long long)(now - c->last_read), (unsigned long long)limit);
        } else if (c->frame_since && now - c->frame_since > (uint64_t)s->opts.read_timeout_ms) {
            snprintf(why, sizeof(why),
                     "a frame still incomplete after %llu ms (%zu bytes so far; read timeout %d "
                     "ms)",
                     (unsigned long long)(now - c->frame_since), c->rbuf.len,
                     s->opts.read_timeout_ms);
        } else if (!c->served && now - c->accepted_at > first) {
            snprintf(why, sizeof(why), "no whole frame in the %llu ms since it connected",
                     (unsigned long long)first);
        } else {
            continue;
        }
        conn_close(c, why);
    }
    for (sconn_t *c = s->conns; c; c = c->next)
        if (!c->closing && c->proto && c->proto->tick) c->proto->tick(c->pstate, c, now);
    dubbo__ratelimit_flush(&s->log_rl);
}

/* ---- start / shutdown ------------------------------------------------------- */

typedef struct {
    dubbo_server_t *s;
    int rc;
} start_t;

static void start_on_loop(void *arg)
{
    start_t *st = arg;
    dubbo_server_t *s = st->s;
    uv_loop_t *loop = dubbo__loop();
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(s->opts.host, s->opts.port, (struct sockaddr_in *)&addr);
    if (rc) rc = uv_ip6_addr(s->opts.host, s->opts.port, (struct sockaddr_in6 *)&addr);
    if (rc) {
        st->rc = dubbo__seterr(DUBBO_EINVAL, "server: bad listen address \"%s\"", s->opts.host);
        return;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0)) == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
    if (rc) {
        st->rc = dubbo__seterr(rc, "server: cannot listen on %s:%d: %s", s->opts.host, s->opts.port,
                               uv_strerror(rc));
        uv_close((uv_handle_t *)&s->listener, NULL);
        return;
    }
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
    s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    s->listening = true;
    uv_timer_init(loop, &s->idle_timer);
    s->idle_timer.data = s;
    uint64_t every = (uint64_t)s->opts.heartbeat_ms / 2;
    if (every > 1000) every = 1000; /* read and first-request timeouts are checked here too */
    if (!every) every = 1;
    uv_timer_start(&s->idle_timer, on_idle_timer, every, every);
    s->timer_on = true;
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
    start_t st = {s, 0};
    int rc = dubbo__loop_run_sync(start_on_loop, &st);
    if (rc) return rc;
    if (st.rc) return st.rc;
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

static void readonly_on_loop(void *arg)
{
    dubbo_server_t *s = arg;
    int n = 0;
    for (sconn_t *c = s->conns; c; c = c->next) {
        if (!c->proto || c->closing) continue;
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        /* the protocol's goaway: Dubbo's readonly event */
        if (!c->proto->goaway(&out) && !dubbo_sconn_send(c, out.base, out.len)) n++;
        dubbo_buf_destroy(&out);
    }
    if (s->listening) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->listening = false;
    }
    DLOG_INFO("shutdown: sent readonly to %d consumer connection(s), stopped accepting on port %d",
              n, s->port);
}

static void close_all_on_loop(void *arg)
{
    dubbo_server_t *s = arg;
    for (sconn_t *c = s->conns; c; c = c->next)
        conn_close(c, NULL);
    if (s->timer_on) {
        uv_close((uv_handle_t *)&s->idle_timer, NULL);
        s->timer_on = false;
    }
}

static void nothing(void *arg)
{
    (void)arg;
}

/* The grace after the readonly event: open connections are still read and
 * answered, because requests a consumer sent before it saw the event, and
 * calls that had already picked this provider, are still on their way. A
 * connection closes when its consumer closes it, or once it has nothing to
 * answer or write and no frame has come on it for SHUTDOWN_QUIET_MS (counted
 * from the readonly event at the earliest); the shutdown timeout bounds it. */
#define SHUTDOWN_QUIET_MS 200

typedef struct {
    dubbo_server_t *s;
    uint64_t since;    /* when the readonly event was queued */
    uint64_t quiet_ms; /* SHUTDOWN_QUIET_MS, or less with a shorter timeout */
    int open;          /* connections still open */
} grace_t;

static void grace_on_loop(void *arg)
{
    grace_t *g = arg;
    uint64_t now = dubbo__now_ms();
    g->open = 0;
    for (sconn_t *c = g->s->conns; c; c = c->next) {
        if (c->closing) continue;
        uint64_t last = c->last_read > g->since ? c->last_read : g->since;
        /* refs: the loop's own, plus one per job, answer or write in flight */
        bool done = atomic_load(&c->refs) == 1 && !c->writing && c->out.len == 0 &&
                    c->rbuf.len == 0 && !c->discard;
        /* nor bytes that arrived and were not read yet */
        uv_os_fd_t fd;
        int unread = 0;
        if (done && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 &&
            ioctl(fd, FIONREAD, &unread) == 0)
            done = unread == 0;
        if (done && now - last >= g->quiet_ms)
            conn_close(c, NULL);
        else
            g->open++;
    }
}

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
    if (s->listening || s->timer_on) {
        dubbo__loop_run_sync(readonly_on_loop, s);
        grace_t g = {s, dubbo__now_ms(), limit < SHUTDOWN_QUIET_MS ? limit : SHUTDOWN_QUIET_MS, 0};
        while (!dubbo__loop_run_sync(grace_on_loop, &g) && g.open > 0 &&
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
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    if (left > 0) {
        rc = dubbo__seterr(DUBBO_ETIMEOUT,
                           "server: %d call(s) still running after %d ms of shutdown", left,
                           s->opts.shutdown_timeout_ms);
        DLOG_WARN("%s", dubbo_last_error());
    }
    /* Give the answers just written a loop turn to be flushed, then close. */
    dubbo__loop_run_sync(nothing, NULL);
    dubbo__loop_run_sync(close_all_on_loop, s);
    for (int i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    /* Jobs that never ran (deadline passed) are dropped. */
    job_t *j = s->qhead;
    while (j) {
        job_t *n = j->next;
        dubbo__loop_post(conn_unref_task, j->c);
        atomic_fetch_sub(&s->mem, j->charged);
        job_free(j);
        j = n;
    }
    s->qhead = s->qtail = NULL;
    /* Let the close callbacks and pending unrefs run. */
    dubbo__loop_run_sync(nothing, NULL);
    dubbo__loop_run_sync(nothing, NULL);
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
    free((char *)s->opts.host);
    free((char *)s->opts.application);
    free((char *)s->opts.protocols);
    pthread_rwlock_destroy(&s->svc_lock);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
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

void dubbo_server_handle_signals(void)
{
    if (sig_pipe[0] < 0 && pipe(sig_pipe) != 0) sig_pipe[0] = sig_pipe[1] = -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
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
    return att_str(call->attachments, key);
}

const char *dubbo_call_remote(const dubbo_call_t *call)
{
    return call->c->remote;
}

const char *dubbo_call_local(const dubbo_call_t *call)
{
    return call->c->local;
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
    return dubbo_map_get(call->attachments, key);
}
