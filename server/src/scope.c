/* scope.c — who sees what in a network of organisations (scope.h). */
#include "scope.h"

#include <string.h>

#include "conn.h"
#include "counsellor.h"
#include "hub.h"
#include "orgs.h"
#include "session.h"

struct scope scope_of(const struct conn *c)
{
    const struct orgs *t = c->hub->orgs;
    /* one organisation only: nothing of another to keep from it */
    if (c->coordinator || (t && t->loaded && t->count == 1 && t->list[0].id == c->staff_org_id))
        return (struct scope){.org = 0, .all = true};
    return (struct scope){.org = c->staff_org_id, .all = false};
}

bool scope_ready(const struct hub *hub)
{
    static int64_t first_ms;
    if (hub->orgs && hub->orgs->loaded)
        return true;
    int64_t now = hub_now_ms();
    if (!first_ms)
        first_ms = now;
    return now - first_ms >= SCOPE_WAIT_MS;
}

bool scope_equal(struct scope a, struct scope b)
{
    return a.all == b.all && (a.all || a.org == b.org);
}

bool scope_counsellor(struct scope sc, const struct counsellor *k)
{
    return sc.all || k->org_id == sc.org;
}

/* Whether organisation org takes chats from the pool. */
static bool takes_pool(const struct hub *hub, int org)
{
    const struct org *o = orgs_find(hub->orgs, org);
    return o && o->takes_pool && o->takes_chat && !o->revoked;
}

bool scope_session(const struct hub *hub, struct scope sc, const struct session *s)
{
    if (sc.all || (s->counsellor && s->counsellor->org_id == sc.org))
        return true;
    if (s->route.any) /* the organisations were never read: anyone's */
        return true;
    if (s->route.count == 0) {
        /* no candidate: the pool's, so that of "no organisation" and of the
         * organisations that take chats from the pool */
        return sc.org == 0 ? !s->counsellor : takes_pool(hub, sc.org);
    }
    for (int i = 0; i < s->route.count; i++)
        if (s->route.ids[i] == sc.org)
            return true;
    return false;
}

int scope_session_org(const struct session *s)
{
    return orgs_row_org(&s->route, s->counsellor ? s->counsellor->org_id : 0);
}

bool scope_takeable(const struct hub *hub, int org, const struct session *s)
{
    if (s->route.count == 0 && !s->route.any) /* the pool from the start */
        return takes_pool(hub, org);
    return orgs_admits(hub->orgs, &s->route, org);
}

static bool counts(const struct hub *hub, struct scope sc, int for_org, const struct session *s)
{
    return for_org >= 0 ? scope_takeable(hub, for_org, s) : scope_session(hub, sc, s);
}

void scope_queue_count(const struct hub *hub, struct scope sc, int for_org, int64_t now_ms,
                       struct scope_queue *out)
{
    memset(out, 0, sizeof(*out));
    int topics = hub->cfg->topic_count;
    for (const struct session *s = session_first(hub->sessions); s; s = session_next(s)) {
        if (!s->qe.queued || s->topic < 0 || s->topic >= topics || !counts(hub, sc, for_org, s))
            continue;
        int64_t wait = s->qe.enqueued_ms < now_ms ? (now_ms - s->qe.enqueued_ms) / 1000 : 0;
        out->waiting++;
        out->topic_waiting[s->topic]++;
        if (wait > out->topic_longest[s->topic])
            out->topic_longest[s->topic] = wait;
        if (wait > out->longest)
            out->longest = wait;
    }
}

void scope_count_counsellors(const struct hub *hub, struct scope sc, struct feed_counsellors *out)
{
    if (sc.all) {
        feed_count_counsellors(hub, out);
        return;
    }
    memset(out, 0, sizeof(*out));
    for (const struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k)) {
        if (!k->conn || !scope_counsellor(sc, k))
            continue;
        out->online++;
        if (k->active >= k->capacity)
            out->at_capacity++;
        else if (k->available)
            out->available++;
    }
    for (const struct session *s = session_first(hub->sessions); s; s = session_next(s)) {
        if (s->qe.queued || !scope_session(hub, sc, s))
            continue;
        if (!s->counsellor)
            out->handing_over++;
        else if (s->counsellor->conn)
            out->running++;
        else
            out->reconnecting++;
    }
}
