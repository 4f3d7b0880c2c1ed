/* it_transfer.c — handing a session to a colleague or back to the queue
 * (PROTOCOL.md §4.2 transfer, §5.2 Transfer, §6 Transfer).
 *
 * The young person's client runs the key exchange again with a fresh key and
 * checks the new counsellor's certificate and signature; the previous
 * counsellor is detached (`ended` transferred), receives nothing more and,
 * even holding every frame exchanged afterwards, can decrypt none of them. */
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

/* Receives the next DATA frame on rs raw (ACKs are skipped), checks that the
 * old counsellor's channel `old` cannot open it, then opens it on the
 * receiver's own channel and acknowledges it. Returns the body in got. */
static void recv_checked(struct client *c, struct client_session *rs,
                         const struct lotse_channel *old, char *got, size_t cap)
{
    uint8_t f[LOTSE_MAX_BINARY_FRAME];
    struct lotse_frame_header hd;
    const uint8_t *pl;
    size_t plen;
    int n;
    do {
        n = client_recv_frame(c, f, sizeof f, T);
        assert_true(n >= LOTSE_FRAME_HEADER_BYTES);
        assert_int_equal(lotse_frame_decode(f, (size_t)n, &hd, &pl, &plen), 0);
    } while (hd.kind == LOTSE_FRAME_ACK);
    struct lotse_channel try = *old;
    try.last_rx_seq = hd.seq - 1; /* let only the key decide */
    uint8_t type, body[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(lotse_channel_open(&try, f, (size_t)n, &type, body, sizeof body), -EBADMSG);
    lotse_channel_wipe(&try);
    int rc = lotse_channel_open(&rs->ch, f, (size_t)n, &type, (uint8_t *)got, cap - 1);
    assert_true(rc > 0);
    got[rc] = 0;
    assert_int_equal(client_send_ack(c, rs, rs->ch.last_rx_seq), 0);
}

/* A's view turned around: a channel that opens direction 1 with A's own tx
 * key, i.e. what A could read of frames sent to the young person. */
static struct lotse_channel as_c2y_reader(const struct lotse_channel *a)
{
    struct lotse_channel r = *a;
    memcpy(r.rx, a->tx, sizeof r.rx);
    r.dir_tx = LOTSE_DIR_Y2C;
    return r;
}

static void test_transfer_to_colleague_rekeys_and_old_counsellor_can_decrypt_nothing_after(
    void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *ben, *young;
    struct client_session *as, *bs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &as), 0);
    struct client_session *ys = client_young_session(young);
    assert_int_equal(ys->peer_cert.counsellor_id, harness_account(h, "anna")->id);
    char got[LOTSE_MAX_MESSAGE + 1];

    /* Before the transfer, A's keys do open the conversation: the check below
     * is able to fail. */
    struct lotse_channel a_y2c = as->ch;
    struct lotse_channel a_c2y = as_c2y_reader(&as->ch);
    assert_int_equal(client_send_text(anna, as, "hello from anna", 15), 0);
    uint8_t f[LOTSE_MAX_BINARY_FRAME];
    int n = client_recv_frame(young, f, sizeof f, T);
    assert_true(n > 0);
    {
        struct lotse_channel probe = a_c2y;
        uint8_t type, body[LOTSE_MAX_MESSAGE + 1];
        assert_int_equal(lotse_channel_open(&probe, f, (size_t)n, &type, body, sizeof body), 15);
        lotse_channel_wipe(&probe);
    }
    assert_int_equal(client_send_text(young, ys, "hi anna", 7), 0);
    assert_int_equal(client_recv_text(anna, NULL, got, sizeof got, T), 7);
    a_y2c = as->ch; /* its rx counter now past "hi anna" */
    assert_int_equal(client_pump(anna, 200), 0);

    uint8_t old_young_pk[32];
    memcpy(old_young_pk, ys->pk, 32);
    assert_int_equal(client_transfer(anna, as, "ben", T), 0);
    assert_string_equal(as->ended_reason, "transferred");
    assert_int_equal(client_expect(young, "transferred", NULL, T), 0);
    assert_int_equal(ys->transfers, 1);
    assert_false(ys->active);
    assert_memory_not_equal(ys->pk, old_young_pk, 32);

    assert_int_equal(client_wait_assigned(ben, &bs, T), 0);
    assert_string_equal(bs->sid_hex, ys->sid_hex);
    assert_memory_equal(bs->peer_pk, ys->pk, 32); /* the rekey's key, not the old one */
    assert_int_equal(client_send_keys(ben, bs), 0);
    assert_int_equal(client_young_wait_keys(young, T), 0);
    assert_int_equal(ys->peer_cert.counsellor_id, harness_account(h, "ben")->id);
    assert_memory_equal(ys->peer_cert.device_pk, harness_account(h, "ben")->device_pk, 32);
    assert_string_equal(ys->peer_name, "Ben");

    /* Both directions after the transfer: B and the young person read each
     * other, A's old keys read nothing. */
    for (int i = 0; i < 3; i++) {
        char msg[32];
        int l = snprintf(msg, sizeof msg, "to ben %d", i);
        assert_int_equal(client_send_text(young, ys, msg, (size_t)l), 0);
        recv_checked(ben, bs, &a_y2c, got, sizeof got);
        assert_string_equal(got, msg);
        l = snprintf(msg, sizeof msg, "from ben %d", i);
        assert_int_equal(client_send_text(ben, bs, msg, (size_t)l), 0);
        recv_checked(young, ys, &a_c2y, got, sizeof got);
        assert_string_equal(got, msg);
    }
    /* And A receives nothing of this session any more. */
    assert_int_equal(client_pump(anna, 300), 0);
    assert_int_equal(anna->frames_len, 0);
    lotse_channel_wipe(&a_y2c);
    lotse_channel_wipe(&a_c2y);

    assert_int_equal(client_end(young, ys), 0);
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions", 1, T), 1);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sessions WHERE transfer_count = 1 AND counsellor_id = %lld "
             "AND end_reason = 'ended_by_young'",
             (long long)harness_account(h, "ben")->id);
    assert_int_equal(harness_sql_long(h, sql), 1);
    client_free(young);
    client_free(ben);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_transfer_back_to_queue_keeps_original_waiting_time_and_colleague_takes_it(
    void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *ben, *y1, *y2;
    struct client_session *as, *bs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_young(h, "family", &y1), 0);
    harness_sleep_ms(2100); /* y1 waits a while before anna takes it */
    assert_int_equal(client_take_and_key(anna, &as, T), 0);
    assert_true(as->waited >= 2);
    assert_int_equal(client_young_wait_keys(y1, T), 0);
    /* y2 arrives later and waits. */
    assert_int_equal(harness_young(h, "family", &y2), 0);
    assert_int_equal(y2->pos, 1);

    assert_int_equal(client_transfer(anna, as, NULL, T), 0);
    assert_int_equal(client_expect(y1, "transferred", NULL, T), 0);
    /* Back in the queue ahead of y2: it has waited longer. */
    for (int i = 0; i < 40 && y2->pos != 2; i++)
        assert_int_equal(client_pump(y2, 100), 0);
    assert_int_equal(y2->pos, 2);

    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    assert_int_equal(client_take(ben, &bs, T), 0);
    assert_string_equal(bs->sid_hex, client_young_session(y1)->sid_hex);
    assert_true(bs->waited >= 2);
    assert_memory_equal(bs->peer_pk, client_young_session(y1)->pk, 32);
    assert_int_equal(client_send_keys(ben, bs), 0);
    assert_int_equal(client_young_wait_keys(y1, T), 0);
    assert_int_equal(client_young_session(y1)->peer_cert.counsellor_id,
                     harness_account(h, "ben")->id);
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_send_text(y1, client_young_session(y1), "ben?", 4), 0);
    assert_int_equal(client_recv_text(ben, NULL, got, sizeof got, T), 4);
    assert_string_equal(got, "ben?");
    client_free(y1);
    client_free(y2);
    client_free(ben);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void expect_transfer_failed(struct client *anna, struct client_session *as,
                                   struct client *young, const char *to)
{
    assert_int_equal(client_transfer(anna, as, to, T), -EPROTO);
    assert_string_equal(anna->err_code, "transfer_failed");
    assert_false(as->ended);
    /* The young person was told nothing and the chat goes on. */
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_send_text(anna, as, "still me", 8), 0);
    assert_int_equal(client_recv_text(young, NULL, got, sizeof got, T), 8);
    assert_string_equal(got, "still me");
    assert_int_equal(client_young_session(young)->transfers, 0);
}

