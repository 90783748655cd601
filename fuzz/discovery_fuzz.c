/* libFuzzer target: what application-level discovery reads from a registry
 * and from a provider's MetadataService (src/registry/discovery.c through
 * dubbo__sd_instance_urls): an instance node's JSON (Curator's, as Java's
 * ZookeeperServiceDiscovery writes it) and a MetadataInfo as typed JSON.
 *
 * Input: the instance JSON up to the first NUL, then the MetadataInfo.
 * Aborts on an undocumented error code, an error without a message, or a
 * provider URL our own URL parser refuses (the consumer dials what it
 * delivers). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/error.h"
#include "dubbo/url.h"
#include "registry/discovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, int rc, const char *detail)
{
    fprintf(stderr, "discovery_fuzz: %s (rc %d %s, message \"%s\") %s\n", what, rc,
            dubbo_err_name(rc), dubbo_last_error(), detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 2);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = '\0';
    const char *inst = buf;
    const char *md = buf + strlen(buf) + 1;
    if (md > buf + size) md = buf + size;
    char **urls = NULL;
    size_t n = 0;
    int rc = dubbo__sd_instance_urls(
        "app", inst, md, "consumer://10.0.0.1/org.apache.dubbo.demo.DemoService", &urls, &n);
    if (rc != 0 && rc != DUBBO_EMALFORMED && rc != DUBBO_EUNSUPPORTED && rc != DUBBO_ENOMEM &&
        rc != DUBBO_ETOO_DEEP && rc != DUBBO_ETOO_BIG && rc != DUBBO_ETRUNCATED)
        fail("undocumented error", rc, NULL);
    if (rc != 0 && !*dubbo_last_error()) fail("an error without a message", rc, NULL);
    if (rc != 0 && (urls || n)) fail("urls with an error", rc, NULL);
    for (size_t i = 0; i < n; i++) {
        if (!urls[i]) fail("a NULL url", rc, NULL);
        dubbo_url_t *u = dubbo_url_parse(urls[i]);
        if (!u) fail("a provider URL our parser refuses", rc, urls[i]);
        dubbo_url_free(u);
        free(urls[i]);
    }
    free(urls);
    free(buf);
    return 0;
}
