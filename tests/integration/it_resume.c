/* it_resume.c — dropped connections, resume and hold (PROTOCOL.md §5.2).
 *
 * A connection that drops (here: RST with no close frame, as a train entering a
 * tunnel) does not end the session. The party comes back with `resume` within
 * resume_grace; frames for it wait in the server's hold; each client keeps what
 * it sent until the peer's ACK covers it and sends it again after `resumed` and
 * after `peer` `back`; receivers drop duplicates. Together: every message
 * arrives once, in order. Past the grace period the session ends with the
 * reason of §5 and its row is written. A chat that ends while the counsellor
 * is away reaches her on resume with its last frames and its reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "harness.h"

#define T 5000
#define N_MESSAGES 20

/* Resumes that succeeded across the whole run (printed at the end). */
static int resume_cases;

struct pair {
    struct client *anna, *young;
    struct client_session *cs, *ys;
};

static void reliable(struct client *c)
{
    c->drop_duplicates = true;
}

static void pair_up(struct harness *h, struct pair *p)
{
    assert_int_equal(harness_counsellor(h, "anna", &p->anna), 0);
    assert_int_equal(harness_pair(h, p->anna, "family", &p->young, &p->cs), 0);
    p->ys = client_young_session(p->young);
    reliable(p->anna);
    reliable(p->young);
}

static void send_n(struct client *c, struct client_session *s, const char *prefix, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char msg[64];
        int l = snprintf(msg, sizeof msg, "%s %d", prefix, i);
        assert_int_equal(client_send_text(c, s, msg, (size_t)l), 0);
    }
}

/* Receives exactly n messages "<prefix> from..from+n-1" in order on s, then
 * makes sure nothing else is shown within 400 ms (duplicates are counted, not
 * shown). */
static void recv_exactly(struct client *c, struct client_session *s, const char *prefix, int from,
                         int n)
{
    char got[LOTSE_MAX_MESSAGE + 1];
    for (int i = from; i < from + n; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s %d", prefix, i);
        struct client_session *at = NULL;
        int rc = client_recv_text(c, &at, got, sizeof got, T);
        if (rc < 0)
            fprintf(stderr, "recv %s: %d (err %s)\n", want, rc, c->err_code);
        assert_true(rc > 0);
        assert_ptr_equal(at, s);
        assert_string_equal(got, want);
    }
    assert_int_equal(client_recv_text(c, NULL, got, sizeof got, 400), -ETIMEDOUT);
}

static void resume_ok(struct client *c, bool new_pk)
{
    assert_int_equal(client_reconnect(c, T), 0);
    int rc = client_resume(c, new_pk, T);
    if (rc < 0)
        fprintf(stderr, "resume: %d %s (%s)\n", rc, c->err_code, c->err_msg);
    assert_int_equal(rc, 0);
    resume_cases++;
}

static void chat_still_works(struct pair *p, const char *tag)
{
    char y[64], a[64];
    snprintf(y, sizeof y, "%s-y", tag);
    snprintf(a, sizeof a, "%s-a", tag);
    send_n(p->young, p->ys, y, 1, 1);
    recv_exactly(p->anna, p->cs, y, 1, 1);
    send_n(p->anna, p->cs, a, 1, 1);
    recv_exactly(p->young, p->ys, a, 1, 1);
}

/* lotsed started, anna and a young person chatting (a message each way). */
static void start_chatting(struct harness *h, struct pair *p)
{
    assert_int_equal(harness_start(h), 0);
    pair_up(h, p);
    chat_still_works(p, "before");
}

