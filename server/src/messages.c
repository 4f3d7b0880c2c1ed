/* messages.c — control messages from one table (type, roles, handler) instead
 * of a chain of string compares per role. A type may have one row per role
 * when the roles mean different things by it ("end", "logout"). */
#include "messages.h"

#include <string.h>
#include <sodium.h>

#include "auth.h"
#include "chat_route.h"
#include "conn.h"
#include "counsellor.h"
#include "lotse/json.h"
#include "lotse/mail.h"
#include "mail_post.h"
#include "mail_thread.h"
#include "mail_young.h"
#include "node.h"
#include "relay.h"
#include "young.h"

typedef void msg_handler(struct conn *c, const struct lotse_json_msg *m);

struct msg_route {
    const char *type;
    unsigned roles; /* bit (1 << enum conn_role) per role that may send it */
    msg_handler *handler;
};

#define NONE       (1u << ROLE_NONE)
#define YOUNG      (1u << ROLE_YOUNG)
#define COUNSELLOR (1u << ROLE_COUNSELLOR)
#define SUPERVISOR (1u << ROLE_SUPERVISOR)
#define MAIL       (1u << ROLE_MAIL)
#define ENDED      (1u << ROLE_ENDED)

/* "resume" with a token is a counsellor's, with a session id a young person's. */
static void resume(struct conn *c, const struct lotse_json_msg *m)
{
    if (lotse_json_get(m, "token"))
        counsellor_resume(c, m);
    else
        young_resume(c, m);
}

/* "end" before hello or login, or after the end: a polite goodbye. */
static void end_unassigned(struct conn *c, const struct lotse_json_msg *m)
{
    (void)m;
    conn_close(c, 1000, "bye");
}

/* Every message type a client may send (PROTOCOL.md §4). */
static const struct msg_route routes[] = {
    {"hello", NONE, young_hello},
    {"login", NONE, auth_login},
    {"login_proof", NONE, auth_login_proof},
    {"resume", NONE, resume},
    {"end", NONE | ENDED, end_unassigned},
    {"end", YOUNG, young_msg_end},
    {"end", COUNSELLOR, counsellor_msg_end},
    {"rekey", YOUNG, young_msg_rekey},
    {"lang", YOUNG, chat_route_msg_lang},
    {"status", COUNSELLOR, counsellor_msg_status},
    {"take", COUNSELLOR, counsellor_msg_take},
    {"accept", COUNSELLOR, counsellor_msg_accept},
    {"decline", COUNSELLOR, counsellor_msg_decline},
    {"keys", COUNSELLOR, counsellor_msg_keys},
    {"transfer", COUNSELLOR, counsellor_msg_transfer},
    {"escalate", COUNSELLOR, counsellor_msg_escalate},
    {"logout", COUNSELLOR, counsellor_msg_logout},
    {"logout", SUPERVISOR, supervisor_msg_logout},
    {"feedback", NONE | YOUNG | ENDED, young_feedback_msg},
    {"mail_keys", NONE | MAIL | COUNSELLOR, mail_young_keys},
    {"mail_new", NONE, mail_young_new},
    {"mail_open", NONE, mail_young_open},
    {"mail_delete", MAIL, mail_young_delete},
    {"mail_key", COUNSELLOR, mail_post_msg_key},
    {"mail_list", COUNSELLOR, mail_post_msg_list},
    {"mail_claim", COUNSELLOR, mail_post_msg_claim},
    {"mail_release", COUNSELLOR, mail_post_msg_release},
    {"mail_handover", COUNSELLOR, mail_post_msg_handover},
    {"mail_close", COUNSELLOR, mail_post_msg_close},
};

/* The answer to a known type the connection's role may not send. */
static const char *const refusals[] = {
    [ROLE_NONE] = "say hello or login first",
    [ROLE_YOUNG] = "not valid for a young person's connection",
    [ROLE_COUNSELLOR] = "not valid for a counsellor's connection",
    [ROLE_SUPERVISOR] = "supervisors watch; they do not send this",
    [ROLE_MAIL] = "not valid for a mail connection",
    [ROLE_ENDED] = "the chat has ended",
};

/* One parsed control message at a time: the service thread is single. */
static struct lotse_json_msg msg;

/* Routes a parsed message of the given type by the table. */
static void route(struct conn *c, const char *type)
{
    /* hello, login, resume and the mail look-ups only on the serving node */
    if (c->role == ROLE_NONE && node_redirect(c))
        return;
    bool known = false;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(type, routes[i].type) != 0)
            continue;
        known = true;
        if (routes[i].roles & (1u << c->role)) {
            routes[i].handler(c, &msg);
            return;
        }
    }
    if (!known)
        conn_send_error(c, "unknown_type", "not a message type of this protocol", type, NULL, NULL,
                        true);
    else
        conn_send_error(c, "not_allowed", refusals[c->role], type, NULL, NULL, true);
}

static void receive_text(struct conn *c, const char *text, size_t len)
{
    if (lotse_json_parse(&msg, text, len) != 0) {
        conn_send_error(c, "bad_json", "not one flat JSON object", NULL, NULL, NULL, true);
        return;
    }
    const char *type;
    size_t type_len;
    if (lotse_json_get_str(&msg, "t", 32, &type, &type_len) != 0) {
        conn_send_error(c, "unknown_type", "field t missing", NULL, NULL, "t", true);
        return;
    }
    route(c, type);
    /* the message may have held a password */
    sodium_memzero(msg.storage, sizeof(msg.storage));
}

void messages_receive(struct conn *c, bool binary, const uint8_t *data, size_t len)
{
    /* a MAIL frame (§9) is stored, not relayed; DATA and ACK go the hot path */
    if (binary && len >= 2 && data[1] == LOTSE_FRAME_MAIL)
        mail_frame(c, data, len);
    else if (binary)
        relay_frame(c, data, len);
    else
        receive_text(c, (const char *)data, len);
}
