/* The fastjson serialization of the Dubbo protocol (header id 6), as Java
 * Dubbo 3.x's org.apache.dubbo.extensions:dubbo-serialization-fastjson
 * writes it: each value is a 4-byte big-endian length and then one text in
 * fastjson's dialect of JSON with class names (WriteClassName): "@type" in
 * maps and objects, 5L / 3S / 4B / 2.5D number suffixes, x'0A1B' for byte[],
 * new Date(ms), Set[..]. The older framing (Dubbo 2.7, dubbo-erlang: a JSON
 * text and a line break) is read too. docs/serialization-json.md has the
 * mapping to dubbo values and what it loses. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/serialization.h"
#include "core/internal.h"
#include "core/utf8.h"

/* Deeper nesting than this is refused, reading and writing (also what stops
 * a circular value graph). */
#define FJ_MAX_DEPTH 512

/* ---- reader ----------------------------------------------------------- */

enum { FRAMING_UNKNOWN, FRAMING_LENGTH, FRAMING_LINE };

typedef struct {
    dubbo_arena_t *arena;
    const uint8_t *in;
    size_t len, pos;
    int framing;
    /* the text being parsed: in[p..end) */
    size_t p, end;
} reader_t;

/* A value the arena could not give: its limit (DUBBO_ETOO_BIG, the usual
 * case: hostile input) or no memory (DUBBO_ENOMEM), as the arena said. */
static int arena_err(void)
{
    return dubbo__last_code() == DUBBO_ENOMEM ? DUBBO_ENOMEM : DUBBO_ETOO_BIG;
}

static int perr(reader_t *r, int code, const char *what)
{
    return dubbo__seterr(code, "fastjson: %s at offset %zu", what, r->p);
}

static void skip_ws(reader_t *r)
{
    while (r->p < r->end) {
        uint8_t c = r->in[r->p];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\b') break;
        r->p++;
    }
}

static bool take(reader_t *r, const char *word)
{
    size_t n = strlen(word);
    if (r->end - r->p < n || memcmp(r->in + r->p, word, n) != 0) return false;
    r->p += n;
    return true;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(reader_t *r, uint32_t *out)
{
    if (r->end - r->p < 4) return perr(r, DUBBO_EMALFORMED, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(r->in[r->p + (size_t)i]);
        if (h < 0) return perr(r, DUBBO_EMALFORMED, "bad \\u escape");
        v = v << 4 | (uint32_t)h;
    }
    r->p += 4;
    *out = v;
    return 0;
}

/* A string at r->p (on its opening quote): UTF-8 checked, escapes decoded
 * (a lone surrogate escape is kept as WTF-8, as Java strings can hold one). */
static int parse_string(reader_t *r, const char **out, size_t *outlen)
{
    size_t start = r->p++;
    /* Decoded text is never longer than the quoted text. */
    size_t q = r->p;
    while (q < r->end && r->in[q] != '"')
        q += r->in[q] == '\\' ? 2 : 1;
    if (q >= r->end) {
        r->p = start;
        return perr(r, DUBBO_EMALFORMED, "unterminated string");
    }
    char *buf = dubbo_arena_alloc(r->arena, q - r->p + 1);
    if (!buf) return arena_err();
    size_t n = 0;
    for (;;) {
        uint8_t c = r->in[r->p];
        if (c == '"') break;
        if (c < 0x20) return perr(r, DUBBO_EMALFORMED, "control character in a string");
        if (c != '\\') {
            size_t k = dubbo__utf8_len(r->in + r->p, r->end - r->p);
            if (!k) return perr(r, DUBBO_EMALFORMED, "invalid UTF-8 in a string");
            memcpy(buf + n, r->in + r->p, k);
            n += k;
            r->p += k;
            continue;
        }
        r->p++;
        uint8_t e = r->in[r->p++];
        switch (e) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case '\'': buf[n++] = '\''; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            uint32_t cp;
            int rc = hex4(r, &cp);
            if (rc) return rc;
            if (cp >= 0xd800 && cp <= 0xdbff && r->end - r->p >= 6 && r->in[r->p] == '\\' &&
                r->in[r->p + 1] == 'u') {
                size_t save = r->p;
                uint32_t lo;
                r->p += 2;
                if (!hex4(r, &lo) && lo >= 0xdc00 && lo <= 0xdfff)
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                else
                    r->p = save;
            }
            /* 6 escaped bytes (12 for a pair) always hold the <= 4 written */
            n += dubbo__utf8_put(buf + n, cp);
            break;
        }
        default: r->p -= 2; return perr(r, DUBBO_EMALFORMED, "bad escape in a string");
        }
    }
    r->p++; /* the closing quote */
    buf[n] = 0;
    *out = buf;
    *outlen = n;
    return 0;
}

