/* Internal helpers shared by every layer; never installed. */
#ifndef DUBBO_CORE_INTERNAL_H
#define DUBBO_CORE_INTERNAL_H

#include <stdbool.h>

#include <stddef.h>
#include <string.h>
#include "dubbo/error.h"

#if defined(__GNUC__)
#define DUBBO__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define DUBBO__LIKELY(x)    __builtin_expect(!!(x), 1)
#define DUBBO__UNLIKELY(x)  __builtin_expect(!!(x), 0)
#else
#define DUBBO__PRINTF(a, b)
#define DUBBO__LIKELY(x)   (x)
#define DUBBO__UNLIKELY(x) (x)
#endif

/* A host in a URL authority: an IPv6 literal goes in brackets
 * ("dubbo://[::1]:20880/..."). Use as printf(DUBBO__HOST_FMT ":%d",
 * DUBBO__HOST_ARGS(host), port). */
#define DUBBO__HOST_FMT     "%s%s%s"
#define DUBBO__HOST_ARGS(h) (strchr((h), ':') ? "[" : ""), (h), (strchr((h), ':') ? "]" : "")

/* Record a detail message for dubbo_last_error() and return err, so that
 * failure paths read `return dubbo__seterr(DUBBO_EINVAL, "...", ...);`. */
int dubbo__seterr(int err, const char *fmt, ...) DUBBO__PRINTF(2, 3);

/* The code passed to the last dubbo__seterr() on this thread, for callers
 * that wrap a lower layer's failure with more context. */
int dubbo__last_code(void);

/* Change an arena's limit (for arenas reused across messages). */
struct dubbo_arena;
void dubbo__arena_set_limit(struct dubbo_arena *a, size_t limit);

/* Registers every built-in plugin; defined by src/builtins.c, the one file
 * that names them (core/ knows none of them). Called once, by
 * dubbo_extensions_init(). */
void dubbo__register_builtins(void);

/* ---- URL text (url.c) ---- */

/* Percent-decoding of s[0..n) into a new string (malloc'd). Flags:
 * DUBBO__PCT_PLUS: '+' is a space, as in a form-encoded query (Java's
 * URLDecoder, what URL.encode wrote into registry paths); without it '+'
 * stays '+', as in a URL's path and in dubbo_url_parse's parameters.
 * DUBBO__PCT_STRICT: a '%' not followed by two hex digits fails (NULL with
 * DUBBO_EINVAL naming the position); without it such a '%' is kept as is.
 * NULL on out-of-memory. */
enum { DUBBO__PCT_PLUS = 1, DUBBO__PCT_STRICT = 2 };
char *dubbo__pct_decode(const char *s, size_t n, unsigned flags);

/* Service-key matching, Java's UrlUtils.isMatch for one part: does the
 * group or version a consumer wants (`want`: a reference's, a
 * subscription's) accept a provider's (`got`)? "*" accepts any; an empty
 * one (for a version also "0.0.0") is "none" and matches only none; a
 * wanted group may list several, comma-separated ("a,b"). (url.c) */
bool dubbo__service_key_match(const char *want, const char *got, bool version);

#endif
