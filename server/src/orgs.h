/* orgs.h — the organisations of the network (009_organisations.sql, made with
 * lotsectl org …): read from PostgreSQL at start and again every
 * ORGS_RELOAD_MS through the store (never blocking the loop), and the routing
 * of a chat or a mail thread (PROTOCOL.md §5.3 "Routing").
 *
 * The young person's region (postcode prefix or federal state) is an input of
 * orgs_route only: it is compared and forgotten, never kept in a table, a
 * struct that outlives the call, a log line or a metric. What routing keeps
 * is a set of organisation ids. */
#ifndef LOTSE_ORGS_H
#define LOTSE_ORGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "hours.h"

struct hub;
struct config;

#define ORGS_MAX        64  /* organisations read; more are ignored (logged) */
#define ORG_SLUG_MAX    32  /* bytes, as the CHECK on organisations.slug */
#define ORG_NAME_MAX    320 /* bytes: 80 characters of UTF-8 */
#define ORG_REGIONS_MAX 32  /* regions of one organisation */
#define ORG_REGION_LEN  5   /* "104" or "DE-BE" */
#define ORG_ROUTE_MAX   16  /* candidates kept for one chat or thread */
#define ORG_ROUTE_NAMES 3   /* names the young person is told */
#define ORGS_RELOAD_MS  30000

/* The counselling languages (the contract's codes); Leichte Sprache ("ls") is
 * a UI language only and routes as de. */
enum org_lang {
    ORG_LANG_DE,
    ORG_LANG_EN,
    ORG_LANG_TR,
    ORG_LANG_AR,
    ORG_LANG_RU,
    ORG_LANG_UK,
    ORG_LANG_COUNT
};
#define ORG_LANG_NONE (-1)

struct org {
    int id;
    char slug[ORG_SLUG_MAX + 1];
    char name[ORG_NAME_MAX + 1];
    int region_count;
    char regions[ORG_REGIONS_MAX][ORG_REGION_LEN + 1];
    uint8_t langs;       /* bit i = enum org_lang i */
    bool all_topics;     /* topics empty: every topic */
    uint32_t topic_mask; /* bit i = the service's topic i (unknown names dropped) */
    bool own_hours;      /* false: the service's opening hours */
    bool hours_bad;      /* hours that do not parse: never open (lotsectl checks) */
    struct hours hours;
    bool takes_chat, takes_mail, takes_pool;
    bool revoked;
};

struct orgs {
    int count;
    struct org list[ORGS_MAX]; /* by id */
    bool loaded;               /* read at least once */
    bool busy;                 /* a read is under way */
    int64_t next_ms;           /* next read */
    const struct hours *service_hours;
};

/* What is asked to be routed. region is the young person's as validated by
 * org_region_valid (NULL: not given); lang an enum org_lang or ORG_LANG_NONE;
 * topic the service's topic index. */
struct org_want {
    int topic;
    int lang;
    const char *region;
    bool mail; /* false: a chat (takes_chat), true: a mail thread (takes_mail) */
};

/* The outcome: the candidates M (ids, ascending) and the route. */
enum org_route_kind { ORG_ROUTE_ORG, ORG_ROUTE_POOL };
struct org_route {
    enum org_route_kind kind;
    bool any; /* the organisations were never read: every counsellor may take it */
    bool mail;
    int count;
    int ids[ORG_ROUTE_MAX];
};

/* Asked by orgs_route for an organisation of M that is open now: whether it
 * has someone who could take what is wanted (serving, topic, language). NULL:
 * being open is enough. */
typedef bool org_staffed_fn(void *arg, const struct org *o, const struct org_want *w);

/* ---- the table (the hub's; orgs_start reads it and keeps it fresh) ---- */

/* Sets up an empty table and registers the reload on the tick (start-up). */
void orgs_start(struct hub *hub, struct orgs *t);

/* Replaces the table's organisations with the rows of a read (tests and the
 * loader). Each row: id, slug, name, regions, languages, topics (comma lists),
 * hours, takes_chat, takes_mail, takes_pool, revoked ("t"/"f"). */
struct org_row {
    const char *cells[11];
};
void orgs_replace(struct orgs *t, const struct config *cfg, const struct org_row *rows, int n);

/* The organisation with this id or slug, or NULL. */
const struct org *orgs_find(const struct orgs *t, int id);
const struct org *orgs_find_slug(const struct orgs *t, const char *slug);

/* The optional "region" and "lang" of a hello or a mail_new (PROTOCOL.md
 * §5.3): the region into region ("" when not given), *lang an enum org_lang or
 * ORG_LANG_NONE (Leichte Sprache is a page language: clients send "de", and
 * "ls" is a bad field like any other). 0, or ORG_BAD_REGION / ORG_BAD_LANG;
 * the caller answers the error in its own words. */
#define ORG_BAD_REGION (-1)
#define ORG_BAD_LANG   (-2)
struct lotse_json_msg;
int orgs_want_fields(const struct lotse_json_msg *m, char region[ORG_REGION_LEN + 1], int *lang);

/* Whether o is open at now (its hours, or the service's when it has none). */
bool orgs_open_now(const struct orgs *t, const struct org *o, time_t now);

/* ---- values ---- */

/* The enum org_lang of a counselling language code (len bytes), or -1. */
int org_lang_index(const char *s, size_t len);
/* Its code ("de" …). */
const char *org_lang_code(int lang);
/* The mask of the counselling languages in "de,tr" (others skipped: the
 * database's lists, which lotsectl checked). */
uint8_t org_lang_known(const char *list);
/* Parses "de,tr" into a mask; -1 when any code is not a counselling language. */
int org_lang_mask(const char *list);
/* A region as the contract allows: 2 or 3 ASCII digits, or one of the 16
 * federal states (DE-BW …). */
bool org_region_valid(const char *s, size_t len);
/* An organisation's region r serves the young person's region y: digits when
 * one is a prefix of the other, a state when equal. */
bool org_region_match(const char *r, const char *y);
/* A slug as organisations.slug allows: [a-z0-9][a-z0-9-]{0,31}. */
bool org_slug_valid(const char *s);

/* ---- routing ---- */

/* Routes w at now: the candidates M (not revoked, taking the channel, topic,
 * language, region) and ORG_ROUTE_ORG when one of them is open and staffed
 * (staffed(arg, …) true), else ORG_ROUTE_POOL. */
void orgs_route(const struct orgs *t, const struct org_want *w, time_t now, org_staffed_fn *staffed,
                void *arg, struct org_route *out);

/* Whether a counsellor of organisation org_id may take what r routed: org_id in
 * M, or r is the pool and org_id takes from it (not revoked, takes the
 * channel); anyone when r->any. */
bool orgs_admits(const struct orgs *t, const struct org_route *r, int org_id);

/* Whether an organisation in r's candidates is open now and staffed (the
 * re-evaluation on the tick: a chat routed "org" goes to the pool when this
 * turns false). */
bool orgs_route_holds(const struct orgs *t, const struct org_route *r, const struct org_want *w,
                      time_t now, org_staffed_fn *staffed, void *arg);

/* The session or thread row's organisation: taker when not 0, else the first
 * candidate, else 0 (NULL in the row). */
int orgs_row_org(const struct org_route *r, int taker);

#endif