static dubbo_value_t *bigdec(reader_t *r, const char *cls, const char *text, size_t len)
{
    static const char *const value_field[] = {"value"};
    dubbo_class_t *c = dubbo_class_new(r->arena, cls, 1, value_field);
    dubbo_value_t *o = c ? dubbo_v_object(r->arena, c) : NULL;
    dubbo_value_t *s = o ? dubbo_v_string(r->arena, text, len) : NULL;
    if (!s) return NULL;
    o->u.obj.fields[0] = s;
    return o;
}

/* A number: JSON's grammar plus one of fastjson's type suffixes. */
static int parse_number(reader_t *r, dubbo_value_t **out)
{
    size_t start = r->p;
    const uint8_t *s = r->in;
    size_t p = r->p;
    if (p < r->end && s[p] == '-') p++;
    size_t digits = p;
    while (p < r->end && s[p] >= '0' && s[p] <= '9')
        p++;
    if (p == digits) return perr(r, DUBBO_EMALFORMED, "bad number");
    bool integral = true;
    if (p < r->end && s[p] == '.') {
        integral = false;
        size_t f = ++p;
        while (p < r->end && s[p] >= '0' && s[p] <= '9')
            p++;
        if (p == f) return perr(r, DUBBO_EMALFORMED, "bad number (no digit after '.')");
    }
    if (p < r->end && (s[p] == 'e' || s[p] == 'E')) {
        integral = false;
        p++;
        if (p < r->end && (s[p] == '+' || s[p] == '-')) p++;
        size_t f = p;
        while (p < r->end && s[p] >= '0' && s[p] <= '9')
            p++;
        if (p == f) return perr(r, DUBBO_EMALFORMED, "bad number (no exponent digits)");
    }
    size_t numlen = p - start;
    char suffix = 0;
    if (p < r->end && s[p] && strchr("LSBFD", s[p])) suffix = (char)s[p++];
    char tmp[400];
    if (numlen >= sizeof(tmp)) return perr(r, DUBBO_EMALFORMED, "number longer than 399 digits");
    memcpy(tmp, s + start, numlen);
    tmp[numlen] = 0;
    r->p = p;
    if (suffix == 'F' || suffix == 'D') {
        double d = strtod(tmp, NULL);
        if (!isfinite(d)) {
            r->p = start;
            return perr(r, DUBBO_EMALFORMED, "number out of the double range");
        }
        *out = dubbo_v_double(r->arena, d);
        return *out ? 0 : arena_err();
    }
    if (!integral) {
        if (suffix) {
            r->p = start;
            return perr(r, DUBBO_EMALFORMED, "integer type suffix on a decimal number");
        }
        /* fastjson reads a decimal without a suffix as a BigDecimal */
        *out = bigdec(r, "java.math.BigDecimal", tmp, numlen);
        return *out ? 0 : arena_err();
    }
    char *e;
    errno = 0;
    long long v = strtoll(tmp, &e, 10);
    if (errno == ERANGE) {
        if (suffix) {
            r->p = start;
            return perr(r, DUBBO_EMALFORMED, "integer out of the 64-bit range");
        }
        /* fastjson writes a BigInteger as its digits */
        *out = bigdec(r, "java.math.BigInteger", tmp, numlen);
        return *out ? 0 : arena_err();
    }
    if ((suffix == 'S' && (v < -32768 || v > 32767)) || (suffix == 'B' && (v < -128 || v > 127))) {
        r->p = start;
        return perr(r, DUBBO_EMALFORMED, "number out of its suffix's range");
    }
    if (suffix == 'L' || v < INT32_MIN || v > INT32_MAX)
        *out = dubbo_v_long(r->arena, (int64_t)v);
    else
        *out = dubbo_v_int(r->arena, (int32_t)v);
    return *out ? 0 : arena_err();
}

