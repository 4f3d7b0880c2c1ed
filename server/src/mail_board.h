/* mail_board.h — the open mail threads as counsellors see them (PROTOCOL.md
 * §9.1): an in-memory copy of the board, loaded at start, re-read every
 * MAIL_BOARD_RELOAD_S seconds and after every change made through this server,
 * so that mail_list never waits for the database. Pushes mail_changed (at most
 * once a second) to the counsellors online; gives the supervisors' feed and
 * /metrics their mail figures. Holds thread ids, topics, counts and hour
 * buckets only; never a key or an envelope. */
#ifndef LOTSE_MAIL_BOARD_H
#define LOTSE_MAIL_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scope.h"

struct hub;
struct conn;
struct lotse_jw;

#define MAIL_BOARD_MAX 1000
#define MAIL_BOARD_RELOAD_S 30
#define MAIL_BOARD_LIST_MAX 200

/* Upper bounds of lotse_mail_first_answer_seconds; +Inf is implied. */
#define MAIL_FIRST_BUCKETS 7
extern const int mail_first_bucket_bounds[MAIL_FIRST_BUCKETS];

struct mail_first_histogram {
    uint64_t buckets[MAIL_FIRST_BUCKETS]; /* cumulative */
    uint64_t count;
    uint64_t sum_seconds;
};

/* Registers the board's hook on the tick: claims left by an earlier run are
 * released first (one lotsed per database), then the board loads. */
void mail_board_start(struct hub *hub);

/* Whether the start-up release of claims is done (claims wait for it). */
bool mail_board_ready(void);

/* Something changed through this server: re-read the board at the next tick. */
void mail_board_changed(void);

/* Sends the board to c (a counsellor: "claimed" is relative to who): up to
 * MAIL_BOARD_LIST_MAX mail_item, then mail_list_end. */
void mail_board_send_list(struct conn *c, int64_t who);

/* A young person's message n of tid (16 bytes) was stored: the board is re-read;
 * for n 1 the thread counts as opened this hour and the first answer's exact
 * delay is measured from now (in memory). */
void mail_board_young_stored(struct hub *hub, const uint8_t tid[16], int n);

/* The first answer to tid was stored: observes its delay, exact when this
 * process stored the first message, else hours (the database's count from
 * the message's hour bucket, which never undercounts) * 3600. */
void mail_board_first_answer(const uint8_t tid[16], int64_t hours);

/* The supervisors' fields of scope sc: mail_open, mail_oldest,
 * mail_within_today, mail_within_7d (null for one organisation: its shares
 * are in /stats), mail_overdue. */
void mail_board_feed_write(struct hub *hub, struct scope sc, struct lotse_jw *w);

/* Open threads of sc and the age of the oldest unanswered message (0: none). */
void mail_board_scope_counts(struct scope sc, int *open, int64_t *oldest);

/* Whether a counsellor of organisation org sees a thread of thread_org (0:
 * the pool): their organisation's, and the pool's when it takes from it. */
bool mail_board_visible(const struct hub *hub, int org, int thread_org);

/* For metrics: open threads, oldest unanswered age (s), first answers. */
int mail_board_open_count(void);
int64_t mail_board_oldest_seconds(void);
void mail_board_first_histogram(struct mail_first_histogram *out);

#endif
