/* The consumer's connections, for any protocol: a pool of connections
 * keyed by (protocol, host, port, slot) shared by every client of the
 * process, made on the first call (a host name resolved asynchronously),
 * re-made with exponential backoff when lost, with a pending table of
 * calls keyed by a 64-bit id, a timeout per call, coalesced writes,
 * buffered reads and an idle check that sends heartbeats and closes a
 * connection that stays silent. What the bytes mean is the protocol's
 * (dubbo__dial_ops_t); the rpc layer (src/runtime/client.c) plugs a
 * protocol table's consumer hooks in. Each connection lives on one event
 * loop (loop.h: the one with the fewest connections when it is made; the
 * first for a stateful protocol, whose own code posts work there), and
 * "loop thread" below means that loop's thread. Internal. */
#ifndef DUBBO_TRANSPORT_DIALER_H
#define DUBBO_TRANSPORT_DIALER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "dubbo/buf.h"
#include "transport/tls.h"

/* One connection of the pool. The same struct is dubbo_cconn_t, the
 * consumer connection a protocol's hooks see (include/dubbo/protocol.h). */
typedef struct cconn dubbo__dconn_t;
typedef struct dubbo__dcall dubbo__dcall_t;

/* A protocol's part, all on the loop thread; `proto` is what was given to
 * dubbo__dial_get (the protocol's own table). */
typedef struct {
    /* The unit at the front of p: its length (> 0) when all n bytes of it
     * are there, 0 when more are needed, negative with a message when it is
     * malformed or over `limit` (the connection is closed and its calls
     * fail with DUBBO_EMALFORMED and that message). */
    int64_t (*cut)(const void *proto, const uint8_t *p, size_t n, size_t limit);
    /* A whole unit (borrowed for the call): an answer takes its call with
     * dubbo__dial_take and ends it with dubbo__dial_finish or _fail; an
     * event is dealt with here (dubbo__dial_send, dubbo__dial_readonly). */
    void (*on_unit)(const void *proto, dubbo__dconn_t *c, const uint8_t *unit, size_t len);
    /* Append a heartbeat with the fresh id `id` to out; nonzero: none. */
    int (*heartbeat)(const void *proto, uint64_t id, dubbo_buf_t *out);

    /* Stateful protocols, all four or none (NULL: a call's bytes are
     * written as they are). open: the connection is made, before any call
     * is framed: its state into *state, a preface sent with
     * dubbo__dial_send; negative with a message: the connection is closed,
     * its calls fail with it. close: the connection is lost or closed
     * (before its calls are failed). frame: send the call's bytes framed
     * (dubbo__dial_send); negative with a message: the call fails. cancel:
     * a framed two-way call timed out. */
    int (*open)(const void *proto, dubbo__dconn_t *c, void **state);
    void (*close)(const void *proto, void *state);
    int (*frame)(const void *proto, dubbo__dconn_t *c, void *state, const dubbo__dcall_t *p);
    void (*cancel)(const void *proto, dubbo__dconn_t *c, void *state, uint64_t id);
} dubbo__dial_ops_t;

/* A call: made with dubbo__dcall_new, filled by the caller, handed over
 * with dubbo__dial_submit. A caller may embed it first in a larger struct
 * of its own (dubbo__dcall_new's `size`). */
struct dubbo__dcall {
    uint64_t id;       /* dubbo__dial_next_id(); what the answer carries */
    bool oneway;       /* ends once written (no timeout, no answer) */
    int timeout_ms;    /* two-way: fails with DUBBO_ETIMEOUT after that long */
    char what[128];    /* the method, for messages */
    dubbo_buf_t bytes; /* the request, written once connected */
    /* Runs exactly once, on the loop thread: rc 0 and the protocol's
     * answer `res` (NULL for a one-way call written), or rc < 0 with `msg`
     * (also set with dubbo__seterr) and res NULL. The call is freed after
     * it returns. */
    void (*done)(dubbo__dcall_t *p, int rc, const char *msg, void *res);

    /* the dialer's */
    dubbo__dcall_t *next;
    dubbo__dconn_t *c;
    /* two-way: in its connection's list of deadlines, one timer for all */
    uint64_t deadline; /* the loop's time (ms) at which it times out */
    dubbo__dcall_t *tprev, *tnext;
    bool timed;
};

