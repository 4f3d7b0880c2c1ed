/* mail_thread.c — the thread helpers both sides of mail counselling share
 * (PROTOCOL.md §9): a connection's mail state across store round trips, a
 * thread's messages streamed as MAIL frames, one message appended with the
 * limits, a thread deleted. Envelopes are opaque here: the server checks their
 * structure (lotse_mail_envelope_check) and never logs them. */
#include "mail_thread.h"

#include "mail_board.h"
#include "mail_post.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "config.h"
#include "conn.h"
#include "hub.h"
#include "lotse/json.h"
#include "lotse/mail.h"
#include "lotse/proto.h"
#include "mem.h"

struct mail_conn *mail_conn_of(struct conn *c)
{
    if (!c->mail) {
        c->mail = mem_calloc(1, sizeof(*c->mail));
        if (c->mail) {
            c->mail->c = c;
            c->mail_closed = mail_conn_closed;
        }
    }
    return c->mail;
}

static void mail_conn_free(struct mail_conn *mc)
{
    if (mc->side_free)
        mc->side_free(mc->side);
    mem_free_secret(mc, sizeof(*mc));
}

void mail_conn_closed(struct conn *c)
{
    struct mail_conn *mc = c->mail;
    if (!mc)
        return;
    c->mail = NULL;
    mc->c = NULL;
    if (mc->holds == 0)
        mail_conn_free(mc);
}

void mail_conn_hold(struct mail_conn *mc)
{
    mc->holds++;
}

struct conn *mail_conn_release(struct mail_conn *mc)
{
    mc->holds--;
    if (mc->c)
        return mc->c;
    if (mc->holds == 0)
        mail_conn_free(mc);
    return NULL;
}

/* One store round trip of a helper: whose, what to run after, for which thread. */
struct mail_op {
    struct mail_conn *mc;
    mail_done_fn *done;
    uint8_t tid[MAIL_TID_BYTES];
};

static struct mail_op *op_new(struct conn *c, const uint8_t tid[MAIL_TID_BYTES], mail_done_fn *done)
{
    struct mail_conn *mc = mail_conn_of(c);
    struct mail_op *op = mc ? mem_calloc(1, sizeof(*op)) : NULL;
    if (!op)
        return NULL;
    op->mc = mc;
    op->done = done;
    memcpy(op->tid, tid, MAIL_TID_BYTES);
    mail_conn_hold(mc);
    return op;
}

/* Ends an op: its connection (or NULL when gone), the op freed. */
static struct conn *op_end(struct mail_op *op)
{
    struct conn *c = mail_conn_release(op->mc);
    mem_free(op);
    return c;
}

/* A store call refused at once (queue full): the op is undone. */
static int op_refused(struct mail_op *op, int rc)
{
    op_end(op);
    return rc;
}

/* One frame at a time: the service thread is single. */
static uint8_t frame_buf[LOTSE_MAIL_FRAME_MAX];

int mail_thread_send_rows(struct conn *c, const uint8_t tid[MAIL_TID_BYTES],
                          const struct pg_result *res)
{
    int rows = store_result_rows(res), sent = 0;
    for (int i = 0; i < rows; i++) {
        struct lotse_frame_header h = {.version = LOTSE_PROTO_VERSION, .kind = LOTSE_FRAME_MAIL};
        memcpy(h.sid, tid, MAIL_TID_BYTES);
        h.seq = (uint64_t)store_result_int(res, i, 0);
        int len = store_result_bytea(res, i, 2, frame_buf + LOTSE_FRAME_HEADER_BYTES,
                                     LOTSE_MAIL_ENVELOPE_MAX);
        if (len <= 0 || h.seq == 0)
            continue; /* the database holds only checked envelopes */
        lotse_frame_encode_header(frame_buf, &h);
        size_t total = LOTSE_FRAME_HEADER_BYTES + (size_t)len;
        int rc = conn_send(c, frame_buf, total, true);
        sodium_memzero(frame_buf, total);
        if (rc != 0)
            return -1;
        sent++;
    }
    return sent;
}

static void streamed(void *arg, int status, const struct pg_result *res)
{
    struct mail_op *op = arg;
    mail_done_fn *done = op->done;
    uint8_t tid[MAIL_TID_BYTES];
    memcpy(tid, op->tid, MAIL_TID_BYTES);
    struct conn *c = op_end(op);
    if (!c)
        return;
    int result = status == 0 ? mail_thread_send_rows(c, tid, res) : status;
    if (done)
        done(c, result < 0 && status == 0 ? -EPIPE : result);
}

int mail_thread_stream(struct conn *c, const uint8_t tid[MAIL_TID_BYTES], mail_done_fn *done)
{
    if (!c->hub->store)
        return -ENOTCONN;
    struct mail_op *op = op_new(c, tid, done);
    if (!op)
        return -ENOMEM;
    int rc = store_mail_messages(c->hub->store, tid, streamed, op);
    return rc < 0 ? op_refused(op, rc) : 0;
}

