/* Triple (Dubbo 3's gRPC-compatible protocol over HTTP/2): what a
 * provider adds to dubbo/rpc.h for it.
 *
 * Any exported service is served over Triple when the server's protocols
 * include "tri" (dubbo_server_options_t.protocols, e.g. "dubbo,tri"): an
 * interface service (dubbo_server_export) in Java Dubbo's wrapper mode,
 * its arguments and result hessian2 inside TripleRequestWrapper /
 * TripleResponseWrapper, as Java's non-IDL services are; a protobuf IDL
 * service (dubbo_tri_export, below) with the messages of its .proto, as any
 * gRPC client sends them (content types application/grpc,
 * application/grpc+proto).
 *
 * Wire, limits and status mapping: docs/triple.md. */
#ifndef DUBBO_TRIPLE_H
#define DUBBO_TRIPLE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "dubbo/cluster.h"
#include "dubbo/export.h"
#include "dubbo/rpc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A unary method of a protobuf IDL service. Runs as a dubbo_handler_fn
 * does (a worker; the same lifetimes). `req` is the decoded request, a
 * message of the method's input type; `resp` a message of its output type,
 * initialised to its defaults, which the handler fills: what it points to
 * (strings, bytes, repeated fields, sub-messages) must live in
 * dubbo_call_arena(call) or outlive the call. To fail instead, call
 * dubbo_tri_fail() (a gRPC status), dubbo_call_fail() (a Dubbo status,
 * mapped) or dubbo_call_throw(); `resp` is then not sent. Cast from the
 * generated types with DUBBO_TRI_UNARY. */
typedef void (*dubbo_tri_unary_fn)(dubbo_call_t *call, const ProtobufCMessage *req,
                                   ProtobufCMessage *resp, void *user);

/* A generated-type handler, e.g.
 *   static void say_hello(dubbo_call_t *call, const Helloworld__HelloRequest *req,
 *                         Helloworld__HelloReply *resp, void *user);
 * as a dubbo_tri_unary_fn. */
#define DUBBO_TRI_UNARY(fn) ((dubbo_tri_unary_fn)(void (*)(void))(fn))

/* A streaming call, as its handler sees it: valid until the handler
 * returns. */
typedef struct dubbo_tri_stream dubbo_tri_stream_t;

/* A streaming method's handler (a worker, for the whole call; the
 * lifetimes of dubbo_handler_fn). `req` is the request for a server
 * stream, NULL for client and bidirectional streams (read them with
 * dubbo_tri_stream_recv). Returning ends the call: the trailers carry OK,
 * or the status of dubbo_tri_fail / dubbo_call_fail. */
typedef void (*dubbo_tri_stream_fn)(dubbo_call_t *call, dubbo_tri_stream_t *stream,
                                    const ProtobufCMessage *req, void *user);
#define DUBBO_TRI_STREAM(fn) ((dubbo_tri_stream_fn)(void (*)(void))(fn))

/* How a method streams, as its .proto says (protoc-c's descriptors do not
 * record it). */
typedef enum {
    DUBBO_TRI_UNARY = 0,
    DUBBO_TRI_SERVER_STREAM = 1, /* rpc M(Req) returns (stream Resp) */
    DUBBO_TRI_CLIENT_STREAM = 2, /* rpc M(stream Req) returns (Resp) */
    DUBBO_TRI_BIDI_STREAM = 3,   /* rpc M(stream Req) returns (stream Resp) */
} dubbo_tri_kind_t;

typedef struct {
    const char *name;           /* the method's name in the .proto, e.g. "SayHello" */
    dubbo_tri_unary_fn unary;   /* DUBBO_TRI_UNARY */
    dubbo_tri_stream_fn stream; /* the streaming kinds */
    dubbo_tri_kind_t kind;
} dubbo_tri_method_t;

/* The next message of the client's stream into *msg (in
 * dubbo_call_arena(call): a long stream grows the arena by what it
 * receives): 1; 0 when the client has ended its stream; DUBBO_ECLOSED
 * when it cancelled (RST_STREAM) or its connection went, DUBBO_ETIMEOUT
 * past the call's deadline (grpc-timeout), DUBBO_EMALFORMED /
 * DUBBO_ETOO_BIG for a bad message, DUBBO_EINVAL for a server stream.
 * Blocks the handler's worker until one of those. */
