/* test_ctl.c — the built lotsectl binary against a fresh database: migrate, keys,
 * accounts, device certificates (verified with the public key), the audit log,
 * exit codes, and that no table ever holds a password. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "lotse/crypto.h"
#include "testdb.h"

#define CTL LOTSE_BIN_DIR "/lotsectl"

static char db_conninfo[512];
static char tmpdir[64];

/* Runs lotsectl --db <test db> args..., feeding input (may be NULL) on stdin.
 * Captures stdout into out; stderr goes to the test's stderr. Returns the exit
 * code, or -1 if it did not exit normally. */
static int run_ctl(const char *input, char *out, size_t cap, ...)
{
    const char *argv[32];
    int argc = 0;
    argv[argc++] = CTL;
    argv[argc++] = "--db";
    argv[argc++] = db_conninfo;
    va_list ap;
    va_start(ap, cap);
    const char *a;
    while ((a = va_arg(ap, const char *)) && argc < 31)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    int in[2], outp[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(outp), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(outp[1], 1);
        close(in[0]);
        close(in[1]);
        close(outp[0]);
        close(outp[1]);
        execv(CTL, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    if (input)
        assert_int_equal(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
    close(in[1]);
    size_t len = 0;
    ssize_t n;
    char sink[256];
    while ((n = read(outp[0], len + 1 < cap ? out + len : sink,
                     len + 1 < cap ? cap - 1 - len : sizeof(sink))) > 0)
        if (len + 1 < cap)
            len += (size_t)n;
    close(outp[0]);
    out[len] = '\0';
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static PGresult *db_query(const char *sql, int n, const char *const *values)
{
    PGconn *db = PQconnectdb(db_conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PGresult *r = PQexecParams(db, sql, n, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQfinish(db);
    return r;
}

static void path_in_tmp(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void read_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(out, (int)cap, f));
    fclose(f);
    size_t len = strlen(out);
    assert_true(len > 0 && out[len - 1] == '\n');
    out[len - 1] = '\0';
}

static int group_setup(void **state)
{
    if (sodium_init() < 0)
        return -1;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/lotse-ctl.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    if (testdb_create(db_conninfo, sizeof(db_conninfo), "ctl") != 0)
        return -1;
    char out[256];
    return run_ctl(NULL, out, sizeof(out), "migrate", NULL) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    testdb_drop(db_conninfo);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_ctl_migrate_is_idempotent_and_reports_the_version(void **state)
{
    char out[256];
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "migrate", NULL), 0);
    assert_non_null(strstr(out, "schema at version "));
    assert_non_null(strstr(out, "(applied 0)"));
}

static void test_ctl_orgkey_create_is_0600_and_refuses_to_overwrite(void **state)
{
    char key[128], pub[160], out[256], line[128];
    path_in_tmp(key, sizeof(key), "org-once.key");
    snprintf(pub, sizeof(pub), "%s.pub", key);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "orgkey-create", "--out", key, NULL), 0);
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    read_line(pub, line, sizeof(line));
    out[strcspn(out, "\n")] = '\0';
    assert_string_equal(out, line);
    read_line(key, line, sizeof(line));
    assert_int_equal(strlen(line), 86);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "orgkey-create", "--out", key, NULL), 1);
    char again[128];
    read_line(key, again, sizeof(again));
    assert_string_equal(again, line);
}

