/* org.apache.dubbo.demo.DemoService, the demo service of the README, the
 * examples and the tests. Its interface is stable:
 *   String sayHello(String name)   -> "Hello " + name
 *   Object echo(Object value)      -> value, unchanged
 *   String whoami()                -> this provider's host:port
 *   void   sleep(int ms)           -> returns after ms milliseconds
 *   String fail(String message)    -> throws java.lang.IllegalStateException(message) */
#ifndef DUBBO_TOOLS_DEMO_SERVICE_H
#define DUBBO_TOOLS_DEMO_SERVICE_H

#include "dubbo/rpc.h"

#define DEMO_INTERFACE "org.apache.dubbo.demo.DemoService"

/* The service description (static; user = NULL). */
const dubbo_service_t *demo_service(void);

#endif