/* A zeroed call of `size` bytes (at least sizeof(dubbo__dcall_t)) with
 * an empty `bytes`, or NULL. Any thread. */
dubbo__dcall_t *dubbo__dcall_new(size_t size);
/* Free a call that was never submitted (or whose submit failed). */
void dubbo__dcall_free(dubbo__dcall_t *p);

/* The next id of the process (requests and heartbeats share the
 * sequence). Any thread. */
uint64_t dubbo__dial_next_id(void);

/* The pool's connection for (name, host, port, slot), made if there is
 * none (not connected yet: that happens on its first call), with one more
 * user. `payload` and `heartbeat_ms` are set by the user that makes it
 * and kept while it has users. `ops`, `proto` and `name` must outlive it.
 * NULL when out of memory. Any thread. */
dubbo__dconn_t *dubbo__dial_get(const dubbo__dial_ops_t *ops, const void *proto, const char *name,
                                const char *host, int port, int slot, size_t payload,
                                uint64_t heartbeat_ms);
/* The same over TLS (`tls` copied; NULL: plaintext): a connection with
 * other TLS settings is another connection. NULL with a message when the
 * TLS files do not load (tls.h). */
dubbo__dconn_t *dubbo__dial_get_tls(const dubbo__dial_ops_t *ops, const void *proto,
                                    const char *name, const char *host, int port, int slot,
                                    size_t payload, uint64_t heartbeat_ms,
                                    const dubbo__tls_cfg_t *tls);
/* One user less. The last one's leaving fails the connection's calls with
 * DUBBO_ECLOSED, closes it and frees it, on the loop thread: before this
 * returns off the loop thread, right after the current callback on it. */
void dubbo__dial_put(dubbo__dconn_t *c);

/* Queue the call on its connection (the loop connects first if needed).
 * 0, or DUBBO_ENOMEM: the call was not taken (free it). Any thread. */
int dubbo__dial_submit(dubbo__dconn_t *c, dubbo__dcall_t *p);

/* Loop thread, in on_unit: the pending two-way call `id` removed from the
 * table (its timer still runs until it is ended), or NULL. */
dubbo__dcall_t *dubbo__dial_take(dubbo__dconn_t *c, uint64_t id);
/* End a call taken (or never queued): done(p, rc, NULL, res), then free. */
void dubbo__dial_finish(dubbo__dcall_t *p, int rc, void *res);
/* End a call with a failure: the message is formatted, set with
 * dubbo__seterr and handed to done. */
void dubbo__dial_fail(dubbo__dcall_t *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Loop thread: queue bytes (copied) on the connection and start writing.
 * 0 (dropped when not connected), or DUBBO_ENOMEM. */
int dubbo__dial_send(dubbo__dconn_t *c, const void *bytes, size_t n);
/* Loop thread: the provider is going away; the connection is not offered
 * for selection until it is made again. */
void dubbo__dial_readonly(dubbo__dconn_t *c);

/* Loop thread, in on_unit: close the connection once this unit is dealt
 * with (a protocol error the cut could not see); its calls fail with
 * DUBBO_EMALFORMED and `why` (copied). */
void dubbo__dial_close(dubbo__dconn_t *c, const char *why);
/* Loop thread: the open hook's state of the connection as it is now
 * (NULL before open or without it), and the `proto` given to
 * dubbo__dial_get. */
void *dubbo__dial_state(const dubbo__dconn_t *c);
const void *dubbo__dial_proto(const dubbo__dconn_t *c);

/* "host:port", the protocol's name, its payload limit. Any thread. */
const char *dubbo__dial_addr(const dubbo__dconn_t *c);
const char *dubbo__dial_name(const dubbo__dconn_t *c);
size_t dubbo__dial_payload(const dubbo__dconn_t *c);

/* Read without the loop's cooperation (a stale answer only makes one call
 * pick another provider). Available: not read-only, and connected or
 * never connected yet; not while a lost connection is being re-made.
 * Connected: up and not read-only. */
bool dubbo__dial_available(const dubbo__dconn_t *c);
bool dubbo__dial_connected(const dubbo__dconn_t *c);

/* Connection objects alive in the process (listed or closing). */
size_t dubbo__dial_count(void);

/* How the dialer allocates a connection attempt's socket handle: malloc,
 * replaced by tests to make it fail. */
extern void *(*dubbo__dial_alloc)(size_t n);

#endif
