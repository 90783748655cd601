/* Bump-pointer arena: values of one message are allocated here and freed
 * together. Blocks grow geometrically; a limit bounds the total handed out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/value.h"
#include "core/internal.h"
#include "core/arena.h"

#define FIRST_BLOCK 4096

/* The arena and a first small block in one allocation of 1 KiB, within
 * malloc's per-thread cache: an arena per message (a consumer's answer)
 * then costs one cached malloc and free while its values fit. */
#define ARENA_ALLOC 1024
#define INLINE_AT   (((sizeof(dubbo_arena_t) + 15) / 16) * 16)
#define INLINE_SIZE (ARENA_ALLOC - INLINE_AT - sizeof(block_t))

static block_t *inline_block(dubbo_arena_t *a)
{
    return (block_t *)((char *)a + INLINE_AT);
}

static block_t *block_new(size_t size)
{
    block_t *b = malloc(sizeof(*b) + size);
    if (!b) return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

dubbo_arena_t *dubbo_arena_new(size_t limit)
{
    dubbo_arena_t *a = malloc(ARENA_ALLOC);
    if (!a) return NULL;
    block_t *b = inline_block(a);
    b->next = NULL;
    b->size = INLINE_SIZE;
    b->used = 0;
    a->head = b;
    a->used = 0;
    a->limit = limit;
    a->next_size = FIRST_BLOCK;
    return a;
}

void dubbo_arena_free(dubbo_arena_t *a)
{
    if (!a) return;
    block_t *b = a->head;
    while (b) {
        block_t *n = b->next;
        if (b != inline_block(a)) free(b);
        b = n;
    }
    free(a);
}

void dubbo_arena_reset(dubbo_arena_t *a)
{
    /* Keep the largest block up to 256 KiB for the next message (a message
     * that needed several blocks will fit in it next time); free the rest,
     * so one huge message does not pin its memory. */
    block_t *keep = NULL, *in = inline_block(a);
    for (block_t *b = a->head; b; b = b->next)
        if (b->size <= ((size_t)256 << 10) && (!keep || b->size > keep->size)) keep = b;
    block_t *b = a->head;
    while (b) {
        block_t *n = b->next;
        if (b != keep && b != in) free(b);
        b = n;
    }
    /* the kept block first, the inline one (never freed) after it */
    a->used = 0;
    in->used = 0;
    in->next = NULL;
    if (keep && keep != in) {
        keep->used = 0;
        keep->next = in;
        a->head = keep;
        a->next_size = keep->size * 2;
    } else {
        a->head = in;
        a->next_size = FIRST_BLOCK;
    }
}

void *dubbo__arena_alloc_slow(dubbo_arena_t *a, size_t n)
{
    if (DUBBO__UNLIKELY(n > SIZE_MAX / 2)) {
        dubbo__seterr(DUBBO_ETOO_BIG, "arena: allocation of %zu bytes is too large", n);
        return NULL;
    }
    n = (n + 7) & ~(size_t)7;
    if (n == 0) n = 8;
    if (DUBBO__UNLIKELY(a->limit && (n > a->limit || a->used > a->limit - n))) {
        dubbo__seterr(DUBBO_ETOO_BIG, "arena: allocating %zu bytes would pass the limit of %zu", n,
                      a->limit);
        return NULL;
    }
    block_t *b = a->head;
    if (DUBBO__UNLIKELY(!b || b->size - b->used < n)) {
        size_t size = a->next_size;
        while (size < n)
            size *= 2;
        b = block_new(size);
        if (!b) {
            dubbo__seterr(DUBBO_ENOMEM, "arena: cannot allocate a block of %zu bytes", size);
            return NULL;
        }
        b->next = a->head;
        a->head = b;
        if (a->next_size < ((size_t)1 << 20)) a->next_size *= 2;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    a->used += n;
    return p;
}

char *dubbo_arena_strndup(dubbo_arena_t *a, const char *s, size_t n)
{
    if (n == SIZE_MAX) {
        dubbo__seterr(DUBBO_ETOO_BIG, "arena: string of %zu bytes is too large", n);
        return NULL;
    }
    char *p = dubbo__arena_alloc(a, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void dubbo__arena_set_limit(dubbo_arena_t *a, size_t limit)
{
    a->limit = limit;
}

size_t dubbo_arena_used(const dubbo_arena_t *a)
{
    return a->used;
}

void *dubbo_arena_alloc(dubbo_arena_t *a, size_t n)
{
    return dubbo__arena_alloc(a, n);
}
