/* The demo service's handlers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "demo_service.h"

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
