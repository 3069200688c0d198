#include "http/clientaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses an IPv4 or IPv6 literal into addr (16 bytes; IPv4 in the first 4). */
static bool parse_addr(const char *s, bool *v6, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1) {
        *v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, s, addr) == 1) {
        *v6 = true;
        return true;
    }
    return false;
}

int clientaddr_trust_parse(struct clientaddr_trust *t, const char *list, char *err, size_t errlen)
{
    char buf[1024], *save = NULL;

    memset(t, 0, sizeof *t);
    if (strlen(list) >= sizeof buf) {
        snprintf(err, errlen, "HTTP_TRUSTED_PROXIES is too long");
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        char *slash = strchr(tok, '/');
        unsigned prefix;
        bool v6;
        uint8_t addr[16];

        if (t->n == CLIENTADDR_MAX_PROXIES) {
            snprintf(err, errlen, "HTTP_TRUSTED_PROXIES: more than %d entries",
                     CLIENTADDR_MAX_PROXIES);
            return -1;
        }
        if (slash != NULL)
            *slash = '\0';
        if (!parse_addr(tok, &v6, addr)) {
            snprintf(err, errlen, "HTTP_TRUSTED_PROXIES: \"%s\" is not an IP address", tok);
            return -1;
        }
        prefix = v6 ? 128 : 32;
        if (slash != NULL) {
            char *end;
            long p = strtol(slash + 1, &end, 10);
            if (v6 || *end != '\0' || end == slash + 1 || p < 0 || p > 32) {
                snprintf(err, errlen,
                         "HTTP_TRUSTED_PROXIES: \"%s/%s\" is not an IPv4 range (a.b.c.d/0-32)", tok,
                         slash + 1);
                return -1;
            }
            prefix = (unsigned)p;
        }
        t->proxies[t->n].v6 = v6;
        memcpy(t->proxies[t->n].addr, addr, 16);
        t->proxies[t->n].prefix = prefix;
        t->n++;
    }
    return 0;
}

static bool trusted(const struct clientaddr_trust *t, const char *peer)
{
    bool v6;
    uint8_t addr[16];

    if (t->n == 0 || !parse_addr(peer, &v6, addr))
        return false;
    for (size_t i = 0; i < t->n; i++) {
        unsigned bits = t->proxies[i].prefix, full = bits / 8, rest = bits % 8;
        if (t->proxies[i].v6 != v6 || memcmp(addr, t->proxies[i].addr, full) != 0)
            continue;
        if (rest == 0 || ((addr[full] ^ t->proxies[i].addr[full]) & (0xFF00u >> rest)) == 0)
            return true;
    }
    return false;
}

void clientaddr_resolve(const struct clientaddr_trust *t, const char *peer, const char *xff,
                        char *out, size_t outlen)
{
    char last[64];
    const char *comma, *start;
    size_t len;
    bool v6;
    uint8_t addr[16];

    snprintf(out, outlen, "%s", peer);
    if (xff == NULL || !trusted(t, peer))
        return;
    comma = strrchr(xff, ',');
    start = comma != NULL ? comma + 1 : xff;
    while (*start == ' ' || *start == '\t')
        start++;
    len = strlen(start);
    while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof last)
        return;
    memcpy(last, start, len);
    last[len] = '\0';
    if (parse_addr(last, &v6, addr))
        snprintf(out, outlen, "%s", last);
}
