/* The consumer's connections (dialer.h): the pool, connect with an
 * asynchronous name resolution, reconnect with backoff and the `down`
 * rule, the pending table, call timeouts, coalesced writes, buffered
 * reads, heartbeats. Everything but the pool's list and user counts
 * belongs to the connection's loop thread (c->loop). */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/log.h"
#include "transport/dialer.h"
#include "transport/loop.h"
#include "transport/tls.h"

#define BACKOFF_MIN_MS  100
#define BACKOFF_MAX_MS  30000
#define PENDING_BUCKETS 1024

/* One connect attempt's socket: a fresh handle per attempt, freed in its
 * close callback (after libuv has cancelled its writes and connect). */
typedef struct {
    union { /* TCP, or a unix-domain socket (host "unix:PATH") */
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    };
    uv_connect_t req;
    struct cconn *c;
} sock_t;

struct cconn {
    struct cconn *next; /* the pool's list */
    const dubbo__dial_ops_t *ops;
    const void *proto;
    const char *name;
    dubbo__loop_t *loop; /* where it lives (set when made, then read-only) */
    char *host;
    int port;
    int slot; /* which of a client's `connections` parallel connections */
    char addr[300];
    int users;    /* pool mutex for changes; read atomically on the loop */
    int releases; /* dubbo__dial_put calls whose loop part has not run (pool mutex) */
    bool listed;  /* in the pool's list (pool mutex) */
    size_t payload;
    uint64_t heartbeat_ms; /* idle time before a heartbeat; 3x without reads closes */

    enum { C_IDLE, C_CONNECTING, C_CONNECTED, C_BACKOFF } state;
    bool readonly;
    /* The connection was lost (closed by the provider, after readonly or
     * not, or a connect failed) and no reconnect has succeeded since: the
     * provider is not offered for selection while the reconnect runs in the
     * background (Java's reconnect task, isAvailable() false meanwhile). */
    bool down;
    sock_t *sock;                /* the current attempt's socket, or NULL */
    uv_getaddrinfo_t *resolving; /* the current resolution, or NULL */
    uv_timer_t timer;            /* reconnect backoff and heartbeat checks */
    bool timer_init;
    bool closed; /* released: freed once `handles` is 0 */
    int handles; /* sockets, resolutions and the timer still pointing here */
    int backoff_ms;
    uint64_t last_read, last_write;
    dubbo_buf_t rbuf, out;
    bool writing;
    bool dirty; /* in its loop's dirty list (counted in `handles`) */
    struct cconn *dirty_next;
    void *pstate;    /* a stateful protocol's, between open and close */
    bool popen;      /* open ran and close has not */
    char *close_why; /* dubbo__dial_close: close after the current unit */
    /* Calls waiting for an answer, hashed by id. Ids are handed out in
     * sequence, so id modulo the bucket count spreads them evenly. */
    dubbo__dcall_t *pending[PENDING_BUCKETS];
    dubbo__dcall_t *waiting; /* calls waiting for the connection */
    /* Two-way calls by deadline (nearly always in the order they came: a
     * reference's calls share a timeout), and one timer for the earliest,
     * instead of a libuv timer started, stopped and closed per call. */
    dubbo__dcall_t *thead, *ttail;
    uv_timer_t deadlines;
    bool deadlines_init;
    uint64_t deadlines_due; /* when the timer is set for; 0: not set */
    /* TLS (dubbo__dial_get_tls): the context, its key in the pool, and the
     * current socket's session; rbuf and out hold plaintext */
    dubbo__tls_ctx_t *tls_ctx;
    char *tls_key;
    dubbo__tls_t *tls;
    dubbo_buf_t cipher; /* ciphertext read, before decryption */
};

void *(*dubbo__dial_alloc)(size_t n) = malloc;

static atomic_uint_fast64_t next_id = 1;
static atomic_size_t alive;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cconn *pool;

uint64_t dubbo__dial_next_id(void)
{
    return atomic_fetch_add(&next_id, 1);
}

size_t dubbo__dial_count(void)
{
    return atomic_load(&alive);
}

const char *dubbo__dial_addr(const dubbo__dconn_t *c)
{
    return c->addr;
}

const char *dubbo__dial_name(const dubbo__dconn_t *c)
{
    return c->name;
}

size_t dubbo__dial_payload(const dubbo__dconn_t *c)
{
    return c->payload;
}

void *dubbo__dial_state(const dubbo__dconn_t *c)
{
    return c->popen ? c->pstate : NULL;
}

