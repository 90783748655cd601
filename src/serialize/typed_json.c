/* Typed JSON: the js-to-java text form of dubbo values (docs/typed-json.md).
 * Output is written by hand, compact and exact; input is parsed with jansson
 * into a tree, then converted, so "$class" may follow "$" in an object. */
#include <float.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dubbo/value.h"
#include "core/base64.h"
#include "core/internal.h"

/* Lists, maps and objects inside one another; the same bound as the Hessian
 * decoder's default, so every value it decodes can be printed and read. */
#define MAX_DEPTH 512

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int try_rc_ = (x);                                                                         \
        if (try_rc_) return try_rc_;                                                               \
    } while (0)

/* ======================================================================
 * Class names with a meaning of their own
 * ====================================================================== */

typedef enum {
    K_NONE = 0,
    K_INT,
    K_SHORT,
    K_BYTE,
    K_LONG,
    K_DOUBLE,
    K_FLOAT,
    K_BOOL,
    K_STRING,
    K_CHAR,
    K_DATE,
    K_BINARY,
} scalar_kind_t;

static const struct {
    const char *name;
    scalar_kind_t kind;
} scalar_classes[] = {
    {"int", K_INT},
    {"java.lang.Integer", K_INT},
    {"short", K_SHORT},
    {"java.lang.Short", K_SHORT},
    {"byte", K_BYTE},
    {"java.lang.Byte", K_BYTE},
    {"long", K_LONG},
    {"java.lang.Long", K_LONG},
    {"double", K_DOUBLE},
    {"java.lang.Double", K_DOUBLE},
    {"float", K_FLOAT},
    {"java.lang.Float", K_FLOAT},
    {"boolean", K_BOOL},
    {"java.lang.Boolean", K_BOOL},
    {"java.lang.String", K_STRING},
    {"char", K_CHAR},
    {"java.lang.Character", K_CHAR},
    {"java.util.Date", K_DATE},
    {"[B", K_BINARY},
};

/* Java writes HashMap and ArrayList untyped ('H', 0x58); the interfaces
 * stand for them. */
static const char *const untyped_map_classes[] = {"java.util.HashMap", "java.util.Map"};
static const char *const untyped_list_classes[] = {"java.util.ArrayList", "java.util.List"};
/* Other maps keep their class name as the map type. */
static const char *const typed_map_classes[] = {
    "java.util.LinkedHashMap",
    "java.util.TreeMap",
    "java.util.SortedMap",
    "java.util.NavigableMap",
    "java.util.Hashtable",
    "java.util.Properties",
    "java.util.WeakHashMap",
    "java.util.IdentityHashMap",
    "java.util.concurrent.ConcurrentHashMap",
    "java.util.concurrent.ConcurrentMap",
    "java.util.concurrent.ConcurrentSkipListMap",
    "java.util.concurrent.ConcurrentNavigableMap",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static scalar_kind_t scalar_kind(const char *name)
{
    for (size_t i = 0; i < COUNT(scalar_classes); i++)
        if (strcmp(scalar_classes[i].name, name) == 0) return scalar_classes[i].kind;
    return K_NONE;
}

static bool in_list(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return true;
    return false;
}

static bool is_untyped_map_class(const char *name)
{
    return in_list(name, untyped_map_classes, COUNT(untyped_map_classes));
}

static bool is_map_class(const char *name)
{
    return is_untyped_map_class(name) || in_list(name, typed_map_classes, COUNT(typed_map_classes));
}

static bool is_untyped_list_class(const char *name)
{
    return in_list(name, untyped_list_classes, COUNT(untyped_list_classes));
}

/* ======================================================================
 * Output
 * ====================================================================== */

struct dubbo_json_writer {
    /* container pointer -> index in order of first appearance */
    const void **keys;
    size_t *vals;
    size_t n, cap;
    unsigned depth;
};

static size_t ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ULL;
    x ^= x >> 29;
    return (size_t)x;
}

/* Index of container p if already seen (returns true), else registers it. */
static int seen(dubbo_json_writer_t *w, const void *p, size_t *index, bool *found)
{
    if (w->n * 2 >= w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 64;
        const void **keys = calloc(ncap, sizeof(*keys));
        size_t *vals = malloc(ncap * sizeof(*vals));
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory for references");
        }
        for (size_t i = 0; i < w->cap; i++) {
            if (!w->keys[i]) continue;
            size_t h = ptr_hash(w->keys[i]) & (ncap - 1);
            while (keys[h])
                h = (h + 1) & (ncap - 1);
            keys[h] = w->keys[i];
            vals[h] = w->vals[i];
        }
        free(w->keys);
        free(w->vals);
        w->keys = keys;
        w->vals = vals;
        w->cap = ncap;
    }
    size_t mask = w->cap - 1, h = ptr_hash(p) & mask;
    while (w->keys[h]) {
        if (w->keys[h] == p) {
            *index = w->vals[h];
            *found = true;
            return 0;
        }
        h = (h + 1) & mask;
    }
    w->keys[h] = p;
    w->vals[h] = w->n;
    *index = w->n++;
    *found = false;
    return 0;
}

static int put(dubbo_buf_t *out, const char *s, size_t n)
{
    return dubbo_buf_append(out, s, n);
}

static int puts_(dubbo_buf_t *out, const char *s)
{
    return dubbo_buf_append(out, s, strlen(s));
}

static int putch(dubbo_buf_t *out, char c)
{
    return dubbo_buf_append(out, &c, 1);
}

/* Length of a valid UTF-8 sequence at p (n bytes available), 0 if invalid.
 * Surrogates encoded on their own (ED A0-BF xx) count as invalid here: the
 * callers handle them as WTF-8. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80) return 1;
    if (c < 0xc2) return 0;
    if (c < 0xe0) return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c < 0xf0) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && p[1] < 0xa0) return 0;
        if (c == 0xed && p[1] >= 0xa0) return 0;
        return 3;
    }
    if (c < 0xf5) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && p[1] < 0x90) return 0;
        if (c == 0xf4 && p[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

static bool is_surrogate_seq(const uint8_t *p, size_t n)
{
    return n >= 3 && p[0] == 0xed && p[1] >= 0xa0 && p[1] <= 0xbf && (p[2] & 0xc0) == 0x80;
}

static int put_u_escape(dubbo_buf_t *out, unsigned cp)
{
    char b[8];
    snprintf(b, sizeof(b), "\\u%04x", cp);
    return put(out, b, 6);
}

/* A JSON string. Valid UTF-8 is copied; surrogates encoded on their own
 * (WTF-8, from Java strings with unpaired surrogates) print as \uXXXX of
 * their code point; any other invalid byte prints as \ufffd (lossy: such
 * strings cannot come from a decoder). */
static int put_string(dubbo_buf_t *out, const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    TRY(dubbo_buf_reserve(out, len + 2));
    TRY(putch(out, '"'));
    size_t run = 0, i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        size_t n = c < 0x80 ? 1 : utf8_len(s + i, len - i);
        if (c >= 0x80 && n) {
            i += n;
            continue;
        }
        TRY(put(out, (const char *)s + run, i - run));
        if (c < 0x80) {
            const char *esc = NULL;
            switch (c) {
            case '"': esc = "\\\""; break;
            case '\\': esc = "\\\\"; break;
            case '\b': esc = "\\b"; break;
            case '\f': esc = "\\f"; break;
            case '\n': esc = "\\n"; break;
            case '\r': esc = "\\r"; break;
            case '\t': esc = "\\t"; break;
            default: break;
            }
            TRY(esc ? put(out, esc, 2) : put_u_escape(out, c));
            i++;
        } else if (is_surrogate_seq(s + i, len - i)) {
            TRY(put_u_escape(out, 0xd000u | (unsigned)(s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f)));
            i += 3;
        } else {
            TRY(put(out, "\\ufffd", 6));
            i++;
        }
        run = i;
    }
    TRY(put(out, (const char *)s + run, i - run));
    return putch(out, '"');
}

