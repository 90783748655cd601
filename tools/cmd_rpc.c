/* `dubbo demo provider`, `dubbo call` and `dubbo bench`: the RPC commands
 * of the CLI. Exit status: 0 success, 1 the call or the server failed
 * (message on stderr), 2 bad usage. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "call.h"
#include "cli.h"
#include "demo_service.h"
#include "dubbo/error.h"
#include "dubbo/cluster.h"
#include "dubbo/config.h"
#include "dubbo/qos.h"
#include "dubbo/registry.h"
#include "dubbo/rest.h"
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
    "usage: %s provider [--protocol LIST] [--port N] [--host ADDR] [--threads N] [--direct]\n"
    "          [--io-threads N]\n"
    "          [--shutdown-timeout MS] [--read-timeout MS] [--cors-origin LIST]\n"
    "          [--tls-cert PEM --tls-key PEM [--tls-ca PEM] [--tls-client-auth]\n"
    "           [--tls strict|permissive]]\n"
    "          [--registry URL]... [--application NAME] [--param KEY=VALUE]... [--config FILE]\n"
    "\n"
    "Serve org.apache.dubbo.demo.DemoService over the Dubbo protocol until SIGTERM or\n"
    "SIGINT, then shut down gracefully: consumers get the readonly event, the port\n"
    "stops accepting, in-flight calls finish (up to --shutdown-timeout, default 10000).\n"
    "\n"
    "Methods: sayHello(String), echo(Object), whoami(), sleep(int ms), fail(String),\n"
    "attachment(String key), peer(); and com.example.UserService: echo(User).\n"
    "Options:\n"
    "  --protocol LIST  the protocols this port serves, comma-separated (default\n"
    "                dubbo): each connection is served by the one that recognises its\n"
    "                first bytes, and the services register one URL per protocol\n"
    "  --port N      port to listen on (default 20880; 0 picks a free one)\n"
    "  --qos-port N  serve the QoS commands (telnet and HTTP, /metrics) on 127.0.0.1:N\n"
    "                (Java's 22222; 0 picks a free one; docs/qos.md)\n"
    "  --qos-accept-foreign-ip  bind the QoS port on every interface instead\n"
    "  --host ADDR   address to bind (default 0.0.0.0)\n"
    "  --threads N   worker threads (default 200)\n"
    "  --direct      run handlers on the event-loop thread (Java's dispatcher=direct):\n"
    "                fastest, but sleep() then stalls every other call of its loop\n"
    "  --io-threads N  event-loop threads the connections are spread over (Java's\n"
    "                iothreads; default: DUBBO_IO_THREADS, else one per core; 1 to 64)\n"
    "  --param K=V   a provider URL parameter: weight, token, executes, tps,\n"
    "                accesslog, dubbo.tag, filter, heartbeat (the server's, ms), ...\n"
    "                (repeatable)\n"
    "  --registry URL  register in a registry: file://DIR, zookeeper://host:port,\n"
    "                etcd://host:port, nacos://host:port (repeatable); default: this\n"
    "                machine's embedded\n"
    "                registry (DUBBO_REGISTRY or file:///tmp/dubbo-registry-UID); none: no\n"
    "                registry\n"
    "  --application NAME  application name in the registered URL (default dubbo-c)\n"
    "  --read-timeout MS  a request begun must arrive whole within this (default\n"
    "                30000): slow clients are closed\n"
    "  --tls-cert PEM, --tls-key PEM  serve every protocol of the port over TLS\n"
    "                (OpenSSL; ALPN h2 for tri, http/1.1 for rest)\n"
    "  --tls-ca PEM  the CA bundle that verifies client certificates\n"
    "  --tls-client-auth  require a client certificate (mTLS)\n"
    "  --tls MODE    strict (default with a certificate: TLS only) or permissive\n"
    "                (TLS and plaintext on the one port)\n"
    "  --cors-origin LIST  REST: origins whose pages may call (CORS), comma-separated,\n"
    "                or '*' (default: CORS off)\n"
    "  --config FILE   application, protocol, services and registries from a YAML file\n"
    "                (docs/configuration.md; the demo serves its DemoService and\n"
    "                UserService entries)\n"
    "Prints 'listening on HOST:PORT' once it accepts calls.\n"
    "Example:\n"
    "  %s provider --port 20880 &\n"
    "  dubbo call dubbo://127.0.0.1:20880/org.apache.dubbo.demo.DemoService sayHello '\"world\"'\n";

/* Whether a --protocol list names `name`. */
static bool serves(const char *list, const char *name)
{
    size_t k = strlen(name);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == k && strncmp(p, name, k) == 0) return true;
        p += n;
        if (*p == ',') p++;
    }
    return false;
}

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
    bool port_given = false, threads_given = false, read_timeout_given = false;
    bool io_threads_given = false;
    const char *host_given = NULL, *protocols_given = NULL, *cors = NULL;
    int qos_port = -1; /* -1: no QoS port */
    bool qos_foreign = false;
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
        if (strcmp(a, "--tls-client-auth") == 0) {
            o.tls_client_auth = true;
            continue;
        }
        if (strcmp(a, "--qos-accept-foreign-ip") == 0) {
            qos_foreign = true;
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
        } else if (strcmp(a, "--protocol") == 0) {
            o.protocols = val;
            protocols_given = val;
        } else if (strcmp(a, "--threads") == 0) {
            if (!parse_int(val, 1, 10000, &v)) return usage(who, "bad --threads '%s'", val);
            o.threads = (int)v;
            threads_given = true;
        } else if (strcmp(a, "--io-threads") == 0) {
            if (!parse_int(val, 1, 64, &v))
                return usage(who, "bad --io-threads '%s' (1 to 64)", val);
            o.io_threads = (int)v;
            io_threads_given = true;
            dubbo_io_threads_set((int)v); /* the process's clients (registries) too */
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
        } else if (strcmp(a, "--tls-cert") == 0) {
            o.tls_cert_file = val;
            if (o.tls == DUBBO_TLS_OFF) o.tls = DUBBO_TLS_STRICT;
        } else if (strcmp(a, "--tls-key") == 0) {
            o.tls_key_file = val;
        } else if (strcmp(a, "--tls-ca") == 0) {
            o.tls_ca_file = val;
        } else if (strcmp(a, "--tls") == 0) {
            if (strcmp(val, "strict") == 0)
                o.tls = DUBBO_TLS_STRICT;
            else if (strcmp(val, "permissive") == 0)
                o.tls = DUBBO_TLS_PERMISSIVE;
            else
                return usage(who, "bad --tls '%s' (strict or permissive)", val);
        } else if (strcmp(a, "--read-timeout") == 0) {
            if (!parse_int(val, 1, 3600000, &v)) return usage(who, "bad --read-timeout '%s'", val);
            o.read_timeout_ms = (int)v;
            read_timeout_given = true;
        } else if (strcmp(a, "--cors-origin") == 0) {
            cors = val;
        } else if (strcmp(a, "--qos-port") == 0) {
            if (!parse_int(val, 0, 65535, &v)) return usage(who, "bad --qos-port '%s'", val);
            qos_port = (int)v;
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
        /* what the flags said, which the file's options must not undo */
        dubbo_server_options_t flags = o;
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
        if (protocols_given) o.protocols = protocols_given;
        if (flags.tls_cert_file) { /* --tls-* given: they override the file's tls_config */
            o.tls = flags.tls;
            o.tls_cert_file = flags.tls_cert_file;
            o.tls_key_file = flags.tls_key_file;
            o.tls_ca_file = flags.tls_ca_file;
            o.tls_client_auth = flags.tls_client_auth;
        }
        if (read_timeout_given) o.read_timeout_ms = flags.read_timeout_ms;
        if (flags.direct) o.direct = true;
        if (threads_given) o.threads = flags.threads;
        if (io_threads_given) o.io_threads = flags.io_threads;
        o.application = dubbo_config_application(cfg);
        /* dubbo.application.qos-*: the flags still override */
        const dubbo_config_application_t *app = dubbo_config_application_info(cfg);
        if (app->qos_enable && qos_port < 0) qos_port = app->qos_port > 0 ? app->qos_port : 22222;
        qos_foreign |= app->qos_accept_foreign_ip;
    }
    dubbo_server_handle_signals();
    dubbo_server_t *s = dubbo_server_new(&o);
    if (!s) {
        fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
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
    /* the protobuf IDL services where a port speaks Triple */
    if (!rc && o.protocols && serves(o.protocols, "tri")) rc = demo_export_idl(s, params);
    /* REST: DemoService's mapping, the demo page at GET /, CORS */
    if (!rc && o.protocols && serves(o.protocols, "rest")) {
        rc = demo_rest_bind();
        dubbo_service_t pg = *demo_page_service();
        pg.params = params;
        if (!rc) rc = dubbo_server_export(s, &pg);
        dubbo_rest_options_t ro;
        dubbo_rest_options_init(&ro);
        ro.cors_origins = cors;
        if (!rc) rc = dubbo_rest_configure(&ro);
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
    /* the QoS port: telnet and HTTP commands, /metrics (docs/qos.md) */
    dubbo_qos_t *qos = NULL;
    if (qos_port >= 0) {
        dubbo_qos_options_t qo;
        dubbo_qos_options_init(&qo);
        qo.port = qos_port;
        qo.accept_foreign_ip = qos_foreign;
        if (!(qos = dubbo_qos_start(&qo)) || dubbo_qos_add_server(qos, s)) {
            fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
            dubbo_qos_stop(qos);
            dubbo_server_free(s);
            dubbo_config_free(cfg);
            return 1;
        }
        printf("qos on %s:%d\n", qos_foreign ? "0.0.0.0" : "127.0.0.1", dubbo_qos_port(qos));
    }
    fflush(stdout);
    dubbo_server_wait();
    rc = dubbo_server_shutdown(s);
    dubbo_qos_remove_server(qos, s);
    dubbo_qos_stop(qos);
    dubbo_server_free(s);
    dubbo_config_free(cfg);
    printf("stopped\n");
    return rc ? 1 : 0;
}

/* ---- shared by call and bench ----------------------------------------------------- */

/* One bench thread per call in flight: keep them within what a process can
 * start. */
#define BENCH_MAX_CONCURRENCY 10000

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
            printf(help, who, who, who, who);
            return -1;
        }
        bool opt = a[0] == '-' && a[1] == '-';
        if (opt && strcmp(a, "--raw") == 0 && bench) {
            o->raw = true;
            continue;
        }
        if (opt && strcmp(a, "--json") == 0 && bench) {
            o->json = true;
            continue;
        }
        if (opt && strcmp(a, "--histogram") == 0 && bench) {
            o->histogram = true;
            continue;
        }
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
            } else if (strcmp(a, "--proto") == 0) {
                o->proto = val;
            } else if (strcmp(a, "--import-path") == 0) {
                if (o->nimports >= sizeof(o->import_paths) / sizeof(o->import_paths[0]))
                    return usage(who, "too many --import-path (%s)", val);
                o->import_paths[o->nimports++] = val;
            } else if (strcmp(a, "--concurrency") == 0 && bench) {
                if (!parse_int(val, 1, BENCH_MAX_CONCURRENCY, &v))
                    return usage(who, "bad --concurrency '%s' (1 to 10000)", val);
                o->concurrency = v;
            } else if (strcmp(a, "--io-threads") == 0 && bench) {
                if (!parse_int(val, 1, 64, &v))
                    return usage(who, "bad --io-threads '%s' (1 to 64)", val);
                dubbo_io_threads_set((int)v); /* before the client exists */
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

/* ---- --param keys ------------------------------------------------------------------ */

/* The reference parameters the library reads on the consumer side: the
 * reference URL (src/cluster/cluster.c, the strategies, balancers and tag
 * router), the merged invoker URL (dubbo_invoker_setting: actives,
 * hash.*), the dubbo invoker's client (timeout, connections, payload,
 * heartbeat). Also accepted without a warning: token, weight and warmup
 * (read from the provider URLs, where providers publish them) and check
 * and sticky (reference settings of docs/configuration.md). Keep sorted. */
static const char *const ref_keys[] = {
    "actives",
    "application",
    "broadcast.fail.percent",
    "check",
    "cluster",
    "compressor",
    "connections",
    "dubbo.force.tag",
    "dubbo.tag",
    "enable-empty-protection",
    "failbackinterval",
    "failbackmaxinterval",
    "failbacktasks",
    "filter",
    "forks",
    "group",
    "hash.arguments",
    "hash.nodes",
    "heartbeat",
    "interface",
    "loadbalance",
    "payload",
    "protocol",
    "provided-by",
    "retries",
    "serialization",
    "shortestResponseSlidePeriod",
    "sticky",
    "timeout",
    "tls",
    "tls-ca-cert-file",
    "tls-cert-file",
    "tls-insecure",
    "tls-key-file",
    "tls-server-name",
    "token",
    "version",
    "warmup",
    "weight",
};

/* Those also read per method, as "<method>.<key>" (failover's and
 * failback's retries, the call timeout, actives, consistenthash, weight). */
static const char *const method_keys[] = {
    "actives", "hash.arguments", "hash.nodes", "retries", "timeout", "weight",
};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

static bool key_in(const char *key, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, keys[i]) == 0) return true;
    return false;
}

