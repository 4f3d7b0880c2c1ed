/* auth.h — counsellor and supervisor login: rate limit, account look-up in
 * PostgreSQL, Argon2id check on a worker thread, then the result back on the
 * service thread. The password is wiped as soon as it has been checked. */
#ifndef LOTSE_AUTH_H
#define LOTSE_AUTH_H

struct conn;
struct server;
struct lotse_json_msg;

/* Prepares the dummy hash that unknown handles are checked against, so a wrong
 * handle costs as long as a wrong password. 0 or -ENOMEM. */
int auth_init(struct server *srv);

/* Handles "login" from a connection that has no role yet. */
void auth_login(struct conn *c, const struct lotse_json_msg *m);

/* The connection closed while its login was in progress. */
void auth_cancel(struct conn *c);

#endif
