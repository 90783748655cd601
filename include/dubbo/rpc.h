/* Providers and consumers over the Dubbo binary protocol (hessian2).
 *
 * Threads: dubbo-c runs its network I/O on one event-loop thread (libuv)
 * shared by every server and client of the process, started on first use.
 * Provider method handlers run on the server's worker pool, never on the
 * event loop. Every public function here may be called from any thread,
 * unless its comment says otherwise.
 *
 * Errors: negative codes from dubbo/error.h, with dubbo_last_error() naming
 * the service, method and address involved. */
#ifndef DUBBO_RPC_H
#define DUBBO_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Response status byte (Java's Response constants). */
#define DUBBO_STATUS_MAP(XX)                                                                       \
    XX(OK, 20)                                                                                     \
    XX(CLIENT_TIMEOUT, 30)                                                                         \
    XX(SERVER_TIMEOUT, 31)                                                                         \
    XX(BAD_REQUEST, 40)                                                                            \
    XX(BAD_RESPONSE, 50)                                                                           \
    XX(SERVICE_NOT_FOUND, 60)                                                                      \
    XX(SERVICE_ERROR, 70)                                                                          \
    XX(SERVER_ERROR, 80)                                                                           \
    XX(CLIENT_ERROR, 90)                                                                           \
    XX(SERVER_THREADPOOL_EXHAUSTED, 100)

enum {
#define XX(name, code) DUBBO_STATUS_##name = code,
    DUBBO_STATUS_MAP(XX)
#undef XX
};

/* "OK", "SERVICE_NOT_FOUND", ... or "UNKNOWN". */
const char *dubbo_status_name(int status);

/* The message of a Java exception object (its detailMessage field), as
 * found in dubbo_result_t.exception, or NULL. Valid as long as the value. */
const char *dubbo_exception_message(const dubbo_value_t *exc);

/* ====================================================================== *
 * Provider side
 * ====================================================================== */

typedef struct dubbo_server dubbo_server_t;
typedef struct dubbo_call dubbo_call_t;

/* A method handler. Runs on a worker thread. It reads the arguments with
 * dubbo_call_arg() and answers with exactly one of dubbo_call_return(),
 * dubbo_call_throw() or dubbo_call_fail() before it returns (answering none
 * answers null). Values it builds must live in dubbo_call_arena(call). */
typedef void (*dubbo_handler_fn)(dubbo_call_t *call, void *user);

typedef struct {
    const char *name;    /* method name as the consumer sends it */
    dubbo_handler_fn fn; /* required */
} dubbo_method_t;

/* A service: an interface, its version and group, and a table of methods.
 * The server copies the strings and the table; `user` is passed to every
 * handler and must outlive the server. */
typedef struct {
    const char *interface; /* e.g. "org.apache.dubbo.demo.DemoService" */
    const char *version;   /* NULL or "" for none ("0.0.0" is treated as none) */
    const char *group;     /* NULL or "" for none */
    const dubbo_method_t *methods;
    size_t nmethods;
    void *user;
    /* NULL, or NULL-terminated key, value pairs: the provider URL's
     * parameters (token, executes, tps, tps.interval, accesslog, weight,
     * dubbo.tag, filter, ...); provider filters read their settings here. */
    const char *const *params;
} dubbo_service_t;

typedef struct {
    int version;             /* DUBBO_SERVER_OPTIONS_VERSION */
    const char *host;        /* bind address; default "0.0.0.0" */
    int port;                /* default 20880; 0 picks a free port */
    int threads;             /* worker pool size; default 200 like Java; workers start
                                when calls need them, not all at start */
    int queue;               /* requests waiting for a worker; 0 = the default, 1024;
                                past it the answer is status 100 (pool exhausted) */
    size_t payload;          /* frame body limit; default 8 MiB */
    int heartbeat_ms;        /* default 60000; idle connections closed after 3x; a
                                service exported before start with a `heartbeat`
                                parameter sets it, as Java's provider URL does */
    int shutdown_timeout_ms; /* default 10000: how long shutdown serves and drains */
    bool direct;             /* run handlers on the event-loop thread instead of the pool
                                (Java's dispatcher=direct): fastest, but a handler that
                                blocks stalls every connection; default false */
    const char *application; /* application name in registered URLs; default "dubbo-c";
                                copied by dubbo_server_new, like host */
    /* ---- version 2: limits against slow, idle and hostile clients ---- */
    int accepts;                  /* open connections at most (Java's `accepts`); 0 = no cap. One
                                     past it is closed at once. A service's `accepts` parameter
                                     (exported before start) sets it too. */
    int read_timeout_ms;          /* a frame begun must arrive whole within this; default
                                     30000 (1 byte a second never completes one) */
    int first_request_timeout_ms; /* a new connection must deliver its first whole frame
                                     (a request or a heartbeat) within this; default
                                     2 x heartbeat_ms */
    size_t memory_budget;         /* bytes that requests in flight may hold: the bytes of
                                     frames being read (as they arrive), queued bodies, decoded
                                     arguments and answers being written; default 64 MiB, at
                                     least one frame of `payload`. A request that does not fit
                                     is answered SERVER_THREADPOOL_EXHAUSTED (100, Java's
                                     overload status) and the rest of its body dropped unread */
    /* ---- version 3 ---- */
    const char *protocols; /* the protocols this port serves, comma-separated, e.g.
                              "dubbo,tri": each connection is served by the first whose
                              detect() claims its first bytes; default "dubbo"; copied */
} dubbo_server_options_t;

