/* Protocols as plugins: one table per protocol (the URL scheme: dubbo,
 * and next tri and rest), used by both sides, registered under
 * DUBBO_EXT_PROTOCOL. The consumer side finds a table by a provider URL's
 * scheme and asks it for an invoker (`refer`). The provider side (the
 * server in src/runtime/server.c, on the transport's listener,
 * src/transport/listener.c) owns sockets, buffers, the memory budget,
 * the worker pool, the service table and the filter chain; a protocol
 * only turns bytes into calls and answers into bytes, without I/O:
 *
 *   accept -> detect (which protocol speaks on this connection)
 *          -> cut (how long the unit at the front is; the server buffers
 *             and budgets until it is whole)
 *          -> on_unit (loop thread: a request to dispatch, or something
 *             the protocol answers itself, e.g. a heartbeat)
 *          -> decode (worker: the request's bytes into the neutral call)
 *          -> filters, handler
 *          -> answer (worker: the call's outcome into bytes)
 *   shutdown -> goaway (bytes that tell a consumer to stop sending)
 *   overload -> refuse (bytes that refuse one unit)
 *
 * Threads: detect, cut, on_unit, refuse and goaway run on the event-loop
 * thread of the connection (each connection lives on one of the process's
 * loops, dubbo_io_threads_set; "the loop thread" below means that one, and
 * hooks of connections on other loops run at the same time); decode and
 * answer run on a worker (or on the loop thread with options.direct),
 * several calls at once on different workers, so they keep no state
 * outside the call or its connection. refer runs on the thread that gives a
 * reference its providers (dubbo_reference_new's, or a registry's
 * notification thread). None of them may block. Tables are immutable and
 * outlive every server and reference (a static const, registered once).
 *
 * Errors: a hook that fails returns a negative code of dubbo/error.h and
 * sets a message (dubbo__seterr); what the server does then is said at
 * each hook.
 *
 * The consumer side has two levels: refer (an invoker of any kind), and
 * the optional framing hooks (client_open ... heartbeat) under which
 * dubbo_client_* and the transport's connection pool (src/transport/
 * dialer.c: connections per protocol and address, pending calls by id,
 * timeouts, heartbeat timing, reconnect with backoff) serve the protocol;
 * threads and errors are said at each hook.
 *
 * Today only the consumer side can be written outside this tree:
 * decode fills the call with dubbo__call_set_request() and answer reads
 * the call's outcome (status, value, is_exception, error, response
 * attachments, unit), both from src/runtime/call.h, which is internal; the
 * public accessors of include/dubbo/cluster.h give status and
 * is_exception only. A provider side lives in src/protocol/<name>/. */
#ifndef DUBBO_PROTOCOL_H
#define DUBBO_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"
#include "dubbo/export.h"
#include "dubbo/rpc.h"
#include "dubbo/url.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dubbo_invoker;

/* detect()'s answers. */
enum {
    DUBBO_DETECT_NO = 0,   /* these bytes are not this protocol's */
    DUBBO_DETECT_MORE = 1, /* too few bytes to tell */
    DUBBO_DETECT_YES = 2,
};

/* A request a protocol cut from a connection, handed from on_unit (loop
 * thread) to decode (worker), then to answer (as call->unit). `payload`
 * points into the unit's bytes given to on_unit, or into memory of the
 * protocol's own (a stateful protocol that assembles a request from
 * several units, e.g. HTTP/2 DATA frames) that stays valid until the
 * protocol's next hook on that connection. The server keeps those payload
 * bytes only (it copies them into the queued job, or hands the job the
 * read buffer holding a large unit), never the rest of the unit, so what
 * decode or answer need of a header goes in id, twoway and tag, or in the
 * payload. The memory budget counts the unit, or the payload when it lies
 * outside the unit. The payload stays valid until decode returns, not
 * after (the server frees a large unit as soon as it is decoded): decoded
 * values must not point into it. */