const void *dubbo__dial_proto(const dubbo__dconn_t *c)
{
    return c->proto;
}

void dubbo__dial_close(dubbo__dconn_t *c, const char *why)
{
    if (c->close_why) return;
    c->close_why = strdup(why && *why ? why : "protocol error");
}

/* ---- calls -------------------------------------------------------------------------- */

dubbo__dcall_t *dubbo__dcall_new(size_t size)
{
    dubbo__dcall_t *p = calloc(1, size < sizeof(*p) ? sizeof(*p) : size);
    if (p) dubbo_buf_init(&p->bytes, 0);
    return p;
}

void dubbo__dcall_free(dubbo__dcall_t *p)
{
    if (!p) return;
    dubbo_buf_destroy(&p->bytes);
    free(p);
}

/* Out of its connection's deadline list. Loop thread. */
static void deadline_del(dubbo__dcall_t *p)
{
    struct cconn *c = p->c;
    if (p->tprev)
        p->tprev->tnext = p->tnext;
    else
        c->thead = p->tnext;
    if (p->tnext)
        p->tnext->tprev = p->tprev;
    else
        c->ttail = p->tprev;
    p->tprev = p->tnext = NULL;
    p->timed = false;
}

/* End a call exactly once: report, leave the deadline list, free. Loop
 * thread. (The connection's timer is left as it is: when it fires for a
 * call already ended, it is set again for the earliest one left.) */
static void end_call(dubbo__dcall_t *p, int rc, const char *msg, void *res)
{
    p->done(p, rc, msg, res);
    if (p->timed) deadline_del(p);
    dubbo__dcall_free(p);
}

void dubbo__dial_finish(dubbo__dcall_t *p, int rc, void *res)
{
    end_call(p, rc, NULL, res);
}

void dubbo__dial_fail(dubbo__dcall_t *p, int rc, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    dubbo__seterr(rc, "%s", msg);
    end_call(p, rc, msg, NULL);
}

static bool unlink_call(dubbo__dcall_t **list, dubbo__dcall_t *p)
{
    for (dubbo__dcall_t **pp = list; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return true;
        }
    return false;
}

dubbo__dcall_t *dubbo__dial_take(dubbo__dconn_t *c, uint64_t id)
{
    for (dubbo__dcall_t **pp = &c->pending[id % PENDING_BUCKETS]; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id) {
            dubbo__dcall_t *p = *pp;
            *pp = p->next;
            return p;
        }
    return NULL;
}

/* ---- connection I/O (loop thread) ---------------------------------------------------- */

static void conn_connect(struct cconn *c);
static void conn_flush(struct cconn *c);
static void on_timer(uv_timer_t *t);

static void conn_maybe_free(struct cconn *c)
{
    if (!c->closed || c->handles > 0) return;
    dubbo_buf_destroy(&c->rbuf);
    dubbo_buf_destroy(&c->out);
    dubbo_buf_destroy(&c->cipher);
    dubbo__tls_free(c->tls);
    dubbo__tls_ctx_free(c->tls_ctx);
    free(c->tls_key);
    free(c->host);
    if (c->loop) dubbo__loop_load(c->loop, -1);
    free(c);
    atomic_fetch_sub(&alive, 1);
}

typedef struct {
    uv_write_t req;
    struct cconn *c;
    dubbo_buf_t data;
    sock_t *sock;
} cwreq_t;

static void do_flush(struct cconn *c);

static void on_written(uv_write_t *req, int status)
{
    cwreq_t *w = (cwreq_t *)req;
    struct cconn *c =
        w->c; /* alive: the socket's close callback, which runs after this, holds it */
    dubbo_buf_destroy(&w->data);
    bool current = w->sock == c->sock;
    free(w);
    if (!current) return;
    c->writing = false;
    if (status == 0) do_flush(c); /* what came meanwhile, in one write */
}

static void conn_lost(struct cconn *c, int err, const char *why);

/* Connections with bytes to write, written once per loop iteration (the
 * check phase, after reads and cross-thread tasks), as the listener does:
 * the requests of one batch of submit tasks, or those a read's completions
 * made, go out in one write. One list per loop thread, made by the first
 * connection that needs it there. */
typedef struct {
    uv_check_t check;
    struct cconn *dirty;
} flusher_t;

static _Thread_local flusher_t *flusher;

static void on_check(uv_check_t *h)
{
    flusher_t *f = h->data;
    struct cconn *c = f->dirty;
    f->dirty = NULL;
    while (c) {
        struct cconn *n = c->dirty_next;
        c->dirty = false;
        c->dirty_next = NULL;
        c->handles--;
        do_flush(c);
        conn_maybe_free(c);
        c = n;
    }
}

