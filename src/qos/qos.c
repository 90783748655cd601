/* The QoS port (include/dubbo/qos.h): a dubbo_server of its own serving
 * the `qos` protocol (protocol.c: telnet lines and HTTP requests) with one
 * service whose handler runs the commands here, Java Dubbo's names and
 * output shapes: help, version, ls, ps, invoke, online / offline (and
 * their App / Interface forms), ready, live, startup, getRouterSnapshot,
 * switchLogLevel, metrics, quit. They read the servers and references
 * added to the port, through src/runtime/introspect.h (services, their
 * registration state, online/offline, the worker pool) and
 * dubbo__reference_snapshot (src/cluster/). The handler runs on the QoS
 * server's one worker, so commands run one at a time, in order. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "dubbo/qos.h"
#include "dubbo/url.h"
#include "dubbo/version.h"
#include "cluster/reference.h"
#include "core/opstats.h"
#include "core/internal.h"
#include "core/log.h"
#include "filter/metrics.h"
#include "qos/qos.h"
#include "runtime/introspect.h"

struct dubbo_qos {
    dubbo_qos_options_t o;
    dubbo_server_t *srv;
    pthread_mutex_t mu; /* the lists; held while a command runs */
    dubbo_server_t **servers;
    size_t nservers;
    dubbo_reference_t **refs;
    size_t nrefs;
};

/* One command's run: its arguments and what it answers. */
typedef struct {
    const char *cmd;
    const char *line; /* the arguments as typed */
    const char *const *argv;
    size_t argc;
    int code; /* HTTP status */
    const char *type;
    bool close;
    dubbo_buf_t out;
} ctx_t;

static void say(ctx_t *c, const char *fmt, ...) DUBBO__PRINTF(2, 3);
static void say(ctx_t *c, const char *fmt, ...)
{
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(small)) {
        dubbo_buf_append(&c->out, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) return;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    dubbo_buf_append(&c->out, big, (size_t)n);
    free(big);
}

/* ---- tables, as Java's TTable draws them ---- */

typedef struct {
    char **cells; /* rows x 2 */
    size_t rows, cap;
} table_t;

static void row(table_t *t, const char *a, const char *b)
{
    if (t->rows == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        char **n = realloc(t->cells, nc * 2 * sizeof(char *));
        if (!n) return;
        t->cells = n;
        t->cap = nc;
    }
    t->cells[t->rows * 2] = strdup(a);
    t->cells[t->rows * 2 + 1] = strdup(b);
    t->rows++;
}

static int by_first(const void *x, const void *y)
{
    const char *const *a = x, *const *b = y;
    return strcmp(a[0] ? a[0] : "", b[0] ? b[0] : "");
}

static void pad(ctx_t *c, size_t n, char ch)
{
    for (size_t i = 0; i < n; i++)
        dubbo_buf_append(&c->out, &ch, 1);
}

/* Draw the table, the first row its header; `middle`: cells centred
 * (Java's Align.MIDDLE), else the first column right and the second left
 * (help). Frees the cells. */
