/* Hessian 2.0 codec: a strict, bounded decoder for every form in the spec,
 * and an encoder that writes what Java's Hessian2Output writes for the same
 * Java value (see docs/hessian2.md for the rules and where they come from). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/hessian2.h"
#include "dubbo/serialization.h"
#include "core/internal.h"
#include "core/arena.h"
#include "serialize/h2scan.h"

/* Bytecodes (Hessian 2.0 spec, "Bytecode map"). */
enum {
    BC_BINARY_CHUNK = 'A',
    BC_BINARY = 'B',
    BC_CLASS_DEF = 'C',
    BC_DOUBLE = 'D',
    BC_FALSE = 'F',
    BC_MAP_UNTYPED = 'H',
    BC_INT = 'I',
    BC_DATE = 0x4a,
    BC_DATE_MINUTE = 0x4b,
    BC_LONG = 'L',
    BC_MAP = 'M',
    BC_NULL = 'N',
    BC_OBJECT = 'O',
    BC_REF = 0x51,
    BC_STRING_CHUNK = 'R',
    BC_STRING = 'S',
    BC_TRUE = 'T',
    BC_LIST_VARIABLE = 0x55,
    BC_LIST_FIXED = 'V',
    BC_LIST_VARIABLE_UNTYPED = 0x57,
    BC_LIST_FIXED_UNTYPED = 0x58,
    BC_LONG_INT = 0x59,
    BC_END = 'Z',
    BC_DOUBLE_ZERO = 0x5b,
    BC_DOUBLE_ONE = 0x5c,
    BC_DOUBLE_BYTE = 0x5d,
    BC_DOUBLE_SHORT = 0x5e,
    BC_DOUBLE_MILL = 0x5f,
    BC_OBJECT_DIRECT = 0x60, /* 0x60-0x6f */
    BC_LIST_DIRECT = 0x70,   /* 0x70-0x77 typed, 0x78-0x7f untyped */
    BC_LIST_DIRECT_UNTYPED = 0x78,
    BC_INT_ZERO = 0x90,        /* 0x80-0xbf */
    BC_INT_BYTE_ZERO = 0xc8,   /* 0xc0-0xcf */
    BC_INT_SHORT_ZERO = 0xd4,  /* 0xd0-0xd7 */
    BC_LONG_ZERO = 0xe0,       /* 0xd8-0xef */
    BC_LONG_BYTE_ZERO = 0xf8,  /* 0xf0-0xff */
    BC_LONG_SHORT_ZERO = 0x3c, /* 0x38-0x3f */
    BC_STRING_SHORT = 0x30,    /* 0x30-0x33 */
    BC_BINARY_DIRECT = 0x20,   /* 0x20-0x2f */
    BC_BINARY_SHORT = 0x34,    /* 0x34-0x37 */
};

#define STRING_CHUNK_UNITS 0x8000

/* ======================================================================
 * Decoder
 * ====================================================================== */

void dubbo_h2_decoder_init(dubbo_h2_decoder_t *d, dubbo_arena_t *arena, const uint8_t *in,
                           size_t len)
{
    memset(d, 0, sizeof(*d));
    d->in = in;
    d->len = len;
    d->arena = arena;
    d->max_depth = DUBBO_H2_DEFAULT_MAX_DEPTH;
    dubbo_buf_init(&d->scratch, 0);
    d->refs = (dubbo_value_t **)d->inline_refs;
    d->refs_cap = sizeof(d->inline_refs) / sizeof(void *);
    d->classes = (dubbo_class_t **)d->inline_classes;
    d->classes_cap = sizeof(d->inline_classes) / sizeof(void *);
    d->types = (const char **)d->inline_types;
    d->types_cap = sizeof(d->inline_types) / sizeof(void *);
    d->stack = (dubbo_value_t **)d->inline_stack;
    d->stack_cap = sizeof(d->inline_stack) / sizeof(void *);
}

void dubbo_h2_decoder_destroy(dubbo_h2_decoder_t *d)
{
    if ((void **)d->refs != d->inline_refs) free(d->refs);
    if ((void **)d->classes != d->inline_classes) free(d->classes);
    if ((void **)d->types != d->inline_types) free(d->types);
    if ((void **)d->stack != d->inline_stack) free(d->stack);
    dubbo_buf_destroy(&d->scratch);
    d->stack = NULL;
    d->refs = NULL;
    d->classes = NULL;
    d->types = NULL;
}

static int truncated(const dubbo_h2_decoder_t *d, const char *what, size_t at, size_t need)
{
    return dubbo__seterr(DUBBO_ETRUNCATED,
                         "hessian2: truncated %s at offset %zu: needs %zu bytes, %zu left", what,
                         at, need, at <= d->len ? d->len - at : 0);
}

static int nomem(const char *what)
{
    return dubbo__seterr(DUBBO_ENOMEM, "hessian2: out of memory for %s", what);
}

/* Make sure n bytes are available at d->pos. */
#define NEED(d, n, what)                                                                           \
    do {                                                                                           \
        if (DUBBO__UNLIKELY((d)->len - (d)->pos < (size_t)(n)))                                    \
            return truncated((d), (what), (d)->pos, (size_t)(n));                                  \
    } while (0)

static inline uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* Grow a malloc'd table of pointers. Table sizes are bounded by the input:
 * every entry costs at least one input byte. */
static int push_ptr(void ***tab, size_t *n, size_t *cap, void *p, const char *what)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        void **t = realloc(*tab, ncap * sizeof(void *));
        if (!t) return nomem(what);
        *tab = t;
        *cap = ncap;
    }
    (*tab)[(*n)++] = p;
    return 0;
}

/* The decoder's tables start in inline storage and move to the heap when
 * they outgrow it. */
static int dpush(void ***tab, size_t *n, size_t *cap, void *p, void **inl, const char *what)
{
    if (*n == *cap && *tab == inl) {
        void **t = malloc(*cap * 2 * sizeof(void *));
        if (!t) return nomem(what);
        memcpy(t, inl, *n * sizeof(void *));
        *tab = t;
        *cap *= 2;
    }
    return push_ptr(tab, n, cap, p, what);
}

static int add_ref(dubbo_h2_decoder_t *d, dubbo_value_t *v)
{
    return dpush((void ***)&d->refs, &d->nrefs, &d->refs_cap, v, d->inline_refs, "references");
}

static int arena_fail(const dubbo_h2_decoder_t *d, size_t at)
{
    /* The arena set the detail (limit or OOM); add where it happened. */
    char detail[256];
    snprintf(detail, sizeof(detail), "%s", dubbo_last_error());
    int code = dubbo__last_code() == DUBBO_ETOO_BIG ? DUBBO_ETOO_BIG : DUBBO_ENOMEM;
    return dubbo__seterr(code, "hessian2: value at offset %zu: %s", at, detail);
}

/* Reads any int form; `what` names the field for messages. */
static int read_int(dubbo_h2_decoder_t *d, int32_t *out, const char *what)
{
    size_t at = d->pos;
    NEED(d, 1, what);
    uint8_t b = d->in[d->pos++];
    if (b >= 0x80 && b <= 0xbf) {
        *out = (int32_t)b - BC_INT_ZERO;
    } else if (b >= 0xc0 && b <= 0xcf) {
        NEED(d, 1, what);
        *out = (int32_t)(((uint32_t)((int32_t)b - BC_INT_BYTE_ZERO) << 8) | d->in[d->pos]);
        d->pos += 1;
    } else if (b >= 0xd0 && b <= 0xd7) {
        NEED(d, 2, what);
        *out = (int32_t)(((uint32_t)((int32_t)b - BC_INT_SHORT_ZERO) << 16) | be16(d->in + d->pos));
        d->pos += 2;
    } else if (b == BC_INT) {
        NEED(d, 4, what);
        *out = (int32_t)be32(d->in + d->pos);
        d->pos += 4;
    } else {
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "hessian2: %s at offset %zu must be an int, found byte 0x%02x", what,
                             at, b);
    }
    return 0;
}

static bool is_string_code(uint8_t b)
{
    return b <= 0x1f || (b >= 0x30 && b <= 0x33) || b == BC_STRING || b == BC_STRING_CHUNK;
}

/* Length of one CESU-8/UTF-8 character starting at p (n bytes available),
 * counting UTF-16 units in *units. Returns the byte length, 0 if malformed,
 * or -1 if truncated. Accepts surrogates encoded on their own (CESU-8, as
 * Java writes) and, leniently, 4-byte UTF-8 (2 units). Rejects overlongs. */
