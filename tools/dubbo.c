/* The `dubbo` command-line tool: one function per subcommand, dispatched
 * from a table. Exit status: 0 success, 1 the input or the operation
 * failed (message on stderr), 2 bad usage. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/buf.h"
#include "dubbo/error.h"
#include "dubbo/hessian2.h"
#include "dubbo/value.h"
#include "dubbo/version.h"

#include "cli.h"

enum { EXIT_USAGE = 2 };

/* Inputs and values are bounded so that a hostile input fails cleanly. */
#define INPUT_LIMIT ((size_t)1 << 30)
#define ARENA_LIMIT ((size_t)4 << 30)

typedef struct command {
    const char *name;
    int (*run)(const struct command *self, const char *prefix, int argc, char **argv);
    const char *summary;
    const char *help; /* printed by --help after the usage line */
} command_t;

static const char *prog = "dubbo";

/* ---- helpers ---------------------------------------------------------- */

static int fail(const char *who, int err)
{
    fprintf(stderr, "%s: %s (%s)\n", who, dubbo_last_error(), dubbo_err_name(err));
    return EXIT_FAILURE;
}

static int usage_error(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", who);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help'.\n", who);
    va_end(ap);
    return EXIT_USAGE;
}

static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* An argument that looks like an option rather than data: "-x", "--x".
 * "-5" and "-" are data (a JSON number, stdin). */
static bool is_option(const char *a)
{
    return a[0] == '-' && a[1] && !(a[1] >= '0' && a[1] <= '9');
}

int cli_read_stdin(dubbo_buf_t *b, const char *who)
{
    for (;;) {
        if (dubbo_buf_reserve(b, 65536)) return fail(who, DUBBO_ETOO_BIG);
        size_t n = fread(b->base + b->len, 1, b->cap - b->len, stdin);
        b->len += n;
        if (n == 0) break;
    }
    if (ferror(stdin)) {
        fprintf(stderr, "%s: cannot read standard input\n", who);
        return EXIT_FAILURE;
    }
    return 0;
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Hex text (whitespace anywhere) to bytes, in place: out never passes in. */
int cli_unhex(const char *who, const char *text, size_t len, uint8_t *out, size_t *outlen)
{
    size_t n = 0, digits = 0;
    int hi = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
        int v = hex_digit(c);
        if (v < 0) {
            if (c >= 0x21 && c < 0x7f)
                fprintf(stderr, "%s: bad hex digit '%c' at position %zu\n", who, c, i);
            else
                fprintf(stderr, "%s: bad hex digit (byte 0x%02x) at position %zu\n", who, c, i);
            return EXIT_FAILURE;
        }
        if (digits++ % 2 == 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
        }
    }
    if (digits % 2) {
        fprintf(stderr, "%s: odd number of hex digits (%zu)\n", who, digits);
        return EXIT_FAILURE;
    }
    *outlen = n;
    return 0;
}

static int write_out(const char *who, const void *p, size_t n)
{
    if (fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write standard output\n", who);
        return EXIT_FAILURE;
    }
    return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

static void print_usage(FILE *f, const command_t *self, const char *prefix)
{
    fprintf(f, "usage: %s %s\n", prefix, self->help);
}

/* Run the subcommand of `table` named by argv[0]. */
static int dispatch(const command_t *table, size_t n, const char *prefix, int argc, char **argv,
                    void (*help)(FILE *))
{
    if (argc < 1) {
        help(stderr);
        return EXIT_USAGE;
    }
    if (is_help(argv[0])) {
        help(stdout);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(table[i].name, argv[0]) != 0) continue;
        char sub[256];
        snprintf(sub, sizeof(sub), "%s %s", prefix, table[i].name);
        return table[i].run(&table[i], sub, argc - 1, argv + 1);
    }
    fprintf(stderr, "%s: unknown command '%s'\n", prefix, argv[0]);
    help(stderr);
    return EXIT_USAGE;
}

static void list_commands(FILE *f, const command_t *table, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-10s %s\n", table[i].name, table[i].summary);
}

/* ---- dubbo hessian2 decode ------------------------------------------- */

