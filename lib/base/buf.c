#include "base/buf.h"

#include "base/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_reserve(struct buf *b, size_t extra)
{
    size_t cap = b->cap != 0 ? b->cap : 256;

    if (b->s != NULL && b->len + extra + 1 <= b->cap)
        return;
    while (b->len + extra + 1 > cap)
        cap *= 2;
    b->s = xrealloc(b->s, cap);
    b->cap = cap;
    b->s[b->len] = '\0';
}

void buf_put(struct buf *b, const void *s, size_t n)
{
    buf_reserve(b, n);
    if (n > 0)
        memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->s != NULL)
        b->s[0] = '\0';
}

char *buf_take(struct buf *b, size_t *len)
{
    char *s;

    buf_reserve(b, 0);
    s = b->s;
    if (len != NULL)
        *len = b->len;
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void buf_free(struct buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}
