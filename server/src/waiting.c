/* waiting.c — positions and expected waits for the people in the queue. A
 * position counts whom the counsellors serving the person's topic will take
 * first, across the topics those counsellors serve and their priorities; with
 * nobody serving the topic the person is told so instead of an estimate. */
#include "waiting.h"

#include <stddef.h>

#include "chat_route.h"
#include "conn.h"
#include "counsellor.h"
#include "hub.h"
#include "lotse/json.h"
#include "session.h"
#include "tick.h"

void waiting_changed(struct hub *hub)
{
    hub->queue_dirty = true;
    hub->summary_dirty = true;
}

void waiting_note_pickup(struct hub *hub, int64_t now_ms)
{
    hub->pickups[hub->pickup_count % HUB_PICKUP_RING] = now_ms;
    hub->pickup_count++;
}

uint32_t waiting_eta(const struct hub *hub, uint32_t pos, int64_t now_ms)
{
    /* average interval between pickups over the last hour (at most the last 32) */
    unsigned n = hub->pickup_count < HUB_PICKUP_RING ? hub->pickup_count : HUB_PICKUP_RING;
    int64_t oldest = now_ms, interval_ms = 60000;
    unsigned recent = 0;
    for (unsigned i = 0; i < n; i++) {
        int64_t t = hub->pickups[i];
        if (now_ms - t <= 3600 * 1000) {
            recent++;
            if (t < oldest)
                oldest = t;
        }
    }
    if (recent >= 2)
        interval_ms = (now_ms - oldest) / recent;
    if (interval_ms < 1000)
        interval_ms = 1000;
    uint64_t secs = ((uint64_t)pos * (uint64_t)interval_ms + 999) / 1000;
    return (uint32_t)((secs + 29) / 30 * 30);
}

void waiting_reach(struct hub *hub, uint32_t reach[CONFIG_MAX_TOPICS])
{
    for (int t = 0; t < CONFIG_MAX_TOPICS; t++)
        reach[t] = 0;
    for (struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k)) {
        if (!counsellor_serving(k))
            continue;
        for (int t = 0; t < hub->queue.topic_count; t++)
            if (k->topic_mask & (1u << t))
                reach[t] |= k->topic_mask;
    }
}

uint32_t waiting_arrival_pos(struct hub *hub, int t, bool *staffed)
{
    uint32_t reach[CONFIG_MAX_TOPICS];
    waiting_reach(hub, reach);
    *staffed = reach[t] != 0;
    uint32_t from = *staffed ? reach[t] : 1u << t;
    const struct queue *q = &hub->queue;
    uint32_t pos = 0; /* t's list holds the arrival itself: 1-based */
    for (int u = 0; u < q->topic_count; u++)
        if ((from & (1u << u)) && q->priority[u] >= q->priority[t])
            pos += (uint32_t)q->lists[u].len;
    return pos;
}

/* Sends s its position when it, the estimate, whether anyone could take it,
 * its route or whether anyone speaks its language changed. */
static void push_position(struct hub *hub, struct queue_entry *e, uint32_t pos)
{
    struct session *s = (struct session *)((char *)e - offsetof(struct session, qe));
    if (!s->young)
        return;
    bool lang_staffed, staffed = chat_route_staffed(hub, s, &lang_staffed);
    uint32_t eta = staffed ? waiting_eta(hub, pos, hub_now_ms()) : 0;
    if (pos == s->sent_pos && eta == s->sent_eta && staffed != s->sent_unstaffed &&
        (s->route.kind == ORG_ROUTE_POOL) == s->sent_pool &&
        lang_staffed != s->sent_lang_unstaffed)
        return;
    s->sent_pos = pos;
    s->sent_eta = eta;
    s->sent_unstaffed = !staffed;
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "queue");
    lotse_jw_int(w, "pos", pos);
    lotse_jw_int(w, "eta", eta);
    if (!staffed)
        lotse_jw_bool(w, "staffed", false);
    chat_route_write(hub, w, s, lang_staffed);
    lotse_jw_obj_end(w);
    int len = lotse_jw_finish(w);
    if (len >= 0)
        conn_send_bulk(s->young, w->buf, (size_t)len);
}

/* The positions of topic t's list, oldest first: everyone in the topics its
 * counsellors take from (reach) with a higher priority, plus those of the
 * same priority who came earlier (a pointer per such list walks along). */
static void push_topic(struct hub *hub, int t, uint32_t reach)
{
    const struct queue *q = &hub->queue;
    uint32_t from = reach ? reach : 1u << t, higher = 0;
    const struct queue_entry *walk[CONFIG_MAX_TOPICS];
    uint32_t passed[CONFIG_MAX_TOPICS];
    int nsame = 0;
    for (int u = 0; u < q->topic_count; u++) {
        if (u == t || !(from & (1u << u)) || q->priority[u] < q->priority[t])
            continue;
        if (q->priority[u] > q->priority[t]) {
            higher += (uint32_t)q->lists[u].len;
        } else {
            walk[nsame] = q->lists[u].head;
            passed[nsame++] = 0;
        }
    }
    uint32_t own = 0;
    for (struct queue_entry *e = q->lists[t].head; e; e = e->next) {
        uint32_t pos = higher + ++own;
        for (int i = 0; i < nsame; i++) {
            while (walk[i] && queue_before(walk[i], e)) {
                walk[i] = walk[i]->next;
                passed[i]++;
            }
            pos += passed[i];
        }
        push_position(hub, e, pos);
    }
}

/* Pushes positions that changed (queue_dirty), after the hooks that end
 * sessions in the same second. */
static void push_positions(struct hub *hub, int64_t now_ms)
{
    (void)now_ms;
    if (!hub->queue_dirty)
        return;
    hub->queue_dirty = false;
    uint32_t reach[CONFIG_MAX_TOPICS];
    waiting_reach(hub, reach);
    for (int t = 0; t < hub->queue.topic_count; t++)
        if (hub->queue.lists[t].len)
            push_topic(hub, t, reach[t]);
}

static struct tick_hook positions_hook = {.order = 60, .fn = push_positions};

void waiting_start(struct hub *hub)
{
    tick_add(&hub->tick, &positions_hook);
}
