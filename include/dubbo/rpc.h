/* Providers and consumers over the Dubbo binary protocol (hessian2 by
 * default); a server's port may speak other protocols too
 * (include/dubbo/protocol.h, options.protocols).
 *
 * Threads. dubbo-c runs its network I/O on event-loop threads (libuv),
 * by default one per core (dubbo_io_threads_set), shared by every server
 * and client of the process and started on first use; each connection
 * lives on one of them. Code of the application runs on three kinds of
 * thread:
 *   - its own threads;
 *   - an event-loop thread (the one of the connection concerned):
 *     completion callbacks (dubbo_done_fn), and the provider handlers of a
 *     server with options.direct, so several of these may run at once;
 *   - a server's worker threads: provider handlers (the default).
 * Every function here may be called from any thread unless its comment
 * says otherwise. Nothing may block a loop thread: there,
 * dubbo_client_call, dubbo_server_start and dubbo_server_shutdown are
 * refused (DUBBO_EINVAL: they would wait for the loop thread itself), and
 * dubbo_server_free logs that error and leaves the server as it is.
 *
 * Errors. A function returning int gives 0 or a negative code of
 * dubbo/error.h (system errors as -errno); one returning a pointer gives
 * NULL. dubbo_last_error() (per thread) then names what failed and the
 * service, method or address involved, unless the comment says that no
 * message is set.
 *
 * Strings and values passed in are borrowed for the duration of the call
 * unless the comment says they are copied or kept. What is returned is
 * valid as long as its comment says, no longer. */
#ifndef DUBBO_RPC_H
#define DUBBO_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/export.h"
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

/* "OK", "SERVICE_NOT_FOUND", ... or "UNKNOWN" (static strings). */
DUBBO_API const char *dubbo_status_name(int status);

/* The message of a Java exception object (its detailMessage field), as
 * found in dubbo_result_t.exception, or NULL (no such string field; exc
 * NULL). Points into the value: valid as long as the value's arena. */
DUBBO_API const char *dubbo_exception_message(const dubbo_value_t *exc);

/* ====================================================================== *
 * Provider side
 * ====================================================================== */

typedef struct dubbo_server dubbo_server_t;
typedef struct dubbo_call dubbo_call_t;

/* A method handler. Runs on one of the server's worker threads, or on the
 * connection's event-loop thread with options.direct (then handlers of
 * connections on other loops run at the same time; it must not block, and
 * dubbo_client_call / dubbo_reference_call are refused with DUBBO_EINVAL).
 * It reads the arguments with dubbo_call_arg() and answers with
 * dubbo_call_return(), dubbo_call_throw() or dubbo_call_fail() before it
 * returns: answers are synchronous, a call cannot be answered later or
 * from another thread. Answering none answers null; answering twice, the
 * last answer counts.
 *
 * Lifetimes: `call` and everything reached through it (arguments, method,
 * descriptor, attachments, addresses, the arena and what lives in it) are
 * valid until the handler returns and not after: the answer is encoded
 * once the handler and the provider filters around it have returned, then
 * the arena is reset and reused by the worker's next call. Copy what must
 * outlive the call. A value answered must live in dubbo_call_arena(call)
 * or in memory that outlives the call (dubbo_v_null(), a static value).
 *
 * A handler may call consumers (from a worker). It must not call
 * dubbo_server_shutdown() or dubbo_server_free() on its own server: they
 * wait for the calls in flight, this one included, and join the worker
 * running it. */
typedef void (*dubbo_handler_fn)(dubbo_call_t *call, void *user);

typedef struct {
    /* The method name as the consumer sends it; copied by export. It may
     * carry the JVM parameter descriptor the handler takes, Java-style:
     * "greet(Ljava/lang/String;I)" (checked by export: DUBBO_EMALFORMED
     * naming the method). Java overloads are several entries of one name
     * with different descriptors: a call goes to the entry whose descriptor
     * equals the request's, else to the entry of that name without one,
     * else it is answered BAD_REQUEST "Not found method". A plain name
     * takes every call of that name, whatever its parameter types. */
    const char *name;
    dubbo_handler_fn fn; /* required */
} dubbo_method_t;

