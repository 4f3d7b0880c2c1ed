/* chat_route.c — routing of a young person's chat (chat_route.h; the rules:
 * PROTOCOL.md §5.3, the table and its pure functions: orgs.c). A chat keeps
 * the candidate organisations' ids and its route; the region it was routed
 * by is gone when chat_route_begin returns. */
#include "chat_route.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "counsellor.h"
#include "directory.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "session.h"
#include "tick.h"
#include "waiting.h"

int chat_route_fields(struct conn *c, const struct lotse_json_msg *m,
                      char region[ORG_REGION_LEN + 1], int *lang)
{
    const char *v;
    size_t len;
    region[0] = '\0';
    *lang = ORG_LANG_NONE;
    int rc = lotse_json_get_str(m, "region", ORG_REGION_LEN, &v, &len);
    if (rc != -ENOENT) {
        if (rc != 0 || !org_region_valid(v, len)) {
            conn_send_error(c, "bad_field",
                            "region must be 2 or 3 digits of the postcode or a state (DE-BE …)",
                            "hello", NULL, "region", true);
            return -EPROTO;
        }
        memcpy(region, v, len);
        region[len] = '\0';
    }
    rc = lotse_json_get_str(m, "lang", 2, &v, &len);
    if (rc != -ENOENT && (rc != 0 || (*lang = org_lang_index(v, len)) < 0)) {
        conn_send_error(c, "bad_field", "lang must be one of de en tr ar ru uk", "hello", NULL,
                        "lang", true);
        return -EPROTO;
    }
    return 0;
}

/* k speaks lang (or none is asked for) and serves topic. */
static bool fits(const struct counsellor *k, int topic, int lang)
{
    return (k->topic_mask & (1u << topic)) && (lang < 0 || (k->languages & (1u << lang)));
}

/* orgs_route's question: a serving counsellor of o who could take w. */
static bool org_staffed(void *arg, const struct org *o, const struct org_want *w)
{
    struct hub *hub = arg;
    for (struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k))
        if (k->org_id == o->id && counsellor_serving(k) && fits(k, w->topic, w->lang))
            return true;
    return false;
}

void chat_route_begin(struct hub *hub, struct session *s, int lang, const char *region)
{
    struct org_want w = {
        .topic = s->topic, .lang = lang, .region = region && *region ? region : NULL};
    orgs_route(hub->orgs, &w, time(NULL), org_staffed, hub, &s->route);
    s->lang = lang;
    s->org_id = orgs_row_org(&s->route, 0);
}

bool chat_route_may_take(const struct hub *hub, const struct counsellor *k, const struct session *s)
{
    return fits(k, s->topic, s->lang) && orgs_admits(hub->orgs, &s->route, k->org_id);
}

bool chat_route_staffed(struct hub *hub, const struct session *s, bool *lang_staffed)
{
    bool staffed = false;
    for (struct counsellor *k = counsellor_first(hub); k && !staffed; k = counsellor_next(k))
        staffed = counsellor_serving(k) && chat_route_may_take(hub, k, s);
    *lang_staffed = s->lang < 0 || staffed;
    return staffed;
}

void chat_route_write(struct hub *hub, struct lotse_jw *w, struct session *s, bool lang_staffed)
{
    bool pool = s->route.kind == ORG_ROUTE_POOL;
    lotse_jw_str(w, "route", pool ? "pool" : "org");
    if (!pool) {
        lotse_jw_arr_begin(w, "orgs");
        for (int i = 0, n = 0; i < s->route.count && n < ORG_ROUTE_NAMES; i++) {
            const struct org *o = orgs_find(hub->orgs, s->route.ids[i]);
            if (o) {
                lotse_jw_str(w, NULL, o->name);
                n++;
            }
        }
        lotse_jw_arr_end(w);
    }
    if (!lang_staffed)
        lotse_jw_bool(w, "lang_staffed", false);
    s->sent_pool = pool;
    s->sent_lang_unstaffed = !lang_staffed;
}

void chat_route_msg_lang(struct conn *c, const struct lotse_json_msg *m)
{
    const struct lotse_json_field *f = lotse_json_get(m, "lang");
    if (!f || f->type != LOTSE_JSON_NULL) {
        conn_send_error(c, "bad_field", "lang must be null (no language asked for)", "lang", NULL,
                        "lang", true);
        return;
    }
    struct session *s = c->session;
    if (!s || s->state != SESSION_WAITING || s->rekey_pending) {
        conn_send_error(c, "not_allowed", "only while waiting for a counsellor", "lang", NULL, NULL,
                        true);
        return;
    }
    s->lang = ORG_LANG_NONE;
    directory_session_changed(c->hub, s);
    s->sent_pos = 0; /* a `queue` follows at the next tick */
    waiting_changed(c->hub);
    if (c->hub->cfg->assign_mode == ASSIGN_OFFER)
        counsellor_offer_round(c->hub);
}

/* Chats routed "org" whose organisations are all closed or without anyone who
 * could take them now go to the pool (never back); the place stays. */
static void reevaluate(struct hub *hub, int64_t now_ms)
{
    (void)now_ms;
    time_t now = time(NULL);
    bool changed = false;
    const struct queue *q = &hub->queue;
    for (int t = 0; t < q->topic_count; t++)
        for (struct queue_entry *e = q->lists[t].head; e; e = e->next) {
            struct session *s = (struct session *)((char *)e - offsetof(struct session, qe));
            if (s->route.kind != ORG_ROUTE_ORG || s->route.any)
                continue;
            struct org_want w = {.topic = s->topic, .lang = s->lang};
            if (orgs_route_holds(hub->orgs, &s->route, &w, now, org_staffed, hub))
                continue;
            s->route.kind = ORG_ROUTE_POOL;
            directory_session_changed(hub, s);
            changed = true;
        }
    if (!changed)
        return;
    log_debug("chat routing: waiting chats went to the network-wide pool");
    waiting_changed(hub);
    if (hub->cfg->assign_mode == ASSIGN_OFFER)
        counsellor_offer_round(hub);
}

/* After the queue-wait timeouts (50), before the positions are pushed (60). */
static struct tick_hook route_hook = {.order = 52, .fn = reevaluate};

void chat_route_start(struct hub *hub)
{
    tick_add(&hub->tick, &route_hook);
}