static void test_ctl_account_device_certificate_and_audit_flow(void **state)
{
    char org[128], orgpub[160], dev[128], out[1024], line[256];
    path_in_tmp(org, sizeof(org), "org.key");
    snprintf(orgpub, sizeof(orgpub), "%s.pub", org);
    path_in_tmp(dev, sizeof(dev), "device.key");
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "orgkey-create", "--out", org, NULL), 0);

    assert_int_equal(run_ctl("correct horse battery staple\n", out, sizeof(out), "account-add",
                             "--handle", "maria", "--role", "counsellor", "--name", "Maria",
                             "--topics", "family,prison", "--capacity", "3", "--password-stdin",
                             "--pwhash-cost", "min", "--insecure-for-tests", NULL),
                     0);
    unsigned id = 0;
    assert_int_equal(sscanf(out, "account maria id %u", &id), 1);
    assert_null(strstr(out, "password"));

    char device_pk_text[64];
    assert_int_equal(run_ctl(NULL, device_pk_text, sizeof(device_pk_text), "device-keygen", "--out",
                             dev, NULL),
                     0);
    device_pk_text[strcspn(device_pk_text, "\n")] = '\0';

    assert_int_equal(run_ctl(NULL, out, sizeof(out), "device-certify", "--handle", "maria",
                             "--device", device_pk_text, "--orgkey", org, "--days", "30", NULL),
                     0);
    out[strcspn(out, "\n")] = '\0';
    uint8_t cert[LOTSE_CERT_BYTES + 8];
    assert_int_equal(lotse_b64_decode(cert, sizeof(cert), out, strlen(out)), LOTSE_CERT_BYTES);

    /* the certificate verifies with the .pub file and names this account */
    uint8_t org_pk[LOTSE_PK_BYTES], dev_pk[LOTSE_PK_BYTES];
    read_line(orgpub, line, sizeof(line));
    assert_int_equal(lotse_b64_decode(org_pk, sizeof(org_pk), line, strlen(line)), LOTSE_PK_BYTES);
    assert_int_equal(lotse_b64_decode(dev_pk, sizeof(dev_pk), device_pk_text, strlen(device_pk_text)),
                     LOTSE_PK_BYTES);
    struct lotse_cert parsed;
    assert_int_equal(lotse_cert_verify(&parsed, cert, LOTSE_CERT_BYTES, org_pk, (uint64_t)time(NULL)), 0);
    assert_int_equal(parsed.counsellor_id, id);
    assert_memory_equal(parsed.device_pk, dev_pk, LOTSE_PK_BYTES);
    uint64_t in30 = (uint64_t)time(NULL) + 30 * 86400u;
    assert_true(parsed.expires <= in30 && parsed.expires + 120 >= in30);
    /* and it is the one stored */
    PGresult *r = db_query("SELECT encode(cert, 'base64') <> '' AND octet_length(cert) = 110"
                           " FROM device_certs WHERE account_id = (SELECT id FROM accounts"
                           " WHERE handle = 'maria')",
                           0, NULL);
    assert_int_equal(PQntuples(r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "t");
    PQclear(r);

    /* a certified device cannot be certified twice */
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "device-certify", "--handle", "maria",
                             "--device", device_pk_text, "--orgkey", org, NULL),
                     1);

    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-list", NULL), 0);
    char *row = strstr(out, "maria");
    assert_non_null(row);
    assert_non_null(strstr(row, "counsellor"));
    assert_non_null(strstr(row, "family,prison"));
    char *eol = strchr(row, '\n');
    assert_non_null(eol);
    assert_true(eol[-1] == '1'); /* certified-devices */
    assert_null(strstr(out, "$argon2"));

    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-disable", "--handle", "maria", NULL), 0);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-list", NULL), 0);
    row = strstr(out, "maria");
    assert_non_null(row);
    assert_non_null(strstr(row, " yes "));
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-disable", "--handle", "nobody", NULL), 1);

    /* one audit row per change, in order, with an actor */
    r = db_query("SELECT string_agg(action, ',' ORDER BY id), bool_and(actor <> '')"
                 " FROM audit_log WHERE account_id = (SELECT id FROM accounts WHERE handle = 'maria')",
                 0, NULL);
    assert_string_equal(PQgetvalue(r, 0, 0), "account-add,device-certify,account-disable");
    assert_string_equal(PQgetvalue(r, 0, 1), "t");
    PQclear(r);

    /* the stored hash is Argon2id of that password */
    r = db_query("SELECT pw_hash FROM accounts WHERE handle = 'maria'", 0, NULL);
    assert_int_equal(crypto_pwhash_str_verify(PQgetvalue(r, 0, 0), "correct horse battery staple",
                                              strlen("correct horse battery staple")),
                     0);
    assert_int_equal(strncmp(PQgetvalue(r, 0, 0), "$argon2id$", 10), 0);
    PQclear(r);
}

