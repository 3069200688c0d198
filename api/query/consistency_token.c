/* consistency_token: X-Consistency-Token's value (consistency.h): parsing and the SQL array. */
#include "consistency.h"

#include <stdio.h>

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_uuid(const char *s, size_t n)
{
    if (n != CONSISTENCY_UUID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return false;
    }
    return true;
}

int consistency_token_parse(const char *value, struct consistency_token *tok, struct api_error *err)
{
    const char *p = value;

    tok->n = 0;
    for (;;) {
        const char *end;
        size_t n;

        while (*p == ' ' || *p == '\t')
            p++;
        end = p;
        while (*end != '\0' && *end != ',')
            end++;
        n = (size_t)(end - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (!is_uuid(p, n))
            return api_error_field(err, CONSISTENCY_HEADER,
                                   "must be the event ids (UUIDs, comma-separated) a command "
                                   "answered with");
        if (tok->n == CONSISTENCY_MAX_IDS)
            return api_error_field(err, CONSISTENCY_HEADER, "must hold at most %d event ids",
                                   CONSISTENCY_MAX_IDS);
        for (size_t i = 0; i < n; i++)
            tok->ids[tok->n][i] = (char)(p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 'a' : p[i]);
        tok->ids[tok->n][n] = '\0';
        tok->n++;
        if (*end == '\0')
            return 0;
        p = end + 1;
    }
}

void consistency_token_array(const struct consistency_token *tok, char *buf, size_t len)
{
    size_t o = 0;

    o += (size_t)snprintf(buf + o, len - o, "{");
    for (size_t i = 0; i < tok->n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i > 0 ? "," : "", tok->ids[i]);
    if (o < len)
        snprintf(buf + o, len - o, "}");
}