static void finish(struct harness *h, struct pair *p)
{
    client_free(p->young);
    client_free(p->anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_young_drops_counsellor_sends_20_all_arrive_once_in_order_after_resume(void **state)
{
    struct harness *h = *state;
    struct pair p;
    start_chatting(h, &p);

    client_drop(p.young);
    assert_int_equal(client_wait_peer(p.anna, p.cs, true, T), 0);
    send_n(p.anna, p.cs, "c2y", 1, N_MESSAGES);
    assert_int_equal(p.cs->unacked_len, N_MESSAGES);

    resume_ok(p.young, false);
    assert_string_equal(p.young->resumed_state, "active");
    /* Anna learns the young person is back and sends her unacknowledged
     * frames again; the young person gets the held ones and the resent ones. */
    assert_int_equal(client_wait_peer(p.anna, p.cs, false, T), 0);
    assert_int_equal(p.cs->resent, N_MESSAGES);
    recv_exactly(p.young, p.ys, "c2y", 1, N_MESSAGES);
    assert_int_equal(p.ys->duplicates, p.cs->resent);
    /* The young person's ACKs free what anna kept. */
    assert_int_equal(client_pump(p.anna, 300), 0);
    assert_int_equal(p.cs->unacked_len, 0);
    chat_still_works(&p, "after");
    finish(h, &p);
}

static void test_counsellor_drops_and_resumes_with_token_young_messages_arrive_once(void **state)
{
    struct harness *h = *state;
    struct pair p;
    start_chatting(h, &p);

    client_drop(p.anna);
    assert_int_equal(client_wait_peer(p.young, p.ys, true, T), 0);
    send_n(p.young, p.ys, "y2c", 1, N_MESSAGES);

    resume_ok(p.anna, false);
    assert_int_equal(p.anna->resumed_sessions, 1);
    assert_int_equal(client_wait_peer(p.young, p.ys, false, T), 0);
    assert_int_equal(p.ys->resent, N_MESSAGES);
    recv_exactly(p.anna, p.cs, "y2c", 1, N_MESSAGES);
    assert_int_equal(p.cs->duplicates, p.ys->resent);
    chat_still_works(&p, "after");
    finish(h, &p);
}

static void test_both_drop_at_once_and_every_unacked_frame_arrives_once(void **state)
{
    struct harness *h = *state;
    struct pair p;
    start_chatting(h, &p);

    /* Each sends 3 that the other has not read when both connections die. */
    send_n(p.anna, p.cs, "c2y", 1, 3);
    send_n(p.young, p.ys, "y2c", 1, 3);
    client_drop(p.anna);
    client_drop(p.young);
    harness_sleep_ms(200);

    resume_ok(p.young, false);
    assert_string_equal(p.young->resumed_state, "active");
    resume_ok(p.anna, false);
    recv_exactly(p.anna, p.cs, "y2c", 1, 3);
    recv_exactly(p.young, p.ys, "c2y", 1, 3);
    chat_still_works(&p, "after");
    finish(h, &p);
}

static void test_frames_sent_but_unacked_at_the_drop_arrive_exactly_once(void **state)
{
    struct harness *h = *state;
    struct pair p;
    start_chatting(h, &p);

    /* The sender drops right after writing: some frames may die with the
     * connection, some may have reached the peer. */
    send_n(p.young, p.ys, "y2c", 1, 5);
    client_drop(p.young);
    resume_ok(p.young, false);
    assert_true(p.ys->resent <= 5);
    recv_exactly(p.anna, p.cs, "y2c", 1, 5);

    /* The receiver drops with frames unread in its socket: they are lost with
     * it, and anna's resend after `back` brings them. */
    send_n(p.anna, p.cs, "c2y", 1, 5);
    harness_sleep_ms(200);
    client_drop(p.young);
    assert_int_equal(client_wait_peer(p.anna, p.cs, true, T), 0);
    resume_ok(p.young, false);
    assert_int_equal(client_wait_peer(p.anna, p.cs, false, T), 0);
    recv_exactly(p.young, p.ys, "c2y", 1, 5);
    chat_still_works(&p, "after");
    finish(h, &p);
}

/* Sends a resume for sid_hex with secret on a fresh connection; expects
 * resume_failed. */
static void expect_resume_failed(struct harness *h, const char *sid_hex, const uint8_t secret[32])
{
    struct client *c;
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    char b64[64], msg[256];
    lotse_b64_encode(b64, sizeof b64, secret, 32);
    snprintf(msg, sizeof msg, "{\"t\":\"resume\",\"v\":1,\"sid\":\"%s\",\"resume\":\"%s\"}", sid_hex,
             b64);
    assert_int_equal(client_send_json(c, msg), 0);
    assert_int_equal(client_expect_error(c, "resume_failed", T), 0);
    client_free(c);
}

static void test_resume_with_wrong_secret_unknown_sid_or_after_grace_is_resume_failed(void **state)
{
    struct harness *h = *state;
    harness_set(h, "resume_grace", "2");
    assert_int_equal(harness_start(h), 0);
    struct pair p;
    pair_up(h, &p);
    client_drop(p.young);
    assert_int_equal(client_wait_peer(p.anna, p.cs, true, T), 0);

    uint8_t wrong[32];
    memcpy(wrong, p.young->resume, 32);
    wrong[31] ^= 0x01;
    expect_resume_failed(h, p.ys->sid_hex, wrong);
    uint8_t sid[16];
    char unknown[33];
    randombytes_buf(sid, sizeof sid);
    lotse_hex_encode(unknown, sizeof unknown, sid, sizeof sid);
    expect_resume_failed(h, unknown, p.young->resume);
    /* The failed attempts did not harm the session: the right secret works. */
    resume_ok(p.young, false);
    chat_still_works(&p, "after");

    /* Past the grace period the same secret is refused. */
    uint8_t secret[32];
    char sid_hex[33];
    memcpy(secret, p.young->resume, 32);
    memcpy(sid_hex, p.ys->sid_hex, 33);
    client_drop(p.young);
    assert_int_equal(client_wait_peer(p.anna, p.cs, true, T), 0);
    harness_sleep_ms(3500);
    expect_resume_failed(h, sid_hex, secret);
    finish(h, &p);
}

static void test_grace_expiry_ends_as_young_left_abandoned_and_hands_counsellor_away_back(
    void **state)
{
    struct harness *h = *state;
    harness_set(h, "resume_grace", "2");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *y1, *y2, *y3;
    struct client_session *s1, *s2;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &y1, &s1), 0);
    assert_int_equal(harness_pair(h, anna, "school", &y2, &s2), 0);

    /* y1 drops and does not come back: anna sees away, then young_left. */
    client_drop(y1);
    assert_int_equal(client_wait_peer(anna, s1, true, T), 0);
    assert_int_equal(client_expect(anna, "ended", NULL, 2000 + T), 0);
    assert_true(s1->ended);
    assert_string_equal(s1->ended_reason, "young_left");
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions WHERE end_reason = "
                                           "'young_left' AND topic = 'family'", 1, T), 1);

    /* anna drops and does not come back: y2's chat goes back to the queue
     * (it_transfer.c), it does not end. */
    client_drop(anna);
    assert_int_equal(client_wait_peer(y2, client_young_session(y2), true, T), 0);
    assert_int_equal(client_expect(y2, "transferred", NULL, 2000 + T), 0);
    assert_string_equal(client_young_session(y2)->transferred_reason, "counsellor_left");
    assert_false(client_young_session(y2)->ended);

    /* A young person still waiting who drops for good: abandoned. */
    assert_int_equal(harness_young(h, "prison", &y3), 0);
    client_drop(y3);
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions WHERE end_reason = "
                                           "'abandoned' AND topic = 'prison' AND counsellor_id IS "
                                           "NULL", 1, 2000 + T), 1);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions"), 3);
    client_free(y1);
    client_free(y2);
    client_free(y3);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* The young person writes and ends the chat while the counsellor is away (a
 * train in a tunnel): on resume the counsellor gets the chat listed as ended,
 * the last messages (held for her), once and in order, then `ended` with the
 * young person's reason; nothing is lost and the reason is not "counsellor_left". */
