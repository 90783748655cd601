/* Error codes, their names and texts, and the per-thread detail message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

static _Thread_local char last_error[512];
static _Thread_local int last_code;

const char *dubbo_strerror(int err)
{
    switch (err) {
    case DUBBO_OK: return "success";
#define XX(name, code, text)                                                                       \
    case code: return text;
        DUBBO_ERRNO_MAP(XX)
#undef XX
    default: break;
    }
    if (err < 0 && err > -1000) return strerror(-err);
    return "unknown error";
}

const char *dubbo_err_name(int err)
{
    switch (err) {
    case DUBBO_OK: return "DUBBO_OK";
#define XX(name, code, text)                                                                       \
    case code: return "DUBBO_E" #name;
        DUBBO_ERRNO_MAP(XX)
#undef XX
    default: break;
    }
    if (err < 0 && err > -1000) {
        const char *n = strerrorname_np(-err);
        if (n) return n;
    }
    return "UNKNOWN";
}

const char *dubbo_last_error(void)
{
    return last_error;
}

int dubbo__last_code(void)
{
    return last_code;
}

int dubbo__seterr(int err, const char *fmt, ...)
{
    last_code = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return err;
}
