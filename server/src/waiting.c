/* waiting.c — positions and expected waits for the people in the queue. */
#include "waiting.h"

#include <stddef.h>

#include "conn.h"
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

static void push_position(struct queue_entry *e, uint32_t pos, void *arg)
{
    struct hub *hub = arg;
    struct session *s = (struct session *)((char *)e - offsetof(struct session, qe));
    uint32_t eta = waiting_eta(hub, pos, hub_now_ms());
    if (!s->young || (pos == s->sent_pos && eta == s->sent_eta))
        return;
    s->sent_pos = pos;
    s->sent_eta = eta;
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "queue");
    lotse_jw_int(w, "pos", pos);
    lotse_jw_int(w, "eta", eta);
    lotse_jw_obj_end(w);
    int len = lotse_jw_finish(w);
    if (len >= 0)
        conn_send_bulk(s->young, w->buf, (size_t)len);
}

/* Pushes positions that changed (queue_dirty), after the hooks that end
 * sessions in the same second. */
static void push_positions(struct hub *hub, int64_t now_ms)
{
    (void)now_ms;
    if (!hub->queue_dirty)
        return;
    hub->queue_dirty = false;
    queue_positions(&hub->queue, push_position, hub);
}

static struct tick_hook positions_hook = {.order = 60, .fn = push_positions};

void waiting_start(struct hub *hub)
{
    tick_add(&hub->tick, &positions_hook);
}
