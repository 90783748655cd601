/* Configuration files: the `dubbo:` YAML schema of dubbo-go and dubbo-rust
 * (application, registries, protocols, provider services, consumer
 * references), loaded and checked in one go, and turned into what the rest
 * of dubbo-c takes: registry URLs, server options, dubbo_service_t, and the
 * urls/params pair of dubbo_reference_new(). docs/configuration.md has the
 * schema; examples/dubbo.yaml is a sample.
 *
 * Errors: a bad file fails the whole load with DUBBO_EINVAL and a message
 * "FILE:LINE: dubbo.some.key.path: what is wrong", so nothing half-checked
 * reaches the runtime. Unknown keys are errors, not ignored.
 *
 * Ownership and threading: a dubbo_config_t is immutable once loaded; every
 * string, array and struct an accessor returns belongs to it and stays
 * valid until dubbo_config_free(). Any number of threads may read one
 * config at once; free it when none does. */
#ifndef DUBBO_CONFIG_H
#define DUBBO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "dubbo/export.h"
#include "dubbo/rest.h"
#include "dubbo/rpc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dubbo_config dubbo_config_t;

/* Files larger than this are refused (a configuration is a few KiB). */
#define DUBBO_CONFIG_MAX_BYTES ((size_t)1 << 20)

/* Load and check a configuration file. Returns a new config, or NULL with
 * dubbo_last_error() saying why: "FILE:LINE: KEY.PATH: problem" for a bad
 * configuration (DUBBO_EINVAL: YAML syntax, unknown key, wrong type, bad
 * duration, a registry or protocol id that is not defined, a key given
 * twice, a missing required key), "FILE: cannot read: ..." (-errno) when
 * the file cannot be read, or DUBBO_ENOMEM. */
DUBBO_API dubbo_config_t *dubbo_config_load_file(const char *path);

/* The same from text in memory (NUL-terminated). `name_for_messages` is
 * what error messages call the text in place of FILE (NULL: "config"). */
DUBBO_API dubbo_config_t *dubbo_config_load_string(const char *yaml, const char *name_for_messages);

/* Free a config and everything its accessors returned. NULL is fine. */
DUBBO_API void dubbo_config_free(dubbo_config_t *c);

/* ---- dubbo.application ------------------------------------------------ */

typedef struct {
    /* Each NULL when not set. `name` goes into every reference's params as
     * `application` (the tag and condition routers read it) and is what a
     * provider passes to dubbo_provider_url(). */
    const char *name;
    const char *version;
    const char *owner;
    const char *organization;
    const char *module;
    const char *environment;
    /* The QoS port (include/dubbo/qos.h): qos-enable (default false here;
     * Java's is true), qos-port (0 or -1 when not set: 22222), and
     * qos-accept-foreign-ip (default false: 127.0.0.1 only). */
    bool qos_enable;
    int qos_port;
    bool qos_accept_foreign_ip;
} dubbo_config_application_t;

/* The application name, or NULL when the file does not set one. */
DUBBO_API const char *dubbo_config_application(const dubbo_config_t *c);
/* Every application field (never NULL). */
DUBBO_API const dubbo_config_application_t *dubbo_config_application_info(const dubbo_config_t *c);

/* ---- dubbo.registries ------------------------------------------------- */

typedef struct {
    const char *id;       /* the key under dubbo.registries */
    const char *protocol; /* URL scheme: "zookeeper", "file", "etcd", ... */
    const char *address;  /* as written, without a scheme: "127.0.0.1:2181",
                             "h1:2181,h2:2181", "/tmp/dubbo-registry" */
    int timeout_ms;       /* -1 when not set */
    /* The registry URL's parameters, NULL-terminated key, value pairs
     * (never NULL): backup (the hosts after the first of a cluster
     * address), timeout (ms), group, ttl (ms), namespace, then the
     * registry's `params` in file order. */
    const char *const *params;
    /* The registry URL for dubbo_registry_open():
     * "zookeeper://127.0.0.1:2181?timeout=3000", "file:///tmp/dubbo-registry",
     * "zookeeper://h1:2181?backup=h2:2181,h3:2181" for a cluster (Java's
     * form); username/password, when set, as percent-encoded
     * user:password@. */
    const char *url;
} dubbo_config_registry_t;

