/* harness.h — runs the real lotsed for one integration test.
 *
 * harness_create makes a fresh database on the shared throwaway cluster
 * (testdb.h), migrates it and creates an organisation key and the default
 * accounts with lotsectl, in a fresh directory. The test may change settings
 * and add accounts, then harness_start writes lotsed.conf and starts lotsed on a
 * free port of 127.0.0.1 (killed if the test process dies) and waits for
 * /healthz. harness_stop sends SIGTERM and returns the exit status, which a test
 * asserts is 0 (under ASan a leak makes it non-zero). harness_destroy stops a
 * server still running, drops the database and removes the directory unless the
 * test did not call harness_pass (then the directory is kept and printed).
 *
 * For cmocka: harness_setup / harness_teardown create and destroy one harness
 * per test in *state. */
#ifndef LOTSE_TEST_HARNESS_H
#define LOTSE_TEST_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>

#define HARNESS_MAX_ACCOUNTS 16
#define HARNESS_MAX_SETTINGS 48
#define HARNESS_HOST         "127.0.0.1"

struct harness_account {
    char handle[65];
    char password[65];
    char role[16];
    char device_file[PATH_MAX]; /* "" when the account has no device key */
    uint8_t device_pk[32];
    int64_t id;
};

struct harness_setting {
    char key[48];
    char value[1024];
};

struct harness {
    char dir[256];
    char conninfo[1024];
    char conf_path[PATH_MAX];
    char log_path[PATH_MAX];
    char org_key_path[PATH_MAX];
    uint8_t org_pk[32];
    char org_pk_b64[64];
    uint8_t org_sk[64]; /* valid when have_org_sk: the key file's secret key */
    bool have_org_sk;
    int port;
    char url[64];
    pid_t pid; /* 0 when not running */
    bool passed;
    struct harness_account acc[HARNESS_MAX_ACCOUNTS];
    int naccounts;
    struct harness_setting set[HARNESS_MAX_SETTINGS];
    int nsettings;
    bool borrowed_db; /* a peer (harness_create_peer): the database is its origin's */
};

/* Makes directory, database, org key, default accounts (anna, ben, sue) and the
 * default settings. Returns 0 or -errno (details on stderr). */
int harness_create(struct harness **out);
/* Stops lotsed if running, drops the database, removes the directory unless the
 * test did not pass, frees h. */
void harness_destroy(struct harness *h);
/* A second lotsed on h's database (several nodes, PROTOCOL.md §5.4): a
 * directory, log and port of its own, h's settings and accounts (set node_name
 * on each). Destroy it before h: it leaves the database to h. 0 or <0. */
int harness_create_peer(struct harness *h, struct harness **out);
/* Marks the test as passed: the directory can go. */
void harness_pass(struct harness *h);

/* cmocka group helpers: *state is a struct harness *. */
int harness_setup(void **state);
int harness_teardown(void **state);

/* Sets (replaces) one lotsed.conf setting before harness_start. */
void harness_set(struct harness *h, const char *key, const char *value);

/* Runs lotsectl with the given NULL-terminated arguments (after "--db CONNINFO"
 * when with_db), feeding stdin_data (may be NULL). Stdout goes to out (may be
 * NULL); stderr is appended to DIR/lotsectl.err. Returns the exit status (0 ok)
 * or -errno. */
int harness_ctl(struct harness *h, bool with_db, const char *stdin_data, char *out, size_t cap,
                const char *const *args);

/* Adds an account with lotsectl; for counsellors with certify a device key is
 * made and certified. role: "counsellor" or "supervisor"; topics "a,b".
 * Returns 0 or <0. */
int harness_add_account(struct harness *h, const char *handle, const char *role, const char *name,
                        const char *topics, int capacity, bool certify);
/* The account by handle, or NULL. */
struct harness_account *harness_account(struct harness *h, const char *handle);

/* Writes lotsed.conf and starts lotsed; waits at most 10 s for GET /healthz 200.
 * Returns 0 or <0 (the log is printed). */
int harness_start(struct harness *h);
/* SIGTERM, wait at most 10 s. Returns the exit status (128 + signal when killed
 * by one), -ETIMEDOUT (then it was SIGKILLed). Prints the log tail if non-zero. */
int harness_stop(struct harness *h);
/* Waits at most timeout_ms for lotsed to exit by itself (after a SIGTERM the
 * test sent). Returns the exit status as harness_stop does, or -ETIMEDOUT (it is
 * still running then). */
int harness_wait_exit(struct harness *h, int timeout_ms);
/* VmRSS of the running server in KiB, or <0. */
long harness_rss_kib(struct harness *h);
pid_t harness_pid(const struct harness *h);
const char *harness_db_conninfo(const struct harness *h);
/* "ws://127.0.0.1:PORT/ws" */
const char *harness_url(struct harness *h);
/* GET path on the server; returns the HTTP status or <0. */
int harness_http_status(struct harness *h, const char *path);

