/* protobuf encode/decode benchmark, C side (dubbo-c): the User and Page of
 * bench/protobuf/user.proto, with the contents of bench/hessian2_bench.c.
 *
 *   protobuf_bench --schema FILE [--seconds S] [--runs N] [--warmup S]
 *                  [--dump DIR] [--verify DIR]
 *   protobuf_bench --schema FILE --profile IMPL-PAYLOAD-OP N
 *       (IMPL pbc|schema|body, PAYLOAD user|page, OP encode|decode)
 *
 * FILE is `protoc --descriptor_set_out` of user.proto (CMake makes it next
 * to the binary and passes its path as the default). Three implementations:
 *
 *   pbc     protoc-c's generated code, as an IDL service's handler has it:
 *           encode = protobuf_c_message_get_packed_size + pack into a reused
 *           dubbo_buf_t; decode = protobuf_c_message_unpack with an
 *           allocator on an arena reset per message (the runtime unpacks a
 *           request into the call's arena the same way).
 *   schema  no generated code: dubbo_tri_pb_from_value from a prepared map
 *           into a reused buffer; dubbo_tri_pb_to_value into an arena reset
 *           per message.
 *   body    the whole Dubbo-protocol body with serialization=protobuf
 *           (src/serialize/protobuf.c through the codec): the User as the
 *           one argument of a request UserService.createUser(User), the Page
 *           as the value of a response to listUser (kind 4, attachments
 *           {dubbo: 2.0.2}). Encode = protoc-c pack + the body around the
 *           bytes; decode = the body into values + protoc-c unpack of the
 *           message's bytes. So body - pbc is what the Dubbo protocol adds.
 *
 * Prints "size <impl> <payload> <bytes>", "result <impl> <payload>
 * <encode|decode> <median ops/s> <run1> ...", "rcpu ..." (the same runs in
 * ops per CPU-second of this thread) and "cpu c <share>" (the lowest share
 * of a timed run's wall time this thread was on a CPU). --dump writes
 * DIR/c-user.pb and DIR/c-page.pb (protoc-c's bytes); --verify checks that
 * the schema path writes the same bytes as protoc-c, that each path decodes
 * the other's bytes into the same thing, and compares DIR/java-*.pb and
 * DIR/go-*.pb when present (byte for byte, and decoded). --profile runs N
 * untimed operations of one kind (for valgrind --tool=callgrind). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/error.h"
#include "dubbo/serialization.h"
#include "dubbo/triple.h"
#include "dubbo/value.h"
#include "protocol/dubbo/codec.h"
#include "user.pb-c.h"

/* Fixed contents, the ones of bench/hessian2_bench.c. */
#define BIRTHDAY_MS INT64_C(-33609600000)  /* 1968-12-08T00:00:00Z */
#define CREATE_MS   INT64_C(1710494813589) /* 2024-03-15T09:26:53.589Z */
static const int32_t PERMISSIONS[] = {1, 2, 3, 4, 5, 6, 7, 8, 19, 88, 86, 89, 90, 91, 92};
#define NPERMISSIONS (sizeof(PERMISSIONS) / sizeof(PERMISSIONS[0]))
static const char NAME[] = "Doug Lea";
static const char EMAIL[] = "dong.lea@gmail.com";
static const char MOBILE[] = "18612345678";
static const char ADDRESS[] = "北京市 中关村 中关村大街1号 鼎好大厦 1605";
static const char ICON[] = "https://www.baidu.com/img/bd_logo1.png";
#define NUSERS 15

#define USER_TYPE "dubbo.bench.User"
#define PAGE_TYPE "dubbo.bench.Page"

static void die(const char *what, int rc)
{
    fprintf(stderr, "protobuf_bench: %s: %s (%s)\n", what, dubbo_strerror(rc), dubbo_last_error());
    exit(1);
}

static void *check_alloc(void *p, const char *what)
{
    if (!p) die(what, DUBBO_ENOMEM);
    return p;
}

