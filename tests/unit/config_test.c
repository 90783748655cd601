/* The YAML configuration: the sample loads, every accessor, what the
 * runtime takes (registry URLs, server options, dubbo_service_t, reference
 * urls/params), and errors that name FILE:LINE and the key path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "dubbo/config.h"
#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "test.h"
#include "test_server.h"

/* The value of `key` in NULL-terminated pairs, or NULL. */
static const char *kv(const char *const *pairs, const char *key)
{
    for (size_t i = 0; pairs && pairs[i]; i += 2)
        if (strcmp(pairs[i], key) == 0) return pairs[i + 1];
    return NULL;
}

static size_t npairs(const char *const *pairs)
{
    size_t n = 0;
    while (pairs && pairs[2 * n])
        n++;
    return n;
}

static const char full[] =
    "dubbo:\n"                  /* 1 */
    "  application:\n"          /* 2 */
    "    name: demo-provider\n" /* 3 */
    "    owner: team-a\n"       /* 4 */
    "  registries:\n"           /* 5 */
    "    zk: { protocol: zookeeper, address: 127.0.0.1:2181, timeout: 3s }\n"
    "    local: { protocol: file, address: /tmp/dubbo-registry }\n" /* 7 */
    "    nacos:\n"                                                  /* 8 */
    "      address: nacos://10.0.0.1:8848\n"                        /* 9 */
    "      namespace: dev\n"                                        /* 10 */
    "      username: nacos\n"                                       /* 11 */
    "      password: p@ss\n"                                        /* 12 */
    "      params: { cluster.name: \"a&b\" }\n"                     /* 13 */
    "  protocols:\n"                                                /* 14 */
    "    dubbo: { name: dubbo, port: 20880, ip: 127.0.0.1, threads: 8, queues: 16,\n"
    "             payload: 1048576, heartbeat: 30s, dispatcher: direct, iothreads: 3 }\n"
    "  provider:\n"                                                 /* 17 */
    "    timeout: 2s\n"                                             /* 18 */
    "    filter: accesslog\n"                                       /* 19 */
    "    services:\n"                                               /* 20 */
    "      DemoService:\n"                                          /* 21 */
    "        interface: org.apache.dubbo.demo.DemoService\n"        /* 22 */
    "        version: \"\"\n"                                       /* 23 */
    "        group: \"\"\n"                                         /* 24 */
    "        protocol: dubbo\n"                                     /* 25 */
    "        registry: [zk]\n"                                      /* 26 */
    "        weight: 200\n"                                         /* 27 */
    "        tag: gray\n"                                           /* 28 */
    "        methods:\n"                                            /* 29 */
    "          - { name: sayHello, timeout: 500ms, executes: 3 }\n" /* 30 */
    "        params: { token: secret, timeout: \"750\" }\n"         /* 31 */
    "      Other:\n"                                                /* 32 */
    "        interface: org.x.Other\n"                              /* 33 */
    "        version: 2.0\n"                                        /* 34 */
    "        group: g1\n"                                           /* 35 */
    "        registry: []\n"                                        /* 36 */
    "  consumer:\n"                                                 /* 37 */
    "    check: false\n"                                            /* 38 */
    "    retries: 1\n"                                              /* 39 */
    "    references:\n"                                             /* 40 */
    "      GreeterRef:\n"                                           /* 41 */
    "        interface: org.apache.dubbo.demo.DemoService\n"        /* 42 */
    "        url: dubbo://127.0.0.1:20880\n"                        /* 43 */
    "        cluster: failover\n"                                   /* 44 */
    "        loadbalance: roundrobin\n"                             /* 45 */
    "        retries: 2\n"                                          /* 46 */
    "        timeout: 3000\n"                                       /* 47 */
    "        version: \"\"\n"                                       /* 48 */
    "        group: \"\"\n"                                         /* 49 */
    "        methods: [{ name: sayHello, timeout: 1m }]\n"          /* 50 */
    "        params: { actives: \"10\" }\n"                         /* 51 */
    "      ZkRef:\n"                                                /* 52 */
    "        interface: org.x.Demo\n"                               /* 53 */
    "        version: 1.0.0\n"                                      /* 54 */
    "        group: g\n"                                            /* 55 */
    "        registry: zk, nacos\n"                                 /* 56 */
    "      AllRef:\n"                                               /* 57 */
    "        interface: org.x.All\n"                                /* 58 */
    "        timeout: 1.5s\n";                                      /* 59 */

TEST(full_sample_application_registries)
{
    dubbo_config_t *c = dubbo_config_load_string(full, "full.yaml");
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", dubbo_last_error());
        return;
    }
    CHECK_EQ_STR(dubbo_config_application(c), "demo-provider");
    CHECK_EQ_STR(dubbo_config_application_info(c)->owner, "team-a");
    CHECK(dubbo_config_application_info(c)->version == NULL);

    CHECK_EQ_INT(dubbo_config_registry_count(c), 3);
    const dubbo_config_registry_t *zk = dubbo_config_registry(c, "zk");
    CHECK(zk && zk == dubbo_config_registry_at(c, 0));
    if (zk) {
        CHECK_EQ_STR(zk->id, "zk");
        CHECK_EQ_STR(zk->protocol, "zookeeper");
        CHECK_EQ_STR(zk->address, "127.0.0.1:2181");
        CHECK_EQ_INT(zk->timeout_ms, 3000);
        CHECK_EQ_STR(kv(zk->params, "timeout"), "3000");
        CHECK_EQ_INT(npairs(zk->params), 1);
        CHECK_EQ_STR(zk->url, "zookeeper://127.0.0.1:2181?timeout=3000");
    }
    const dubbo_config_registry_t *local = dubbo_config_registry_at(c, 1);
    CHECK(local != NULL);
    if (local) {
        CHECK_EQ_STR(local->protocol, "file");
        CHECK_EQ_INT(local->timeout_ms, -1);
        CHECK_EQ_INT(npairs(local->params), 0);
        CHECK_EQ_STR(local->url, "file:///tmp/dubbo-registry");
    }
    const dubbo_config_registry_t *nacos = dubbo_config_registry(c, "nacos");
    CHECK(nacos != NULL);
    if (nacos) {
        /* the scheme in the address names the protocol (dubbo-go) */
        CHECK_EQ_STR(nacos->protocol, "nacos");
        CHECK_EQ_STR(nacos->address, "10.0.0.1:8848");
        CHECK_EQ_STR(kv(nacos->params, "namespace"), "dev");
        CHECK_EQ_STR(kv(nacos->params, "cluster.name"), "a&b");
        CHECK_EQ_STR(nacos->url,
                     "nacos://nacos:p%40ss@10.0.0.1:8848?namespace=dev&cluster.name=a%26b");
        /* the URL reads back */
        dubbo_url_t *u = dubbo_url_parse(nacos->url);
        CHECK(u != NULL);
        if (u) {
            CHECK_EQ_STR(u->host, "10.0.0.1");
            CHECK_EQ_INT(u->port, 8848);
            CHECK_EQ_STR(dubbo_url_param(u, "cluster.name", NULL), "a&b");
            dubbo_url_free(u);
        }
    }
    CHECK(dubbo_config_registry(c, "etcd") == NULL);
    CHECK(strstr(dubbo_last_error(), "no registry \"etcd\"") != NULL);
    CHECK(strstr(dubbo_last_error(), "zk, local, nacos") != NULL);
    CHECK(dubbo_config_registry_at(c, 3) == NULL);
    dubbo_config_free(c);
}

TEST(full_sample_protocols_and_server_options)
{
    dubbo_config_t *c = dubbo_config_load_string(full, "full.yaml");
    CHECK(c != NULL);
    if (!c) return;
    CHECK_EQ_INT(dubbo_config_protocol_count(c), 1);
    const dubbo_config_protocol_t *p = dubbo_config_protocol(c, "dubbo");
    CHECK(p && p == dubbo_config_protocol_at(c, 0));
    if (p) {
        CHECK_EQ_STR(p->name, "dubbo");
        CHECK_EQ_STR(p->host, "127.0.0.1");
        CHECK_EQ_INT(p->port, 20880);
        CHECK_EQ_INT(p->threads, 8);
        CHECK_EQ_INT(p->iothreads, 3);
        CHECK_EQ_INT(p->queues, 16);
        CHECK_EQ_INT(p->payload, 1048576);
        CHECK_EQ_INT(p->heartbeat_ms, 30000);
        CHECK(p->direct);
    }
    dubbo_server_options_t o;
    CHECK_EQ_INT(dubbo_config_server_options(c, NULL, &o), 0);
    CHECK_EQ_STR(o.host, "127.0.0.1");
    CHECK_EQ_INT(o.port, 20880);
    CHECK_EQ_INT(o.threads, 8);
    CHECK_EQ_INT(o.io_threads, 3);
    CHECK_EQ_INT(o.queue, 16);
    CHECK_EQ_INT(o.payload, 1048576);
    CHECK_EQ_INT(o.heartbeat_ms, 30000);
    CHECK(o.direct);
    CHECK_EQ_INT(o.shutdown_timeout_ms, 10000); /* untouched default */
    CHECK_EQ_INT(dubbo_config_server_options(c, "tri", &o), DUBBO_ENOT_FOUND);
    CHECK(dubbo_config_protocol(c, "tri") == NULL);
    dubbo_config_free(c);

    /* no protocols: the defaults, and services have no protocol id */
    c = dubbo_config_load_string(
        "dubbo:\n  provider:\n    services:\n      S: { interface: a.B }\n", "p.yaml");
    CHECK(c != NULL);
    if (!c) return;
    CHECK_EQ_INT(dubbo_config_server_options(c, NULL, &o), 0);
    CHECK_EQ_INT(o.port, 20880);
    CHECK_EQ_STR(o.host, "0.0.0.0");
    CHECK(dubbo_config_service(c, "S")->protocol == NULL);
    dubbo_config_free(c);

    /* two protocols: say which */
    c = dubbo_config_load_string("dubbo:\n  protocols:\n    a: { port: 1 }\n    b: { port: 2 }\n",
                                 "p.yaml");
    CHECK(c != NULL);
    if (!c) return;
    CHECK_EQ_INT(dubbo_config_server_options(c, NULL, &o), DUBBO_EINVAL);
    CHECK_EQ_INT(dubbo_config_server_options(c, "b", &o), 0);
    CHECK_EQ_INT(o.port, 2);
    CHECK_EQ_STR(dubbo_config_protocol(c, "a")->name, "dubbo"); /* the default name */
    CHECK_EQ_INT(dubbo_config_protocol(c, "a")->heartbeat_ms, -1);
    CHECK_EQ_STR(o.protocols, "dubbo");
    dubbo_config_free(c);

    /* Java's ext-protocol: more protocols on the same port, in order,
     * trimmed, empty entries and duplicates dropped */
    c = dubbo_config_load_string("dubbo:\n  protocols:\n    p:\n      name: tri\n"
                                 "      ext-protocol: \"dubbo, tri,,rest,\"\n",
                                 "p.yaml");
    CHECK(c != NULL);
    if (!c) return;
    CHECK_EQ_STR(dubbo_config_protocol(c, "p")->protocols, "tri,dubbo,rest");
    CHECK_EQ_INT(dubbo_config_server_options(c, NULL, &o), 0);
    CHECK_EQ_STR(o.protocols, "tri,dubbo,rest");
    dubbo_config_free(c);
}

