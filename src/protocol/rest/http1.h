/* HTTP/1.1 messages for the REST protocol (src/protocol/rest/): one scan
 * of a buffer that starts at a message, on Node's former parser
 * (libhttp-parser, Debian's libhttp-parser-dev; README.md says why this
 * one), plus what that parser lets through and a server must not: a bare
 * LF or CR in the header section, obs-fold, a request line, header section
 * or body over its limit. Content-Length with Transfer-Encoding, two
 * Content-Lengths, a Transfer-Encoding that does not end in chunked and a
 * bad chunk size are the parser's own errors. Without I/O and without
 * state between calls: the server's cut, its on_unit and decode each scan
 * the same bytes. Internal. */
#ifndef DUBBO_PROTOCOL_REST_HTTP1_H
#define DUBBO_PROTOCOL_REST_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"

/* The limits (docs/rest.md): a request line over H1_MAX_LINE is answered
 * 414, a header section over H1_MAX_HEAD bytes or with more than
 * H1_MAX_HEADERS fields 431, a body over the server's payload limit 413. */
#define H1_MAX_LINE    8192
#define H1_MAX_HEAD    16384
#define H1_MAX_HEADERS 100

enum {
    H1_MORE = 0,  /* the header section is not whole yet */
    H1_HEAD = 1,  /* the header section is whole, the body not yet */
    H1_DONE = 2,  /* the whole message */
    H1_ERROR = 3, /* malformed or over a limit: error_status, error */
};

typedef struct {
    const char *name, *value; /* into the scanned bytes; not NUL-terminated */
    size_t nlen, vlen;
} h1_header_t;

typedef struct {
    int state;
    size_t length;    /* H1_DONE: the message's bytes; H1_HEAD: the header section's */
    int error_status; /* H1_ERROR: the HTTP status that answers it (400, 413, 414, 431, 505) */
    char error[200];  /* H1_ERROR: what is wrong, for the answer's body and the log */
    /* from the header section (H1_HEAD, H1_DONE) */
    int method;       /* http_parser's enum http_method (requests) */
    int status;       /* responses */
    int major, minor; /* HTTP version */
    bool keep_alive;  /* the connection stays open after this message */
    bool expect_continue;
    bool chunked;
    uint64_t content_length; /* as announced (0 when none or chunked) */
    const char *url;         /* request target, into the bytes */
    size_t url_len;
    /* filled only when `headers` is given (room for H1_MAX_HEADERS) */
    h1_header_t *headers;
    size_t nheaders;
    /* the body, de-chunked, appended here when given (H1_DONE) */
    dubbo_buf_t *body;
    size_t body_len; /* bytes of body seen */
} h1_msg_t;

/* Scan the message at the front of p[0..n): a request, or a response to a
 * request that was not HEAD. `body_limit` bounds the body (413). m->headers
 * and m->body as wanted (else NULL); the rest of *m is written. Returns
 * m->state; DUBBO_ENOMEM when the body could not be kept. */
int h1_scan(const uint8_t *p, size_t n, bool response, size_t body_limit, h1_msg_t *m);

/* The reason phrase of an HTTP status ("Not Found"; "" when unknown). */
const char *h1_reason(int status);

/* The header's value (case-insensitive name), or NULL; *len set. */
const char *h1_header(const h1_msg_t *m, const char *name, size_t *len);

#endif