/* ---- The payloads, as protoc-c structs ------------------------------------ */

static int32_t pbc_permissions[NPERMISSIONS];

/* Strings are heap copies that live as long as the process. */
static char *with_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    char *p = check_alloc(malloc(a + b + 1), "string");
    memcpy(p, s, a);
    memcpy(p + a, suffix, b + 1);
    return p;
}

static void pbc_user(Dubbo__Bench__User *u, int64_t id, const char *suffix, int64_t create_ms)
{
    dubbo__bench__user__init(u);
    u->id = id;
    u->name = with_suffix(NAME, suffix);
    u->sex = 1;
    u->birthday = BIRTHDAY_MS;
    u->email = with_suffix(EMAIL, suffix);
    u->mobile = with_suffix(MOBILE, suffix);
    u->address = with_suffix(ADDRESS, suffix);
    u->icon = with_suffix(ICON, suffix);
    u->n_permissions = NPERMISSIONS;
    u->permissions = pbc_permissions;
    u->status = 1;
    u->create_time = create_ms;
    u->update_time = create_ms;
}

static Dubbo__Bench__User pbc_single;
static Dubbo__Bench__User pbc_users[NUSERS];
static Dubbo__Bench__User *pbc_user_ptrs[NUSERS];
static Dubbo__Bench__Page pbc_page;

static void pbc_payloads(void)
{
    memcpy(pbc_permissions, PERMISSIONS, sizeof(PERMISSIONS));
    pbc_user(&pbc_single, 10001, "", CREATE_MS); /* getUser() */
    dubbo__bench__page__init(&pbc_page);         /* listUser(1): 15 distinct users */
    pbc_page.page_no = 1;
    pbc_page.total = 1000;
    for (int i = 0; i < NUSERS; i++) {
        char suffix[16];
        snprintf(suffix, sizeof(suffix), "%d", i);
        pbc_user(&pbc_users[i], i, suffix, CREATE_MS + 1000 * i);
        pbc_user_ptrs[i] = &pbc_users[i];
    }
    pbc_page.n_result = NUSERS;
    pbc_page.result = pbc_user_ptrs;
}

/* ---- The same payloads as maps for the schema path ------------------------ */

/* Keys are the JSON names dubbo_tri_pb_to_value gives, in field-number
 * order, and a field at its default is left out as proto3 does on the
 * wire: so the map is exactly what decoding the message gives back.
 * (dubbo_tri_pb_from_value writes a field that is in the map even at its
 * default: a map with "id": 0 would cost two more bytes than protoc-c.) */
static void put(dubbo_arena_t *a, dubbo_value_t *m, const char *k, dubbo_value_t *v)
{
    if (!v || dubbo_map_put(a, m, check_alloc(dubbo_v_cstr(a, k), "key"), v)) die(k, DUBBO_ENOMEM);
}

static dubbo_value_t *str_with_suffix(dubbo_arena_t *a, const char *s, const char *suffix)
{
    char tmp[256];
    int n = snprintf(tmp, sizeof(tmp), "%s%s", s, suffix);
    return dubbo_v_string(a, tmp, (size_t)n);
}

static dubbo_value_t *map_user(dubbo_arena_t *a, int64_t id, const char *suffix, int64_t create_ms)
{
    dubbo_value_t *u = check_alloc(dubbo_v_map(a, NULL, 12), "user");
    if (id) put(a, u, "id", dubbo_v_long(a, id));
    put(a, u, "name", str_with_suffix(a, NAME, suffix));
    put(a, u, "sex", dubbo_v_int(a, 1));
    put(a, u, "birthday", dubbo_v_long(a, BIRTHDAY_MS));
    put(a, u, "email", str_with_suffix(a, EMAIL, suffix));
    put(a, u, "mobile", str_with_suffix(a, MOBILE, suffix));
    put(a, u, "address", str_with_suffix(a, ADDRESS, suffix));
    put(a, u, "icon", str_with_suffix(a, ICON, suffix));
    dubbo_value_t *perms = check_alloc(dubbo_v_list(a, NULL, NPERMISSIONS), "list");
    for (size_t i = 0; i < NPERMISSIONS; i++)
        if (dubbo_list_push(a, perms, check_alloc(dubbo_v_int(a, PERMISSIONS[i]), "int")))
            die("permissions", DUBBO_ENOMEM);
    put(a, u, "permissions", perms);
    put(a, u, "status", dubbo_v_int(a, 1));
    put(a, u, "createTime", dubbo_v_long(a, create_ms));
    put(a, u, "updateTime", dubbo_v_long(a, create_ms));
    return u;
}

