/* ctl.h — lotsectl internals shared between its files: commands, database and
 * key-file helpers. Blocking libpq is fine here: lotsectl is a one-shot CLI. */
#ifndef LOTSE_CTL_H
#define LOTSE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

/* Exit codes. */
#define CTL_OK    0
#define CTL_FAIL  1 /* operational: database, not found, file exists */
#define CTL_USAGE 2 /* bad command line */

#define CTL_SK_BYTES 64 /* Ed25519 secret key (seed || public key) */
#define CTL_PK_BYTES 32

/* A command: argv[0] is the command name. Returns an exit code. */
typedef int (*ctl_cmd_fn)(const char *conninfo, int argc, char **argv);

int ctl_cmd_migrate(const char *conninfo, int argc, char **argv);
int ctl_cmd_orgkey_create(const char *conninfo, int argc, char **argv);
int ctl_cmd_device_keygen(const char *conninfo, int argc, char **argv);
int ctl_cmd_account_add(const char *conninfo, int argc, char **argv);
int ctl_cmd_account_disable(const char *conninfo, int argc, char **argv);
int ctl_cmd_account_list(const char *conninfo, int argc, char **argv);
int ctl_cmd_device_certify(const char *conninfo, int argc, char **argv);
int ctl_cmd_account_enable(const char *conninfo, int argc, char **argv);
int ctl_cmd_account_reset_password(const char *conninfo, int argc, char **argv);
int ctl_cmd_account_set_topics(const char *conninfo, int argc, char **argv);
int ctl_cmd_account_set_capacity(const char *conninfo, int argc, char **argv);
int ctl_cmd_device_revoke(const char *conninfo, int argc, char **argv);
int ctl_cmd_device_list(const char *conninfo, int argc, char **argv);
int ctl_cmd_stats(const char *conninfo, int argc, char **argv);
int ctl_cmd_purge(const char *conninfo, int argc, char **argv);
int ctl_cmd_audit(const char *conninfo, int argc, char **argv);
int ctl_cmd_template_add(const char *conninfo, int argc, char **argv);
int ctl_cmd_template_remove(const char *conninfo, int argc, char **argv);
int ctl_cmd_template_list(const char *conninfo, int argc, char **argv);
int ctl_cmd_org(const char *conninfo, int argc, char **argv);
int ctl_cmd_account_set_org(const char *conninfo, int argc, char **argv);
int ctl_cmd_account_set_languages(const char *conninfo, int argc, char **argv);
/* --org SLUG and --languages de,tr of the account commands (NULL: not given);
 * CTL_OK, or CTL_USAGE with the rule printed (ctl_orgs.c). */
int ctl_org_check_account_opts(const char *org, const char *languages);

/* ---- options ----
 * A command's command line is one table of options, read by ctl_options with
 * getopt_long: --help (-h) is added, values are checked as they come, and what
 * is left over or missing is the command's misuse line. */

enum ctl_opt_kind {
    CTL_OPT_FLAG, /* no value; out is a bool *, set to true */
    CTL_OPT_TEXT, /* out is a const char **, set to the value (argv's) */
    CTL_OPT_LONG, /* out is a long *, set to a whole number in [lo, hi] */
};

struct ctl_opt {
    const char *name; /* the long name without "--"; NULL ends the table */
    char letter;      /* the short form (-x), or 0 for none */
    enum ctl_opt_kind kind;
    void *out;
    bool required;
    long lo, hi; /* CTL_OPT_LONG only */
};

/* Rows of a table: an optional text, a required one, a flag, a number in
 * [lo, hi]; {0} ends the table. */
#define CTL_TEXT(name, letter, out)                                                                \
    {                                                                                              \
        (name), (letter), CTL_OPT_TEXT, (out), false, 0, 0                                         \
    }
#define CTL_NEEDED(name, letter, out)                                                              \
    {                                                                                              \
        (name), (letter), CTL_OPT_TEXT, (out), true, 0, 0                                          \
    }
