/* Protocols are plugins (include/dubbo/protocol.h): a new one is served
 * beside Dubbo on the same port without a line of the runtime changing.
 * The test registers "line", a toy text protocol that exists only here (a
 * request is "L <service> <method> <argument>\n", an answer "#<n> OK
 * <text>\n" or "#<n> ERR <status> <message>\n" where n counts the
 * connection's requests, goaway "BYE\n", and "PING\n" once a connection
 * has been quiet for a second), and checks detection, per-connection state,
 * answers framed on the loop thread, the tick, dispatch through the real
 * service table and filters, refusal of unknown bytes, the goaway at
 * shutdown, and the errors for bad protocol lists. */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/error.h"
#include "dubbo/extension.h"
#include "dubbo/protocol.h"
#include "dubbo/rpc.h"
#include "core/internal.h"
#include "runtime/call.h"
#include "test.h"
#include "test_server.h"

#define IFACE "org.x.Proto"

static int line_detect(const uint8_t *p, size_t n)
{
    if (n == 0) return DUBBO_DETECT_MORE;
    return p[0] == 'L' ? DUBBO_DETECT_YES : DUBBO_DETECT_NO;
}

static int64_t line_cut(const uint8_t *p, size_t n, size_t limit, size_t *total)
{
    *total = 0;
    const uint8_t *nl = memchr(p, '\n', n);
    if (nl) return nl - p + 1;
    if (n > limit) return dubbo__seterr(DUBBO_ETOO_BIG, "line: no newline in %zu bytes", n);
    return 0;
}

/* The per-connection state: requests so far, when the last came, and
 * whether this quiet spell was pinged. */
typedef struct {
    uint64_t n, last_ms;
    bool pinged;
    int *closed; /* counts conn_close calls (the test's) */
} line_conn_t;

static int closed_conns;

static void *line_conn_open(dubbo_sconn_t *c)
{
    (void)c;
    line_conn_t *st = calloc(1, sizeof(*st));
    if (st) st->closed = &closed_conns;
    return st;
}

static void line_conn_close(void *state)
{
    line_conn_t *st = state;
    if (st) (*st->closed)++;
    free(st);
}

static int line_on_unit(dubbo_sconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u)
{
    line_conn_t *st = dubbo_sconn_state(c);
    st->n++;
    st->last_ms = (uint64_t)test_now_ms();
    st->pinged = false;
    u->id = st->n;
    u->twoway = true;
    u->tag = 0;
    u->payload = unit + 2; /* after "L " */
    u->payload_len = len >= 3 ? len - 3 : 0;
    return 1;
}

static char *word(dubbo_arena_t *a, const char **p, const char *end)
{
    const char *s = *p;
    while (s < end && *s == ' ')
        s++;
    const char *e = s;
    while (e < end && *e != ' ')
        e++;
    *p = e;
    return dubbo_arena_strndup(a, s, (size_t)(e - s));
}

static int line_decode(dubbo_call_t *call, const dubbo_unit_t *u)
{
    dubbo_arena_t *a = dubbo_call_arena(call);
    const char *p = (const char *)u->payload, *end = p + u->payload_len;
    char *service = word(a, &p, end), *method = word(a, &p, end), *arg = word(a, &p, end);
    dubbo_value_t **args = dubbo_arena_alloc(a, sizeof(*args));
    if (!service || !method || !arg || !args) return DUBBO_ENOMEM;
    if (!*method) return dubbo__seterr(DUBBO_EMALFORMED, "line: no method");
    args[0] = dubbo_v_cstr(a, arg);
    dubbo__call_set_request(call, service, NULL, NULL, method, "Ljava/lang/String;", args, 1, NULL);
    return 0;
}

static int line_answer(dubbo_call_t *call, size_t limit, dubbo_buf_t *out)
{
    (void)limit;
    char text[512];
    const dubbo_value_t *v = call->value;
    if (dubbo_call_status(call) == DUBBO_STATUS_OK && !dubbo_call_is_exception(call))
        snprintf(text, sizeof(text), "OK %s\n",
                 v && v->type == DUBBO_T_STRING ? v->u.s.ptr : "null");
    else
        snprintf(text, sizeof(text), "ERR %d %s\n", dubbo_call_status(call),
                 call->error ? call->error : "exception");
    return dubbo_buf_append(out, text, strlen(text));
}

static int line_refuse(const uint8_t *p, size_t n, int status, const char *message,
                       dubbo_buf_t *out)
{
    (void)p;
    (void)n;
    char text[512];
    snprintf(text, sizeof(text), "ERR %d %s\n", status, message);
    return dubbo_buf_append(out, text, strlen(text));
}

static int line_goaway(dubbo_buf_t *out)
{
    return dubbo_buf_append(out, "BYE\n", 4);
}

/* The answer gets its request's number, on the loop thread. */
static int line_on_answer(void *state, dubbo_sconn_t *c, const dubbo_unit_t *u,
                          const uint8_t *bytes, size_t n)
{
    (void)state;
    char head[32];
    snprintf(head, sizeof(head), "#%llu ", (unsigned long long)u->id);
    int rc = dubbo_sconn_send(c, head, strlen(head));
    return rc ? rc : dubbo_sconn_send(c, bytes, n);
}

