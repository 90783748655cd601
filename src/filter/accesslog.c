/* The access log filter (Java's AccessLogFilter): a service exported with
 * `accesslog` writes one line per call it serves, as the call comes in:
 *   [2024-05-01 12:00:00] 10.0.0.7:53122 -> 10.0.0.2:20880 - grp/org.x.Demo:1.0.0
 * sayHello(java.lang.String) ["world"] `accesslog=true` (or `default`) sends the lines to dubbo-c's
 * log (info level, "accesslog" prefix); any other value is a file path, opened once at export for
 * appending. Arguments are in dubbo-c's typed JSON (docs/typed-json.md), cut at 8 KiB. Provider
 * side, active when `accesslog` is set. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/value.h"
#include "core/jvm.h"
#include "core/log.h"
#include "filter/filter.h"
#include "runtime/call.h"

#define ARGS_MAX 8192

typedef struct {
    dubbo_filter_t base;
    int fd; /* -1: the logger */
} accesslog_filter_t;

static dubbo_filter_t *accesslog_create(const dubbo_url_t *url, int side, int *rc)
{
    *rc = 0;
    const char *where = dubbo_url_param(url, "accesslog", NULL);
    if (side != DUBBO_FILTER_PROVIDER || !dubbo__filter_value_set(where)) return NULL;
    int fd = -1;
    if (strcasecmp(where, "true") != 0 && strcasecmp(where, "default") != 0) {
        fd = open(where, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            *rc = dubbo__seterr(-errno, "accesslog of %s: cannot open \"%s\": %s", url->path, where,
                                strerror(errno));
            return NULL;
        }
    }
    accesslog_filter_t *f = calloc(1, sizeof(*f));
    if (!f) {
        if (fd >= 0) close(fd);
        *rc = dubbo__seterr(DUBBO_ENOMEM, "accesslog filter: out of memory");
        return NULL;
    }
    f->base.ops = &dubbo__filter_accesslog;
    f->fd = fd;
    return &f->base;
}

static void accesslog_destroy(dubbo_filter_t *self)
{
    accesslog_filter_t *f = (accesslog_filter_t *)self;
    if (f->fd >= 0) close(f->fd);
    free(f);
}

static int append_str(dubbo_buf_t *b, const char *s)
{
    return dubbo_buf_append(b, s, strlen(s));
}

/* The line, without its newline. */
static int format_line(dubbo_call_t *call, dubbo_buf_t *b)
{
    const service_t *svc = call->svc;
    char head[160];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t n = strftime(head, sizeof(head), "[%Y-%m-%d %H:%M:%S] ", &tm);
    int rc = dubbo_buf_append(b, head, n);
    if (!rc) rc = append_str(b, dubbo_call_remote(call));
    if (!rc) rc = append_str(b, " -> ");
    if (!rc) rc = append_str(b, dubbo_call_local(call));
    if (!rc) rc = append_str(b, " - ");
    if (!rc && *svc->group) rc = append_str(b, svc->group);
    if (!rc && *svc->group) rc = append_str(b, "/");
    if (!rc) rc = append_str(b, svc->interface);
    if (!rc && *svc->version && strcmp(svc->version, "0.0.0") != 0) {
        rc = append_str(b, ":");
        if (!rc) rc = append_str(b, svc->version);
    }
    if (!rc) rc = append_str(b, " ");
    if (!rc) rc = append_str(b, dubbo_call_method(call));
    if (!rc) rc = append_str(b, "(");
    if (!rc) rc = dubbo__jvm_desc_to_names(dubbo_call_desc(call), b);
    if (!rc) rc = append_str(b, ") ");
    if (rc || !dubbo_call_nargs(call)) return rc;
    /* Rendered apart, under a limit, so that a huge argument costs little. */
    dubbo_buf_t args;
    dubbo_buf_init(&args, 8 * ARGS_MAX);
    int arc = append_str(&args, "[");
    for (size_t i = 0; i < dubbo_call_nargs(call) && !arc; i++) {
        if (i) arc = append_str(&args, ",");
        if (!arc) arc = dubbo_value_to_json(dubbo_call_arg(call, i), &args);
    }
    if (!arc) arc = append_str(&args, "]");
    if (arc == DUBBO_ETOO_BIG || (!arc && args.len > ARGS_MAX)) {
        /* Cut at a character boundary, and say so. */
        size_t cut = args.len < ARGS_MAX ? args.len : ARGS_MAX;
        while (cut > 0 && cut < args.len && (args.base[cut] & 0xC0) == 0x80)
            cut--;
        rc = dubbo_buf_append(b, args.base, cut);
        if (!rc) rc = append_str(b, "...");
    } else if (!arc) {
        rc = dubbo_buf_append(b, args.base, args.len);
    } else {
        rc = arc;
    }
    dubbo_buf_destroy(&args);
    return rc;
}

static void accesslog_serve(dubbo_filter_t *self, dubbo_call_t *call)
{
    accesslog_filter_t *f = (accesslog_filter_t *)self;
    dubbo_buf_t line;
    dubbo_buf_init(&line, 0);
    if (format_line(call, &line) == 0) {
        if (f->fd < 0) {
            DLOG_INFO("accesslog %.*s", (int)line.len, (const char *)line.base);
        } else if (dubbo_buf_append(&line, "\n", 1) == 0) {
            /* One write per line on an O_APPEND file: lines of concurrent
             * calls never interleave. */
            ssize_t w = write(f->fd, line.base, line.len);
            if (w < 0 || (size_t)w != line.len)
                DLOG_WARN("accesslog of %s: write failed: %s", call->svc->interface,
                          w < 0 ? strerror(errno) : "short write");
        }
    }
    dubbo_buf_destroy(&line);
    dubbo_call_next(call);
}

const dubbo_filter_ops_t dubbo__filter_accesslog = {
    .name = "accesslog",
    .sides = DUBBO_FILTER_PROVIDER,
    .order = DUBBO__ORDER_ACCESSLOG,
    .create = accesslog_create,
    .serve = accesslog_serve,
    .destroy = accesslog_destroy,
};