#define CTL_FLAG(name, letter, out)                                                                \
    {                                                                                              \
        (name), (letter), CTL_OPT_FLAG, (out), false, 0, 0                                         \
    }
#define CTL_LONG(name, letter, out, lo, hi)                                                        \
    {                                                                                              \
        (name), (letter), CTL_OPT_LONG, (out), false, (lo), (hi)                                   \
    }

/* Reads argv (argv[0] is the command name) by the table opts. Returns true when
 * the command goes on; otherwise false with *rc its exit code: CTL_OK after
 * printing help for --help, CTL_USAGE after a bad option or value (printed), or
 * when an argument is left over or a required option is missing, after
 * printing "lotsectl: <command> <misuse>". */
bool ctl_options(int argc, char **argv, const struct ctl_opt *opts, const char *help,
                 const char *misuse, int *rc);

/* A whole number in [lo, hi] from text, for option --name; 0, or -1 after
 * printing "--name must be lo..hi". */
int ctl_parse_long(const char *name, const char *text, long lo, long hi, long *out);

/* Prints "lotsectl: <message>" on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Connects, or prints why and returns NULL. The caller PQfinish()es it. */
PGconn *ctl_db_connect(const char *conninfo);

/* Runs a parameter-free statement of ours (BEGIN, COMMIT, ROLLBACK); 0 or -1. */
int ctl_db_exec(PGconn *db, const char *sql);

/* Runs a parameterised statement; returns the result when its status is expect,
 * else prints the primary error message (never the DETAIL, which can quote a
 * row) and returns NULL, copying the SQLSTATE into sqlstate[6] if given; with
 * sqlstate given, a unique violation (23505) is left to the caller to explain. */
PGresult *ctl_db_query(PGconn *db, const char *sql, int n, const char *const *values,
                       const int *lengths, const int *formats, ExecStatusType expect,
                       char *sqlstate);

/* ---- audited changes ----
 * Every change lotsectl makes is one transaction together with its audit_log
 * row (actor = the OS user); a failure leaves neither. */

#define CTL_ID_BYTES 16 /* a row id as text, with its NUL */

/* A change made by one statement that returns the id of the account it
 * touched (RETURNING id). values, lengths and formats are as for PQexecParams
 * (lengths and formats NULL for text). detail goes into the audit row as it is:
 * never a secret. */
struct ctl_change {
    const char *sql;
    int n;
    const char *const *values;
    const int *lengths;
    const int *formats;
    const char *action;
    const char *detail;
    /* the row is not an account's (an organisation, a template): the audit row
     * names no account, and its detail is "id=N" when detail is NULL */
    bool not_account;
};

/* Runs BEGIN, c->sql, the audit row and COMMIT, rolling back on any failure,
 * and copies the account id into id[CTL_ID_BYTES] unless id is NULL. Returns 0;
 * 1 when the statement touched no row (nothing printed: the caller says what is
 * missing); -1 on a database error, printed unless sqlstate is given and it is
 * a unique violation (see ctl_db_query; sqlstate may be NULL). */
int ctl_db_change(PGconn *db, const struct ctl_change *c, char *id, char *sqlstate);

/* Inserts the audit row (account_id may be NULL) and commits the caller's
 * transaction; on failure rolls it back. Returns 0 or -1 (printed). */
int ctl_db_commit_audited(PGconn *db, const char *action, const char *account_id,
                          const char *detail);

/* Reads a secret key file into sodium_malloc'd memory (*sk, 64 bytes); the
 * caller releases it with sodium_free (which wipes). Returns 0 or -1 (printed). */
int ctl_key_read_secret(const char *path, uint8_t **sk);

/* Decodes a base64url public key (32 bytes); 0 or -1. */
int ctl_key_parse_public(const char *text, uint8_t pk[CTL_PK_BYTES]);

#endif
