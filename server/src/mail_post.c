/* mail_post.c — the counsellors' side of mail counselling (PROTOCOL.md §9.1).
 * Every decision about a claim is one statement in the database (a claim is
 * one UPDATE ... WHERE claimed_by IS NULL OR claimed_by = me), so two lotsed
 * processes or two counsellors racing cannot both win. Store callbacks hold
 * the connection's mail state (mail_thread.h), never the connection. */
#include "mail_post.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "conn.h"
#include "counsellor.h"
#include "log.h"
#include "lotse/json.h"
#include "lotse/mail.h"
#include "mail_board.h"
#include "mail_thread.h"
#include "mem.h"
#include "clock.h"
#include "hub.h"
#include "store_mail_post.h"

/* One request in flight for a counsellor's connection. */
struct post_op {
    struct mail_conn *mc;
    uint8_t tid[MAIL_TID_BYTES];
    char tid_hex[2 * MAIL_TID_BYTES + 1];
    int64_t to;         /* handover: the colleague */
    const char *ok;     /* the reply's type on success */
};

static void hex(char *out, const uint8_t *b, size_t n)
{
    lotse_hex_encode(out, 2 * n + 1, b, n);
}

/* A new op for c (mail state held); NULL when out of memory (answered). */
static struct post_op *op_new(struct conn *c, const uint8_t *tid, const char *ok)
{
    struct mail_conn *mc = mail_conn_of(c);
    struct post_op *op = mc ? mem_calloc(1, sizeof(*op)) : NULL;
    if (!op) {
        conn_send_error(c, "busy", "try again", ok, NULL, NULL, false);
        return NULL;
    }
    mc->counsellor_id = c->counsellor->account_id;
    op->mc = mc;
    op->ok = ok;
    if (tid) {
        memcpy(op->tid, tid, MAIL_TID_BYTES);
        hex(op->tid_hex, tid, MAIL_TID_BYTES);
    }
    mail_conn_hold(mc);
    return op;
}

/* Ends op: the connection if it is still there, else NULL. */
static struct conn *op_end(struct post_op *op)
{
    struct conn *c = mail_conn_release(op->mc);
    return c;
}

/* A queueing failure right away: let go and answer busy. */
static void op_failed(struct conn *c, struct post_op *op)
{
    mail_conn_release(op->mc);
    mem_free(op);
    conn_send_error(c, "busy", "the database is busy; try again", NULL, NULL, NULL, false);
}

static void send_tid(struct conn *c, const char *type, const char *tid_hex, int64_t to)
{
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", type);
    lotse_jw_str(w, "tid", tid_hex);
    if (to)
        lotse_jw_int(w, "to", to);
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
}

static void send_simple(struct conn *c, const char *type)
{
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", type);
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
}

/* The "tid" field; answers bad_field itself and returns -EINVAL. */
static int get_tid(struct conn *c, const struct lotse_json_msg *m, const char *re,
                   uint8_t tid[MAIL_TID_BYTES])
{
    const char *h;
    size_t len;
    if (lotse_json_get_str(m, "tid", 64, &h, &len) != 0 ||
        lotse_hex_decode(tid, MAIL_TID_BYTES, h, len) != MAIL_TID_BYTES) {
        conn_send_error(c, "bad_field", "tid must be 32 hex digits", re, NULL, "tid", true);
        return -EINVAL;
    }
    return 0;
}

/* ---- mail_key ---- */

static void key_done(void *arg, int status, const struct pg_result *res)
{
    struct post_op *op = arg;
    struct conn *c = op_end(op);
    mem_free(op);
    if (!c)
        return;
    if (status == 0 && store_result_rows(res) == 1)
        send_simple(c, "mail_key_ok");
    else
        conn_send_error(c, "mail_key_rejected", "this device has no valid certificate", "mail_key",
                        NULL, NULL, false);
}

/* The device key is the one the login certificate names (body offset 14). */
void mail_post_msg_key(struct conn *c, const struct lotse_json_msg *m)
{
    struct counsellor *k = c->counsellor;
    uint8_t pk[32], sig[LOTSE_SIG_BYTES];
    const char *b64;
    size_t len;
    if (lotse_json_get_str(m, "pk", 64, &b64, &len) != 0 ||
        lotse_b64_decode(pk, sizeof(pk), b64, len) != 32 ||
        lotse_json_get_str(m, "sig", 128, &b64, &len) != 0 ||
        lotse_b64_decode(sig, sizeof(sig), b64, len) != LOTSE_SIG_BYTES) {
        conn_send_error(c, "bad_field", "pk and sig must be base64url of 32 and 64 bytes",
                        "mail_key", NULL, NULL, true);
        return;
    }
    const uint8_t *device_pk = k->cert + 14;
    if (!k->has_cert || lotse_mail_key_verify(sig, device_pk, pk) != 0) {
        conn_send_error(c, "mail_key_rejected", "no certified device, or a bad signature",
                        "mail_key", NULL, NULL, false);
        return;
    }
    struct post_op *op = op_new(c, NULL, "mail_key");
    if (op && store_mail_key_put(c->hub->store, device_pk, pk, sig, key_done, op) < 0)
        op_failed(c, op);
}