static void test_ctl_generated_password_is_printed_once_and_hashed(void **state)
{
    char out[512];
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-add", "--handle", "gen.user", "--role",
                             "supervisor", "--pwhash-cost", "min", "--insecure-for-tests", NULL),
                     0);
    char pw[64] = "";
    char *p = strstr(out, "password: ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "password: %63s", pw), 1);
    assert_int_equal(strlen(pw), 16);
    assert_int_equal(strspn(pw, "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"), 16);
    assert_null(strstr(p + 1, "password: "));
    const char *values[1] = {"gen.user"};
    PGresult *r = db_query("SELECT pw_hash FROM accounts WHERE handle = $1", 1, values);
    assert_int_equal(crypto_pwhash_str_verify(PQgetvalue(r, 0, 0), pw, strlen(pw)), 0);
    PQclear(r);
}

/* Every row of every table, as text, searched for the password. */
static void test_ctl_no_table_contains_a_password(void **state)
{
    static const char secret[] = "Zebra-Secret-7781-unique";
    char out[512], input[64];
    snprintf(input, sizeof(input), "%s\n", secret);
    assert_int_equal(run_ctl(input, out, sizeof(out), "account-add", "--handle", "leak.check",
                             "--role", "counsellor", "--password-stdin", "--pwhash-cost", "min", "--insecure-for-tests",
                             NULL),
                     0);
    assert_null(strstr(out, secret));
    PGresult *tables = db_query("SELECT quote_ident(table_name) FROM information_schema.tables"
                                " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                                0, NULL);
    assert_true(PQntuples(tables) >= 5);
    for (int i = 0; i < PQntuples(tables); i++) {
        char sql[256];
        /* the table name comes from the catalogue, quoted by quote_ident */
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s t WHERE strpos(t::text, $1) > 0",
                 PQgetvalue(tables, i, 0));
        const char *values[1] = {secret};
        PGresult *r = db_query(sql, 1, values);
        if (strcmp(PQgetvalue(r, 0, 0), "0") != 0)
            fail_msg("table %s holds the password", PQgetvalue(tables, i, 0));
        PQclear(r);
    }
    PQclear(tables);
}

/* Issue 11 (low): the minimum Argon2id cost is for tests only. Without
 * --insecure-for-tests it is a usage error and no account is made or changed. */
static void test_ctl_pwhash_cost_min_needs_insecure_for_tests(void **state)
{
    (void)state;
    char out[1024];
    assert_int_equal(run_ctl("a long enough password\n", out, sizeof(out), "account-add", "--handle",
                             "min.cost", "--role", "counsellor", "--password-stdin", "--pwhash-cost",
                             "min", NULL),
                     2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-list", NULL), 0);
    assert_null(strstr(out, "min.cost"));
    assert_int_equal(run_ctl("a long enough password\n", out, sizeof(out), "account-add", "--handle",
                             "min.cost", "--role", "counsellor", "--password-stdin", "--pwhash-cost",
                             "interactive", NULL),
                     0);
    assert_int_equal(run_ctl("another long password\n", out, sizeof(out), "account-reset-password",
                             "--handle", "min.cost", "--password-stdin", "--pwhash-cost", "min", NULL),
                     2);
    assert_int_equal(run_ctl("another long password\n", out, sizeof(out), "account-reset-password",
                             "--handle", "min.cost", "--password-stdin", "--pwhash-cost", "min",
                             "--insecure-for-tests", NULL),
                     0);
}

static void test_ctl_usage_errors_exit_2_and_help_exits_0(void **state)
{
    char out[4096];
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "no-such-command", NULL), 2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-add", "--role", "counsellor", NULL), 2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-add", "--handle", "x", "--role",
                             "admin", NULL),
                     2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-add", "--handle", "Bad Handle",
                             "--role", "counsellor", NULL),
                     2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-add", "--handle", "x", "--role",
                             "counsellor", "--capacity", "11", NULL),
                     2);
    assert_int_equal(run_ctl("short\n", out, sizeof(out), "account-add", "--handle", "x", "--role",
                             "counsellor", "--password-stdin", NULL),
                     2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "device-certify", "--handle", "x", NULL), 2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-add", "--help", NULL), 0);
    assert_non_null(strstr(out, "--pwhash-cost"));
    assert_non_null(strstr(out, "tests only"));
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "--help", NULL), 0);
    assert_non_null(strstr(out, "device-certify"));
    /* an unknown account is an operational error, not a usage error */
    char org[128];
    path_in_tmp(org, sizeof(org), "org-usage.key");
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "orgkey-create", "--out", org, NULL), 0);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "device-certify", "--handle", "ghost",
                             "--device", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--orgkey",
                             org, NULL),
                     1);
}