static dubbo_value_t *map_page(dubbo_arena_t *a)
{
    dubbo_value_t *p = check_alloc(dubbo_v_map(a, NULL, 3), "page");
    put(a, p, "pageNo", dubbo_v_int(a, 1));
    put(a, p, "total", dubbo_v_int(a, 1000));
    dubbo_value_t *list = check_alloc(dubbo_v_list(a, NULL, NUSERS), "list");
    for (int i = 0; i < NUSERS; i++) {
        char suffix[16];
        snprintf(suffix, sizeof(suffix), "%d", i);
        if (dubbo_list_push(a, list, map_user(a, i, suffix, CREATE_MS + 1000 * i)))
            die("result", DUBBO_ENOMEM);
    }
    put(a, p, "result", list);
    return p;
}

/* ---- The operations ------------------------------------------------------- */

enum { PBC, SCHEMA, BODY, NIMPL };
static const char *const IMPL_NAMES[NIMPL] = {"pbc", "schema", "body"};

typedef struct {
    const char *name; /* "user" | "page" */
    const ProtobufCMessage *msg;
    const ProtobufCMessageDescriptor *desc;
    const char *type;         /* full protobuf name for the schema path */
    const dubbo_value_t *map; /* the schema path's input */
    uint8_t *bytes[NIMPL];    /* each implementation's encoding, for decode */
    size_t len[NIMPL];
} payload_t;

static dubbo_tri_schema_t *schema;
static const dubbo_serialization_ops_t *pbser;
static dubbo_buf_t out_buf;      /* reused by every encode */
static dubbo_buf_t scratch;      /* body encode: the packed message */
static dubbo_arena_t *dec_arena; /* reset by every decode */
static dubbo_value_t *user_attachments;
static size_t sink;

static void *arena_alloc(void *a, size_t n)
{
    return dubbo_arena_alloc(a, n);
}
static void arena_free(void *a, void *p)
{
    (void)a;
    (void)p; /* the whole message goes with the arena's reset */
}
static ProtobufCAllocator dec_alloc;

static void pack(const ProtobufCMessage *m, dubbo_buf_t *b)
{
    dubbo_buf_clear(b);
    size_t n = protobuf_c_message_get_packed_size(m);
    int rc = dubbo_buf_reserve(b, n);
    if (rc) die("pack", rc);
    b->len = protobuf_c_message_pack(m, b->base);
}

static ProtobufCMessage *unpack(const payload_t *p, const uint8_t *in, size_t len)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(p->desc, &dec_alloc, len, in);
    if (!m) die("protobuf_c_message_unpack", DUBBO_EMALFORMED);
    return m;
}

