/* feed_orgs.c — the network coordinator's `orgs` (PROTOCOL.md §4.3): every
 * organisation side by side (waiting, longest wait, counsellors online, chats
 * running, open mail threads and the oldest unanswered message) and the
 * network's total, sent on change with the feed's timer; and today's counts
 * per organisation for a supervisor's feed. Counts only. */
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "conn.h"
#include "feed_internal.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "mail_board.h"
#include "orgs.h"
#include "scope.h"
#include "session.h"

struct feed_today *feed_today_of(struct feed *f, int org, bool make)
{
    for (int i = 0; i < f->today_count; i++)
        if (f->today[i].org == org)
            return &f->today[i];
    if (!make || f->today_count == FEED_TODAY_ORGS)
        return NULL;
    struct feed_today *t = &f->today[f->today_count++];
    memset(t, 0, sizeof(*t));
    t->org = org;
    return t;
}

/* Sessions of organisation org here now that started today. */
static int64_t live(const struct feed *f, int org)
{
    int64_t n = 0;
    for (const struct session *s = session_first(f->hub->sessions); s; s = session_next(s))
        n += s->started_wall >= f->midnight && scope_session_org(s) == org;
    return n;
}

void feed_today_snap(struct feed *f)
{
    for (const struct session *s = session_first(f->hub->sessions); s; s = session_next(s))
        (void)feed_today_of(f, scope_session_org(s), true);
    for (int i = 0; i < f->today_count; i++) {
        struct feed_today *t = &f->today[i];
        t->snap_ended = t->ended;
        t->snap_abandoned = t->abandoned;
        t->snap_started = t->ended + t->abandoned + live(f, t->org);
    }
}

static int64_t at_least_0(int64_t v)
{
    return v > 0 ? v : 0;
}

void feed_today_loaded(struct feed *f, int org, int64_t started, int64_t ended, int64_t abandoned)
{
    struct feed_today *t = feed_today_of(f, org, true);
    if (!t)
        return;
    t->started_offset = at_least_0(started - t->snap_started);
    t->ended_offset = at_least_0(ended - t->snap_ended);
    t->abandoned_offset = at_least_0(abandoned - t->snap_abandoned);
}

void feed_today_write(struct feed *f, int org, struct lotse_jw *w)
{
    struct feed_today zero = {0}, *t = feed_today_of(f, org, false);
    if (!t)
        t = &zero;
    lotse_jw_obj_begin(w, "today");
    lotse_jw_int(w, "started", t->ended + t->abandoned + live(f, org) + t->started_offset);
    lotse_jw_int(w, "ended", t->ended + t->ended_offset);
    lotse_jw_int(w, "abandoned", t->abandoned + t->abandoned_offset);
    lotse_jw_obj_end(w);
}

/* The figures of one row: an organisation's, or the network's (sc.all). */
static void write_figures(const struct hub *hub, struct scope sc, int64_t now, struct lotse_jw *w)
{
    struct scope_queue q;
    struct feed_counsellors k;
    int mail_open;
    int64_t mail_oldest;
    scope_queue_count(hub, sc, -1, now, &q);
    scope_count_counsellors(hub, sc, &k);
    mail_board_scope_counts(sc, &mail_open, &mail_oldest);
    lotse_jw_int(w, "waiting", q.waiting);
    lotse_jw_int(w, "longest_wait", q.longest);
    lotse_jw_int(w, "online", k.online);
    lotse_jw_int(w, "running", k.running);
    lotse_jw_int(w, "mail_open", mail_open);
    lotse_jw_int(w, "mail_oldest", mail_oldest);
}

/* `orgs`: at most ORGS_MAX organisations (the table's), then "no organisation" (id 0:
 * mail threads and chats of no organisation), then the network's total. */
static int build(const struct hub *hub, int64_t now, struct lotse_jw *w)
{
    const struct orgs *t = hub->orgs;
    int n = t ? t->count : 0;
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "orgs");
    lotse_jw_int(w, "count", n);
    lotse_jw_arr_begin(w, "orgs");
    for (int i = 0; i < n; i++) {
        const struct org *o = &t->list[i];
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_int(w, "id", o->id);
        lotse_jw_str(w, "slug", o->slug);
        lotse_jw_str(w, "name", o->name);
        lotse_jw_bool(w, "revoked", o->revoked);
        write_figures(hub, (struct scope){.org = o->id}, now, w);
        lotse_jw_obj_end(w);
    }
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_int(w, "id", 0);
    lotse_jw_null(w, "slug");
    lotse_jw_null(w, "name");
    lotse_jw_bool(w, "revoked", false);
    write_figures(hub, (struct scope){.org = 0}, now, w);
    lotse_jw_obj_end(w);
    lotse_jw_arr_end(w);
    lotse_jw_obj_begin(w, "total");
    write_figures(hub, (struct scope){.all = true}, now, w);
    lotse_jw_obj_end(w);
    lotse_jw_obj_end(w);
    return lotse_jw_finish(w);
}

void feed_orgs_push(struct feed *f, int64_t now)
{
    struct lotse_jw *w = conn_jw();
    int len = build(f->hub, now, w);
    if (len < 0) {
        log_warn("feed: the organisations do not fit a message");
        return;
    }
    uint8_t hash[16];
    crypto_generichash(hash, sizeof(hash), (const uint8_t *)w->buf, (size_t)len, NULL, 0);
    if (!f->force && memcmp(hash, f->orgs_hash, sizeof(hash)) == 0)
        return;
    memcpy(f->orgs_hash, hash, sizeof(hash));
    feed_supervisors_send(f->hub, (struct scope){.all = true}, w->buf, (size_t)len);
}
