/* The committed Hessian 2.0 vectors written by the real peers (Caucho Hessian
 * 4 and hessian.js; scripts/gen-hessian2-vectors.sh), checked without running
 * them: every vector must decode to its expected typed JSON, the JSON must
 * parse back to an equal value, and both the decoded and the parsed values
 * must encode back to the peer's bytes (except the cases listed in
 * tests/vectors/hessian2/encode-skip.txt). A vector of several values is one
 * stream: one decoder, one JSON writer/reader, one encoder. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/buf.h"
#include "dubbo/error.h"
#include "dubbo/hessian2.h"
#include "dubbo/value.h"
#include "test.h"

#define VECTORS    DUBBO_SOURCE_DIR "/tests/vectors/hessian2/"
#define CASES      DUBBO_SOURCE_DIR "/tests/interop/hessian2-cases.txt"
#define MAX_VALUES 16
/* Print at most this many characters of a long expected/actual text. */
#define CLIP 300

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    char *s = malloc(cap + 1);
    size_t got;
    while (s && (got = fread(s + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *t = realloc(s, (cap *= 2) + 1);
            if (!t) free(s);
            s = t;
        }
    }
    fclose(f);
    if (!s) return NULL;
    s[n] = '\0';
    if (len) *len = n;
    return s;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode hex into a malloc'd buffer; NULL on bad hex. */
static uint8_t *unhex(const char *s, size_t *outlen)
{
    size_t n = strlen(s);
    if (n % 2) return NULL;
    uint8_t *b = malloc(n / 2 + 1);
    for (size_t i = 0; b && i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return NULL;
        }
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *outlen = n / 2;
    return b;
}

static char *tohex(const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; s && i < n; i++) {
        s[2 * i] = digits[b[i] >> 4];
        s[2 * i + 1] = digits[b[i] & 15];
    }
    if (s) s[2 * n] = '\0';
    return s;
}

/* First offset where a and b differ. */
static size_t first_diff(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    return i;
}

static void report(const char *file, const char *name, const char *what, const char *want,
                   const char *got)
{
    size_t d = first_diff(want, got), from = d > 40 ? d - 40 : 0;
    fprintf(stderr, "%s: %s %s: %s mismatch at char %zu\n  want ...%.*s\n  got  ...%.*s\n",
            test__current, file, name, what, d, CLIP, want + from, CLIP, got + from);
    test__failed_checks++;
}

/* Splits line at tabs in place; returns the number of fields. */
static size_t split_tabs(char *line, char **f, size_t max)
{
    size_t n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++) {
        if (*p == '\t') {
            *p = '\0';
            f[n++] = p + 1;
        }
    }
    return n;
}

/* Is "file name" listed in encode-skip.txt (a case whose bytes our
 * Java-exact encoder is not expected to reproduce)? */