/* A service: an interface, its version and group, and a table of methods.
 * dubbo_server_export copies the strings, the method table and `params`:
 * the struct and everything it points to may go when export returns.
 * `user` is kept as is and passed to every handler: it must stay valid
 * until dubbo_server_free() has returned (no handler runs after that). */
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
                                copied by dubbo_server_new, like host (the struct itself
                                is copied too) */
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
                              detect() claims its first bytes (with one protocol, no
                              detect: it judges every connection); at most 8; default
                              "dubbo"; copied. Registries get one provider URL per
                              protocol. Ignored when version < 3 */
    /* ---- version 4: TLS (OpenSSL) for every protocol of the port ---- */
    int tls;                   /* DUBBO_TLS_OFF (default), DUBBO_TLS_STRICT (TLS only) or
                                  DUBBO_TLS_PERMISSIVE (TLS and plaintext: a connection
                                  whose first bytes are a TLS handshake gets TLS) */
    const char *tls_cert_file; /* PEM certificate chain (required with TLS); copied */
    const char *tls_key_file;  /* its PEM private key (NULL: in the certificate file) */
    const char *tls_ca_file;   /* PEM CA bundle that verifies client certificates */
    bool tls_client_auth;      /* require a client certificate verified by tls_ca_file
                                  (mTLS); default false. Files are reloaded when they
                                  change (checked at most once a second per new
                                  connection); a change that does not load is logged and
                                  the old certificates stay */
    int accepts_per_ip;        /* open connections from one IP address at most; 0 = no cap.
                                  One past it is closed at once, logged with the address. A
                                  service's `accepts-per-ip` parameter (exported before
                                  start) sets it too. Not applied to unix sockets */
    /* ---- version 5 ---- */
    int io_threads; /* event loops this server's connections are spread over (Java's
                       `iothreads`): each accepted connection goes to the one with the
                       fewest connections and stays there. 0 (default): the process's
                       count (dubbo_io_threads_set, else DUBBO_IO_THREADS, else the
                       number of cores); at most 64. The port itself is accepted on
                       the first loop. Ignored when version < 5 */
} dubbo_server_options_t;

#define DUBBO_SERVER_OPTIONS_VERSION 5

/* The process's event-loop threads (Java's iothreads), shared by every
 * server and client: n from 1 to 64 (more is 64; 0 or less: back to the
 * default, the environment's DUBBO_IO_THREADS, else the number of cores).
 * New connections are spread over the first n (consumer connections of
 * dubbo:// and of other protocols without per-connection consumer state;
 * those of tri:// and rest:// stay on the first loop); a loop runs its
 * connections' reads, writes, timers and, with options.direct, their
 * handlers, and async completion callbacks of its connections' calls.
 * Loops start when a connection first needs them and run until the
 * process exits; loops already started keep their connections when n is
 * lowered. Any thread, any time; best before the first server or client. */
DUBBO_API void dubbo_io_threads_set(int n);
/* The count new connections are spread over now. Any thread. */
DUBBO_API int dubbo_io_threads(void);

/* dubbo_server_options_t.tls */
enum { DUBBO_TLS_OFF = 0, DUBBO_TLS_STRICT = 1, DUBBO_TLS_PERMISSIVE = 2 };

/* Fill opts with the defaults above (version included). Cannot fail. */
DUBBO_API void dubbo_server_options_init(dubbo_server_options_t *opts);

/* Create a server (not yet listening; no thread started). opts may be
 * NULL for defaults; it is copied, with its strings. Returns NULL with
 * DUBBO_EINVAL when options.protocols names an unknown protocol, one
 * without a provider side, or more than 8; NULL without a message when
 * out of memory. */
DUBBO_API dubbo_server_t *dubbo_server_new(const dubbo_server_options_t *opts);

/* Export a service (copied: see dubbo_service_t). Errors, each with a
 * message "export <interface>: ...":
 *   DUBBO_EINVAL      no interface, no methods, a method without name or fn
 *   DUBBO_EEXISTS     the same interface/version/group is already exported
 *   DUBBO_ENOT_FOUND  `filter` in params names no registered filter
 *   DUBBO_EIO         token=true and no random bytes for the token
 *   DUBBO_ENOMEM, or a provider filter's own error from its create()
 * `heartbeat` and `accepts` in params set the server's options only when
 * exported before start. Once started, the service is announced in the
 * server's registries (failures are logged, not returned).
 * Threads: any, also while the server serves calls (each service is
 * allocated on its own, so a call in flight keeps its service while an
 * export grows the table). */
DUBBO_API int dubbo_server_export(dubbo_server_t *s, const dubbo_service_t *svc);

/* Bind, listen, start the first worker and announce the exported
 * services in the registries added so far. 0 if already listening.
 * Errors: -errno from bind/listen (e.g. -EADDRINUSE), with a message
 * naming host:port; DUBBO_EINVAL when options.host is not an IP address
 * (names are not resolved); DUBBO_ENOMEM; DUBBO_EINVAL on the loop thread
 * (it waits for it: "dubbo_server_start cannot be called on the
 * event-loop thread ..."). Not after dubbo_server_shutdown(). */
