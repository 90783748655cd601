/* The exception filter, after Java's ExceptionFilter, the innermost
 * provider filter. Java's filter rewraps exceptions a consumer may lack
 * the class of; a C handler names its exception class itself, so this one
 * passes every exception as thrown and only repairs answers no Dubbo
 * consumer can read:
 *   - dubbo_call_throw() with an empty class name: answered as
 *     java.lang.RuntimeException with the same message;
 *   - dubbo_call_fail() with a status Dubbo does not define (or OK): sent
 *     as SERVICE_ERROR (70), the message naming the service, the method and
 *     the status the handler gave; an empty message is replaced by one that
 *     says so.
 * Handler failures (any error status) are logged at error level, as Java
 * logs unexpected exceptions. A handler that answers nothing answers null:
 * that is a void method, not an error. Provider side, always on. */
#include <stdio.h>
#include <string.h>

#include "dubbo/rpc.h"
#include "core/log.h"
#include "filter/filter.h"
#include "runtime/call.h"

static dubbo_filter_t exception_instance = {&dubbo__filter_exception};

static dubbo_filter_t *exception_create(const dubbo_url_t *url, int side, int *rc)
{
    (void)url;
    *rc = 0;
    return side == DUBBO_FILTER_PROVIDER ? &exception_instance : NULL;
}

static bool known_error_status(int status)
{
    switch (status) {
#define XX(name, code)                                                                             \
    case code: return code != DUBBO_STATUS_OK;
        DUBBO_STATUS_MAP(XX)
#undef XX
    default: return false;
    }
}

static void exception_serve(dubbo_filter_t *self, dubbo_call_t *call)
{
    (void)self;
    dubbo_call_next(call);
    /* Only the handler's own answers: the chain's end answers an unknown
     * method, and the filters outside this one answer well-formed. */
    if (!call->answered || !call->method_def) return;
    const char *iface = call->svc->interface, *method = dubbo_call_method(call);
    if (call->status == DUBBO_STATUS_OK) {
        const dubbo_value_t *e = call->value;
        if (call->is_exception && e && e->type == DUBBO_T_OBJECT && !*e->u.obj.cls->name) {
            const char *msg = dubbo_exception_message(e);
            dubbo_call_throw(call, "java.lang.RuntimeException", msg ? msg : "");
        }
        return;
    }
    char msg[1024];
    const char *text = call->error && *call->error ? call->error : NULL;
    if (!known_error_status(call->status)) {
        snprintf(msg, sizeof(msg),
                 "service %s method %s failed with status %d, which Dubbo does "
                 "not define: %s",
                 iface, method, call->status, text ? text : "(no message)");
        DLOG_ERROR("%s (consumer %s); answered as SERVICE_ERROR", msg, dubbo_call_remote(call));
        dubbo_call_fail(call, DUBBO_STATUS_SERVICE_ERROR, msg);
        return;
    }
    if (!text) {
        snprintf(msg, sizeof(msg), "service %s method %s failed (%s) without a message", iface,
                 method, dubbo_status_name(call->status));
        dubbo_call_fail(call, call->status, msg);
        text = msg;
    }
    DLOG_ERROR("service %s method %s called by %s failed with status %s: %s", iface, method,
               dubbo_call_remote(call), dubbo_status_name(call->status), text);
}

/* Stateless: one static instance serves every service (no destroy). */
const dubbo_filter_ops_t dubbo__filter_exception = {
    .name = "exception",
    .sides = DUBBO_FILTER_PROVIDER,
    .order = DUBBO__ORDER_EXCEPTION,
    .create = exception_create,
    .serve = exception_serve,
};
