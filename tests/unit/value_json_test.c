/* Unit tests for typed JSON (src/serialize/typed_json.c): the exact text of every
 * form, round trips value -> JSON -> value (including shared and circular
 * references), the js-to-java input conveniences, and the error messages. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "dubbo/buf.h"
#include "dubbo/error.h"
#include "dubbo/hessian2.h"
#include "dubbo/value.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------ */

/* to_json into a static buffer (NUL-terminated); NULL on error. */
static const char *js(const dubbo_value_t *v)
{
    static char text[1 << 16];
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    int rc = dubbo_value_to_json(v, &b);
    if (rc || b.len >= sizeof(text)) {
        fprintf(stderr, "  to_json failed: %s\n", dubbo_last_error());
        dubbo_buf_destroy(&b);
        return NULL;
    }
    memcpy(text, b.base, b.len);
    text[b.len] = '\0';
    dubbo_buf_destroy(&b);
    return text;
}

static dubbo_value_t *parse(dubbo_arena_t *a, const char *json)
{
    dubbo_value_t *v = NULL;
    int rc = dubbo_value_from_json(a, json, strlen(json), &v);
    if (rc) {
        fprintf(stderr, "  from_json(%s) failed: %s\n", json, dubbo_last_error());
        return NULL;
    }
    return v;
}

/* v prints as `expect` (unless NULL), reads back equal, and prints the same
 * again. */
static bool round_trips(const dubbo_value_t *v, const char *expect)
{
    const char *t = js(v);
    if (!t) return false;
    char first[1 << 16];
    snprintf(first, sizeof(first), "%s", t);
    if (expect && strcmp(first, expect) != 0) {
        fprintf(stderr, "  printed %s\n  expected %s\n", first, expect);
        return false;
    }
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *back = parse(a, first);
    bool ok = back && dubbo_value_equal(v, back);
    if (back && !ok) fprintf(stderr, "  %s read back as a different value\n", first);
    const char *again = back ? js(back) : NULL;
    if (ok && (!again || strcmp(again, first) != 0)) {
        fprintf(stderr, "  %s printed again as %s\n", first, again ? again : "(error)");
        ok = false;
    }
    dubbo_arena_free(a);
    return ok;
}

/* `json` reads and prints as `canonical`. */
static bool reads_as(const char *json, const char *canonical)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *v = parse(a, json);
    const char *t = v ? js(v) : NULL;
    bool ok = t && strcmp(t, canonical) == 0;
    if (t && !ok) fprintf(stderr, "  %s printed as %s, expected %s\n", json, t, canonical);
    dubbo_arena_free(a);
    return ok;
}

/* `json` fails with `code` and a message containing `needle`. */
static bool fails(const char *json, int code, const char *needle)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *v = NULL;
    int rc = dubbo_value_from_json(a, json, strlen(json), &v);
    bool ok = rc == code && strstr(dubbo_last_error(), needle);
    if (!ok)
        fprintf(stderr, "  %s: got %s \"%s\", expected %s with \"%s\"\n", json, dubbo_err_name(rc),
                rc ? dubbo_last_error() : "", dubbo_err_name(code), needle);
    dubbo_arena_free(a);
    return ok;
}

static dubbo_value_t *S(dubbo_arena_t *a, const char *s)
{
    return dubbo_v_cstr(a, s);
}

/* ---- scalars ------------------------------------------------------------ */

TEST(scalars_print_exactly)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    CHECK(round_trips(NULL, "null"));
    CHECK(round_trips(dubbo_v_null(), "null"));
    CHECK(round_trips(dubbo_v_bool(a, true), "true"));
    CHECK(round_trips(dubbo_v_bool(a, false), "false"));
    CHECK(round_trips(dubbo_v_int(a, 0), "0"));
    CHECK(round_trips(dubbo_v_int(a, -1), "-1"));
    CHECK(round_trips(dubbo_v_int(a, INT32_MAX), "2147483647"));
    CHECK(round_trips(dubbo_v_int(a, INT32_MIN), "-2147483648"));
    CHECK(round_trips(dubbo_v_long(a, 5), "{\"$class\":\"long\",\"$\":5}"));
    CHECK(round_trips(dubbo_v_long(a, INT64_MIN),
                      "{\"$class\":\"long\",\"$\":-9223372036854775808}"));
    CHECK(
        round_trips(dubbo_v_long(a, INT64_MAX), "{\"$class\":\"long\",\"$\":9223372036854775807}"));
    CHECK(round_trips(dubbo_v_date(a, 1714536000000),
                      "{\"$class\":\"java.util.Date\",\"$\":1714536000000}"));
    CHECK(round_trips(dubbo_v_date(a, -1), "{\"$class\":\"java.util.Date\",\"$\":-1}"));
    dubbo_arena_free(a);
}

