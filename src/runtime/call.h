/* Provider-side call and service state, shared by the server runtime, the
 * protocols' provider sides (src/protocol/<name>/) and the provider filters
 * (src/filter/, which read it through the dubbo_call_* accessors only).
 * Internal. */
#ifndef DUBBO_RUNTIME_CALL_H
#define DUBBO_RUNTIME_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/cluster.h"
#include "dubbo/protocol.h"
#include "dubbo/rpc.h"
#include "dubbo/url.h"

typedef struct sconn sconn_t;

/* A method of an exported service: its name, the JVM parameter
 * descriptor it takes (NULL: any), its handler. */
typedef struct {
    char *name, *desc;
    dubbo_handler_fn fn;
} method_t;

/* An exported service. */
typedef struct {
    char *interface, *version, *group;
    method_t *methods;
    size_t nmethods;
    void *user;
    dubbo_url_t *url;         /* dubbo://host:port/interface?params... */
    dubbo_filter_t **filters; /* provider filters active for it, in order */
    size_t nfilters;
} service_t;

/* The neutral call: what every protocol fills (decode), what the service
 * table, the filters and the handler use. Strings and values live in the
 * arena. */
struct dubbo_call {
    struct dubbo_server *srv;
    sconn_t *c;
    dubbo_arena_t *arena;
    const dubbo_protocol_ops_t *proto; /* the protocol the call came by */
    dubbo_unit_t unit;                 /* id, twoway, the protocol's tag */
    void *proto_call;                  /* the protocol's own per-call data (arena) */
    /* the request; method/desc/args may be rewritten by filters (generic) */
    const char *service; /* the interface (Dubbo: the path) */
    const char *version, *group, *method, *desc;
    dubbo_value_t **args;
    size_t nargs;
    const dubbo_value_t *attachments; /* a map with string keys, or NULL */
    /* Or, while `attachments` is NULL, the protocol's lookup of one
     * attachment in the request's bytes, not decoded as a whole (the Dubbo
     * protocol with hessian2): the value, in the arena, or NULL. */
    const dubbo_value_t *(*att_find)(const dubbo_call_t *call, const char *key);
    /* The unit's payload stays valid until the call ends (set before
     * decode): a protocol may point into it. */
    bool payload_kept;
    /* the outcome */
    const service_t *svc;
    const method_t *method_def; /* NULL: no such method (answered at the chain's end) */
    size_t filter_pos;
    bool answered;
    int status;
    bool is_exception;
    dubbo_value_t *value;
    const char *error;
    dubbo_value_t *res_att;
    /* The connection reference the call's job holds (a worker's call), to
     * hand over to the answer's loop task when it has one (job_ref_given),
     * else dropped by the worker. */
    bool job_ref;
    bool job_ref_given;
    /* A worker's buffer for encoding answers, kept across its calls (NULL
     * on a loop thread): answers that go through the connection's inbox
     * are copied from it, so it needs no allocation per call. */
    dubbo_buf_t *scratch;
};

/* For a protocol's decode: the request, every string and value in the
 * call's arena (version, group, desc, attachments may be NULL). */
void dubbo__call_set_request(dubbo_call_t *call, const char *service, const char *version,
                             const char *group, const char *method, const char *desc,
                             dubbo_value_t **args, size_t nargs, const dubbo_value_t *attachments);

/* For the generic filter: from here on the call is the real one (method,
 * its descriptor and arguments, living in the call's arena); the service's
 * method of that name is looked up again. */
void dubbo__call_set_invocation(dubbo_call_t *call, const char *method, const char *desc,
                                dubbo_value_t **args, size_t nargs);
/* The exported service a call to path, version, group would reach, or
 * NULL: for a protocol whose decoding depends on the service (Triple: a
 * protobuf IDL service or Java's wrapper). Any thread; the service lives
 * until the server is freed. */
const service_t *dubbo__call_lookup(const dubbo_call_t *call, const char *path, const char *version,
                                    const char *group);
/* A request attachment as it came (any type), or NULL. */
const dubbo_value_t *dubbo__call_attachment_value(const dubbo_call_t *call, const char *key);

#endif
