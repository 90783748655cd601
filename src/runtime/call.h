/* Provider-side call and service state, shared by the server runtime and
 * the provider filters (src/filter/). Internal. */
#ifndef DUBBO_RUNTIME_CALL_H
#define DUBBO_RUNTIME_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/cluster.h"
#include "dubbo/rpc.h"
#include "dubbo/url.h"
#include "protocol/dubbo/codec.h"

typedef struct sconn sconn_t;

/* An exported service. */
typedef struct {
    char *interface, *version, *group;
    dubbo_method_t *methods;
    size_t nmethods;
    void *user;
    dubbo_url_t *url;         /* dubbo://host:port/interface?params... */
    dubbo_filter_t **filters; /* provider filters active for it, in order */
    size_t nfilters;
} service_t;

struct dubbo_call {
    struct dubbo_server *srv;
    sconn_t *c;
    dubbo_arena_t *arena;
    uint64_t id;
    bool twoway;
    const dubbo_serialization_ops_t *ser; /* the request's; the answer uses it too */
    dubbo_request_t req;                  /* method/args may be rewritten by filters (generic) */
    const service_t *svc;
    const dubbo_method_t *method; /* NULL: no such method (answered at the chain's end) */
    size_t filter_pos;
    bool answered;
    int status;
    bool is_exception;
    dubbo_value_t *value;
    const char *error;
    dubbo_value_t *res_att;
};

/* For the generic filter: from here on the call is the real one (method,
 * its descriptor and arguments, living in the call's arena); the service's
 * method of that name is looked up again. */
void dubbo__call_set_invocation(dubbo_call_t *call, const char *method, const char *desc,
                                dubbo_value_t **args, size_t nargs);
/* A request attachment as it came (any type), or NULL. */
const dubbo_value_t *dubbo__call_attachment_value(const dubbo_call_t *call, const char *key);

#endif