static int char_len(const uint8_t *p, size_t n, int *units)
{
    uint8_t c = p[0];
    if (c < 0x80) {
        *units = 1;
        return 1;
    }
    if (c < 0xc2) return 0; /* continuation byte or overlong 2-byte lead */
    if (c < 0xe0) {
        if (n < 2) return -1;
        if ((p[1] & 0xc0) != 0x80) return 0;
        *units = 1;
        return 2;
    }
    if (c < 0xf0) {
        if (n < 3) return -1;
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && p[1] < 0xa0) return 0; /* overlong */
        *units = 1;
        return 3;
    }
    if (c < 0xf5) {
        if (n < 4) return -1;
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) return 0;
        if (c == 0xf0 && p[1] < 0x90) return 0;  /* overlong */
        if (c == 0xf4 && p[1] >= 0x90) return 0; /* past U+10FFFF */
        *units = 2;
        return 4;
    }
    return 0;
}

/* Whether n bytes at p are all ASCII, eight at a time. */
static bool all_ascii(const uint8_t *p, size_t n)
{
    uint64_t seen = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        seen |= w;
    }
    for (; i < n; i++)
        seen |= p[i];
    return !(seen & 0x8080808080808080ULL);
}

/* Scan `units` UTF-16 units of characters at d->pos; return their byte
 * length in *blen and whether any surrogate (3-byte ED A0..ED BF) was seen. */
static int scan_chars(dubbo_h2_decoder_t *d, size_t units, size_t *blen, bool *surrogates,
                      bool *ascii)
{
    const uint8_t *p = d->in + d->pos;
    size_t left = d->len - d->pos, i = 0, u = 0;
    bool asc = true;
    /* Fast path: ASCII, one byte per unit, eight bytes at a time. */
    size_t fast = units < left ? units : left;
    while (i + 8 <= fast) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ULL) break;
        i += 8;
    }
    while (i < fast && p[i] < 0x80)
        i++;
    u = i;
    while (u < units) {
        if (i >= left) return truncated(d, "string", d->pos + i, units - u);
        int cu;
        int n = char_len(p + i, left - i, &cu);
        if (n < 0) return truncated(d, "string character", d->pos + i, 4);
        if (n == 0 || (cu == 2 && u + 2 > units))
            return dubbo__seterr(DUBBO_EMALFORMED,
                                 "hessian2: invalid UTF-8 byte 0x%02x in string at offset %zu",
                                 p[i], d->pos + i);
        if (n > 1) asc = false;
        if (n == 3 && p[i] == 0xed && p[i + 1] >= 0xa0) *surrogates = true;
        i += (size_t)n;
        u += (size_t)cu;
    }
    *blen = i;
    *ascii = asc;
    return 0;
}

/* Join CESU-8 surrogate pairs (ED A0-AF xx ED B0-BF xx) into 4-byte UTF-8,
 * in place; lone surrogates stay as 3-byte sequences (WTF-8). */
static size_t join_surrogates(char *s, size_t len)
{
    size_t r = 0, w = 0;
    while (r < len) {
        const uint8_t *p = (const uint8_t *)s + r;
        if (r + 6 <= len && p[0] == 0xed && p[1] >= 0xa0 && p[1] <= 0xaf && p[3] == 0xed &&
            p[4] >= 0xb0 && p[4] <= 0xbf) {
            uint32_t hi = 0xd000u | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
            uint32_t lo = 0xd000u | (uint32_t)(p[4] & 0x3f) << 6 | (p[5] & 0x3f);
            uint32_t cp = 0x10000u + ((hi - 0xd800u) << 10) + (lo - 0xdc00u);
            s[w++] = (char)(0xf0 | cp >> 18);
            s[w++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            s[w++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            s[w++] = (char)(0x80 | (cp & 0x3f));
            r += 6;
        } else {
            s[w++] = s[r++];
        }
    }
    s[w] = '\0';
    return w;
}

/* Decode a string whose first bytecode `b` was consumed at offset `at`. */
typedef size_t piece_t[2]; /* a string chunk's bytes: offset in the input, length */

static int read_string_body(dubbo_h2_decoder_t *d, uint8_t b, size_t at, const char **out,
                            size_t *outlen)
{
    /* Short ASCII strings (names, versions, most attachments): a length
     * of one or two bytes, then one byte per unit, copied straight. */
    size_t hl = b <= 0x1f ? 0 : b >= 0x30 && b <= 0x33 ? 1 : 2;
    if (hl < 2 && d->len - d->pos >= hl) {
        size_t n = hl ? (size_t)(b - BC_STRING_SHORT) << 8 | d->in[d->pos] : b;
        const uint8_t *p = d->in + d->pos + hl;
        if (d->len - d->pos - hl >= n && all_ascii(p, n)) {
            char *s = dubbo__arena_alloc(d->arena, n + 1);
            if (!s) return arena_fail(d, at);
            memcpy(s, p, n);
            s[n] = '\0';
            d->pos += hl + n;
            *out = s;
            *outlen = n;
            return 0;
        }
    }
    bool surrogates = false, chunked = false;
    size_t total = 0;
    d->scratch.len = 0;
    for (;;) {
        size_t units;
        bool final = true;
        if (b <= 0x1f) {
            units = b;
        } else if (b >= 0x30 && b <= 0x33) {
            NEED(d, 1, "string length");
            units = (size_t)(b - BC_STRING_SHORT) << 8 | d->in[d->pos++];
        } else if (b == BC_STRING || b == BC_STRING_CHUNK) {
            NEED(d, 2, "string length");
            units = be16(d->in + d->pos);
            d->pos += 2;
            final = b == BC_STRING;
        } else {
            return dubbo__seterr(DUBBO_EMALFORMED,
                                 "hessian2: string chunk at offset %zu must be a string, found "
                                 "byte 0x%02x",
                                 d->pos - 1, b);
        }
        size_t blen = 0;
        bool ascii = false;
        int rc = scan_chars(d, units, &blen, &surrogates, &ascii);
        if (rc) return rc;
        if (final && !chunked) {
            /* The common case: one piece, converted straight into the arena. */
            char *s = dubbo_arena_strndup(d->arena, (const char *)d->in + d->pos, blen);
            if (!s) return arena_fail(d, at);
            d->pos += blen;
            *out = s;
            *outlen = surrogates ? join_surrogates(s, blen) : blen;
            return 0;
        }
        /* Chunks: their places are noted and the string is put together
         * in the arena once the total is known, without a second copy of
         * a large string on the heap. */
        chunked = true;
        piece_t piece = {d->pos, blen};
        if (dubbo_buf_append(&d->scratch, piece, sizeof(piece))) return nomem("string chunks");
        total += blen;
        d->pos += blen;
        if (final) break;
        NEED(d, 1, "string chunk");
        b = d->in[d->pos++];
    }
    char *s = total < SIZE_MAX ? dubbo_arena_alloc(d->arena, total + 1) : NULL;
    if (!s) return arena_fail(d, at);
    size_t w = 0;
    for (size_t i = 0; i + sizeof(piece_t) <= d->scratch.len; i += sizeof(piece_t)) {
        piece_t pc;
        memcpy(&pc, d->scratch.base + i, sizeof(pc));
        memcpy(s + w, d->in + pc[0], pc[1]);
        w += pc[1];
    }
    s[total] = '\0';
    *out = s;
    *outlen = surrogates ? join_surrogates(s, total) : total;
    return 0;
}

/* A string where the grammar requires one (type names, class and field
 * names). */
static int read_name(dubbo_h2_decoder_t *d, const char **out, const char *what)
{
    NEED(d, 1, what);
    size_t at = d->pos;
    uint8_t b = d->in[d->pos++];
    if (!is_string_code(b))
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "hessian2: %s at offset %zu must be a string, found byte 0x%02x", what,
                             at, b);
    size_t len;
    return read_string_body(d, b, at, out, &len);
}

/* type ::= string | int (index into the stream's type table) */
static int read_type(dubbo_h2_decoder_t *d, const char **out)
{
    NEED(d, 1, "type");
    if (is_string_code(d->in[d->pos])) {
        int rc = read_name(d, out, "type");
        if (rc) return rc;
        return dpush((void ***)&d->types, &d->ntypes, &d->types_cap, (void *)*out, d->inline_types,
                     "types");
    }
    size_t at = d->pos;
    int32_t idx;
    int rc = read_int(d, &idx, "type");
    if (rc) return rc;
    if (idx < 0 || (size_t)idx >= d->ntypes)
        return dubbo__seterr(DUBBO_EBAD_REF,
                             "hessian2: type reference %d at offset %zu is out of range (%zu types "
                             "defined)",
                             idx, at, d->ntypes);
    *out = d->types[idx];
    return 0;
}

static int read_binary_body(dubbo_h2_decoder_t *d, uint8_t b, size_t at, dubbo_value_t **out)
{
    /* First pass: walk the chunk headers to learn the total, so the value is
     * allocated once; every byte counted is present in the input. */
    size_t p = d->pos, total = 0;
    uint8_t c = b;
    for (;;) {
        size_t n;
        bool final = true;
        if (c >= 0x20 && c <= 0x2f) {
            n = c - BC_BINARY_DIRECT;
        } else if (c >= 0x34 && c <= 0x37) {
            if (d->len - p < 1) return truncated(d, "binary length", p, 1);
            n = (size_t)(c - BC_BINARY_SHORT) << 8 | d->in[p++];
        } else if (c == BC_BINARY || c == BC_BINARY_CHUNK) {
            if (d->len - p < 2) return truncated(d, "binary length", p, 2);
            n = be16(d->in + p);
            p += 2;
            final = c == BC_BINARY;
        } else {
            return dubbo__seterr(DUBBO_EMALFORMED,
                                 "hessian2: binary chunk at offset %zu must be binary, found byte "
                                 "0x%02x",
                                 p - 1, c);
        }
        if (d->len - p < n) return truncated(d, "binary", p, n);
        p += n;
        total += n;
        if (final) break;
        if (p >= d->len) return truncated(d, "binary chunk", p, 1);
        c = d->in[p++];
    }
    dubbo_value_t *v = dubbo__arena_alloc(d->arena, sizeof(*v));
    uint8_t *buf = dubbo__arena_alloc(d->arena, total + 1);
    if (!v || !buf) return arena_fail(d, at);
    memset(v, 0, sizeof(*v));
    v->type = DUBBO_T_BINARY;
    /* Second pass: copy. */
    size_t w = 0;
    c = b;
    for (;;) {
        size_t n;
        bool final = true;
        if (c >= 0x20 && c <= 0x2f) {
            n = c - BC_BINARY_DIRECT;
        } else if (c >= 0x34 && c <= 0x37) {
            n = (size_t)(c - BC_BINARY_SHORT) << 8 | d->in[d->pos++];
        } else {
            n = be16(d->in + d->pos);
            d->pos += 2;
            final = c == BC_BINARY;
        }
        memcpy(buf + w, d->in + d->pos, n);
        d->pos += n;
        w += n;
        if (final) break;
        c = d->in[d->pos++];
    }
    buf[total] = 0;
    v->u.s.ptr = (const char *)buf;
    v->u.s.len = total;
    *out = v;
    return 0;
}

/* Every caller sets the union member of its type (lists, maps and objects
 * all of theirs), so only the header is initialised here. */
static inline __attribute__((always_inline)) dubbo_value_t *new_value(dubbo_h2_decoder_t *d,
                                                                      dubbo_vtype_t t)
{
    dubbo_value_t *v = dubbo__arena_alloc(d->arena, sizeof(*v));
    if (v) {
        v->type = t;
        v->flags = 0;
    }
    return v;
}

static int decode_value(dubbo_h2_decoder_t *d, dubbo_value_t **out);

static int enter(dubbo_h2_decoder_t *d, size_t at)
{
    if (++d->depth > d->max_depth)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "hessian2: nesting deeper than %u at offset %zu",
                             d->max_depth, at);
    return 0;
}

