/* HTTP/1.1 message scanning on libhttp-parser (http1.h says what is
 * checked beyond the parser). */
#include "protocol/rest/http1.h"

#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dubbo/error.h"

typedef struct {
    h1_msg_t *m;
    size_t body_limit;
    bool in_value; /* the last header callback was a value */
    bool head_done;
    bool stop; /* m->error set: the parser was paused to stop */
    bool nomem;
} scan_t;

static int fail(http_parser *hp, int status, const char *fmt, const char *arg)
{
    scan_t *s = hp->data;
    s->m->error_status = status;
    snprintf(s->m->error, sizeof(s->m->error), fmt, arg);
    s->stop = true;
    http_parser_pause(hp, 1);
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    scan_t *s = hp->data;
    if (!s->m->url) s->m->url = at;
    s->m->url_len += len;
    if (s->m->url_len > H1_MAX_LINE)
        return fail(hp, 414, "the request target is over %s bytes", "8192");
    return 0;
}

static int on_field(http_parser *hp, const char *at, size_t len)
{
    scan_t *s = hp->data;
    h1_msg_t *m = s->m;
    if (!m->nheaders || s->in_value) {
        if (m->nheaders == H1_MAX_HEADERS)
            return fail(hp, 431, "more than %s header fields", "100");
        if (m->headers) m->headers[m->nheaders] = (h1_header_t){at, at, len, 0};
        m->nheaders++;
        s->in_value = false;
    } else if (m->headers) {
        m->headers[m->nheaders - 1].nlen += len;
    }
    return 0;
}

static int on_value(http_parser *hp, const char *at, size_t len)
{
    scan_t *s = hp->data;
    h1_msg_t *m = s->m;
    if (!m->nheaders) return 0;
    if (m->headers) {
        h1_header_t *h = &m->headers[m->nheaders - 1];
        if (!s->in_value) h->value = at;
        h->vlen += len;
    }
    /* the one header the cut needs, without keeping headers */
    if (!s->in_value && len >= 12 && strncasecmp(at, "100-continue", 12) == 0)
        m->expect_continue = true; /* checked against the name below */
    s->in_value = true;
    return 0;
}

static int on_headers(http_parser *hp)
{
    scan_t *s = hp->data;
    h1_msg_t *m = s->m;
    s->head_done = true;
    m->method = (int)hp->method;
    m->status = (int)hp->status_code;
    m->major = hp->http_major;
    m->minor = hp->http_minor;
    m->keep_alive = http_should_keep_alive(hp) != 0;
    m->chunked = (hp->flags & F_CHUNKED) != 0;
    m->content_length = m->chunked || hp->content_length == ULLONG_MAX ? 0 : hp->content_length;
    if (m->major != 1)
        return fail(hp, 505, "HTTP/%s is not served here",
                    m->major == 2 ? "2 (use the preface)" : "?");
    if (m->content_length > s->body_limit) {
        char lim[32];
        snprintf(lim, sizeof(lim), "%zu", s->body_limit);
        return fail(hp, 413, "the body is over the payload limit of %s bytes", lim);
    }
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    scan_t *s = hp->data;
    h1_msg_t *m = s->m;
    m->body_len += len;
    if (m->body_len > s->body_limit) {
        char lim[32];
        snprintf(lim, sizeof(lim), "%zu", s->body_limit);
        return fail(hp, 413, "the body is over the payload limit of %s bytes", lim);
    }
    if (m->body && dubbo_buf_append(m->body, at, len)) {
        s->nomem = true;
        s->stop = true;
        http_parser_pause(hp, 1);
    }
    return 0;
}

/* a chunk announced over the limit is refused before its bytes come */
static int on_chunk(http_parser *hp)
{
    scan_t *s = hp->data;
    if (hp->content_length > s->body_limit - s->m->body_len) {
        char lim[32];
        snprintf(lim, sizeof(lim), "%zu", s->body_limit);
        return fail(hp, 413, "the body is over the payload limit of %s bytes", lim);
    }
    return 0;
}

static int on_complete(http_parser *hp)
{
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings SETTINGS = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers,
    .on_body = on_body,
    .on_message_complete = on_complete,
    .on_chunk_header = on_chunk,
};

static int set_error(h1_msg_t *m, int status, const char *what)
{
    m->state = H1_ERROR;
    m->error_status = status;
    snprintf(m->error, sizeof(m->error), "%s", what);
    return H1_ERROR;
}

/* What the parser lets through in the header section p[0..end): a line
 * break that is not CRLF, a CR alone, a line folded onto the one before. */
static int strict_head(h1_msg_t *m, const uint8_t *p, size_t end)
{
    /* no whitespace between a field name and its colon (RFC 9112 5.1) */
    const uint8_t *nl = memchr(p, '\n', end);
    for (size_t i = nl ? (size_t)(nl - p) + 1 : end; i < end;) {
        const uint8_t *e = memchr(p + i, '\n', end - i);
        size_t le = e ? (size_t)(e - p) : end;
        const uint8_t *colon = memchr(p + i, ':', le - i);
        if (colon && colon > p + i && (colon[-1] == ' ' || colon[-1] == '\t'))
            return set_error(m, 400, "whitespace between a header name and its colon");
        i = le + 1;
    }
    for (size_t i = 0; i < end; i++) {
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
            return set_error(m, 400,
                             "a line of the header section ends in a bare LF (CRLF required)");
        if (p[i] == '\r' && (i + 1 >= end || p[i + 1] != '\n'))
            return set_error(m, 400, "a bare CR in the header section");
        if (p[i] == '\n' && i + 1 < end && (p[i + 1] == ' ' || p[i + 1] == '\t'))
            return set_error(m, 400, "a header line folded onto the one before (obs-fold)");
    }
    return 0;
}