TEST(doubles_shortest_and_exact)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    static const struct {
        double d;
        const char *text;
    } cases[] = {
        {1.0, "1.0"},
        {0.1, "0.1"},
        {-2.5, "-2.5"},
        {1.0 / 3, "0.3333333333333333"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1e300, "1e+300"},
        {1e21, "1e+21"},
        {123456789012345678.0, "1.2345678901234568e+17"},
        {4.9e-324, "5e-324"},
        {-1.5e-323, "-1.5e-323"},
        {2.225073858507201e-308, "2.225073858507201e-308"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {9007199254740993.0, "9007199254740992.0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char expect[128];
        snprintf(expect, sizeof(expect), "{\"$class\":\"double\",\"$\":%s}", cases[i].text);
        CHECK(round_trips(dubbo_v_double(a, cases[i].d), expect));
    }
    CHECK(round_trips(dubbo_v_double(a, -0.0), "{\"$class\":\"double\",\"$\":-0.0}"));
    CHECK(round_trips(dubbo_v_double(a, 0.0), "{\"$class\":\"double\",\"$\":0.0}"));
    CHECK(round_trips(dubbo_v_double(a, NAN), "{\"$class\":\"double\",\"$\":\"NaN\"}"));
    CHECK(round_trips(dubbo_v_double(a, INFINITY), "{\"$class\":\"double\",\"$\":\"Infinity\"}"));
    CHECK(round_trips(dubbo_v_double(a, -INFINITY), "{\"$class\":\"double\",\"$\":\"-Infinity\"}"));
    /* NaNs other than Java's canonical one keep their bits. */
    uint64_t nan_bits = 0xfff4000000000001ULL;
    double odd_nan;
    memcpy(&odd_nan, &nan_bits, sizeof(odd_nan));
    CHECK(round_trips(dubbo_v_double(a, odd_nan),
                      "{\"$class\":\"double\",\"$\":\"NaN(0xfff4000000000001)\"}"));
    /* Many doubles, bit-exact back. */
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof(d));
        if (!round_trips(dubbo_v_double(a, d), NULL)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* Subnormals print with the fewest digits that read back. */
    bad = 0;
    for (int i = 0; i < 2000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t bits = x & 0x800fffffffffffffULL;
        double d;
        memcpy(&d, &bits, sizeof(d));
        char shortest[40], expect[96];
        for (int p = 1; p <= 17; p++) {
            snprintf(shortest, sizeof(shortest), "%.*g", p, d);
            if (strtod(shortest, NULL) == d) break;
        }
        if (!strpbrk(shortest, ".e")) strcat(shortest, ".0");
        snprintf(expect, sizeof(expect), "{\"$class\":\"double\",\"$\":%s}", shortest);
        if (!round_trips(dubbo_v_double(a, d), expect)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    dubbo_arena_free(a);
}

TEST(strings_escape_and_wtf8)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    CHECK(round_trips(S(a, ""), "\"\""));
    CHECK(round_trips(S(a, "plain text"), "\"plain text\""));
    CHECK(round_trips(S(a, "q\"b\\s/"), "\"q\\\"b\\\\s/\""));
    CHECK(round_trips(S(a, "\b\f\n\r\t\x01\x1f\x7f"), "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\""));
    CHECK(round_trips(S(a, "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80"),
                      "\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\""));
    /* Embedded NUL. */
    CHECK(round_trips(dubbo_v_string(a, "a\0b", 3), "\"a\\u0000b\""));
    /* Unpaired surrogates (WTF-8, as the Hessian decoder keeps them). */
    CHECK(round_trips(S(a, "x\xed\xa0\x80y"), "\"x\\ud800y\""));
    CHECK(round_trips(S(a, "\xed\xbf\xbf"), "\"\\udfff\""));
    CHECK(round_trips(S(a, "\xed\xb0\x80\xed\xa0\x80"), "\"\\udc00\\ud800\""));
    CHECK(round_trips(dubbo_v_string(a, "\xed\xa0\x80\0", 4), "\"\\ud800\\u0000\""));
    /* A string with both a NUL and a surrogate, and a literal "\u0030". */
    CHECK(round_trips(dubbo_v_string(a,
                                     "\0"
                                     "0\xed\xa0\x81",
                                     5),
                      "\"\\u00000\\ud801\""));
    /* Bytes that are not even WTF-8 print as U+FFFD (lossy, documented). */
    const char *t = js(S(a, "a\xff"));
    CHECK_EQ_STR(t, "\"a\\ufffd\"");
    t = js(S(a, "\xc3"));
    CHECK_EQ_STR(t, "\"\\ufffd\"");
    dubbo_arena_free(a);
}

TEST(binary_base64)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    static const char *const b64[] = {"", "AA==", "AAE=", "AAEC", "AAECAw==", "AAECAwQ="};
    uint8_t bytes[] = {0, 1, 2, 3, 4};
    for (size_t n = 0; n <= 5; n++) {
        char expect[64];
        snprintf(expect, sizeof(expect), "{\"$class\":\"[B\",\"$\":\"%s\"}", b64[n]);
        CHECK(round_trips(dubbo_v_binary(a, bytes, n), expect));
    }
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    CHECK(round_trips(dubbo_v_binary(a, all, sizeof(all)), NULL));
    /* Unpadded input and arrays of bytes are accepted. */
    CHECK(
        reads_as("{\"$class\":\"[B\",\"$\":\"AAECAw\"}", "{\"$class\":\"[B\",\"$\":\"AAECAw==\"}"));
    CHECK(reads_as("{\"$class\":\"[B\",\"$\":[0,1,-1,255]}",
                   "{\"$class\":\"[B\",\"$\":\"AAH//w==\"}"));
    dubbo_arena_free(a);
}

/* ---- containers -------------------------------------------------------- */

TEST(lists_every_form)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *l = dubbo_v_list(a, NULL, 0);
    CHECK(round_trips(l, "[]"));
    dubbo_list_push(a, l, dubbo_v_int(a, 1));
    dubbo_list_push(a, l, S(a, "two"));
    dubbo_list_push(a, l, NULL);
    CHECK(round_trips(l, "[1,\"two\",null]"));

    dubbo_value_t *var = dubbo_v_list(a, NULL, 0);
    var->flags |= DUBBO_VF_VARIABLE;
    dubbo_list_push(a, var, dubbo_v_int(a, 7));
    CHECK(round_trips(var, "{\"$\":[7],\"$variable\":true}"));

    dubbo_value_t *ints = dubbo_v_list(a, "[int", 0);
    dubbo_list_push(a, ints, dubbo_v_int(a, 1));
    dubbo_list_push(a, ints, dubbo_v_int(a, 2));
    CHECK(round_trips(ints, "{\"$class\":\"[int\",\"$\":[1,2]}"));
    ints->flags |= DUBBO_VF_VARIABLE;
    CHECK(round_trips(ints, "{\"$class\":\"[int\",\"$\":[1,2],\"$variable\":true}"));

    dubbo_value_t *set = dubbo_v_list(a, "java.util.HashSet", 0);
    CHECK(round_trips(set, "{\"$class\":\"java.util.HashSet\",\"$\":[]}"));
    /* Type names that "$" would read as something else print as "$list". */
    CHECK(round_trips(dubbo_v_list(a, "long", 0), "{\"$class\":\"long\",\"$list\":[]}"));
    CHECK(round_trips(dubbo_v_list(a, "[B", 0), "{\"$class\":\"[B\",\"$list\":[]}"));
    CHECK(round_trips(dubbo_v_list(a, "java.util.ArrayList", 0),
                      "{\"$class\":\"java.util.ArrayList\",\"$list\":[]}"));
    /* Nested. */
    dubbo_value_t *outer = dubbo_v_list(a, NULL, 0);
    dubbo_list_push(a, outer, l);
    dubbo_list_push(a, outer, ints);
    CHECK(round_trips(outer, "[[1,\"two\",null],{\"$class\":\"[int\",\"$\":[1,2],"
                             "\"$variable\":true}]"));
    dubbo_arena_free(a);
}

