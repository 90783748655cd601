/* The REST protocol's consumer side: a call becomes an HTTP/1.1 request
 * built from its binding (include/dubbo/rest.h: verb, path, each argument
 * into the path, query, a header, a form field or the body), or, without
 * one, Java 3.3's default (POST /{interface}/{method}, a JSON array of
 * the arguments). Requests are pipelined on the pool's connection; HTTP/1
 * answers come in request order, so the connection's state is the queue
 * of call ids framed on it (frame pushes, on_reply pops). An answer is
 * mapped back: 2xx the value (JSON, text or XML by Content-Type), 500
 * with an exception class the exception, other statuses the Dubbo status
 * they stand for (docs/rest.md has the table). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/internal.h"
#include "protocol/rest/http1.h"
#include "protocol/rest/rest.h"

typedef struct {
    char *interface, *version, *group, *authority;
} rclient_t;

void *dubbo__rest_client_open(const char *url, const dubbo_url_t *u)
{
    (void)url;
    rclient_t *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->interface = strdup(dubbo_url_param(u, "interface", u->path));
    c->version = strdup(dubbo_url_param(u, "version", ""));
    c->group = strdup(dubbo_url_param(u, "group", ""));
    size_t al = strlen(u->host) + 16;
    c->authority = malloc(al);
    if (c->authority)
        snprintf(c->authority, al, strchr(u->host, ':') ? "[%s]:%d" : "%s:%d", u->host, u->port);
    if (!c->interface || !c->version || !c->group || !c->authority) {
        dubbo__rest_client_close(c);
        return NULL;
    }
    return c;
}

void dubbo__rest_client_close(void *state)
{
    rclient_t *c = state;
    if (!c) return;
    free(c->interface);
    free(c->version);
    free(c->group);
    free(c->authority);
    free(c);
}

static int puts_(dubbo_buf_t *o, const char *s)
{
    return dubbo_buf_append(o, s, strlen(s));
}

/* A header value from text: no line breaks, no NUL. */
static int put_header(dubbo_buf_t *o, const char *name, const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == '\r' || v[i] == '\n' || v[i] == 0)
            return dubbo__seterr(DUBBO_EINVAL, "rest: header %s would carry a line break", name);
    int rc = puts_(o, name);
    if (!rc) rc = puts_(o, ": ");
    if (!rc) rc = dubbo_buf_append(o, v, n);
    return rc ? rc : puts_(o, "\r\n");
}

