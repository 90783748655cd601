/* Subcommands of the `dubbo` tool that live outside tools/dubbo.c. Each takes
 * its own name (for messages) and the arguments after it, and returns the
 * exit status: 0 success, 1 failure, 2 bad usage. */
#ifndef DUBBO_TOOLS_CLI_H
#define DUBBO_TOOLS_CLI_H

int cli_demo(const char *who, int argc, char **argv);     /* dubbo demo provider */
int cli_call(const char *who, int argc, char **argv);     /* dubbo call */
int cli_bench(const char *who, int argc, char **argv);    /* dubbo bench */
int cli_list(const char *who, int argc, char **argv);     /* dubbo list */
int cli_protobuf(const char *who, int argc, char **argv); /* dubbo protobuf decode|encode */

#endif
