/* ctl_orgs.c — org add, org set, org list: the organisations of the network
 * (009_organisations.sql); and account-set-org, account-set-languages. lotsed
 * reads the organisations at start and every 30 s (server/src/orgs.c).
 *
 * Every value is checked with the rules lotsed routes by (orgs.h "values"):
 * slugs, regions (two or three postcode digits, or one of the 16 federal
 * states DE-XX), languages (de en tr ar ru uk), topics, opening hours. Every
 * change runs in one transaction with its audit_log row (the settings, which
 * describe an organisation, never a person). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "hours.h"
#include "lotse/json.h"
#include "lotse/proto.h"
#include "orgs.h"

#define NAME_CHARS  80 /* the CHECK on organisations.name (characters) */
#define TOPICS_MAX  16
#define TOPIC_LEN   32
#define HOURS_BYTES 255

/* The settings of org add / org set; NULL: not given. */
struct org_opts {
    const char *name, *regions, *languages, *topics, *hours, *chat, *mail, *pool;
};

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool name_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || !lotse_utf8_valid(s, len) || utf8_chars(s) > NAME_CHARS) {
        ctl_error("--name must be 1 to %d characters of UTF-8", NAME_CHARS);
        return false;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            ctl_error("--name has a control character");
            return false;
        }
    return true;
}

/* A comma list ("" allowed when empty_ok) whose items each pass item_ok. */
static bool list_ok(const char *s, bool empty_ok, int max, bool (*item_ok)(const char *, size_t))
{
    if (!*s)
        return empty_ok;
    int count = 0;
    for (const char *p = s;; p++) {
        size_t n = strcspn(p, ",");
        if (!item_ok(p, n) || ++count > max)
            return false;
        p += n;
        if (!*p)
            return true;
    }
}

static bool region_item(const char *s, size_t n)
{
    return org_region_valid(s, n);
}

static bool lang_item(const char *s, size_t n)
{
    return org_lang_index(s, n) >= 0;
}

