/* The provider's listening socket and its connections, for any protocol
 * (listener.h): accept, the hand-over of each connection to the loop with
 * the fewest, protocol detection, read buffers, the memory budget as units
 * arrive, coalesced writes, timeouts, goaway and grace. It knows no
 * protocol (the dubbo__wire_t hooks) and no service (the exporter's unit
 * hook). A connection's own loop thread, but for what listener.h says. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "dubbo/error.h"
#include "core/internal.h"
#include "core/log.h"
#include "transport/budget.h"
#include "transport/listener.h"
#include "transport/loop.h"
#include "transport/tls.h"

typedef struct sconn sconn_t;
typedef struct shard shard_t;

/* The connections of one loop: a listener's accepted connections are
 * spread over its shards, one per loop, and each shard's state is its
 * loop thread's alone. */
struct shard {
    dubbo__listener_t *l;
    dubbo__loop_t *loop;
    sconn_t *conns;
    uv_timer_t idle_timer;
    bool timer_on;
    /* Connections with bytes to write, written once per loop iteration (the
     * check phase, after reads and cross-thread tasks): the answers of one
     * read, or of one batch of workers' tasks, go out in one write. */
    uv_check_t check;
    bool check_on;
    struct sconn *dirty;
    bool closed; /* close_all ran: a connection handed over later is closed */
};

/* Open connections from one address (accepts_per_ip), over all shards. */
typedef struct ip_count {
    struct ip_count *next;
    int n;
    char host[64];
} ip_count_t;

struct dubbo__listener {
    dubbo__listen_cfg_t cfg;
    union { /* TCP, or a unix-domain socket (cfg.host "unix:PATH") */
        uv_tcp_t listener;
        uv_pipe_t listener_pipe;
    };
    char *unix_path; /* the socket file, removed at close */
    /* A handle kept to accept and close a connection when memory for its
     * own runs out: libuv watches the listening socket again only once the
     * pending connection is accepted. */
    union {
        uv_tcp_t spare_tcp;
        uv_pipe_t spare_pipe;
    };
    bool spare_busy;
    bool accept_waiting;
    bool listening;
    int port;
    dubbo__loop_t *accept_loop; /* the listening socket's (loop 0) */
    atomic_int nconns;          /* open connections, all shards */
    pthread_mutex_t ip_mu;
    ip_count_t *ips;
    int nshards;
    shard_t shards[]; /* shard i on loop i */
};

struct sconn {
    union { /* as the listener's */
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    };
    dubbo__listener_t *l;
    shard_t *sh;               /* its loop's */
    const dubbo__wire_t *wire; /* NULL until detected from the first bytes */
    void *pstate;              /* the protocol's conn_open */
    struct sconn *prev, *next;
    atomic_int refs; /* the loop's (until closed) + one per job in flight */
    bool closing;
    dubbo_buf_t rbuf;
    dubbo_buf_t out; /* answers waiting to be written */
    bool writing;
    uint64_t last_read;
    uint64_t accepted_at;  /* when the connection came */
    uint64_t frame_since;  /* when the frame now being read began (0: none) */
    bool served;           /* a whole frame has arrived */
    size_t admitted;       /* budget bytes held for the frame being read */
    size_t discard;        /* bytes of a refused frame still to drop unread */
    const char *close_why; /* close once what is queued is written (dubbo__lconn_close) */
    char remote[64], local[64];
    /* TLS (cfg.tls): decided from the first bytes; then `out` and `rbuf`
     * hold plaintext, the socket carries tls's ciphertext */
    bool tls_decided;
    dubbo__tls_t *tls;
    bool dirty; /* in the shard's dirty list (holds a reference) */
    struct sconn *dirty_next;
    bool ip_counted;    /* counted in the listener's ips */
    int fd;             /* accepted on another loop: the socket, until adopted */
    dubbo__task_t task; /* the hand-over to its loop */
    /* Answers written from other threads (dubbo__lconn_write_any): kept
     * here under inbox_mu, and moved to `out` by one task of the loop for
     * however many came before it ran. */
    pthread_mutex_t inbox_mu;
    dubbo_buf_t inbox;
    bool inbox_posted;        /* inbox_task is queued (holds a reference) */
    dubbo__task_t inbox_task; /* runs inbox_take */
};

typedef struct {
    uv_write_t req;
    sconn_t *c;
    dubbo_buf_t data;
    size_t charged; /* budget bytes of `out` it carries (plaintext, under TLS) */
} wreq_t;

/* The last reference may be dropped on any thread: what it frees is the
 * connection's own memory and its budget, never a libuv handle (the
 * loop's reference goes when the handle is closed). */
static void conn_unref(sconn_t *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        dubbo_buf_destroy(&c->rbuf);
        if (c->out.len) dubbo__budget_out_release(c->l->cfg.budget, c->out.len);
        dubbo_buf_destroy(&c->out);
        if (c->inbox.len) dubbo__budget_out_release(c->l->cfg.budget, c->inbox.len);
        dubbo_buf_destroy(&c->inbox);
        pthread_mutex_destroy(&c->inbox_mu);
        dubbo__tls_free(c->tls);
        free(c);
    }
}

static void flush(sconn_t *c);
static void do_flush(sconn_t *c);
static void conn_close(sconn_t *c, const char *why);

static void on_written(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    sconn_t *c = w->c;
    size_t n = w->charged;
    dubbo_buf_destroy(&w->data);
    free(w);
    dubbo__budget_out_release(c->l->cfg.budget, n);
    c->writing = false;
    if (status == 0 && !c->closing) do_flush(c); /* what came meanwhile, in one write */
    if (c->close_why && !c->writing && !c->dirty && !c->closing)
        conn_close(c, *c->close_why ? c->close_why : NULL);
    conn_unref(c);
}

