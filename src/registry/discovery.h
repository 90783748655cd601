/* Application-level service discovery (Dubbo 3), internal to src/registry/:
 * dubbo_registry_open() wraps a registry in it when the registry URL asks
 * for it (docs/service-discovery.md):
 *   register-mode=interface|instance|all   provider side (default interface)
 *   migration=FORCE_INTERFACE|APPLICATION_FIRST|FORCE_APPLICATION
 *                                           consumer side (default FORCE_INTERFACE)
 * The wrapped registry must implement the node_* operations of registry.h. */
#ifndef DUBBO_REGISTRY_DISCOVERY_H
#define DUBBO_REGISTRY_DISCOVERY_H

#include "dubbo/registry.h"

/* 1 when `u` asks for anything but plain interface-level discovery, 0 when
 * not, or DUBBO_EINVAL with a message for a value it does not know. */
int dubbo__sd_wanted(const dubbo_url_t *u);

/* The wrapper around `inner` (taken: closed with it, or on failure). NULL
 * with a message when inner has no node operations or out of memory. */
dubbo_registry_t *dubbo__sd_wrap(dubbo_registry_t *inner);

/* For tests and fuzzing. The revision Java computes for the provider URLs
 * of application `app` (MD5 hex over the services, MetadataInfo's
 * calAndGetRevision) and, when metadata_json is not NULL, the MetadataInfo
 * as typed JSON; both malloc'd. */
int dubbo__sd_revision(const char *app, const char *const *urls, size_t n, char **revision,
                       char **metadata_json);

/* For tests and fuzzing: the provider URLs a consumer (consumer_url: its
 * interface, version, group, protocol) builds from one instance node's
 * data and the MetadataInfo of its revision as typed JSON. *out and its
 * strings malloc'd. DUBBO_EMALFORMED naming the input when either is not
 * what Java writes; DUBBO_EUNSUPPORTED for storage-type remote. */
int dubbo__sd_instance_urls(const char *app, const char *instance_json, const char *metadata_json,
                            const char *consumer_url, char ***out, size_t *n);

#endif