static void draw(ctx_t *c, table_t *t, bool middle)
{
    size_t w[2] = {0, 0};
    for (size_t r = 0; r < t->rows; r++)
        for (int k = 0; k < 2; k++) {
            size_t l = t->cells[r * 2 + k] ? strlen(t->cells[r * 2 + k]) : 0;
            if (l > w[k]) w[k] = l;
        }
    for (size_t r = 0; r <= t->rows; r++) {
        bool rule = r == 0 || r == 1 || r == t->rows;
        if (rule) {
            say(c, "+");
            for (int k = 0; k < 2; k++) {
                pad(c, w[k] + 2, '-');
                say(c, "+");
            }
            say(c, "\r\n");
        }
        if (r == t->rows) break;
        say(c, "|");
        for (int k = 0; k < 2; k++) {
            const char *s = t->cells[r * 2 + k] ? t->cells[r * 2 + k] : "";
            size_t l = strlen(s), room = w[k] - l;
            size_t left = middle ? room / 2 : k == 0 ? room : 0;
            pad(c, left + 1, ' ');
            say(c, "%s", s);
            pad(c, room - left + 1, ' ');
            say(c, "|");
        }
        say(c, "\r\n");
    }
    for (size_t i = 0; i < t->rows * 2; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->rows = t->cap = 0;
}

/* group/interface:version, Java's service key; display: interface:version */
static void service_key(char *out, size_t cap, const char *iface, const char *version,
                        const char *group, bool display)
{
    bool v = version && *version && strcmp(version, "0.0.0") != 0;
    bool g = !display && group && *group;
    snprintf(out, cap, "%s%s%s%s%s", g ? group : "", g ? "/" : "", iface, v ? ":" : "",
             v ? version : "");
}

/* ---- commands ---- */

typedef struct {
    const char *name, *summary, *example;
    void (*run)(dubbo_qos_t *q, ctx_t *c);
} command_t;

static void cmd_help(dubbo_qos_t *q, ctx_t *c);

static void cmd_version(dubbo_qos_t *q, ctx_t *c)
{
    (void)q;
    say(c, "dubbo version \"%s\"", DUBBO_VERSION_STRING);
}

static void ls_provider(void *user, const service_t *x, const char *pub)
{
    char key[700];
    service_key(key, sizeof(key), x->interface, x->version, x->group, false);
    row(user, key, pub);
}

static const char *ref_param(dubbo_reference_t *ref, const char *key)
{
    return dubbo_url_param(dubbo_reference_url(ref), key, "");
}

static void ref_key(dubbo_reference_t *ref, char *out, size_t cap)
{
    const dubbo_url_t *u = dubbo_reference_url(ref);
    const char *iface = dubbo_url_param(u, "interface", NULL);
    if (!iface || !*iface) iface = u->path ? u->path : "";
    service_key(out, cap, iface, ref_param(ref, "version"), ref_param(ref, "group"), false);
}

static void cmd_ls(dubbo_qos_t *q, ctx_t *c)
{
    table_t t = {0};
    say(c, "As Provider side:\r\n");
    row(&t, "Provider Service Name", "PUB");
    for (size_t i = 0; i < q->nservers; i++)
        dubbo__server_services(q->servers[i], ls_provider, &t);
    if (t.rows > 2) qsort(t.cells + 2, t.rows - 1, 2 * sizeof(char *), by_first);
    draw(c, &t, true);
    say(c, "As Consumer side:\r\n");
    row(&t, "Consumer Service Name", "NUM");
    for (size_t i = 0; i < q->nrefs; i++) {
        char key[700], num[64];
        size_t all = 0, valid = 0;
        ref_key(q->refs[i], key, sizeof(key));
        dubbo__reference_snapshot(q->refs[i], &all, &valid, NULL);
        snprintf(num, sizeof(num), "I(%zu)", all);
        row(&t, key, num);
    }
    if (t.rows > 2) qsort(t.cells + 2, t.rows - 1, 2 * sizeof(char *), by_first);
    draw(c, &t, true);
}

/* The established TCP connections of this process on local port `port`,
 * from /proc/net/tcp and tcp6 (the sockets whose inode is one of our fds):
 * Java's ps lists its server's channels; ours are the transport's, read
 * from the kernel's table instead. */
static bool our_inode(unsigned long inode)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return false;
    char want[64], path[300], link[64];
    snprintf(want, sizeof(want), "socket:[%lu]", inode);
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        if (n <= 0) continue;
        link[n] = '\0';
        found = strcmp(link, want) == 0;
    }
    closedir(d);
    return found;
}

/* "0100007F:1F90" (tcp) or 32 hex digits (tcp6) into "127.0.0.1:8080". */
static void proc_addr(const char *hex, char *out, size_t cap)
{
    const char *colon = strchr(hex, ':');
    unsigned port = colon ? (unsigned)strtoul(colon + 1, NULL, 16) : 0;
    size_t hl = colon ? (size_t)(colon - hex) : strlen(hex);
    char ip[INET6_ADDRSTRLEN] = "?";
    if (hl == 8) {
        uint32_t v = (uint32_t)strtoul(hex, NULL, 16); /* the kernel's word, as stored */
        struct in_addr a;
        memcpy(&a, &v, 4);
        inet_ntop(AF_INET, &a, ip, sizeof(ip));
    } else if (hl == 32) {
        struct in6_addr a;
        for (int w = 0; w < 4; w++) {
            char word[9];
            memcpy(word, hex + w * 8, 8);
            word[8] = '\0';
            uint32_t v = (uint32_t)strtoul(word, NULL, 16);
            memcpy(a.s6_addr + w * 4, &v, 4);
        }
        if (IN6_IS_ADDR_V4MAPPED(&a))
            inet_ntop(AF_INET, a.s6_addr + 12, ip, sizeof(ip));
        else
            inet_ntop(AF_INET6, &a, ip, sizeof(ip));
    }
    snprintf(out, cap, "%s:%u", ip, port);
}

static size_t list_connections(ctx_t *c, int port, bool detail)
{
    static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    size_t n = 0;
    for (size_t f = 0; f < 2; f++) {
        FILE *fp = fopen(files[f], "r");
        if (!fp) continue;
        char line[512];
        if (!fgets(line, sizeof(line), fp)) line[0] = '\0'; /* the header */
        while (fgets(line, sizeof(line), fp)) {
            char local[64], remote[64], st[8];
            unsigned long inode = 0;
            if (sscanf(line, "%*s %63s %63s %7s %*s %*s %*s %*s %*s %lu", local, remote, st,
                       &inode) != 4)
                continue;
            const char *lc = strchr(local, ':');
            if (strcmp(st, "01") != 0 || !lc || (int)strtoul(lc + 1, NULL, 16) != port) continue;
            if (!our_inode(inode)) continue;
            char r[80], l[80];
            proc_addr(remote, r, sizeof(r));
            proc_addr(local, l, sizeof(l));
            say(c, "%s%s%s%s", n ? "\r\n" : "", r, detail ? " -> " : "", detail ? l : "");
            n++;
        }
        fclose(fp);
    }
    return n;
}