static bool token(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

/* The first media kind of a comma-separated list, or `def`. */
static int first_media(const char *list, int def)
{
    if (!list) return def;
    const char *e = strchr(list, ',');
    int k = dubbo__rest_media(list, e ? (size_t)(e - list) : strlen(list));
    return k == REST_MEDIA_NONE ? def : k;
}

static int body_of(dubbo_buf_t *b, int kind, const dubbo_value_t *v)
{
    switch (kind) {
    case REST_MEDIA_TEXT:
    case REST_MEDIA_HTML: return dubbo__rest_to_text(b, v);
    case REST_MEDIA_XML: return dubbo__rest_put_xml(b, v);
    case REST_MEDIA_FORM: {
        int rc = 0;
        if (!v || v->type != DUBBO_T_MAP)
            return dubbo__seterr(DUBBO_EINVAL, "rest: a form body must be a map");
        for (size_t i = 0; !rc && i < v->u.map.len; i++) {
            dubbo_buf_t t;
            dubbo_buf_init(&t, 0);
            if (i) rc = puts_(b, "&");
            if (!rc) rc = dubbo__rest_to_text(&t, v->u.map.items[i].key);
            if (!rc) rc = dubbo__rest_escape(b, (const char *)t.base, t.len, false);
            t.len = 0;
            if (!rc) rc = puts_(b, "=");
            if (!rc) rc = dubbo__rest_to_text(&t, v->u.map.items[i].value);
            if (!rc) rc = dubbo__rest_escape(b, (const char *)t.base, t.len, false);
            dubbo_buf_destroy(&t);
        }
        return rc;
    }
    default: return dubbo__rest_put_json(b, v);
    }
}

/* The request line's target and the body from a binding's mapping. */
static int from_mapping(const rest_map_info_t *mi, const dubbo_invocation_t *inv,
                        dubbo_buf_t *target, dubbo_buf_t *hdrs, dubbo_buf_t *body, int *ctype)
{
    if (inv->nargs != mi->nparams)
        return dubbo__seterr(DUBBO_EINVAL,
                             "rest: %s takes %zu argument(s) by its mapping, %zu given", mi->method,
                             mi->nparams, inv->nargs);
    int rc = 0;
    dubbo_buf_t t;
    dubbo_buf_init(&t, 0);
    /* the path, its variables filled */
    const char *p = mi->path + 1;
    while (!rc && *p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n) {
            rc = puts_(target, "/");
            if (!rc && n >= 2 && p[0] == '{' && p[n - 1] == '}') {
                size_t i = 0;
                while (i < mi->nparams && !(mi->params[i].from == DUBBO_REST_PATH &&
                                            strlen(mi->params[i].name) == n - 2 &&
                                            memcmp(mi->params[i].name, p + 1, n - 2) == 0))
                    i++;
                t.len = 0;
                if (i == mi->nparams) rc = DUBBO_EINVAL;
                if (!rc) rc = dubbo__rest_to_text(&t, inv->args[i]);
                if (!rc && !t.len)
                    rc = dubbo__seterr(DUBBO_EINVAL, "rest: %s: path variable %s is empty",
                                       mi->method, mi->params[i].name);
                if (!rc) rc = dubbo__rest_escape(target, (const char *)t.base, t.len, false);
            } else if (!rc) {
                rc = dubbo_buf_append(target, p, n);
            }
        }
        if (!e) break;
        p = e + 1;
    }
    if (!rc && !target->len) rc = puts_(target, "/");
    bool q1 = true, form = false;
    for (size_t i = 0; !rc && i < mi->nparams; i++) {
        const dubbo_rest_param_t *pp = &mi->params[i];
        const dubbo_value_t *v = inv->args[i];
        bool null = !v || v->type == DUBBO_T_NULL;
        t.len = 0;
        switch (pp->from) {
        case DUBBO_REST_QUERY:
            if (null) break;
            rc = puts_(target, q1 ? "?" : "&");
            q1 = false;
            if (!rc) rc = dubbo__rest_escape(target, pp->name, strlen(pp->name), false);
            if (!rc) rc = puts_(target, "=");
            if (!rc) rc = dubbo__rest_to_text(&t, v);
            if (!rc) rc = dubbo__rest_escape(target, (const char *)t.base, t.len, false);
            break;
        case DUBBO_REST_HEADER:
            if (null) break;
            rc = dubbo__rest_to_text(&t, v);
            if (!rc) rc = put_header(hdrs, pp->name, (const char *)t.base, t.len);
            break;
        case DUBBO_REST_FORM:
            if (null) break;
            if (form) rc = puts_(body, "&");
            form = true;
            *ctype = REST_MEDIA_FORM;
            if (!rc) rc = dubbo__rest_escape(body, pp->name, strlen(pp->name), false);
            if (!rc) rc = puts_(body, "=");
            if (!rc) rc = dubbo__rest_to_text(&t, v);
            if (!rc) rc = dubbo__rest_escape(body, (const char *)t.base, t.len, false);
            break;
        case DUBBO_REST_BODY:
            if (null) break;
            *ctype = first_media(mi->consumes, REST_MEDIA_JSON);
            rc = body_of(body, *ctype, v);
            break;
        default: break;
        }
    }
    dubbo_buf_destroy(&t);
    return rc;
}