TEST(full_sample_services)
{
    dubbo_config_t *c = dubbo_config_load_string(full, "full.yaml");
    CHECK(c != NULL);
    if (!c) return;
    CHECK_EQ_INT(dubbo_config_service_count(c), 2);
    const dubbo_config_service_t *s = dubbo_config_service(c, "DemoService");
    CHECK(s && s == dubbo_config_service_at(c, 0));
    if (s) {
        CHECK_EQ_STR(s->interface, "org.apache.dubbo.demo.DemoService");
        CHECK_EQ_STR(s->version, "");
        CHECK_EQ_STR(s->group, "");
        CHECK_EQ_STR(s->protocol, "dubbo");
        CHECK_EQ_INT(s->nregistries, 1);
        CHECK_EQ_STR(s->registries[0], "zk");
        CHECK(s->registries[1] == NULL);
        /* provider defaults first (timeout overridden in place by params), then
         * the service's own settings, methods, params */
        CHECK_EQ_STR(kv(s->params, "timeout"), "750");
        CHECK_EQ_STR(kv(s->params, "filter"), "accesslog");
        CHECK_EQ_STR(kv(s->params, "weight"), "200");
        CHECK_EQ_STR(kv(s->params, "dubbo.tag"), "gray");
        CHECK_EQ_STR(kv(s->params, "sayHello.timeout"), "500");
        CHECK_EQ_STR(kv(s->params, "sayHello.executes"), "3");
        CHECK_EQ_STR(kv(s->params, "token"), "secret");
        CHECK_EQ_INT(npairs(s->params), 7);
        CHECK_EQ_STR(s->params[0], "timeout");
    }
    const dubbo_config_service_t *o = dubbo_config_service(c, "Other");
    CHECK(o != NULL);
    if (o) {
        CHECK_EQ_STR(o->version, "2.0");
        CHECK_EQ_STR(o->group, "g1");
        CHECK_EQ_STR(o->protocol, "dubbo"); /* the only protocol */
        CHECK_EQ_INT(o->nregistries, 0);    /* registry: [] = not registered */
        CHECK(o->registries && o->registries[0] == NULL);
        CHECK_EQ_STR(kv(o->params, "timeout"), "2000");
        CHECK_EQ_INT(npairs(o->params), 2);
    }
    CHECK(dubbo_config_service(c, "Nope") == NULL);
    CHECK(strstr(dubbo_last_error(), "no service \"Nope\" in dubbo.provider.services") != NULL);
    dubbo_config_free(c);
}

static void say_hello(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, NULL);
}

TEST(bind_service_exports)
{
    dubbo_config_t *c = dubbo_config_load_string(full, "full.yaml");
    CHECK(c != NULL);
    if (!c) return;
    static const dubbo_method_t methods[] = {{"sayHello", say_hello}};
    int user = 7;
    dubbo_service_t svc;
    CHECK_EQ_INT(dubbo_config_bind_service(c, "DemoService", methods, 1, &user, &svc), 0);
    CHECK_EQ_STR(svc.interface, "org.apache.dubbo.demo.DemoService");
    CHECK_EQ_STR(svc.version, "");
    CHECK(svc.methods == methods && svc.nmethods == 1 && svc.user == &user);
    CHECK_EQ_STR(kv(svc.params, "token"), "secret");
    CHECK_EQ_INT(dubbo_config_bind_service(c, "Missing", methods, 1, NULL, &svc), DUBBO_ENOT_FOUND);
    CHECK_EQ_INT(dubbo_config_bind_service(c, "Other", methods, 0, NULL, &svc), DUBBO_EINVAL);

    /* what it fills is what dubbo_server_export() takes */
    CHECK_EQ_INT(dubbo_config_bind_service(c, "DemoService", methods, 1, &user, &svc), 0);
    dubbo_server_t *srv = dubbo_server_new(NULL);
    CHECK(srv != NULL);
    if (srv) {
        CHECK_EQ_INT(dubbo_server_export(srv, &svc), 0);
        dubbo_server_free(srv);
    }
    dubbo_config_free(c);
}

TEST(full_sample_references)
{
    dubbo_config_t *c = dubbo_config_load_string(full, "full.yaml");
    CHECK(c != NULL);
    if (!c) return;
    CHECK_EQ_INT(dubbo_config_reference_count(c), 3);
    const dubbo_config_reference_t *g = dubbo_config_reference(c, "GreeterRef");
    CHECK(g && g == dubbo_config_reference_at(c, 0));
    if (g) {
        CHECK_EQ_STR(g->interface, "org.apache.dubbo.demo.DemoService");
        CHECK_EQ_STR(g->url, "dubbo://127.0.0.1:20880");
        CHECK_EQ_INT(g->nregistries, 0);
        CHECK(g->registries && !g->registries[0]);
        CHECK_EQ_STR(g->urls, "dubbo://127.0.0.1:20880/org.apache.dubbo.demo.DemoService");
        const char *const *p = g->params;
        CHECK_EQ_STR(p[0], "interface");
        CHECK_EQ_STR(p[1], "org.apache.dubbo.demo.DemoService");
        CHECK(kv(p, "version") == NULL); /* empty version/group are left out */
        CHECK(kv(p, "group") == NULL);
        CHECK_EQ_STR(kv(p, "application"), "demo-provider");
        CHECK_EQ_STR(kv(p, "check"), "false");
        CHECK_EQ_STR(kv(p, "retries"), "2");
        CHECK_EQ_STR(kv(p, "cluster"), "failover");
        CHECK_EQ_STR(kv(p, "loadbalance"), "roundrobin");
        CHECK_EQ_STR(kv(p, "timeout"), "3000");
        CHECK_EQ_STR(kv(p, "sayHello.timeout"), "60000");
        CHECK_EQ_STR(kv(p, "actives"), "10");
        CHECK_EQ_INT(npairs(p), 9);
        CHECK(dubbo_config_reference_params(c, "GreeterRef") == p);
        CHECK(dubbo_config_reference_urls(c, "GreeterRef") == g->urls);
    }
    const dubbo_config_reference_t *z = dubbo_config_reference(c, "ZkRef");
    CHECK(z != NULL);
    if (z) {
        CHECK(z->url == NULL);
        CHECK_EQ_INT(z->nregistries, 2);
        CHECK_EQ_STR(z->registries[0], "zk");
        CHECK_EQ_STR(z->registries[1], "nacos");
        CHECK_EQ_STR(z->urls, "zookeeper://127.0.0.1:2181/org.x.Demo?timeout=3000;"
                              "nacos://nacos:p%40ss@10.0.0.1:8848/org.x.Demo?namespace=dev&"
                              "cluster.name=a%26b");
        CHECK_EQ_STR(kv(z->params, "version"), "1.0.0");
        CHECK_EQ_STR(kv(z->params, "group"), "g");
        CHECK_EQ_STR(kv(z->params, "retries"), "1"); /* the consumer default */
    }
    const dubbo_config_reference_t *a = dubbo_config_reference(c, "AllRef");
    CHECK(a != NULL);
    if (a) {
        CHECK_EQ_INT(a->nregistries, 3); /* no registry named: all of them */
        CHECK(strncmp(a->urls,
                      "zookeeper://127.0.0.1:2181/org.x.All?timeout=3000;file:///tmp/"
                      "dubbo-registry/org.x.All;nacos://",
                      83) == 0);
        CHECK_EQ_STR(kv(a->params, "timeout"), "1500");
    }
    CHECK(dubbo_config_reference_params(c, "Nope") == NULL);
    CHECK(dubbo_config_reference_urls(c, "Nope") == NULL);
    CHECK(strstr(dubbo_last_error(), "GreeterRef, ZkRef, AllRef") != NULL);
    dubbo_config_free(c);
}

