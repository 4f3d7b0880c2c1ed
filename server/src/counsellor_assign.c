/* counsellor_assign.c — sessions reaching counsellors: taking the next one,
 * offers (offer mode) with their deadline, accept and decline, "assigned", and
 * letting go of a session that ended. */
#include "counsellor.h"

#include <stdbool.h>
#include <stddef.h>

#include "chat_route.h"
#include "conn.h"
#include "directory.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "node.h"
#include "session.h"
#include "tick.h"
#include "waiting.h"

void counsellor_send_assigned(struct counsellor *k, struct session *s)
{
    if (!k->conn)
        return;
    struct hub *hub = k->conn->hub;
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "assigned");
    lotse_jw_hex(w, "sid", s->sid, LOTSE_SID_BYTES);
    lotse_jw_str(w, "topic", hub->cfg->topics[s->topic]);
    lotse_jw_b64(w, "pk", s->young_pk, LOTSE_PK_BYTES);
    if (s->same)
        lotse_jw_bool(w, "same", true);
    lotse_jw_int(w, "waited",
                 ((s->picked_ms ? s->picked_ms : hub_now_ms()) - s->enqueued_ms) / 1000);
    lotse_jw_obj_end(w);
    conn_send_json(k->conn, w);
}

void counsellor_assign(struct counsellor *k, struct session *s)
{
    struct hub *hub = k->conn->hub;
    int64_t now = hub_now_ms();
    queue_remove(&hub->queue, &s->qe);
    for (int i = 0; i < COUNSELLOR_MAX_SESSIONS; i++) {
        if (!k->sessions[i]) {
            k->sessions[i] = s;
            break;
        }
    }
    k->active++;
    s->counsellor = k;
    s->org_id = orgs_row_org(&s->route, k->org_id);
    s->state = SESSION_ASSIGNED;
    if (!s->picked_ms)
        s->picked_ms = now;
    s->last_frame_ms = now;
    waiting_note_pickup(hub, now);
    session_row_taken(hub, s);
    directory_session_changed(hub, s);
    counsellor_send_assigned(k, s);
    log_debug("counsellor %lld took a %s session", (long long)k->account_id,
              hub->cfg->topics[s->topic]);
    counsellor_send_status(k);
    waiting_changed(hub);
}

void counsellor_detach(struct counsellor *k, struct session *s)
{
    for (int i = 0; i < COUNSELLOR_MAX_SESSIONS; i++) {
        if (k->sessions[i] == s) {
            k->sessions[i] = NULL;
            k->active--;
        }
    }
    s->counsellor = NULL;
    s->same = false;
    if (k->conn && !k->conn->closing)
        counsellor_send_status(k);
    if (k->conn && k->conn->hub->cfg->assign_mode == ASSIGN_OFFER)
        counsellor_offer_round(k->conn->hub);
}

/* The next chat k may take (chat_route_may_take), skipping offered ones. */
struct may_take_arg {
    const struct hub *hub;
    const struct counsellor *k;
};

static bool may_take(const struct queue_entry *e, const void *arg)
{
    const struct may_take_arg *a = arg;
    const struct session *s =
        (const struct session *)((const char *)e - offsetof(struct session, qe));
    return chat_route_may_take(a->hub, a->k, s);
}

static struct queue_entry *next_for(struct hub *hub, struct counsellor *k)
{
    struct may_take_arg a = {hub, k};
    return queue_next_ok(&hub->queue, k->topic_mask, true, may_take, &a);
}

static bool can_take(struct conn *c, const char *re)
{
    struct counsellor *k = c->counsellor;
    if (!k->has_cert) {
        conn_send_error(c, "device_not_certified", "this device has no valid certificate", re, NULL,
                        NULL, false);
        return false;
    }
    if (!node_serving(c->hub)) { /* handing over to another node (PROTOCOL.md §5.4) */
        conn_send_error(c, "moving", "the service moves to another node", re, NULL, NULL, false);
        return false;
    }
    if (k->active >= k->capacity) {
        conn_send_error(c, "at_capacity", "you already have as many sessions as you set", re, NULL,
                        NULL, false);
        return false;
    }
    return true;
}

void counsellor_msg_take(struct conn *c, const struct lotse_json_msg *m)
{
    (void)m;
    struct counsellor *k = c->counsellor;
    if (!can_take(c, "take"))
        return;
    struct queue_entry *e = next_for(c->hub, k);
    if (!e) {
        conn_send_error(c, "queue_empty", "nobody is waiting in your topics", "take", NULL, NULL,
                        false);
        return;
    }
    counsellor_assign(k, (struct session *)((char *)e - offsetof(struct session, qe)));
}

