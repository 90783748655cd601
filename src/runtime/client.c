/* The consumer runtime: shared connections per provider address on the
 * event loop, a pending-call table keyed by request id, per-call timeouts,
 * heartbeats on idle connections, reconnect with exponential backoff, and
 * the readonly event that stops new calls to a provider going away. */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/hessian2.h"
#include "dubbo/extension.h"
#include "dubbo/rpc.h"
#include "dubbo/serialization.h"
#include "dubbo/url.h"
#include "core/internal.h"
#include "core/log.h"
#include "protocol/dubbo/codec.h"
#include "runtime/client.h"
#include "transport/loop.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000

typedef struct pending pending_t;

#define PENDING_BUCKETS 1024

/* A connection to one provider address, shared by clients (loop thread owns
 * every field but `users`, which the registry mutex guards). */
typedef struct cconn {
    struct cconn *next; /* registry list */
    char *host;
    int port;
    int slot; /* which of `connections` parallel connections */
    char addr[300];
    int users;
    size_t payload;
    uint64_t heartbeat_ms; /* idle time before a heartbeat; 3x without reads closes */

    enum { C_IDLE, C_CONNECTING, C_CONNECTED, C_BACKOFF } state;
    bool readonly;
    /* The connection was lost (closed by the provider, after readonly or
     * not, or a connect failed) and no reconnect has succeeded since: the
     * provider is not offered for selection while the reconnect runs in the
     * background (Java's reconnect task, isAvailable() false meanwhile). */
    bool down;
    uv_tcp_t *tcp; /* a fresh handle per attempt; freed in its close callback */
    uv_connect_t connect_req;
    uv_timer_t timer; /* reconnect backoff and heartbeat checks */
    bool timer_init;
    int backoff_ms;
    uint64_t last_read, last_write;
    dubbo_buf_t rbuf, out;
    bool writing;
    /* Calls waiting for an answer, hashed by request id. Ids are handed out
     * in sequence, so id modulo the bucket count spreads them evenly. */
    pending_t *pending[PENDING_BUCKETS];
    pending_t *waiting; /* calls waiting for the connection */
} cconn_t;

struct pending {
    pending_t *next;
    cconn_t *c;
    uint64_t id;
    char method[128];
    dubbo_buf_t frame; /* the request, written when connected */
    bool oneway;
    uv_timer_t timer;
    bool timer_on;
    int timeout_ms;
    dubbo_done_fn done;
    void *user;
};

struct dubbo_client {
    dubbo_url_t *url;
    char *interface, *version, *group;
    const dubbo_serialization_ops_t *ser; /* the URL's `serialization`, default hessian2 */
    int timeout_ms;
    cconn_t **conns;
    int nconns;
    atomic_uint rr;
};

static atomic_uint_fast64_t next_id = 1;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static cconn_t *registry;

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

/* Finish a call exactly once: stop its timer, report, free. Loop thread. */
static void pending_timer_closed(uv_handle_t *h)
{
    pending_t *p = h->data;
    dubbo_buf_destroy(&p->frame);
    free(p);
}

static void finish(pending_t *p, int rc, dubbo_result_t *r)
{
    if (p->done)
        p->done(rc, r, p->user);
    else
        dubbo_result_destroy(r);
    if (p->timer_on) {
        uv_timer_stop(&p->timer);
        uv_close((uv_handle_t *)&p->timer, pending_timer_closed);
    } else {
        dubbo_buf_destroy(&p->frame);
        free(p);
    }
}

static void fail_call(pending_t *p, int rc, const char *fmt, ...) DUBBO__PRINTF(3, 4);
static void fail_call(pending_t *p, int rc, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    dubbo_result_t r;
    dubbo_result_init(&r);
    result_error(&r, msg);
    dubbo__seterr(rc, "%s", msg);
    finish(p, rc, &r);
}

static bool unlink_pending(pending_t **list, pending_t *p)
{
    for (pending_t **pp = list; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return true;
        }
    return false;
}

/* ---- connection I/O (loop thread) --------------------------------------------------- */

static void conn_connect(cconn_t *c);
static void conn_flush(cconn_t *c);

typedef struct {
    uv_write_t req;
    cconn_t *c;
    dubbo_buf_t data;
    uv_tcp_t *tcp;
} cwreq_t;