static int parse_value(reader_t *r, int depth, dubbo_value_t **out);

static int parse_list(reader_t *r, int depth, const char *type, dubbo_value_t **out)
{
    r->p++; /* [ */
    dubbo_value_t *list = dubbo_v_list(r->arena, type, 4);
    if (!list) return arena_err();
    skip_ws(r);
    if (r->p < r->end && r->in[r->p] == ']') {
        r->p++;
        *out = list;
        return 0;
    }
    for (;;) {
        dubbo_value_t *item;
        int rc = parse_value(r, depth + 1, &item);
        if (rc) return rc;
        if ((rc = dubbo_list_push(r->arena, list, item))) return rc;
        skip_ws(r);
        if (r->p >= r->end) return perr(r, DUBBO_EMALFORMED, "unterminated array");
        if (r->in[r->p] == ']') break;
        if (r->in[r->p] != ',') return perr(r, DUBBO_EMALFORMED, "expected ',' or ']'");
        r->p++;
    }
    r->p++;
    *out = list;
    return 0;
}

/* Map classes fastjson names in "@type"; HashMap is Dubbo's untyped map. */
static bool map_class(const char *t)
{
    static const char *const maps[] = {
        "java.util.LinkedHashMap",
        "java.util.TreeMap",
        "java.util.Hashtable",
        "java.util.concurrent.ConcurrentHashMap",
        "com.alibaba.fastjson.JSONObject",
    };
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
        if (strcmp(t, maps[i]) == 0) return true;
    return false;
}

static int to_object(reader_t *r, const char *cls, dubbo_value_t *map, dubbo_value_t **out)
{
    size_t n = map->u.map.len;
    const char **names = dubbo_arena_alloc(r->arena, (n ? n : 1) * sizeof(*names));
    if (!names) return arena_err();
    bool throwable = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(map->u.map.items[i].key->u.s.ptr, "stackTrace") == 0) throwable = true;
    for (size_t i = 0; i < n; i++) {
        const char *k = map->u.map.items[i].key->u.s.ptr;
        /* Throwable's fields are detailMessage and suppressedExceptions;
         * fastjson writes its getters */
        names[i] = !throwable                     ? k
                   : strcmp(k, "message") == 0    ? "detailMessage"
                   : strcmp(k, "suppressed") == 0 ? "suppressedExceptions"
                                                  : k;
    }
    dubbo_class_t *c = dubbo_class_new(r->arena, cls, n, names);
    dubbo_value_t *o = c ? dubbo_v_object(r->arena, c) : NULL;
    if (!o) return arena_err();
    for (size_t i = 0; i < n; i++)
        o->u.obj.fields[i] = map->u.map.items[i].value;
    *out = o;
    return 0;
}

static int parse_object(reader_t *r, int depth, dubbo_value_t **out)
{
    r->p++; /* { */
    dubbo_value_t *map = dubbo_v_map(r->arena, NULL, 4);
    if (!map) return arena_err();
    const char *type = NULL;
    bool string_keys = true;
    skip_ws(r);
    if (r->p < r->end && r->in[r->p] == '}') {
        r->p++;
        *out = map;
        return 0;
    }
    for (;;) {
        skip_ws(r);
        dubbo_value_t *key;
        int rc;
        if (r->p < r->end && r->in[r->p] == '"') {
            const char *s;
            size_t n;
            if ((rc = parse_string(r, &s, &n))) return rc;
            key = dubbo_v_string(r->arena, s, n);
            if (!key) return arena_err();
        } else {
            /* fastjson writes a non-string key as its value: {1:"a"} */
            if ((rc = parse_value(r, depth + 1, &key))) return rc;
            string_keys = false;
        }
        skip_ws(r);
        if (r->p >= r->end || r->in[r->p] != ':') return perr(r, DUBBO_EMALFORMED, "expected ':'");
        r->p++;
        dubbo_value_t *v;
        if ((rc = parse_value(r, depth + 1, &v))) return rc;
        if (key->type == DUBBO_T_STRING && strcmp(key->u.s.ptr, "@type") == 0 && !type &&
            map->u.map.len == 0 && v->type == DUBBO_T_STRING) {
            type = v->u.s.ptr;
        } else if ((rc = dubbo_map_put(r->arena, map, key, v))) {
            return rc;
        }
        skip_ws(r);
        if (r->p >= r->end) return perr(r, DUBBO_EMALFORMED, "unterminated object");
        if (r->in[r->p] == '}') break;
        if (r->in[r->p] != ',') return perr(r, DUBBO_EMALFORMED, "expected ',' or '}'");
        r->p++;
    }
    r->p++;
    if (!type || strcmp(type, "java.util.HashMap") == 0) {
        *out = map;
        return 0;
    }
    if (map_class(type) || !string_keys) {
        map->u.map.type = type;
        *out = map;
        return 0;
    }
    return to_object(r, type, map, out);
}

