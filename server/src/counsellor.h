/* counsellor.h — a logged-in counsellor (or supervisor) and the control messages
 * they send: status, take, accept/decline, keys, end. */
#ifndef LOTSE_COUNSELLOR_H
#define LOTSE_COUNSELLOR_H

#include <stdbool.h>
#include <stdint.h>

#include "hold.h"
#include "list.h"
#include "lotse/crypto.h"
#include "store.h"

#define COUNSELLOR_MAX_SESSIONS 10

struct conn;
struct hub;
struct session;
struct lotse_json_msg;

/* A chat that ended while its counsellor was away (the young person ended it,
 * or left): on resume the counsellor gets the young person's last frames and
 * then `ended` with the reason, instead of nothing (PROTOCOL.md §5.2). */
struct counsellor_ended {
    uint8_t sid[LOTSE_SID_BYTES];
    char reason[24];
    int topic;
    struct hold held; /* the frames held for the counsellor, moved from the session */
};

struct counsellor {
    struct conn *conn; /* NULL while away (dropped, within resume_grace) */
    int64_t away_ms;   /* when the connection dropped; 0 while connected */
    int64_t account_id;
    char handle[STORE_MAX_HANDLE + 1];
    char name[STORE_MAX_HANDLE + 1];
    uint32_t topic_mask;
    int org_id;        /* the organisation (orgs.h) */
    uint8_t languages; /* bit i = enum org_lang i */
    int max_capacity;
    int capacity;
    int active;
    bool available;
    bool has_cert;
    uint8_t cert[LOTSE_CERT_BYTES];
    /* the organisation's certificate by the network key (0: none), passed on
     * with the keys (PROTOCOL.md §6) */
    uint8_t orgcert_len;
    uint8_t orgcert[LOTSE_ORGCERT_MAX_BYTES];
    uint8_t token_hash[32];
    struct session *sessions[COUNSELLOR_MAX_SESSIONS];
    struct session *offer;
    struct counsellor_ended ended[COUNSELLOR_MAX_SESSIONS]; /* oldest first */
    int ended_count;
    int64_t offers_paused_until_ms; /* after a decline, others get the next offer */
    struct list_link link;          /* on hub->counsellors */
};

/* The online counsellors, newest first: for (k = counsellor_first(hub); k;
 * k = counsellor_next(k)). The next one may be read before k is freed. */
#define counsellor_first(hub)                                                                      \
    ((hub)->counsellors.head ? LIST_ENTRY((hub)->counsellors.head, struct counsellor, link) : NULL)
#define counsellor_next(k)                                                                         \
    ((k)->link.next ? LIST_ENTRY((k)->link.next, struct counsellor, link) : NULL)

/* k takes chats right now: connected (and not closing), on a certified
 * device, available. Whether k has room is asked separately. */
bool counsellor_serving(const struct counsellor *k);

/* The topics (bit i = topic i) at least one serving counsellor serves. The start page says when
 * nobody is there for a topic (/config.json "staffed", PROTOCOL.md §9.1). */
uint32_t counsellor_staffed_topics(struct hub *hub);

/* s ends (reason) while its counsellor k is away: k keeps the sid, the reason
 * and the frames held for k, to be told on resume. The oldest such note gives
 * way when k already keeps COUNSELLOR_MAX_SESSIONS. */
void counsellor_note_ended(struct hub *hub, struct counsellor *k, struct session *s,
                           const char *reason);

/* Makes c a logged-in counsellor from acct and sends login_ok (with a fresh token). */
int counsellor_login(struct conn *c, const struct store_account *acct);

/* The control messages of a counsellor (messages.c routes them here). */
void counsellor_msg_status(struct conn *c, const struct lotse_json_msg *m);
void counsellor_msg_take(struct conn *c, const struct lotse_json_msg *m);
void counsellor_msg_accept(struct conn *c, const struct lotse_json_msg *m);
void counsellor_msg_decline(struct conn *c, const struct lotse_json_msg *m);
void counsellor_msg_keys(struct conn *c, const struct lotse_json_msg *m);
void counsellor_msg_transfer(struct conn *c, const struct lotse_json_msg *m);
void counsellor_msg_logout(struct conn *c, const struct lotse_json_msg *m);
void counsellor_msg_escalate(struct conn *c, const struct lotse_json_msg *m);
void counsellor_msg_end(struct conn *c, const struct lotse_json_msg *m);

/* "logout" from a supervisor: the connection closes. */
void supervisor_msg_logout(struct conn *c, const struct lotse_json_msg *m);

/* Adds s to k's sessions and sends "assigned". */
void counsellor_assign(struct counsellor *k, struct session *s);

/* Sends "assigned" for s (again) to k, if k is connected. */
void counsellor_send_assigned(struct counsellor *k, struct session *s);

/* Sends {"t":"peer","sid":…,"state":state} to c (NULL is ignored). */
void counsellor_send_peer(struct conn *c, const struct session *s, const char *state);

/* "resume" with a session token from a connection that has no role yet. */
void counsellor_resume(struct conn *c, const struct lotse_json_msg *m);

/* Shared by counsellor.c and counsellor_assign.c. */

/* Sends {"t":"status",...} with k's availability, capacity and load. */
void counsellor_send_status(struct counsellor *k);

/* Parses the "sid" field and finds a session the counsellor of c holds (or,
 * with want_offer, was offered). Answers the error itself and returns NULL. */
struct session *counsellor_own_session(struct conn *c, const struct lotse_json_msg *m,
                                       const char *re, bool want_offer);

/* Forgets the offer of s on both sides, telling nobody. */
void counsellor_withdraw_offer(struct session *s);

/* Registers the offers on the tick (from counsellor_start). */
void counsellor_offers_start(struct hub *hub);

/* Registers the counsellors' timeouts on the tick: offers (offer mode) and
 * counsellors away longer than resume_grace, whose record goes (start-up). */
void counsellor_start(struct hub *hub);

/* Removes s from k's sessions (session end). */
void counsellor_detach(struct counsellor *k, struct session *s);

/* Offer mode: offers waiting sessions to available counsellors with free capacity. */
void counsellor_offer_round(struct hub *hub);

/* Offer mode: withdraws offers past their deadline. */
void counsellor_offer_expire(struct hub *hub, int64_t now_ms);

/* Takes back the open offer of s, if any, and tells the counsellor
 * `offer_withdrawn` (the young person went away). */
void counsellor_offer_cancel(struct session *s);

#endif
