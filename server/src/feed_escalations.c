/* feed_escalations.c — escalations: a counsellor asks the supervisors to look
 * at a session; open until the session ends, listed in the feed oldest first.
 * In memory only; the session's row carries only the escalated flag. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "conn.h"
#include "counsellor.h"
#include "feed_internal.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "session.h"

bool feed_escalations_close(struct feed *f, const uint8_t sid[LOTSE_SID_BYTES])
{
    for (int i = 0; i < f->esc_count; i++) {
        if (memcmp(f->esc[i].sid, sid, LOTSE_SID_BYTES) != 0)
            continue;
        /* keep the order: supervisors see the oldest first */
        memmove(&f->esc[i], &f->esc[i + 1], (size_t)(f->esc_count - i - 1) * sizeof(f->esc[0]));
        f->esc_count--;
        sodium_memzero(&f->esc[f->esc_count], sizeof(f->esc[0]));
        return true;
    }
    return false;
}

void feed_escalations_write(const struct feed *f, struct scope sc, struct lotse_jw *w)
{
    const struct config *cfg = f->hub->cfg;
    int open = 0;
    for (int i = 0; i < f->esc_count; i++)
        open += sc.all || f->esc[i].org == sc.org;
    lotse_jw_int(w, "escalations_open", open);
    lotse_jw_arr_begin(w, "escalations");
    for (int i = 0, listed = 0; i < f->esc_count && listed < FEED_LISTED_ESCALATIONS; i++) {
        const struct escalation *e = &f->esc[i];
        if (!sc.all && e->org != sc.org)
            continue;
        listed++;
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_hex(w, "sid", e->sid, LOTSE_SID_BYTES);
        lotse_jw_int(w, "counsellor", e->counsellor_id);
        lotse_jw_str(w, "topic", cfg->topics[e->topic]);
        lotse_jw_int(w, "at", (int64_t)e->at);
        lotse_jw_obj_end(w);
    }
    lotse_jw_arr_end(w);
}

int feed_escalate(struct hub *hub, const struct session *s, const struct counsellor *k)
{
    struct feed *f = hub->feed;
    if (!f)
        return -ENOSPC;
    for (int i = 0; i < f->esc_count; i++)
        if (memcmp(f->esc[i].sid, s->sid, LOTSE_SID_BYTES) == 0)
            return -EALREADY;
    if (f->esc_count == FEED_MAX_ESCALATIONS)
        return -ENOSPC;
    struct escalation *e = &f->esc[f->esc_count++];
    memcpy(e->sid, s->sid, LOTSE_SID_BYTES);
    e->counsellor_id = k->account_id;
    e->org = k->org_id;
    e->topic = s->topic;
    e->at = time(NULL);
    hub->stats.escalations++;

    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "escalation");
    lotse_jw_hex(w, "sid", e->sid, LOTSE_SID_BYTES);
    lotse_jw_int(w, "counsellor", e->counsellor_id);
    lotse_jw_str(w, "topic", hub->cfg->topics[e->topic]);
    lotse_jw_int(w, "at", (int64_t)e->at);
    lotse_jw_obj_end(w);
    int len = lotse_jw_finish(w);
    if (len > 0)
        feed_supervisors_send_org(hub, e->org, w->buf, (size_t)len);
    log_info("session escalated by counsellor %lld (topic %s)", (long long)k->account_id,
             hub->cfg->topics[e->topic]);
    return 0;
}

int feed_open_escalations(const struct hub *hub)
{
    return hub->feed ? hub->feed->esc_count : 0;
}
