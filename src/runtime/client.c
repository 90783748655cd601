/* The consumer runtime: dubbo_client_*, for any protocol whose table
 * (include/dubbo/protocol.h) has the consumer hooks. A client picks one of
 * its connections (src/transport/dialer.c: shared per protocol, address
 * and slot, with the pending table, timeouts, heartbeat timing, reconnect
 * and availability), resolves each call's timeout, has the protocol frame
 * the request on the caller's thread and decode the answer on the loop
 * thread, and waits for it in the synchronous form. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/protocol.h"
#include "dubbo/rpc.h"
#include "dubbo/url.h"
#include "core/internal.h"
#include "core/log.h"
#include "runtime/client.h"
#include "transport/dialer.h"
#include "transport/loop.h"

/* Java's 8 MiB, the `payload` URL parameter's default. */
#define DEFAULT_PAYLOAD ((size_t)8 << 20)

struct dubbo_client {
    dubbo_url_t *url;
    const dubbo_protocol_ops_t *proto;
    void *state; /* the protocol's client_open */
    char *interface;
    int timeout_ms;
    dubbo__dconn_t **conns;
    int nconns;
    atomic_uint rr;
};

/* A call of a client: the dialer's call first. */
typedef struct {
    dubbo__dcall_t base;
    dubbo_done_fn done;
    void *user;
} ccall_t;

/* ---- results ----------------------------------------------------------------- */

void dubbo_result_init(dubbo_result_t *r)
{
    memset(r, 0, sizeof(*r));
}

void dubbo_result_destroy(dubbo_result_t *r)
{
    dubbo_arena_free(r->arena);
    memset(r, 0, sizeof(*r));
}

static void result_error(dubbo_result_t *r, const char *msg)
{
    if (!r->arena) r->arena = dubbo_arena_new(0);
    r->error = r->arena ? dubbo_arena_strndup(r->arena, msg, strlen(msg)) : NULL;
}

/* ---- the dialer's protocol part: a protocol table's consumer hooks (loop thread) ---- */

static int64_t dial_cut(const void *proto, const uint8_t *p, size_t n, size_t limit)
{
    return ((const dubbo_protocol_ops_t *)proto)->reply_cut(p, n, limit);
}

/* The answer to the call u->id decoded into its result and the call
 * ended: 1, or 0 when no call waits for it. */
static int deliver(const dubbo_protocol_ops_t *ops, dubbo__dconn_t *c, const dubbo_unit_t *u)
{
    dubbo__dcall_t *p = dubbo__dial_take(c, u->id);
    if (!p) {
        DLOG_DEBUG("answer %llu from %s matches no pending call (timed out?)",
                   (unsigned long long)u->id, dubbo__dial_addr(c));
        return 0;
    }
    dubbo_result_t r;
    dubbo_result_init(&r);
    r.arena = dubbo_arena_new(dubbo__dial_payload(c) * 8 + ((size_t)1 << 20));
    if (!r.arena) {
        dubbo__dial_fail(p, DUBBO_ENOMEM, "%s: out of memory for the answer to %s", ops->name,
                         p->what);
        return 1;
    }
    int rc = ops->reply_decode(u, &r);
    if (rc) {
        char detail[400];
        snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
        dubbo__dial_fail(p, rc, "%s: bad answer to %s from %s: %s", ops->name, p->what,
                         dubbo__dial_addr(c), detail);
        dubbo_result_destroy(&r);
        return 1;
    }
    dubbo__dial_finish(p, 0, &r);
    return 1;
}

static void dial_unit(const void *proto, dubbo__dconn_t *c, const uint8_t *unit, size_t len)
{
    const dubbo_protocol_ops_t *ops = proto;
    dubbo_unit_t u = {0};
    if (ops->on_reply(c, unit, len, &u) == 1) deliver(ops, c, &u);
}

static int dial_heartbeat(const void *proto, uint64_t id, dubbo_buf_t *out)
{
    const dubbo_protocol_ops_t *ops = proto;
    return ops->heartbeat ? ops->heartbeat(id, out) : -1;
}

static int dial_open(const void *proto, dubbo__dconn_t *c, void **state)
{
    return ((const dubbo_protocol_ops_t *)proto)->cconn_open(c, state);
}

