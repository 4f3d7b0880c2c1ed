/* conn.h — one WebSocket connection: receive reassembly, bounded send queue,
 * keepalive and closing. The connection layer knows no role: a role tags the
 * connection (conn_set_role) with its operations, and the layer calls through
 * them; whole messages go to the receiver the upper layer registered
 * (conn_set_receiver). The struct is libwebsockets' per-session user data, so
 * it is allocated and zeroed by lws and dies in LWS_CALLBACK_CLOSED. */
#ifndef LOTSE_CONN_H
#define LOTSE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libwebsockets.h>

#include "list.h"
#include "ratelimit.h"

struct lws;
struct hub;
struct session;
struct counsellor;
struct login;
struct mail_conn;
struct feedback_wait;
struct outmsg;
struct lotse_jw;
struct lotse_json_msg;

/* The tag the message table routes by; set only through conn_set_role. */
/* ROLE_ENDED: a young person's connection after the end of a chat, open for
 * the one anonymous question (young_feedback.c). */
enum conn_role { ROLE_NONE, ROLE_YOUNG, ROLE_COUNSELLOR, ROLE_SUPERVISOR, ROLE_MAIL, ROLE_ENDED };

struct conn;

/* What a role does when the connection layer's events reach it. Static
 * tables owned by the role's module. */
struct conn_ops {
    const char *name;
    /* the connection is gone (LWS_CALLBACK_CLOSED): after the connection layer
     * let go of its lists, before the send queue is dropped (a role may keep
     * the queue for a resume) */
    void (*closed)(struct conn *c);
};

/* Receives one whole message of c (text: valid UTF-8 and within the control
 * rate). */
typedef void conn_receive_fn(struct conn *c, bool binary, const uint8_t *data, size_t len);

struct conn {
    struct lws *wsi;
    struct hub *hub;
    enum conn_role role;
    const struct conn_ops *ops; /* the role's, or NULL before hello/login */
    /* work in flight for the connection that must let go of it when it closes
     * (a login on a worker); set by that work's module, called once */
    void (*cancel)(struct conn *c);
    int64_t connected_ms;

    /* receive: a message longer than one lws chunk is gathered here */
    uint8_t *rx;
    size_t rx_len;
    bool rx_in_msg;
    bool rx_binary;
    bool rx_mail;  /* a MAIL frame (kind 3): up to LOTSE_MAIL_FRAME_MAX, large pool */
    bool rx_large; /* rx is from the large pool (rxbuf_get_large) */
    bool rx_drop;  /* no large buffer was free: the rest of this message is dropped */

    /* send queue */
    struct outmsg *sq_head, *sq_tail;
    uint32_t sq_count;
    size_t sq_bytes;

    bool closing;        /* close once the send queue is written */
    bool peer_closed;    /* the peer sent a close frame: it left on purpose */
    uint16_t peer_close_code; /* its code (1005 when it had none) */
    uint16_t close_code;
    /* to be closed from the tick once kill_deadline_ms is past (a slow reader:
     * it may never become writable, and lws's own async kill timer is
     * unreliable on libev); until then its close frame may still get out */
    struct list_link kill_link; /* on hub->kill_list */
    int64_t kill_deadline_ms;
    const char *kill_reason; /* a close frame to write first (static text) */
    bool kill_frame_due;     /* ... at the next WRITEABLE */
    bool kill_frame_sent;    /* written: the next WRITEABLE closes */

    int64_t last_rx_ms; /* anything received, pongs included */
    bool ping_due;      /* a ping goes out at the next WRITEABLE */
    struct list_link all_link; /* on hub->all_conns: every open connection (keepalive) */

    int protocol_errors;
    int rate_rejects;
    struct bucket control_bucket;
    struct bucket relay_bucket;
    struct bucket relay_bytes_bucket;
    uint8_t source[RATELIMIT_SOURCE_BYTES];
    bool source_counted; /* counted against max_connections_per_source */

    /* admission work (PROTOCOL.md §4.1.1): the one open challenge */
    uint8_t pow_seed[16];
    uint8_t pow_bits;
    int64_t pow_issued_ms;

    /* connections that have not said hello/login yet, oldest first */
    struct list_link pending_link; /* on hub->pending */
    /* a fan-out message waits here for its turn to ask for WRITEABLE */
    struct list_link bulk_link; /* on hub->bulk */
    /* counsellors and supervisors, who receive queue summaries */
    struct list_link staff_link; /* on hub->staff */