/* Container items are decoded onto a stack owned by the decoder and copied
 * into the arena once complete: memory then grows with the bytes actually
 * decoded, never with a count a hostile input claims (nested lists or
 * objects each claiming thousands of entries would otherwise multiply). */
static int spush(dubbo_h2_decoder_t *d, dubbo_value_t *v)
{
    return dpush((void ***)&d->stack, &d->nstack, &d->stack_cap, v, d->inline_stack, "values");
}

/* Move the stack entries from `base` up into a new arena array. */
static dubbo_value_t **spop(dubbo_h2_decoder_t *d, size_t base, size_t at)
{
    size_t n = d->nstack - base;
    dubbo_value_t **items = dubbo__arena_alloc(d->arena, (n ? n : 1) * sizeof(*items));
    if (!items) {
        arena_fail(d, at);
        return NULL;
    }
    if (n) memcpy(items, d->stack + base, n * sizeof(*items));
    d->nstack = base;
    return items;
}

/* A list: fixed length n, or variable (n < 0 with `variable`) up to 'Z'. */
static int read_list(dubbo_h2_decoder_t *d, size_t at, const char *type, int32_t n, bool variable,
                     dubbo_value_t **out)
{
    if (!variable && n < 0)
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "hessian2: list at offset %zu has negative length %d", at, n);
    /* Every element takes at least one byte: a length past the input is a
     * lie, refused before anything is decoded. */
    if (!variable && (size_t)n > d->len - d->pos) return truncated(d, "list", d->pos, (size_t)n);
    dubbo_value_t *v = new_value(d, DUBBO_T_LIST);
    if (!v) return arena_fail(d, at);
    v->u.list.type = type;
    v->u.list.items = NULL; /* until complete (a child may refer to it) */
    v->u.list.len = v->u.list.cap = 0;
    if (variable) v->flags = DUBBO_VF_VARIABLE;
    int rc = add_ref(d, v);
    if (rc) return rc;
    if ((rc = enter(d, at))) return rc;
    size_t base = d->nstack;
    for (int32_t i = 0; variable || i < n; i++) {
        if (variable) {
            NEED(d, 1, "list end");
            if (d->in[d->pos] == BC_END) {
                d->pos++;
                break;
            }
        }
        dubbo_value_t *item;
        if ((rc = decode_value(d, &item)) || (rc = spush(d, item))) return rc;
    }
    size_t count = d->nstack - base;
    if (!(v->u.list.items = spop(d, base, at))) return dubbo__last_code();
    v->u.list.len = v->u.list.cap = count;
    d->depth--;
    *out = v;
    return 0;
}

static int read_map(dubbo_h2_decoder_t *d, size_t at, const char *type, dubbo_value_t **out)
{
    dubbo_value_t *v = new_value(d, DUBBO_T_MAP);
    if (!v) return arena_fail(d, at);
    v->u.map.type = type;
    v->u.map.items = NULL;
    v->u.map.len = v->u.map.cap = 0;
    int rc = add_ref(d, v);
    if (rc) return rc;
    if ((rc = enter(d, at))) return rc;
    size_t base = d->nstack;
    for (;;) {
        NEED(d, 1, "map end");
        if (d->in[d->pos] == BC_END) {
            d->pos++;
            break;
        }
        dubbo_value_t *k, *val;
        if ((rc = decode_value(d, &k)) || (rc = spush(d, k))) return rc;
        if ((rc = decode_value(d, &val)) || (rc = spush(d, val))) return rc;
    }
    size_t n = (d->nstack - base) / 2;
    dubbo_map_entry_t *items = dubbo__arena_alloc(d->arena, (n ? n : 1) * sizeof(*items));
    if (!items) return arena_fail(d, at);
    for (size_t i = 0; i < n; i++) {
        items[i].key = d->stack[base + 2 * i];
        items[i].value = d->stack[base + 2 * i + 1];
    }
    d->nstack = base;
    v->u.map.items = items;
    v->u.map.len = v->u.map.cap = n;
    d->depth--;
    *out = v;
    return 0;
}

/* 'C' name int(nfields) name*nfields: one more entry in the class table. */
static int read_class_def(dubbo_h2_decoder_t *d, size_t at)
{
    const char *name;
    int rc = read_name(d, &name, "class name");
    if (rc) return rc;
    size_t nat = d->pos;
    int32_t n;
    if ((rc = read_int(d, &n, "class field count"))) return rc;
    if (n < 0 || (size_t)n > d->len - d->pos)
        return dubbo__seterr(n < 0 ? DUBBO_EMALFORMED : DUBBO_ETRUNCATED,
                             "hessian2: class definition at offset %zu declares %d fields at "
                             "offset %zu, %zu bytes left (class %.80s)",
                             at, n, nat, d->len - d->pos, name);
    size_t base = d->nstack;
    for (int32_t i = 0; i < n; i++) {
        const char *f;
        if ((rc = read_name(d, &f, "field name")) || (rc = spush(d, (dubbo_value_t *)f))) return rc;
    }
    dubbo_class_t *c = dubbo__arena_alloc(d->arena, sizeof(*c));
    const char **fields = (const char **)spop(d, base, at);
    if (!c || !fields) return c ? dubbo__last_code() : arena_fail(d, at);
    c->name = name;
    c->nfields = (size_t)n;
    c->fields = fields;
    return dpush((void ***)&d->classes, &d->nclasses, &d->classes_cap, c, d->inline_classes,
                 "classes");
}

static int read_object(dubbo_h2_decoder_t *d, size_t at, int32_t idx, dubbo_value_t **out)
{
    if (idx < 0 || (size_t)idx >= d->nclasses)
        return dubbo__seterr(DUBBO_EBAD_REF,
                             "hessian2: object at offset %zu refers to class definition %d, but "
                             "%zu are defined",
                             at, idx, d->nclasses);
    const dubbo_class_t *c = d->classes[idx];
    /* As for lists: every field takes at least one byte. */
    if (c->nfields > d->len - d->pos)
        return dubbo__seterr(
            DUBBO_ETRUNCATED,
            "hessian2: truncated value: object at offset %zu (class %.80s) has %zu "
            "fields, %zu bytes left at offset %zu",
            at, c->name, c->nfields, d->len - d->pos, d->pos);
    dubbo_value_t *v = new_value(d, DUBBO_T_OBJECT);
    if (!v) return arena_fail(d, at);
    v->u.obj.cls = c;
    v->u.obj.fields = NULL;
    int rc = add_ref(d, v);
    if (rc) return rc;
    if ((rc = enter(d, at))) return rc;
    size_t base = d->nstack;
    for (size_t i = 0; i < c->nfields; i++) {
        dubbo_value_t *f;
        if ((rc = decode_value(d, &f)) || (rc = spush(d, f))) return rc;
    }
    if (!(v->u.obj.fields = spop(d, base, at))) return dubbo__last_code();
    d->depth--;
    *out = v;
    return 0;
}