static int cmd_h2_decode(const command_t *self, const char *who, int argc, char **argv)
{
    const char *hex = NULL;
    bool hex_stdin = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            print_usage(stdout, self, who);
            return 0;
        } else if (strcmp(a, "--hex") == 0) {
            if (i + 1 < argc && !is_option(argv[i + 1]))
                hex = argv[++i];
            else
                hex_stdin = true;
        } else if (strncmp(a, "--hex=", 6) == 0) {
            hex = a + 6;
        } else if (is_option(a)) {
            return usage_error(who, "unknown option '%s'", a);
        } else {
            return usage_error(who, "unexpected argument '%s' (hex input goes after --hex)", a);
        }
    }

    dubbo_buf_t in;
    dubbo_buf_init(&in, INPUT_LIMIT);
    int rc = 0;
    if (hex) {
        size_t n = strlen(hex);
        if (dubbo_buf_reserve(&in, n / 2 + 1))
            rc = fail(who, DUBBO_ENOMEM);
        else
            rc = cli_unhex(who, hex, n, in.base, &in.len);
    } else {
        rc = cli_read_stdin(&in, who);
        if (!rc && hex_stdin) rc = cli_unhex(who, (const char *)in.base, in.len, in.base, &in.len);
    }
    if (rc) {
        dubbo_buf_destroy(&in);
        return rc;
    }

    dubbo_arena_t *arena = dubbo_arena_new(ARENA_LIMIT);
    dubbo_json_writer_t *w = dubbo_json_writer_new();
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    dubbo_h2_decoder_t d;
    dubbo_h2_decoder_init(&d, arena, in.base, in.len);
    if (!arena || !w) rc = fail(who, DUBBO_ENOMEM);
    if (!rc && in.len == 0) {
        fprintf(stderr, "%s: no input bytes\n", who);
        rc = EXIT_FAILURE;
    }
    /* One line per value; references and class definitions carry over from
     * value to value as in the Hessian stream. */
    while (!rc && !dubbo_h2_decoder_done(&d)) {
        dubbo_value_t *v;
        int err = dubbo_h2_decode(&d, &v);
        if (!err) err = dubbo_json_write(w, v, &out);
        if (!err) err = dubbo_buf_append(&out, "\n", 1);
        if (err) {
            rc = fail(who, err);
            break;
        }
        rc = write_out(who, out.base, out.len);
        dubbo_buf_clear(&out);
    }
    dubbo_h2_decoder_destroy(&d);
    dubbo_buf_destroy(&out);
    dubbo_json_writer_free(w);
    dubbo_arena_free(arena);
    dubbo_buf_destroy(&in);
    return rc;
}

/* ---- dubbo hessian2 encode ------------------------------------------- */

/* Encode every JSON document in text[0..len) in turn. `what` names the
 * source for messages ("argument 2", "standard input"). */
static int encode_text(const char *who, const char *what, dubbo_json_reader_t *r,
                       dubbo_h2_encoder_t *e, const char *text, size_t len, size_t *ndocs)
{
    size_t pos = 0;
    while (pos < len) {
        size_t skip = pos;
        while (skip < len && (text[skip] == ' ' || text[skip] == '\t' || text[skip] == '\n' ||
                              text[skip] == '\r'))
            skip++;
        if (skip == len) break;
        dubbo_value_t *v;
        int err = dubbo_json_read(r, text, len, &pos, &v);
        if (!err) err = dubbo_h2_encode(e, v);
        if (err) {
            fprintf(stderr, "%s: %s: %s (%s)\n", who, what, dubbo_last_error(),
                    dubbo_err_name(err));
            return EXIT_FAILURE;
        }
        ++*ndocs;
    }
    return 0;
}