static void test_transfer_to_unknown_offline_full_or_wrong_topic_colleague_fails(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_add_account(h, "carl", "counsellor", "Carl", "prison", 2, true), 0);
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *ben, *carl, *young, *other;
    struct client_session *as, *bs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &as), 0);

    expect_transfer_failed(anna, as, young, "nobody");
    expect_transfer_failed(anna, as, young, "ben"); /* exists, not logged in */
    assert_int_equal(harness_counsellor(h, "carl", &carl), 0);
    expect_transfer_failed(anna, as, young, "carl"); /* does not serve family */
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    assert_int_equal(harness_pair(h, ben, "prison", &other, &bs), 0);
    expect_transfer_failed(anna, as, young, "ben"); /* capacity 1, busy */
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason IS NOT NULL"),
                     0);
    client_free(other);
    client_free(young);
    client_free(carl);
    client_free(ben);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

#define TOKEN "metrics-token-for-the-test-0123456789"

/* The value of gauge `name` in /metrics, or -1. */
static long gauge(struct harness *h, const char *name)
{
    static char body[65536];
    int status = 0;
    if (harness_http_get_auth(h, 0, "/metrics", TOKEN, &status, body, sizeof body) != 0 ||
        status != 200)
        return -1;
    char needle[96];
    snprintf(needle, sizeof needle, "\n%s ", name);
    const char *p = strstr(body, needle);
    return p ? strtol(p + strlen(needle), NULL, 10) : -1;
}