static void line_tick(void *state, dubbo_sconn_t *c, uint64_t now_ms)
{
    line_conn_t *st = state;
    if (st->n && !st->pinged && now_ms - st->last_ms >= 1000) {
        st->pinged = true;
        dubbo_sconn_send(c, "PING\n", 5);
    }
}

static const dubbo_protocol_ops_t line = {
    .name = "line",
    .detect = line_detect,
    .cut = line_cut,
    .on_unit = line_on_unit,
    .decode = line_decode,
    .answer = line_answer,
    .refuse = line_refuse,
    .goaway = line_goaway,
    .conn_open = line_conn_open,
    .conn_close = line_conn_close,
    .on_answer = line_on_answer,
    .tick = line_tick,
};

static const dubbo_protocol_ops_t consumer_only = {.name = "consumeronly"};
/* a provider side without refuse and goaway */
static const dubbo_protocol_ops_t half = {
    .name = "half",
    .detect = line_detect,
    .cut = line_cut,
    .on_unit = line_on_unit,
    .decode = line_decode,
    .answer = line_answer,
};

static void register_line(void)
{
    static bool done;
    if (done) return;
    done = true;
    CHECK_EQ_INT(dubbo_extension_register(DUBBO_EXT_PROTOCOL, &line), 0);
    CHECK_EQ_INT(dubbo_extension_register(DUBBO_EXT_PROTOCOL, &consumer_only), 0);
    CHECK_EQ_INT(dubbo_extension_register(DUBBO_EXT_PROTOCOL, &half), 0);
}

static dubbo_server_t *serve(const char *protocols)
{
    register_line();
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.threads = 2;
    o.protocols = protocols;
    return test_serve1(&o, 0, IFACE, "sayHello", test_say_hello);
}

/* Read one line (or up to EOF) into buf; the length, 0 on EOF. */
static int read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = recv(fd, buf + n, 1, 0);
        if (r <= 0) break;
        n++;
        if (buf[n - 1] == '\n') break;
    }
    buf[n] = '\0';
    return (int)n;
}

static void say(int fd, const char *text)
{
    CHECK(send(fd, text, strlen(text), 0) == (ssize_t)strlen(text));
}

TEST(dubbo_and_line_on_one_port)
{
    dubbo_server_t *s = serve("dubbo,line");
    CHECK(s != NULL);
    int port = dubbo_server_port(s);
    /* a Dubbo consumer */
    char url[128];
    snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/" IFACE, port);
    dubbo_client_t *c = dubbo_client_new(url);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *arg = dubbo_v_cstr(a, "dubbo");
    dubbo_invocation_t inv = {.method = "sayHello", .args = &arg, .nargs = 1, .timeout_ms = 5000};
    dubbo_result_t r;
    dubbo_result_init(&r);
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_STRING &&
          strcmp(r.value->u.s.ptr, "Hello dubbo") == 0);
    dubbo_result_destroy(&r);
    /* a line consumer, two requests in one write */
    int fd = test_dial(port);
    say(fd, "L " IFACE " sayHello line\nL " IFACE " sayHello again\n");
    char buf[256], buf2[256];
    /* two workers: the answers may come in either order */
    read_line(fd, buf, sizeof(buf));
    read_line(fd, buf2, sizeof(buf2));
    bool in_order = strcmp(buf, "#1 OK Hello line\n") == 0;
    CHECK_EQ_STR(in_order ? buf : buf2, "#1 OK Hello line\n");
    CHECK_EQ_STR(in_order ? buf2 : buf, "#2 OK Hello again\n");
    /* the service table and the filter chain are the same as Dubbo's */
    say(fd, "L org.x.Missing sayHello x\n");
    read_line(fd, buf, sizeof(buf));
    CHECK(strncmp(buf, "#3 ERR 60 Not found exported service: org.x.Missing", 51) == 0);
    say(fd, "L " IFACE " nope x\n");
    read_line(fd, buf, sizeof(buf));
    CHECK(strstr(buf, "#4 ERR 40 Fail to decode request due to: Not found method \"nope\"") == buf);
    /* quiet for a second: the protocol's tick pings, once */
    read_line(fd, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "PING\n");
    /* a second connection has its own count */
    int fd2 = test_dial(port);
    say(fd2, "L " IFACE " sayHello two\n");
    read_line(fd2, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "#1 OK Hello two\n");
    close(fd2);
    /* bytes no protocol claims: closed */
    int bad = test_dial(port);
    say(bad, "XYZ\n");
    CHECK_EQ_INT(read_line(bad, buf, sizeof(buf)), 0);
    close(bad);
    /* shutdown: the line connection gets the line protocol's goaway */
    dubbo_client_free(c);
    dubbo_arena_free(a);
    CHECK_EQ_INT(dubbo_server_shutdown(s), 0);
    read_line(fd, buf, sizeof(buf));
    CHECK_EQ_STR(buf, "BYE\n");
    close(fd);
    dubbo_server_free(s);
    CHECK_EQ_INT(closed_conns, 2); /* every line connection's state freed */
}