int dubbo__rest_request(void *state, const dubbo_invocation_t *inv, uint64_t id, bool twoway,
                        int timeout_ms, size_t limit, dubbo_buf_t *out)
{
    (void)id;
    (void)twoway;
    rclient_t *c = state;
    dubbo_buf_t target, hdrs, body;
    dubbo_buf_init(&target, 0);
    dubbo_buf_init(&hdrs, 0);
    dubbo_buf_init(&body, 0);
    int ctype = REST_MEDIA_NONE, accept = REST_MEDIA_JSON;
    char verb[8] = "POST";
    int rc = 0;
    dubbo__rest_rdlock();
    const rest_bind_t *b = dubbo__rest_find(c->interface, c->version, c->group);
    const rest_map_t *m = dubbo__rest_find_method(b, inv->method);
    if (m) {
        rest_map_info_t mi;
        dubbo__rest_map_info(m, &mi);
        snprintf(verb, sizeof(verb), "%s", mi.verb);
        accept = first_media(mi.produces, REST_MEDIA_JSON);
        rc = from_mapping(&mi, inv, &target, &hdrs, &body, &ctype);
    }
    dubbo__rest_unlock();
    if (!m) {
        /* Java's default: POST /{interface}/{method}, a JSON array */
        rc = puts_(&target, "/");
        if (!rc) rc = dubbo__rest_escape(&target, c->interface, strlen(c->interface), false);
        if (!rc) rc = puts_(&target, "/");
        if (!rc) rc = dubbo__rest_escape(&target, inv->method, strlen(inv->method), false);
        /* one argument that is not a list goes bare, which Java's
         * one-parameter methods and our provider both read as the argument
         * (Java would take an array as that one argument) */
        const dubbo_value_t *a0 = inv->nargs == 1 ? inv->args[0] : NULL;
        if (inv->nargs == 1 && !(a0 && a0->type == DUBBO_T_LIST)) {
            if (!rc) rc = dubbo__rest_put_json(&body, a0);
        } else {
            if (!rc) rc = puts_(&body, "[");
            for (size_t i = 0; !rc && i < inv->nargs; i++) {
                if (i) rc = puts_(&body, ",");
                if (!rc) rc = dubbo__rest_put_json(&body, inv->args[i]);
            }
            if (!rc) rc = puts_(&body, "]");
        }
        ctype = REST_MEDIA_JSON;
    }
    if (!rc && *c->version) rc = put_header(&hdrs, "version", c->version, strlen(c->version));
    if (!rc && *c->group) rc = put_header(&hdrs, "group", c->group, strlen(c->group));
    for (size_t i = 0; !rc && inv->attachments && inv->attachments[i] && inv->attachments[i + 1];
         i += 2) {
        const char *k = inv->attachments[i], *v = inv->attachments[i + 1];
        if (!token(k))
            rc = dubbo__seterr(DUBBO_EINVAL, "rest: attachment \"%s\" is not a header name", k);
        else
            rc = put_header(&hdrs, k, v, strlen(v));
    }
    if (!rc && body.len > limit)
        rc = dubbo__seterr(DUBBO_ETOO_BIG,
                           "rest: the request body of %s (%zu bytes) is over the "
                           "payload limit %zu",
                           inv->method, body.len, limit);
    char line[256];
    if (!rc) rc = puts_(out, verb);
    if (!rc) rc = puts_(out, " ");
    if (!rc) rc = dubbo_buf_append(out, target.base, target.len);
    snprintf(line, sizeof(line), " HTTP/1.1\r\nHost: %s\r\nAccept: %s\r\n", c->authority,
             dubbo__rest_media_name(accept));
    if (!rc) rc = puts_(out, line);
    if (!rc && timeout_ms > 0) {
        snprintf(line, sizeof(line), "timeout: %d\r\n", timeout_ms);
        rc = puts_(out, line);
    }
    bool has_body =
        body.len || ctype != REST_MEDIA_NONE ||
        (strcmp(verb, "GET") != 0 && strcmp(verb, "HEAD") != 0 && strcmp(verb, "DELETE") != 0);
    if (!rc && has_body) {
        snprintf(line, sizeof(line), "Content-Type: %s\r\nContent-Length: %zu\r\n",
                 dubbo__rest_media_name(ctype == REST_MEDIA_NONE ? REST_MEDIA_JSON : ctype),
                 body.len);
        rc = puts_(out, line);
    }
    if (!rc) rc = dubbo_buf_append(out, hdrs.base, hdrs.len);
    if (!rc) rc = puts_(out, "\r\n");
    if (!rc) rc = dubbo_buf_append(out, body.base, body.len);
    dubbo_buf_destroy(&target);
    dubbo_buf_destroy(&hdrs);
    dubbo_buf_destroy(&body);
    return rc;
}