static void test_a_chat_that_ended_while_the_counsellor_was_away_arrives_with_its_last_words(
    void **state)
{
    struct harness *h = *state;
    struct pair p;
    start_chatting(h, &p);

    client_drop(p.anna);
    assert_int_equal(client_wait_peer(p.young, p.ys, true, T), 0);
    send_n(p.young, p.ys, "last", 1, 3);
    assert_int_equal(client_end(p.young, p.ys), 0);
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions"
                                           " WHERE end_reason = 'ended_by_young'", 1, T), 1);

    resume_ok(p.anna, false);
    assert_int_equal(p.anna->resumed_sessions, 1); /* listed, as ended */
    recv_exactly(p.anna, p.cs, "last", 1, 3);
    assert_true(p.cs->ended);
    assert_string_equal(p.cs->ended_reason, "ended_by_young");
    /* this client acknowledged them at once: the session is gone, so the
     * server answered no_such_session (a console closes the channel first) */
    while (client_expect_error(p.anna, "no_such_session", 300) == 0)
        ;
    /* told once: a second drop and resume lists nothing */
    client_drop(p.anna);
    resume_ok(p.anna, false);
    assert_int_equal(p.anna->resumed_sessions, 0);
    finish(h, &p);
}

static void test_waiting_young_person_who_drops_and_resumes_keeps_queue_position(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *y[4];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(harness_young(h, "family", &y[i]), 0);
        assert_int_equal(y[i]->pos, i + 1);
    }
    char sid2[33];
    memcpy(sid2, client_young_session(y[1])->sid_hex, 33);
    client_drop(y[1]);
    harness_sleep_ms(300);
    /* Someone new arrives while y[1] is away: positions count only people
     * present (PROTOCOL.md §5.2), but the newcomer is behind y[1], not before. */
    assert_int_equal(harness_young(h, "family", &y[3]), 0);
    assert_int_equal(y[3]->pos, 3);
    resume_ok(y[1], false);
    assert_string_equal(y[1]->resumed_state, "waiting");
    assert_int_equal(y[1]->pos, 2);
    while (y[3]->pos != 4)
        assert_int_equal(client_expect(y[3], "queue", NULL, T), 0);

    struct client *anna;
    struct client_session *s;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(client_take(anna, &s, T), 0);
    assert_string_equal(s->sid_hex, client_young_session(y[0])->sid_hex);
    assert_int_equal(client_take(anna, &s, T), 0);
    assert_string_equal(s->sid_hex, sid2);
    /* And the resumed connection is the one that gets the keys. */
    assert_int_equal(client_send_keys(anna, s), 0);
    assert_int_equal(client_young_wait_keys(y[1], T), 0);
    for (int i = 0; i < 4; i++)
        client_free(y[i]);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_reload_resume_with_new_key_reassigns_flags_key_change_and_chat_continues(
    void **state)
{
    struct harness *h = *state;
    struct pair p;
    start_chatting(h, &p);
    uint8_t old_pk[32];
    memcpy(old_pk, p.ys->pk, 32);

    client_drop(p.young);
    assert_int_equal(client_wait_peer(p.anna, p.cs, true, T), 0);
    /* Sent for the old keys while away: held, then dropped by the reload. */
    send_n(p.anna, p.cs, "old", 1, 2);

    uint64_t before = p.cs->reassigned;
    resume_ok(p.young, true);
    assert_string_equal(p.young->resumed_state, "assigned");
    assert_memory_not_equal(p.ys->pk, old_pk, 32);
    assert_int_equal(client_wait_reassigned(p.anna, p.cs, before, T), 0);
    assert_true(p.cs->key_changed);
    assert_memory_equal(p.cs->peer_pk, p.ys->pk, 32);
    assert_false(p.cs->active);
    assert_int_equal(p.cs->unacked_len, 0);
    assert_int_equal(client_send_keys(p.anna, p.cs), 0);
    assert_int_equal(client_young_wait_keys(p.young, T), 0);

    /* A new channel from seq 1; nothing of the old keys reaches the young person. */
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_send_text(p.anna, p.cs, "after reload", 12), 0);
    assert_int_equal(client_recv_text(p.young, NULL, got, sizeof got, T), 12);
    assert_string_equal(got, "after reload");
    assert_int_equal(p.ys->ch.last_rx_seq, 1);
    assert_int_equal(client_send_text(p.young, p.ys, "me too", 6), 0);
    assert_int_equal(client_recv_text(p.anna, NULL, got, sizeof got, T), 6);
    assert_int_equal(p.cs->ch.last_rx_seq, 1);
    assert_int_equal(client_recv_text(p.young, NULL, got, sizeof got, 400), -ETIMEDOUT);
    finish(h, &p);
}

