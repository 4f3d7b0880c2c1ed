/* store_nodes.h — what several lotsed nodes share in PostgreSQL (PROTOCOL.md
 * §5.4, deploy/sql/010_nodes.sql): the lease that makes one node the one that
 * serves, the directory of live sessions and counsellors (no ciphertext, no
 * secret in clear: hashes of the resume secret and token, public keys and
 * certificates), and LISTEN/NOTIFY to wake the other node (no payload).
 * Layer 0; SQL in store_nodes.c. Every write names the node that writes, and
 * PostgreSQL applies it only while that node holds the lease: a node that lost
 * the lease (or was taken over) cannot overwrite what the new holder adopted. */
#ifndef LOTSE_STORE_NODES_H
#define LOTSE_STORE_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lotse/crypto.h"
#include "lotse/proto.h"
#include "store.h"

#define STORE_NODE_NAME_MAX 16 /* [a-z0-9], 1..16 characters */
#define STORE_DIR_ROUTE_MAX 16 /* = ORG_ROUTE_MAX (orgs.h) */

/* Node mode (node_name set): store_create's start-up close of every open
 * session row as 'crashed' is not run (the other node may be serving those
 * sessions); store_lease_acquire closes, on taking the lease, only the rows no
 * live_sessions row names. Call it right after store_create. */
void store_set_node_mode(struct store *s, bool on);

/* ---- the lease ---- */

/* status 0: the statement ran; holder is the node that holds the lease now
 * ("" when nobody does), held says whether that is the caller. */
typedef void (*store_lease_cb)(void *arg, int status, bool held, const char *holder);

/* Takes or renews the lease for ttl_s seconds: it is taken when nobody holds
 * it, when node holds it already, or when the holder let it run out (until <
 * now()). On taking it (not on a renewal) in the same transaction: every
 * directory row gets node = this node, session rows (sessions table) left
 * open that no live_sessions row names are closed as 'crashed' (the
 * one-database-per-run sweep of store.c does not run in node mode), and NOTIFY
 * lotse_nodes is sent. A look-up: -ENOTCONN while the database is away. */
int store_lease_acquire(struct store *s, const char *node, int ttl_s, store_lease_cb cb, void *arg);

/* Who holds the lease now, without taking it (held: whether node does). */
int store_lease_read(struct store *s, const char *node, store_lease_cb cb, void *arg);

/* Gives the lease up (only when node holds it) and sends NOTIFY lotse_nodes,
 * after every write queued before it (the FIFO keeps order). cb may be NULL. */
int store_lease_release(struct store *s, const char *node, store_lease_cb cb, void *arg);

/* ---- LISTEN/NOTIFY: wake-ups only, never a payload ---- */

/* After every (re)connect the store sends LISTEN lotse_nodes; each
 * notification on it calls cb(arg) on the service thread. One listener. */
void store_nodes_listen(struct store *s, void (*cb)(void *arg), void *arg);

/* ---- the directory (write-behind through the FIFO, like the session rows) ---- */

enum store_dir_state { STORE_DIR_WAITING = 0, STORE_DIR_ASSIGNED = 1, STORE_DIR_ACTIVE = 2 };

/* What a node needs to continue a session it did not start. Times are Unix
 * milliseconds (wall clock): nodes do not share a monotonic clock. */
struct store_dir_session {
    uint8_t sid[LOTSE_SID_BYTES];
    int state;              /* enum store_dir_state */
    int topic;              /* index into the configured topics */
    int64_t enqueued_wall_ms; /* the queue place: waiting since */
    uint64_t seq;           /* arrival order within the millisecond */
    int64_t picked_wall_ms; /* 0: not taken */
    int64_t started_wall;   /* Unix seconds (struct session started_wall) */
    uint8_t resume_hash[32];
    uint8_t young_pk[LOTSE_PK_BYTES];
    bool has_counsellor;
    uint8_t counsellor_token_hash[32]; /* the counsellor holding it (live_counsellors) */
    bool has_keys;                     /* the counsellor's last keys (public) */
    uint8_t keys_pk[LOTSE_PK_BYTES];
    uint8_t keys_sig[LOTSE_SIG_BYTES];
    uint8_t keys_cert[LOTSE_CERT_BYTES];
    uint8_t keys_orgcert_len;
    uint8_t keys_orgcert[LOTSE_ORGCERT_MAX_BYTES];
    char row_id[STORE_ROW_ID_LEN + 1];
    int transfers;
    bool rekey_pending;
    int64_t transfer_to_id;
    bool counsellor_left;
    bool same;
    /* routing (struct org_route, chat_route.c) */
    int route_kind; /* enum org_route_kind */
    bool route_any;
    int route_count;
    int route_ids[STORE_DIR_ROUTE_MAX];
    int lang;   /* enum org_lang, or ORG_LANG_NONE */
    int org_id; /* the organisation the row keeps */
};

/* A logged-in counsellor, as the node that takes over needs it to let them
 * resume with their token. */
struct store_dir_counsellor {
    uint8_t token_hash[32];
    int64_t account_id;
    char handle[STORE_MAX_HANDLE + 1];
    char name[STORE_MAX_HANDLE + 1];
    uint32_t topic_mask;
    int org_id;
    uint8_t languages;
    int max_capacity;
    int capacity;
    bool available;
    bool has_cert;
    uint8_t cert[LOTSE_CERT_BYTES];
    uint8_t orgcert_len;
    uint8_t orgcert[LOTSE_ORGCERT_MAX_BYTES];
};

/* Insert or update one row (by sid / token hash), applied only while node
 * holds the lease. 0 or -EAGAIN (FIFO full, oldest write dropped). */
int store_dir_session_put(struct store *s, const char *node, const struct store_dir_session *row);
int store_dir_session_del(struct store *s, const char *node, const uint8_t sid[LOTSE_SID_BYTES]);
int store_dir_counsellor_put(struct store *s, const char *node, const struct store_dir_counsellor *k);
int store_dir_counsellor_del(struct store *s, const char *node, const uint8_t token_hash[32]);

/* Every directory row (call it after taking the lease): counsellors first,
 * then sessions. The arrays are valid only during the callback. A look-up. */
typedef void (*store_dir_load_cb)(void *arg, int status, const struct store_dir_counsellor *ks,
                                  size_t nk, const struct store_dir_session *ss, size_t ns);
int store_dir_load(struct store *s, store_dir_load_cb cb, void *arg);

#endif