typedef struct {
    uint64_t id;            /* what the answer carries to match the request */
    bool twoway;            /* an answer is expected */
    uint32_t tag;           /* the protocol's own (Dubbo: the header's flag byte) */
    const uint8_t *payload; /* what decode() reads */
    size_t payload_len;
} dubbo_unit_t;

/* A server connection, as a protocol sees it: valid during the hook call
 * that gives it (on_unit, conn_open, on_answer, tick), on the loop thread;
 * the protocol may keep it in its conn_open state until conn_close. */
typedef struct sconn dubbo_sconn_t;

/* Queue bytes for the connection (copied) and start writing; they count
 * against the memory budget until written. Returns 0 (also when the
 * connection is closing: the bytes are dropped), or DUBBO_ENOMEM with a
 * message. Loop thread: in on_unit, on_answer and tick. */
DUBBO_API int dubbo_sconn_send(dubbo_sconn_t *c, const void *bytes, size_t n);
/* "host:port" of the peer, and of this end ("" if unknown); valid as long
 * as `c`. */
DUBBO_API const char *dubbo_sconn_remote(const dubbo_sconn_t *c);
DUBBO_API const char *dubbo_sconn_local(const dubbo_sconn_t *c);
/* What the protocol's conn_open returned for this connection (NULL
 * without conn_open). Loop thread. */
DUBBO_API void *dubbo_sconn_state(const dubbo_sconn_t *c);
/* Close the connection once the bytes already sent are written (a
 * protocol error that ends the connection, after e.g. HTTP/2's GOAWAY);
 * `why` (borrowed: a literal) is logged; NULL for an orderly end (the
 * peer said goodbye), not logged. No hook runs for it after this
 * but conn_close. Loop thread. */
DUBBO_API void dubbo_sconn_close(dubbo_sconn_t *c, const char *why);
/* The server's payload limit (options.payload), for a protocol that
 * limits what it assembles itself. */
DUBBO_API size_t dubbo_sconn_limit(const dubbo_sconn_t *c);
/* The server's heartbeat in ms (options.heartbeat_ms): a connection
 * silent for 3x that is closed, so a protocol's keepalive (HTTP/2's PING)
 * goes out after it. Loop thread. */
DUBBO_API int dubbo_sconn_heartbeat(const dubbo_sconn_t *c);

/* A consumer connection, as a protocol's consumer hooks see it (one
 * connection of the process's pool, src/transport/dialer.c, shared by
 * every client of the same protocol, address and slot): valid during the
 * hook call that gives it (on_reply), on the loop thread. */
typedef struct cconn dubbo_cconn_t;

/* Queue bytes for the connection (copied) and start writing, e.g. the
 * answer to a provider's heartbeat. Returns 0 (also when the connection
 * is not up: the bytes are dropped) or DUBBO_ENOMEM. Loop thread, in
 * on_reply. */
DUBBO_API int dubbo_cconn_send(dubbo_cconn_t *c, const void *bytes, size_t n);
/* The provider said it is going away (Dubbo: the readonly event): the
 * connection's clients are not offered for selection until it is made
 * again; calls already made on it still go out. Loop thread, in on_reply. */
DUBBO_API void dubbo_cconn_goaway(dubbo_cconn_t *c);
/* "host:port" of the provider; valid as long as `c`. */
DUBBO_API const char *dubbo_cconn_remote(const dubbo_cconn_t *c);
/* Close the connection once the unit on_reply is reading is dealt with:
 * a protocol error only the connection's state can see (HTTP/2's session
 * failed). Its calls fail with DUBBO_EMALFORMED and `why` (copied), and it
 * is made again on the next call or by the reconnect. Loop thread, in
 * on_reply. */
DUBBO_API void dubbo_cconn_close(dubbo_cconn_t *c, const char *why);
/* The connection's payload limit (the `payload` of the client that made
 * it): what an answer may carry at most. Any thread. */
DUBBO_API size_t dubbo_cconn_limit(const dubbo_cconn_t *c);
/* What the protocol's cconn_open made for the connection as it is now
 * (NULL without cconn_open, or before it ran). Loop thread, in the
 * consumer hooks. */