/* The length of a Java method name at the start of `key` followed by a
 * '.', or 0. */
static size_t method_prefix(const char *key)
{
    size_t n = 0;
    while (isalnum((unsigned char)key[n]) || key[n] == '_' || key[n] == '$')
        n++;
    return n > 0 && !isdigit((unsigned char)key[0]) && key[n] == '.' ? n : 0;
}

static bool param_known(const char *key)
{
    if (key_in(key, ref_keys, NKEYS(ref_keys))) return true;
    size_t m = method_prefix(key);
    return m && key_in(key + m + 1, method_keys, NKEYS(method_keys));
}

/* Edit distance between two keys, ignoring case: insertions, deletions,
 * substitutions and swaps of neighbours ("retires" is 1 from "retries"). */
static int key_distance(const char *a, const char *b)
{
    enum { MAXLEN = 63 };
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXLEN || lb > MAXLEN) return 1000;
    int d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

#define MAX_HINTS 3

typedef struct {
    char key[200];
    int score; /* lower is closer: 100 per edit */
} hint_t;

/* Keep the MAX_HINTS closest suggestions, closest first, without repeats. */
static void add_hint(hint_t *h, size_t *n, const char *prefix, size_t plen, const char *key,
                     int score)
{
    char full[200];
    snprintf(full, sizeof(full), "%.*s%s", (int)plen, prefix, key);
    for (size_t i = 0; i < *n; i++)
        if (strcmp(h[i].key, full) == 0) return;
    size_t at = *n;
    while (at > 0 && h[at - 1].score > score)
        at--;
    if (at >= MAX_HINTS) return;
    size_t keep = *n < MAX_HINTS ? *n : MAX_HINTS - 1;
    memmove(&h[at + 1], &h[at], (keep - at) * sizeof(*h));
    snprintf(h[at].key, sizeof(h[at].key), "%s", full);
    h[at].score = score;
    if (*n < MAX_HINTS) (*n)++;
}

/* Known keys that `key` (or its part after a method name) may be a typo
 * of, or a short form of ("tag" for "dubbo.tag"). */
