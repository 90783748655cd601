/* Hessian 2 encode/decode benchmark, C side (dubbo-c).
 *
 * The payloads are the ones of bench/hessian2/HessianBench.java and
 * bench/hessian2/bench.js (shape of apache/dubbo-benchmark's User and Page):
 * keep the three in step. bench/run-hessian2.sh runs all three.
 *
 *   hessian2_bench [--seconds S] [--runs N] [--warmup S] [--dump DIR] [--verify DIR]
 *   hessian2_bench --profile user-encode|user-decode|page-encode|page-decode N
 *
 * Encode = value graph -> bytes: a fresh dubbo_h2_encoder_t per message,
 * appending to a reused dubbo_buf_t. Decode = bytes -> full value graph:
 * dubbo_hessian2_decode() into an arena that is reset per message.
 *
 * Prints "size <payload> <bytes>" and
 * "result c <payload> <encode|decode> <median ops/s> <run1> <run2> ..." lines,
 * "rcpu ..." lines of the same runs in ops per CPU-second of the benchmark
 * thread, and "cpu c <share>": the lowest share of a timed run's wall time the
 * benchmark thread was on a CPU (below ~0.95, other processes interfered).
 * --dump writes DIR/c-user.bin and DIR/c-page.bin; --verify checks our bytes
 * against DIR/java-user.bin and DIR/java-page.bin and that decoding Java's
 * bytes gives our value. --profile runs N untimed operations of one kind
 * (for valgrind --tool=callgrind). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/error.h"
#include "dubbo/hessian2.h"
#include "dubbo/value.h"

/* Fixed contents, shared with the Java and JS benchmarks. */
#define BIRTHDAY_MS INT64_C(-33609600000)  /* 1968-12-08T00:00:00Z */
#define CREATE_MS   INT64_C(1710494813589) /* 2024-03-15T09:26:53.589Z */
static const int32_t PERMISSIONS[] = {1, 2, 3, 4, 5, 6, 7, 8, 19, 88, 86, 89, 90, 91, 92};
#define NPERMISSIONS (sizeof(PERMISSIONS) / sizeof(PERMISSIONS[0]))
static const char NAME[] = "Doug Lea";
static const char EMAIL[] = "dong.lea@gmail.com";
static const char MOBILE[] = "18612345678";
static const char ADDRESS[] = "北京市 中关村 中关村大街1号 鼎好大厦 1605";
static const char ICON[] = "https://www.baidu.com/img/bd_logo1.png";

/* Fields in the order Java's serializer writes them (primitives and
 * java.lang types first, then the others, each in declaration order). */
static const char *const USER_FIELDS[] = {
    "id",   "name",   "sex",      "email",       "mobile",     "address",
    "icon", "status", "birthday", "permissions", "createTime", "updateTime",
};
static const char *const PAGE_FIELDS[] = {"pageNo", "total", "result"};

static void die(const char *what, int rc)
{
    fprintf(stderr, "hessian2_bench: %s: %s (%s)\n", what, dubbo_strerror(rc), dubbo_last_error());
    exit(1);
}

static void *check_alloc(void *p, const char *what)
{
    if (!p) die(what, DUBBO_ENOMEM);
    return p;
}

static dubbo_value_t *str_with_suffix(dubbo_arena_t *a, const char *s, const char *suffix)
{
    char tmp[256];
    int n = snprintf(tmp, sizeof(tmp), "%s%s", s, suffix);
    return check_alloc(dubbo_v_string(a, tmp, (size_t)n), "string");
}

static void set(dubbo_value_t *obj, const char *field, dubbo_value_t *v)
{
    if (!v) die(field, DUBBO_ENOMEM);
    int rc = dubbo_object_set(obj, field, v);
    if (rc) die(field, rc);
}

static dubbo_value_t *make_user(dubbo_arena_t *a, const dubbo_class_t *cls, int64_t id,
                                const char *suffix, int64_t create_ms)
{
    dubbo_value_t *u = check_alloc(dubbo_v_object(a, cls), "user");
    set(u, "id", dubbo_v_long(a, id));
    set(u, "name", str_with_suffix(a, NAME, suffix));
    set(u, "sex", dubbo_v_int(a, 1));
    set(u, "email", str_with_suffix(a, EMAIL, suffix));
    set(u, "mobile", str_with_suffix(a, MOBILE, suffix));
    set(u, "address", str_with_suffix(a, ADDRESS, suffix));
    set(u, "icon", str_with_suffix(a, ICON, suffix));
    set(u, "status", dubbo_v_int(a, 1));
    set(u, "birthday", dubbo_v_date(a, BIRTHDAY_MS));
    dubbo_value_t *perms = check_alloc(dubbo_v_list(a, NULL, NPERMISSIONS), "list");
    for (size_t i = 0; i < NPERMISSIONS; i++) {
        int rc = dubbo_list_push(a, perms, dubbo_v_int(a, PERMISSIONS[i]));
        if (rc) die("permissions", rc);
    }
    set(u, "permissions", perms);
    set(u, "createTime", dubbo_v_date(a, create_ms));
    set(u, "updateTime", dubbo_v_date(a, create_ms));
    return u;
}