DUBBO_API int dubbo_server_start(dubbo_server_t *s);

/* Announce every exported service in a registry (registry.h: file://DIR,
 * zookeeper://..., etcd://...), now if the server is started, else at
 * start; later exports are announced too: one provider URL per protocol of
 * options.protocols. Several registries may be added. registry_url is
 * borrowed; the registry is kept until dubbo_server_free(). Shutdown
 * withdraws the announcements first, before the readonly event.
 * Errors: the registry's open (unknown scheme: DUBBO_ENOT_FOUND; a server
 * that cannot be reached...), DUBBO_ENOMEM; a failed announcement is only
 * logged. Blocks while the registry connects: not from the loop thread. */
DUBBO_API int dubbo_server_add_registry(dubbo_server_t *s, const char *registry_url);

/* The port actually bound (useful with port 0), also after shutdown; -1
 * before a successful start. */
DUBBO_API int dubbo_server_port(const dubbo_server_t *s);

/* Graceful shutdown: withdraw the registry announcements, tell every
 * connected consumer the server is going away (the protocol's goaway:
 * Dubbo's readonly "R" event) and stop accepting; go on reading and
 * answering on open connections while requests still come (each closes
 * when its consumer closes it, or once it is idle and nothing arrived on
 * it for 200 ms), wait for in-flight calls, then close what is left.
 * Returns 0, or DUBBO_ETIMEOUT ("server: N call(s) still running after T
 * ms of shutdown") if calls were still queued or running at the deadline:
 * their connections are closed and their answers dropped.
 * shutdown_timeout_ms bounds the grace and the wait for calls; past it,
 * calls still queued are dropped without running, and shutdown joins the
 * workers, waiting for the handlers already running to return (a handler
 * that never returns blocks shutdown for ever).
 * Idempotent, but from one thread at a time. On the loop thread (a
 * completion callback, a direct handler) it is refused with DUBBO_EINVAL
 * and does nothing; not from a worker handler of this server either (it
 * would wait for its own call). */
DUBBO_API int dubbo_server_shutdown(dubbo_server_t *s);

/* Shut down (if started and not yet shut down), close its registries and
 * free. When it returns no handler of the server runs any more: the
 * services' `user` may go. Same threads as dubbo_server_shutdown(); on
 * the loop thread it logs the refusal and frees nothing.
 * dubbo_server_free(NULL) is a no-op. */
DUBBO_API void dubbo_server_free(dubbo_server_t *s);

/* Install SIGTERM and SIGINT handlers (process-wide, replacing the
 * application's) that make dubbo_server_wait() return, a SIGHUP handler
 * that makes every TLS port and connection reload its certificate, key and
 * CA files at its next handshake (docs/tls.md), and ignore SIGPIPE.
 * Call it once, before the signals may come. */
DUBBO_API void dubbo_server_handle_signals(void);

/* Block the calling thread until SIGTERM/SIGINT (after
 * dubbo_server_handle_signals()) or dubbo_server_wakeup(). One waiting
 * thread at a time; not from the loop thread nor a handler. A signal or
 * wakeup that came before the wait is kept and ends the next wait at once
 * (several before it end one wait). */
DUBBO_API void dubbo_server_wait(void);
DUBBO_API void dubbo_server_wakeup(void);

/* ---- inside a handler ----
 * These take the `call` a handler (or a provider filter's serve) was given,
 * on that thread, before it returns; the strings and values they return
 * live until then (see dubbo_handler_fn). */

DUBBO_API size_t dubbo_call_nargs(const dubbo_call_t *call);
/* Argument i (never NULL: null is dubbo_v_null()), or NULL when i is out of range. */
DUBBO_API dubbo_value_t *dubbo_call_arg(const dubbo_call_t *call, size_t i);
/* The method name; "" if none (with generic $invoke: the real method). */
DUBBO_API const char *dubbo_call_method(const dubbo_call_t *call);
/* The JVM parameter descriptor the consumer sent, e.g. "Ljava/lang/String;";
 * "" if none. */
DUBBO_API const char *dubbo_call_desc(const dubbo_call_t *call);
/* A request attachment by key, or NULL (absent, or not a string). */
DUBBO_API const char *dubbo_call_attachment(const dubbo_call_t *call, const char *key);
/* "host:port" of the consumer, and of this server as the consumer reached
 * it ("" if the system would not tell). */