static long gauge_wait(struct harness *h, const char *name, long want)
{
    long v = -1;
    for (int i = 0; i < 50 && (v = gauge(h, name)) != want; i++)
        harness_sleep_ms(100);
    return v;
}

/* The taker's side: the next session is young's, re-keyed; one message each way. */
static void take_and_talk(struct client *ben, struct client *young)
{
    struct client_session *bs;
    struct client_session *ys = client_young_session(young);
    assert_int_equal(client_take(ben, &bs, T), 0);
    assert_string_equal(bs->sid_hex, ys->sid_hex);
    assert_memory_equal(bs->peer_pk, ys->pk, 32);
    assert_int_equal(client_send_keys(ben, bs), 0);
    assert_int_equal(client_young_wait_keys(young, T), 0);
    assert_int_equal(ys->peer_cert.counsellor_id, ben->id);
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_send_text(young, ys, "still there?", 12), 0);
    assert_int_equal(client_recv_text(ben, NULL, got, sizeof got, T), 12);
    assert_int_equal(client_send_text(ben, bs, "yes, I am Ben", 13), 0);
    assert_int_equal(client_recv_text(young, NULL, got, sizeof got, T), 13);
    assert_string_equal(got, "yes, I am Ben");
}

/* #14 point 2: a counsellor who logs out with two chats open strands nobody.
 * Both go back to the queue at their old places (ahead of someone who came
 * later), the young people read why, no chat counts as running without a
 * counsellor, nothing ends, and a colleague takes them re-keyed. */