static int cmd_h2_encode(const command_t *self, const char *who, int argc, char **argv)
{
    bool hex = false, only_data = false;
    /* The JSON arguments, in order (options may come anywhere before "--"). */
    const char **data = malloc(((size_t)argc + 1) * sizeof(*data));
    int ndata = 0;
    if (!data) return fail(who, DUBBO_ENOMEM);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_data && is_help(a)) {
            free(data);
            print_usage(stdout, self, who);
            return 0;
        } else if (!only_data && strcmp(a, "--hex") == 0) {
            hex = true;
        } else if (!only_data && strcmp(a, "--") == 0) {
            only_data = true;
        } else if (!only_data && is_option(a)) {
            free(data);
            return usage_error(who, "unknown option '%s'", a);
        } else {
            data[ndata++] = a;
        }
    }

    dubbo_arena_t *arena = dubbo_arena_new(ARENA_LIMIT);
    dubbo_json_reader_t *r = arena ? dubbo_json_reader_new(arena) : NULL;
    dubbo_buf_t out, in;
    dubbo_buf_init(&out, 0);
    dubbo_buf_init(&in, INPUT_LIMIT);
    dubbo_h2_encoder_t e;
    dubbo_h2_encoder_init(&e, &out);
    int rc = 0;
    size_t ndocs = 0;
    if (!r) rc = fail(who, DUBBO_ENOMEM);
    if (!rc && ndata == 0) {
        rc = cli_read_stdin(&in, who);
        if (!rc)
            rc = encode_text(who, "standard input", r, &e, (const char *)in.base, in.len, &ndocs);
    }
    for (int i = 0; !rc && i < ndata; i++) {
        char what[32];
        snprintf(what, sizeof(what), "argument %d", i + 1);
        size_t before = ndocs;
        rc = encode_text(who, what, r, &e, data[i], strlen(data[i]), &ndocs);
        if (!rc && ndocs == before) {
            fprintf(stderr, "%s: %s: no JSON value\n", who, what);
            rc = EXIT_FAILURE;
        }
    }
    free(data);
    if (!rc && ndocs == 0) {
        fprintf(stderr, "%s: no JSON value on standard input\n", who);
        rc = EXIT_FAILURE;
    }
    if (!rc && hex) {
        static const char digits[] = "0123456789abcdef";
        dubbo_buf_t h;
        dubbo_buf_init(&h, 0);
        if (dubbo_buf_reserve(&h, out.len * 2 + 1)) {
            rc = fail(who, DUBBO_ENOMEM);
        } else {
            for (size_t i = 0; i < out.len; i++) {
                h.base[h.len++] = (uint8_t)digits[out.base[i] >> 4];
                h.base[h.len++] = (uint8_t)digits[out.base[i] & 15];
            }
            h.base[h.len++] = '\n';
            rc = write_out(who, h.base, h.len);
        }
        dubbo_buf_destroy(&h);
    } else if (!rc) {
        rc = write_out(who, out.base, out.len);
    }
    dubbo_h2_encoder_destroy(&e);
    dubbo_buf_destroy(&out);
    dubbo_buf_destroy(&in);
    dubbo_json_reader_free(r);
    dubbo_arena_free(arena);
    return rc;
}

/* ---- dubbo hessian2 ---------------------------------------------------- */

static const command_t hessian2_commands[] = {
    {"decode", cmd_h2_decode, "Hessian 2.0 bytes -> typed JSON, one line per value",
     "[--hex [HEX]]\n"
     "\n"
     "Decode every Hessian 2.0 value in the input, one after another as in a\n"
     "Dubbo body, and print each as one line of typed JSON (docs/typed-json.md).\n"
     "References and class definitions carry over from value to value, as in\n"
     "the stream: a later line may hold {\"$ref\":N} for a container of an\n"
     "earlier one.\n"
     "\n"
     "Input is raw bytes on standard input, unless:\n"
     "  --hex HEX   the bytes as hex text (spaces and newlines are ignored)\n"
     "  --hex       hex text read from standard input\n"
     "\n"
     "Examples:\n"
     "  dubbo hessian2 decode --hex 'e5'              -> {\"$class\":\"long\",\"$\":5}\n"
     "  dubbo hessian2 decode --hex '7304 5b696e74 91 92 93'\n"
     "                                                -> {\"$class\":\"[int\",\"$\":[1,2,3]}\n"
     "  printf '\\x91\\x05hello' | dubbo hessian2 decode  -> 1 and \"hello\"\n"
     "\n"
     "Exit status: 0 success, 1 malformed input (message on stderr), 2 bad usage.\n"},
    {"encode", cmd_h2_encode, "typed JSON -> Hessian 2.0 bytes",
     "[--hex] [JSON ...]\n"
     "\n"
     "Encode each typed JSON document (docs/typed-json.md) in turn into one\n"
     "Hessian 2.0 stream, exactly as Java's Hessian2Output writes the Java value\n"
     "it stands for. Documents come from the arguments (each may hold several)\n"
     "or, without arguments, from standard input. Class definitions and\n"
     "{\"$ref\":N} numbering are shared by all documents, as in one Java stream.\n"
     "\n"
     "Output is raw bytes on standard output, unless:\n"
     "  --hex       print lowercase hex and a newline instead\n"
     "  --          every later argument is JSON, even if it starts with '-'\n"
     "\n"
     "Examples:\n"
     "  dubbo hessian2 encode --hex '{\"$class\":\"long\",\"$\":5}'          -> e5\n"
     "  dubbo hessian2 encode --hex '\"sayHello\"' '[\"world\"]'           -> two values\n"
     "  dubbo hessian2 encode --hex "
     "'{\"$class\":\"com.example.User\",\"$\":{\"name\":\"Ann\",\"age\":42}}'\n"
     "  echo '1 2.5 {\"a\":null}' | dubbo hessian2 encode | xxd\n"
     "\n"
     "Exit status: 0 success, 1 bad JSON (message names the place), 2 bad usage.\n"},
};