static void cmd_ps(dubbo_qos_t *q, ctx_t *c)
{
    bool detail = false;
    const char *port = NULL;
    for (size_t i = 0; i < c->argc; i++) {
        if (strcmp(c->argv[i], "-l") == 0) {
            detail = true;
            continue;
        }
        char *end;
        strtol(c->argv[i], &end, 10);
        if (!*c->argv[i] || *end) {
            say(c, "Illegal port %s, must be integer.", c->argv[i]);
            return;
        }
        port = c->argv[i];
    }
    bool first = true;
    if (!port) {
        for (size_t i = 0; i < q->nservers; i++) {
            dubbo__server_info_t in;
            dubbo__server_info(q->servers[i], &in);
            if (in.port < 0) continue;
            if (!detail) {
                say(c, "%s%d", first ? "" : "\r\n", in.port);
                first = false;
                continue;
            }
            /* one line per protocol of the port, as Java has a server per protocol */
            const char *host = in.host;
            if (!*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
                host = dubbo_local_ip();
            for (const char *p = in.protocols; p && *p;) {
                size_t n = strcspn(p, ",");
                say(c, "%s%.*s://%s:%d", first ? "" : "\r\n", (int)n, p, host, in.port);
                first = false;
                p += n;
                if (*p == ',') p++;
            }
        }
        return;
    }
    int want = atoi(port);
    for (size_t i = 0; i < q->nservers; i++) {
        dubbo__server_info_t in;
        dubbo__server_info(q->servers[i], &in);
        if (in.port == want) {
            list_connections(c, want, detail);
            return;
        }
    }
    say(c, "No such port %s", port);
}

/* ---- invoke ---- */

typedef struct {
    const char *service, *method;
    const service_t *found;
    dubbo_server_t *srv;
    bool has_method;
} lookup_t;

static void find_service(void *user, const service_t *x, const char *pub)
{
    (void)pub;
    lookup_t *l = user;
    if (l->found) return;
    const char *dot = strrchr(x->interface, '.');
    const char *simple = dot ? dot + 1 : x->interface;
    char key[700], shown[700];
    service_key(key, sizeof(key), x->interface, x->version, x->group, false);
    service_key(shown, sizeof(shown), x->interface, x->version, x->group, true);
    if (strcmp(l->service, x->interface) != 0 && strcmp(l->service, simple) != 0 &&
        strcmp(l->service, key) != 0 && strcmp(l->service, shown) != 0)
        return;
    l->found = x;
    for (size_t i = 0; i < x->nmethods; i++)
        l->has_method |= strcmp(x->methods[i].name, l->method) == 0;
}

/* The first protocol of the port a dubbo-c client can speak. */
static bool client_scheme(const char *protocols, char *out, size_t cap)
{
    for (const char *p = protocols; p && *p;) {
        size_t n = strcspn(p, ",");
        snprintf(out, cap, "%.*s", (int)n, p);
        const dubbo_protocol_ops_t *ops = dubbo_protocol_find(out);
        if (ops && ops->request) return true;
        p += n;
        if (*p == ',') p++;
    }
    return false;
}

static void cmd_invoke(dubbo_qos_t *q, ctx_t *c)
{
    const char *msg = c->line;
    if (!*msg) {
        say(c, "Please input method name, eg: \r\ninvoke XxxService.xxxMethod(1234, \"abcd\", "
               "{\"prop\" : \"value\"})");
        return;
    }
    const char *open = strchr(msg, '(');
    size_t ml = strlen(msg);
    while (ml && (msg[ml - 1] == ' ' || msg[ml - 1] == '\t'))
        ml--;
    if (!open || msg[ml - 1] != ')') {
        say(c, "Invalid parameters, format: service.method(args)");
        return;
    }
    char target[512], service[512] = "", method[256];
    snprintf(target, sizeof(target), "%.*s", (int)(open - msg), msg);
    char *dot = strrchr(target, '.');
    if (!dot) {
        say(c,
            "If you want to invoke like [invoke sayHello(\"xxxx\")], please execute cd "
            "command first, or you can execute it like [invoke IHelloService.sayHello(\"xxxx\")]");
        return;
    }
    *dot = '\0';
    snprintf(service, sizeof(service), "%s", target);
    snprintf(method, sizeof(method), "%s", dot + 1);
    lookup_t l = {.service = service, .method = method};
    for (size_t i = 0; i < q->nservers && !l.found; i++) {
        l.srv = q->servers[i];
        dubbo__server_services(q->servers[i], find_service, &l);
    }
    say(c, "Use default service %s.", service);
    if (!l.found) {
        say(c, "\r\nNo such service %s", service);
        return;
    }
    if (!l.has_method) {
        say(c, "\r\nNo such method %s in service %s", method, service);
        return;
    }
    /* the arguments: JSON, one list of them (typed JSON's forms allowed) */
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_buf_t json;
    dubbo_buf_init(&json, 0);
    dubbo_buf_append(&json, "[", 1);
    dubbo_buf_append(&json, open + 1, (size_t)(msg + ml - 1 - (open + 1)));
    dubbo_buf_append(&json, "]", 1);
    dubbo_value_t *list = NULL;
    if (!a || dubbo_value_from_json(a, (const char *)json.base, json.len, &list) ||
        list->type != DUBBO_T_LIST) {
        say(c, "Invalid json argument, cause: %s", dubbo_last_error());
        dubbo_buf_destroy(&json);
        dubbo_arena_free(a);
        return;
    }
    dubbo_buf_destroy(&json);
    /* through a client of our own port: the call is served as any other
     * (filters, metrics), and no handler is called from here */
    dubbo__server_info_t in;
    dubbo__server_info(l.srv, &in);
    char scheme[32], url[1500];
    if (!client_scheme(in.protocols, scheme, sizeof(scheme)) || in.port < 0) {
        say(c,
            "\r\nFailed to invoke method %s, cause: port %d serves no protocol a client "
            "of this process speaks (%s)",
            method, in.port, in.protocols);
        dubbo_arena_free(a);
        return;
    }
    const char *host = in.host;
    if (!*host || strcmp(host, "0.0.0.0") == 0) host = "127.0.0.1";
    if (strcmp(host, "::") == 0) host = "::1";
    bool v6 = strchr(host, ':') != NULL;
    char *ev = dubbo_url_encode(l.found->version), *eg = dubbo_url_encode(l.found->group);
    snprintf(url, sizeof(url), "%s://%s%s%s:%d/%s?version=%s&group=%s&timeout=10000", scheme,
             v6 ? "[" : "", host, v6 ? "]" : "", in.port, l.found->interface, ev ? ev : "",
             eg ? eg : "");
    free(ev);
    free(eg);
    dubbo_client_t *cl = dubbo_client_new(url);
    if (!cl) {
        say(c, "\r\nFailed to invoke method %s, cause: %s", method, dubbo_last_error());
        dubbo_arena_free(a);
        return;
    }
    dubbo_invocation_t inv = {
        .method = method, .args = list->u.list.items, .nargs = list->u.list.len};
    dubbo_result_t r;
    uint64_t t0 = dubbo__now_ms();
    int rc = dubbo_client_call(cl, &inv, &r);
    uint64_t dt = dubbo__now_ms() - t0;
    if (rc < 0 || r.status != DUBBO_STATUS_OK || r.exception) {
        say(c, "\r\nFailed to invoke method %s, cause: %s", method,
            r.error ? r.error : dubbo_strerror(rc));
    } else {
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        dubbo_value_to_json(r.value, &out);
        say(c, "\r\nresult: %.*s\r\nelapsed: %" PRIu64 " ms.", (int)out.len, (const char *)out.base,
            dt);
        dubbo_buf_destroy(&out);
    }
    dubbo_result_destroy(&r);
    dubbo_client_free(cl);
    dubbo_arena_free(a);
}

/* ---- online / offline ---- */

typedef struct {
    regex_t rx;
} pattern_t;

static bool pattern_match(void *user, const service_t *x)
{
    pattern_t *p = user;
    char key[700], shown[700];
    service_key(key, sizeof(key), x->interface, x->version, x->group, false);
    service_key(shown, sizeof(shown), x->interface, x->version, x->group, true);
    return regexec(&p->rx, key, 0, NULL, 0) == 0 || regexec(&p->rx, shown, 0, NULL, 0) == 0;
}

static void set_online(dubbo_qos_t *q, ctx_t *c, bool online)
{
    /* Java's servicePattern, a regular expression matching the whole key */
    const char *pat = c->argc ? c->argv[0] : ".*";
    size_t n = strlen(pat) + 8;
    char *full = malloc(n);
    pattern_t p;
    if (!full) return;
    snprintf(full, n, "^(%s)$", pat);
    int rc = regcomp(&p.rx, full, REG_EXTENDED | REG_NOSUB);
    free(full);
    if (rc) {
        say(c, "bad service pattern %s", pat);
        c->code = 400;
        return;
    }
    size_t hits = 0;
    for (size_t i = 0; i < q->nservers; i++)
        hits += dubbo__server_set_online(q->servers[i], online, pattern_match, &p);
    regfree(&p.rx);
    say(c, "%s", hits ? "OK" : "service not found");
}

static void cmd_online(dubbo_qos_t *q, ctx_t *c)
{
    set_online(q, c, true);
}

static void cmd_offline(dubbo_qos_t *q, ctx_t *c)
{
    set_online(q, c, false);
}

/* ---- probes ---- */

static void count_offline(void *user, const service_t *x, const char *pub)
{
    (void)x;
    /* registered in none of its registries */
    if (*pub && !strstr(pub, "(Y)")) ++*(size_t *)user;
}

static void probe(ctx_t *c, bool ok)
{
    c->code = ok ? 200 : 503;
    say(c, "%s", ok ? "true" : "false");
}

static void cmd_live(dubbo_qos_t *q, ctx_t *c)
{
    (void)q;
    probe(c, true); /* it answered */
}

static void cmd_startup(dubbo_qos_t *q, ctx_t *c)
{
    bool ok = true;
    for (size_t i = 0; i < q->nservers; i++) {
        dubbo__server_info_t in;
        dubbo__server_info(q->servers[i], &in);
        ok &= in.listening;
    }
    probe(c, ok);
}

static void cmd_ready(dubbo_qos_t *q, ctx_t *c)
{
    /* started, and no service taken off every registry (offline) */
    bool ok = true;
    for (size_t i = 0; i < q->nservers; i++) {
        dubbo__server_info_t in;
        size_t off = 0;
        dubbo__server_info(q->servers[i], &in);
        dubbo__server_services(q->servers[i], count_offline, &off);
        ok &= in.listening && off == 0;
    }
    probe(c, ok);
}

static void cmd_router_snapshot(dubbo_qos_t *q, ctx_t *c)
{
    if (c->argc != 1) {
        say(c, "args count should be 1. example getRouterSnapshot xx.xx.xxx.service");
        return;
    }
    size_t n = strlen(c->argv[0]) + 8;
    char *full = malloc(n);
    regex_t rx;
    if (!full) return;
    snprintf(full, n, "^(%s)$", c->argv[0]);
    int rc = regcomp(&rx, full, REG_EXTENDED | REG_NOSUB);
    free(full);
    if (rc) {
        say(c, "bad service pattern %s", c->argv[0]);
        return;
    }
    for (size_t i = 0; i < q->nrefs; i++) {
        char key[700];
        ref_key(q->refs[i], key, sizeof(key));
        if (regexec(&rx, key, 0, NULL, 0) != 0) continue;
        dubbo_buf_t steps;
        dubbo_buf_init(&steps, 0);
        size_t all = 0, valid = 0;
        dubbo__reference_snapshot(q->refs[i], &all, &valid, &steps);
        say(c, "%s@%" PRIxPTR "\n[ All Invokers:%zu ] [ Valid Invokers: %zu ]\n\n%.*s\n\n", key,
            (uintptr_t)q->refs[i], all, valid, (int)steps.len, (const char *)steps.base);
        dubbo_buf_destroy(&steps);
    }
    regfree(&rx);
}

static void cmd_log_level(dubbo_qos_t *q, ctx_t *c)
{
    (void)q;
    if (c->argc != 1) {
        say(c, "Unexpected argument length.");
        return;
    }
    /* Java's 0..6 and level names; ours has no ALL or TRACE: they are DEBUG */
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"0", DUBBO_LOG_DEBUG},     {"1", DUBBO_LOG_DEBUG},   {"2", DUBBO_LOG_DEBUG},
                  {"3", DUBBO_LOG_INFO},      {"4", DUBBO_LOG_WARN},    {"5", DUBBO_LOG_ERROR},
                  {"6", DUBBO_LOG_OFF},       {"all", DUBBO_LOG_DEBUG}, {"trace", DUBBO_LOG_DEBUG},
                  {"debug", DUBBO_LOG_DEBUG}, {"info", DUBBO_LOG_INFO}, {"warn", DUBBO_LOG_WARN},
                  {"error", DUBBO_LOG_ERROR}, {"off", DUBBO_LOG_OFF}};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (strcasecmp(c->argv[0], levels[i].name) == 0) {
            dubbo__log_set_level(levels[i].level);
            say(c, "OK");
            return;
        }
    say(c, "No enum constant org.apache.dubbo.common.logger.Level.%s", c->argv[0]);
}

