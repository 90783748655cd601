/* What `dubbo call` and `dubbo bench` share (tools/cmd_rpc.c), and the
 * Triple IDL calls from JSON they make with tri:// URLs (tools/cmd_tri.c). */
#ifndef DUBBO_TOOLS_CALL_H
#define DUBBO_TOOLS_CALL_H

#include <stdbool.h>
#include <stddef.h>

#include "dubbo/cluster.h"
#include "dubbo/triple.h"
#include "dubbo/value.h"

/* The parsed command line of call and bench. */
typedef struct {
    const char *url;
    const char *method;
    const char *types;
    int timeout_ms;
    long count;
    long concurrency;
    double duration;
    bool async, oneway;
    bool raw;             /* bench --raw: one provider, the bare async client */
    bool json, histogram; /* bench: the report as one JSON object; with a histogram */
    dubbo_arena_t *arena;
    dubbo_value_t **args;
    size_t nargs;
    const char *attachments[64];
    size_t natt;
    const char *params[129]; /* --param key, value pairs, NULL-terminated */
    size_t nparams;
    const char *rules[16]; /* --rule router, text pairs */
    size_t nrules;
    const char *proto;            /* --proto FILE: a Triple IDL call's .proto */
    const char *import_paths[16]; /* --import-path DIR (repeatable) */
    size_t nimports;
} call_opts_t;

/* A tri:// call of an IDL service: its schema (from --proto or the
 * server's reflection) and method. */
typedef struct {
    dubbo_tri_schema_t *schema;
    const char *input, *output; /* message types (in the schema) */
    dubbo_tri_kind_t kind;
} tri_idl_t;

/* Whether o is a Triple IDL call and, if so, make it one: the JSON
 * argument becomes the request message's bytes and the reference
 * serialization=protobuf. 0: not one (any other URL; a tri:// service the
 * server's reflection does not know, or that serves no reflection: Java's
 * wrapper mode, hessian2 arguments), 1: one (t filled), 2: a usage error
 * or a bad argument (printed). */
int tri_idl_prepare(const char *who, call_opts_t *o, tri_idl_t *t);
/* Print an IDL answer (the message's bytes) as one line of JSON: 0, or 1
 * (printed) when it does not decode. */
int tri_idl_print(const char *who, const tri_idl_t *t, const dubbo_value_t *v);
/* A streaming IDL call on ref: a server stream prints each message as a
 * line; client and bidirectional streams send each JSON line of stdin and
 * print what comes back. The exit status. */
int tri_idl_stream(const char *who, const call_opts_t *o, const tri_idl_t *t,
                   dubbo_reference_t *ref);
void tri_idl_free(tri_idl_t *t);
/* A schema from a .proto file: `protoc --include_imports
 * --descriptor_set_out` (the file's folder and `imports` as -I), read back.
 * 0, or 2 with the reason printed (no protoc, its errors, a bad set). */
int tri_schema_from_proto(const char *who, const char *proto, const char *const *imports,
                          size_t nimports, dubbo_tri_schema_t **out);

#endif