DUBBO_API const char *dubbo_call_remote(const dubbo_call_t *call);
DUBBO_API const char *dubbo_call_local(const dubbo_call_t *call);
/* The arena of this call, for the values the handler answers with: reset
 * once the answer is encoded, after the handler and filters returned. */
DUBBO_API dubbo_arena_t *dubbo_call_arena(dubbo_call_t *call);

/* Answer with a value (NULL = null). Not copied: see dubbo_handler_fn. */
DUBBO_API void dubbo_call_return(dubbo_call_t *call, dubbo_value_t *value);
/* Answer with a Java exception of class `cls` (NULL or "":
 * java.lang.RuntimeException) and `message` (NULL: none), both copied into
 * the call's arena; a Java consumer sees that exception, a dubbo-c one
 * r->exception. Out of memory, it answers SERVICE_ERROR with the message. */
DUBBO_API void dubbo_call_throw(dubbo_call_t *call, const char *cls, const char *message);
/* Answer with an error status (DUBBO_STATUS_SERVICE_ERROR etc.) and text
 * (copied; NULL = ""): the consumer gets r->status and r->error. A status
 * outside 1..255 becomes SERVICE_ERROR; DUBBO_STATUS_OK answers null and
 * the text is lost. */
DUBBO_API void dubbo_call_fail(dubbo_call_t *call, int status, const char *message);
/* Add a response attachment (key and value copied; neither may be NULL).
 * Sent with an OK answer (value or exception) to a consumer whose Dubbo
 * version carries attachments (2.0.2 and later); not with an error status.
 * 0 or DUBBO_ENOMEM (no message). */
