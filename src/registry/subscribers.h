/* What every registry keeps of its subscribers (internal, src/registry/
 * only): who subscribed (consumer URL text, callback, user pointer), the
 * list of them, the callback in progress that unsubscribe waits for, and
 * the last list delivered per category. Defined in registry.c; file.c,
 * zookeeper.c and etcd.c embed these structs in their own. */
#ifndef DUBBO_REGISTRY_SUBSCRIBERS_H
#define DUBBO_REGISTRY_SUBSCRIBERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "dubbo/registry.h"

/* One subscription, first member of a registry's own struct. */
typedef struct dubbo__sub {
    struct dubbo__sub *next;
    char *url; /* the consumer URL, as given; owned */
    dubbo_notify_fn fn;
    void *user;
    bool removed; /* unsubscribed (under the registry's lock): no callback starts */
} dubbo__sub_t;

/* A registry's subscriptions, in subscription order, under the registry's
 * own lock (`mu` in the functions below). */
typedef struct {
    dubbo__sub_t *head;
    const dubbo__sub_t *calling; /* whose callback runs now */
    pthread_cond_t returned;     /* a callback returned */
} dubbo__subs_t;

void dubbo__subs_init(dubbo__subs_t *l);
/* The list must be empty (its subscriptions freed by the registry). */
void dubbo__subs_destroy(dubbo__subs_t *l);

/* Fill s (url copied); 0 or DUBBO_ENOMEM with a message naming `who`. */
int dubbo__sub_init(dubbo__sub_t *s, const char *url, dubbo_notify_fn fn, void *user,
                    const char *who);
/* Free what dubbo__sub_init made (not s itself). */
void dubbo__sub_destroy(dubbo__sub_t *s);

/* mu held. The subscription of (url, fn, user) not removed yet, or NULL. */
dubbo__sub_t *dubbo__subs_find(const dubbo__subs_t *l, const char *url, dubbo_notify_fn fn,
                               void *user);
/* mu held. Append s / take s out of the list. */
void dubbo__subs_append(dubbo__subs_t *l, dubbo__sub_t *s);
void dubbo__subs_unlink(dubbo__subs_t *l, dubbo__sub_t *s);

/* mu held. Mark s removed, then wait until its callback in progress (if
 * any) returns, unless the caller runs on `notifier` (the registry's
 * thread that calls back: it is then inside that callback). After it no
 * callback of s starts, as dubbo_registry_ops_t.unsubscribe promises. */
void dubbo__subs_remove(dubbo__subs_t *l, dubbo__sub_t *s, pthread_mutex_t *mu, pthread_t notifier);

/* mu not held. Call s's callback with one category's list unless s is
 * removed or *stop (read under mu; NULL: never) is set; mu is not held
 * during the call, so that it may call back into the registry. */
void dubbo__subs_notify(dubbo__subs_t *l, dubbo__sub_t *s, pthread_mutex_t *mu, const bool *stop,
                        const char *category, const char *const *urls, size_t n);

/* The list one category of a subscription got last: the next one is
 * delivered only when it differs. */
typedef struct {
    char **v;
    size_t n;
    bool sent; /* delivered at least once (v, n are that list) */
} dubbo__last_t;

/* True when v[0..n) is what was delivered last (false before the first). */
bool dubbo__last_same(const dubbo__last_t *l, const char *const *v, size_t n);
/* Remember v[0..n) (taken: malloc'd strings in a malloc'd array) as
 * delivered, freeing the previous list. */
void dubbo__last_set(dubbo__last_t *l, char **v, size_t n);
void dubbo__last_clear(dubbo__last_t *l);

/* The service-name mapping's comma-separated list of applications
 * (registry.h, DUBBO_NODE_ADD_TO_LIST), as zookeeper.c, etcd.c and nacos.c
 * keep it: *out = `list` (NULL or "" for none) with `item` added at the end,
 * malloc'd; *out = NULL when `item` is one of the list's entries already.
 * 0, or DUBBO_ENOMEM. */
int dubbo__list_add(const char *list, const char *item, char **out);

#endif
