#include "http/etag.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

void etag_of(const char *body, size_t len, char out[ETAG_LEN + 1])
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)body[i];
        h *= 0x100000001b3ULL;
    }
    snprintf(out, ETAG_LEN + 1, "\"%016llx\"", (unsigned long long)h);
}

bool etag_none_match(const char *if_none_match, const char *etag)
{
    const char *p = if_none_match;
    size_t n = strlen(etag);

    if (p == NULL)
        return false;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2; /* weak comparison: the opaque tags must be equal */
        if (*p != '"')
            return false; /* not a list of entity tags: no match */
        const char *end = strchr(p + 1, '"');
        if (end == NULL)
            return false;
        if ((size_t)(end + 1 - p) == n && memcmp(p, etag, n) == 0)
            return true;
        p = end + 1;
    }
    return false;
}