static void encode_once(int impl, const payload_t *p)
{
    int rc = 0;
    switch (impl) {
    case PBC: pack(p->msg, &out_buf); break;
    case SCHEMA:
        dubbo_buf_clear(&out_buf);
        rc = dubbo_tri_pb_from_value(schema, p->type, p->map, &out_buf);
        break;
    case BODY: {
        pack(p->msg, &scratch);
        dubbo_value_t bin = {.type = DUBBO_T_BINARY};
        bin.u.s.ptr = (const char *)scratch.base;
        bin.u.s.len = scratch.len;
        dubbo_buf_clear(&out_buf);
        if (p->msg == &pbc_single.base) {
            dubbo_value_t *args[1] = {&bin};
            dubbo_request_t req = {
                .dubbo_version = DUBBO_PROTOCOL_VERSION,
                .path = "org.apache.dubbo.benchmark.service.UserService",
                .version = "1.0.0",
                .method = "createUser",
                .desc = "Lorg/dubboc/bench/pb/UserProto$User;",
                .nargs = 1,
                .args = args,
                .attachments = user_attachments,
            };
            rc = dubbo_request_encode(pbser, &out_buf, &req);
        } else {
            rc = dubbo_response_encode(pbser, &out_buf, &bin, false, true, NULL);
        }
        break;
    }
    }
    if (rc) die("encode", rc);
    sink += out_buf.len;
}

static void decode_once(int impl, const payload_t *p, const uint8_t *in, size_t len)
{
    dubbo_arena_reset(dec_arena);
    int rc = 0;
    switch (impl) {
    case PBC: sink += unpack(p, in, len)->descriptor->n_fields; break;
    case SCHEMA: {
        dubbo_value_t *v;
        rc = dubbo_tri_pb_to_value(schema, p->type, in, len, dec_arena, &v);
        if (!rc) sink += v->u.map.len;
        break;
    }
    case BODY: {
        const dubbo_value_t *bin;
        if (p->msg == &pbc_single.base) {
            dubbo_request_t req;
            rc = dubbo_request_decode(pbser, dec_arena, in, len, &req);
            if (!rc && req.nargs != 1) die("body: request arguments", DUBBO_EMALFORMED);
            bin = rc ? NULL : req.args[0];
        } else {
            dubbo_response_t res;
            rc = dubbo_response_decode(pbser, dec_arena, in, len, &res);
            bin = rc ? NULL : res.value;
        }
        if (rc) break;
        if (bin->type != DUBBO_T_BINARY) die("body: the message is not binary", DUBBO_ETYPE);
        sink += unpack(p, (const uint8_t *)bin->u.s.ptr, bin->u.s.len)->descriptor->n_fields;
        break;
    }
    }
    if (rc) die("decode", rc);
}

/* ---- Timing ----------------------------------------------------------------- */

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

static double min_share = 1.0;

static void run(int impl, const payload_t *p, int decode, long n)
{
    for (long i = 0; i < n; i++) {
        if (decode)
            decode_once(impl, p, p->bytes[impl], p->len[impl]);
        else
            encode_once(impl, p);
    }
}

/* Runs for about `seconds`, checking the clock every `batch` ops. Returns
 * ops per wall-clock second; *per_cpu gets ops per CPU-second of this thread. */
static double measure(int impl, const payload_t *p, int decode, double seconds, int batch,
                      int timed, double *per_cpu)
{
    double start = now_s(), cpu0 = cpu_s(), now;
    long n = 0;
    do {
        run(impl, p, decode, batch);
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

static void bench(const payload_t *p, double seconds, int runs, double warmup, int batch)
{
    static const char *const ops[2] = {"encode", "decode"};
    for (int impl = 0; impl < NIMPL; impl++) {
        for (int k = 0; k < 2; k++)
            measure(impl, p, k, warmup / 2, batch, 0, NULL);
        for (int k = 0; k < 2; k++) {
            double r[64], c[64];
            for (int i = 0; i < runs; i++)
                r[i] = measure(impl, p, k, seconds, batch, 1, &c[i]);
            for (int w = 0; w < 2; w++) {
                const double *x = w ? c : r;
                printf("%s %s %s %s %.0f", w ? "rcpu" : "result", IMPL_NAMES[impl], p->name, ops[k],
                       median(x, runs));
                for (int i = 0; i < runs; i++)
                    printf(" %.0f", x[i]);
                printf("\n");
            }
            fflush(stdout);
        }
    }
}

/* ---- Checks ------------------------------------------------------------------ */

static uint8_t *read_file(const char *path, size_t *len, int must)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (!must) return NULL;
        fprintf(stderr, "protobuf_bench: cannot open %s\n", path);
        exit(1);
    }
    size_t cap = 1 << 16, n = 0, got;
    uint8_t *p = check_alloc(malloc(cap), "file");
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
        fprintf(stderr, "protobuf_bench: cannot write %s\n", path);
        exit(1);
    }
}

