/* client.h — the lotse protocol client with real end-to-end crypto
 * (proto/PROTOCOL.md), for integration tests and the load generator.
 *
 * A young person has one session per connection; a counsellor several. Control
 * messages that arrive while the caller waits for something else are kept in a
 * small inbox (pushed `queue` / `queue_summary` updates only refresh the state
 * unless asked for), binary frames in another, so a test can ask for "the next
 * X" without caring what came in between. Keys are wiped on client_free.
 * Everything blocks with a timeout in milliseconds. Functions return 0 (or a
 * length) or a negative errno-style code:
 *   -ETIMEDOUT  nothing suitable arrived in time
 *   -EPROTO     the server answered `error` (code in c->err_code etc.)
 *   -ESHUTDOWN  the server closed the connection (c->ws->close_code)
 *   -EPERM      (young) the counsellor's certificate or signature failed
 *
 * Reliability (PROTOCOL.md §5.2): every DATA frame sent with client_send_text is
 * kept on its session until an ACK from the peer covers it (at most
 * CLIENT_UNACKED_MAX per session; past it sending fails with -ENOBUFS). ACKs are
 * applied the moment they are read. After `resumed` (client_resume) and after
 * `peer` `back` every unacknowledged frame is sent again; with drop_duplicates
 * the receiver skips frames it already opened (-EALREADY) instead of returning
 * them. Pushed messages are acted on the moment they are read: `transferred`
 * (young: wipe the channel, fresh X25519 pair, send `rekey`), `assigned` again
 * for a known session (counsellor: fresh pair, key_changed when the young
 * person's key changed; the caller sends keys again), `keys` repeated after a
 * resume with the key already in use (dropped), `peer` (peer_away), `shutdown`
 * (shutdown_in).
 *
 * ACKs are authenticated (§3, §6): client_send_ack seals one with the session's
 * tx key, and an ACK read from the network is applied only when its tag
 * verifies and it covers frames that were sent; anything else is counted in
 * acks_rejected and changes nothing. With resend_after_ms > 0 (as §6 asks of a
 * real client; off by default so that tests control every frame) unacknowledged
 * frames are sent again while the client reads, first resend_after_ms after they
 * went out, then backing off to CLIENT_RESEND_MAX_MS; after stall_after_ms
 * without progress s->tx_stalled (our messages do not arrive) or s->rx_stalled
 * (a message of the peer is missing) is set, and cleared on progress. */
#ifndef LOTSE_TEST_CLIENT_H
#define LOTSE_TEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lotse/crypto.h"
#include "lotse/json.h"
#include "lotse/proto.h"
#include "wsclient.h"

#define CLIENT_YOUNG 1
#define CLIENT_COUNSELLOR 2
#define CLIENT_SUPERVISOR 3

#define CLIENT_MAX_SESSIONS 10
#define CLIENT_INBOX 64
#define CLIENT_FRAME_INBOX 256
#define CLIENT_UNACKED_MAX 512
/* Resend back-off (PROTOCOL.md §6 "Resending"): first resend resend_after_ms
 * after the oldest unacknowledged frame, then doubling up to this. */
#define CLIENT_RESEND_MAX_MS 30000
#define CLIENT_RESEND_FIRST_MS 2000
/* No progress for this long: the person is told (§6). */
#define CLIENT_STALL_MS 20000

/* A DATA frame sent and not yet covered by the peer's ACK. */
struct client_sent {
    uint64_t seq;
    size_t len;
    uint8_t *data;
};