static void add_hints(hint_t *h, size_t *n, const char *prefix, size_t plen, const char *key,
                      const char *const *keys, size_t nkeys)
{
    size_t len = strlen(key);
    int limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    for (size_t i = 0; i < nkeys; i++) {
        int d = key_distance(key, keys[i]);
        size_t kl = strlen(keys[i]);
        if (d <= limit)
            add_hint(h, n, prefix, plen, keys[i], 100 * d);
        else if (kl > len && keys[i][kl - len - 1] == '.' && strcmp(keys[i] + kl - len, key) == 0)
            add_hint(h, n, prefix, plen, keys[i], 100 + (int)(kl - len)); /* shortest first */
    }
}

/* Warn about --param keys no part of the reference reads (a typo is
 * otherwise silently without effect); they are passed on all the same,
 * for users' own filters and routing rules that match on them. */
static void warn_unknown_params(const char *who, const call_opts_t *o)
{
    for (size_t i = 0; i < o->nparams; i += 2) {
        const char *key = o->params[i];
        if (param_known(key)) continue;
        hint_t h[MAX_HINTS];
        size_t n = 0;
        size_t m = method_prefix(key);
        if (m && key_in(key + m + 1, ref_keys, NKEYS(ref_keys)))
            add_hint(h, &n, "", 0, key + m + 1, 0); /* read for the service only */
        add_hints(h, &n, "", 0, key, ref_keys, NKEYS(ref_keys));
        if (m) add_hints(h, &n, key, m + 1, key + m + 1, method_keys, NKEYS(method_keys));
        char hints[700] = "";
        size_t len = 0;
        for (size_t k = 0; k < n && len < sizeof(hints); k++)
            len += (size_t)snprintf(hints + len, sizeof(hints) - len, "%s\"%s\"%s",
                                    k == 0       ? " (did you mean "
                                    : k + 1 == n ? " or "
                                                 : ", ",
                                    h[k].key, k + 1 == n ? "?)" : "");
        fprintf(stderr, "%s: warning: unknown --param \"%s\"%s; passed on anyway\n", who, key,
                hints);
    }
}

/* ---- the reference ------------------------------------------------------------------ */

/* The cluster reference for URL with the --param settings and --rule rules,
 * or NULL after a message on stderr (exit status 2). */