    struct session *session;       /* ROLE_YOUNG */
    struct counsellor *counsellor; /* ROLE_COUNSELLOR */
    int staff_org_id;              /* a counsellor's or supervisor's organisation (login) */
    struct login *login;           /* a login in progress */
    struct mail_conn *mail;        /* ROLE_MAIL, or a mail request in progress */
    void (*mail_closed)(struct conn *c); /* set with mail (mail_thread.c), called at close */
    struct feedback_wait *feedback;      /* ROLE_ENDED */
    bool coordinator;  /* a ROLE_SUPERVISOR who sees every organisation */
    bool summary_sent; /* summary.c: this round's queue_summary is sent */
};

/* Starts the connection layer's timers: its hook on the tick (keepalive every
 * 5 s, the kill list, the handshake timeout) and the fan-out pacing. */
void conn_start(struct hub *hub);

/* Stops them (shutdown). */
void conn_stop(struct hub *hub);

/* Registers the one receiver of every connection's whole messages (start-up). */
void conn_set_receiver(conn_receive_fn *fn);

/* Hands a whole message of c to the registered receiver (ws.c). */
void conn_receive(struct conn *c, bool binary, const uint8_t *data, size_t len);

/* The role of c is known (hello, login, resume): it leaves the handshake
 * timeout's list and its closed op will run when it closes. */
void conn_set_role(struct conn *c, enum conn_role role, const struct conn_ops *ops);

/* c no longer has a role (replaced by a resume elsewhere, logged out). */
void conn_clear_role(struct conn *c);

/* Closes every connection that still has no role, with 1001 (shutdown). */
void conn_close_pending(struct hub *hub);

/* Sets up a new connection's state (LWS_CALLBACK_ESTABLISHED). */
void conn_open(struct conn *c, struct hub *hub, struct lws *wsi);

/* Releases everything the connection holds, cancels work in flight and runs
 * its role's closed op (LWS_CALLBACK_CLOSED). */
void conn_closed(struct conn *c);

/* Queues a copy of data as a text or binary message. Returns 0, -EPIPE (closing),
 * -ENOBUFS (send queue full: the connection is then closed as a slow reader) or
 * -ENOMEM. */
int conn_send(struct conn *c, const void *data, size_t len, bool binary);

/* Queues the JSON document the writer holds; 0 or as conn_send (or -ENOSPC). */
int conn_send_json(struct conn *c, struct lotse_jw *w);

/* Queues a message that goes to many connections at once (queue positions,
 * queue summaries): like conn_send, but the connection asks to be written only
 * when its turn comes, CONN_BULK_PER_SLICE connections a millisecond
 * (10,000 a second). Sent at once, a summary to 1,000 counsellors was 9 ms of
 * writes in one loop turn, and the receivers got them in one burst; relayed
 * frames waited behind both. */
#define CONN_BULK_PER_SLICE 10
int conn_send_bulk(struct conn *c, const void *data, size_t len);

/* Sends {"t":"error",...}; re, sid (16 bytes) and field may be NULL. Counts a
 * protocol error when counts is true and closes with 1008 past the limit. */
void conn_send_error(struct conn *c, const char *code, const char *msg, const char *re,
                     const uint8_t *sid, const char *field, bool counts);

/* The checks every first message (hello, login, resume) passes: while the
 * server drains it answers shutting_down and closes 1001; a missing or
 * ill-typed "v" is bad_field, another version unsupported_version and close
 * 1002. Returns 0 to go on; otherwise it has answered and returns -EPROTO. */
int conn_check_start(struct conn *c, const struct lotse_json_msg *m, const char *re);

/* Closes after the queued messages are written, with code and reason. */
void conn_close(struct conn *c, uint16_t code, const char *reason);

/* Closes from outside the connection's own callback (slow reader, no pongs):
 * drops the send queue, writes a close frame with code and reason (static
 * text) ahead of anything else, and drops the connection once that frame is
 * out, or after CONN_KILL_WAIT_MS at the latest. */
#define CONN_KILL_WAIT_MS 10000
void conn_kill(struct conn *c, uint16_t code, const char *reason);

/* Writes one queued message (LWS_CALLBACK_SERVER_WRITEABLE); returns -1 to have
 * lws close the connection. */
int conn_writeable(struct conn *c);

/* A JSON writer over the service thread's one scratch buffer. */
struct lotse_jw *conn_jw(void);

/* Gives the connection's receive buffer (small or large) back to its pool (ws.c). */
void ws_rx_release(struct conn *c);

/* The lws protocol callback of lotse.v1, in ws.c (server.c's protocol table). */
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len);

#endif
