/* migrate.c — applies the compiled-in SQL migrations (blocking libpq).
 *
 * Each migration runs in its own transaction together with its
 * schema_migrations row, so a failed migration leaves nothing half-applied. A
 * transaction-scoped advisory lock serialises concurrent migrators (two lotsed
 * starting at once, or lotsectl next to lotsed): the second waits, then sees the
 * version already recorded and skips it. */
#include "migrations.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <libpq-fe.h>

#include "log.h"

/* Any constant shared by every lotse migrator; "lotse" in ASCII. */
#define MIGRATE_LOCK_KEY "465726370661"

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/* Runs a parameter-free statement of our own; returns 0 or -1 (logged). */
static int exec_simple(PGconn *db, const char *sql, const char *what)
{
    PGresult *r = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        log_error("migrate: %s failed: %s", what, PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

static void rollback(PGconn *db)
{
    PGresult *r = PQexec(db, "ROLLBACK");
    PQclear(r);
}

/* 1 if version is recorded, 0 if not, -1 on error. */
static int version_applied(PGconn *db, int version)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", version);
    const char *params[1] = {v};
    PGresult *r = PQexecParams(db, "SELECT 1 FROM schema_migrations WHERE version = $1::integer", 1,
                               NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_error("migrate: reading schema_migrations failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    int found = PQntuples(r) > 0;
    PQclear(r);
    return found;
}

/* Applies one migration unless already there; 1 applied, 0 skipped, -1 error. */
static int apply_one(PGconn *db, const struct migration *m)
{
    if (exec_simple(db, "BEGIN", "BEGIN") < 0)
        return -1;
    if (exec_simple(db, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", "advisory lock") < 0 ||
        exec_simple(db, create_table_sql, "creating schema_migrations") < 0)
        goto fail;
    int applied = version_applied(db, m->version);
    if (applied < 0)
        goto fail;
    if (applied) {
        rollback(db);
        return 0;
    }
    /* PQexec, not PQexecParams: a migration file holds several statements, and
     * its text is compiled into the binary, never user data. */
    PGresult *r = PQexec(db, m->sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_error("migrate: migration %d (%s) failed: %s", m->version, m->name,
                  PQresultErrorMessage(r));
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    char v[16];
    snprintf(v, sizeof(v), "%d", m->version);
    const char *params[2] = {v, m->name};
    r = PQexecParams(db, "INSERT INTO schema_migrations (version, name) VALUES ($1::integer, $2)", 2,
                     NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        log_error("migrate: recording migration %d failed: %s", m->version,
                  PQresultErrorMessage(r));
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    if (exec_simple(db, "COMMIT", "COMMIT") < 0)
        return -1;
    log_info("migrate: applied migration %d (%s)", m->version, m->name);
    return 1;
fail:
    rollback(db);
    return -1;
}

int migrations_apply(PGconn *db)
{
    if (!db || PQstatus(db) != CONNECTION_OK) {
        log_error("migrate: no database connection");
        return -1;
    }
    int applied = 0;
    for (int i = 0; i < migrations_count; i++) {
        int rc = apply_one(db, &migrations[i]);
        if (rc < 0)
            return -1;
        applied += rc;
    }
    return applied;
}

int migrations_current(PGconn *db)
{
    if (!db || PQstatus(db) != CONNECTION_OK)
        return -1;
    /* to_regclass first: an empty database has no schema_migrations yet, and
     * that is version 0, not an error. */
    PGresult *r = PQexec(db, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        log_error("migrate: reading the schema version failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    bool exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!exists)
        return 0;
    r = PQexec(db, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        log_error("migrate: reading the schema version failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    int v = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}
