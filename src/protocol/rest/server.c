/* The REST protocol's provider side: HTTP/1.1 on the spine's hooks
 * (include/dubbo/protocol.h).
 *
 * cut hands the server one whole request at a time (http1.c scans it
 * without state), so keep-alive and pipelining come from the server's own
 * loop; answers, which workers finish in any order, are put back in
 * request order by on_answer (each request's unit id is its number on
 * the connection). A request with `Expect: 100-continue` and no body yet
 * is cut at its header section: on_unit answers 100 Continue and gathers
 * the body itself. A malformed or oversized request is answered here (400,
 * 413, 414, 431, 505) and the connection closed after it; everything else
 * (routing, CORS preflights, the OpenAPI document, unknown paths) goes
 * through decode on a worker, which routes with the bindings of bind.c
 * and answers what is not a call through answer (a "prepared" answer:
 * the call names no service, so the server answers it as not found and
 * answer writes the prepared bytes instead). docs/rest.md has the wire. */
#include <http_parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/internal.h"
#include "core/log.h"
#include "protocol/rest/http1.h"
#include "protocol/rest/rest.h"
#include "runtime/call.h"

/* unit tags */
#define TAG_CLOSE 1u /* close the connection after this answer */
#define TAG_PRE   2u /* the payload is a pre_t, then the request (decode skips the scan) */

/* What on_unit's scan found, put before a small request's bytes in the
 * payload so that decode need not scan it again: offsets into the request
 * that follows. Requests with a chunked body, or over PRE_MAX, go as they
 * are and decode scans them. */
#define PRE_MAX 16384
typedef struct {
    uint32_t off, len;
} span_t;
typedef struct {
    uint16_t method, minor, nheaders;
    span_t url, body;
    span_t h[][2]; /* name, value */
} pre_t;

/* The last whole request cut on this thread: the listener hands on_unit
 * the unit it has just cut, so on_unit takes this scan instead of its
 * own. */
static _Thread_local struct {
    const uint8_t *p;
    size_t len;
    h1_msg_t m;
    h1_header_t headers[H1_MAX_HEADERS];
} last_cut;

/* The first byte of what answer() and refuse() make, read and dropped by
 * on_answer (which frames every answer of this protocol): whether the
 * connection closes after it (malformed input found in decode). */
#define ANSWER_KEEP  'K'
#define ANSWER_CLOSE 'C'

/* A body after 100 Continue must arrive within this. */
#define BODY_TIMEOUT_MS 30000

typedef struct pend {
    uint64_t seq;
    bool interim; /* 100 Continue: goes before answer `seq`, does not count */
    bool close;
    size_t n;
    struct pend *next;
    uint8_t bytes[];
} pend_t;

typedef struct {
    dubbo_sconn_t *c;
    uint64_t next_seq; /* the number of the next request */
    uint64_t sent;     /* answers written: the next to write is number `sent` */
    pend_t *q;         /* answers waiting for an earlier one, by number */
    bool done;         /* no more requests are read on this connection */
    bool closed;
    /* a request whose body follows 100 Continue */
    bool body_mode;
    bool stash_out; /* the stash is a dispatched request's payload (until the next hook) */
    dubbo_buf_t stash;
    uint64_t body_since;
    dubbo_buf_t pre; /* a dispatched request's payload: pre_t + its bytes */
} hconn_t;

static const char PREFIXES[][9] = {"GET ",  "POST ",    "PUT ",   "DELETE ", "PATCH ",
                                   "HEAD ", "OPTIONS ", "TRACE ", "CONNECT "};

int dubbo__rest_detect(const uint8_t *p, size_t n)
{
    bool maybe = false;
    for (size_t i = 0; i < sizeof(PREFIXES) / sizeof(PREFIXES[0]); i++) {
        size_t k = strlen(PREFIXES[i]);
        size_t m = n < k ? n : k;
        if (memcmp(p, PREFIXES[i], m) != 0) continue;
        if (n >= k) return DUBBO_DETECT_YES;
        maybe = true;
    }
    return maybe ? DUBBO_DETECT_MORE : DUBBO_DETECT_NO;
}

int64_t dubbo__rest_cut(const uint8_t *p, size_t n, size_t limit, size_t *total)
{
    h1_msg_t m = {.headers = last_cut.headers};
    *total = 0;
    last_cut.p = NULL;
    int st = h1_scan(p, n, false, limit, &m);
    switch (st) {
    case H1_DONE:
        last_cut.p = p;
        last_cut.len = m.length;
        last_cut.m = m;
        return (int64_t)m.length;
    case H1_ERROR: return (int64_t)n; /* on_unit answers it */
    case H1_HEAD:
        if (m.expect_continue && n == m.length) return (int64_t)m.length;
        *total = m.chunked ? n + 4096 : m.length + (size_t)m.content_length;
        return 0;
    default: return 0;
    }
}

/* ---- answers in request order ---------------------------------------- */

static void write_now(hconn_t *hc, const uint8_t *b, size_t n, bool interim, bool close)
{
    if (hc->closed) return;
    dubbo_sconn_send(hc->c, b, n);
    if (!interim) hc->sent++;
    if (close) {
        hc->closed = true;
        hc->done = true;
        dubbo_sconn_close(hc->c, NULL);
    }
}

static void emit(hconn_t *hc, uint64_t seq, const uint8_t *b, size_t n, bool interim, bool close)
{
    if (hc->closed) return;
    if (seq == hc->sent) {
        write_now(hc, b, n, interim, close);
        while (hc->q && hc->q->seq == hc->sent && !hc->closed) {
            pend_t *x = hc->q;
            hc->q = x->next;
            write_now(hc, x->bytes, x->n, x->interim, x->close);
            free(x);
        }
        return;
    }
    pend_t *x = malloc(sizeof(*x) + n);
    if (!x) {
        hc->closed = hc->done = true;
        dubbo_sconn_close(hc->c, "out of memory for an answer waiting its turn");
        return;
    }
    x->seq = seq;
    x->interim = interim;
    x->close = close;
    x->n = n;
    memcpy(x->bytes, b, n);
    pend_t **pp = &hc->q;
    /* interim answers go before the final one of the same number */
    while (*pp && ((*pp)->seq < seq || ((*pp)->seq == seq && (*pp)->interim && !interim)))
        pp = &(*pp)->next;
    x->next = *pp;
    *pp = x;
}

/* ---- answers' bytes ---------------------------------------------------- */

static int puts_(dubbo_buf_t *o, const char *s)
{
    return dubbo_buf_append(o, s, strlen(s));
}

