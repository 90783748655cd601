/* The `qos` protocol: what Java Dubbo's QoS port speaks (QosProcessHandler
 * and its telnet and HTTP handlers), as a protocol table served by a
 * dubbo_server of its own on the QoS port (qos.c). One port, two forms:
 *   - telnet: a line ("ls", "invoke X.m(1)") in, its text then the prompt
 *     "dubbo>" out; a blank line gets the prompt; after 500 ms without a
 *     byte from the peer, a welcome and the prompt (an HTTP client speaks
 *     first, so it never sees them); "quit" says BYE! and closes;
 *   - HTTP/1.x: "GET /<command>?<args>" (or POST with a form body) in, a
 *     response with the command's text and its status code out (200, 404
 *     for an unknown command, 503 for a probe that fails), then the
 *     connection closes, as Java's does.
 * A unit is one line or one request; the form is chosen per unit by its
 * first line (a request line ending in HTTP/1.x). Codec without I/O:
 * decode() turns a unit into a call of the one service the QoS server
 * exports (qos.h), answer() the command's text into bytes. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dubbo/protocol.h"
#include "dubbo/url.h"
#include "dubbo/version.h"
#include "core/internal.h"
#include "core/log.h"
#include "qos/qos.h"
#include "runtime/call.h"

#define WELCOME_AFTER_MS 500

static const char *const methods[] = {"GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS "};

/* Whether the line p[0..n) (without its end) is an HTTP request line. */
static bool http_line(const uint8_t *p, size_t n)
{
    bool verb = false;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]) && !verb; i++) {
        size_t k = strlen(methods[i]);
        verb = n > k && memcmp(p, methods[i], k) == 0;
    }
    if (n && p[n - 1] == '\r') n--;
    return verb && n > 9 && memcmp(p + n - 9, " HTTP/1.", 8) == 0;
}

static const uint8_t *find(const uint8_t *p, size_t n, const char *what)
{
    size_t k = strlen(what);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, what, k) == 0) return p + i;
    return NULL;
}

/* A header's value in the header block h[0..n), or NULL; *len its length. */
static const char *header(const uint8_t *h, size_t n, const char *name, size_t *len)
{
    size_t k = strlen(name);
    const uint8_t *e = h + n;
    for (const uint8_t *l = h; l < e;) {
        const uint8_t *nl = memchr(l, '\n', (size_t)(e - l));
        const uint8_t *end = nl ? nl : e;
        if ((size_t)(end - l) > k && l[k] == ':' && strncasecmp((const char *)l, name, k) == 0) {
            const uint8_t *v = l + k + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            const uint8_t *ve = end;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *len = (size_t)(ve - v);
            return (const char *)v;
        }
        l = nl ? nl + 1 : e;
    }
    return NULL;
}

static int detect(const uint8_t *p, size_t n)
{
    (void)p;
    /* served alone on its port (no detection then): it takes anything */
    return n ? DUBBO_DETECT_YES : DUBBO_DETECT_MORE;
}

static int64_t cut(const uint8_t *p, size_t n, size_t limit, size_t *total)
{
    *total = 0;
    const uint8_t *nl = memchr(p, '\n', n);
    if (!nl) {
        if (n > limit) return dubbo__seterr(DUBBO_ETOO_BIG, "qos: a line of over %zu bytes", limit);
        return 0;
    }
    size_t first = (size_t)(nl - p);
    if (!http_line(p, first)) return (int64_t)first + 1; /* a telnet line */
    const uint8_t *end = find(p, n, "\r\n\r\n");
    size_t hlen = end ? (size_t)(end - p) + 4 : 0;
    if (!end && (end = find(p, n, "\n\n"))) hlen = (size_t)(end - p) + 2;
    if (!end) {
        if (n > limit)
            return dubbo__seterr(DUBBO_ETOO_BIG, "qos: HTTP headers of over %zu bytes", limit);
        return 0;
    }
    size_t vlen = 0;
    const char *cl = header(p, hlen, "Content-Length", &vlen);
    unsigned long long body = 0;
    for (size_t i = 0; cl && i < vlen; i++) {
        if (!isdigit((unsigned char)cl[i]) || body > limit)
            return dubbo__seterr(DUBBO_EMALFORMED, "qos: bad Content-Length \"%.*s\"",
                                 (int)(vlen < 40 ? vlen : 40), cl);
        body = body * 10 + (unsigned)(cl[i] - '0');
    }
    if (hlen + body > limit)
        return dubbo__seterr(DUBBO_ETOO_BIG, "qos: a request of %llu bytes is over %zu",
                             (unsigned long long)(hlen + body), limit);
    *total = hlen + (size_t)body;
    return n >= *total ? (int64_t)*total : 0;
}

typedef struct {
    uint64_t opened_ms;
    uint64_t seq;
    bool spoke;    /* the peer sent something: no welcome */
    bool welcomed; /* the welcome went out */
} conn_t;

