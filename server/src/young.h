/* young.h — control messages of an anonymous young person: hello and end. */
#ifndef LOTSE_YOUNG_H
#define LOTSE_YOUNG_H

struct conn;
struct lotse_json_msg;

/* hello from a connection that has no role yet. */
void young_hello(struct conn *c, const struct lotse_json_msg *m);

/* "resume" with a session id and resume secret from a connection with no role. */
void young_resume(struct conn *c, const struct lotse_json_msg *m);

/* Handles one control message of a young person after hello. */
void young_handle(struct conn *c, const char *type, const struct lotse_json_msg *m);

/* The connection is gone: the session is abandoned or ended. */
void young_gone(struct conn *c);

#endif
