/* xalloc: allocation that aborts with a message on failure, so callers need no NULL checks.
 * The caller owns what these return and frees it with free(). */
#ifndef CQ_XALLOC_H
#define CQ_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