/* Under TLS: encrypt what `out` holds (once the handshake is done) and
 * take the ciphertext waiting, handshake records included, into w. */
static int tls_out(sconn_t *c, wreq_t *w)
{
    dubbo_buf_init(&w->data, 0);
    w->charged = 0;
    if (c->out.len && dubbo__tls_ready(c->tls)) {
        if (dubbo__tls_write(c->tls, c->out.base, c->out.len)) return -1;
        w->charged = c->out.len;
        c->out.len = 0;
    }
    return dubbo__tls_take(c->tls, &w->data);
}

/* Bytes to write: the connection goes in its shard's dirty list and is
 * written in this loop iteration's check phase (do_flush). */
static void flush(sconn_t *c)
{
    if (c->dirty || c->writing || c->closing || (c->out.len == 0 && !c->tls)) return;
    shard_t *s = c->sh;
    if (!s->check_on) { /* no check phase (stopped listener): write now */
        do_flush(c);
        return;
    }
    c->dirty = true;
    atomic_fetch_add(&c->refs, 1);
    c->dirty_next = s->dirty;
    s->dirty = c;
}

static void on_check(uv_check_t *h)
{
    shard_t *s = h->data;
    sconn_t *c = s->dirty;
    s->dirty = NULL;
    while (c) {
        sconn_t *n = c->dirty_next;
        c->dirty = false;
        c->dirty_next = NULL;
        if (!c->closing) do_flush(c);
        if (c->close_why && !c->writing && !c->closing)
            conn_close(c, *c->close_why ? c->close_why : NULL);
        conn_unref(c);
        c = n;
    }
}

static void do_flush(sconn_t *c)
{
    if (c->writing || c->closing || (c->out.len == 0 && !c->tls)) return;
    if (!c->tls) {
        /* Most answers fit in the socket's buffer: written here at once,
         * with no write request and no wait for writability (libuv would
         * register for it: an epoll_ctl per answer). */
        uv_buf_t b0 = uv_buf_init((char *)c->out.base, (unsigned)c->out.len);
        int tw = uv_try_write((uv_stream_t *)&c->tcp, &b0, 1);
        if (tw > 0) {
            dubbo__budget_out_release(c->l->cfg.budget, (size_t)tw);
            dubbo_buf_consume(&c->out, (size_t)tw);
            if (!c->out.len) {
                /* a small buffer is kept for the next answers */
                if (c->out.cap > 4096) {
                    dubbo_buf_destroy(&c->out);
                    dubbo_buf_init(&c->out, 0);
                }
                if (c->close_why) conn_close(c, *c->close_why ? c->close_why : NULL);
                return;
            }
        }
    }
    wreq_t *w = malloc(sizeof(*w));
    if (!w) return;
    w->c = c;
    if (c->tls) {
        if (tls_out(c, w)) {
            dubbo__budget_out_release(c->l->cfg.budget, w->charged);
            dubbo_buf_destroy(&w->data);
            free(w);
            conn_close(c, dubbo_last_error());
            return;
        }
        if (!w->data.len) {
            dubbo__budget_out_release(c->l->cfg.budget, w->charged);
            dubbo_buf_destroy(&w->data);
            free(w);
            return;
        }
    } else {
        w->data = c->out; /* hand the whole batch over; start a new one */
        w->charged = w->data.len;
        dubbo_buf_init(&c->out, 0);
    }
    uv_buf_t b = uv_buf_init((char *)w->data.base, (unsigned)w->data.len);
    atomic_fetch_add(&c->refs, 1);
    c->writing = true;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc) {
        c->writing = false;
        dubbo__budget_out_release(c->l->cfg.budget, w->charged);
        dubbo_buf_destroy(&w->data);
        free(w);
        conn_unref(c);
    }
}

void dubbo__lconn_close(dubbo__lconn_t *c, const char *why)
{
    if (c->closing || c->close_why) return;
    c->close_why = why ? why : "";
    /* what is queued goes first: the write's end (or the check phase's
     * write, when it goes at once) closes */
    if (!c->writing && !c->dirty) conn_close(c, *c->close_why ? c->close_why : NULL);
}

size_t dubbo__lconn_limit(const dubbo__lconn_t *c)
{
    return c->l->cfg.payload;
}

int dubbo__lconn_heartbeat(const dubbo__lconn_t *c)
{
    return c->l->cfg.heartbeat_ms;
}

int dubbo__lconn_send(dubbo__lconn_t *c, const void *bytes, size_t n)
{
    if (c->closing || c->close_why) return 0;
    size_t before = c->out.len;
    int rc = dubbo_buf_append(&c->out, bytes, n);
    dubbo__budget_out_charge(c->l->cfg.budget, c->out.len - before);
    if (!rc) flush(c);
    return rc;
}

const char *dubbo__lconn_remote(const dubbo__lconn_t *c)
{
    return c->remote;
}

const char *dubbo__lconn_local(const dubbo__lconn_t *c)
{
    return c->local;
}

void *dubbo__lconn_state(const dubbo__lconn_t *c)
{
    return c->pstate;
}

const void *dubbo__lconn_proto(const dubbo__lconn_t *c)
{
    return c->wire->proto;
}

bool dubbo__lconn_closing(const dubbo__lconn_t *c)
{
    return c->closing || c->close_why;
}

void dubbo__lconn_ref(dubbo__lconn_t *c)
{
    atomic_fetch_add(&c->refs, 1);
}

void dubbo__lconn_unref(dubbo__lconn_t *c)
{
    conn_unref(c);
}

