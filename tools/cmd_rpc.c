/* `dubbo demo provider`, `dubbo call` and `dubbo bench`: the RPC commands
 * of the CLI. Exit status: 0 success, 1 the call or the server failed
 * (message on stderr), 2 bad usage. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "demo_service.h"
#include "dubbo/error.h"
#include "dubbo/cluster.h"
#include "dubbo/config.h"
#include "dubbo/registry.h"
#include "dubbo/rpc.h"
#include "dubbo/value.h"

static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static int usage(const char *who, const char *msg, const char *arg)
{
    fprintf(stderr, "%s: ", who);
    fprintf(stderr, msg, arg);
    fprintf(stderr, "\nTry '%s --help'.\n", who);
    return 2;
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (errno || e == s || *e || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* ---- dubbo demo provider ------------------------------------------------------ */

static const char demo_help[] =
    "usage: %s provider [--port N] [--host ADDR] [--threads N] [--direct] [--shutdown-timeout MS]\n"
    "          [--registry URL]... [--application NAME] [--param KEY=VALUE]... [--config FILE]\n"
    "\n"
    "Serve org.apache.dubbo.demo.DemoService over the Dubbo protocol until SIGTERM or\n"
    "SIGINT, then shut down gracefully: consumers get the readonly event, the port\n"
    "stops accepting, in-flight calls finish (up to --shutdown-timeout, default 10000).\n"
    "\n"
    "Methods: sayHello(String), echo(Object), whoami(), sleep(int ms), fail(String),\n"
    "attachment(String key), peer(); and com.example.UserService: echo(User).\n"
    "Options:\n"
    "  --port N      port to listen on (default 20880; 0 picks a free one)\n"
    "  --host ADDR   address to bind (default 0.0.0.0)\n"
    "  --threads N   worker threads (default 200)\n"
    "  --direct      run handlers on the event-loop thread (Java's dispatcher=direct):\n"
    "                fastest, but sleep() then stalls every other call\n"
    "  --param K=V   a provider URL parameter: weight, token, executes, tps,\n"
    "                accesslog, dubbo.tag, filter, heartbeat (the server's, ms), ...\n"
    "                (repeatable)\n"
    "  --registry URL  register in a registry: file://DIR, zookeeper://host:port,\n"
    "                etcd://host:port (repeatable); default: this machine's embedded\n"
    "                registry (DUBBO_REGISTRY or file:///tmp/dubbo-registry-UID); none: no\n"
    "                registry\n"
    "  --application NAME  application name in the registered URL (default dubbo-c)\n"
    "  --config FILE   application, protocol, services and registries from a YAML file\n"
    "                (docs/configuration.md; the demo serves its DemoService and\n"
    "                UserService entries)\n"
    "Prints 'listening on HOST:PORT' once it accepts calls.\n"
    "Example:\n"
    "  %s provider --port 20880 &\n"
    "  dubbo call dubbo://127.0.0.1:20880/org.apache.dubbo.demo.DemoService sayHello '\"world\"'\n";