DUBBO_API int dubbo_tri_stream_recv(dubbo_tri_stream_t *stream, ProtobufCMessage **msg);
/* Send one message of the method's output type (copied). The first send
 * also sends the response headers (dubbo_tri_set_header's). Blocks while
 * more than 1 MiB sent is not yet taken by HTTP/2 (the client reads
 * slowly). 0; DUBBO_ECLOSED when the client cancelled, DUBBO_ETIMEOUT
 * past the deadline, DUBBO_EINVAL for a message of another type,
 * DUBBO_ETOO_BIG past the payload limit. */
DUBBO_API int dubbo_tri_stream_send(dubbo_tri_stream_t *stream, const ProtobufCMessage *msg);
/* Whether the client cancelled (or its connection went). */
DUBBO_API bool dubbo_tri_stream_cancelled(const dubbo_tri_stream_t *stream);

/* An IDL service: protoc-c's service descriptor (its full name, e.g.
 * "helloworld.Greeter", is the interface) and a handler per method.
 * Methods of the descriptor without a handler are answered UNIMPLEMENTED.
 * A method's kind must be the .proto's (a client stream served as unary
 * reads only its first message).
 * dubbo_tri_export keeps a pointer to the struct: it and everything it
 * points to must stay valid until dubbo_server_free() has returned (a
 * static const). */
typedef struct {
    const ProtobufCServiceDescriptor *desc;
    const dubbo_tri_method_t *methods;
    size_t nmethods;
    const char *version;       /* NULL or "" for none */
    const char *group;         /* NULL or "" for none */
    void *user;                /* passed to every handler */
    const char *const *params; /* as dubbo_service_t.params */
} dubbo_tri_service_t;

/* Export an IDL service on `s` (as dubbo_server_export does, same
 * threads and errors); a method named but not in the descriptor, or
 * streaming where a unary handler is given: DUBBO_EINVAL naming it. */
DUBBO_API int dubbo_tri_export(dubbo_server_t *s, const dubbo_tri_service_t *svc);

/* Answer the call with a gRPC status (DUBBO_GRPC codes 1-16: 2 UNKNOWN, 3
 * INVALID_ARGUMENT, 5 NOT_FOUND, ...) and message (copied; UTF-8, sent
 * percent-encoded as grpc-message). For a call that did not come over
 * Triple, the status is mapped to a Dubbo status. Handler's thread. */
DUBBO_API void dubbo_tri_fail(dubbo_call_t *call, int grpc_code, const char *message);

/* Add a response header (initial metadata) to a call that came over
 * Triple: key lower-case, ending in "-bin" for a binary value given as
 * base64 (both copied). Attachments set with dubbo_call_set_attachment go
 * into the trailers instead, as Java Dubbo sends them. 0, DUBBO_EINVAL for
 * a call that did not come over Triple or a reserved name (":...",
 * "grpc-...", "content-type"), DUBBO_ENOMEM. Handler's thread. */
DUBBO_API int dubbo_tri_set_header(dubbo_call_t *call, const char *key, const char *value);

/* A binary request attachment (a `<key>-bin` header; `key` without
 * "-bin"), or NULL when absent or not binary; *len set. Points into the
 * call (valid until the handler returns). Handler's thread. */
DUBBO_API const void *dubbo_tri_attachment_bin(const dubbo_call_t *call, const char *key,
                                               size_t *len);

/* A binary response attachment, sent as the trailer `<key>-bin` (base64):
 * key without "-bin", lower-case; both copied. 0 or DUBBO_ENOMEM.
 * Handler's thread. */
DUBBO_API int dubbo_tri_set_attachment_bin(dubbo_call_t *call, const char *key, const void *data,
                                           size_t len);

/* ---- consumer side ----
 *
 * A reference to a Triple provider is made as any other
 * (dubbo_reference_new with tri://host:port/<service> URLs, or a registry
 * URL whose providers are tri://): it goes through routers, balancers,
 * strategies and filters. With the reference's default serialization
 * (hessian2) a call is Java's wrapper mode (dubbo_reference_call with
 * hessian2 values, as over the Dubbo protocol); with
 * serialization=protobuf it is an IDL call: its one argument is the
 * request message's bytes (DUBBO_T_BINARY) and the result's value the
 * answer's bytes. The functions below do the packing for protoc-c types
 * and give the streaming kinds. A provider's gRPC status arrives as
 * r->status (mapped as Java's TriRpcStatus maps it) and r->error
 * "<CODE> (grpc-status N): <grpc-message>"; response headers and trailers
 * are r->attachments ("-bin" ones as binary values, without the suffix). */