static int decode_value(dubbo_h2_decoder_t *d, dubbo_value_t **out)
{
    int rc;
    size_t at;
    uint8_t b;
    dubbo_value_t *v;

again:
    at = d->pos;
    NEED(d, 1, "value");
    b = d->in[d->pos++];
    switch (b) {
    case BC_NULL: *out = dubbo_v_null(); return 0;
    case BC_TRUE:
    case BC_FALSE:
        if (!(v = new_value(d, DUBBO_T_BOOL))) return arena_fail(d, at);
        v->u.b = b == BC_TRUE;
        *out = v;
        return 0;

    /* int */
    case 0x80 ... 0xbf:
    case 0xc0 ... 0xcf:
    case 0xd0 ... 0xd7:
    case BC_INT:
        d->pos = at;
        if (!(v = new_value(d, DUBBO_T_INT))) return arena_fail(d, at);
        if ((rc = read_int(d, &v->u.i, "int"))) return rc;
        *out = v;
        return 0;

    /* long */
    case 0xd8 ... 0xef:
    case 0xf0 ... 0xff:
    case 0x38 ... 0x3f:
    case BC_LONG_INT:
    case BC_LONG: {
        int64_t l;
        if (b >= 0xd8 && b <= 0xef) {
            l = (int64_t)b - BC_LONG_ZERO;
        } else if (b >= 0xf0) {
            NEED(d, 1, "long");
            l = (int64_t)(((uint64_t)((int64_t)b - BC_LONG_BYTE_ZERO) << 8) | d->in[d->pos]);
            d->pos += 1;
        } else if (b >= 0x38 && b <= 0x3f) {
            NEED(d, 2, "long");
            l = (int64_t)(((uint64_t)((int64_t)b - BC_LONG_SHORT_ZERO) << 16) |
                          be16(d->in + d->pos));
            d->pos += 2;
        } else if (b == BC_LONG_INT) {
            NEED(d, 4, "long");
            l = (int32_t)be32(d->in + d->pos);
            d->pos += 4;
        } else {
            NEED(d, 8, "long");
            l = (int64_t)be64(d->in + d->pos);
            d->pos += 8;
        }
        if (!(v = new_value(d, DUBBO_T_LONG))) return arena_fail(d, at);
        v->u.l = l;
        *out = v;
        return 0;
    }

    /* double */
    case BC_DOUBLE_ZERO:
    case BC_DOUBLE_ONE:
    case BC_DOUBLE_BYTE:
    case BC_DOUBLE_SHORT:
    case BC_DOUBLE_MILL:
    case BC_DOUBLE: {
        double x;
        if (b == BC_DOUBLE_ZERO) {
            x = 0.0;
        } else if (b == BC_DOUBLE_ONE) {
            x = 1.0;
        } else if (b == BC_DOUBLE_BYTE) {
            NEED(d, 1, "double");
            x = (int8_t)d->in[d->pos++];
        } else if (b == BC_DOUBLE_SHORT) {
            NEED(d, 2, "double");
            x = (int16_t)be16(d->in + d->pos);
            d->pos += 2;
        } else if (b == BC_DOUBLE_MILL) {
            NEED(d, 4, "double");
            x = 0.001 * (double)(int32_t)be32(d->in + d->pos);
            d->pos += 4;
        } else {
            NEED(d, 8, "double");
            uint64_t bits = be64(d->in + d->pos);
            memcpy(&x, &bits, sizeof(x));
            d->pos += 8;
        }
        if (!(v = new_value(d, DUBBO_T_DOUBLE))) return arena_fail(d, at);
        v->u.d = x;
        *out = v;
        return 0;
    }

    /* date */
    case BC_DATE:
    case BC_DATE_MINUTE: {
        int64_t ms;
        if (b == BC_DATE) {
            NEED(d, 8, "date");
            ms = (int64_t)be64(d->in + d->pos);
            d->pos += 8;
        } else {
            NEED(d, 4, "date");
            ms = (int64_t)(int32_t)be32(d->in + d->pos) * 60000;
            d->pos += 4;
        }
        if (!(v = new_value(d, DUBBO_T_DATE))) return arena_fail(d, at);
        v->u.l = ms;
        *out = v;
        return 0;
    }

    /* string */
    case 0x00 ... 0x1f:
    case 0x30 ... 0x33:
    case BC_STRING:
    case BC_STRING_CHUNK: {
        const char *s;
        size_t len;
        if ((rc = read_string_body(d, b, at, &s, &len))) return rc;
        if (!(v = new_value(d, DUBBO_T_STRING))) return arena_fail(d, at);
        v->u.s.ptr = s;
        v->u.s.len = len;
        *out = v;
        return 0;
    }

    /* binary */
    case 0x20 ... 0x2f:
    case 0x34 ... 0x37:
    case BC_BINARY:
    case BC_BINARY_CHUNK: return read_binary_body(d, b, at, out);

    /* lists */
    case BC_LIST_FIXED:
    case BC_LIST_FIXED_UNTYPED: {
        const char *type = NULL;
        int32_t n;
        if (b == BC_LIST_FIXED && (rc = read_type(d, &type))) return rc;
        if ((rc = read_int(d, &n, "list length"))) return rc;
        return read_list(d, at, type, n, false, out);
    }
    case 0x70 ... 0x77: {
        const char *type;
        if ((rc = read_type(d, &type))) return rc;
        return read_list(d, at, type, b - BC_LIST_DIRECT, false, out);
    }
    case 0x78 ... 0x7f: return read_list(d, at, NULL, b - BC_LIST_DIRECT_UNTYPED, false, out);
    case BC_LIST_VARIABLE: {
        const char *type;
        if ((rc = read_type(d, &type))) return rc;
        return read_list(d, at, type, -1, true, out);
    }
    case BC_LIST_VARIABLE_UNTYPED: return read_list(d, at, NULL, -1, true, out);

    /* maps */
    case BC_MAP: {
        const char *type;
        if ((rc = read_type(d, &type))) return rc;
        return read_map(d, at, type, out);
    }
    case BC_MAP_UNTYPED: return read_map(d, at, NULL, out);

    /* objects: a definition is followed by the value it was written for */
    case BC_CLASS_DEF:
        if ((rc = read_class_def(d, at))) return rc;
        goto again;
    case BC_OBJECT: {
        int32_t idx;
        if ((rc = read_int(d, &idx, "object class reference"))) return rc;
        return read_object(d, at, idx, out);
    }
    case 0x60 ... 0x6f: return read_object(d, at, b - BC_OBJECT_DIRECT, out);

    case BC_REF: {
        int32_t idx;
        if ((rc = read_int(d, &idx, "reference"))) return rc;
        if (idx < 0 || (size_t)idx >= d->nrefs)
            return dubbo__seterr(DUBBO_EBAD_REF,
                                 "hessian2: reference %d at offset %zu is out of range (%zu lists, "
                                 "maps and objects so far)",
                                 idx, at, d->nrefs);
        *out = d->refs[idx];
        return 0;
    }

    case BC_END:
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "hessian2: unexpected end marker 'Z' (0x5a) at offset %zu", at);
    default:
        /* 0x40 '@', 0x45 'E', 0x47 'G', 0x50 'P' are reserved. */
        return dubbo__seterr(DUBBO_EMALFORMED, "hessian2: invalid bytecode 0x%02x at offset %zu", b,
                             at);
    }
}

int dubbo_h2_decode(dubbo_h2_decoder_t *d, dubbo_value_t **out)
{
    d->depth = 0;
    return decode_value(d, out);
}

int dubbo_h2_decode_string(dubbo_h2_decoder_t *d, const char **s, size_t *len)
{
    size_t at = d->pos;
    NEED(d, 1, "string");
    uint8_t b = d->in[d->pos];
    if (b == BC_NULL) {
        d->pos++;
        *s = NULL;
        if (len) *len = 0;
        return 0;
    }
    if (!is_string_code(b))
        return dubbo__seterr(DUBBO_ETYPE,
                             "hessian2: expected a string at offset %zu, found byte 0x%02x", at, b);
    d->pos++;
    size_t l;
    int rc = read_string_body(d, b, at, s, &l);
    if (!rc && len) *len = l;
    return rc;
}

