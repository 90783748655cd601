/* libFuzzer target: the JSON the etcd registry reads (src/registry/etcd.c
 * through dubbo__etcd_replay): a /v3/kv/range reply, then a /v3/watch
 * stream of newline-separated messages, as etcd's JSON gateway sends them.
 *
 * Input: the first byte is the size of the pieces the stream is handed over
 * in (0: at once; as libcurl cuts a body anywhere), then the range reply up
 * to the first NUL, then the stream. Aborts on an undocumented error code
 * or a message that does not say which part failed, and on a list with a
 * NULL entry. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/error.h"
#include "registry/etcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, int rc)
{
    fprintf(stderr, "etcd_json_fuzz: %s (rc %d %s, message \"%s\")\n", what, rc, dubbo_err_name(rc),
            dubbo_last_error());
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t chunk = data[0];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    const char *nul = memchr(body, '\0', len);
    size_t rlen = nul ? (size_t)(nul - body) : len;
    const char *stream = nul ? nul + 1 : body + len;
    size_t slen = nul ? len - rlen - 1 : 0;

    char **urls = NULL;
    size_t n = 0;
    int rc = dubbo__etcd_replay(body, rlen, stream, slen, chunk, &urls, &n);
    switch (rc) {
    case 0:
        if (!urls) fail("success without a list", rc);
        for (size_t i = 0; i < n; i++)
            if (!urls[i]) fail("a NULL URL in the list", rc);
        break;
    case DUBBO_EMALFORMED:
        if (strncmp(dubbo_last_error(), "etcd: range reply: ", 19) != 0)
            fail("message does not name the range reply", rc);
        break;
    case DUBBO_EIO:
        if (strncmp(dubbo_last_error(), "etcd: watch stream ends: ", 25) != 0)
            fail("message does not name the watch stream", rc);
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