int64_t dubbo__rest_reply_cut(const uint8_t *p, size_t n, size_t limit)
{
    h1_msg_t m = {0};
    int st = h1_scan(p, n, true, limit, &m);
    if (st == H1_DONE) return (int64_t)m.length;
    if (st == H1_ERROR)
        return dubbo__seterr(DUBBO_EMALFORMED, "rest: a malformed answer: %s", m.error);
    if (st < 0) return st;
    return 0;
}

/* ---- the connection: ids in request order ---- */

typedef struct {
    uint64_t *ids;
    bool *cancelled;
    size_t head, len, cap;
} rconn_t;

int dubbo__rest_cconn_open(dubbo_cconn_t *c, void **state)
{
    (void)c;
    rconn_t *rc = calloc(1, sizeof(*rc));
    if (!rc) return dubbo__seterr(DUBBO_ENOMEM, "rest: out of memory");
    *state = rc;
    return 0;
}

void dubbo__rest_cconn_close(void *state)
{
    rconn_t *rc = state;
    if (!rc) return;
    free(rc->ids);
    free(rc->cancelled);
    free(rc);
}

int dubbo__rest_frame(void *state, dubbo_cconn_t *c, uint64_t id, const uint8_t *bytes, size_t n)
{
    rconn_t *q = state;
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        uint64_t *ids = malloc(cap * sizeof(*ids));
        bool *cn = malloc(cap * sizeof(*cn));
        if (!ids || !cn) {
            free(ids);
            free(cn);
            return dubbo__seterr(DUBBO_ENOMEM, "rest: out of memory");
        }
        for (size_t i = 0; i < q->len; i++) {
            ids[i] = q->ids[(q->head + i) % q->cap];
            cn[i] = q->cancelled[(q->head + i) % q->cap];
        }
        free(q->ids);
        free(q->cancelled);
        q->ids = ids;
        q->cancelled = cn;
        q->cap = cap;
        q->head = 0;
    }
    size_t at = (q->head + q->len) % q->cap;
    q->ids[at] = id;
    q->cancelled[at] = false;
    q->len++;
    return dubbo_cconn_send(c, bytes, n);
}

void dubbo__rest_cancel(void *state, dubbo_cconn_t *c, uint64_t id)
{
    (void)c;
    rconn_t *q = state;
    /* HTTP/1.1 cannot cancel one request: its answer is read and dropped */
    for (size_t i = 0; q && i < q->len; i++)
        if (q->ids[(q->head + i) % q->cap] == id) q->cancelled[(q->head + i) % q->cap] = true;
}