TEST(reference_feeds_dubbo_reference_new)
{
    dubbo_config_t *c = dubbo_config_load_string(
        "dubbo:\n"
        "  application: { name: app1 }\n"
        "  consumer:\n"
        "    references:\n"
        "      R:\n"
        "        interface: org.x.Demo\n"
        "        version: 1.0\n"
        "        url: \" dubbo://10.0.0.1:20880 ; dubbo://10.0.0.2:20880/org.x.Demo?x=1;"
        "dubbo://10.0.0.3:20880?y=2\"\n"
        "        cluster: failfast\n"
        "        loadbalance: leastactive\n"
        "        timeout: 250ms\n",
        "r.yaml");
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", dubbo_last_error());
        return;
    }
    CHECK_EQ_STR(dubbo_config_reference_urls(c, "R"),
                 "dubbo://10.0.0.1:20880/org.x.Demo;dubbo://10.0.0.2:20880/org.x.Demo?x=1;"
                 "dubbo://10.0.0.3:20880/org.x.Demo?y=2");
    dubbo_reference_t *ref = dubbo_reference_new(dubbo_config_reference_urls(c, "R"),
                                                 dubbo_config_reference_params(c, "R"));
    CHECK(ref != NULL);
    if (ref) {
        const dubbo_url_t *u = dubbo_reference_url(ref);
        CHECK_EQ_STR(dubbo_url_param(u, "timeout", NULL), "250");
        CHECK_EQ_STR(dubbo_url_param(u, "cluster", NULL), "failfast");
        CHECK_EQ_STR(dubbo_url_param(u, "version", NULL), "1.0");
        CHECK_EQ_STR(dubbo_url_param(u, "application", NULL), "app1");
        dubbo_reference_free(ref);
    } else {
        fprintf(stderr, "%s\n", dubbo_last_error());
    }
    dubbo_config_free(c);
}

TEST(durations)
{
    static const struct {
        const char *text;
        int ms; /* -1: refused */
    } cases[] = {
        {"3000", 3000},   {"\"3000\"", 3000},     {"0", 0},
        {"500ms", 500},   {"3s", 3000},           {"1m", 60000},
        {"2h", 7200000},  {"1.5s", 1500},         {"0.25s", 250},
        {"1m30s", 90000}, {"1h1m1s1ms", 3661001}, {"3x", -1},
        {"-1", -1},       {"1.5ms", -1},          {"s", -1},
        {"3 s", -1},      {"1.2345s", -1},        {"9999999999", -1},
        {"1e3", -1},      {"\"\"", -1},           {"[1]", -1},
        {"3S", -1},       {".5s", 500},           {"1000h", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[200];
        snprintf(yaml, sizeof(yaml),
                 "dubbo:\n  registries:\n    r:\n      protocol: zookeeper\n"
                 "      address: h:1\n      timeout: %s\n",
                 cases[i].text);
        dubbo_config_t *c = dubbo_config_load_string(yaml, "d.yaml");
        if (cases[i].ms < 0) {
            if (c) fprintf(stderr, "duration %s: accepted\n", cases[i].text);
            CHECK(c == NULL);
            CHECK(strncmp(dubbo_last_error(), "d.yaml:6: dubbo.registries.r.timeout: ", 38) == 0);
        } else {
            if (!c) fprintf(stderr, "duration %s: %s\n", cases[i].text, dubbo_last_error());
            CHECK(c != NULL);
            if (c) CHECK_EQ_INT(dubbo_config_registry(c, "r")->timeout_ms, cases[i].ms);
        }
        dubbo_config_free(c);
    }
}

TEST(anchors_and_aliases_are_accepted)
{
    dubbo_config_t *c =
        dubbo_config_load_string("dubbo:\n"
                                 "  registries:\n"
                                 "    zk: &zk { protocol: zookeeper, address: h:1 }\n"
                                 "    zk2: *zk\n"
                                 "  consumer:\n"
                                 "    references:\n"
                                 "      A: &ref\n"
                                 "        interface: org.x.A\n"
                                 "        params: &p { k: v }\n"
                                 "      B:\n"
                                 "        interface: org.x.B\n"
                                 "        params: *p\n"
                                 "      C: *ref\n",
                                 "a.yaml");
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", dubbo_last_error());
        return;
    }
    CHECK_EQ_STR(dubbo_config_registry(c, "zk2")->url, "zookeeper://h:1");
    CHECK_EQ_STR(kv(dubbo_config_reference_params(c, "B"), "k"), "v");
    CHECK_EQ_STR(dubbo_config_reference(c, "C")->interface, "org.x.A");
    dubbo_config_free(c);

    /* YAML merge keys are not part of YAML 1.2 nor of libyaml: refused, by name */
    c = dubbo_config_load_string("dubbo:\n"
                                 "  registries:\n"
                                 "    zk: &zk { protocol: zookeeper, address: h:1 }\n"
                                 "    zk2:\n"
                                 "      <<: *zk\n"
                                 "      timeout: 1s\n",
                                 "m.yaml");
    CHECK(c == NULL);
    CHECK(strstr(dubbo_last_error(), "m.yaml:5: dubbo.registries.zk2.<<: merge keys") != NULL);
}

TEST(alias_expansion_budget)
{
    /* 1000 references x 400 params each = 400000 entries through one alias */
    size_t cap = 400000;
    char *big = malloc(cap);
    CHECK(big != NULL);
    if (!big) return;
    size_t n = (size_t)sprintf(big, "dubbo:\n  consumer:\n    params: &a0 {");
    for (int i = 0; i < 400; i++)
        n += (size_t)sprintf(big + n, "%sp%d: v", i ? ", " : "", i);
    n += (size_t)sprintf(big + n, "}\n    references:\n");
    for (int i = 0; i < 1000; i++)
        n += (size_t)sprintf(
            big + n, "      R%d: { interface: a.B, url: \"dubbo://h:1\", params: *a0 }\n", i);
    dubbo_config_t *c = dubbo_config_load_string(big, "big.yaml");
    CHECK(c == NULL);
    CHECK(strstr(dubbo_last_error(), "too large once aliases are expanded") != NULL);
    free(big);
}

/* Expect `yaml` to fail with a message starting with `prefix`
 * ("FILE:LINE: key.path: ") and containing `what`. */
static int expect_fail(const char *yaml, const char *prefix, const char *what, int line)
{
    dubbo_config_t *c = dubbo_config_load_string(yaml, "t.yaml");
    const char *e = dubbo_last_error();
    if (c || strncmp(e, prefix, strlen(prefix)) != 0 || !strstr(e, what)) {
        fprintf(stderr, "%s:%d: expected \"%s...%s\", got %s\"%s\"\n", __FILE__, line, prefix, what,
                c ? "success, last error " : "", e);
        dubbo_config_free(c);
        return 0;
    }
    return 1;
}

#define EXPECT_FAIL(yaml, prefix, what) CHECK(expect_fail(yaml, prefix, what, __LINE__))

#define REG "  registries:\n    zk: { protocol: zookeeper, address: 127.0.0.1:2181 }\n"

TEST(errors_unknown_keys)
{
    EXPECT_FAIL("dubbo:\n  protocols:\n    p: { ext-protocol: \"dubbo,x y\" }\n",
                "t.yaml:3: dubbo.protocols.p.ext-protocol: ", "\"x y\" is not a protocol name");
    EXPECT_FAIL("dubbo:\n"
                "  provider:\n"
                "    services:\n"
                "      DemoService:\n"
                "        interface: a.B\n"
                "        port: 20880\n",
                "t.yaml:6: dubbo.provider.services.DemoService.port: ", "unknown key");
    EXPECT_FAIL("dubbo:\n  registry:\n    address: x\n", "t.yaml:2: dubbo.registry: ",
                "unknown key (expected one of: application, registries, protocols, provider, "
                "consumer, openapi, tls_config)");
    EXPECT_FAIL("spring:\n  x: 1\ndubbo: {}\n", "t.yaml:1: spring: ", "unknown key");
    EXPECT_FAIL("dubbo:\n  registries:\n    zk: { protocol: zookeeper, address: h:1, zone: a }\n",
                "t.yaml:3: dubbo.registries.zk.zone: ", "unknown key");
    EXPECT_FAIL("dubbo:\n  consumer:\n    references:\n      R:\n        interface: a.B\n"
                "        url: dubbo://h:1\n        methods:\n          - name: m\n"
                "            weight: 3\n",
                "t.yaml:9: dubbo.consumer.references.R.methods[0].weight: ", "unknown key");
}

TEST(errors_wrong_types)
{
    EXPECT_FAIL("dubbo:\n  registries:\n    - zk\n",
                "t.yaml:3: dubbo.registries: ", "expected a mapping of ids");
    EXPECT_FAIL(
        "dubbo:\n  protocols:\n    dubbo:\n      port: abc\n",
        "t.yaml:4: dubbo.protocols.dubbo.port: ", "expected a port number 0-65535, not \"abc\"");
    EXPECT_FAIL("dubbo:\n  protocols:\n    dubbo:\n      port: 70000\n",
                "t.yaml:4: dubbo.protocols.dubbo.port: ", "0-65535");
    EXPECT_FAIL("dubbo:\n  application:\n    name: [a, b]\n",
                "t.yaml:3: dubbo.application.name: ", "expected a string, not a list");
    EXPECT_FAIL("dubbo:\n  provider:\n    services:\n      S:\n        interface: a.B\n"
                "        params:\n          x: { y: 1 }\n",
                "t.yaml:7: dubbo.provider.services.S.params.x: ",
                "a parameter value must be a string, not a mapping");
    EXPECT_FAIL("dubbo:\n  consumer:\n    check: maybe\n",
                "t.yaml:3: dubbo.consumer.check: ", "expected true or false");
    EXPECT_FAIL("dubbo:\n  provider:\n    services:\n      S:\n        interface: a.B\n"
                "        weight: -5\n",
                "t.yaml:6: dubbo.provider.services.S.weight: ", "expected a whole number");
    EXPECT_FAIL(
        "dubbo:\n  provider:\n    services:\n      S: { interface: a.B, methods: {a: 1} }\n",
        "t.yaml:4: dubbo.provider.services.S.methods: ", "expected a list");
    EXPECT_FAIL("dubbo:\n  provider: [1]\n", "t.yaml:2: dubbo.provider: ", "expected a mapping");
    EXPECT_FAIL("dubbo:\n  protocols:\n    d: { dispatcher: message }\n",
                "t.yaml:3: dubbo.protocols.d.dispatcher: ", "has all");
}

