/* Triple IDL calls from JSON for `dubbo call` and `dubbo bench` (call.h):
 * the service's schema comes from --proto FILE (compiled by protoc into a
 * descriptor set) or from the server's reflection, as grpcurl does; the
 * JSON argument becomes the request message, answers print as JSON lines. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "call.h"
#include "dubbo/error.h"

/* "host:port" and the service of a single tri:// (or dubbo://) URL;
 * false otherwise. */
static bool split_url(const char *url, char *hostport, size_t hcap, char *service, size_t scap)
{
    size_t skip = strncmp(url, "tri://", 6) == 0 ? 6 : strncmp(url, "dubbo://", 8) == 0 ? 8 : 0;
    if (!skip || strchr(url, ';')) return false;
    const char *h = url + skip;
    const char *slash = strchr(h, '/');
    if (!slash || (size_t)(slash - h) >= hcap) return false;
    snprintf(hostport, hcap, "%.*s", (int)(slash - h), h);
    size_t n = strcspn(slash + 1, "?");
    if (!n || n >= scap) return false;
    snprintf(service, scap, "%.*s", (int)n, slash + 1);
    return true;
}

/* The Dubbo protocol with serialization=protobuf (the URL's or a
 * --param): its IDL calls are the same messages, without streams. */
static bool dubbo_protobuf(const call_opts_t *o)
{
    if (strncmp(o->url, "dubbo://", 8) != 0) return false;
    const char *q = strchr(o->url, '?');
    /* exactly protobuf: protobuf-json (id 21) takes the JSON as a map */
    const char *v = q ? strstr(q, "serialization=protobuf") : NULL;
    if (v && (v[22] == '\0' || v[22] == '&')) return true;
    for (size_t i = 0; i + 1 < o->nparams; i += 2)
        if (strcmp(o->params[i], "serialization") == 0 && strcmp(o->params[i + 1], "protobuf") == 0)
            return true;
    return false;
}

static bool wants_wrapper(const call_opts_t *o)
{
    const char *q = strchr(o->url, '?');
    if (q && strstr(q, "serialization=hessian2")) return true;
    for (size_t i = 0; i + 1 < o->nparams; i += 2)
        if (strcmp(o->params[i], "serialization") == 0 && strcmp(o->params[i + 1], "protobuf") != 0)
            return true;
    return false;
}

int tri_schema_from_proto(const char *who, const char *proto, const char *const *imports,
                          size_t nimports, dubbo_tri_schema_t **out)
{
    char tmp[] = "/tmp/dubbo-proto-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "%s: --proto: cannot make a temporary file: %s\n", who, strerror(errno));
        return 2;
    }
    close(fd);
    char setarg[64], dirarg[4096];
    snprintf(setarg, sizeof(setarg), "--descriptor_set_out=%s", tmp);
    const char *slash = strrchr(proto, '/');
    snprintf(dirarg, sizeof(dirarg), "-I%.*s", slash ? (int)(slash - proto) : 1,
             slash ? proto : ".");
    const char *argv[24];
    char iargs[16][4096];
    size_t n = 0;
    argv[n++] = "protoc";
    argv[n++] = "--include_imports";
    argv[n++] = setarg;
    argv[n++] = dirarg;
    for (size_t i = 0; i < nimports && i < 16; i++) {
        snprintf(iargs[i], sizeof(iargs[i]), "-I%s", imports[i]);
        argv[n++] = iargs[i];
    }
    argv[n++] = proto;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        execvp("protoc", (char *const *)argv);
        fprintf(stderr, "%s: --proto needs protoc on the PATH (Debian: protobuf-compiler): %s\n",
                who, strerror(errno));
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) != 127)
            fprintf(stderr, "%s: protoc could not compile %s (its messages above)\n", who, proto);
        unlink(tmp);
        return 2;
    }
    FILE *f = fopen(tmp, "rb");
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    char chunk[65536];
    size_t r;
    while (f && (r = fread(chunk, 1, sizeof(chunk), f)) > 0)
        dubbo_buf_append(&b, chunk, r);
    if (f) fclose(f);
    unlink(tmp);
    int rc = dubbo_tri_schema_load(out, b.base ? b.base : (const uint8_t *)"", b.len);
    dubbo_buf_destroy(&b);
    if (rc) {
        fprintf(stderr, "%s: --proto %s: %s\n", who, proto, dubbo_last_error());
        return 2;
    }
    return 0;
}