static void test_logout_hands_both_chats_back_at_their_places_and_a_colleague_takes_them(
    void **state)
{
    struct harness *h = *state;
    harness_set(h, "metrics_token", TOKEN);
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *ben, *y1, *y2, *y3;
    struct client_session *a1, *a2;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &y1, &a1), 0);
    harness_sleep_ms(20);
    assert_int_equal(harness_pair(h, anna, "family", &y2, &a2), 0);
    assert_int_equal(harness_young(h, "family", &y3), 0);
    assert_int_equal(y3->pos, 1);
    assert_int_equal(gauge_wait(h, "lotse_sessions_active", 2), 2);

    assert_int_equal(client_send_json(anna, "{\"t\":\"logout\"}"), 0);
    for (int i = 0; i < 2; i++) {
        struct client *y = i ? y2 : y1;
        assert_int_equal(client_expect(y, "transferred", NULL, T), 0);
        assert_string_equal(client_young_session(y)->transferred_reason, "counsellor_left");
    }
    /* Both re-keyed and queued again before y3, who came after them. */
    for (int i = 0; i < 50 && y3->pos != 3; i++)
        assert_int_equal(client_pump(y3, 100), 0);
    assert_int_equal(y3->pos, 3);
    assert_int_equal(gauge_wait(h, "lotse_sessions_active", 0), 0);
    assert_int_equal(gauge(h, "lotse_sessions_counsellor_reconnecting"), 0);
    assert_int_equal(gauge(h, "lotse_sessions_handing_over"), 0);
    assert_int_equal(gauge(h, "lotse_queue_waiting{topic=\"family\"}"), 3);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason IS NOT NULL"),
                     0);

    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    take_and_talk(ben, y1);
    for (int i = 0; i < 50 && y2->pos != 1; i++)
        assert_int_equal(client_pump(y2, 100), 0);
    assert_int_equal(y2->pos, 1);
    for (int i = 0; i < 50 && y3->pos != 2; i++)
        assert_int_equal(client_pump(y3, 100), 0);
    assert_int_equal(y3->pos, 2);
    assert_int_equal(gauge_wait(h, "lotse_sessions_active", 1), 1);
    client_free(y1);
    client_free(y2);
    client_free(y3);
    client_free(ben);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* A counsellor whose connection stays away: within the grace the chat counts
 * as reconnecting, not running; past it the chat goes back to the queue and a
 * colleague takes it. */
static void test_counsellor_away_past_the_grace_hands_the_chat_back(void **state)
{
    struct harness *h = *state;
    harness_set(h, "metrics_token", TOKEN);
    harness_set(h, "resume_grace", "2");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *ben, *young;
    struct client_session *as;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &as), 0);
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    assert_int_equal(gauge_wait(h, "lotse_sessions_active", 1), 1);

    client_drop(anna);
    struct client_session *ys = client_young_session(young);
    assert_int_equal(client_wait_peer(young, ys, true, T), 0);
    assert_int_equal(gauge_wait(h, "lotse_sessions_active", 0), 0);
    assert_int_equal(gauge(h, "lotse_sessions_counsellor_reconnecting"), 1);
    assert_false(ys->transferred);

    assert_int_equal(client_expect(young, "transferred", NULL, 2000 + T), 0);
    assert_string_equal(ys->transferred_reason, "counsellor_left");
    assert_int_equal(gauge_wait(h, "lotse_sessions_counsellor_reconnecting", 0), 0);
    take_and_talk(ben, young);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason IS NOT NULL"),
                     0);
    client_free(young);
    client_free(ben);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_transfer_to_colleague_rekeys_and_old_counsellor_can_decrypt_nothing_after,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_transfer_back_to_queue_keeps_original_waiting_time_and_colleague_takes_it,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_transfer_to_unknown_offline_full_or_wrong_topic_colleague_fails, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_logout_hands_both_chats_back_at_their_places_and_a_colleague_takes_them,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_counsellor_away_past_the_grace_hands_the_chat_back,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