TEST(errors_durations)
{
    EXPECT_FAIL("dubbo:\n" REG "  consumer:\n    references:\n      R:\n        interface: a.B\n"
                "        timeout: 3x\n",
                "t.yaml:8: dubbo.consumer.references.R.timeout: ", "bad duration \"3x\"");
    EXPECT_FAIL("dubbo:\n  provider:\n    services:\n      S:\n        interface: a.B\n"
                "        methods:\n          - name: m\n            timeout: 1.0005s\n",
                "t.yaml:8: dubbo.provider.services.S.methods[0].timeout: ", "bad duration");
    EXPECT_FAIL("dubbo:\n  protocols:\n    d: { heartbeat: soon }\n",
                "t.yaml:3: dubbo.protocols.d.heartbeat: ", "bad duration");
}

TEST(errors_undefined_ids)
{
    EXPECT_FAIL("dubbo:\n" REG "  provider:\n    services:\n      S:\n        interface: a.B\n"
                "        registry: [zk, zk2]\n",
                "t.yaml:8: dubbo.provider.services.S.registry[1]: ",
                "no registry \"zk2\" in dubbo.registries (defined: zk)");
    EXPECT_FAIL("dubbo:\n" REG "  consumer:\n    references:\n      R:\n        interface: a.B\n"
                "        registry: zk,nacos\n",
                "t.yaml:8: dubbo.consumer.references.R.registry: ", "no registry \"nacos\"");
    EXPECT_FAIL("dubbo:\n  protocols:\n    dubbo: { port: 1 }\n  provider:\n    services:\n"
                "      S: { interface: a.B, protocol: tri }\n",
                "t.yaml:6: dubbo.provider.services.S.protocol: ",
                "no protocol \"tri\" in dubbo.protocols (defined: dubbo)");
    EXPECT_FAIL("dubbo:\n  consumer:\n    registry-ids: [zk]\n",
                "t.yaml:3: dubbo.consumer.registry-ids[0]: ", "(defined: none)");
    EXPECT_FAIL("dubbo:\n" REG "  provider:\n    services:\n      S:\n        interface: a.B\n"
                "        registry: [zk, zk]\n",
                "t.yaml:8: dubbo.provider.services.S.registry[1]: ", "listed twice");
}

TEST(errors_duplicates)
{
    EXPECT_FAIL("dubbo:\n  registries:\n    zk: { protocol: zookeeper, address: h:1 }\n"
                "    zk: { protocol: zookeeper, address: h:2 }\n",
                "t.yaml:4: dubbo.registries.zk: ", "defined twice (first at line 3)");
    EXPECT_FAIL(
        "dubbo:\n  provider:\n    services:\n      S:\n        interface: a.B\n"
        "        interface: a.C\n",
        "t.yaml:6: dubbo.provider.services.S.interface: ", "appears twice (first at line 5)");
    EXPECT_FAIL("dubbo:\n  provider:\n    services:\n      S:\n        interface: a.B\n"
                "        weight: 100\n        params:\n          weight: 200\n",
                "t.yaml:8: dubbo.provider.services.S.params.weight: ",
                "sets parameter \"weight\", already set at line 6");
    EXPECT_FAIL("dubbo:\n  consumer:\n    references:\n      R:\n        interface: a.B\n"
                "        url: dubbo://h:1\n        timeout: 1s\n        request-timeout: 2s\n",
                "t.yaml:8: dubbo.consumer.references.R.request-timeout: ", "already set at line 7");
    EXPECT_FAIL("dubbo:\n  consumer:\n    references:\n      R:\n        interface: a.B\n"
                "        url: dubbo://h:1\n        methods:\n          - name: m\n"
                "          - name: m\n",
                "t.yaml:9: dubbo.consumer.references.R.methods[1]: ",
                "method \"m\" is listed twice (first at line 8)");
    EXPECT_FAIL("dubbo:\n" REG "  provider:\n    registry: zk\n    registry-ids: [zk]\n",
                "t.yaml:6: dubbo.provider: ", "registry and registry-ids are the same setting");
    EXPECT_FAIL("dubbo:\n  protocols:\n    d: { ip: 1.2.3.4, host: 1.2.3.4 }\n",
                "t.yaml:3: dubbo.protocols.d: ", "ip and host are the same setting");
}

TEST(errors_missing_and_conflicting)
{
    EXPECT_FAIL("dubbo:\n  consumer:\n    references:\n      R:\n        url: dubbo://h:1\n",
                "t.yaml:4: dubbo.consumer.references.R: ", "interface is required");
    EXPECT_FAIL("dubbo:\n  registries:\n    zk: { protocol: zookeeper }\n",
                "t.yaml:3: dubbo.registries.zk: ", "address is required");
    EXPECT_FAIL("dubbo:\n  registries:\n    zk:\n",
                "t.yaml:3: dubbo.registries.zk: ", "address is required");
    EXPECT_FAIL("dubbo:\n  registries:\n    zk: { address: h:1 }\n",
                "t.yaml:3: dubbo.registries.zk: ", "protocol is required");
    EXPECT_FAIL("dubbo:\n  registries:\n    zk: { protocol: etcd, address: \"zookeeper://h:1\" }\n",
                "t.yaml:3: dubbo.registries.zk.address: ",
                "the scheme \"zookeeper\" disagrees with protocol \"etcd\"");
    EXPECT_FAIL("dubbo:\n  registries:\n    zk: { protocol: zookeeper, address: \"h:1?x=1\" }\n",
                "t.yaml:3: dubbo.registries.zk.address: ", "put parameters under params");
    EXPECT_FAIL("dubbo:\n  registries:\n    zk: { protocol: zookeeper, address: \"h:x\" }\n",
                "t.yaml:3: dubbo.registries.zk.address: ", "expected host:port");
    EXPECT_FAIL("dubbo:\n  registries:\n    zk:\n      protocol: zookeeper\n"
                "      address: h1:1,h2:2\n      params: { backup: \"h3:3\" }\n",
                "t.yaml:6: dubbo.registries.zk.params.backup: ",
                "sets parameter \"backup\", already set at line 5");
    EXPECT_FAIL("dubbo:\n  registries:\n    f: { protocol: file, address: reg-dir }\n",
                "t.yaml:3: dubbo.registries.f.address: ", "one absolute directory");
    EXPECT_FAIL(
        "dubbo:\n" REG "  consumer:\n    references:\n      R:\n        interface: a.B\n"
        "        url: dubbo://h:1\n        registry: zk\n",
        "t.yaml:9: dubbo.consumer.references.R.registry: ", "url and registry exclude each other");
    EXPECT_FAIL("dubbo:\n  consumer:\n    references:\n      R:\n        interface: a.B\n",
                "t.yaml:4: dubbo.consumer.references.R: ", "no url and no registry");
    EXPECT_FAIL("dubbo:\n  consumer:\n    references:\n      R:\n        interface: a.B\n"
                "        url: \"dubbo://h:abc\"\n",
                "t.yaml:6: dubbo.consumer.references.R.url: ", "port must be a number");
    EXPECT_FAIL("dubbo:\n  consumer:\n    references:\n      R:\n        interface: a.B\n"
                "        url: \" ; \"\n",
                "t.yaml:6: dubbo.consumer.references.R.url: ", "is empty");
    EXPECT_FAIL("dubbo:\n  protocols:\n    a: {}\n    b: {}\n  provider:\n    services:\n"
                "      S: { interface: a.B }\n",
                "t.yaml:7: dubbo.provider.services.S: ",
                "2 protocols are defined (a, b): name one with protocol:");
    EXPECT_FAIL(
        "dubbo:\n  provider:\n    services:\n      S:\n        interface: a.B\n"
        "        params: { version: \"1.0\" }\n",
        "t.yaml:6: dubbo.provider.services.S.params.version: ", "set version with its own key");
    EXPECT_FAIL("dubbo:\n  provider:\n    services:\n      S:\n        interface: a.B\n"
                "        methods:\n          - timeout: 1s\n",
                "t.yaml:7: dubbo.provider.services.S.methods[0]: ", "name is required");
    EXPECT_FAIL("dubbo:\n  consumer:\n    references:\n      R:\n        interface: \"a/b;c\"\n"
                "        url: dubbo://h:1\n",
                "t.yaml:5: dubbo.consumer.references.R.interface: ", "is not an interface name");
    EXPECT_FAIL("dubbo:\n  registries:\n    \"a,b\": { protocol: zookeeper, address: h:1 }\n",
                "t.yaml:3: dubbo.registries.a,b: ", "an id may not contain");
    EXPECT_FAIL(
        "dubbo:\n  registries:\n    zk: { protocol: zookeeper, address: h:1, password: x }\n",
        "t.yaml:3: dubbo.registries.zk: ", "password without username");
}

TEST(errors_yaml_syntax)
{
    /* each names FILE:LINE of the problem */
    EXPECT_FAIL("dubbo:\n  application:\n    name: \"unterminated\n", "t.yaml:4: ",
                "bad YAML: found unexpected end of stream (while scanning a quoted scalar at line "
                "3)");
    EXPECT_FAIL("dubbo:\n  application:\n    name: a\n   bad: b\n", "t.yaml:4: ", "bad YAML: ");
    EXPECT_FAIL("dubbo:\n  registries:\n\tzk: {}\n", "t.yaml:3: ", "bad YAML: ");
    EXPECT_FAIL("dubbo:\n  registries: { zk: [ }\n", "t.yaml:2: ", "bad YAML: ");
    EXPECT_FAIL("dubbo: {}\n---\ndubbo: {}\n", "t.yaml:3: ", "a second YAML document");
    EXPECT_FAIL("dubbo: {}\n---\n: : :\n", "t.yaml:3: ", "bad YAML");
    EXPECT_FAIL("dubbo:\n  application: { name: \"\xff\" }\n", "t.yaml:2: ", "bad YAML");
    EXPECT_FAIL("", "t.yaml:1: ", "the configuration is empty");
    EXPECT_FAIL("# only a comment\n", "t.yaml:1: ", "the configuration is empty");
    EXPECT_FAIL("hello\n", "t.yaml:1: ", "expected a mapping");
    EXPECT_FAIL("other: 1\n", "t.yaml:1: other: ", "unknown key");
}

