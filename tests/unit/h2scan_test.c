/* dubbo__h2_map_find (src/serialize/h2scan.h): attachments looked up in a
 * hessian2 map's bytes. A table of maps the lookup reads, each checked
 * against the full decoder (the same value for every key asked, absent
 * alike), and a table of maps it must leave to the full decoder (1):
 * other value types, non-ASCII or chunked text, typed maps, malformed,
 * truncated and trailing bytes. */
#include <stdlib.h>
#include <string.h>

#include "dubbo/buf.h"
#include "dubbo/hessian2.h"
#include "dubbo/value.h"
#include "serialize/h2scan.h"
#include "test.h"

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        sscanf(p, "%2x", &v);
        out[n++] = (uint8_t)v;
        p += 2;
    }
    return n;
}

/* The same value: the same hessian2 bytes (or both absent). */
static bool same(const dubbo_value_t *x, const dubbo_value_t *y)
{
    if (!x || !y) return !x && !y;
    dubbo_buf_t a, b;
    dubbo_buf_init(&a, 0);
    dubbo_buf_init(&b, 0);
    bool ok = !dubbo_hessian2_encode(x, &a) && !dubbo_hessian2_encode(y, &b) && a.len == b.len &&
              memcmp(a.base, b.base, a.len) == 0;
    dubbo_buf_destroy(&a);
    dubbo_buf_destroy(&b);
    return ok;
}

static const char *const keys[] = {"path", "timeout", "t", "n", "x", "group", "absent", ""};

TEST(reads_maps_of_scalars)
{
    static const char *const maps[] = {
        "4e",                                                /* no attachments */
        "48 5a",                                             /* empty */
        "48 04 70617468 03 612e62 5a",                       /* path: "a.b" */
        "48 07 74696d656f7574 d4 0bb8 5a",                   /* timeout: 3000 (int) */
        "48 07 74696d656f7574 49 00000bb8 5a",               /* timeout: 3000 (4-byte int) */
        "48 01 74 54 01 6e 4e 01 78 46 5a",                  /* t: true, n: null, x: false */
        "48 01 78 e0 01 78 f8 10 01 78 3c 1000 5a",          /* longs: one, two, three bytes */
        "48 01 78 59 00000001 01 78 4c 0000000000000002 5a", /* longs: 4 and 8 bytes */
        "48 01 78 5b 01 78 5c 01 78 5d 05 01 78 5e 0001 5a", /* doubles, short forms */
        "48 01 78 5f 00000001 01 78 44 3ff0000000000000 5a", /* doubles: 4 and 8 bytes */
        "48 01 78 01 31 01 78 01 32 5a",                     /* duplicate key: the first */
        "48 04 70617468 30 21 " /* path: a 33-char name, the 2-byte length form */
        "6f72672e6170616368652e647562626f2e64656d6f2e44656d6f53657276696365 5a",
        "48 53 0004 70617468 53 0001 61 5a", /* 'S' strings */
        "48 00 00 5a",                       /* "" : "" */
        "48 01 78 80 01 78 bf 01 78 90 5a",  /* 1-byte ints: -16, 47, 0 (the first x) */
        "48 01 78 c0 00 5a",                 /* 2-byte int: -2048 */
        "48 01 78 cf ff 5a",                 /* 2-byte int: 2047 */
        "48 01 78 c8 30 5a",                 /* 2-byte int: 48 */
        "48 01 78 d0 0000 5a",               /* 3-byte int: -262144 */
        "48 01 78 d7 ffff 5a",               /* 3-byte int: 262143 */
        "48 01 74 d3 ff9c 5a",               /* t: a negative 3-byte int */
    };
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
        uint8_t in[256];
        size_t n = unhex(maps[i], in);
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *whole = NULL;
        CHECK_EQ_INT(dubbo_hessian2_decode(a, in, n, &whole, NULL), 0);
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            dubbo_value_t *v = (dubbo_value_t *)1;
            int rc = dubbo__h2_map_find(a, in, n, keys[k], &v);
            CHECK_EQ_INT(rc, 0);
            const dubbo_value_t *want =
                whole && whole->type == DUBBO_T_MAP ? dubbo_map_get(whole, keys[k]) : NULL;
            if (!same(v, want)) {
                fprintf(stderr, "  map %zu (%s), key \"%s\": not what the decoder reads\n", i,
                        maps[i], keys[k]);
                CHECK(false);
            }
        }
        dubbo_arena_free(a);
    }
}

TEST(leaves_the_rest_to_the_decoder)
{
    static const char *const maps[] = {
        "",                                /* nothing */
        "48",                              /* no end */
        "48 01 78",                        /* a key without a value */
        "48 01 78 01",                     /* a value cut short */
        "48 01 78 d4 0b",                  /* an int cut short */
        "48 01 78 4c 00000000",            /* a long cut short */
        "48 04 7061",                      /* a key cut short */
        "48 01 78 01 79 5a 00",            /* a byte after the map */
        "4d 00 5a",                        /* a typed map */
        "48 01 78 48 5a 5a",               /* a map value */
        "48 01 78 58 90 5a",               /* a list value (x58: fixed untyped) */
        "48 01 78 23 010203 5a",           /* binary */
        "48 01 78 02 c3a9 5a",             /* non-ASCII value (2 units for 1 char) */
        "48 01 78 01 c3a9 5a",             /* non-ASCII value */
        "48 02 c3a9 01 78 5a",             /* non-ASCII key */
        "48 01 78 52 0001 61 01 62 5a",    /* a chunked string */
        "48 90 01 78 5a",                  /* an int key */
        "48 01 78 51 90 5a",               /* a reference */
        "48 01 78 4a 0000000000000000 5a", /* a date */
        "43 01 78 90 5a",                  /* a class definition */
        "4e 4e",                           /* null and more */
    };
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
        uint8_t in[64];
        size_t n = unhex(maps[i], in);
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *v = (dubbo_value_t *)1;
        int rc = dubbo__h2_map_find(a, in, n, "x", &v);
        if (rc != 1) fprintf(stderr, "  map %zu (%s): read, not left to the decoder\n", i, maps[i]);
        CHECK_EQ_INT(rc, 1);
        CHECK(v == NULL);
        dubbo_arena_free(a);
    }
}

TEST_MAIN(TEST_ENTRY(reads_maps_of_scalars), TEST_ENTRY(leaves_the_rest_to_the_decoder))
