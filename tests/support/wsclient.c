/* wsclient.c — blocking RFC 6455 client for tests; see wsclient.h. */
#include "wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_HEADER 8192

/* ---- SHA-1, only for Sec-WebSocket-Accept (libsodium has none) ---------- */

static uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const uint8_t b[64])
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (bb & c) | (~bb & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = bb ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (bb & c) | (bb & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = bb ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol32(bb, 30);
        bb = a;
        a = t;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static void sha1(uint8_t out[20], const uint8_t *data, size_t len)
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    uint8_t block[64];
    size_t off = 0;
    for (; off + 64 <= len; off += 64)
        sha1_block(h, data + off);
    size_t rest = len - off;
    memset(block, 0, sizeof block);
    memcpy(block, data + off, rest);
    block[rest] = 0x80;
    if (rest >= 56) {
        sha1_block(h, block);
        memset(block, 0, sizeof block);
    }
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        block[63 - i] = (uint8_t)(bits >> (8 * i));
    sha1_block(h, block);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

/* ---- time and sockets ---------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline)
{
    int64_t r = deadline - now_ms();
    return r < 0 ? 0 : (int)r;
}

/* The local IPv4 address new connections bind to (tests that need clients
 * from several addresses use 127.0.0.x); 0 = let the kernel choose. Per
 * thread, so that a driver with a thread per client (tests/cluster) gives each
 * its own address; a single-threaded test sees no difference. */
static _Thread_local in_addr_t source_addr;

int ws_set_source_address(const char *ipv4)
{
    if (!ipv4) {
        source_addr = 0;
        return 0;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, ipv4, &a) != 1)
        return -EINVAL;
    source_addr = a.s_addr;
    return 0;
}

static int tcp_connect(const char *host, int port, int timeout_ms)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    if (getaddrinfo(host, ports, &hints, &res) != 0 || !res)
        return -EHOSTUNREACH;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return -errno;
    }
    if (source_addr && res->ai_family == AF_INET) {
        struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr.s_addr = source_addr};
        if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
            int e = -errno;
            freeaddrinfo(res);
            close(fd);
            return e;
        }
    }
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0 && errno != EINPROGRESS) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if (rc < 0) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, timeout_ms) <= 0) {
            close(fd);
            return -ETIMEDOUT;
        }
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            close(fd);
            return -err;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Writes all of buf, waiting at most timeout_ms in total. */
static int write_all(int fd, const void *buf, size_t len, int timeout_ms)
{
    const uint8_t *p = buf;
    int64_t deadline = now_ms() + timeout_ms;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int r = poll(&pf, 1, remaining_ms(deadline));
            if (r == 0)
                return -ETIMEDOUT;
            continue;
        }
        return n < 0 ? -errno : -EIO;
    }
    return 0;
}

static void set_linger_zero(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

/* Appends up to what is readable to c->in, waiting until deadline. Returns the
 * byte count, 0 at end of stream, -ETIMEDOUT or -errno. */
static int fill(struct ws_conn *c, int64_t deadline)
{
    if (c->eof)
        return 0;
    if (c->in_cap - c->in_len < 4096) {
        size_t ncap = c->in_cap ? c->in_cap * 2 : 16384;
        if (ncap > WS_MAX_MESSAGE * 2 + 65536)
            return -EMSGSIZE;
        uint8_t *n = realloc(c->in, ncap);
        if (!n)
            return -ENOMEM;
        c->in = n;
        c->in_cap = ncap;
    }
    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            return (int)n;
        }
        if (n == 0) {
            c->eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == ECONNRESET) {
            c->eof = true;
            return 0;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        int r = poll(&pf, 1, remaining_ms(deadline));
        if (r == 0)
            return -ETIMEDOUT;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

static void consume(struct ws_conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

/* ---- handshake ----------------------------------------------------------- */

/* Finds header name (case-insensitive) in the response head; copies its value. */
static bool header_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = strstr(head, "\r\n");
    while (p) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t l = e ? (size_t)(e - v) : strlen(v);
            while (l > 0 && (v[l - 1] == ' ' || v[l - 1] == '\t'))
                l--;
            if (l >= cap)
                l = cap - 1;
            memcpy(out, v, l);
            out[l] = 0;
            return true;
        }
        p = strstr(p, "\r\n");
    }
    return false;
}

