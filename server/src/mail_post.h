/* mail_post.h — the counsellors' side of mail counselling (PROTOCOL.md §9.1):
 * mail keys, the board, claims, reading, answers, release, handover, close. */
#ifndef LOTSE_MAIL_POST_H
#define LOTSE_MAIL_POST_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct hub;
struct lotse_json_msg;

/* The control messages of a counsellor (messages.c routes them here). */
void mail_post_msg_key(struct conn *c, const struct lotse_json_msg *m);
void mail_post_msg_list(struct conn *c, const struct lotse_json_msg *m);
void mail_post_msg_claim(struct conn *c, const struct lotse_json_msg *m);
void mail_post_msg_release(struct conn *c, const struct lotse_json_msg *m);
void mail_post_msg_handover(struct conn *c, const struct lotse_json_msg *m);
void mail_post_msg_close(struct conn *c, const struct lotse_json_msg *m);

/* A MAIL frame from a counsellor: the answer, stored only from the claimer. */
void mail_post_frame(struct conn *c, const uint8_t *frame, size_t len);

/* Counsellor who left (logout, away past resume grace): claims released. */
void mail_post_counsellor_left(struct hub *hub, int64_t account_id);

#endif
