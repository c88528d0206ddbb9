/* db/migrations.h — the schema of the results database and how it is brought
 * up to date (private to db/: only db/store.c and tests/test_store.c use it).
 *
 * The schema is an ordered list of SQL scripts; migration k (1-based) turns a
 * database at PRAGMA user_version k-1 into one at k.  Migration 1 creates the
 * initial schema.  A released migration is never edited: a change to the
 * schema is a new script appended to the list.
 *
 * Never: no data rows here (only DDL), no printing. */
#ifndef CTXBENCH_DB_MIGRATIONS_H
#define CTXBENCH_DB_MIGRATIONS_H

#include <sqlite3.h>

#include "util/error.h"

/* The number of migrations, i.e. the schema version this build writes. */
int store_migrations_count(void);

/* Reads PRAGMA user_version into *version.  Returns an SQLite result code
 * (SQLITE_OK on success; SQLITE_NOTADB for a file that is not a database). */
int store_migrations_version(sqlite3 *db, int *version);

/* Applies every migration the database lacks, each inside its own
 * BEGIN IMMEDIATE .. COMMIT together with its user_version bump, re-reading
 * the version under the write lock so that two processes opening a fresh
 * database at once apply each migration exactly once.  Sets *applied (may be
 * NULL) to the number applied here.  Returns 0, or -1 with err naming path:
 * a database newer than this build is refused and left untouched, and a
 * failing migration is rolled back (the database stays at the previous
 * version). */
int store_migrate(sqlite3 *db, const char *path, int *applied, cb_err *err);

#endif