static int parse_status(const char *head)
{
    int major, minor, status;
    if (sscanf(head, "HTTP/%d.%d %d", &major, &minor, &status) != 3)
        return 0;
    return status;
}

int ws_connect(struct ws_conn **out, const char *host, int port, const char *path,
               const char *subprotocol, const char *extra_headers, int *status, int timeout_ms)
{
    *out = NULL;
    if (status)
        *status = 0;
    if (sodium_init() < 0)
        return -EIO;
    int64_t deadline = now_ms() + timeout_ms;
    int fd = tcp_connect(host, port, timeout_ms);
    if (fd < 0)
        return fd;
    struct ws_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    c->fd = fd;
    c->close_code = -1;

    uint8_t nonce[16];
    char key[32];
    randombytes_buf(nonce, sizeof nonce);
    sodium_bin2base64(key, sizeof key, nonce, sizeof nonce, sodium_base64_VARIANT_ORIGINAL);

    char req[WS_MAX_HEADER];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s%s%s\r\n",
                     path, host, port, key, subprotocol ? "Sec-WebSocket-Protocol: " : "",
                     subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "",
                     extra_headers ? extra_headers : "");
    int rc = (n < 0 || (size_t)n >= sizeof req) ? -ENOSPC : write_all(fd, req, (size_t)n, timeout_ms);
    if (rc < 0)
        goto fail;

    /* Read until the end of the response head; later bytes are frames. */
    char *end = NULL;
    while (!end) {
        rc = fill(c, deadline);
        if (rc < 0)
            goto fail;
        if (rc == 0 && c->in_len == 0) {
            rc = -ECONNREFUSED;
            goto fail;
        }
        end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end && (rc == 0 || c->in_len > WS_MAX_HEADER)) {
            rc = -EPROTO;
            goto fail;
        }
    }
    size_t head_len = (size_t)(end - (char *)c->in) + 4;
    char head[WS_MAX_HEADER + 1];
    memcpy(head, c->in, head_len);
    head[head_len] = 0;
    consume(c, head_len);
    c->http_status = parse_status(head);
    if (status)
        *status = c->http_status;
    if (c->http_status != 101) {
        rc = -ECONNREFUSED;
        goto fail;
    }

    char accept[64], expect[64];
    char cat[128];
    uint8_t digest[20];
    snprintf(cat, sizeof cat, "%s%s", key, WS_GUID);
    sha1(digest, (const uint8_t *)cat, strlen(cat));
    sodium_bin2base64(expect, sizeof expect, digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL);
    if (!header_value(head, "Sec-WebSocket-Accept", accept, sizeof accept) ||
        strcmp(accept, expect) != 0) {
        rc = -EPROTO;
        goto fail;
    }
    if (!header_value(head, "Sec-WebSocket-Protocol", c->subprotocol, sizeof c->subprotocol))
        c->subprotocol[0] = 0;
    if (subprotocol && strcmp(c->subprotocol, subprotocol) != 0) {
        rc = -EPROTO;
        goto fail;
    }
    *out = c;
    return 0;
fail:
    ws_free(c);
    return rc;
}

/* ---- frames -------------------------------------------------------------- */

