/* clientaddr: the address a request counts against (rate limits, per-address caps).
 *
 * Normally the peer's address. Behind a reverse proxy every request comes from the proxy, so
 * HTTP_TRUSTED_PROXIES lists the proxies (IPv4 or IPv6 addresses, or IPv4 CIDR ranges such as
 * 172.16.0.0/12, comma-separated): a request whose peer is one of them counts against the last
 * address of its X-Forwarded-For header, the one that proxy appended (nginx:
 * $proxy_add_x_forwarded_for). Entries further left were written by the client and are never
 * believed; a peer that is not listed is never believed either. */
#ifndef CQ_CLIENTADDR_H
#define CQ_CLIENTADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLIENTADDR_MAX_PROXIES 16

struct clientaddr_trust {
    size_t n;
    struct {
        bool v6;
        uint8_t addr[16];
        unsigned prefix; /* bits compared */
    } proxies[CLIENTADDR_MAX_PROXIES];
};

/* Parses list ("" : none). Returns 0, or -1 with err naming the bad entry. */
__attribute__((warn_unused_result)) int
clientaddr_trust_parse(struct clientaddr_trust *t, const char *list, char *err, size_t errlen);

/* Writes the address a request counts against into out: peer (text), or, when peer is a
 * trusted proxy and xff (may be NULL) ends with a valid address, that address. */
void clientaddr_resolve(const struct clientaddr_trust *t, const char *peer, const char *xff,
                        char *out, size_t outlen);

#endif
