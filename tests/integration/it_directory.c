/* it_directory.c — the directory of live sessions and counsellors (issue 16,
 * PROTOCOL.md §5.4) with one lotsed as node "a".
 *
 * While a chat runs and a young person waits, live_sessions and
 * live_counsellors hold what another node needs to continue them, and only
 * hashes of the resume secrets and of the counsellor's token, never the
 * secrets; each row goes when its session ends or the counsellor logs out.
 * After kill -9 of the node and a start of it again, the node takes the lease,
 * adopts the directory and both parties come back with resume as after a
 * dropped connection: the young person in the chat gets `resumed` and the
 * counsellor's keys again, the counsellor `resumed` with the chat, messages
 * flow, the one who waited is back at the head of the queue (ahead of someone
 * who came after the restart) and is taken, and
 * the metadata rows end as they would have without the crash. Nobody coming
 * back: the resume grace and the away counsellor's timeout apply to the
 * adopted parties. (The hand-over between two nodes: it_nodes.c.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "harness.h"

#define T 5000

static void hex(const uint8_t *b, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, b, n);
}

/* BLAKE2b-256 of a secret, as hex: what the directory may hold of it. */
static void hash_hex(const uint8_t secret[32], char out[65])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, secret, 32, NULL, 0);
    hex(h, sizeof h, out);
}

