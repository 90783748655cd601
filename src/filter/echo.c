/* The echo filter (Java's EchoFilter): `$echo` with one argument answers
 * that argument without calling the service, so consumers and tools can
 * check that a provider serves an interface. Provider side, always on. */
#include <string.h>

#include "filter/filter.h"
#include "runtime/call.h"

static dubbo_filter_t echo_instance = {&dubbo__filter_echo};

static dubbo_filter_t *echo_create(const dubbo_url_t *url, int side, int *rc)
{
    (void)url;
    *rc = 0;
    return side == DUBBO_FILTER_PROVIDER ? &echo_instance : NULL;
}

static void echo_serve(dubbo_filter_t *self, dubbo_call_t *call)
{
    (void)self;
    const char *m = dubbo_call_method(call);
    if (m[0] == '$' && dubbo_call_nargs(call) == 1 && strcmp(m, "$echo") == 0) {
        dubbo_call_return(call, dubbo_call_arg(call, 0));
        return;
    }
    dubbo_call_next(call);
}

/* Stateless: one static instance serves every service (no destroy). */
const dubbo_filter_ops_t dubbo__filter_echo = {
    .name = "echo",
    .sides = DUBBO_FILTER_PROVIDER,
    .order = DUBBO__ORDER_ECHO,
    .create = echo_create,
    .serve = echo_serve,
};