int dubbo__rest_on_reply(dubbo_cconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u)
{
    rconn_t *q = dubbo_cconn_state(c);
    /* 1xx: interim, not the answer */
    if (len > 12 && unit[9] == '1') return 0;
    if (!q || !q->len) {
        dubbo_cconn_close(c, "rest: an answer that no request asked for");
        return 0;
    }
    u->id = q->ids[q->head];
    bool cancelled = q->cancelled[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    u->twoway = true;
    u->tag = 0;
    u->payload = unit;
    u->payload_len = len;
    return cancelled ? 0 : 1;
}

int dubbo__rest_heartbeat(uint64_t id, dubbo_buf_t *out)
{
    /* HTTP/1.1 has no heartbeat; idle connections are kept as they are */
    (void)id;
    (void)out;
    return 1;
}

static int status_of_http(int http)
{
    switch (http) {
    case 400:
    case 405:
    case 406:
    case 411:
    case 413:
    case 414:
    case 415:
    case 431: return DUBBO_STATUS_BAD_REQUEST;
    case 404: return DUBBO_STATUS_SERVICE_NOT_FOUND;
    case 408:
    case 504: return DUBBO_STATUS_SERVER_TIMEOUT;
    case 429:
    case 503: return DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED;
    default: return DUBBO_STATUS_SERVICE_ERROR;
    }
}

int dubbo__rest_reply_decode(const dubbo_unit_t *u, dubbo_result_t *r)
{
    h1_header_t headers[H1_MAX_HEADERS];
    dubbo_buf_t body;
    dubbo_buf_init(&body, 0);
    h1_msg_t m = {.headers = headers, .body = &body};
    int st = h1_scan(u->payload, u->payload_len, true, (size_t)-1, &m);
    if (st != H1_DONE) {
        dubbo_buf_destroy(&body);
        return st < 0 ? st : dubbo__seterr(DUBBO_EMALFORMED, "%s", m.error);
    }
    dubbo_arena_t *a = r->arena;
    size_t cl;
    const char *ct = h1_header(&m, "content-type", &cl);
    int kind = ct ? dubbo__rest_media(ct, cl) : REST_MEDIA_NONE;
    const char *text = body.base ? (const char *)body.base : "";
    int rc = 0;
    /* response headers that are not HTTP's: attachments */
    for (size_t i = 0; i < m.nheaders && !rc; i++) {
        const h1_header_t *h = &m.headers[i];
        static const char *const OWN[] = {
            "content-type",      "content-length", "connection", "date",          "server",
            "transfer-encoding", "keep-alive",     "vary",       "cache-control", NULL};
        bool own = h->nlen > 15 && strncasecmp(h->name, "access-control-", 15) == 0;
        for (const char *const *o = OWN; !own && *o; o++)
            own = strlen(*o) == h->nlen && strncasecmp(*o, h->name, h->nlen) == 0;
        if (own) continue;
        if (!r->attachments && !(r->attachments = dubbo_v_map(a, NULL, 4))) rc = DUBBO_ENOMEM;
        char *k = rc ? NULL : dubbo_arena_strndup(a, h->name, h->nlen);
        for (char *p = k; p && *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
        dubbo_value_t *kv = k ? dubbo_v_string(a, k, h->nlen) : NULL;
        dubbo_value_t *vv = dubbo_v_string(a, h->value, h->vlen);
        if (!rc && (!kv || !vv || dubbo_map_put(a, r->attachments, kv, vv))) rc = DUBBO_ENOMEM;
    }
    if (!rc && m.status >= 200 && m.status < 300) {
        r->status = DUBBO_STATUS_OK;
        if (!body.len || m.status == 204) {
            r->value = dubbo_v_null();
        } else {
            int k = kind == REST_MEDIA_NONE ? REST_MEDIA_JSON : kind;
            if (k == REST_MEDIA_OTHER) k = REST_MEDIA_TEXT;
            rc = dubbo__rest_read_body(a, k, text, body.len, &r->value);
            if (rc && rc != DUBBO_ENOMEM)
                rc = dubbo__seterr(DUBBO_EMALFORMED, "rest: the answer's %s body: %s",
                                   dubbo__rest_media_name(k), dubbo_last_error());
        }
    } else if (!rc) {
        /* {status, message[, exception]} when JSON; the body's text otherwise */
        const char *msg = NULL, *exc = NULL;
        dubbo_value_t *e = NULL;
        if (kind == REST_MEDIA_JSON && !dubbo_value_from_json(a, text, body.len, &e) && e &&
            e->type == DUBBO_T_MAP) {
            dubbo_value_t *mv = dubbo_map_get(e, "message"), *xv = dubbo_map_get(e, "exception");
            if (mv && mv->type == DUBBO_T_STRING) msg = mv->u.s.ptr;
            if (xv && xv->type == DUBBO_T_STRING) exc = xv->u.s.ptr;
        }
        if (!msg) msg = dubbo_arena_strndup(a, text, body.len > 300 ? 300 : body.len);
        if (exc && m.status == 500) {
            r->status = DUBBO_STATUS_OK;
            r->value = dubbo_v_null();
            r->exception = dubbo_exception_new(a, exc, msg);
            char *err = dubbo_arena_alloc(a, strlen(exc) + strlen(msg ? msg : "") + 3);
            if (err) sprintf(err, "%s: %s", exc, msg ? msg : "");
            r->error = err;
            if (!r->exception || !err) rc = DUBBO_ENOMEM;
        } else {
            r->status = status_of_http(m.status);
            char *err = dubbo_arena_alloc(a, strlen(msg ? msg : "") + 40);
            if (err) sprintf(err, "HTTP %d: %s", m.status, msg ? msg : "");
            r->error = err;
            if (!err) rc = DUBBO_ENOMEM;
        }
    }
    dubbo_buf_destroy(&body);
    return rc;
}
