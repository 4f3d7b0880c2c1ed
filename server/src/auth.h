/* auth.h — counsellor and supervisor login: rate limit, account look-up in
 * PostgreSQL, Argon2id check on a worker thread, then the result back on the
 * service thread. The password is wiped as soon as it has been checked. */
#ifndef LOTSE_AUTH_H
#define LOTSE_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct hub;
struct lotse_json_msg;

/* Prepares the dummy hash that unknown handles are checked against, so a wrong
 * handle costs as long as a wrong password. 0 or -ENOMEM. */
int auth_init(struct hub *hub);

/* Handles "login" from a connection that has no role yet. With a device key it
 * answers login_challenge and waits for login_proof. */
void auth_login(struct conn *c, const struct lotse_json_msg *m);

/* Handles "login_proof": the device's signature over the challenge. */
void auth_login_proof(struct conn *c, const struct lotse_json_msg *m);

/* Writes the signed login message "lotse-login-v1" ‖ nonce (32) ‖ device public
 * key (32) ‖ handle (UTF-8, 1–64 bytes) to out. Returns its length or -EINVAL. */
int auth_login_message(uint8_t *out, size_t cap, const uint8_t nonce[32], const uint8_t device_pk[32],
                       const char *handle);

/* The connection closed while its login was in progress. */
void auth_cancel(struct conn *c);

#endif