TEST(maps_every_form)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *m = dubbo_v_map(a, NULL, 0);
    CHECK(round_trips(m, "{}"));
    dubbo_map_put(a, m, S(a, "b"), dubbo_v_int(a, 1));
    dubbo_map_put(a, m, S(a, "a"), dubbo_v_long(a, 2));
    dubbo_map_put(a, m, S(a, ""), NULL);
    CHECK(round_trips(m, "{\"b\":1,\"a\":{\"$class\":\"long\",\"$\":2},\"\":null}"));

    /* Keys starting with '$' go inside "$map". */
    dubbo_value_t *d = dubbo_v_map(a, NULL, 0);
    dubbo_map_put(a, d, S(a, "$class"), S(a, "x"));
    dubbo_map_put(a, d, S(a, "$"), dubbo_v_int(a, 1));
    CHECK(round_trips(d, "{\"$map\":{\"$class\":\"x\",\"$\":1}}"));

    /* Non-string keys: pairs. */
    dubbo_value_t *p = dubbo_v_map(a, NULL, 0);
    dubbo_map_put(a, p, dubbo_v_int(a, 1), S(a, "one"));
    dubbo_map_put(a, p, NULL, S(a, "null key"));
    dubbo_map_put(a, p, dubbo_v_long(a, 2), S(a, "two"));
    CHECK(round_trips(p, "{\"$map\":[[1,\"one\"],[null,\"null key\"],"
                         "[{\"$class\":\"long\",\"$\":2},\"two\"]]}"));

    /* Duplicate string keys (possible on the wire): pairs, in order. */
    dubbo_value_t *dup = dubbo_v_map(a, NULL, 0);
    dubbo_map_put(a, dup, S(a, "k"), dubbo_v_int(a, 1));
    dubbo_map_put(a, dup, S(a, "k"), dubbo_v_int(a, 2));
    CHECK(round_trips(dup, "{\"$map\":[[\"k\",1],[\"k\",2]]}"));

    /* Many keys, one duplicate far apart (the sorted check). */
    dubbo_value_t *big = dubbo_v_map(a, NULL, 0);
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        dubbo_map_put(a, big, S(a, key), dubbo_v_int(a, i));
    }
    CHECK(round_trips(big, NULL));
    CHECK(js(big) && js(big)[0] == '{' && js(big)[1] == '"');
    dubbo_map_put(a, big, S(a, "k3"), dubbo_v_int(a, 3));
    CHECK(round_trips(big, NULL));
    CHECK(js(big) && strncmp(js(big), "{\"$map\":[[", 10) == 0);

    /* Keys jansson cannot hold: NUL, unpaired surrogate. */
    dubbo_value_t *odd = dubbo_v_map(a, NULL, 0);
    dubbo_map_put(a, odd, dubbo_v_string(a, "a\0b", 3), dubbo_v_int(a, 1));
    dubbo_map_put(a, odd, S(a, "\xed\xa0\x80"), dubbo_v_int(a, 2));
    CHECK(round_trips(odd, "{\"$map\":[[\"a\\u0000b\",1],[\"\\ud800\",2]]}"));

    /* Typed maps: "$map" object when keys allow, else pairs. */
    dubbo_value_t *tm = dubbo_v_map(a, "java.util.TreeMap", 0);
    dubbo_map_put(a, tm, S(a, "x"), dubbo_v_int(a, 1));
    CHECK(round_trips(tm, "{\"$class\":\"java.util.TreeMap\",\"$map\":{\"x\":1}}"));
    dubbo_value_t *tp = dubbo_v_map(a, "java.util.TreeMap", 0);
    dubbo_map_put(a, tp, dubbo_v_int(a, 1), dubbo_v_int(a, 2));
    CHECK(round_trips(tp, "{\"$class\":\"java.util.TreeMap\",\"$map\":[[1,2]]}"));
    /* A map typed "java.util.HashMap" on the wire stays typed. */
    dubbo_value_t *hm = dubbo_v_map(a, "java.util.HashMap", 0);
    CHECK(round_trips(hm, "{\"$class\":\"java.util.HashMap\",\"$map\":{}}"));
    dubbo_arena_free(a);
}

TEST(objects_every_form)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    const char *f[] = {"name", "age", "$weird"};
    dubbo_class_t *user = dubbo_class_new(a, "com.example.User", 3, f);
    dubbo_value_t *u = dubbo_v_object(a, user);
    dubbo_object_set(u, "name", S(a, "Ann"));
    dubbo_object_set(u, "age", dubbo_v_int(a, 42));
    CHECK(round_trips(u, "{\"$class\":\"com.example.User\",\"$\":{\"name\":\"Ann\",\"age\":42,"
                         "\"$weird\":null}}"));
    dubbo_class_t *empty = dubbo_class_new(a, "com.example.Empty", 0, NULL);
    CHECK(round_trips(dubbo_v_object(a, empty), "{\"$class\":\"com.example.Empty\",\"$\":{}}"));

    /* Class names that "$" would read as a scalar or a map: "$object". */
    const char *one[] = {"value"};
    dubbo_class_t *lc = dubbo_class_new(a, "long", 1, one);
    CHECK(round_trips(dubbo_v_object(a, lc), "{\"$class\":\"long\",\"$object\":{\"value\":null}}"));
    dubbo_class_t *hc = dubbo_class_new(a, "java.util.HashMap", 1, one);
    CHECK(round_trips(dubbo_v_object(a, hc),
                      "{\"$class\":\"java.util.HashMap\",\"$object\":{\"value\":null}}"));

    /* Duplicate or unkeyable field names: pairs. */
    const char *dup[] = {"x", "x"};
    dubbo_class_t *dc = dubbo_class_new(a, "com.example.Dup", 2, dup);
    dubbo_value_t *dv = dubbo_v_object(a, dc);
    dv->u.obj.fields[0] = dubbo_v_int(a, 1);
    dv->u.obj.fields[1] = dubbo_v_int(a, 2);
    CHECK(round_trips(dv, "{\"$class\":\"com.example.Dup\",\"$object\":[[\"x\",1],[\"x\",2]]}"));
    const char *sur[] = {"\xed\xa0\x80"};
    dubbo_class_t *sc = dubbo_class_new(a, "S", 1, sur);
    CHECK(
        round_trips(dubbo_v_object(a, sc), "{\"$class\":\"S\",\"$object\":[[\"\\ud800\",null]]}"));
    dubbo_arena_free(a);
}