static void *conn_open(dubbo_sconn_t *c)
{
    (void)c;
    conn_t *s = calloc(1, sizeof(*s));
    if (s) s->opened_ms = dubbo__now_ms();
    return s;
}

static void conn_close(void *state)
{
    free(state);
}

static void tick(void *state, dubbo_sconn_t *c, uint64_t now_ms)
{
    conn_t *s = state;
    if (!s || s->spoke || s->welcomed || now_ms - s->opened_ms < WELCOME_AFTER_MS) return;
    s->welcomed = true;
    static const char welcome[] =
        "dubbo-c " DUBBO_VERSION_STRING
        " QoS: type 'help' for the commands, 'quit' to leave\r\n" QOS_PROMPT;
    dubbo_sconn_send(c, welcome, sizeof(welcome) - 1);
}

static int on_unit(dubbo_sconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u)
{
    conn_t *s = dubbo_sconn_state(c);
    if (s) s->spoke = true;
    const uint8_t *nl = memchr(unit, '\n', len);
    bool http = nl && http_line(unit, (size_t)(nl - unit));
    if (!http) {
        size_t i = 0;
        while (i < len && isspace(unit[i]))
            i++;
        if (i == len) { /* a blank line: the prompt again */
            dubbo_sconn_send(c, QOS_PROMPT, strlen(QOS_PROMPT));
            return 0;
        }
    }
    u->id = s ? ++s->seq : 0;
    u->twoway = true;
    u->tag = http ? QOS_TAG_HTTP : 0;
    u->payload = unit;
    u->payload_len = len;
    return 1;
}

/* ---- decode: a line or a request into the call ---- */

typedef struct {
    dubbo_arena_t *a;
    dubbo_value_t *args[66];
    size_t n;
    bool full;
} argv_t;

static int push(argv_t *v, const char *s, size_t n)
{
    if (v->n == sizeof(v->args) / sizeof(v->args[0])) {
        v->full = true;
        return 0;
    }
    dubbo_value_t *x = dubbo_v_string(v->a, s, n);
    if (!x) return DUBBO_ENOMEM;
    v->args[v->n++] = x;
    return 0;
}

/* %XX and '+' decoded (a query or form value), into the arena. */
static int push_decoded(argv_t *v, const char *s, size_t n)
{
    char *d = dubbo_arena_alloc(v->a, n + 1);
    if (!d) return DUBBO_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            d[k++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
                   isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            d[k++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            d[k++] = s[i];
        }
    }
    d[k] = '\0';
    return push(v, d, k);
}

/* name=value&... : each value (a bare item is its own value). */
static int push_form(argv_t *v, const char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        size_t e = i;
        while (e < n && s[e] != '&')
            e++;
        const char *eq = memchr(s + i, '=', e - i);
        if (e > i)
            rc = eq ? push_decoded(v, eq + 1, (size_t)(s + e - eq - 1))
                    : push_decoded(v, s + i, e - i);
        i = e + 1;
    }
    return rc;
}

static int decode(dubbo_call_t *call, const dubbo_unit_t *u)
{
    argv_t v = {.a = dubbo_call_arena(call)};
    const char *p = (const char *)u->payload;
    size_t n = u->payload_len;
    int rc;
    if (u->tag & QOS_TAG_HTTP) {
        /* "GET /cmd?a=1&b=2 HTTP/1.1": the command is the path */
        const char *sp = memchr(p, ' ', n);
        const char *target = sp + 1;
        const char *te = memchr(target, ' ', n - (size_t)(target - p));
        if (!te) return dubbo__seterr(DUBBO_EMALFORMED, "qos: bad request line");
        if (*target == '/') target++;
        const char *q = memchr(target, '?', (size_t)(te - target));
        const char *ce = q ? q : te;
        if ((rc = push_decoded(&v, target, (size_t)(ce - target)))) return rc;
        if ((rc = push(&v, "", 0))) return rc; /* the line: made below */
        if (q && (rc = push_form(&v, q + 1, (size_t)(te - q - 1)))) return rc;
        const uint8_t *he = find(u->payload, n, "\r\n\r\n");
        size_t hl = he ? (size_t)(he - u->payload) + 4 : 0;
        if (!he && (he = find(u->payload, n, "\n\n"))) hl = (size_t)(he - u->payload) + 2;
        if (he && hl < n && (rc = push_form(&v, p + hl, n - hl))) return rc;
        /* the line invoke reads: the arguments joined by blanks */
        size_t total = 0;
        for (size_t i = 2; i < v.n; i++)
            total += v.args[i]->u.s.len + 1;
        char *line = dubbo_arena_alloc(v.a, total + 1);
        if (!line) return DUBBO_ENOMEM;
        size_t k = 0;
        for (size_t i = 2; i < v.n; i++) {
            if (k) line[k++] = ' ';
            memcpy(line + k, v.args[i]->u.s.ptr, v.args[i]->u.s.len);
            k += v.args[i]->u.s.len;
        }
        line[k] = '\0';
        if (!(v.args[1] = dubbo_v_string(v.a, line, k))) return DUBBO_ENOMEM;
    } else {
        while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
            n--;
        size_t i = 0;
        while (i < n && isspace((unsigned char)p[i]))
            i++;
        size_t c = i;
        while (c < n && !isspace((unsigned char)p[c]))
            c++;
        if ((rc = push(&v, p + i, c - i))) return rc;
        size_t r = c;
        while (r < n && isspace((unsigned char)p[r]))
            r++;
        if ((rc = push(&v, p + r, n - r))) return rc;
        for (size_t k = r; k < n && !rc;) {
            size_t e = k;
            while (e < n && !isspace((unsigned char)p[e]))
                e++;
            rc = push(&v, p + k, e - k);
            while (e < n && isspace((unsigned char)p[e]))
                e++;
            k = e;
        }
        if (rc) return rc;
    }
    if (v.full) return dubbo__seterr(DUBBO_EINVAL, "qos: more than 64 arguments");
    dubbo_value_t **args = dubbo_arena_alloc(v.a, v.n * sizeof(*args));
    if (!args) return DUBBO_ENOMEM;
    memcpy(args, v.args, v.n * sizeof(*args));
    dubbo__call_set_request(call, QOS_SERVICE, NULL, NULL, QOS_METHOD, NULL, args, v.n, NULL);
    return 0;
}