static void on_written(uv_write_t *req, int status)
{
    cwreq_t *w = (cwreq_t *)req;
    cconn_t *c = w->c;
    dubbo_buf_destroy(&w->data);
    bool current = w->tcp == c->tcp;
    free(w);
    if (!current) return;
    c->writing = false;
    if (status == 0) conn_flush(c);
}

static void conn_flush(cconn_t *c)
{
    if (c->writing || c->state != C_CONNECTED || c->out.len == 0) return;
    cwreq_t *w = malloc(sizeof(*w));
    if (!w) return;
    w->c = c;
    w->tcp = c->tcp;
    w->data = c->out;
    dubbo_buf_init(&c->out, 0);
    uv_buf_t b = uv_buf_init((char *)w->data.base, (unsigned)w->data.len);
    c->writing = true;
    c->last_write = dubbo__now_ms();
    if (uv_write(&w->req, (uv_stream_t *)c->tcp, &b, 1, on_written)) {
        c->writing = false;
        dubbo_buf_destroy(&w->data);
        free(w);
    }
}

static void send_pending(cconn_t *c, pending_t *p)
{
    if (dubbo_buf_append(&c->out, p->frame.base, p->frame.len)) {
        fail_call(p, DUBBO_ENOMEM, "dubbo: out of memory queueing %s to %s", p->method, c->addr);
        return;
    }
    dubbo_buf_destroy(&p->frame);
    if (p->oneway) {
        dubbo_result_t r;
        dubbo_result_init(&r);
        finish(p, 0, &r);
    } else {
        pending_t **b = &c->pending[p->id % PENDING_BUCKETS];
        p->next = *b;
        *b = p;
    }
}

static void on_tcp_closed(uv_handle_t *h)
{
    free(h);
}

static void on_timer(uv_timer_t *t);

static void schedule_reconnect(cconn_t *c)
{
    c->state = C_BACKOFF;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS) c->backoff_ms = BACKOFF_MAX_MS;
    uv_timer_start(&c->timer, on_timer, (uint64_t)c->backoff_ms, 0);
}

/* The connection is gone: fail what waits on it and plan a reconnect. */
static void conn_lost(cconn_t *c, int err, const char *why)
{
    if (c->tcp) {
        uv_close((uv_handle_t *)c->tcp, on_tcp_closed);
        c->tcp = NULL;
    }
    c->writing = false;
    c->out.len = 0;
    c->rbuf.len = 0;
    c->readonly = false;
    pending_t *w = c->waiting;
    c->waiting = NULL;
    for (size_t i = 0; i < PENDING_BUCKETS; i++) {
        pending_t *p = c->pending[i];
        c->pending[i] = NULL;
        while (p) {
            pending_t *n = p->next;
            fail_call(p, err, "dubbo: connection to %s lost before the answer to %s: %s", c->addr,
                      p->method, why);
            p = n;
        }
    }
    while (w) {
        pending_t *n = w->next;
        fail_call(w, err, "dubbo: cannot connect to %s for %s: %s", c->addr, w->method, why);
        w = n;
    }
    if (c->users > 0) {
        c->down = true;
        schedule_reconnect(c);
    } else {
        c->state = C_IDLE;
        c->down = false; /* the next user starts afresh: connects on its first call */
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    cconn_t *c = h->data;
    (void)hint;
    if (dubbo_buf_reserve(&c->rbuf, 65536)) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)c->rbuf.base + c->rbuf.len, (unsigned)(c->rbuf.cap - c->rbuf.len));
}