static flusher_t *flusher_of_loop(void)
{
    if (flusher) return flusher;
    flusher_t *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    uv_check_init(dubbo__loop_uv(dubbo__loop_current()), &f->check);
    f->check.data = f;
    uv_check_start(&f->check, on_check);
    uv_unref((uv_handle_t *)&f->check); /* lives as long as its loop; keeps nothing alive */
    return flusher = f;
}

/* Bytes to write (or TLS records): written in this loop iteration's check
 * phase. Without a list (no memory for it), at once. */
static void conn_flush(struct cconn *c)
{
    if (c->dirty || c->writing || c->state != C_CONNECTED || (c->out.len == 0 && !c->tls)) return;
    flusher_t *f = flusher_of_loop();
    if (!f) {
        do_flush(c);
        return;
    }
    c->dirty = true;
    c->handles++;
    c->dirty_next = f->dirty;
    f->dirty = c;
}

static void do_flush(struct cconn *c)
{
    if (c->writing || c->state != C_CONNECTED || (c->out.len == 0 && !c->tls)) return;
    if (!c->tls) {
        /* Most requests fit in the socket's buffer: written here at once,
         * with no write request and no wait for writability. */
        uv_buf_t b0 = uv_buf_init((char *)c->out.base, (unsigned)c->out.len);
        int tw = uv_try_write((uv_stream_t *)&c->sock->tcp, &b0, 1);
        if (tw > 0) {
            c->last_write = dubbo__now_ms();
            dubbo_buf_consume(&c->out, (size_t)tw);
            if (!c->out.len) {
                /* a small buffer is kept for the next requests */
                if (c->out.cap > 4096) {
                    dubbo_buf_destroy(&c->out);
                    dubbo_buf_init(&c->out, 0);
                }
                return;
            }
        }
    }
    cwreq_t *w = malloc(sizeof(*w));
    if (!w) return;
    w->c = c;
    w->sock = c->sock;
    if (c->tls) {
        /* plaintext once the handshake is done; handshake records before */
        dubbo_buf_init(&w->data, 0);
        int rc = 0;
        if (c->out.len && dubbo__tls_ready(c->tls)) {
            rc = dubbo__tls_write(c->tls, c->out.base, c->out.len);
            c->out.len = 0;
        }
        if (!rc) rc = dubbo__tls_take(c->tls, &w->data);
        if (rc || !w->data.len) {
            dubbo_buf_destroy(&w->data);
            free(w);
            if (rc) {
                char why[400];
                snprintf(why, sizeof(why), "%s", dubbo_last_error());
                conn_lost(c, DUBBO_ECLOSED, why);
            }
            return;
        }
    } else {
        w->data = c->out;
        dubbo_buf_init(&c->out, 0);
    }
    uv_buf_t b = uv_buf_init((char *)w->data.base, (unsigned)w->data.len);
    c->writing = true;
    c->last_write = dubbo__now_ms();
    if (uv_write(&w->req, (uv_stream_t *)&c->sock->tcp, &b, 1, on_written)) {
        c->writing = false;
        dubbo_buf_destroy(&w->data);
        free(w);
    }
}

int dubbo__dial_send(dubbo__dconn_t *c, const void *bytes, size_t n)
{
    if (c->state != C_CONNECTED) return 0;
    int rc = dubbo_buf_append(&c->out, bytes, n);
    if (!rc) conn_flush(c);
    return rc;
}

void dubbo__dial_readonly(dubbo__dconn_t *c)
{
    __atomic_store_n(&c->readonly, true, __ATOMIC_RELAXED);
    DLOG_INFO("provider %s is read-only (shutting down): no new calls go to it", c->addr);
}

static void send_call(struct cconn *c, dubbo__dcall_t *p)
{
    if (c->ops->frame) {
        int rc = c->ops->frame(c->proto, c, c->pstate, p);
        if (rc) {
            char why[400];
            snprintf(why, sizeof(why), "%s", dubbo_last_error());
            dubbo__dial_fail(p, rc, "%s: cannot send %s to %s: %s", c->name, p->what, c->addr, why);
            return;
        }
    } else if (dubbo_buf_append(&c->out, p->bytes.base, p->bytes.len)) {
        dubbo__dial_fail(p, DUBBO_ENOMEM, "%s: out of memory queueing %s to %s", c->name, p->what,
                         c->addr);
        return;
    }
    dubbo_buf_destroy(&p->bytes);
    if (p->oneway) {
        end_call(p, 0, NULL, NULL);
    } else {
        dubbo__dcall_t **b = &c->pending[p->id % PENDING_BUCKETS];
        p->next = *b;
        *b = p;
    }
}