static int put_i64(dubbo_buf_t *out, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRId64, v);
    return put(out, b, (size_t)n);
}

static bool reads_back(char *b, size_t cap, int prec, double d)
{
    int n = snprintf(b, cap, "%.*g", prec, d);
    return n > 0 && (size_t)n < cap && strtod(b, NULL) == d;
}

/* The shortest decimal that reads back to the same double, always with a
 * '.' or an exponent so that it reads back as a real (-0.0 stays negative
 * zero). A normal double needing at most 15 digits has them all in %.15g
 * (DBL_DIG), so 15, 16, 17 are tried in turn; subnormals have fewer
 * significant bits and may need fewer digits (5e-324), found by bisection
 * (if p digits read back, so do p + 1). printf and strtod follow
 * LC_NUMERIC; JSON wants '.'. */
static int put_double_number(dubbo_buf_t *out, double d)
{
    char b[48];
    if (d != 0 && fabs(d) < DBL_MIN) {
        int lo = 1, hi = 17;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (reads_back(b, sizeof(b), mid, d))
                hi = mid;
            else
                lo = mid + 1;
        }
        reads_back(b, sizeof(b), lo, d);
    } else if (!reads_back(b, sizeof(b), 15, d) && !reads_back(b, sizeof(b), 16, d)) {
        reads_back(b, sizeof(b), 17, d);
    }
    const char *dp = localeconv()->decimal_point;
    size_t dpl = dp ? strlen(dp) : 1;
    if (dp && (dpl != 1 || dp[0] != '.')) {
        char *p = strstr(b, dp);
        if (p) {
            *p = '.';
            memmove(p + 1, p + dpl, strlen(p + dpl) + 1);
        }
    }
    if (!strpbrk(b, ".eE")) strcat(b, ".0");
    return puts_(out, b);
}

/* Double.doubleToLongBits(Double.NaN) */
#define JAVA_NAN_BITS 0x7ff8000000000000ULL

static int put_double(dubbo_buf_t *out, double d)
{
    TRY(puts_(out, "{\"$class\":\"double\",\"$\":"));
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    if (isnan(d) && bits == JAVA_NAN_BITS) {
        TRY(puts_(out, "\"NaN\""));
    } else if (isnan(d)) {
        /* Not Java's canonical NaN (Java never sends one): keep the bits. */
        char b[40];
        snprintf(b, sizeof(b), "\"NaN(0x%016" PRIx64 ")\"", bits);
        TRY(puts_(out, b));
    } else if (isinf(d)) {
        TRY(puts_(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\""));
    } else {
        TRY(put_double_number(out, d));
    }
    return putch(out, '}');
}

static int put_base64(dubbo_buf_t *out, const uint8_t *p, size_t len)
{
    TRY(putch(out, '"'));
    TRY(dubbo__base64_encode(p, len, out));
    return putch(out, '"');
}

/* A string can be a JSON object key when it reads back identically: valid
 * UTF-8 (no lone surrogates: they need an escape jansson refuses in keys)
 * and no NUL (jansson refuses NUL in keys). */
static bool keyable(const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    for (size_t i = 0; i < len;) {
        if (s[i] == 0) return false;
        size_t n = utf8_len(s + i, len - i);
        if (!n) return false;
        i += n;
    }
    return true;
}

typedef struct {
    const char *p;
    size_t n;
} slice_t;

static int slice_cmp(const void *a, const void *b)
{
    const slice_t *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    return memcmp(x->p, y->p, x->n);
}

/* Whether n strings are pairwise different. *ok is false when they are not
 * (or, conservatively, when memory for the check runs out). */
static int distinct(const slice_t *s, size_t n, bool *ok)
{
    *ok = true;
    if (n <= 16) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (s[i].n == s[j].n && memcmp(s[i].p, s[j].p, s[i].n) == 0) *ok = false;
        return 0;
    }
    slice_t *t = malloc(n * sizeof(*t));
    if (!t) return dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory checking keys");
    memcpy(t, s, n * sizeof(*t));
    qsort(t, n, sizeof(*t), slice_cmp);
    for (size_t i = 1; i < n && *ok; i++)
        if (slice_cmp(&t[i - 1], &t[i]) == 0) *ok = false;
    free(t);
    return 0;
}

/* Map keys as slices if every key is a string that can be an object key;
 * *slices is NULL otherwise. The caller frees *slices. */
static int map_key_slices(const dubbo_value_t *m, slice_t **slices, bool *as_object, bool *dollar)
{
    size_t n = m->u.map.len;
    *slices = NULL;
    *as_object = false;
    *dollar = false;
    for (size_t i = 0; i < n; i++) {
        const dubbo_value_t *k = m->u.map.items[i].key;
        if (!k || k->type != DUBBO_T_STRING || !keyable(k->u.s.ptr, k->u.s.len)) return 0;
    }
    slice_t *s = malloc((n ? n : 1) * sizeof(*s));
    if (!s) return dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory checking keys");
    for (size_t i = 0; i < n; i++) {
        const dubbo_value_t *k = m->u.map.items[i].key;
        s[i].p = k->u.s.ptr;
        s[i].n = k->u.s.len;
        if (s[i].n && s[i].p[0] == '$') *dollar = true;
    }
    int rc = distinct(s, n, as_object);
    *slices = s;
    return rc;
}

static int write_value(dubbo_json_writer_t *w, const dubbo_value_t *v, dubbo_buf_t *out);

static int write_items(dubbo_json_writer_t *w, const dubbo_value_t *v, dubbo_buf_t *out)
{
    TRY(putch(out, '['));
    for (size_t i = 0; i < v->u.list.len; i++) {
        if (i) TRY(putch(out, ','));
        TRY(write_value(w, v->u.list.items[i], out));
    }
    return putch(out, ']');
}

static int write_list(dubbo_json_writer_t *w, const dubbo_value_t *v, dubbo_buf_t *out)
{
    const char *type = v->u.list.type;
    bool variable = v->flags & DUBBO_VF_VARIABLE;
    if (!type && !variable) return write_items(w, v, out);
    TRY(putch(out, '{'));
    if (type) {
        TRY(puts_(out, "\"$class\":"));
        TRY(put_string(out, type, strlen(type)));
        /* A list type that "$" would read as something else. */
        bool literal = scalar_kind(type) != K_NONE || is_untyped_list_class(type);
        TRY(puts_(out, literal ? ",\"$list\":" : ",\"$\":"));
    } else {
        TRY(puts_(out, "\"$\":"));
    }
    TRY(write_items(w, v, out));
    if (variable) TRY(puts_(out, ",\"$variable\":true"));
    return putch(out, '}');
}