static int parse_value(reader_t *r, int depth, dubbo_value_t **out)
{
    if (depth > FJ_MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "fastjson: nesting deeper than %d at offset %zu",
                             FJ_MAX_DEPTH, r->p);
    skip_ws(r);
    if (r->p >= r->end) return perr(r, DUBBO_EMALFORMED, "truncated text, a value expected");
    uint8_t c = r->in[r->p];
    switch (c) {
    case '{': return parse_object(r, depth, out);
    case '[': return parse_list(r, depth, NULL, out);
    case '"': {
        const char *s;
        size_t n;
        int rc = parse_string(r, &s, &n);
        if (rc) return rc;
        *out = dubbo_v_string(r->arena, s, n);
        return *out ? 0 : arena_err();
    }
    case 't':
    case 'f':
        if (take(r, "true") || take(r, "false")) {
            *out = dubbo_v_bool(r->arena, c == 't');
            return *out ? 0 : arena_err();
        }
        break;
    case 'n':
        if (take(r, "null")) {
            *out = dubbo_v_null();
            return 0;
        }
        if (take(r, "new Date(")) {
            skip_ws(r);
            dubbo_value_t *ms;
            size_t at = r->p;
            int rc = parse_number(r, &ms);
            if (rc) return rc;
            skip_ws(r);
            if (ms->type != DUBBO_T_INT && ms->type != DUBBO_T_LONG) {
                r->p = at;
                return perr(r, DUBBO_EMALFORMED, "new Date() wants integer milliseconds");
            }
            if (r->p >= r->end || r->in[r->p] != ')')
                return perr(r, DUBBO_EMALFORMED, "expected ')' after new Date(");
            r->p++;
            *out = dubbo_v_date(r->arena, ms->type == DUBBO_T_INT ? ms->u.i : ms->u.l);
            return *out ? 0 : arena_err();
        }
        break;
    case 'x':
        if (r->end - r->p >= 2 && r->in[r->p + 1] == '\'') {
            size_t start = r->p;
            r->p += 2;
            size_t q = r->p;
            while (q < r->end && r->in[q] != '\'')
                q++;
            if (q >= r->end || (q - r->p) % 2) {
                r->p = start;
                return perr(r, DUBBO_EMALFORMED, "bad x'..' byte array");
            }
            size_t n = (q - r->p) / 2;
            uint8_t *b = dubbo_arena_alloc(r->arena, n ? n : 1);
            if (!b) return arena_err();
            for (size_t i = 0; i < n; i++) {
                int hi = hexval(r->in[r->p + 2 * i]), lo = hexval(r->in[r->p + 2 * i + 1]);
                if (hi < 0 || lo < 0) {
                    r->p += 2 * i;
                    return perr(r, DUBBO_EMALFORMED, "bad hex digit in x'..'");
                }
                b[i] = (uint8_t)(hi << 4 | lo);
            }
            r->p = q + 1;
            *out = dubbo_v_binary(r->arena, b, n);
            return *out ? 0 : arena_err();
        }
        break;
    case 'S':
        if (take(r, "Set")) {
            if (r->p < r->end && r->in[r->p] == '[')
                return parse_list(r, depth, "java.util.HashSet", out);
            r->p -= 3;
        }
        break;
    case 'T':
        if (take(r, "TreeSet")) {
            if (r->p < r->end && r->in[r->p] == '[')
                return parse_list(r, depth, "java.util.TreeSet", out);
            r->p -= 7;
        }
        break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(r, out);
        break;
    }
    return perr(r, DUBBO_EMALFORMED, "unexpected character");
}