TEST(empty_sections_and_defaults)
{
    dubbo_config_t *c = dubbo_config_load_string("dubbo:\n", "e.yaml");
    CHECK(c != NULL);
    if (!c) return;
    CHECK(dubbo_config_application(c) == NULL);
    CHECK_EQ_INT(dubbo_config_registry_count(c), 0);
    CHECK_EQ_INT(dubbo_config_protocol_count(c), 0);
    CHECK_EQ_INT(dubbo_config_service_count(c), 0);
    CHECK_EQ_INT(dubbo_config_reference_count(c), 0);
    dubbo_config_free(c);

    c = dubbo_config_load_string("dubbo:\n"
                                 "  registries:\n"
                                 "    a: { protocol: zookeeper, address: \"h1:1,h2:2\" }\n"
                                 "    b: { protocol: etcd, address: h3:3, group: g, ttl: 10m }\n"
                                 "  provider:\n"
                                 "    registry: b\n"
                                 "    token: \"true\"\n"
                                 "    services:\n"
                                 "      S: { interface: a.B, token: own }\n"
                                 "      T: { interface: a.C, registry: \"a, b\" }\n"
                                 "  consumer:\n"
                                 "    registry: [a]\n"
                                 "    references:\n"
                                 "      R: { interface: a.B }\n",
                                 "d.yaml");
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", dubbo_last_error());
        return;
    }
    /* a cluster address: Java's backup= form, which dubbo_url_parse() reads */
    const dubbo_config_registry_t *ra = dubbo_config_registry(c, "a");
    CHECK_EQ_STR(ra->address, "h1:1,h2:2");
    CHECK_EQ_STR(ra->url, "zookeeper://h1:1?backup=h2:2");
    CHECK_EQ_STR(kv(ra->params, "backup"), "h2:2");
    dubbo_url_t *u = dubbo_url_parse(ra->url);
    CHECK(u != NULL);
    if (u) {
        CHECK_EQ_STR(u->host, "h1");
        CHECK_EQ_STR(dubbo_url_param(u, "backup", NULL), "h2:2");
        dubbo_url_free(u);
    }
    CHECK_EQ_STR(dubbo_config_registry(c, "b")->url, "etcd://h3:3?group=g&ttl=600000");
    const dubbo_config_service_t *s = dubbo_config_service(c, "S");
    CHECK_EQ_INT(s->nregistries, 1);
    CHECK_EQ_STR(s->registries[0], "b");
    CHECK_EQ_STR(kv(s->params, "token"), "own");
    CHECK_EQ_INT(npairs(s->params), 1);
    const dubbo_config_service_t *t = dubbo_config_service(c, "T");
    CHECK_EQ_INT(t->nregistries, 2);
    CHECK_EQ_STR(t->registries[0], "a");
    CHECK_EQ_STR(t->registries[1], "b");
    CHECK_EQ_STR(kv(t->params, "token"), "true");
    CHECK_EQ_STR(dubbo_config_reference_urls(c, "R"), "zookeeper://h1:1/a.B?backup=h2:2");
    dubbo_config_free(c);
    dubbo_config_free(NULL);
}

TEST(load_file)
{
    const char *path = DUBBO_SOURCE_DIR "/examples/dubbo.yaml";
    dubbo_config_t *c = dubbo_config_load_file(path);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", dubbo_last_error());
        return;
    }
    CHECK_EQ_STR(dubbo_config_application(c), "demo-provider");
    CHECK_EQ_STR(dubbo_config_registry(c, "zk")->url, "zookeeper://127.0.0.1:2181?timeout=3000");
    CHECK_EQ_STR(dubbo_config_registry(c, "local")->url, "file:///tmp/dubbo-registry");
    const dubbo_config_service_t *s = dubbo_config_service(c, "DemoService");
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ_STR(s->version, "1.0.0");
        CHECK_EQ_STR(kv(s->params, "timeout"), "1000");
        CHECK_EQ_STR(kv(s->params, "sayHello.timeout"), "500");
        CHECK_EQ_STR(kv(s->params, "dubbo.tag"), "gray");
        CHECK(s->nrest == 1 && s->rest[0].nparams == 1);
        if (s->nrest == 1) CHECK_EQ_STR(s->rest[0].path, "/demo/hello/{name}");
    }
    CHECK(dubbo_config_rest_options(c) &&
          strcmp(dubbo_config_rest_options(c)->cors_origins, "http://127.0.0.1:8080") == 0);
    CHECK_EQ_STR(dubbo_config_reference_urls(c, "GreeterRef"),
                 "zookeeper://127.0.0.1:2181/org.apache.dubbo.demo.DemoService?timeout=3000");
    CHECK_EQ_STR(dubbo_config_reference_urls(c, "DirectRef"),
                 "dubbo://127.0.0.1:20880/org.apache.dubbo.demo.DemoService;"
                 "dubbo://127.0.0.1:20881/org.apache.dubbo.demo.DemoService");
    CHECK_EQ_STR(kv(dubbo_config_reference_params(c, "DirectRef"), "check"), "false");
    dubbo_server_options_t o;
    CHECK_EQ_INT(dubbo_config_server_options(c, "dubbo", &o), 0);
    CHECK_EQ_INT(o.port, 20880);
    CHECK_EQ_STR(o.protocols, "dubbo,rest");
    dubbo_config_free(c);

    /* errors carry the file name */
    char tmp[] = "/tmp/dubbo_config_test_XXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "w");
    fputs("dubbo:\n  registries:\n    zk: { protocol: zookeeper, address: h:1, timeout: 3x }\n", f);
    fclose(f);
    CHECK(dubbo_config_load_file(tmp) == NULL);
    char want[200];
    snprintf(want, sizeof(want), "%s:3: dubbo.registries.zk.timeout: bad duration", tmp);
    CHECK(strncmp(dubbo_last_error(), want, strlen(want)) == 0);
    unlink(tmp);

    CHECK(dubbo_config_load_file("/nonexistent/dubbo.yaml") == NULL);
    CHECK(strstr(dubbo_last_error(), "/nonexistent/dubbo.yaml: cannot read") != NULL);
    CHECK(dubbo_config_load_file(NULL) == NULL);
    CHECK(dubbo_config_load_string(NULL, NULL) == NULL);
}

/* ---- REST mappings (include/dubbo/rest.h) declared in the file ---- */

static const char rest_yaml[] =
    "dubbo:\n"
    "  protocols:\n"
    "    rest:\n"
    "      name: rest\n"
    "      port: 0\n"
    "      rest:\n"
    "        cors:\n"
    "          allowed-origins: [\"http://app.example\", \"https://b.example:8443\"]\n"
    "          allowed-methods: get, post\n"
    "          allowed-headers: [X-Trace]\n"
    "          max-age: 600\n"
    "          allow-credentials: true\n"
    "  openapi: { enabled: false }\n"
    "  provider:\n"
    "    services:\n"
    "      Demo:\n"
    "        interface: org.apache.dubbo.config.RestDemo\n"
    "        rest:\n"
    "          - method: sayHello\n"
    "            verb: get\n"
    "            path: /demo/hello/{name}\n"
    "            params: [{from: path, name: name}]\n"
    "            produces: text/plain\n"
    "          - method: add\n"
    "            verb: POST\n"
    "            path: /demo/add\n"
    "            params:\n"
    "              - {from: form, name: a, type: int}\n"
    "              - {from: form, name: b, type: int, default-value: \"10\"}\n"
    "            consumes: [application/x-www-form-urlencoded]\n"
    "            produces: \"application/json, text/plain\"\n"
    "            desc: \"add(II)\"\n"
    "  consumer:\n"
    "    references:\n"
    "      Other:\n"
    "        interface: org.apache.dubbo.config.RestOther\n"
    "        version: 1.0\n"
    "        url: rest://127.0.0.1:1\n"
    "        rest:\n"
    "          - {method: find, verb: GET, path: \"/other/{id}\",\n"
    "             params: [{from: path, name: id, type: long}, {from: header, name: X-Who}]}\n";

TEST(rest_mappings_load)
{
    dubbo_config_t *c = dubbo_config_load_string(rest_yaml, "rest.yaml");
    if (!c) fprintf(stderr, "%s\n", dubbo_last_error());
    CHECK(c != NULL);
    if (!c) return;
    const dubbo_config_service_t *s = dubbo_config_service(c, "Demo");
    CHECK(s && s->nrest == 2);
    if (s && s->nrest == 2) {
        const dubbo_rest_mapping_t *m = &s->rest[0];
        CHECK_EQ_STR(m->method, "sayHello");
        CHECK_EQ_STR(m->verb, "GET"); /* upper-cased */
        CHECK_EQ_STR(m->path, "/demo/hello/{name}");
        CHECK(m->nparams == 1 && m->params[0].from == DUBBO_REST_PATH);
        CHECK_EQ_STR(m->params[0].name, "name");
        CHECK(m->params[0].type == NULL && m->params[0].default_value == NULL);
        CHECK(m->consumes == NULL && m->desc == NULL);
        CHECK_EQ_STR(m->produces, "text/plain");
        m = &s->rest[1];
        CHECK(m->nparams == 2 && m->params[1].from == DUBBO_REST_FORM);
        CHECK_EQ_STR(m->params[1].type, "int");
        CHECK_EQ_STR(m->params[1].default_value, "10");
        CHECK_EQ_STR(m->consumes, "application/x-www-form-urlencoded");
        CHECK_EQ_STR(m->produces, "application/json,text/plain");
        CHECK_EQ_STR(m->desc, "add(II)");
    }
    const dubbo_config_reference_t *r = dubbo_config_reference(c, "Other");
    CHECK(r && r->nrest == 1);
    if (r && r->nrest == 1) {
        CHECK(r->rest[0].nparams == 2 && r->rest[0].params[1].from == DUBBO_REST_HEADER);
        CHECK_EQ_STR(r->rest[0].params[0].type, "long");
    }
    const dubbo_rest_options_t *o = dubbo_config_rest_options(c);
    CHECK(o != NULL);
    if (o) {
        CHECK_EQ_INT(o->version, DUBBO_REST_OPTIONS_VERSION);
        CHECK_EQ_STR(o->cors_origins, "http://app.example,https://b.example:8443");
        CHECK_EQ_STR(o->cors_methods, "GET,POST");
        CHECK_EQ_STR(o->cors_headers, "X-Trace");
        CHECK_EQ_INT(o->cors_max_age, 600);
        CHECK(o->cors_credentials && !o->openapi);
    }
    dubbo_config_free(c);

    /* no REST at all: nothing to apply */
    c = dubbo_config_load_string(full, "full.yaml");
    CHECK(c != NULL);
    if (!c) return;
    CHECK(dubbo_config_rest_options(c) == NULL);
    CHECK(dubbo_config_service(c, "DemoService")->rest == NULL);
    CHECK_EQ_INT(dubbo_config_apply_rest(c), 0);
    dubbo_config_free(c);
    /* openapi alone keeps CORS off */
    c = dubbo_config_load_string("dubbo:\n  openapi:\n    enabled: true\n", "o.yaml");
    CHECK(c && dubbo_config_rest_options(c) && dubbo_config_rest_options(c)->openapi &&
          !dubbo_config_rest_options(c)->cors_origins);
    dubbo_config_free(c);
}