/* ---- metrics ---- */

static void label_value(char *dst, size_t cap, const char *s)
{
    size_t k = 0;
    for (; *s && k + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') dst[k++] = '\\';
        dst[k++] = *s == '\n' ? 'n' : *s;
    }
    dst[k] = '\0';
}

static void gauge(ctx_t *c, const char *name, const char *type, const char *help,
                  const char *labels, double v)
{
    say(c, "# HELP %s %s\n# TYPE %s %s\n%s{%s} %.17g\n", name, help, name, type, name, labels, v);
}

/* RSS, virtual size, threads (/proc/self/status), open and max fds, CPU
 * seconds (/proc/self/stat): the Prometheus client libraries' process
 * metrics, by their names. */
static void process_metrics(ctx_t *c, const char *labels)
{
    long rss_kb = -1, vm_kb = -1, threads = -1;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) rss_kb = atol(line + 6);
        if (strncmp(line, "VmSize:", 7) == 0) vm_kb = atol(line + 7);
        if (strncmp(line, "Threads:", 8) == 0) threads = atol(line + 8);
    }
    if (f) fclose(f);
    long fds = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));)
        fds += e->d_name[0] != '.';
    if (d) closedir(d);
    struct rlimit rl;
    double maxfds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : -1;
    double cpu = -1;
    if ((f = fopen("/proc/self/stat", "r"))) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        const char *p = strrchr(buf, ')'); /* the name may hold blanks */
        unsigned long ut = 0, st = 0;
        if (p &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    if (rss_kb >= 0)
        gauge(c, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", labels,
              (double)rss_kb * 1024);
    if (vm_kb >= 0)
        gauge(c, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", labels,
              (double)vm_kb * 1024);
    gauge(c, "process_open_fds", "gauge", "Number of open file descriptors.", labels, (double)fds);
    if (maxfds >= 0)
        gauge(c, "process_max_fds", "gauge", "Maximum number of open file descriptors.", labels,
              maxfds);
    if (threads >= 0)
        gauge(c, "process_threads", "gauge", "Number of OS threads in the process.", labels,
              (double)threads);
    if (cpu >= 0)
        gauge(c, "process_cpu_seconds_total", "counter",
              "Total user and system CPU time spent in seconds.", labels, cpu);
}