static void dial_close(const void *proto, void *state)
{
    ((const dubbo_protocol_ops_t *)proto)->cconn_close(state);
}

static int dial_frame(const void *proto, dubbo__dconn_t *c, void *state, const dubbo__dcall_t *p)
{
    return ((const dubbo_protocol_ops_t *)proto)
        ->frame(state, c, p->id, p->bytes.base, p->bytes.len);
}

static void dial_cancel(const void *proto, dubbo__dconn_t *c, void *state, uint64_t id)
{
    ((const dubbo_protocol_ops_t *)proto)->cancel(state, c, id);
}

static const dubbo__dial_ops_t dial_ops = {
    .cut = dial_cut,
    .on_unit = dial_unit,
    .heartbeat = dial_heartbeat,
};

/* For a protocol with the stateful consumer hooks (cconn_open ...). */
static const dubbo__dial_ops_t dial_ops_stateful = {
    .cut = dial_cut,
    .on_unit = dial_unit,
    .heartbeat = dial_heartbeat,
    .open = dial_open,
    .close = dial_close,
    .frame = dial_frame,
    .cancel = dial_cancel,
};

int dubbo_cconn_send(dubbo_cconn_t *c, const void *bytes, size_t n)
{
    return dubbo__dial_send(c, bytes, n);
}

void dubbo_cconn_goaway(dubbo_cconn_t *c)
{
    dubbo__dial_readonly(c);
}

const char *dubbo_cconn_remote(const dubbo_cconn_t *c)
{
    return dubbo__dial_addr(c);
}

void dubbo_cconn_close(dubbo_cconn_t *c, const char *why)
{
    dubbo__dial_close(c, why);
}

size_t dubbo_cconn_limit(const dubbo_cconn_t *c)
{
    return dubbo__dial_payload(c);
}

void *dubbo_cconn_state(const dubbo_cconn_t *c)
{
    return dubbo__dial_state(c);
}

int dubbo_cconn_answer(dubbo_cconn_t *c, const dubbo_unit_t *u)
{
    return deliver(dubbo__dial_proto(c), c, u);
}

/* The end of a call (loop thread): the answer the protocol decoded, or a
 * result carrying the failure's message. */
static void call_done(dubbo__dcall_t *base, int rc, const char *msg, void *res)
{
    ccall_t *p = (ccall_t *)base;
    dubbo_result_t r;
    if (res) {
        r = *(dubbo_result_t *)res;
    } else {
        dubbo_result_init(&r);
        if (msg) result_error(&r, msg);
    }
    if (p->done)
        p->done(rc, &r, p->user);
    else
        dubbo_result_destroy(&r);
}

/* ---- status names ----------------------------------------------------------------- */

const char *dubbo_status_name(int status)
{
    switch (status) {
#define XX(name, code)                                                                             \
    case code: return #name;
        DUBBO_STATUS_MAP(XX)
#undef XX
    default: return "UNKNOWN";
    }
}

const char *dubbo_exception_message(const dubbo_value_t *exc)
{
    const dubbo_value_t *m = dubbo_object_get(exc, "detailMessage");
    return m && m->type == DUBBO_T_STRING ? m->u.s.ptr : NULL;
}

/* ---- clients ---------------------------------------------------------------------- */

static bool has_consumer_side(const dubbo_protocol_ops_t *p)
{
    return p && p->client_open && p->client_close && p->request && p->reply_cut && p->on_reply &&
           p->reply_decode;
}

/* The stateful hooks come all four or none (a table with some crashes
 * when the first missing one is needed: refused here instead). */
static bool stateful(const dubbo_protocol_ops_t *p)
{
    return p->cconn_open && p->cconn_close && p->frame && p->cancel;
}

