/* REST bodies and parameters: dubbo values to and from plain JSON, text,
 * XML (strings, numbers and flat objects) and forms; percent-encoding.
 * Plain JSON here is what a browser or a Java REST service reads: objects
 * as their fields, no class names (typed JSON, docs/typed-json.md, keeps
 * them; reading accepts both, through dubbo_value_from_json). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/internal.h"
#include "core/utf8.h"
#include "protocol/rest/rest.h"

#define MAX_DEPTH 256

static int puts_(dubbo_buf_t *o, const char *s)
{
    return dubbo_buf_append(o, s, strlen(s));
}

int dubbo__rest_list_next(const char **p, const char **item, size_t *len)
{
    const char *s = *p;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (!*s) {
            *p = s;
            return 0;
        }
        const char *e = s;
        while (*e && *e != ',')
            e++;
        size_t n = (size_t)(e - s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        *p = e;
        if (n) {
            *item = s;
            *len = n;
            return 1;
        }
        s = e;
    }
}

int dubbo__rest_media(const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    size_t k = 0;
    while (k < n && v[k] != ';' && v[k] != ' ' && v[k] != ',')
        k++;
    if (!k) return REST_MEDIA_NONE;
    static const struct {
        const char *name;
        int kind;
    } T[] = {
        {"application/json", REST_MEDIA_JSON},
        {"text/json", REST_MEDIA_JSON},
        {"text/plain", REST_MEDIA_TEXT},
        {"application/xml", REST_MEDIA_XML},
        {"text/xml", REST_MEDIA_XML},
        {"application/x-www-form-urlencoded", REST_MEDIA_FORM},
        {"text/html", REST_MEDIA_HTML},
        {"application/proto", REST_MEDIA_PROTO},
    };
    for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++)
        if (strlen(T[i].name) == k && strncasecmp(v, T[i].name, k) == 0) return T[i].kind;
    return REST_MEDIA_OTHER;
}

const char *dubbo__rest_media_name(int kind)
{
    switch (kind) {
    case REST_MEDIA_JSON: return "application/json";
    case REST_MEDIA_TEXT: return "text/plain";
    case REST_MEDIA_XML: return "application/xml";
    case REST_MEDIA_FORM: return "application/x-www-form-urlencoded";
    case REST_MEDIA_HTML: return "text/html";
    case REST_MEDIA_PROTO: return "application/proto";
    default: return "application/octet-stream";
    }
}

/* ---- writing ------------------------------------------------------------ */

int dubbo__rest_put_json_string(dubbo_buf_t *o, const char *s, size_t n)
{
    int rc = dubbo_buf_append(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        rc = dubbo_buf_append(o, s + run, i - run);
        char esc[8];
        switch (c) {
        case '"': memcpy(esc, "\\\"", 3); break;
        case '\\': memcpy(esc, "\\\\", 3); break;
        case '\n': memcpy(esc, "\\n", 3); break;
        case '\r': memcpy(esc, "\\r", 3); break;
        case '\t': memcpy(esc, "\\t", 3); break;
        default: snprintf(esc, sizeof(esc), "\\u%04x", c);
        }
        if (!rc) rc = puts_(o, esc);
        run = i + 1;
    }
    if (!rc) rc = dubbo_buf_append(o, s + run, n - run);
    return rc ? rc : dubbo_buf_append(o, "\"", 1);
}

