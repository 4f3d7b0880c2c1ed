/* young.h — control messages of an anonymous young person: hello and end. */
#ifndef LOTSE_YOUNG_H
#define LOTSE_YOUNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct conn;
struct lotse_json_msg;

/* hello from a connection that has no role yet. */
void young_hello(struct conn *c, const struct lotse_json_msg *m);

/* "resume" with a session id and resume secret from a connection with no role. */
void young_resume(struct conn *c, const struct lotse_json_msg *m);

/* "rekey" and "end" from a young person after hello (messages.c routes them). */
void young_msg_rekey(struct conn *c, const struct lotse_json_msg *m);
void young_msg_end(struct conn *c, const struct lotse_json_msg *m);

/* The "same person" opt-in (young_same.c): s, just queued from c's hello
 * with the lookup id of a mail thread, goes first to the counsellor who
 * answered that thread if they can take it; c gets "same" either way. */
struct session;
void young_same_ask(struct conn *c, struct session *s, const uint8_t lookup[32]);

/* After the end (young_feedback.c, PROTOCOL.md §5 "After the end"): c, whose
 * session of topic ended after a counsellor had taken it, stays open for
 * FEEDBACK_WINDOW_S with role ROLE_ENDED for one answer to "did the chat
 * help?". Returns false (c is then closed as before) when it cannot. */
bool young_feedback_offer(struct conn *c, const char *topic, int org);

/* "feedback" from any connection: counted once in stats_hourly when c is an
 * ended young person's that has not answered; otherwise an error. */
void young_feedback_msg(struct conn *c, const struct lotse_json_msg *m);

/* The tick hook that closes connections whose window is over; and, at the
 * end of the drain, closing every one of them with 1001; stop takes the hook
 * off the wheel. */
struct hub;
void young_feedback_start(struct hub *hub);
void young_feedback_stop(struct hub *hub);
void young_feedback_close_all(struct hub *hub);

/* Leading zero bits of the admission work a hello needs (0: none) when waiting
 * people wait and mine of them came from the hello's source (PROTOCOL.md
 * §4.1.1): pow_bits once waiting reaches pow_threshold or mine reaches
 * pow_source_free, +1 per further pow_threshold waiting, +1 per further person
 * from the source, + 4 * mine / waiting; at most 24. */
int young_admission_bits(const struct config *cfg, size_t waiting, size_t mine);

/* The admission work of a first message that adds work for counsellors (hello,
 * mail_new; PROTOCOL.md §4.1.1): true when it may go on; otherwise it has
 * answered (challenge, or error with re). */
bool young_admission_ok(struct conn *c, const struct lotse_json_msg *m, const char *re,
                        int64_t now);

#endif