TEST(objects_share_their_class)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *v = parse(a, "[{\"$class\":\"P\",\"$\":{\"x\":1,\"y\":2}},"
                                "{\"$class\":\"P\",\"$\":{\"x\":3,\"y\":4}},"
                                "{\"$class\":\"P\",\"$\":{\"y\":5,\"x\":6}}]");
    CHECK(v && v->type == DUBBO_T_LIST && v->u.list.len == 3);
    if (v && v->u.list.len == 3) {
        CHECK(v->u.list.items[0]->u.obj.cls == v->u.list.items[1]->u.obj.cls);
        CHECK(v->u.list.items[0]->u.obj.cls != v->u.list.items[2]->u.obj.cls);
    }
    /* Hessian writes one class definition for both (0x43 once, 0x60 twice). */
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    CHECK_EQ_INT(dubbo_hessian2_encode(v, &b), 0);
    int defs = 0;
    for (size_t i = 0; i < b.len; i++)
        defs += b.base[i] == 'C';
    CHECK_EQ_INT(defs, 2);
    dubbo_buf_destroy(&b);
    dubbo_arena_free(a);
}

/* ---- references --------------------------------------------------------- */

TEST(shared_and_circular_references)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    /* A list shared twice: the second occurrence is a ref to container 1. */
    dubbo_value_t *shared = dubbo_v_list(a, NULL, 0);
    dubbo_list_push(a, shared, dubbo_v_int(a, 1));
    dubbo_value_t *outer = dubbo_v_list(a, NULL, 0);
    dubbo_list_push(a, outer, shared);
    dubbo_list_push(a, outer, shared);
    CHECK(round_trips(outer, "[[1],{\"$ref\":1}]"));
    dubbo_arena_t *b = dubbo_arena_new(0);
    dubbo_value_t *back = parse(b, "[[1],{\"$ref\":1}]");
    CHECK(back && back->u.list.items[0] == back->u.list.items[1]);
    dubbo_arena_free(b);

    /* A list that contains itself. */
    dubbo_value_t *self = dubbo_v_list(a, NULL, 0);
    dubbo_list_push(a, self, self);
    CHECK(round_trips(self, "[{\"$ref\":0}]"));

    /* A map whose value is itself, and an object that points to its parent. */
    dubbo_value_t *m = dubbo_v_map(a, NULL, 0);
    dubbo_map_put(a, m, S(a, "me"), m);
    CHECK(round_trips(m, "{\"me\":{\"$ref\":0}}"));
    const char *nf[] = {"value", "parent", "children"};
    dubbo_class_t *node = dubbo_class_new(a, "Node", 3, nf);
    dubbo_value_t *root = dubbo_v_object(a, node), *kid = dubbo_v_object(a, node);
    dubbo_value_t *kids = dubbo_v_list(a, "java.util.ArrayList", 0);
    dubbo_list_push(a, kids, kid);
    dubbo_object_set(root, "children", kids);
    dubbo_object_set(kid, "parent", root);
    dubbo_object_set(kid, "value", dubbo_v_int(a, 9));
    CHECK(round_trips(root, "{\"$class\":\"Node\",\"$\":{\"value\":null,\"parent\":null,"
                            "\"children\":{\"$class\":\"java.util.ArrayList\",\"$list\":["
                            "{\"$class\":\"Node\",\"$\":{\"value\":9,\"parent\":{\"$ref\":0},"
                            "\"children\":null}}]}}}"));

    /* Numbering counts lists, maps and objects in pre-order, across types. */
    dubbo_value_t *top = dubbo_v_map(a, NULL, 0);
    dubbo_value_t *l1 = dubbo_v_list(a, NULL, 0), *m2 = dubbo_v_map(a, "java.util.TreeMap", 0);
    dubbo_map_put(a, top, S(a, "a"), l1);
    dubbo_list_push(a, l1, m2);
    dubbo_map_put(a, top, S(a, "b"), m2);
    dubbo_map_put(a, top, S(a, "c"), l1);
    dubbo_map_put(a, top, S(a, "d"), top);
    CHECK(round_trips(top, "{\"a\":[{\"$class\":\"java.util.TreeMap\",\"$map\":{}}],"
                           "\"b\":{\"$ref\":2},\"c\":{\"$ref\":1},\"d\":{\"$ref\":0}}"));
    dubbo_arena_free(a);
}

/* Refs in typed JSON number containers as Hessian does: JSON -> value ->
 * Hessian -> value -> JSON is the identity, and the bytes use 0x51. */
TEST(references_match_hessian_numbering)
{
    static const char *const docs[] = {
        "[[1],{\"$ref\":1}]",
        "[{\"$ref\":0}]",
        "{\"me\":{\"$ref\":0}}",
        "{\"$class\":\"Node\",\"$\":{\"next\":{\"$class\":\"Node\",\"$\":{\"next\":{\"$ref\":0}}}}"
        "}",
        "[{\"$class\":\"[int\",\"$\":[1]},{\"$map\":[[{\"$ref\":1},{\"$ref\":2}]]}]",
        "{\"a\":[{\"$class\":\"java.util.TreeMap\",\"$map\":{}}],\"b\":{\"$ref\":2},"
        "\"c\":{\"$ref\":1},\"d\":{\"$ref\":0}}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *v = parse(a, docs[i]), *back = NULL;
        dubbo_buf_t b;
        dubbo_buf_init(&b, 0);
        CHECK(v && dubbo_hessian2_encode(v, &b) == 0);
        CHECK(memchr(b.base, 0x51, b.len) != NULL);
        CHECK_EQ_INT(dubbo_hessian2_decode(a, b.base, b.len, &back, NULL), 0);
        const char *t = back ? js(back) : NULL;
        CHECK_EQ_STR(t, docs[i]);
        dubbo_buf_destroy(&b);
        dubbo_arena_free(a);
    }
}