static int put_double(dubbo_buf_t *o, double d)
{
    if (!isfinite(d))
        return puts_(o, isnan(d) ? "\"NaN\"" : d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    char b[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(b, sizeof(b), "%.*g", prec, d);
        if (strtod(b, NULL) == d) break;
    }
    if (!strpbrk(b, ".eEn")) strcat(b, ".0");
    return puts_(o, b);
}

static int put_json(dubbo_buf_t *o, const dubbo_value_t *v, int depth)
{
    if (depth > MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "rest: a value nested deeper than %d (or circular)",
                             MAX_DEPTH);
    char b[40];
    if (!v) return puts_(o, "null");
    switch (v->type) {
    case DUBBO_T_NULL: return puts_(o, "null");
    case DUBBO_T_BOOL: return puts_(o, v->u.b ? "true" : "false");
    case DUBBO_T_INT: snprintf(b, sizeof(b), "%d", v->u.i); return puts_(o, b);
    case DUBBO_T_LONG:
    case DUBBO_T_DATE: snprintf(b, sizeof(b), "%lld", (long long)v->u.l); return puts_(o, b);
    case DUBBO_T_DOUBLE: return put_double(o, v->u.d);
    case DUBBO_T_STRING: return dubbo__rest_put_json_string(o, v->u.s.ptr, v->u.s.len);
    case DUBBO_T_BINARY: {
        dubbo_buf_t t;
        dubbo_buf_init(&t, 0);
        int rc = dubbo__base64_encode((const uint8_t *)v->u.s.ptr, v->u.s.len, &t);
        if (!rc) rc = dubbo__rest_put_json_string(o, t.base ? (const char *)t.base : "", t.len);
        dubbo_buf_destroy(&t);
        return rc;
    }
    case DUBBO_T_LIST: {
        int rc = puts_(o, "[");
        for (size_t i = 0; !rc && i < v->u.list.len; i++) {
            if (i) rc = puts_(o, ",");
            if (!rc) rc = put_json(o, v->u.list.items[i], depth + 1);
        }
        return rc ? rc : puts_(o, "]");
    }
    case DUBBO_T_MAP: {
        int rc = puts_(o, "{");
        for (size_t i = 0; !rc && i < v->u.map.len; i++) {
            if (i) rc = puts_(o, ",");
            const dubbo_value_t *k = v->u.map.items[i].key;
            if (!rc && k && k->type == DUBBO_T_STRING) {
                rc = dubbo__rest_put_json_string(o, k->u.s.ptr, k->u.s.len);
            } else if (!rc) {
                dubbo_buf_t kt;
                dubbo_buf_init(&kt, 0);
                rc = dubbo__rest_to_text(&kt, k);
                if (!rc) rc = dubbo__rest_put_json_string(o, (const char *)kt.base, kt.len);
                dubbo_buf_destroy(&kt);
            }
            if (!rc) rc = puts_(o, ":");
            if (!rc) rc = put_json(o, v->u.map.items[i].value, depth + 1);
        }
        return rc ? rc : puts_(o, "}");
    }
    case DUBBO_T_OBJECT: {
        const dubbo_class_t *c = v->u.obj.cls;
        int rc = puts_(o, "{");
        /* an enum (Hessian: an object with one field "name") as its name */
        if (c && c->nfields == 1 && strcmp(c->fields[0], "name") == 0 && v->u.obj.fields[0] &&
            v->u.obj.fields[0]->type == DUBBO_T_STRING) {
            o->len--;
            return put_json(o, v->u.obj.fields[0], depth + 1);
        }
        bool first = true;
        for (size_t i = 0; !rc && c && i < c->nfields; i++) {
            /* Throwable's bookkeeping fields are not part of a REST body */
            if (strcmp(c->fields[i], "stackTrace") == 0 ||
                strcmp(c->fields[i], "suppressedExceptions") == 0)
                continue;
            if (!first) rc = puts_(o, ",");
            first = false;
            if (!rc) rc = dubbo__rest_put_json_string(o, c->fields[i], strlen(c->fields[i]));
            if (!rc) rc = puts_(o, ":");
            if (!rc) rc = put_json(o, v->u.obj.fields[i], depth + 1);
        }
        return rc ? rc : puts_(o, "}");
    }
    }
    return puts_(o, "null");
}

int dubbo__rest_put_json(dubbo_buf_t *out, const dubbo_value_t *v)
{
    size_t at = out->len;
    int rc = put_json(out, v, 0);
    if (rc) out->len = at;
    return rc;
}

int dubbo__rest_to_text(dubbo_buf_t *o, const dubbo_value_t *v)
{
    char b[40];
    if (!v || v->type == DUBBO_T_NULL) return puts_(o, "null");
    switch (v->type) {
    case DUBBO_T_STRING: return dubbo_buf_append(o, v->u.s.ptr, v->u.s.len);
    case DUBBO_T_BOOL: return puts_(o, v->u.b ? "true" : "false");
    case DUBBO_T_INT: snprintf(b, sizeof(b), "%d", v->u.i); return puts_(o, b);
    case DUBBO_T_LONG:
    case DUBBO_T_DATE: snprintf(b, sizeof(b), "%lld", (long long)v->u.l); return puts_(o, b);
    case DUBBO_T_DOUBLE: {
        size_t at = o->len;
        int rc = put_double(o, v->u.d);
        /* text has no quotes around NaN */
        if (!rc && o->base[at] == '"') {
            memmove(o->base + at, o->base + at + 1, o->len - at - 2);
            o->len -= 2;
        }
        return rc;
    }
    case DUBBO_T_BINARY: return dubbo__base64_encode((const uint8_t *)v->u.s.ptr, v->u.s.len, o);
    default: return dubbo__rest_put_json(o, v);
    }
}

int dubbo__rest_put_text(dubbo_buf_t *o, const dubbo_value_t *v)
{
    return dubbo__rest_to_text(o, v);
}

static int put_xml_text(dubbo_buf_t *o, const char *s, size_t n)
{
    if (!n) return 0;
    int rc = 0;
    size_t run = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        const char *e = NULL;
        switch (s[i]) {
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '&': e = "&amp;"; break;
        case '"': e = "&quot;"; break;
        default: continue;
        }
        rc = dubbo_buf_append(o, s + run, i - run);
        if (!rc) rc = puts_(o, e);
        run = i + 1;
    }
    return rc ? rc : dubbo_buf_append(o, s + run, n - run);
}