int tri_idl_prepare(const char *who, call_opts_t *o, tri_idl_t *t)
{
    memset(t, 0, sizeof(*t));
    char hostport[512], service[512];
    if (!split_url(o->url, hostport, sizeof(hostport), service, sizeof(service)) ||
        wants_wrapper(o))
        return 0;
    bool dubbo = strncmp(o->url, "dubbo://", 8) == 0;
    if (dubbo && !dubbo_protobuf(o)) return 0; /* hessian2 (or another) as always */
    if (dubbo && !o->proto) {
        fprintf(stderr,
                "%s: a dubbo:// call with serialization=protobuf takes its messages' "
                ".proto: --proto FILE (the Dubbo protocol has no reflection)\n",
                who);
        return 2;
    }
    if (o->proto) {
        int rc = tri_schema_from_proto(who, o->proto, o->import_paths, o->nimports, &t->schema);
        if (rc) return rc;
    } else if (dubbo_tri_schema_reflect(&t->schema, hostport, service,
                                        o->timeout_ms ? o->timeout_ms : 3000)) {
        /* no reflection, or a service it does not describe (an interface
         * service): Java's wrapper mode, as without this */
        return 0;
    }
    if (dubbo_tri_schema_method(t->schema, service, o->method, &t->input, &t->output, &t->kind)) {
        fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
        tri_idl_free(t);
        return 2;
    }
    if (dubbo && t->kind != DUBBO_TRI_UNARY) {
        fprintf(stderr, "%s: %s/%s streams: over tri:// only (the Dubbo protocol has no streams)\n",
                who, service, o->method);
        tri_idl_free(t);
        return 2;
    }
    if (o->nargs > 1) {
        fprintf(stderr, "%s: %s/%s takes one message: one JSON argument, not %zu\n", who, service,
                o->method, o->nargs);
        tri_idl_free(t);
        return 2;
    }
    if (t->kind == DUBBO_TRI_UNARY || t->kind == DUBBO_TRI_SERVER_STREAM) {
        dubbo_value_t *arg = o->nargs ? o->args[0] : dubbo_v_map(o->arena, NULL, 1);
        dubbo_buf_t pb;
        dubbo_buf_init(&pb, 0);
        if (!arg || dubbo_tri_pb_from_value(t->schema, t->input, arg, &pb)) {
            fprintf(stderr, "%s: the argument is not a %s: %s\n", who, t->input,
                    dubbo_last_error());
            dubbo_buf_destroy(&pb);
            tri_idl_free(t);
            return 2;
        }
        o->args[0] = dubbo_v_binary(o->arena, pb.len ? pb.base : (const uint8_t *)"", pb.len);
        o->nargs = 1;
        dubbo_buf_destroy(&pb);
    } else if (o->nargs) {
        fprintf(stderr,
                "%s: %s/%s is a client stream: its messages are JSON lines on stdin, "
                "not arguments\n",
                who, service, o->method);
        tri_idl_free(t);
        return 2;
    }
    if (o->nparams + 2 < sizeof(o->params) / sizeof(o->params[0])) {
        o->params[o->nparams++] = strdup("serialization"); /* free_opts frees keys */
        o->params[o->nparams++] = "protobuf";
    }
    o->types = "";
    return 1;
}

int tri_idl_print(const char *who, const tri_idl_t *t, const dubbo_value_t *v)
{
    char *json = NULL;
    if (!v || v->type != DUBBO_T_BINARY ||
        dubbo_tri_pb_to_json(t->schema, t->output, v->u.s.ptr, v->u.s.len, &json)) {
        fprintf(stderr, "%s: the answer is not a %s: %s\n", who, t->output,
                v && v->type == DUBBO_T_BINARY ? dubbo_last_error() : "not protobuf bytes");
        return 1;
    }
    printf("%s\n", json);
    fflush(stdout);
    free(json);
    return 0;
}

typedef struct {
    const char *who;
    const tri_idl_t *t;
    dubbo_tri_cstream_t *s;
    int status;
} printer_t;

/* Print each message of the stream; its end's status. */
static void *print_all(void *arg)
{
    printer_t *p = arg;
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    int rc;
    while ((rc = dubbo_tri_cstream_recv_raw(p->s, &b)) == 1) {
        char *json = NULL;
        if (dubbo_tri_pb_to_json(p->t->schema, p->t->output, b.base ? b.base : (const uint8_t *)"",
                                 b.len, &json)) {
            fprintf(stderr, "%s: a message is not a %s: %s\n", p->who, p->t->output,
                    dubbo_last_error());
            p->status = 1;
        } else {
            printf("%s\n", json);
            fflush(stdout);
        }
        free(json);
    }
    dubbo_buf_destroy(&b);
    if (rc) {
        fprintf(stderr, "%s: %s (%s)\n", p->who, dubbo_last_error(), dubbo_err_name(rc));
        p->status = 1;
    }
    return NULL;
}

int tri_idl_stream(const char *who, const call_opts_t *o, const tri_idl_t *t,
                   dubbo_reference_t *ref)
{
    dubbo_tri_cstream_t *s;
    const dubbo_value_t *req = t->kind == DUBBO_TRI_SERVER_STREAM ? o->args[0] : NULL;
    int rc = dubbo_tri_stream_open_raw(ref, o->method, t->kind, req ? req->u.s.ptr : NULL,
                                       req ? req->u.s.len : 0, o->natt ? o->attachments : NULL,
                                       o->timeout_ms, &s);
    if (rc) {
        fprintf(stderr, "%s: %s (%s)\n", who, dubbo_last_error(), dubbo_err_name(rc));
        return 1;
    }
    printer_t p = {who, t, s, 0};
    pthread_t th;
    bool threaded = pthread_create(&th, NULL, print_all, &p) == 0;
    if (t->kind != DUBBO_TRI_SERVER_STREAM) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        long lineno = 0;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            lineno++;
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
                line[--n] = 0;
            if (!n) continue;
            dubbo_buf_t pb;
            dubbo_buf_init(&pb, 0);
            if (dubbo_tri_json_to_pb(t->schema, t->input, line, (size_t)n, &pb)) {
                fprintf(stderr, "%s: stdin line %ld is not a %s: %s\n", who, lineno, t->input,
                        dubbo_last_error());
                p.status = 1;
                dubbo_buf_destroy(&pb);
                dubbo_tri_cstream_cancel(s);
                break;
            }
            rc = dubbo_tri_cstream_send_raw(s, pb.base ? pb.base : (const uint8_t *)"", pb.len);
            dubbo_buf_destroy(&pb);
            if (rc) break; /* the stream ended: the printer says how */
        }
        free(line);
        dubbo_tri_cstream_close_send(s);
    }
    if (threaded)
        pthread_join(th, NULL);
    else
        print_all(&p);
    dubbo_tri_cstream_free(s);
    return p.status;
}

void tri_idl_free(tri_idl_t *t)
{
    dubbo_tri_schema_free(t->schema);
    memset(t, 0, sizeof(*t));
}