TEST(streams_share_numbering)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *l = dubbo_v_list(a, NULL, 0);
    dubbo_json_writer_t *w = dubbo_json_writer_new();
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    CHECK_EQ_INT(dubbo_json_write(w, l, &b), 0);
    CHECK_EQ_INT(dubbo_json_write(w, dubbo_v_int(a, 1), &b), 0);
    CHECK_EQ_INT(dubbo_json_write(w, l, &b), 0);
    CHECK(b.len == 13 && memcmp(b.base, "[]1{\"$ref\":0}", 13) == 0);
    dubbo_json_writer_free(w);
    dubbo_buf_destroy(&b);

    const char *text =
        " [1] {\"x\":{\"$ref\":0}}\n{\"$class\":\"P\",\"$\":{}} {\"$class\":\"P\",\"$\":{}}  ";
    dubbo_json_reader_t *r = dubbo_json_reader_new(a);
    dubbo_value_t *v[4] = {0};
    size_t pos = 0, n = 0;
    while (pos < strlen(text) && n < 4)
        CHECK_EQ_INT(dubbo_json_read(r, text, strlen(text), &pos, &v[n++]), 0);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(pos, strlen(text));
    CHECK(v[1] && dubbo_map_get(v[1], "x") == v[0]);
    CHECK(v[2] && v[3] && v[2]->u.obj.cls == v[3]->u.obj.cls);
    /* A stream error names the line of the whole text. */
    pos = 0;
    const char *bad = "1\n2\n[3,,]";
    dubbo_value_t *x;
    CHECK_EQ_INT(dubbo_json_read(r, bad, strlen(bad), &pos, &x), 0);
    CHECK_EQ_INT(dubbo_json_read(r, bad, strlen(bad), &pos, &x), 0);
    CHECK_EQ_INT(dubbo_json_read(r, bad, strlen(bad), &pos, &x), DUBBO_EMALFORMED);
    CHECK_CONTAINS(dubbo_last_error(), "line 3, column 4");
    dubbo_json_reader_free(r);
    dubbo_arena_free(a);
}

/* ---- input conveniences ------------------------------------------------- */

TEST(js_to_java_conveniences)
{
    CHECK(reads_as("3000000000", "{\"$class\":\"long\",\"$\":3000000000}"));
    CHECK(reads_as("-2147483649", "{\"$class\":\"long\",\"$\":-2147483649}"));
    CHECK(reads_as("2.5", "{\"$class\":\"double\",\"$\":2.5}"));
    CHECK(reads_as("1e2", "{\"$class\":\"double\",\"$\":100.0}"));
    CHECK(reads_as("{\"$class\":\"int\",\"$\":5}", "5"));
    CHECK(reads_as("{\"$\":5,\"$class\":\"java.lang.Integer\"}", "5"));
    CHECK(reads_as("{\"$class\":\"short\",\"$\":-32768}", "-32768"));
    CHECK(reads_as("{\"$class\":\"java.lang.Byte\",\"$\":127}", "127"));
    CHECK(reads_as("{\"$class\":\"java.lang.Long\",\"$\":5}", "{\"$class\":\"long\",\"$\":5}"));
    CHECK(reads_as("{\"$class\":\"long\",\"$\":\"9223372036854775807\"}",
                   "{\"$class\":\"long\",\"$\":9223372036854775807}"));
    CHECK(reads_as("{\"$class\":\"int\",\"$\":\"-12\"}", "-12"));
    CHECK(reads_as("{\"$class\":\"double\",\"$\":3}", "{\"$class\":\"double\",\"$\":3.0}"));
    CHECK(reads_as("{\"$class\":\"java.lang.Double\",\"$\":\"NaN\"}",
                   "{\"$class\":\"double\",\"$\":\"NaN\"}"));
    CHECK(reads_as("{\"$class\":\"float\",\"$\":1.1}",
                   "{\"$class\":\"double\",\"$\":1.100000023841858}"));
    CHECK(reads_as("{\"$class\":\"java.lang.Float\",\"$\":\"-Infinity\"}",
                   "{\"$class\":\"double\",\"$\":\"-Infinity\"}"));
    CHECK(reads_as("{\"$class\":\"boolean\",\"$\":true}", "true"));
    CHECK(reads_as("{\"$class\":\"java.lang.Boolean\",\"$\":false}", "false"));
    CHECK(reads_as("{\"$class\":\"java.lang.String\",\"$\":\"s\"}", "\"s\""));
    CHECK(reads_as("{\"$class\":\"char\",\"$\":\"\xe4\xb8\xad\"}", "\"\xe4\xb8\xad\""));
    CHECK(reads_as("{\"$class\":\"java.lang.Long\",\"$\":null}", "null"));
    CHECK(reads_as("{\"$class\":\"com.example.User\",\"$\":null}", "null"));
    /* Dates: milliseconds or ISO-8601 (no zone = UTC). */
    static const struct {
        const char *in;
        long long ms;
    } dates[] = {
        {"1714536000000", 1714536000000LL},
        {"\"1970-01-01\"", 0},
        {"\"1969-12-31T23:59:59.999Z\"", -1},
        {"\"2000-02-29T12:34:56.789Z\"", 951827696789LL},
        {"\"2000-02-29T12:34:56.78912\"", 951827696789LL},
        {"\"2024-05-01T12:00:00+08:00\"", 1714536000000LL},
        {"\"2024-05-01 04:00Z\"", 1714536000000LL},
        {"\"2024-05-01T06:30+0230\"", 1714536000000LL},
        {"\"1900-03-01T00:00:00Z\"", -2203891200000LL},
        {"\"0001-01-01T00:00:00Z\"", -62135596800000LL},
        {"\"9999-12-31T23:59:59.999-05:30\"", 253402320599999LL},
    };
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        char in[128], out[96];
        snprintf(in, sizeof(in), "{\"$class\":\"java.util.Date\",\"$\":%s}", dates[i].in);
        snprintf(out, sizeof(out), "{\"$class\":\"java.util.Date\",\"$\":%lld}", dates[i].ms);
        CHECK(reads_as(in, out));
    }
    /* Java collection classes: HashMap/Map and ArrayList/List are untyped, as
     * Java writes them; other maps keep their class. */
    CHECK(reads_as("{\"$class\":\"java.util.HashMap\",\"$\":{\"a\":1}}", "{\"a\":1}"));
    CHECK(reads_as("{\"$class\":\"java.util.Map\",\"$\":{}}", "{}"));
    CHECK(reads_as("{\"$class\":\"java.util.TreeMap\",\"$\":{\"a\":1}}",
                   "{\"$class\":\"java.util.TreeMap\",\"$map\":{\"a\":1}}"));
    CHECK(reads_as("{\"$class\":\"java.util.concurrent.ConcurrentHashMap\",\"$\":{}}",
                   "{\"$class\":\"java.util.concurrent.ConcurrentHashMap\",\"$map\":{}}"));
    CHECK(reads_as("{\"$class\":\"java.util.ArrayList\",\"$\":[1]}", "[1]"));
    CHECK(reads_as("{\"$class\":\"java.util.List\",\"$\":[1],\"$variable\":true}",
                   "{\"$\":[1],\"$variable\":true}"));
    CHECK(reads_as("{\"$class\":\"java.util.HashSet\",\"$\":[\"a\"]}",
                   "{\"$class\":\"java.util.HashSet\",\"$\":[\"a\"]}"));
    CHECK(reads_as("{\"$\":[1],\"$variable\":false}", "[1]"));
    CHECK(reads_as("{\"$map\":{\"a\":1}}", "{\"a\":1}"));
    CHECK(reads_as("{\"$list\":[1]}", "[1]"));
    /* Whitespace and key order do not matter. */
    CHECK(reads_as(" {\n \"$\" : { \"b\":1 , \"a\":2 } ,\"$class\":\"X\" }\n",
                   "{\"$class\":\"X\",\"$\":{\"b\":1,\"a\":2}}"));
}