/* ---- issue 3/5: account, device, stats, purge and audit commands ---- */

static long db_long(const char *sql, const char *param)
{
    const char *v[1] = {param};
    PGresult *r = db_query(sql, param ? 1 : 0, v);
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

static void test_ctl_account_lifecycle_commands_change_and_audit(void **state)
{
    char out[4096];
    assert_int_equal(run_ctl("first password 1\n", out, sizeof(out), "account-add", "--handle", "zed",
                             "--role", "counsellor", "--topics", "family", "--password-stdin",
                             "--pwhash-cost", "min", "--insecure-for-tests", NULL),
                     0);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-disable", "--handle", "zed", NULL), 0);
    assert_int_equal(db_long("SELECT count(*) FROM accounts WHERE handle = $1 AND disabled", "zed"), 1);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-enable", "--handle", "zed", NULL), 0);
    assert_non_null(strstr(out, "account zed enabled"));
    assert_int_equal(db_long("SELECT count(*) FROM accounts WHERE handle = $1 AND NOT disabled", "zed"), 1);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-set-topics", "--handle", "zed",
                             "--topics", "school,crisis", NULL),
                     0);
    assert_int_equal(db_long("SELECT count(*) FROM accounts WHERE handle = $1"
                             " AND topics = '{school,crisis}'", "zed"), 1);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-set-capacity", "--handle", "zed",
                             "--capacity", "5", NULL),
                     0);
    assert_int_equal(db_long("SELECT capacity FROM accounts WHERE handle = $1", "zed"), 5);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-set-capacity", "--handle", "zed",
                             "--capacity", "11", NULL),
                     2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-set-topics", "--handle", "zed",
                             "--topics", "Bad Topic", NULL),
                     2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-set-capacity", "--handle", "nobody",
                             "--capacity", "3", NULL),
                     1);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-enable", "--handle", "nobody", NULL), 1);

    /* reset: from stdin, then generated (printed once); the hash is Argon2id of it */
    assert_int_equal(run_ctl("second password 2\n", out, sizeof(out), "account-reset-password",
                             "--handle", "zed", "--password-stdin", "--pwhash-cost", "min", "--insecure-for-tests", NULL),
                     0);
    assert_null(strstr(out, "password:"));
    const char *v[1] = {"zed"};
    PGresult *r = db_query("SELECT pw_hash FROM accounts WHERE handle = $1", 1, v);
    assert_int_equal(crypto_pwhash_str_verify(PQgetvalue(r, 0, 0), "second password 2", 17), 0);
    PQclear(r);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "account-reset-password", "--handle", "zed",
                             "--pwhash-cost", "min", "--insecure-for-tests", NULL),
                     0);
    char pw[64] = "";
    assert_int_equal(sscanf(out, "password: %63s", pw), 1);
    r = db_query("SELECT pw_hash FROM accounts WHERE handle = $1", 1, v);
    assert_int_equal(crypto_pwhash_str_verify(PQgetvalue(r, 0, 0), pw, strlen(pw)), 0);
    PQclear(r);

    /* every change has its audit row, and none holds a password */
    static const char *const actions[] = {"account-add", "account-disable", "account-enable",
                                          "account-set-topics", "account-set-capacity",
                                          "account-reset-password"};
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        const char *p[2] = {"zed", actions[i]};
        PGresult *a = db_query("SELECT count(*) FROM audit_log l JOIN accounts a ON a.id = l.account_id"
                               " WHERE a.handle = $1 AND l.action = $2", 2, p);
        assert_true(strtol(PQgetvalue(a, 0, 0), NULL, 10) >= 1);
        PQclear(a);
    }
    assert_int_equal(db_long("SELECT count(*) FROM audit_log WHERE detail LIKE '%' || $1 || '%'", pw), 0);

    /* lotsectl audit shows them; --since filters; a bad time is a usage error */
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "audit", "--handle", "zed", NULL), 0);
    assert_non_null(strstr(out, "account-set-capacity"));
    assert_non_null(strstr(out, "capacity=5"));
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "audit", "--since", "2000-01-01", "--limit", "3",
                             NULL),
                     0);
    int lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 4); /* header + 3 */
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "audit", "--since", "2999-01-01", NULL), 0);
    assert_null(strstr(out, "account-"));
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "audit", "--since", "not a time", NULL), 2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "audit", "--limit", "0", NULL), 2);
}