int cli_demo(const char *who, int argc, char **argv)
{
    if (argc < 1 || is_help(argv[0])) {
        fprintf(argc < 1 ? stderr : stdout, demo_help, who, who);
        return argc < 1 ? 2 : 0;
    }
    if (strcmp(argv[0], "provider") != 0)
        return usage(who, "unknown demo '%s' (only 'provider')", argv[0]);
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    const char *params[129];
    size_t nparams = 0;
    const char *regs[8];
    size_t nregs = 0;
    const char *config_path = NULL;
    bool port_given = false;
    const char *host_given = NULL;
    for (int i = 1; i < argc; i++) {
        long v;
        const char *a = argv[i];
        if (is_help(a)) {
            printf(demo_help, who, who);
            return 0;
        }
        if (strcmp(a, "--direct") == 0) {
            o.direct = true;
            continue;
        }
        if (i + 1 >= argc) return usage(who, "option '%s' needs a value", a);
        const char *val = argv[++i];
        if (strcmp(a, "--config") == 0) {
            config_path = val;
        } else if (strcmp(a, "--port") == 0) {
            if (!parse_int(val, 0, 65535, &v)) return usage(who, "bad --port '%s'", val);
            port_given = true;
            o.port = (int)v;
        } else if (strcmp(a, "--host") == 0) {
            o.host = val;
            host_given = val;
        } else if (strcmp(a, "--threads") == 0) {
            if (!parse_int(val, 1, 10000, &v)) return usage(who, "bad --threads '%s'", val);
            o.threads = (int)v;
        } else if (strcmp(a, "--shutdown-timeout") == 0) {
            if (!parse_int(val, 1, 3600000, &v))
                return usage(who, "bad --shutdown-timeout '%s'", val);
            o.shutdown_timeout_ms = (int)v;
        } else if (strcmp(a, "--param") == 0) {
            const char *eq = strchr(val, '=');
            if (!eq || eq == val) return usage(who, "--param '%s' is not key=value", val);
            if (nparams + 2 >= sizeof(params) / sizeof(params[0]))
                return usage(who, "too many --param (%s)", val);
            /* split in place: argv strings are ours to modify */
            *(char *)eq = '\0';
            params[nparams++] = val;
            params[nparams++] = eq + 1;
        } else if (strcmp(a, "--registry") == 0) {
            if (nregs == sizeof(regs) / sizeof(regs[0]))
                return usage(who, "too many --registry (%s)", val);
            regs[nregs++] = val;
        } else if (strcmp(a, "--application") == 0) {
            o.application = val;
        } else {
            return usage(who, "unknown option '%s'", a);
        }
    }
    /* --config FILE: application, protocol, services and registries from
     * the YAML (docs/configuration.md); the demo handlers are bound to
     * every service of the demo interface in it. --port still overrides. */
    dubbo_config_t *cfg = NULL;
    if (config_path) {
        cfg = dubbo_config_load_file(config_path);
        if (!cfg) {
            fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
            return 2;
        }
        int port = o.port;
        const char *proto = NULL;
        for (size_t i = 0; i < dubbo_config_service_count(cfg); i++)
            if (strcmp(dubbo_config_service_at(cfg, i)->interface, DEMO_INTERFACE) == 0) {
                proto = dubbo_config_service_at(cfg, i)->protocol;
                break;
            }
        if (dubbo_config_server_options(cfg, proto, &o)) {
            fprintf(stderr, "%s: %s: %s\n", who, config_path, dubbo_last_error());
            dubbo_config_free(cfg);
            return 2;
        }
        if (port_given) o.port = port;
        if (host_given) o.host = host_given;
        o.application = dubbo_config_application(cfg);
    }
    dubbo_server_handle_signals();
    dubbo_server_t *s = dubbo_server_new(&o);
    if (!s) {
        fprintf(stderr, "%s: out of memory\n", who);
        dubbo_config_free(cfg);
        return 1;
    }
    params[nparams] = NULL;
    int rc = 0;
    if (cfg) {
        size_t bound = 0;
        for (size_t i = 0; !rc && i < dubbo_config_service_count(cfg); i++) {
            const dubbo_config_service_t *cs = dubbo_config_service_at(cfg, i);
            const dubbo_service_t *impl =
                strcmp(cs->interface, DEMO_INTERFACE) == 0   ? demo_service()
                : strcmp(cs->interface, USER_INTERFACE) == 0 ? user_service()
                                                             : NULL;
            if (!impl) {
                fprintf(stderr, "%s: %s: service %s (%s) has no handlers in the demo; skipped\n",
                        who, config_path, cs->id, cs->interface);
                continue;
            }
            dubbo_service_t svc;
            rc = dubbo_config_bind_service(cfg, cs->id, impl->methods, impl->nmethods, NULL, &svc);
            if (!rc) rc = dubbo_server_export(s, &svc);
            if (!rc) bound++;
            for (size_t r = 0; !rc && r < cs->nregistries; r++) {
                const dubbo_config_registry_t *reg = dubbo_config_registry(cfg, cs->registries[r]);
                bool dup = false;
                for (size_t k = 0; k < nregs; k++)
                    dup |= reg && strcmp(regs[k], reg->url) == 0;
                if (reg && !dup && nregs < sizeof(regs) / sizeof(regs[0])) regs[nregs++] = reg->url;
            }
        }
        if (!rc && bound == 0) {
            fprintf(stderr, "%s: %s defines no service with interface %s\n", who, config_path,
                    DEMO_INTERFACE);
            dubbo_server_free(s);
            dubbo_config_free(cfg);
            return 2;
        }
    } else {
        dubbo_service_t svc = *demo_service();
        svc.params = params;
        rc = dubbo_server_export(s, &svc);
        dubbo_service_t users = *user_service();
        users.params = params;
        if (!rc) rc = dubbo_server_export(s, &users);
    }
    /* Registries: those given, else the embedded default of this machine
     * (so that two processes find each other out of the box); "none" for
     * none. A given registry that cannot be opened is an error; the
     * default one only a warning. */
    if (!rc && nregs == 0) {
        if (dubbo_server_add_registry(s, dubbo_default_registry()))
            fprintf(stderr, "%s: warning: default registry %s: %s\n", who, dubbo_default_registry(),
                    dubbo_last_error());
        else
            printf("registry %s\n", dubbo_default_registry());
    }
    for (size_t i = 0; !rc && i < nregs; i++) {
        if (strcmp(regs[i], "none") == 0) continue;
        rc = dubbo_server_add_registry(s, regs[i]);
        if (!rc) printf("registry %s\n", regs[i]);
    }
    if (!rc) rc = dubbo_server_start(s);
    if (rc) {
        fprintf(stderr, "%s: %s (%s)\n", who, dubbo_last_error(), dubbo_err_name(rc));
        dubbo_server_free(s);
        dubbo_config_free(cfg);
        return 1;
    }
    printf("listening on %s:%d\n", o.host, dubbo_server_port(s));
    fflush(stdout);
    dubbo_server_wait();
    rc = dubbo_server_shutdown(s);
    dubbo_server_free(s);
    dubbo_config_free(cfg);
    printf("stopped\n");
    return rc ? 1 : 0;
}