static reader_t *R(dubbo_serial_state_t *s)
{
    return (reader_t *)s->bytes;
}

static void fj_reader_init(dubbo_serial_state_t *s, dubbo_arena_t *arena, const uint8_t *in,
                           size_t len)
{
    reader_t *r = R(s);
    memset(r, 0, sizeof(*r));
    r->arena = arena;
    r->in = in;
    r->len = len;
}

static int fj_read(dubbo_serial_state_t *s, dubbo_value_t **out)
{
    reader_t *r = R(s);
    if (r->pos >= r->len)
        return dubbo__seterr(DUBBO_EMALFORMED, "fastjson: no value left at offset %zu", r->pos);
    /* A length prefix starts with 0 (bodies are far below 16 MiB); a JSON
     * text never does. The body's first value decides for all of it. */
    if (r->framing == FRAMING_UNKNOWN)
        r->framing = r->in[r->pos] == 0 ? FRAMING_LENGTH : FRAMING_LINE;
    int rc;
    if (r->framing == FRAMING_LENGTH) {
        if (r->len - r->pos < 4)
            return dubbo__seterr(DUBBO_EMALFORMED,
                                 "fastjson: truncated length prefix at offset %zu (%zu bytes left)",
                                 r->pos, r->len - r->pos);
        const uint8_t *p = r->in + r->pos;
        size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (n > r->len - r->pos - 4)
            return dubbo__seterr(DUBBO_EMALFORMED,
                                 "fastjson: value of %zu bytes at offset %zu runs past the end "
                                 "(%zu bytes left)",
                                 n, r->pos, r->len - r->pos - 4);
        r->p = r->pos + 4;
        r->end = r->p + n;
        if ((rc = parse_value(r, 0, out))) return rc;
        skip_ws(r);
        if (r->p != r->end) return perr(r, DUBBO_EMALFORMED, "trailing characters after the value");
        r->pos = r->end;
        return 0;
    }
    r->p = r->pos;
    r->end = r->len;
    if ((rc = parse_value(r, 0, out))) return rc;
    while (r->p < r->end && (r->in[r->p] == ' ' || r->in[r->p] == '\t' || r->in[r->p] == '\r'))
        r->p++;
    if (r->p >= r->end || r->in[r->p] != '\n')
        return perr(r, DUBBO_EMALFORMED, "missing line break after the value");
    r->pos = r->p + 1;
    return 0;
}

static int fj_read_string(dubbo_serial_state_t *s, const char **out, size_t *len)
{
    reader_t *r = R(s);
    size_t at = r->pos;
    dubbo_value_t *v;
    int rc = fj_read(s, &v);
    if (rc) return rc;
    if (v->type == DUBBO_T_NULL) {
        *out = NULL;
        *len = 0;
        return 0;
    }
    if (v->type != DUBBO_T_STRING)
        return dubbo__seterr(DUBBO_ETYPE, "fastjson: expected a string at offset %zu, found %s", at,
                             dubbo_vtype_name(v->type));
    *out = v->u.s.ptr;
    *len = v->u.s.len;
    return 0;
}

static size_t fj_reader_pos(const dubbo_serial_state_t *s)
{
    return ((const reader_t *)s->bytes)->pos;
}

static bool fj_reader_done(const dubbo_serial_state_t *s)
{
    const reader_t *r = (const reader_t *)s->bytes;
    return r->pos >= r->len;
}

static void fj_reader_destroy(dubbo_serial_state_t *s)
{
    (void)s;
}

/* ---- writer ----------------------------------------------------------- */