void dubbo__lconn_write(dubbo__lconn_t *c, dubbo_buf_t *frame)
{
    if (!c->closing && c->out.len == 0) {
        dubbo_buf_destroy(&c->out);
        c->out = *frame;
        dubbo_buf_init(frame, 0);
        flush(c);
    } else if (!c->closing && !dubbo_buf_append(&c->out, frame->base, frame->len)) {
        flush(c);
    } else {
        dubbo__budget_out_release(c->l->cfg.budget, frame->len);
    }
    dubbo_buf_destroy(frame);
}

/* The loop's side of dubbo__lconn_write_any: what the inbox holds joins
 * `out` (the buffers swap when `out` is empty) and is written in this
 * iteration's check phase. */
static void inbox_take(void *arg)
{
    sconn_t *c = arg;
    pthread_mutex_lock(&c->inbox_mu);
    c->inbox_posted = false;
    if (c->closing || c->close_why) {
        dubbo__budget_out_release(c->l->cfg.budget, c->inbox.len);
        c->inbox.len = 0;
    } else if (!c->out.len) {
        dubbo_buf_t t = c->out;
        c->out = c->inbox;
        c->inbox = t;
    } else if (dubbo_buf_append(&c->out, c->inbox.base, c->inbox.len)) {
        dubbo__budget_out_release(c->l->cfg.budget, c->inbox.len);
        c->inbox.len = 0;
    } else {
        c->inbox.len = 0;
    }
    /* a burst's large buffer (or `out`'s, after the swap) is not kept */
    if (c->inbox.cap > 4096) {
        dubbo_buf_destroy(&c->inbox);
        dubbo_buf_init(&c->inbox, 0);
    }
    pthread_mutex_unlock(&c->inbox_mu);
    flush(c);
    conn_unref(c);
}

int dubbo__lconn_write_any(dubbo__lconn_t *c, const void *bytes, size_t n)
{
    pthread_mutex_lock(&c->inbox_mu);
    if (dubbo_buf_append(&c->inbox, bytes, n)) {
        pthread_mutex_unlock(&c->inbox_mu);
        return DUBBO_ENOMEM;
    }
    bool post = !c->inbox_posted;
    c->inbox_posted = true;
    if (post) atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&c->inbox_mu);
    /* The task is the connection's own: no allocation, so it cannot fail
     * for memory; only a loop that is not running refuses it, and then
     * nothing will be written anyway. */
    if (post && dubbo__loop_post_task_to(c->sh->loop, &c->inbox_task)) {
        pthread_mutex_lock(&c->inbox_mu);
        c->inbox_posted = false;
        pthread_mutex_unlock(&c->inbox_mu);
        conn_unref(c);
    }
    return 0;
}

/* The connection speaks `proto` from now on (loop thread). */
static void set_protocol(sconn_t *c, const dubbo__wire_t *wire)
{
    c->wire = wire;
    if (wire->conn_open) c->pstate = wire->conn_open(c);
}

/* The connection's protocol refuses the unit whose first n bytes are p
 * (loop thread). */
static void refuse_unit(sconn_t *c, const uint8_t *p, size_t n, int status, const char *msg)
{
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    if (!c->wire->refuse(p, n, status, msg, &out) && out.len)
        dubbo__lconn_send(c, out.base, out.len);
    dubbo_buf_destroy(&out);
}

void dubbo__lconn_refuse(dubbo__lconn_t *c, const uint8_t *p, size_t n, int status, const char *msg)
{
    refuse_unit(c, p, n, status, msg);
}

static void on_conn_closed(uv_handle_t *h)
{
    sconn_t *c = h->data;
    dubbo__listener_t *s = c->l;
    shard_t *sh = c->sh;
    if (c->prev)
        c->prev->next = c->next;
    else if (sh->conns == c)
        sh->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    atomic_fetch_sub(&s->nconns, 1);
    dubbo__loop_load(sh->loop, -1);
    if (c->wire && c->wire->conn_close) c->wire->conn_close(c->pstate);
    c->pstate = NULL;
    if (c->admitted) {
        atomic_fetch_sub(&s->cfg.budget->mem, c->admitted);
        atomic_fetch_sub(&s->cfg.budget->arriving, c->admitted);
    }
    c->admitted = 0;
    conn_unref(c);
}

/* The connection no longer counts against its address's accepts_per_ip. */
static void ip_uncount(sconn_t *c)
{
    if (!c->ip_counted) return;
    c->ip_counted = false;
    dubbo__listener_t *s = c->l;
    const char *colon = strrchr(c->remote, ':');
    size_t hl = colon ? (size_t)(colon - c->remote) : strlen(c->remote);
    pthread_mutex_lock(&s->ip_mu);
    for (ip_count_t **pp = &s->ips; *pp; pp = &(*pp)->next)
        if (strlen((*pp)->host) == hl && strncmp((*pp)->host, c->remote, hl) == 0) {
            if (--(*pp)->n == 0) {
                ip_count_t *e = *pp;
                *pp = e->next;
                free(e);
            }
            break;
        }
    pthread_mutex_unlock(&s->ip_mu);
}

