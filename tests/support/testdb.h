/* testdb.h — a fresh database per test on the shared test cluster (pg.sh). */
#ifndef LOTSE_TESTDB_H
#define LOTSE_TESTDB_H

#include <stddef.h>

/* Creates an empty database "<prefix>_<pid>_<n>" on the cluster named by the file
 * in $LOTSE_TEST_PG_FILE and writes its conninfo to conninfo (cap bytes). Returns
 * 0, or prints why to stderr and returns a negative errno. */
int testdb_create(char *conninfo, size_t cap, const char *prefix);

/* Drops the database of conninfo (WITH (FORCE): open connections are ended). */
void testdb_drop(const char *conninfo);

/* The cluster's own conninfo (dbname=postgres) into out; 0 or negative errno. */
int testdb_base(char *out, size_t cap);

#endif
