/* Between the QoS port's framing (protocol.c: the `qos` protocol, telnet
 * lines and HTTP requests on one port) and its commands (qos.c).
 * Internal. */
#ifndef DUBBO_QOS_QOS_H
#define DUBBO_QOS_QOS_H

#include "dubbo/protocol.h"

/* The one service the QoS server exports: decode() turns each line or
 * request into a call of QOS_METHOD with the arguments
 *   [0] the command name, [1] the rest of the line as typed (invoke reads
 *   its JSON there), [2...] the arguments one by one (telnet: split on
 *   blanks; HTTP: the query's or form body's values, in order);
 * the handler answers a string and sets the response attachments below;
 * answer() frames it for the mode the request came in. */
#define QOS_SERVICE "org.apache.dubbo.qos.CommandExecutor"
#define QOS_METHOD  "execute"

#define QOS_ATT_CODE  "qos.http-code" /* "200" (default), "404", "503", ... */
#define QOS_ATT_TYPE  "qos.content-type"
#define QOS_ATT_CLOSE "qos.close" /* "1": say goodbye and close (quit) */

/* dubbo_unit_t.tag bits */
#define QOS_TAG_HTTP  1u
#define QOS_TAG_CLOSE 2u /* set by answer(): close once the answer is sent */

#define QOS_PROMPT "dubbo>"

extern const dubbo_protocol_ops_t dubbo__protocol_qos; /* protocol.c */

#endif