int dubbo_hessian2_decode(dubbo_arena_t *arena, const uint8_t *in, size_t len, dubbo_value_t **out,
                          size_t *consumed)
{
    dubbo_h2_decoder_t d;
    dubbo_h2_decoder_init(&d, arena, in, len);
    int rc = dubbo_h2_decode(&d, out);
    if (!rc) {
        if (consumed)
            *consumed = d.pos;
        else if (d.pos != len)
            rc = dubbo__seterr(DUBBO_EMALFORMED,
                               "hessian2: %zu trailing bytes after the value, at offset %zu",
                               len - d.pos, d.pos);
    }
    dubbo_h2_decoder_destroy(&d);
    return rc;
}

/* ======================================================================
 * Encoder
 * ====================================================================== */

void dubbo_h2_encoder_init(dubbo_h2_encoder_t *e, dubbo_buf_t *out)
{
    memset(e, 0, sizeof(*e));
    e->out = out;
    e->max_depth = DUBBO_H2_DEFAULT_MAX_DEPTH;
}

void dubbo_h2_encoder_destroy(dubbo_h2_encoder_t *e)
{
    free(e->ref_keys);
    free(e->ref_vals);
    free(e->classes);
    free(e->types);
    e->ref_keys = NULL;
    e->ref_vals = NULL;
    e->classes = NULL;
    e->types = NULL;
}

/* Java's Hessian2Output flushes its 8192-byte buffer when a write method
 * finds fewer than `slack` bytes free; methods differ in slack (16 or 32)
 * and in whether exactly `slack` free bytes still count as full. Only the
 * chunking of binaries depends on it, but to chunk like Java the encoder
 * has to follow every flush. */
#define JAVA_BUF 8192u
enum { FULL_IF_LESS = 0, FULL_IF_LESS_OR_EQUAL = 1 };

static inline void jflush(dubbo_h2_encoder_t *e, uint32_t slack, int mode)
{
    if (mode == FULL_IF_LESS ? JAVA_BUF < e->jofs + slack : JAVA_BUF <= e->jofs + slack)
        e->jofs = 0;
}

static inline int put1(dubbo_h2_encoder_t *e, uint8_t b)
{
    dubbo_buf_t *o = e->out;
    e->jofs++;
    if (DUBBO__UNLIKELY(o->len == o->cap)) {
        int rc = dubbo_buf_reserve(o, 1);
        if (rc) return rc;
    }
    o->base[o->len++] = b;
    return 0;
}

/* Append bytes: a plain copy when the buffer has room (the common case),
 * the buffer's growth path otherwise. */
static inline int append(dubbo_buf_t *o, const void *p, size_t n)
{
    if (DUBBO__LIKELY(o->cap - o->len >= n)) {
        memcpy(o->base + o->len, p, n);
        o->len += n;
        return 0;
    }
    return dubbo_buf_append(o, p, n);
}

static inline int put(dubbo_h2_encoder_t *e, const void *p, size_t n)
{
    e->jofs += (uint32_t)n;
    return append(e->out, p, n);
}

int dubbo_h2_write_null(dubbo_h2_encoder_t *e)
{
    jflush(e, 16, FULL_IF_LESS_OR_EQUAL);
    return put1(e, BC_NULL);
}

int dubbo_h2_write_bool(dubbo_h2_encoder_t *e, bool v)
{
    jflush(e, 16, FULL_IF_LESS);
    return put1(e, v ? BC_TRUE : BC_FALSE);
}

static inline void be32_put(uint8_t *p, uint32_t u)
{
    p[0] = (uint8_t)(u >> 24);
    p[1] = (uint8_t)(u >> 16);
    p[2] = (uint8_t)(u >> 8);
    p[3] = (uint8_t)u;
}

int dubbo_h2_write_int(dubbo_h2_encoder_t *e, int32_t v)
{
    jflush(e, 16, FULL_IF_LESS_OR_EQUAL);
    uint8_t b[5];
    size_t n;
    if (v >= -0x10 && v <= 0x2f) {
        b[0] = (uint8_t)(v + BC_INT_ZERO);
        n = 1;
    } else if (v >= -0x800 && v <= 0x7ff) {
        b[0] = (uint8_t)(BC_INT_BYTE_ZERO + (v >> 8));
        b[1] = (uint8_t)v;
        n = 2;
    } else if (v >= -0x40000 && v <= 0x3ffff) {
        b[0] = (uint8_t)(BC_INT_SHORT_ZERO + (v >> 16));
        b[1] = (uint8_t)(v >> 8);
        b[2] = (uint8_t)v;
        n = 3;
    } else {
        b[0] = BC_INT;
        be32_put(b + 1, (uint32_t)v);
        n = 5;
    }
    return put(e, b, n);
}

static void be64_put(uint8_t *p, uint64_t u)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)u;
        u >>= 8;
    }
}

int dubbo_h2_write_long(dubbo_h2_encoder_t *e, int64_t v)
{
    jflush(e, 16, FULL_IF_LESS_OR_EQUAL);
    uint8_t b[9];
    size_t n;
    if (v >= -8 && v <= 15) {
        b[0] = (uint8_t)(v + BC_LONG_ZERO);
        n = 1;
    } else if (v >= -0x800 && v <= 0x7ff) {
        b[0] = (uint8_t)(BC_LONG_BYTE_ZERO + (v >> 8));
        b[1] = (uint8_t)v;
        n = 2;
    } else if (v >= -0x40000 && v <= 0x3ffff) {
        b[0] = (uint8_t)(BC_LONG_SHORT_ZERO + (v >> 16));
        b[1] = (uint8_t)(v >> 8);
        b[2] = (uint8_t)v;
        n = 3;
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        b[0] = BC_LONG_INT;
        be32_put(b + 1, (uint32_t)(int32_t)v);
        n = 5;
    } else {
        b[0] = BC_LONG;
        be64_put(b + 1, (uint64_t)v);
        n = 9;
    }
    return put(e, b, n);
}

/* Java's (int) cast of a double: NaN is 0, out-of-range values saturate. */
static int32_t java_d2i(double x)
{
    if (isnan(x)) return 0;
    if (x >= 2147483647.0) return INT32_MAX;
    if (x <= -2147483648.0) return INT32_MIN;
    return (int32_t)x;
}

int dubbo_h2_write_double(dubbo_h2_encoder_t *e, double v)
{
    jflush(e, 16, FULL_IF_LESS_OR_EQUAL);
    uint8_t b[9];
    int32_t i = java_d2i(v);
    if ((double)i == v) {
        /* Note: -0.0 == 0 here, so Java writes -0.0 as 0x5b (0.0). */
        if (i == 0) return put1(e, BC_DOUBLE_ZERO);
        if (i == 1) return put1(e, BC_DOUBLE_ONE);
        if (i >= -0x80 && i < 0x80) {
            b[0] = BC_DOUBLE_BYTE;
            b[1] = (uint8_t)i;
            return put(e, b, 2);
        }
        if (i >= -0x8000 && i < 0x8000) {
            b[0] = BC_DOUBLE_SHORT;
            b[1] = (uint8_t)(i >> 8);
            b[2] = (uint8_t)i;
            return put(e, b, 3);
        }
    }
    int32_t mills = java_d2i(v * 1000.0);
    if (0.001 * (double)mills == v) {
        b[0] = BC_DOUBLE_MILL;
        be32_put(b + 1, (uint32_t)mills);
        return put(e, b, 5);
    }
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    b[0] = BC_DOUBLE;
    be64_put(b + 1, bits);
    return put(e, b, 9);
}

int dubbo_h2_write_date(dubbo_h2_encoder_t *e, int64_t ms)
{
    jflush(e, 32, FULL_IF_LESS);
    uint8_t b[9];
    if (ms % 60000 == 0) {
        int64_t minutes = ms / 60000;
        if ((minutes >> 31) == 0 || (minutes >> 31) == -1) {
            b[0] = BC_DATE_MINUTE;
            be32_put(b + 1, (uint32_t)(int32_t)minutes);
            return put(e, b, 5);
        }
    }
    b[0] = BC_DATE;
    be64_put(b + 1, (uint64_t)ms);
    return put(e, b, 9);
}

/* Validate UTF-8 (surrogates encoded on their own are allowed, so WTF-8
 * from our decoder round-trips) and count UTF-16 units; *ascii tells whether
 * every byte is below 0x80. Returns 0 or DUBBO_EMALFORMED. */
