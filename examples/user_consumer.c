/* user_consumer: calls com.example.UserService (see user_provider.c) over
 * the Dubbo protocol, as a Java consumer would, and prints the answers.
 *
 * Usage: user_consumer [URL]
 *   URL defaults to dubbo://127.0.0.1:20880/com.example.UserService
 *   (add ?version=...&group=...&timeout=MS as needed). */
#include <stdio.h>

#include "dubbo/error.h"
#include "dubbo/rpc.h"

/* Make one call and check its outcome; prints why on failure. */
static int call(dubbo_client_t *c, const char *method, dubbo_value_t *arg, dubbo_result_t *r)
{
    dubbo_value_t *args[] = {arg};
    /* No .desc: the parameter types are derived from the arguments
     * (a long gives "J", a com.example.User object "Lcom/example/User;"). */
    dubbo_invocation_t inv = {.method = method, .args = args, .nargs = 1};
    int rc = dubbo_client_call(c, &inv, r);
    if (rc) { /* nothing came back: timeout, connection refused, ... */
        fprintf(stderr, "%s failed: %s\n", method, dubbo_last_error());
        return 1;
    }
    if (r->status != DUBBO_STATUS_OK || r->exception) { /* an error status or a Java exception */
        fprintf(stderr, "%s failed: %s\n", method, r->error);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "dubbo://127.0.0.1:20880/com.example.UserService";
    dubbo_client_t *c = dubbo_client_new(url); /* connects on the first call */
    if (!c) {
        fprintf(stderr, "user_consumer: %s\n", dubbo_last_error());
        return 1;
    }
    /* Arguments live in an arena; one free releases them all. */
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;
    int failed = call(c, "getUser", dubbo_v_long(a, 42), &r);
    if (!failed) {
        /* The answer is a com.example.User object; read its fields by name. */
        const dubbo_value_t *name = dubbo_object_get(r.value, "name");
        const dubbo_value_t *age = dubbo_object_get(r.value, "age");
        const dubbo_value_t *email = dubbo_object_get(r.value, "email");
        failed = !name || name->type != DUBBO_T_STRING || !age || age->type != DUBBO_T_INT ||
                 !email || email->type != DUBBO_T_STRING;
        if (failed)
            fprintf(stderr, "getUser: the answer is not a User\n");
        else
            printf("getUser(42) = User{name=%s, age=%d, email=%s}\n", name->u.s.ptr, age->u.i,
                   email->u.s.ptr);
    }
    dubbo_result_destroy(&r); /* frees the answer's values */

    /* Build a User to send: a class (name + field names), then an object. */
    static const char *const fields[] = {"name", "age", "email"};
    dubbo_value_t *ann = dubbo_v_object(a, dubbo_class_new(a, "com.example.User", 3, fields));
    dubbo_object_set(ann, "name", dubbo_v_cstr(a, "Ann"));
    dubbo_object_set(ann, "age", dubbo_v_int(a, 36));
    dubbo_object_set(ann, "email", dubbo_v_cstr(a, "ann@example.com"));
    if (!failed) {
        failed = call(c, "greet", ann, &r);
        if (!failed && r.value->type == DUBBO_T_STRING) /* a Java String */
            printf("greet(Ann) = %s\n", r.value->u.s.ptr);
        dubbo_result_destroy(&r);
    }

    dubbo_arena_free(a);
    dubbo_client_free(c);
    return failed;
}
