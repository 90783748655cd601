/* UTF-8 as the wire formats want it: well-formed sequences only (no
 * overlong forms, no surrogates, nothing past U+10FFFF). Any thread; no
 * state. */
#ifndef DUBBO_CORE_UTF8_H
#define DUBBO_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at s (1-4; n bytes there), or
 * 0 when it is not one. */
size_t dubbo__utf8_len(const uint8_t *s, size_t n);
/* Whether s[0..n) is all well-formed UTF-8. */
bool dubbo__utf8_valid(const uint8_t *s, size_t n);
/* Write code point cp (<= U+10FFFF) as UTF-8 at o (room for 4); its length. */
size_t dubbo__utf8_put(char *o, uint32_t cp);

#endif