/* Registries in file order: i < dubbo_config_registry_count(c), else NULL. */
DUBBO_API size_t dubbo_config_registry_count(const dubbo_config_t *c);
DUBBO_API const dubbo_config_registry_t *dubbo_config_registry_at(const dubbo_config_t *c,
                                                                  size_t i);
/* By id; NULL with DUBBO_ENOT_FOUND naming the defined ids. */
DUBBO_API const dubbo_config_registry_t *dubbo_config_registry(const dubbo_config_t *c,
                                                               const char *id);

/* ---- dubbo.protocols -------------------------------------------------- */

typedef struct {
    const char *id;   /* the key under dubbo.protocols */
    const char *name; /* the protocol: "dubbo" (the default) */
    /* what the port serves: `name`, then Java's `ext-protocol` list (port
     * unification: "tri" with ext-protocol "dubbo," serves both on one
     * port), comma-separated, duplicates dropped: options.protocols */
    const char *protocols;
    const char *host; /* bind address (`ip` or `host`), NULL when not set */
    int port;         /* -1 when not set */
    int threads;      /* worker pool size, 0 when not set */
    int queues;       /* requests waiting for a worker, 0 when not set */
    size_t payload;   /* frame body limit in bytes, 0 when not set */
    int heartbeat_ms; /* -1 when not set */
    bool direct;      /* dispatcher: direct */
    /* TLS from the port's tls_config (dubbo-go's keys), else from
     * dubbo.tls_config when that names a certificate: DUBBO_TLS_OFF when
     * neither, else DUBBO_TLS_STRICT (or DUBBO_TLS_PERMISSIVE: `mode:
     * permissive`); the files as written, NULL when not set. With a CA
     * file, client certificates are required (dubbo-go's rule). */
    int tls;
    const char *tls_cert_file; /* tls-cert-file */
    const char *tls_key_file;  /* tls-key-file */
    const char *tls_ca_file;   /* ca-cert-file */
    int iothreads;             /* event loops of the port (Java's iothreads), 0 when not set */
} dubbo_config_protocol_t;

DUBBO_API size_t dubbo_config_protocol_count(const dubbo_config_t *c);
DUBBO_API const dubbo_config_protocol_t *dubbo_config_protocol_at(const dubbo_config_t *c,
                                                                  size_t i);
DUBBO_API const dubbo_config_protocol_t *dubbo_config_protocol(const dubbo_config_t *c,
                                                               const char *id);

/* Fill opts with dubbo_server_options_init()'s defaults, then the settings
 * of protocol `protocol_id` (NULL: the only protocol; with no protocols
 * defined, just the defaults). opts->host points into the config.
 * DUBBO_ENOT_FOUND for an unknown id, DUBBO_EINVAL for NULL when several
 * protocols are defined. */
DUBBO_API int dubbo_config_server_options(const dubbo_config_t *c, const char *protocol_id,
                                          dubbo_server_options_t *opts);

/* ---- dubbo.provider.services ------------------------------------------ */

typedef struct {
    const char *id;        /* the key under dubbo.provider.services */
    const char *interface; /* required in the file */
    const char *version;   /* "" when not set */
    const char *group;     /* "" when not set */
    /* Protocol id: the service's `protocol`, else provider.protocol, else
     * the only protocol defined; NULL when no protocols are defined (the
     * program's own server options then). */
    const char *protocol;
    /* Registry ids to register in, NULL-terminated: the service's
     * `registry`, else provider.registry, else every registry. Empty (n 0)
     * for `registry: []` or when no registries are defined. */
    const char *const *registries;
    size_t nregistries;
    /* The provider URL's parameters, NULL-terminated key, value pairs
     * (never NULL), ready for dubbo_service_t.params: provider-level
     * defaults, overridden by the service's direct keys (token, weight,
     * timeout, ...), its methods (sayHello.timeout, ...) and its `params`. */
    const char *const *params;
    /* The service's `rest:` mappings (include/dubbo/rest.h), checked at
     * load; NULL, 0 when it has none. dubbo_config_bind_service() and
     * dubbo_config_apply_rest() register them. */
    const dubbo_rest_mapping_t *rest;
    size_t nrest;
} dubbo_config_service_t;

DUBBO_API size_t dubbo_config_service_count(const dubbo_config_t *c);
DUBBO_API const dubbo_config_service_t *dubbo_config_service_at(const dubbo_config_t *c, size_t i);
DUBBO_API const dubbo_config_service_t *dubbo_config_service(const dubbo_config_t *c,
                                                             const char *id);