static void on_sock_closed(uv_handle_t *h)
{
    sock_t *s = (sock_t *)h;
    struct cconn *c = s->c;
    free(s);
    c->handles--;
    conn_maybe_free(c);
}

static void schedule_reconnect(struct cconn *c)
{
    __atomic_store_n(&c->state, C_BACKOFF, __ATOMIC_RELAXED);
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS) c->backoff_ms = BACKOFF_MAX_MS;
    uv_timer_start(&c->timer, on_timer, (uint64_t)c->backoff_ms, 0);
}

/* The connection is gone: fail what waits on it and plan a reconnect. */
static void conn_lost(struct cconn *c, int err, const char *why)
{
    if (c->sock) {
        uv_close((uv_handle_t *)&c->sock->tcp, on_sock_closed);
        c->sock = NULL;
    }
    c->resolving = NULL; /* its callback finds it stale */
    if (c->popen) {
        c->popen = false;
        c->ops->close(c->proto, c->pstate);
        c->pstate = NULL;
    }
    free(c->close_why);
    c->close_why = NULL;
    c->writing = false;
    c->out.len = 0;
    c->rbuf.len = 0;
    c->cipher.len = 0;
    dubbo__tls_free(c->tls);
    c->tls = NULL;
    dubbo__dcall_t *w = c->waiting;
    c->waiting = NULL;
    for (size_t i = 0; i < PENDING_BUCKETS; i++) {
        dubbo__dcall_t *p = c->pending[i];
        c->pending[i] = NULL;
        while (p) {
            dubbo__dcall_t *n = p->next;
            dubbo__dial_fail(p, err, "%s: connection to %s lost before the answer to %s: %s",
                             c->name, c->addr, p->what, why);
            p = n;
        }
    }
    while (w) {
        dubbo__dcall_t *n = w->next;
        dubbo__dial_fail(w, err, "%s: cannot connect to %s for %s: %s", c->name, c->addr, w->what,
                         why);
        w = n;
    }
    if (__atomic_load_n(&c->users, __ATOMIC_RELAXED) > 0 && !c->closed) {
        __atomic_store_n(&c->down, true, __ATOMIC_RELAXED);
        schedule_reconnect(c);
    } else {
        __atomic_store_n(&c->state, C_IDLE, __ATOMIC_RELAXED);
        __atomic_store_n(
            &c->down, false,
            __ATOMIC_RELAXED); /* the next user starts afresh: connects on its first call */
    }
    /* Read-only ends with the connection, but only now that `down` and the
     * state say it is gone: cleared first, it left a moment in which a
     * read-only provider whose connection had just closed looked
     * connected and available (dubbo__dial_available), and a call picked
     * it then went to a provider no longer listening (the "connection
     * refused" of graceful_shutdown_test's continuous sender). Release:
     * whoever sees it cleared sees `down` and the state too. */
    __atomic_store_n(&c->readonly, false, __ATOMIC_RELEASE);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct cconn *c = ((sock_t *)h)->c;
    (void)hint;
    /* under TLS the socket's bytes are ciphertext, kept apart */
    dubbo_buf_t *b = c->tls ? &c->cipher : &c->rbuf;
    if (dubbo_buf_reserve(b, 65536)) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)b->base + b->len, (unsigned)(b->cap - b->len));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct cconn *c = ((sock_t *)st)->c;
    (void)buf;
    if (n < 0) {
        conn_lost(c, DUBBO_ECLOSED, n == UV_EOF ? "closed by the provider" : uv_strerror((int)n));
        return;
    }
    if (c->tls) {
        c->cipher.len += (size_t)n;
        int rc = dubbo__tls_read(c->tls, c->cipher.base, c->cipher.len, &c->rbuf);
        c->cipher.len = 0;
        if (rc) {
            char why[400];
            snprintf(why, sizeof(why), "%s",
                     rc > 0 ? "the provider ended the TLS session" : dubbo_last_error());
            DLOG_WARN("closing connection to %s: %s", c->addr, why);
            conn_lost(c, DUBBO_ECLOSED, why);
            return;
        }
        conn_flush(c); /* handshake records, then what waited for it */
    } else {
        c->rbuf.len += (size_t)n;
    }
    c->last_read = dubbo__now_ms();
    size_t off = 0;
    sock_t *sock = c->sock;
    while (c->sock == sock) {
        int64_t r = c->ops->cut(c->proto, c->rbuf.base + off, c->rbuf.len - off, c->payload);
        if (r == 0) break;
        if (r < 0) {
            char why[400];
            snprintf(why, sizeof(why), "%s", dubbo_last_error());
            DLOG_WARN("closing connection to %s: %s", c->addr, why);
            conn_lost(c, DUBBO_EMALFORMED, why);
            return;
        }
        c->ops->on_unit(c->proto, c, c->rbuf.base + off, (size_t)r);
        off += (size_t)r;
        if (c->close_why && c->sock == sock) {
            char why[400];
            snprintf(why, sizeof(why), "%s", c->close_why);
            DLOG_WARN("closing connection to %s: %s", c->addr, why);
            conn_lost(c, DUBBO_EMALFORMED, why);
            return;
        }
    }
    if (c->sock == sock) dubbo_buf_consume(&c->rbuf, off);
}