/* ---- errors ------------------------------------------------------------- */

TEST(errors_name_the_problem)
{
    const int M = DUBBO_EMALFORMED;
    CHECK(fails("", M, "no JSON value"));
    CHECK(fails("   ", M, "no JSON value"));
    CHECK(fails("[1,2", M, "line 1, column 4"));
    CHECK(fails("[1,\n 2,,]", M, "line 2, column 4: unexpected token"));
    CHECK(fails("1 2", M, "end of file expected"));
    CHECK(fails("1e400", M, "real number overflow"));
    CHECK(fails("99999999999999999999", M, "too big integer"));
    CHECK(fails("{\"a\":1,\"a\":2}", M, "duplicate object key"));
    CHECK(fails("{\"a\\u0000b\":1}", M, "\"$map\""));
    /* The column is right after an unpaired surrogate rewritten inside. */
    CHECK(fails("[\"\\ud800\", x]", M, "line 1, column 12"));
    CHECK(fails("[\"\\u0041\", x]", M, "line 1, column 12"));
    CHECK(fails("{\"args\":[1,2,{\"$class\":\"long\",\"$\":1.5}]}", M,
                "at $.args[2]: \"$class\":\"long\" needs an integer \"$\""));
    CHECK(fails("{\"$class\":\"long\",\"$\":\"12x\"}", M, "needs an integer"));
    CHECK(fails("{\"$class\":\"int\",\"$\":3000000000}", M,
                "\"$class\":\"int\" value 3000000000 is out of range"));
    CHECK(fails("{\"$class\":\"short\",\"$\":40000}", M, "out of range -32768..32767"));
    CHECK(fails("{\"$class\":\"byte\",\"$\":-129}", M, "out of range -128..127"));
    CHECK(
        fails("{\"$class\":\"double\",\"$\":\"abc\"}", M, "\"$class\":\"double\" needs a number"));
    CHECK(fails("{\"$class\":\"float\",\"$\":1e300}", M, "out of float range"));
    CHECK(fails("{\"$class\":\"boolean\",\"$\":1}", M, "needs true or false"));
    CHECK(fails("{\"$class\":\"java.lang.String\",\"$\":1}", M, "needs a string"));
    CHECK(fails("{\"$class\":\"char\",\"$\":\"ab\"}", M, "one character"));
    CHECK(fails("{\"$class\":\"java.util.Date\",\"$\":\"yesterday\"}", M, "ISO-8601"));
    CHECK(fails("{\"$class\":\"java.util.Date\",\"$\":\"2023-02-29\"}", M, "ISO-8601"));
    CHECK(fails("{\"$class\":\"[B\",\"$\":\"AA!A\"}", M, "base64 \"$\": bad character 0x21 at 2"));
    CHECK(fails("{\"$class\":\"[B\",\"$\":\"A\"}", M, "length 1 is not valid"));
    CHECK(fails("{\"$class\":\"[B\",\"$\":[1,300]}", M,
                "at $[1]: \"$class\":\"[B\" items must be bytes"));
    CHECK(fails("{\"$class\":\"[B\",\"$\":true}", M, "needs a base64 string"));
    CHECK(fails("[{\"$foo\":1}]", M, "at $[0]: unknown key \"$foo\""));
    CHECK(fails("{\"$class\":\"X\",\"$\":{},\"name\":1}", M, "plain key \"name\" next to"));
    CHECK(fails("{\"$ref\":0}", M,
                "\"$ref\":0 refers to nothing: no list, map or object precedes it"));
    CHECK(fails("[{\"$ref\":1}]", M,
                "at $[0].$ref: \"$ref\":1 refers to nothing: only #0..#0 precede it"));
    CHECK(fails("[{\"$ref\":-1}]", M, "\"$ref\":-1 refers to nothing"));
    CHECK(fails("[{\"$ref\":\"0\"}]", M, "\"$ref\" needs an integer"));
    CHECK(fails("[{\"$ref\":0,\"$class\":\"X\"}]", M, "\"$ref\" must be the only key"));
    CHECK(fails("{\"$class\":\"com.X\"}", M, "\"$class\":\"com.X\" needs a \"$\" value"));
    CHECK(fails("{\"$class\":\"com.X\",\"$\":5}", M,
                "\"$class\":\"com.X\" needs an object (fields) or an array (items)"));
    CHECK(fails("{\"$class\":5,\"$\":{}}", M, "at $.$class: \"$class\" must be a string"));
    CHECK(fails("{\"$class\":\"a\\u0000b\",\"$\":{}}", M, "must not contain \\u0000"));
    CHECK(fails("{\"$\":1}", M, "\"$\" without \"$class\" must be an array"));
    CHECK(fails("{\"$map\":5}", M, "\"$map\" must be an object or an array"));
    CHECK(fails("{\"$map\":[[1]]}", M, "at $.$map[0]: \"$map\" entries must be [key, value]"));
    CHECK(fails("{\"$class\":\"X\",\"$\":[],\"$map\":{}}", M,
                "\"$\" and \"$map\" cannot be used together"));
    CHECK(fails("{\"$class\":\"X\",\"$\":{},\"$variable\":true}", M,
                "\"$variable\" applies only to lists"));
    CHECK(fails("{\"$\":[],\"$variable\":1}", M, "\"$variable\" must be true or false"));
    CHECK(fails("{\"$variable\":true}", M, "\"$variable\" needs a \"$\" array"));
    CHECK(fails("{\"$object\":{}}", M, "\"$object\" needs a \"$class\""));
    CHECK(fails("{\"$class\":\"X\",\"$object\":[[1,2]]}", M, "a field name must be a string"));
    CHECK(fails("{\"$class\":\"X\",\"$object\":[1]}", M, "entries must be [field, value] pairs"));
    CHECK(fails("{\"$class\":\"X\",\"$list\":{}}", M, "\"$list\" must be an array"));
    CHECK(fails("{\"odd key\":{\"k\":[{\"$class\":\"int\",\"$\":true}]}}", M,
                "at $[\"odd key\"].k[0]: \"$class\":\"int\" needs an integer"));
}