/* Encodes a masked client frame into a fresh buffer; *outlen gets its size. */
static uint8_t *frame_encode(int opcode, bool fin, const void *data, size_t len, size_t *outlen)
{
    size_t hl = 2 + (len < 126 ? 0 : len <= 0xFFFF ? 2 : 8) + 4;
    uint8_t *f = malloc(hl + len + 1);
    if (!f)
        return NULL;
    size_t i = 0;
    f[i++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    if (len < 126) {
        f[i++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xFFFF) {
        f[i++] = 0x80 | 126;
        f[i++] = (uint8_t)(len >> 8);
        f[i++] = (uint8_t)len;
    } else {
        f[i++] = 0x80 | 127;
        for (int s = 7; s >= 0; s--)
            f[i++] = (uint8_t)((uint64_t)len >> (8 * s));
    }
    uint8_t mask[4];
    randombytes_buf(mask, sizeof mask);
    memcpy(f + i, mask, 4);
    i += 4;
    const uint8_t *d = data;
    for (size_t k = 0; k < len; k++)
        f[i + k] = d[k] ^ mask[k & 3];
    *outlen = i + len;
    return f;
}

int ws_send_frame(struct ws_conn *c, int opcode, bool fin, const void *data, size_t len)
{
    size_t flen;
    uint8_t *f = frame_encode(opcode, fin, data, len, &flen);
    if (!f)
        return -ENOMEM;
    int rc = write_all(c->fd, f, flen, 5000);
    free(f);
    return rc;
}

int ws_send(struct ws_conn *c, int opcode, const void *data, size_t len)
{
    return ws_send_frame(c, opcode, true, data, len);
}

int ws_send_fragmented(struct ws_conn *c, int opcode, const void *data, size_t len, size_t frag)
{
    const uint8_t *p = data;
    size_t off = 0;
    if (frag == 0)
        return -EINVAL;
    do {
        size_t n = len - off < frag ? len - off : frag;
        bool fin = off + n == len;
        int rc = ws_send_frame(c, off == 0 ? opcode : WS_OP_CONT, fin, p + off, n);
        if (rc < 0)
            return rc;
        off += n;
    } while (off < len);
    return 0;
}

int ws_send_raw(struct ws_conn *c, const void *bytes, size_t len)
{
    return write_all(c->fd, bytes, len, 5000);
}

void ws_abort(struct ws_conn *c)
{
    if (c->fd >= 0) {
        set_linger_zero(c->fd);
        close(c->fd);
        c->fd = -1;
    }
    c->eof = true;
}

int ws_send_partial_and_abort(struct ws_conn *c, int opcode, const void *data, size_t len,
                              size_t cut)
{
    size_t flen;
    uint8_t *f = frame_encode(opcode, true, data, len, &flen);
    if (!f)
        return -ENOMEM;
    int rc = write_all(c->fd, f, cut < flen ? cut : flen, 5000);
    free(f);
    /* Give the server a moment to read the partial frame before the reset, so
     * it really holds half a frame when the connection dies. */
    usleep(50 * 1000);
    ws_abort(c);
    return rc;
}

/* Parses one frame from c->in. Returns 1 and fills the out-params when a whole
 * frame is there, 0 when more bytes are needed, -EPROTO / -EMSGSIZE. */
static int frame_parse(struct ws_conn *c, int *op, bool *fin, uint8_t **payload, size_t *plen,
                       size_t *total)
{
    if (c->in_len < 2)
        return 0;
    uint8_t b0 = c->in[0], b1 = c->in[1];
    if (b0 & 0x70)
        return -EPROTO; /* no extension was negotiated */
    size_t i = 2;
    uint64_t len = b1 & 0x7F;
    if (len == 126) {
        if (c->in_len < 4)
            return 0;
        len = (uint64_t)c->in[2] << 8 | c->in[3];
        i = 4;
    } else if (len == 127) {
        if (c->in_len < 10)
            return 0;
        len = 0;
        for (int k = 0; k < 8; k++)
            len = len << 8 | c->in[2 + k];
        i = 10;
    }
    if (len > WS_MAX_MESSAGE)
        return -EMSGSIZE;
    bool masked = b1 & 0x80;
    uint8_t mask[4] = {0};
    if (masked) {
        if (c->in_len < i + 4)
            return 0;
        memcpy(mask, c->in + i, 4);
        i += 4;
    }
    if (c->in_len < i + len)
        return 0;
    if (masked)
        for (size_t k = 0; k < len; k++)
            c->in[i + k] ^= mask[k & 3];
    *op = b0 & 0x0F;
    *fin = b0 & 0x80;
    *payload = c->in + i;
    *plen = (size_t)len;
    *total = i + (size_t)len;
    return 1;
}

static int msg_append(struct ws_conn *c, const uint8_t *p, size_t n)
{
    if (c->msg_len + n > WS_MAX_MESSAGE)
        return -EMSGSIZE;
    if (c->msg_len + n > c->msg_cap) {
        size_t ncap = c->msg_cap ? c->msg_cap : 8192;
        while (ncap < c->msg_len + n)
            ncap *= 2;
        uint8_t *m = realloc(c->msg, ncap);
        if (!m)
            return -ENOMEM;
        c->msg = m;
        c->msg_cap = ncap;
    }
    memcpy(c->msg + c->msg_len, p, n);
    c->msg_len += n;
    return 0;
}

int ws_recv(struct ws_conn *c, int *opcode, void *buf, size_t cap, size_t *len, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int op;
        bool fin;
        uint8_t *p;
        size_t plen, total;
        int r = frame_parse(c, &op, &fin, &p, &plen, &total);
        if (r < 0)
            return r;
        if (r == 0) {
            if (c->close_code >= 0)
                return -ESHUTDOWN;
            if (c->eof)
                return -ECONNRESET;
            int f = fill(c, deadline);
            if (f < 0)
                return f;
            if (f == 0 && c->eof && c->close_code < 0)
                return -ECONNRESET;
            continue;
        }
        if (op >= 0x8) {
            if (!fin || plen > 125)
                return -EPROTO;
            if (op == WS_OP_PING) {
                c->pings++;
                int rc = c->close_sent ? 0 : ws_send(c, WS_OP_PONG, p, plen);
                consume(c, total);
                if (rc < 0)
                    return rc;
            } else if (op == WS_OP_CLOSE) {
                c->close_code = plen >= 2 ? (p[0] << 8 | p[1]) : 1005;
                size_t rl = plen > 2 ? plen - 2 : 0;
                if (rl >= sizeof c->close_reason)
                    rl = sizeof c->close_reason - 1;
                memcpy(c->close_reason, p + 2, rl);
                c->close_reason[rl] = 0;
                consume(c, total);
                if (!c->close_sent) {
                    uint8_t echo[2] = {(uint8_t)(c->close_code >> 8), (uint8_t)c->close_code};
                    /* 1005 must not be sent on the wire: answer with an empty close. */
                    ws_send(c, WS_OP_CLOSE, echo, c->close_code == 1005 ? 0 : 2);
                    c->close_sent = true;
                }
                return -ESHUTDOWN;
            } else {
                consume(c, total); /* pong or reserved: nothing to do */
            }
            continue;
        }
        if (op == WS_OP_CONT && c->msg_op == 0)
            return -EPROTO;
        if (op != WS_OP_CONT && c->msg_op != 0)
            return -EPROTO;
        if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY)
            return -EPROTO;
        if (op != WS_OP_CONT) {
            c->msg_op = op;
            c->msg_len = 0;
        }
        int rc = msg_append(c, p, plen);
        consume(c, total);
        if (rc < 0)
            return rc;
        if (!fin)
            continue;
        int mop = c->msg_op;
        c->msg_op = 0;
        if (c->msg_len > cap)
            return -EMSGSIZE;
        memcpy(buf, c->msg, c->msg_len);
        if (c->msg_len < cap)
            ((uint8_t *)buf)[c->msg_len] = 0;
        *opcode = mop;
        *len = c->msg_len;
        return 0;
    }
}

