/* The demo service's handlers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "demo_service.h"
#include "dubbo/rest.h"

static void say_hello(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *name = dubbo_call_arg(call, 0);
    if (!name || (name->type != DUBBO_T_STRING && name->type != DUBBO_T_NULL)) {
        dubbo_call_throw(call, "java.lang.IllegalArgumentException",
                         "sayHello(String name): the argument must be a string");
        return;
    }
    dubbo_arena_t *a = dubbo_call_arena(call);
    const char *n = name->type == DUBBO_T_STRING ? name->u.s.ptr : "null";
    size_t nl = name->type == DUBBO_T_STRING ? name->u.s.len : 4;
    char *s = dubbo_arena_alloc(a, nl + 7);
    if (!s) {
        dubbo_call_fail(call, 80, "out of memory");
        return;
    }
    memcpy(s, "Hello ", 6);
    memcpy(s + 6, n, nl);
    dubbo_call_return(call, dubbo_v_string(a, s, nl + 6));
}

static void echo(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_call_arg(call, 0));
}

static void whoami(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), dubbo_call_local(call)));
}

static void sleep_ms(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *ms = dubbo_call_arg(call, 0);
    long v = ms && ms->type == DUBBO_T_INT    ? ms->u.i
             : ms && ms->type == DUBBO_T_LONG ? (long)ms->u.l
                                              : -1;
    if (v < 0) {
        dubbo_call_throw(call, "java.lang.IllegalArgumentException",
                         "sleep(int ms): the argument must be a non-negative int");
        return;
    }
    struct timespec ts = {v / 1000, (v % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
    dubbo_call_return(call, NULL);
}

static void fail(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *m = dubbo_call_arg(call, 0);
    dubbo_call_throw(call, "java.lang.IllegalStateException",
                     m && m->type == DUBBO_T_STRING ? m->u.s.ptr : NULL);
}

/* attachment(key): the consumer's attachment `key` (null when absent), and
 * the same value back as the response attachment "echo-<key>". */
static void attachment(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *k = dubbo_call_arg(call, 0);
    if (!k || k->type != DUBBO_T_STRING) {
        dubbo_call_throw(call, "java.lang.IllegalArgumentException",
                         "attachment(String key): the argument must be a string");
        return;
    }
    const char *v = dubbo_call_attachment(call, k->u.s.ptr);
    if (!v) {
        dubbo_call_return(call, NULL);
        return;
    }
    char key[256];
    snprintf(key, sizeof(key), "echo-%s", k->u.s.ptr);
    dubbo_call_set_attachment(call, key, v);
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), v));
}

static void peer(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), dubbo_call_remote(call)));
}

static const dubbo_method_t methods[] = {
    {"sayHello", say_hello}, {"echo", echo}, {"whoami", whoami},
    {"sleep", sleep_ms},     {"fail", fail}, {"attachment", attachment},
    {"peer", peer},
};

static const dubbo_service_t service = {
    .interface = DEMO_INTERFACE,
    .methods = methods,
    .nmethods = sizeof(methods) / sizeof(methods[0]),
};

const dubbo_service_t *demo_service(void)
{
    return &service;
}

/* com.example.UserService: echo(User) returns its argument unchanged, so a
 * peer can check that every Java type in a User survives our decoder and
 * encoder. */
static const dubbo_method_t user_methods[] = {{"echo", echo}};

static const dubbo_service_t user_service_desc = {
    .interface = USER_INTERFACE,
    .methods = user_methods,
    .nmethods = sizeof(user_methods) / sizeof(user_methods[0]),
};

const dubbo_service_t *user_service(void)
{
    return &user_service_desc;
}

/* ---- REST (include/dubbo/rest.h): DemoService's HTTP mapping ---------- */

static const dubbo_rest_param_t p_name_path[] = {{DUBBO_REST_PATH, "name", NULL, NULL}};
static const dubbo_rest_param_t p_name_query[] = {{DUBBO_REST_QUERY, "name", NULL, NULL}};
static const dubbo_rest_param_t p_body_object[] = {{DUBBO_REST_BODY, NULL, "object", NULL}};
static const dubbo_rest_param_t p_ms_form[] = {{DUBBO_REST_FORM, "ms", "int", NULL}};
static const dubbo_rest_param_t p_body_text[] = {{DUBBO_REST_BODY, NULL, "string", NULL}};
static const dubbo_rest_param_t p_key_path[] = {{DUBBO_REST_PATH, "key", NULL, NULL}};

static const dubbo_rest_mapping_t demo_mappings[] = {
    {"sayHello", "GET", "/demo/hello/{name}", p_name_path, 1, NULL, NULL, NULL},
    {"sayHello", "GET", "/demo/hello", p_name_query, 1, NULL, NULL, NULL},
    {"echo", "POST", "/demo/echo", p_body_object, 1, "application/json", NULL, NULL},
    {"whoami", "GET", "/demo/whoami", NULL, 0, NULL, NULL, NULL},
    {"sleep", "POST", "/demo/sleep", p_ms_form, 1, NULL, NULL, NULL},
    {"fail", "POST", "/demo/fail", p_body_text, 1, "text/plain", NULL, NULL},
    {"attachment", "GET", "/demo/attachment/{key}", p_key_path, 1, NULL, NULL, NULL},
    {"peer", "GET", "/demo/peer", NULL, 0, NULL, NULL, NULL},
};

/* The demo page (tools/demo_page.html, compiled in as demo_page_html). */
extern const char demo_page_html[];
extern const unsigned long demo_page_html_len;

static void page(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(
        call, dubbo_v_string(dubbo_call_arena(call), demo_page_html, (size_t)demo_page_html_len));
}

static const dubbo_method_t page_methods[] = {{"page", page}};
static const dubbo_service_t page_service = {
    .interface = PAGE_INTERFACE,
    .methods = page_methods,
    .nmethods = 1,
};
static const dubbo_rest_mapping_t page_mappings[] = {
    {"page", "GET", "/", NULL, 0, NULL, "text/html", NULL},
};

const dubbo_service_t *demo_page_service(void)
{
    return &page_service;
}

int demo_rest_bind(void)
{
    dubbo_rest_service_t demo = {.interface = DEMO_INTERFACE,
                                 .mappings = demo_mappings,
                                 .nmappings = sizeof(demo_mappings) / sizeof(demo_mappings[0])};
    dubbo_rest_service_t pg = {
        .interface = PAGE_INTERFACE, .mappings = page_mappings, .nmappings = 1};
    int rc = dubbo_rest_register(&demo);
    return rc ? rc : dubbo_rest_register(&pg);
}
