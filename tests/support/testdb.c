/* testdb.c — creates and drops one throwaway database per test.
 *
 * CREATE DATABASE takes no parameters, so the name is built here from a
 * sanitised prefix, the pid and a counter: lower-case letters, digits and '_'
 * only, and quoted with PQescapeIdentifier on top. */
#include "testdb.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libpq-fe.h>

#define TESTDB_MAX_NAME 48

static atomic_uint counter;

int testdb_base(char *out, size_t cap)
{
    const char *path = getenv("LOTSE_TEST_PG_FILE");
    if (!path || !*path) {
        fprintf(stderr, "testdb: LOTSE_TEST_PG_FILE is not set (run through ctest, which "
                        "starts the cluster with tests/support/pg.sh)\n");
        return -EINVAL;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "testdb: cannot read %s: %s\n", path, strerror(errno));
        return -ENOENT;
    }
    if (!fgets(out, (int)cap, f)) {
        fprintf(stderr, "testdb: %s is empty\n", path);
        fclose(f);
        return -EINVAL;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

/* Runs one parameter-free statement on the cluster's maintenance database. */
static int exec_on_base(const char *sql)
{
    char base[512];
    int rc = testdb_base(base, sizeof(base));
    if (rc < 0)
        return rc;
    PGconn *db = PQconnectdb(base);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "testdb: cannot connect to the test cluster: %s", PQerrorMessage(db));
        PQfinish(db);
        return -ENOTCONN;
    }
    PGresult *r = PQexec(db, sql);
    rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "testdb: %s: %s", sql, PQresultErrorMessage(r));
        rc = -EIO;
    }
    PQclear(r);
    PQfinish(db);
    return rc;
}

int testdb_create(char *conninfo, size_t cap, const char *prefix)
{
    char base[512];
    int rc = testdb_base(base, sizeof(base));
    if (rc < 0)
        return rc;
    char name[TESTDB_MAX_NAME];
    size_t n = 0;
    const char *p = prefix ? prefix : "";
    if (!isalpha((unsigned char)*p))
        name[n++] = 't'; /* an identifier starts with a letter */
    for (; *p && n < 24; p++) {
        unsigned char c = (unsigned char)*p;
        name[n++] = isalnum(c) ? (char)tolower(c) : '_';
    }
    snprintf(name + n, sizeof(name) - n, "_%ld_%u", (long)getpid(), atomic_fetch_add(&counter, 1));

    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", name);
    rc = exec_on_base(sql);
    if (rc < 0)
        return rc;
    /* A later dbname overrides the earlier one in a conninfo string. */
    if ((size_t)snprintf(conninfo, cap, "%s dbname=%s", base, name) >= cap) {
        fprintf(stderr, "testdb: conninfo buffer too small\n");
        testdb_drop(conninfo);
        return -ENOSPC;
    }
    return 0;
}

void testdb_drop(const char *conninfo)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (!opts) {
        fprintf(stderr, "testdb: bad conninfo: %s\n", err ? err : "?");
        PQfreemem(err);
        return;
    }
    const char *name = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "dbname") == 0)
            name = o->val;
    /* Only names testdb_create made: never drop anything else by accident. */
    int ok = name && *name && strcmp(name, "postgres") != 0 && strlen(name) < TESTDB_MAX_NAME;
    for (const char *p = name; ok && *p; p++)
        ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_';
    if (ok) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
        exec_on_base(sql);
    } else {
        fprintf(stderr, "testdb: refusing to drop a database testdb did not create\n");
    }
    PQconninfoFree(opts);
}
