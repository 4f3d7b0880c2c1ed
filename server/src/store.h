/* store.h — PostgreSQL from the service thread, never blocking it.
 *
 * One libpq connection in non-blocking pipeline mode; its socket (a dup() of
 * PQsocket) is adopted into the libwebsockets loop, so results arrive as RAW file
 * callbacks. Requests wait in a bounded FIFO. When the database is unreachable,
 * look-ups fail at once with -ENOTCONN and writes stay queued (bounded; what
 * falls off is counted) until a reconnect, which runs on a worker thread and is
 * retried with back-off. Nothing here ever carries content, ciphertext, an
 * address, a token or a key in clear. */
#ifndef LOTSE_STORE_H
#define LOTSE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lotse/crypto.h"

struct lws_context;
struct lws_vhost;
struct lws_protocols;
struct workers;
struct store;

#define STORE_ROLE_COUNSELLOR 1
#define STORE_ROLE_SUPERVISOR 2
#define STORE_ROLE_COORDINATOR 3 /* a supervisor of every organisation */
#define STORE_MAX_HANDLE 64
#define STORE_MAX_TOPICS 16
#define STORE_MAX_TOPIC_LEN 32
#define STORE_PWHASH_MAX 128

/* An account as login needs it. */
struct store_account {
    int64_t id;
    char handle[STORE_MAX_HANDLE + 1];
    char display_name[STORE_MAX_HANDLE + 1];
    int role; /* STORE_ROLE_* */
    char pw_hash[STORE_PWHASH_MAX + 1]; /* Argon2id string, crypto_pwhash_str format */
    int topic_count;
    char topics[STORE_MAX_TOPICS][STORE_MAX_TOPIC_LEN + 1];
    int capacity;
    bool disabled;
    bool has_cert; /* a valid, unrevoked certificate for the device asked for */
    uint8_t cert[LOTSE_CERT_BYTES];
    /* the account's organisation (store_account_org, after the look-up): its
     * network certificate (PROTOCOL.md §6; length 0 when it has none) and
     * whether it is revoked */
    bool org_revoked;
    uint8_t orgcert_len;
    uint8_t orgcert[LOTSE_ORGCERT_MAX_BYTES];
    int org_id;          /* the organisation the account belongs to */
    char org_name[321];  /* its name (up to 80 characters of UTF-8) */
    uint8_t languages;   /* bit i = enum org_lang i (orgs.h) */
};

/* One session, as stored (DESIGN.md "What is stored"). The row is inserted
 * when the session starts (end_reason ""), updated when a counsellor takes it,
 * and completed when it ends; id ties the three writes together. */
#define STORE_ROW_ID_LEN 36
struct store_session_row {
    char id[STORE_ROW_ID_LEN + 1]; /* random uuid (store_row_id), unrelated to the wire */
    char topic[STORE_MAX_TOPIC_LEN + 1];
    time_t started;         /* already rounded down to the configured bucket */
    int32_t wait_seconds;   /* enqueue to pickup, or to leaving when abandoned */
    int32_t duration_seconds; /* pickup to end; 0 when abandoned */
    int64_t counsellor_id;  /* 0 when nobody took it */
    bool taken;             /* a counsellor took it (at some point) */
    char end_reason[32];    /* "ended_by_young", ..., "abandoned"; "" while it runs */
    int32_t transfer_count;
    bool escalated;         /* a counsellor escalated it to a supervisor */
    int32_t org_id;         /* the organisation (orgs_row_org); 0: none (NULL) */
};

struct store_stats {
    uint64_t writes_queued;  /* total writes accepted */
    uint64_t writes_done;    /* total writes committed */
    uint64_t writes_dropped; /* fell off the bounded queue */
    uint64_t errors;         /* query or connection errors */
    size_t depth;            /* requests waiting or in flight now */
    bool up;                 /* connected now */
};

/* Status codes for callbacks: 0 found, -ENOENT no such account, -ENOTCONN
 * database unreachable, -EIO query failed. */
typedef void (*store_account_cb)(void *arg, int status, const struct store_account *acct);

/* The protocol entry the vhost must list (name "lotse-store") so the adopted
 * socket's callbacks reach the store. */
extern const struct lws_protocols store_lws_protocol;

/* Creates the store and starts connecting (on a worker). max_queued bounds the
 * FIFO. The first write queued closes, as 'crashed', every row a previous run
 * left open (one lotsed per database). Returns 0 or -errno. The vhost must list
 * store_lws_protocol. */
int store_create(struct store **out, struct lws_vhost *vh, struct workers *w,
                 const char *conninfo, size_t max_queued);

/* Closes the connection; pending look-ups get -ECANCELED; unsent writes are
 * counted as dropped. NULL is ignored. */
void store_destroy(struct store *s);

/* Tries to send every queued write within timeout_ms, blocking (shutdown only).
 * Returns the number still unsent. */
size_t store_flush_blocking(struct store *s, int timeout_ms);