DUBBO_API void *dubbo_cconn_state(const dubbo_cconn_t *c);
/* The answer to the call u->id, handed over from inside on_reply when one
 * unit completes several calls (HTTP/2: a GOAWAY that refuses the streams
 * it never took) or when the protocol assembles answers itself: the call,
 * if still waiting, is decoded with reply_decode and ended at once (u and
 * its payload are read during this call only). 1 when a call was waiting,
 * 0 when none (timed out meanwhile). Loop thread, in on_reply. */
DUBBO_API int dubbo_cconn_answer(dubbo_cconn_t *c, const dubbo_unit_t *u);

typedef struct {
    const char *name; /* the URL scheme */

    /* ---- consumer side ---- */
    /* An invoker for one provider URL of this scheme (NULL: a provider-only
     * protocol; registry-backed references skip its providers, a direct
     * reference to one fails with DUBBO_EUNSUPPORTED), with the
     * reference's consumer settings (the URL it gives). Both are borrowed
     * for the call: the invoker copies what it keeps. The cluster holds
     * the invoker by reference count; its destroy hook runs on whichever
     * thread drops the last reference (a caller after its call, a registry
     * thread replacing providers). NULL with a message (dubbo_last_error())
     * on failure; the reference then fails with that code (DUBBO_ENOMEM if
     * none was set). */
    struct dubbo_invoker *(*refer)(const char *provider_url, const dubbo_url_t *consumer);

    /* ---- provider side: all of them, or none (a consumer-only protocol);
     * `limit` is the server's payload limit (options.payload). The server
     * checks only `cut` when it is created (a table with cut but without
     * another hook crashes when that hook is first needed). ---- */
    /* Whether a connection whose first n bytes are p speaks this protocol:
     * DUBBO_DETECT_YES, _NO, or _MORE (n may be 0). Called only when the
     * server serves several protocols, in options.protocols' order, on each
     * read until one says YES or all say NO (the connection is closed);
     * with one protocol, cut judges the first bytes alone. */
    int (*detect)(const uint8_t *p, size_t n);
    /* The unit at the front of p: its whole length when all n bytes of it
     * are there (> 0); 0 when more are needed, with *total set to the length
     * its header announces (0 while the header itself is incomplete);
     * negative with a message when the bytes are malformed or the unit is
     * over `limit` (the server closes the connection, after queueing the
     * units cut before). Called again on the same growing prefix at every
     * read (and to size the read buffer): no state, no side effects. */
    int64_t (*cut)(const uint8_t *p, size_t n, size_t limit, size_t *total);
    /* A whole unit of `len` bytes (borrowed for the call): 1 when it is a
     * request to dispatch (*u filled, payload inside `unit`), 0 when the
     * protocol dealt with it here (a heartbeat answered with
     * dubbo_sconn_send, an event, a peer's answer). A request may still be
     * refused after it returns 1 (memory budget, pool full: refuse()).
     * Units refused as they arrive never reach it. */
    int (*on_unit)(dubbo_sconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u);
    /* Decode the request into the call: dubbo__call_set_request() with
     * service, version, group, method, descriptor, arguments and
     * attachments, all living in the call's arena (dubbo_call_arena), none
     * in u->payload; the protocol may keep its own per-call data in
     * call->proto_call (in the arena) for answer. 0, or an error with a
     * message: the server answers it with status BAD_REQUEST and "Fail to
     * decode request due to: <message>" through answer(), so answer must
     * cope with a call decode did not fill. */
    int (*decode)(dubbo_call_t *call, const dubbo_unit_t *u);
    /* Append the whole answer unit for the call's outcome (call->status,
     * value or exception, error, response attachments, call->unit.id: the
     * struct of src/runtime/call.h) to `out`. Called only for a two-way
     * unit, on decode's thread, after the filters and the handler, and for
     * calls the server answers itself (BAD_REQUEST after a failed decode,
     * SERVICE_NOT_FOUND, SERVER_THREADPOOL_EXHAUSTED when the decoded
     * arguments overrun the budget). An answer over `limit` is replaced by
     * an error answer, as the protocol specifies. A negative code: the
     * server logs it and sends nothing (the consumer times out). */
    int (*answer)(dubbo_call_t *call, size_t limit, dubbo_buf_t *out);
    /* Append an answer that refuses the unit whose first n bytes (at least
     * what cut needed to announce its length) are p, with `status` (a
     * DUBBO_STATUS_*, today always SERVER_THREADPOOL_EXHAUSTED) and
     * `message` (borrowed); nothing, returning 0, when that unit expects
     * no answer (a one-way request, an event). p is the whole unit after
     * on_unit returned 1, or only its first bytes when the budget refuses
     * it as it arrives (on_unit never saw it; the rest is dropped unread).
     * A negative code: nothing is sent. With on_answer, a unit refused
     * after on_unit took it is framed by on_answer like an answer (the
     * bytes are refuse()'s); one refused as it arrives is sent as it is,
     * so a stateful protocol can only answer that at the connection level
     * (HTTP/2: GOAWAY). */
    int (*refuse)(const uint8_t *p, size_t n, int status, const char *message, dubbo_buf_t *out);
    /* Append what tells a consumer this provider is going away and takes
     * no new calls (Dubbo: the readonly event). Called once per connection
     * whose protocol is known, by dubbo_server_shutdown, before the server
     * stops accepting; the connection is served on for the grace period.
     * A negative code: that connection gets nothing. */
    int (*goaway)(dubbo_buf_t *out);

    /* ---- provider side, optional: stateful protocols (HTTP/2's session,
     * HPACK tables, streams). All on the loop thread. ---- */
    /* Per-connection state, made once the connection's protocol is known
     * (before its first on_unit) and handed to conn_close when the
     * connection closes; dubbo_sconn_state() returns it. NULL is a valid
     * state. */
    void *(*conn_open)(dubbo_sconn_t *c);
    void (*conn_close)(void *state);
    /* The bytes answer() made for the request `u` (on the worker), framed
     * here with the connection's state, e.g. into the HTTP/2 stream u->id,
     * and sent with dubbo_sconn_send. Without it the bytes are written as
     * they are. Not called once the connection is closing. */
    int (*on_answer)(void *state, dubbo_sconn_t *c, const dubbo_unit_t *u, const uint8_t *bytes,
                     size_t n);
    /* Every idle check of the server (at most a second apart; half the
     * heartbeat when that is shorter) per open connection: pings, a
     * protocol's own timeouts. `now_ms` is monotonic. */
    void (*tick)(void *state, dubbo_sconn_t *c, uint64_t now_ms);

    /* ---- consumer side, optional: the framing of dubbo_client_* (the
     * client of src/runtime/client.c; dubbo_client_new accepts the URL
     * schemes whose table has these). The connections themselves, shared
     * per address, their pending calls by id, timeouts, heartbeat timing,
     * reconnect with backoff and availability are the transport's
     * (src/transport/dialer.c); the protocol only turns calls into bytes
     * and bytes into answers, without I/O. All of them, or none. ---- */
    /* Per-client state from the client's URL (`url` as given, `u` parsed;
     * both borrowed for the call): what request() needs of it, e.g. the
     * interface, version, group and serialization. Whoever calls
     * dubbo_client_new (any thread). NULL with a message (code and text are
     * dubbo_client_new's: DUBBO_ENOT_FOUND for an unknown serialization) or
     * without one when out of memory. */
    void *(*client_open)(const char *url, const dubbo_url_t *u);
    /* Free it; dubbo_client_free's thread, after the client's calls are
     * all queued (calls in flight never read it: request() has run). */
    void (*client_close)(void *state);
    /* Append the whole request unit for `inv` to `out`: the call's id (what
     * on_reply gives back for its answer), whether an answer is expected,
     * its timeout (ms, resolved: the call's, the method's, the client's)
     * and the connection's payload `limit` (a request over it: DUBBO_ETOO_BIG
     * with a message). On the caller's thread (dubbo_client_call, _async,
     * _oneway), several at once: `state` is read-only here. A negative code
     * with a message: the call fails with it before being queued. */
    int (*request)(void *state, const dubbo_invocation_t *inv, uint64_t id, bool twoway,
                   int timeout_ms, size_t limit, dubbo_buf_t *out);
    /* cut() for what a provider sends: the unit's whole length (> 0) when
     * all n bytes are there, 0 for more, negative with a message when it is
     * malformed or over `limit` (the connection is closed and its calls
     * fail with DUBBO_EMALFORMED). Loop thread; no state. */
    int64_t (*reply_cut)(const uint8_t *p, size_t n, size_t limit);
    /* A whole unit from the provider (borrowed for the call): 1 when it is
     * the answer to the call u->id (*u filled, payload inside `unit`, or,
     * for a stateful protocol, in its own memory valid until it returns;
     * the client decodes it with reply_decode if that call is still
     * waiting), 0 when dealt with here (a heartbeat answered with
     * dubbo_cconn_send, dubbo_cconn_goaway, an answer to our heartbeat,
     * answers handed over with dubbo_cconn_answer). Loop thread. */
    int (*on_reply)(dubbo_cconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u);
    /* Decode an answer into `r`, whose arena is made (bounded by 8x the
     * payload limit plus 1 MiB) and owned by the client: status, value
     * (DUBBO_T_NULL for none), exception, attachments, error, all in
     * r->arena. 0 when the provider answered (an error status or an
     * exception included), or a negative code with a message: the call
     * fails with it ("<name>: bad answer to <method> from <addr>: ...").
     * Loop thread, during on_reply's read; u->payload valid for the call. */
    int (*reply_decode)(const dubbo_unit_t *u, dubbo_result_t *r);
    /* Append a heartbeat request with the fresh id `id` to out, sent when
     * the connection has been idle for the client URL's `heartbeat`; a
     * connection that then hears nothing for 3x that is closed. NULL or
     * nonzero: none sent. Loop thread. */
    int (*heartbeat)(uint64_t id, dubbo_buf_t *out);

    /* ---- consumer side, optional: stateful protocols (HTTP/2's session,
     * HPACK tables, stream ids), all four or none. With them, request()'s
     * bytes are not written as they are: frame() turns them into the
     * connection's bytes once the call reaches the connection. All on the
     * loop thread. ---- */
    /* The connection is made (or made again after a loss): its state into
     * *state (handed to every hook below and returned by
     * dubbo_cconn_state until cconn_close), and what must go first (a
     * preface) sent with dubbo_cconn_send. Before any call is framed. A
     * negative code with a message: the connection is closed and its calls
     * fail with it. */
    int (*cconn_open)(dubbo_cconn_t *c, void **state);
    /* The connection is lost or closed: free the state. Its calls are
     * failed by the transport after this ("connection ... lost"). */
    void (*cconn_close)(void *state);
    /* The request request() made for the call `id` (n bytes, borrowed for
     * the call), framed into the connection and sent with dubbo_cconn_send.
     * 0, or a negative code with a message: the call fails with it. */
    int (*frame)(void *state, dubbo_cconn_t *c, uint64_t id, const uint8_t *bytes, size_t n);
    /* The call `id`, framed earlier, ends without its answer (its timeout
     * passed): tell the provider (HTTP/2: RST_STREAM CANCEL) and forget it;
     * an answer that still comes is not delivered. */
    void (*cancel)(void *state, dubbo_cconn_t *c, uint64_t id);
} dubbo_protocol_ops_t;

/* The protocol registered under `name`, or NULL with DUBBO_ENOT_FOUND
 * naming the known ones. Any thread. */
DUBBO_API const dubbo_protocol_ops_t *dubbo_protocol_find(const char *name);

#ifdef __cplusplus
}
#endif

#endif
