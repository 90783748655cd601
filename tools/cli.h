/* Subcommands of the `dubbo` tool that live outside tools/dubbo.c. Each takes
 * its own name (for messages) and the arguments after it, and returns the
 * exit status: 0 success, 1 failure, 2 bad usage. */
#ifndef DUBBO_TOOLS_CLI_H
#define DUBBO_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"

int cli_demo(const char *who, int argc, char **argv);     /* dubbo demo provider */
int cli_call(const char *who, int argc, char **argv);     /* dubbo call */
int cli_bench(const char *who, int argc, char **argv);    /* dubbo bench */
int cli_list(const char *who, int argc, char **argv);     /* dubbo list */
int cli_protobuf(const char *who, int argc, char **argv); /* dubbo protobuf decode|encode */

/* tools/dubbo.c's input helpers, shared by the inspectors. Standard input
 * appended to b (up to its limit); hex text (whitespace ignored) into
 * bytes, in place allowed (out never passes text). 0, or the exit status
 * with the reason printed (naming `who`). */
int cli_read_stdin(dubbo_buf_t *b, const char *who);
int cli_unhex(const char *who, const char *text, size_t len, uint8_t *out, size_t *outlen);

#endif
