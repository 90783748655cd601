/* What gRPC server reflection (reflection.c) and health (health.c) need
 * from the rest of Triple, and the descriptor synthesis reflection.c
 * offers its unit test (tests/unit/tri_reflection_test.c). Internal. */
#ifndef DUBBO_PROTOCOL_TRI_REFLECTION_H
#define DUBBO_PROTOCOL_TRI_REFLECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/triple.h"

/* idl.c: the IDL services exported on the live server s, oldest export
 * first (a malloc'd array the caller frees, *n entries; NULL when out of
 * memory). Any thread. */
const dubbo_tri_service_t **dubbo__tri_idl_exported(dubbo_server_t *s, size_t *n);
/* idl.c: whether svc is exported on the live server s now. */
bool dubbo__tri_idl_exported_on(dubbo_server_t *s, const dubbo_tri_service_t *svc);

/* reflection.c: the synthetic .proto files describing a set of IDL
 * services, as protoc-c's runtime descriptors allow (see reflection.c):
 * one file per proto package, each a serialized
 * google.protobuf.FileDescriptorProto. */
typedef struct {
    char *name;    /* "<package>.dubbo-c-reflection.proto" */
    char *package; /* "" for none */
    uint8_t *bytes;
    size_t len;
} dubbo__tri_file_t;

typedef struct dubbo__tri_files dubbo__tri_files_t;

/* Describe services svcs[0..n) (NULL entries skipped; the same descriptor
 * twice is described once). NULL with DUBBO_ENOMEM. Any thread; the
 * result is the caller's (dubbo__tri_files_free). */
dubbo__tri_files_t *dubbo__tri_files_new(const dubbo_tri_service_t *const *svcs, size_t n);
void dubbo__tri_files_free(dubbo__tri_files_t *f);
/* The files, *n of them, in package order; valid until _free. */
const dubbo__tri_file_t *dubbo__tri_files_list(const dubbo__tri_files_t *f, size_t *n);
/* The file of that name, or the file defining the fully-qualified symbol
 * (a service, method, message, field or enum: "helloworld.Greeter",
 * "helloworld.Greeter.SayHello", "helloworld.HelloRequest.name"), or NULL. */
const dubbo__tri_file_t *dubbo__tri_files_by_name(const dubbo__tri_files_t *f, const char *name);
const dubbo__tri_file_t *dubbo__tri_files_by_symbol(const dubbo__tri_files_t *f, const char *sym);
/* Whether sym names a message type described (for
 * all_extension_numbers_of_type). */
bool dubbo__tri_files_has_message(const dubbo__tri_files_t *f, const char *sym);
/* The files `file` depends on, transitively, not itself, into out[] (room
 * for as many as dubbo__tri_files_list has): how many. */
size_t dubbo__tri_files_deps(const dubbo__tri_files_t *f, const dubbo__tri_file_t *file,
                             const dubbo__tri_file_t **out);

#endif