#define DUBBO_SERVER_OPTIONS_VERSION 3

/* Fill opts with the defaults above. */
void dubbo_server_options_init(dubbo_server_options_t *opts);

/* Create a server (not yet listening). opts may be NULL for defaults.
 * Returns NULL on out-of-memory. */
dubbo_server_t *dubbo_server_new(const dubbo_server_options_t *opts);

/* Export a service. Before or after start. DUBBO_EEXISTS if the same
 * interface/version/group is already exported; DUBBO_EINVAL for a missing
 * interface or an empty method table. */
int dubbo_server_export(dubbo_server_t *s, const dubbo_service_t *svc);

/* Bind, listen and start the worker pool. Returns 0, or -errno from the
 * bind (e.g. -EADDRINUSE) with a message naming host:port. */
int dubbo_server_start(dubbo_server_t *s);

/* Announce every exported service in a registry (registry.h: file://DIR,
 * zookeeper://..., etcd://...), now if the server is started, else at
 * start; later exports are announced too. Several registries may be added.
 * Shutdown withdraws the announcements first, before the readonly event.
 * Errors: the registry's (unknown scheme: DUBBO_ENOT_FOUND). */
int dubbo_server_add_registry(dubbo_server_t *s, const char *registry_url);

/* The port actually bound (useful with port 0), or -1 before start. */
int dubbo_server_port(const dubbo_server_t *s);

/* Graceful shutdown: tell every connected consumer the server is read-only
 * (the "R" event) and stop accepting; go on reading and answering on open
 * connections while requests still come (each closes when its consumer
 * closes it, or once it is idle and nothing arrived on it for 200 ms), wait
 * for in-flight calls, then close what is left. shutdown_timeout_ms bounds
 * the whole. Blocks until done; idempotent. Returns 0, or DUBBO_ETIMEOUT if
 * calls were still running at the deadline (their answers are dropped). Not
 * from a handler. */
int dubbo_server_shutdown(dubbo_server_t *s);

/* Shut down (if still running) and free. dubbo_server_free(NULL) is a no-op. */
void dubbo_server_free(dubbo_server_t *s);

/* Install SIGTERM and SIGINT handling that makes dubbo_server_wait() return. */
void dubbo_server_handle_signals(void);

/* Block the calling thread until SIGTERM/SIGINT (after
 * dubbo_server_handle_signals()) or dubbo_server_wakeup(). */
void dubbo_server_wait(void);
void dubbo_server_wakeup(void);

/* ---- inside a handler ---- */

size_t dubbo_call_nargs(const dubbo_call_t *call);
/* Argument i (never NULL: null is dubbo_v_null()), or NULL when i is out of range. */
dubbo_value_t *dubbo_call_arg(const dubbo_call_t *call, size_t i);
const char *dubbo_call_method(const dubbo_call_t *call);
/* The JVM parameter descriptor the consumer sent, e.g. "Ljava/lang/String;". */
const char *dubbo_call_desc(const dubbo_call_t *call);
/* A request attachment by key, or NULL. */
const char *dubbo_call_attachment(const dubbo_call_t *call, const char *key);
/* "host:port" of the consumer, and of this server as the consumer reached it. */
const char *dubbo_call_remote(const dubbo_call_t *call);
const char *dubbo_call_local(const dubbo_call_t *call);
/* The arena of this call: free when the answer has been written. */
dubbo_arena_t *dubbo_call_arena(dubbo_call_t *call);