/* Java's thread pool metrics (dubbo.thread.pool.*), one pool per port. */
static void pool_metrics(dubbo_qos_t *q, ctx_t *c, const char *labels)
{
    static const struct {
        const char *name, *help;
    } pools[] = {
        {"dubbo_thread_pool_core_size", "Thread Pool Core Size"},
        {"dubbo_thread_pool_largest_size", "Thread Pool Largest Size"},
        {"dubbo_thread_pool_max_size", "Thread Pool Max Size"},
        {"dubbo_thread_pool_active_size", "Thread Pool Active Size"},
        {"dubbo_thread_pool_thread_count", "Thread Pool Thread Count"},
        {"dubbo_thread_pool_queue_size", "Thread Pool Queue Size"},
    };
    if (!q->nservers) return;
    for (size_t k = 0; k < sizeof(pools) / sizeof(pools[0]); k++) {
        say(c, "# HELP %s %s\n# TYPE %s gauge\n", pools[k].name, pools[k].help, pools[k].name);
        for (size_t i = 0; i < q->nservers; i++) {
            dubbo__server_info_t in;
            dubbo__server_info(q->servers[i], &in);
            /* workers start on demand up to max and stay: the core is the
             * max, as Java's fixed pool; largest is what was started */
            int v[] = {in.max_threads, in.threads, in.max_threads,
                       in.active,      in.threads, in.queued};
            say(c, "%s{%s,thread_pool_name=\"DubboServerHandler-%s:%d\"} %d\n", pools[k].name,
                labels, dubbo_local_ip(), in.port, v[k]);
        }
    }
    /* Java's rejected-task count: requests refused because the pool and
     * its queue were full (answered SERVER_THREADPOOL_EXHAUSTED) */
    say(c, "# HELP dubbo_thread_pool_reject_thread_count Thread Pool Reject Thread Count\n"
           "# TYPE dubbo_thread_pool_reject_thread_count counter\n");
    for (size_t i = 0; i < q->nservers; i++) {
        dubbo__server_info_t in;
        dubbo__server_info(q->servers[i], &in);
        say(c,
            "dubbo_thread_pool_reject_thread_count{%s,thread_pool_name=\"DubboServerHandler-%s:%"
            "d\"} %ld\n",
            labels, dubbo_local_ip(), in.port, in.rejected);
    }
}

