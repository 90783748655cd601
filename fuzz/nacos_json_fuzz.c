/* libFuzzer target: the instance lists the Nacos registry reads
 * (src/registry/nacos.c through dubbo__nacos_replay), as GET
 * /nacos/v1/ns/instance/list answers them: a JSON object whose hosts carry
 * ip, port, health and metadata, turned into provider URLs.
 *
 * Aborts on an undocumented error code, a refusal that does not name the
 * reply, a list after an error, and on a list a subscriber could not use:
 * a NULL entry, a URL that does not parse, URLs out of order or repeated. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/error.h"
#include "dubbo/url.h"
#include "registry/nacos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, int rc)
{
    fprintf(stderr, "nacos_json_fuzz: %s (rc %d %s, message \"%s\")\n", what, rc,
            dubbo_err_name(rc), dubbo_last_error());
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **urls = NULL;
    size_t n = 0;
    int rc = dubbo__nacos_replay((const char *)data, size, &urls, &n);
    switch (rc) {
    case 0:
        if (!urls) fail("success without a list", rc);
        for (size_t i = 0; i < n; i++) {
            if (!urls[i]) fail("a NULL URL in the list", rc);
            dubbo_url_t *u = dubbo_url_parse(urls[i]);
            if (!u) fail("a URL in the list does not parse", rc);
            dubbo_url_free(u);
            if (i && strcmp(urls[i - 1], urls[i]) >= 0) fail("URLs out of order or repeated", rc);
        }
        break;
    case DUBBO_EMALFORMED:
        if (strncmp(dubbo_last_error(), "nacos: instance list reply: ", 28) != 0)
            fail("message does not name the reply", rc);
        break;
    case DUBBO_ENOMEM: break;
    default: fail("undocumented error code", rc);
    }
    if (rc && urls) fail("a list after an error", rc);
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
    return 0;
}
