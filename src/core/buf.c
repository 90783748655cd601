/* Growable byte buffer with a hard limit. */
#include <stdlib.h>
#include <string.h>

#include "dubbo/buf.h"
#include "core/internal.h"

void dubbo_buf_init(dubbo_buf_t *b, size_t limit)
{
    b->base = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

void dubbo_buf_destroy(dubbo_buf_t *b)
{
    free(b->base);
    b->base = NULL;
    b->len = b->cap = 0;
}

int dubbo_buf_reserve(dubbo_buf_t *b, size_t n)
{
    if (DUBBO__LIKELY(b->cap - b->len >= n)) return 0;
    if (n > SIZE_MAX / 2 - b->len || (b->limit && b->len + n > b->limit))
        return dubbo__seterr(DUBBO_ETOO_BIG, "buffer: %zu + %zu bytes exceeds limit %zu", b->len, n,
                             b->limit);
    size_t want = b->len + n;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    if (b->limit && cap > b->limit) cap = b->limit;
    uint8_t *p = realloc(b->base, cap);
    if (!p) return dubbo__seterr(DUBBO_ENOMEM, "buffer: cannot grow to %zu bytes", cap);
    b->base = p;
    b->cap = cap;
    return 0;
}

int dubbo_buf_append(dubbo_buf_t *b, const void *data, size_t n)
{
    int rc = dubbo_buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->base + b->len, data, n);
    b->len += n;
    return 0;
}

void dubbo_buf_consume(dubbo_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->base, b->base + n, b->len - n);
    b->len -= n;
}
