/* version: the build's version string, git describe at build time (the Makefile generates
 * CQ_VERSION into $(BUILD)/gen/version.h), or "unknown" outside a checkout. */
#ifndef CQ_VERSION_H
#define CQ_VERSION_H

/* The build's version string (git describe, or "unknown" outside a checkout). */
const char *version_string(void);

#endif
