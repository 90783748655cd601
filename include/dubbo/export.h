/* DUBBO_API: the mark of dubbo-c's public functions. libdubbo.so is built
 * with -fvisibility=hidden, so only what carries this mark is exported; the
 * internals (dubbo__*) stay inside the library. Every public header includes
 * this one. */
#ifndef DUBBO_EXPORT_H
#define DUBBO_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define DUBBO_API __attribute__((visibility("default")))
#else
#define DUBBO_API
#endif

#endif /* DUBBO_EXPORT_H */