/* Both decoders must give back the payload from `in`: protoc-c's unpack
 * packs again to protoc-c's bytes, the schema path's map equals the map. */
static int decodes_to_payload(const payload_t *p, const uint8_t *in, size_t len)
{
    dubbo_arena_reset(dec_arena);
    dubbo_buf_t again;
    dubbo_buf_init(&again, DUBBO_BUF_DEFAULT_LIMIT);
    pack(unpack(p, in, len), &again);
    int ok = again.len == p->len[PBC] && memcmp(again.base, p->bytes[PBC], again.len) == 0;
    dubbo_buf_destroy(&again);
    dubbo_value_t *v;
    int rc = dubbo_tri_pb_to_value(schema, p->type, in, len, dec_arena, &v);
    if (rc) die("dubbo_tri_pb_to_value", rc);
    return ok && dubbo_value_equal(v, p->map);
}

static void prepare(payload_t *p, const char *dump, const char *verify)
{
    char path[4096];
    for (int impl = 0; impl < NIMPL; impl++) {
        encode_once(impl, p);
        p->len[impl] = out_buf.len;
        p->bytes[impl] = check_alloc(malloc(out_buf.len), "bytes");
        memcpy(p->bytes[impl], out_buf.base, out_buf.len);
        printf("size %s %s %zu\n", IMPL_NAMES[impl], p->name, out_buf.len);
    }
    int same =
        p->len[SCHEMA] == p->len[PBC] && memcmp(p->bytes[SCHEMA], p->bytes[PBC], p->len[PBC]) == 0;
    printf("check c %s schema-bytes %s\n", p->name, same ? "identical" : "DIFFERENT");
    if (!decodes_to_payload(p, p->bytes[PBC], p->len[PBC]) ||
        !decodes_to_payload(p, p->bytes[SCHEMA], p->len[SCHEMA])) {
        fprintf(stderr, "protobuf_bench: %s: a decoder does not give the payload back\n", p->name);
        exit(1);
    }
    if (dump) {
        snprintf(path, sizeof(path), "%s/c-%s.pb", dump, p->name);
        write_file(path, p->bytes[PBC], p->len[PBC]);
        snprintf(path, sizeof(path), "%s/c-%s.body", dump, p->name);
        write_file(path, p->bytes[BODY], p->len[BODY]);
    }
    static const char *const peers[] = {"java", "go"};
    for (size_t i = 0; verify && i < sizeof(peers) / sizeof(peers[0]); i++) {
        size_t n;
        snprintf(path, sizeof(path), "%s/%s-%s.pb", verify, peers[i], p->name);
        uint8_t *b = read_file(path, &n, 0);
        if (!b) {
            printf("check c %s %s-bytes missing\n", p->name, peers[i]);
            continue;
        }
        same = n == p->len[PBC] && memcmp(b, p->bytes[PBC], n) == 0;
        printf("check c %s %s-bytes %s\n", p->name, peers[i], same ? "identical" : "DIFFERENT");
        if (!decodes_to_payload(p, b, n)) {
            fprintf(stderr, "protobuf_bench: %s: decoding %s's bytes does not give the payload\n",
                    p->name, peers[i]);
            exit(1);
        }
        free(b);
    }
}

