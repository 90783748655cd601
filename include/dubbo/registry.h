/* Registries: where providers announce themselves and consumers find them.
 * An extension point (extension.h, DUBBO_EXT_REGISTRY) keyed by URL scheme:
 *   file://DIR                 the embedded default, one machine, no server
 *   zookeeper://host:port[,host:port...]   Java Dubbo's node layout (the extra
 *                              hosts become `backup=`, as Java's parseURL does)
 *   etcd://host:port           dubbo-go's etcdv3 key layout, with leases
 *   nacos://host:port[?namespace=&group=]  Java Dubbo's NacosRegistry layout
 *                              (ephemeral instances, heartbeats; docs/registry-nacos.md)
 *
 * URLs are Java Dubbo's full URLs, e.g.
 *   dubbo://10.0.0.5:20880/org.apache.dubbo.demo.DemoService?anyhost=true&
 *     application=demo-provider&dubbo=2.0.2&interface=org.apache.dubbo.demo.
 *     DemoService&methods=sayHello,echo&pid=42&side=provider&timestamp=...
 * and consumer URLs consumer://ip/interface?category=providers,configurators,
 * routers&side=consumer&... .
 *
 * Notifications: a subscriber gets, per category (providers, routers,
 * configurators), the whole current list of that category's URLs each time
 * it changes (an empty list when it empties: Java's empty://). A registry
 * that loses its server keeps its subscribers' last lists (they are not
 * notified empty) and re-registers and re-subscribes when it is back.
 *
 * Lists may or may not be filtered by the consumer URL's version and group
 * (ZooKeeper filters as Java's UrlUtils.isMatch; file and etcd do not);
 * references filter them again, so both are fine.
 *
 * While a server is down, reg/unreg return 0 and take effect when it is
 * back (Java's failback); only permanent refusals are errors.
 *
 * Threading: every call may come from any thread; notifications come from
 * a thread of the registry's own and must not block for long. unsubscribe
 * matches the consumer URL text, fn and user, and waits for a notification
 * in progress; destroy must not be called from inside a notification.
 * `ops` and `url` of the base struct are set by dubbo_registry_open() after
 * create() returns: threads started by create() must not read them. */
#ifndef DUBBO_REGISTRY_H
#define DUBBO_REGISTRY_H

#include <stddef.h>

#include "dubbo/export.h"
#include "dubbo/url.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dubbo_registry dubbo_registry_t;
struct dubbo_server; /* rpc.h */

/* Called with one category's full list; urls and the strings are valid
 * until the callback returns. */
typedef void (*dubbo_notify_fn)(void *user, const char *category, const char *const *urls,
                                size_t n);

