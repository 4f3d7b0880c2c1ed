/* wsproxy.c — a WebSocket-aware man in the middle for tests; see wsproxy.h. */
#include "wsproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BUF (1024 * 1024)

struct outframe {
    struct outframe *next;
    int dir;
    size_t len;
    uint8_t data[];
};

/* Bytes read from one side and not yet handled. */
struct side {
    int fd;
    uint8_t *in;
    size_t in_len, in_cap;
    bool http_done; /* the upgrade request / answer has passed */
};

struct wsproxy {
    int listen_fd, port;
    char host[64];
    int upstream_port;
    int wake[2];
    pthread_t thread;
    pthread_mutex_t lock;
    bool stop;
    wsproxy_rule rule;
    void *arg;
    /* sides[WSPROXY_TO_SERVER] is what the client sends (it goes to the server). */
    struct side from[2];
    struct outframe *inject_head, *inject_tail;
    uint8_t *held[2];
    size_t held_len[2];
};

static void side_reset(struct side *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->in_len = 0;
    s->http_done = false;
}

static int write_all(int fd, const uint8_t *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -EPIPE;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The fd that frames travelling in dir are written to. */
static int dest_fd(struct wsproxy *p, int dir)
{
    return dir == WSPROXY_TO_SERVER ? p->from[WSPROXY_TO_CLIENT].fd : p->from[WSPROXY_TO_SERVER].fd;
}

/* Encodes and writes one frame: masked (key 0x5a, 0xa5, 0x3c, 0xc3) towards the
 * server, as RFC 6455 requires of a client, unmasked towards the client. */
static int send_frame(struct wsproxy *p, int dir, int fin_op, const uint8_t *data, size_t len)
{
    static const uint8_t key[4] = {0x5a, 0xa5, 0x3c, 0xc3};
    uint8_t hdr[14];
    size_t h = 0;
    bool mask = dir == WSPROXY_TO_SERVER;
    int fd = dest_fd(p, dir);
    if (fd < 0)
        return -ENOTCONN;
    hdr[h++] = (uint8_t)fin_op;
    if (len < 126) {
        hdr[h++] = (uint8_t)((mask ? 0x80 : 0) | len);
    } else if (len < 65536) {
        hdr[h++] = (uint8_t)((mask ? 0x80 : 0) | 126);
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else {
        hdr[h++] = (uint8_t)((mask ? 0x80 : 0) | 127);
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (mask) {
        memcpy(hdr + h, key, 4);
        h += 4;
    }
    uint8_t *body = malloc(len ? len : 1);
    if (!body)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++)
        body[i] = mask ? data[i] ^ key[i & 3] : data[i];
    int rc = write_all(fd, hdr, h);
    if (rc == 0)
        rc = write_all(fd, body, len);
    free(body);
    return rc;
}

static void flush_injected(struct wsproxy *p)
{
    while (p->inject_head) {
        struct outframe *f = p->inject_head;
        p->inject_head = f->next;
        if (!p->inject_head)
            p->inject_tail = NULL;
        send_frame(p, f->dir, 0x80 | 0x2, f->data, f->len);
        free(f);
    }
}

void wsproxy_inject(struct wsproxy *p, int dir, const uint8_t *data, size_t len)
{
    struct outframe *f = malloc(sizeof *f + len);
    if (!f)
        return;
    f->next = NULL;
    f->dir = dir;
    f->len = len;
    memcpy(f->data, data, len);
    pthread_mutex_lock(&p->lock);
    if (p->inject_tail)
        p->inject_tail->next = f;
    else
        p->inject_head = f;
    p->inject_tail = f;
    pthread_mutex_unlock(&p->lock);
    ssize_t w = write(p->wake[1], "x", 1);
    (void)w;
}

/* One complete binary message in dir: the rule decides. */
static void handle_binary(struct wsproxy *p, int dir, uint8_t *data, size_t len)
{
    enum wsproxy_verdict v = WSPROXY_PASS;
    if (p->rule)
        v = p->rule(p->arg, dir, data, &len);
    if (v == WSPROXY_DROP)
        return;
    if (v == WSPROXY_HOLD) {
        free(p->held[dir]);
        p->held[dir] = malloc(len ? len : 1);
        if (p->held[dir])
            memcpy(p->held[dir], data, len);
        p->held_len[dir] = len;
        return;
    }
    send_frame(p, dir, 0x80 | 0x2, data, len);
    if (p->held[dir]) {
        send_frame(p, dir, 0x80 | 0x2, p->held[dir], p->held_len[dir]);
        free(p->held[dir]);
        p->held[dir] = NULL;
    }
}

/* Handles what side s (travelling in dir) has buffered: the HTTP part passes
 * as it is, then whole frames. Returns 0, or <0 to close the pair. */
static int pump(struct wsproxy *p, int dir)
{
    struct side *s = &p->from[dir];
    size_t off = 0;
    if (!s->http_done) {
        uint8_t *end = memmem(s->in, s->in_len, "\r\n\r\n", 4);
        if (!end)
            return s->in_len > 16384 ? -EPROTO : 0;
        off = (size_t)(end - s->in) + 4;
        if (write_all(dest_fd(p, dir), s->in, off) < 0)
            return -EPIPE;
        s->http_done = true;
    }
    for (;;) {
        uint8_t *b = s->in + off;
        size_t n = s->in_len - off;
        if (n < 2)
            break;
        int fin_op = b[0];
        bool masked = b[1] & 0x80;
        uint64_t len = b[1] & 0x7f;
        size_t h = 2;
        if (len == 126) {
            if (n < 4)
                break;
            len = (uint64_t)b[2] << 8 | b[3];
            h = 4;
        } else if (len == 127) {
            if (n < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | b[2 + i];
            h = 10;
        }
        if (len > MAX_BUF)
            return -EMSGSIZE;
        uint8_t key[4] = {0};
        if (masked) {
            if (n < h + 4)
                break;
            memcpy(key, b + h, 4);
            h += 4;
        }
        if (n < h + len)
            break;
        uint8_t *payload = b + h;
        if (masked)
            for (size_t i = 0; i < len; i++)
                payload[i] ^= key[i & 3];
        if (fin_op == (0x80 | 0x2)) {
            handle_binary(p, dir, payload, (size_t)len);
        } else if (send_frame(p, dir, fin_op, payload, (size_t)len) < 0) {
            return -EPIPE;
        }
        off += h + (size_t)len;
    }
    memmove(s->in, s->in + off, s->in_len - off);
    s->in_len -= off;
    return 0;
}

static int connect_upstream(struct wsproxy *p)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->upstream_port)};
    inet_pton(AF_INET, p->host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void close_pair(struct wsproxy *p)
{
    side_reset(&p->from[0]);
    side_reset(&p->from[1]);
    for (int d = 0; d < 2; d++) {
        free(p->held[d]);
        p->held[d] = NULL;
    }
}

static void *run(void *arg)
{
    struct wsproxy *p = arg;
    for (;;) {
        struct pollfd fds[4] = {
            {.fd = p->listen_fd, .events = POLLIN},
            {.fd = p->wake[0], .events = POLLIN},
            {.fd = p->from[0].fd, .events = POLLIN},
            {.fd = p->from[1].fd, .events = POLLIN},
        };
        if (poll(fds, 4, 200) < 0 && errno != EINTR)
            break;
        pthread_mutex_lock(&p->lock);
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        if (fds[1].revents & POLLIN) {
            char junk[64];
            ssize_t r = read(p->wake[0], junk, sizeof junk);
            (void)r;
        }
        if (fds[0].revents & POLLIN) {
            int c = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                close_pair(p);
                int u = connect_upstream(p);
                if (u < 0) {
                    close(c);
                } else {
                    int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    p->from[WSPROXY_TO_SERVER].fd = c;
                    p->from[WSPROXY_TO_CLIENT].fd = u;
                }
            }
            pthread_mutex_unlock(&p->lock);
            continue;
        }
        for (int d = 0; d < 2; d++) {
            struct side *s = &p->from[d];
            if (s->fd < 0 || !(fds[2 + d].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (s->in_cap - s->in_len < 65536) {
                size_t cap = s->in_cap ? s->in_cap * 2 : 131072;
                uint8_t *n = cap <= 2 * MAX_BUF ? realloc(s->in, cap) : NULL;
                if (!n) {
                    close_pair(p);
                    break;
                }
                s->in = n;
                s->in_cap = cap;
            }
            ssize_t r = recv(s->fd, s->in + s->in_len, s->in_cap - s->in_len, 0);
            if (r <= 0) {
                /* One side went away: so does the other, as through a real proxy. */
                close_pair(p);
                break;
            }
            s->in_len += (size_t)r;
            if (pump(p, d) < 0) {
                close_pair(p);
                break;
            }
        }
        if (p->from[0].fd >= 0)
            flush_injected(p);
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

int wsproxy_start(struct wsproxy **out, const char *host, int upstream_port, wsproxy_rule rule,
                  void *arg)
{
    struct wsproxy *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    snprintf(p->host, sizeof p->host, "%s", host);
    p->upstream_port = upstream_port;
    p->rule = rule;
    p->arg = arg;
    p->from[0].fd = p->from[1].fd = -1;
    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&p->lock, &at);
    pthread_mutexattr_destroy(&at);
    if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        free(p);
        return -errno;
    }
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    inet_pton(AF_INET, host, &a.sin_addr);
    socklen_t al = sizeof a;
    if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(p->listen_fd, 16) < 0 || getsockname(p->listen_fd, (struct sockaddr *)&a, &al) < 0) {
        int e = -errno;
        if (p->listen_fd >= 0)
            close(p->listen_fd);
        close(p->wake[0]);
        close(p->wake[1]);
        free(p);
        return e;
    }
    p->port = ntohs(a.sin_port);
    if (pthread_create(&p->thread, NULL, run, p) != 0) {
        close(p->listen_fd);
        close(p->wake[0]);
        close(p->wake[1]);
        free(p);
        return -EAGAIN;
    }
    *out = p;
    return 0;
}

int wsproxy_port(const struct wsproxy *p)
{
    return p->port;
}

void wsproxy_lock(struct wsproxy *p)
{
    pthread_mutex_lock(&p->lock);
}

void wsproxy_unlock(struct wsproxy *p)
{
    pthread_mutex_unlock(&p->lock);
}

void wsproxy_stop(struct wsproxy *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_mutex_unlock(&p->lock);
    ssize_t w = write(p->wake[1], "x", 1);
    (void)w;
    pthread_join(p->thread, NULL);
    close_pair(p);
    while (p->inject_head) {
        struct outframe *f = p->inject_head;
        p->inject_head = f->next;
        free(f);
    }
    for (int d = 0; d < 2; d++)
        free(p->from[d].in);
    close(p->listen_fd);
    close(p->wake[0]);
    close(p->wake[1]);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
