/* session.h — one conversation between a young person and a counsellor, and the
 * table of all sessions by session id. */
#ifndef LOTSE_SESSION_H
#define LOTSE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "hold.h"
#include "lotse/crypto.h"
#include "list.h"
#include "lotse/proto.h"
#include "orgs.h"
#include "queue.h"

struct hub;
struct conn;
struct counsellor;
struct outmsg;

#define HOLD_TO_COUNSELLOR 0
#define HOLD_TO_YOUNG      1

enum session_state { SESSION_WAITING, SESSION_ASSIGNED, SESSION_ACTIVE };

struct session {
    uint8_t sid[LOTSE_SID_BYTES];
    enum session_state state;
    int topic;
    struct queue_entry qe; /* queued while waiting */

    struct conn *young;
    struct counsellor *counsellor;
    struct counsellor *offered_to; /* offer mode */
    int64_t offer_deadline_ms;

    uint8_t young_pk[LOTSE_PK_BYTES];
    uint8_t resume_hash[32]; /* BLAKE2b of the resume secret */

    char row_id[37]; /* the metadata row's random id (store_row_id) */

    int64_t enqueued_ms;
    int64_t picked_ms;
    int64_t last_frame_ms;
    time_t started_wall;
    int transfers;

    uint32_t sent_pos, sent_eta; /* last queue update sent */
    bool sent_unstaffed;         /* ... and it said that nobody serves the topic now */

    /* resume (PROTOCOL.md §5.2) */
    int64_t young_away_ms;  /* when the young person's connection dropped; 0 while connected */
    int64_t young_grace_ms; /* how long this absence may last (resume_grace or unload_grace) */
    bool queue_away;        /* out of the queue while away; back at its place on resume */
    struct hold
        hold[2]; /* frames for a party that is away: [HOLD_TO_COUNSELLOR], [HOLD_TO_YOUNG] */

    /* the counsellor's last forwarded keys (public data), sent again on resume */
    bool has_keys;
    uint8_t keys_pk[LOTSE_PK_BYTES];
    uint8_t keys_sig[LOTSE_SIG_BYTES];
    uint8_t keys_cert[LOTSE_CERT_BYTES];
    uint8_t keys_orgcert_len; /* the counsellor's organisation certificate, 0: none */
    uint8_t keys_orgcert[LOTSE_ORGCERT_MAX_BYTES];

    /* transfer: waiting for the young person's new key, then to this account (0 = queue) */
    bool rekey_pending;
    int64_t transfer_to_id;
    bool counsellor_left; /* handed back because the counsellor left: said in "transferred" */

    /* with the counsellor the young person asked for ("same person", young_same.c) */
    bool same;
    /* routing (chat_route.c): the candidate organisations and the route, the
     * language asked for (ORG_LANG_NONE: none, or dropped), the organisation
     * the row keeps (orgs_row_org); the young person's region is never here */
    struct org_route route;
    int lang;
    int org_id;
    bool sent_pool;           /* the route last told */
    bool sent_lang_unstaffed; /* ... and that nobody speaks the language now */

    struct session *hash_next;
    struct list_link link; /* on the table's all, newest first */
};

struct session_table {
    struct session **buckets;
    size_t nbuckets;
    size_t count;
    struct list all; /* every session, newest first */
};

/* Every session of table t, newest first: for (s = session_first(t); s;
 * s = session_next(s)). The next one may be read before s is ended. */
#define session_first(t) ((t)->all.head ? LIST_ENTRY((t)->all.head, struct session, link) : NULL)
#define session_next(s)  ((s)->link.next ? LIST_ENTRY((s)->link.next, struct session, link) : NULL)

/* Sets up an empty table; 0 or -ENOMEM. */
int sessions_init(struct session_table *t);
/* Frees the table and every session still in it (keys wiped). */
void sessions_destroy(struct session_table *t);

/* A new session with a fresh random id, in the table; NULL on -ENOMEM. */
struct session *session_create(struct session_table *t);

/* An empty session with the id sid (one another node started, directory.c),
 * in the table; NULL when sid is taken already or on -ENOMEM. */
struct session *session_adopt(struct session_table *t, const uint8_t sid[LOTSE_SID_BYTES]);

/* The session with this id, or NULL. O(1). */
struct session *session_find(const struct session_table *t, const uint8_t sid[LOTSE_SID_BYTES]);

/* Queue the writes of s's metadata row: at its start (after hello, with
 * started_wall set), and when a counsellor takes it. No-ops without a store. */
void session_row_started(struct hub *hub, struct session *s);
void session_row_taken(struct hub *hub, struct session *s);

/* Sends c the notification {"t": type, "sid": sid} (and "reason" when reason
 * is not NULL), as a control message. */
void session_notify(struct conn *c, const char *type, const uint8_t sid[LOTSE_SID_BYTES],
                    const char *reason);

/* Ends s: tells both parties "ended" with reason, frees the counsellor's slot,
 * leaves the queue, queues the metadata row, closes the young person's
 * connection, wipes and frees s. */
void session_end(struct hub *hub, struct session *s, const char *reason);

/* Lets s go without ending it: another node carries it on (node.h, after a
 * hand-over or a lost lease). Leaves the queue, drops what was held and frees
 * the counsellor's slot; tells nobody, writes no row, logs nothing. */
void session_forget(struct hub *hub, struct session *s);

/* Registers the session timeouts on the tick: resume grace, idle sessions
 * (every 5 s) and queue_max_wait (start-up). */
void session_start(struct hub *hub);

#endif