TEST(bad_protocol_lists)
{
    CHECK(serve("dubbo,nope") == NULL);
    CHECK(strstr(dubbo_last_error(), "unknown protocol \"nope\" in \"dubbo,nope\"") != NULL);
    CHECK(serve("consumeronly") == NULL);
    CHECK(strstr(dubbo_last_error(), "protocol \"consumeronly\" has no provider side") != NULL);
    CHECK(serve("dubbo,half") == NULL);
    CHECK(strstr(dubbo_last_error(), "protocol \"half\" lacks a provider hook") != NULL);
    /* the default is dubbo alone */
    dubbo_server_t *s = serve(NULL);
    CHECK(s != NULL);
    int fd = test_dial(dubbo_server_port(s));
    say(fd, "L " IFACE " sayHello x\n");
    char buf[256];
    CHECK_EQ_INT(read_line(fd, buf, sizeof(buf)), 0); /* not Dubbo: closed */
    close(fd);
    dubbo_server_free(s);
}

/* The entries under DIR/<interface>/providers whose name starts with
 * `scheme` (URL-encoded: "line%3A%2F%2F"). */
static int entries(const char *dir, const char *scheme)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/" IFACE "/providers", dir);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    size_t l = strlen(scheme);
    for (struct dirent *de; (de = readdir(d));)
        if (strncmp(de->d_name, scheme, l) == 0 && strncmp(de->d_name + l, "%3A%2F%2F", 9) == 0)
            n++;
    closedir(d);
    return n;
}

/* A port serving two protocols registers one URL per protocol; a
 * registry-backed reference makes invokers only for the protocols it can
 * refer to (line has no consumer side), or for its `protocol` only. */
TEST(one_url_per_protocol)
{
    char dir[] = "/tmp/dubbo-proto-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    dubbo_server_t *s = serve("dubbo,line");
    char reg[300], url[400];
    snprintf(reg, sizeof(reg), "file://%s", dir);
    CHECK_EQ_INT(dubbo_server_add_registry(s, reg), 0);
    CHECK_EQ_INT(entries(dir, "dubbo"), 1);
    CHECK_EQ_INT(entries(dir, "line"), 1);
    snprintf(url, sizeof(url), "%s/" IFACE, reg);
    for (int pinned = 0; pinned < 2; pinned++) {
        const char *const params[] = {"protocol", "dubbo", NULL};
        dubbo_reference_t *ref = dubbo_reference_new(url, pinned ? params : NULL);
        CHECK(ref != NULL);
        if (!ref) continue;
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *arg = dubbo_v_cstr(a, "ref");
        dubbo_invocation_t inv = {.method = "sayHello", .args = &arg, .nargs = 1};
        dubbo_result_t r;
        dubbo_result_init(&r);
        CHECK_EQ_INT(dubbo_reference_call(ref, &inv, &r), 0);
        CHECK(r.value && r.value->type == DUBBO_T_STRING &&
              strcmp(r.value->u.s.ptr, "Hello ref") == 0);
        dubbo_result_destroy(&r);
        dubbo_arena_free(a);
        dubbo_reference_free(ref);
    }
    dubbo_server_free(s);
    CHECK_EQ_INT(entries(dir, "dubbo") + entries(dir, "line"), 0); /* withdrawn */
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
}

/* Shutting a server down from its own event-loop thread (here: a
 * dispatcher=direct handler) would wait for that thread for ever: refused
 * with a message instead. */
static dubbo_server_t *self_server;

static void shut_self(dubbo_call_t *call, void *user)
{
    (void)user;
    int rc = dubbo_server_shutdown(self_server);
    char buf[300];
    snprintf(buf, sizeof(buf), "%d %s", rc, rc ? dubbo_last_error() : "");
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), buf));
}

TEST(no_shutdown_from_the_loop)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.direct = true;
    self_server = dubbo_server_new(&o);
    static const dubbo_method_t m[] = {{"shut", shut_self}};
    dubbo_service_t svc = {.interface = IFACE, .methods = m, .nmethods = 1};
    CHECK_EQ_INT(dubbo_server_export(self_server, &svc), 0);
    CHECK_EQ_INT(dubbo_server_start(self_server), 0);
    char url[128];
    snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/" IFACE, dubbo_server_port(self_server));
    dubbo_client_t *c = dubbo_client_new(url);
    dubbo_invocation_t inv = {.method = "shut", .timeout_ms = 5000};
    dubbo_result_t r;
    dubbo_result_init(&r);
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_STRING &&
          strstr(r.value->u.s.ptr,
                 "dubbo_server_shutdown cannot be called on the event-loop thread") != NULL);
    dubbo_result_destroy(&r);
    dubbo_client_free(c);
    dubbo_server_free(self_server); /* from this thread: fine */
}

TEST_MAIN(TEST_ENTRY(dubbo_and_line_on_one_port), TEST_ENTRY(bad_protocol_lists),
          TEST_ENTRY(no_shutdown_from_the_loop), TEST_ENTRY(one_url_per_protocol))
