/* store_mail_post.h — the statements of the counsellor's side of mail
 * counselling (PROTOCOL.md §9.1): mail keys, the board, claims, answers and the
 * supervisors' shares. Look-ups like those of store.h: cb runs later on the
 * service thread, exactly once; -ENOTCONN while the database is unreachable.
 * Threads are named by their id in hex (32 digits), devices and keys in hex;
 * nothing here logs or keeps a key or an envelope. */
#ifndef LOTSE_STORE_MAIL_POST_H
#define LOTSE_STORE_MAIL_POST_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Stores (replaces) the mail key of device_pk if that device has a valid,
 * unrevoked certificate. One row when stored, none otherwise. */
int store_mail_key_put(struct store *s, const uint8_t device_pk[32], const uint8_t mail_pk[32],
                       const uint8_t sig[64], store_result_cb cb, void *arg);

/* The open threads, oldest unanswered first (at most max rows): tid hex, topic,
 * n, since (Unix: waiting_since, else created_hour), waiting (t/f), claimed_by
 * (0 for none), open threads in all. */
int store_mail_board_load(struct store *s, int max, store_result_cb cb, void *arg);

/* One row: percent of threads opened since local midnight (in tz) and in the
 * last 7 days that got their first answer within target_hours, among those
 * answered or past the target (NULL when there are none). */
int store_mail_shares(struct store *s, int target_hours, const char *tz, store_result_cb cb,
                      void *arg);

/* Claims tid for who unless somebody else holds it. One row: won (1/0), topic,
 * box_pk hex, sign_pk hex, n, claimed_by, state; no row for no such thread. */
int store_mail_claim(struct store *s, const char *tid, int64_t who, store_result_cb cb, void *arg);

/* Stores who's answer as message n of tid if who holds the claim, the thread is
 * open, n is the next number and the limits allow. One row: stored n (NULL when
 * refused), claimed_by, state, current n, current bytes, first (t/f: this is the
 * first answer), first_answer_hours, topic; no row for no such thread. Counts
 * a first answer within target_hours in the hourly statistics. */
struct store_mail_answer {
    const char *tid;
    int64_t who;
    int n;
    int max_messages;
    int max_bytes;
    int target_hours;
};
int store_mail_answer(struct store *s, const struct store_mail_answer *a, const uint8_t *env,
                      size_t len, store_result_cb cb, void *arg);

/* Gives the claim of tid back (who must hold it). One row when done. */
int store_mail_release(struct store *s, const char *tid, int64_t who, store_result_cb cb,
                       void *arg);

/* Hands the claim of tid from who to the active counsellor account to. One row
 * when done. */
int store_mail_handover(struct store *s, const char *tid, int64_t who, int64_t to,
                        store_result_cb cb, void *arg);

/* Closes tid (who must hold it). One row when done. */
int store_mail_close(struct store *s, const char *tid, int64_t who, store_result_cb cb, void *arg);

/* Releases every claim of who, or with who 0 every claim (server start). */
int store_mail_release_all(struct store *s, int64_t who, store_result_cb cb, void *arg);

/* Counts thread tid (its first message stored now) as opened this hour in the
 * hourly statistics (fire and forget). */
int store_mail_count_opened(struct store *s, const char *tid);

/* lotsectl: deletes the mail key of a device ($1: device_certs.id). */
extern const char store_sql_mail_key_revoke[];

#endif