int h1_scan(const uint8_t *p, size_t n, bool response, size_t body_limit, h1_msg_t *m)
{
    h1_header_t *headers = m->headers;
    dubbo_buf_t *body = m->body;
    memset(m, 0, sizeof(*m));
    m->headers = headers;
    m->body = body;
    size_t body0 = body ? body->len : 0;
    http_parser hp;
    http_parser_init(&hp, response ? HTTP_RESPONSE : HTTP_REQUEST);
    scan_t s = {.m = m, .body_limit = body_limit};
    hp.data = &s;
    size_t done = http_parser_execute(&hp, &SETTINGS, (const char *)p, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&hp);
    if (s.nomem) {
        if (body) body->len = body0;
        return DUBBO_ENOMEM;
    }
    if (s.stop) {
        m->state = H1_ERROR;
        return H1_ERROR;
    }
    /* the header section's end, and what the parser lets through in it */
    const uint8_t *crlf = memmem(p, n, "\r\n\r\n", 4);
    size_t head = crlf ? (size_t)(crlf - p) + 4 : 0;
    if (s.head_done || e != HPE_OK) {
        int r = strict_head(m, p, head ? head : n);
        if (r) return r;
    }
    if (e != HPE_OK && e != HPE_PAUSED) {
        int status = 400;
        if (e == HPE_HEADER_OVERFLOW) status = 431;
        if (e == HPE_INVALID_VERSION) status = 505;
        char what[160];
        snprintf(what, sizeof(what), "malformed HTTP/1.1 %s: %s", response ? "response" : "request",
                 http_errno_description(e));
        if (e == HPE_INVALID_CONTENT_LENGTH && s.head_done && (hp.flags & F_CHUNKED))
            snprintf(what, sizeof(what), "malformed HTTP/1.1 %s: a chunk size over 64 bits",
                     response ? "response" : "request");
        if (e == HPE_UNEXPECTED_CONTENT_LENGTH)
            snprintf(what, sizeof(what),
                     "Content-Length together with Transfer-Encoding, or given twice");
        return set_error(m, status, what);
    }
    if (s.head_done && !head)
        return set_error(m, 400, "a line of the header section ends in a bare LF (CRLF required)");
    if (head) {
        const uint8_t *nl1 = memchr(p, '\n', head);
        if (nl1 && head - (size_t)(nl1 - p) > H1_MAX_HEAD)
            return set_error(m, 431, "the header section is over 16384 bytes");
        /* the start line as RFC 9112 has it, nothing the parser might read
         * otherwise: "METHOD target HTTP/1.x" or "HTTP/1.x status ..." */
        size_t ll = nl1 ? (size_t)(nl1 - p) : 0; /* up to its CR */
        bool ok = ll >= 9 && p[ll - 1] == '\r';
        if (ok && !response)
            ok = ll >= 10 && memcmp(p + ll - 10, " HTTP/1.", 8) == 0 &&
                 (p[ll - 2] == '0' || p[ll - 2] == '1');
        if (ok && response) ok = memcmp(p, "HTTP/1.", 7) == 0;
        if (!ok && s.head_done) return set_error(m, 400, "a malformed start line");
        /* where the parser's header section ends must be where ours does
         * (known when the body is not chunked): otherwise the two would
         * frame the message differently */
        if (s.head_done && !m->chunked) {
            size_t parsed = done;
            if (parsed < m->body_len || parsed - m->body_len != head)
                return set_error(m, 400, "the header section's end is ambiguous");
        }
    }
    /* the Expect header itself (the value callback only saw the value) */
    if (m->expect_continue) {
        size_t vl;
        const char *v = NULL;
        m->expect_continue = false;
        for (size_t i = 0; i + 7 < head; i++) {
            if ((i == 0 || p[i - 1] == '\n') &&
                strncasecmp((const char *)p + i, "expect:", 7) == 0) {
                v = (const char *)p + i + 7;
                while (*v == ' ' || *v == '\t')
                    v++;
                vl = (size_t)((const char *)p + head - v);
                m->expect_continue = vl >= 12 && strncasecmp(v, "100-continue", 12) == 0;
                break;
            }
        }
    }
    if (e == HPE_PAUSED) {
        m->state = H1_DONE;
        m->length = done;
        return H1_DONE;
    }
    if (s.head_done) {
        m->state = H1_HEAD;
        m->length = head;
        return H1_HEAD;
    }
    /* the header section is not whole: too long already? */
    const uint8_t *nl = memchr(p, '\n', n < H1_MAX_LINE + 16 ? n : H1_MAX_LINE + 16);
    if (!nl && n > H1_MAX_LINE + 16)
        return set_error(m, 414, "the request line is over 8192 bytes");
    if (n > H1_MAX_LINE + H1_MAX_HEAD)
        return set_error(m, 431, "the header section is over 16384 bytes");
    m->state = H1_MORE;
    return H1_MORE;
}

const char *h1_header(const h1_msg_t *m, const char *name, size_t *len)
{
    size_t k = strlen(name);
    for (size_t i = 0; m->headers && i < m->nheaders; i++) {
        const h1_header_t *h = &m->headers[i];
        if (h->nlen == k && strncasecmp(h->name, name, k) == 0) {
            *len = h->vlen;
            return h->value;
        }
    }
    *len = 0;
    return NULL;
}

const char *h1_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}