static const dubbo_class_t *user_class(dubbo_arena_t *a)
{
    return check_alloc(dubbo_class_new(a, "com.example.bench.User",
                                       sizeof(USER_FIELDS) / sizeof(USER_FIELDS[0]), USER_FIELDS),
                       "class");
}

/* getUser(): one user. */
static dubbo_value_t *single_user(dubbo_arena_t *a)
{
    return make_user(a, user_class(a), 10001, "", CREATE_MS);
}

/* listUser(1): 15 distinct users. */
static dubbo_value_t *page(dubbo_arena_t *a)
{
    const dubbo_class_t *ucls = user_class(a);
    const dubbo_class_t *pcls =
        check_alloc(dubbo_class_new(a, "com.example.bench.Page", 3, PAGE_FIELDS), "class");
    dubbo_value_t *p = check_alloc(dubbo_v_object(a, pcls), "page");
    set(p, "pageNo", dubbo_v_int(a, 1));
    set(p, "total", dubbo_v_int(a, 1000));
    dubbo_value_t *list = check_alloc(dubbo_v_list(a, NULL, 15), "list");
    for (int i = 0; i < 15; i++) {
        char suffix[16];
        snprintf(suffix, sizeof(suffix), "%d", i);
        int rc = dubbo_list_push(a, list, make_user(a, ucls, i, suffix, CREATE_MS + 1000 * i));
        if (rc) die("result", rc);
    }
    set(p, "result", list);
    return p;
}

/* ---- The two operations ------------------------------------------------ */

static dubbo_buf_t out_buf;      /* reused by every encode */
static dubbo_arena_t *dec_arena; /* reset by every decode */
static size_t sink;

static void encode_once(const dubbo_value_t *v)
{
    dubbo_buf_clear(&out_buf);
    dubbo_h2_encoder_t e;
    dubbo_h2_encoder_init(&e, &out_buf);
    int rc = dubbo_h2_encode(&e, v);
    dubbo_h2_encoder_destroy(&e);
    if (rc) die("encode", rc);
    sink += out_buf.len;
}

static dubbo_value_t *decode_once(const uint8_t *in, size_t len)
{
    dubbo_arena_reset(dec_arena);
    dubbo_value_t *v;
    int rc = dubbo_hessian2_decode(dec_arena, in, len, &v, NULL);
    if (rc) die("decode", rc);
    sink += (size_t)v->type;
    return v;
}

/* ---- Timing -------------------------------------------------------------- */

typedef struct {
    const dubbo_value_t *value; /* for encode */
    const uint8_t *bytes;       /* for decode */
    size_t len;
    int decode;
} op_t;

