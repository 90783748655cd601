/* The arena's layout, private to the library, so that hot paths (the
 * decoders) allocate with an inline bump of a pointer. */
#ifndef DUBBO_CORE_ARENA_H
#define DUBBO_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "dubbo/value.h"
#include "core/internal.h"

typedef struct block {
    struct block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    max_align_t data[];
} block_t;

struct dubbo_arena {
    block_t *head; /* current block; older blocks follow */
    size_t used;   /* bytes handed out (the limit counts these) */
    size_t limit;
    size_t next_size;
};

/* The out-of-line path: new blocks, limits, errors. */
void *dubbo__arena_alloc_slow(dubbo_arena_t *a, size_t n);

/* Allocate n bytes aligned to 8: a bump in the current block when it fits
 * and the limit allows, else the slow path. */
static inline void *dubbo__arena_alloc(dubbo_arena_t *a, size_t n)
{
    size_t r = (n + 7) & ~(size_t)7;
    block_t *b = a->head;
    if (DUBBO__LIKELY(b && n && r >= n && b->size - b->used >= r &&
                      (!a->limit || (r <= a->limit && a->used <= a->limit - r)))) {
        void *p = (char *)b->data + b->used;
        b->used += r;
        a->used += r;
        return p;
    }
    return dubbo__arena_alloc_slow(a, n);
}

#endif