int main(int argc, char **argv)
{
    double seconds = 1.0, warmup = 0.4;
    int runs = 5;
    const char *dump = NULL, *verify = NULL, *profile = NULL;
    const char *schema_path = PROTOBUF_BENCH_SCHEMA;
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
        else if (!strcmp(a, "--schema"))
            schema_path = argv[++i];
        else if (!strcmp(a, "--profile") && i + 2 < argc) {
            profile = argv[++i];
            profile_n = atol(argv[++i]);
        } else
            goto usage;
    }
    if (runs < 1 || runs > 64 || seconds <= 0) goto usage;

    size_t fds_len;
    uint8_t *fds = read_file(schema_path, &fds_len, 1);
    int rc = dubbo_tri_schema_load(&schema, fds, fds_len);
    if (rc) die(schema_path, rc);
    free(fds);
    if (!(pbser = dubbo_serialization_by_name("protobuf"))) die("protobuf serialization", -1);

    dubbo_arena_t *values = check_alloc(dubbo_arena_new(0), "arena");
    dec_arena = check_alloc(dubbo_arena_new((size_t)16 << 20), "arena");
    dec_alloc = (ProtobufCAllocator){arena_alloc, arena_free, dec_arena};
    dubbo_buf_init(&out_buf, DUBBO_BUF_DEFAULT_LIMIT);
    dubbo_buf_init(&scratch, DUBBO_BUF_DEFAULT_LIMIT);
    user_attachments = check_alloc(dubbo_v_map(values, NULL, 2), "attachments");
    put(values, user_attachments, "path",
        dubbo_v_cstr(values, "org.apache.dubbo.benchmark.service.UserService"));
    put(values, user_attachments, "interface",
        dubbo_v_cstr(values, "org.apache.dubbo.benchmark.service.UserService"));

    pbc_payloads();
    payload_t payloads[2] = {
        {"user",
         &pbc_single.base,
         &dubbo__bench__user__descriptor,
         USER_TYPE,
         map_user(values, 10001, "", CREATE_MS),
         {0},
         {0}},
        {"page",
         &pbc_page.base,
         &dubbo__bench__page__descriptor,
         PAGE_TYPE,
         map_page(values),
         {0},
         {0}},
    };
    if (profile) {
        /* IMPL-PAYLOAD-OP */
        char impl_name[16] = "", payload_name[16] = "", op[16] = "";
        if (sscanf(profile, "%15[a-z]-%15[a-z]-%15[a-z]", impl_name, payload_name, op) != 3)
            goto usage;
        int impl = -1;
        for (int k = 0; k < NIMPL; k++)
            if (!strcmp(impl_name, IMPL_NAMES[k])) impl = k;
        payload_t *p = !strcmp(payload_name, "user")   ? &payloads[0]
                       : !strcmp(payload_name, "page") ? &payloads[1]
                                                       : NULL;
        if (impl < 0 || !p || (strcmp(op, "encode") && strcmp(op, "decode"))) goto usage;
        encode_once(impl, p);
        p->len[impl] = out_buf.len;
        p->bytes[impl] = check_alloc(malloc(out_buf.len), "bytes");
        memcpy(p->bytes[impl], out_buf.base, out_buf.len);
        run(impl, p, !strcmp(op, "decode"), profile_n);
    } else {
        prepare(&payloads[0], dump, verify);
        prepare(&payloads[1], dump, verify);
        bench(&payloads[0], seconds, runs, warmup, 256);
        bench(&payloads[1], seconds, runs, warmup, 32);
        printf("cpu c %.2f\n", min_share);
    }
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < NIMPL; k++)
            free(payloads[i].bytes[k]);
    dubbo_buf_destroy(&scratch);
    dubbo_buf_destroy(&out_buf);
    dubbo_arena_free(dec_arena);
    dubbo_arena_free(values);
    dubbo_tri_schema_free(schema);
    return sink == 0;

usage:
    fprintf(stderr, "usage: protobuf_bench [--schema FILE] [--seconds S] [--runs N] [--warmup S] "
                    "[--dump DIR] [--verify DIR]\n"
                    "       protobuf_bench [--schema FILE] --profile "
                    "pbc|schema|body-user|page-encode|decode N\n");
    return 2;
}
