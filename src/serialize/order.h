/* The Dubbo codec's order of calls, for serializations whose items carry no
 * type (protobuf, id 22; protobuf-json, id 21): which item comes next is
 * known only from where a reader or writer is in its body. A reader whose
 * first call is read_string reads a request (five strings, the arguments
 * the descriptor counts, the attachments) or an error body; one whose first
 * call is read reads a response (the kind, then what the kind says, then
 * the attachments) or an event. A writer learns the same from its calls:
 * write_string first is a request or an error, write_int first a response,
 * write first an event. Private to src/serialize/. */
#ifndef DUBBO_SERIALIZE_ORDER_H
#define DUBBO_SERIALIZE_ORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/jvm.h"

enum { DUBBO__ORD_START, DUBBO__ORD_REQUEST, DUBBO__ORD_RESPONSE, DUBBO__ORD_EVENT };

/* What the next read or write is. */
typedef enum {
    DUBBO__ITEM_FIRST,     /* a reader's first read: the response kind or an event */
    DUBBO__ITEM_MESSAGE,   /* an argument or a result: the caller's message */
    DUBBO__ITEM_THROWABLE, /* the exception the response kind announced */
    DUBBO__ITEM_MAP,       /* the attachments */
    DUBBO__ITEM_EVENT,     /* a writer's first write: an event's data */
    DUBBO__ITEM_EARLY,     /* a request's value before its five strings: an error */
} dubbo__item_t;

typedef struct {
    int mode;
    int strings;         /* request strings read or written */
    int nargs;           /* request arguments the descriptor counts */
    int items;           /* values after the strings / the kind */
    int kind;            /* the response kind, once known */
    bool exception_next; /* (writer) the kind said an exception follows */
} dubbo__order_t;

/* A string is read or written. false: not where a string may be (a
 * response's value, or a sixth request string). */
static inline bool dubbo__order_string(dubbo__order_t *o)
{
    if (o->mode == DUBBO__ORD_START) o->mode = DUBBO__ORD_REQUEST;
    return o->mode == DUBBO__ORD_REQUEST && o->strings < 5;
}

/* After a request string `s`: counts it; at the fifth (the descriptor) the
 * arguments it names. 0, or the descriptor's error. */
static inline int dubbo__order_string_done(dubbo__order_t *o, const char *s)
{
    if (++o->strings < 5) return 0;
    int n = dubbo__jvm_desc_count(s);
    if (n < 0) return n;
    o->nargs = n;
    return 0;
}

/* The response kind (read first, or written by write_int first). */
static inline void dubbo__order_kind(dubbo__order_t *o, int32_t kind)
{
    o->mode = DUBBO__ORD_RESPONSE;
    o->kind = kind;
    o->items = 1;
    o->exception_next = kind == 0 || kind == 3; /* the kinds with an exception */
}

/* What the next value is, and moves past it. */
static inline dubbo__item_t dubbo__order_next(dubbo__order_t *o, bool writing)
{
    if (o->mode == DUBBO__ORD_START) {
        o->mode = writing ? DUBBO__ORD_EVENT : DUBBO__ORD_RESPONSE;
        return writing ? DUBBO__ITEM_EVENT : DUBBO__ITEM_FIRST;
    }
    if (o->mode == DUBBO__ORD_REQUEST) {
        if (o->strings < 5) return DUBBO__ITEM_EARLY;
        return o->items++ >= o->nargs ? DUBBO__ITEM_MAP : DUBBO__ITEM_MESSAGE;
    }
    if (o->mode == DUBBO__ORD_EVENT) return DUBBO__ITEM_MESSAGE;
    /* the response: the value or exception the kind announced, then the
     * attachments */
    bool value = o->items == 1 && o->kind != 2 && o->kind != 5;
    o->items++;
    if (!value) return DUBBO__ITEM_MAP;
    return o->kind == 0 || o->kind == 3 ? DUBBO__ITEM_THROWABLE : DUBBO__ITEM_MESSAGE;
}

#endif
