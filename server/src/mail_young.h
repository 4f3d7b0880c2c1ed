/* mail_young.h — the young person's side of mail counselling (PROTOCOL.md
 * §9.1): mail_keys, mail_new, mail_open, mail_delete, and the expiry of old
 * threads. Messages themselves arrive as MAIL frames (mail_thread.c). */
#ifndef LOTSE_MAIL_YOUNG_H
#define LOTSE_MAIL_YOUNG_H

#include <stdbool.h>
#include <stdint.h>

#include "lotse/proto.h"

struct conn;
struct hub;
struct lotse_json_msg;

/* The answer to mail_open, hit or miss, leaves this long after the request. */
#define MAIL_OPEN_ANSWER_MS 500

void mail_young_keys(struct conn *c, const struct lotse_json_msg *m);
void mail_young_new(struct conn *c, const struct lotse_json_msg *m);
void mail_young_open(struct conn *c, const struct lotse_json_msg *m);
void mail_young_delete(struct conn *c, const struct lotse_json_msg *m);

/* Counts one look-up by a thread's lookup from c's source (mail_open, and any
 * other request that looks a thread up by it); false when the source has made
 * more than mail_open_rate in the last minute: answer rate_limited then. */
bool mail_young_lookup_allowed(struct conn *c);

/* The "same person" opt-in: who last answered the thread of lookup (a code's
 * lookup id, from a hello of c). done runs later with the session id given
 * and that counsellor's account id, or 0 (no such thread, no answer yet, the
 * database did not answer). The attempt counts against c's source as a
 * mail_open does. 0, or -ENOTSUP (mail off), -EAGAIN (too many attempts),
 * -ENOMEM, or the store's error: done will not run then. */
typedef void mail_answerer_fn(struct hub *hub, const uint8_t sid[LOTSE_SID_BYTES],
                              int64_t counsellor_id);
int mail_young_answerer(struct conn *c, const uint8_t lookup[32],
                        const uint8_t sid[LOTSE_SID_BYTES], mail_answerer_fn *done);

/* Registers the expiry of old threads on the tick (start-up); stop at shutdown. */
void mail_young_start(struct hub *hub);
void mail_young_stop(struct hub *hub);

#endif