static int write_map(dubbo_json_writer_t *w, const dubbo_value_t *v, dubbo_buf_t *out)
{
    const char *type = v->u.map.type;
    slice_t *keys;
    bool as_object, dollar;
    TRY(map_key_slices(v, &keys, &as_object, &dollar));
    int rc = 0;
    bool plain = !type && as_object && !dollar;
    if (!plain) {
        rc = putch(out, '{');
        if (!rc && type) rc = puts_(out, "\"$class\":");
        if (!rc && type) rc = put_string(out, type, strlen(type));
        if (!rc) rc = puts_(out, type ? ",\"$map\":" : "\"$map\":");
    }
    if (!rc) rc = putch(out, as_object ? '{' : '[');
    for (size_t i = 0; !rc && i < v->u.map.len; i++) {
        const dubbo_map_entry_t *e = &v->u.map.items[i];
        if (i) rc = putch(out, ',');
        if (rc) break;
        if (as_object) {
            if (!(rc = put_string(out, keys[i].p, keys[i].n)) && !(rc = putch(out, ':')))
                rc = write_value(w, e->value, out);
        } else {
            if (!(rc = putch(out, '[')) && !(rc = write_value(w, e->key, out)) &&
                !(rc = putch(out, ',')) && !(rc = write_value(w, e->value, out)))
                rc = putch(out, ']');
        }
    }
    free(keys);
    if (!rc) rc = putch(out, as_object ? '}' : ']');
    if (!rc && !plain) rc = putch(out, '}');
    return rc;
}

static int write_object(dubbo_json_writer_t *w, const dubbo_value_t *v, dubbo_buf_t *out)
{
    const dubbo_class_t *c = v->u.obj.cls;
    size_t n = c->nfields;
    bool as_object = true;
    for (size_t i = 0; i < n && as_object; i++)
        as_object = keyable(c->fields[i], strlen(c->fields[i]));
    if (as_object && n > 1) {
        slice_t *s = malloc(n * sizeof(*s));
        if (!s) return dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory checking fields");
        for (size_t i = 0; i < n; i++)
            s[i] = (slice_t){c->fields[i], strlen(c->fields[i])};
        int rc = distinct(s, n, &as_object);
        free(s);
        TRY(rc);
    }
    /* "$" under a class name that means a scalar or a map would read back
     * as that; "$object" takes the class name literally. */
    bool literal = !as_object || scalar_kind(c->name) != K_NONE || is_map_class(c->name);
    TRY(puts_(out, "{\"$class\":"));
    TRY(put_string(out, c->name, strlen(c->name)));
    TRY(puts_(out, literal ? ",\"$object\":" : ",\"$\":"));
    TRY(putch(out, as_object ? '{' : '['));
    for (size_t i = 0; i < n; i++) {
        if (i) TRY(putch(out, ','));
        if (!as_object) TRY(putch(out, '['));
        TRY(put_string(out, c->fields[i], strlen(c->fields[i])));
        TRY(putch(out, as_object ? ':' : ','));
        TRY(write_value(w, v->u.obj.fields[i], out));
        if (!as_object) TRY(putch(out, ']'));
    }
    TRY(putch(out, as_object ? '}' : ']'));
    return putch(out, '}');
}

static int write_value(dubbo_json_writer_t *w, const dubbo_value_t *v, dubbo_buf_t *out)
{
    if (!v) return puts_(out, "null");
    switch (v->type) {
    case DUBBO_T_NULL: return puts_(out, "null");
    case DUBBO_T_BOOL: return puts_(out, v->u.b ? "true" : "false");
    case DUBBO_T_INT: return put_i64(out, v->u.i);
    case DUBBO_T_LONG:
        TRY(puts_(out, "{\"$class\":\"long\",\"$\":"));
        TRY(put_i64(out, v->u.l));
        return putch(out, '}');
    case DUBBO_T_DATE:
        TRY(puts_(out, "{\"$class\":\"java.util.Date\",\"$\":"));
        TRY(put_i64(out, v->u.l));
        return putch(out, '}');
    case DUBBO_T_DOUBLE: return put_double(out, v->u.d);
    case DUBBO_T_STRING: return put_string(out, v->u.s.ptr, v->u.s.len);
    case DUBBO_T_BINARY:
        TRY(puts_(out, "{\"$class\":\"[B\",\"$\":"));
        TRY(put_base64(out, (const uint8_t *)v->u.s.ptr, v->u.s.len));
        return putch(out, '}');
    case DUBBO_T_LIST:
    case DUBBO_T_MAP:
    case DUBBO_T_OBJECT: break;
    default:
        return dubbo__seterr(DUBBO_EINVAL, "typed JSON: value of unknown type %d", (int)v->type);
    }
    size_t index = 0;
    bool found = false;
    TRY(seen(w, v, &index, &found));
    if (found) {
        TRY(puts_(out, "{\"$ref\":"));
        TRY(put_i64(out, (int64_t)index));
        return putch(out, '}');
    }
    if (w->depth >= MAX_DEPTH)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "typed JSON: value nested deeper than %d", MAX_DEPTH);
    w->depth++;
    int rc = v->type == DUBBO_T_LIST  ? write_list(w, v, out)
             : v->type == DUBBO_T_MAP ? write_map(w, v, out)
                                      : write_object(w, v, out);
    w->depth--;
    return rc;
}

dubbo_json_writer_t *dubbo_json_writer_new(void)
{
    dubbo_json_writer_t *w = calloc(1, sizeof(*w));
    if (!w) dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory for a writer");
    return w;
}

void dubbo_json_writer_free(dubbo_json_writer_t *w)
{
    if (!w) return;
    free(w->keys);
    free(w->vals);
    free(w);
}

int dubbo_json_write(dubbo_json_writer_t *w, const dubbo_value_t *v, dubbo_buf_t *out)
{
    size_t start = out->len;
    w->depth = 0;
    int rc = write_value(w, v, out);
    if (rc) out->len = start; /* no half-written value */
    return rc;
}

int dubbo_value_to_json(const dubbo_value_t *v, dubbo_buf_t *out)
{
    dubbo_json_writer_t w = {0};
    int rc = dubbo_json_write(&w, v, out);
    free(w.keys);
    free(w.vals);
    return rc;
}

/* ======================================================================
 * Input
 * ====================================================================== */

/* One step of the JSON path to the value being converted, for messages. */
typedef struct {
    const char *key; /* NULL: an array index */
    size_t index;
} seg_t;

struct dubbo_json_reader {
    dubbo_arena_t *arena;
    /* every list, map and object read so far, by "$ref" index */
    dubbo_value_t **refs;
    size_t nrefs, refs_cap;
    /* classes made so far: objects of one class share one definition */
    dubbo_class_t **classes;
    size_t nclasses, classes_cap;
    /* per document */
    bool tagged; /* strings carry the NUL tags of unescape_text() */
    unsigned depth;
    seg_t *path;
    size_t npath, path_cap;
};

/* Append the JSONPath step of one segment: [2], .name or ["odd key"]. */
static void render_seg(dubbo_buf_t *b, const seg_t *seg)
{
    char tmp[32];
    const char *k = seg->key;
    if (!k) {
        int n = snprintf(tmp, sizeof(tmp), "[%zu]", seg->index);
        dubbo_buf_append(b, tmp, (size_t)n);
        return;
    }
    bool ident = *k && !(*k >= '0' && *k <= '9');
    for (const char *p = k; *p && ident; p++)
        ident = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '_' || *p == '$';
    if (ident) {
        dubbo_buf_append(b, ".", 1);
        dubbo_buf_append(b, k, strlen(k));
        return;
    }
    dubbo_buf_append(b, "[\"", 2);
    for (const char *p = k; *p; p++) {
        if (*p == '"' || *p == '\\') {
            tmp[0] = '\\';
            tmp[1] = *p;
            dubbo_buf_append(b, tmp, 2);
        } else if ((unsigned char)*p < 0x20) {
            int n = snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)*p);
            dubbo_buf_append(b, tmp, (size_t)n);
        } else {
            dubbo_buf_append(b, p, 1);
        }
    }
    dubbo_buf_append(b, "\"]", 2);
}