static void on_connect(uv_connect_t *req, int status)
{
    sock_t *s = req->data;
    struct cconn *c = s->c;
    if (s != c->sock) return; /* a stale attempt */
    if (status < 0) {
        char why[200];
        snprintf(why, sizeof(why), "%s", uv_strerror(status));
        DLOG_DEBUG("connect to %s failed: %s", c->addr, why);
        conn_lost(c, status == UV_ECONNREFUSED ? -ECONNREFUSED : DUBBO_ECLOSED, why);
        return;
    }
    __atomic_store_n(&c->state, C_CONNECTED, __ATOMIC_RELAXED);
    c->backoff_ms = 0;
    __atomic_store_n(&c->readonly, false, __ATOMIC_RELAXED);
    if (c->down) DLOG_INFO("reconnected to %s", c->addr);
    __atomic_store_n(&c->down, false, __ATOMIC_RELAXED);
    c->last_read = c->last_write = dubbo__now_ms();
    if (s->tcp.type == UV_TCP) uv_tcp_nodelay(&s->tcp, 1);
    if (c->tls_ctx && !(c->tls = dubbo__tls_new(c->tls_ctx, c->addr))) {
        char why[400];
        snprintf(why, sizeof(why), "%s", dubbo_last_error());
        conn_lost(c, DUBBO_ECLOSED, why);
        return;
    }
    uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (c->ops->open) {
        int rc = c->ops->open(c->proto, c, &c->pstate);
        if (rc) {
            char why[400];
            snprintf(why, sizeof(why), "%s", dubbo_last_error());
            DLOG_WARN("closing connection to %s: %s", c->addr, why);
            c->pstate = NULL;
            conn_lost(c, rc, why);
            return;
        }
        c->popen = true;
    }
    dubbo__dcall_t *w = c->waiting;
    c->waiting = NULL;
    /* Keep the order the calls were made in. */
    dubbo__dcall_t *rev = NULL;
    while (w) {
        dubbo__dcall_t *n = w->next;
        w->next = rev;
        rev = w;
        w = n;
    }
    while (rev) {
        dubbo__dcall_t *n = rev->next;
        send_call(c, rev);
        rev = n;
    }
    conn_flush(c);
    /* Heartbeat checks every 1/3 of the interval, like Java's timer. */
    uint64_t every = c->heartbeat_ms / 3 ? c->heartbeat_ms / 3 : 1;
    uv_timer_start(&c->timer, on_timer, every, every);
}

/* addr NULL: the unix-domain socket of c->host ("unix:PATH"). */
static void connect_to(struct cconn *c, const struct sockaddr *addr)
{
    sock_t *s = dubbo__dial_alloc(sizeof(*s));
    if (!s) {
        /* Nothing is under way that would end the calls waiting: end them
         * now rather than at their timeouts. */
        conn_lost(c, DUBBO_ENOMEM, "out of memory for the socket handle");
        return;
    }
    memset(s, 0, sizeof(*s));
    uv_loop_t *loop = dubbo__loop_uv(c->loop);
    int rc = addr ? uv_tcp_init(loop, &s->tcp) : uv_pipe_init(loop, &s->pipe, 0);
    if (rc) {
        free(s);
        conn_lost(c, DUBBO_ECLOSED, uv_strerror(rc));
        return;
    }
    s->c = c;
    s->req.data = s;
    c->handles++;
    c->sock = s;
    __atomic_store_n(&c->state, C_CONNECTING, __ATOMIC_RELAXED);
    if (!addr) {
        uv_pipe_connect(&s->req, &s->pipe, c->host + 5, on_connect);
        return;
    }
    rc = uv_tcp_connect(&s->req, &s->tcp, addr, on_connect);
    if (rc) conn_lost(c, DUBBO_ECLOSED, uv_strerror(rc));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    struct cconn *c = req->data;
    bool current = req == c->resolving;
    free(req);
    c->handles--;
    if (!current) { /* lost or released meanwhile */
        if (ai) uv_freeaddrinfo(ai);
        conn_maybe_free(c);
        return;
    }
    c->resolving = NULL;
    if (status || !ai) {
        if (ai) uv_freeaddrinfo(ai);
        __atomic_store_n(&c->state, C_IDLE, __ATOMIC_RELAXED);
        conn_lost(c, DUBBO_EINVAL, "cannot resolve the host name");
        return;
    }
    struct sockaddr_storage addr;
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)c->port);
    uv_freeaddrinfo(ai);
    connect_to(c, (struct sockaddr *)&addr);
}

