/* user_provider: a Dubbo provider of com.example.UserService, written with
 * dubbo-c. A Java consumer sees it as this interface:
 *
 *   public interface UserService {
 *       User getUser(long id);
 *       String greet(User u);
 *   }
 *   public class User implements Serializable { String name; int age; String email; }
 *
 * Usage: user_provider [PORT]   (default 20880; 0 picks a free port)
 * It prints "listening on 127.0.0.1:PORT" and serves until SIGTERM or Ctrl-C. */
#include <stdio.h>
#include <stdlib.h>

#include "dubbo/error.h"
#include "dubbo/rpc.h"

/* The Java class of a User and its fields, in the order Java writes them. */
static const char *const user_fields[] = {"name", "age", "email"};

/* User getUser(long id). Handlers run on worker threads; every value they
 * return must be allocated in the call's arena, freed after the answer. */
static void get_user(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *id = dubbo_call_arg(call, 0);
    if (!id || id->type != DUBBO_T_LONG) {
        /* The consumer receives this as a Java exception. */
        dubbo_call_throw(call, "java.lang.IllegalArgumentException", "getUser(long id)");
        return;
    }
    dubbo_arena_t *a = dubbo_call_arena(call);
    dubbo_class_t *cls = dubbo_class_new(a, "com.example.User", 3, user_fields);
    dubbo_value_t *u = dubbo_v_object(a, cls);
    char name[32], email[64];
    snprintf(name, sizeof(name), "user%lld", (long long)id->u.l);
    snprintf(email, sizeof(email), "%s@example.com", name);
    dubbo_object_set(u, "name", dubbo_v_cstr(a, name));
    dubbo_object_set(u, "age", dubbo_v_int(a, (int)(20 + id->u.l % 50)));
    dubbo_object_set(u, "email", dubbo_v_cstr(a, email));
    dubbo_call_return(call, u);
}

/* String greet(User u) */
static void greet(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *u = dubbo_call_arg(call, 0);
    /* dubbo_object_get returns NULL when u is not an object or lacks the field. */
    const dubbo_value_t *name = dubbo_object_get(u, "name");
    const dubbo_value_t *age = dubbo_object_get(u, "age");
    if (!name || name->type != DUBBO_T_STRING || !age || age->type != DUBBO_T_INT) {
        dubbo_call_throw(call, "java.lang.IllegalArgumentException",
                         "greet(User u): u needs a name and an age");
        return;
    }
    char text[256];
    snprintf(text, sizeof(text), "Hello, %s (%d)!", name->u.s.ptr, age->u.i);
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), text));
}

int main(int argc, char **argv)
{
    dubbo_server_options_t opts;
    dubbo_server_options_init(&opts);
    opts.host = "127.0.0.1";
    opts.port = argc > 1 ? atoi(argv[1]) : 20880;

    /* The service: an interface name and its methods (no version or group). */
    static const dubbo_method_t methods[] = {{"getUser", get_user}, {"greet", greet}};
    dubbo_service_t svc = {
        .interface = "com.example.UserService", .methods = methods, .nmethods = 2};

    dubbo_server_handle_signals(); /* SIGTERM/SIGINT end dubbo_server_wait() */
    dubbo_server_t *server = dubbo_server_new(&opts);
    if (!server || dubbo_server_export(server, &svc) || dubbo_server_start(server)) {
        fprintf(stderr, "user_provider: %s\n", dubbo_last_error());
        dubbo_server_free(server);
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", dubbo_server_port(server));
    fflush(stdout);

    dubbo_server_wait();
    /* Graceful: consumers are told, running calls finish, then it closes. */
    dubbo_server_shutdown(server);
    dubbo_server_free(server);
    printf("stopped\n");
    return 0;
}