static dubbo_reference_t *open_reference(const char *who, call_opts_t *o)
{
    o->params[o->nparams] = NULL;
    dubbo_reference_t *ref = dubbo_reference_new(o->url, o->params);
    if (!ref) {
        fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
        return NULL;
    }
    for (size_t i = 0; i < o->nrules; i += 2) {
        const char *text = o->rules[i + 1];
        char *file_text = NULL;
        if (text[0] == '@') {
            FILE *f = fopen(text + 1, "rb");
            if (!f) {
                fprintf(stderr, "%s: --rule %s: cannot open %s\n", who, o->rules[i], text + 1);
                dubbo_reference_free(ref);
                return NULL;
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
        int rrc = dubbo_reference_set_rule(ref, o->rules[i], text);
        free(file_text);
        if (rrc) {
            fprintf(stderr, "%s: --rule %s: %s\n", who, o->rules[i], dubbo_last_error());
            dubbo_reference_free(ref);
            return NULL;
        }
    }
    return ref;
}

static bool call_ok(int rc, const dubbo_result_t *r)
{
    return rc == 0 && r->status == DUBBO_STATUS_OK && !r->exception;
}

/* One line for a failed call: the local error, the provider's error status,
 * or its exception (class: message). */
static void failure_text(int rc, const dubbo_result_t *r, char *out, size_t cap)
{
    if (rc)
        snprintf(out, cap, "%s (%s)", r->error && *r->error ? r->error : dubbo_last_error(),
                 dubbo_err_name(rc));
    else if (r->status != DUBBO_STATUS_OK)
        snprintf(out, cap, "provider answered status %d (%s)%s%s", r->status,
                 dubbo_status_name(r->status), r->error ? ": " : "", r->error ? r->error : "");
    else
        snprintf(out, cap, "%s", r->error ? r->error : "exception");
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
    "          [--async | --oneway] [--proto FILE [--import-path DIR]...]\n"
    "\n"
    "Call METHOD of the service at URL (dubbo://host:port/interface?version=&group=&timeout=)\n"
    "and print the result as typed JSON (docs/typed-json.md), one line per call.\n"
    "URL may also be a registry and the interface: zookeeper://127.0.0.1:2181/<interface>,\n"
    "file:///tmp/dubbo-registry-0/<interface>, etcd://127.0.0.1:2379/<interface>,\n"
    "nacos://127.0.0.1:8848/<interface>.\n"
    "Calls go through the cluster layer: several provider URLs separated by ';' are\n"
    "balanced and retried (--param loadbalance=roundrobin --param retries=2).\n"
    "Each ARG is typed JSON; the JVM parameter descriptor follows from the arguments'\n"
    "types (\"s\" -> Ljava/lang/String;, 1 -> I, {\"$class\":\"long\",\"$\":1} -> J, an object\n"
    "-> L<class>;) unless --types gives it, e.g. --types 'Ljava/lang/Object;'.\n"
    "An exception or error goes to stderr and the exit status is 1.\n"
    "Options:\n"
    "  --timeout MS   per-call timeout (default: the URL's timeout, else 1000)\n"
    "  --count N      make the call N times\n"
    "  --param K=V    a reference setting (repeatable): loadbalance, cluster, retries,\n"
    "                 timeout, actives, connections, forks, filter, dubbo.tag, version,\n"
    "                 group, ...; per method as METHOD.KEY (sayHello.timeout=200) for\n"
    "                 timeout, retries, actives, hash.nodes, hash.arguments. A key the\n"
    "                 reference does not read gets a warning on stderr (a typo?) and is\n"
    "                 passed on all the same (your own filters may read it)\n"
    "  --attachment K=V  a request attachment (repeatable)\n"
    "  --rule R=RULE  a routing rule for router R (condition, tag): Dubbo 3 YAML,\n"
    "                 or @FILE to read it from a file (repeatable)\n"
    "  --async        call the first URL directly with the asynchronous API (completion\n"
    "                 callback); no cluster layer, so --param and --rule do not apply\n"
    "  --oneway       send to the first URL without waiting for an answer (likewise)\n"
    "Triple (tri://host:port/SERVICE): an IDL service's schema comes from the server's\n"
    "gRPC reflection, or from --proto FILE (compiled with protoc; --import-path DIR for\n"
    "its imports); ARG is then the request message as protobuf JSON ('{\"name\":\"x\"}')\n"
    "and each answer prints as a JSON line: every message of a server stream; a client\n"
    "or bidirectional stream sends each JSON line of stdin. A service reflection does not\n"
    "describe (or --param serialization=hessian2) is called in Java's wrapper mode.\n"
    "dubbo:// with --param serialization=protobuf and --proto FILE: the same JSON\n"
    "messages over the Dubbo protocol's protobuf serialization (unary only).\n"
    "Examples:\n"
    "  %s dubbo://127.0.0.1:20880/org.apache.dubbo.demo.DemoService sayHello '\"world\"'\n"
    "  %s dubbo://127.0.0.1:20880/org.apache.dubbo.demo.DemoService echo \\\n"
    "      '{\"$class\":\"com.example.User\",\"$\":{\"name\":\"Ann\",\"age\":42}}' --types "
    "'Ljava/lang/Object;'\n"
    "  %s tri://127.0.0.1:50051/helloworld.Greeter SayHello '{\"name\":\"world\"}'\n";

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
    /* tri:// to an IDL service: JSON to protobuf and back */
    tri_idl_t idl;
    int is_idl = direct ? 0 : tri_idl_prepare(who, &o, &idl);
    if (is_idl == 2) {
        free_opts(&o);
        return 2;
    }
    if (direct) {
        if (o.nparams || o.nrules)
            fprintf(stderr,
                    "%s: warning: --%s calls the first URL directly: --param and --rule "
                    "do not apply\n",
                    who, o.async ? "async" : "oneway");
        char first[2048];
        snprintf(first, sizeof(first), "%.*s", (int)strcspn(o.url, ";"), o.url);
        c = dubbo_client_new(first);
        if (!c) fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
    } else {
        warn_unknown_params(who, &o);
        ref = open_reference(who, &o);
    }
    if (!c && !ref) {
        if (is_idl) tri_idl_free(&idl);
        free_opts(&o);
        return 2;
    }
    dubbo_invocation_t inv;
    fill_inv(&o, &inv);
    int status = 0;
    if (is_idl && idl.kind != DUBBO_TRI_UNARY) {
        status = tri_idl_stream(who, &o, &idl, ref);
        o.count = 0;
    }
    for (long i = 0; i < o.count && status == 0; i++) {
        dubbo_result_t r;
        dubbo_result_init(&r);
        int rc;
        if (ref) {
            rc = dubbo_reference_call(ref, &inv, &r);
            if (is_idl && call_ok(rc, &r))
                status = tri_idl_print(who, &idl, r.value);
            else
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
    if (is_idl) tri_idl_free(&idl);
    free_opts(&o);
    return status;
}

/* ---- dubbo bench ------------------------------------------------------------------- */

static const char bench_help[] =
    "usage: %s URL[;URL...] METHOD [ARG ...] [--concurrency C] [--duration S]\n"
    "          [--timeout MS] [--types DESC] [--param KEY=VALUE]...\n"
    "          [--attachment KEY=VALUE]... [--rule ROUTER=RULE]... [--histogram | --json]\n"
    "          [--raw] [--io-threads N]\n"
    "\n"
    "Load-test METHOD of a service: C threads (default 1) each make one call after\n"
    "the other for S seconds (default 5), through the cluster layer exactly as\n"
    "'dubbo call' makes them, then print the number of successful and failed calls,\n"
    "the QPS of the successful ones and their latency percentiles in microseconds:\n"
    "  calls N errors F in S s, concurrency C\n"
    "  qps Q\n"
    "  latency_us p50 A p90 B p99 C max D\n"
    "then, with --histogram or when stdout is a terminal, a histogram of the latencies\n"
    "in 1-2-5 steps of microseconds: each bucket's range, calls, share and a bar of '#'.\n"
    "On a terminal (stderr), a progress line is rewritten each second: elapsed seconds,\n"
    "calls and errors so far, and the last second's QPS and p99; it is erased before the\n"
    "report. Not on a terminal, stdout and stderr carry only the report and the errors.\n"
    "URL, METHOD, the ARGs and the options are those of 'dubbo call': one provider\n"
    "(dubbo://host:port/interface), several separated by ';', or a registry and the\n"
    "interface (zookeeper://127.0.0.1:2181/<interface>, file:///DIR/<interface>,\n"
    "etcd://127.0.0.1:2379/<interface>), so that load balancing, failover and the\n"
    "providers a registry lists are under load too.\n"
    "One warm-up call comes first and is not counted; if it fails, nothing is measured.\n"
    "Exit status: 0 when every call succeeded; 1 when any call failed (an exception\n"
    "counts as a failure), with the number of failed calls and the first distinct\n"
    "error messages and their counts on stderr, or when the warm-up call failed;\n"
    "2 on bad usage.\n"
    "Options:\n"
    "  --concurrency C  calls in flight: C threads making synchronous calls (default 1,\n"
    "                   at most 10000)\n"
    "  --raw            measure a provider, not the cluster layer: one dubbo:// URL, C\n"
    "                   calls kept in flight by the bare asynchronous client from one\n"
    "                   thread (no routers, balancer, retries or filters; no --param or\n"
    "                   --rule). What bench/dubbo/run.sh uses, so the client is not the\n"
    "                   bottleneck.\n"
    "  --duration S     seconds of load (default 5; fractions are fine)\n"
    "  --io-threads N   event-loop threads the client's connections are spread over\n"
    "                   (default: DUBBO_IO_THREADS, else one per core; 1 to 64); with\n"
    "                   --raw, give the URL connections=N to have N connections\n"
    "  --histogram      the latency histogram after the report, also when stdout is not a\n"
    "                   terminal\n"
    "  --json           the report as one line of JSON instead, for scripts: calls, errors,\n"
    "                   seconds, concurrency, qps, latency_us {p50, p90, p99, p999, max},\n"
    "                   histogram [{from_us, to_us, count}] (the buckets above, from the\n"
    "                   first to the last that holds a call) and per_second [{second,\n"
    "                   seconds, calls, errors, qps, p50_us, p99_us}] (the last one may be\n"
    "                   shorter; its p50/p99 are bucket tops, within 12.5%%)\n"
    "  --timeout MS     per-call timeout (default: the URL's timeout, else 1000)\n"
    "  --types DESC     the JVM parameter descriptor, as in 'dubbo call'\n"
    "  --param K=V      a reference setting (repeatable): loadbalance, cluster, retries,\n"
    "                   timeout, actives, connections, ...; METHOD.KEY per method. A key\n"
    "                   the reference does not read gets a warning (see 'dubbo call --help')\n"
    "  --attachment K=V a request attachment (repeatable)\n"
    "  --rule R=RULE    a routing rule for router R (condition, tag): Dubbo 3 YAML, or\n"
    "                   @FILE (repeatable)\n"
    "Examples:\n"
    "  %s dubbo://127.0.0.1:20880/org.apache.dubbo.demo.DemoService sayHello '\"x\"' \\\n"
    "      --concurrency 64 --duration 10\n"
    "  I=org.apache.dubbo.demo.DemoService\n"
    "  %s \"dubbo://10.0.0.1:20880/$I;dubbo://10.0.0.2:20880/$I\" sayHello '\"x\"' \\\n"
    "      --param loadbalance=roundrobin --param cluster=failover --concurrency 16\n";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- bench's per-second series and live progress ------------------------------------ */

/* Each finished call adds one to a latency bucket of the second it finished
 * in: one relaxed atomic increment, no lock, no allocation. A reporter
 * thread wakes after each second, reads that second's buckets, keeps its
 * calls, errors, p50 and p99 for --json and, on a terminal, rewrites the
 * progress line on stderr.
 *
 * Buckets: exact below 16 µs, then LIVE_SUB per power of two, so a
 * per-second percentile is the top of a bucket at most 12.5% wide (the
 * final percentiles come from every latency, sorted, and are exact). */
#define LIVE_SUB     8
#define LIVE_BUCKETS (16 + (32 - 4) * LIVE_SUB)
/* Seconds in the ring: second k is read a little after it ends and its slot
 * is reused for second k + LIVE_RING, cleared at the end of second k + 2. */
#define LIVE_RING 4
/* How long after a second ends the reporter reads it: time for a call that
 * finished just before the boundary to land in its bucket. */
#define LIVE_GRACE_NS 20000000u

typedef struct {
    atomic_uint hist[LIVE_BUCKETS];
    atomic_uint errors;
} live_slot_t;

typedef struct {
    double seconds; /* the interval's length: 1 but for the last */
    uint32_t calls, errors;
    uint32_t p50_us, p99_us; /* 0 without calls */
} live_second_t;

typedef struct {
    uint64_t start_ns;
    live_slot_t slot[LIVE_RING];
    bool tty;   /* draw the progress line on stderr */
    bool drawn; /* a progress line is on screen */
    pthread_t tid;
    bool running;
    pthread_mutex_t mu; /* guards stop; the rest is the reporter's until joined */
    pthread_cond_t cv;  /* CLOCK_MONOTONIC */
    bool stop;
    size_t next; /* the next second to read */
    live_second_t *series;
    size_t nseries, capseries;
    bool series_lost;       /* out of memory: no series */
    uint64_t calls, errors; /* totals of the seconds read */
    /* per slot, what was read of its second and where it went in the series
     * (SIZE_MAX: nowhere), so that calls landing late are added */
    uint64_t taken_calls[LIVE_RING], taken_errors[LIVE_RING];
    size_t taken_at[LIVE_RING];
} live_t;

static unsigned live_bucket(uint64_t us)
{
    if (us < 16) return (unsigned)us;
    if (us > UINT32_MAX) us = UINT32_MAX;
    unsigned e = 63u - (unsigned)__builtin_clzll(us); /* 4 to 31 */
    return 16 + (e - 4) * LIVE_SUB + (unsigned)((us >> (e - 3)) & (LIVE_SUB - 1));
}

/* The largest latency bucket i holds. */
static uint32_t live_bucket_top(unsigned i)
{
    if (i < 16) return i;
    unsigned e = (i - 16) / LIVE_SUB + 4, sub = (i - 16) % LIVE_SUB;
    uint64_t top = ((uint64_t)(LIVE_SUB + sub + 1) << (e - 3)) - 1;
    return top > UINT32_MAX ? UINT32_MAX : (uint32_t)top;
}

/* A call finished at t_ns (CLOCK_MONOTONIC) after lat_ns; ok or failed. */
static void live_record(live_t *lv, uint64_t t_ns, uint64_t lat_ns, bool ok)
{
    uint64_t sec = t_ns > lv->start_ns ? (t_ns - lv->start_ns) / 1000000000u : 0;
    live_slot_t *s = &lv->slot[sec % LIVE_RING];
    if (ok)
        atomic_fetch_add_explicit(&s->hist[live_bucket(lat_ns / 1000)], 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
}

static void live_clear(live_slot_t *s)
{
    for (unsigned i = 0; i < LIVE_BUCKETS; i++)
        atomic_store_explicit(&s->hist[i], 0, memory_order_relaxed);
    atomic_store_explicit(&s->errors, 0, memory_order_relaxed);
}

/* Read second lv->next, lasting `seconds`, into the series; draw it. */
/* Second k was read, but calls that finished in it may have been counted
 * after (a thread preempted between its clock and its increment): add them
 * to its entry and the totals. */
static void live_settle(live_t *lv, size_t k)
{
    live_slot_t *s = &lv->slot[k % LIVE_RING];
    uint64_t n = 0, e = atomic_load_explicit(&s->errors, memory_order_relaxed);
    for (unsigned i = 0; i < LIVE_BUCKETS; i++)
        n += atomic_load_explicit(&s->hist[i], memory_order_relaxed);
    uint64_t dn = n - lv->taken_calls[k % LIVE_RING], de = e - lv->taken_errors[k % LIVE_RING];
    lv->taken_calls[k % LIVE_RING] = n;
    lv->taken_errors[k % LIVE_RING] = e;
    lv->calls += dn;
    lv->errors += de;
    size_t at = lv->taken_at[k % LIVE_RING];
    if (at < lv->nseries) {
        lv->series[at].calls += (uint32_t)dn;
        lv->series[at].errors += (uint32_t)de;
    }
}

static void live_take(live_t *lv, double seconds, bool last)
{
    live_slot_t *s = &lv->slot[lv->next % LIVE_RING];
    uint32_t counts[LIVE_BUCKETS];
    uint64_t n = 0;
    for (unsigned i = 0; i < LIVE_BUCKETS; i++) {
        counts[i] = atomic_load_explicit(&s->hist[i], memory_order_relaxed);
        n += counts[i];
    }
    live_second_t sec = {.seconds = seconds,
                         .calls = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n,
                         .errors = atomic_load_explicit(&s->errors, memory_order_relaxed)};
    /* nearest rank: the smallest bucket holding at least p of the calls */
    uint64_t r50 = (n * 50 + 99) / 100, r99 = (n * 99 + 99) / 100, seen = 0;
    bool got50 = false;
    for (unsigned i = 0; i < LIVE_BUCKETS && seen < r99; i++) {
        seen += counts[i];
        if (!got50 && seen >= r50) {
            sec.p50_us = live_bucket_top(i);
            got50 = true;
        }
        if (seen >= r99) sec.p99_us = live_bucket_top(i);
    }
    size_t r = lv->next++ % LIVE_RING;
    lv->taken_calls[r] = n;
    lv->taken_errors[r] = sec.errors;
    lv->taken_at[r] = SIZE_MAX;
    lv->calls += sec.calls;
    lv->errors += sec.errors;
    /* An empty sliver after the load (the run ended just past a second) is
     * not a second of its own. */
    if (last && seconds < 1 && !sec.calls && !sec.errors) return;
    if (lv->nseries == lv->capseries && !lv->series_lost) {
        size_t ncap = lv->capseries ? lv->capseries * 2 : 64;
        live_second_t *p = realloc(lv->series, ncap * sizeof(*p));
        if (p) {
            lv->series = p;
            lv->capseries = ncap;
        } else {
            lv->series_lost = true; /* the totals go on */
        }
    }
    if (!lv->series_lost) {
        lv->taken_at[r] = lv->nseries;
        lv->series[lv->nseries++] = sec;
    }
    if (lv->tty) {
        fprintf(stderr,
                "\r%6.1f s  calls %" PRIu64 "  errors %" PRIu64 "  qps %.0f  p99 %" PRIu32
                " us\033[K",
                (double)(lv->next - 1) + seconds, lv->calls, lv->errors,
                seconds > 0 ? sec.calls / seconds : 0, sec.p99_us);
        fflush(stderr);
        lv->drawn = true;
    }
}

static void *live_run(void *arg)
{
    live_t *lv = arg;
    pthread_mutex_lock(&lv->mu);
    while (!lv->stop) {
        uint64_t at = lv->start_ns + (lv->next + 1) * 1000000000u + LIVE_GRACE_NS;
        struct timespec ts = {.tv_sec = (time_t)(at / 1000000000u),
                              .tv_nsec = (long)(at % 1000000000u)};
        pthread_cond_timedwait(&lv->cv, &lv->mu, &ts);
        if (lv->stop || now_ns() < at) continue;
        /* the slot second next + 2 will use was last second next - 2's */
        if (lv->next >= 2) live_settle(lv, lv->next - 2);
        live_clear(&lv->slot[(lv->next + 2) % LIVE_RING]);
        live_take(lv, 1.0, false);
    }
    pthread_mutex_unlock(&lv->mu);
    return NULL;
}

/* Start counting at start_ns; the reporter thread too (without it, only
 * the totals at the end are missing their series: not fatal). */
static void live_start(live_t *lv, uint64_t start_ns)
{
    memset(lv, 0, sizeof(*lv));
    lv->start_ns = start_ns;
    lv->tty = isatty(STDERR_FILENO);
    pthread_mutex_init(&lv->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lv->cv, &ca);
    pthread_condattr_destroy(&ca);
    lv->running = pthread_create(&lv->tid, NULL, live_run, lv) == 0;
}

/* The load is over, secs after start: read what is left (the last second
 * partly), clear the progress line. */
static void live_stop(live_t *lv, double secs)
{
    if (lv->running) {
        pthread_mutex_lock(&lv->mu);
        lv->stop = true;
        pthread_cond_signal(&lv->cv);
        pthread_mutex_unlock(&lv->mu);
        pthread_join(lv->tid, NULL);
    }
    /* every call is counted now: what landed late in the seconds read */
    for (size_t k = lv->next >= 2 ? lv->next - 2 : 0; k < lv->next; k++)
        live_settle(lv, k);
    for (;;) {
        double left = secs - (double)lv->next;
        if (left <= 0) break;
        live_take(lv, left < 1 ? left : 1.0, left <= 1);
    }
    if (lv->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

static void live_free(live_t *lv)
{
    free(lv->series);
    pthread_mutex_destroy(&lv->mu);
    pthread_cond_destroy(&lv->cv);
}

/* ---- bench's report --------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The end-of-run histogram: 1-2-5 steps in µs, [edge i, edge i+1). */
#define HIST_EDGES 33 /* 0, 1, 2, 5, 10, ... 5e9, 1e10: past any uint32 µs */

static void hist_edges(uint64_t *edge)
{
    static const unsigned step[3] = {1, 2, 5};
    edge[0] = 0;
    uint64_t decade = 1;
    for (int i = 1; i < HIST_EDGES; i++) {
        edge[i] = decade * step[(i - 1) % 3];
        if ((i - 1) % 3 == 2) decade *= 10;
    }
}

/* Count the sorted latencies per bucket; *first and *last: the non-empty
 * range (first > last when there are none). */
static void hist_count(const uint32_t *lat, size_t n, const uint64_t *edge, size_t *count,
                       int *first, int *last)
{
    *first = HIST_EDGES;
    *last = -1;
    size_t at = 0;
    for (int i = 0; i + 1 < HIST_EDGES; i++) {
        size_t from = at;
        while (at < n && lat[at] < edge[i + 1])
            at++;
        count[i] = at - from;
        if (count[i]) {
            if (i < *first) *first = i;
            *last = i;
        }
    }
}

typedef struct {
    long calls, errors, concurrency;
    double secs;
    const uint32_t *lat; /* sorted; nlat may be below calls when memory ran out */
    size_t nlat;
    const live_t *live;
} bench_report_t;

static void report_text(const bench_report_t *r, bool histogram)
{
#define PCT(p) (r->nlat ? r->lat[(size_t)((double)(r->nlat - 1) * (p))] : 0)
    printf("calls %ld errors %ld in %.2f s, concurrency %ld\n", r->calls, r->errors, r->secs,
           r->concurrency);
    printf("qps %.0f\n", (double)r->calls / r->secs);
    printf("latency_us p50 %u p90 %u p99 %u max %u\n", PCT(0.50), PCT(0.90), PCT(0.99),
           r->nlat ? r->lat[r->nlat - 1] : 0);
#undef PCT
    if (!histogram || !r->nlat) return;
    uint64_t edge[HIST_EDGES];
    size_t count[HIST_EDGES], most = 0;
    int first, last;
    hist_edges(edge);
    hist_count(r->lat, r->nlat, edge, count, &first, &last);
    for (int i = first; i <= last; i++)
        if (count[i] > most) most = count[i];
    printf("\nlatency_us histogram (%zu calls)\n", r->nlat);
    for (int i = first; i <= last; i++) {
        printf("  %8" PRIu64 " - %-8" PRIu64 " %10zu %5.1f%% ", edge[i], edge[i + 1], count[i],
               100.0 * (double)count[i] / (double)r->nlat);
        /* 50 columns for the fullest bucket; any call gets at least one */
        size_t bar = count[i] ? (count[i] * 50 + most - 1) / most : 0;
        for (size_t j = 0; j < bar; j++)
            putchar('#');
        putchar('\n');
    }
}

static void report_json(const bench_report_t *r)
{
#define PCT(p) (r->nlat ? r->lat[(size_t)((double)(r->nlat - 1) * (p))] : 0)
    printf("{\"calls\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"concurrency\":%ld,\"qps\":%.1f,",
           r->calls, r->errors, r->secs, r->concurrency, (double)r->calls / r->secs);
    printf("\"latency_us\":{\"p50\":%u,\"p90\":%u,\"p99\":%u,\"p999\":%u,\"max\":%u},", PCT(0.50),
           PCT(0.90), PCT(0.99), PCT(0.999), r->nlat ? r->lat[r->nlat - 1] : 0);
#undef PCT
    uint64_t edge[HIST_EDGES];
    size_t count[HIST_EDGES];
    int first, last;
    hist_edges(edge);
    hist_count(r->lat, r->nlat, edge, count, &first, &last);
    printf("\"histogram\":[");
    for (int i = first; i <= last; i++)
        printf("%s{\"from_us\":%" PRIu64 ",\"to_us\":%" PRIu64 ",\"count\":%zu}",
               i > first ? "," : "", edge[i], edge[i + 1], count[i]);
    printf("],\"per_second\":[");
    for (size_t i = 0; i < r->live->nseries; i++) {
        const live_second_t *s = &r->live->series[i];
        printf("%s{\"second\":%zu,\"seconds\":%.3f,\"calls\":%" PRIu32 ",\"errors\":%" PRIu32
               ",\"qps\":%.1f,\"p50_us\":%" PRIu32 ",\"p99_us\":%" PRIu32 "}",
               i ? "," : "", i + 1, s->seconds, s->calls, s->errors,
               s->seconds > 0 ? s->calls / s->seconds : 0.0, s->p50_us, s->p99_us);
    }
    printf("]}\n");
}

/* Sort latencies in place: counted when under 65.536 ms (nearly all; a
 * comparison sort of millions of them cost more than the calls' own
 * client work, which `dubbo bench` under callgrind measures), the rest
 * sorted after them. */
static void sort_latencies(uint32_t *lat, size_t n)
{
    enum { SMALL = 1 << 16 };
    size_t *count = calloc(SMALL, sizeof(*count));
    if (!count) {
        qsort(lat, n, sizeof(*lat), cmp_u32);
        return;
    }
    size_t big = 0;
    for (size_t i = 0; i < n; i++) {
        if (lat[i] < SMALL)
            count[lat[i]]++;
        else
            lat[big++] = lat[i]; /* the large ones gather at the front */
    }
    qsort(lat, big, sizeof(*lat), cmp_u32);
    memmove(lat + (n - big), lat, big * sizeof(*lat));
    size_t w = 0;
    for (uint32_t v = 0; v < SMALL; v++)
        for (size_t k = count[v]; k > 0; k--)
            lat[w++] = v;
    free(count);
}

/* Sorts lat in place. */
static void bench_report(const call_opts_t *o, bench_report_t *r, uint32_t *lat)
{
    sort_latencies(lat, r->nlat);
    r->lat = lat;
    if (r->secs <= 0) r->secs = 1e-9; /* no division by zero in qps */
    if (o->json)
        report_json(r);
    else
        report_text(r, o->histogram || isatty(STDOUT_FILENO));
    fflush(stdout);
}

/* The distinct error messages kept apart; later ones are counted together. */
#define BENCH_ERRORS 5

typedef struct {
    char msg[1024];
    long count;
} bench_error_t;

typedef struct {
    dubbo_reference_t *ref;
    dubbo_invocation_t inv;
    live_t live;
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;
    bool go;         /* every lane started: load until end_ns */
    uint64_t end_ns; /* CLOCK_MONOTONIC */
    long failed;
    bench_error_t errors[BENCH_ERRORS]; /* in the order they first came */
    size_t nerrors;
    long other_errors; /* failed calls with a message past the first BENCH_ERRORS */
} bench_t;

/* One thread: its own latencies, merged at the end. */
typedef struct {
    bench_t *b;
    pthread_t tid;
    long ok;
    uint32_t *lat_us; /* one per successful call (unless out of memory) */
    size_t nlat, caplat;
} lane_t;

static void lane_record(lane_t *l, uint64_t ns)
{
    l->ok++;
    if (l->nlat == l->caplat) {
        size_t ncap = l->caplat ? l->caplat * 2 : 4096;
        uint32_t *p = realloc(l->lat_us, ncap * sizeof(*p));
        if (!p) return;
        l->lat_us = p;
        l->caplat = ncap;
    }
    uint64_t us = ns / 1000;
    l->lat_us[l->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void bench_failed(bench_t *b, int rc, const dubbo_result_t *r)
{
    char msg[sizeof(b->errors[0].msg)];
    failure_text(rc, r, msg, sizeof(msg));
    /* A timeout names its request id, new on every call: count them as one. */
    for (char *p = strstr(msg, "request id "); p; p = strstr(p, "request id ")) {
        p += strlen("request id ");
        char *q = p;
        while (isdigit((unsigned char)*q))
            q++;
        if (q > p) {
            *p = '*';
            memmove(p + 1, q, strlen(q) + 1);
        }
    }
    pthread_mutex_lock(&b->mu);
    b->failed++;
    size_t i = 0;
    while (i < b->nerrors && strcmp(b->errors[i].msg, msg) != 0)
        i++;
    if (i < b->nerrors) {
        b->errors[i].count++;
    } else if (i < BENCH_ERRORS) {
        memcpy(b->errors[i].msg, msg, sizeof(msg));
        b->errors[i].count = 1;
        b->nerrors++;
    } else {
        b->other_errors++;
    }
    pthread_mutex_unlock(&b->mu);
}

static void *bench_lane(void *arg)
{
    lane_t *l = arg;
    bench_t *b = l->b;
    pthread_mutex_lock(&b->mu);
    while (!b->go)
        pthread_cond_wait(&b->cv, &b->mu);
    uint64_t end = b->end_ns;
    pthread_mutex_unlock(&b->mu);
    for (uint64_t t0 = now_ns(); t0 < end; t0 = now_ns()) {
        dubbo_result_t r;
        int rc = dubbo_reference_call(b->ref, &b->inv, &r);
        uint64_t t1 = now_ns();
        bool ok = call_ok(rc, &r);
        live_record(&b->live, t1, t1 - t0, ok);
        if (ok)
            lane_record(l, t1 - t0);
        else
            bench_failed(b, rc, &r);
        dubbo_result_destroy(&r);
    }
    return NULL;
}

/* ---- bench --raw: the bare asynchronous client --------------------------------------- */

typedef struct {
    dubbo_client_t *c;
    dubbo_invocation_t inv;
    uint64_t end_ns;
    live_t live;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long active;
    uint32_t *lat_us; /* one per successful call */
    size_t nlat, caplat;
    long errors;
    char first_error[512];
} raw_t;

typedef struct {
    raw_t *b;
    uint64_t start_ns;
} raw_shot_t;

static void raw_fire(raw_shot_t *s);

static void raw_done(int rc, dubbo_result_t *r, void *user)
{
    raw_shot_t *s = user;
    raw_t *b = s->b;
    uint64_t t = now_ns();
    bool ok = rc == 0 && r->status == 20 && !r->exception;
    live_record(&b->live, t, t - s->start_ns, ok);
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
    } else if (b->errors++ == 0) {
        snprintf(b->first_error, sizeof(b->first_error), "%s",
                 r->error ? r->error : dubbo_err_name(rc));
    }
    pthread_mutex_unlock(&b->mu);
    dubbo_result_destroy(r);
    if (t < b->end_ns) {
        raw_fire(s);
        return;
    }
    free(s);
    pthread_mutex_lock(&b->mu);
    if (--b->active == 0) pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void raw_fire(raw_shot_t *s)
{
    s->start_ns = now_ns();
    if (dubbo_client_call_async(s->b->c, &s->b->inv, raw_done, s)) {
        /* Count it and stop this lane: an immediate local failure would spin. */
        raw_t *b = s->b;
        live_record(&b->live, s->start_ns, 0, false);
        pthread_mutex_lock(&b->mu);
        if (b->errors++ == 0)
            snprintf(b->first_error, sizeof(b->first_error), "%s", dubbo_last_error());
        if (--b->active == 0) pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);
        free(s);
    }
}

static int raw_bench(const char *who, call_opts_t *o)
{
    if (o->nparams || o->nrules || strchr(o->url, ';') || strncmp(o->url, "dubbo://", 8) != 0)
        return usage(who, "%s", "--raw takes one dubbo:// URL and no --param or --rule");
    raw_t b;
    memset(&b, 0, sizeof(b));
    if (!(b.c = dubbo_client_new(o->url))) {
        fprintf(stderr, "%s: %s\n", who, dubbo_last_error());
        return 2;
    }
    fill_inv(o, &b.inv);
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    dubbo_result_t r;
    int rc = dubbo_client_call(b.c, &b.inv, &r); /* warm-up: makes the connection */
    if (!call_ok(rc, &r)) {
        char msg[4096];
        failure_text(rc, &r, msg, sizeof(msg));
        fprintf(stderr, "%s: the warm-up call failed, nothing measured: %s\n", who, msg);
        dubbo_result_destroy(&r);
        dubbo_client_free(b.c);
        return 1;
    }
    dubbo_result_destroy(&r);
    uint64_t start = now_ns();
    b.end_ns = start + (uint64_t)(o->duration * 1e9);
    live_start(&b.live, start);
    b.active = o->concurrency;
    for (long i = 0; i < o->concurrency; i++) {
        raw_shot_t *s = malloc(sizeof(*s));
        if (!s) {
            pthread_mutex_lock(&b.mu);
            b.active--;
            pthread_mutex_unlock(&b.mu);
            continue;
        }
        s->b = &b;
        raw_fire(s);
    }
    pthread_mutex_lock(&b.mu);
    while (b.active > 0)
        pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    double secs = (double)(now_ns() - start) / 1e9;
    live_stop(&b.live, secs);
    bench_report_t rep = {.calls = (long)b.nlat,
                          .errors = b.errors,
                          .concurrency = o->concurrency,
                          .secs = secs,
                          .nlat = b.nlat,
                          .live = &b.live};
    bench_report(o, &rep, b.lat_us);
    if (b.errors)
        fprintf(stderr, "%s: %ld calls failed, first: %s\n", who, b.errors, b.first_error);
    free(b.lat_us);
    live_free(&b.live);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);
    dubbo_client_free(b.c);
    return b.errors ? 1 : 0;
}

int cli_bench(const char *who, int argc, char **argv)
{
    call_opts_t o;
    int prc = parse_call(who, argc, argv, &o, true, bench_help);
    if (prc) {
        free_opts(&o);
        return prc < 0 ? 0 : prc;
    }
    if (o.raw) {
        int st = raw_bench(who, &o);
        free_opts(&o);
        return st;
    }
    warn_unknown_params(who, &o);
    tri_idl_t idl;
    int is_idl = tri_idl_prepare(who, &o, &idl);
    if (is_idl) {
        bool streams = is_idl == 1 && idl.kind != DUBBO_TRI_UNARY;
        if (is_idl == 1) tri_idl_free(&idl); /* the request is encoded: nothing else needed */
        if (is_idl == 2 || streams) {
            if (streams)
                fprintf(stderr, "%s: %s streams: bench measures unary calls\n", who, o.method);
            free_opts(&o);
            return 2;
        }
    }
    bench_t b;
    memset(&b, 0, sizeof(b));
    b.ref = open_reference(who, &o);
    if (!b.ref) {
        free_opts(&o);
        return 2;
    }
    fill_inv(&o, &b.inv);
    /* Warm up: one call makes the connection (to one provider). */
    dubbo_result_t r;
    int rc = dubbo_reference_call(b.ref, &b.inv, &r);
    if (!call_ok(rc, &r)) {
        char msg[4096];
        failure_text(rc, &r, msg, sizeof(msg));
        fprintf(stderr, "%s: the warm-up call failed, nothing measured: %s\n", who, msg);
        dubbo_result_destroy(&r);
        dubbo_reference_free(b.ref);
        free_opts(&o);
        return 1;
    }
    dubbo_result_destroy(&r);

    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    lane_t *lanes = calloc((size_t)o.concurrency, sizeof(*lanes));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 512 * 1024);
    long started = 0;
    int err = lanes ? 0 : ENOMEM;
    for (; !err && started < o.concurrency; started++) {
        lanes[started].b = &b;
        err = pthread_create(&lanes[started].tid, &attr, bench_lane, &lanes[started]);
        if (err) break;
    }
    pthread_attr_destroy(&attr);
    /* Start the load when every lane is ready (or stop them at once). */
    pthread_mutex_lock(&b.mu);
    uint64_t start = now_ns();
    b.end_ns = err ? 0 : start + (uint64_t)(o.duration * 1e9);
    live_start(&b.live, start);
    b.go = true;
    pthread_cond_broadcast(&b.cv);
    pthread_mutex_unlock(&b.mu);
    for (long i = 0; i < started; i++)
        pthread_join(lanes[i].tid, NULL);
    double secs = (double)(now_ns() - start) / 1e9;
    live_stop(&b.live, secs);
    int status = 0;
    if (err) {
        fprintf(stderr, "%s: cannot start thread %ld of %ld: %s\n", who, started + 1, o.concurrency,
                strerror(err));
        status = 1;
    } else {
        long ok = 0;
        size_t nlat = 0;
        for (long i = 0; i < started; i++) {
            ok += lanes[i].ok;
            nlat += lanes[i].nlat;
        }
        uint32_t *lat = malloc((nlat ? nlat : 1) * sizeof(*lat));
        if (!lat) nlat = 0;
        for (long i = 0, at = 0; lat && i < started; i++) {
            if (lanes[i].nlat) memcpy(lat + at, lanes[i].lat_us, lanes[i].nlat * sizeof(*lat));
            at += (long)lanes[i].nlat;
        }
        bench_report_t rep = {.calls = ok,
                              .errors = b.failed,
                              .concurrency = o.concurrency,
                              .secs = secs,
                              .nlat = nlat,
                              .live = &b.live};
        bench_report(&o, &rep, lat);
        free(lat);
        if (b.failed) {
            fprintf(stderr, "%s: %ld of %ld calls failed:\n", who, b.failed, ok + b.failed);
            for (size_t i = 0; i < b.nerrors; i++)
                fprintf(stderr, "  %ld x %s\n", b.errors[i].count, b.errors[i].msg);
            if (b.other_errors) fprintf(stderr, "  %ld x other errors\n", b.other_errors);
            status = 1;
        }
    }
    for (long i = 0; lanes && i < o.concurrency; i++)
        free(lanes[i].lat_us);
    free(lanes);
    live_free(&b.live);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);
    dubbo_reference_free(b.ref);
    free_opts(&o);
    return status;
}

/* ---- dubbo list ---------------------------------------------------------------------- */

static const char list_help[] =
    "usage: %s REGISTRY_URL [INTERFACE]\n"
    "\n"
    "Without INTERFACE: the services the registry holds, then (zookeeper, nacos, etcd) the\n"
    "applications of application-level discovery with their instances and each\n"
    "instance's services (asked from its MetadataService). With INTERFACE: its\n"
    "providers, consumers, routers and configurators, one decoded URL per line.\n"
    "Examples:\n"
    "  %s zookeeper://127.0.0.1:2181\n"
    "  %s file:///tmp/dubbo-registry-0 org.apache.dubbo.demo.DemoService\n";

static const char *map_str(const dubbo_value_t *m, const char *key)
{
    const dubbo_value_t *v = m ? dubbo_map_get(m, key) : NULL;
    return v && v->type == DUBBO_T_STRING ? v->u.s.ptr : NULL;
}

/* The services of an instance's revision, from its MetadataService
 * (docs/service-discovery.md); prints "      <service key>" lines. */
static void print_instance_services(const char *app, const char *addr, const dubbo_value_t *md,
                                    long port)
{
    const char *rev = map_str(md, "dubbo.metadata.revision");
    if (!rev || !addr) return;
    char url[512];
    snprintf(url, sizeof(url),
             "dubbo://%s:%ld/org.apache.dubbo.metadata.MetadataService?group=%s&version=1.0.0&"
             "timeout=3000",
             addr, port, app);
    dubbo_client_t *c = dubbo_client_new(url);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *arg = a ? dubbo_v_cstr(a, rev) : NULL;
    dubbo_invocation_t inv = {
        .method = "getMetadataInfo", .desc = "Ljava/lang/String;", .args = &arg, .nargs = 1};
    dubbo_result_t res;
    dubbo_result_init(&res);
    if (c && arg && dubbo_client_call(c, &inv, &res) == 0 && !res.error && res.value &&
        res.value->type == DUBBO_T_OBJECT) {
        const dubbo_value_t *svcs = dubbo_object_get(res.value, "services");
        for (size_t i = 0; svcs && svcs->type == DUBBO_T_MAP && i < svcs->u.map.len; i++) {
            const dubbo_value_t *k = svcs->u.map.items[i].key;
            if (k && k->type == DUBBO_T_STRING) printf("      %s\n", k->u.s.ptr);
        }
    } else {
        printf("      (services unknown: %s)\n", res.error ? res.error : dubbo_last_error());
    }
    dubbo_result_destroy(&res);
    dubbo_arena_free(a);
    dubbo_client_free(c);
}

/* After the interfaces: the applications of application-level discovery,
 * their instances and each instance's services, where the registry has
 * them (zookeeper's /services). */
static void list_applications(dubbo_registry_t *r)
{
    char **apps = NULL;
    size_t napps = 0;
    if (r->ops->list(r, NULL, "applications", &apps, &napps) != 0 || napps == 0) {
        free(apps);
        return;
    }
    printf("applications:\n");
    for (size_t i = 0; i < napps; i++) {
        printf("  %s\n", apps[i]);
        char **insts = NULL;
        size_t ni = 0;
        if (r->ops->list(r, apps[i], "instances", &insts, &ni) == 0)
            for (size_t k = 0; k < ni; k++) {
                dubbo_arena_t *a = dubbo_arena_new(0);
                dubbo_value_t *v = NULL;
                if (a && dubbo_value_from_json(a, insts[k], strlen(insts[k]), &v) == 0 && v &&
                    v->type == DUBBO_T_MAP) {
                    /* Curator's JSON (zookeeper), {address, port, metadata}
                     * (nacos) or dubbo-go's (etcd: Host, Port, Metadata) */
                    bool go = !map_str(v, "address") && map_str(v, "Host");
                    const char *addr = map_str(v, go ? "Host" : "address");
                    const dubbo_value_t *port = dubbo_map_get(v, go ? "Port" : "port");
                    const dubbo_value_t *payload = dubbo_map_get(v, "payload");
                    const dubbo_value_t *md = go ? dubbo_map_get(v, "Metadata")
                                              : payload && payload->type == DUBBO_T_MAP
                                                  ? dubbo_map_get(payload, "metadata")
                                                  : dubbo_map_get(v, "metadata");
                    long p = port && port->type == DUBBO_T_INT    ? port->u.i
                             : port && port->type == DUBBO_T_LONG ? (long)port->u.l
                                                                  : 0;
                    const char *rev = map_str(md, "dubbo.metadata.revision");
                    const char *eps = map_str(md, "dubbo.endpoints");
                    printf("    %s:%ld  revision %s  endpoints %s\n", addr ? addr : "?", p,
                           rev ? rev : "?", eps ? eps : "-");
                    if (md && md->type == DUBBO_T_MAP)
                        print_instance_services(apps[i], addr, md, p);
                } else {
                    printf("    (not an instance: %.120s)\n", insts[k]);
                }
                dubbo_arena_free(a);
                free(insts[k]);
            }
        free(insts);
        free(apps[i]);
    }
    free(apps);
}

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
    if (argc == 1 && !status) list_applications(r);
    dubbo_registry_close(r);
    return status;
}
