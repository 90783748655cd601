/* The provider's memory budget: bytes held by requests in flight (units
 * being read, queued payloads, decoded arenas) and answers being written,
 * against one limit. Shared by the listener (src/transport/listener.c:
 * units as they arrive, answers until written) and the exporter
 * (src/runtime/server.c: queued jobs, decoded arguments, results). All
 * functions are lock-free and may be called from any thread. Internal. */
#ifndef DUBBO_TRANSPORT_BUDGET_H
#define DUBBO_TRANSPORT_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t limit; /* options.memory_budget */
    /* bytes held, and what went through since the last malloc_trim */
    atomic_size_t mem;
    atomic_size_t arriving; /* of mem: units still arriving */
    atomic_size_t writing;  /* of mem: answers being written */
    atomic_size_t since_trim;
    atomic_uint_fast64_t last_trim_ms;
} dubbo__budget_t;

/* Take n bytes of the budget, or false when they do not fit; when nothing
 * is held, n may go over, so that one unit of the largest size allowed
 * always gets through. */
bool dubbo__budget_take(dubbo__budget_t *b, size_t n);
/* Take n bytes for decoding a request that already holds `own` bytes (its
 * whole unit); see budget.c. */
bool dubbo__budget_take_admitted(dubbo__budget_t *b, size_t n, size_t own);
/* Give n bytes back (and after a burst, freed heap to the system). */
void dubbo__budget_give(dubbo__budget_t *b, size_t n);
/* Answers count from the moment they are handed to their connection until
 * written or dropped. */
void dubbo__budget_out_charge(dubbo__budget_t *b, size_t n);
void dubbo__budget_out_release(dubbo__budget_t *b, size_t n);
/* The message a request refused by the budget is answered with; `local`
 * is the connection's own address. */
void dubbo__budget_overload_message(dubbo__budget_t *b, const char *local, size_t want, char *msg,
                                    size_t cap);

#endif