/* Looks up an active account by handle, and the certificate of device_pk (may be
 * NULL) if that device is certified for it. cb runs later on the service thread,
 * exactly once (also on failure). Returns 0 or -EAGAIN (queue full). */
int store_account_lookup(struct store *s, const char *handle, const uint8_t *device_pk,
                         store_account_cb cb, void *arg);

/* A fresh random row id (a version 4 uuid in text form). */
void store_row_id(char out[STORE_ROW_ID_LEN + 1]);

/* Queue the writes of one session's row: the insert at its start (topic and
 * start bucket, end_reason NULL), the update when a counsellor takes it (wait,
 * counsellor, taken) and the final write at its end (every field; an insert
 * if the start row never arrived). Writes wait through a database outage in a
 * bounded FIFO, in order. Each returns 0, or -EAGAIN when the queue was full
 * and the oldest queued write was dropped to make room. */
int store_session_started(struct store *s, const struct store_session_row *row);
int store_session_taken(struct store *s, const struct store_session_row *row);
int store_session_ended(struct store *s, const struct store_session_row *row);

/* Counters for metrics and logs. */
void store_get_stats(const struct store *s, struct store_stats *out);

/* ---- supervision, statistics and retention ----
 *
 * These are look-ups: while the database is unreachable they fail (callback
 * with -ENOTCONN) instead of waiting, and the caller tries again later. cb runs
 * later on the service thread, exactly once; res is valid only during the
 * callback and is NULL unless status is 0. cb may be NULL (fire and forget:
 * failures are still counted and logged). Each returns 0 or -EAGAIN / -ENOMEM. */

struct pg_result; /* libpq's PGresult, read with store_result_* */
typedef void (*store_result_cb)(void *arg, int status, const struct pg_result *res);

/* Rows of a result. */
int store_result_rows(const struct pg_result *res);
/* A cell as an integer (0 when NULL or not a number). */
int64_t store_result_int(const struct pg_result *res, int row, int col);
/* A cell as text ("" when NULL); valid while res is. */
const char *store_result_text(const struct pg_result *res, int row, int col);

/* A row per organisation (0: none): org, sessions started, ended (taken) and
 * abandoned since midnight (Unix time of the local midnight). End times are estimated from the rounded start
 * bucket plus wait and duration. */
int store_today_counts(struct store *s, time_t midnight, store_result_cb cb, void *arg);

/* Recomputes stats_hourly from sessions for the completed hours of the last
 * window_hours that the retention keeps whole. One row: hours written. */
int store_stats_aggregate(struct store *s, int window_hours, int retention_days,
                          store_result_cb cb, void *arg);

/* Aggregates the hours about to go (when not aggregated yet), then deletes
 * session rows of whole hours older than retention_days and audit rows older
 * than audit_retention_days. One row: sessions deleted, audit rows deleted,
 * hours aggregated. */
int store_purge(struct store *s, int retention_days, int audit_retention_days,
                store_result_cb cb, void *arg);

/* Daily totals of the last days days (local days in time zone tz), oldest
 * first: day text, sessions, abandoned, escalated, wait_p50, wait_p90,
 * mean_duration (percentiles are the session-weighted mean of the hours'),
 * mail_opened, mail_answered_within_target, feedback_yes, feedback_some,
 * feedback_no (the answers after chats). org_id: only that organisation's rows
 * (0: those of no organisation), or every row when negative. */
int store_stats_read(struct store *s, int days, const char *tz, int org_id, store_result_cb cb,
                     void *arg);

/* One answer to "did the chat help?" (PROTOCOL.md §5 "After the end"): adds 1
 * to feedback_yes (answer 0), feedback_some (1) or feedback_no (2) of this
 * hour's stats_hourly row of topic and organisation org_id (0: none). Nothing
 * else is written. */
int store_feedback_count(struct store *s, const char *topic, int org_id, int answer);

/* The figures of a group of stats_hourly rows, in the order the daily
 * statistics give them (sessions, abandoned, escalated, wait_p50, wait_p90,
 * mean_duration, mail_opened, mail_answered_within_target, feedback_yes,
 * feedback_some, feedback_no): the waits are the session-weighted means of the
 * hours' percentiles. One text for store_sql_stats_daily and lotsectl's report,
 * so both weigh the hours the same way. */
#define STORE_SQL_STATS_FIGURES                                                                    \
    " sum(sessions), sum(abandoned), sum(escalated),"                                              \
    " coalesce(round(sum(wait_p50::bigint * sessions)::numeric / nullif(sum(sessions), 0)), 0),"   \
    " coalesce(round(sum(wait_p90::bigint * sessions)::numeric / nullif(sum(sessions), 0)), 0),"   \
    " coalesce(round(sum(mean_duration::bigint * (sessions - abandoned))::numeric"                  \
    "  / nullif(sum(sessions - abandoned), 0)), 0),"                                               \
    " sum(mail_opened), sum(mail_answered_within_target),"                                         \
    " sum(feedback_yes), sum(feedback_some), sum(feedback_no)"

