/* ctl_accounts.c — account-add, account-disable, account-enable,
 * account-reset-password, account-set-topics, account-set-capacity, account-list.
 *
 * Every change runs in one transaction with its audit_log row. Passwords exist
 * only in sodium_malloc'd memory and only until hashed (Argon2id,
 * crypto_pwhash_str); neither they nor their hashes are ever printed, except a
 * generated password, once, to the operator who asked for it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "ctl.h"
#include "lotse/proto.h"

#define HANDLE_MAX     64
#define NAME_MAX_BYTES 64 /* store.h keeps display names in STORE_MAX_HANDLE bytes */
#define TOPICS_MAX     16
#define TOPIC_MAX_LEN  32
#define PASSWORD_MIN   8
#define PASSWORD_MAX   256
#define GENERATED_LEN  16
#define CAPACITY_MAX   10

/* No 0/O, 1/l/I: read aloud or copied from paper without mistakes. */
static const char password_alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/* The same rule as the CHECK on accounts.handle: ^[a-z0-9][a-z0-9._-]{0,63}$ */
static bool handle_valid(const char *h)
{
    size_t len = strlen(h);
    if (len == 0 || len > HANDLE_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (i > 0 && (c == '.' || c == '_' || c == '-'));
        if (!ok)
            return false;
    }
    return true;
}