static int utf8_units(const uint8_t *s, size_t len, size_t *units, bool *ascii)
{
    size_t i = 0, u = 0;
    bool asc = true;
    while (i < len) {
        /* ASCII eight bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
            u += 8;
        }
        if (i >= len) break;
        if (s[i] < 0x80) {
            i++;
            u++;
            continue;
        }
        int cu;
        int n = char_len(s + i, len - i, &cu);
        if (n <= 0)
            return dubbo__seterr(DUBBO_EMALFORMED,
                                 "hessian2: string is not valid UTF-8 at byte %zu (0x%02x)", i,
                                 s[i]);
        asc = false;
        i += (size_t)n;
        u += (size_t)cu;
    }
    *units = u;
    *ascii = asc;
    return 0;
}

static int write_string_header(dubbo_h2_encoder_t *e, uint8_t chunk_code, size_t units)
{
    uint8_t b[3];
    jflush(e, 16, FULL_IF_LESS_OR_EQUAL);
    if (chunk_code) {
        b[0] = chunk_code;
        b[1] = (uint8_t)(units >> 8);
        b[2] = (uint8_t)units;
        return put(e, b, 3);
    }
    if (units <= 0x1f) return put1(e, (uint8_t)units);
    if (units <= 0x3ff) {
        b[0] = (uint8_t)(BC_STRING_SHORT + (units >> 8));
        b[1] = (uint8_t)units;
        return put(e, b, 2);
    }
    b[0] = BC_STRING;
    b[1] = (uint8_t)(units >> 8);
    b[2] = (uint8_t)units;
    return put(e, b, 3);
}

static size_t utf8_seq_len(uint8_t c)
{
    return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* Follow Java's printString over UTF-8 s[0..len): before each UTF-16 unit
 * it flushes when 16 bytes or fewer are free; a unit takes 1-3 bytes. */
static void jprint(dubbo_h2_encoder_t *e, const uint8_t *s, size_t len, bool ascii)
{
    size_t most = ascii ? len : len + len / 2; /* CESU-8 is at most 1.5x UTF-8 */
    if (e->jofs + most + 16 < JAVA_BUF) {
        e->jofs += (uint32_t)(ascii ? len : most);
        if (!ascii) {
            /* exact: 4-byte sequences become 6 bytes */
            e->jofs -= (uint32_t)most;
            for (size_t i = 0; i < len;) {
                size_t n = utf8_seq_len(s[i]);
                e->jofs += (uint32_t)(n == 4 ? 6 : n);
                i += n;
            }
        }
        return;
    }
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(s[i]);
        for (int half = 0; half < (n == 4 ? 2 : 1); half++) {
            jflush(e, 16, FULL_IF_LESS_OR_EQUAL);
            e->jofs += (uint32_t)(n == 4 ? 3 : n);
        }
        i += n;
    }
}

/* Append UTF-8 bytes s[0..len) as CESU-8: 4-byte sequences become two
 * 3-byte surrogate encodings, everything else is copied. */
static int put_chars(dubbo_h2_encoder_t *e, const uint8_t *s, size_t len, bool ascii)
{
    jprint(e, s, len, ascii);
    if (ascii) return append(e->out, s, len);
    int rc = dubbo_buf_reserve(e->out, len + len / 2);
    if (rc) return rc;
    uint8_t *w = e->out->base + e->out->len;
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0xf0) {
            *w++ = c;
            i++;
            continue;
        }
        uint32_t cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 |
                      (uint32_t)(s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f);
        cp -= 0x10000;
        uint32_t hi = 0xd800 + (cp >> 10), lo = 0xdc00 + (cp & 0x3ff);
        *w++ = (uint8_t)(0xe0 | hi >> 12);
        *w++ = (uint8_t)(0x80 | ((hi >> 6) & 0x3f));
        *w++ = (uint8_t)(0x80 | (hi & 0x3f));
        *w++ = (uint8_t)(0xe0 | lo >> 12);
        *w++ = (uint8_t)(0x80 | ((lo >> 6) & 0x3f));
        *w++ = (uint8_t)(0x80 | (lo & 0x3f));
        i += 4;
    }
    e->out->len = (size_t)(w - e->out->base);
    return 0;
}

int dubbo_h2_write_string(dubbo_h2_encoder_t *e, const char *str, size_t len)
{
    /* ASCII strings of up to 1023 units far from the end of Java's buffer
     * (no flush to follow): the length (one or two bytes) and the bytes,
     * in one step. */
    if (str && len <= 0x3ff && e->jofs + len + 32 < JAVA_BUF) {
        const uint8_t *p = (const uint8_t *)str;
        if (all_ascii(p, len)) {
            dubbo_buf_t *o = e->out;
            size_t h = len <= 0x1f ? 1 : 2;
            if (DUBBO__UNLIKELY(o->cap - o->len < len + h)) {
                int rc = dubbo_buf_reserve(o, len + h);
                if (rc) return rc;
            }
            uint8_t *w = o->base + o->len;
            if (h == 1) {
                w[0] = (uint8_t)len;
            } else {
                w[0] = (uint8_t)(BC_STRING_SHORT + (len >> 8));
                w[1] = (uint8_t)len;
            }
            memcpy(w + h, p, len);
            o->len += len + h;
            e->jofs += (uint32_t)(len + h);
            return 0;
        }
    }
    jflush(e, 16, FULL_IF_LESS_OR_EQUAL);
    if (!str) return put1(e, BC_NULL);
    const uint8_t *s = (const uint8_t *)str;
    size_t units = 0;
    bool ascii = false;
    int rc = utf8_units(s, len, &units, &ascii);
    if (rc) return rc;
    /* Chunks of 0x8000 units; like Java, a chunk never ends between the two
     * halves of a surrogate pair (it is one unit shorter instead). */
    size_t i = 0;
    while (units > STRING_CHUNK_UNITS) {
        size_t start = i, u = 0;
        if (ascii) {
            u = STRING_CHUNK_UNITS;
            i += u;
        } else {
            while (u < STRING_CHUNK_UNITS) {
                size_t n = utf8_seq_len(s[i]);
                size_t cu = n == 4 ? 2 : 1;
                if (u + cu > STRING_CHUNK_UNITS) break;
                /* A lone high surrogate (WTF-8) as the chunk's last unit:
                 * Java shortens the chunk for it too. */
                if (u + 1 == STRING_CHUNK_UNITS && n == 3 && s[i] == 0xed && s[i + 1] >= 0xa0 &&
                    s[i + 1] <= 0xaf)
                    break;
                u += cu;
                i += n;
            }
        }
        if ((rc = write_string_header(e, BC_STRING_CHUNK, u)) ||
            (rc = put_chars(e, s + start, i - start, ascii)))
            return rc;
        units -= u;
    }
    if ((rc = write_string_header(e, 0, units))) return rc;
    return put_chars(e, s + i, len - i, ascii);
}

int dubbo_h2_write_binary(dubbo_h2_encoder_t *e, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint8_t b[3];
    int rc;
    if (!data && len == 0) {
        jflush(e, 16, FULL_IF_LESS);
        return put1(e, BC_NULL);
    }
    /* Java fills its buffer: each 'A' chunk takes what is free in it (less
     * 3 for the chunk header; after a flush if fewer than 16 are free), and
     * the buffer is flushed after each chunk. */
    while ((int64_t)JAVA_BUF - e->jofs - 3 < (int64_t)len) {
        int64_t sub = (int64_t)JAVA_BUF - e->jofs - 3;
        if (sub < 16) {
            e->jofs = 0;
            sub = JAVA_BUF - 3;
            if ((int64_t)len < sub) sub = (int64_t)len;
        }
        b[0] = BC_BINARY_CHUNK;
        b[1] = (uint8_t)(sub >> 8);
        b[2] = (uint8_t)sub;
        if ((rc = put(e, b, 3)) || (rc = put(e, p, (size_t)sub))) return rc;
        p += sub;
        len -= (size_t)sub;
        e->jofs = 0; /* Java flushes after every chunk */
    }
    jflush(e, 16, FULL_IF_LESS);
    if (len <= 0x0f) {
        rc = put1(e, (uint8_t)(BC_BINARY_DIRECT + len));
    } else if (len <= 0x3ff) {
        b[0] = (uint8_t)(BC_BINARY_SHORT + (len >> 8));
        b[1] = (uint8_t)len;
        rc = put(e, b, 2);
    } else {
        b[0] = BC_BINARY;
        b[1] = (uint8_t)(len >> 8);
        b[2] = (uint8_t)len;
        rc = put(e, b, 3);
    }
    return rc ? rc : put(e, p, len);
}

/* ---- encoder tables ---------------------------------------------------- */

static inline size_t ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

/* Look up a container pointer; if absent, register it with the next index.
 * Returns the existing index, -1 if newly added, or an error (< -1). */
static int64_t ref_lookup_add(dubbo_h2_encoder_t *e, const void *p)
{
    if (e->nrefs * 2 >= e->ref_cap) {
        size_t ncap = e->ref_cap ? e->ref_cap * 2 : 64;
        const void **keys = calloc(ncap, sizeof(*keys));
        uint32_t *vals = malloc(ncap * sizeof(*vals));
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return nomem("references");
        }
        for (size_t i = 0; i < e->ref_cap; i++) {
            if (!e->ref_keys[i]) continue;
            size_t h = ptr_hash(e->ref_keys[i]) & (ncap - 1);
            while (keys[h])
                h = (h + 1) & (ncap - 1);
            keys[h] = e->ref_keys[i];
            vals[h] = e->ref_vals[i];
        }
        free(e->ref_keys);
        free(e->ref_vals);
        e->ref_keys = keys;
        e->ref_vals = vals;
        e->ref_cap = ncap;
    }
    size_t mask = e->ref_cap - 1, h = ptr_hash(p) & mask;
    while (e->ref_keys[h]) {
        if (e->ref_keys[h] == p) return e->ref_vals[h];
        h = (h + 1) & mask;
    }
    e->ref_keys[h] = p;
    e->ref_vals[h] = (uint32_t)e->nrefs++;
    return -1;
}