/* The path to the current value as JSONPath ($.args[2]["odd key"]); a long
 * one keeps its end, where the problem is: $...[0][0]. */
static void render_path(const dubbo_json_reader_t *r, char *out, size_t cap)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    for (size_t i = 0; i < r->npath; i++)
        render_seg(&b, &r->path[i]);
    size_t keep = cap - 5; /* "$..." and the NUL */
    if (b.len <= cap - 2) {
        snprintf(out, cap, "$%.*s", (int)b.len, b.base ? (const char *)b.base : "");
    } else {
        /* start the tail at a step boundary when there is one */
        size_t from = b.len - keep;
        for (size_t i = from; i < b.len && i < from + 40; i++)
            if (b.base[i] == '[' || b.base[i] == '.') {
                from = i;
                break;
            }
        snprintf(out, cap, "$...%.*s", (int)(b.len - from), (const char *)b.base + from);
    }
    dubbo_buf_destroy(&b);
}

static int bad_code(const dubbo_json_reader_t *r, int code, const char *fmt, ...)
    DUBBO__PRINTF(3, 4);

static int bad_code(const dubbo_json_reader_t *r, int code, const char *fmt, ...)
{
    char path[160], detail[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    render_path(r, path, sizeof(path));
    return dubbo__seterr(code, "typed JSON: at %s: %s", path, detail);
}

#define bad(r, ...) bad_code((r), DUBBO_EMALFORMED, __VA_ARGS__)

/* The arena set the detail (limit or out of memory); add where. */
static int arena_fail(const dubbo_json_reader_t *r)
{
    char detail[256];
    snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
    int code = dubbo__last_code() == DUBBO_ETOO_BIG ? DUBBO_ETOO_BIG : DUBBO_ENOMEM;
    return bad_code(r, code, "%s", detail);
}

static int push_seg(dubbo_json_reader_t *r, const char *key, size_t index)
{
    if (r->npath == r->path_cap) {
        size_t ncap = r->path_cap ? r->path_cap * 2 : 64;
        seg_t *p = realloc(r->path, ncap * sizeof(*p));
        if (!p) return dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory for the path");
        r->path = p;
        r->path_cap = ncap;
    }
    r->path[r->npath++] = (seg_t){key, index};
    return 0;
}

static void pop_seg(dubbo_json_reader_t *r)
{
    r->npath--;
}

/* A short JSON rendering of a value for messages: "abc", 12, an array. */
static const char *describe(const json_t *j, char *buf, size_t cap)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: {
        const char *s = json_string_value(j);
        size_t n = json_string_length(j), k = 0;
        for (; k < n && k < 40 && (unsigned char)s[k] >= 0x20 && s[k] != '"'; k++) {
        }
        snprintf(buf, cap, "the string \"%.*s%s\"", (int)k, s, k < n ? "..." : "");
        return buf;
    }
    case JSON_INTEGER:
        snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        return buf;
    case JSON_REAL: snprintf(buf, cap, "%.17g", json_real_value(j)); return buf;
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_NULL: return "null";
    }
    return "?";
}

static int add_ref(dubbo_json_reader_t *r, dubbo_value_t *v)
{
    if (r->nrefs == r->refs_cap) {
        size_t ncap = r->refs_cap ? r->refs_cap * 2 : 32;
        dubbo_value_t **p = realloc(r->refs, ncap * sizeof(*p));
        if (!p) return dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory for references");
        r->refs = p;
        r->refs_cap = ncap;
    }
    r->refs[r->nrefs++] = v;
    return 0;
}

static int enter(dubbo_json_reader_t *r)
{
    if (++r->depth > MAX_DEPTH)
        return bad_code(r, DUBBO_ETOO_DEEP, "lists, maps and objects nested deeper than %d",
                        MAX_DEPTH);
    return 0;
}

/* Undo the tags of unescape_text(): NUL '0' is a NUL, NUL followed by
 * U+E800..U+EFFF is the lone surrogate 0x1000 below. Returns the new length
 * (never longer). */
static size_t untag(char *s, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] != '\0') {
            s[w++] = s[i++];
            continue;
        }
        if (i + 1 < len && s[i + 1] == '0') {
            s[w++] = '\0';
            i += 2;
        } else if (i + 3 < len) {
            const uint8_t *p = (const uint8_t *)s + i + 1;
            unsigned cp =
                (unsigned)(p[0] & 0x0f) << 12 | (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
            cp -= 0x1000;
            s[w++] = (char)0xed;
            s[w++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            s[w++] = (char)(0x80 | (cp & 0x3f));
            i += 4;
        } else {
            i++; /* cannot happen: tags come whole */
        }
    }
    return w;
}

/* A JSON string's bytes, untagged, copied into the arena. */
static int get_string(dubbo_json_reader_t *r, const json_t *j, const char **s, size_t *len)
{
    const char *p = json_string_value(j);
    size_t n = json_string_length(j);
    char *c = dubbo_arena_strndup(r->arena, p, n);
    if (!c) return arena_fail(r);
    if (r->tagged && memchr(c, '\0', n)) {
        n = untag(c, n);
        c[n] = '\0';
    }
    *s = c;
    *len = n;
    return 0;
}

/* A string value from a JSON string (one copy, into the arena). */
static int read_string(dubbo_json_reader_t *r, const json_t *j, dubbo_value_t **out)
{
    const char *s;
    size_t n;
    TRY(get_string(r, j, &s, &n));
    dubbo_value_t *v = dubbo_arena_alloc(r->arena, sizeof(*v));
    if (!v) return arena_fail(r);
    memset(v, 0, sizeof(*v));
    v->type = DUBBO_T_STRING;
    v->u.s.ptr = s;
    v->u.s.len = n;
    *out = v;
    return 0;
}

/* Whether s[0..n) is one UTF-16 unit: one character below U+10000 (or an
 * unpaired surrogate). */
static bool one_char(const char *str, size_t n)
{
    const uint8_t *s = (const uint8_t *)str;
    if (n == 1) return s[0] < 0x80;
    if (n == 2) return s[0] >= 0xc0 && s[0] < 0xe0;
    return n == 3 && s[0] >= 0xe0 && s[0] < 0xf0;
}

/* A name (class, type, field): a string without NUL. */
static int get_name(dubbo_json_reader_t *r, const json_t *j, const char *what, const char **s)
{
    char d[96];
    if (!json_is_string(j))
        return bad(r, "%s must be a string, not %s", what, describe(j, d, sizeof(d)));
    size_t n;
    TRY(get_string(r, j, s, &n));
    if (strlen(*s) != n) return bad(r, "%s must not contain \\u0000", what);
    return 0;
}

static int new_value(dubbo_json_reader_t *r, dubbo_value_t *v, dubbo_value_t **out)
{
    if (!v) return arena_fail(r);
    *out = v;
    return 0;
}

/* Strict decimal integer text (what js-to-java users pass for longs past
 * 2^53): optional '-', digits, nothing else. */