struct client_session {
    bool used;
    bool active;                    /* keys exchanged: the channel may be used */
    bool ended;                     /* `ended` received */
    uint8_t sid[LOTSE_SID_BYTES];
    char sid_hex[2 * LOTSE_SID_BYTES + 1];
    char topic[33];
    char ended_reason[33];
    int64_t waited;                 /* counsellor: `waited` of assigned */
    uint8_t pk[32], sk[32];         /* our fresh X25519 pair for this session */
    uint8_t peer_pk[32];            /* the other side's X25519 key */
    char peer_name[65];             /* young: counsellor's display name from keys */
    struct lotse_cert peer_cert;    /* young: the verified certificate */
    char peer_org[LOTSE_ORGCERT_NAME_MAX + 1]; /* young: organisation name from the verified
                                                  chain ("" when verified by org_pk) */
    struct lotse_channel ch;
    uint64_t acked_by_peer;         /* highest seq of an authenticated ACK received */
    uint64_t acks_received;         /* number of authenticated ACKs received */
    uint64_t acks_rejected;         /* ACKs whose tag or range failed: ignored */
    /* inner types (§6 "Messages") of what client_recv_text opened */
    uint8_t last_rx_type;           /* of the last text: LOTSE_INNER_TEXT or _TIMED_TEXT */
    uint64_t last_rx_time_ms;       /* its sender time (timed text), else 0 */
    int peer_typing;                /* 1 after a typing notice 1, else 0 */
    uint64_t typing_seen;           /* typing notices opened */

    /* reliability and resume (§5.2) */
    struct client_sent unacked[CLIENT_UNACKED_MAX]; /* oldest first */
    size_t unacked_len;
    uint64_t resent;                /* frames sent again after resumed / peer back */
    uint64_t duplicates;            /* DATA frames dropped as already opened */
    uint64_t gaps;                  /* DATA frames dropped as ahead of a gap (drop_duplicates) */
    uint64_t rejected;              /* DATA frames dropped as unauthentic (drop_duplicates) */
    /* resending after a timeout and telling the person (§6) */
    int64_t resend_at;              /* next timed resend (monotonic ms), 0: none due */
    int resend_ms;                  /* current back-off */
    uint64_t timed_resends;         /* rounds of resends after a timeout */
    int64_t tx_progress_at;         /* last ACK progress (or first kept frame) */
    bool tx_stalled;                /* unacknowledged for stall_after_ms: told */
    uint64_t tx_stalls;
    int64_t gap_since;              /* a frame past a gap came and the gap is open */
    bool rx_stalled;                /* the gap stayed open for stall_after_ms: told */
    uint64_t rx_stalls;
    bool peer_away;                 /* `peer` `away` seen, `back` not yet */
    uint64_t peer_aways, peer_backs;
    /* counsellor: `assigned` came again for this session (resume, reload) */
    uint64_t reassigned;
    bool key_changed;               /* ... and the young person's key differed */
    /* young: `transferred` came; rekey sent, waiting for the next `keys` */
    bool transferred;
    uint64_t transfers;
    char transferred_reason[33];    /* its "reason" ("counsellor_left"), or "" */
    uint64_t keys_repeated;         /* `keys` for the key in use, dropped */
};

/* Raw frame kept until the caller reads it. */
struct client_frame {
    size_t len;
    uint8_t *data;
};

