#include <sqlite3.h>

/* sqlite3_db_config is variadic, which Swift cannot call: one wrapper per use. */

/* SQLITE_DBCONFIG_DEFENSIVE: no writable_schema, no shadow-table writes, no
   journal_mode=OFF, no file-format tricks, whatever the SQL asks for. */
static inline int killdb_sqlite3_defensive(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)0);
}

/* Two-argument fts3_tokenizer() (a pointer from SQL) off, whatever the build enabled. */
static inline int killdb_sqlite3_no_fts3_tokenizer(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, (int *)0);
}

/* No extension loading from SQL, no triggers or views from the schema running code the
   query did not ask for beyond reading. */
static inline int killdb_sqlite3_no_load_extension(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)0);
}

static inline int killdb_sqlite3_untrusted_schema(sqlite3 *db) {
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
    return sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)0);
#else
    return 0;
#endif
}