static bool parse_decimal(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    if (neg) s++;
    if (!*s) return false;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned dgt = (unsigned)(*s - '0');
        if (v > (lim - dgt) / 10) return false;
        v = v * 10 + dgt;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian. */
static int64_t epoch_days(int64_t y, int m, int d)
{
    static const int before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int64_t leaps_before = floor_div(y - 1, 4) - floor_div(y - 1, 100) + floor_div(y - 1, 400);
    int64_t leaps_before_1970 = 1969 / 4 - 1969 / 100 + 1969 / 400;
    return (y - 1970) * 365 + (leaps_before - leaps_before_1970) + before_month[m - 1] +
           (m > 2 && leap_year(y)) + (d - 1);
}

static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* ISO-8601: YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|+HH:MM|+HHMM|+HH].
 * Without a zone the time is UTC. */
static bool parse_iso8601(const char *s, int64_t *ms)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0, off = 0;
    if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
        !digits(&s, 2, &d))
        return false;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi)) return false;
        if (*s == ':') {
            s++;
            if (!digits(&s, 2, &sec)) return false;
            if (*s == '.' || *s == ',') {
                s++;
                int nd = 0;
                for (; *s >= '0' && *s <= '9'; s++, nd++)
                    if (nd < 3) frac_ms = frac_ms * 10 + (*s - '0');
                if (nd == 0) return false;
                for (; nd < 3; nd++)
                    frac_ms *= 10;
            }
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1, oh, om = 0;
            if (!digits(&s, 2, &oh)) return false;
            if (*s == ':') s++;
            if (*s && !digits(&s, 2, &om)) return false;
            if (oh > 23 || om > 59) return false;
            off = sign * (oh * 60 + om);
        }
    }
    if (*s) return false;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap_year(y)))
        return false;
    if (h > 23 || mi > 59 || sec > 59) return false;
    int64_t t = epoch_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
    *ms = t * 1000 + frac_ms;
    return true;
}

/* Standard base64 with or without '=' padding. */
static int read_base64(dubbo_json_reader_t *r, const json_t *j, dubbo_value_t **out)
{
    const char *s = json_string_value(j);
    size_t n = json_string_length(j);
    while (n && s[n - 1] == '=' && n % 4 != 1)
        n--;
    size_t pad = json_string_length(j) - n;
    if (pad > 2 || n % 4 == 1 || (pad && (n + pad) % 4 != 0))
        return bad(r, "\"$class\":\"[B\" needs base64 \"$\": length %zu is not valid",
                   json_string_length(j));
    dubbo_buf_t buf;
    dubbo_buf_init(&buf, 0);
    size_t at = 0;
    int rc = dubbo__base64_decode_chars(s, n, &buf, &at);
    if (rc == DUBBO_EMALFORMED) {
        dubbo_buf_destroy(&buf);
        return bad(r, "\"$class\":\"[B\" needs base64 \"$\": bad character 0x%02x at %zu",
                   (unsigned char)s[at], at);
    }
    if (rc) return dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory for binary");
    *out = dubbo_v_binary(r->arena, buf.base ? buf.base : (const uint8_t *)"", buf.len);
    dubbo_buf_destroy(&buf);
    return *out ? 0 : arena_fail(r);
}

/* "$class":"[B" with an array of numbers in -128..255. */
static int read_byte_array(dubbo_json_reader_t *r, const json_t *j, dubbo_value_t **out)
{
    size_t n = json_array_size(j);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory for binary");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(j, i);
        json_int_t x = json_is_integer(e) ? json_integer_value(e) : 1000;
        if (x < -128 || x > 255) {
            free(buf);
            char d[96];
            TRY(push_seg(r, NULL, i));
            return bad(r, "\"$class\":\"[B\" items must be bytes (-128..255), not %s",
                       describe(e, d, sizeof(d)));
        }
        buf[i] = (uint8_t)x;
    }
    *out = dubbo_v_binary(r->arena, buf, n);
    free(buf);
    return *out ? 0 : arena_fail(r);
}