typedef struct {
    dubbo_buf_t *out;
    bool in_map;     /* between write_map_begin and write_map_end */
    size_t map_at;   /* the map's length prefix */
    size_t map_item; /* keys and values written into it */
} writer_t;

static writer_t *W(dubbo_serial_state_t *s)
{
    return (writer_t *)s->bytes;
}

static int put(dubbo_buf_t *b, const char *s)
{
    return dubbo_buf_append(b, s, strlen(s));
}

static int put_string(dubbo_buf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    int rc = dubbo_buf_append(b, "\"", 1);
    size_t i = 0, run = 0;
    while (!rc && i < len) {
        uint8_t c = (uint8_t)s[i];
        const char *esc = NULL;
        char u[7];
        size_t k = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20) {
            snprintf(u, sizeof(u), "\\u00%c%c", hex[c >> 4], hex[c & 15]);
            esc = u;
        } else if (c >= 0x80) {
            k = dubbo__utf8_len((const uint8_t *)s + i, len - i);
            if (!k) {
                /* WTF-8 lone surrogate (Java strings hold them): an escape */
                if (c == 0xed && len - i >= 3 && (s[i + 1] & 0xe0) == 0xa0 &&
                    (s[i + 2] & 0xc0) == 0x80) {
                    unsigned cp = (c & 0x0fu) << 12 | (s[i + 1] & 0x3fu) << 6 | (s[i + 2] & 0x3fu);
                    snprintf(u, sizeof(u), "\\u%04x", cp);
                    esc = u;
                    k = 3;
                } else {
                    return dubbo__seterr(
                        DUBBO_EINVAL, "fastjson: string is not UTF-8 at byte %zu of %zu", i, len);
                }
            }
        }
        if (esc) {
            if (run) rc = dubbo_buf_append(b, s + i - run, run);
            if (!rc) rc = put(b, esc);
            run = 0;
        } else {
            run += k;
        }
        i += k;
    }
    if (!rc && run) rc = dubbo_buf_append(b, s + len - run, run);
    return rc ? rc : dubbo_buf_append(b, "\"", 1);
}

static int put_value(dubbo_buf_t *b, const dubbo_value_t *v, int depth);

/* A Throwable: an object with a stackTrace field (dubbo_exception_new's,
 * hessian's, fastjson's), the same test as the reader's. */
static bool is_throwable(const dubbo_class_t *c)
{
    for (size_t i = 0; c && i < c->nfields; i++)
        if (strcmp(c->fields[i], "stackTrace") == 0) return true;
    return false;
}

/* java.math.BigDecimal / BigInteger as the value model holds them (one
 * string field "value"): their number text, or NULL. */
static const char *big_number(const dubbo_value_t *v)
{
    const dubbo_class_t *c = v->u.obj.cls;
    if (!c || !c->name || c->nfields != 1 || strcmp(c->fields[0], "value") != 0 ||
        (strcmp(c->name, "java.math.BigDecimal") != 0 &&
         strcmp(c->name, "java.math.BigInteger") != 0))
        return NULL;
    const dubbo_value_t *s = v->u.obj.fields[0];
    if (!s || s->type != DUBBO_T_STRING || s->u.s.len == 0 || s->u.s.len > 400) return NULL;
    for (size_t i = 0; i < s->u.s.len; i++)
        if (!strchr("0123456789+-.eE", s->u.s.ptr[i]) || !s->u.s.ptr[i]) return NULL;
    return s->u.s.ptr;
}

static int put_key_value(dubbo_buf_t *b, const dubbo_value_t *k, const dubbo_value_t *v, int depth)
{
    int rc = dubbo_buf_append(b, ",", 1);
    if (!rc)
        rc = k && k->type == DUBBO_T_STRING ? put_string(b, k->u.s.ptr, k->u.s.len)
                                            : put_value(b, k, depth + 1);
    if (!rc) rc = dubbo_buf_append(b, ":", 1);
    return rc ? rc : put_value(b, v, depth + 1);
}

