/* buf: the one growable byte buffer of the code base (metrics text, request bodies, event
 * streams, event batches). Always NUL-terminated once anything was reserved, so the bytes can be
 * read as a string too. The struct is the caller's (zero-initialise it: {0} is an empty buffer);
 * the bytes are owned by the buffer until buf_take hands them over; buf_free frees them.
 * Growth doubles the capacity; allocation failure aborts (lib/base/xalloc.h). */
#ifndef CQ_BUF_H
#define CQ_BUF_H

#include <stddef.h>

struct buf {
    char *s;    /* the bytes, NUL-terminated; NULL until the first reserve */
    size_t len; /* bytes held, not counting the NUL */
    size_t cap; /* bytes allocated */
};

/* Makes room for extra more bytes (plus the NUL) after len; the first allocation is at least
 * 256 bytes. */
void buf_reserve(struct buf *b, size_t extra);
/* Appends n bytes of s. */
void buf_put(struct buf *b, const void *s, size_t n);
/* Appends the string s. */
void buf_puts(struct buf *b, const char *s);
/* Appends printf output. */
__attribute__((format(printf, 2, 3))) void buf_printf(struct buf *b, const char *fmt, ...);
/* Empties the buffer, keeping its memory for reuse. */
void buf_reset(struct buf *b);
/* Hands the bytes (NUL-terminated, never NULL) to the caller, who frees them; the buffer is
 * empty afterwards. */
char *buf_take(struct buf *b, size_t *len);
/* Frees the bytes; the buffer is empty afterwards and may be used again. */
void buf_free(struct buf *b);

#endif