DUBBO_API int dubbo_call_set_attachment(dubbo_call_t *call, const char *key, const char *value);

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
 * (Those two are the connection's: the client that makes it sets them,
 * and they stay while any client of the address and slot uses it; the
 * last one's dubbo_client_free closes and frees it, and the next client
 * makes a fresh one.)
 * `serialization` (default hessian2) names a registered serialization.
 * The connection to host:port is shared with every other client of the
 * same address (unless `connections` asks for more) and is made lazily on
 * the first call; a host name (not an IP) is resolved then, off the loop
 * thread (libuv's thread pool), so other connections go on meanwhile.
 * `url` is borrowed (parsed and copied). The scheme may be any protocol
 * whose table has the consumer hooks (include/dubbo/protocol.h; today
 * dubbo). Returns NULL with DUBBO_EINVAL (not a URL, or not
 * host:port/path of such a protocol)
 * or DUBBO_ENOT_FOUND (unknown serialization, naming the known), each with
 * a message; NULL without a message when out of memory or when the
 * event-loop thread cannot start (it is started here if needed).
 * Any thread, a completion callback included. */
DUBBO_API dubbo_client_t *dubbo_client_new(const char *url);
/* Release a client. Any thread, a completion callback (dubbo_done_fn)
 * included, but not while another thread is still calling through it.
 * Calls in flight on a connection no other client uses fail at once with
 * DUBBO_ECLOSED and the connection closes: called off the loop thread,
 * their callbacks have run when it returns; called from a callback, they
 * run right after it, on the loop thread. Calls on a connection another
 * client still uses go on and complete as usual, possibly after it
 * returns. So a call's `user` must stay valid until its callback ran, not
 * only until dubbo_client_free(). NULL is a no-op. */
DUBBO_API void dubbo_client_free(dubbo_client_t *c);

/* The outcome of a call. The calls initialise it themselves (whatever they
 * return: destroy it after every call); dubbo_result_destroy() frees the
 * arena holding every value and string of it, which are valid until then
 * (move the struct to keep them: it owns them, not its address). */
typedef struct {
    int status;                 /* DUBBO_STATUS_* from the provider, 0 if none came */
    dubbo_value_t *value;       /* the returned value: DUBBO_T_NULL for void/null and with an
                                   exception; NULL with an error status or rc < 0 */
    dubbo_value_t *exception;   /* a Java exception object, or NULL */
    dubbo_value_t *attachments; /* response attachments (a map), or NULL */
    const char *error;          /* NULL on success; else the provider's message for an error
                                   status (its name if none), "<class>: <message>" for an
                                   exception, or the local failure's message */
    dubbo_arena_t *arena;
} dubbo_result_t;

/* Zero r. */
DUBBO_API void dubbo_result_init(dubbo_result_t *r);
/* Free what r holds and zero it (so a second destroy does nothing). r must
 * have been initialised. Any thread. */
DUBBO_API void dubbo_result_destroy(dubbo_result_t *r);

/* One call's request. Every pointer in it (strings, argument values,
 * attachments) is borrowed only while dubbo_client_call, _call_async or
 * _oneway runs: the request is encoded before they return, so all of it
 * may be freed at once, before an async call completes. */
typedef struct {
    const char *method; /* required, not empty */
    /* JVM descriptor of the parameters; NULL = derived from the arguments
     * (int "I", long "J", double "D", boolean "Z", string
     * "Ljava/lang/String;", object "L<class>;", typed list of "[int" "[I",
     * untyped list "Ljava/util/List;", map "Ljava/util/Map;", date
     * "Ljava/util/Date;", null "Ljava/lang/Object;"). */
    const char *desc;
    dubbo_value_t *const *args;
    size_t nargs;
    /* extra request attachments: key, value pairs ended by a NULL key or
     * value; path, interface, version, group and timeout are the client's */
    const char *const *attachments;
    int timeout_ms; /* 0 = the URL's <method>.timeout, else its timeout (default 1000) */
} dubbo_invocation_t;

/* Synchronous call: blocks the calling thread until the answer, the
 * timeout or a failure. Returns 0 when the provider answered (r->status,
 * r->value / r->exception / r->error say what), or a negative code for a
 * local failure, with r->error and dubbo_last_error() (on the calling
 * thread) naming method and address:
 *   DUBBO_ETIMEOUT    no answer within the timeout
 *   -ECONNREFUSED     nobody listens at the address
 *   DUBBO_ECLOSED     the connection was lost before the answer, could not
 *                     be made, or its last client was freed
 *   DUBBO_EMALFORMED  the provider sent a malformed frame (the connection is
 *                     closed), or an answer whose body cannot be read (or
 *                     another decoding code: DUBBO_ETRUNCATED, ...)
 *   DUBBO_ETOO_BIG    the request is over the connection's `payload`
 *   DUBBO_EINVAL      no method; the host name does not resolve; called on
 *                     the loop thread (refused: it would deadlock)
 *   DUBBO_ENOMEM      out of memory, also for the connection's socket
 *                     handle (the calls waiting for it fail at once);
 *   or an encoding error of an argument (DUBBO_EMALFORMED
 *   for a string that is not UTF-8, DUBBO_ETOO_DEEP)
 * Not from the loop thread: refused as above, with r initialised. */
DUBBO_API int dubbo_client_call(dubbo_client_t *c, const dubbo_invocation_t *inv,
                                dubbo_result_t *r);

/* Asynchronous call: returns at once. 0: `done` will run exactly once,
 * later (never inside this call, even when called from a callback), on
 * the event-loop thread, with rc as dubbo_client_call() would return it
 * and the result, which it owns: it must destroy it (or move the struct
 * elsewhere); dubbo_last_error() names the failure there. A negative code
 * (DUBBO_EINVAL without a method, DUBBO_ETOO_BIG, DUBBO_ENOMEM, encoding
 * errors; a message set): `done` never runs. `user` is passed back as is
 * and must stay valid until `done` ran (dubbo_client_free does not cancel).
 * In `done`: no blocking; dubbo_client_call_async, _oneway, _new and
 * _free (this client's included) are fine; dubbo_client_call and
 * dubbo_reference_call are refused (DUBBO_EINVAL), as are
 * dubbo_server_start and _shutdown (_free logs it and does nothing). */
typedef void (*dubbo_done_fn)(int rc, dubbo_result_t *r, void *user);
DUBBO_API int dubbo_client_call_async(dubbo_client_t *c, const dubbo_invocation_t *inv,
                                      dubbo_done_fn done, void *user);

/* One-way call: queued to be sent without waiting for (or getting) an
 * answer. 0 means queued, not delivered: it is lost without a word if the
 * connection cannot be made or is lost first; no timeout applies. Errors
 * before queueing as dubbo_client_call_async's. */
DUBBO_API int dubbo_client_oneway(dubbo_client_t *c, const dubbo_invocation_t *inv);

/* Derive the JVM descriptor of one argument (see dubbo_invocation_t.desc;
 * NULL is java.lang.Object) and append it to out (src/core/jvm.c). 0, the
 * buffer's DUBBO_ENOMEM / DUBBO_ETOO_BIG, or DUBBO_EINVAL for a value of
 * unknown type; no message. */
DUBBO_API int dubbo_desc_append(dubbo_buf_t *out, const dubbo_value_t *arg);

#ifdef __cplusplus
}
#endif
#endif