static int put_value(dubbo_buf_t *b, const dubbo_value_t *v, int depth)
{
    if (depth > FJ_MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "fastjson: value nested deeper than %d",
                             FJ_MAX_DEPTH);
    char num[64];
    if (!v) return put(b, "null");
    switch (v->type) {
    case DUBBO_T_NULL: return put(b, "null");
    case DUBBO_T_BOOL: return put(b, v->u.b ? "true" : "false");
    case DUBBO_T_INT: snprintf(num, sizeof(num), "%d", (int)v->u.i); return put(b, num);
    case DUBBO_T_LONG:
        /* fastjson marks a long that an int could hold, so it reads back a Long */
        snprintf(num, sizeof(num), "%lld%s", (long long)v->u.l,
                 v->u.l >= INT32_MIN && v->u.l <= INT32_MAX ? "L" : "");
        return put(b, num);
    case DUBBO_T_DOUBLE: {
        if (!isfinite(v->u.d)) return put(b, "null"); /* as fastjson writes NaN and Infinity */
        const char *t = dubbo_value_java_string(v, num, sizeof(num));
        int rc = put(b, t);
        return rc ? rc : put(b, "D");
    }
    case DUBBO_T_STRING: return put_string(b, v->u.s.ptr, v->u.s.len);
    case DUBBO_T_BINARY: {
        static const char hex[] = "0123456789ABCDEF";
        int rc = put(b, "x'");
        for (size_t i = 0; !rc && i < v->u.s.len; i++) {
            uint8_t c = (uint8_t)v->u.s.ptr[i];
            char h[2] = {hex[c >> 4], hex[c & 15]};
            rc = dubbo_buf_append(b, h, 2);
        }
        return rc ? rc : put(b, "'");
    }
    case DUBBO_T_DATE:
        snprintf(num, sizeof(num), "new Date(%lld)", (long long)v->u.l);
        return put(b, num);
    case DUBBO_T_LIST: {
        const char *t = v->u.list.type;
        int rc = 0;
        if (t && (strcmp(t, "java.util.HashSet") == 0 || strcmp(t, "java.util.Set") == 0 ||
                  strcmp(t, "java.util.LinkedHashSet") == 0))
            rc = put(b, "Set");
        else if (t && strcmp(t, "java.util.TreeSet") == 0)
            rc = put(b, "TreeSet");
        if (!rc) rc = put(b, "[");
        for (size_t i = 0; !rc && i < v->u.list.len; i++) {
            if (i) rc = put(b, ",");
            if (!rc) rc = put_value(b, v->u.list.items[i], depth + 1);
        }
        return rc ? rc : put(b, "]");
    }
    case DUBBO_T_MAP: {
        const char *t = v->u.map.type ? v->u.map.type : "java.util.HashMap";
        int rc = put(b, "{\"@type\":");
        if (!rc) rc = put_string(b, t, strlen(t));
        for (size_t i = 0; !rc && i < v->u.map.len; i++)
            rc = put_key_value(b, v->u.map.items[i].key, v->u.map.items[i].value, depth);
        return rc ? rc : put(b, "}");
    }
    case DUBBO_T_OBJECT: {
        const dubbo_class_t *c = v->u.obj.cls;
        const char *name = c && c->name ? c->name : "java.lang.Object";
        const char *big = big_number(v);
        if (big) return put(b, big); /* fastjson writes the number as is */
        bool thr = is_throwable(c);
        int rc = put(b, "{\"@type\":");
        if (!rc) rc = put_string(b, name, strlen(name));
        for (size_t i = 0; !rc && c && i < c->nfields; i++) {
            const char *f = c->fields[i];
            /* fastjson reads a Throwable's fields by its getters' names */
            if (thr && strcmp(f, "detailMessage") == 0) f = "message";
            if (thr && strcmp(f, "suppressedExceptions") == 0) f = "suppressed";
            rc = put(b, ",");
            if (!rc) rc = put_string(b, f, strlen(f));
            if (!rc) rc = put(b, ":");
            if (!rc) rc = put_value(b, v->u.obj.fields[i], depth + 1);
        }
        return rc ? rc : put(b, "}");
    }
    }
    return dubbo__seterr(DUBBO_EINVAL, "fastjson: value of unknown type %d", (int)v->type);
}

static void fj_writer_init(dubbo_serial_state_t *s, dubbo_buf_t *out)
{
    writer_t *w = W(s);
    memset(w, 0, sizeof(*w));
    w->out = out;
}