/* The error code of an append's status, or NULL for "ok". */
static const char *append_error(const char *st)
{
    static const struct {
        const char *status, *code;
    } map[] = {
        {"conflict", "mail_conflict"},      {"thread_full", "thread_full"},
        {"mail_full", "mail_full"},         {"closed", "mail_closed"},
        {"unknown", "mail_unknown_thread"},
    };
    if (strcmp(st, "ok") == 0)
        return NULL;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(st, map[i].status) == 0)
            return map[i].code;
    return "internal";
}

static void appended(void *arg, int status, const struct pg_result *res)
{
    struct mail_op *op = arg;
    mail_done_fn *done = op->done;
    uint8_t tid[MAIL_TID_BYTES];
    memcpy(tid, op->tid, MAIL_TID_BYTES);
    op->mc->appending = false;
    struct conn *c = op_end(op);
    if (!c)
        return;
    const char *code = status != 0 ? "unavailable" : append_error(store_result_text(res, 0, 0));
    if (code) {
        conn_send_error(c, code, "message not stored", "mail", tid, NULL, false);
        return;
    }
    int n = (int)store_result_int(res, 0, 1);
    mail_board_young_stored(c->hub, tid, n); /* only the young side appends here */
    char buf[128];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "mail_stored");
    lotse_jw_hex(&w, "tid", tid, MAIL_TID_BYTES);
    lotse_jw_int(&w, "n", n);
    lotse_jw_obj_end(&w);
    conn_send_json(c, &w);
    if (done)
        done(c, n);
}

/* The envelope's structure; the server holds no key to look further. */
static bool envelope_ok(const uint8_t *env, size_t len)
{
#ifdef LOTSE_HAVE_MAIL_CRYPTO
    return lotse_mail_envelope_check(env, len) == 0;
#else
    (void)env; /* until proto/src/mail.c (r/mailcrypto) is merged */
    return len > 0 && len <= LOTSE_MAIL_ENVELOPE_MAX;
#endif
}

void mail_thread_append(struct conn *c, const uint8_t *frame, size_t len, int sender,
                        mail_done_fn *done)
{
    struct hub *hub = c->hub;
    struct lotse_frame_header h;
    const uint8_t *env;
    size_t env_len;
    if (lotse_frame_decode(frame, len, &h, &env, &env_len) != 0 || h.kind != LOTSE_FRAME_MAIL ||
        h.seq > INT32_MAX) {
        conn_send_error(c, "bad_frame", "invalid mail frame", "mail", NULL, NULL, true);
        return;
    }
    if (!envelope_ok(env, env_len)) {
        conn_send_error(c, "bad_envelope", "not a mail envelope", "mail", h.sid, NULL, true);
        return;
    }
    struct mail_conn *mc = mail_conn_of(c);
    if (!hub->cfg->mail_enabled || !hub->store || !mc || mc->appending) {
        conn_send_error(c, !hub->cfg->mail_enabled ? "mail_off" : "busy",
                        "mail cannot take this now", "mail", h.sid, NULL, false);
        return;
    }
    struct mail_op *op = op_new(c, h.sid, done);
    if (!op) {
        conn_send_error(c, "busy", "out of memory", "mail", h.sid, NULL, false);
        return;
    }
    const struct store_mail_limits lim = {hub->cfg->mail_thread_max_messages,
                                          hub->cfg->mail_thread_max_bytes,
                                          hub->cfg->mail_store_max_bytes};
    int rc = store_mail_append(hub->store, h.sid, (int)h.seq, sender, mc->counsellor_id, &lim, env,
                               env_len, appended, op);
    if (rc < 0) {
        op_refused(op, rc);
        conn_send_error(c, "busy", "try again", "mail", h.sid, NULL, false);
        return;
    }
    mc->appending = true;
}

static void deleted(void *arg, int status, const struct pg_result *res)
{
    (void)res;
    struct mail_op *op = arg;
    mail_done_fn *done = op->done;
    struct conn *c = op_end(op);
    if (c && done)
        done(c, status);
}

int mail_thread_delete(struct conn *c, const uint8_t tid[MAIL_TID_BYTES], mail_done_fn *done)
{
    if (!c->hub->store)
        return -ENOTCONN;
    struct mail_op *op = op_new(c, tid, done);
    if (!op)
        return -ENOMEM;
    int rc = store_mail_delete(c->hub->store, tid, deleted, op);
    return rc < 0 ? op_refused(op, rc) : 0;
}

void mail_frame(struct conn *c, const uint8_t *frame, size_t len)
{
    struct mail_conn *mc = c->mail;
    if (c->role == ROLE_MAIL && mc && mc->bound) {
        if (len < LOTSE_FRAME_HEADER_BYTES ||
            sodium_memcmp(frame + 4, mc->tid, MAIL_TID_BYTES) != 0) {
            conn_send_error(c, "not_allowed", "not your thread", "mail", NULL, NULL, true);
            return;
        }
        mail_thread_append(c, frame, len, LOTSE_MAIL_FROM_YOUNG, NULL);
        return;
    }
    if (c->role == ROLE_COUNSELLOR) {
        mail_post_frame(c, frame, len); /* the answer: stored only from the claimer */
        return;
    }
    conn_send_error(c, "not_allowed", "no mail thread on this connection", "mail", NULL, NULL,
                    true);
}
