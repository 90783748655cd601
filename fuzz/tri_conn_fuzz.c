/* libFuzzer target for a Triple provider connection (src/protocol/tri/
 * server.c): the HTTP/2 client preface, then the input as the bytes a
 * client sends, cut into units and fed through the protocol table's
 * provider hooks as the server's transport does (conn_open, cut, on_unit,
 * tick, conn_close). A request on_unit hands over is answered at once
 * with the refusal blob (on_answer), so answers and stream ends are
 * exercised too; streaming methods are registered for /s.S/Server,
 * /s.S/Client and /s.S/Bidi. The connection is a stand-in: the spine's
 * dubbo_sconn_* are replaced at link time (-Wl,--wrap, fuzz/CMakeLists.txt)
 * by functions that count what is sent and note the close. The process
 * aborts on a broken contract: a cut longer than its input, a unit handed
 * over with a payload outside its stream's memory, a hook after the
 * close. Seeds: fuzz/corpus/tri/ (client frames written by hand: a unary
 * EmptyCall, each streaming kind, resets, PINGs, CONTINUATION, window
 * updates, as fuzz/corpus/tri/README says). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/buf.h"
#include "dubbo/error.h"
#include "dubbo/protocol.h"
#include "dubbo/rpc.h"
#include "core/log.h"
#include "protocol/tri/tri.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LIMIT ((size_t)64 << 10)
static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* ---- the stand-in connection ---- */

static char conn_token; /* its address is the dubbo_sconn_t */
static void *state;
static bool closed;
static size_t sent;

int __wrap_dubbo_sconn_send(dubbo_sconn_t *c, const void *bytes, size_t n);
const char *__wrap_dubbo_sconn_remote(const dubbo_sconn_t *c);
const char *__wrap_dubbo_sconn_local(const dubbo_sconn_t *c);
void *__wrap_dubbo_sconn_state(const dubbo_sconn_t *c);
void __wrap_dubbo_sconn_close(dubbo_sconn_t *c, const char *why);
size_t __wrap_dubbo_sconn_limit(const dubbo_sconn_t *c);
int __wrap_dubbo_sconn_heartbeat(const dubbo_sconn_t *c);

static void check_conn(const dubbo_sconn_t *c)
{
    if ((const void *)c != (const void *)&conn_token) abort();
}

int __wrap_dubbo_sconn_send(dubbo_sconn_t *c, const void *bytes, size_t n)
{
    check_conn(c);
    if (n && !bytes) abort();
    if (!closed) sent += n;
    return 0;
}

const char *__wrap_dubbo_sconn_remote(const dubbo_sconn_t *c)
{
    check_conn(c);
    return "127.0.0.1:1";
}

const char *__wrap_dubbo_sconn_local(const dubbo_sconn_t *c)
{
    check_conn(c);
    return "127.0.0.1:2";
}

void *__wrap_dubbo_sconn_state(const dubbo_sconn_t *c)
{
    check_conn(c);
    return state;
}

void __wrap_dubbo_sconn_close(dubbo_sconn_t *c, const char *why)
{
    (void)why;
    check_conn(c);
    closed = true;
}

int __wrap_dubbo_sconn_heartbeat(const dubbo_sconn_t *c)
{
    check_conn(c);
    return 60000; /* the server's default */
}

size_t __wrap_dubbo_sconn_limit(const dubbo_sconn_t *c)
{
    check_conn(c);
    return LIMIT;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("DUBBO_LOG", "off", 1); /* every bad frame is a warning */
    dubbo__tri_kind_set("s.S", "Server", TRI_SERVER_STREAM);
    dubbo__tri_kind_set("s.S", "Client", TRI_CLIENT_STREAM);
    dubbo__tri_kind_set("s.S", "Bidi", TRI_BIDI_STREAM);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dubbo_sconn_t *c = (dubbo_sconn_t *)(void *)&conn_token;
    const dubbo_protocol_ops_t *p = &dubbo__protocol_tri;
    closed = false;
    sent = 0;
    uint8_t *in = malloc(sizeof(preface) - 1 + size);
    if (!in) return 0;
    memcpy(in, preface, sizeof(preface) - 1);
    if (size) memcpy(in + sizeof(preface) - 1, data, size);
    size_t n = sizeof(preface) - 1 + size, off = 0;
    state = p->conn_open(c);
    if (!state) {
        free(in);
        return 0;
    }
    uint64_t now = dubbo__now_ms();
    unsigned units = 0;
    dubbo_buf_t answer;
    dubbo_buf_init(&answer, 0);
    while (!closed && off < n) {
        size_t total = 0;
        int64_t r = p->cut(in + off, n - off, LIMIT, &total);
        if (r < 0) break;
        if (r == 0) {
            if (total && total <= n - off) abort(); /* whole, yet "more" */
            break;
        }
        if ((size_t)r > n - off) abort();
        dubbo_unit_t u;
        memset(&u, 0, sizeof(u));
        int k = p->on_unit(c, in + off, (size_t)r, &u);
        if (k == 1 && !closed) {
            if (!u.payload || u.payload_len < 4 || u.id == 0) abort();
            /* refused at once: the answer a busy server sends */
            dubbo_buf_clear(&answer);
            if (p->refuse(u.payload, u.payload_len, DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED,
                          "busy", &answer) == 0)
                p->on_answer(state, c, &u, answer.base, answer.len);
        }
        off += (size_t)r;
        /* now and then the idle check: keepalive PINGs, their timeout */
        if (++units % 8 == 0 && !closed) p->tick(state, c, now += 700);
    }
    if (!closed) p->tick(state, c, now + 5000);
    dubbo_buf_destroy(&answer);
    p->conn_close(state);
    state = NULL;
    free(in);
    return 0;
}