/* int add(int a, int b) */
static void rest_add(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *a = dubbo_call_arg(call, 0), *b = dubbo_call_arg(call, 1);
    if (!a || !b || a->type != DUBBO_T_INT || b->type != DUBBO_T_INT) {
        dubbo_call_throw(call, "java.lang.IllegalArgumentException", "add(int, int)");
        return;
    }
    dubbo_call_return(call, dubbo_v_int(dubbo_call_arena(call), a->u.i + b->u.i));
}

/* Send `req` on a new connection and read the answer until the server
 * closes it (the request says Connection: close). */
static void http_exchange(int port, const char *req, char *out, size_t cap)
{
    int fd = test_dial(port);
    size_t n = 0;
    CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    for (ssize_t k; n + 1 < cap && (k = read(fd, out + n, cap - 1 - n)) > 0;)
        n += (size_t)k;
    out[n] = '\0';
    close(fd);
}

TEST(rest_mappings_route)
{
    dubbo_config_t *c = dubbo_config_load_string(rest_yaml, "rest.yaml");
    CHECK(c != NULL);
    if (!c) return;
    static const dubbo_method_t methods[] = {{"sayHello", test_say_hello}, {"add", rest_add}};
    dubbo_service_t svc;
    /* binding registers the service's mappings and applies the settings */
    CHECK_EQ_INT(dubbo_config_bind_service(c, "Demo", methods, 2, NULL, &svc), 0);
    dubbo_server_options_t opts;
    CHECK_EQ_INT(dubbo_config_server_options(c, "rest", &opts), 0);
    CHECK_EQ_STR(opts.protocols, "rest");
    dubbo_server_t *srv = test_serve(&opts, 0, &svc);
    CHECK(srv != NULL);
    if (!srv) {
        dubbo_config_free(c);
        return;
    }
    int port = dubbo_server_port(srv);
    char ans[4096];

    /* the path template and the path variable, as curl would call it */
    http_exchange(port,
                  "GET /demo/hello/world HTTP/1.1\r\nHost: x\r\nOrigin: http://app.example\r\n"
                  "Connection: close\r\n\r\n",
                  ans, sizeof(ans));
    CHECK(strncmp(ans, "HTTP/1.1 200", 12) == 0);
    CHECK_CONTAINS(ans, "Hello world");
    CHECK_CONTAINS(ans, "Access-Control-Allow-Origin: http://app.example");
    CHECK_CONTAINS(ans, "Access-Control-Allow-Credentials: true");
    /* form fields, one from its default-value */
    http_exchange(port,
                  "POST /demo/add HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=5",
                  ans, sizeof(ans));
    CHECK(strncmp(ans, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(ans, "\r\n\r\n") && strcmp(strstr(ans, "\r\n\r\n") + 4, "15") == 0);
    /* a verb the file does not bind there; openapi is off */
    http_exchange(port, "GET /demo/add HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", ans,
                  sizeof(ans));
    CHECK(strncmp(ans, "HTTP/1.1 405", 12) == 0);
    http_exchange(port, "GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", ans,
                  sizeof(ans));
    CHECK(strncmp(ans, "HTTP/1.1 404", 12) == 0);

    /* the consumer side builds its request from the same binding */
    char url[128];
    snprintf(url, sizeof(url), "rest://127.0.0.1:%d/org.apache.dubbo.config.RestDemo", port);
    dubbo_client_t *cl = dubbo_client_new(url);
    CHECK(cl != NULL);
    if (cl) {
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *args[] = {dubbo_v_int(a, 2), dubbo_v_int(a, 3)};
        dubbo_invocation_t inv = {.method = "add", .args = args, .nargs = 2, .timeout_ms = 5000};
        dubbo_result_t r;
        dubbo_result_init(&r);
        CHECK_EQ_INT(dubbo_client_call(cl, &inv, &r), 0);
        if (r.error) fprintf(stderr, "add: %s\n", r.error);
        CHECK(r.value && ((r.value->type == DUBBO_T_INT && r.value->u.i == 5) ||
                          (r.value->type == DUBBO_T_LONG && r.value->u.l == 5)));
        dubbo_result_destroy(&r);
        dubbo_arena_free(a);
        dubbo_client_free(cl);
    }
    dubbo_server_free(srv);

    /* dubbo_config_apply_rest: the settings and every declaration */
    CHECK_EQ_INT(dubbo_config_apply_rest(c), 0);
    dubbo_config_free(c);
    /* what was registered outlives the config: a default configuration
     * (CORS off) and a binding replaced by C show the file's were copied */
    dubbo_rest_options_t o;
    dubbo_rest_options_init(&o);
    CHECK_EQ_INT(dubbo_rest_configure(&o), 0);
}

/* Each malformed `rest:` entry fails the load naming its line and key path. */
TEST(errors_rest)
{
#define SVC "dubbo:\n  provider:\n    services:\n      S:\n        interface: a.B\n        rest:\n"
#define PFX "t.yaml:%d: dubbo.provider.services.S.rest"
    static const struct {
        const char *items; /* from line 7 */
        int line;
        const char *path; /* after ...S.rest */
        const char *what;
    } cases[] = {
        {"          - {method: m, verb: GOT, path: /a}\n", 7, "[0].verb",
         "\"GOT\" is not GET, POST, PUT, DELETE, PATCH or HEAD"},
        {"          - {method: m, path: /a}\n", 7, "[0]", "verb is required"},
        {"          - {verb: GET, path: /a}\n", 7, "[0]", "method is required"},
        {"          - {method: m, verb: GET}\n", 7, "[0]", "path is required"},
        {"          - {method: m.x, verb: GET, path: /a}\n", 7, "[0].method",
         "\"m.x\" is not a method name"},
        {"          - {method: m, verb: GET, path: a/b}\n", 7, "[0].path",
         "\"a/b\" does not start with /"},
        {"          - {method: m, verb: GET, path: \"/a?x=1\"}\n", 7, "[0].path",
         "a path template has no query"},
        {"          - {method: m, verb: GET, path: \"/a/{id}.json\",\n"
         "             params: [{from: path, name: id}]}\n",
         7, "[0].path", "a {variable} is a whole segment"},
        {"          - {method: m, verb: GET, path: \"/a/{id}\"}\n", 7, "[0].path",
         "{id} is taken by no parameter"},
        {"          - method: m\n            verb: GET\n            path: /a\n"
         "            params:\n              - {from: path, name: id}\n",
         11, "[0].params[0].name", "\"id\" is not a {variable} of path \"/a\""},
        {"          - method: m\n            verb: GET\n            path: /a\n"
         "            params:\n              - {from: cookie, name: c}\n",
         11, "[0].params[0].from", "\"cookie\" is not path, query, header, form or body"},
        {"          - method: m\n            verb: GET\n            path: /a\n"
         "            params:\n              - {name: c}\n",
         11, "[0].params[0]", "from is required"},
        {"          - method: m\n            verb: GET\n            path: /a\n"
         "            params:\n              - {from: query}\n",
         11, "[0].params[0].name", "a parameter from query needs a name"},
        {"          - method: m\n            verb: GET\n            path: /a\n"
         "            params:\n              - {from: header, name: \"X Who\"}\n",
         11, "[0].params[0].name", "\"X Who\" is not a header name"},
        {"          - method: m\n            verb: GET\n            path: /a\n"
         "            params:\n              - {from: query, name: q, type: Integer}\n",
         11, "[0].params[0].type", "\"Integer\" is not string, int, long, double, boolean"},
        {"          - method: m\n            verb: POST\n            path: /a\n"
         "            params:\n              - {from: query, name: q}\n"
         "              - {from: query, name: q}\n",
         12, "[0].params[1].name", "query parameter \"q\" is also params[0]"},
        {"          - method: m\n            verb: POST\n            path: /a\n"
         "            params:\n              - {from: body}\n              - {from: body}\n",
         12, "[0].params[1]", "a second body parameter (params[0] takes the body)"},
        {"          - method: m\n            verb: POST\n            path: /a\n"
         "            params:\n              - {from: form, name: f}\n              - {from: "
         "body}\n",
         12, "[0].params[1]", "form parameters and a body parameter exclude each other"},
        {"          - method: m\n            verb: POST\n            path: /a\n"
         "            params: {from: body}\n",
         10, "[0].params", "expected a list"},
        {"          - method: m\n            verb: POST\n            path: /a\n"
         "            params:\n              - {from: query, name: q, default: 1}\n",
         11, "[0].params[0].default",
         "unknown key (expected one of: from, name, type, "
         "default-value)"},
        {"          - {method: m, verb: POST, path: /a, consumes: text/html}\n", 7, "[0].consumes",
         "\"text/html\" is not one of application/json"},
        {"          - {method: m, verb: POST, path: /a, produces: [application/json, "
         "image/png]}\n",
         7, "[0].produces[1]", "\"image/png\" is not one of"},
        {"          - {method: m, verb: POST, path: /a, produces: [\"text/plain,text/html\"]}\n", 7,
         "[0].produces[0]", "one item per list entry"},
        {"          - {method: m, verb: GET, path: /a, route: /b}\n", 7, "[0].route",
         "unknown key (expected one of: method, verb, path, params, consumes, produces, desc)"},
        {"          - {method: m, verb: GET, path: \"/a/{x}\", params: [{from: path, name: x}]}\n"
         "          - {method: n, verb: get, path: \"/a/{y}\", params: [{from: path, name: y}]}\n",
         8, "[1]", "GET /a/{y} is also the route of rest[0] (line 7)"},
        {"          - sayHello\n", 7, "[0]",
         "expected a mapping (method: ..., verb: ..., path: "
         "...), not a scalar"},
        {"          method: m\n", 7, "",
         "expected a list (\"- method: ...\" items), not a "
         "mapping"},
    };
    char yaml[2048], prefix[160];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(yaml, sizeof(yaml), "%s%s", SVC, cases[i].items);
        snprintf(prefix, sizeof(prefix), PFX "%s: ", cases[i].line, cases[i].path);
        if (!expect_fail(yaml, prefix, cases[i].what, __LINE__)) {
            fprintf(stderr, "  (case %zu)\n", i);
            CHECK(0);
        }
    }

    /* the same interface, version and group declared twice in the file */
    EXPECT_FAIL(SVC "          - {method: m, verb: GET, path: /a}\n"
                    "  consumer:\n    references:\n      R:\n        interface: a.B\n"
                    "        url: rest://h:1\n        rest: [{method: m, verb: GET, path: /a}]\n",
                "t.yaml:13: dubbo.consumer.references.R.rest: ",
                "a.B has REST mappings at dubbo.provider.services.S.rest already (line 7)");
    /* another version is another binding */
    dubbo_config_t *c = dubbo_config_load_string(
        SVC "          - {method: m, verb: GET, path: /a}\n"
            "  consumer:\n    references:\n      R:\n        interface: a.B\n"
            "        version: 2.0\n        url: rest://h:1\n"
            "        rest: [{method: m, verb: GET, path: /a}]\n",
        "t.yaml");
    CHECK(c != NULL);
    dubbo_config_free(c);
#undef SVC
#undef PFX

    /* the settings */
#define CORS "dubbo:\n  protocols:\n    r:\n      name: rest\n      rest:\n        cors:\n"
    EXPECT_FAIL(CORS "          allowed-methods: [GET]\n",
                "t.yaml:7: dubbo.protocols.r.rest.cors: ", "allowed-origins is required");
    EXPECT_FAIL(CORS "          allowed-origins: \"http://a.example/\"\n",
                "t.yaml:7: dubbo.protocols.r.rest.cors.allowed-origins: ",
                "\"http://a.example/\" is not an origin");
    EXPECT_FAIL(CORS "          allowed-origins: [\"http://a.example\", \"*.b.example\"]\n",
                "t.yaml:7: dubbo.protocols.r.rest.cors.allowed-origins[1]: ",
                "\"*.b.example\" is not an origin");
    EXPECT_FAIL(CORS "          allowed-origins: \"*\"\n          allowed-methods: GET, FETCH\n",
                "t.yaml:8: dubbo.protocols.r.rest.cors.allowed-methods: ",
                "\"FETCH\" is not GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS or *");
    EXPECT_FAIL(
        CORS "          allowed-origins: \"*\"\n          allowed-headers: [\"a\\r\\nb\"]\n",
        "t.yaml:8: dubbo.protocols.r.rest.cors.allowed-headers[0]: ", "is not a header name");
    EXPECT_FAIL(CORS "          allowed-origins: \"*\"\n          max-age: -1\n",
                "t.yaml:8: dubbo.protocols.r.rest.cors.max-age: ", "expected a whole number");
    EXPECT_FAIL(CORS "          allowed-origins: \"http://a.example, *\"\n"
                     "          allow-credentials: true\n",
                "t.yaml:8: dubbo.protocols.r.rest.cors.allow-credentials: ", "list the origins");
    EXPECT_FAIL(CORS "          allowed-origins: \"*\"\n          exposed-headers: [X]\n",
                "t.yaml:8: dubbo.protocols.r.rest.cors.exposed-headers: ", "unknown key");
    EXPECT_FAIL(CORS "          allowed-origins: \"*\"\n"
                     "    t:\n      name: tri\n      rest:\n        cors:\n"
                     "          allowed-origins: \"*\"\n",
                "t.yaml:11: dubbo.protocols.t.rest.cors: ",
                "the REST settings are process-wide: dubbo.protocols.r.rest.cors sets them "
                "already (line 6)");
    EXPECT_FAIL(
        "dubbo:\n  protocols:\n    r:\n      rest:\n        openapi: false\n",
        "t.yaml:5: dubbo.protocols.r.rest.openapi: ", "unknown key (expected one of: cors)");
    EXPECT_FAIL("dubbo:\n  openapi:\n    enabled: maybe\n",
                "t.yaml:3: dubbo.openapi.enabled: ", "expected true or false");
#undef CORS
}