static void test_ctl_device_revoke_and_list(void **state)
{
    char org[128], dev[128], out[4096], pk[64];
    path_in_tmp(org, sizeof(org), "org-revoke.key");
    path_in_tmp(dev, sizeof(dev), "device-revoke.key");
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "orgkey-create", "--out", org, NULL), 0);
    assert_int_equal(run_ctl("a password here\n", out, sizeof(out), "account-add", "--handle", "rita",
                             "--role", "counsellor", "--password-stdin", "--pwhash-cost", "min", "--insecure-for-tests", NULL),
                     0);
    assert_int_equal(run_ctl(NULL, pk, sizeof(pk), "device-keygen", "--out", dev, NULL), 0);
    pk[strcspn(pk, "\n")] = '\0';
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "device-certify", "--handle", "rita", "--device",
                             pk, "--orgkey", org, NULL),
                     0);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "device-list", "--handle", "rita", NULL), 0);
    assert_non_null(strstr(out, pk));
    assert_non_null(strstr(out, "valid"));
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "device-revoke", "--device", pk, NULL), 0);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "device-list", NULL), 0);
    assert_non_null(strstr(out, "revoked"));
    assert_int_equal(db_long("SELECT count(*) FROM device_certs WHERE revoked_at IS NOT NULL"
                             " AND account_id = (SELECT id FROM accounts WHERE handle = $1)", "rita"), 1);
    assert_int_equal(db_long("SELECT count(*) FROM audit_log WHERE action = 'device-revoke'"
                             " AND detail = 'device=' || $1", pk), 1);
    /* twice, or an unknown key: operational error; a malformed key: usage error */
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "device-revoke", "--device", pk, NULL), 1);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "device-revoke", "--device", "short", NULL), 2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "device-revoke", NULL), 2);
}

static void test_ctl_stats_and_purge_options(void **state)
{
    char out[4096];
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "stats", NULL), 0);
    assert_non_null(strstr(out, "day"));
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "stats", "--hourly", "--days", "2", NULL), 0);
    assert_non_null(strstr(out, "topic"));
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "stats", "--days", "0", NULL), 2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "stats", "--timezone", "Nowhere/Never", NULL), 1);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "stats", "--config", "/nonexistent.conf", NULL), 2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "purge", "--dry-run", "--retention-days", "30",
                             NULL),
                     0);
    assert_non_null(strstr(out, "dry run"));
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "purge", "--retention-days", "0", NULL), 2);
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "purge", "extra", NULL), 2);
}

static void test_ctl_every_command_has_help(void **state)
{
    static const char *const cmds[] = {
        "migrate", "orgkey-create", "device-keygen", "account-add", "account-disable",
        "account-enable", "account-reset-password", "account-set-topics", "account-set-capacity",
        "account-list", "device-certify", "device-revoke", "device-list", "stats", "purge", "audit"};
    char out[4096];
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        assert_int_equal(run_ctl(NULL, out, sizeof(out), cmds[i], "--help", NULL), 0);
        assert_non_null(strstr(out, "usage: lotsectl"));
        assert_non_null(strstr(out, cmds[i]));
    }
    assert_int_equal(run_ctl(NULL, out, sizeof(out), "--help", NULL), 0);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        assert_non_null(strstr(out, cmds[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctl_migrate_is_idempotent_and_reports_the_version),
        cmocka_unit_test(test_ctl_orgkey_create_is_0600_and_refuses_to_overwrite),
        cmocka_unit_test(test_ctl_account_device_certificate_and_audit_flow),
        cmocka_unit_test(test_ctl_generated_password_is_printed_once_and_hashed),
        cmocka_unit_test(test_ctl_no_table_contains_a_password),
        cmocka_unit_test(test_ctl_pwhash_cost_min_needs_insecure_for_tests),
        cmocka_unit_test(test_ctl_usage_errors_exit_2_and_help_exits_0),
        cmocka_unit_test(test_ctl_account_lifecycle_commands_change_and_audit),
        cmocka_unit_test(test_ctl_device_revoke_and_list),
        cmocka_unit_test(test_ctl_stats_and_purge_options),
        cmocka_unit_test(test_ctl_every_command_has_help),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