struct client {
    struct ws_conn *ws;
    uint8_t *rxbuf;                 /* one WebSocket message as read */
    int role;
    uint8_t org_pk[32];
    bool has_net_pk; /* net_pk pinned: a device is also trusted through the chain */
    uint8_t net_pk[32];
    bool auto_ack;                  /* ACK every DATA frame opened (default true) */
    bool drop_duplicates;           /* skip -EALREADY frames in client_recv_text (default false) */
    bool auto_rekey;                /* answer `transferred` with `rekey` (default true) */
    bool auto_pow;                  /* solve `challenge` and send hello again (default true) */
    char hello_same[48]; /* when set: hello's "same" (a mail thread's lookup id, base64url) */
    char hello_region[8]; /* when set: hello's "region" (sent as it is, for bad values too) */
    char hello_lang[8];   /* when set: hello's "lang" */
    bool auto_resend;               /* resend unacknowledged frames on `peer` back (default true) */
    int resend_after_ms;            /* resend unacknowledged frames after this (0: off, the default) */
    int stall_after_ms;             /* tell the person after this without progress (CLIENT_STALL_MS) */
    char host[64];                  /* where client_connect went, for client_reconnect */
    int port;
    char path[64];                  /* the WebSocket path client_reconnect uses ("/ws") */
    /* Nodes (PROTOCOL.md §5.4): the node that serves us, from the "node" of
     * welcome / resumed / login_ok / moved ("" while unknown or single node) */
    char node[17];
    bool moved;                     /* `moved` came (cleared by the caller) */
    bool moved_null;                /* ... with "node": null: nobody serves now */
    uint64_t moves;                 /* `moved` messages seen */
    int http_status;                /* of a client_reconnect refused (502 from a proxy), else 0 */
    bool dropped;                   /* client_drop cut the connection */
    char resumed_state[16];         /* `state` of the last `resumed` (young) */
    int64_t resumed_sessions;       /* counsellor: sessions listed in `resumed` */

    /* `shutdown` */
    bool got_shutdown;
    int64_t shutdown_in;

    /* admission work (§4.1.1) */
    uint64_t challenges;            /* `challenge` messages seen */
    uint8_t pow_seed[16];
    int64_t pow_bits;
    int64_t pow_ms;                 /* time the last solution took */
    uint64_t pow_hashes;            /* hashes it took */
    uint8_t hello_pk[32], hello_sk[32]; /* the pair hello offered, kept across a challenge */
    bool hello_pending;

    /* counters of pushed errors that do not stop a test */
    uint64_t away_full_errors, rate_limited_errors;

    /* young person */
    uint8_t resume[32];
    int64_t pos, eta, grace;
    bool unstaffed; /* the last welcome or queue said "staffed": false */
    /* the route the last welcome or queue told (PROTOCOL.md §5.3): "org" or
     * "pool", the names of "orgs" joined by '|', "lang_staffed": false */
    char route[8];
    char route_orgs[1024];
    bool lang_unstaffed;
    uint64_t queue_updates;         /* `queue` messages seen */
    char next_open[64];             /* from `closed` */
    char hours[256];

    /* counsellor / supervisor */
    uint8_t device_pk[32], device_sk[64];
    bool has_device;
    uint8_t cert[LOTSE_CERT_BYTES];
    bool has_cert;
    uint8_t orgcert[LOTSE_ORGCERT_MAX_BYTES]; /* login_ok's organisation certificate */
    int orgcert_len;                          /* 0: null or absent */
    int64_t id, capacity, max_capacity;
    char name[65];
    uint8_t token[32];
    uint64_t summaries;             /* `queue_summary` messages seen */

    struct client_session sessions[CLIENT_MAX_SESSIONS];

    /* last `error` received */
    char err_code[48], err_re[48], err_sid[40], err_field[48], err_msg[256];

    /* inboxes: control messages (raw text) and binary frames not yet consumed */
    char *inbox[CLIENT_INBOX];
    size_t inbox_len;
    struct client_frame frames[CLIENT_FRAME_INBOX];
    size_t frames_len;

    /* last DATA frame sent, byte for byte (replay tests) */
    uint8_t last_frame[LOTSE_MAX_BINARY_FRAME];
    size_t last_frame_len;

    /* test hooks for `keys`: when set, these replace what the client would send */
    struct {
        bool pk, sig, cert, sign_other_sid;
        uint8_t pk_v[32], sig_v[64], cert_v[LOTSE_CERT_BYTES];
        size_t cert_len;
    } keys_override;
};

/* ---- connection -------------------------------------------------------------- */

/* Opens a WebSocket to ws://host:port/ws with subprotocol lotse.v1. org_pk is
 * the pinned organisation key (young people verify against it; may be NULL for
 * staff). *out is freed with client_free. */
