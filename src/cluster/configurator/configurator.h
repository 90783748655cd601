/* Configurators (override rules), as Java Dubbo 3.3 has them
 * (org.apache.dubbo.rpc.cluster.configurator): Dubbo 2.7 override:// and
 * absent:// URLs, and Dubbo 3 YAML rules (configVersion v3.0) turned into
 * the same list of URLs Java's ConfigParser makes, each with its optional
 * `match` condition. A reference's directory passes every provider URL
 * through them (cluster.c). Internal to the cluster layer.
 *
 * Threads: a list is built by one thread and then only read; reading from
 * several threads at once is safe. */
#ifndef DUBBO_CLUSTER_CONFIGURATOR_H
#define DUBBO_CLUSTER_CONFIGURATOR_H

#include <stdbool.h>
#include <stddef.h>

#include "dubbo/url.h"

/* Rule texts longer than this are refused (a rule is a few lines). */
#define DUBBO__CONF_MAX_BYTES (256u * 1024u)

/* The provider URL parameter that lists (comma-separated) the keys a
 * consumer-side configurator set: for those keys the provider URL's value
 * wins over the reference's own setting, as Java's override of the merged
 * URL does. Never sent anywhere; only the consumer's view carries it. */
#define DUBBO__CONF_KEYS "configurator.keys"

/* The v3.0 `match` condition (Java's ConditionMatch and the mesh
 * StringMatch / ListStringMatch / AddressMatch it is made of); built by
 * rule_yaml.c, evaluated by match.c. A NULL string field is unset. */
typedef struct {
    char *exact, *prefix, *regex, *wildcard, *empty, *noempty;
    void *re; /* regex_t of `regex`, compiled as a whole-text match */
} dubbo__conf_strmatch_t;

typedef struct {
    dubbo__conf_strmatch_t *oneof;
    size_t n;
} dubbo__conf_listmatch_t;

typedef struct {
    char *wildcard, *cird, *exact;
} dubbo__conf_addrmatch_t;

typedef struct {
    char *key;
    dubbo__conf_strmatch_t value;
    bool has_value;
} dubbo__conf_parammatch_t;

typedef struct dubbo__conf_match {
    dubbo__conf_addrmatch_t *address, *provider_address; /* NULL: unset */
    dubbo__conf_listmatch_t *service, *app;
    dubbo__conf_parammatch_t *params;
    size_t nparams;
    bool has_params;
} dubbo__conf_match_t;

/* One configurator: Java's OverrideConfigurator or AbsentConfigurator
 * over its URL. */
typedef struct {
    dubbo_url_t *url;           /* override://host[:port]/service?params; owned */
    bool absent;                /* absent://: only sets keys the URL lacks */
    dubbo__conf_match_t *match; /* v3.0 `match`, or NULL; owned */
} dubbo__conf_t;

typedef struct {
    dubbo__conf_t *items;
    size_t n;
} dubbo__confs_t;

/* How a provider URL is seen while configurators are matched against it:
 * Java matches the consumer's merged URL (side=consumer, the consumer's
 * application, the consumer's settings over the provider's). */
typedef struct {
    const char *side;           /* "consumer" or "provider" */
    const char *host;           /* the address rules are matched with (Java's
                                   NetUtils.getLocalHost() on the consumer side) */
    const char *application;    /* the application it is seen as, or NULL: the URL's */
    const dubbo_url_t *merged;  /* parameters that win over the URL's (the
                                   reference URL), or NULL */
    const dubbo_url_t *applied; /* parameters configurators set so far, which win
                                   over both; NULL for none */
} dubbo__conf_view_t;

void dubbo__confs_init(dubbo__confs_t *l);
void dubbo__confs_destroy(dubbo__confs_t *l);

/* Append the configurator of one override:// or absent:// URL. Java's
 * toConfigurators: a URL with no parameter but `anyhost` is skipped (0).
 * DUBBO_EINVAL naming the URL when it does not parse or has another
 * scheme; DUBBO_ENOMEM. */
int dubbo__confs_add_url(dubbo__confs_t *l, const char *url);

/* Append the configurators of one Dubbo 3 YAML rule (rule_yaml.c), as
 * Java's ConfigParser.parseConfigurators makes them (also its JSON array
 * of override URLs). DUBBO_EINVAL with "configurator rule line N: ..."
 * for a malformed rule (bad YAML, a field of the wrong type, no `key`, an
 * item without parameters, an unknown scope or configVersion); nothing is
 * appended then. */
int dubbo__confs_add_yaml(dubbo__confs_t *l, const char *text);

/* Java's Configurator order: by host text, then by `priority` (stable). */
void dubbo__confs_sort(dubbo__confs_t *l);

/* Java's AbstractConfigurator.configure of one configurator: whether it
 * applies to `url` seen as `view`, and if so the parameters it sets,
 * appended to `out` (which view->applied should point to). Returns the
 * count appended (0: it does not apply), or DUBBO_ENOMEM. */
int dubbo__conf_apply(const dubbo__conf_t *c, const dubbo__conf_view_t *view,
                      const dubbo_url_t *url, dubbo_url_t *out);

/* Pass `url` through every configurator of `l` in order and return the
 * URL as the directory must use it: `raw` itself (a copy) when nothing
 * applies, else raw with the parameters set appended (later ones win),
 * and, when `mark` is set, DUBBO__CONF_KEYS listing them. NULL with the
 * error set on DUBBO_ENOMEM or when `raw` does not parse. malloc'd. */
char *dubbo__confs_configure(const dubbo__confs_t *const *lists, size_t nlists,
                             const dubbo__conf_view_t *view, const char *raw, bool mark);

/* Whether a configured provider URL is out of the directory: Java's
 * RegistryDirectory.toInvokers reads `disabled` first, else `enabled`. */
bool dubbo__conf_disabled(const dubbo_url_t *u);

/* Whether `key` of provider URL `u` was set by a consumer-side
 * configurator (listed in DUBBO__CONF_KEYS). */
bool dubbo__conf_overridden(const dubbo_url_t *u, const char *key);

/* match.c: the v3.0 `match` condition (Java's ConditionMatch). */
bool dubbo__conf_match_eval(const dubbo__conf_match_t *m, const char *host, const dubbo_url_t *url,
                            const dubbo__conf_view_t *view);
void dubbo__conf_match_free(dubbo__conf_match_t *m);

/* A parameter of `url` as `view` sees it (side, application and the merged
 * settings first). */
const char *dubbo__conf_param(const dubbo__conf_view_t *view, const dubbo_url_t *url,
                              const char *key);

#endif