static void cmd_metrics(dubbo_qos_t *q, ctx_t *c)
{
    char host[256] = "", app[256], labels[1024], h[300], a[300];
    gethostname(host, sizeof(host) - 1);
    const char *name = q->o.application;
    if (!name && q->nservers) {
        dubbo__server_info_t in;
        dubbo__server_info(q->servers[0], &in);
        name = in.application;
    }
    snprintf(app, sizeof(app), "%s", name ? name : "dubbo-c");
    label_value(h, sizeof(h), host);
    label_value(a, sizeof(a), app);
    snprintf(labels, sizeof(labels), "application_name=\"%s\",hostname=\"%s\",ip=\"%s\"", a, h,
             dubbo_local_ip());
    dubbo__metrics_write(&c->out, labels);
    dubbo__op_write(&c->out, labels);
    pool_metrics(q, c, labels);
    process_metrics(c, labels);
    c->type = "text/plain; version=0.0.4; charset=utf-8";
}

static void cmd_quit(dubbo_qos_t *q, ctx_t *c)
{
    (void)q;
    c->close = true;
}

static const command_t commands[] = {
    {"help", "help command", "help\nhelp online", cmd_help},
    {"version", "version command(show dubbo version)", "version", cmd_version},
    {"ls", "ls service", "ls", cmd_ls},
    {"ps", "Print server ports and connections.", "ps -l [port]\nps\nps -l\nps -l 20880", cmd_ps},
    {"invoke", "Invoke the service method.",
     "invoke IHelloService.sayHello(\"xxxx\")\ninvoke org.x.IHelloService.sayHello(\"xxxx\", 1)",
     cmd_invoke},
    {"online", "online app addresses", "online dubbo\nonline xx.xx.xxx.service", cmd_online},
    {"onlineApp", "online app addresses", "onlineApp xx.xx.xxx.service", cmd_online},
    {"onlineInterface", "online interface addresses", "onlineInterface xx.xx.xxx.service",
     cmd_online},
    {"offline", "offline app addresses", "offline dubbo\noffline xx.xx.xxx.service", cmd_offline},
    {"offlineApp", "offline app addresses", "offlineApp xx.xx.xxx.service", cmd_offline},
    {"offlineInterface", "offline interface addresses", "offlineInterface xx.xx.xxx.service",
     cmd_offline},
    {"ready", "Judge if service is ready to work? ", "ready", cmd_ready},
    {"live", "Judge if service is alive? ", "live", cmd_live},
    {"startup", "Judge if service has started? ", "startup", cmd_startup},
    {"getRouterSnapshot", "Get State Router Snapshot.", "getRouterSnapshot xx.xx.xxx.service",
     cmd_router_snapshot},
    {"switchLogLevel", "Switch log level", "switchLogLevel info", cmd_log_level},
    {"metrics", "Prometheus metrics (also GET /metrics)", "metrics", cmd_metrics},
    {"quit", "quit telnet console", "quit", cmd_quit},
    {"exit", "exit telnet console", "exit", cmd_quit},
};
static const size_t ncommands = sizeof(commands) / sizeof(commands[0]);