/* A unary IDL call of `method` (its .proto name, e.g. "SayHello") through
 * `ref`, made with serialization=protobuf: `req` packed, the answer
 * unpacked as `resp_type` into *resp, which lives in r's arena (valid
 * until dubbo_result_destroy(r)). `attachments` (NULL, or key, value
 * pairs ended by NULL) go as request headers; timeout_ms 0 is the
 * reference's. Returns as dubbo_reference_call: 0 when the provider
 * answered (r->status says whether with a message: *resp is set only for
 * DUBBO_STATUS_OK), else a negative code with r->error; DUBBO_EMALFORMED
 * when the answer's bytes are not a `resp_type`. Any thread but the
 * event loop's (a completion callback): refused with DUBBO_EINVAL. */
DUBBO_API int dubbo_tri_call(dubbo_reference_t *ref, const char *method,
                             const ProtobufCMessage *req, const char *const *attachments,
                             int timeout_ms, const ProtobufCMessageDescriptor *resp_type,
                             ProtobufCMessage **resp, dubbo_result_t *r);

/* A consumer's streaming call. */
typedef struct dubbo_tri_cstream dubbo_tri_cstream_t;

/* Open a streaming call of `method` (kind DUBBO_TRI_SERVER_STREAM,
 * _CLIENT_STREAM or _BIDI_STREAM, as the .proto says) through `ref` (made
 * with serialization=protobuf): the cluster picks one provider (routers,
 * balancer, filters); a stream is never retried once it has begun. `req`
 * is the request of a server stream (NULL for the others: send them).
 * `attachments` go as request headers. timeout_ms > 0 is the deadline of
 * the whole call (grpc-timeout; DEADLINE_EXCEEDED past it), 0 none. The
 * call starts at once; *out is the stream, also when it fails early (the
 * failure then comes from recv and status). 0, or before anything
 * started: DUBBO_EINVAL (a kind that does not stream, no method),
 * DUBBO_ENOMEM, or dubbo_reference_call_async's error. Any thread but
 * the event loop's. `ref` must outlive the stream. */
DUBBO_API int dubbo_tri_stream_open(dubbo_reference_t *ref, const char *method,
                                    dubbo_tri_kind_t kind, const ProtobufCMessage *req,
                                    const char *const *attachments, int timeout_ms,
                                    dubbo_tri_cstream_t **out);
/* Send one message (packed and copied) of a client or bidirectional
 * stream. Blocks while more than 1 MiB sent is not yet taken by HTTP/2
 * (the provider reads slowly). 0; DUBBO_ECLOSED when the call has ended
 * (cancelled, failed, answered) or the send side was closed; DUBBO_EINVAL
 * for a server stream; DUBBO_ETOO_BIG past the reference's payload. */
DUBBO_API int dubbo_tri_cstream_send(dubbo_tri_cstream_t *s, const ProtobufCMessage *msg);
/* The client is done sending (END_STREAM). Idempotent; 0. */
DUBBO_API int dubbo_tri_cstream_close_send(dubbo_tri_cstream_t *s);
/* The next message of the provider's stream, unpacked as `type` into
 * *msg (the caller frees it with protobuf_c_message_free_unpacked(*msg,
 * NULL)): 1; 0 when the provider ended the call with OK; a negative code
 * when it ended otherwise (DUBBO_EREMOTE: a gRPC status other than OK,
 * see dubbo_tri_cstream_status; DUBBO_ECLOSED cancelled or the connection
 * went; DUBBO_ETIMEOUT the deadline; DUBBO_EMALFORMED a message that is
 * not a `type`; DUBBO_ETOO_BIG one past the payload). Blocks until one
 * of those. */
DUBBO_API int dubbo_tri_cstream_recv(dubbo_tri_cstream_t *s, const ProtobufCMessageDescriptor *type,
                                     ProtobufCMessage **msg);
/* Cancel the call (RST_STREAM CANCEL to the provider); recv and send then
 * return DUBBO_ECLOSED. Idempotent; any thread. */
DUBBO_API void dubbo_tri_cstream_cancel(dubbo_tri_cstream_t *s);
/* How the call ended, once recv returned 0 or a negative code: the gRPC
 * status (DUBBO_GRPC codes: 0 OK, 1 CANCELLED, 4 DEADLINE_EXCEEDED, 14
 * UNAVAILABLE for a lost connection, ...), its message (or the local
 * failure's; "" for none) and the response headers and trailers as a map
 * (NULL for none; "-bin" ones binary). Pointers valid until
 * dubbo_tri_cstream_free. 0, or DUBBO_EINVAL while the call runs. */