static void handle_response(cconn_t *c, const dubbo_frame_t *f)
{
    pending_t *p = NULL;
    for (pending_t **pp = &c->pending[f->id % PENDING_BUCKETS]; *pp; pp = &(*pp)->next)
        if ((*pp)->id == f->id) {
            p = *pp;
            *pp = p->next;
            break;
        }
    if (!p) {
        DLOG_DEBUG("answer %llu from %s matches no pending call (timed out?)",
                   (unsigned long long)f->id, c->addr);
        return;
    }
    dubbo_result_t r;
    dubbo_result_init(&r);
    r.arena = dubbo_arena_new(c->payload * 8 + ((size_t)1 << 20));
    if (!r.arena) {
        fail_call(p, DUBBO_ENOMEM, "dubbo: out of memory for the answer to %s", p->method);
        return;
    }
    r.status = f->status;
    int rc = 0;
    /* the answer's serialization is the one its header names (checked
     * when the frame was cut) */
    const dubbo_serialization_ops_t *ser = dubbo_serialization_by_id(dubbo_frame_serial(f));
    if (!ser) ser = dubbo_serialization_default();
    if (f->status != DUBBO_STATUS_OK) {
        dubbo_serial_state_t d;
        ser->reader_init(&d, r.arena, f->body, f->body_len);
        const char *msg = NULL;
        size_t mlen;
        if (ser->read_string(&d, &msg, &mlen) || !msg) msg = dubbo_status_name(f->status);
        ser->reader_destroy(&d);
        r.error = msg;
    } else {
        dubbo_response_t res;
        rc = dubbo_response_decode(ser, r.arena, f->body, f->body_len, &res);
        if (rc) {
            char detail[400];
            snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
            fail_call(p, rc, "dubbo: bad answer to %s from %s: %s", p->method, c->addr, detail);
            dubbo_result_destroy(&r);
            return;
        }
        r.attachments = res.attachments;
        if (res.kind == DUBBO_RESPONSE_WITH_EXCEPTION ||
            res.kind == DUBBO_RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS) {
            r.exception = res.value;
            r.value = dubbo_v_null();
            const char *m = dubbo_exception_message(res.value);
            char buf[600];
            snprintf(buf, sizeof(buf), "%s: %s",
                     res.value && res.value->type == DUBBO_T_OBJECT ? res.value->u.obj.cls->name
                                                                    : "exception",
                     m ? m : "(no message)");
            r.error = dubbo_arena_strndup(r.arena, buf, strlen(buf));
        } else {
            r.value = res.value ? res.value : dubbo_v_null();
        }
    }
    finish(p, 0, &r);
}

static void handle_frame(cconn_t *c, const dubbo_frame_t *f)
{
    if (dubbo_frame_is_request(f)) {
        if (!dubbo_frame_is_event(f)) return; /* providers do not call consumers here */
        /* "R": the provider is shutting down; heartbeat (null): answer it. */
        if (f->body_len == 2 && f->body[0] == 0x01 && f->body[1] == 'R') {
            c->readonly = true;
            DLOG_INFO("provider %s is read-only (shutting down): no new calls go to it", c->addr);
        } else if (dubbo_frame_is_twoway(f)) {
            uint8_t h[DUBBO_HEADER_LEN];
            dubbo_frame_header(h, DUBBO_FLAG_EVENT | DUBBO_SERIAL_HESSIAN2, DUBBO_STATUS_OK, f->id,
                               1);
            if (!dubbo_buf_append(&c->out, h, sizeof(h)) && !dubbo_buf_append(&c->out, "N", 1))
                conn_flush(c);
        }
        return;
    }
    if (dubbo_frame_is_event(f)) return; /* our heartbeat's answer */
    handle_response(c, f);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    cconn_t *c = st->data;
    (void)buf;
    if (n < 0) {
        conn_lost(c, DUBBO_ECLOSED, n == UV_EOF ? "closed by the provider" : uv_strerror((int)n));
        return;
    }
    c->rbuf.len += (size_t)n;
    c->last_read = dubbo__now_ms();
    size_t off = 0;
    uv_tcp_t *tcp = c->tcp;
    while (c->tcp == tcp) {
        dubbo_frame_t f;
        int64_t r = dubbo_frame_decode(c->rbuf.base + off, c->rbuf.len - off, c->payload, &f);
        if (r == 0) break;
        if (r < 0) {
            char why[400];
            snprintf(why, sizeof(why), "%s", dubbo_last_error());
            DLOG_WARN("closing connection to %s: %s", c->addr, why);
            conn_lost(c, DUBBO_EMALFORMED, why);
            return;
        }
        handle_frame(c, &f);
        off += (size_t)r;
    }
    if (c->tcp == tcp) dubbo_buf_consume(&c->rbuf, off);
}

