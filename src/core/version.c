/* dubbo_version(): the library's version, from the generated dubbo/version.h. */
#include "dubbo/version.h"

const char *dubbo_version(void)
{
    return DUBBO_VERSION_STRING;
}
