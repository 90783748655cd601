/* libFuzzer target: what the Nacos config client reads from the server
 * (src/registry/nacos.c): the listener's answer, the changed configs as
 * dataId%02group[%02tenant]%01... (dubbo__nacos_changed_parse), and the
 * answers of get, publish and remove (dubbo__nacos_config_reply).
 *
 * Input: byte 0 picks the parser (even: listener answer; odd: a reply),
 * for a reply byte 1 the operation and byte 2 the HTTP status; the rest is
 * the body. Aborts on an undocumented error code, a message that does not
 * name what failed, output after an error, a key a config call would
 * refuse (empty, or outside Nacos's letters, digits and -_.:), and get
 * content that is not the body byte for byte. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/error.h"
#include "registry/nacos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, int rc)
{
    fprintf(stderr, "nacos_config_fuzz: %s (rc %d %s, message \"%s\")\n", what, rc,
            dubbo_err_name(rc), dubbo_last_error());
    abort();
}

static bool nacos_name(const char *s)
{
    if (!s || !*s || strlen(s) > 256) return false;
    return s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")] ==
           '\0';
}

static void listener(const char *body, size_t len)
{
    char **keys = NULL;
    size_t n = 0;
    int rc = dubbo__nacos_changed_parse(body, len, &keys, &n);
    switch (rc) {
    case 0:
        if (n && !keys) fail("keys without a list", rc);
        for (size_t i = 0; i < 2 * n; i++)
            if (!nacos_name(keys[i])) fail("a dataId or group Nacos would refuse", rc);
        break;
    case DUBBO_EMALFORMED:
    case DUBBO_ETOO_BIG:
        if (strncmp(dubbo_last_error(), "nacos config: listener answer: ", 31) != 0)
            fail("message does not name the listener answer", rc);
        if (keys || n) fail("keys after an error", rc);
        break;
    case DUBBO_ENOMEM: break;
    default: fail("undocumented error code", rc);
    }
    for (size_t i = 0; i < 2 * n; i++)
        free(keys[i]);
    free(keys);
}

static void reply(const char *op, long status, const char *body, size_t len)
{
    char *content = NULL;
    int rc = dubbo__nacos_config_reply(op, "d", "g", status, body, len, &content);
    bool get = strcmp(op, "get") == 0;
    switch (rc) {
    case 0:
        if (!get && content) fail("content from publish or remove", rc);
        if (!get && status != 200) fail("publish or remove succeeded without HTTP 200", rc);
        if (get && status == 200 &&
            (!content || strlen(content) != len || memcmp(content, body, len) != 0))
            fail("get content differs from the body", rc);
        if (get && status != 200 && (content || status != 404)) fail("get without 200 or 404", rc);
        break;
    case DUBBO_EREMOTE:
    case DUBBO_EIO:
    case DUBBO_EMALFORMED:
    case DUBBO_ETOO_BIG: {
        char want[64];
        snprintf(want, sizeof(want), "nacos config: %s dataId=d group=g: ", op);
        if (strncmp(dubbo_last_error(), want, strlen(want)) != 0)
            fail("message does not name the operation and config", rc);
        if (content) fail("content after an error", rc);
        break;
    }
    case DUBBO_ENOMEM: break;
    default: fail("undocumented error code", rc);
    }
    free(content);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ops[] = {"get", "publish", "remove"};
    static const long statuses[] = {200, 404, 403, 400, 500, 502, 503, 0};
    if (size < 1) return 0;
    if (!(data[0] & 1)) {
        listener((const char *)data + 1, size - 1);
        return 0;
    }
    if (size < 3) return 0;
    reply(ops[data[1] % 3], statuses[data[2] % 8], (const char *)data + 3, size - 3);
    return 0;
}
