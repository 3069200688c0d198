/* auth: the command API's bearer token.
 *
 * When COMMAND_API_TOKEN is set, a request for a command route needs "Authorization: Bearer
 * <token>" unless it is public: every GET and HEAD (/health, the mood page and its files) and
 * POST /api/moods (the mood page runs in any visitor's browser, which cannot keep a secret; a
 * mood is one counter step). The dashboard's dead-letter actions (/api/dead-letters/...) check
 * the token in their handlers instead, so that their 401 carries the CORS headers
 * (deadletters.h). Each route says which it is (its access in routes.c, lib/http/router.h), and
 * the request's one match tells the hook. Without the right token such a request is 401
 * unauthorized with "WWW-Authenticate: Bearer", decided from the headers before the body is read
 * (lib/http/http's authorize hook). A request that matches no route is answered 404 or 405 as
 * without authentication (the routes are documented; nothing runs). The token is compared in
 * constant time and never logged. */
#ifndef CQ_COMMAND_AUTH_H
#define CQ_COMMAND_AUTH_H

#include "http/api_error.h"
#include "http/http.h"
#include "http/router.h"

#include <stdbool.h>
#include <stddef.h>

/* How the command API treats tokens, decided once at start from HTTP_BIND_ADDRESS,
 * COMMAND_API_TOKEN and COMMAND_API_AUTH (auto | off), the way RabbitMQ treats its guest user:
 * convenient where only this machine can connect, closed anywhere else. */
enum auth_mode {
    AUTH_TOKEN,  /* a token is set: every non-public command needs it */
    AUTH_LOCAL,  /* no token, bound to a loopback address: commands need none */
    AUTH_OFF,    /* COMMAND_API_AUTH=off: no check anywhere (logged as a warning) */
    AUTH_REFUSE, /* bound beyond loopback without a token and without auth=off: do not start */
};

/* Whether addr (an IPv4 or IPv6 literal, or "localhost") is a loopback address: 127.0.0.0/8,
 * ::1 or localhost. */
bool auth_is_loopback(const char *addr);

/* The mode for these settings (auth: "auto" or "off"; token "" when unset). */
enum auth_mode auth_mode_for(const char *bind_address, const char *token, const char *auth);

/* Whether the request matched to m needs the token: its route (m->route) says ROUTE_TOKEN. */
bool auth_required(const struct route_match *m);

/* Whether method + path is served without a token: any read (GET or HEAD: no route protects
 * one), else what its route in command_routes says (public, or checked by the handler). */
bool auth_is_public(const char *method, const char *path);

/* Compares a and b in time that depends on b_len only (b is the secret): no early exit at the
 * first differing byte. */
bool auth_token_equal(const char *a, size_t a_len, const char *b, size_t b_len);

/* Whether token can be a bearer token: 1..1024 visible ASCII characters (no spaces). */
bool auth_token_valid(const char *token);

/* Checks the Authorization header values (count: how many were sent, header: the first, NULL
 * when none) against token. Returns 0, or -1 with err (401 unauthorized). */
int auth_check(unsigned count, const char *header, const char *token, struct api_error *err);

/* lib/http/http's authorize hook for the command API (ctx: the apiserver_ctx; its ext the struct
 * command_config): auth_check when the token is set and auth_required(req->match). */
int auth_authorize(void *ctx, const struct http_request *req, struct api_error *err);

#endif