static void conn_close(sconn_t *c, const char *why)
{
    if (c->closing) return;
    c->closing = true;
    ip_uncount(c);
    if (why)
        dubbo__log_limited(c->l->cfg.log_rl, "closing connection from %s to %s: %s", c->remote,
                           c->local, why);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
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
    if (!c->rbuf.len || c->tls) {
        if (!loop_scratch) loop_scratch = malloc(SCRATCH_LEN);
        if (loop_scratch) {
            *buf = uv_buf_init((char *)loop_scratch, SCRATCH_LEN);
            return;
        }
        if (c->tls) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
    }
    /* A unit whose header is here gets its whole size at once (the header
     * was checked against the payload limit): no copies while it grows. */
    size_t want = 65536, total = 0;
    if (c->wire && c->wire->cut(c->rbuf.base, c->rbuf.len, c->l->cfg.payload, &total) == 0 &&
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

/* A whole unit: the exporter's. */
static void handle_unit(sconn_t *c, const uint8_t *p, size_t len, size_t charged, uint8_t **own)
{
    c->served = true;
    c->l->cfg.unit(c->l->cfg.user, c, p, len, charged, own);
}

/* Which of the server's protocols this connection speaks, from its first
 * bytes: 1 found (c->wire set), 0 more bytes needed, -1 none (closed). */
static int detect_protocol(sconn_t *c, const uint8_t *p, size_t n)
{
    dubbo__listener_t *s = c->l;
    bool maybe = false;
    for (size_t i = 0; i < s->cfg.nwires; i++) {
        int d = s->cfg.wires[i].detect(p, n);
        if (d == DUBBO__DETECT_YES) {
            set_protocol(c, &s->cfg.wires[i]);
            return 1;
        }
        if (d == DUBBO__DETECT_MORE) maybe = true;
    }
    if (maybe) return 0;
    char why[200];
    int w = snprintf(why, sizeof(why), "no protocol of \"%s\" speaks what it sent (first bytes",
                     s->cfg.protocols);
    for (size_t i = 0; i < n && i < 8 && w > 0 && (size_t)w < sizeof(why) - 4; i++)
        w += snprintf(why + w, sizeof(why) - (size_t)w, " %02x", p[i]);
    snprintf(why + w, sizeof(why) - (size_t)w, ")");
    conn_close(c, why);
    return -1;
}

/* A unit this large that fills the connection's buffer is handed to its
 * job with the buffer, not copied. */
#define STEAL_MIN ((size_t)64 << 10)

static void process(sconn_t *c, uint8_t *data, size_t len, bool scratch);

/* The first bytes of a connection on a TLS port: a TLS handshake starts a
 * session; plaintext is served only in permissive mode. 0, or -1 when
 * closed. */
static int decide_tls(sconn_t *c, const uint8_t *p, size_t n)
{
    dubbo__listener_t *s = c->l;
    c->tls_decided = true;
    if (!s->cfg.tls) return 0;
    if (!dubbo__tls_looks_like(p, n)) {
        if (s->cfg.tls_mode == DUBBO__TLS_PERMISSIVE) return 0;
        conn_close(c, "plaintext on a TLS-only port (tls=strict)");
        return -1;
    }
    if (!(c->tls = dubbo__tls_new(s->cfg.tls, c->remote))) {
        conn_close(c, dubbo_last_error());
        return -1;
    }
    return 0;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    sconn_t *c = st->data;
    if (n < 0) {
        conn_close(c, n == UV_EOF ? NULL : uv_strerror((int)n));
        return;
    }
    if (n == 0) return;
    if (!c->tls_decided && decide_tls(c, (const uint8_t *)buf->base, (size_t)n)) return;
    if (c->tls) {
        /* ciphertext in the scratch buffer, plaintext into rbuf */
        c->last_read = dubbo__now_ms();
        size_t before = c->rbuf.len;
        if (c->close_why) return; /* failed: closing once the alert is out */
        int rc = dubbo__tls_read(c->tls, (const uint8_t *)buf->base, (size_t)n, &c->rbuf);
        flush(c); /* handshake records, alerts */
        if (rc < 0) {
            c->l->cfg.read_end(c->l->cfg.user);
            /* the alert OpenSSL queued (e.g. "certificate required") goes
             * out before the close, so the peer learns why */
            dubbo__log_limited(c->l->cfg.log_rl, "closing connection from %s to %s: %s", c->remote,
                               c->local, dubbo_last_error());
            dubbo__lconn_close(c, "");
            return;
        }
        if (c->rbuf.len > before)
            process(c, c->rbuf.base, c->rbuf.len, false);
        else
            c->l->cfg.read_end(c->l->cfg.user);
        if (rc == 1 && !c->closing) dubbo__lconn_close(c, NULL); /* close_notify */
        return;
    }
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
    process(c, data, len, scratch);
}

/* Cut units from data[0..len) (the scratch buffer, or the connection's
 * rbuf) and hand them over. */
static void process(sconn_t *c, uint8_t *data, size_t len, bool scratch)
{
    dubbo__listener_t *s = c->l;
    size_t off = 0;
    while (!c->closing && !c->close_why) {
        if (c->discard) {
            /* the rest of a refused frame: dropped as it arrives */
            size_t drop = len - off < c->discard ? len - off : c->discard;
            off += drop;
            c->discard -= drop;
            if (c->discard) break;
            continue;
        }
        if (!c->wire && detect_protocol(c, data + off, len - off) <= 0) break;
        size_t total = 0;
        int64_t r = c->wire->cut(data + off, len - off, s->cfg.payload, &total);
        if (r < 0) {
            /* Requests before the garbage still get their answers. */
            s->cfg.read_end(s->cfg.user);
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
        if (more) atomic_fetch_add(&s->cfg.budget->arriving, more);
        if (more && !dubbo__budget_take(s->cfg.budget, more)) {
            atomic_fetch_sub(&s->cfg.budget->arriving, more);
            char msg[256];
            dubbo__budget_overload_message(s->cfg.budget, c->local, total, msg, sizeof(msg));
            dubbo__log_limited(s->cfg.log_rl, "a request of %zu bytes from %s refused: %s", total,
                               c->remote, msg);
            if (c->wire->stateful) {
                /* a unit dropped unread would break the protocol's state
                 * (HTTP/2: HPACK, flow control): the connection goes */
                s->cfg.read_end(s->cfg.user);
                conn_close(c, msg);
                return;
            }
            refuse_unit(c, h, have, s->cfg.overload_status, msg);
            atomic_fetch_sub(&s->cfg.budget->mem, c->admitted);
            atomic_fetch_sub(&s->cfg.budget->arriving, c->admitted);
            c->admitted = 0;
            off += have;
            c->discard = total > have ? total - have : 0;
            continue;
        }
        c->admitted += more;
        if (r == 0) break;
        size_t charged = c->admitted;
        atomic_fetch_sub(&s->cfg.budget->arriving, charged);
        c->admitted = 0;
        uint8_t *own = NULL;
        if (!scratch && off == 0 && (size_t)r >= STEAL_MIN) {
            /* the job takes the buffer over; what follows the frame moves
             * to a new one */
            own = c->rbuf.base;
            dubbo_buf_init(&c->rbuf, 0);
            if (len > (size_t)r && dubbo_buf_append(&c->rbuf, data + r, len - (size_t)r)) {
                free(own);
                s->cfg.read_end(s->cfg.user);
                conn_close(c, "out of memory");
                return;
            }
            handle_unit(c, h, (size_t)r, charged, &own);
            free(own); /* still ours unless a job took it */
            data = c->rbuf.base;
            len = c->rbuf.len;
            off = 0;
            if (!len) break;
            continue;
        }
        handle_unit(c, h, (size_t)r, charged, &own);
        off += (size_t)r;
    }
    s->cfg.read_end(s->cfg.user);
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

static void on_connection(uv_stream_t *server, int status);

static void spare_closed(uv_handle_t *h)
{
    dubbo__listener_t *s = h->data;
    s->spare_busy = false;
    /* a connection that came while the spare was closing waits unaccepted
     * (libuv stopped watching the socket): take it now */
    if (s->accept_waiting && s->listening) {
        s->accept_waiting = false;
        on_connection((uv_stream_t *)&s->listener, 0);
    }
}

/* A connection whose handle is made on its shard's loop: its names, the
 * caps, then reading. Its shard's loop thread. */
static void adopt(sconn_t *c)
{
    dubbo__listener_t *s = c->l;
    shard_t *sh = c->sh;
    /* One protocol: it judges the first bytes itself (and names what is
     * wrong with them); several: detect_protocol picks one. */
    if (s->cfg.nwires == 1) set_protocol(c, &s->cfg.wires[0]);
    if (s->unix_path) {
        /* the peer of a unix socket has no address: its pid, when told */
        uv_os_fd_t fd;
        struct ucred cr;
        socklen_t cl = sizeof(cr);
        if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
            snprintf(c->remote, sizeof(c->remote), "unix:pid=%d", (int)cr.pid);
        else
            snprintf(c->remote, sizeof(c->remote), "unix:?");
        snprintf(c->local, sizeof(c->local), "unix:%.58s", s->unix_path);
    } else {
        uv_tcp_nodelay(&c->tcp, 1);
        struct sockaddr_storage ss;
        int len = sizeof(ss);
        if (!uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len))
            addr_str(&ss, c->remote, sizeof(c->remote));
        len = sizeof(ss);
        if (!uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len))
            addr_str(&ss, c->local, sizeof(c->local));
    }
    c->last_read = c->accepted_at = dubbo__now_ms();
    c->next = sh->conns;
    if (sh->conns) sh->conns->prev = c;
    sh->conns = c;
    int n = atomic_fetch_add(&s->nconns, 1) + 1;
    if (sh->closed) { /* handed over while the server closed */
        conn_close(c, NULL);
        return;
    }
    if (s->cfg.accepts > 0 && n > s->cfg.accepts) {
        char why[128];
        snprintf(why, sizeof(why), "the server has its %d connections (accepts=%d)", s->cfg.accepts,
                 s->cfg.accepts);
        conn_close(c, why);
        return;
    }
    if (s->cfg.accepts_per_ip > 0 && !s->unix_path) {
        /* connections open from the same address (the remote without its
         * port), on every loop */
        const char *colon = strrchr(c->remote, ':');
        size_t hl = colon ? (size_t)(colon - c->remote) : strlen(c->remote);
        int same = 0;
        pthread_mutex_lock(&s->ip_mu);
        ip_count_t *e = s->ips;
        while (e && !(strlen(e->host) == hl && strncmp(e->host, c->remote, hl) == 0))
            e = e->next;
        if (!e && (e = calloc(1, sizeof(*e)))) {
            snprintf(e->host, sizeof(e->host), "%.*s", (int)hl, c->remote);
            e->next = s->ips;
            s->ips = e;
        }
        if (e) {
            same = ++e->n;
            c->ip_counted = true;
        }
        pthread_mutex_unlock(&s->ip_mu);
        if (same > s->cfg.accepts_per_ip) {
            char why[160];
            snprintf(why, sizeof(why), "%.*s has its %d connections (accepts-per-ip=%d)", (int)hl,
                     c->remote, s->cfg.accepts_per_ip, s->cfg.accepts_per_ip);
            conn_close(c, why);
            return;
        }
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* The hand-over of a connection accepted on the listening socket's loop to
 * its own (its task): the socket becomes a handle of this loop. */
static void adopt_on_loop(void *arg)
{
    sconn_t *c = arg;
    shard_t *sh = c->sh;
    uv_loop_t *loop = dubbo__loop_uv(sh->loop);
    int rc = c->l->unix_path ? uv_pipe_init(loop, &c->pipe, 0) : uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    bool made = rc == 0;
    if (!rc) rc = c->l->unix_path ? uv_pipe_open(&c->pipe, c->fd) : uv_tcp_open(&c->tcp, c->fd);
    if (rc) {
        DLOG_WARN("a connection on port %d could not be served: %s", c->l->port, uv_strerror(rc));
        close(c->fd);
        dubbo__loop_load(sh->loop, -1);
        if (made)
            uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
        else
            free(c);
        return;
    }
    c->fd = -1;
    adopt(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    dubbo__listener_t *s = server->data;
    if (status < 0) {
        DLOG_WARN("accept on port %d failed: %s", s->port, uv_strerror(status));
        return;
    }
    sconn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        /* out of memory: the connection is accepted into the spare handle
         * and closed, so that the port goes on accepting */
        DLOG_WARN("out of memory for a connection on port %d: closed at once", s->port);
        if (s->spare_busy) {
            s->accept_waiting = true; /* taken once the spare is closed */
            return;
        }
        if (s->unix_path)
            uv_pipe_init(server->loop, &s->spare_pipe, 0);
        else
            uv_tcp_init(server->loop, &s->spare_tcp);
        s->spare_tcp.data = s;
        s->spare_busy = true;
        uv_accept(server, (uv_stream_t *)&s->spare_tcp);
        uv_close((uv_handle_t *)&s->spare_tcp, spare_closed);
        return;
    }
    c->l = s;
    c->fd = -1;
    pthread_mutex_init(&c->inbox_mu, NULL);
    c->inbox_task.fn = inbox_take;
    c->inbox_task.arg = c;
    atomic_init(&c->refs, 1);
    dubbo_buf_init(&c->rbuf, 0);
    dubbo_buf_init(&c->out, 0);
    /* The loop with the fewest connections serves it. */
    dubbo__loop_t *loop = dubbo__loop_pick(s->nshards);
    int k = loop ? dubbo__loop_index(loop) : 0;
    if (k >= s->nshards) k = 0;
    c->sh = &s->shards[k];
    dubbo__loop_load(c->sh->loop, 1);
    if (c->sh->loop == s->accept_loop) {
        if (s->unix_path)
            uv_pipe_init(server->loop, &c->pipe, 0);
        else
            uv_tcp_init(server->loop, &c->tcp);
        c->tcp.data = c;
        if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
            dubbo__loop_load(c->sh->loop, -1);
            uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
            return;
        }
        adopt(c);
        return;
    }
    /* Another loop's: accepted into a handle of this loop, whose socket
     * (a duplicate: closing the handle closes its own) goes to that loop,
     * which makes a handle of its own for it. */
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } *tmp = malloc(sizeof(*tmp));
    if (!tmp) {
        dubbo__loop_load(c->sh->loop, -1);
        free(c);
        c = NULL;
        /* as above, without memory: accepted and closed */
        if (!s->spare_busy) {
            if (s->unix_path)
                uv_pipe_init(server->loop, &s->spare_pipe, 0);
            else
                uv_tcp_init(server->loop, &s->spare_tcp);
            s->spare_tcp.data = s;
            s->spare_busy = true;
            uv_accept(server, (uv_stream_t *)&s->spare_tcp);
            uv_close((uv_handle_t *)&s->spare_tcp, spare_closed);
        } else {
            s->accept_waiting = true;
        }
        return;
    }
    if (s->unix_path)
        uv_pipe_init(server->loop, &tmp->pipe, 0);
    else
        uv_tcp_init(server->loop, &tmp->tcp);
    uv_os_fd_t fd = -1;
    if (uv_accept(server, (uv_stream_t *)&tmp->tcp) == 0 &&
        uv_fileno((uv_handle_t *)&tmp->tcp, &fd) == 0)
        c->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    uv_close((uv_handle_t *)&tmp->tcp, (uv_close_cb)free);
    if (c->fd < 0) {
        DLOG_WARN("a connection on port %d could not be handed to its loop: %s", s->port,
                  strerror(errno));
        dubbo__loop_load(c->sh->loop, -1);
        free(c);
        return;
    }
    c->task.fn = adopt_on_loop;
    c->task.arg = c;
    dubbo__loop_post_task_to(c->sh->loop, &c->task);
}

/* Every connection of the shard against its limits: silent past 3 x
 * heartbeat, a frame taking longer than read_timeout_ms, no first frame
 * within first_request_timeout_ms. */
static void on_idle_timer(uv_timer_t *t)
{
    shard_t *sh = t->data;
    dubbo__listener_t *s = sh->l;
    uint64_t now = dubbo__now_ms(), limit = (uint64_t)s->cfg.heartbeat_ms * 3;
    uint64_t first = s->cfg.first_request_timeout_ms > 0 ? (uint64_t)s->cfg.first_request_timeout_ms
                                                         : (uint64_t)s->cfg.heartbeat_ms * 2;
    for (sconn_t *c = sh->conns; c; c = c->next) {
        if (c->closing) continue;
        char why[160];
        if (now - c->last_read > limit) {
            snprintf(why, sizeof(why), "no data for %llu ms (idle limit %llu ms)",
                     (unsigned long long)(now - c->last_read), (unsigned long long)limit);
        } else if (c->frame_since && now - c->frame_since > (uint64_t)s->cfg.read_timeout_ms) {
            snprintf(why, sizeof(why),
                     "a frame still incomplete after %llu ms (%zu bytes so far; read timeout %d "
                     "ms)",
                     (unsigned long long)(now - c->frame_since), c->rbuf.len,
                     s->cfg.read_timeout_ms);
        } else if (!c->served && now - c->accepted_at > first) {
            snprintf(why, sizeof(why), "no whole frame in the %llu ms since it connected",
                     (unsigned long long)first);
        } else {
            continue;
        }
        conn_close(c, why);
    }
    for (sconn_t *c = sh->conns; c; c = c->next)
        if (!c->closing && c->wire && c->wire->tick) c->wire->tick(c->pstate, c, now);
    dubbo__ratelimit_flush(s->cfg.log_rl);
}

/* ---- start / shutdown ------------------------------------------------------- */

/* The path of a "unix:PATH" or "unix://PATH" address. */
static const char *unix_path_of(const char *host)
{
    const char *p = host + 5;
    if (strncmp(p, "//", 2) == 0) p += 2;
    return p;
}

/* Listen on a unix-domain socket. A socket file left by a process that is
 * gone (nobody accepts on it) is removed first; one somebody listens on,
 * or a file that is not a socket, is an error naming it. The file gets
 * the process's umask, so its mode says who may connect. 0 or an error
 * with a message. */
static int listen_unix(dubbo__listener_t *s, uv_loop_t *loop)
{
    const char *path = unix_path_of(s->cfg.host);
    struct sockaddr_un sa;
    if (!*path || strlen(path) >= sizeof(sa.sun_path))
        return dubbo__seterr(DUBBO_EINVAL, "server: bad unix socket path \"%s\" (1 to %zu bytes)",
                             path, sizeof(sa.sun_path) - 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return dubbo__seterr(DUBBO_EINVAL, "server: %s exists and is not a socket", path);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        memcpy(sa.sun_path, path, strlen(path));
        int live = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (fd >= 0) close(fd);
        if (live)
            return dubbo__seterr(-EADDRINUSE, "server: another process listens on unix:%s", path);
        if (unlink(path) != 0)
            return dubbo__seterr(-errno, "server: cannot remove the stale socket %s: %s", path,
                                 strerror(errno));
        DLOG_INFO("removed the stale socket %s (nobody listened on it)", path);
    }
    if (!(s->unix_path = strdup(path))) return dubbo__seterr(DUBBO_ENOMEM, "server: out of memory");
    uv_pipe_init(loop, &s->listener_pipe, 0);
    s->listener_pipe.data = s;
    int rc = uv_pipe_bind(&s->listener_pipe, path);
    if (!rc) rc = uv_listen((uv_stream_t *)&s->listener_pipe, 1024, on_connection);
    if (rc) {
        dubbo__seterr(rc, "server: cannot listen on unix:%s: %s", path, uv_strerror(rc));
        return 1; /* the handle is made: the caller closes it */
    }
    s->port = 0;
    return 0;
}

/* Each shard's idle check and check phase, on its loop. */
static void shard_start(void *arg)
{
    shard_t *sh = arg;
    uv_loop_t *loop = dubbo__loop_uv(sh->loop);
    uv_timer_init(loop, &sh->idle_timer);
    sh->idle_timer.data = sh;
    uint64_t every = (uint64_t)sh->l->cfg.heartbeat_ms / 2;
    if (every > 1000) every = 1000; /* read and first-request timeouts are checked here too */
    if (!every) every = 1;
    uv_timer_start(&sh->idle_timer, on_idle_timer, every, every);
    sh->timer_on = true;
    uv_check_init(loop, &sh->check);
    sh->check.data = sh;
    uv_check_start(&sh->check, on_check);
    sh->check_on = true;
}

typedef struct {
    dubbo__listener_t *s;
    int rc;
    char msg[512]; /* the loop thread's message for rc (errors are per thread) */
} listen_t;

/* Bind and listen, on the accepting loop. */
static void listen_on_loop(void *arg)
{
    listen_t *a = arg;
    dubbo__listener_t *s = a->s;
    uv_loop_t *loop = dubbo__loop_uv(s->accept_loop);
    a->rc = 0;
    if (strncmp(s->cfg.host, "unix:", 5) == 0) {
        int urc = listen_unix(s, loop);
        if (urc == 1) uv_close((uv_handle_t *)&s->listener_pipe, NULL);
        if (urc) {
            a->rc = dubbo__last_code();
            snprintf(a->msg, sizeof(a->msg), "%s", dubbo_last_error());
            return;
        }
        s->listening = true;
        return;
    }
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(s->cfg.host, s->cfg.port, (struct sockaddr_in *)&addr);
    if (rc) rc = uv_ip6_addr(s->cfg.host, s->cfg.port, (struct sockaddr_in6 *)&addr);
    if (rc) {
        a->rc = DUBBO_EINVAL;
        snprintf(a->msg, sizeof(a->msg), "server: bad listen address \"%s\"", s->cfg.host);
        return;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0)) == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
    if (rc) {
        a->rc = rc;
        snprintf(a->msg, sizeof(a->msg), "server: cannot listen on %s:%d: %s", s->cfg.host,
                 s->cfg.port, uv_strerror(rc));
        uv_close((uv_handle_t *)&s->listener, NULL);
        return;
    }
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
    s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    s->listening = true;
}

static void shard_close(void *arg);

dubbo__listener_t *dubbo__listener_new(const dubbo__listen_cfg_t *cfg, int loops)
{
    int n = loops > 0 ? loops : dubbo__loops_count();
    if (n > DUBBO__LOOPS_MAX) n = DUBBO__LOOPS_MAX;
    dubbo__listener_t *s = calloc(1, sizeof(*s) + (size_t)n * sizeof(shard_t));
    if (!s) {
        dubbo__seterr(DUBBO_ENOMEM, "server: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    pthread_mutex_init(&s->ip_mu, NULL);
    atomic_init(&s->nconns, 0);
    if (!(s->accept_loop = dubbo__loop_at(0))) {
        dubbo__seterr(DUBBO_ENOMEM, "server: the event loop could not be started");
        pthread_mutex_destroy(&s->ip_mu);
        free(s);
        return NULL;
    }
    /* Loops that cannot start leave the shards before them. */
    for (int i = 0; i < n; i++) {
        shard_t *sh = &s->shards[i];
        sh->l = s;
        if (!(sh->loop = dubbo__loop_at(i)) || dubbo__loop_run_sync_on(sh->loop, shard_start, sh))
            break;
        s->nshards = i + 1;
    }
    listen_t a = {s, 0, ""};
    dubbo__loop_run_sync_on(s->accept_loop, listen_on_loop, &a);
    if (a.rc) {
        for (int i = 0; i < s->nshards; i++)
            dubbo__loop_run_sync_on(s->shards[i].loop, shard_close, &s->shards[i]);
        dubbo__loops_sync_all(); /* the handles' close callbacks */
        free(s->unix_path);
        pthread_mutex_destroy(&s->ip_mu);
        free(s);
        dubbo__seterr(a.rc, "%s", a.msg);
        return NULL;
    }
    return s;
}

int dubbo__listener_port(const dubbo__listener_t *l)
{
    return l->port;
}

static void stop_listening(void *arg)
{
    dubbo__listener_t *s = arg;
    if (s->listening) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->listening = false;
        if (s->unix_path) unlink(s->unix_path); /* new connections fail at once */
    }
}

typedef struct {
    shard_t *sh;
    int n;
    uint64_t since, quiet_ms;
} shard_op_t;

static void shard_goaway(void *arg)
{
    shard_op_t *op = arg;
    for (sconn_t *c = op->sh->conns; c; c = c->next) {
        if (!c->wire || c->closing) continue;
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        /* the protocol's goaway: Dubbo's readonly event */
        if (!c->wire->goaway(&out) && !dubbo__lconn_send(c, out.base, out.len)) op->n++;
        dubbo_buf_destroy(&out);
    }
}

void dubbo__listener_goaway(dubbo__listener_t *s)
{
    /* No connection comes after this: those accepted before were handed to
     * their loops first, so each shard's goaway finds them. */
    dubbo__loop_run_sync_on(s->accept_loop, stop_listening, s);
    int n = 0;
    for (int i = 0; i < s->nshards; i++) {
        shard_op_t op = {.sh = &s->shards[i]};
        dubbo__loop_run_sync_on(op.sh->loop, shard_goaway, &op);
        n += op.n;
    }
    DLOG_INFO("shutdown: sent readonly to %d consumer connection(s), stopped accepting on port %d",
              n, s->port);
}

static void shard_close(void *arg)
{
    shard_t *sh = arg;
    sh->closed = true;
    for (sconn_t *c = sh->conns; c; c = c->next)
        conn_close(c, NULL);
    if (sh->check_on) {
        on_check(&sh->check); /* what is dirty is written (or dropped: closing) */
        uv_close((uv_handle_t *)&sh->check, NULL);
        sh->check_on = false;
    }
    if (sh->timer_on) {
        uv_close((uv_handle_t *)&sh->idle_timer, NULL);
        sh->timer_on = false;
    }
}

void dubbo__listener_close_all(dubbo__listener_t *s)
{
    dubbo__loop_run_sync_on(s->accept_loop, stop_listening, s);
    for (int i = 0; i < s->nshards; i++)
        dubbo__loop_run_sync_on(s->shards[i].loop, shard_close, &s->shards[i]);
}

void dubbo__listener_free(dubbo__listener_t *l)
{
    if (!l) return;
    free(l->unix_path);
    for (ip_count_t *e = l->ips, *n; e; e = n) {
        n = e->next;
        free(e);
    }
    pthread_mutex_destroy(&l->ip_mu);
    free(l);
}

/* A connection closes in the grace when its consumer closes it, or once it
 * has nothing to answer or write and no frame has come on it for quiet_ms
 * (counted from the goaway at the earliest). */
static void shard_grace(void *arg)
{
    shard_op_t *op = arg;
    uint64_t now = dubbo__now_ms();
    for (sconn_t *c = op->sh->conns; c; c = c->next) {
        if (c->closing) continue;
        uint64_t last = c->last_read > op->since ? c->last_read : op->since;
        /* refs: the loop's own, plus one per job, answer or write in flight */
        bool done = atomic_load(&c->refs) == 1 && !c->writing && c->out.len == 0 &&
                    c->rbuf.len == 0 && !c->discard;
        /* nor bytes that arrived and were not read yet */
        uv_os_fd_t fd;
        int unread = 0;
        if (done && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 &&
            ioctl(fd, FIONREAD, &unread) == 0)
            done = unread == 0;
        if (done && now - last >= op->quiet_ms)
            conn_close(c, NULL);
        else
            op->n++;
    }
}

int dubbo__listener_grace(dubbo__listener_t *s, uint64_t since, uint64_t quiet_ms)
{
    int open = 0;
    for (int i = 0; i < s->nshards; i++) {
        shard_op_t op = {.sh = &s->shards[i], .since = since, .quiet_ms = quiet_ms};
        dubbo__loop_run_sync_on(op.sh->loop, shard_grace, &op);
        open += op.n;
    }
    return open;
}

dubbo__loop_t *dubbo__lconn_loop(const dubbo__lconn_t *c)
{
    return c->sh->loop;
}