/* Answer with a value (NULL = null). */
void dubbo_call_return(dubbo_call_t *call, dubbo_value_t *value);
/* Answer with a Java exception of class `cls` and `message`; a Java
 * consumer sees that exception. */
void dubbo_call_throw(dubbo_call_t *call, const char *cls, const char *message);
/* Answer with an error status (DUBBO_STATUS_SERVICE_ERROR etc.) and text. */
void dubbo_call_fail(dubbo_call_t *call, int status, const char *message);
/* Add a response attachment (copied). */
int dubbo_call_set_attachment(dubbo_call_t *call, const char *key, const char *value);

/* ====================================================================== *
 * Consumer side
 * ====================================================================== */

typedef struct dubbo_client dubbo_client_t;

/* Refer to a service by URL:
 *   dubbo://host:port/interface?version=1.0&group=g&timeout=1000&connections=1&payload=N
 * `timeout` (ms, default 1000) applies to every method; `<method>.timeout`
 * (e.g. sayHello.timeout=200) overrides it for one method. `heartbeat`
 * (ms, default 60000): an idle connection sends a heartbeat after that
 * long, and one with no data for 3x that long is closed and reconnected.
 * `payload` and `heartbeat` are set by the first client of an address.
 * The connection to host:port is shared with every other client of the
 * same address (unless `connections` asks for more) and is made lazily on
 * the first call. Returns NULL with DUBBO_EINVAL and a message on a bad URL. */
dubbo_client_t *dubbo_client_new(const char *url);
/* Release a client. Any thread, a completion callback (dubbo_done_fn)
 * included; calls still in flight complete with an error or are dropped
 * with the connection when no other client shares it. NULL is a no-op. */
void dubbo_client_free(dubbo_client_t *c);

/* The outcome of a call. Initialise with dubbo_result_init(); release with
 * dubbo_result_destroy(), which frees the arena holding every value. */
typedef struct {
    int status;                 /* DUBBO_STATUS_* from the provider, 0 if none came */
    dubbo_value_t *value;       /* the returned value (DUBBO_T_NULL for void/null) */
    dubbo_value_t *exception;   /* a Java exception object, or NULL */
    dubbo_value_t *attachments; /* response attachments (a map), or NULL */
    const char *error;          /* a message for error status or local failure, or NULL */
    dubbo_arena_t *arena;
} dubbo_result_t;

void dubbo_result_init(dubbo_result_t *r);
void dubbo_result_destroy(dubbo_result_t *r);

typedef struct {
    const char *method;
    /* JVM descriptor of the parameters; NULL = derived from the arguments
     * (int "I", long "J", double "D", boolean "Z", string
     * "Ljava/lang/String;", object "L<class>;", typed list of "[int" "[I",
     * untyped list "Ljava/util/List;", map "Ljava/util/Map;", date
     * "Ljava/util/Date;", null "Ljava/lang/Object;"). */
    const char *desc;
    dubbo_value_t *const *args;
    size_t nargs;
    /* extra request attachments: NULL-terminated key, value pairs */
    const char *const *attachments;
    int timeout_ms; /* 0 = the URL's timeout (default 1000) */
} dubbo_invocation_t;

/* Synchronous call. Returns 0 when the provider answered (r->status,
 * r->value / r->exception / r->error say what), or a negative code for a
 * local failure (DUBBO_ETIMEOUT, DUBBO_ECLOSED, -ECONNREFUSED, ...) with
 * r->error and dubbo_last_error() naming method and address. */
int dubbo_client_call(dubbo_client_t *c, const dubbo_invocation_t *inv, dubbo_result_t *r);

/* Asynchronous call: returns at once; `done` runs exactly once, on the
 * event-loop thread (it must not block), with rc and the result, which it
 * owns (it must call dubbo_result_destroy()). */
typedef void (*dubbo_done_fn)(int rc, dubbo_result_t *r, void *user);
int dubbo_client_call_async(dubbo_client_t *c, const dubbo_invocation_t *inv, dubbo_done_fn done,
                            void *user);

/* One-way call: sent without waiting for (or getting) an answer. */
int dubbo_client_oneway(dubbo_client_t *c, const dubbo_invocation_t *inv);

/* Derive the JVM descriptor of one argument (see dubbo_invocation_t.desc)
 * and append it to out. */
int dubbo_desc_append(dubbo_buf_t *out, const dubbo_value_t *arg);

#ifdef __cplusplus
}
#endif
#endif
