/* ctl_db.c — lotsectl's database helpers: connect, run, audit, and migrate. */
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "migrations.h"

void ctl_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lotsectl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

PGconn *ctl_db_connect(const char *conninfo)
{
    PGconn *db = PQconnectdb(conninfo);
    if (PQstatus(db) != CONNECTION_OK) {
        const char *msg = db ? PQerrorMessage(db) : "out of memory\n";
        fprintf(stderr, "lotsectl: cannot connect to the database: %s", msg);
        PQfinish(db);
        return NULL;
    }
    /* Quiet NOTICEs such as "relation already exists, skipping". */
    PGresult *r = PQexec(db, "SET client_min_messages = warning");
    PQclear(r);
    return db;
}

static void print_db_error(const PGresult *r)
{
    const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    ctl_error("database error: %s", primary ? primary : "unknown (connection lost?)");
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && strcmp(state, "42P01") == 0)
        fprintf(stderr, "lotsectl: hint: run 'lotsectl migrate' first\n");
}

int ctl_db_exec(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc < 0)
        print_db_error(r);
    PQclear(r);
    return rc;
}

PGresult *ctl_db_query(PGconn *db, const char *sql, int n, const char *const *values,
                       const int *lengths, const int *formats, ExecStatusType expect,
                       char *sqlstate)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, values, lengths, formats, 0);
    if (PQresultStatus(r) == expect)
        return r;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (sqlstate) {
        snprintf(sqlstate, 6, "%s", state ? state : "");
        /* the caller explains the expected failures itself */
        if (state && (strcmp(state, "23505") == 0))
            goto out;
    }
    print_db_error(r);
out:
    PQclear(r);
    return NULL;
}

/* The OS user running lotsectl (getpwuid(geteuid())), for audit rows. */
static const char *actor(void)
{
    static char name[64];
    struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name)
        snprintf(name, sizeof(name), "%s", pw->pw_name);
    else
        snprintf(name, sizeof(name), "uid:%ld", (long)geteuid());
    return name;
}

/* Inserts an audit_log row in the caller's transaction; 0 or -1 (printed). */
static int audit(PGconn *db, const char *action, const char *account_id, const char *detail)
{
    const char *values[4] = {actor(), action, account_id, detail ? detail : ""};
    PGresult *r = ctl_db_query(db,
                               "INSERT INTO audit_log (actor, action, account_id, detail)"
                               " VALUES ($1, $2, $3::integer, $4)",
                               4, values, NULL, NULL, PGRES_COMMAND_OK, NULL);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

/* Ends a failed transaction. Quietly: the failure is printed already, and where
 * none is open (a failed COMMIT ends it) a ROLLBACK would only add a warning. */
static void rollback(PGconn *db)
{
    PGTransactionStatusType status = PQtransactionStatus(db);
    if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR)
        PQclear(PQexec(db, "ROLLBACK"));
}

int ctl_db_commit_audited(PGconn *db, const char *action, const char *account_id,
                          const char *detail)
{
    if (audit(db, action, account_id, detail) < 0 || ctl_db_exec(db, "COMMIT") < 0) {
        rollback(db);
        return -1;
    }
    return 0;
}

int ctl_db_change(PGconn *db, const struct ctl_change *c, char *id, char *sqlstate)
{
    if (ctl_db_exec(db, "BEGIN") < 0)
        return -1;
    PGresult *r = ctl_db_query(db, c->sql, c->n, c->values, c->lengths, c->formats, PGRES_TUPLES_OK,
                               sqlstate);
    if (!r) {
        rollback(db);
        return -1;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        rollback(db);
        return 1;
    }
    char account_id[CTL_ID_BYTES], detail[CTL_ID_BYTES + 3];
    snprintf(account_id, sizeof(account_id), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    snprintf(detail, sizeof(detail), "id=%s", account_id);
    if (ctl_db_commit_audited(db, c->action, c->not_account ? NULL : account_id,
                              c->detail || !c->not_account ? c->detail : detail) < 0)
        return -1;
    if (id)
        memcpy(id, account_id, sizeof(account_id));
    return 0;
}

static const char migrate_help[] =
    "usage: lotsectl [--db CONNINFO] migrate\n"
    "Applies every migration the database does not have yet, each in one\n"
    "transaction. Safe to run twice and next to a running lotsed.\n";

int ctl_cmd_migrate(const char *conninfo, int argc, char **argv)
{
    const struct ctl_opt opts[] = {{0}};
    int rc;
    if (!ctl_options(argc, argv, opts, migrate_help, "takes no arguments", &rc))
        return rc;
    PGconn *db = ctl_db_connect(conninfo);
    if (!db)
        return CTL_FAIL;
    int applied = migrations_apply(db);
    int version = applied >= 0 ? migrations_current(db) : -1;
    PQfinish(db);
    if (applied < 0 || version < 0) {
        ctl_error("migration failed; the schema is unchanged since the last applied migration");
        return CTL_FAIL;
    }
    printf("schema at version %d (applied %d)\n", version, applied);
    return CTL_OK;
}