dubbo_client_t *dubbo_client_new(const char *url)
{
    dubbo_url_t *u = dubbo_url_parse(url);
    if (!u) return NULL;
    const dubbo_protocol_ops_t *proto = dubbo_protocol_find(u->protocol);
    bool partial = proto &&
                   (proto->cconn_open || proto->cconn_close || proto->frame || proto->cancel) &&
                   !stateful(proto);
    bool unix_sock = *dubbo_url_param(u, "unix", "") != '\0'; /* the port is not used */
    if (!has_consumer_side(proto) || partial || !*u->host || (!u->port && !unix_sock) ||
        !*u->path) {
        dubbo__seterr(
            DUBBO_EINVAL,
            "client: url \"%s\" must be <protocol>://host:port/interface[?version=&"
            "group=&timeout=&unix=PATH] of a protocol with a consumer side (dubbo, tri, rest)",
            url);
        dubbo_url_free(u);
        return NULL;
    }
    dubbo_client_t *c = calloc(1, sizeof(*c));
    if (!c) {
        dubbo_url_free(u);
        return NULL;
    }
    c->proto = proto;
    if (!(c->state = proto->client_open(url, u))) {
        dubbo_url_free(u);
        free(c);
        return NULL;
    }
    c->url = u;
    c->interface = strdup(dubbo_url_param(u, "interface", u->path));
    c->timeout_ms = (int)dubbo_url_param_int(u, "timeout", 1000);
    if (c->timeout_ms <= 0) c->timeout_ms = 1000;
    long n = dubbo_url_param_int(u, "connections", 1);
    if (n < 1) n = 1;
    if (n > 64) n = 64;
    long payload = dubbo_url_param_int(u, "payload", (long)DEFAULT_PAYLOAD);
    if (payload <= 0) payload = (long)DEFAULT_PAYLOAD;
    long heartbeat = dubbo_url_param_int(u, "heartbeat", 60000);
    if (heartbeat <= 0) heartbeat = 60000;
    c->conns = calloc((size_t)n, sizeof(dubbo__dconn_t *));
    if (!c->interface || !c->conns || !dubbo__loop()) {
        dubbo_client_free(c);
        return NULL;
    }
    /* TLS: tls=true and the tls-* parameters (docs/tls.md) */
    const char *tls = dubbo_url_param(u, "tls", NULL);
    bool use_tls = tls && (strcmp(tls, "true") == 0 || strcmp(tls, "strict") == 0);
    dubbo__tls_cfg_t tc = {
        .cert_file = dubbo_url_param(u, "tls-cert-file", NULL),
        .key_file = dubbo_url_param(u, "tls-key-file", NULL),
        .ca_file = dubbo_url_param(u, "tls-ca-cert-file", NULL),
        .server_name = dubbo_url_param(u, "tls-server-name", u->host),
        .verify_peer = strcmp(dubbo_url_param(u, "tls-insecure", "false"), "true") != 0,
        .alpn = strcmp(proto->name, "tri") == 0    ? "h2"
                : strcmp(proto->name, "rest") == 0 ? "http/1.1"
                                                   : NULL,
    };
    /* unix=PATH: the provider's unix-domain socket instead of host:port */
    const char *unix_path = dubbo_url_param(u, "unix", NULL);
    char unix_host[160];
    const char *dial_host = u->host;
    int dial_port = u->port;
    if (unix_path && *unix_path) {
        snprintf(unix_host, sizeof(unix_host), "unix:%s", unix_path);
        dial_host = unix_host;
        dial_port = 0;
    }
    for (long i = 0; i < n; i++) {
        c->conns[i] = dubbo__dial_get_tls(
            stateful(proto) ? &dial_ops_stateful : &dial_ops, proto, proto->name, dial_host,
            dial_port, (int)i, (size_t)payload, (uint64_t)heartbeat, use_tls ? &tc : NULL);
        if (!c->conns[i]) {
            dubbo_client_free(c);
            return NULL;
        }
        c->nconns++;
    }
    return c;
}

void dubbo_client_free(dubbo_client_t *c)
{
    if (!c) return;
    for (int i = 0; i < c->nconns; i++)
        dubbo__dial_put(c->conns[i]);
    if (c->state) c->proto->client_close(c->state);
    free(c->conns);
    free(c->interface);
    dubbo_url_free(c->url);
    free(c);
}

/* ---- building requests ------------------------------------------------------------- */

