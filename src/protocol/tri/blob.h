/* The blobs Triple's hooks hand each other (a request's or an answer's
 * headers and body between the loop thread and the thread that encodes or
 * decodes it): big-endian u32s, and header pairs as u32 name length,
 * name, u32 value length, value. Writers append to a dubbo_buf_t; a reader
 * walks a byte range and remembers whether it ran off the end. Internal to
 * src/protocol/tri. */
#ifndef DUBBO_PROTOCOL_TRI_BLOB_H
#define DUBBO_PROTOCOL_TRI_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dubbo/buf.h"

static inline void dubbo__tri_set_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t dubbo__tri_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline int dubbo__tri_put_u32(dubbo_buf_t *b, uint32_t v)
{
    uint8_t x[4];
    dubbo__tri_set_u32(x, v);
    return dubbo_buf_append(b, x, 4);
}

static inline int dubbo__tri_put_pair(dubbo_buf_t *b, const char *k, size_t kn, const char *v,
                                      size_t vn)
{
    int rc = dubbo_buf_reserve(b, 8 + kn + vn); /* one growth check a pair */
    if (rc) return rc;
    uint8_t *p = b->base + b->len;
    dubbo__tri_set_u32(p, (uint32_t)kn);
    if (kn) memcpy(p + 4, k, kn);
    dubbo__tri_set_u32(p + 4 + kn, (uint32_t)vn);
    if (vn) memcpy(p + 8 + kn, v, vn);
    b->len += 8 + kn + vn;
    return 0;
}

typedef struct {
    const uint8_t *p;
    size_t n, off;
    bool bad; /* a read went past the end: every later read fails too */
} dubbo__tri_rd_t;

static inline uint32_t dubbo__tri_rd_u32(dubbo__tri_rd_t *r)
{
    if (r->bad || r->n - r->off < 4) {
        r->bad = true;
        return 0;
    }
    uint32_t v = dubbo__tri_get_u32(r->p + r->off);
    r->off += 4;
    return v;
}

static inline const uint8_t *dubbo__tri_rd_bytes(dubbo__tri_rd_t *r, size_t n)
{
    if (r->bad || r->n - r->off < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *q = r->p + r->off;
    r->off += n;
    return q;
}

/* One header pair: false at the end of the blob or when it is cut short
 * (then r->bad). */
static inline bool dubbo__tri_rd_pair(dubbo__tri_rd_t *r, const char **k, size_t *kn,
                                      const char **v, size_t *vn)
{
    if (r->bad || r->off >= r->n) return false;
    *kn = dubbo__tri_rd_u32(r);
    *k = (const char *)dubbo__tri_rd_bytes(r, *kn);
    *vn = dubbo__tri_rd_u32(r);
    *v = (const char *)dubbo__tri_rd_bytes(r, *vn);
    return !r->bad;
}

#endif