/* ---- shared by call and bench ----------------------------------------------------- */

typedef struct {
    const char *url;
    const char *method;
    const char *types;
    int timeout_ms;
    long count;
    long concurrency;
    double duration;
    bool async, oneway;
    dubbo_arena_t *arena;
    dubbo_value_t **args;
    size_t nargs;
    const char *attachments[64];
    size_t natt;
    const char *params[129]; /* --param key, value pairs, NULL-terminated */
    size_t nparams;
    const char *rules[16]; /* --rule router, text pairs */
    size_t nrules;
} call_opts_t;

/* Parse "URL METHOD [ARG...] [options]"; options may come anywhere. */
static int parse_call(const char *who, int argc, char **argv, call_opts_t *o, bool bench,
                      const char *help)
{
    memset(o, 0, sizeof(*o));
    o->count = 1;
    o->concurrency = 1;
    o->duration = 5;
    o->arena = dubbo_arena_new(0);
    o->args = calloc((size_t)argc + 1, sizeof(dubbo_value_t *));
    if (!o->arena || !o->args) return usage(who, "%s", "out of memory");
    int pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        long v;
        if (is_help(a)) {
            printf(help, who, who, who);
            return -1;
        }
        bool opt = a[0] == '-' && a[1] == '-';
        if (opt && strcmp(a, "--async") == 0 && !bench) {
            o->async = true;
            continue;
        }
        if (opt && strcmp(a, "--oneway") == 0 && !bench) {
            o->oneway = true;
            continue;
        }
        if (opt) {
            if (i + 1 >= argc) return usage(who, "option '%s' needs a value", a);
            const char *val = argv[++i];
            if (strcmp(a, "--timeout") == 0) {
                if (!parse_int(val, 1, 86400000, &v)) return usage(who, "bad --timeout '%s'", val);
                o->timeout_ms = (int)v;
            } else if (strcmp(a, "--count") == 0 && !bench) {
                if (!parse_int(val, 1, 1000000000, &v)) return usage(who, "bad --count '%s'", val);
                o->count = v;
            } else if (strcmp(a, "--types") == 0) {
                o->types = val;
            } else if (strcmp(a, "--concurrency") == 0 && bench) {
                if (!parse_int(val, 1, 100000, &v))
                    return usage(who, "bad --concurrency '%s'", val);
                o->concurrency = v;
            } else if (strcmp(a, "--duration") == 0 && bench) {
                char *e;
                o->duration = strtod(val, &e);
                if (*e || o->duration <= 0 || o->duration > 86400)
                    return usage(who, "bad --duration '%s' (seconds)", val);
            } else if (strcmp(a, "--rule") == 0) {
                /* ROUTER=YAML or ROUTER=@FILE */
                char *eq = strchr(val, '=');
                if (!eq || eq == val) return usage(who, "--rule '%s' is not ROUTER=RULE", val);
                if (o->nrules + 2 > sizeof(o->rules) / sizeof(o->rules[0]))
                    return usage(who, "too many --rule (%s)", val);
                *eq = '\0';
                o->rules[o->nrules++] = val;
                o->rules[o->nrules++] = eq + 1;
            } else if (strcmp(a, "--param") == 0) {
                const char *eq = strchr(val, '=');
                if (!eq || eq == val) return usage(who, "--param '%s' is not key=value", val);
                if (o->nparams + 2 >= sizeof(o->params) / sizeof(o->params[0]))
                    return usage(who, "too many --param (%s)", val);
                o->params[o->nparams++] = strndup(val, (size_t)(eq - val));
                o->params[o->nparams++] = eq + 1;
            } else if (strcmp(a, "--attachment") == 0) {
                const char *eq = strchr(val, '=');
                if (!eq || eq == val) return usage(who, "--attachment '%s' is not key=value", val);
                if (o->natt + 2 >= sizeof(o->attachments) / sizeof(o->attachments[0]))
                    return usage(who, "too many attachments (%s)", val);
                o->attachments[o->natt++] = strndup(val, (size_t)(eq - val));
                o->attachments[o->natt++] = eq + 1;
            } else {
                return usage(who, "unknown option '%s'", a);
            }
            continue;
        }
        if (pos == 0)
            o->url = a;
        else if (pos == 1)
            o->method = a;
        else {
            dubbo_value_t *val;
            int rc = dubbo_value_from_json(o->arena, a, strlen(a), &val);
            if (rc) {
                fprintf(stderr, "%s: argument %d: %s\n", who, pos - 1, dubbo_last_error());
                return 2;
            }
            o->args[o->nargs++] = val;
        }
        pos++;
    }
    if (pos < 2) return usage(who, "%s", "expected URL and METHOD");
    return 0;
}