static void hessian2_help(FILE *f)
{
    fprintf(f, "usage: %s hessian2 <command> [options]\n\nCommands:\n", prog);
    list_commands(f, hessian2_commands, sizeof(hessian2_commands) / sizeof(hessian2_commands[0]));
    fprintf(f, "\nRun '%s hessian2 <command> --help' for the options and examples.\n", prog);
}

static int cmd_hessian2(const command_t *self, const char *who, int argc, char **argv)
{
    (void)self;
    return dispatch(hessian2_commands, sizeof(hessian2_commands) / sizeof(hessian2_commands[0]),
                    who, argc, argv, hessian2_help);
}

/* ---- dubbo ------------------------------------------------------------- */

/* One entry per subcommand; `call`, `provider`, `bench`, `list` slot in
 * here as they arrive. */
static int cmd_call(const command_t *self, const char *who, int argc, char **argv)
{
    (void)self;
    return cli_call(who, argc, argv);
}

static int cmd_bench(const command_t *self, const char *who, int argc, char **argv)
{
    (void)self;
    return cli_bench(who, argc, argv);
}

static int cmd_list(const command_t *self, const char *who, int argc, char **argv)
{
    (void)self;
    return cli_list(who, argc, argv);
}

static int cmd_protobuf(const command_t *self, const char *who, int argc, char **argv)
{
    (void)self;
    return cli_protobuf(who, argc, argv);
}

static int cmd_demo(const command_t *self, const char *who, int argc, char **argv)
{
    (void)self;
    return cli_demo(who, argc, argv);
}

static const command_t commands[] = {
    {"hessian2", cmd_hessian2, "decode and encode Hessian 2.0 values as typed JSON",
     "hessian2 <decode|encode> [options]"},
    {"protobuf", cmd_protobuf, "decode and encode protobuf messages as JSON, by a .proto",
     "protobuf <decode|encode> --proto FILE --type TYPE [options]"},
    {"call", cmd_call, "call a method of a Dubbo service and print the result",
     "call URL METHOD [ARG ...] [options]"},
    {"bench", cmd_bench, "load a Dubbo service: QPS and latency percentiles",
     "bench URL METHOD [ARG ...] [options]"},
    {"list", cmd_list, "list the services, providers and consumers a registry holds",
     "list REGISTRY_URL [INTERFACE]"},
    {"demo", cmd_demo, "run the demo provider (org.apache.dubbo.demo.DemoService)",
     "demo provider [options]"},
};

static void main_help(FILE *f)
{
    fprintf(f,
            "usage: %s [--version] [--help] <command> [<args>]\n"
            "\n"
            "dubbo-c %s: Apache Dubbo in C.\n"
            "\n"
            "Commands:\n",
            prog, dubbo_version());
    list_commands(f, commands, sizeof(commands) / sizeof(commands[0]));
    fprintf(f,
            "\n"
            "Run '%s <command> --help' for the options of a command.\n"
            "Values are written as typed JSON (docs/typed-json.md), e.g.\n"
            "  %s hessian2 encode --hex '{\"$class\":\"long\",\"$\":5}'\n",
            prog, prog);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("dubbo (dubbo-c) %s\n", dubbo_version());
        return 0;
    }
    if (argc >= 2 && is_option(argv[1]) && !is_help(argv[1]))
        return usage_error(prog, "unknown option '%s'", argv[1]);
    return dispatch(commands, sizeof(commands) / sizeof(commands[0]), prog, argc - 1, argv + 1,
                    main_help);
}
