/* `dubbo protobuf decode|encode`: protobuf messages <-> JSON by a .proto,
 * without generated code (the schema API of include/dubbo/triple.h), the
 * inspector beside `dubbo hessian2`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "cli.h"
#include "dubbo/error.h"

static const char help[] =
    "usage: %s decode|encode --proto FILE --type TYPE [--import-path DIR]... [--hex] "
    "[--delimited]\n"
    "\n"
    "decode: protobuf bytes on standard input -> one line of JSON (protobuf's JSON\n"
    "mapping: lowerCamelCase names, 64-bit integers as strings, bytes as base64).\n"
    "encode: JSON (the argument, or standard input) -> protobuf bytes on standard output.\n"
    "The .proto is compiled by protoc (Debian: protobuf-compiler); TYPE is a message's\n"
    "full name (helloworld.HelloRequest).\n"
    "  --hex        bytes as hex text (decode: input, spaces ignored; encode: output)\n"
    "  --delimited  each message is preceded by its varint length, as the Dubbo protocol's\n"
    "               protobuf serialization writes them (decode: every message of the input)\n"
    "Examples:\n"
    "  %s encode --proto tools/proto/helloworld.proto --type helloworld.HelloRequest \\\n"
    "      --hex '{\"name\":\"world\"}'                       -> 0a05776f726c64\n"
    "  printf '\\x0a\\x05world' | %s decode --proto tools/proto/helloworld.proto \\\n"
    "      --type helloworld.HelloRequest                   -> {\"name\":\"world\"}\n"
    "Exit status: 0 success, 1 bad input (the message names type, field and offset),\n"
    "2 bad usage.\n";

/* A varint length at p (n bytes): its value and size, or 0 size when bad. */
static size_t varint(const uint8_t *p, size_t n, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        *v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) return i + 1;
    }
    return 0;
}

int cli_protobuf(const char *who, int argc, char **argv)
{
    const char *mode = argc > 0 ? argv[0] : NULL, *proto = NULL, *type = NULL, *json = NULL;
    const char *imports[16];
    size_t nimports = 0;
    bool hex = false, delimited = false;
    if (!mode || strcmp(mode, "--help") == 0 || strcmp(mode, "-h") == 0) {
        printf(help, who, who, who);
        return mode ? 0 : 2;
    }
    if (strcmp(mode, "decode") != 0 && strcmp(mode, "encode") != 0) {
        fprintf(stderr, "%s: decode or encode, not '%s' (try --help)\n", who, mode);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (strcmp(a, "--proto") == 0 && more)
            proto = argv[++i];
        else if (strcmp(a, "--type") == 0 && more)
            type = argv[++i];
        else if (strcmp(a, "--import-path") == 0 && more && nimports < 16)
            imports[nimports++] = argv[++i];
        else if (strcmp(a, "--hex") == 0)
            hex = true;
        else if (strcmp(a, "--delimited") == 0)
            delimited = true;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf(help, who, who, who);
            return 0;
        } else if (a[0] != '-' && !json && strcmp(mode, "encode") == 0)
            json = a;
        else {
            fprintf(stderr, "%s: unexpected '%s' (try --help)\n", who, a);
            return 2;
        }
    }
    if (!proto || !type) {
        fprintf(stderr, "%s: --proto FILE and --type TYPE are needed (try --help)\n", who);
        return 2;
    }
    dubbo_tri_schema_t *schema;
    int rc = tri_schema_from_proto(who, proto, imports, nimports, &schema);
    if (rc) return rc;
    dubbo_buf_t in, out;
    dubbo_buf_init(&in, (size_t)1 << 30);
    dubbo_buf_init(&out, 0);
    int status = 0;
    if (json)
        dubbo_buf_append(&in, json, strlen(json));
    else
        status = cli_read_stdin(&in, who);
    if (!status && strcmp(mode, "encode") == 0) {
        dubbo_buf_t pb;
        dubbo_buf_init(&pb, 0);
        if (dubbo_tri_json_to_pb(schema, type, in.base ? (const char *)in.base : "", in.len, &pb)) {
            fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
            status = 1;
        } else {
            if (delimited) {
                uint8_t v[10];
                size_t n = 0;
                uint64_t x = pb.len;
                do {
                    v[n++] = (uint8_t)((x & 0x7f) | (x >> 7 ? 0x80 : 0));
                    x >>= 7;
                } while (x);
                dubbo_buf_append(&out, v, n);
            }
            dubbo_buf_append(&out, pb.base, pb.len);
            if (hex) {
                for (size_t i = 0; i < out.len; i++)
                    printf("%02x", out.base[i]);
                printf("\n");
            } else {
                fwrite(out.base, 1, out.len, stdout);
            }
        }
        dubbo_buf_destroy(&pb);
    } else if (!status) {
        if (hex) status = cli_unhex(who, (const char *)in.base, in.len, in.base, &in.len);
        size_t off = 0;
        while (!status) {
            const uint8_t *p = in.base ? in.base + off : (const uint8_t *)"";
            size_t n = in.len - off;
            if (delimited) {
                uint64_t len;
                size_t h = varint(p, n, &len);
                if (!h || len > n - h) {
                    fprintf(stderr, "%s: a bad length prefix at byte %zu\n", who, off);
                    status = 1;
                    break;
                }
                p += h;
                n = (size_t)len;
                off += h + (size_t)len;
            } else {
                off = in.len;
            }
            char *js = NULL;
            if (dubbo_tri_pb_to_json(schema, type, p, n, &js)) {
                fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
                status = 1;
                break;
            }
            printf("%s\n", js);
            free(js);
            if (!delimited || off >= in.len) break;
        }
    }
    fflush(stdout);
    dubbo_buf_destroy(&in);
    dubbo_buf_destroy(&out);
    dubbo_tri_schema_free(schema);
    return status;
}