/* tls_config (dubbo-go's keys) on a port, dubbo.consumer, a reference and
 * dubbo.tls_config: what each port's server options and each reference's
 * URL parameters get. */
TEST(tls_config)
{
#define REFS                                                                                       \
    "  consumer:\n"                                                                                \
    "    references:\n"                                                                            \
    "      A: { interface: a.A, url: \"dubbo://h:1\" }\n"                                          \
    "      B:\n"                                                                                   \
    "        interface: a.B\n"                                                                     \
    "        url: dubbo://h:1\n"                                                                   \
    "        tls_config: { ca-cert-file: b-ca.pem, tls-server-name: b.example }\n"
    static const struct {
        const char *yaml;
        /* the port's options: tls, cert, key, ca, client auth */
        int tls;
        const char *cert, *key, *ca;
        bool client_auth;
        /* reference A's and B's tls-* parameters, "-" for none */
        const char *a_tls, *a_ca, *a_cert, *a_key, *a_name;
        const char *b_ca, *b_cert, *b_name;
    } cases[] = {
        /* a port with mTLS; references without TLS but B's own */
        {"dubbo:\n  protocols:\n    p:\n      name: tri\n      tls_config:\n"
         "        tls-cert-file: s.pem\n        tls-key-file: s.key\n"
         "        ca-cert-file: ca.pem\n" REFS,
         DUBBO_TLS_STRICT, "s.pem", "s.key", "ca.pem", true, "-", "-", "-", "-", "-", "b-ca.pem",
         "-", "b.example"},
        /* permissive, no CA: no client certificates; the key in the certificate file */
        {"dubbo:\n  protocols:\n    p: { tls_config: { tls-cert-file: s.pem, mode: permissive } "
         "}\n",
         DUBBO_TLS_PERMISSIVE, "s.pem", NULL, NULL, false, "-", "-", "-", "-", "-", "-", "-", "-"},
        {"dubbo:\n  protocols:\n    p: { tls_config: { tls-cert-file: s.pem, mode: strict } }\n",
         DUBBO_TLS_STRICT, "s.pem", NULL, NULL, false, "-", "-", "-", "-", "-", "-", "-", "-"},
        /* dubbo.consumer's for every reference; B's own replaces it whole */
        {"dubbo:\n  protocols:\n    p: { port: 1 }\n"
         "  consumer:\n    tls_config:\n      ca-cert-file: ca.pem\n"
         "      tls-cert-file: c.pem\n      tls-key-file: c.key\n"
         "      tls-server-name: svc.example\n"
         "    references:\n"
         "      A: { interface: a.A, url: \"dubbo://h:1\" }\n"
         "      B:\n        interface: a.B\n        url: dubbo://h:1\n"
         "        tls_config: { ca-cert-file: b-ca.pem, tls-server-name: b.example }\n",
         DUBBO_TLS_OFF, NULL, NULL, NULL, false, "true", "ca.pem", "c.pem", "c.key", "svc.example",
         "b-ca.pem", "-", "b.example"},
        /* a consumer's tls_config without a CA: TLS verified by the system's CAs */
        {"dubbo:\n  consumer:\n    tls_config: { tls-server-name: x }\n"
         "    references:\n      A: { interface: a.A, url: \"dubbo://h:1\" }\n"
         "      B: { interface: a.B, url: \"dubbo://h:1\" }\n",
         DUBBO_TLS_OFF, NULL, NULL, NULL, false, "true", "-", "-", "-", "x", "-", "-", "x"},
        /* dubbo.tls_config as dubbo-go reads it: the certificate makes the
         * ports TLS, ca-cert-file requires client certificates and makes the
         * references TLS with the same files; a port's own wins */
        {"dubbo:\n  tls_config:\n    ca-cert-file: ca.pem\n    tls-cert-file: x.pem\n"
         "    tls-key-file: x.key\n    tls-server-name: n.example\n"
         "  protocols:\n    p: { port: 1 }\n"
         "    q: { port: 2, tls_config: { tls-cert-file: q.pem } }\n" REFS,
         DUBBO_TLS_STRICT, "x.pem", "x.key", "ca.pem", true, "true", "ca.pem", "x.pem", "x.key",
         "n.example", "b-ca.pem", "-", "b.example"},
        /* dubbo.tls_config without a CA: TLS ports, plaintext references */
        {"dubbo:\n  tls_config: { tls-cert-file: x.pem, tls-key-file: x.key }\n"
         "  protocols:\n    p: { port: 1 }\n" REFS,
         DUBBO_TLS_STRICT, "x.pem", "x.key", NULL, false, "-", "-", "-", "-", "-", "b-ca.pem", "-",
         "b.example"},
        /* dubbo.tls_config with only a CA: plaintext ports, TLS references */
        {"dubbo:\n  tls_config: { ca-cert-file: ca.pem }\n  protocols:\n    p: { port: 1 }\n" REFS,
         DUBBO_TLS_OFF, NULL, NULL, NULL, false, "true", "ca.pem", "-", "-", "-", "b-ca.pem", "-",
         "b.example"},
        /* tls_config: null is no TLS */
        {"dubbo:\n  protocols:\n    p: { tls_config: ~ }\n", DUBBO_TLS_OFF, NULL, NULL, NULL, false,
         "-", "-", "-", "-", "-", "-", "-", "-"},
    };
#undef REFS
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_config_t *c = dubbo_config_load_string(cases[i].yaml, "t.yaml");
        if (!c) {
            fprintf(stderr, "case %zu: %s\n", i, dubbo_last_error());
            CHECK(c != NULL);
            continue;
        }
        dubbo_server_options_t o;
        int rc = dubbo_config_protocol_count(c) ? dubbo_config_server_options(c, "p", &o) : -1;
        if (rc == 0) {
            if (o.tls != cases[i].tls) fprintf(stderr, "case %zu\n", i);
            CHECK_EQ_INT(o.tls, cases[i].tls);
            CHECK(o.tls_cert_file == cases[i].cert ||
                  (o.tls_cert_file && cases[i].cert && !strcmp(o.tls_cert_file, cases[i].cert)));
            CHECK(o.tls_key_file == cases[i].key ||
                  (o.tls_key_file && cases[i].key && !strcmp(o.tls_key_file, cases[i].key)));
            CHECK(o.tls_ca_file == cases[i].ca ||
                  (o.tls_ca_file && cases[i].ca && !strcmp(o.tls_ca_file, cases[i].ca)));
            CHECK(o.tls_client_auth == cases[i].client_auth);
        }
        if (dubbo_config_reference_count(c)) {
            const char *const *a = dubbo_config_reference_params(c, "A");
            const char *const *b = dubbo_config_reference_params(c, "B");
            const char *got[] = {
                kv(a, "tls"),           kv(a, "tls-ca-cert-file"), kv(a, "tls-cert-file"),
                kv(a, "tls-key-file"),  kv(a, "tls-server-name"),  kv(b, "tls-ca-cert-file"),
                kv(b, "tls-cert-file"), kv(b, "tls-server-name")};
            const char *want[] = {cases[i].a_tls,  cases[i].a_ca, cases[i].a_cert, cases[i].a_key,
                                  cases[i].a_name, cases[i].b_ca, cases[i].b_cert, cases[i].b_name};
            for (size_t j = 0; j < sizeof(got) / sizeof(got[0]); j++) {
                if (!got[j]) got[j] = "-";
                if (strcmp(got[j], want[j]) != 0) fprintf(stderr, "case %zu, value %zu\n", i, j);
                CHECK_EQ_STR(got[j], want[j]);
            }
        }
        /* a port of dubbo.tls_config's other than p: its own tls_config */
        if (dubbo_config_protocol(c, "q") && !dubbo_config_server_options(c, "q", &o)) {
            CHECK_EQ_STR(o.tls_cert_file, "q.pem");
            CHECK(o.tls_key_file == NULL && o.tls_ca_file == NULL && !o.tls_client_auth);
        }
        dubbo_config_free(c);
    }
}

