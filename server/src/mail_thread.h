/* mail_thread.h — what both sides of mail counselling share (PROTOCOL.md §9):
 * a connection's mail state across store round trips, streaming a thread's
 * messages as MAIL frames, appending one message with the limits, deleting.
 * The young person's side is mail_young.c, the counsellors' mail_post.c. */
#ifndef LOTSE_MAIL_THREAD_H
#define LOTSE_MAIL_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct conn;
struct pg_result;

#define MAIL_TID_BYTES STORE_MAIL_TID_BYTES

/* A connection's mail state (conn->mail). Store callbacks hold it, not the
 * connection: when the connection closes first, c becomes NULL and the last
 * callback frees it. */
struct mail_conn {
    struct conn *c; /* NULL once the connection is gone */
    int holds;      /* store requests in flight for it */
    bool bound;     /* ROLE_MAIL: bound to tid */
    uint8_t tid[MAIL_TID_BYTES];
    int64_t counsellor_id; /* the sender of MAIL frames when a counsellor */
    bool appending;        /* one MAIL frame at a time */
    void *side;            /* the side's own state (mail_young.c), freed by it */
    void (*side_free)(void *side);
};

/* c's mail state, made on first use; NULL when out of memory. */
struct mail_conn *mail_conn_of(struct conn *c);

/* The connection is gone (conn_closed): lets go of c->mail. */
void mail_conn_closed(struct conn *c);

/* Before a store request with mc as its argument. */
void mail_conn_hold(struct mail_conn *mc);

/* In its callback: the connection if it is still there, else NULL (and mc may
 * be freed: do not touch it then). */
struct conn *mail_conn_release(struct mail_conn *mc);

/* Sends messages rows (store_mail_messages: n, sender, envelope) to c as MAIL
 * frames with sid tid and seq n. Returns the number sent, or -1 when c's queue
 * refused one (c is then being closed). */
int mail_thread_send_rows(struct conn *c, const uint8_t tid[MAIL_TID_BYTES],
                          const struct pg_result *res);

/* Reads thread tid's messages and sends them as MAIL frames (after the caller
 * has sent its header message). done (may be NULL) runs afterwards with the
 * number sent or -errno, while the connection is there. */
typedef void mail_done_fn(struct conn *c, int result);
int mail_thread_stream(struct conn *c, const uint8_t tid[MAIL_TID_BYTES], mail_done_fn *done);

/* A MAIL frame from c for thread tid as sender (LOTSE_MAIL_FROM_*): header and
 * envelope checked, then stored with the configured limits; answers
 * mail_stored, or the error (mail_conflict, thread_full, mail_full, bad_envelope,
 * mail_closed, mail_unknown_thread). done (may be NULL) runs after a store with
 * the new n. */
void mail_thread_append(struct conn *c, const uint8_t *frame, size_t len, int sender,
                        mail_done_fn *done);

/* Deletes thread tid (its messages go with it); done gets 0 or -errno. */
int mail_thread_delete(struct conn *c, const uint8_t tid[MAIL_TID_BYTES], mail_done_fn *done);

/* A binary MAIL frame (kind 3) from c, from the message receiver: routed by
 * c's role (ROLE_MAIL: the young person's message). */
void mail_frame(struct conn *c, const uint8_t *frame, size_t len);

#endif