static void on_connect(uv_connect_t *req, int status)
{
    cconn_t *c = req->data;
    if ((uv_tcp_t *)req->handle != c->tcp) return; /* a stale attempt */
    if (status < 0) {
        char why[200];
        snprintf(why, sizeof(why), "%s", uv_strerror(status));
        DLOG_DEBUG("connect to %s failed: %s", c->addr, why);
        conn_lost(c, status == UV_ECONNREFUSED ? -ECONNREFUSED : DUBBO_ECLOSED, why);
        return;
    }
    c->state = C_CONNECTED;
    c->backoff_ms = 0;
    c->readonly = false;
    if (c->down) DLOG_INFO("reconnected to %s", c->addr);
    c->down = false;
    c->last_read = c->last_write = dubbo__now_ms();
    uv_tcp_nodelay(c->tcp, 1);
    uv_read_start((uv_stream_t *)c->tcp, on_alloc, on_read);
    pending_t *w = c->waiting;
    c->waiting = NULL;
    /* Keep the order the calls were made in. */
    pending_t *rev = NULL;
    while (w) {
        pending_t *n = w->next;
        w->next = rev;
        rev = w;
        w = n;
    }
    while (rev) {
        pending_t *n = rev->next;
        send_pending(c, rev);
        rev = n;
    }
    conn_flush(c);
    /* Heartbeat checks every 1/3 of the interval, like Java's timer. */
    uint64_t every = c->heartbeat_ms / 3 ? c->heartbeat_ms / 3 : 1;
    uv_timer_start(&c->timer, on_timer, every, every);
}

static void conn_connect(cconn_t *c)
{
    uv_loop_t *loop = dubbo__loop();
    struct sockaddr_storage addr;
    if (uv_ip4_addr(c->host, c->port, (struct sockaddr_in *)&addr) &&
        uv_ip6_addr(c->host, c->port, (struct sockaddr_in6 *)&addr)) {
        /* Resolve names synchronously: addresses in URLs are nearly always IPs. */
        struct addrinfo hints = {0}, *ai = NULL;
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(c->host, NULL, &hints, &ai) || !ai) {
            c->state = C_IDLE;
            conn_lost(c, DUBBO_EINVAL, "cannot resolve the host name");
            return;
        }
        memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
        ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)c->port);
        freeaddrinfo(ai);
    }
    c->tcp = malloc(sizeof(uv_tcp_t));
    if (!c->tcp) return;
    uv_tcp_init(loop, c->tcp);
    c->tcp->data = c;
    c->connect_req.data = c;
    c->state = C_CONNECTING;
    int rc = uv_tcp_connect(&c->connect_req, c->tcp, (struct sockaddr *)&addr, on_connect);
    if (rc) conn_lost(c, DUBBO_ECLOSED, uv_strerror(rc));
}

static void on_timer(uv_timer_t *t)
{
    cconn_t *c = t->data;
    if (c->state == C_BACKOFF) {
        if (c->users > 0) {
            conn_connect(c);
        } else {
            c->state = C_IDLE;
            c->down = false;
        }
        return;
    }
    if (c->state != C_CONNECTED) return;
    uint64_t now = dubbo__now_ms();
    if (now - c->last_read > 3 * c->heartbeat_ms) {
        char why[128];
        snprintf(why, sizeof(why), "no data for %llu ms (heartbeat timeout)",
                 (unsigned long long)(now - c->last_read));
        DLOG_WARN("closing connection to %s: %s", c->addr, why);
        conn_lost(c, DUBBO_ETIMEOUT, why);
        return;
    }
    if (now - c->last_read >= c->heartbeat_ms || now - c->last_write >= c->heartbeat_ms) {
        uint8_t h[DUBBO_HEADER_LEN];
        dubbo_frame_header(
            h, DUBBO_FLAG_REQUEST | DUBBO_FLAG_TWOWAY | DUBBO_FLAG_EVENT | DUBBO_SERIAL_HESSIAN2, 0,
            atomic_fetch_add(&next_id, 1), 1);
        if (!dubbo_buf_append(&c->out, h, sizeof(h)) && !dubbo_buf_append(&c->out, "N", 1))
            conn_flush(c);
    }
}

/* ---- submitting calls (loop thread) -------------------------------------------------- */

static void on_call_timeout(uv_timer_t *t)
{
    pending_t *p = t->data;
    cconn_t *c = p->c;
    if (!unlink_pending(&c->pending[p->id % PENDING_BUCKETS], p)) unlink_pending(&c->waiting, p);
    fail_call(p, DUBBO_ETIMEOUT, "dubbo: call %s to %s timed out after %d ms (request id %llu)",
              p->method, c->addr, p->timeout_ms, (unsigned long long)p->id);
}

/* Connection timers are set up lazily on the loop thread, by whichever
 * call reaches the loop first. */
static void conn_init_on_loop(cconn_t *c)
{
    if (c->timer_init) return;
    uv_timer_init(dubbo__loop(), &c->timer);
    c->timer.data = c;
    c->timer_init = true;
}

