/* summary.c — the staff's queue summary (summary.h). hub->summary_dirty is
 * set by whoever changes what it counts (waiting_changed, a staff member
 * joining); the hook here clears it. */
#include "summary.h"

#include "conn.h"
#include "feed.h"
#include "hub.h"
#include "lotse/json.h"
#include "session.h"
#include "tick.h"

int64_t summary_topic_longest(const struct hub *hub, int t, int64_t now_ms)
{
    int64_t oldest = queue_topic_oldest_ms(&hub->queue, t);
    return oldest ? (now_ms - oldest) / 1000 : 0;
}

int64_t summary_longest(const struct hub *hub, int64_t now_ms)
{
    int64_t longest = 0;
    for (int t = 0; t < hub->cfg->topic_count; t++)
        if (summary_topic_longest(hub, t, now_ms) > longest)
            longest = summary_topic_longest(hub, t, now_ms);
    return longest;
}

/* Sends `queue_summary` to every counsellor and supervisor, paced as fan-out. */
static void push(struct hub *hub, int64_t now)
{
    const struct config *cfg = hub->cfg;
    struct lotse_jw *w = conn_jw();
    struct feed_counsellors k;
    feed_count_counsellors(hub, &k);
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "queue_summary");
    lotse_jw_int(w, "waiting", (int64_t)hub->queue.len);
    lotse_jw_int(w, "longest", summary_longest(hub, now));
    lotse_jw_arr_begin(w, "topics");
    for (int t = 0; t < cfg->topic_count; t++) {
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_str(w, "topic", cfg->topics[t]);
        lotse_jw_int(w, "waiting", (int64_t)queue_topic_len(&hub->queue, t));
        lotse_jw_int(w, "longest", summary_topic_longest(hub, t, now));
        lotse_jw_obj_end(w);
    }
    lotse_jw_arr_end(w);
    lotse_jw_int(w, "counsellors_online", k.online);
    lotse_jw_int(w, "counsellors_available", k.available);
    lotse_jw_int(w, "counsellors_at_capacity", k.at_capacity);
    feed_write_chats(&k, w);
    lotse_jw_obj_end(w);
    int len = lotse_jw_finish(w);
    if (len < 0)
        return;
    LIST_FOREACH_SAFE (&hub->staff, it, nx)
        conn_send_bulk(LIST_ENTRY(it, struct conn, staff_link), w->buf, (size_t)len);
}

/* When it changed, after the positions (60). */
static void summary_tick(struct hub *hub, int64_t now_ms)
{
    if (!hub->summary_dirty)
        return;
    hub->summary_dirty = false;
    push(hub, now_ms);
}

static struct tick_hook summary_hook = {.order = 70, .fn = summary_tick};

void summary_start(struct hub *hub)
{
    tick_add(&hub->tick, &summary_hook);
}
