/* The provider's memory budget (budget.h). */
#include <malloc.h>
#include <stdio.h>

#include "core/log.h"
#include "transport/budget.h"

bool dubbo__budget_take(dubbo__budget_t *b, size_t n)
{
    size_t cur = atomic_load(&b->mem);
    do {
        if (cur + n > b->limit && cur > 0) return false;
    } while (!atomic_compare_exchange_weak(&b->mem, &cur, cur + n));
    return true;
}

/* Frames still arriving and answers being written do not stop it: when it
 * is the only request admitted, it goes over the budget, so a burst of
 * large requests serves at least one instead of refusing them all. At most
 * one request at a time goes over this way. (arriving and writing are
 * raised before mem and lowered after it, so a race errs towards letting
 * the request through.) */
bool dubbo__budget_take_admitted(dubbo__budget_t *b, size_t n, size_t own)
{
    size_t cur = atomic_load(&b->mem);
    do {
        size_t others = atomic_load(&b->arriving) + atomic_load(&b->writing);
        if (cur + n > b->limit && cur > own + others) return false;
    } while (!atomic_compare_exchange_weak(&b->mem, &cur, cur + n));
    return true;
}

/* After a burst, hand freed heap back to the system (glibc keeps it
 * otherwise), at most once a second. */
void dubbo__budget_give(dubbo__budget_t *b, size_t n)
{
    if (!n) return;
    atomic_fetch_sub(&b->mem, n);
    size_t burst = atomic_fetch_add(&b->since_trim, n) + n;
    if (burst < ((size_t)8 << 20) || atomic_load(&b->mem) > ((size_t)1 << 20)) return;
    uint64_t now = dubbo__now_ms(), last = atomic_load(&b->last_trim_ms);
    if (now - last < 1000 || !atomic_compare_exchange_strong(&b->last_trim_ms, &last, now)) return;
    atomic_store(&b->since_trim, 0);
    malloc_trim(0);
}

/* `writing` is raised before mem and lowered after it (see
 * dubbo__budget_take_admitted). */
void dubbo__budget_out_charge(dubbo__budget_t *b, size_t n)
{
    atomic_fetch_add(&b->writing, n);
    atomic_fetch_add(&b->mem, n);
}

void dubbo__budget_out_release(dubbo__budget_t *b, size_t n)
{
    dubbo__budget_give(b, n);
    atomic_fetch_sub(&b->writing, n);
}

void dubbo__budget_overload_message(dubbo__budget_t *b, const char *local, size_t want, char *msg,
                                    size_t cap)
{
    snprintf(msg, cap,
             "Server side(%s) memory budget exhausted: a request of %zu bytes does not fit, "
             "%zu of %zu bytes held by requests in flight",
             local, want, atomic_load(&b->mem), b->limit);
}
