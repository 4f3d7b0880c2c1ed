/* summary.c — the staff's queue summary (summary.h). hub->summary_dirty is
 * set by whoever changes what it counts (waiting_changed, a staff member
 * joining); the hook here clears it. */
#include "summary.h"

#include "conn.h"
#include "feed.h"
#include "hub.h"
#include "lotse/json.h"
#include "scope.h"
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

/* What one staff member's summary counts: a coordinator the whole service, a
 * supervisor their organisation (scope.h), a counsellor what someone of their
 * organisation could take, and the chats of their organisation. */
struct view {
    struct scope sc;
    bool counsellor;
    int org; /* a counsellor's own organisation: what it may take. Not sc.org,
              * which is 0 when the scope is everything (one organisation) */
};

static struct view view_of(const struct conn *c)
{
    return (struct view){scope_of(c), c->role == ROLE_COUNSELLOR && !c->coordinator,
                         c->staff_org_id};
}

static bool same_view(struct view a, struct view b)
{
    return a.counsellor == b.counsellor && scope_equal(a.sc, b.sc) &&
           (!a.counsellor || a.org == b.org);
}

static int build(struct hub *hub, struct view v, int64_t now, struct lotse_jw *w)
{
    const struct config *cfg = hub->cfg;
    struct scope_queue q;
    struct feed_counsellors k;
    scope_queue_count(hub, v.sc, v.counsellor ? v.org : -1, now, &q);
    scope_count_counsellors(hub, v.sc, &k);
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "queue_summary");
    lotse_jw_int(w, "waiting", q.waiting);
    lotse_jw_int(w, "longest", q.longest);
    lotse_jw_arr_begin(w, "topics");
    for (int t = 0; t < cfg->topic_count; t++) {
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_str(w, "topic", cfg->topics[t]);
        lotse_jw_int(w, "waiting", q.topic_waiting[t]);
        lotse_jw_int(w, "longest", q.topic_longest[t]);
        lotse_jw_obj_end(w);
    }
    lotse_jw_arr_end(w);
    lotse_jw_int(w, "counsellors_online", k.online);
    lotse_jw_int(w, "counsellors_available", k.available);
    lotse_jw_int(w, "counsellors_at_capacity", k.at_capacity);
    feed_write_chats(&k, w);
    lotse_jw_obj_end(w);
    return lotse_jw_finish(w);
}

/* Sends `queue_summary` to every counsellor and supervisor, paced as fan-out:
 * built once per view (staff of one organisation share theirs). */
static void push(struct hub *hub, int64_t now)
{
    LIST_FOREACH_SAFE (&hub->staff, it, nx)
        LIST_ENTRY(it, struct conn, staff_link)->summary_sent = false;
    LIST_FOREACH_SAFE (&hub->staff, it, nx) {
        struct conn *c = LIST_ENTRY(it, struct conn, staff_link);
        if (c->summary_sent)
            continue;
        struct view v = view_of(c);
        struct lotse_jw *w = conn_jw();
        int len = build(hub, v, now, w);
        if (len < 0)
            return;
        LIST_FOREACH_SAFE (&hub->staff, it2, nx2) {
            struct conn *d = LIST_ENTRY(it2, struct conn, staff_link);
            if (d->summary_sent || !same_view(view_of(d), v))
                continue;
            d->summary_sent = true;
            conn_send_bulk(d, w->buf, (size_t)len);
        }
    }
}

/* When it changed, after the positions (60). */
static void summary_tick(struct hub *hub, int64_t now_ms)
{
    if (!hub->summary_dirty || !scope_ready(hub))
        return;
    hub->summary_dirty = false;
    push(hub, now_ms);
}

static struct tick_hook summary_hook = {.order = 70, .fn = summary_tick};

void summary_start(struct hub *hub)
{
    tick_add(&hub->tick, &summary_hook);
}
