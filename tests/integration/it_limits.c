/* it_limits.c — the limits of PROTOCOL.md §2 that protect the service from
 * floods: admission work (§4.1.1), connections per source, queue wait, overload
 * shedding, relay frame and byte rates, and the slow reader whose send queue
 * must not become the server's memory. */
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
#include <sys/socket.h>
#include <time.h>

#include "client.h"
#include "harness.h"

#define T 5000

/* ASan keeps freed memory in quarantine and the server is built the same way
 * as this test: allow for that in the memory bound. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_GROWTH_MAX_KIB (96 * 1024)
#else
#define RSS_GROWTH_MAX_KIB (24 * 1024)
#endif

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void chat_ok(struct client *c, struct client_session *cs, struct client *y, const char *tag)
{
    char got[LOTSE_MAX_MESSAGE + 1];
    size_t l = strlen(tag);
    assert_int_equal(client_send_text(y, client_young_session(y), tag, l), 0);
    assert_int_equal(client_recv_text(c, NULL, got, sizeof got, T), (int)l);
    assert_string_equal(got, tag);
    assert_int_equal(client_send_text(c, cs, tag, l), 0);
    assert_int_equal(client_recv_text(y, NULL, got, sizeof got, T), (int)l);
    assert_string_equal(got, tag);
}

/* A DATA frame with a valid header and a bucket-sized (garbage) payload. */
static size_t data_frame(uint8_t *f, const uint8_t sid[16], uint64_t seq, size_t payload)
{
    struct lotse_frame_header hd = {.version = 1, .kind = LOTSE_FRAME_DATA, .seq = seq};
    memcpy(hd.sid, sid, 16);
    lotse_frame_encode_header(f, &hd);
    randombytes_buf(f + LOTSE_FRAME_HEADER_BYTES, payload);
    return LOTSE_FRAME_HEADER_BYTES + payload;
}

/* DATA frames (not ACKs) that arrive at c within wait_ms. */
static int count_data_frames(struct client *c, int wait_ms)
{
    int n = 0;
    int64_t deadline = mono_ms() + wait_ms;
    uint8_t f[LOTSE_MAX_BINARY_FRAME];
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        int len = client_recv_frame(c, f, sizeof f, (int)left);
        if (len < 0)
            break;
        if (len > LOTSE_FRAME_HEADER_BYTES && f[1] == LOTSE_FRAME_DATA)
            n++;
    }
    return n;
}

