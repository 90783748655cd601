/* install_consumer: a program built outside the tree against the INSTALLED
 * dubbo-c (tests/install/run.sh builds it with pkg-config and with CMake's
 * find_package). It checks the version macros against dubbo_version(),
 * serves com.example.Echo in-process and calls it through a reference, and,
 * given a provider URL, calls that provider's sayHello too.
 *
 * Usage: install_consumer [DEMO_SERVICE_URL]
 * Prints what it did; exit status 0 when every step worked. */
#include <stdio.h>
#include <string.h>

/* Every public header, so that each is known to compile on its own from
 * the installed include directory (triple.h pulls in protobuf-c's). */
#include "dubbo/buf.h"
#include "dubbo/cluster.h"
#include "dubbo/config.h"
#include "dubbo/error.h"
#include "dubbo/extension.h"
#include "dubbo/hessian2.h"
#include "dubbo/protocol.h"
#include "dubbo/registry.h"
#include "dubbo/rpc.h"
#include "dubbo/serialization.h"
#include "dubbo/triple.h"
#include "dubbo/url.h"
#include "dubbo/value.h"
#include "dubbo/version.h"

/* String echo(String s): answers its argument. */
static void echo(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *s = dubbo_call_arg(call, 0);
    if (!s || s->type != DUBBO_T_STRING) {
        dubbo_call_throw(call, "java.lang.IllegalArgumentException", "echo(String s)");
        return;
    }
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), s->u.s.ptr));
}

/* Call `method` with one string through a reference to `url` and expect
 * the string `want` back. 0 or 1. */
static int call_one(const char *url, const char *method, const char *arg, const char *want)
{
    static const char *const params[] = {"timeout", "5000", NULL};
    dubbo_reference_t *ref = dubbo_reference_new(url, params);
    if (!ref) {
        fprintf(stderr, "reference %s: %s\n", url, dubbo_last_error());
        return 1;
    }
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *args[] = {dubbo_v_cstr(a, arg)};
    dubbo_invocation_t inv = {.method = method, .args = args, .nargs = 1};
    dubbo_result_t r;
    int rc = dubbo_reference_call(ref, &inv, &r);
    int failed = 1;
    if (rc)
        fprintf(stderr, "%s %s: %s (%s)\n", url, method, dubbo_err_name(rc), dubbo_last_error());
    else if (r.status != DUBBO_STATUS_OK || r.exception || !r.value ||
             r.value->type != DUBBO_T_STRING)
        fprintf(stderr, "%s %s: not a string: %s\n", url, method, r.error ? r.error : "");
    else if (strcmp(r.value->u.s.ptr, want) != 0)
        fprintf(stderr, "%s %s: got \"%s\", want \"%s\"\n", url, method, r.value->u.s.ptr, want);
    else {
        printf("%s(\"%s\") = \"%s\"\n", method, arg, r.value->u.s.ptr);
        failed = 0;
    }
    dubbo_result_destroy(&r);
    dubbo_arena_free(a);
    dubbo_reference_free(ref);
    return failed;
}

int main(int argc, char **argv)
{
    char compiled[32];
    snprintf(compiled, sizeof(compiled), "%d.%d.%d", DUBBO_VERSION_MAJOR, DUBBO_VERSION_MINOR,
             DUBBO_VERSION_PATCH);
    printf("dubbo-c %s (compiled against %s)\n", dubbo_version(), DUBBO_VERSION_STRING);
    if (strcmp(dubbo_version(), DUBBO_VERSION_STRING) != 0 ||
        strcmp(compiled, DUBBO_VERSION_STRING) != 0) {
        fprintf(stderr, "version mismatch: %s, %s, %s\n", dubbo_version(), DUBBO_VERSION_STRING,
                compiled);
        return 1;
    }

    /* A provider in this process, on a free port of the loopback. */
    dubbo_server_options_t opts;
    dubbo_server_options_init(&opts);
    opts.host = "127.0.0.1";
    opts.port = 0;
    opts.shutdown_timeout_ms = 1000;
    static const dubbo_method_t methods[] = {{"echo", echo}};
    dubbo_service_t svc = {.interface = "com.example.Echo", .methods = methods, .nmethods = 1};
    dubbo_server_t *server = dubbo_server_new(&opts);
    if (!server || dubbo_server_export(server, &svc) || dubbo_server_start(server)) {
        fprintf(stderr, "server: %s\n", dubbo_last_error());
        dubbo_server_free(server);
        return 1;
    }
    char url[128];
    snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/com.example.Echo", dubbo_server_port(server));
    int failed = call_one(url, "echo", "installed", "installed");

    /* A provider of another build (the test's dubbo demo provider). */
    if (argc > 1) failed |= call_one(argv[1], "sayHello", "install", "Hello install");

    dubbo_server_shutdown(server);
    dubbo_server_free(server);
    printf("%s\n", failed ? "FAILED" : "ok");
    return failed;
}
