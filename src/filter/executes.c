/* The executes filter (Java's ExecuteLimitFilter): a service exported
 * with `executes` = N (or `<method>.executes`) runs at most N calls of a
 * method at once; one more is refused at once, not queued, with status
 * SERVICE_ERROR and Java's message (Java's filter throws RpcException,
 * which a Java consumer gets as an RpcException, and failover retries on
 * another provider). Provider side, active when `executes` is set. */
#include <stdio.h>
#include <stdlib.h>

#include "filter/filter.h"
#include "runtime/call.h"

typedef struct {
    dubbo_filter_t base;
    dubbo__status_t status; /* by method */
} executes_filter_t;

static dubbo_filter_t *executes_create(const dubbo_url_t *url, int side, int *rc)
{
    *rc = 0;
    if (side != DUBBO_FILTER_PROVIDER || !dubbo__filter_url_has(url, "executes")) return NULL;
    executes_filter_t *f = calloc(1, sizeof(*f));
    if (!f) {
        *rc = dubbo__seterr(DUBBO_ENOMEM, "executes filter: out of memory");
        return NULL;
    }
    if ((*rc = dubbo__status_init(&f->status)) != 0) {
        free(f);
        return NULL;
    }
    f->base.ops = &dubbo__filter_executes;
    return &f->base;
}

static void executes_destroy(dubbo_filter_t *self)
{
    executes_filter_t *f = (executes_filter_t *)self;
    dubbo__status_destroy(&f->status);
    free(f);
}

static void executes_serve(dubbo_filter_t *self, dubbo_call_t *call)
{
    executes_filter_t *f = (executes_filter_t *)self;
    const dubbo_url_t *url = dubbo_call_url(call);
    const char *method = dubbo_call_method(call);
    long max = dubbo_url_method_param_int(url, method, "executes", 0);
    /* Unknown methods are answered at the chain's end without running, and
     * counting them would let any name a consumer sends grow the table. */
    if (max <= 0 || !call->method_def) {
        dubbo_call_next(call);
        return;
    }
    int active;
    long waited;
    dubbo__status_entry_t *e = dubbo__status_begin(
        &f->status, method, max > 1000000 ? 1000000 : (int)max, 0, &active, &waited);
    if (!e) {
        if (active < 0) {
            dubbo__filter_rpc_fail(call, "executes filter of %s.%s: out of memory",
                                   call->svc->interface, method);
            return;
        }
        dubbo__filter_rpc_fail(call,
                               "Failed to invoke method %s in provider %s (service %s), cause: The "
                               "service using threads greater than <dubbo:service executes=\"%ld\" "
                               "/> limited.",
                               method, dubbo_call_local(call), call->svc->interface, max);
        return;
    }
    dubbo_call_next(call);
    dubbo__status_end(&f->status, e);
}

const dubbo_filter_ops_t dubbo__filter_executes = {
    .name = "executes",
    .sides = DUBBO_FILTER_PROVIDER,
    .order = DUBBO__ORDER_EXECUTES,
    .create = executes_create,
    .serve = executes_serve,
    .destroy = executes_destroy,
};