static void test_third_young_person_needs_admission_work_wrong_proof_bad_pow_solved_welcome(
    void **state)
{
    struct harness *h = *state;
    harness_set(h, "pow_threshold", "2");
    assert_int_equal(harness_start(h), 0);
    struct client *y1, *y2, *y3, *y4;
    assert_int_equal(harness_young(h, "family", &y1), 0);
    assert_int_equal(harness_young(h, "family", &y2), 0);
    assert_int_equal(y1->challenges + y2->challenges, 0);

    assert_int_equal(client_connect(&y3, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    y3->auto_pow = false;
    assert_int_equal(client_young_hello(y3, "family", T), -EAGAIN);
    assert_int_equal(y3->challenges, 1);
    assert_int_equal(y3->pow_bits, 16); /* pow_bits at the threshold */

    /* A nonce that does not meet the target. */
    uint8_t wrong[8] = {0};
    for (uint64_t n = 0; client_pow_check(y3->pow_seed, (int)y3->pow_bits, wrong); n++)
        for (int i = 0; i < 8; i++)
            wrong[i] = (uint8_t)(n >> (56 - 8 * i));
    assert_int_equal(client_young_hello_pow(y3, "family", wrong, T), -EPROTO);
    assert_string_equal(y3->err_code, "bad_pow");

    uint8_t nonce[8];
    uint64_t hashes = 0;
    int64_t t0 = mono_ms();
    assert_int_equal(client_pow_solve(y3->pow_seed, (int)y3->pow_bits, nonce, &hashes), 0);
    int64_t solve_ms = mono_ms() - t0;
    assert_int_equal(client_young_hello_pow(y3, "family", nonce, T), 0);
    assert_int_equal(y3->pos, 3);
    printf("admission work: %lld bits solved in %lld ms (%llu hashes)\n", (long long)y3->pow_bits,
           (long long)solve_ms, (unsigned long long)hashes);

    /* The client's automatic path: challenge, work, welcome. */
    assert_int_equal(client_connect(&y4, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_young_hello(y4, "family", T), 0);
    assert_int_equal(y4->challenges, 1);
    assert_int_equal(y4->pos, 4);
    client_free(y1);
    client_free(y2);
    client_free(y3);
    client_free(y4);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_sixth_connection_from_one_source_is_closed_4029_first_five_keep_working(
    void **state)
{
    struct harness *h = *state;
    harness_set(h, "max_connections_per_source", "5");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *y[4], *sixth;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(harness_young(h, "family", &y[i]), 0);
    int rc = client_connect(&sixth, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T);
    assert_int_equal(rc, 0);
    assert_int_equal(client_wait_close(sixth, T), 4029);
    client_free(sixth);

    struct client_session *cs;
    assert_int_equal(client_take_and_key(anna, &cs, T), 0);
    assert_int_equal(client_young_wait_keys(y[0], T), 0);
    chat_ok(anna, cs, y[0], "five are fine");
    for (int i = 0; i < 4; i++)
        client_free(y[i]);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_waiting_past_queue_max_wait_ends_the_session_as_queue_timeout(void **state)
{
    struct harness *h = *state;
    harness_set(h, "queue_max_wait", "2");
    assert_int_equal(harness_start(h), 0);
    struct client *y;
    assert_int_equal(harness_young(h, "family", &y), 0);
    int64_t t0 = mono_ms();
    assert_int_equal(client_expect(y, "ended", NULL, 2000 + T), 0);
    assert_true(mono_ms() - t0 >= 1500);
    assert_string_equal(client_young_session(y)->ended_reason, "queue_timeout");
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions WHERE end_reason = "
                                           "'queue_timeout' AND counsellor_id IS NULL", 1, T), 1);
    client_free(y);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_overload_sheds_new_hello_with_busy_1013_while_running_chat_continues(void **state)
{
    struct harness *h = *state;
    harness_set(h, "max_connections", "3");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young, *ben, *late;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &cs), 0);
    /* Logins are never shed. */
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    assert_int_equal(client_connect(&late, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_young_hello(late, "family", T), -EPROTO);
    assert_string_equal(late->err_code, "busy");
    assert_int_equal(client_wait_close(late, T), 1013);
    client_free(late);
    chat_ok(anna, cs, young, "still talking");
    client_free(young);
    client_free(ben);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_frame_rate_limit_answers_rate_limited_and_drops_frames(void **state)
{
    struct harness *h = *state;
    harness_set(h, "relay_rate", "5");
    harness_set(h, "relay_burst", "10");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &cs), 0);
    uint8_t f[LOTSE_MAX_BINARY_FRAME];
    const uint8_t *sid = client_young_session(young)->sid;
    for (int i = 1; i <= 40; i++) {
        size_t n = data_frame(f, sid, (uint64_t)i, 256 + 16);
        assert_int_equal(client_send_binary(young, f, n), 0);
    }
    int got = count_data_frames(anna, 1000);
    assert_int_equal(client_pump(young, 300), 0);
    printf("frame rate: %d of 40 frames relayed, %llu rate_limited errors\n", got,
           (unsigned long long)young->rate_limited_errors);
    assert_true(got >= 10 && got < 25);
    assert_true(young->rate_limited_errors >= 1);
    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_byte_rate_limit_answers_rate_limited_and_drops_frames(void **state)
{
    struct harness *h = *state;
    harness_set(h, "relay_bytes_rate", "8192");
    harness_set(h, "relay_bytes_burst", "16384");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &cs), 0);
    uint8_t f[LOTSE_MAX_BINARY_FRAME];
    const uint8_t *sid = client_young_session(young)->sid;
    /* 20 frames of 4,140 bytes: about 83 KB against a 16 KB burst. */
    for (int i = 1; i <= 20; i++) {
        size_t n = data_frame(f, sid, (uint64_t)i, 4096 + 16);
        assert_int_equal(client_send_binary(young, f, n), 0);
    }
    int got = count_data_frames(anna, 1000);
    assert_int_equal(client_pump(young, 300), 0);
    printf("byte rate: %d of 20 large frames relayed, %llu rate_limited errors\n", got,
           (unsigned long long)young->rate_limited_errors);
    assert_true(got >= 3 && got <= 8);
    assert_true(young->rate_limited_errors >= 1);
    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_slow_reader_is_closed_4008_memory_stays_bounded_other_chat_unaffected(
    void **state)
{
    struct harness *h = *state;
    harness_set(h, "send_queue_max", "64");
    harness_set(h, "hold_max_frames", "32"); /* lotsed wants it below send_queue_max - 16 */
    harness_set(h, "relay_rate", "100000");
    harness_set(h, "relay_burst", "100000");
    harness_set(h, "relay_bytes_rate", "100000000");
    harness_set(h, "relay_bytes_burst", "100000000");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young, *ben, *y2;
    struct client_session *cs, *bs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    int small = 4096;
    assert_int_equal(setsockopt(anna->ws->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &cs), 0);
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    assert_int_equal(harness_pair(h, ben, "prison", &y2, &bs), 0);
    chat_ok(ben, bs, y2, "before the flood");

    long rss0 = harness_rss_kib(h);
    assert_true(rss0 > 0);
    /* anna stops reading; the young person sends 2,000 frames of 4 KiB (8 MiB). */
    uint8_t f[LOTSE_MAX_BINARY_FRAME];
    const uint8_t *sid = client_young_session(young)->sid;
    int sent = 0;
    for (int i = 1; i <= 2000; i++) {
        size_t n = data_frame(f, sid, (uint64_t)i, 4096 + 16);
        if (client_send_binary(young, f, n) < 0)
            break;
        sent++;
        if (i % 50 == 0) {
            assert_int_equal(client_pump(young, 5), 0); /* read errors, stay a good reader */
            /* the other chat goes on meanwhile */
            if (i % 500 == 0)
                chat_ok(ben, bs, y2, "during the flood");
        }
    }
    assert_int_equal(client_pump(young, 300), 0);
    long rss1 = harness_rss_kib(h);
    /* anna reads again: what is in her socket, then the server's close. */
    int code = client_wait_close(anna, 3 * T);
    printf("slow reader: %d frames sent, close %d (stream ended: %s), rate_limited %llu, "
           "peer_away_full %llu, RSS %ld -> %ld KiB\n",
           sent, code, anna->ws->eof ? "yes" : "no", (unsigned long long)young->rate_limited_errors,
           (unsigned long long)young->away_full_errors, rss0, rss1);
    /* The server let go of the slow reader: its connection closed with 4008, or
     * (when its socket is too full for a close frame to get through) the young
     * person was told the counsellor is away and further frames were held. */
    bool dropped = code == 4008 || young->away_full_errors > 0 ||
                   client_wait_peer(young, client_young_session(young), true, T) == 0;
    assert_true(dropped || young->rate_limited_errors > 0);
    /* 8 MiB went through; the server kept at most a send queue and a hold. */
    assert_true(rss1 - rss0 < RSS_GROWTH_MAX_KIB);
    chat_ok(ben, bs, y2, "after the flood");
    client_free(young);
    client_free(y2);
    client_free(ben);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_third_young_person_needs_admission_work_wrong_proof_bad_pow_solved_welcome,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_sixth_connection_from_one_source_is_closed_4029_first_five_keep_working,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_waiting_past_queue_max_wait_ends_the_session_as_queue_timeout, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_overload_sheds_new_hello_with_busy_1013_while_running_chat_continues,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_frame_rate_limit_answers_rate_limited_and_drops_frames,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_byte_rate_limit_answers_rate_limited_and_drops_frames,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_slow_reader_is_closed_4008_memory_stays_bounded_other_chat_unaffected,
            harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