static void conn_connect(struct cconn *c)
{
    if (strncmp(c->host, "unix:", 5) == 0) {
        connect_to(c, NULL);
        return;
    }
    struct sockaddr_storage addr;
    if (!uv_ip4_addr(c->host, c->port, (struct sockaddr_in *)&addr) ||
        !uv_ip6_addr(c->host, c->port, (struct sockaddr_in6 *)&addr)) {
        connect_to(c, (struct sockaddr *)&addr);
        return;
    }
    /* A host name: resolved on libuv's thread pool, so the loop (every
     * other connection of the process) does not wait for it. */
    uv_getaddrinfo_t *req = malloc(sizeof(*req));
    if (!req) {
        conn_lost(c, DUBBO_ENOMEM, "out of memory resolving the host name");
        return;
    }
    req->data = c;
    struct addrinfo hints = {0};
    hints.ai_socktype = SOCK_STREAM;
    __atomic_store_n(&c->state, C_CONNECTING, __ATOMIC_RELAXED);
    if (uv_getaddrinfo(dubbo__loop_uv(c->loop), req, on_resolved, c->host, NULL, &hints)) {
        free(req);
        __atomic_store_n(&c->state, C_IDLE, __ATOMIC_RELAXED);
        conn_lost(c, DUBBO_EINVAL, "cannot resolve the host name");
        return;
    }
    c->resolving = req;
    c->handles++;
}