/* An element name from a field or class name: letters, digits, '_', '-',
 * '.'; anything else becomes '_'. */
static int put_name(dubbo_buf_t *o, const char *s)
{
    int rc = 0;
    if (!*s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        rc = puts_(o, "_");
    for (; !rc && *s; s++) {
        char c = *s;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        rc = dubbo_buf_append(o, ok ? &c : "_", 1);
    }
    return rc;
}

static int put_xml(dubbo_buf_t *o, const char *name, const dubbo_value_t *v, int depth)
{
    if (depth > MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "rest: a value nested deeper than %d (or circular)",
                             MAX_DEPTH);
    int rc = puts_(o, "<");
    if (!rc) rc = put_name(o, name);
    if (!rc && (!v || v->type == DUBBO_T_NULL)) return puts_(o, "/>");
    if (!rc) rc = puts_(o, ">");
    if (rc) return rc;
    switch (v->type) {
    case DUBBO_T_LIST:
        for (size_t i = 0; !rc && i < v->u.list.len; i++)
            rc = put_xml(o, "item", v->u.list.items[i], depth + 1);
        break;
    case DUBBO_T_MAP:
        for (size_t i = 0; !rc && i < v->u.map.len; i++) {
            dubbo_buf_t k;
            dubbo_buf_init(&k, 0);
            rc = dubbo__rest_to_text(&k, v->u.map.items[i].key);
            if (!rc) rc = dubbo_buf_append(&k, "", 1);
            if (!rc) rc = put_xml(o, (const char *)k.base, v->u.map.items[i].value, depth + 1);
            dubbo_buf_destroy(&k);
        }
        break;
    case DUBBO_T_OBJECT:
        for (size_t i = 0; !rc && v->u.obj.cls && i < v->u.obj.cls->nfields; i++) {
            const char *f = v->u.obj.cls->fields[i];
            if (strcmp(f, "stackTrace") == 0 || strcmp(f, "suppressedExceptions") == 0) continue;
            rc = put_xml(o, f, v->u.obj.fields[i], depth + 1);
        }
        break;
    default: {
        dubbo_buf_t t;
        dubbo_buf_init(&t, 0);
        rc = dubbo__rest_to_text(&t, v);
        if (!rc) rc = put_xml_text(o, (const char *)t.base, t.len);
        dubbo_buf_destroy(&t);
    }
    }
    if (!rc) rc = puts_(o, "</");
    if (!rc) rc = put_name(o, name);
    return rc ? rc : puts_(o, ">");
}

int dubbo__rest_put_xml(dubbo_buf_t *out, const dubbo_value_t *v)
{
    const char *root = "value";
    if (v && v->type == DUBBO_T_OBJECT && v->u.obj.cls) {
        const char *dot = strrchr(v->u.obj.cls->name, '.');
        root = dot ? dot + 1 : v->u.obj.cls->name;
    } else if (v && v->type == DUBBO_T_MAP) {
        root = "map";
    } else if (v && v->type == DUBBO_T_LIST) {
        root = "list";
    }
    size_t at = out->len;
    int rc = puts_(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    if (!rc) rc = put_xml(out, root, v, 0);
    if (rc) out->len = at;
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *dubbo__rest_unescape(dubbo_arena_t *a, const char *s, size_t n, bool plus, size_t *len)
{
    char *o = dubbo_arena_alloc(a, n + 1);
    if (!o) {
        dubbo__seterr(DUBBO_ENOMEM, "rest: out of memory");
        return NULL;
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h = i + 2 < n ? hexv((unsigned char)s[i + 1]) : -1;
            int l = h >= 0 ? hexv((unsigned char)s[i + 2]) : -1;
            if (l < 0) {
                dubbo__seterr(DUBBO_EMALFORMED, "bad percent-encoding \"%.*s\" at offset %zu",
                              (int)(n - i < 3 ? n - i : 3), s + i, i);
                return NULL;
            }
            o[w++] = (char)(h << 4 | l);
            i += 2;
        } else {
            o[w++] = plus && s[i] == '+' ? ' ' : s[i];
        }
    }
    o[w] = 0;
    if (!dubbo__utf8_valid((const uint8_t *)o, w)) {
        dubbo__seterr(DUBBO_EMALFORMED, "\"%.*s\" does not decode to UTF-8 text",
                      (int)(n > 60 ? 60 : n), s);
        return NULL;
    }
    *len = w;
    return o;
}

int dubbo__rest_escape(dubbo_buf_t *out, const char *s, size_t n, bool keep_slash)
{
    static const char HEX[] = "0123456789ABCDEF";
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
        if (keep) {
            rc = dubbo_buf_append(out, &s[i], 1);
        } else {
            char e[3] = {'%', HEX[c >> 4], HEX[c & 15]};
            rc = dubbo_buf_append(out, e, 3);
        }
    }
    return rc;
}

dubbo_value_t *dubbo__rest_convert(dubbo_arena_t *a, const char *type, const char *t, size_t n)
{
    dubbo_value_t *v = NULL;
    char buf[64];
    if (!type || strcmp(type, "string") == 0) {
        v = dubbo_v_string(a, t, n);
    } else if (strcmp(type, "object") == 0) {
        int rc = dubbo_value_from_json(a, t, n, &v);
        if (rc) {
            dubbo__seterr(DUBBO_EMALFORMED, "\"%.*s\" is not JSON (%s)", (int)(n > 60 ? 60 : n), t,
                          dubbo_last_error());
            return NULL;
        }
        return v;
    } else if (strcmp(type, "boolean") == 0) {
        if (n == 4 && strncasecmp(t, "true", 4) == 0)
            v = dubbo_v_bool(a, true);
        else if (n == 5 && strncasecmp(t, "false", 5) == 0)
            v = dubbo_v_bool(a, false);
        else {
            dubbo__seterr(DUBBO_EMALFORMED, "\"%.*s\" is not a boolean (true or false)",
                          (int)(n > 60 ? 60 : n), t);
            return NULL;
        }
    } else {
        if (!n || n >= sizeof(buf)) goto bad;
        memcpy(buf, t, n);
        buf[n] = 0;
        char *end;
        errno = 0;
        if (strcmp(type, "double") == 0) {
            double d = strtod(buf, &end);
            if (*end || errno == ERANGE || buf[0] == ' ') goto bad;
            v = dubbo_v_double(a, d);
        } else {
            long long l = strtoll(buf, &end, 10);
            if (*end || errno == ERANGE || buf[0] == ' ' || buf[0] == '+') goto bad;
            if (strcmp(type, "int") == 0) {
                if (l < INT32_MIN || l > INT32_MAX) goto bad;
                v = dubbo_v_int(a, (int32_t)l);
            } else {
                v = dubbo_v_long(a, l);
            }
        }
    }
    if (!v) dubbo__seterr(DUBBO_ENOMEM, "rest: out of memory");
    return v;
bad:
    dubbo__seterr(DUBBO_EMALFORMED, "\"%.*s\" is not %s %s", (int)(n > 60 ? 60 : n), t,
                  strcmp(type, "int") == 0 ? "an" : "a", type);
    return NULL;
}

/* ---- XML: one root element, its text or its child elements' texts ------ */

typedef struct {
    const char *s;
    size_t n, p;
} xr_t;

static void xws(xr_t *x)
{
    while (x->p < x->n && strchr(" \t\r\n", x->s[x->p]))
        x->p++;
}

static bool xstarts(xr_t *x, const char *w)
{
    size_t k = strlen(w);
    return x->n - x->p >= k && memcmp(x->s + x->p, w, k) == 0;
}

/* Skip the prolog: <?xml ...?>, comments; a DOCTYPE is refused (no
 * entities: nothing to expand). */
static int xprolog(xr_t *x)
{
    for (;;) {
        xws(x);
        if (xstarts(x, "<?")) {
            const char *e = memmem(x->s + x->p, x->n - x->p, "?>", 2);
            if (!e)
                return dubbo__seterr(DUBBO_EMALFORMED, "XML: an unterminated <? at offset %zu",
                                     x->p);
            x->p = (size_t)(e - x->s) + 2;
        } else if (xstarts(x, "<!--")) {
            const char *e = memmem(x->s + x->p, x->n - x->p, "-->", 3);
            if (!e)
                return dubbo__seterr(DUBBO_EMALFORMED, "XML: an unterminated comment at offset %zu",
                                     x->p);
            x->p = (size_t)(e - x->s) + 3;
        } else if (xstarts(x, "<!")) {
            return dubbo__seterr(DUBBO_EUNSUPPORTED,
                                 "XML: a DOCTYPE or declaration at offset %zu (not accepted)",
                                 x->p);
        } else {
            return 0;
        }
    }
}

static int xname(xr_t *x, const char **name, size_t *len)
{
    size_t b = x->p;
    while (x->p < x->n && !strchr(" \t\r\n/>=<", x->s[x->p]))
        x->p++;
    if (x->p == b)
        return dubbo__seterr(DUBBO_EMALFORMED, "XML: an element name expected at offset %zu", b);
    *name = x->s + b;
    *len = x->p - b;
    return 0;
}

/* <name attrs...> or <name/>: 1 when empty (self-closed). */
static int xopen(xr_t *x, const char **name, size_t *len)
{
    if (x->p >= x->n || x->s[x->p] != '<')
        return dubbo__seterr(DUBBO_EMALFORMED, "XML: '<' expected at offset %zu", x->p);
    x->p++;
    int rc = xname(x, name, len);
    if (rc) return rc;
    /* attributes are skipped */
    char q = 0;
    while (x->p < x->n) {
        char c = x->s[x->p];
        if (q) {
            if (c == q) q = 0;
        } else if (c == '"' || c == '\'') {
            q = c;
        } else if (c == '>') {
            x->p++;
            return 0;
        } else if (c == '/' && x->p + 1 < x->n && x->s[x->p + 1] == '>') {
            x->p += 2;
            return 1;
        } else if (c == '<') {
            break;
        }
        x->p++;
    }
    return dubbo__seterr(DUBBO_EMALFORMED, "XML: an unterminated start tag <%.*s at offset %zu",
                         (int)*len, *name, x->p);
}

/* Character data up to the next '<', entities replaced, into the arena. */
static int xtext(dubbo_arena_t *a, xr_t *x, dubbo_value_t **out)
{
    size_t b = x->p;
    while (x->p < x->n && x->s[x->p] != '<')
        x->p++;
    dubbo_buf_t t;
    dubbo_buf_init(&t, 0);
    int rc = 0;
    for (size_t i = b; !rc && i < x->p; i++) {
        if (x->s[i] != '&') {
            rc = dubbo_buf_append(&t, &x->s[i], 1);
            continue;
        }
        const char *semi = memchr(x->s + i, ';', x->p - i);
        size_t k = semi ? (size_t)(semi - (x->s + i)) : 0;
        const char *e = x->s + i + 1;
        char c = 0;
        char u8[4];
        size_t ul = 0;
        if (k == 3 && memcmp(e, "lt", 2) == 0)
            c = '<';
        else if (k == 3 && memcmp(e, "gt", 2) == 0)
            c = '>';
        else if (k == 4 && memcmp(e, "amp", 3) == 0)
            c = '&';
        else if (k == 5 && memcmp(e, "quot", 4) == 0)
            c = '"';
        else if (k == 5 && memcmp(e, "apos", 4) == 0)
            c = '\'';
        else if (k >= 3 && k <= 10 && e[0] == '#') {
            char num[12];
            memcpy(num, e + 1, k - 2);
            num[k - 2] = 0;
            char *end;
            unsigned long cp = num[0] == 'x' ? strtoul(num + 1, &end, 16) : strtoul(num, &end, 10);
            if (*end || !cp || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
                rc = dubbo__seterr(DUBBO_EMALFORMED, "XML: a bad character reference at offset %zu",
                                   i);
                break;
            }
            ul = dubbo__utf8_put(u8, (uint32_t)cp);
        } else {
            rc = dubbo__seterr(DUBBO_EMALFORMED, "XML: an unknown entity at offset %zu", i);
            break;
        }
        rc = ul ? dubbo_buf_append(&t, u8, ul) : dubbo_buf_append(&t, &c, 1);
        i += k;
    }
    if (!rc) {
        *out = dubbo_v_string(a, t.base ? (const char *)t.base : "", t.len);
        if (!*out) rc = DUBBO_ENOMEM;
    }
    dubbo_buf_destroy(&t);
    return rc;
}

static int xclose(xr_t *x, const char *name, size_t len)
{
    if (!xstarts(x, "</") || x->n - x->p < len + 3 || memcmp(x->s + x->p + 2, name, len) != 0)
        return dubbo__seterr(DUBBO_EMALFORMED, "XML: </%.*s> expected at offset %zu", (int)len,
                             name, x->p);
    x->p += 2 + len;
    xws(x);
    if (x->p >= x->n || x->s[x->p] != '>')
        return dubbo__seterr(DUBBO_EMALFORMED, "XML: '>' expected at offset %zu", x->p);
    x->p++;
    return 0;
}

static int read_xml(dubbo_arena_t *a, const char *s, size_t n, dubbo_value_t **out)
{
    xr_t x = {s, n, 0};
    const char *name, *cn;
    size_t len, cl;
    int rc = xprolog(&x);
    if (rc) return rc;
    rc = xopen(&x, &name, &len);
    if (rc < 0) return rc;
    if (rc == 1) {
        *out = dubbo_v_null();
    } else {
        size_t save = x.p;
        xws(&x);
        if (xstarts(&x, "<") && !xstarts(&x, "</")) {
            /* child elements: a flat object, as a map of their texts */
            dubbo_value_t *m = dubbo_v_map(a, NULL, 4);
            if (!m) return DUBBO_ENOMEM;
            while (xstarts(&x, "<") && !xstarts(&x, "</")) {
                if (xstarts(&x, "<!--")) {
                    if ((rc = xprolog(&x))) return rc;
                    continue;
                }
                int e = xopen(&x, &cn, &cl);
                if (e < 0) return e;
                dubbo_value_t *v = dubbo_v_null();
                if (e == 0) {
                    if ((rc = xtext(a, &x, &v))) return rc;
                    if (xstarts(&x, "<") && !xstarts(&x, "</"))
                        return dubbo__seterr(DUBBO_EUNSUPPORTED,
                                             "XML: <%.*s> nests elements at offset %zu (flat "
                                             "objects only)",
                                             (int)cl, cn, x.p);
                    if ((rc = xclose(&x, cn, cl))) return rc;
                }
                dubbo_value_t *k = dubbo_v_string(a, cn, cl);
                if (!k || dubbo_map_put(a, m, k, v)) return DUBBO_ENOMEM;
                xws(&x);
            }
            *out = m;
        } else {
            x.p = save;
            if ((rc = xtext(a, &x, out))) return rc;
        }
        if ((rc = xclose(&x, name, len))) return rc;
    }
    xws(&x);
    while (xstarts(&x, "<!--") || xstarts(&x, "<?")) {
        if ((rc = xprolog(&x))) return rc;
        xws(&x);
    }
    if (x.p != x.n)
        return dubbo__seterr(DUBBO_EMALFORMED, "XML: bytes after the root element at offset %zu",
                             x.p);
    return 0;
}

/* a=1&b=2 into a map of decoded strings (a repeated name: the first) */
static int read_form(dubbo_arena_t *a, const char *s, size_t n, dubbo_value_t **out)
{
    dubbo_value_t *m = dubbo_v_map(a, NULL, 4);
    if (!m) return DUBBO_ENOMEM;
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != '&')
            e++;
        if (e > i) {
            const char *eq = memchr(s + i, '=', e - i);
            size_t kl = eq ? (size_t)(eq - (s + i)) : e - i;
            size_t dk, dv;
            char *k = dubbo__rest_unescape(a, s + i, kl, true, &dk);
            if (!k) return DUBBO_EMALFORMED;
            char *v =
                eq ? dubbo__rest_unescape(a, eq + 1, (size_t)(s + e - eq - 1), true, &dv) : "";
            if (!v) return DUBBO_EMALFORMED;
            if (!eq) dv = 0;
            if (!dubbo_map_get(m, k)) {
                dubbo_value_t *kv = dubbo_v_string(a, k, dk), *vv = dubbo_v_string(a, v, dv);
                if (!kv || !vv || dubbo_map_put(a, m, kv, vv)) return DUBBO_ENOMEM;
            }
        }
        i = e + 1;
    }
    *out = m;
    return 0;
}