/* "Date: ..." for this second (RFC 9110's IMF-fixdate), per thread. */
static const char *date_header(void)
{
    static _Thread_local time_t at;
    static _Thread_local char line[48];
    time_t now = time(NULL);
    if (now != at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(line, sizeof(line), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        at = now;
    }
    return line;
}

/* "HTTP/1.1 200 OK\r\n" and the Date line, without printf (per answer). */
static int status_line(dubbo_buf_t *o, int status)
{
    char b[16] = "HTTP/1.1 ";
    b[9] = (char)('0' + status / 100 % 10);
    b[10] = (char)('0' + status / 10 % 10);
    b[11] = (char)('0' + status % 10);
    b[12] = ' ';
    int rc = dubbo_buf_append(o, b, 13);
    if (!rc) rc = puts_(o, h1_reason(status));
    if (!rc) rc = dubbo_buf_append(o, "\r\n", 2);
    return rc ? rc : puts_(o, date_header());
}

/* A decimal number. */
static int put_size(dubbo_buf_t *o, size_t v)
{
    char b[24];
    size_t i = sizeof(b);
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return dubbo_buf_append(o, b + i, sizeof(b) - i);
}

/* {"status":N,"message":"..."[,"exception":"cls"]} */
static int error_json(dubbo_buf_t *o, int status, const char *msg, const char *exc)
{
    char b[32];
    snprintf(b, sizeof(b), "{\"status\":%d,\"message\":", status);
    int rc = puts_(o, b);
    if (!rc) rc = dubbo__rest_put_json_string(o, msg ? msg : "", msg ? strlen(msg) : 0);
    if (!rc && exc) {
        rc = puts_(o, ",\"exception\":");
        if (!rc) rc = dubbo__rest_put_json_string(o, exc, strlen(exc));
    }
    return rc ? rc : puts_(o, "}");
}

/* A whole answer made here (framing errors): JSON body, then close. */
static void answer_error_now(hconn_t *hc, int status, const char *msg)
{
    dubbo_buf_t body, o;
    dubbo_buf_init(&body, 0);
    dubbo_buf_init(&o, 0);
    char h[160];
    int rc = error_json(&body, status, msg, NULL);
    if (!rc) rc = status_line(&o, status);
    snprintf(h, sizeof(h),
             "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
             body.len);
    if (!rc) rc = puts_(&o, h);
    if (!rc) rc = dubbo_buf_append(&o, body.base, body.len);
    DLOG_DEBUG("rest: %d to %s: %s", status, dubbo_sconn_remote(hc->c), msg);
    hc->done = true;
    if (!rc)
        emit(hc, hc->next_seq++, o.base, o.len, false, true);
    else
        dubbo_sconn_close(hc->c, "out of memory");
    dubbo_buf_destroy(&body);
    dubbo_buf_destroy(&o);
}

/* ---- connection hooks -------------------------------------------------- */

void *dubbo__rest_conn_open(dubbo_sconn_t *c)
{
    hconn_t *hc = calloc(1, sizeof(*hc));
    if (hc) hc->c = c;
    return hc;
}

void dubbo__rest_conn_close(void *state)
{
    hconn_t *hc = state;
    if (!hc) return;
    while (hc->q) {
        pend_t *x = hc->q;
        hc->q = x->next;
        free(x);
    }
    dubbo_buf_destroy(&hc->stash);
    dubbo_buf_destroy(&hc->pre);
    free(hc);
}

int dubbo__rest_on_unit(dubbo_sconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u)
{
    hconn_t *hc = dubbo_sconn_state(c);
    if (!hc) {
        dubbo_sconn_close(c, "out of memory");
        return 0;
    }
    hc->c = c;
    if (hc->done) return 0; /* after Connection: close or an error: nothing more is read */
    if (hc->stash_out) {
        hc->stash.len = 0;
        hc->stash_out = false;
    }
    const uint8_t *p = unit;
    size_t n = len;
    if (hc->body_mode) {
        if (dubbo_buf_append(&hc->stash, unit, len)) {
            dubbo_sconn_close(c, "out of memory");
            return 0;
        }
        p = hc->stash.base;
        n = hc->stash.len;
    }
    h1_header_t headers[H1_MAX_HEADERS];
    h1_msg_t m = {.headers = headers};
    int st;
    if (!hc->body_mode && p == last_cut.p && n == last_cut.len) {
        m = last_cut.m; /* the cut's scan of these very bytes */
        st = H1_DONE;
    } else {
        st = h1_scan(p, n, false, dubbo_sconn_limit(c), &m);
    }
    if (st < 0) {
        dubbo_sconn_close(c, "out of memory");
        return 0;
    }
    if (st == H1_ERROR) {
        answer_error_now(hc, m.error_status, m.error);
        return 0;
    }
    if (st == H1_MORE || (st == H1_DONE && !hc->body_mode && m.length != n)) {
        answer_error_now(hc, 400, "malformed HTTP/1.1 request");
        return 0;
    }
    size_t hl;
    if (m.minor >= 1 && !h1_header(&m, "host", &hl)) {
        answer_error_now(hc, 400, "an HTTP/1.1 request without Host");
        return 0;
    }
    if (st == H1_HEAD) {
        if (hc->body_mode) return 0; /* more of the body to come */
        if (!m.expect_continue) {
            answer_error_now(hc, 400, "malformed HTTP/1.1 request");
            return 0;
        }
        /* 100 Continue (in turn), then gather the body here */
        if (dubbo_buf_append(&hc->stash, unit, len)) {
            dubbo_sconn_close(c, "out of memory");
            return 0;
        }
        hc->body_mode = true;
        hc->body_since = dubbo__now_ms();
        static const char CONT[] = "HTTP/1.1 100 Continue\r\n\r\n";
        emit(hc, hc->next_seq, (const uint8_t *)CONT, sizeof(CONT) - 1, true, false);
        return 0;
    }
    /* a whole request */
    u->id = hc->next_seq++;
    u->twoway = true;
    u->tag = m.keep_alive ? 0 : TAG_CLOSE;
    u->payload = p;
    u->payload_len = m.length;
    if (!m.chunked && m.length <= PRE_MAX && m.body_len == m.content_length) {
        /* decode reads this scan instead of making its own */
        size_t hsize = sizeof(pre_t) + m.nheaders * sizeof(span_t[2]);
        hc->pre.len = 0;
        if (!dubbo_buf_reserve(&hc->pre, hsize + m.length)) {
            pre_t *pr = (pre_t *)hc->pre.base;
            pr->method = (uint16_t)m.method;
            pr->minor = (uint16_t)m.minor;
            pr->nheaders = (uint16_t)m.nheaders;
            pr->url = (span_t){(uint32_t)(m.url - (const char *)p), (uint32_t)m.url_len};
            pr->body = (span_t){(uint32_t)(m.length - m.body_len), (uint32_t)m.body_len};
            for (size_t i = 0; i < m.nheaders; i++) {
                pr->h[i][0] = (span_t){(uint32_t)(m.headers[i].name - (const char *)p),
                                       (uint32_t)m.headers[i].nlen};
                pr->h[i][1] = (span_t){(uint32_t)(m.headers[i].value - (const char *)p),
                                       (uint32_t)m.headers[i].vlen};
            }
            memcpy(hc->pre.base + hsize, p, m.length);
            hc->pre.len = hsize + m.length;
            u->payload = hc->pre.base;
            u->payload_len = hc->pre.len;
            u->tag |= TAG_PRE;
        }
    }
    if (hc->body_mode) {
        hc->body_mode = false;
        hc->stash_out = true;
        if (m.length < n) {
            /* a request pipelined behind a body sent after 100 Continue:
             * not read (the client sends it again on a new connection) */
            u->tag |= TAG_CLOSE;
        }
    }
    if (u->tag & TAG_CLOSE) hc->done = true;
    return 1;
}

int dubbo__rest_on_answer(void *state, dubbo_sconn_t *c, const dubbo_unit_t *u,
                          const uint8_t *bytes, size_t n)
{
    hconn_t *hc = state;
    if (!hc || !n) return 0;
    hc->c = c;
    bool close = (u->tag & TAG_CLOSE) != 0 || bytes[0] == ANSWER_CLOSE;
    if (close) hc->done = true;
    emit(hc, u->id, bytes + 1, n - 1, false, close);
    return 0;
}

void dubbo__rest_tick(void *state, dubbo_sconn_t *c, uint64_t now_ms)
{
    hconn_t *hc = state;
    if (!hc || !hc->body_mode || hc->done) return;
    hc->c = c;
    if (now_ms - hc->body_since > BODY_TIMEOUT_MS) {
        hc->body_mode = false;
        answer_error_now(hc, 408, "the body after 100 Continue did not arrive within 30 s");
    }
}

int dubbo__rest_goaway(dubbo_buf_t *out)
{
    /* HTTP/1.1 has no going-away message: the connection is closed once
     * idle in the grace period. */
    (void)out;
    return DUBBO_EUNSUPPORTED;
}

int dubbo__rest_refuse(const uint8_t *p, size_t n, int status, const char *message,
                       dubbo_buf_t *out)
{
    (void)p;
    (void)n;
    (void)status;
    dubbo_buf_t body;
    dubbo_buf_init(&body, 0);
    int rc = error_json(&body, 503, message, NULL);
    char h[160];
    if (!rc) rc = dubbo_buf_append(out, "K", 1);
    if (!rc) rc = status_line(out, 503);
    snprintf(h, sizeof(h), "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
             body.len);
    if (!rc) rc = puts_(out, h);
    if (!rc) rc = dubbo_buf_append(out, body.base, body.len);
    dubbo_buf_destroy(&body);
    return rc;
}

/* ---- decode: route a request to a call -------------------------------- */

typedef struct {
    bool head; /* HEAD: the answer without its body */
    bool keep_alive;
    int produce;        /* the answer's media kind */
    const char *origin; /* CORS: the allowed Origin to echo, or NULL */
    bool cors_credentials;
    /* a prepared answer (not a call) */
    int status; /* 0: none */
    const char *ctype;
    const char *body;
    size_t body_len;
    const char *extra; /* more header lines ("Allow: GET\r\n") */
    bool close;        /* malformed input: close the connection after the answer */
} rcall_t;

typedef struct {
    dubbo_call_t *call;
    dubbo_arena_t *a;
    h1_msg_t *m;
    rcall_t *rc;
    const char *verb;
    const char *query;
    size_t query_len;
    const uint8_t *body;
    size_t body_len;
    int ctype; /* the body's media kind */
} req_t;

static bool exported(void *ctx, const char *itf, const char *ver, const char *grp)
{
    return dubbo__call_lookup(ctx, itf, ver, grp) != NULL;
}

/* A prepared answer: the call then names no service (answered "not
 * found" by the server, written by answer() from these). */
static int prepare(req_t *q, int status, const char *ctype, const char *body, size_t len,
                   const char *extra)
{
    q->rc->status = status;
    q->rc->ctype = ctype;
    q->rc->body = body;
    q->rc->body_len = len;
    q->rc->extra = extra;
    dubbo__call_set_request(q->call, "", NULL, NULL, "", NULL, NULL, 0, NULL);
    return 0;
}

static int prepare_error(req_t *q, int status, const char *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int prepare_error(req_t *q, int status, const char *extra, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    int rc = error_json(&b, status, msg, NULL);
    char *body = rc ? NULL : dubbo_arena_strndup(q->a, (const char *)b.base, b.len);
    size_t len = b.len;
    dubbo_buf_destroy(&b);
    if (!body) return DUBBO_ENOMEM;
    /* a request that could not be read ends the connection */
    if (status == 400) q->rc->close = true;
    if (status >= 500)
        DLOG_WARN("rest: %d for %s %.*s: %s", status, q->verb, (int)q->m->url_len, q->m->url, msg);
    return prepare(q, status, "application/json", body, len, extra);
}

static char *hdr(req_t *q, const char *name)
{
    size_t n;
    const char *v = h1_header(q->m, name, &n);
    if (!v) return NULL;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return dubbo_arena_strndup(q->a, v, n);
}

/* Whether `origin` is in the comma-separated list (or it is "*"). */
static bool origin_allowed(const char *list, const char *origin)
{
    if (!list || !origin) return false;
    size_t ol = strlen(origin), n;
    const char *it;
    for (const char *p = list; dubbo__rest_list_next(&p, &it, &n);)
        if ((n == 1 && *it == '*') || (n == ol && strncasecmp(it, origin, n) == 0)) return true;
    return false;
}

/* Accept negotiation: the first of `produces` (comma-separated media
 * names, NULL: json, text, xml) that the Accept header takes with q > 0;
 * REST_MEDIA_NONE when none. */
static int negotiate(const char *accept, const char *produces)
{
    const char *p = produces ? produces : "application/json,text/plain,application/xml";
    const char *a, *range, *media;
    size_t n, al;
    while (dubbo__rest_list_next(&p, &media, &n)) {
        if (!accept || !*accept) return dubbo__rest_media(media, n);
        const char *slash = memchr(media, '/', n);
        /* each media range of Accept, its parameters after ';' */
        for (a = accept; dubbo__rest_list_next(&a, &range, &al);) {
            const char *semi = memchr(range, ';', al);
            size_t rl = semi ? (size_t)(semi - range) : al;
            while (rl && range[rl - 1] == ' ')
                rl--;
            bool zero = false;
            if (semi) {
                const char *qv = strstr(semi, "q=");
                if (qv && qv < range + al) zero = strtod(qv + 2, NULL) <= 0.0;
            }
            bool match =
                (rl == 3 && memcmp(range, "*/*", 3) == 0) ||
                (rl == n && strncasecmp(range, media, n) == 0) ||
                (slash && rl >= 2 && range[rl - 1] == '*' && range[rl - 2] == '/' &&
                 (size_t)(slash - media) == rl - 2 && strncasecmp(range, media, rl - 2) == 0);
            /* application/json also answers text/json and +json ranges */
            if (!match && dubbo__rest_media(media, n) == REST_MEDIA_JSON &&
                dubbo__rest_media(range, rl) == REST_MEDIA_JSON)
                match = true;
            if (match && !zero) return dubbo__rest_media(media, n);
        }
    }
    return REST_MEDIA_NONE;
}

/* The value of query parameter `name` (decoded), or NULL; *err set on a
 * bad escape. */
static const char *query_get(req_t *q, const char *name, size_t *len, int *err)
{
    const char *s = q->query;
    size_t n = q->query_len, i = 0, nl = strlen(name);
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != '&')
            e++;
        const char *eq = memchr(s + i, '=', e - i);
        size_t kl = eq ? (size_t)(eq - (s + i)) : e - i;
        size_t dk;
        char *k = dubbo__rest_unescape(q->a, s + i, kl, true, &dk);
        if (!k) {
            *err = DUBBO_EMALFORMED;
            return NULL;
        }
        if (dk == nl && memcmp(k, name, nl) == 0) {
            if (!eq) {
                *len = 0;
                return "";
            }
            char *v = dubbo__rest_unescape(q->a, eq + 1, (size_t)(s + e - eq - 1), true, len);
            if (!v) *err = DUBBO_EMALFORMED;
            return v;
        }
        i = e + 1;
    }
    return NULL;
}