static void free_opts(call_opts_t *o)
{
    for (size_t i = 0; i < o->nparams; i += 2)
        free((char *)o->params[i]);
    for (size_t i = 0; i < o->natt; i += 2)
        free((char *)o->attachments[i]);
    free(o->args);
    dubbo_arena_free(o->arena);
}

static void fill_inv(const call_opts_t *o, dubbo_invocation_t *inv)
{
    memset(inv, 0, sizeof(*inv));
    inv->method = o->method;
    inv->desc = o->types;
    inv->args = o->args;
    inv->nargs = o->nargs;
    inv->attachments = o->natt ? o->attachments : NULL;
    inv->timeout_ms = o->timeout_ms;
}

/* Print a result: value to stdout; exception or error to stderr. */
static int report(const char *who, int rc, dubbo_result_t *r)
{
    if (rc) {
        fprintf(stderr, "%s: %s (%s)\n", who, r->error ? r->error : dubbo_last_error(),
                dubbo_err_name(rc));
        return 1;
    }
    if (r->status != 20) {
        fprintf(stderr, "%s: provider answered status %d: %s\n", who, r->status,
                r->error ? r->error : "");
        return 1;
    }
    if (r->exception) {
        dubbo_buf_t b;
        dubbo_buf_init(&b, 0);
        dubbo_value_to_json(r->exception, &b);
        fprintf(stderr, "%s: %s\n%.*s\n", who, r->error ? r->error : "exception", (int)b.len,
                (const char *)b.base);
        dubbo_buf_destroy(&b);
        return 1;
    }
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    int jr = dubbo_value_to_json(r->value, &b);
    if (!jr) {
        fwrite(b.base, 1, b.len, stdout);
        fputc('\n', stdout);
    }
    dubbo_buf_destroy(&b);
    return jr ? 1 : 0;
}

/* ---- dubbo call ---------------------------------------------------------------------- */