void counsellor_withdraw_offer(struct session *s)
{
    struct counsellor *k = s->offered_to;
    s->offered_to = NULL;
    s->qe.offered = false;
    if (k && k->offer == s)
        k->offer = NULL;
}

static void handle_accept(struct conn *c, const struct lotse_json_msg *m, bool accept)
{
    const char *re = accept ? "accept" : "decline";
    struct session *s = counsellor_own_session(c, m, re, true);
    if (!s)
        return;
    if (accept && !can_take(c, re))
        return;
    counsellor_withdraw_offer(s);
    if (accept) {
        counsellor_assign(c->counsellor, s);
    } else {
        c->counsellor->offers_paused_until_ms =
            hub_now_ms() + (int64_t)c->hub->cfg->offer_timeout * 1000;
        counsellor_offer_round(c->hub);
    }
}

void counsellor_msg_accept(struct conn *c, const struct lotse_json_msg *m)
{
    handle_accept(c, m, true);
}

void counsellor_msg_decline(struct conn *c, const struct lotse_json_msg *m)
{
    handle_accept(c, m, false);
}

void counsellor_offer_round(struct hub *hub)
{
    if (hub->stopping || !node_serving(hub))
        return;
    /* Give each waiting session, oldest of the highest priority first, to the
     * least-loaded available counsellor that serves its topic and has no open
     * offer. Repeat until nobody more can be offered anything. */
    for (;;) {
        struct counsellor *best = NULL;
        struct queue_entry *best_e = NULL;
        for (struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k)) {
            if (!k->conn || !k->available || k->offer || !k->has_cert || k->active >= k->capacity ||
                k->offers_paused_until_ms > hub_now_ms())
                continue;
            struct queue_entry *e = next_for(hub, k);
            if (!e)
                continue;
            if (!best || k->active < best->active) {
                best = k;
                best_e = e;
            }
        }
        if (!best)
            return;
        struct session *s = (struct session *)((char *)best_e - offsetof(struct session, qe));
        s->qe.offered = true;
        s->offered_to = best;
        s->offer_deadline_ms = hub_now_ms() + (int64_t)hub->cfg->offer_timeout * 1000;
        best->offer = s;
        struct lotse_jw *w = conn_jw();
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_str(w, "t", "offer");
        lotse_jw_hex(w, "sid", s->sid, LOTSE_SID_BYTES);
        lotse_jw_str(w, "topic", hub->cfg->topics[s->topic]);
        lotse_jw_int(w, "waited", (hub_now_ms() - s->enqueued_ms) / 1000);
        lotse_jw_int(w, "expires", hub->cfg->offer_timeout);
        lotse_jw_obj_end(w);
        conn_send_json(best->conn, w);
    }
}

void counsellor_offer_expire(struct hub *hub, int64_t now_ms)
{
    bool any = false;
    for (struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k)) {
        struct session *s = k->offer;
        if (!s || s->offer_deadline_ms > now_ms || !k->conn)
            continue;
        counsellor_withdraw_offer(s);
        /* Someone who lets an offer run out is probably away from the desk. */
        k->available = false;
        directory_counsellor_changed(hub, k);
        session_notify(k->conn, "offer_withdrawn", s->sid, NULL);
        counsellor_send_status(k);
        any = true;
    }
    if (any)
        counsellor_offer_round(hub);
}

void counsellor_offer_cancel(struct session *s)
{
    struct counsellor *k = s->offered_to;
    if (!k)
        return;
    bool open = k->offer == s;
    counsellor_withdraw_offer(s);
    if (!open || !k->conn)
        return;
    session_notify(k->conn, "offer_withdrawn", s->sid, NULL);
}

/* Offer mode: expired offers are withdrawn, then the next round is offered. */
static void offer_tick(struct hub *hub, int64_t now_ms)
{
    if (hub->cfg->assign_mode != ASSIGN_OFFER)
        return;
    counsellor_offer_expire(hub, now_ms);
    counsellor_offer_round(hub);
}

/* Offers run first of the roles' hooks (after the connection layer's 10), as
 * the tick always ran. */
static struct tick_hook offer_hook = {.order = 20, .fn = offer_tick};

void counsellor_offers_start(struct hub *hub)
{
    tick_add(&hub->tick, &offer_hook);
}
