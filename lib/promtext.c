#include "promtext.h"

#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int promtext_parse_url(const char *url, char *host, size_t hostlen, char *port, size_t portlen,
                       char *path, size_t pathlen, char *err, size_t errlen)
{
    static const char scheme[] = "http://";
    const char *h, *end, *colon, *slash;
    size_t n;

    if (strncmp(url, scheme, sizeof scheme - 1) != 0) {
        snprintf(err, errlen, "\"%s\" is not an http:// URL", url);
        return -1;
    }
    h = url + sizeof scheme - 1;
    slash = strchr(h, '/');
    end = slash != NULL ? slash : h + strlen(h);
    colon = memchr(h, ':', (size_t)(end - h));
    n = (size_t)((colon != NULL ? colon : end) - h);
    if (n == 0 || n >= hostlen) {
        snprintf(err, errlen, "\"%s\" has no host, or a host too long", url);
        return -1;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    if (colon != NULL) {
        n = (size_t)(end - colon - 1);
        if (n == 0 || n >= portlen || strspn(colon + 1, "0123456789") < n) {
            snprintf(err, errlen, "\"%s\" has an invalid port", url);
            return -1;
        }
        memcpy(port, colon + 1, n);
        port[n] = '\0';
    } else {
        snprintf(port, portlen, "80");
    }
    if (snprintf(path, pathlen, "%s", slash != NULL ? slash : "/") >= (int)pathlen) {
        snprintf(err, errlen, "\"%s\" has a path too long", url);
        return -1;
    }
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes. Returns 0, or -1 on time-out. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = events};
        int r;

        if (left <= 0)
            return -1;
        r = poll(&p, 1, (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* Connects to host:port (non-blocking socket) before the deadline. Returns the fd or -1. */
static int dial(const char *host, const char *port, long long deadline, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "could not resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
            break;
        snprintf(err, errlen, "could not connect to %s:%s: %s", host, port,
                 soerr != 0             ? strerror(soerr)
                 : errno == EINPROGRESS ? "timed out"
                                        : strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int promtext_fetch(const char *url, long timeout_ms, char **body, char *err, size_t errlen)
{
    char host[256], port[16], path[512], req[1024];
    long long deadline = now_ms() + timeout_ms;
    char *buf = NULL, *sep;
    size_t len = 0, cap = 0, sent = 0;
    int fd, n, rc = -1;
    unsigned status = 0;

    *body = NULL;
    if (promtext_parse_url(url, host, sizeof host, port, sizeof port, path, sizeof path, err,
                           errlen) != 0)
        return -1;
    fd = dial(host, port, deadline, err, errlen);
    if (fd < 0)
        return -1;
    n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: text/plain\r\n\r\n", path,
                 host);
    while (sent < (size_t)n) {
        ssize_t w = send(fd, req + sent, (size_t)n - sent, MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, deadline) != 0) {
                snprintf(err, errlen, "timed out sending to %s:%s", host, port);
                goto out;
            }
        } else {
            snprintf(err, errlen, "could not send to %s:%s: %s", host, port, strerror(errno));
            goto out;
        }
    }
    for (;;) {
        ssize_t r;
        if (len + 4096 + 1 > cap) {
            cap = cap == 0 ? 16384 : cap * 2;
            buf = xrealloc(buf, cap);
        }
        r = recv(fd, buf + len, cap - len - 1, 0);
        if (r > 0) {
            len += (size_t)r;
            if (len > PROMTEXT_MAX_BODY) {
                snprintf(err, errlen, "answer from %s:%s is larger than %d bytes", host, port,
                         PROMTEXT_MAX_BODY);
                goto out;
            }
        } else if (r == 0) {
            break; /* HTTP/1.0: the server closes after the body */
        } else if (errno == EAGAIN || errno == EINTR) {
            if (wait_fd(fd, POLLIN, deadline) != 0) {
                snprintf(err, errlen, "timed out reading from %s:%s", host, port);
                goto out;
            }
        } else {
            snprintf(err, errlen, "could not read from %s:%s: %s", host, port, strerror(errno));
            goto out;
        }
    }
    if (buf == NULL) {
        snprintf(err, errlen, "empty answer from %s:%s", host, port);
        goto out;
    }
    buf[len] = '\0';
    sep = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*1[01] %3u", &status) != 1 || sep == NULL) {
        snprintf(err, errlen, "answer from %s:%s is not HTTP", host, port);
        goto out;
    }
    if (status != 200) {
        snprintf(err, errlen, "%s answered %u", url, status);
        goto out;
    }
    sep += 4;
    memmove(buf, sep, len - (size_t)(sep - buf) + 1);
    *body = buf;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

int promtext_value(const char *text, const char *name, double *value)
{
    size_t n = strlen(name);
    const char *line = text;

    while (line != NULL && *line != '\0') {
        if (strncmp(line, name, n) == 0 && (line[n] == ' ' || line[n] == '\t')) {
            char *end;
            double v = strtod(line + n + 1, &end);
            if (end == line + n + 1)
                return -1;
            *value = v;
            return 0;
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return -1;
}
