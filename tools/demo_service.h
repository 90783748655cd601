/* org.apache.dubbo.demo.DemoService, the demo service of the README, the
 * examples and the tests. Its interface is stable:
 *   String sayHello(String name)   -> "Hello " + name
 *   Object echo(Object value)      -> value, unchanged
 *   String whoami()                -> this provider's host:port
 *   void   sleep(int ms)           -> returns after ms milliseconds
 *   String fail(String message)    -> throws java.lang.IllegalStateException(message)
 *   String attachment(String key)  -> the consumer's attachment `key` (null if absent);
 *                                     also sent back as response attachment "echo-<key>"
 *   String peer()                  -> the consumer's host:port as this provider sees it
 * Over REST (demo_rest_bind): GET /demo/hello/{name}, GET /demo/hello?name=,
 * POST /demo/echo (JSON), GET /demo/whoami, POST /demo/sleep (form ms=),
 * POST /demo/fail (text), GET /demo/attachment/{key}, GET /demo/peer.
 * and com.example.UserService, exported beside it:
 *   User   echo(User u)            -> u, unchanged
 * tests/interop/matrix/PEERS.md has the Java and Go twins of both. */
#ifndef DUBBO_TOOLS_DEMO_SERVICE_H
#define DUBBO_TOOLS_DEMO_SERVICE_H

#include "dubbo/rpc.h"

#define DEMO_INTERFACE "org.apache.dubbo.demo.DemoService"

/* The service description (static; user = NULL). */
const dubbo_service_t *demo_service(void);

#define USER_INTERFACE "com.example.UserService"

/* com.example.UserService (static; user = NULL). */
const dubbo_service_t *user_service(void);

/* helloworld.Greeter (SayHello: "Hello " + name) and grpc.testing.TestService
 * (the unary methods of gRPC's interop tests), protobuf IDL services served
 * over Triple, exported on s with the provider URL parameters `params`
 * (NULL-terminated pairs, or NULL; kept: static or outliving s). */
int demo_export_idl(dubbo_server_t *s, const char *const *params);

#define PAGE_INTERFACE "org.apache.dubbo.demo.DemoPage"

/* org.apache.dubbo.demo.DemoPage: page() answers the demo page
 * (tools/demo_page.html), served over REST at GET / as text/html. */
const dubbo_service_t *demo_page_service(void);

/* DemoService's REST mapping (docs/rest.md has the table) and DemoPage's,
 * registered process-wide (dubbo_rest_register): 0 or its error. */
int demo_rest_bind(void);

#endif