/* The statements above, for lotsectl (same parameters, blocking libpq). */
extern const char store_sql_aggregate[];
extern const char store_sql_purge[];
extern const char store_sql_purge_count[]; /* dry run: sessions, audit rows that would go */
extern const char store_sql_stats_daily[];
extern const char store_sql_stats_hourly[]; /* $1 days: hour (Unix), topic, then as daily */

/* ---- mail (store_mail.c, PROTOCOL.md §9.4) ----
 *
 * Ids and keys go as lower hex; an envelope as binary. Every call answers
 * through cb exactly once (0, -ENOTCONN, -EIO) and returns 0 or -EAGAIN / -ENOMEM
 * / -EINVAL. Nothing here logs an id, a key or an envelope. */
#define STORE_MAIL_TID_BYTES 16
#define STORE_MAIL_KEYS_MAX 63

/* The organisation of account account_id: one row of org_cert (bytea, NULL when
 * not certified) and revoked (boolean as "t"/"f"). store_orgcert.c. */
int store_account_org(struct store *s, int64_t account_id, store_result_cb cb, void *arg);
/* Fills a's org_revoked and orgcert from that row; -EIO when there is none. */
int store_account_org_parse(const struct pg_result *res, struct store_account *a);

/* The organisation's canned replies (007_chat_templates.sql): rows of title,
 * body, oldest first, at most STORE_TEMPLATES_MAX. */
#define STORE_TEMPLATES_MAX 20
int store_chat_templates(struct store *s, store_result_cb cb, void *arg);

/* The organisations (009_organisations.sql), by id, at most 65 rows of: id,
 * slug, name, regions, languages, topics (comma lists), hours, takes_chat,
 * takes_mail, takes_pool, revoked ("t"/"f"); orgs.c reads them. */
int store_orgs_read(struct store *s, store_result_cb cb, void *arg);

/* The mail keys of devices with a valid certificate whose organisation is not
 * revoked: rows of cert, mail_pk, sig, org_cert (bytea, read with
 * store_result_bytea; org_cert NULL when the organisation has none), at most
 * STORE_MAIL_KEYS_MAX. */
int store_mail_keys(struct store *s, store_result_cb cb, void *arg);

/* A new thread of organisation org_id (0: the pool). One row when created,
 * none when the lookup hash exists. */
int store_mail_thread_create(struct store *s, const uint8_t tid[STORE_MAIL_TID_BYTES],
                             const uint8_t lookup_hash[32], const uint8_t box_pk[32],
                             const uint8_t sign_pk[32], const char *topic, int org_id,
                             store_result_cb cb, void *arg);

/* The thread of a lookup hash, or of a tid: zero or one row of
 * STORE_MAIL_THREAD_COLUMNS (below). */
enum store_mail_thread_col {
    MAIL_COL_TID, /* bytea */
    MAIL_COL_TOPIC,
    MAIL_COL_STATE,
    MAIL_COL_N,
    MAIL_COL_BYTES,
    MAIL_COL_BOX_PK,  /* bytea */
    MAIL_COL_SIGN_PK, /* bytea */
    MAIL_COL_ANSWERED_BY,
    MAIL_COL_CLAIMED_BY,
    STORE_MAIL_THREAD_COLUMNS
};
int store_mail_thread_by_lookup(struct store *s, const uint8_t lookup_hash[32], store_result_cb cb,
                                void *arg);
int store_mail_thread_by_tid(struct store *s, const uint8_t tid[STORE_MAIL_TID_BYTES],
                             store_result_cb cb, void *arg);

/* The messages of a thread in order: rows of n, sender, envelope (bytea). */
int store_mail_messages(struct store *s, const uint8_t tid[STORE_MAIL_TID_BYTES], store_result_cb cb,
                        void *arg);

/* Limits an append is checked against, in one statement with the insert. */
struct store_mail_limits {
    int thread_max_messages;
    int thread_max_bytes;
    int64_t store_max_bytes;
};

/* Appends message n (must be the thread's n + 1) from sender (1 young, 2
 * counsellor: counsellor_id, who becomes answered_by). One row: status text
 * ("ok", "unknown", "closed", "conflict", "thread_full", "mail_full") and the
 * stored message number (0 unless ok). */
int store_mail_append(struct store *s, const uint8_t tid[STORE_MAIL_TID_BYTES], int n, int sender,
                      int64_t counsellor_id, const struct store_mail_limits *lim,
                      const uint8_t *envelope, size_t len, store_result_cb cb, void *arg);

/* Deletes a thread and its messages (cb may be NULL). */
int store_mail_delete(struct store *s, const uint8_t tid[STORE_MAIL_TID_BYTES], store_result_cb cb,
                      void *arg);

/* Deletes threads whose last message day is older than retention_days (cb may
 * be NULL). One row: threads deleted. */
int store_mail_expire(struct store *s, int retention_days, store_result_cb cb, void *arg);

/* A bytea cell (text form from libpq) into out; its length, or -1 when NULL,
 * not bytea or longer than cap. */
int store_result_bytea(const struct pg_result *res, int row, int col, uint8_t *out, size_t cap);

#endif
