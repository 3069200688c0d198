#include "base/version.h"

#include "cq_version.h" /* generated: CQ_VERSION (Makefile) */

const char *version_string(void)
{
    return CQ_VERSION;
}