static int write_type(dubbo_h2_encoder_t *e, const char *type)
{
    jflush(e, 32, FULL_IF_LESS);
    for (size_t i = 0; i < e->ntypes; i++)
        if (e->types[i] == type || strcmp(e->types[i], type) == 0)
            return dubbo_h2_write_int(e, (int32_t)i);
    int rc = push_ptr((void ***)&e->types, &e->ntypes, &e->types_cap, (void *)type, "types");
    if (rc) return rc;
    return dubbo_h2_write_string(e, type, strlen(type));
}

static bool same_class(const dubbo_class_t *a, const dubbo_class_t *b)
{
    if (a == b) return true;
    if (a->nfields != b->nfields || strcmp(a->name, b->name) != 0) return false;
    for (size_t i = 0; i < a->nfields; i++)
        if (strcmp(a->fields[i], b->fields[i]) != 0) return false;
    return true;
}

static int encode_value(dubbo_h2_encoder_t *e, const dubbo_value_t *v);

static int write_object(dubbo_h2_encoder_t *e, const dubbo_value_t *v)
{
    const dubbo_class_t *c = v->u.obj.cls;
    int rc;
    size_t idx = e->nclasses;
    for (size_t i = 0; i < e->nclasses; i++)
        if (same_class(e->classes[i], c)) {
            idx = i;
            break;
        }
    jflush(e, 32, FULL_IF_LESS);
    if (idx == e->nclasses) {
        if ((rc = push_ptr((void ***)&e->classes, &e->nclasses, &e->classes_cap, (void *)c,
                           "classes")))
            return rc;
        if ((rc = put1(e, BC_CLASS_DEF)) ||
            (rc = dubbo_h2_write_string(e, c->name, strlen(c->name))) ||
            (rc = dubbo_h2_write_int(e, (int32_t)c->nfields)))
            return rc;
        for (size_t i = 0; i < c->nfields; i++)
            if ((rc = dubbo_h2_write_string(e, c->fields[i], strlen(c->fields[i])))) return rc;
    }
    if (idx <= 0x0f)
        rc = put1(e, (uint8_t)(BC_OBJECT_DIRECT + idx));
    else if (!(rc = put1(e, BC_OBJECT)))
        rc = dubbo_h2_write_int(e, (int32_t)idx);
    if (rc) return rc;
    for (size_t i = 0; i < c->nfields; i++)
        if ((rc = encode_value(e, v->u.obj.fields[i]))) return rc;
    return 0;
}

static int write_list(dubbo_h2_encoder_t *e, const dubbo_value_t *v)
{
    const char *type = v->u.list.type;
    size_t n = v->u.list.len;
    int rc;
    bool variable = v->flags & DUBBO_VF_VARIABLE;
    jflush(e, 32, FULL_IF_LESS);
    if (variable) {
        rc = put1(e, type ? BC_LIST_VARIABLE : BC_LIST_VARIABLE_UNTYPED);
        if (!rc && type) rc = write_type(e, type);
    } else if (n <= 7) {
        rc = put1(e, (uint8_t)((type ? BC_LIST_DIRECT : BC_LIST_DIRECT_UNTYPED) + n));
        if (!rc && type) rc = write_type(e, type);
    } else {
        if (n > INT32_MAX)
            return dubbo__seterr(DUBBO_ETOO_BIG, "hessian2: list of %zu items is too long", n);
        rc = put1(e, type ? BC_LIST_FIXED : BC_LIST_FIXED_UNTYPED);
        if (!rc && type) rc = write_type(e, type);
        if (!rc) rc = dubbo_h2_write_int(e, (int32_t)n);
    }
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = encode_value(e, v->u.list.items[i]))) return rc;
    if (!variable) return 0;
    jflush(e, 32, FULL_IF_LESS);
    return put1(e, BC_END);
}

static int write_map(dubbo_h2_encoder_t *e, const dubbo_value_t *v)
{
    int rc;
    jflush(e, 32, FULL_IF_LESS);
    if (v->u.map.type) {
        if ((rc = put1(e, BC_MAP)) || (rc = write_type(e, v->u.map.type))) return rc;
    } else if ((rc = put1(e, BC_MAP_UNTYPED))) {
        return rc;
    }
    for (size_t i = 0; i < v->u.map.len; i++)
        if ((rc = encode_value(e, v->u.map.items[i].key)) ||
            (rc = encode_value(e, v->u.map.items[i].value)))
            return rc;
    jflush(e, 32, FULL_IF_LESS);
    return put1(e, BC_END);
}

static int encode_value(dubbo_h2_encoder_t *e, const dubbo_value_t *v)
{
    if (!v) return dubbo_h2_write_null(e);
    switch (v->type) {
    case DUBBO_T_NULL: return dubbo_h2_write_null(e);
    case DUBBO_T_BOOL: return dubbo_h2_write_bool(e, v->u.b);
    case DUBBO_T_INT: return dubbo_h2_write_int(e, v->u.i);
    case DUBBO_T_LONG: return dubbo_h2_write_long(e, v->u.l);
    case DUBBO_T_DOUBLE: return dubbo_h2_write_double(e, v->u.d);
    case DUBBO_T_DATE: return dubbo_h2_write_date(e, v->u.l);
    case DUBBO_T_STRING: return dubbo_h2_write_string(e, v->u.s.ptr ? v->u.s.ptr : "", v->u.s.len);
    case DUBBO_T_BINARY: return dubbo_h2_write_binary(e, v->u.s.ptr ? v->u.s.ptr : "", v->u.s.len);
    case DUBBO_T_LIST:
    case DUBBO_T_MAP:
    case DUBBO_T_OBJECT: break;
    default:
        return dubbo__seterr(DUBBO_EINVAL, "hessian2: cannot encode value of unknown type %d",
                             (int)v->type);
    }
    int64_t ref = ref_lookup_add(e, v);
    if (ref < -1) return (int)ref;
    if (ref >= 0) {
        jflush(e, 16, FULL_IF_LESS);
        int rc = put1(e, BC_REF);
        return rc ? rc : dubbo_h2_write_int(e, (int32_t)ref);
    }
    if (++e->depth > e->max_depth)
        return dubbo__seterr(DUBBO_ETOO_DEEP, "hessian2: value nested deeper than %u",
                             e->max_depth);
    int rc = v->type == DUBBO_T_LIST  ? write_list(e, v)
             : v->type == DUBBO_T_MAP ? write_map(e, v)
                                      : write_object(e, v);
    e->depth--;
    return rc;
}

int dubbo_h2_write_map_begin(dubbo_h2_encoder_t *e, const char *type)
{
    /* The map takes a reference index like any map, so that later
     * references count the same as on the decoding side; nothing can refer
     * back to it, so it needs no table entry. */
    e->nrefs++;
    jflush(e, 32, FULL_IF_LESS);
    if (!type) return put1(e, BC_MAP_UNTYPED);
    int rc = put1(e, BC_MAP);
    return rc ? rc : write_type(e, type);
}

int dubbo_h2_write_map_end(dubbo_h2_encoder_t *e)
{
    jflush(e, 32, FULL_IF_LESS);
    return put1(e, BC_END);
}

int dubbo_h2_encode(dubbo_h2_encoder_t *e, const dubbo_value_t *v)
{
    e->depth = 0;
    return encode_value(e, v);
}

int dubbo_hessian2_encode(const dubbo_value_t *v, dubbo_buf_t *out)
{
    dubbo_h2_encoder_t e;
    dubbo_h2_encoder_init(&e, out);
    int rc = dubbo_h2_encode(&e, v);
    dubbo_h2_encoder_destroy(&e);
    return rc;
}

/* ---- the serialization plugin (include/dubbo/serialization.h) ---------------------- */

_Static_assert(sizeof(dubbo_h2_decoder_t) <= DUBBO_SERIAL_STATE_SIZE &&
                   sizeof(dubbo_h2_encoder_t) <= DUBBO_SERIAL_STATE_SIZE,
               "hessian2 state must fit dubbo_serial_state_t");

static void h2_reader_init(dubbo_serial_state_t *s, dubbo_arena_t *a, const uint8_t *in, size_t len)
{
    dubbo_h2_decoder_init((dubbo_h2_decoder_t *)s, a, in, len);
}

static int h2_read(dubbo_serial_state_t *s, dubbo_value_t **out)
{
    return dubbo_h2_decode((dubbo_h2_decoder_t *)s, out);
}