/* ---- answer: the text into a telnet reply or an HTTP response ---- */

static const char *att(const dubbo_call_t *call, const char *key)
{
    const dubbo_value_t *v = dubbo_map_get(call->res_att, key);
    return v && v->type == DUBBO_T_STRING ? v->u.s.ptr : NULL;
}

static const char *reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 503: return "Service Unavailable";
    default: return code >= 500 ? "Internal Server Error" : "Unknown";
    }
}

static int http_response(dubbo_buf_t *out, int code, const char *type, const char *body,
                         size_t blen)
{
    char head[256];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      code, reason(code), type, blen);
    int rc = dubbo_buf_append(out, head, (size_t)hn);
    return rc ? rc : dubbo_buf_append(out, body, blen);
}

static int answer(dubbo_call_t *call, size_t limit, dubbo_buf_t *out)
{
    (void)limit;
    const char *text = "";
    size_t tlen = 0;
    int code = 200;
    if (call->status != DUBBO_STATUS_OK) {
        text = call->error ? call->error : dubbo_status_name(call->status);
        tlen = strlen(text);
        code = call->status == DUBBO_STATUS_BAD_REQUEST ? 400 : 500;
    } else if (call->value && call->value->type == DUBBO_T_STRING) {
        text = call->value->u.s.ptr;
        tlen = call->value->u.s.len;
    }
    const char *c = att(call, QOS_ATT_CODE);
    if (c) code = atoi(c);
    bool close = att(call, QOS_ATT_CLOSE) != NULL;
    if (call->unit.tag & QOS_TAG_HTTP) {
        /* Java's handler closes after every response */
        call->unit.tag |= QOS_TAG_CLOSE;
        const char *type = att(call, QOS_ATT_TYPE);
        return http_response(out, code, type ? type : "text/plain", text, tlen);
    }
    if (close) {
        call->unit.tag |= QOS_TAG_CLOSE;
        return dubbo_buf_append(out, "BYE!\n", 5);
    }
    int rc = dubbo_buf_append(out, text, tlen);
    if (!rc) rc = dubbo_buf_append(out, "\r\n" QOS_PROMPT, 2 + strlen(QOS_PROMPT));
    return rc;
}

static int on_answer(void *state, dubbo_sconn_t *c, const dubbo_unit_t *u, const uint8_t *bytes,
                     size_t n)
{
    (void)state;
    int rc = dubbo_sconn_send(c, bytes, n);
    if (u->tag & QOS_TAG_CLOSE) dubbo_sconn_close(c, NULL);
    return rc;
}

static int refuse(const uint8_t *p, size_t n, int status, const char *message, dubbo_buf_t *out)
{
    (void)status;
    const uint8_t *nl = memchr(p, '\n', n);
    if (nl && http_line(p, (size_t)(nl - p)))
        return http_response(out, 503, "text/plain", message, strlen(message));
    int rc = dubbo_buf_append(out, message, strlen(message));
    return rc ? rc : dubbo_buf_append(out, "\r\n" QOS_PROMPT, 2 + strlen(QOS_PROMPT));
}

static int goaway(dubbo_buf_t *out)
{
    (void)out;
    return 0; /* nothing to say: the port just closes */
}

const dubbo_protocol_ops_t dubbo__protocol_qos = {
    .name = "qos",
    .detect = detect,
    .cut = cut,
    .on_unit = on_unit,
    .decode = decode,
    .answer = answer,
    .refuse = refuse,
    .goaway = goaway,
    .conn_open = conn_open,
    .conn_close = conn_close,
    .on_answer = on_answer,
    .tick = tick,
};