static const command_t *command_find(const char *name)
{
    for (size_t i = 0; i < ncommands; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static void cmd_help(dubbo_qos_t *q, ctx_t *c)
{
    (void)q;
    table_t t = {0};
    if (c->argc) {
        const command_t *cmd = command_find(c->argv[0]);
        if (!cmd) {
            say(c, "no such command:%s", c->argv[0]);
            return;
        }
        row(&t, "COMMAND NAME", cmd->name);
        row(&t, "EXAMPLE", cmd->example);
        draw(c, &t, false);
        return;
    }
    row(&t, "COMMAND NAME", "COMMAND DESC");
    for (size_t i = 0; i < ncommands; i++)
        row(&t, commands[i].name, commands[i].summary);
    draw(c, &t, false);
}

/* Run c->cmd; the answer in c (out, code, type, close). */
static void run(dubbo_qos_t *q, ctx_t *c)
{
    c->code = 200;
    const command_t *cmd = command_find(c->cmd);
    if (!cmd) {
        say(c, "%s%s%s :no such command", c->cmd, *c->line ? " " : "", c->line);
        c->code = 404;
        return;
    }
    pthread_mutex_lock(&q->mu);
    cmd->run(q, c);
    pthread_mutex_unlock(&q->mu);
}

static void qos_execute(dubbo_call_t *call, void *user)
{
    dubbo_qos_t *q = user;
    size_t n = dubbo_call_nargs(call);
    const char *argv[66];
    for (size_t i = 0; i < n && i < 66; i++) {
        const dubbo_value_t *v = dubbo_call_arg(call, i);
        argv[i] = v->type == DUBBO_T_STRING ? v->u.s.ptr : "";
    }
    ctx_t c = {.cmd = n ? argv[0] : "",
               .line = n > 1 ? argv[1] : "",
               .argv = argv + 2,
               .argc = n > 2 ? n - 2 : 0};
    dubbo_buf_init(&c.out, 0);
    run(q, &c);
    dubbo_arena_t *a = dubbo_call_arena(call);
    dubbo_call_return(call,
                      dubbo_v_string(a, c.out.len ? (const char *)c.out.base : "", c.out.len));
    dubbo_buf_destroy(&c.out);
    char code[16];
    snprintf(code, sizeof(code), "%d", c.code);
    dubbo_call_set_attachment(call, QOS_ATT_CODE, code);
    if (c.type) dubbo_call_set_attachment(call, QOS_ATT_TYPE, c.type);
    if (c.close) dubbo_call_set_attachment(call, QOS_ATT_CLOSE, "1");
}

char *dubbo_qos_execute(dubbo_qos_t *q, const char *line, int *http_code)
{
    /* the telnet form: the command, then the arguments split on blanks */
    char *copy = strdup(line ? line : "");
    char *toks[66];
    size_t n = 0;
    if (!copy) return NULL;
    const char *rest = copy + strspn(copy, " \t");
    rest += strcspn(rest, " \t");
    rest += strspn(rest, " \t");
    char *rest_copy = strdup(rest);
    for (char *save = NULL, *t = strtok_r(copy, " \t\r\n", &save); t && n < 66;
         t = strtok_r(NULL, " \t\r\n", &save))
        toks[n++] = t;
    ctx_t c = {.cmd = n ? toks[0] : "",
               .line = rest_copy ? rest_copy : "",
               .argv = (const char *const *)toks + 1,
               .argc = n ? n - 1 : 0};
    dubbo_buf_init(&c.out, 0);
    run(q, &c);
    if (http_code) *http_code = c.code;
    char *out = malloc(c.out.len + 1);
    if (out) {
        if (c.out.len) memcpy(out, c.out.base, c.out.len);
        out[c.out.len] = '\0';
    }
    dubbo_buf_destroy(&c.out);
    free(copy);
    free(rest_copy);
    return out;
}

/* ---- the port ---- */

void dubbo_qos_options_init(dubbo_qos_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->version = DUBBO_QOS_OPTIONS_VERSION;
    o->port = 22222;
}

dubbo_qos_t *dubbo_qos_start(const dubbo_qos_options_t *opts)
{
    dubbo_qos_t *q = calloc(1, sizeof(*q));
    if (!q) return NULL;
    if (opts)
        q->o = *opts;
    else
        dubbo_qos_options_init(&q->o);
    if (q->o.application && !(q->o.application = strdup(q->o.application))) {
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    dubbo_server_options_t so;
    dubbo_server_options_init(&so);
    so.host = q->o.host ? q->o.host : q->o.accept_foreign_ip ? "0.0.0.0" : "127.0.0.1";
    so.port = q->o.port;
    so.protocols = "qos";
    so.threads = 1; /* one command at a time, answered in order */
    so.queue = 64;
    so.payload = (size_t)1 << 20; /* Java's aggregator limit */
    so.shutdown_timeout_ms = 1000;
    so.application = "dubbo-qos";
    static const dubbo_method_t methods[] = {{QOS_METHOD, qos_execute}};
    static const char *const params[] = {"filter", "-default", NULL};
    dubbo_service_t svc = {
        .interface = QOS_SERVICE, .methods = methods, .nmethods = 1, .user = q, .params = params};
    if (!(q->srv = dubbo_server_new(&so)) || dubbo_server_export(q->srv, &svc) ||
        dubbo_server_start(q->srv)) {
        char msg[512];
        int code = dubbo__last_code();
        snprintf(msg, sizeof(msg), "%s", dubbo_last_error());
        dubbo_qos_stop(q);
        dubbo__seterr(code ? code : DUBBO_ENOMEM, "qos: cannot serve port %d: %s", so.port, msg);
        return NULL;
    }
    DLOG_INFO("qos: serving telnet and HTTP on %s:%d", so.host, dubbo_server_port(q->srv));
    return q;
}

int dubbo_qos_port(const dubbo_qos_t *q)
{
    return dubbo_server_port(q->srv);
}

static int add(dubbo_qos_t *q, void ***list, size_t *n, void *item)
{
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < *n; i++)
        if ((*list)[i] == item) {
            pthread_mutex_unlock(&q->mu);
            return dubbo__seterr(DUBBO_EEXISTS, "qos: already added");
        }
    void **nl = realloc(*list, (*n + 1) * sizeof(void *));
    if (!nl) {
        pthread_mutex_unlock(&q->mu);
        return dubbo__seterr(DUBBO_ENOMEM, "qos: out of memory");
    }
    *list = nl;
    nl[(*n)++] = item;
    pthread_mutex_unlock(&q->mu);
    return 0;
}

static void drop(dubbo_qos_t *q, void **list, size_t *n, void *item)
{
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < *n; i++)
        if (list[i] == item) {
            memmove(list + i, list + i + 1, (*n - i - 1) * sizeof(void *));
            (*n)--;
            break;
        }
    pthread_mutex_unlock(&q->mu);
}

int dubbo_qos_add_server(dubbo_qos_t *q, dubbo_server_t *s)
{
    return add(q, (void ***)&q->servers, &q->nservers, s);
}

void dubbo_qos_remove_server(dubbo_qos_t *q, dubbo_server_t *s)
{
    if (q) drop(q, (void **)q->servers, &q->nservers, s);
}

int dubbo_qos_add_reference(dubbo_qos_t *q, dubbo_reference_t *ref)
{
    return add(q, (void ***)&q->refs, &q->nrefs, ref);
}

void dubbo_qos_remove_reference(dubbo_qos_t *q, dubbo_reference_t *ref)
{
    if (q) drop(q, (void **)q->refs, &q->nrefs, ref);
}

void dubbo_qos_stop(dubbo_qos_t *q)
{
    if (!q) return;
    dubbo_server_free(q->srv);
    pthread_mutex_destroy(&q->mu);
    free(q->servers);
    free(q->refs);
    free((char *)q->o.application);
    free(q);
}
