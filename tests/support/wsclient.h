/* wsclient.h — a small blocking WebSocket client (RFC 6455) over plain TCP, for
 * tests and the load generator.
 *
 * Everything blocks with a timeout (poll); nothing is threaded. Besides the
 * well-behaved path (handshake, masked frames, reassembly of fragments, ping ->
 * pong, close handshake) it offers raw helpers that break the rules on purpose,
 * so tests can show the server survives bad input: arbitrary bytes, a frame cut
 * off and the connection reset, fragments, any opcode. All functions return 0 or
 * a negative errno-style code. */
#ifndef LOTSE_TEST_WSCLIENT_H
#define LOTSE_TEST_WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xA

/* Largest message ws_recv reassembles; a bigger one is a test failure, not a
 * reason to grow without bound. */
#define WS_MAX_MESSAGE (256 * 1024)

struct ws_conn {
    int fd;
    int http_status;       /* status line of the handshake answer (101 when upgraded) */
    char subprotocol[64];  /* Sec-WebSocket-Protocol the server chose, "" if none */
    int close_code;        /* code of the close frame received: -1 none yet, 1005 no code */
    char close_reason[128];
    bool close_sent;       /* we sent a close frame */
    bool eof;              /* the TCP stream ended */
    uint8_t *in;           /* raw bytes read and not yet parsed */
    size_t in_len, in_cap;
    uint8_t *msg;          /* fragments of the message being reassembled */
    size_t msg_len, msg_cap;
    int msg_op;            /* opcode of that message, 0 when none is open */
    uint64_t pings;        /* pings answered, for tests */
};

/* Makes every later connection of this thread bind to the local IPv4 address
 * ipv4 (e.g. "127.0.0.7", to act as another client address), or NULL for the
 * default. 0 or -EINVAL. */
int ws_set_source_address(const char *ipv4);

/* Connects to host:port, upgrades path with the given subprotocol (NULL: no
 * Sec-WebSocket-Protocol header) and extra header lines (NULL or "Name: v\r\n"...).
 * On 0 *out is an open connection (free with ws_free). When the server answers
 * anything but 101, returns -ECONNREFUSED and, if status is not NULL, stores the
 * HTTP status there (0 when there was no answer). Other errors: -ETIMEDOUT,
 * -EPROTO (bad Sec-WebSocket-Accept or subprotocol), -errno of the socket. */
int ws_connect(struct ws_conn **out, const char *host, int port, const char *path,
               const char *subprotocol, const char *extra_headers, int *status, int timeout_ms);

/* Sends one complete masked frame (FIN set). */
int ws_send(struct ws_conn *c, int opcode, const void *data, size_t len);

/* Sends one masked frame with the FIN bit as given (opcode WS_OP_CONT for a
 * continuation): the building block for fragmentation and broken sequences. */
int ws_send_frame(struct ws_conn *c, int opcode, bool fin, const void *data, size_t len);

/* Sends data as a message of opcode split into frames of at most frag bytes. */
int ws_send_fragmented(struct ws_conn *c, int opcode, const void *data, size_t len, size_t frag);

/* Sends bytes as they are, no framing. */
int ws_send_raw(struct ws_conn *c, const void *bytes, size_t len);

/* Encodes a masked frame, sends only its first cut bytes and then resets the
 * connection (RST, SO_LINGER 0). The connection is unusable afterwards. */
int ws_send_partial_and_abort(struct ws_conn *c, int opcode, const void *data, size_t len,
                              size_t cut);

/* Resets the connection at once (RST, SO_LINGER 0). */
void ws_abort(struct ws_conn *c);

/* Receives the next data message (text or binary), answering pings and
 * reassembling fragments. On 0 stores the opcode and the length; the message is
 * copied into buf (NUL-terminated when there is room). Returns -ETIMEDOUT,
 * -ESHUTDOWN (close frame received: see close_code; our reply was sent),
 * -ECONNRESET (stream ended without close frame), -EMSGSIZE (message > cap),
 * -EPROTO (the server broke RFC 6455). */
int ws_recv(struct ws_conn *c, int *opcode, void *buf, size_t cap, size_t *len, int timeout_ms);

/* Sends a close frame with code (and no reason) and waits for the server's close
 * frame or the end of the stream. Returns the server's close code, 1005 when its
 * frame carried none, 0 if the stream ended without one, or -ETIMEDOUT. */
int ws_close(struct ws_conn *c, uint16_t code, int timeout_ms);

/* Reads and discards messages until the server closes. Returns its close code,
 * 0 for a stream that ended without a close frame, or -ETIMEDOUT. */
int ws_wait_close(struct ws_conn *c, int timeout_ms);

/* Closes the socket and frees c (NULL is fine). */
void ws_free(struct ws_conn *c);

/* GET path over HTTP/1.1 (Connection: close). On 0 stores the status and the
 * body (NUL-terminated, truncated to cap - 1). */
int http_get(const char *host, int port, const char *path, int *status, char *body, size_t cap);

/* Sends request as it is and reads the answer until the peer closes, the
 * headers plus Content-Length are in, or timeout. Stores the status (0 if none)
 * and the whole answer (NUL-terminated, truncated). Returns 0, -ETIMEDOUT when
 * nothing came, or -errno of the socket. */
int http_raw(const char *host, int port, const char *request, size_t len, int *status,
             char *resp, size_t cap, int timeout_ms);

#endif