static int h2_read_string(dubbo_serial_state_t *s, const char **out, size_t *len)
{
    return dubbo_h2_decode_string((dubbo_h2_decoder_t *)s, out, len);
}

static size_t h2_reader_pos(const dubbo_serial_state_t *s)
{
    return ((const dubbo_h2_decoder_t *)s)->pos;
}

static bool h2_reader_done(const dubbo_serial_state_t *s)
{
    return dubbo_h2_decoder_done((const dubbo_h2_decoder_t *)s);
}

static void h2_reader_destroy(dubbo_serial_state_t *s)
{
    dubbo_h2_decoder_destroy((dubbo_h2_decoder_t *)s);
}

static void h2_writer_init(dubbo_serial_state_t *s, dubbo_buf_t *out)
{
    dubbo_h2_encoder_init((dubbo_h2_encoder_t *)s, out);
}

static int h2_write(dubbo_serial_state_t *s, const dubbo_value_t *v)
{
    return dubbo_h2_encode((dubbo_h2_encoder_t *)s, v);
}

static int h2_write_string(dubbo_serial_state_t *s, const char *str, size_t len)
{
    return dubbo_h2_write_string((dubbo_h2_encoder_t *)s, str, len);
}

static int h2_write_int(dubbo_serial_state_t *s, int32_t v)
{
    return dubbo_h2_write_int((dubbo_h2_encoder_t *)s, v);
}

static int h2_write_map_begin(dubbo_serial_state_t *s)
{
    return dubbo_h2_write_map_begin((dubbo_h2_encoder_t *)s, NULL);
}

static int h2_write_map_end(dubbo_serial_state_t *s)
{
    return dubbo_h2_write_map_end((dubbo_h2_encoder_t *)s);
}

static void h2_writer_destroy(dubbo_serial_state_t *s)
{
    dubbo_h2_encoder_destroy((dubbo_h2_encoder_t *)s);
}

const dubbo_serialization_ops_t dubbo__serialization_hessian2 = {
    .name = "hessian2",
    .id = 2,
    .state_size = sizeof(dubbo_h2_decoder_t) > sizeof(dubbo_h2_encoder_t)
                      ? sizeof(dubbo_h2_decoder_t)
                      : sizeof(dubbo_h2_encoder_t),
    .reader_init = h2_reader_init,
    .read = h2_read,
    .read_string = h2_read_string,
    .reader_pos = h2_reader_pos,
    .reader_done = h2_reader_done,
    .reader_destroy = h2_reader_destroy,
    .writer_init = h2_writer_init,
    .write = h2_write,
    .write_string = h2_write_string,
    .write_int = h2_write_int,
    .write_map_begin = h2_write_map_begin,
    .write_map_end = h2_write_map_end,
    .writer_destroy = h2_writer_destroy,
};

/* ======================================================================
 * Attachments by key, without decoding the map (h2scan.h)
 * ====================================================================== */

/* An ASCII string at in[*pos] in one piece: its bytes and length, the
 * position after it. false for any other value or form. */
static bool scan_ascii_string(const uint8_t *in, size_t len, size_t *pos, const uint8_t **s,
                              size_t *n)
{
    size_t p = *pos;
    if (p >= len) return false;
    uint8_t b = in[p++];
    size_t l;
    if (b <= 0x1f) {
        l = b;
    } else if (b >= 0x30 && b <= 0x33) {
        if (p >= len) return false;
        l = (size_t)(b - 0x30) << 8 | in[p++];
    } else if (b == BC_STRING) {
        if (len - p < 2) return false;
        l = be16(in + p);
        p += 2;
    } else {
        return false;
    }
    if (len - p < l || !all_ascii(in + p, l)) return false;
    *s = in + p;
    *n = l;
    *pos = p + l;
    return true;
}

/* Step over one scalar value at in[*pos] (ASCII string, int, long,
 * double, boolean, null). false for anything else or when truncated. */
static bool scan_scalar(const uint8_t *in, size_t len, size_t *pos)
{
    const uint8_t *s;
    size_t n;
    if (scan_ascii_string(in, len, pos, &s, &n)) return true;
    size_t p = *pos;
    if (p >= len) return false;
    uint8_t b = in[p];
    size_t size;
    if (b == 'N' || b == 'T' || b == 'F')
        size = 1;
    else if (b >= 0x80 && b <= 0xbf)
        size = 1; /* int, one byte */
    else if (b >= 0xc0 && b <= 0xcf)
        size = 2;
    else if (b >= 0xd0 && b <= 0xd7)
        size = 3;
    else if (b == 'I')
        size = 5;
    else if (b >= 0xd8 && b <= 0xef)
        size = 1; /* long */
    else if (b >= 0xf0)
        size = 2;
    else if (b >= 0x38 && b <= 0x3f)
        size = 3;
    else if (b == 0x59)
        size = 5;
    else if (b == 'L')
        size = 9;
    else if (b == 0x5b || b == 0x5c)
        size = 1; /* double */
    else if (b == 0x5d)
        size = 2;
    else if (b == 0x5e)
        size = 3;
    else if (b == 0x5f)
        size = 5;
    else if (b == 'D')
        size = 9;
    else
        return false;
    if (len - p < size) return false;
    *pos = p + size;
    return true;
}

int dubbo__h2_map_index(const uint8_t *in, size_t len, dubbo__h2_att_t *idx, size_t max)
{
    if (len == 1 && in[0] == BC_NULL) return 0;
    if (len < 2 || in[0] != 'H') return -1;
    size_t p = 1, n = 0;
    for (;;) {
        if (p >= len) return -1;
        if (in[p] == 'Z') break;
        const uint8_t *k;
        size_t kl;
        if (n == max || !scan_ascii_string(in, len, &p, &k, &kl)) return -1;
        idx[n].key = k;
        idx[n].klen = kl;
        idx[n].at = p;
        if (!scan_scalar(in, len, &p)) return -1;
        n++;
    }
    return p + 1 == len ? (int)n : -1;
}

int dubbo__h2_value_at(dubbo_arena_t *a, const uint8_t *in, size_t len, size_t at,
                       dubbo_value_t **out)
{
    /* strings (most attachments) straight from their bytes, checked ASCII
     * by the index; numbers and the rest by the decoder */
    size_t p = at;
    const uint8_t *s;
    size_t n;
    if (scan_ascii_string(in, len, &p, &s, &n)) {
        char *c = dubbo__arena_alloc(a, n + 1);
        dubbo_value_t *v = c ? dubbo__arena_alloc(a, sizeof(*v)) : NULL;
        if (!v) return dubbo__last_code() == DUBBO_ETOO_BIG ? DUBBO_ETOO_BIG : DUBBO_ENOMEM;
        memcpy(c, s, n);
        c[n] = '\0';
        memset(v, 0, sizeof(*v));
        v->type = DUBBO_T_STRING;
        v->u.s.ptr = c;
        v->u.s.len = n;
        *out = v;
        return 0;
    }
    /* compact ints (a timeout) without a decoder */
    uint8_t b = at < len ? in[at] : 0;
    int32_t iv = 0;
    bool is_int = true;
    if (b >= 0x80 && b <= 0xbf)
        iv = (int32_t)b - 0x90;
    else if (b >= 0xc0 && b <= 0xcf && len - at >= 2)
        iv = (int32_t)((uint32_t)((int32_t)b - 0xc8) << 8) | in[at + 1];
    else if (b >= 0xd0 && b <= 0xd7 && len - at >= 3)
        iv = (int32_t)((uint32_t)((int32_t)b - 0xd4) << 16) | (int32_t)in[at + 1] << 8 | in[at + 2];
    else
        is_int = false;
    if (is_int) {
        dubbo_value_t *v = dubbo__arena_alloc(a, sizeof(*v));
        if (!v) return dubbo__last_code() == DUBBO_ETOO_BIG ? DUBBO_ETOO_BIG : DUBBO_ENOMEM;
        memset(v, 0, sizeof(*v));
        v->type = DUBBO_T_INT;
        v->u.i = iv;
        *out = v;
        return 0;
    }
    dubbo_h2_decoder_t d;
    dubbo_h2_decoder_init(&d, a, in + at, len - at);
    int rc = dubbo_h2_decode(&d, out);
    dubbo_h2_decoder_destroy(&d);
    return rc;
}

int dubbo__h2_map_find(dubbo_arena_t *a, const uint8_t *in, size_t len, const char *key,
                       dubbo_value_t **out)
{
    *out = NULL;
    dubbo__h2_att_t idx[64];
    int n = dubbo__h2_map_index(in, len, idx, 64);
    if (n < 0) return 1;
    size_t kl = strlen(key);
    for (int i = 0; i < n; i++)
        if (idx[i].klen == kl && memcmp(idx[i].key, key, kl) == 0) {
            if (dubbo__h2_value_at(a, in, len, idx[i].at, out)) {
                *out = NULL;
                return 1;
            }
            return 0;
        }
    return 0;
}
