/* orgs.c — the organisations of the network and the routing of a chat or a
 * mail thread to them (orgs.h; PROTOCOL.md §5.3). The table is read through the
 * store on the tick: at start, then every ORGS_RELOAD_MS (sooner after a
 * failure), replaced whole when a read arrives. Routing is a pure function of
 * the table, the clock and a caller's "staffed" question, so that it is tested
 * with a table of cases (tests/unit/test_orgs.c). */
#include "orgs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "store.h"
#include "tick.h"

#define RETRY_MS 5000

/* ---- the table ---- */

static void parse_regions(struct org *o, const char *p)
{
    while (*p && o->region_count < ORG_REGIONS_MAX) {
        size_t n = strcspn(p, ",");
        if (org_region_valid(p, n)) {
            memcpy(o->regions[o->region_count], p, n);
            o->regions[o->region_count++][n] = '\0';
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

static void parse_topics(struct org *o, const struct config *cfg, const char *p)
{
    o->all_topics = *p == '\0';
    while (*p) {
        size_t n = strcspn(p, ",");
        int t = cfg ? config_topic_index(cfg, p, n) : -1;
        if (t >= 0)
            o->topic_mask |= 1u << t;
        p += n;
        if (*p == ',')
            p++;
    }
}

static bool parse_org(struct org *o, const struct config *cfg, const struct org_row *r)
{
    memset(o, 0, sizeof(*o));
    o->id = atoi(r->cells[0]);
    size_t slug = strlen(r->cells[1]), name = strlen(r->cells[2]);
    if (o->id <= 0 || slug > ORG_SLUG_MAX || name == 0 || name > ORG_NAME_MAX ||
        !lotse_utf8_valid(r->cells[2], name))
        return false;
    memcpy(o->slug, r->cells[1], slug + 1);
    memcpy(o->name, r->cells[2], name + 1);
    parse_regions(o, r->cells[3]);
    o->langs = org_lang_known(r->cells[4]);
    parse_topics(o, cfg, r->cells[5]);
    o->own_hours = r->cells[6][0] != '\0';
    if (o->own_hours && hours_parse(&o->hours, r->cells[6]) != 0)
        o->hours_bad = true;
    o->takes_chat = r->cells[7][0] == 't';
    o->takes_mail = r->cells[8][0] == 't';
    o->takes_pool = r->cells[9][0] == 't';
    o->revoked = r->cells[10][0] == 't';
    return true;
}

void orgs_replace(struct orgs *t, const struct config *cfg, const struct org_row *rows, int n)
{
    t->count = 0;
    for (int i = 0; i < n && t->count < ORGS_MAX; i++) {
        if (parse_org(&t->list[t->count], cfg, &rows[i]))
            t->count++;
        else
            log_warn("orgs: organisation %s does not fit; left out", rows[i].cells[0]);
    }
    if (n > ORGS_MAX)
        log_warn("orgs: %d organisations, only the first %d are used", n, ORGS_MAX);
    t->loaded = true;
}

const struct org *orgs_find(const struct orgs *t, int id)
{
    for (int i = 0; t && i < t->count; i++)
        if (t->list[i].id == id)
            return &t->list[i];
    return NULL;
}

const struct org *orgs_find_slug(const struct orgs *t, const char *slug)
{
    for (int i = 0; t && i < t->count; i++)
        if (strcmp(t->list[i].slug, slug) == 0)
            return &t->list[i];
    return NULL;
}

bool orgs_open_now(const struct orgs *t, const struct org *o, time_t now)
{
    if (o->hours_bad)
        return false;
    if (o->own_hours)
        return hours_is_open(&o->hours, now);
    return !t->service_hours || hours_is_open(t->service_hours, now);
}

/* ---- routing ---- */

static bool takes_channel(const struct org *o, bool mail)
{
    return !o->revoked && (mail ? o->takes_mail : o->takes_chat);
}

static bool serves_region(const struct org *o, const char *region)
{
    if (!region)
        return o->region_count == 0;
    for (int i = 0; i < o->region_count; i++)
        if (org_region_match(o->regions[i], region))
            return true;
    return false;
}

static bool candidate(const struct org *o, const struct org_want *w)
{
    if (!takes_channel(o, w->mail))
        return false;
    if (!o->all_topics && (w->topic < 0 || !(o->topic_mask & (1u << w->topic))))
        return false;
    if (w->lang >= 0 && !(o->langs & (1u << w->lang)))
        return false;
    return serves_region(o, w->region);
}

void orgs_route(const struct orgs *t, const struct org_want *w, time_t now, org_staffed_fn *staffed,
                void *arg, struct org_route *out)
{
    memset(out, 0, sizeof(*out));
    out->mail = w->mail;
    out->kind = ORG_ROUTE_POOL;
    if (!t || !t->loaded) {
        out->any = true;
        return;
    }
    for (int i = 0; i < t->count && out->count < ORG_ROUTE_MAX; i++)
        if (candidate(&t->list[i], w))
            out->ids[out->count++] = t->list[i].id;
    if (orgs_route_holds(t, out, w, now, staffed, arg))
        out->kind = ORG_ROUTE_ORG;
}

bool orgs_route_holds(const struct orgs *t, const struct org_route *r, const struct org_want *w,
                      time_t now, org_staffed_fn *staffed, void *arg)
{
    for (int i = 0; i < r->count; i++) {
        const struct org *o = orgs_find(t, r->ids[i]);
        if (o && takes_channel(o, r->mail) && orgs_open_now(t, o, now) &&
            (!staffed || staffed(arg, o, w)))
            return true;
    }
    return false;
}

bool orgs_admits(const struct orgs *t, const struct org_route *r, int org_id)
{
    if (r->any)
        return true;
    for (int i = 0; i < r->count; i++)
        if (r->ids[i] == org_id)
            return true;
    if (r->kind != ORG_ROUTE_POOL)
        return false;
    const struct org *o = orgs_find(t, org_id);
    return o && o->takes_pool && takes_channel(o, r->mail);
}

int orgs_row_org(const struct org_route *r, int taker)
{
    if (taker > 0)
        return taker;
    return r->count > 0 ? r->ids[0] : 0;
}

/* ---- reading the table ---- */

static void got(void *arg, int status, const struct pg_result *res)
{
    struct hub *hub = arg;
    struct orgs *t = hub->orgs;
    t->busy = false;
    if (status != 0) {
        if (status != -ECANCELED)
            log_warn("orgs: not read (%s); the last table stays", strerror(-status));
        t->next_ms = hub_now_ms() + RETRY_MS;
        return;
    }
    static struct org_row rows[ORGS_MAX + 1];
    int n = store_result_rows(res);
    if (n > ORGS_MAX + 1)
        n = ORGS_MAX + 1;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 11; c++)
            rows[i].cells[c] = store_result_text(res, i, c);
    bool first = !t->loaded;
    orgs_replace(t, hub->cfg, rows, n);
    if (first)
        log_info("orgs: %d organisation(s)", t->count);
}

static void orgs_tick(struct hub *hub, int64_t now_ms)
{
    struct orgs *t = hub->orgs;
    if (!t || t->busy || now_ms < t->next_ms || !hub->store || hub->stopping)
        return;
    t->next_ms = now_ms + ORGS_RELOAD_MS;
    if (store_orgs_read(hub->store, got, hub) == 0)
        t->busy = true;
}

/* Before the session timeouts (30) and the offers (20): a chat routed at the
 * start sees a table at most a second late. */
static struct tick_hook orgs_hook = {.order = 15, .fn = orgs_tick};

void orgs_start(struct hub *hub, struct orgs *t)
{
    memset(t, 0, sizeof(*t));
    t->service_hours = &hub->cfg->hours;
    hub->orgs = t;
    tick_add(&hub->tick, &orgs_hook);
}

int orgs_want_fields(const struct lotse_json_msg *m, char region[ORG_REGION_LEN + 1], int *lang)
{
    const char *v;
    size_t len;
    region[0] = '\0';
    *lang = ORG_LANG_NONE;
    int rc = lotse_json_get_str(m, "region", ORG_REGION_LEN, &v, &len);
    if (rc != -ENOENT) {
        if (rc != 0 || !org_region_valid(v, len))
            return ORG_BAD_REGION;
        memcpy(region, v, len);
        region[len] = '\0';
    }
    rc = lotse_json_get_str(m, "lang", 2, &v, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc != 0)
        return ORG_BAD_LANG;
    *lang = org_lang_index(v, len);
    return *lang < 0 ? ORG_BAD_LANG : 0;
}
