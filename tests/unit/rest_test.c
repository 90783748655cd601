/* The REST protocol (src/protocol/rest/): HTTP/1.1 scanning and its
 * malformed-input table, the media conversions byte for byte, the
 * bindings' validation, and both sides over loopback (a bound service
 * called through rest:// with every argument source). */
#include "test.h"
#include "test_server.h"

#include <http_parser.h>

#include "dubbo/rest.h"
#include "protocol/rest/http1.h"
#include "protocol/rest/rest.h"

/* ---- HTTP/1.1 scanning ---------------------------------------------------- */

typedef struct {
    const char *name;
    const char *in;
    int state;       /* H1_* */
    int status;      /* H1_ERROR: the answer's status */
    const char *why; /* H1_ERROR: in the message */
} scan_case_t;

static const scan_case_t SCAN[] = {
    {"get", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", H1_DONE, 0, NULL},
    {"partial head", "GET / HTTP/1.1\r\nHost: x\r\n", H1_MORE, 0, NULL},
    {"head only", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab", H1_HEAD, 0, NULL},
    {"chunked",
     "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
     H1_DONE, 0, NULL},
    {"CL with TE",
     "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     H1_ERROR, 400, "Content-Length together with Transfer-Encoding"},
    {"TE with CL",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
     H1_ERROR, 400, "Content-Length together with Transfer-Encoding"},
    {"two CL", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", H1_ERROR, 400,
     "given twice"},
    {"TE not chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nab", H1_ERROR, 400,
     "transfer"},
    {"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", H1_ERROR, 400,
     "chunk size"},
    {"chunk size overflow",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", H1_ERROR, 400,
     "chunk size"},
    {"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", H1_ERROR, 400,
     "obs-fold"},
    {"bare LF", "GET / HTTP/1.1\nHost: x\n\n", H1_ERROR, 400, "bare LF"},
    {"bare CR", "GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", H1_ERROR, 400, "CR"},
    {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", H1_ERROR, 400, "whitespace"},
    {"bad method", "G@T / HTTP/1.1\r\n\r\n", H1_ERROR, 400, "malformed"},
    {"HTTP/2 line", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", H1_ERROR, 505, "HTTP/2"},
    /* found by rest_conn_fuzz in CI: the parser read this start line and the
     * header section differently from the CRLF CRLF the framing uses */
    {"start line without a version",
     "POST /b H\r\n\r\n1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab", H1_ERROR, 400,
     "malformed start line"},
    {"body over limit", "POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", H1_ERROR, 413,
     "payload limit"},
    {"chunked over limit", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n", H1_ERROR,
     413, "payload limit"},
    {"bad content length", "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", H1_ERROR, 400,
     "content-length"},
};

static void test_scan_table(void)
{
    for (size_t i = 0; i < sizeof(SCAN) / sizeof(SCAN[0]); i++) {
        const scan_case_t *c = &SCAN[i];
        test__current = c->name;
        h1_msg_t m = {0};
        int st = h1_scan((const uint8_t *)c->in, strlen(c->in), false, 1000, &m);
        CHECK_EQ_INT(st, c->state);
        if (c->state == H1_ERROR) {
            CHECK_EQ_INT(m.error_status, c->status);
            /* case-insensitive enough: the parser's own texts are lower case */
            char low[256], want[64];
            size_t k = 0;
            for (; m.error[k] && k < sizeof(low) - 1; k++)
                low[k] =
                    (char)(m.error[k] >= 'A' && m.error[k] <= 'Z' ? m.error[k] + 32 : m.error[k]);
            low[k] = 0;
            for (k = 0; c->why[k] && k < sizeof(want) - 1; k++)
                want[k] = (char)(c->why[k] >= 'A' && c->why[k] <= 'Z' ? c->why[k] + 32 : c->why[k]);
            want[k] = 0;
            CHECK_CONTAINS(low, want);
        }
    }
    test__current = "scan_table";
}

static void test_scan_limits(void)
{
    char *big = malloc(40000);
    /* a request line over 8 KiB: 414 */
    int n = snprintf(big, 40000, "GET /%0*d HTTP/1.1\r\nHost: x\r\n\r\n", 9000, 0);
    h1_msg_t m = {0};
    CHECK_EQ_INT(h1_scan((uint8_t *)big, (size_t)n, false, 1000, &m), H1_ERROR);
    CHECK_EQ_INT(m.error_status, 414);
    /* ... also before its line ends */
    memset(big, 'a', 9000);
    memcpy(big, "GET /", 5);
    CHECK_EQ_INT(h1_scan((uint8_t *)big, 9000, false, 1000, &m), H1_ERROR);
    CHECK_EQ_INT(m.error_status, 414);
    /* a header section over 16 KiB: 431 */
    n = snprintf(big, 40000, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %0*d\r\n\r\n", 17000, 0);
    CHECK_EQ_INT(h1_scan((uint8_t *)big, (size_t)n, false, 1000, &m), H1_ERROR);
    CHECK_EQ_INT(m.error_status, 431);
    /* 101 header fields: 431 */
    n = snprintf(big, 40000, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 101; i++)
        n += snprintf(big + n, (size_t)(40000 - n), "X-%d: v\r\n", i);
    n += snprintf(big + n, (size_t)(40000 - n), "\r\n");
    CHECK_EQ_INT(h1_scan((uint8_t *)big, (size_t)n, false, 1000, &m), H1_ERROR);
    CHECK_EQ_INT(m.error_status, 431);
    CHECK_CONTAINS(m.error, "more than 100");
    free(big);
}

static void test_scan_fields(void)
{
    const char *in =
        "POST /a/b?x=1 HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
        "Transfer-Encoding: chunked\r\nX-K:  v1 \r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        "GET /next HTTP/1.1\r\n\r\n";
    h1_header_t hs[H1_MAX_HEADERS];
    dubbo_buf_t body;
    dubbo_buf_init(&body, 0);
    h1_msg_t m = {.headers = hs, .body = &body};
    CHECK_EQ_INT(h1_scan((const uint8_t *)in, strlen(in), false, 1000, &m), H1_DONE);
    CHECK_EQ_INT(m.length, strstr(in, "GET /next") - in);
    CHECK_EQ_INT(m.method, HTTP_POST);
    CHECK(m.expect_continue);
    CHECK(m.chunked);
    CHECK(m.keep_alive);
    CHECK_EQ_INT(m.url_len, 8);
    CHECK_EQ_INT(body.len, 5);
    CHECK(memcmp(body.base, "abcde", 5) == 0);
    size_t vl;
    const char *v = h1_header(&m, "x-k", &vl);
    CHECK(v && vl >= 2 && memcmp(v, "v1", 2) == 0);
    dubbo_buf_destroy(&body);
    /* the cut: pipelined requests one at a time, a 100-continue head alone */
    size_t total;
    CHECK_EQ_INT(dubbo__rest_cut((const uint8_t *)in, strlen(in), 1000, &total),
                 strstr(in, "GET /next") - in);
    const char *head =
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    CHECK_EQ_INT(dubbo__rest_cut((const uint8_t *)head, strlen(head), 1000, &total),
                 (int64_t)strlen(head));
    const char *wait = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab";
    CHECK_EQ_INT(dubbo__rest_cut((const uint8_t *)wait, strlen(wait), 1000, &total), 0);
    CHECK_EQ_INT(total, strlen(wait) + 3);
    /* detect */
    CHECK_EQ_INT(dubbo__rest_detect((const uint8_t *)"GET ", 4), DUBBO_DETECT_YES);
    CHECK_EQ_INT(dubbo__rest_detect((const uint8_t *)"P", 1), DUBBO_DETECT_MORE);
    CHECK_EQ_INT(dubbo__rest_detect((const uint8_t *)"PRI * HTTP/2.0", 14), DUBBO_DETECT_NO);
    CHECK_EQ_INT(dubbo__rest_detect((const uint8_t *)"\xda\xbb", 2), DUBBO_DETECT_NO);
}

/* ---- media, byte for byte ---------------------------------------------------- */

static void test_media_write(void)
{
    dubbo_arena_t *a = dubbo_arena_new(1 << 20);
    const char *fields[] = {"name", "age", "tags", "id", "ratio", "raw"};
    dubbo_class_t *cls = dubbo_class_new(a, "com.example.User", 6, fields);
    dubbo_value_t *u = dubbo_v_object(a, cls);
    dubbo_object_set(u, "name", dubbo_v_cstr(a, "Ann \"A\"\n"));
    dubbo_object_set(u, "age", dubbo_v_int(a, 42));
    dubbo_value_t *tags = dubbo_v_list(a, NULL, 2);
    dubbo_list_push(a, tags, dubbo_v_cstr(a, "x"));
    dubbo_list_push(a, tags, dubbo_v_null());
    dubbo_object_set(u, "tags", tags);
    dubbo_object_set(u, "id", dubbo_v_long(a, 9007199254740993LL));
    dubbo_object_set(u, "ratio", dubbo_v_double(a, 0.1));
    dubbo_object_set(u, "raw", dubbo_v_binary(a, "\x00\x01\x02", 3));
    dubbo_buf_t o;
    dubbo_buf_init(&o, 0);
    CHECK_EQ_INT(dubbo__rest_put_json(&o, u), 0);
    dubbo_buf_append(&o, "", 1);
    CHECK_EQ_STR((char *)o.base, "{\"name\":\"Ann \\\"A\\\"\\n\",\"age\":42,\"tags\":[\"x\",null],"
                                 "\"id\":9007199254740993,\"ratio\":0.1,\"raw\":\"AAEC\"}");
    o.len = 0;
    CHECK_EQ_INT(dubbo__rest_put_xml(&o, u), 0);
    dubbo_buf_append(&o, "", 1);
    CHECK_EQ_STR((char *)o.base,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?><User><name>Ann &quot;A&quot;\n</name>"
                 "<age>42</age><tags><item>x</item><item/></tags><id>9007199254740993</id>"
                 "<ratio>0.1</ratio><raw>AAEC</raw></User>");
    o.len = 0;
    CHECK_EQ_INT(dubbo__rest_to_text(&o, dubbo_v_double(a, 2.0)), 0);
    dubbo_buf_append(&o, "", 1);
    CHECK_EQ_STR((char *)o.base, "2.0");
    o.len = 0;
    /* an exception: no stack trace in a REST body */
    CHECK_EQ_INT(dubbo__rest_put_json(&o, dubbo_exception_new(a, "java.lang.X", "m")), 0);
    dubbo_buf_append(&o, "", 1);
    CHECK_EQ_STR((char *)o.base, "{\"detailMessage\":\"m\",\"cause\":null}");
    dubbo_buf_destroy(&o);
    dubbo_arena_free(a);
}

typedef struct {
    const char *name;
    int kind;
    const char *in;
    const char *json; /* typed JSON of the value, or NULL: an error containing `why` */
    const char *why;
} body_case_t;

static const body_case_t BODIES[] = {
    {"json object", REST_MEDIA_JSON, "{\"a\":1,\"b\":[true]}", "{\"a\":1,\"b\":[true]}", NULL},
    {"json not utf8", REST_MEDIA_JSON, "\"\xff\"", NULL, "not UTF-8"},
    {"json broken", REST_MEDIA_JSON, "{\"a\":", NULL, "does not read"},
    {"text", REST_MEDIA_TEXT, "plain words", "\"plain words\"", NULL},
    {"xml scalar", REST_MEDIA_XML, "<?xml version=\"1.0\"?><v>a &amp; &#x41;</v>", "\"a & A\"",
     NULL},
    {"xml flat", REST_MEDIA_XML, "<User a=\"1\"><name>Ann</name><age>42</age><x/></User>",
     "{\"name\":\"Ann\",\"age\":\"42\",\"x\":null}", NULL},
    {"xml doctype", REST_MEDIA_XML, "<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>", NULL, "DOCTYPE"},
    {"xml nested", REST_MEDIA_XML, "<a><b><c>1</c></b></a>", NULL, "flat objects only"},
    {"xml mismatched", REST_MEDIA_XML, "<a>1</b>", NULL, "</a> expected"},
    {"xml trailing", REST_MEDIA_XML, "<a>1</a><b/>", NULL, "after the root"},
    {"xml entity", REST_MEDIA_XML, "<a>&nope;</a>", NULL, "unknown entity"},
    {"form", REST_MEDIA_FORM, "a=1&b=x+y%21&a=2&c", "{\"a\":\"1\",\"b\":\"x y!\",\"c\":\"\"}",
     NULL},
    {"form bad escape", REST_MEDIA_FORM, "a=%4", NULL, "percent-encoding"},
    {"form not utf8", REST_MEDIA_FORM, "a=%ff", NULL, "UTF-8"},
};

static void test_media_read(void)
{
    for (size_t i = 0; i < sizeof(BODIES) / sizeof(BODIES[0]); i++) {
        const body_case_t *c = &BODIES[i];
        test__current = c->name;
        dubbo_arena_t *a = dubbo_arena_new(1 << 20);
        dubbo_value_t *v = NULL;
        int rc = dubbo__rest_read_body(a, c->kind, c->in, strlen(c->in), &v);
        if (c->json) {
            CHECK_EQ_INT(rc, 0);
            dubbo_buf_t o;
            dubbo_buf_init(&o, 0);
            if (!rc) dubbo_value_to_json(v, &o);
            dubbo_buf_append(&o, "", 1);
            CHECK_EQ_STR((char *)o.base, c->json);
            dubbo_buf_destroy(&o);
        } else {
            CHECK(rc < 0);
            CHECK_CONTAINS(dubbo_last_error(), c->why);
        }
        dubbo_arena_free(a);
    }
    test__current = "media_read";
}

typedef struct {
    const char *type, *text, *json, *why;
} conv_case_t;

static const conv_case_t CONV[] = {
    {"int", "42", "42", NULL},
    {"int", "-2147483648", "-2147483648", NULL},
    {"int", "2147483648", NULL, "is not an int"},
    {"int", "4x", NULL, "is not an int"},
    {"int", "", NULL, "is not an int"},
    {"int", "+1", NULL, "is not an int"},
    {"long", "9007199254740993", "{\"$class\":\"long\",\"$\":9007199254740993}", NULL},
    {"double", "2.5", "{\"$class\":\"double\",\"$\":2.5}", NULL},
    {"double", "x", NULL, "is not a double"},
    {"boolean", "TRUE", "true", NULL},
    {"boolean", "yes", NULL, "is not a boolean"},
    {NULL, "as is", "\"as is\"", NULL},
    {"object", "{\"a\":[1]}", "{\"a\":[1]}", NULL},
    {"object", "{", NULL, "is not JSON"},
};

static void test_convert(void)
{
    for (size_t i = 0; i < sizeof(CONV) / sizeof(CONV[0]); i++) {
        const conv_case_t *c = &CONV[i];
        test__current = c->text;
        dubbo_arena_t *a = dubbo_arena_new(1 << 16);
        dubbo_value_t *v = dubbo__rest_convert(a, c->type, c->text, strlen(c->text));
        if (c->json) {
            CHECK(v != NULL);
            dubbo_buf_t o;
            dubbo_buf_init(&o, 0);
            if (v) dubbo_value_to_json(v, &o);
            dubbo_buf_append(&o, "", 1);
            CHECK_EQ_STR((char *)o.base, c->json);
            dubbo_buf_destroy(&o);
        } else {
            CHECK(v == NULL);
            CHECK_CONTAINS(dubbo_last_error(), c->why);
        }
        dubbo_arena_free(a);
    }
    test__current = "convert";
    size_t n;
    dubbo_arena_t *a = dubbo_arena_new(1 << 16);
    CHECK_EQ_STR(dubbo__rest_unescape(a, "a%2Fb+c", 7, false, &n), "a/b+c");
    CHECK_EQ_STR(dubbo__rest_unescape(a, "a%2Fb+c", 7, true, &n), "a/b c");
    CHECK(dubbo__rest_unescape(a, "%G0", 3, false, &n) == NULL);
    CHECK_CONTAINS(dubbo_last_error(), "bad percent-encoding");
    CHECK(dubbo__rest_unescape(a, "%C0%80", 6, false, &n) == NULL); /* overlong NUL */
    dubbo_buf_t o;
    dubbo_buf_init(&o, 0);
    dubbo__rest_escape(&o, "a b/ü", 6, false);
    dubbo_buf_append(&o, "", 1);
    CHECK_EQ_STR((char *)o.base, "a%20b%2F%C3%BC");
    dubbo_buf_destroy(&o);
    dubbo_arena_free(a);
}

/* ---- bindings ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    dubbo_rest_mapping_t map;
    const char *why;
} bind_case_t;

static const dubbo_rest_param_t P_ID[] = {{DUBBO_REST_PATH, "id", "int", NULL}};
static const dubbo_rest_param_t P_BAD_TYPE[] = {{DUBBO_REST_QUERY, "q", "float32", NULL}};
static const dubbo_rest_param_t P_NONAME[] = {{DUBBO_REST_QUERY, NULL, NULL, NULL}};
static const dubbo_rest_param_t P_TWO_BODIES[] = {{DUBBO_REST_BODY, NULL, NULL, NULL},
                                                  {DUBBO_REST_BODY, NULL, NULL, NULL}};
static const dubbo_rest_param_t P_BODY_FORM[] = {{DUBBO_REST_BODY, NULL, NULL, NULL},
                                                 {DUBBO_REST_FORM, "f", NULL, NULL}};

static const bind_case_t BINDS[] = {
    {"no method", {NULL, "GET", "/a", NULL, 0, NULL, NULL, NULL}, "without a method"},
    {"bad verb", {"m", "GOT", "/a", NULL, 0, NULL, NULL, NULL}, "verb \"GOT\""},
    {"no slash", {"m", "GET", "a", NULL, 0, NULL, NULL, NULL}, "does not start with /"},
    {"var without param", {"m", "GET", "/a/{id}", NULL, 0, NULL, NULL, NULL}, "{id}"},
    {"param not in path", {"m", "GET", "/a", P_ID, 1, NULL, NULL, NULL}, "is not in \"/a\""},
    {"bad type", {"m", "GET", "/a", P_BAD_TYPE, 1, NULL, NULL, NULL}, "type \"float32\""},
    {"no name", {"m", "GET", "/a", P_NONAME, 1, NULL, NULL, NULL}, "has no name"},
    {"two bodies", {"m", "POST", "/a", P_TWO_BODIES, 2, NULL, NULL, NULL}, "two parameters"},
    {"body and form", {"m", "POST", "/a", P_BODY_FORM, 2, NULL, NULL, NULL}, "form parameters"},
    {"bad consumes", {"m", "POST", "/a", NULL, 0, "image/png", NULL, NULL}, "image/png"},
    {"bad produces",
     {"m", "GET", "/a", NULL, 0, NULL, "application/proto", NULL},
     "application/proto"},
};

static void test_bind_errors(void)
{
    for (size_t i = 0; i < sizeof(BINDS) / sizeof(BINDS[0]); i++) {
        test__current = BINDS[i].name;
        dubbo_rest_service_t s = {
            .interface = "com.example.Bad", .mappings = &BINDS[i].map, .nmappings = 1};
        CHECK_EQ_INT(dubbo_rest_register(&s), DUBBO_EINVAL);
        CHECK_CONTAINS(dubbo_last_error(), BINDS[i].why);
    }
    test__current = "bind_errors";
    CHECK_EQ_INT(dubbo_rest_register(NULL), DUBBO_EINVAL);
    dubbo_rest_options_t o = {.version = 99};
    CHECK_EQ_INT(dubbo_rest_configure(&o), DUBBO_EINVAL);
}

/* ---- both sides over loopback --------------------------------------------------- */

#define ITF "com.example.RestDemo"

/* find(int id, String q, String h, boolean flag) -> "id=..,q=..,h=..,flag=.." */
static void h_find(dubbo_call_t *call, void *user)
{
    (void)user;
    char b[300];
    const dubbo_value_t *id = dubbo_call_arg(call, 0), *q = dubbo_call_arg(call, 1),
                        *h = dubbo_call_arg(call, 2), *f = dubbo_call_arg(call, 3);
    snprintf(b, sizeof(b), "id=%d,q=%s,h=%s,flag=%s", id && id->type == DUBBO_T_INT ? id->u.i : -1,
             q && q->type == DUBBO_T_STRING ? q->u.s.ptr : "?",
             h && h->type == DUBBO_T_STRING ? h->u.s.ptr : "?",
             f && f->type == DUBBO_T_BOOL ? (f->u.b ? "true" : "false") : "?");
    const char *att = dubbo_call_attachment(call, "x-trace");
    if (att) dubbo_call_set_attachment(call, "x-trace-back", att);
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), b));
}

/* add(long a, double b) (a form) -> a + b */
static void h_add(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *a = dubbo_call_arg(call, 0), *b = dubbo_call_arg(call, 1);
    double s = (a && a->type == DUBBO_T_LONG ? (double)a->u.l : -1) +
               (b && b->type == DUBBO_T_DOUBLE ? b->u.d : -1);
    dubbo_call_return(call, dubbo_v_double(dubbo_call_arena(call), s));
}

static void h_echo(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_call_arg(call, 0));
}

static void h_boom(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_throw(call, "java.lang.IllegalArgumentException", "no good");
}

static const dubbo_rest_param_t FIND_P[] = {{DUBBO_REST_PATH, "id", "int", NULL},
                                            {DUBBO_REST_QUERY, "q", NULL, NULL},
                                            {DUBBO_REST_HEADER, "X-Who", NULL, "nobody"},
                                            {DUBBO_REST_QUERY, "flag", "boolean", "false"}};
static const dubbo_rest_param_t ADD_P[] = {{DUBBO_REST_FORM, "a", "long", NULL},
                                           {DUBBO_REST_FORM, "b", "double", NULL}};
static const dubbo_rest_param_t BODY_P[] = {{DUBBO_REST_BODY, NULL, "object", NULL}};
static const dubbo_rest_param_t TEXT_P[] = {{DUBBO_REST_BODY, NULL, "string", NULL}};

static const dubbo_rest_mapping_t MAPS[] = {
    {"find", "GET", "/items/{id}", FIND_P, 4, NULL, NULL, NULL},
    {"add", "POST", "/calc/add", ADD_P, 2, NULL, NULL, NULL},
    {"echo", "PUT", "/echo", BODY_P, 1, "application/json,application/xml", NULL, NULL},
    {"echoText", "POST", "/echo/text", TEXT_P, 1, "text/plain", "text/plain", NULL},
    {"boom", "DELETE", "/boom", NULL, 0, NULL, NULL, NULL},
};

static void test_roundtrip(void)
{
    dubbo_rest_service_t rs = {
        .interface = ITF, .mappings = MAPS, .nmappings = sizeof(MAPS) / sizeof(MAPS[0])};
    CHECK_EQ_INT(dubbo_rest_register(&rs), 0);
    const dubbo_method_t ms[] = {{"find", h_find},     {"add", h_add},   {"echo", h_echo},
                                 {"echoText", h_echo}, {"boom", h_boom}, {"plain", h_echo}};
    dubbo_service_t svc = {.interface = ITF, .methods = ms, .nmethods = 6};
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.threads = 2;
    o.protocols = "rest";
    dubbo_server_t *s = test_serve(&o, 0, &svc);
    if (!s) return;
    char url[256];
    snprintf(url, sizeof(url), "rest://127.0.0.1:%d/" ITF "?timeout=3000", dubbo_server_port(s));
    dubbo_client_t *c = dubbo_client_new(url);
    CHECK(c != NULL);
    if (!c) {
        dubbo_server_free(s);
        return;
    }
    dubbo_arena_t *a = dubbo_arena_new(1 << 20);
    dubbo_result_t r;

    /* path (typed), query, header, default */
    dubbo_value_t *fa[] = {dubbo_v_int(a, 7), dubbo_v_cstr(a, "a b&c"), dubbo_v_cstr(a, "ann"),
                           dubbo_v_null()};
    const char *att[] = {"x-trace", "t-1", NULL};
    dubbo_invocation_t inv = {.method = "find", .args = fa, .nargs = 4, .attachments = att};
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK(r.value && r.value->type == DUBBO_T_STRING);
    if (r.value && r.value->type == DUBBO_T_STRING)
        CHECK_EQ_STR(r.value->u.s.ptr, "id=7,q=a b&c,h=ann,flag=false");
    const dubbo_value_t *back = r.attachments ? dubbo_map_get(r.attachments, "x-trace-back") : NULL;
    CHECK(back && back->type == DUBBO_T_STRING && strcmp(back->u.s.ptr, "t-1") == 0);
    dubbo_result_destroy(&r);

    /* a form of typed fields */
    dubbo_value_t *aa[] = {dubbo_v_long(a, 40), dubbo_v_double(a, 2.5)};
    inv = (dubbo_invocation_t){.method = "add", .args = aa, .nargs = 2};
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_DOUBLE && r.value->u.d == 42.5);
    dubbo_result_destroy(&r);

    /* a JSON body both ways */
    dubbo_value_t *m = dubbo_v_map(a, NULL, 2);
    dubbo_map_put(a, m, dubbo_v_cstr(a, "k"), dubbo_v_cstr(a, "v"));
    dubbo_value_t *ea[] = {m};
    inv = (dubbo_invocation_t){.method = "echo", .args = ea, .nargs = 1};
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK(r.value && dubbo_value_equal(r.value, m));
    dubbo_result_destroy(&r);

    /* text in, text out */
    dubbo_value_t *ta[] = {dubbo_v_cstr(a, "line one\nline two")};
    inv = (dubbo_invocation_t){.method = "echoText", .args = ta, .nargs = 1};
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_STRING &&
          strcmp(r.value->u.s.ptr, "line one\nline two") == 0);
    dubbo_result_destroy(&r);

    /* an exception comes back as one */
    inv = (dubbo_invocation_t){.method = "boom"};
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK(r.exception != NULL);
    CHECK_CONTAINS(r.error, "java.lang.IllegalArgumentException: no good");
    CHECK_EQ_STR(dubbo_exception_message(r.exception), "no good");
    dubbo_result_destroy(&r);

    /* no binding: Java's default POST /{interface}/{method}, a JSON array */
    dubbo_value_t *pa[] = {dubbo_v_cstr(a, "plain")};
    inv = (dubbo_invocation_t){.method = "plain", .args = pa, .nargs = 1};
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_STRING && strcmp(r.value->u.s.ptr, "plain") == 0);
    dubbo_result_destroy(&r);

    /* a method the provider lacks: the answer's status stands for it */
    inv = (dubbo_invocation_t){.method = "nope"};
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK(r.status != DUBBO_STATUS_OK);
    CHECK(r.error != NULL);
    dubbo_result_destroy(&r);

    /* a wrong argument count is the consumer's error, before sending */
    inv = (dubbo_invocation_t){.method = "find", .args = fa, .nargs = 2};
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), DUBBO_EINVAL);
    CHECK_CONTAINS(r.error, "takes 4 argument(s)");
    dubbo_result_destroy(&r);

    /* many calls at once: pipelined on one connection, answered in order */
    for (int i = 0; i < 200; i++) {
        dubbo_value_t *fa2[] = {dubbo_v_int(a, i), dubbo_v_cstr(a, "p"), dubbo_v_cstr(a, "h"),
                                dubbo_v_bool(a, true)};
        inv = (dubbo_invocation_t){.method = "find", .args = fa2, .nargs = 4};
        CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
        char want[64];
        snprintf(want, sizeof(want), "id=%d,q=p,h=h,flag=true", i);
        CHECK(r.value && r.value->type == DUBBO_T_STRING && strcmp(r.value->u.s.ptr, want) == 0);
        dubbo_result_destroy(&r);
    }
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

TEST_MAIN({"scan_table", test_scan_table}, {"scan_limits", test_scan_limits},
          {"scan_fields", test_scan_fields}, {"media_write", test_media_write},
          {"media_read", test_media_read}, {"convert", test_convert},
          {"bind_errors", test_bind_errors}, {"roundtrip", test_roundtrip})