int client_connect(struct client **out, const char *host, int port, int role,
                   const uint8_t org_pk[32], int timeout_ms);
/* Like client_connect on another path, e.g. "/n/b/ws" (a node-specific path
 * behind the reverse proxy, PROTOCOL.md §5.4); client_reconnect uses it too. */
int client_connect_path(struct client **out, const char *host, int port, const char *path, int role,
                        const uint8_t org_pk[32], int timeout_ms);
/* Sets the path of later client_reconnect calls ("/ws", "/n/a/ws"). */
void client_set_path(struct client *c, const char *path);
/* The path to come back on: "/n/<node>/ws" for the node we know, else "/ws". */
void client_node_path(const struct client *c, char *out, size_t cap);
/* Parses "ws://host:port/ws" into host and port. */
int client_parse_url(const char *url, char *host, size_t cap, int *port);
/* Wipes all keys and plaintext state, closes the socket, frees c (NULL is fine). */
void client_free(struct client *c);

/* ---- messages -------------------------------------------------------------- */

/* Sends text as it is as one text frame (for malformed-input tests too). */
int client_send_json(struct client *c, const char *text);
/* Sends bytes as one binary frame. */
int client_send_binary(struct client *c, const void *data, size_t len);

/* Waits for the next control message of type t (from the inbox first). `queue`
 * and `queue_summary` update c->pos/eta or c->summaries and are skipped unless t
 * asks for them; `ended` updates the session; other messages wait in the inbox.
 * An `error` returns -EPROTO (filling c->err_*) unless t is "error". On 0 m holds
 * the message (m may be NULL). */
int client_expect(struct client *c, const char *t, struct lotse_json_msg *m, int timeout_ms);
/* Waits for the first control message whose type is one of types[0..n) and
 * returns its index (an `error` not asked for returns -EPROTO). */
int client_expect_any(struct client *c, const char *const *types, int n, struct lotse_json_msg *m,
                      int timeout_ms);
/* Like client_expect for "error", and 0 only when its code equals code. Returns
 * -EBADMSG when another error code came (c->err_code says which). */
int client_expect_error(struct client *c, const char *code, int timeout_ms);
/* Waits for `ended` of reason (e.g. "key_rejected"): 0, -EBADMSG for another
 * reason (printed), or client_expect's error. */
int client_expect_ended(struct client *c, const char *reason, int timeout_ms);
/* Reads whatever arrives for wait_ms (answering pings, collecting frames and
 * control messages into the inboxes). Returns 0 or -ESHUTDOWN/-ECONNRESET. */
int client_pump(struct client *c, int wait_ms);
/* Waits until the server closes; returns the close code (0: no close frame),
 * or -ETIMEDOUT. */
int client_wait_close(struct client *c, int timeout_ms);

/* Finds a session by hex sid, or NULL. */
struct client_session *client_session_find(struct client *c, const char *sid_hex);
/* The young person's (only) session, or NULL before `welcome`. */
struct client_session *client_young_session(struct client *c);

/* ---- young person ---------------------------------------------------------- */

/* Makes a fresh X25519 pair, sends hello and waits for welcome (0; c->pos, eta,
 * grace, the session's sid). `closed` returns -EHOSTDOWN with c->next_open. */
int client_young_hello(struct client *c, const char *topic, int timeout_ms);
/* Waits for `keys`, checks the certificate against c->org_pk (or, with
 * c->has_net_pk, through the chain: keys' orgcert under c->net_pk, the
 * certificate under the organisation key it certifies) and the transcript
 * signature over its own pk and sid, then derives the channel. On a failed check
 * sends end key_rejected and returns -EPERM: nothing is ever encrypted then. */
int client_young_wait_keys(struct client *c, int timeout_ms);
/* Like client_young_hello, with the admission proof nonce (NULL: none). The
 * key pair of a hello answered by `challenge` is kept for the next attempt. When
 * `challenge` comes and auto_pow is false, returns -EAGAIN with c->pow_seed and
 * c->pow_bits set; with auto_pow the work is done (c->pow_ms, pow_hashes) and
 * hello sent again. */