DUBBO_API int dubbo_tri_cstream_status(dubbo_tri_cstream_t *s, int *grpc_code, const char **message,
                                       const dubbo_value_t **metadata);
/* Free the stream: cancels a call still running and waits for it to end
 * (on the event loop's thread, a completion callback, it does not wait:
 * the stream goes once its call has ended). NULL is fine. */
DUBBO_API void dubbo_tri_cstream_free(dubbo_tri_cstream_t *s);
/* The same with messages as protobuf bytes (no generated types): open
 * with the server stream's request as req/req_len (NULL for the others);
 * send n bytes (copied); recv the next message's bytes into *msg (its old
 * contents replaced), with the same returns. */
DUBBO_API int dubbo_tri_stream_open_raw(dubbo_reference_t *ref, const char *method,
                                        dubbo_tri_kind_t kind, const void *req, size_t req_len,
                                        const char *const *attachments, int timeout_ms,
                                        dubbo_tri_cstream_t **out);
DUBBO_API int dubbo_tri_cstream_send_raw(dubbo_tri_cstream_t *s, const void *msg, size_t n);
DUBBO_API int dubbo_tri_cstream_recv_raw(dubbo_tri_cstream_t *s, dubbo_buf_t *msg);

/* ---- protobuf schemas (messages without generated code) ----
 *
 * What `dubbo call` uses to call an IDL service from JSON, as grpcurl
 * does: the .proto's descriptors, from `protoc --include_imports
 * --descriptor_set_out` or from the server's reflection service, and
 * conversions between the protobuf wire format, dubbo_value_t maps (field
 * names as protobuf's JSON mapping gives them: lowerCamelCase, and the
 * .proto name accepted on the way in) and JSON (64-bit integers as
 * strings, bytes as base64, enums by name). Groups and the well-known
 * types' special JSON forms (Timestamp, Any, wrappers) are not handled:
 * they go as the plain messages they are. A schema is immutable once
 * made: any thread may read it at once. */
typedef struct dubbo_tri_schema dubbo_tri_schema_t;

/* A schema from a serialized FileDescriptorSet (copied). 0, or
 * DUBBO_EMALFORMED (not a FileDescriptorSet), DUBBO_ENOMEM. */
DUBBO_API int dubbo_tri_schema_load(dubbo_tri_schema_t **out, const void *fdset, size_t n);
/* A schema from the gRPC reflection service at `hostport` ("host:port";
 * grpc.reflection.v1, else v1alpha): the file that defines `symbol` (a
 * service or message full name) and every file it depends on. Blocks for
 * at most about timeout_ms (0: 5000) per request. 0; DUBBO_ENOT_FOUND
 * when the server does not know the symbol; DUBBO_EUNSUPPORTED when it
 * serves no reflection; a connection's codes. Not on the event loop's
 * thread. */
DUBBO_API int dubbo_tri_schema_reflect(dubbo_tri_schema_t **out, const char *hostport,
                                       const char *symbol, int timeout_ms);
DUBBO_API void dubbo_tri_schema_free(dubbo_tri_schema_t *s);
/* The input and output message types of service/method (full names,
 * pointing into the schema) and how it streams; any out-pointer may be
 * NULL. 0, or DUBBO_ENOT_FOUND naming the service's methods. */
DUBBO_API int dubbo_tri_schema_method(const dubbo_tri_schema_t *s, const char *service,
                                      const char *method, const char **input, const char **output,
                                      dubbo_tri_kind_t *kind);
/* A message of `type` from a map value: appended to out. 0, or
 * DUBBO_ENOT_FOUND (no such type or field, naming the fields),
 * DUBBO_ETYPE (a value of the wrong kind, naming the field),
 * DUBBO_ETOO_DEEP, DUBBO_ENOMEM; out is unchanged on failure. */
DUBBO_API int dubbo_tri_pb_from_value(const dubbo_tri_schema_t *s, const char *type,
                                      const dubbo_value_t *v, dubbo_buf_t *out);
/* A message of `type` (n bytes) into a map value in arena `a`: only the
 * fields present, repeated ones as lists, maps as maps with string keys,
 * enums by name (unknown numbers as numbers), int64/uint64/uint32 as
 * longs. 0, or DUBBO_EMALFORMED / DUBBO_ETRUNCATED naming the type, byte
 * offset and field; DUBBO_ETOO_DEEP past 64 levels; DUBBO_ENOT_FOUND. */
DUBBO_API int dubbo_tri_pb_to_value(const dubbo_tri_schema_t *s, const char *type, const void *pb,
                                    size_t n, dubbo_arena_t *a, dubbo_value_t **out);