static bool encode_skipped(const char *skips, const char *file, const char *name)
{
    char key[256];
    snprintf(key, sizeof(key), "%s %s ", file, name);
    for (const char *p = skips; p && *p;) {
        if (strncmp(p, key, strlen(key)) == 0) return true;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return false;
}

/* Checks one vector: decode, typed JSON, JSON parse-back, re-encode. */
/* Encodes values[0..n) as one stream and compares with the vector's hex. */
static void check_encoding(const char *file, const char *name, const char *what,
                           dubbo_value_t **values, size_t n, const char *want)
{
    dubbo_buf_t enc;
    dubbo_buf_init(&enc, 0);
    dubbo_h2_encoder_t e;
    dubbo_h2_encoder_init(&e, &enc);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = dubbo_h2_encode(&e, values[i]);
    dubbo_h2_encoder_destroy(&e);
    char *hex = rc == 0 ? tohex(enc.base, enc.len) : NULL;
    if (rc != 0) {
        fprintf(stderr, "%s: %s %s: %s: encode failed: %s (%s)\n", test__current, file, name, what,
                dubbo_err_name(rc), dubbo_last_error());
        test__failed_checks++;
    } else if (hex && strcmp(hex, want) != 0) {
        report(file, name, what, want, hex);
    }
    free(hex);
    dubbo_buf_destroy(&enc);
}

static void check_vector(const char *file, const char *skips, char **f, size_t nf, int *nenc)
{
    const char *name = f[0];
    size_t nvalues = nf - 2, len = 0;
    uint8_t *in = unhex(f[1], &len);
    dubbo_arena_t *arena = dubbo_arena_new(0);
    dubbo_json_writer_t *writer = dubbo_json_writer_new();
    dubbo_json_reader_t *reader = arena ? dubbo_json_reader_new(arena) : NULL;
    dubbo_value_t *values[MAX_VALUES], *parsed[MAX_VALUES];
    bool all_parsed = true;
    dubbo_buf_t json;
    dubbo_buf_init(&json, 0);
    if (!in || !arena || !writer || !reader) {
        fprintf(stderr, "%s: %s %s: bad hex or no memory\n", test__current, file, name);
        test__failed_checks++;
        goto done;
    }

    dubbo_h2_decoder_t d;
    dubbo_h2_decoder_init(&d, arena, in, len);
    bool decoded = true;
    for (size_t i = 0; i < nvalues && decoded; i++) {
        int rc = dubbo_h2_decode(&d, &values[i]);
        if (rc != 0) {
            fprintf(stderr, "%s: %s %s: value %zu does not decode: %s (%s)\n", test__current, file,
                    name, i, dubbo_err_name(rc), dubbo_last_error());
            test__failed_checks++;
            decoded = false;
            break;
        }
        dubbo_buf_clear(&json);
        if (dubbo_json_write(writer, values[i], &json) != 0 ||
            dubbo_buf_append(&json, "", 1) != 0) {
            fprintf(stderr, "%s: %s %s: value %zu: to_json failed\n", test__current, file, name, i);
            test__failed_checks++;
            continue;
        }
        if (strcmp((const char *)json.base, f[2 + i]) != 0) {
            report(file, name, "typed JSON", f[2 + i], (const char *)json.base);
        }
        size_t pos = 0;
        int prc = dubbo_json_read(reader, f[2 + i], strlen(f[2 + i]), &pos, &parsed[i]);
        if (prc != 0) {
            fprintf(stderr, "%s: %s %s: expected JSON %zu does not parse: %s\n", test__current,
                    file, name, i, dubbo_last_error());
            test__failed_checks++;
            all_parsed = false;
        } else if (!dubbo_value_equal(parsed[i], values[i])) {
            fprintf(stderr,
                    "%s: %s %s: expected JSON %zu parses to a value unequal to the decoded one\n",
                    test__current, file, name, i);
            test__failed_checks++;
        }
    }
    if (decoded && !dubbo_h2_decoder_done(&d)) {
        fprintf(stderr, "%s: %s %s: %zu bytes left after %zu values\n", test__current, file, name,
                len - d.pos, nvalues);
        test__failed_checks++;
    }
    dubbo_h2_decoder_destroy(&d);

    if (decoded && !encode_skipped(skips, file, name)) {
        check_encoding(file, name, "hex re-encoded from the decoded values", values, nvalues, f[1]);
        if (all_parsed)
            check_encoding(file, name, "hex encoded from the expected JSON", parsed, nvalues, f[1]);
        (*nenc)++;
    }
done:
    dubbo_buf_destroy(&json);
    dubbo_json_writer_free(writer);
    dubbo_json_reader_free(reader);
    dubbo_arena_free(arena);
    free(in);
}

static void check_file(const char *file, int min)
{
    char path[512];
    snprintf(path, sizeof(path), VECTORS "%s.tsv", file);
    char *text = read_file(path, NULL);
    char *skips = read_file(VECTORS "encode-skip.txt", NULL);
    CHECK(text != NULL);
    CHECK(skips != NULL);
    if (!text || !skips) {
        fprintf(stderr, "cannot read %s or encode-skip.txt\n", path);
        free(text);
        free(skips);
        return;
    }
    int n = 0, nenc = 0, before = test__failed_checks;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (!*line) continue;
        char *f[MAX_VALUES + 2];
        size_t nf = split_tabs(line, f, MAX_VALUES + 2);
        if (nf < 3) {
            fprintf(stderr, "%s: %s: malformed line %d\n", test__current, file, n + 1);
            test__failed_checks++;
            continue;
        }
        check_vector(file, skips, f, nf, &nenc);
        n++;
    }
    printf("%s.tsv: %d vectors (%d re-encoded), %d failed checks\n", file, n, nenc,
           test__failed_checks - before);
    CHECK(n >= min);
    free(text);
    free(skips);
}

TEST(java_vectors)
{
    check_file("java", 150);
}

TEST(js_vectors)
{
    check_file("js", 150);
}

/* Written by Dubbo's own hessian-lite (tests/interop/java LiteVectors): the
 * types it writes unlike Caucho (Short/Byte as int, Float through its
 * decimal string, BigDecimal, BigInteger, java.time handles, enums). */
TEST(java_lite_vectors)
{
    check_file("java-lite", 18);
}

/* "encode:NAME JSON" lines of the cases file: encoding JSON must give the
 * Java bytes of NAME (inputs such as -0.0 that no decoder produces). */
TEST(encode_only_inputs)
{
    char *cases = read_file(CASES, NULL);
    char *java = read_file(VECTORS "java.tsv", NULL);
    CHECK(cases && java);
    int n = 0;
    for (char *line = cases, *next; cases && java && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (strncmp(line, "encode:", 7) != 0) continue;
        char *name = line + 7, *json = name + strcspn(name, " \t");
        *json++ = '\0';
        json += strspn(json, " \t");
        /* the Java hex of NAME: the line "NAME\tHEX\t..." */
        char key[256];
        snprintf(key, sizeof(key), "\n%s\t", name);
        const char *hex = NULL, *hit;
        if (strncmp(java, key + 1, strlen(key + 1)) == 0)
            hex = java + strlen(key + 1);
        else if ((hit = strstr(java, key)) != NULL)
            hex = hit + strlen(key);
        if (!hex) {
            fprintf(stderr, "%s: encode:%s names no java vector\n", test__current, name);
            test__failed_checks++;
            continue;
        }
        size_t hexlen = strcspn(hex, "\t");
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *v = NULL;
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        if (dubbo_value_from_json(a, json, strlen(json), &v) != 0) {
            fprintf(stderr, "%s: encode:%s: JSON does not parse: %s\n", test__current, name,
                    dubbo_last_error());
            test__failed_checks++;
        } else if (dubbo_hessian2_encode(v, &out) != 0) {
            fprintf(stderr, "%s: encode:%s: encode failed: %s\n", test__current, name,
                    dubbo_last_error());
            test__failed_checks++;
        } else {
            char *got = tohex(out.base, out.len);
            char *want = strndup(hex, hexlen);
            if (strcmp(got, want) != 0) report("java", name, "encode-only hex", want, got);
            free(got);
            free(want);
        }
        dubbo_buf_destroy(&out);
        dubbo_arena_free(a);
        n++;
    }
    CHECK(n >= 1);
    free(cases);
    free(java);
}

TEST_MAIN(TEST_ENTRY(java_vectors), TEST_ENTRY(js_vectors), TEST_ENTRY(java_lite_vectors),
          TEST_ENTRY(encode_only_inputs))