int ws_wait_close(struct ws_conn *c, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    static uint8_t sink[WS_MAX_MESSAGE];
    for (;;) {
        int op;
        size_t len;
        int rc = ws_recv(c, &op, sink, sizeof sink, &len, remaining_ms(deadline));
        if (rc == 0 || rc == -EMSGSIZE)
            continue;
        if (rc == -ESHUTDOWN)
            return c->close_code;
        if (rc == -ECONNRESET)
            return 0;
        if (rc == -ETIMEDOUT)
            return rc;
        return rc == -EPROTO ? 0 : rc;
    }
}

int ws_close(struct ws_conn *c, uint16_t code, int timeout_ms)
{
    if (!c->close_sent && c->fd >= 0) {
        uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        ws_send(c, WS_OP_CLOSE, b, 2);
        c->close_sent = true;
    }
    if (c->close_code >= 0)
        return c->close_code;
    return ws_wait_close(c, timeout_ms);
}

void ws_free(struct ws_conn *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    free(c->msg);
    free(c);
}

/* ---- plain HTTP ---------------------------------------------------------- */

/* Decodes a chunked body in place; returns its length or -EPROTO. */
static int dechunk(char *body, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *eol = memmem(body + in, len - in, "\r\n", 2);
        if (!eol)
            return -EPROTO;
        unsigned long n = strtoul(body + in, NULL, 16);
        in = (size_t)(eol - body) + 2;
        if (n == 0)
            return (int)out;
        if (in + n > len)
            return -EPROTO;
        memmove(body + out, body + in, n);
        out += n;
        in += n + 2;
        if (in > len)
            return -EPROTO;
    }
}