static void submit_on_loop(void *arg)
{
    pending_t *p = arg;
    cconn_t *c = p->c;
    conn_init_on_loop(c);
    /* A read-only provider is no longer offered for selection, but a call
     * that had already picked it is still sent: the provider goes on
     * reading and answering on open connections for a grace period after
     * its readonly event (dubbo_server_shutdown). */
    if (!p->oneway) {
        uv_timer_init(dubbo__loop(), &p->timer);
        p->timer.data = p;
        p->timer_on = true;
        /* The loop's clock is cached and counts whole milliseconds: refresh
         * it and round up, so a timeout never fires before its deadline. */
        uv_update_time(dubbo__loop());
        uv_timer_start(&p->timer, on_call_timeout, (uint64_t)p->timeout_ms + 1, 0);
    }
    if (c->state == C_CONNECTED) {
        send_pending(c, p);
        conn_flush(c);
        return;
    }
    p->next = c->waiting;
    c->waiting = p;
    if (c->state == C_IDLE || c->state == C_BACKOFF) {
        /* A call does not wait for the backoff: it tries now. */
        uv_timer_stop(&c->timer);
        conn_connect(c);
    }
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

static cconn_t *conn_get(const char *host, int port, int slot, size_t payload,
                         uint64_t heartbeat_ms)
{
    pthread_mutex_lock(&reg_mu);
    for (cconn_t *c = registry; c; c = c->next)
        if (c->port == port && c->slot == slot && strcmp(c->host, host) == 0) {
            c->users++;
            pthread_mutex_unlock(&reg_mu);
            return c;
        }
    cconn_t *c = calloc(1, sizeof(*c));
    if (c) {
        c->host = strdup(host);
        c->port = port;
        c->slot = slot;
        c->users = 1;
        c->payload = payload;
        c->heartbeat_ms = heartbeat_ms;
        snprintf(c->addr, sizeof(c->addr), "%s:%d", host, port);
        dubbo_buf_init(&c->rbuf, 0);
        dubbo_buf_init(&c->out, 0);
        c->next = registry;
        registry = c;
    }
    pthread_mutex_unlock(&reg_mu);
    return c;
}

static void conn_release_on_loop(void *arg)
{
    cconn_t *c = arg;
    pthread_mutex_lock(&reg_mu);
    bool unused = c->users == 0;
    pthread_mutex_unlock(&reg_mu);
    /* The connection itself stays for other clients; an unused one stops
     * reconnecting and closes. Its calls still in flight fail now: left in
     * the tables of a closed connection they used to wait for their own
     * timeout and end with a misleading DUBBO_ETIMEOUT (and a one-way call
     * waiting for the connection was kept until some later client of the
     * address connected, then sent). */
    if (unused && c->state != C_IDLE) {
        if (c->timer_init) uv_timer_stop(&c->timer);
        conn_lost(c, DUBBO_ECLOSED, "the last client of the connection was freed");
        c->state = C_IDLE;
        c->readonly = false;
        c->down = false;
    }
}

dubbo_client_t *dubbo_client_new(const char *url)
{
    dubbo_url_t *u = dubbo_url_parse(url);
    if (!u) return NULL;
    if (strcmp(u->protocol, "dubbo") != 0 || !*u->host || !u->port || !*u->path) {
        dubbo__seterr(DUBBO_EINVAL,
                      "client: url \"%s\" must be dubbo://host:port/interface[?version=&group=&"
                      "timeout=]",
                      url);
        dubbo_url_free(u);
        return NULL;
    }
    dubbo_client_t *c = calloc(1, sizeof(*c));
    if (!c) {
        dubbo_url_free(u);
        return NULL;
    }
    const char *sname = dubbo_url_param(u, "serialization", "hessian2");
    if (!(c->ser = dubbo_serialization_by_name(sname))) {
        char known[256] = "";
        const char *names[32];
        size_t n = dubbo_extension_list(DUBBO_EXT_SERIALIZATION, names, 32);
        for (size_t i = 0; i < n && i < 32; i++) {
            size_t l = strlen(known);
            snprintf(known + l, sizeof(known) - l, "%s%s", i ? ", " : "", names[i]);
        }
        dubbo__seterr(DUBBO_ENOT_FOUND,
                      "client: url \"%s\": no serialization named \"%s\" (known: %s)", url, sname,
                      known);
        dubbo_url_free(u);
        free(c);
        return NULL;
    }
    c->url = u;
    c->interface = strdup(dubbo_url_param(u, "interface", u->path));
    c->version = strdup(dubbo_url_param(u, "version", ""));
    c->group = strdup(dubbo_url_param(u, "group", ""));
    c->timeout_ms = (int)dubbo_url_param_int(u, "timeout", 1000);
    if (c->timeout_ms <= 0) c->timeout_ms = 1000;
    long n = dubbo_url_param_int(u, "connections", 1);
    if (n < 1) n = 1;
    if (n > 64) n = 64;
    long payload = dubbo_url_param_int(u, "payload", (long)DUBBO_DEFAULT_PAYLOAD);
    if (payload <= 0) payload = (long)DUBBO_DEFAULT_PAYLOAD;
    long heartbeat = dubbo_url_param_int(u, "heartbeat", 60000);
    if (heartbeat <= 0) heartbeat = 60000;
    c->conns = calloc((size_t)n, sizeof(cconn_t *));
    if (!c->conns || !dubbo__loop()) {
        dubbo_client_free(c);
        return NULL;
    }
    for (long i = 0; i < n; i++) {
        c->conns[i] = conn_get(u->host, u->port, (int)i, (size_t)payload, (uint64_t)heartbeat);
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
    for (int i = 0; i < c->nconns; i++) {
        pthread_mutex_lock(&reg_mu);
        c->conns[i]->users--;
        pthread_mutex_unlock(&reg_mu);
        /* From a completion callback (the loop thread) waiting for the loop
         * would deadlock: the release runs once the callback has returned. */
        if (dubbo__on_loop_thread())
            dubbo__loop_post(conn_release_on_loop, c->conns[i]);
        else
            dubbo__loop_run_sync(conn_release_on_loop, c->conns[i]);
    }
    free(c->conns);
    free(c->interface);
    free(c->version);
    free(c->group);
    dubbo_url_free(c->url);
    free(c);
}

/* ---- building requests ------------------------------------------------------------- */

static pending_t *build(dubbo_client_t *c, const dubbo_invocation_t *inv, bool oneway, int *rc)
{
    if (!inv || !inv->method || !*inv->method) {
        *rc = dubbo__seterr(DUBBO_EINVAL, "client %s: a call needs a method name", c->interface);
        return NULL;
    }
    pending_t *p = calloc(1, sizeof(*p));
    if (!p) {
        *rc = dubbo__seterr(DUBBO_ENOMEM, "client: out of memory");
        return NULL;
    }
    unsigned idx = atomic_fetch_add(&c->rr, 1) % (unsigned)c->nconns;
    p->c = c->conns[idx];
    p->id = atomic_fetch_add(&next_id, 1);
    p->oneway = oneway;
    /* Timeout: the call's own, else the method's ("<method>.timeout" in the
     * URL, as Java's per-method setting), else the reference's. */
    long method_timeout = dubbo_url_method_param_int(c->url, inv->method, "timeout", 0);
    p->timeout_ms = inv->timeout_ms > 0  ? inv->timeout_ms
                    : method_timeout > 0 ? (int)method_timeout
                                         : c->timeout_ms;
    snprintf(p->method, sizeof(p->method), "%s", inv->method);
    dubbo_buf_init(&p->frame, 0);

    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_buf_t desc;
    dubbo_buf_init(&desc, 0);
    *rc = a ? 0 : DUBBO_ENOMEM;
    if (!*rc && !inv->desc)
        for (size_t i = 0; !*rc && i < inv->nargs; i++)
            *rc = dubbo_desc_append(&desc, inv->args[i]);
    if (!*rc) *rc = dubbo_buf_append(&desc, "", 1);
    dubbo_value_t *att = a ? dubbo_v_map(a, NULL, 8) : NULL;
#define PUT(k, v) dubbo_map_put(a, att, dubbo_v_cstr(a, k), v)
    if (!*rc && att) {
        PUT("path", dubbo_v_cstr(a, c->interface));
        PUT("interface", dubbo_v_cstr(a, c->interface));
        if (*c->version) PUT("version", dubbo_v_cstr(a, c->version));
        if (*c->group) PUT("group", dubbo_v_cstr(a, c->group));
        PUT("timeout", dubbo_v_int(a, p->timeout_ms));
        for (const char *const *kv = inv->attachments; kv && kv[0] && kv[1]; kv += 2)
            PUT(kv[0], dubbo_v_cstr(a, kv[1]));
    }
#undef PUT
    if (!*rc) {
        dubbo_request_t req = {
            .dubbo_version = DUBBO_PROTOCOL_VERSION,
            .path = c->interface,
            .version = *c->version ? c->version : "0.0.0",
            .method = inv->method,
            .desc = inv->desc ? inv->desc : (const char *)desc.base,
            .nargs = inv->nargs,
            .args = (dubbo_value_t **)inv->args,
            .attachments = att,
        };
        uint8_t h[DUBBO_HEADER_LEN] = {0};
        *rc = dubbo_buf_append(&p->frame, h, sizeof(h));
        if (!*rc) *rc = dubbo_request_encode(c->ser, &p->frame, &req);
        if (!*rc && p->frame.len - DUBBO_HEADER_LEN > p->c->payload)
            *rc = dubbo__seterr(
                DUBBO_ETOO_BIG, "client: request %s.%s of %zu bytes exceeds the payload limit %zu",
                c->interface, inv->method, p->frame.len - DUBBO_HEADER_LEN, p->c->payload);
        if (!*rc)
            dubbo_frame_header(p->frame.base,
                               DUBBO_FLAG_REQUEST | (oneway ? 0 : DUBBO_FLAG_TWOWAY) | c->ser->id,
                               0, p->id, (uint32_t)(p->frame.len - DUBBO_HEADER_LEN));
        else if (*rc != DUBBO_ETOO_BIG) {
            char detail[400];
            snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
            dubbo__seterr(*rc, "client: cannot encode %s.%s: %s", c->interface, inv->method,
                          detail);
        }
    }
    dubbo_buf_destroy(&desc);
    dubbo_arena_free(a);
    if (*rc) {
        dubbo_buf_destroy(&p->frame);
        free(p);
        return NULL;
    }
    return p;
}

int dubbo_client_call_async(dubbo_client_t *c, const dubbo_invocation_t *inv, dubbo_done_fn done,
                            void *user)
{
    int rc;
    pending_t *p = build(c, inv, false, &rc);
    if (!p) return rc;
    p->done = done;
    p->user = user;
    if ((rc = dubbo__loop_post(submit_on_loop, p))) {
        dubbo_buf_destroy(&p->frame);
        free(p);
    }
    return rc;
}

int dubbo_client_oneway(dubbo_client_t *c, const dubbo_invocation_t *inv)
{
    int rc;
    pending_t *p = build(c, inv, true, &rc);
    if (!p) return rc;
    if ((rc = dubbo__loop_post(submit_on_loop, p))) {
        dubbo_buf_destroy(&p->frame);
        free(p);
    }
    return rc;
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int rc;
    dubbo_result_t *r;
} waiter_t;

static void sync_done(int rc, dubbo_result_t *r, void *user)
{
    waiter_t *w = user;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    *w->r = *r;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
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
    waiter_t w = {.done = false, .r = r};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = dubbo_client_call_async(c, inv, sync_done, &w);
    if (!rc) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.rc;
        /* The detail was set on the loop thread; repeat it on the caller's. */
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

bool dubbo__client_connected(dubbo_client_t *c)
{
    for (int i = 0; i < c->nconns; i++) {
        const cconn_t *x = c->conns[i];
        int state = __atomic_load_n((const int *)&x->state, __ATOMIC_RELAXED);
        bool ro = __atomic_load_n(&x->readonly, __ATOMIC_RELAXED);
        if (state == C_CONNECTED && !ro) return true;
    }
    return false;
}

bool dubbo__client_available(dubbo_client_t *c)
{
    /* Read without the loop's cooperation: a stale answer only makes one
     * call pick another provider, or try this one once more. Connected and
     * not read-only, or never connected yet (it connects on its first
     * call); not while a lost connection is being re-established, even
     * while a reconnect attempt is under way. */
    for (int i = 0; i < c->nconns; i++) {
        const cconn_t *x = c->conns[i];
        int state = __atomic_load_n((const int *)&x->state, __ATOMIC_RELAXED);
        bool ro = __atomic_load_n(&x->readonly, __ATOMIC_RELAXED);
        bool down = __atomic_load_n(&x->down, __ATOMIC_RELAXED);
        if (ro) continue;
        if (state == C_CONNECTED || (!down && state != C_BACKOFF)) return true;
    }
    return false;
}