static void on_timer(uv_timer_t *t)
{
    struct cconn *c = t->data;
    if (c->state == C_BACKOFF) {
        if (__atomic_load_n(&c->users, __ATOMIC_RELAXED) > 0) {
            conn_connect(c);
        } else {
            __atomic_store_n(&c->state, C_IDLE, __ATOMIC_RELAXED);
            __atomic_store_n(&c->down, false, __ATOMIC_RELAXED);
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
        if (!c->ops->heartbeat || c->ops->heartbeat(c->proto, dubbo__dial_next_id(), &c->out))
            return;
        conn_flush(c);
    }
}

/* ---- submitting calls (loop thread) --------------------------------------------------- */

static void call_timeout(dubbo__dcall_t *p)
{
    struct cconn *c = p->c;
    if (unlink_call(&c->pending[p->id % PENDING_BUCKETS], p)) {
        if (c->popen && c->ops->cancel && !p->oneway) c->ops->cancel(c->proto, c, c->pstate, p->id);
    } else {
        unlink_call(&c->waiting, p);
    }
    dubbo__dial_fail(p, DUBBO_ETIMEOUT, "%s: call %s to %s timed out after %d ms (request id %llu)",
                     c->name, p->what, c->addr, p->timeout_ms, (unsigned long long)p->id);
}

static void on_deadlines(uv_timer_t *t);

/* Set the deadline timer for the earliest call, unless it is set for
 * that or earlier. */
static void deadlines_arm(struct cconn *c)
{
    if (!c->thead || (c->deadlines_due && c->deadlines_due <= c->thead->deadline)) return;
    uint64_t now = uv_now(dubbo__loop_uv(c->loop));
    uint64_t due = c->thead->deadline;
    c->deadlines_due = due;
    uv_timer_start(&c->deadlines, on_deadlines, due > now ? due - now : 0, 0);
}

/* The calls whose deadline has come fail with DUBBO_ETIMEOUT. */
static void on_deadlines(uv_timer_t *t)
{
    struct cconn *c = t->data;
    c->deadlines_due = 0;
    uint64_t now = uv_now(dubbo__loop_uv(c->loop));
    while (c->thead && c->thead->deadline <= now)
        call_timeout(c->thead); /* ends it: out of the list */
    deadlines_arm(c);
}

/* Into the deadline list, `timeout_ms` from now, rounded up: the loop's
 * clock is cached and counts whole milliseconds, so it is refreshed first
 * and a call never times out before its deadline. */
static void deadline_add(struct cconn *c, dubbo__dcall_t *p)
{
    uv_update_time(dubbo__loop_uv(c->loop));
    p->deadline = uv_now(dubbo__loop_uv(c->loop)) + (uint64_t)p->timeout_ms + 1;
    dubbo__dcall_t *at = c->ttail; /* the last call with a deadline not after this one */
    while (at && at->deadline > p->deadline)
        at = at->tprev;
    p->tprev = at;
    p->tnext = at ? at->tnext : c->thead;
    if (p->tnext)
        p->tnext->tprev = p;
    else
        c->ttail = p;
    if (at)
        at->tnext = p;
    else
        c->thead = p;
    p->timed = true;
    deadlines_arm(c);
}

/* The connection's timers are set up lazily on the loop thread, by
 * whichever call reaches the loop first. */
static void conn_init_on_loop(struct cconn *c)
{
    if (c->timer_init) return;
    uv_timer_init(dubbo__loop_uv(c->loop), &c->timer);
    c->timer.data = c;
    c->timer_init = true;
    c->handles++;
    uv_timer_init(dubbo__loop_uv(c->loop), &c->deadlines);
    c->deadlines.data = c;
    c->deadlines_init = true;
    c->handles++;
}

static void submit_on_loop(void *arg)
{
    dubbo__dcall_t *p = arg;
    struct cconn *c = p->c;
    conn_init_on_loop(c);
    /* A read-only provider is no longer offered for selection, but a call
     * that had already picked it is still sent: the provider goes on
     * reading and answering on open connections for a grace period after
     * its readonly event. */
    if (!p->oneway) deadline_add(c, p);
    if (c->state == C_CONNECTED) {
        send_call(c, p);
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

int dubbo__dial_submit(dubbo__dconn_t *c, dubbo__dcall_t *p)
{
    p->c = c;
    return dubbo__loop_post_to(c->loop, submit_on_loop, p);
}

/* ---- the pool ------------------------------------------------------------------------- */

dubbo__dconn_t *dubbo__dial_get(const dubbo__dial_ops_t *ops, const void *proto, const char *name,
                                const char *host, int port, int slot, size_t payload,
                                uint64_t heartbeat_ms)
{
    return dubbo__dial_get_tls(ops, proto, name, host, port, slot, payload, heartbeat_ms, NULL);
}

/* A TLS configuration as the pool's key: connections with other settings
 * are other connections. */
static char *tls_key_of(const dubbo__tls_cfg_t *t)
{
    if (!t) return NULL;
    char *k = NULL;
    if (asprintf(&k, "%s|%s|%s|%s|%d|%s", t->cert_file ? t->cert_file : "",
                 t->key_file ? t->key_file : "", t->ca_file ? t->ca_file : "",
                 t->server_name ? t->server_name : "", t->verify_peer, t->alpn ? t->alpn : "") < 0)
        return NULL;
    return k;
}

dubbo__dconn_t *dubbo__dial_get_tls(const dubbo__dial_ops_t *ops, const void *proto,
                                    const char *name, const char *host, int port, int slot,
                                    size_t payload, uint64_t heartbeat_ms,
                                    const dubbo__tls_cfg_t *tls)
{
    char *key = tls_key_of(tls);
    if (tls && !key) {
        dubbo__seterr(DUBBO_ENOMEM, "client: out of memory");
        return NULL;
    }
    pthread_mutex_lock(&pool_mu);
    for (struct cconn *c = pool; c; c = c->next)
        if (c->port == port && c->slot == slot && c->ops == ops && c->proto == proto &&
            strcmp(c->host, host) == 0 && strcmp(c->name, name) == 0 && (!key == !c->tls_key) &&
            (!key || strcmp(key, c->tls_key) == 0)) {
            __atomic_add_fetch(&c->users, 1, __ATOMIC_RELAXED);
            pthread_mutex_unlock(&pool_mu);
            free(key);
            return c;
        }
    pthread_mutex_unlock(&pool_mu);
    /* the context is made outside the pool's lock (it reads files) */
    dubbo__tls_ctx_t *ctx = tls ? dubbo__tls_ctx_new(tls, false) : NULL;
    if (tls && !ctx) {
        free(key);
        return NULL;
    }
    pthread_mutex_lock(&pool_mu);
    struct cconn *c = calloc(1, sizeof(*c));
    if (c && !(c->host = strdup(host))) {
        free(c);
        c = NULL;
    }
    if (!c) {
        dubbo__tls_ctx_free(ctx);
        free(key);
    }
    if (c) {
        c->tls_ctx = ctx;
        c->tls_key = key;
        dubbo_buf_init(&c->cipher, 0);
        c->ops = ops;
        c->proto = proto;
        c->name = name;
        /* Spread over the loops, the one with the fewest connections. A
         * stateful protocol's connections stay on the first: its own code
         * posts work for them there (Triple's streams). */
        c->loop = ops->open ? dubbo__loop_at(0) : dubbo__loop_pick(0);
        if (c->loop) dubbo__loop_load(c->loop, 1);
        c->port = port;
        c->slot = slot;
        __atomic_store_n(&c->users, 1, __ATOMIC_RELAXED);
        c->payload = payload;
        c->heartbeat_ms = heartbeat_ms;
        if (strncmp(host, "unix:", 5) == 0)
            snprintf(c->addr, sizeof(c->addr), "%s", host);
        else
            snprintf(c->addr, sizeof(c->addr), "%s:%d", host, port);
        dubbo_buf_init(&c->rbuf, 0);
        dubbo_buf_init(&c->out, 0);
        c->listed = true;
        c->next = pool;
        pool = c;
        atomic_fetch_add(&alive, 1);
    }
    pthread_mutex_unlock(&pool_mu);
    return c;
}

static void on_conn_timer_closed(uv_handle_t *h)
{
    struct cconn *c = h->data;
    c->handles--;
    conn_maybe_free(c);
}

static void release_on_loop(void *arg)
{
    struct cconn *c = arg;
    pthread_mutex_lock(&pool_mu);
    c->releases--;
    /* A user may have come back since this put: then the connection stays.
     * Of several puts in flight, the last one frees. */
    bool unused = c->users == 0 && c->releases == 0;
    if (unused) {
        for (struct cconn **pp = &pool; *pp; pp = &(*pp)->next)
            if (*pp == c) {
                *pp = c->next;
                break;
            }
        c->listed = false;
    }
    pthread_mutex_unlock(&pool_mu);
    if (!unused) return;
    /* Its calls still in flight fail now (left to their own timeouts they
     * would end with a misleading DUBBO_ETIMEOUT, and a one-way call
     * waiting for the connection would be kept), then the connection
     * closes and is freed once libuv is done with its handles. */
    c->closed = true;
    if (c->timer_init) uv_timer_stop(&c->timer);
    conn_lost(c, DUBBO_ECLOSED, "the last client of the connection was freed");
    if (c->timer_init) {
        c->timer_init = false;
        uv_close((uv_handle_t *)&c->timer, on_conn_timer_closed);
    }
    if (c->deadlines_init) {
        c->deadlines_init = false;
        uv_timer_stop(&c->deadlines);
        uv_close((uv_handle_t *)&c->deadlines, on_conn_timer_closed);
    }
    conn_maybe_free(c);
}

void dubbo__dial_put(dubbo__dconn_t *c)
{
    if (!c) return;
    pthread_mutex_lock(&pool_mu);
    __atomic_sub_fetch(&c->users, 1, __ATOMIC_RELAXED);
    c->releases++;
    pthread_mutex_unlock(&pool_mu);
    /* From a completion callback (a loop thread) waiting for a loop could
     * deadlock: the release runs once the callback has returned. */
    if (dubbo__on_loop_thread())
        dubbo__loop_post_to(c->loop, release_on_loop, c);
    else
        dubbo__loop_run_sync_on(c->loop, release_on_loop, c);
}

bool dubbo__dial_connected(const dubbo__dconn_t *c)
{
    bool ro = __atomic_load_n(&c->readonly, __ATOMIC_ACQUIRE);
    int state = __atomic_load_n((const int *)&c->state, __ATOMIC_RELAXED);
    return state == C_CONNECTED && !ro;
}

bool dubbo__dial_available(const dubbo__dconn_t *c)
{
    bool ro = __atomic_load_n(&c->readonly, __ATOMIC_ACQUIRE); /* first: see conn_lost */
    int state = __atomic_load_n((const int *)&c->state, __ATOMIC_RELAXED);
    bool down = __atomic_load_n(&c->down, __ATOMIC_RELAXED);
    if (ro) return false;
    return state == C_CONNECTED || (!down && state != C_BACKOFF);
}