static ccall_t *build(dubbo_client_t *c, const dubbo_invocation_t *inv, bool oneway, int *rc)
{
    if (!inv || !inv->method || !*inv->method) {
        *rc = dubbo__seterr(DUBBO_EINVAL, "client %s: a call needs a method name", c->interface);
        return NULL;
    }
    ccall_t *p = (ccall_t *)dubbo__dcall_new(sizeof(ccall_t));
    if (!p) {
        *rc = dubbo__seterr(DUBBO_ENOMEM, "client: out of memory");
        return NULL;
    }
    unsigned idx = atomic_fetch_add(&c->rr, 1) % (unsigned)c->nconns;
    dubbo__dconn_t *conn = c->conns[idx];
    p->base.id = dubbo__dial_next_id();
    p->base.oneway = oneway;
    /* Timeout: the call's own, else the method's ("<method>.timeout" in the
     * URL, as Java's per-method setting), else the reference's. */
    long method_timeout = dubbo_url_method_param_int(c->url, inv->method, "timeout", 0);
    p->base.timeout_ms = inv->timeout_ms > 0  ? inv->timeout_ms
                         : method_timeout > 0 ? (int)method_timeout
                                              : c->timeout_ms;
    size_t wl = strnlen(inv->method, sizeof(p->base.what) - 1);
    memcpy(p->base.what, inv->method, wl);
    p->base.what[wl] = '\0';
    p->base.done = call_done;
    p->base.c = conn;
    *rc = c->proto->request(c->state, inv, p->base.id, !oneway, p->base.timeout_ms,
                            dubbo__dial_payload(conn), &p->base.bytes);
    if (*rc) {
        dubbo__dcall_free(&p->base);
        return NULL;
    }
    return p;
}

static int submit(ccall_t *p)
{
    int rc = dubbo__dial_submit(p->base.c, &p->base);
    if (rc) dubbo__dcall_free(&p->base);
    return rc;
}

int dubbo_client_call_async(dubbo_client_t *c, const dubbo_invocation_t *inv, dubbo_done_fn done,
                            void *user)
{
    int rc;
    ccall_t *p = build(c, inv, false, &rc);
    if (!p) return rc;
    p->done = done;
    p->user = user;
    return submit(p);
}

int dubbo_client_oneway(dubbo_client_t *c, const dubbo_invocation_t *inv)
{
    int rc;
    ccall_t *p = build(c, inv, true, &rc);
    if (!p) return rc;
    return submit(p);
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int rc;
    dubbo_result_t *r;
} waiter_t;

static void waiter_done(int rc, dubbo_result_t *r, void *user)
{
    waiter_t *w = user;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    *w->r = *r;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int dubbo__wait_async(dubbo__start_fn start, void *arg, dubbo_result_t *r)
{
    waiter_t w = {.done = false, .r = r};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = start(arg, waiter_done, &w);
    if (!rc) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.rc;
        /* The detail was set on another thread; repeat it on the caller's. */
        if (rc && r->error) dubbo__seterr(rc, "%s", r->error);
    } else {
        char detail[600];
        snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
        result_error(r, detail);
        dubbo__seterr(rc, "%s", detail);
    }
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

typedef struct {
    dubbo_client_t *c;
    const dubbo_invocation_t *inv;
} client_call_t;

static int start_client_call(void *arg, dubbo_done_fn done, void *user)
{
    client_call_t *cc = arg;
    return dubbo_client_call_async(cc->c, cc->inv, done, user);
}

int dubbo_client_call(dubbo_client_t *c, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    /* r is initialised on every path, the refused one included, so that
     * the caller may read and destroy it whatever the outcome; the refusal
     * allocates nothing (r->error is static). */
    static const char on_loop[] = "client: a synchronous call from the event-loop thread (e.g. an "
                                  "async callback) would deadlock; use dubbo_client_call_async";
    dubbo_result_init(r);
    if (dubbo__on_loop_thread()) {
        r->error = on_loop;
        return dubbo__seterr(DUBBO_EINVAL, "%s", on_loop);
    }
    client_call_t cc = {c, inv};
    return dubbo__wait_async(start_client_call, &cc, r);
}

bool dubbo__client_connected(dubbo_client_t *c)
{
    for (int i = 0; i < c->nconns; i++)
        if (dubbo__dial_connected(c->conns[i])) return true;
    return false;
}

bool dubbo__client_available(dubbo_client_t *c)
{
    /* Any connection available (dubbo__dial_available: connected and not
     * read-only, or never connected yet; not while a lost connection is
     * being re-established, attempts included). */
    for (int i = 0; i < c->nconns; i++)
        if (dubbo__dial_available(c->conns[i])) return true;
    return false;
}