static const char *const SOURCE[] = {"",       "path variable", "query parameter",
                                     "header", "form field",    "body"};

/* Whether media kind `k` is in a mapping's consumes list (NULL: any of
 * ours). */
static bool consumes_ok(const char *consumes, int k)
{
    if (k == REST_MEDIA_OTHER || k == REST_MEDIA_PROTO || k == REST_MEDIA_HTML) return false;
    if (!consumes) return true;
    const char *it;
    size_t n;
    for (const char *p = consumes; dubbo__rest_list_next(&p, &it, &n);)
        if (dubbo__rest_media(it, n) == k) return true;
    return false;
}

/* Coerce a body value to a parameter's scalar type. */
static dubbo_value_t *coerce(req_t *q, const char *type, dubbo_value_t *v)
{
    if (!type || strcmp(type, "object") == 0 || !v) return v;
    if (v->type == DUBBO_T_STRING) return dubbo__rest_convert(q->a, type, v->u.s.ptr, v->u.s.len);
    if (strcmp(type, "string") == 0) {
        if (v->type == DUBBO_T_STRING) return v;
    } else if (strcmp(type, "int") == 0 && v->type == DUBBO_T_INT) {
        return v;
    } else if (strcmp(type, "long") == 0 && (v->type == DUBBO_T_INT || v->type == DUBBO_T_LONG)) {
        return dubbo_v_long(q->a, v->type == DUBBO_T_INT ? v->u.i : v->u.l);
    } else if (strcmp(type, "double") == 0 &&
               (v->type == DUBBO_T_DOUBLE || v->type == DUBBO_T_INT || v->type == DUBBO_T_LONG)) {
        return dubbo_v_double(q->a, v->type == DUBBO_T_DOUBLE ? v->u.d
                                    : v->type == DUBBO_T_INT  ? v->u.i
                                                              : (double)v->u.l);
    } else if (strcmp(type, "boolean") == 0 && v->type == DUBBO_T_BOOL) {
        return v;
    }
    dubbo__seterr(DUBBO_EMALFORMED, "a %s is not %s %s", dubbo_vtype_name(v->type),
                  strcmp(type, "int") == 0 ? "an" : "a", type);
    return NULL;
}

