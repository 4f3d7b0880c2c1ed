/* young_same.c — "mit derselben Person wie beim letzten Mal chatten"
 * (PROTOCOL.md §9.1): a hello with the lookup id of a mail thread goes first to
 * the counsellor who last answered that thread, when they are online, certified,
 * available and have room; otherwise it stays in the queue at its place. While
 * the store looks the thread up (one round trip) the session is held back from
 * takes and offers, so that nobody else takes it in between. The link lives
 * only in this memory, for this chat: nothing of it is stored or logged. */
#include "young.h"

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "counsellor.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "mail_young.h"
#include "session.h"

static void send_same(struct conn *c, bool ok)
{
    if (!c)
        return;
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "same");
    lotse_jw_str(w, "result", ok ? "ok" : "unavailable");
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
}

/* The counsellor with account id, when they could take one more chat now. */
static struct counsellor *answerer_here(struct hub *hub, int64_t id)
{
    for (struct counsellor *k = counsellor_first(hub); k && id; k = counsellor_next(k))
        if (k->account_id == id)
            return counsellor_serving(k) && k->active < k->capacity ? k : NULL;
    return NULL;
}

static void answerer_known(struct hub *hub, const uint8_t sid[LOTSE_SID_BYTES], int64_t id)
{
    struct session *s = session_find(hub->sessions, sid);
    if (!s || hub->stopping)
        return;
    /* Still held for this look-up? A resume or a transfer in between gave the
     * session back to the queue (queue_push and queue_remove clear the hold). */
    bool held = s->state == SESSION_WAITING && s->qe.queued && s->qe.offered && !s->offered_to;
    struct counsellor *k = held ? answerer_here(hub, id) : NULL;
    if (held)
        s->qe.offered = false;
    send_same(s->young, k != NULL);
    log_debug("a young person asked for the counsellor of their mail: %s",
              k ? "routed to them" : "queued");
    if (k) {
        s->same = true;
        counsellor_assign(k, s);
    } else if (held && hub->cfg->assign_mode == ASSIGN_OFFER) {
        counsellor_offer_round(hub);
    }
}

void young_same_ask(struct conn *c, struct session *s, const uint8_t lookup[32])
{
    s->qe.offered = true; /* held back from takes and offers until the answer */
    if (mail_young_answerer(c, lookup, s->sid, answerer_known) < 0) {
        s->qe.offered = false;
        send_same(c, false);
    }
}
