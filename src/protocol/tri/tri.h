/* What the files of the Triple protocol share (src/protocol/tri/):
 * server.c (the provider side on nghttp2), idl.c (protobuf IDL services),
 * grpc.c (the gRPC wire pieces). Internal. */
#ifndef DUBBO_PROTOCOL_TRI_TRI_H
#define DUBBO_PROTOCOL_TRI_TRI_H

#include <stdbool.h>

#include "dubbo/protocol.h"
#include "dubbo/value.h"

extern const dubbo_protocol_ops_t dubbo__protocol_tri;

/* A Triple call's own data (dubbo_call_t.proto_call, in the call's arena). */
typedef struct {
    bool idl;               /* a protobuf IDL service: the message bytes as they are */
    bool gzip;              /* the request came gzip-compressed: so goes the answer */
    int grpc_code;          /* a gRPC status decided by the protocol or dubbo_tri_fail; -1: none */
    const char *grpc_msg;   /* its message */
    dubbo_value_t *headers; /* response headers (dubbo_tri_set_header): a map, or NULL */
    const char *serialize_type; /* wrapper mode: the request's, echoed ("hessian4") */
} dubbo__tri_call_t;

/* The handler of every method of an IDL service (idl.c): `user` is its
 * dubbo_tri_service_t. decode tells IDL services by it. */
void dubbo__tri_idl_handler(dubbo_call_t *call, void *user);

#endif