int http_raw(const char *host, int port, const char *request, size_t len, int *status,
             char *resp, size_t cap, int timeout_ms)
{
    *status = 0;
    resp[0] = 0;
    int fd = tcp_connect(host, port, timeout_ms);
    if (fd < 0)
        return fd;
    int64_t deadline = now_ms() + timeout_ms;
    int rc = write_all(fd, request, len, timeout_ms);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    size_t got = 0;
    for (;;) {
        if (got + 1 >= cap)
            break;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = poll(&pf, 1, remaining_ms(deadline));
        if (r <= 0)
            break;
        ssize_t n = recv(fd, resp + got, cap - 1 - got, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        resp[got] = 0;
        char *he = strstr(resp, "\r\n\r\n");
        char cl[32];
        if (he && header_value(resp, "Content-Length", cl, sizeof cl) &&
            got >= (size_t)(he + 4 - resp) + strtoul(cl, NULL, 10))
            break;
        if (he && strstr(he, "\r\n0\r\n\r\n"))
            break; /* end of a chunked body */
    }
    close(fd);
    resp[got] = 0;
    *status = parse_status(resp);
    return got == 0 ? -ETIMEDOUT : 0;
}

int http_get(const char *host, int port, const char *path, int *status, char *body, size_t cap)
{
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                     path, host, port);
    if (n < 0 || (size_t)n >= sizeof req)
        return -ENOSPC;
    size_t rcap = cap + 4096;
    char *resp = malloc(rcap);
    if (!resp)
        return -ENOMEM;
    int rc = http_raw(host, port, req, (size_t)n, status, resp, rcap, 5000);
    if (rc < 0) {
        free(resp);
        return rc;
    }
    char *he = strstr(resp, "\r\n\r\n");
    if (!he || *status == 0) {
        free(resp);
        return -EPROTO;
    }
    char *b = he + 4;
    size_t blen = strlen(b);
    char te[64];
    if (header_value(resp, "Transfer-Encoding", te, sizeof te) && strcasecmp(te, "chunked") == 0) {
        int d = dechunk(b, blen);
        blen = d < 0 ? 0 : (size_t)d;
    }
    if (blen >= cap)
        blen = cap - 1;
    memcpy(body, b, blen);
    body[blen] = 0;
    free(resp);
    return 0;
}