int client_young_hello_pow(struct client *c, const char *topic, const uint8_t nonce[8],
                           int timeout_ms);
/* A `challenge` m (of hello or mail_new) came: counts it, keeps seed and bits
 * in c and, with auto_pow, solves it into proof (c->pow_ms, pow_hashes).
 * 0, -EAGAIN (auto_pow off), -EBADMSG or -ERANGE. */
int client_on_challenge(struct client *c, const struct lotse_json_msg *m, uint8_t proof[8]);
/* Searches a nonce with BLAKE2b-256(seed || nonce) starting with bits zero bits
 * (§4.1.1). *hashes (may be NULL) gets the number tried. 0 or -ERANGE. */
int client_pow_solve(const uint8_t seed[16], int bits, uint8_t nonce[8], uint64_t *hashes);
/* True when BLAKE2b-256(seed || nonce) starts with bits zero bits. */
bool client_pow_check(const uint8_t seed[16], int bits, const uint8_t nonce[8]);
/* Sends end (young: reason done; counsellor: the session's sid). */
int client_end(struct client *c, struct client_session *s);
/* Young: sends end with the given reason. */
int client_young_end_reason(struct client *c, const char *reason);

/* ---- counsellor / supervisor ------------------------------------------------- */

/* Reads a device key file (one line: base64url of the 64-byte Ed25519 secret key). */
int client_load_device(struct client *c, const char *path);
/* Sends login (with the device key if loaded: then answers login_challenge with
 * login_proof, signed with device_sk over device_pk) and waits for login_ok; stores id,
 * name, capacity and the certificate (has_cert false when null). */
int client_login(struct client *c, const char *handle, const char *password, int timeout_ms);
/* Sends status and waits for the answer; *active (may be NULL) gets `active`. */
int client_status(struct client *c, bool available, int capacity, int64_t *active, int timeout_ms);
/* Sends take and waits for assigned: a new session holding the young person's
 * key and a fresh X25519 pair. Does not send keys (see client_send_keys). */
int client_take(struct client *c, struct client_session **s, int timeout_ms);
/* Waits for `assigned` of a session new to this client (a transfer from a
 * colleague, an offer accepted elsewhere): a new session with a fresh pair. */
int client_wait_assigned(struct client *c, struct client_session **s, int timeout_ms);
/* Waits for an offer; copies its sid into sid_hex (33 bytes). */
int client_wait_offer(struct client *c, char sid_hex[33], int timeout_ms);
/* Sends accept for sid_hex and waits for assigned. */
int client_accept(struct client *c, const char *sid_hex, struct client_session **s, int timeout_ms);
/* Sends decline for sid_hex. */
int client_decline(struct client *c, const char *sid_hex);
/* Signs the transcript, sends keys (applying c->keys_override) and derives the
 * channel. */
int client_send_keys(struct client *c, struct client_session *s);
/* take + keys in one call. */
int client_take_and_key(struct client *c, struct client_session **s, int timeout_ms);

/* Sends transfer of s to the colleague with handle to (NULL: back to the queue)
 * and waits for `ended` (reason transferred): 0, or -EPROTO with
 * c->err_code transfer_failed. */
int client_transfer(struct client *c, struct client_session *s, const char *to, int timeout_ms);
/* Counsellor: waits until `assigned` came again for s (s->reassigned grows);
 * then the caller sends keys. 0 or -ETIMEDOUT. */
int client_wait_reassigned(struct client *c, struct client_session *s, uint64_t before,
                           int timeout_ms);

/* ---- dropped connections and resume (§5.2) ------------------------------------ */

/* Cuts the TCP connection at once with RST (SO_LINGER 0) and no close frame, as
 * a train entering a tunnel would look to the server. State stays for resume. */