static void test_hold_bound_ninth_frame_gets_peer_away_full_and_arrives_after_back(void **state)
{
    struct harness *h = *state;
    harness_set(h, "hold_max_frames", "8");
    struct pair p;
    start_chatting(h, &p);

    client_drop(p.young);
    assert_int_equal(client_wait_peer(p.anna, p.cs, true, T), 0);
    send_n(p.anna, p.cs, "held", 1, 8);
    assert_int_equal(client_pump(p.anna, 300), 0);
    assert_int_equal(p.anna->away_full_errors, 0);
    send_n(p.anna, p.cs, "held", 9, 1);
    assert_int_equal(client_expect_error(p.anna, "peer_away_full", T), 0);
    assert_string_equal(p.anna->err_sid, p.cs->sid_hex);

    resume_ok(p.young, false);
    assert_int_equal(client_wait_peer(p.anna, p.cs, false, T), 0);
    /* The 9th was never held; anna's resend brings it, after the 8. */
    recv_exactly(p.young, p.ys, "held", 1, 9);
    chat_still_works(&p, "after");
    finish(h, &p);
}

static int print_cases(void **state)
{
    (void)state;
    printf("resume cases run: %d\n", resume_cases);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_young_drops_counsellor_sends_20_all_arrive_once_in_order_after_resume,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_counsellor_drops_and_resumes_with_token_young_messages_arrive_once, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_both_drop_at_once_and_every_unacked_frame_arrives_once,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_frames_sent_but_unacked_at_the_drop_arrive_exactly_once, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_resume_with_wrong_secret_unknown_sid_or_after_grace_is_resume_failed,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_chat_that_ended_while_the_counsellor_was_away_arrives_with_its_last_words,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_grace_expiry_ends_as_young_left_abandoned_and_hands_counsellor_away_back,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_waiting_young_person_who_drops_and_resumes_keeps_queue_position, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_reload_resume_with_new_key_reassigns_flags_key_change_and_chat_continues,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_hold_bound_ninth_frame_gets_peer_away_full_and_arrives_after_back, harness_setup,
            harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, print_cases);
}