static bool topic_item(const char *s, size_t n)
{
    if (n == 0 || n > TOPIC_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

static bool yes_no(const char *what, const char *v)
{
    if (!v || !strcmp(v, "yes") || !strcmp(v, "no"))
        return true;
    ctl_error("--%s must be yes or no", what);
    return false;
}

/* Every given value checked; false after printing what is wrong. */
static bool opts_ok(const struct org_opts *o)
{
    if (o->name && !name_ok(o->name))
        return false;
    if (o->regions && !list_ok(o->regions, true, ORG_REGIONS_MAX, region_item)) {
        ctl_error("bad --regions: up to %d of two or three postcode digits (10, 104) or a"
                  " federal state (DE-BE …), comma-separated; \"\" for the whole network",
                  ORG_REGIONS_MAX);
        return false;
    }
    if (o->languages && !list_ok(o->languages, false, ORG_LANG_COUNT * 2, lang_item)) {
        ctl_error("bad --languages: one or more of de en tr ar ru uk, comma-separated");
        return false;
    }
    if (o->topics && !list_ok(o->topics, true, TOPICS_MAX, topic_item)) {
        ctl_error("bad --topics: up to %d names of a-z 0-9 _ -; \"\" for every topic", TOPICS_MAX);
        return false;
    }
    struct hours h;
    if (o->hours && *o->hours && (strlen(o->hours) > HOURS_BYTES || hours_parse(&h, o->hours))) {
        ctl_error("bad --hours: \"always\", \"mon-fri 09:00-17:00, sat 10:00-14:00\" or \"\""
                  " (the service's opening hours)");
        return false;
    }
    return yes_no("chat", o->chat) && yes_no("mail", o->mail) && yes_no("pool", o->pool);
}

static const char org_help[] =
    "usage: lotsectl org add SLUG --name NAME [settings]\n"
    "       lotsectl org set SLUG [settings]\n"
    "       lotsectl org list [--format text|json]\n"
    "Organisations of the network. lotsed reads them at start and every 30 s.\n"
    "  SLUG         short name: a-z 0-9 and - (not first), at most 32\n"
    "  --name       shown to young people and colleagues, 1..80 characters\n"
    "  --regions    postcode prefixes (2 or 3 digits) and federal states (DE-HH …),\n"
    "               comma-separated; \"\" (default): the whole network's area\n"
    "  --languages  counselling languages of de en tr ar ru uk (default de)\n"
    "  --topics     topics of the service (default \"\": every topic)\n"
    "  --hours      opening hours as lotsed's opening_hours; \"\" (default): the service's\n"
    "  --chat yes|no  --mail yes|no  takes chats, mail threads (default yes)\n"
    "  --pool yes|no  takes from the network-wide pool (default yes)\n";

/* Reads the settings after SLUG; false with *rc set when the command stops. */
static bool read_opts(int argc, char **argv, struct org_opts *o, bool need_name, int *rc)
{
    const struct ctl_opt opts[] = {
        CTL_TEXT("name", 'n', &o->name),
        CTL_TEXT("regions", 'r', &o->regions),
        CTL_TEXT("languages", 'l', &o->languages),
        CTL_TEXT("topics", 't', &o->topics),
        CTL_TEXT("hours", 'o', &o->hours),
        CTL_TEXT("chat", 0, &o->chat),
        CTL_TEXT("mail", 0, &o->mail),
        CTL_TEXT("pool", 0, &o->pool),
        {0},
    };
    if (!ctl_options(argc, argv, opts, org_help, "takes SLUG and settings (see org --help)", rc))
        return false;
    *rc = CTL_USAGE;
    if (!org_slug_valid(argv[0])) {
        ctl_error("bad slug '%s': a-z 0-9 and - (not first), at most %d", argv[0], ORG_SLUG_MAX);
        return false;
    }
    if (need_name && !o->name) {
        ctl_error("org add needs --name");
        return false;
    }
    if (!opts_ok(o))
        return false;
    *rc = CTL_OK;
    return true;
}

/* The audit detail: the slug and the settings given. */
static void detail_of(char *out, size_t cap, const char *slug, const struct org_opts *o)
{
    snprintf(out, cap, "slug=%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s", slug, o->regions ? " regions=" : "",
             o->regions ? o->regions : "", o->languages ? " languages=" : "",
             o->languages ? o->languages : "", o->topics ? " topics=" : "",
             o->topics ? o->topics : "", o->hours ? " hours=" : "", o->hours ? o->hours : "",
             o->chat ? " chat=" : "", o->chat ? o->chat : "", o->mail ? " mail=" : "",
             o->mail ? o->mail : "", o->pool ? " pool=" : "", o->pool ? o->pool : "");
}

#define ARRAY_OF(n) "coalesce(string_to_array(nullif($" #n "::text, ''), ','), '{}')"

static const char add_sql[] =
    "INSERT INTO organisations (slug, name, regions, languages, topics, hours, takes_chat,"
    " takes_mail, takes_pool) VALUES ($1, $2, " ARRAY_OF(3) ", " ARRAY_OF(4) ", " ARRAY_OF(
        5) ", $6, $7 = 'yes', $8 = 'yes', $9 = 'yes') RETURNING id";

/* NULL parameters keep what is there. */
static const char set_sql[] =
    "UPDATE organisations SET name = coalesce($2, name),"
    " regions = CASE WHEN $3::text IS NULL THEN regions ELSE " ARRAY_OF(
        3) " END,"
           " languages = CASE WHEN $4::text IS NULL THEN languages ELSE " ARRAY_OF(
               4) " END,"
                  " topics = CASE WHEN $5::text IS NULL THEN topics ELSE " ARRAY_OF(
                      5) " END,"
                         " hours = coalesce($6, hours), takes_chat = coalesce($7 = 'yes', "
                         "takes_chat),"
                         " takes_mail = coalesce($8 = 'yes', takes_mail), takes_pool = coalesce($9 "
                         "= 'yes',"
                         " takes_pool), updated_at = now() WHERE slug = $1 RETURNING id";

static int org_change(const char *conninfo, const char *what, const char *slug,
                      const struct org_opts *o)
{
    bool add = !strcmp(what, "add");
    const char *values[9] = {slug,     o->name, o->regions, o->languages, o->topics,
                             o->hours, o->chat, o->mail,    o->pool};
    if (add) {
        static const char *const defaults[9] = {NULL, NULL, "", "de", "", "", "yes", "yes", "yes"};
        for (int i = 2; i < 9; i++)
            if (!values[i])
                values[i] = defaults[i];
    }
    char detail[1024], id[CTL_ID_BYTES], state[6] = "";
    detail_of(detail, sizeof(detail), slug, o);
    const struct ctl_change c = {.sql = add ? add_sql : set_sql,
                                 .n = 9,
                                 .values = values,
                                 .action = add ? "org-add" : "org-set",
                                 .detail = detail,
                                 .not_account = true};
    PGconn *db = ctl_db_connect(conninfo);
    int rc = db ? ctl_db_change(db, &c, id, state) : -1;
    PQfinish(db);
    if (!strcmp(state, "23505"))
        ctl_error("an organisation '%s' already exists", slug);
    else if (rc == 1)
        ctl_error("no organisation '%s'", slug);
    if (rc != 0)
        return CTL_FAIL;
    printf("organisation %s id %s %s\n", slug, id, add ? "added" : "changed");
    return CTL_OK;
}

static const char list_sql[] =
    "SELECT o.id, o.slug, o.name, array_to_string(o.regions, ','),"
    " array_to_string(o.languages, ','), array_to_string(o.topics, ','), o.hours,"
    " o.takes_chat, o.takes_mail, o.takes_pool, o.revoked_at IS NOT NULL,"
    " (SELECT count(*) FROM accounts a WHERE a.org_id = o.id AND NOT a.disabled)"
    " FROM organisations o ORDER BY o.id";

static const char *const list_keys[12] = {"id",        "slug",   "name",    "regions",
                                          "languages", "topics", "hours",   "chat",
                                          "mail",      "pool",   "revoked", "accounts"};

static void list_json(PGresult *r)
{
    static char buf[1 << 20];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_arr_begin(&w, NULL);
    for (int i = 0; i < PQntuples(r); i++) {
        lotse_jw_obj_begin(&w, NULL);
        for (int c = 0; c < 12; c++) {
            const char *v = PQgetvalue(r, i, c);
            if (c == 0 || c == 11) {
                lotse_jw_int(&w, list_keys[c], atoll(v));
            } else if (c >= 7 && c <= 10) {
                lotse_jw_bool(&w, list_keys[c], v[0] == 't');
            } else if (c >= 3 && c <= 5) {
                lotse_jw_arr_begin(&w, list_keys[c]);
                for (const char *p = v; *p;) {
                    char item[64];
                    size_t n = strcspn(p, ",");
                    snprintf(item, sizeof(item), "%.*s", (int)(n < 63 ? n : 63), p);
                    lotse_jw_str(&w, NULL, item);
                    p += n + (p[n] == ',');
                }
                lotse_jw_arr_end(&w);
            } else {
                lotse_jw_str(&w, list_keys[c], v);
            }
        }
        lotse_jw_obj_end(&w);
    }
    lotse_jw_arr_end(&w);
    int len = lotse_jw_finish(&w);
    if (len >= 0)
        printf("%.*s\n", len, buf);
}

static void list_text(PGresult *r)
{
    printf("%-4s %-16s %-28s %-20s %-12s %-16s %-5s %-5s %-5s %-8s %s\n", "id", "slug", "name",
           "regions", "languages", "topics", "chat", "mail", "pool", "revoked", "hours");
    for (int i = 0; i < PQntuples(r); i++) {
        const char *cell[11];
        for (int c = 0; c < 11; c++) {
            cell[c] = PQgetvalue(r, i, c);
            if (c >= 7)
                cell[c] = cell[c][0] == 't' ? "yes" : "no";
            else if (!*cell[c])
                cell[c] = "-";
        }
        printf("%-4s %-16s %-28s %-20s %-12s %-16s %-5s %-5s %-5s %-8s %s\n", cell[0], cell[1],
               cell[2], cell[3], cell[4], cell[5], cell[7], cell[8], cell[9], cell[10], cell[6]);
    }
}

static int org_list(const char *conninfo, int argc, char **argv)
{
    const char *format = "text";
    const struct ctl_opt opts[] = {CTL_TEXT("format", 'f', &format), {0}};
    int rc;
    if (!ctl_options(argc, argv, opts, org_help, "list takes only --format", &rc))
        return rc;
    if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
        ctl_error("--format must be text or json");
        return CTL_USAGE;
    }
    PGconn *db = ctl_db_connect(conninfo);
    PGresult *r =
        db ? ctl_db_query(db, list_sql, 0, NULL, NULL, NULL, PGRES_TUPLES_OK, NULL) : NULL;
    if (r && !strcmp(format, "json"))
        list_json(r);
    else if (r)
        list_text(r);
    PQclear(r);
    PQfinish(db);
    return r ? CTL_OK : CTL_FAIL;
}

int ctl_cmd_org(const char *conninfo, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        printf("%s", org_help);
        return CTL_OK;
    }
    if (!strcmp(sub, "list"))
        return org_list(conninfo, argc - 1, argv + 1);
    if (strcmp(sub, "add") != 0 && strcmp(sub, "set") != 0) {
        ctl_error("org needs add, set or list (see org --help)");
        return CTL_USAGE;
    }
    if (argc < 3 || argv[2][0] == '-') {
        if (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            printf("%s", org_help);
            return CTL_OK;
        }
        ctl_error("org %s needs SLUG first (see org --help)", sub);
        return CTL_USAGE;
    }
    struct org_opts o = {0};
    int rc;
    if (!read_opts(argc - 2, argv + 2, &o, !strcmp(sub, "add"), &rc))
        return rc;
    return org_change(conninfo, sub, argv[2], &o);
}