static long count_where(struct harness *h, long want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Waits until SELECT count(*) FROM <fmt> is want (at most T ms; a count
 * that must fall, too, unlike harness_wait_count). */
static long count_where(struct harness *h, long want, const char *fmt, ...)
{
    char where[2048], sql[2100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(where, sizeof where, fmt, ap);
    va_end(ap);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", where);
    long got = harness_sql_long(h, sql);
    for (int waited = 0; got != want && waited < T; waited += 50) {
        harness_sleep_ms(50);
        got = harness_sql_long(h, sql);
    }
    if (got != want)
        fprintf(stderr, "count %ld, want %ld: %s\n", got, want, sql);
    return got;
}

/* Waits until the log has n lines with needle (the log of every start is
 * kept in one file). */
static int log_reaches(struct harness *h, const char *needle, int n, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        if (harness_log_count(h, needle) >= n)
            return 0;
        harness_sleep_ms(100);
    }
    fprintf(stderr, "log: fewer than %d lines with \"%s\"\n", n, needle);
    return -ETIMEDOUT;
}

/* Starts lotsed as node a and waits until it serves (it took the lease and
 * adopted the directory). */
static void start_node(struct harness *h)
{
    int n = harness_log_count(h, "node a: serving");
    harness_set(h, "node_name", "a");
    /* no other node to hand over to: a SIGTERM drains after 1 s, as one node */
    harness_set(h, "node_handover", "1");
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(log_reaches(h, "node a: serving", n + 1, 15000), 0);
}

/* anna in a chat with young (family, keys exchanged, one message each way)
 * and another young person waiting (school). */
struct scene {
    struct client *anna, *young, *waiting;
    struct client_session *cs, *ys;
    char token_hash[65];
};

static void scene_up(struct harness *h, struct scene *p)
{
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(harness_counsellor(h, "anna", &p->anna), 0);
    assert_int_equal(harness_pair(h, p->anna, "family", &p->young, &p->cs), 0);
    p->ys = client_young_session(p->young);
    p->anna->drop_duplicates = p->young->drop_duplicates = true;
    assert_int_equal(client_send_text(p->young, p->ys, "before", 6), 0);
    assert_int_equal(client_recv_text(p->anna, NULL, got, sizeof got, T), 6);
    assert_int_equal(client_send_text(p->anna, p->cs, "hi", 2), 0);
    assert_int_equal(client_recv_text(p->young, NULL, got, sizeof got, T), 2);
    assert_int_equal(harness_young(h, "school", &p->waiting), 0);
    hash_hex(p->anna->token, p->token_hash);
}

static void scene_free(struct scene *p)
{
    client_free(p->anna);
    client_free(p->young);
    client_free(p->waiting);
}

/* The rows of the scene are written (topics: family 0, school 1). */
static void rows_written(struct harness *h, struct scene *p)
{
    char rh[65], pk[65], kpk[65];
    hash_hex(p->young->resume, rh);
    hex(p->ys->pk, 32, pk);
    hex(p->ys->peer_pk, 32, kpk);
    assert_int_equal(count_where(h, 1,
                                 "live_counsellors WHERE node = 'a' AND token_hash = "
                                 "decode('%s', 'hex') AND account_id = %lld AND handle = 'anna'"
                                 " AND name = 'Anna' AND has_cert AND length(cert) > 0 AND"
                                 " available AND capacity = 2 AND max_capacity = 2",
                                 p->token_hash, (long long)harness_account(h, "anna")->id),
                     1);
    assert_int_equal(
        count_where(h, 1,
                    "live_sessions WHERE node = 'a' AND state = 2 AND topic = 0 AND resume_hash ="
                    " decode('%s', 'hex') AND young_pk = decode('%s', 'hex') AND"
                    " counsellor_token_hash = decode('%s', 'hex') AND keys_pk = decode('%s', 'hex')"
                    " AND length(keys_sig) = 64 AND length(keys_cert) > 0 AND picked_wall_ms >="
                    " enqueued_wall_ms AND enqueued_wall_ms > 0 AND started_wall > 0 AND row_id ="
                    " (SELECT id FROM sessions WHERE topic = 'family')",
                    rh, pk, p->token_hash, kpk),
        1);
    hash_hex(p->waiting->resume, rh);
    assert_int_equal(
        count_where(h, 1,
                    "live_sessions WHERE node = 'a' AND state = 0 AND topic = 1 AND resume_hash ="
                    " decode('%s', 'hex') AND counsellor_token_hash IS NULL AND keys_pk IS NULL AND"
                    " picked_wall_ms = 0 AND abs(enqueued_wall_ms - extract(epoch FROM now()) *"
                    " 1000) < 60000 AND row_id = (SELECT id FROM sessions WHERE topic = 'school')",
                    rh),
        1);
}

static void test_rows_hold_the_live_state_and_hashes_only_and_go_at_the_end(void **state)
{
    struct harness *h = *state;
    start_node(h);
    struct scene p;
    scene_up(h, &p);
    rows_written(h, &p);

    /* no secret in clear anywhere in the database: not the resume secrets,
     * not the counsellor's token (their hashes are what the rows keep) */
    assert_int_equal(harness_db_scan_substring(h, p.young->resume, 32), 0);
    assert_int_equal(harness_db_scan_substring(h, p.waiting->resume, 32), 0);
    assert_int_equal(harness_db_scan_substring(h, p.anna->token, 32), 0);

    /* a change of status is written */
    int64_t active = 0;
    assert_int_equal(client_status(p.anna, false, 1, &active, T), 0);
    assert_int_equal(count_where(h, 1, "live_counsellors WHERE NOT available AND capacity = 1"), 1);

    /* each row goes with its session, the counsellor's with the logout */
    assert_int_equal(client_end(p.anna, p.cs), 0);
    assert_int_equal(client_expect(p.young, "ended", NULL, T), 0);
    assert_int_equal(count_where(h, 1, "live_sessions"), 1);
    assert_int_equal(count_where(h, 0, "live_sessions WHERE state = 2"), 0);
    assert_int_equal(client_young_end_reason(p.waiting, "done"), 0);
    assert_int_equal(client_expect(p.waiting, "ended", NULL, T), 0);
    assert_int_equal(count_where(h, 0, "live_sessions"), 0);
    assert_int_equal(client_send_json(p.anna, "{\"t\":\"logout\"}"), 0);
    assert_int_equal(count_where(h, 0, "live_counsellors"), 0);
    scene_free(&p);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* c connects to the restarted node (a new port) and resumes. */
static void comes_back(struct harness *h, struct client *c)
{
    c->port = h->port;
    assert_int_equal(client_reconnect(c, T), 0);
    int rc = client_resume(c, false, T);
    if (rc != 0)
        fprintf(stderr, "resume: %d (%s)\n", rc, c->err_code);
    assert_int_equal(rc, 0);
}

static void kill_9_and_restart(struct harness *h, struct scene *p)
{
    rows_written(h, p);
    assert_int_equal(kill(harness_pid(h), SIGKILL), 0);
    assert_int_equal(harness_wait_exit(h, T), 128 + SIGKILL);
    int adopted = harness_log_count(h, "directory: adopted 2 session(s) and 1 counsellor(s)");
    start_node(h);
    assert_int_equal(harness_log_count(h, "directory: adopted 2 session(s) and 1 counsellor(s)"),
                     adopted + 1);
}

static void test_kill_9_then_the_node_adopts_and_both_parties_resume(void **state)
{
    struct harness *h = *state;
    start_node(h);
    struct scene p;
    scene_up(h, &p);
    kill_9_and_restart(h, &p);
    char got[LOTSE_MAX_MESSAGE + 1];

    /* the young person in the chat: resumed, active, the counsellor's keys again */
    comes_back(h, p.young);
    assert_string_equal(p.young->resumed_state, "active");
    for (int i = 0; i < 20 && p.ys->keys_repeated == 0; i++)
        client_pump(p.young, 100);
    assert_int_equal(p.ys->keys_repeated, 1);
    /* the counsellor: resumed with the chat */
    comes_back(h, p.anna);
    assert_int_equal(p.anna->resumed_sessions, 1);

    /* messages flow both ways on the adopted session */
    assert_int_equal(client_send_text(p.young, p.ys, "after", 5), 0);
    assert_int_equal(client_recv_text(p.anna, NULL, got, sizeof got, T), 5);
    assert_string_equal(got, "after");
    assert_int_equal(client_send_text(p.anna, p.cs, "answer", 6), 0);
    assert_int_equal(client_recv_text(p.young, NULL, got, sizeof got, T), 6);
    assert_string_equal(got, "answer");

    /* the one who waited comes back to the head of the queue, ahead of
     * someone who came after the restart, and is taken */
    struct client *late;
    assert_int_equal(harness_young(h, "school", &late), 0);
    assert_int_equal(late->pos, 1); /* the adopted one is away yet */
    comes_back(h, p.waiting);
    assert_string_equal(p.waiting->resumed_state, "waiting");
    assert_int_equal(p.waiting->pos, 1);
    struct client_session *cs2;
    assert_int_equal(client_take_and_key(p.anna, &cs2, T), 0);
    assert_int_equal(client_young_wait_keys(p.waiting, T), 0);
    assert_memory_equal(cs2->sid, client_young_session(p.waiting)->sid, LOTSE_SID_BYTES);
    assert_int_equal(count_where(h, 2, "live_sessions WHERE node = 'a' AND state = 2"), 2);
    assert_int_equal(client_young_end_reason(late, "done"), 0);
    assert_int_equal(client_expect(late, "ended", NULL, T), 0);
    client_free(late);

    /* the metadata rows of both end as without the crash: no 'crashed' */
    assert_int_equal(client_end(p.anna, p.cs), 0);
    assert_int_equal(client_end(p.anna, cs2), 0);
    assert_int_equal(count_where(h, 0, "live_sessions"), 0);
    assert_int_equal(
        count_where(h, 2, "sessions WHERE end_reason = 'ended_by_counsellor' AND taken"), 2);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason IS NULL"
                                         " OR end_reason = 'crashed'"),
                     0);
    scene_free(&p);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_adopted_parties_who_do_not_come_back_time_out_as_after_a_drop(void **state)
{
    struct harness *h = *state;
    harness_set(h, "resume_grace", "3");
    harness_set(h, "unload_grace", "3");
    start_node(h);
    struct scene p;
    scene_up(h, &p);
    kill_9_and_restart(h, &p);

    /* within the grace (3 s) and a tick: the chat ends as young_left, the
     * wait as abandoned, the counsellor's record and every row go */
    assert_int_equal(count_where(h, 0, "live_sessions"), 0);
    assert_int_equal(count_where(h, 0, "live_counsellors"), 0);
    assert_int_equal(count_where(h, 1,
                                 "sessions WHERE topic = 'family' AND end_reason ="
                                 " 'young_left' AND taken"),
                     1);
    assert_int_equal(count_where(h, 1,
                                 "sessions WHERE topic = 'school' AND end_reason ="
                                 " 'abandoned' AND NOT taken"),
                     1);
    /* too late now */
    p.young->port = h->port;
    assert_int_equal(client_reconnect(p.young, T), 0);
    assert_int_equal(client_resume(p.young, false, T), -EPROTO);
    assert_string_equal(p.young->err_code, "resume_failed");
    p.anna->port = h->port;
    assert_int_equal(client_reconnect(p.anna, T), 0);
    assert_int_equal(client_resume(p.anna, false, T), -EPROTO);
    assert_string_equal(p.anna->err_code, "resume_failed");
    scene_free(&p);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_rows_hold_the_live_state_and_hashes_only_and_go_at_the_end, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_kill_9_then_the_node_adopts_and_both_parties_resume,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_adopted_parties_who_do_not_come_back_time_out_as_after_a_drop, harness_setup,
            harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