TEST(errors_tls_config)
{
    static const struct {
        const char *yaml;
        const char *prefix, *what;
    } cases[] = {
        {"dubbo:\n  protocols:\n    p:\n      tls_config: { ca-cert-file: ca.pem }\n",
         "t.yaml:4: dubbo.protocols.p.tls_config: ",
         "tls-cert-file is required: the certificate this port serves"},
        {"dubbo:\n  protocols:\n    p:\n      tls_config:\n        tls-cert-file: s.pem\n"
         "        tls-server-name: x\n",
         "t.yaml:6: dubbo.protocols.p.tls_config.tls-server-name: ", "a consumer's setting"},
        {"dubbo:\n  protocols:\n    p: { tls_config: { tls-cert-file: s.pem, mode: lax } }\n",
         "t.yaml:3: dubbo.protocols.p.tls_config.mode: ",
         "\"lax\": strict (TLS only) or permissive (TLS and plaintext)"},
        {"dubbo:\n  protocols:\n    p: { tls_config: { tls-cert-file: \"\" } }\n",
         "t.yaml:3: dubbo.protocols.p.tls_config.tls-cert-file: ", "empty"},
        {"dubbo:\n  protocols:\n    p: { tls_config: [s.pem] }\n",
         "t.yaml:3: dubbo.protocols.p.tls_config: ", "expected a mapping"},
        {"dubbo:\n  protocols:\n    p: { tls_config: { cert-file: s.pem } }\n",
         "t.yaml:3: dubbo.protocols.p.tls_config.cert-file: ",
         "unknown key (expected one of: ca-cert-file, tls-cert-file, tls-key-file, "
         "tls-server-name, mode)"},
        {"dubbo:\n  consumer:\n    tls_config:\n      mode: strict\n",
         "t.yaml:4: dubbo.consumer.tls_config.mode: ",
         "unknown key (expected one of: ca-cert-file, tls-cert-file, tls-key-file, "
         "tls-server-name)"},
        {"dubbo:\n  consumer:\n    tls_config:\n      tls-key-file: c.key\n",
         "t.yaml:4: dubbo.consumer.tls_config.tls-key-file: ", "a key without tls-cert-file"},
        {"dubbo:\n  consumer:\n    references:\n      R:\n        interface: a.B\n"
         "        url: dubbo://h:1\n        tls_config:\n          tls-cert-file: [c.pem]\n",
         "t.yaml:8: dubbo.consumer.references.R.tls_config.tls-cert-file: ", "expected a string"},
        {"dubbo:\n  consumer:\n    references:\n      R:\n        interface: a.B\n"
         "        url: dubbo://h:1\n        tls_config: { ca-cert-file: ca.pem }\n"
         "        params: { tls-ca-cert-file: other.pem }\n",
         "t.yaml:8: dubbo.consumer.references.R.params.tls-ca-cert-file: ",
         "sets parameter \"tls-ca-cert-file\", already set at line 7"},
        {"dubbo:\n  tls_config: { ca-cert-file: ca.pem, mode: permissive }\n",
         "t.yaml:2: dubbo.tls_config.mode: ", "mode is for a port: give tls-cert-file too"},
        {"dubbo:\n  tls_config: { ca-cert-file: ca.pem, tls-key-file: k.pem }\n",
         "t.yaml:2: dubbo.tls_config.tls-key-file: ", "a key without tls-cert-file"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        EXPECT_FAIL(cases[i].yaml, cases[i].prefix, cases[i].what);
}

/* Application-level discovery keys of a registry (docs/service-discovery.md). */
TEST(registry_discovery_keys)
{
    dubbo_config_t *c = dubbo_config_load_string(
        "dubbo:\n  registries:\n"
        "    a: { address: zookeeper://127.0.0.1:2181, register-mode: instance }\n"
        "    b: { address: zookeeper://127.0.0.1:2181, registry-type: service,"
        " migration: FORCE_APPLICATION }\n"
        "    c: { address: zookeeper://127.0.0.1:2181, registry-type: all }\n",
        "t.yaml");
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", dubbo_last_error());
        return;
    }
    CHECK_EQ_STR(dubbo_config_registry(c, "a")->url,
                 "zookeeper://127.0.0.1:2181?register-mode=instance");
    CHECK_EQ_STR(dubbo_config_registry(c, "b")->url,
                 "zookeeper://127.0.0.1:2181?register-mode=instance&migration=FORCE_APPLICATION");
    CHECK_EQ_STR(dubbo_config_registry(c, "c")->url,
                 "zookeeper://127.0.0.1:2181?register-mode=all");
    dubbo_config_free(c);
    EXPECT_FAIL("dubbo:\n  registries:\n    a: { address: zk://h:1, register-mode: service }\n",
                "t.yaml:3: dubbo.registries.a.register-mode: ",
                "\"service\" is not interface, instance or all");
    EXPECT_FAIL("dubbo:\n  registries:\n    a: { address: zk://h:1, migration: APP_FIRST }\n",
                "t.yaml:3: dubbo.registries.a.migration: ",
                "\"APP_FIRST\" is not FORCE_INTERFACE, APPLICATION_FIRST or FORCE_APPLICATION");
}

TEST_MAIN(TEST_ENTRY(registry_discovery_keys), TEST_ENTRY(full_sample_application_registries),
          TEST_ENTRY(full_sample_protocols_and_server_options), TEST_ENTRY(full_sample_services),
          TEST_ENTRY(bind_service_exports), TEST_ENTRY(full_sample_references),
          TEST_ENTRY(reference_feeds_dubbo_reference_new), TEST_ENTRY(durations),
          TEST_ENTRY(anchors_and_aliases_are_accepted), TEST_ENTRY(alias_expansion_budget),
          TEST_ENTRY(errors_unknown_keys), TEST_ENTRY(errors_wrong_types),
          TEST_ENTRY(errors_durations), TEST_ENTRY(errors_undefined_ids),
          TEST_ENTRY(errors_duplicates), TEST_ENTRY(errors_missing_and_conflicting),
          TEST_ENTRY(errors_yaml_syntax), TEST_ENTRY(empty_sections_and_defaults),
          TEST_ENTRY(load_file), TEST_ENTRY(rest_mappings_load), TEST_ENTRY(rest_mappings_route),
          TEST_ENTRY(errors_rest), TEST_ENTRY(tls_config), TEST_ENTRY(errors_tls_config))
