/* hold.h — frames kept in memory for a party whose connection dropped, until it
 * resumes or the session ends (PROTOCOL.md §5.2). Bounded per session and
 * direction and in total; the frames are ciphertext and are wiped when dropped. */
#ifndef LOTSE_HOLD_H
#define LOTSE_HOLD_H

#include <stddef.h>
#include <stdint.h>

struct hub;
struct session;
struct conn;
struct outmsg;

/* Frames for one party, in order (pooled outmsg buffers, ciphertext only). */
struct hold {
    struct outmsg *head, *tail;
    uint32_t count;
    size_t bytes;
};

/* Keeps a copy of frame for direction dir of s. Returns 0, -ENOBUFS (a bound is
 * reached: the sender is told) or -ENOMEM. */
int hold_push(struct hub *hub, struct session *s, int dir, const uint8_t *frame, size_t len);

/* Sends every frame held for direction dir to c, in order, and empties the hold. */
void hold_flush(struct hub *hub, struct session *s, int dir, struct conn *c);

/* Wipes and frees the frames held for direction dir. */
void hold_clear(struct hub *hub, struct session *s, int dir);

/* The same for a hold taken out of its session (counsellor.h's ended chats):
 * sends every frame to c, in order, or drops them; the hold is empty after. */
void hold_send_all(struct hub *hub, struct hold *h, struct conn *c);
void hold_drop_all(struct hub *hub, struct hold *h);

/* c is closing: moves the binary frames still waiting in its send queue into the
 * holds of their sessions, so a resume gets them. Control messages are dropped. */
void hold_adopt_queue(struct hub *hub, struct conn *c);

#endif