TEST(depth_is_bounded)
{
    /* 512 nested lists read and print; 513 do not. */
    char *deep = malloc(2 * 513 + 1);
    for (int n = 512; n <= 513; n++) {
        memset(deep, '[', (size_t)n);
        memset(deep + n, ']', (size_t)n);
        deep[2 * n] = '\0';
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *v = NULL;
        int rc = dubbo_value_from_json(a, deep, (size_t)2 * n, &v);
        if (n == 512) {
            CHECK_EQ_INT(rc, 0);
            CHECK(round_trips(v, deep));
        } else {
            CHECK_EQ_INT(rc, DUBBO_ETOO_DEEP);
            CHECK_CONTAINS(dubbo_last_error(), "typed JSON: at $...[0][0][0]");
            CHECK_CONTAINS(dubbo_last_error(),
                           "[0]: lists, maps and objects nested deeper than 512");
        }
        dubbo_arena_free(a);
    }
    free(deep);
    /* Objects print two JSON levels per value level, "$map" pairs three: a
     * chain of 512 still reads back (jansson allows 2048 levels). */
    dubbo_arena_t *a = dubbo_arena_new(0);
    const char *f[] = {"next"};
    dubbo_class_t *c = dubbo_class_new(a, "N", 1, f);
    dubbo_value_t *head = NULL, *mhead = NULL;
    for (int i = 0; i < 512; i++) {
        dubbo_value_t *o = dubbo_v_object(a, c);
        o->u.obj.fields[0] = head;
        head = o;
        dubbo_value_t *m = dubbo_v_map(a, NULL, 1);
        dubbo_map_put(a, m, dubbo_v_int(a, i), mhead);
        mhead = m;
    }
    CHECK(round_trips(head, NULL));
    CHECK(round_trips(mhead, NULL));
    /* to_json refuses deeper values and leaves the buffer as it was. */
    dubbo_value_t *l = NULL;
    for (int i = 0; i < 600; i++) {
        dubbo_value_t *n = dubbo_v_list(a, NULL, 1);
        if (l) dubbo_list_push(a, n, l);
        l = n;
    }
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    dubbo_buf_append(&b, "x", 1);
    CHECK_EQ_INT(dubbo_value_to_json(l, &b), DUBBO_ETOO_DEEP);
    CHECK_EQ_INT(b.len, 1);
    dubbo_buf_destroy(&b);
    dubbo_arena_free(a);
}

TEST(arena_limit_is_reported)
{
    dubbo_arena_t *a = dubbo_arena_new(256);
    dubbo_value_t *v;
    const char *json = "[\"a long enough string to pass the limit\",[1,2,3,4,5,6,7,8,9]]";
    int rc = dubbo_value_from_json(a, json, strlen(json), &v);
    CHECK_EQ_INT(rc, DUBBO_ETOO_BIG);
    CHECK_CONTAINS(dubbo_last_error(), "typed JSON: at $");
    dubbo_arena_free(a);
    /* A buffer limit fails to_json cleanly. */
    dubbo_arena_t *b = dubbo_arena_new(0);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 8);
    CHECK_EQ_INT(dubbo_value_to_json(dubbo_v_cstr(b, "longer than eight"), &out), DUBBO_ETOO_BIG);
    CHECK_EQ_INT(out.len, 0);
    dubbo_buf_destroy(&out);
    dubbo_arena_free(b);
}

/* jansson's allocations failing one after another: every failure is an
 * error (no crash, no leak under ASan), and success once they stop. (jansson
 * reports some failures as syntax errors, so both codes are accepted.) */
static long alloc_budget = -1;

static void *budget_malloc(size_t n)
{
    if (alloc_budget == 0) return NULL;
    if (alloc_budget > 0) alloc_budget--;
    return malloc(n);
}

TEST(jansson_out_of_memory)
{
    const char *doc = "{\"a\":[1,{\"$class\":\"P\",\"$\":{\"s\":\"\\ud800x\"}},{\"$ref\":1}],"
                      "\"b\":{\"$map\":[[1,2]]}}";
    json_set_alloc_funcs(budget_malloc, free);
    int ok = 0, nomem = 0;
    for (long budget = 0; budget < 200 && !ok; budget++) {
        alloc_budget = budget;
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *v;
        int rc = dubbo_value_from_json(a, doc, strlen(doc), &v);
        if (rc == 0)
            ok = 1;
        else if (rc == DUBBO_ENOMEM)
            nomem++;
        else
            CHECK_EQ_INT(rc, DUBBO_EMALFORMED);
        dubbo_arena_free(a);
    }
    json_set_alloc_funcs(malloc, free);
    CHECK(ok);
    CHECK(nomem > 5);
}