/* Bind a program's handlers to service `service_id`: fill *out with the
 * service's interface, version, group and params (pointing into the
 * config, which must outlive the export; dubbo_server_export() copies
 * them) and methods[0..n), user. The service's `rest:` mappings, when it
 * has some, are registered (dubbo_rest_register(), process-wide), and the
 * file's REST settings, when it has some, applied (dubbo_rest_configure()).
 * Returns 0, DUBBO_ENOT_FOUND for an id not in the file, DUBBO_EINVAL for
 * an empty method table, or dubbo_rest_register()'s error, the message
 * naming the service's key path ("FILE: dubbo.provider.services.ID.rest:
 * ..."). */
DUBBO_API int dubbo_config_bind_service(const dubbo_config_t *c, const char *service_id,
                                        const dubbo_method_t *methods, size_t n, void *user,
                                        dubbo_service_t *out);

/* ---- dubbo.consumer.references ---------------------------------------- */

typedef struct {
    const char *id;        /* the key under dubbo.consumer.references */
    const char *interface; /* required in the file */
    const char *version;   /* "" when not set */
    const char *group;     /* "" when not set */
    /* The reference's `url` as written (direct providers, ';'-separated),
     * or NULL when providers come from registries. */
    const char *url;
    /* Registry ids (NULL-terminated) when `url` is NULL: the reference's
     * `registry`, else consumer.registry, else every registry. */
    const char *const *registries;
    size_t nregistries;
    /* What dubbo_reference_new() takes as `urls`: the direct URLs, each
     * given "/<interface>" when it has no path, or one URL per registry:
     * the registry URL with "/<interface>" appended to its path, e.g.
     * "zookeeper://127.0.0.1:2181/org.x.Demo?timeout=3000" or
     * "file:///tmp/dubbo-registry/org.x.Demo" (the interface is always the
     * last path segment); ';'-joined. */
    const char *urls;
    /* dubbo_reference_new()'s params, NULL-terminated key, value pairs:
     * interface, version and group (when set), application (when set),
     * then consumer-level defaults overridden by the reference's settings
     * (cluster, loadbalance, retries, timeout in ms, ...), its methods
     * (sayHello.timeout, ...) and its `params`. */
    const char *const *params;
    /* The reference's `rest:` mappings, for the requests of `rest://`
     * providers; NULL, 0 when it has none. dubbo_config_apply_rest()
     * registers them. */
    const dubbo_rest_mapping_t *rest;
    size_t nrest;
} dubbo_config_reference_t;

DUBBO_API size_t dubbo_config_reference_count(const dubbo_config_t *c);
DUBBO_API const dubbo_config_reference_t *dubbo_config_reference_at(const dubbo_config_t *c,
                                                                    size_t i);
DUBBO_API const dubbo_config_reference_t *dubbo_config_reference(const dubbo_config_t *c,
                                                                 const char *id);

/* Shortcuts for dubbo_reference_new(dubbo_config_reference_urls(c, id),
 * dubbo_config_reference_params(c, id)). NULL with DUBBO_ENOT_FOUND for an
 * unknown id. */
DUBBO_API const char *const *dubbo_config_reference_params(const dubbo_config_t *c,
                                                           const char *ref_id);
DUBBO_API const char *dubbo_config_reference_urls(const dubbo_config_t *c, const char *ref_id);

/* ---- REST (include/dubbo/rest.h) -------------------------------------- */

/* The process-wide REST settings the file gives (the CORS of a protocol's
 * `rest.cors`, and `dubbo.openapi.enabled`) over dubbo_rest_options_init()'s
 * defaults, or NULL when it gives none. */
DUBBO_API const dubbo_rest_options_t *dubbo_config_rest_options(const dubbo_config_t *c);

/* Apply what the file declares for REST: dubbo_rest_configure() with its
 * settings (when it has some), then dubbo_rest_register() with the
 * mappings of every service and reference that has `rest:`. A consumer
 * calls this before its `rest://` calls; a provider gets its services'
 * mappings from dubbo_config_bind_service() already. Bindings are
 * process-wide and stay after dubbo_config_free() (they are copied); a
 * later registration of the same interface, version and group replaces
 * them. Returns 0 or the first error, its message naming the key path
 * ("FILE: dubbo.consumer.references.ID.rest: ..."). */
DUBBO_API int dubbo_config_apply_rest(const dubbo_config_t *c);

#ifdef __cplusplus
}
#endif
#endif