int dubbo__rest_read_body(dubbo_arena_t *a, int kind, const char *body, size_t n,
                          dubbo_value_t **out)
{
    switch (kind) {
    case REST_MEDIA_JSON: {
        if (!dubbo__utf8_valid((const uint8_t *)body, n))
            return dubbo__seterr(DUBBO_EMALFORMED, "the JSON body is not UTF-8");
        int rc = dubbo_value_from_json(a, body, n, out);
        if (rc) {
            char why[200];
            snprintf(why, sizeof(why), "%s", dubbo_last_error());
            return dubbo__seterr(rc, "the JSON body does not read: %s", why);
        }
        return 0;
    }
    case REST_MEDIA_TEXT:
    case REST_MEDIA_HTML:
        if (!dubbo__utf8_valid((const uint8_t *)body, n))
            return dubbo__seterr(DUBBO_EMALFORMED, "the text body is not UTF-8");
        *out = dubbo_v_string(a, body, n);
        return *out ? 0 : DUBBO_ENOMEM;
    case REST_MEDIA_XML:
        if (!dubbo__utf8_valid((const uint8_t *)body, n))
            return dubbo__seterr(DUBBO_EMALFORMED, "the XML body is not UTF-8");
        return read_xml(a, body, n, out);
    case REST_MEDIA_FORM: return read_form(a, body, n, out);
    default: return dubbo__seterr(DUBBO_EUNSUPPORTED, "a body of that media type is not read here");
    }
}