typedef struct {
    const char *name; /* URL scheme */
    /* required: connect (or prepare to) for the registry URL; NULL with a
     * message on a bad URL. A server that is down is not an error here: the
     * registry keeps trying and registers when it can. */
    dubbo_registry_t *(*create)(const dubbo_url_t *url);
    /* required: announce / withdraw a provider or consumer URL. */
    int (*reg)(dubbo_registry_t *r, const char *url);
    int (*unreg)(dubbo_registry_t *r, const char *url);
    /* required: follow the categories named in the consumer URL's
     * `category` parameter (default providers) of its interface; `fn` gets
     * the current lists at once (from the registry's thread) and then on
     * every change. */
    int (*subscribe)(dubbo_registry_t *r, const char *consumer_url, dubbo_notify_fn fn, void *user);
    /* required: stop; no call of fn(user) starts after it returns. */
    int (*unsubscribe)(dubbo_registry_t *r, const char *consumer_url, dubbo_notify_fn fn,
                       void *user);
    /* required: unregister everything this registry registered, stop. */
    void (*destroy)(dubbo_registry_t *r);
    /* optional: with interface NULL, the interfaces; else the URLs under
     * that interface and category (NULL: providers), for `dubbo list`;
     * *out is malloc'd, strings too. Registries with application-level
     * discovery also answer category "applications" (interface NULL: the
     * application names) and "instances" (interface = an application: its
     * instance nodes' data). */
    int (*list)(dubbo_registry_t *r, const char *interface, const char *category, char ***out,
                size_t *n);

    /* Optional, for application-level service discovery (Dubbo 3's
     * register-mode=instance; src/registry/discovery.c, docs/service-
     * discovery.md). Nodes are named by logical keys that each registry maps
     * to its own layout:
     *   services/<application>/<instance id>   an instance (Curator's JSON)
     *   mapping/<interface>                    the application names serving it
     * ZooKeeper maps them to /services/... and <root>/mapping/... as Java.
     * A registry without node_put has no application-level discovery. */

    /* Write `data` at `key`. DUBBO_NODE_EPHEMERAL: the node lives with this
     * registry's session, is re-created after a session is lost, and goes
     * at node_del or destroy; its data is replaced when put again.
     * DUBBO_NODE_ADD_TO_LIST: persistent; `data` is added to the node's
     * comma-separated list unless already in it (compare-and-set, as Java's
     * mapping). A server that is down is not an error for an ephemeral node
     * (written when it is back); for a list it is, DUBBO_EIO naming it. */
    int (*node_put)(dubbo_registry_t *r, const char *key, const char *data, int flags);
    /* Remove a node written with DUBBO_NODE_EPHEMERAL (0 if absent). */
    int (*node_del)(dubbo_registry_t *r, const char *key);
    /* Follow a node: `fn` gets (user, key, values, n) at once and on every
     * change, from the registry's thread. children=0: the node's data
     * (n = 0 when it does not exist); children=1: the data of each child,
     * in child-name order. Stop with node_unwatch (same rules as
     * unsubscribe). */
    int (*node_watch)(dubbo_registry_t *r, const char *key, int children, dubbo_notify_fn fn,
                      void *user);
    int (*node_unwatch)(dubbo_registry_t *r, const char *key, dubbo_notify_fn fn, void *user);
    /* Called by dubbo_server_add_registry() with the server and its
     * application name (may be NULL) before any announcement, from the
     * caller's thread: a registry that serves something (application-level
     * discovery serves MetadataService) exports it there. The server
     * outlives the registry. An error fails dubbo_server_add_registry. */
    int (*attach)(dubbo_registry_t *r, struct dubbo_server *server, const char *application);
} dubbo_registry_ops_t;

#define DUBBO_NODE_EPHEMERAL   1
#define DUBBO_NODE_ADD_TO_LIST 2

struct dubbo_registry {
    const dubbo_registry_ops_t *ops;
    dubbo_url_t *url; /* the registry URL; owned */
};

/* Open a registry by URL (its scheme names the extension). NULL with
 * DUBBO_ENOT_FOUND for an unknown scheme, or the extension's error. */
DUBBO_API dubbo_registry_t *dubbo_registry_open(const char *url);
DUBBO_API void dubbo_registry_close(dubbo_registry_t *r);

/* The embedded default registry of this machine:
 * file://$XDG_RUNTIME_DIR/dubbo-registry, else file:///tmp/dubbo-registry-<uid>.
 * DUBBO_REGISTRY overrides it. Static storage. */
DUBBO_API const char *dubbo_default_registry(void);

/* dubbo_url_encode(), dubbo_url_decode(): include/dubbo/url.h. */

/* dubbo_local_ip(): include/dubbo/url.h. */

/* The provider URL Java Dubbo registers for a service exported on
 * protocol://ip:port: interface, methods (comma list), version, group,
 * application, and the fixed keys (anyhost, dubbo, pid, side, timestamp,
 * release), plus `extra` key/value pairs (NULL-terminated; weight, token,
 * dubbo.tag, ...). Keys are sorted as Java's toFullString does. malloc'd. */
DUBBO_API char *dubbo_provider_url(const char *protocol, const char *ip, int port,
                                   const char *interface, const char *version, const char *group,
                                   const char *application, const char *const *methods,
                                   size_t nmethods, const char *const *extra);

/* The consumer URL Java registers and subscribes with. malloc'd. */
DUBBO_API char *dubbo_consumer_url(const char *ip, const char *interface, const char *version,
                                   const char *group, const char *application);

#ifdef __cplusplus
}
#endif
#endif