static const char call_help[] =
    "usage: %s URL[;URL...] METHOD [ARG ...] [--timeout MS] [--count N] [--types DESC]\n"
    "          [--param KEY=VALUE]... [--attachment KEY=VALUE]... [--rule ROUTER=RULE]...\n"
    "          [--async | --oneway]\n"
    "\n"
    "Call METHOD of the service at URL (dubbo://host:port/interface?version=&group=&timeout=)\n"
    "and print the result as typed JSON (docs/typed-json.md), one line per call.\n"
    "URL may also be a registry and the interface: zookeeper://127.0.0.1:2181/<interface>,\n"
    "file:///tmp/dubbo-registry-0/<interface>, etcd://127.0.0.1:2379/<interface>.\n"
    "Calls go through the cluster layer: several provider URLs separated by ';' are\n"
    "balanced and retried (--param loadbalance=roundrobin --param retries=2).\n"
    "Each ARG is typed JSON; the JVM parameter descriptor follows from the arguments'\n"
    "types (\"s\" -> Ljava/lang/String;, 1 -> I, {\"$class\":\"long\",\"$\":1} -> J, an object\n"
    "-> L<class>;) unless --types gives it, e.g. --types 'Ljava/lang/Object;'.\n"
    "An exception or error goes to stderr and the exit status is 1.\n"
    "Options:\n"
    "  --timeout MS   per-call timeout (default: the URL's timeout, else 1000)\n"
    "  --count N      make the call N times\n"
    "  --param K=V    a reference setting: loadbalance, cluster, retries, timeout,\n"
    "                 actives, dubbo.tag, filter, ... (repeatable)\n"
    "  --attachment K=V  a request attachment (repeatable)\n"
    "  --rule R=RULE  a routing rule for router R (condition, tag): Dubbo 3 YAML,\n"
    "                 or @FILE to read it from a file (repeatable)\n"
    "  --async        use the asynchronous API (completion callback)\n"
    "  --oneway       send without waiting for an answer\n"
    "Examples:\n"
    "  %s dubbo://127.0.0.1:20880/org.apache.dubbo.demo.DemoService sayHello '\"world\"'\n"
    "  %s dubbo://127.0.0.1:20880/org.apache.dubbo.demo.DemoService echo \\\n"
    "      '{\"$class\":\"com.example.User\",\"$\":{\"name\":\"Ann\",\"age\":42}}' --types "
    "'Ljava/lang/Object;'\n";

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int rc;
    dubbo_result_t r;
} async_wait_t;