static void run_op(const op_t *op)
{
    if (op->decode)
        decode_once(op->bytes, op->len);
    else
        encode_once(op->value);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Lowest share of wall time our thread was on a CPU during a timed run
 * (below ~0.95: other processes took the CPU and the run is noisy). */
static double min_share = 1.0;

/* Runs op for about `seconds`, checking the clock every `batch` ops.
 * Returns ops per wall-clock second; *per_cpu gets ops per second of CPU
 * time of this thread (the same when nothing else wants our core). */
static double measure(const op_t *op, double seconds, int batch, int timed, double *per_cpu)
{
    double start = now_s(), cpu0 = cpu_s(), now;
    long n = 0;
    do {
        for (int i = 0; i < batch; i++)
            run_op(op);
        n += batch;
        now = now_s();
    } while (now - start < seconds);
    double cpu = cpu_s() - cpu0;
    if (timed && cpu / (now - start) < min_share) min_share = cpu / (now - start);
    if (per_cpu) *per_cpu = (double)n / cpu;
    return (double)n / (now - start);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(const double *xs, int n)
{
    double s[64];
    memcpy(s, xs, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void bench(const char *payload, const dubbo_value_t *v, double seconds, int runs,
                  double warmup, int batch)
{
    encode_once(v);
    size_t len = out_buf.len;
    uint8_t *bytes = check_alloc(malloc(len), "bytes");
    memcpy(bytes, out_buf.base, len);
    op_t ops[2] = {{v, NULL, 0, 0}, {NULL, bytes, len, 1}};
    const char *names[2] = {"encode", "decode"};
    for (int k = 0; k < 2; k++)
        measure(&ops[k], warmup / 2, batch, 0, NULL);
    for (int k = 0; k < 2; k++) {
        double r[64], c[64];
        for (int i = 0; i < runs; i++)
            r[i] = measure(&ops[k], seconds, batch, 1, &c[i]);
        for (int w = 0; w < 2; w++) {
            const double *x = w ? c : r;
            printf("%s c %s %s %.0f", w ? "rcpu" : "result", payload, names[k], median(x, runs));
            for (int i = 0; i < runs; i++)
                printf(" %.0f", x[i]);
            printf("\n");
        }
        fflush(stdout);
    }
    free(bytes);
}

/* ---- Checks ---------------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "hessian2_bench: cannot open %s\n", path);
        exit(1);
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *p = check_alloc(malloc(cap), "file");
    size_t got;
    while ((got = fread(p + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) p = check_alloc(realloc(p, cap *= 2), "file");
    }
    fclose(f);
    *len = n;
    return p;
}

static void write_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "hessian2_bench: cannot write %s\n", path);
        exit(1);
    }
}

/* Our decode of our bytes must equal the value; with a Java dump, our bytes
 * must equal Java's and our decode of Java's bytes must equal the value. */
static void check(const char *payload, const dubbo_value_t *v, const char *dump, const char *verify)
{
    char path[4096];
    encode_once(v);
    printf("size %s %zu\n", payload, out_buf.len);
    if (!dubbo_value_equal(decode_once(out_buf.base, out_buf.len), v)) {
        fprintf(stderr, "hessian2_bench: %s: decode(encode(v)) != v\n", payload);
        exit(1);
    }
    printf("info c %s decoded graph uses %zu arena bytes\n", payload, dubbo_arena_used(dec_arena));
    if (dump) {
        snprintf(path, sizeof(path), "%s/c-%s.bin", dump, payload);
        write_file(path, out_buf.base, out_buf.len);
    }
    if (verify) {
        size_t jlen;
        snprintf(path, sizeof(path), "%s/java-%s.bin", verify, payload);
        uint8_t *jb = read_file(path, &jlen);
        int same = jlen == out_buf.len && memcmp(jb, out_buf.base, jlen) == 0;
        printf("info c %s bytes %s Java's (%zu vs %zu)\n", payload,
               same ? "identical to" : "DIFFER from", out_buf.len, jlen);
        if (!dubbo_value_equal(decode_once(jb, jlen), v)) {
            fprintf(stderr, "hessian2_bench: %s: decoding Java's bytes does not give the value\n",
                    payload);
            exit(1);
        }
        free(jb);
    }
}

int main(int argc, char **argv)
{
    double seconds = 1.0, warmup = 0.4;
    int runs = 5;
    const char *dump = NULL, *verify = NULL, *profile = NULL;
    long profile_n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) goto usage;
        if (!strcmp(a, "--seconds"))
            seconds = atof(argv[++i]);
        else if (!strcmp(a, "--runs"))
            runs = atoi(argv[++i]);
        else if (!strcmp(a, "--warmup"))
            warmup = atof(argv[++i]);
        else if (!strcmp(a, "--dump"))
            dump = argv[++i];
        else if (!strcmp(a, "--verify"))
            verify = argv[++i];
        else if (!strcmp(a, "--profile") && i + 2 < argc) {
            profile = argv[++i];
            profile_n = atol(argv[++i]);
        } else
            goto usage;
    }
    if (runs < 1 || runs > 64 || seconds <= 0) goto usage;

    dubbo_arena_t *values = check_alloc(dubbo_arena_new(0), "arena");
    dec_arena = check_alloc(dubbo_arena_new((size_t)16 << 20), "arena");
    dubbo_buf_init(&out_buf, DUBBO_BUF_DEFAULT_LIMIT);
    dubbo_value_t *user = single_user(values);
    dubbo_value_t *pg = page(values);

    if (profile) {
        const dubbo_value_t *v = !strncmp(profile, "user", 4) ? user : pg;
        encode_once(v);
        uint8_t *bytes = check_alloc(malloc(out_buf.len), "bytes");
        size_t len = out_buf.len;
        memcpy(bytes, out_buf.base, len);
        int dec = strstr(profile, "decode") != NULL;
        for (long i = 0; i < profile_n; i++) {
            if (dec)
                decode_once(bytes, len);
            else
                encode_once(v);
        }
        free(bytes);
    } else {
        check("user", user, dump, verify);
        check("page", pg, dump, verify);
        bench("user", user, seconds, runs, warmup, 256);
        bench("page", pg, seconds, runs, warmup, 32);
        printf("cpu c %.2f\n", min_share);
    }
    dubbo_buf_destroy(&out_buf);
    dubbo_arena_free(dec_arena);
    dubbo_arena_free(values);
    return sink == 0;

usage:
    fprintf(stderr,
            "usage: hessian2_bench [--seconds S] [--runs N] [--warmup S] [--dump DIR] "
            "[--verify DIR]\n"
            "       hessian2_bench --profile user-encode|user-decode|page-encode|page-decode "
            "N\n");
    return 2;
}