static double java_nan(void)
{
    uint64_t bits = JAVA_NAN_BITS;
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

/* "NaN(0x7ff4000000000000)": a NaN with these exact bits. */
static bool parse_nan_bits(const char *s, double *out)
{
    uint64_t bits = 0;
    if (strncmp(s, "NaN(0x", 6) != 0) return false;
    s += 6;
    int n = 0;
    for (; n < 16; n++) {
        int v = hex_digit((unsigned char)s[n]);
        if (v < 0) break;
        bits = bits << 4 | (uint64_t)v;
    }
    if (n != 16 || strcmp(s + 16, ")") != 0) return false;
    memcpy(out, &bits, sizeof(*out));
    return isnan(*out);
}

/* {"$class": <scalar class>, "$": j}. */
static int read_scalar(dubbo_json_reader_t *r, const char *cls, scalar_kind_t kind, const json_t *j,
                       dubbo_value_t **out)
{
    char d[96];
    dubbo_arena_t *a = r->arena;
    switch (kind) {
    case K_INT:
    case K_SHORT:
    case K_BYTE:
    case K_LONG: {
        int64_t x;
        if (json_is_integer(j))
            x = json_integer_value(j);
        else if (!json_is_string(j) || !parse_decimal(json_string_value(j), &x))
            return bad(r,
                       "\"$class\":\"%s\" needs an integer \"$\" (or its decimal string), not %s",
                       cls, describe(j, d, sizeof(d)));
        int64_t lo = kind == K_BYTE ? INT8_MIN : kind == K_SHORT ? INT16_MIN : INT32_MIN;
        int64_t hi = kind == K_BYTE ? INT8_MAX : kind == K_SHORT ? INT16_MAX : INT32_MAX;
        if (kind == K_LONG) return new_value(r, dubbo_v_long(a, x), out);
        if (x < lo || x > hi)
            return bad(r,
                       "\"$class\":\"%s\" value %" PRId64 " is out of range %" PRId64 "..%" PRId64,
                       cls, x, lo, hi);
        return new_value(r, dubbo_v_int(a, (int32_t)x), out);
    }
    case K_DOUBLE:
    case K_FLOAT: {
        double x;
        const char *s = json_is_string(j) ? json_string_value(j) : "";
        if (json_is_real(j))
            x = json_real_value(j);
        else if (json_is_integer(j))
            x = (double)json_integer_value(j);
        else if (strcmp(s, "NaN") == 0)
            x = java_nan();
        else if (parse_nan_bits(s, &x)) {
        } else if (strcmp(s, "Infinity") == 0)
            x = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            x = -INFINITY;
        else
            return bad(r,
                       "\"$class\":\"%s\" needs a number \"$\" (or \"NaN\", \"Infinity\", "
                       "\"-Infinity\", \"NaN(0x<16 hex digits>)\"), not %s",
                       cls, describe(j, d, sizeof(d)));
        if (kind == K_FLOAT && isfinite(x)) {
            /* A Java float travels as the double it widens to. */
            if (fabs(x) > FLT_MAX)
                return bad(r, "\"$class\":\"%s\" value %g is out of float range", cls, x);
            x = (double)(float)x;
        }
        return new_value(r, dubbo_v_double(a, x), out);
    }
    case K_BOOL:
        if (!json_is_boolean(j))
            return bad(r, "\"$class\":\"%s\" needs true or false \"$\", not %s", cls,
                       describe(j, d, sizeof(d)));
        return new_value(r, dubbo_v_bool(a, json_is_true(j)), out);
    case K_STRING:
    case K_CHAR: {
        if (!json_is_string(j))
            return bad(r, "\"$class\":\"%s\" needs a string \"$\", not %s", cls,
                       describe(j, d, sizeof(d)));
        if (kind == K_CHAR && !one_char(json_string_value(j), json_string_length(j)))
            return bad(r, "\"$class\":\"%s\" needs a string of one character below U+10000, not %s",
                       cls, describe(j, d, sizeof(d)));
        return read_string(r, j, out);
    }
    case K_DATE: {
        int64_t ms;
        if (json_is_integer(j))
            ms = json_integer_value(j);
        else if (!json_is_string(j) || !parse_iso8601(json_string_value(j), &ms))
            return bad(r,
                       "\"$class\":\"%s\" needs milliseconds since 1970 or an ISO-8601 "
                       "string (2024-05-01T12:00:00.000Z) \"$\", not %s",
                       cls, describe(j, d, sizeof(d)));
        return new_value(r, dubbo_v_date(a, ms), out);
    }
    case K_BINARY:
        if (json_is_string(j)) return read_base64(r, j, out);
        if (json_is_array(j)) return read_byte_array(r, j, out);
        return bad(r,
                   "\"$class\":\"[B\" needs a base64 string \"$\" (or an array of bytes), not %s",
                   describe(j, d, sizeof(d)));
    case K_NONE: break;
    }
    return bad(r, "internal: class %s", cls);
}

static int read_value(dubbo_json_reader_t *r, const json_t *j, dubbo_value_t **out);

/* Items of a JSON array into a new list (registered for "$ref" first). */
static int read_list(dubbo_json_reader_t *r, const json_t *arr, const char *type, bool variable,
                     dubbo_value_t **out)
{
    size_t n = json_array_size(arr);
    dubbo_value_t *v = dubbo_v_list(r->arena, type, n);
    if (!v) return arena_fail(r);
    if (variable) v->flags |= DUBBO_VF_VARIABLE;
    TRY(add_ref(r, v));
    TRY(enter(r));
    for (size_t i = 0; i < n; i++) {
        TRY(push_seg(r, NULL, i));
        TRY(read_value(r, json_array_get(arr, i), &v->u.list.items[i]));
        pop_seg(r);
        v->u.list.len++;
    }
    r->depth--;
    *out = v;
    return 0;
}

/* A map from a JSON object (string keys) or an array of [key, value]. */
static int read_map(dubbo_json_reader_t *r, const json_t *j, const char *type, const char *what,
                    dubbo_value_t **out)
{
    char d[96];
    if (!json_is_object(j) && !json_is_array(j))
        return bad(r, "%s must be an object or an array of [key, value] pairs, not %s", what,
                   describe(j, d, sizeof(d)));
    size_t n = json_is_object(j) ? json_object_size(j) : json_array_size(j);
    dubbo_value_t *m = dubbo_v_map(r->arena, type, n);
    if (!m) return arena_fail(r);
    TRY(add_ref(r, m));
    TRY(enter(r));
    if (json_is_object(j)) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)j, key, val)
        {
            dubbo_value_t *k = dubbo_v_string(r->arena, key, strlen(key)), *v;
            if (!k) return arena_fail(r);
            TRY(push_seg(r, key, 0));
            TRY(read_value(r, val, &v));
            pop_seg(r);
            TRY(dubbo_map_put(r->arena, m, k, v) ? arena_fail(r) : 0);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            const json_t *pair = json_array_get(j, i);
            dubbo_value_t *k, *v;
            TRY(push_seg(r, NULL, i));
            if (!json_is_array(pair) || json_array_size(pair) != 2)
                return bad(r, "%s entries must be [key, value] pairs, not %s", what,
                           describe(pair, d, sizeof(d)));
            TRY(push_seg(r, NULL, 0));
            TRY(read_value(r, json_array_get(pair, 0), &k));
            r->path[r->npath - 1].index = 1;
            TRY(read_value(r, json_array_get(pair, 1), &v));
            pop_seg(r);
            pop_seg(r);
            TRY(dubbo_map_put(r->arena, m, k, v) ? arena_fail(r) : 0);
        }
    }
    r->depth--;
    *out = m;
    return 0;
}

/* The class with this name and these fields, made once per reader. */
static int intern_class(dubbo_json_reader_t *r, const char *name, size_t n, const char **fields,
                        const dubbo_class_t **out)
{
    for (size_t i = 0; i < r->nclasses; i++) {
        const dubbo_class_t *c = r->classes[i];
        if (c->nfields != n || strcmp(c->name, name) != 0) continue;
        size_t k = 0;
        while (k < n && strcmp(c->fields[k], fields[k]) == 0)
            k++;
        if (k == n) {
            *out = c;
            return 0;
        }
    }
    dubbo_class_t *c = dubbo_class_new(r->arena, name, n, fields);
    if (!c) return arena_fail(r);
    if (r->nclasses == r->classes_cap) {
        size_t ncap = r->classes_cap ? r->classes_cap * 2 : 16;
        dubbo_class_t **p = realloc(r->classes, ncap * sizeof(*p));
        if (!p) return dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory for classes");
        r->classes = p;
        r->classes_cap = ncap;
    }
    r->classes[r->nclasses++] = c;
    *out = c;
    return 0;
}

/* An object of class `name` from a JSON object (fields in order) or an
 * array of [field, value] pairs. */
static int read_object(dubbo_json_reader_t *r, const json_t *j, const char *name, const char *what,
                       dubbo_value_t **out)
{
    char d[96];
    bool pairs = json_is_array(j);
    if (!json_is_object(j) && !pairs)
        return bad(r, "%s must be an object or an array of [field, value] pairs, not %s", what,
                   describe(j, d, sizeof(d)));
    size_t n = pairs ? json_array_size(j) : json_object_size(j);
    const char **names = malloc((n ? n : 1) * sizeof(*names));
    const json_t **vals = malloc((n ? n : 1) * sizeof(*vals));
    int rc = 0;
    if (!names || !vals) rc = dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory for fields");
    if (!rc && pairs) {
        for (size_t i = 0; i < n && !rc; i++) {
            const json_t *pair = json_array_get(j, i);
            if (!(rc = push_seg(r, NULL, i))) {
                if (!json_is_array(pair) || json_array_size(pair) != 2)
                    rc = bad(r, "%s entries must be [field, value] pairs, not %s", what,
                             describe(pair, d, sizeof(d)));
                else if (!(rc = push_seg(r, NULL, 0)))
                    rc = get_name(r, json_array_get(pair, 0), "a field name", &names[i]);
                if (!rc) {
                    vals[i] = json_array_get(pair, 1);
                    r->npath -= 2;
                }
            }
        }
    } else if (!rc) {
        size_t i = 0;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)j, key, val)
        {
            names[i] = key;
            vals[i++] = val;
        }
    }
    const dubbo_class_t *cls = NULL;
    dubbo_value_t *o = NULL;
    if (!rc) rc = intern_class(r, name, n, names, &cls);
    if (!rc && !(o = dubbo_v_object(r->arena, cls))) rc = arena_fail(r);
    if (!rc) rc = add_ref(r, o);
    if (!rc) rc = enter(r);
    for (size_t i = 0; i < n && !rc; i++) {
        if (pairs) {
            if (!(rc = push_seg(r, NULL, i)) && !(rc = push_seg(r, NULL, 1)))
                rc = read_value(r, vals[i], &o->u.obj.fields[i]);
            if (!rc) r->npath -= 2;
        } else if (!(rc = push_seg(r, names[i], 0))) {
            rc = read_value(r, vals[i], &o->u.obj.fields[i]);
            if (!rc) pop_seg(r);
        }
    }
    free(names);
    free(vals);
    if (rc) return rc;
    r->depth--;
    *out = o;
    return 0;
}