static void async_done(int rc, dubbo_result_t *r, void *user)
{
    async_wait_t *w = user;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->r = *r;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int cli_call(const char *who, int argc, char **argv)
{
    call_opts_t o;
    int prc = parse_call(who, argc, argv, &o, false, call_help);
    if (prc) {
        free_opts(&o);
        return prc < 0 ? 0 : prc;
    }
    /* Synchronous calls go through the cluster layer (several ';'-separated
     * URLs, --param loadbalance=/cluster=/retries=/...); --async and
     * --oneway use the protocol client of the first URL directly. */
    bool direct = o.async || o.oneway;
    dubbo_client_t *c = NULL;
    dubbo_reference_t *ref = NULL;
    if (direct) {
        char first[2048];
        snprintf(first, sizeof(first), "%.*s", (int)strcspn(o.url, ";"), o.url);
        c = dubbo_client_new(first);
    } else {
        o.params[o.nparams] = NULL;
        ref = dubbo_reference_new(o.url, o.params);
        for (size_t i = 0; ref && i < o.nrules; i += 2) {
            const char *text = o.rules[i + 1];
            char *file_text = NULL;
            if (text[0] == '@') {
                FILE *f = fopen(text + 1, "rb");
                if (!f) {
                    fprintf(stderr, "%s: --rule %s: cannot open %s\n", who, o.rules[i], text + 1);
                    dubbo_reference_free(ref);
                    free_opts(&o);
                    return 2;
                }
                fseek(f, 0, SEEK_END);
                long n = ftell(f);
                fseek(f, 0, SEEK_SET);
                file_text = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
                if (file_text && n > 0 && fread(file_text, 1, (size_t)n, f) != (size_t)n)
                    file_text[0] = '\0';
                fclose(f);
                text = file_text ? file_text : "";
            }
            int rrc = dubbo_reference_set_rule(ref, o.rules[i], text);
            free(file_text);
            if (rrc) {
                fprintf(stderr, "%s: --rule %s: %s\n", who, o.rules[i], dubbo_last_error());
                dubbo_reference_free(ref);
                free_opts(&o);
                return 2;
            }
        }
    }
    if (!c && !ref) {
        fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
        free_opts(&o);
        return 2;
    }
    dubbo_invocation_t inv;
    fill_inv(&o, &inv);
    int status = 0;
    for (long i = 0; i < o.count && status == 0; i++) {
        dubbo_result_t r;
        dubbo_result_init(&r);
        int rc;
        if (ref) {
            rc = dubbo_reference_call(ref, &inv, &r);
            status = report(who, rc, &r);
            dubbo_result_destroy(&r);
            continue;
        }
        if (o.oneway) {
            rc = dubbo_client_oneway(c, &inv);
            if (rc) status = report(who, rc, &r);
            continue;
        }
        if (o.async) {
            async_wait_t w = {.done = false};
            pthread_mutex_init(&w.mu, NULL);
            pthread_cond_init(&w.cv, NULL);
            rc = dubbo_client_call_async(c, &inv, async_done, &w);
            if (!rc) {
                pthread_mutex_lock(&w.mu);
                while (!w.done)
                    pthread_cond_wait(&w.cv, &w.mu);
                pthread_mutex_unlock(&w.mu);
                rc = w.rc;
                r = w.r;
            }
            pthread_mutex_destroy(&w.mu);
            pthread_cond_destroy(&w.cv);
        } else {
            rc = dubbo_client_call(c, &inv, &r);
        }
        status = report(who, rc, &r);
        dubbo_result_destroy(&r);
    }
    fflush(stdout);
    if (o.oneway) {
        /* Give the one-way frame a moment to leave before the process exits. */
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    dubbo_client_free(c);
    dubbo_reference_free(ref);
    free_opts(&o);
    return status;
}

/* ---- dubbo bench ------------------------------------------------------------------- */

static const char bench_help[] =
    "usage: %s URL METHOD [ARG ...] [--concurrency C] [--duration S] [--timeout MS]\n"
    "          [--types DESC]\n"
    "\n"
    "Keep C calls in flight (default 1) for S seconds (default 5) and print the QPS\n"
    "and latency percentiles (p50/p90/p99/max), errors counted apart. Arguments as in\n"
    "'dubbo call'.\n"
    "Examples:\n"
    "  %s dubbo://127.0.0.1:20880/org.apache.dubbo.demo.DemoService sayHello '\"x\"' \\\n"
    "      --concurrency 64 --duration 10\n"
    "  %s dubbo://127.0.0.1:20880/org.apache.dubbo.demo.DemoService whoami\n";

typedef struct {
    dubbo_client_t *c;
    dubbo_invocation_t inv;
    uint64_t end_ns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long active;
    uint32_t *lat_us; /* one per successful call */
    size_t nlat, caplat;
    long errors;
    char first_error[512];
} bench_t;

typedef struct {
    bench_t *b;
    uint64_t start_ns;
} shot_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void bench_fire(shot_t *s);

static void bench_done(int rc, dubbo_result_t *r, void *user)
{
    shot_t *s = user;
    bench_t *b = s->b;
    uint64_t t = now_ns();
    bool ok = rc == 0 && r->status == 20 && !r->exception;
    pthread_mutex_lock(&b->mu);
    if (ok) {
        if (b->nlat == b->caplat) {
            size_t ncap = b->caplat ? b->caplat * 2 : 65536;
            uint32_t *p = realloc(b->lat_us, ncap * sizeof(*p));
            if (p) {
                b->lat_us = p;
                b->caplat = ncap;
            }
        }
        if (b->nlat < b->caplat) b->lat_us[b->nlat++] = (uint32_t)((t - s->start_ns) / 1000);
    } else {
        if (b->errors++ == 0)
            snprintf(b->first_error, sizeof(b->first_error), "%s",
                     r->error ? r->error : dubbo_err_name(rc));
    }
    pthread_mutex_unlock(&b->mu);
    dubbo_result_destroy(r);
    if (t < b->end_ns) {
        bench_fire(s);
        return;
    }
    free(s);
    pthread_mutex_lock(&b->mu);
    if (--b->active == 0) pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void bench_fire(shot_t *s)
{
    s->start_ns = now_ns();
    int rc = dubbo_client_call_async(s->b->c, &s->b->inv, bench_done, s);
    if (rc) {
        dubbo_result_t r;
        dubbo_result_init(&r);
        /* Count it and stop this lane: an immediate local failure would spin. */
        bench_t *b = s->b;
        pthread_mutex_lock(&b->mu);
        if (b->errors++ == 0)
            snprintf(b->first_error, sizeof(b->first_error), "%s", dubbo_last_error());
        if (--b->active == 0) pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);
        free(s);
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int cli_bench(const char *who, int argc, char **argv)
{
    call_opts_t o;
    int prc = parse_call(who, argc, argv, &o, true, bench_help);
    if (prc) {
        free_opts(&o);
        return prc < 0 ? 0 : prc;
    }
    bench_t b;
    memset(&b, 0, sizeof(b));
    b.c = dubbo_client_new(o.url);
    if (!b.c) {
        fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
        free_opts(&o);
        return 2;
    }
    fill_inv(&o, &b.inv);
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    /* Warm up: one call makes the connection. */
    dubbo_result_t r;
    int rc = dubbo_client_call(b.c, &b.inv, &r);
    if (rc || r.status != 20 || r.exception) {
        int st = report(who, rc, &r);
        dubbo_result_destroy(&r);
        dubbo_client_free(b.c);
        free_opts(&o);
        return st ? st : 1;
    }
    dubbo_result_destroy(&r);
    uint64_t start = now_ns();
    b.end_ns = start + (uint64_t)(o.duration * 1e9);
    b.active = o.concurrency;
    for (long i = 0; i < o.concurrency; i++) {
        shot_t *s = malloc(sizeof(*s));
        if (!s) {
            pthread_mutex_lock(&b.mu);
            b.active--;
            pthread_mutex_unlock(&b.mu);
            continue;
        }
        s->b = &b;
        bench_fire(s);
    }
    pthread_mutex_lock(&b.mu);
    while (b.active > 0)
        pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    double secs = (double)(now_ns() - start) / 1e9;
    qsort(b.lat_us, b.nlat, sizeof(uint32_t), cmp_u32);
#define PCT(p) (b.nlat ? b.lat_us[(size_t)((double)(b.nlat - 1) * (p))] : 0)
    printf("calls %zu errors %ld in %.2f s, concurrency %ld\n", b.nlat, b.errors, secs,
           o.concurrency);
    printf("qps %.0f\n", (double)b.nlat / secs);
    printf("latency_us p50 %u p90 %u p99 %u max %u\n", PCT(0.50), PCT(0.90), PCT(0.99),
           b.nlat ? b.lat_us[b.nlat - 1] : 0);
#undef PCT
    if (b.errors) fprintf(stderr, "%s: %ld errors, first: %s\n", who, b.errors, b.first_error);
    free(b.lat_us);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);
    dubbo_client_free(b.c);
    free_opts(&o);
    return b.errors ? 1 : 0;
}

/* ---- dubbo list ---------------------------------------------------------------------- */

static const char list_help[] =
    "usage: %s REGISTRY_URL [INTERFACE]\n"
    "\n"
    "Without INTERFACE: the services the registry holds. With it: their providers,\n"
    "consumers, routers and configurators, one decoded URL per line.\n"
    "Examples:\n"
    "  %s zookeeper://127.0.0.1:2181\n"
    "  %s file:///tmp/dubbo-registry-0 org.apache.dubbo.demo.DemoService\n";

int cli_list(const char *who, int argc, char **argv)
{
    if (argc < 1 || is_help(argv[0])) {
        fprintf(argc < 1 ? stderr : stdout, list_help, who, who, who);
        return argc < 1 ? 2 : 0;
    }
    if (argc > 2) return usage(who, "unexpected argument '%s'", argv[2]);
    dubbo_registry_t *r = dubbo_registry_open(argv[0]);
    if (!r) {
        fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
        return 1;
    }
    if (!r->ops->list) {
        fprintf(stderr, "%s: the %s registry cannot list its content\n", who, r->url->protocol);
        dubbo_registry_close(r);
        return 1;
    }
    int status = 0;
    static const char *const categories[] = {"providers", "consumers", "routers", "configurators"};
    size_t ncat = argc == 2 ? 4 : 1;
    for (size_t c = 0; c < ncat && !status; c++) {
        char **items = NULL;
        size_t n = 0;
        int rc = r->ops->list(r, argc == 2 ? argv[1] : NULL, argc == 2 ? categories[c] : NULL,
                              &items, &n);
        if (rc) {
            fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
            status = 1;
        }
        if (argc == 2 && n) printf("%s:\n", categories[c]);
        for (size_t i = 0; i < n; i++) {
            printf("%s%s\n", argc == 2 ? "  " : "", items[i]);
            free(items[i]);
        }
        free(items);
    }
    dubbo_registry_close(r);
    return status;
}
