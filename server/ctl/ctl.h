/* ctl.h — lotsectl internals shared between its files: commands, database and
 * key-file helpers. Blocking libpq is fine here: lotsectl is a one-shot CLI. */
#ifndef LOTSE_CTL_H
#define LOTSE_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

/* Exit codes. */
#define CTL_OK 0
#define CTL_FAIL 1  /* operational: database, not found, file exists */
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