/* The keys an object with "$" keys may have. */
enum { F_CLASS, F_DOLLAR, F_MAP, F_LIST, F_OBJECT, F_REF, F_VARIABLE, F_COUNT };
static const char *const typed_keys[F_COUNT] = {"$class",  "$",    "$map",     "$list",
                                                "$object", "$ref", "$variable"};

static int read_ref(dubbo_json_reader_t *r, const json_t *j, dubbo_value_t **out)
{
    char d[96];
    if (!json_is_integer(j))
        return bad(r, "\"$ref\" needs an integer, not %s", describe(j, d, sizeof(d)));
    json_int_t n = json_integer_value(j);
    if (n < 0 || (uint64_t)n >= r->nrefs) {
        if (r->nrefs == 0)
            return bad(r,
                       "\"$ref\":%" JSON_INTEGER_FORMAT " refers to nothing: no list, map or "
                       "object precedes it",
                       n);
        return bad(r,
                   "\"$ref\":%" JSON_INTEGER_FORMAT " refers to nothing: only #0..#%zu precede "
                   "it (lists, maps and objects are numbered from 0 in document order)",
                   n, r->nrefs - 1);
    }
    *out = r->refs[n];
    return 0;
}

static int read_typed(dubbo_json_reader_t *r, const json_t *obj, dubbo_value_t **out)
{
    char d[96];
    const json_t *f[F_COUNT] = {0};
    const char *key;
    json_t *val;
    const char *plain = NULL;
    size_t nkeys = 0;
    json_object_foreach((json_t *)obj, key, val)
    {
        if (key[0] != '$') {
            if (!plain) plain = key;
            continue;
        }
        size_t k = 0;
        while (k < F_COUNT && strcmp(key, typed_keys[k]) != 0)
            k++;
        if (k == F_COUNT)
            return bad(r,
                       "unknown key \"%s\" (typed JSON keys are $class, $, $map, $list, "
                       "$object, $ref, $variable; a map with such keys is written "
                       "{\"$map\":{...}})",
                       key);
        f[k] = val;
        nkeys++;
    }
    if (plain)
        return bad(r,
                   "plain key \"%s\" next to typed key \"%s\" (a map with \"$\" keys is "
                   "written {\"$map\":{...}})",
                   plain, f[F_CLASS] ? "$class" : "$...");
    if (f[F_REF]) {
        if (nkeys != 1) return bad(r, "\"$ref\" must be the only key of its object");
        TRY(push_seg(r, "$ref", 0));
        TRY(read_ref(r, f[F_REF], out));
        pop_seg(r);
        return 0;
    }
    const char *cls = NULL;
    if (f[F_CLASS]) {
        TRY(push_seg(r, "$class", 0));
        TRY(get_name(r, f[F_CLASS], "\"$class\"", &cls));
        pop_seg(r);
    }
    int payload = -1, npayload = 0;
    for (int k = F_DOLLAR; k <= F_OBJECT; k++)
        if (f[k]) {
            if (npayload++) {
                return bad(r, "\"%s\" and \"%s\" cannot be used together", typed_keys[payload],
                           typed_keys[k]);
            }
            payload = k;
        }
    if (payload < 0) {
        if (cls) return bad(r, "\"$class\":\"%s\" needs a \"$\" value", cls);
        return bad(r, "\"$variable\" needs a \"$\" array");
    }
    bool variable = false;
    if (f[F_VARIABLE]) {
        if (!json_is_boolean(f[F_VARIABLE]))
            return bad(r, "\"$variable\" must be true or false, not %s",
                       describe(f[F_VARIABLE], d, sizeof(d)));
        variable = json_is_true(f[F_VARIABLE]);
        bool list = payload == F_LIST || (payload == F_DOLLAR && json_is_array(f[F_DOLLAR]) &&
                                          (!cls || (scalar_kind(cls) == K_NONE)));
        if (!list) return bad(r, "\"$variable\" applies only to lists");
    }
    const json_t *p = f[payload];
    TRY(push_seg(r, typed_keys[payload], 0));
    int rc;
    if (payload == F_MAP) {
        rc = read_map(r, p, cls, "\"$map\"", out);
    } else if (payload == F_LIST) {
        if (!json_is_array(p))
            return bad(r, "\"$list\" must be an array, not %s", describe(p, d, sizeof(d)));
        rc = read_list(r, p, cls, variable, out);
    } else if (payload == F_OBJECT) {
        if (!cls) {
            pop_seg(r);
            return bad(r, "\"$object\" needs a \"$class\"");
        }
        rc = read_object(r, p, cls, "\"$object\"", out);
    } else if (json_is_null(p)) {
        *out = dubbo_v_null(); /* js-to-java writes a Java null as {"$class":..,"$":null} */
        rc = 0;
    } else if (!cls) {
        if (!json_is_array(p)) {
            pop_seg(r);
            return bad(r, "\"$\" without \"$class\" must be an array (a list), not %s",
                       describe(p, d, sizeof(d)));
        }
        rc = read_list(r, p, NULL, variable, out);
    } else {
        scalar_kind_t kind = scalar_kind(cls);
        if (kind != K_NONE) {
            pop_seg(r); /* scalar messages name the enclosing object */
            TRY(read_scalar(r, cls, kind, p, out));
            return 0;
        }
        if (json_is_array(p)) {
            rc = read_list(r, p, is_untyped_list_class(cls) ? NULL : cls, variable, out);
        } else if (json_is_object(p)) {
            if (is_map_class(cls))
                rc = read_map(r, p, is_untyped_map_class(cls) ? NULL : cls, "\"$\"", out);
            else
                rc = read_object(r, p, cls, "\"$\"", out);
        } else {
            pop_seg(r);
            return bad(r,
                       "\"$class\":\"%s\" needs an object (fields) or an array (items) "
                       "\"$\", not %s",
                       cls, describe(p, d, sizeof(d)));
        }
    }
    if (rc) return rc;
    pop_seg(r);
    return 0;
}

static int read_value(dubbo_json_reader_t *r, const json_t *j, dubbo_value_t **out)
{
    dubbo_arena_t *a = r->arena;
    switch (json_typeof(j)) {
    case JSON_NULL: *out = dubbo_v_null(); return 0;
    case JSON_TRUE: return new_value(r, dubbo_v_bool(a, true), out);
    case JSON_FALSE: return new_value(r, dubbo_v_bool(a, false), out);
    case JSON_INTEGER: {
        json_int_t x = json_integer_value(j);
        if (x >= INT32_MIN && x <= INT32_MAX) return new_value(r, dubbo_v_int(a, (int32_t)x), out);
        return new_value(r, dubbo_v_long(a, (int64_t)x), out);
    }
    case JSON_REAL: return new_value(r, dubbo_v_double(a, json_real_value(j)), out);
    case JSON_STRING: return read_string(r, j, out);
    case JSON_ARRAY: return read_list(r, j, NULL, false, out);
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)j, key, val)
        {
            if (key[0] == '$') return read_typed(r, j, out);
        }
        return read_map(r, j, NULL, "a map", out);
    }
    }
    return bad(r, "internal: JSON type %d", (int)json_typeof(j));
}