/* The whole log so far (malloc'd, NUL-terminated; free it), or NULL. */
char *harness_log_read(struct harness *h);
/* Number of log lines containing needle. */
int harness_log_count(struct harness *h, const char *needle);
/* Waits until the log has a line containing needle; 0 or -ETIMEDOUT. */
int harness_log_wait(struct harness *h, const char *needle, int timeout_ms);

/* Counts occurrences of needle in every readable mapping of the running
 * server's memory (/proc/PID/mem). Returns the count or -errno. */
long harness_scan_memory(struct harness *h, const void *needle, size_t len);

/* Counts rows, over every text-like and bytea column of every table in the
 * database, whose value contains needle (bytes; bytea compared as bytes).
 * Matches are described on stderr. Returns the count or <0. */
long harness_db_scan_substring(struct harness *h, const void *needle, size_t len);
/* Same with a PostgreSQL regular expression over text-like columns. */
long harness_db_scan_regex(struct harness *h, const char *regex);
/* Regular expressions for harness_db_scan_regex and log checks. */
extern const char *const HARNESS_RE_IPV4;
extern const char *const HARNESS_RE_IPV6;

/* Runs sql on the test database (blocking libpq) and returns the result; the
 * caller PQclear()s it. NULL on connection failure. */
PGresult *harness_exec(struct harness *h, const char *sql);
/* The first column of the first row as a long, or LONG_MIN on error or no row. */
long harness_sql_long(struct harness *h, const char *sql);
/* Polls count_sql (a SELECT count(*)) until it reaches at least want. Returns the
 * last count (may be below want after timeout_ms). */
long harness_wait_count(struct harness *h, const char *count_sql, long want, int timeout_ms);

/* ---- clients on the running server (client.h) ---------------------------------- */

struct client;
struct client_session;
/* Connects a young person and says hello for topic; 0 on welcome. */
int harness_young(struct harness *h, const char *topic, struct client **out);
/* Connects as staff without logging in, with the device key of device_handle's
 * account loaded when it has one (NULL: no device). NULL when that fails; the
 * caller frees the client. */
struct client *harness_staff(struct harness *h, const char *device_handle);
/* Registers a mail key for handle's certified device straight in the database,
 * as the device would with mail_key (the statement signed by the device key);
 * the secret half goes to mail_sk. Needs the running server. 0 or <0. */
int harness_add_mail_key(struct harness *h, const char *handle, uint8_t mail_pk[32],
                         uint8_t mail_sk[32]);
/* One login on a fresh staff connection without a device: client_login's
 * result, with the error code (empty when none) copied to code. */
int harness_try_login(struct harness *h, const char *handle, const char *password, char code[48]);
/* Connects, loads the account's device key (if any), logs in and, for
 * counsellors, reports available with the account's full capacity. */
int harness_counsellor(struct harness *h, const char *handle, struct client **out);
/* A young person on topic taken by a logged-in counsellor; keys exchanged and
 * verified on both sides. *cs is the counsellor's side of the session. */
int harness_pair(struct harness *h, struct client *counsellor, const char *topic,
                 struct client **young, struct client_session **cs);

/* Sleeps ms milliseconds. */
void harness_sleep_ms(int ms);

/* ---- the shared PostgreSQL cluster (outage tests) ------------------------------ */

/* Stops the shared test cluster (pg_ctl -m fast, as pg.sh would): every open
 * connection ends. A guard process restarts it if this test process dies before
 * harness_pg_start; harness_destroy restarts it too. 0 or <0. */
int harness_pg_stop(void);
/* Starts the shared cluster again with pg.sh's options and waits until it takes
 * connections. 0 or <0. */
int harness_pg_start(void);
/* True while harness_pg_stop has stopped the cluster. */
bool harness_pg_stopped(void);

/* ---- supervision, metrics, statistics (issue 3/5) ------------------------------- */

/* A free TCP port on 127.0.0.1 (for a second listener such as metrics_listen_port). */
int harness_free_port(void);
/* GET path on 127.0.0.1:port (0: the server's main port), with
 * "Authorization: Bearer <bearer>" unless bearer is NULL. Fills *status and the
 * body (NUL-terminated, at most cap - 1 bytes). Returns 0 or <0. */
int harness_http_get_auth(struct harness *h, int port, const char *path, const char *bearer,
                          int *status, char *body, size_t cap);
/* Waits for the next control message of type t that c receives and returns its
 * raw text (malloc'd; free it), or NULL after timeout_ms. Messages the harness
 * cannot parse flat (feed, nested objects) are read this way. */
char *harness_next_raw(struct client *c, const char *t, int timeout_ms);
/* The integer value of "key" in text (the server's compact JSON), searched
 * from the first anchor on (NULL: from the start); LLONG_MIN when absent. */
long long harness_json_int(const char *text, const char *anchor, const char *key);
/* Waits for the `stats_token` the supervisor connection sup gets after login
 * and copies its token (base64url, NUL-terminated) to out. 0 or <0. */
int harness_stats_token(struct client *sup, char *out, size_t cap);

#endif