/* The arguments of a bound method. 0, or a prepared error answer. */
static int mapped_args(req_t *q, const rest_map_info_t *mi, const rest_route_t *rt,
                       dubbo_value_t ***args_out)
{
    dubbo_value_t **args = dubbo_arena_alloc(q->a, (mi->nparams ? mi->nparams : 1) * sizeof(*args));
    if (!args) return DUBBO_ENOMEM;
    dubbo_value_t *form = NULL;
    for (size_t i = 0; i < mi->nparams; i++) {
        const dubbo_rest_param_t *p = &mi->params[i];
        const char *text = NULL;
        size_t tl = 0;
        int err = 0;
        switch (p->from) {
        case DUBBO_REST_PATH:
            text = i < 32 ? rt->vars[i] : NULL;
            tl = i < 32 ? rt->vlens[i] : 0;
            break;
        case DUBBO_REST_QUERY:
            text = query_get(q, p->name, &tl, &err);
            if (err)
                return prepare_error(q, 400, NULL, "argument %zu (query parameter %s): %s", i,
                                     p->name, dubbo_last_error());
            break;
        case DUBBO_REST_HEADER: {
            const char *v = h1_header(q->m, p->name, &tl);
            if (v) {
                while (tl && (v[tl - 1] == ' ' || v[tl - 1] == '\t'))
                    tl--;
                text = dubbo_arena_strndup(q->a, v, tl);
                if (!text) return DUBBO_ENOMEM;
            }
            break;
        }
        case DUBBO_REST_FORM:
            if (!form) {
                if (q->body_len && q->ctype != REST_MEDIA_FORM)
                    return prepare_error(q, 415, NULL,
                                         "%s %s takes a form (application/x-www-form-urlencoded), "
                                         "not %s",
                                         q->verb, mi->path, dubbo__rest_media_name(q->ctype));
                int rc = dubbo__rest_read_body(q->a, REST_MEDIA_FORM, (const char *)q->body,
                                               q->body_len, &form);
                if (rc == DUBBO_ENOMEM) return rc;
                if (rc)
                    return prepare_error(q, 400, NULL, "argument %zu (form field %s): %s", i,
                                         p->name, dubbo_last_error());
            }
            {
                dubbo_value_t *v = dubbo_map_get(form, p->name);
                if (v && v->type == DUBBO_T_STRING) {
                    text = v->u.s.ptr;
                    tl = v->u.s.len;
                }
            }
            break;
        case DUBBO_REST_BODY: {
            if (!q->body_len) {
                args[i] = dubbo_v_null();
                continue;
            }
            if (!consumes_ok(mi->consumes, q->ctype))
                return prepare_error(
                    q, 415, NULL, "%s %s does not take a body of %s%s%s", q->verb, mi->path,
                    q->ctype == REST_MEDIA_NONE ? "no Content-Type"
                                                : dubbo__rest_media_name(q->ctype),
                    mi->consumes ? "; it takes " : "", mi->consumes ? mi->consumes : "");
            dubbo_value_t *v;
            int rc = dubbo__rest_read_body(q->a, q->ctype, (const char *)q->body, q->body_len, &v);
            if (rc == DUBBO_ENOMEM) return rc;
            if (rc)
                return prepare_error(q, 400, NULL, "argument %zu (body): %s", i,
                                     dubbo_last_error());
            args[i] = coerce(q, p->type, v);
            if (!args[i])
                return prepare_error(q, 400, NULL, "argument %zu (body): %s", i,
                                     dubbo_last_error());
            continue;
        }
        }
        if (!text) {
            if (!p->default_value)
                return prepare_error(q, 400, NULL, "argument %zu (%s %s) is required", i,
                                     SOURCE[p->from], p->name);
            text = p->default_value;
            tl = strlen(text);
        }
        args[i] = dubbo__rest_convert(q->a, p->type, text, tl);
        if (!args[i])
            return prepare_error(q, 400, NULL, "argument %zu (%s %s): %s", i, SOURCE[p->from],
                                 p->name, dubbo_last_error());
    }
    *args_out = args;
    return 0;
}