void mail_post_msg_list(struct conn *c, const struct lotse_json_msg *m)
{
    (void)m;
    mail_board_send_list(c, c->counsellor->account_id);
    /* the board is read anew at the next tick ("Neu laden" sees what changed in
     * the database meanwhile); a difference is pushed as mail_changed */
    mail_board_changed();
}

/* ---- claim ---- */

static void claimed_header(struct conn *c, const struct post_op *op, const struct pg_result *res)
{
    uint8_t box[32], sign[32];
    lotse_hex_decode(box, sizeof(box), store_result_text(res, 0, 2), 64);
    lotse_hex_decode(sign, sizeof(sign), store_result_text(res, 0, 3), 64);
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "mail_claimed");
    lotse_jw_str(w, "tid", op->tid_hex);
    lotse_jw_str(w, "topic", store_result_text(res, 0, 1));
    lotse_jw_b64(w, "box_pk", box, sizeof(box));
    lotse_jw_b64(w, "sign_pk", sign, sizeof(sign));
    lotse_jw_int(w, "n", store_result_int(res, 0, 4));
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
}

static void claim_done(void *arg, int status, const struct pg_result *res)
{
    struct post_op *op = arg;
    struct conn *c = op_end(op);
    if (!c) {
        mem_free(op);
        return;
    }
    if (status != 0) {
        conn_send_error(c, "busy", "the database is busy; try again", "mail_claim", NULL, NULL,
                        false);
    } else if (store_result_rows(res) != 1 || strcmp(store_result_text(res, 0, 6), "open") != 0) {
        conn_send_error(c, "mail_unknown_thread", "no such open thread", "mail_claim", op->tid,
                        "tid", false);
    } else if (store_result_int(res, 0, 0) != 1) {
        conn_send_error(c, "mail_taken", "a colleague holds this thread", "mail_claim", op->tid,
                        "tid", false);
    } else {
        claimed_header(c, op, res);
        mail_thread_stream(c, op->tid, NULL);
        mail_board_changed();
    }
    mem_free(op);
}

void mail_post_msg_claim(struct conn *c, const struct lotse_json_msg *m)
{
    uint8_t tid[MAIL_TID_BYTES];
    if (get_tid(c, m, "mail_claim", tid) != 0)
        return;
    if (!mail_board_ready()) {
        conn_send_error(c, "busy", "starting; try again", "mail_claim", NULL, NULL, false);
        return;
    }
    struct post_op *op = op_new(c, tid, "mail_claimed");
    if (op && store_mail_claim(c->hub->store, op->tid_hex, c->counsellor->account_id, claim_done,
                               op) < 0)
        op_failed(c, op);
}

/* ---- release, handover, close: one row when done ---- */

static void change_done(void *arg, int status, const struct pg_result *res)
{
    struct post_op *op = arg;
    struct conn *c = op_end(op);
    if (c && status == 0 && store_result_rows(res) == 1) {
        send_tid(c, op->ok, op->tid_hex, op->to);
        mail_board_changed();
    } else if (c) {
        conn_send_error(c, status == 0 ? "mail_not_claimed" : "busy",
                        status == 0 ? "not your claim (or no such colleague)" : "try again",
                        NULL, op->tid, NULL, false);
    }
    mem_free(op);
}

typedef int change_fn(struct store *s, const char *tid, int64_t who, int64_t to,
                      store_result_cb cb, void *arg);

static int do_release(struct store *s, const char *tid, int64_t who, int64_t to,
                      store_result_cb cb, void *arg)
{
    (void)to;
    return store_mail_release(s, tid, who, cb, arg);
}

static int do_close(struct store *s, const char *tid, int64_t who, int64_t to, store_result_cb cb,
                    void *arg)
{
    (void)to;
    return store_mail_close(s, tid, who, cb, arg);
}

static void change(struct conn *c, const struct lotse_json_msg *m, const char *re, const char *ok,
                   int64_t to, change_fn *fn)
{
    uint8_t tid[MAIL_TID_BYTES];
    if (get_tid(c, m, re, tid) != 0)
        return;
    struct post_op *op = op_new(c, tid, ok);
    if (!op)
        return;
    op->to = to;
    if (fn(c->hub->store, op->tid_hex, c->counsellor->account_id, to, change_done, op) < 0)
        op_failed(c, op);
}

void mail_post_msg_release(struct conn *c, const struct lotse_json_msg *m)
{
    change(c, m, "mail_release", "mail_released", 0, do_release);
}

void mail_post_msg_close(struct conn *c, const struct lotse_json_msg *m)
{
    change(c, m, "mail_close", "mail_closed", 0, do_close);
}