/* The same through JSON text: json_to_pb appends the message to out;
 * pb_to_json returns compact JSON the caller frees with free(). */
DUBBO_API int dubbo_tri_json_to_pb(const dubbo_tri_schema_t *s, const char *type, const char *json,
                                   size_t len, dubbo_buf_t *out);
DUBBO_API int dubbo_tri_pb_to_json(const dubbo_tri_schema_t *s, const char *type, const void *pb,
                                   size_t n, char **json);

/* ---- gRPC server reflection and health checking ----
 *
 * Services any gRPC tool expects of a server (grpcurl, grpc_cli, load
 * balancers' health checks), served over Triple like any IDL service:
 * exported on the server, listed in its registries, answered only on a
 * port whose protocols include "tri". docs/triple.md, "Reflection and
 * health", says what a client sees. */

/* Serve gRPC server reflection on `s`: grpc.reflection.v1.ServerReflection
 * and grpc.reflection.v1alpha.ServerReflection (the same protocol; clients
 * try v1 first). It describes the IDL services exported on `s` with
 * dubbo_tri_export, before or after this call, reflection and health
 * included; interface services (dubbo_server_export) have no .proto and
 * are not listed. protoc-c keeps no .proto files, so each proto package is
 * described as one file rebuilt from the runtime descriptors,
 * "<package>.dubbo-c-reflection.proto", with the types the services reach
 * (src/protocol/tri/reflection.c lists what is kept and what is lost).
 * 0; the errors of dubbo_tri_export (DUBBO_EEXISTS when already served;
 * if v1alpha fails, v1 stays exported). Threads: as dubbo_server_export. */
DUBBO_API int dubbo_tri_serve_reflection(dubbo_server_t *s);

/* A serving status of grpc.health.v1 (HealthCheckResponse.ServingStatus). */
typedef enum {
    DUBBO_TRI_HEALTH_UNKNOWN = 0, /* to dubbo_tri_health_set: forget what was set */
    DUBBO_TRI_HEALTH_SERVING = 1,
    DUBBO_TRI_HEALTH_NOT_SERVING = 2,
    DUBBO_TRI_HEALTH_SERVICE_UNKNOWN = 3, /* Watch's answer for a service it does not know */
} dubbo_tri_health_status_t;

/* Serve grpc.health.v1.Health on `s`: Check (unary) and Watch (a server
 * stream: the current status, then each change, until the client cancels).
 * A service's status is, in this order: NOT_SERVING once
 * dubbo_tri_health_shutdown() was called (for "" and every known
 * service); what dubbo_tri_health_set() set; SERVING for "" (the server
 * as a whole) and for a service exported on `s` without version and
 * group (any kind; its interface name); else unknown: Check answers gRPC
 * NOT_FOUND, Watch sends SERVICE_UNKNOWN and goes on watching. Watch
 * notices exports and dubbo_tri_health_set at once, and a cancellation or
 * the deadline within 200 ms. The state stays allocated until the process
 * exits (the runtime has no hook at dubbo_server_free; it is small).
 * 0; the errors of dubbo_tri_export (DUBBO_EEXISTS when already served),
 * DUBBO_ENOMEM. Threads: as dubbo_server_export. */
DUBBO_API int dubbo_tri_serve_health(dubbo_server_t *s);

/* Set the status of `service` ("" for the server as a whole; copied) as
 * Check and Watch report it; DUBBO_TRI_HEALTH_UNKNOWN goes back to the
 * automatic status above. Watchers of it are told at once. 0;
 * DUBBO_EINVAL for a NULL service or a status outside the enum;
 * DUBBO_ENOT_FOUND when `s` does not serve health (dubbo_tri_serve_health
 * first); DUBBO_ENOMEM. Any thread, also from handlers. */
DUBBO_API int dubbo_tri_health_set(dubbo_server_t *s, const char *service,
                                   dubbo_tri_health_status_t status);

/* Going away: from now on every status is NOT_SERVING; each Watch stream
 * gets it and then ends with UNAVAILABLE, so that a following
 * dubbo_server_shutdown() does not wait its whole grace for them. Call it
 * before dubbo_server_shutdown() (the runtime does not tell us when that
 * begins: without this call watchers learn nothing until their connection
 * closes at the end of the grace). 0, or DUBBO_ENOT_FOUND when `s` does
 * not serve health. Any thread; idempotent. */
DUBBO_API int dubbo_tri_health_shutdown(dubbo_server_t *s);

#ifdef __cplusplus
}
#endif

#endif