static void patch_length(dubbo_buf_t *b, size_t at)
{
    size_t n = b->len - at - 4;
    for (int i = 0; i < 4; i++)
        b->base[at + (size_t)i] = (uint8_t)(n >> (24 - 8 * i));
}

/* One value: its own length-prefixed text, or a key or value of the map
 * being written. */
static int emit(writer_t *w, const dubbo_value_t *v)
{
    if (w->in_map) {
        int rc = put(w->out, w->map_item % 2 ? ":" : ",");
        if (!rc) rc = put_value(w->out, v, 1);
        if (!rc) w->map_item++;
        return rc;
    }
    static const uint8_t zero[4];
    size_t at = w->out->len;
    int rc = dubbo_buf_append(w->out, zero, 4);
    if (!rc) rc = put_value(w->out, v, 0);
    if (rc) return rc;
    if (w->out->len - at - 4 > UINT32_MAX)
        return dubbo__seterr(DUBBO_ETOO_BIG, "fastjson: value longer than 4 GiB");
    patch_length(w->out, at);
    return 0;
}

static int fj_write(dubbo_serial_state_t *s, const dubbo_value_t *v)
{
    return emit(W(s), v);
}

static int fj_write_string(dubbo_serial_state_t *s, const char *str, size_t len)
{
    dubbo_value_t v = {.type = DUBBO_T_STRING};
    v.u.s.ptr = str;
    v.u.s.len = len;
    return emit(W(s), &v);
}

/* The Dubbo codec writes only the response flag with this, which Java
 * writes with writeByte: fastjson's 4B. */
static int fj_write_int(dubbo_serial_state_t *s, int32_t v)
{
    writer_t *w = W(s);
    dubbo_value_t iv = {.type = DUBBO_T_INT};
    iv.u.i = v;
    if (w->in_map || v < -128 || v > 127) return emit(w, &iv);
    static const uint8_t zero[4];
    char num[8];
    snprintf(num, sizeof(num), "%dB", (int)v);
    size_t at = w->out->len;
    int rc = dubbo_buf_append(w->out, zero, 4);
    if (!rc) rc = put(w->out, num);
    if (!rc) patch_length(w->out, at);
    return rc;
}

static int fj_write_map_begin(dubbo_serial_state_t *s)
{
    writer_t *w = W(s);
    if (w->in_map)
        return dubbo__seterr(DUBBO_EINVAL, "fastjson: write_map_begin inside a map being written");
    static const uint8_t zero[4];
    w->map_at = w->out->len;
    int rc = dubbo_buf_append(w->out, zero, 4);
    if (!rc) rc = put(w->out, "{\"@type\":\"java.util.HashMap\"");
    if (rc) return rc;
    w->in_map = true;
    w->map_item = 0;
    return 0;
}

static int fj_write_map_end(dubbo_serial_state_t *s)
{
    writer_t *w = W(s);
    if (!w->in_map || w->map_item % 2)
        return dubbo__seterr(DUBBO_EINVAL, "fastjson: write_map_end without a map, or after a key");
    int rc = put(w->out, "}");
    if (rc) return rc;
    w->in_map = false;
    patch_length(w->out, w->map_at);
    return 0;
}

static void fj_writer_destroy(dubbo_serial_state_t *s)
{
    (void)s;
}

const dubbo_serialization_ops_t dubbo__serialization_fastjson = {
    .name = "fastjson",
    .id = 6,
    .state_size = sizeof(reader_t) > sizeof(writer_t) ? sizeof(reader_t) : sizeof(writer_t),
    .reader_init = fj_reader_init,
    .read = fj_read,
    .read_string = fj_read_string,
    .reader_pos = fj_reader_pos,
    .reader_done = fj_reader_done,
    .reader_destroy = fj_reader_destroy,
    .writer_init = fj_writer_init,
    .write = fj_write,
    .write_string = fj_write_string,
    .write_int = fj_write_int,
    .write_map_begin = fj_write_map_begin,
    .write_map_end = fj_write_map_end,
    .writer_destroy = fj_writer_destroy,
};