void mail_post_msg_handover(struct conn *c, const struct lotse_json_msg *m)
{
    int64_t to;
    if (lotse_json_get_int(m, "to", 1, INT32_MAX, &to) != 0 ||
        to == c->counsellor->account_id) {
        conn_send_error(c, "bad_field", "to must be a colleague's id", "mail_handover", NULL, "to",
                        true);
        return;
    }
    change(c, m, "mail_handover", "mail_handed_over", to, store_mail_handover);
}

/* ---- the answer ---- */

static void answer_refused(struct conn *c, const struct post_op *op, const struct pg_result *res,
                           int n)
{
    const struct config *cfg = c->hub->cfg;
    const char *code = "mail_not_claimed";
    if (store_result_rows(res) != 1)
        code = "mail_unknown_thread";
    else if (store_result_int(res, 0, 1) != c->counsellor->account_id)
        code = "mail_not_claimed";
    else if (strcmp(store_result_text(res, 0, 2), "open") != 0)
        code = "mail_closed";
    else if (store_result_int(res, 0, 3) + 1 != n)
        code = "mail_conflict";
    else if (store_result_int(res, 0, 3) >= cfg->mail_thread_max_messages ||
             store_result_int(res, 0, 4) > cfg->mail_thread_max_bytes - 1)
        code = "thread_full";
    conn_send_error(c, code, "answer not stored", "mail", op->tid, NULL, false);
}

static void answer_done(void *arg, int status, const struct pg_result *res)
{
    struct post_op *op = arg;
    struct conn *c = op_end(op);
    if (status == 0 && store_result_rows(res) == 1 && store_result_text(res, 0, 0)[0] &&
        store_result_text(res, 0, 5)[0] == 't')
        mail_board_first_answer(op->tid, store_result_int(res, 0, 6));
    if (status == 0)
        mail_board_changed();
    if (!c) {
        mem_free(op);
        return;
    }
    if (c->mail)
        c->mail->appending = false;
    if (status != 0)
        conn_send_error(c, "busy", "try again", "mail", op->tid, NULL, false);
    else if (store_result_rows(res) == 1 && store_result_text(res, 0, 0)[0]) {
        struct lotse_jw *w = conn_jw();
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_str(w, "t", "mail_stored");
        lotse_jw_str(w, "tid", op->tid_hex);
        lotse_jw_int(w, "n", store_result_int(res, 0, 0));
        lotse_jw_obj_end(w);
        conn_send_json(c, w);
    } else
        answer_refused(c, op, res, (int)op->to);
    mem_free(op);
}

/* The frame's header (§3, kind MAIL) and envelope; n in *n. 0 or -EPROTO. */
static int frame_check(const uint8_t *f, size_t len, uint64_t *n)
{
    if (len <= LOTSE_FRAME_HEADER_BYTES || len > LOTSE_MAIL_FRAME_MAX ||
        f[0] != LOTSE_PROTO_VERSION || f[1] != LOTSE_FRAME_MAIL || f[2] || f[3])
        return -EPROTO;
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = seq << 8 | f[20 + i];
    if (seq < 1 || seq > 1000)
        return -EPROTO;
    *n = seq;
    return lotse_mail_envelope_check(f + LOTSE_FRAME_HEADER_BYTES,
                                     len - LOTSE_FRAME_HEADER_BYTES) == 0
               ? 0
               : -EPROTO;
}

void mail_post_frame(struct conn *c, const uint8_t *frame, size_t len)
{
    const struct config *cfg = c->hub->cfg;
    uint64_t n;
    if (frame_check(frame, len, &n) != 0) {
        conn_send_error(c, "bad_envelope", "not a MAIL frame with a valid envelope", "mail", NULL,
                        NULL, true);
        return;
    }
    if (c->mail && c->mail->appending) {
        conn_send_error(c, "busy", "one answer at a time", "mail", frame + 4, NULL, false);
        return;
    }
    struct post_op *op = op_new(c, frame + 4, "mail_stored");
    if (!op)
        return;
    op->to = (int64_t)n;
    struct store_mail_answer a = {
        .tid = op->tid_hex,
        .who = c->counsellor->account_id,
        .n = (int)n,
        .max_messages = cfg->mail_thread_max_messages,
        .max_bytes = cfg->mail_thread_max_bytes,
        .target_hours = cfg->mail_target_hours,
    };
    if (store_mail_answer(c->hub->store, &a, frame + LOTSE_FRAME_HEADER_BYTES,
                          len - LOTSE_FRAME_HEADER_BYTES, answer_done, op) < 0) {
        op_failed(c, op);
        return;
    }
    c->mail->appending = true;
}

void mail_post_counsellor_left(struct hub *hub, int64_t account_id)
{
    if (!hub->cfg->mail_enabled || hub->finishing)
        return;
    if (store_mail_release_all(hub->store, account_id, NULL, NULL) == 0)
        mail_board_changed();
}