/* Java 3.3's mapping of a method without a binding: GET .../{method}?a&b
 * (the query values in order, as strings), POST with a JSON array of the
 * arguments or one JSON value, a text body (one string), a form (its
 * values in order). */
static int default_args(req_t *q, dubbo_value_t ***args_out, size_t *nargs)
{
    *nargs = 0;
    *args_out = NULL;
    if (!q->body_len) {
        /* the query's values, in order */
        size_t cap = 1;
        for (size_t i = 0; i < q->query_len; i++)
            cap += q->query[i] == '&';
        dubbo_value_t **args = dubbo_arena_alloc(q->a, cap * sizeof(*args));
        if (!args) return DUBBO_ENOMEM;
        size_t i = 0, k = 0;
        while (i < q->query_len) {
            size_t e = i;
            while (e < q->query_len && q->query[e] != '&')
                e++;
            if (e > i) {
                const char *eq = memchr(q->query + i, '=', e - i);
                const char *vs = eq ? eq + 1 : q->query + e;
                size_t vl;
                char *v = dubbo__rest_unescape(q->a, vs, (size_t)(q->query + e - vs), true, &vl);
                if (!v)
                    return prepare_error(q, 400, NULL, "argument %zu (query): %s", k,
                                         dubbo_last_error());
                if (!(args[k++] = dubbo_v_string(q->a, v, vl))) return DUBBO_ENOMEM;
            }
            i = e + 1;
        }
        *args_out = args;
        *nargs = k;
        return 0;
    }
    if (q->ctype == REST_MEDIA_PROTO) {
        /* Triple's HTTP/1 protobuf form: the message's bytes as the one
         * argument (a protobuf IDL service takes them as they are), the
         * answer's bytes back as application/proto */
        dubbo_value_t **args = dubbo_arena_alloc(q->a, sizeof(*args));
        if (!args || !(args[0] = dubbo_v_binary(q->a, q->body, q->body_len))) return DUBBO_ENOMEM;
        q->rc->produce = REST_MEDIA_PROTO;
        *args_out = args;
        *nargs = 1;
        return 0;
    }
    if (!consumes_ok(NULL, q->ctype))
        return prepare_error(q, 415, NULL,
                             "a body of %s is not read (application/json, text/plain, "
                             "application/xml, application/x-www-form-urlencoded are)",
                             q->ctype == REST_MEDIA_NONE ? "no Content-Type"
                                                         : dubbo__rest_media_name(q->ctype));
    dubbo_value_t *v;
    int rc = dubbo__rest_read_body(q->a, q->ctype, (const char *)q->body, q->body_len, &v);
    if (rc == DUBBO_ENOMEM) return rc;
    if (rc) return prepare_error(q, 400, NULL, "the body: %s", dubbo_last_error());
    bool spread = (q->ctype == REST_MEDIA_JSON && v->type == DUBBO_T_LIST && !v->u.list.type) ||
                  q->ctype == REST_MEDIA_FORM;
    if (!spread) {
        dubbo_value_t **args = dubbo_arena_alloc(q->a, sizeof(*args));
        if (!args) return DUBBO_ENOMEM;
        args[0] = v;
        *args_out = args;
        *nargs = 1;
        return 0;
    }
    size_t n = v->type == DUBBO_T_LIST ? v->u.list.len : v->u.map.len;
    dubbo_value_t **args = dubbo_arena_alloc(q->a, (n ? n : 1) * sizeof(*args));
    if (!args) return DUBBO_ENOMEM;
    for (size_t i = 0; i < n; i++)
        args[i] = v->type == DUBBO_T_LIST ? v->u.list.items[i] : v->u.map.items[i].value;
    *args_out = args;
    *nargs = n;
    return 0;
}

/* Request headers that are HTTP's own, not attachments. */
static bool http_own(const char *k, size_t n)
{
    static const char *const OWN[] = {"host",
                                      "connection",
                                      "content-length",
                                      "content-type",
                                      "accept",
                                      "accept-encoding",
                                      "accept-language",
                                      "user-agent",
                                      "origin",
                                      "referer",
                                      "transfer-encoding",
                                      "expect",
                                      "keep-alive",
                                      "upgrade",
                                      "te",
                                      "cookie",
                                      "authorization",
                                      "cache-control",
                                      "pragma",
                                      "dnt",
                                      "priority",
                                      "path",
                                      "port",
                                      "version",
                                      "group",
                                      "if-none-match",
                                      "if-modified-since",
                                      "proxy-connection",
                                      "x-requested-with",
                                      NULL};
    for (const char *const *o = OWN; *o; o++)
        if (strlen(*o) == n && strncasecmp(*o, k, n) == 0) return true;
    return (n > 4 && strncasecmp(k, "sec-", 4) == 0) ||
           (n > 15 && strncasecmp(k, "access-control-", 15) == 0);
}