/* ---- random round trips ------------------------------------------------ */

static uint64_t rng = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *const names[] = {
    "a", "$", "$class", "", "b c", "\xed\xa0\x80", "long", "java.util.HashMap", "[B", "x"};

/* A random value graph; `pool` collects containers for shared refs. */
static dubbo_value_t *gen(dubbo_arena_t *a, int depth, dubbo_value_t **pool, size_t *npool)
{
    unsigned k = rnd(depth > 4 ? 9 : 14);
    switch (k) {
    case 0: return dubbo_v_null();
    case 1: return dubbo_v_bool(a, rnd(2));
    case 2: return dubbo_v_int(a, rnd(2) ? (int32_t)rnd(200) - 100 : (int32_t)rnd(UINT32_MAX));
    case 3: return dubbo_v_long(a, (int64_t)((uint64_t)rnd(UINT32_MAX) << 31) - rnd(99));
    case 4: {
        uint64_t bits = (uint64_t)rnd(UINT32_MAX) << 32 | rnd(UINT32_MAX);
        double d;
        memcpy(&d, &bits, sizeof(d));
        return dubbo_v_double(a, rnd(4) ? d : (double)rnd(1000) / 8);
    }
    case 5: return dubbo_v_date(a, (int64_t)rnd(UINT32_MAX) * 1000 - 5000);
    case 6: {
        static const char *const pieces[] = {
            "a", "\"", "\\", "\x01", "$", "\xc3\xa9", "\xed\xa0\x80", "\xf0\x9f\x98\x80", "\n"};
        char s[64];
        size_t n = 0;
        for (unsigned i = rnd(6); i > 0; i--) {
            if (rnd(8) == 0) {
                s[n++] = '\0';
                continue;
            }
            const char *p = pieces[rnd(9)];
            memcpy(s + n, p, strlen(p));
            n += strlen(p);
        }
        if (rnd(4) == 0) return dubbo_v_cstr(a, names[rnd(10)]);
        return dubbo_v_string(a, s, n);
    }
    case 7: {
        uint8_t b[6];
        size_t n = rnd(sizeof(b) + 1);
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)rnd(256);
        return dubbo_v_binary(a, b, n);
    }
    case 8:
        if (*npool) return pool[rnd((unsigned)*npool)];
        return dubbo_v_null();
    default: break;
    }
    dubbo_value_t *v;
    unsigned n = rnd(4);
    if (k <= 10) {
        v = dubbo_v_list(a, rnd(2) ? NULL : names[rnd(10)], 0);
        if (rnd(3) == 0) v->flags |= DUBBO_VF_VARIABLE;
        if (*npool < 64) pool[(*npool)++] = v;
        for (unsigned i = 0; i < n; i++)
            dubbo_list_push(a, v, gen(a, depth + 1, pool, npool));
    } else if (k <= 12) {
        v = dubbo_v_map(a, rnd(2) ? NULL : names[rnd(10)], 0);
        if (*npool < 64) pool[(*npool)++] = v;
        for (unsigned i = 0; i < n; i++) {
            dubbo_value_t *key =
                rnd(3) ? dubbo_v_cstr(a, names[rnd(10)]) : gen(a, depth + 1, pool, npool);
            dubbo_map_put(a, v, key, gen(a, depth + 1, pool, npool));
        }
    } else {
        const char *f[3];
        for (unsigned i = 0; i < n && i < 3; i++)
            f[i] = names[rnd(10)];
        dubbo_class_t *c = dubbo_class_new(a, names[rnd(10)], n < 3 ? n : 3, f);
        v = dubbo_v_object(a, c);
        if (*npool < 64) pool[(*npool)++] = v;
        for (size_t i = 0; i < c->nfields; i++)
            v->u.obj.fields[i] = gen(a, depth + 1, pool, npool);
    }
    return v;
}

TEST(random_graphs_round_trip)
{
    int bad = 0;
    for (int iter = 0; iter < 3000; iter++) {
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *pool[64];
        size_t npool = 0;
        dubbo_value_t *v = gen(a, 0, pool, &npool);
        if (!round_trips(v, NULL)) {
            bad++;
            fprintf(stderr, "  iteration %d: %s\n", iter, js(v) ? js(v) : "(error)");
        }
        /* Through typed JSON, Hessian bytes are unchanged. */
        dubbo_buf_t b1, b2;
        dubbo_buf_init(&b1, 0);
        dubbo_buf_init(&b2, 0);
        dubbo_value_t *back = NULL;
        const char *t = js(v);
        if (t && dubbo_hessian2_encode(v, &b1) == 0 &&
            dubbo_value_from_json(a, t, strlen(t), &back) == 0 &&
            dubbo_hessian2_encode(back, &b2) == 0) {
            if (b1.len != b2.len || memcmp(b1.base, b2.base, b1.len) != 0) {
                bad++;
                fprintf(stderr, "  iteration %d: hessian bytes differ for %s\n", iter, t);
            }
        }
        dubbo_buf_destroy(&b1);
        dubbo_buf_destroy(&b2);
        dubbo_arena_free(a);
        if (bad > 5) break;
    }
    CHECK_EQ_INT(bad, 0);
}

TEST_MAIN(TEST_ENTRY(scalars_print_exactly), TEST_ENTRY(doubles_shortest_and_exact),
          TEST_ENTRY(strings_escape_and_wtf8), TEST_ENTRY(binary_base64),
          TEST_ENTRY(lists_every_form), TEST_ENTRY(maps_every_form), TEST_ENTRY(objects_every_form),
          TEST_ENTRY(objects_share_their_class), TEST_ENTRY(shared_and_circular_references),
          TEST_ENTRY(references_match_hessian_numbering), TEST_ENTRY(streams_share_numbering),
          TEST_ENTRY(js_to_java_conveniences), TEST_ENTRY(errors_name_the_problem),
          TEST_ENTRY(depth_is_bounded), TEST_ENTRY(arena_limit_is_reported),
          TEST_ENTRY(jansson_out_of_memory), TEST_ENTRY(random_graphs_round_trip))
