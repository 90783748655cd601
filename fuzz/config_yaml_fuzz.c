/* libFuzzer target: the YAML configuration (src/config/config.c) through
 * dubbo_config_load_string(), as `dubbo demo provider --config` and
 * programs load it (files are loaded through the same function). The input
 * up to its first NUL is the text. Aborts on a refusal without
 * DUBBO_EINVAL (or ENOMEM) or whose message does not start with the
 * text's name, and on a loaded configuration whose accessors disagree
 * (an entry found by index but not by id, a NULL id, a registry or
 * reference URL that is not a URL). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/config.h"
#include "dubbo/error.h"
#include "dubbo/url.h"
#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text)
{
    fprintf(stderr, "config_yaml_fuzz: %s (code %s, message \"%s\")\nconfig:\n%s\n", what,
            dubbo_err_name(dubbo__last_code()), dubbo_last_error(), text);
    abort();
}

/* NULL-terminated key, value pairs: an even count, no NULL value. */
static void check_pairs(const char *const *kv, const char *text)
{
    if (!kv) fail("params is NULL", text);
    for (; *kv; kv += 2)
        if (!kv[1]) fail("a parameter without a value", text);
}

static void check_urls(const char *urls, const char *text)
{
    char *copy = strdup(urls), *save = NULL;
    if (!copy) return;
    for (char *u = strtok_r(copy, ";", &save); u; u = strtok_r(NULL, ";", &save)) {
        dubbo_url_t *p = dubbo_url_parse(u);
        if (!p && dubbo__last_code() != DUBBO_ENOMEM) fail("a reference URL does not parse", text);
        dubbo_url_free(p);
    }
    free(copy);
}

static void walk(const dubbo_config_t *c, const char *text)
{
    (void)dubbo_config_application(c);
    (void)dubbo_config_application_info(c);
    for (size_t i = 0; i < dubbo_config_registry_count(c); i++) {
        const dubbo_config_registry_t *r = dubbo_config_registry_at(c, i);
        if (!r || !r->id || !r->url) fail("registry without id or url", text);
        if (dubbo_config_registry(c, r->id) == NULL) fail("registry not found by its id", text);
        check_pairs(r->params, text);
        dubbo_url_t *u = dubbo_url_parse(r->url);
        if (!u && dubbo__last_code() != DUBBO_ENOMEM) fail("a registry URL does not parse", text);
        dubbo_url_free(u);
    }
    for (size_t i = 0; i < dubbo_config_protocol_count(c); i++) {
        const dubbo_config_protocol_t *p = dubbo_config_protocol_at(c, i);
        if (!p || !p->id || !p->name) fail("protocol without id or name", text);
        if (dubbo_config_protocol(c, p->id) == NULL) fail("protocol not found by its id", text);
        dubbo_server_options_t o;
        memset(&o, 0, sizeof(o));
        (void)dubbo_config_server_options(c, p->id, &o);
    }
    for (size_t i = 0; i < dubbo_config_service_count(c); i++) {
        const dubbo_config_service_t *s = dubbo_config_service_at(c, i);
        if (!s || !s->id || !s->interface) fail("service without id or interface", text);
        if (dubbo_config_service(c, s->id) == NULL) fail("service not found by its id", text);
        check_pairs(s->params, text);
        for (size_t k = 0; k < s->nregistries; k++)
            if (!s->registries[k] || !dubbo_config_registry(c, s->registries[k]))
                fail("a service's registry is not defined", text);
    }
    for (size_t i = 0; i < dubbo_config_reference_count(c); i++) {
        const dubbo_config_reference_t *r = dubbo_config_reference_at(c, i);
        if (!r || !r->id || !r->interface) fail("reference without id or interface", text);
        if (dubbo_config_reference(c, r->id) == NULL) fail("reference not found by its id", text);
        check_pairs(r->params, text);
        const char *urls = dubbo_config_reference_urls(c, r->id);
        if (urls) check_urls(urls, text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = strndup((const char *)data, size);
    if (!text) return 0;
    dubbo_config_t *c = dubbo_config_load_string(text, "fuzz.yaml");
    if (!c) {
        int code = dubbo__last_code();
        if (code != DUBBO_EINVAL && code != DUBBO_ENOMEM) fail("refused without EINVAL", text);
        if (code == DUBBO_EINVAL && strncmp(dubbo_last_error(), "fuzz.yaml", 9) != 0)
            fail("message does not name the text", text);
    } else {
        walk(c, text);
    }
    dubbo_config_free(c);
    free(text);
    return 0;
}