/* ---- jansson and unpaired surrogates -----------------------------------
 * A Java string may hold an unpaired surrogate; to_json prints it as
 * "\ud800", which jansson refuses. Before parsing, such escapes are
 * rewritten to "\u0000\ue800" (the surrogate moved 0x1000 up into the
 * private use area, after a NUL tag), and every genuine "\u0000" to
 * "\u0000\u0030", so that each NUL in a parsed string starts a tag and
 * untag() restores the exact bytes. Only done when the text has unpaired
 * surrogates, so ordinary input is parsed in place. */

typedef struct {
    char *text; /* rewritten copy */
    size_t len;
    size_t *starts; /* offset in the copy of each rewritten escape */
    size_t nstarts;
} retext_t;

static int hex4(const char *p, size_t left)
{
    if (left < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int x = hex_digit((unsigned char)p[i]);
        if (x < 0) return -1;
        v = v << 4 | x;
    }
    return v;
}

/* Walks the \u escapes inside strings of s[0..n); calls back for each escape
 * to rewrite (a NUL or an unpaired surrogate) with its offset and value.
 * Returns how many there are (and whether any is a surrogate). */
static size_t scan_escapes(const char *s, size_t n, bool *any_surrogate, char *w, size_t *wlen,
                           size_t *starts)
{
    size_t count = 0, out = 0, copied = 0;
    bool in_str = false;
    *any_surrogate = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!in_str) {
            in_str = c == '"';
            continue;
        }
        if (c == '"') {
            in_str = false;
            continue;
        }
        if (c != '\\' || i + 1 >= n) continue;
        if (s[i + 1] != 'u') {
            i++;
            continue;
        }
        int cp = hex4(s + i + 2, n - i - 2);
        if (cp < 0) {
            i++;
            continue;
        }
        size_t esc_len = 6;
        bool rewrite = false;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            int lo =
                i + 8 <= n && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(s + i + 8, n - i - 8) : -1;
            if (lo >= 0xdc00 && lo <= 0xdfff)
                esc_len = 12; /* a proper pair */
            else
                rewrite = *any_surrogate = true;
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            rewrite = *any_surrogate = true;
        } else if (cp == 0) {
            rewrite = true;
        }
        if (rewrite) {
            if (w) {
                memcpy(w + out, s + copied, i - copied);
                out += i - copied;
                starts[count] = out;
                char tmp[32];
                snprintf(tmp, sizeof(tmp), "\\u0000\\u%04x", cp ? (unsigned)cp + 0x1000 : 0x30u);
                memcpy(w + out, tmp, 12);
                out += 12;
                copied = i + 6;
            }
            count++;
        }
        i += esc_len - 1;
    }
    if (w) {
        memcpy(w + out, s + copied, n - copied);
        out += n - copied;
        *wlen = out;
    }
    return count;
}

static int retext_make(const char *s, size_t n, retext_t *t, bool *done)
{
    bool sur;
    size_t count = scan_escapes(s, n, &sur, NULL, NULL, NULL);
    *done = false;
    if (!sur) return 0;
    t->text = malloc(n + count * 6 + 1);
    t->starts = malloc(count * sizeof(size_t));
    if (!t->text || !t->starts) {
        free(t->text);
        free(t->starts);
        return dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory");
    }
    t->nstarts = scan_escapes(s, n, &sur, t->text, &t->len, t->starts);
    *done = true;
    return 0;
}

/* Offset in the rewritten copy -> offset in the original text. */
static size_t retext_map(const retext_t *t, size_t off)
{
    size_t shift = 0;
    for (size_t i = 0; i < t->nstarts && t->starts[i] < off; i++) {
        if (off >= t->starts[i] + 12) {
            shift += 6;
        } else {
            size_t inside = off - t->starts[i];
            return off - shift - inside + (inside < 6 ? inside : 6);
        }
    }
    return off - shift;
}

static void skip_ws(const char *s, size_t len, size_t *pos)
{
    while (*pos < len && (s[*pos] == ' ' || s[*pos] == '\t' || s[*pos] == '\n' || s[*pos] == '\r'))
        (*pos)++;
}

static int parse_error(const char *text, size_t off, const json_error_t *e)
{
    size_t line = 1, col_start = 0;
    for (size_t i = 0; i < off; i++)
        if (text[i] == '\n') {
            line++;
            col_start = i + 1;
        }
    const char *hint = "";
    if (json_error_code(e) == json_error_null_byte_in_key)
        hint = " (object keys cannot hold \\u0000 or unpaired surrogates: use "
               "{\"$map\":[[key, value], ...]})";
    /* jansson 2.14 leaves the text empty (or, when a key's copy fails,
     * reports a syntax error) when an allocation fails. */
    if (json_error_code(e) == json_error_out_of_memory || !e->text[0])
        return dubbo__seterr(DUBBO_ENOMEM, "typed JSON: line %zu, column %zu: out of memory", line,
                             off - col_start);
    return dubbo__seterr(DUBBO_EMALFORMED, "typed JSON: line %zu, column %zu: %s%s", line,
                         off - col_start, e->text, hint);
}

dubbo_json_reader_t *dubbo_json_reader_new(dubbo_arena_t *a)
{
    dubbo_json_reader_t *r = calloc(1, sizeof(*r));
    if (!r) {
        dubbo__seterr(DUBBO_ENOMEM, "typed JSON: out of memory for a reader");
        return NULL;
    }
    r->arena = a;
    return r;
}

void dubbo_json_reader_free(dubbo_json_reader_t *r)
{
    if (!r) return;
    free(r->refs);
    free(r->classes);
    free(r->path);
    free(r);
}

/* One document at text[*pos..]; `stream` allows more to follow. */
static int read_doc(dubbo_json_reader_t *r, const char *text, size_t len, size_t *pos, bool stream,
                    dubbo_value_t **out)
{
    skip_ws(text, len, pos);
    if (*pos >= len)
        return dubbo__seterr(DUBBO_EMALFORMED, "typed JSON: no JSON value (empty input)");
    retext_t t = {0};
    bool rewritten;
    TRY(retext_make(text + *pos, len - *pos, &t, &rewritten));
    const char *src = rewritten ? t.text : text + *pos;
    size_t srclen = rewritten ? t.len : len - *pos;
    json_error_t e;
    size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES;
    if (stream) flags |= JSON_DISABLE_EOF_CHECK;
    json_t *root = json_loadb(src, srclen, flags, &e);
    int rc = 0;
    if (!root) {
        size_t at = e.position >= 0 ? (size_t)e.position : 0;
        rc = parse_error(text, *pos + (rewritten ? retext_map(&t, at) : at), &e);
    } else {
        size_t used = stream ? (size_t)e.position : srclen;
        r->tagged = rewritten;
        r->depth = 0;
        r->npath = 0;
        rc = read_value(r, root, out);
        json_decref(root);
        if (!rc) {
            *pos += rewritten ? retext_map(&t, used) : used;
            skip_ws(text, len, pos);
        }
    }
    free(t.text);
    free(t.starts);
    return rc;
}

int dubbo_json_read(dubbo_json_reader_t *r, const char *text, size_t len, size_t *pos,
                    dubbo_value_t **out)
{
    return read_doc(r, text, len, pos, true, out);
}

int dubbo_value_from_json(dubbo_arena_t *a, const char *json, size_t len, dubbo_value_t **out)
{
    dubbo_json_reader_t r = {.arena = a};
    size_t pos = 0;
    int rc = read_doc(&r, json, len, &pos, false, out);
    free(r.refs);
    free(r.classes);
    free(r.path);
    return rc;
}