static int attachments_of(req_t *q, dubbo_value_t **out)
{
    *out = NULL;
    dubbo_value_t *m = NULL;
    for (size_t i = 0; i < q->m->nheaders; i++) {
        const h1_header_t *h = &q->m->headers[i];
        if (http_own(h->name, h->nlen)) continue;
        if (!m && !(m = dubbo_v_map(q->a, NULL, 8))) return DUBBO_ENOMEM;
        char *k = dubbo_arena_strndup(q->a, h->name, h->nlen);
        if (!k) return DUBBO_ENOMEM;
        for (char *c = k; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        size_t vl = h->vlen;
        while (vl && (h->value[vl - 1] == ' ' || h->value[vl - 1] == '\t'))
            vl--;
        dubbo_value_t *kv = dubbo_v_string(q->a, k, h->nlen);
        dubbo_value_t *vv = dubbo_v_string(q->a, h->value, vl);
        if (!kv || !vv || dubbo_map_put(q->a, m, kv, vv)) return DUBBO_ENOMEM;
    }
    *out = m;
    return 0;
}

/* A CORS preflight (OPTIONS with Access-Control-Request-Method). */
static int preflight(req_t *q, const dubbo_rest_options_t *o, const char *origin, const char *allow)
{
    if (!q->rc->origin)
        return prepare_error(q, 403, NULL, "CORS: origin %s is not allowed%s", origin,
                             o->cors_origins ? "" : " (CORS is off)");
    /* the method asked for must be one the path takes */
    const char *want_m = hdr(q, "access-control-request-method");
    const char *ok_m = o->cors_methods ? o->cors_methods : allow;
    bool found = false;
    const char *it;
    size_t n;
    for (const char *p = ok_m ? ok_m : ""; want_m && !found && dubbo__rest_list_next(&p, &it, &n);)
        found = n == strlen(want_m) && strncmp(it, want_m, n) == 0;
    if (!found)
        return prepare_error(q, 403, NULL, "CORS: %s is not allowed on this path (%s are)",
                             want_m ? want_m : "(none)", ok_m ? ok_m : "none");
    const char *want_h = hdr(q, "access-control-request-headers");
    dubbo_buf_t h;
    dubbo_buf_init(&h, 0);
    char line[256];
    snprintf(line, sizeof(line), "Access-Control-Allow-Methods: %s\r\n",
             o->cors_methods   ? o->cors_methods
             : allow && *allow ? allow
                               : "GET, POST, PUT, DELETE, PATCH");
    int rc = puts_(&h, line);
    if (!rc && (o->cors_headers || (want_h && *want_h))) {
        rc = puts_(&h, "Access-Control-Allow-Headers: ");
        if (!rc) rc = puts_(&h, o->cors_headers ? o->cors_headers : want_h);
        if (!rc) rc = puts_(&h, "\r\n");
    }
    snprintf(line, sizeof(line), "Access-Control-Max-Age: %d\r\n",
             o->cors_max_age > 0 ? o->cors_max_age : 1800);
    if (!rc) rc = puts_(&h, line);
    char *extra = rc ? NULL : dubbo_arena_strndup(q->a, (const char *)h.base, h.len);
    dubbo_buf_destroy(&h);
    if (!extra) return DUBBO_ENOMEM;
    return prepare(q, 204, NULL, "", 0, extra);
}

int dubbo__rest_decode(dubbo_call_t *call, const dubbo_unit_t *u)
{
    dubbo_arena_t *a = dubbo_call_arena(call);
    rcall_t *rc = dubbo_arena_alloc(a, sizeof(*rc));
    h1_header_t *headers = dubbo_arena_alloc(a, H1_MAX_HEADERS * sizeof(*headers));
    h1_msg_t *m = dubbo_arena_alloc(a, sizeof(*m));
    if (!rc || !headers || !m) return dubbo__seterr(DUBBO_ENOMEM, "rest: out of memory");
    memset(rc, 0, sizeof(*rc));
    call->proto_call = rc;
    rc->keep_alive = !(u->tag & TAG_CLOSE);
    rc->produce = REST_MEDIA_JSON;
    memset(m, 0, sizeof(*m));
    m->headers = headers;
    req_t q = {.call = call, .a = a, .m = m, .rc = rc};
    if (u->tag & TAG_PRE) {
        /* on_unit's scan (pre_t, copied out: the payload may be unaligned) */
        pre_t pr;
        memcpy(&pr, u->payload, sizeof(pr));
        size_t hsize = sizeof(pre_t) + pr.nheaders * sizeof(span_t[2]);
        const char *msg = (const char *)u->payload + hsize;
        m->state = H1_DONE;
        m->method = pr.method;
        m->minor = pr.minor;
        m->url = msg + pr.url.off;
        m->url_len = pr.url.len;
        m->nheaders = pr.nheaders;
        for (size_t i = 0; i < pr.nheaders; i++) {
            span_t hv[2];
            memcpy(hv, u->payload + sizeof(pre_t) + i * sizeof(span_t[2]), sizeof(hv));
            headers[i] = (h1_header_t){msg + hv[0].off, msg + hv[1].off, hv[0].len, hv[1].len};
        }
        /* the body is read from the payload during decode, not kept */
        q.body = (const uint8_t *)msg + pr.body.off;
        q.body_len = pr.body.len;
    } else {
        dubbo_buf_t body;
        dubbo_buf_init(&body, 0);
        m->body = &body;
        int st = h1_scan(u->payload, u->payload_len, false, (size_t)-1, m);
        if (st != H1_DONE) {
            dubbo_buf_destroy(&body);
            if (st < 0) return dubbo__seterr(DUBBO_ENOMEM, "rest: out of memory");
            return dubbo__seterr(DUBBO_EMALFORMED, "rest: %s", m->error);
        }
        q.body_len = body.len;
        if (body.len) {
            uint8_t *copy = dubbo_arena_alloc(a, body.len + 1);
            if (copy) {
                memcpy(copy, body.base, body.len);
                copy[body.len] = 0;
            }
            q.body = copy;
        }
        dubbo_buf_destroy(&body);
        if (body.len && !q.body) return dubbo__seterr(DUBBO_ENOMEM, "rest: out of memory");
    }
    q.verb = http_method_str((enum http_method)m->method);
    rc->head = m->method == HTTP_HEAD;
    size_t ctl;
    const char *ct = h1_header(m, "content-type", &ctl);
    q.ctype = ct ? dubbo__rest_media(ct, ctl) : REST_MEDIA_NONE;

    /* the target: origin-form, or absolute-form (its path) */
    const char *t = m->url;
    size_t tl = m->url_len;
    if (tl > 7 && (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0)) {
        const char *s = memchr(t + 8, '/', tl - 8);
        tl = s ? tl - (size_t)(s - t) : 1;
        t = s ? s : "/";
    }
    const char *qm = memchr(t, '?', tl);
    size_t pl = qm ? (size_t)(qm - t) : tl;
    q.query = qm ? qm + 1 : "";
    q.query_len = qm ? tl - pl - 1 : 0;
    /* a fragment is not sent, but cut it if it is */
    const char *frag = memchr(q.query, '#', q.query_len);
    if (frag) q.query_len = (size_t)(frag - q.query);

    dubbo_rest_options_t o;
    dubbo__rest_options(a, &o);
    const char *origin = hdr(&q, "origin");
    if (origin && origin_allowed(o.cors_origins, origin)) {
        rc->origin = origin;
        rc->cors_credentials = o.cors_credentials;
    }
    char *accept = hdr(&q, "accept");

    if (m->method == HTTP_OPTIONS && pl == 1 && t[0] == '*')
        return prepare(&q, 204, NULL, "", 0,
                       "Allow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\n");
    if (pl == 0 || t[0] != '/') {
        rc->close = true;
        return prepare_error(&q, 400, NULL, "the request target is not a path");
    }

    /* the path's segments, each percent-decoded */
    const char *segs[33];
    size_t lens[33], nsegs = 0;
    size_t i = 1;
    while (i <= pl) {
        size_t e = i;
        while (e < pl && t[e] != '/')
            e++;
        if (e > i || (e == pl && e > i)) {
            if (nsegs == 32)
                return prepare_error(&q, 404, NULL,
                                     "no service at a path of more than 32 segments");
            segs[nsegs] = dubbo__rest_unescape(a, t + i, e - i, false, &lens[nsegs]);
            if (!segs[nsegs]) {
                rc->close = true;
                return prepare_error(&q, 400, NULL, "the path: %s", dubbo_last_error());
            }
            nsegs++;
        }
        i = e + 1;
    }

    if (m->method == HTTP_GET && o.openapi && nsegs == 1 && lens[0] == 12 &&
        memcmp(segs[0], "openapi.json", 12) == 0) {
        dubbo_buf_t doc;
        dubbo_buf_init(&doc, 0);
        char server[300];
        const char *host = hdr(&q, "host");
        snprintf(server, sizeof(server), "http://%s", host ? host : dubbo_call_local(call));
        int r = dubbo__rest_openapi(&doc, server, exported, call);
        char *txt = r ? NULL : dubbo_arena_strndup(a, (const char *)doc.base, doc.len);
        size_t dl = doc.len;
        dubbo_buf_destroy(&doc);
        if (!txt) return dubbo__seterr(DUBBO_ENOMEM, "rest: out of memory");
        return prepare(&q, 200, "application/json", txt, dl, NULL);
    }

    /* route: a binding, else Java's default /{interface}/{method} */
    const char *verb = m->method == HTTP_OPTIONS ? "OPTIONS" : q.verb;
    rest_route_t rt;
    dubbo__rest_rdlock();
    int found = dubbo__rest_route(verb, segs, lens, nsegs, exported, call, &rt);
    int r = 0;
    if (m->method == HTTP_OPTIONS) {
        /* the verbs of the path: a binding's, or the default's */
        char allow[160];
        if (!rt.allow[0] && nsegs == 2 &&
            dubbo__call_lookup(call, segs[0], hdr(&q, "version"), hdr(&q, "group")))
            snprintf(allow, sizeof(allow), "GET, POST");
        else
            snprintf(allow, sizeof(allow), "%s", rt.allow);
        dubbo__rest_unlock();
        if (!allow[0]) return prepare_error(&q, 404, NULL, "no service at %.*s", (int)pl, t);
        if (origin && hdr(&q, "access-control-request-method"))
            return preflight(&q, &o, origin, allow);
        char *extra = dubbo_arena_alloc(a, 200);
        if (!extra) return dubbo__seterr(DUBBO_ENOMEM, "rest: out of memory");
        snprintf(extra, 200, "Allow: %s, OPTIONS\r\n", allow);
        return prepare(&q, 204, NULL, "", 0, extra);
    }
    if (found) {
        rest_map_info_t mi;
        rest_bind_info_t bi;
        dubbo__rest_map_info(rt.map, &mi);
        dubbo__rest_bind_info(rt.bind, &bi);
        rc->produce = negotiate(accept, mi.produces);
        if (rc->produce == REST_MEDIA_NONE) {
            r = prepare_error(
                &q, 406, NULL, "%s %s answers %s, and Accept takes none of them", q.verb, mi.path,
                mi.produces ? mi.produces : "application/json, text/plain, application/xml");
            rc->produce = REST_MEDIA_JSON;
            dubbo__rest_unlock();
            return r;
        }
        dubbo_value_t **args = NULL;
        r = mapped_args(&q, &mi, &rt, &args);
        if (r || rc->status) {
            dubbo__rest_unlock();
            return r;
        }
        dubbo_value_t *att;
        r = attachments_of(&q, &att);
        if (!r) {
            char *itf = dubbo_arena_strndup(a, bi.interface, strlen(bi.interface));
            char *ver = bi.version ? dubbo_arena_strndup(a, bi.version, strlen(bi.version)) : NULL;
            char *grp = bi.group ? dubbo_arena_strndup(a, bi.group, strlen(bi.group)) : NULL;
            char *meth = dubbo_arena_strndup(a, mi.method, strlen(mi.method));
            char *desc = mi.desc ? dubbo_arena_strndup(a, mi.desc, strlen(mi.desc)) : NULL;
            if (!itf || !meth)
                r = DUBBO_ENOMEM;
            else
                dubbo__call_set_request(call, itf, ver, grp, meth, desc, args, mi.nparams, att);
        }
        dubbo__rest_unlock();
        return r == DUBBO_ENOMEM ? dubbo__seterr(r, "rest: out of memory") : r;
    }
    dubbo__rest_unlock();
    if (rt.allow[0]) {
        char *extra = dubbo_arena_alloc(a, 200);
        if (!extra) return dubbo__seterr(DUBBO_ENOMEM, "rest: out of memory");
        snprintf(extra, 200, "Allow: %s\r\n", rt.allow);
        return prepare_error(&q, 405, extra, "%.*s takes %s, not %s", (int)pl, t, rt.allow, q.verb);
    }
    /* the default mapping, also Triple's HTTP/1 unary form */
    const char *ver = hdr(&q, "version"), *grp = hdr(&q, "group");
    if (!ver) ver = hdr(&q, "tri-service-version");
    if (!grp) grp = hdr(&q, "tri-service-group");
    if (nsegs != 2 || !dubbo__call_lookup(call, segs[0], ver, grp))
        return prepare_error(&q, 404, NULL, "no service at %s %.*s", q.verb, (int)pl, t);
    if (m->method != HTTP_GET && m->method != HTTP_POST && m->method != HTTP_HEAD &&
        m->method != HTTP_PUT)
        return prepare_error(&q, 405, "Allow: GET, POST\r\n", "%.*s takes GET or POST, not %s",
                             (int)pl, t, q.verb);
    rc->produce = q.ctype == REST_MEDIA_PROTO && q.body_len
                      ? REST_MEDIA_PROTO /* Triple's protobuf form answers protobuf */
                      : negotiate(accept, "application/json,text/plain,application/xml");
    if (rc->produce == REST_MEDIA_NONE) {
        rc->produce = REST_MEDIA_JSON;
        return prepare_error(&q, 406, NULL,
                             "%.*s answers application/json, text/plain or application/xml, and "
                             "Accept takes none of them",
                             (int)pl, t);
    }
    dubbo_value_t **args;
    size_t nargs;
    r = default_args(&q, &args, &nargs);
    if (r || rc->status) return r;
    dubbo_value_t *att;
    if ((r = attachments_of(&q, &att))) return dubbo__seterr(r, "rest: out of memory");
    dubbo__call_set_request(call, segs[0], ver, grp, segs[1], NULL, args, nargs, att);
    return 0;
}

/* ---- answer -------------------------------------------------------------- */

static int http_status_of(int dubbo_status)
{
    switch (dubbo_status) {
    case DUBBO_STATUS_OK: return 200;
    case DUBBO_STATUS_BAD_REQUEST:
    case DUBBO_STATUS_BAD_RESPONSE: return 400;
    case DUBBO_STATUS_SERVICE_NOT_FOUND: return 404;
    case DUBBO_STATUS_CLIENT_TIMEOUT:
    case DUBBO_STATUS_SERVER_TIMEOUT: return 504;
    case DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED: return 503;
    default: return 500;
    }
}

/* Response attachments as headers (names that are tokens, values without
 * line breaks); `names` collects them for CORS. */
static int put_attachments(dubbo_buf_t *o, const dubbo_value_t *att, dubbo_buf_t *names)
{
    int rc = 0;
    for (size_t i = 0; !rc && att && att->type == DUBBO_T_MAP && i < att->u.map.len; i++) {
        const dubbo_value_t *k = att->u.map.items[i].key, *v = att->u.map.items[i].value;
        if (!k || k->type != DUBBO_T_STRING || !v || v->type != DUBBO_T_STRING || !k->u.s.len)
            continue;
        bool ok = true;
        for (size_t j = 0; ok && j < k->u.s.len; j++) {
            char c = k->u.s.ptr[j];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.';
        }
        for (size_t j = 0; ok && j < v->u.s.len; j++)
            ok = v->u.s.ptr[j] != '\r' && v->u.s.ptr[j] != '\n' && v->u.s.ptr[j] != 0;
        if (!ok || http_own(k->u.s.ptr, k->u.s.len)) continue;
        rc = dubbo_buf_append(o, k->u.s.ptr, k->u.s.len);
        if (!rc) rc = puts_(o, ": ");
        if (!rc) rc = dubbo_buf_append(o, v->u.s.ptr, v->u.s.len);
        if (!rc) rc = puts_(o, "\r\n");
        if (!rc && names) {
            if (names->len) rc = puts_(names, ", ");
            if (!rc) rc = dubbo_buf_append(names, k->u.s.ptr, k->u.s.len);
        }
    }
    return rc;
}

int dubbo__rest_answer(dubbo_call_t *call, size_t limit, dubbo_buf_t *out)
{
    rcall_t *rc = call->proto_call;
    rcall_t none = {.keep_alive = true, .produce = REST_MEDIA_JSON};
    if (!rc) rc = &none;
    dubbo_buf_t body, names;
    dubbo_buf_init(&body, 0);
    dubbo_buf_init(&names, 0);
    int status;
    const char *ctype = "application/json";
    int r = 0;
    if (rc->status) {
        status = rc->status;
        ctype = rc->ctype;
        r = dubbo_buf_append(&body, rc->body, rc->body_len);
    } else if (call->status == DUBBO_STATUS_OK && !call->is_exception) {
        status = 200;
        ctype = dubbo__rest_media_name(rc->produce);
        switch (rc->produce) {
        case REST_MEDIA_PROTO:
            /* Triple's protobuf form: the message's bytes as they are */
            if (call->value && call->value->type == DUBBO_T_BINARY)
                r = dubbo_buf_append(&body, call->value->u.s.ptr, call->value->u.s.len);
            else
                r = dubbo__seterr(DUBBO_EMALFORMED,
                                  "an application/proto call answered a %s, not a message",
                                  dubbo_vtype_name(call->value ? call->value->type : DUBBO_T_NULL));
            break;
        case REST_MEDIA_XML: r = dubbo__rest_put_xml(&body, call->value); break;
        case REST_MEDIA_TEXT:
        case REST_MEDIA_HTML: r = dubbo__rest_put_text(&body, call->value); break;
        default: r = dubbo__rest_put_json(&body, call->value); break;
        }
        if (r && r != DUBBO_ENOMEM) {
            body.len = 0;
            status = 500;
            ctype = "application/json";
            r = error_json(&body, 500, dubbo_last_error(), NULL);
        } else if (!r && body.len > limit) {
            body.len = 0;
            status = 500;
            ctype = "application/json";
            r = error_json(&body, 500, "the answer is over the payload limit", NULL);
        }
    } else if (call->status == DUBBO_STATUS_OK) {
        /* an exception: 500 with its class and message */
        const dubbo_value_t *e = call->value;
        const char *msg = dubbo_exception_message(e);
        const char *cls = e && e->type == DUBBO_T_OBJECT && e->u.obj.cls
                              ? e->u.obj.cls->name
                              : "java.lang.RuntimeException";
        status = 500;
        r = error_json(&body, 500, msg, cls);
    } else {
        status = http_status_of(call->status);
        r = error_json(&body, status, call->error ? call->error : dubbo_status_name(call->status),
                       NULL);
    }
    dubbo_buf_t hx;
    dubbo_buf_init(&hx, 0);
    if (!r && !rc->status) r = put_attachments(&hx, call->res_att, rc->origin ? &names : NULL);
    bool close = !rc->keep_alive || rc->close;
    if (!r) r = dubbo_buf_reserve(out, 256 + hx.len + body.len);
    if (!r) r = dubbo_buf_append(out, close ? "C" : "K", 1);
    if (!r) r = status_line(out, status);
    if (!r && ctype) {
        r = puts_(out, "Content-Type: ");
        if (!r) r = puts_(out, ctype);
        if (!r && (strncmp(ctype, "text/", 5) == 0 || strcmp(ctype, "application/json") == 0))
            r = puts_(out, ";charset=utf-8");
        if (!r) r = puts_(out, "\r\n");
    }
    if (!r && status != 204) {
        r = puts_(out, "Content-Length: ");
        if (!r) r = put_size(out, body.len);
        if (!r) r = puts_(out, "\r\n");
    }
    if (!r && close) r = puts_(out, "Connection: close\r\n");
    if (!r && rc->extra) r = puts_(out, rc->extra);
    if (!r && rc->origin) {
        r = puts_(out, "Access-Control-Allow-Origin: ");
        if (!r) r = puts_(out, rc->origin);
        if (!r) r = puts_(out, "\r\nVary: Origin\r\n");
        if (!r && rc->cors_credentials)
            r = puts_(out, "Access-Control-Allow-Credentials: true\r\n");
        if (!r && names.len) {
            r = puts_(out, "Access-Control-Expose-Headers: ");
            if (!r) r = dubbo_buf_append(out, names.base, names.len);
            if (!r) r = puts_(out, "\r\n");
        }
    }
    if (!r) r = dubbo_buf_append(out, hx.base, hx.len);
    if (!r) r = puts_(out, "\r\n");
    if (!r && !rc->head && status != 204) r = dubbo_buf_append(out, body.base, body.len);
    dubbo_buf_destroy(&hx);
    dubbo_buf_destroy(&body);
    dubbo_buf_destroy(&names);
    return r;
}