void client_drop(struct client *c);
/* Opens a new connection to the same server in place of the old one (which is
 * closed abruptly if still open). Sessions, keys and unacknowledged frames stay;
 * control messages and frames not yet read stay in the inboxes. */
int client_reconnect(struct client *c, int timeout_ms);
/* Sends resume and waits for `resumed`. Young: sid and resume secret, and with
 * new_pk a fresh X25519 pair (page reload: the channel is wiped and unacked
 * frames for the old keys forgotten; wait for keys with client_young_wait_keys,
 * the new channel starts at seq 1). Counsellor: the token (new_pk ignored).
 * Then every unacknowledged frame is sent again. 0, -EPROTO (c->err_code, e.g.
 * resume_failed) or a read error. */
int client_resume(struct client *c, bool new_pk, int timeout_ms);
/* Resends every unacknowledged DATA frame of s; returns how many. */
int client_resend_unacked(struct client *c, struct client_session *s);
/* Waits until s->peer_away equals away (a `peer` message). 0 or -ETIMEDOUT. */
int client_wait_peer(struct client *c, struct client_session *s, bool away, int timeout_ms);
/* Waits until `shutdown` came. 0 or -ETIMEDOUT. */
int client_wait_shutdown(struct client *c, int timeout_ms);

/* ---- end-to-end messages ------------------------------------------------------ */

/* Seals text into a DATA frame without sending it (out must hold
 * LOTSE_MAX_BINARY_FRAME). Returns the frame length. */
int client_seal(struct client *c, struct client_session *s, const char *text, size_t len,
                uint8_t *out);
/* Seals and sends one text message; remembers the frame in c->last_frame and on
 * the session until the peer's ACK covers it (-ENOBUFS when that list is full:
 * nothing is sealed then). */
int client_send_text(struct client *c, struct client_session *s, const char *text, size_t len);
/* Seals and sends a timed text (inner type 2: time_ms || text, §6) like
 * client_send_text. */
int client_send_timed(struct client *c, struct client_session *s, uint64_t time_ms,
                      const char *text, size_t len);
/* Seals and sends a typing notice (inner type 3: 1 = writing, 0 = stopped). */
int client_send_typing(struct client *c, struct client_session *s, bool on);
/* Sends the authenticated ACK frame for seq. Before the channel exists (tests of
 * the server's state checks) the tag is 16 zero bytes. */
int client_send_ack(struct client *c, struct client_session *s, uint64_t seq);
/* What rc (a negative errno of this library or lotse_channel_open) means, in
 * words a person understands. */
const char *client_strerror(int rc);
/* Waits for the next binary frame (any kind, any session), raw. Returns its
 * length. */
int client_recv_frame(struct client *c, uint8_t *buf, size_t cap, int timeout_ms);
/* Waits for the next DATA frame, skipping (and counting) ACKs, and opens it on
 * its session. Returns the body length and copies it (NUL-terminated) into buf
 * (cap > LOTSE_MAX_MESSAGE suffices); *s_out (may be NULL) names the session.
 * lotse_channel_open's errors (-EALREADY, -ERANGE, -EBADMSG, -EPROTO) are
 * returned as they are: the message is not shown; with c->drop_duplicates an
 * -EALREADY frame is counted in s->duplicates, acknowledged again and skipped,
 * an -ERANGE frame (ahead of frames lost with a dropped connection, which
 * the sender resends) is counted in s->gaps and skipped, and an -EBADMSG frame
 * (corrupted or forged) in s->rejected and skipped. A timed text gives its
 * text (its sender time in s->last_rx_time_ms); a typing notice is not a text:
 * it sets s->peer_typing, counts in s->typing_seen and is skipped; a body that
 * does not fit its type is -EBADMSG. */
int client_recv_text(struct client *c, struct client_session **s_out, char *buf, size_t cap,
                     int timeout_ms);

#endif