/* ---- the organisation and languages of an account ---- */

int ctl_org_check_account_opts(const char *org, const char *languages)
{
    if (org && !org_slug_valid(org)) {
        ctl_error("bad --org '%s': an organisation's slug (org list)", org);
        return CTL_USAGE;
    }
    if (languages && !list_ok(languages, false, ORG_LANG_COUNT * 2, lang_item)) {
        ctl_error("bad --languages: one or more of de en tr ar ru uk, comma-separated");
        return CTL_USAGE;
    }
    return CTL_OK;
}

static const char set_org_help[] =
    "usage: lotsectl account-set-org --handle H --org SLUG\n"
    "Moves the account to another organisation. Takes effect at the next login.\n";
static const char set_languages_help[] =
    "usage: lotsectl account-set-languages --handle H --languages de,tr\n"
    "Sets the languages the account counsels in (de en tr ar ru uk). Takes effect at\n"
    "the next login.\n";

/* account-set-org and account-set-languages: one UPDATE and its audit row. */
static int account_set(const char *conninfo, int argc, char **argv, bool org)
{
    const char *handle = NULL, *value = NULL;
    const struct ctl_opt opts[] = {
        CTL_NEEDED("handle", 'H', &handle),
        CTL_NEEDED(org ? "org" : "languages", 0, &value),
        {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, org ? set_org_help : set_languages_help,
                     org ? "needs --handle H and --org SLUG" : "needs --handle H and --languages",
                     &rc))
        return rc;
    if (ctl_org_check_account_opts(org ? value : NULL, org ? NULL : value) != CTL_OK)
        return CTL_USAGE;
    const char *values[2] = {handle, value};
    char detail[160];
    snprintf(detail, sizeof(detail), "%s=%s", org ? "org" : "languages", value);
    const struct ctl_change c = {
        .sql = org ? "UPDATE accounts SET org_id = (SELECT id FROM organisations WHERE slug = $2),"
                     " updated_at = now() WHERE handle = $1"
                     " AND EXISTS (SELECT 1 FROM organisations WHERE slug = $2) RETURNING id"
                   : "UPDATE accounts SET languages = string_to_array($2, ','), updated_at = now()"
                     " WHERE handle = $1 RETURNING id",
        .n = 2,
        .values = values,
        .action = org ? "account-set-org" : "account-set-languages",
        .detail = detail};
    PGconn *db = ctl_db_connect(conninfo);
    int found = db ? ctl_db_change(db, &c, NULL, NULL) : -1;
    PQfinish(db);
    if (found == 1)
        ctl_error("no account '%s'%s", handle, org ? " or no such organisation" : "");
    if (found != 0)
        return CTL_FAIL;
    printf("account %s %s %s\n", handle, org ? "org" : "languages", value);
    return CTL_OK;
}

int ctl_cmd_account_set_org(const char *conninfo, int argc, char **argv)
{
    return account_set(conninfo, argc, argv, true);
}

int ctl_cmd_account_set_languages(const char *conninfo, int argc, char **argv)
{
    return account_set(conninfo, argc, argv, false);
}