/* Topics: up to 16 comma-separated names of [a-z0-9_-]{1,32}. */
static bool topics_valid(const char *t)
{
    int count = 0;
    size_t run = 0;
    if (!*t)
        return true;
    for (const char *p = t;; p++) {
        if (*p == ',' || *p == '\0') {
            if (run == 0 || run > TOPIC_MAX_LEN || ++count > TOPICS_MAX)
                return false;
            run = 0;
            if (!*p)
                return true;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return false;
        run++;
    }
}

/* --topics; CTL_OK, or CTL_USAGE with the rule printed. */
static int check_topics(const char *t)
{
    if (topics_valid(t))
        return CTL_OK;
    ctl_error("bad --topics: up to %d comma-separated names of a-z 0-9 _ - (1..%d each)",
              TOPICS_MAX, TOPIC_MAX_LEN);
    return CTL_USAGE;
}

/* Reads the first line of stdin into sodium_malloc'd memory; NULL on error. */
static char *read_password_stdin(void)
{
    char *buf = sodium_malloc(PASSWORD_MAX + 2);
    if (!buf)
        return NULL;
    size_t len = 0;
    int c;
    while ((c = getchar()) != EOF && c != '\n') {
        if (len > PASSWORD_MAX) {
            len = PASSWORD_MAX + 1; /* too long: keep reading the line, report below */
            continue;
        }
        buf[len++] = (char)c;
    }
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len > PASSWORD_MAX || len < PASSWORD_MIN) {
        ctl_error("the password must have %d to %d bytes", PASSWORD_MIN, PASSWORD_MAX);
        sodium_free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static char *generate_password(void)
{
    char *buf = sodium_malloc(GENERATED_LEN + 1);
    if (!buf)
        return NULL;
    for (int i = 0; i < GENERATED_LEN; i++)
        buf[i] = password_alphabet[randombytes_uniform(sizeof(password_alphabet) - 1)];
    buf[GENERATED_LEN] = '\0';
    return buf;
}

/* --pwhash-cost: Argon2id limits by name. */
static const struct {
    const char *name;
    unsigned long long ops;
    size_t mem;
} pwhash_costs[] = {
    {"interactive", crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE},
    {"moderate", crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE},
    {"min", crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN},
};

/* Reads (from_stdin) or generates a password and hashes it at the named cost
 * ("min" only with insecure, i.e. --insecure-for-tests).
 * Returns CTL_OK, and the caller sodium_free()s *password and wipes hash; or
 * CTL_USAGE / CTL_FAIL (printed) with nothing to free. */
static int new_password(const char *cost, bool insecure, bool from_stdin, char **password,
                        char hash[crypto_pwhash_STRBYTES])
{
    size_t i = 0;
    size_t n = sizeof(pwhash_costs) / sizeof(pwhash_costs[0]);
    while (i < n && strcmp(cost, pwhash_costs[i].name) != 0)
        i++;
    if (i == n) {
        ctl_error("--pwhash-cost must be interactive, moderate or min");
        return CTL_USAGE;
    }
    /* A password hashed at the minimum cost falls to a GPU in hours: only a
     * test, which says so, may ask for it. */
    if (!strcmp(cost, "min") && !insecure) {
        ctl_error("--pwhash-cost min is for tests only: add --insecure-for-tests if this is one");
        return CTL_USAGE;
    }
    *password = from_stdin ? read_password_stdin() : generate_password();
    if (!*password)
        return from_stdin ? CTL_USAGE : CTL_FAIL;
    if (crypto_pwhash_str(hash, *password, strlen(*password), pwhash_costs[i].ops,
                          pwhash_costs[i].mem) != 0) {
        sodium_free(*password);
        ctl_error("password hashing failed (out of memory?)");
        return CTL_FAIL;
    }
    return CTL_OK;
}

/* Runs sql (an UPDATE of accounts WHERE handle = $1 RETURNING id, with value as
 * $2 when not NULL) and its audit row in one transaction. */
static int update_account(const char *conninfo, const char *handle, const char *sql,
                          const char *value, const char *action, const char *detail)
{
    const char *values[2] = {handle, value};
    const struct ctl_change change = {
        .sql = sql, .n = value ? 2 : 1, .values = values, .action = action, .detail = detail};
    PGconn *db = ctl_db_connect(conninfo);
    int found = db ? ctl_db_change(db, &change, NULL, NULL) : -1;
    PQfinish(db);
    if (found == 1)
        ctl_error("no account '%s'", handle);
    return found == 0 ? CTL_OK : CTL_FAIL;
}

/* The fields of a new account; CTL_OK, or CTL_USAGE with the rule printed. */
static int check_new_account(const char *handle, const char *role, const char *name,
                             const char *topics)
{
    if (!handle_valid(handle)) {
        ctl_error("bad handle '%s': a-z 0-9 and . _ - (not first), at most 64", handle);
        return CTL_USAGE;
    }
    if (strcmp(role, "counsellor") != 0 && strcmp(role, "supervisor") != 0 &&
        strcmp(role, "coordinator") != 0) {
        ctl_error("--role must be counsellor, supervisor or coordinator");
        return CTL_USAGE;
    }
    if (!*name || strlen(name) > NAME_MAX_BYTES || !lotse_utf8_valid(name, strlen(name))) {
        ctl_error("--name must be 1 to %d bytes of UTF-8", NAME_MAX_BYTES);
        return CTL_USAGE;
    }
    return check_topics(topics);
}

static const char account_add_help[] =
    "usage: lotsectl account-add --handle H --role counsellor|supervisor|coordinator\n"
    "         [--name NAME] [--topics a,b,c] [--capacity N] [--org SLUG] [--languages de,tr]\n"
    "         [--password-stdin]\n"
    "         [--pwhash-cost interactive|moderate|min [--insecure-for-tests]]\n"
    "Adds an account. The password is the first line of stdin with --password-stdin;\n"
    "otherwise a 16-character one is generated and printed once as \"password: ...\".\n"
    "  --handle     login name: a-z 0-9 and . _ - (not first), at most 64\n"
    "  --name       display name (default: the handle), at most 64 bytes UTF-8\n"
    "  --topics     up to 16 comma-separated topics of a-z 0-9 _ -\n"
    "  --capacity   sessions at once, 1..10 (default 2)\n"
    "  --org        the organisation (its slug, org list; default the first, main)\n"
    "  --languages  counselling languages of de en tr ar ru uk (default de)\n"
    "  --pwhash-cost  Argon2id cost: interactive (default), moderate, or min;\n"
    "               \"min\" is for tests only and refused without --insecure-for-tests;\n"
    "               lotsed's setting pwhash_cost must name the same cost\n"
    "Prints \"account H id N\".\n";

int ctl_cmd_account_add(const char *conninfo, int argc, char **argv)
{
    const char *handle = NULL, *role = NULL, *name = NULL, *topics = "", *cost = "interactive";
    const char *org = NULL, *languages = "de";
    long capacity = 2;
    bool from_stdin = false, insecure = false;
    const struct ctl_opt opts[] = {
        CTL_NEEDED("handle", 'H', &handle),
        CTL_NEEDED("role", 'r', &role),
        CTL_TEXT("name", 'n', &name),
        CTL_TEXT("topics", 't', &topics),
        CTL_LONG("capacity", 'c', &capacity, 1, CAPACITY_MAX),
        CTL_FLAG("password-stdin", 'p', &from_stdin),
        CTL_TEXT("pwhash-cost", 'C', &cost),
        CTL_FLAG("insecure-for-tests", 'I', &insecure),
        CTL_TEXT("org", 'o', &org),
        CTL_TEXT("languages", 'l', &languages),
        {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, account_add_help,
                     "needs --handle and --role (see account-add --help)", &rc))
        return rc;
    if (!name)
        name = handle;
    if (check_new_account(handle, role, name, topics) != CTL_OK ||
        ctl_org_check_account_opts(org, languages) != CTL_OK)
        return CTL_USAGE;
    /* The password is kept until the commit, so a generated one is printed only
     * if it took. */
    char *password, hash[crypto_pwhash_STRBYTES];
    rc = new_password(cost, insecure, from_stdin, &password, hash);
    if (rc != CTL_OK)
        return rc;
    char cap_text[8], detail[400], id[CTL_ID_BYTES], state[6] = "";
    snprintf(cap_text, sizeof(cap_text), "%ld", capacity);
    snprintf(detail, sizeof(detail), "handle=%s role=%s topics=%s capacity=%ld org=%s languages=%s",
             handle, role, topics, capacity, org ? org : "(first)", languages);
    const char *values[8] = {handle, name, role, hash, topics, cap_text, org, languages};
    /* an --org that names no organisation leaves org_id NULL: the insert fails */
    const struct ctl_change add = {
        .sql = "INSERT INTO accounts (handle, display_name, role, pw_hash, topics, capacity,"
               " org_id, languages)"
               " VALUES ($1, $2, $3, $4, coalesce(string_to_array(nullif($5, ''), ','), '{}'),"
               " $6::integer, CASE WHEN $7::text IS NULL THEN 1 ELSE"
               " (SELECT id FROM organisations WHERE slug = $7) END, string_to_array($8, ','))"
               " RETURNING id",
        .n = 8,
        .values = values,
        .action = "account-add",
        .detail = detail,
    };
    PGconn *db = ctl_db_connect(conninfo);
    rc = db && ctl_db_change(db, &add, id, state) == 0 ? CTL_OK : CTL_FAIL;
    PQfinish(db);
    if (strcmp(state, "23505") == 0)
        ctl_error("an account '%s' already exists", handle);
    else if (rc != CTL_OK && org)
        ctl_error("is there an organisation '%s'? (lotsectl org list)", org);
    if (rc == CTL_OK) {
        if (!from_stdin)
            printf("password: %s\n", password);
        printf("account %s id %s\n", handle, id);
    }
    sodium_memzero(hash, sizeof(hash));
    sodium_free(password);
    return rc;
}

static const char disable_help[] =
    "usage: lotsectl account-disable --handle H\n"
    "Disables the account: it can no longer log in. Rows are kept for the audit log.\n";

int ctl_cmd_account_disable(const char *conninfo, int argc, char **argv)
{
    const char *handle = NULL;
    const struct ctl_opt opts[] = {
        CTL_NEEDED("handle", 'H', &handle),
        {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, disable_help, "needs --handle H", &rc))
        return rc;
    rc = update_account(conninfo, handle,
                        "UPDATE accounts SET disabled = true, updated_at = now()"
                        " WHERE handle = $1 RETURNING id",
                        NULL, "account-disable", "");
    if (rc == CTL_OK)
        printf("account %s disabled\n", handle);
    return rc;
}

static const char list_help[] =
    "usage: lotsectl account-list\n"
    "Lists accounts: id handle role topics capacity disabled certified-devices\n"
    "(devices with a valid, unrevoked certificate). Never password hashes.\n";

int ctl_cmd_account_list(const char *conninfo, int argc, char **argv)
{
    const struct ctl_opt opts[] = {
        {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, list_help, "takes no arguments", &rc))
        return rc;
    PGconn *db = ctl_db_connect(conninfo);
    if (!db)
        return CTL_FAIL;
    /* pw_hash is deliberately not selected. */
    PGresult *r = ctl_db_query(
        db,
        "SELECT a.id, a.handle, a.role, coalesce(nullif(array_to_string(a.topics, ','), ''), '-'),"
        " a.capacity, CASE WHEN a.disabled THEN 'yes' ELSE 'no' END,"
        " count(c.id) FILTER (WHERE c.revoked_at IS NULL AND c.expires_at > now())"
        " FROM accounts a LEFT JOIN device_certs c ON c.account_id = a.id"
        " GROUP BY a.id ORDER BY a.id",
        0, NULL, NULL, NULL, PGRES_TUPLES_OK, NULL);
    if (!r) {
        PQfinish(db);
        return CTL_FAIL;
    }
    printf("%-6s %-24s %-11s %-24s %-8s %-8s %s\n", "id", "handle", "role", "topics", "capacity",
           "disabled", "certified-devices");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-6s %-24s %-11s %-24s %-8s %-8s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
               PQgetvalue(r, i, 6));
    PQclear(r);
    PQfinish(db);
    return CTL_OK;
}

/* ---- account-enable, account-reset-password, account-set-topics,
 * account-set-capacity ---- */

/* Reads "--handle H [--NAME VALUE]" (both required) for the one-field commands;
 * *value stays NULL when opt_name is NULL. Returns true when the command goes
 * on, else false with *rc its exit code (as ctl_options). */
static bool parse_handle_and(int argc, char **argv, const char *opt_name, const char **handle,
                             const char **value, const char *help, int *rc)
{
    *handle = NULL;
    const struct ctl_opt opts[] = {
        CTL_NEEDED("handle", 'H', handle),
        CTL_NEEDED(opt_name, 0, value),
        {0},
    };
    char misuse[80];
    snprintf(misuse, sizeof(misuse), "needs --handle H%s%s (see --help)", opt_name ? " and --" : "",
             opt_name ? opt_name : "");
    if (!ctl_options(argc, argv, opts, help, misuse, rc))
        return false;
    if (!handle_valid(*handle)) {
        ctl_error("bad handle '%s'", *handle);
        *rc = CTL_USAGE;
        return false;
    }
    return true;
}

int ctl_cmd_account_enable(const char *conninfo, int argc, char **argv)
{
    const char *handle, *none = NULL;
    int rc;
    if (!parse_handle_and(argc, argv, NULL, &handle, &none,
                          "usage: lotsectl account-enable --handle H\n"
                          "Enables a disabled account: it can log in again.\n",
                          &rc))
        return rc;
    rc = update_account(conninfo, handle,
                        "UPDATE accounts SET disabled = false, updated_at = now()"
                        " WHERE handle = $1 RETURNING id",
                        NULL, "account-enable", "");
    if (rc == CTL_OK)
        printf("account %s enabled\n", handle);
    return rc;
}

int ctl_cmd_account_set_topics(const char *conninfo, int argc, char **argv)
{
    const char *handle, *topics = NULL;
    int rc;
    if (!parse_handle_and(argc, argv, "topics", &handle, &topics,
                          "usage: lotsectl account-set-topics --handle H --topics a,b,c\n"
                          "Sets the topics the account takes sessions for (up to 16 names of\n"
                          "a-z 0-9 _ -; \"\" for none). Takes effect at the next login.\n",
                          &rc))
        return rc;
    if (check_topics(topics) != CTL_OK)
        return CTL_USAGE;
    char detail[600];
    snprintf(detail, sizeof(detail), "topics=%s", topics);
    rc =
        update_account(conninfo, handle,
                       "UPDATE accounts SET topics = coalesce(string_to_array(nullif($2, ''), ','),"
                       " '{}'), updated_at = now() WHERE handle = $1 RETURNING id",
                       topics, "account-set-topics", detail);
    if (rc == CTL_OK)
        printf("account %s topics %s\n", handle, *topics ? topics : "(none)");
    return rc;
}

int ctl_cmd_account_set_capacity(const char *conninfo, int argc, char **argv)
{
    const char *handle, *cap = NULL;
    int rc;
    if (!parse_handle_and(argc, argv, "capacity", &handle, &cap,
                          "usage: lotsectl account-set-capacity --handle H --capacity N\n"
                          "Sets how many sessions the account may hold at once (1..10).\n"
                          "Takes effect at the next login.\n",
                          &rc))
        return rc;
    long n;
    if (ctl_parse_long("capacity", cap, 1, CAPACITY_MAX, &n) < 0)
        return CTL_USAGE;
    char value[8], detail[32];
    snprintf(value, sizeof(value), "%ld", n);
    snprintf(detail, sizeof(detail), "capacity=%ld", n);
    rc = update_account(conninfo, handle,
                        "UPDATE accounts SET capacity = $2::integer, updated_at = now()"
                        " WHERE handle = $1 RETURNING id",
                        value, "account-set-capacity", detail);
    if (rc == CTL_OK)
        printf("account %s capacity %ld\n", handle, n);
    return rc;
}

static const char reset_help[] =
    "usage: lotsectl account-reset-password --handle H [--password-stdin]\n"
    "         [--pwhash-cost interactive|moderate|min [--insecure-for-tests]]\n"
    "Sets a new password. It is the first line of stdin with --password-stdin;\n"
    "otherwise a 16-character one is generated and printed once as \"password: ...\".\n"
    "A session already logged in stays logged in until it disconnects.\n";

int ctl_cmd_account_reset_password(const char *conninfo, int argc, char **argv)
{
    const char *handle = NULL, *cost = "interactive";
    bool from_stdin = false, insecure = false;
    const struct ctl_opt opts[] = {
        CTL_NEEDED("handle", 'H', &handle),
        CTL_FLAG("password-stdin", 'p', &from_stdin),
        CTL_TEXT("pwhash-cost", 'C', &cost),
        CTL_FLAG("insecure-for-tests", 'I', &insecure),
        {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, reset_help, "needs --handle H (see --help)", &rc))
        return rc;
    if (!handle_valid(handle)) {
        ctl_error("bad handle '%s'", handle);
        return CTL_USAGE;
    }
    char *password, hash[crypto_pwhash_STRBYTES];
    rc = new_password(cost, insecure, from_stdin, &password, hash);
    if (rc != CTL_OK)
        return rc;
    rc = update_account(conninfo, handle,
                        "UPDATE accounts SET pw_hash = $2, updated_at = now()"
                        " WHERE handle = $1 RETURNING id",
                        hash, "account-reset-password", "");
    if (rc == CTL_OK) {
        if (!from_stdin)
            printf("password: %s\n", password);
        printf("account %s password reset\n", handle);
    }
    sodium_memzero(hash, sizeof(hash));
    sodium_free(password);
    return rc;
}
