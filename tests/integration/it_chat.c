/* it_chat.c — a young person and a counsellor chat end to end through the real
 * lotsed; the server never holds, logs or stores the plaintext, and stores only
 * the metadata row PROTOCOL.md §7 allows. */
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

/* A random marker, so a hit can only come from this run's plaintext. */
static void make_marker(char *out, size_t cap)
{
    uint8_t r[12];
    char hex[25];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(hex, sizeof hex, r, sizeof r);
    snprintf(out, cap, "PLAINTEXT-MARKER-%s", hex);
}

/* A message of exactly len bytes that starts with the marker. */
static char *make_message(const char *marker, size_t len)
{
    char *m = malloc(len + 1);
    assert_non_null(m);
    for (size_t i = 0; i < len; i++)
        m[i] = (char)('a' + i % 26);
    size_t ml = strlen(marker);
    memcpy(m, marker, ml < len ? ml : len);
    m[len] = 0;
    return m;
}

/* Sends text from one side and checks the other decrypts exactly it. */
static void exchange(struct client *from, struct client_session *fs, struct client *to,
                     const char *text, size_t len)
{
    char got[LOTSE_MAX_MESSAGE + 1];
    struct client_session *ts = NULL;
    assert_int_equal(client_send_text(from, fs, text, len), 0);
    int n = client_recv_text(to, &ts, got, sizeof got, T);
    assert_int_equal(n, (int)len);
    assert_memory_equal(got, text, len);
    assert_non_null(ts);
    assert_string_equal(ts->sid_hex, fs->sid_hex);
}

static void test_messages_both_ways_decrypt_in_every_bucket_and_at_max_length(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &cs), 0);
    struct client_session *ys = client_young_session(young);
    assert_string_equal(ys->peer_name, "Anna");

    char marker[64];
    make_marker(marker, sizeof marker);
    /* 254 fills the small bucket, 1022 the medium one, 4094 the large one. */
    const size_t sizes[] = {1, 40, 254, 255, 600, 1022, 1023, 3000, LOTSE_MAX_MESSAGE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *m = make_message(marker, sizes[i]);
        exchange(young, ys, anna, m, sizes[i]);
        exchange(anna, cs, young, m, sizes[i]);
        free(m);
    }
    /* Several in a row, before the peer reads any. */
    for (int i = 0; i < 5; i++) {
        char m[32];
        snprintf(m, sizeof m, "burst %d", i);
        assert_int_equal(client_send_text(anna, cs, m, strlen(m)), 0);
    }
    for (int i = 0; i < 5; i++) {
        char want[32], got[LOTSE_MAX_MESSAGE + 1];
        snprintf(want, sizeof want, "burst %d", i);
        assert_int_equal(client_recv_text(young, NULL, got, sizeof got, T), (int)strlen(want));
        assert_string_equal(got, want);
    }
    /* One byte past the limit: the client refuses to send. */
    char *big = make_message(marker, LOTSE_MAX_MESSAGE + 1);
    assert_int_equal(client_send_text(young, ys, big, LOTSE_MAX_MESSAGE + 1), -EMSGSIZE);
    free(big);

    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* §6 "Messages": a timed text and typing notices cross the relay like any
 * frame; the receiver gets the text with the sender's time, and the notices
 * (acknowledged, never shown as a text) set the peer's typing state. */
static void test_timed_text_and_typing_travel_end_to_end(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs, *ts = NULL;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &cs), 0);
    struct client_session *ys = client_young_session(young);
    char got[LOTSE_MAX_MESSAGE + 1];

    assert_int_equal(client_send_typing(young, ys, true), 0);
    assert_int_equal(client_send_timed(young, ys, 1767225600123ULL, "Hallo", 5), 0);
    assert_int_equal(client_recv_text(anna, &ts, got, sizeof got, T), 5);
    assert_string_equal(got, "Hallo");
    assert_ptr_equal(ts, cs);
    assert_int_equal(cs->last_rx_type, LOTSE_INNER_TIMED_TEXT);
    assert_true(cs->last_rx_time_ms == 1767225600123ULL);
    assert_int_equal(cs->peer_typing, 1);
    assert_true(cs->typing_seen == 1);

    assert_int_equal(client_send_typing(anna, cs, true), 0);
    assert_int_equal(client_send_typing(anna, cs, false), 0);
    static const char back[] = "Hallo zur\xc3\xbc"
                               "ck";
    assert_int_equal(client_send_timed(anna, cs, 1767225660000ULL, back, 13), 0);
    assert_int_equal(client_recv_text(young, NULL, got, sizeof got, T), 13);
    assert_string_equal(got, back);
    assert_true(ys->last_rx_time_ms == 1767225660000ULL);
    assert_int_equal(ys->peer_typing, 0);
    assert_true(ys->typing_seen == 2);
    /* every frame, notices too, was acknowledged: nothing waits for a resend */
    assert_int_equal(client_pump(young, 400), 0);
    assert_int_equal(client_pump(anna, 400), 0);
    assert_true(ys->acked_by_peer == 2 && cs->acked_by_peer == 3);

    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_plaintext_never_in_server_memory_log_or_database(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "school", &young, &cs), 0);
    struct client_session *ys = client_young_session(young);

    char marker[64];
    make_marker(marker, sizeof marker);
    for (int i = 0; i < 10; i++) {
        char *m = make_message(marker, 100 + (size_t)i * 300);
        exchange(young, ys, anna, m, strlen(m));
        exchange(anna, cs, young, m, strlen(m));
        free(m);
    }

    /* The scanner must be able to see what the server does hold: the session id. */
    long control = harness_scan_memory(h, cs->sid, sizeof cs->sid);
    assert_true(control > 0);
    assert_int_equal(harness_scan_memory(h, marker, strlen(marker)), 0);

    assert_int_equal(client_end(young, ys), 0);
    assert_int_equal(client_expect(anna, "ended", NULL, T), 0);
    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions", 1, T), 1);

    assert_int_equal(harness_scan_memory(h, marker, strlen(marker)), 0);
    assert_int_equal(harness_log_count(h, marker), 0);
    /* Positive control for the database scan: the topic is stored. */
    assert_true(harness_db_scan_substring(h, "school", 6) > 0);
    /* ... and a byte needle with a NUL in it is searched whole, not cut there
     * (a session id may start with 0x00). */
    assert_int_equal(harness_db_scan_substring(h, "\0school", 7), 0);
    assert_int_equal(harness_db_scan_substring(h, marker, strlen(marker)), 0);
    /* Nor the session id or the young person's key, as text or bytes. */
    assert_int_equal(harness_db_scan_substring(h, cs->sid_hex, 32), 0);
    assert_int_equal(harness_db_scan_substring(h, cs->sid, 16), 0);
    assert_int_equal(harness_db_scan_substring(h, cs->peer_pk, 32), 0);
    assert_int_equal(harness_log_count(h, cs->sid_hex), 0);

    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    assert_int_equal(harness_log_count(h, marker), 0);
    harness_pass(h);
}

static void test_session_row_after_end_has_metadata_and_rounded_start(void **state)
{
    struct harness *h = *state;
    harness_set(h, "start_bucket", "900");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_young(h, "family", &young), 0);
    harness_sleep_ms(1200); /* a measurable wait */
    assert_int_equal(client_take_and_key(anna, &cs, T), 0);
    assert_int_equal(client_young_wait_keys(young, T), 0);
    exchange(anna, cs, young, "hello", 5);
    harness_sleep_ms(1200); /* a measurable conversation */
    /* the row is there from the start (a crash must not lose it), still open */
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason IS NULL"), 1);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions"), 1);

    assert_int_equal(client_end(young, client_young_session(young)), 0);
    struct lotse_json_msg *m = malloc(sizeof *m);
    assert_int_equal(client_expect(anna, "ended", m, T), 0);
    const char *reason;
    size_t rl;
    assert_int_equal(lotse_json_get_str(m, "reason", 64, &reason, &rl), 0);
    assert_string_equal(reason, "ended_by_young");
    assert_int_equal(client_expect(young, "ended", m, T), 0);
    assert_int_equal(lotse_json_get_str(m, "reason", 64, &reason, &rl), 0);
    assert_string_equal(reason, "ended_by_young");
    free(m);

    assert_int_equal(harness_wait_count(h, "SELECT count(*) FROM sessions", 1, T), 1);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sessions WHERE topic = 'family' AND end_reason = 'ended_by_young'"
             " AND counsellor_id = %lld AND wait_seconds BETWEEN 1 AND 10"
             " AND duration_seconds BETWEEN 1 AND 20 AND transfer_count = 0",
             (long long)harness_account(h, "anna")->id);
    assert_int_equal(harness_sql_long(h, sql), 1);
    /* Rounded down to the 15-minute bucket, never the exact time. */
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE "
                                         "extract(epoch FROM started_bucket)::bigint % 900 = 0 AND "
                                         "started_bucket <= now() AND started_bucket > now() - "
                                         "interval '16 minutes'"),
                     1);
    /* Nothing that looks like an address anywhere in the database; the regex
     * scan itself is shown to work on a value that is there. */
    assert_true(harness_db_scan_regex(h, "^ended_by_you") > 0);
    assert_int_equal(harness_db_scan_regex(h, HARNESS_RE_IPV4), 0);
    assert_int_equal(harness_db_scan_regex(h, HARNESS_RE_IPV6), 0);

    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_counsellor_end_reaches_both_sides(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &cs), 0);
    exchange(young, client_young_session(young), anna, "hi", 2);
    uint8_t late[LOTSE_MAX_BINARY_FRAME];
    int late_len = client_seal(anna, cs, "late", 4, late);
    assert_true(late_len > 0);
    assert_int_equal(client_end(anna, cs), 0);
    assert_int_equal(client_expect(young, "ended", NULL, T), 0);
    assert_string_equal(client_young_session(young)->ended_reason, "ended_by_counsellor");
    assert_int_equal(client_expect(anna, "ended", NULL, T), 0);
    assert_true(cs->ended);
    assert_string_equal(cs->ended_reason, "ended_by_counsellor");
    assert_int_equal(harness_wait_count(h,
        "SELECT count(*) FROM sessions WHERE end_reason = 'ended_by_counsellor'", 1, T), 1);
    /* The session is gone: its frames are refused. */
    assert_int_equal(client_send_binary(anna, late, (size_t)late_len), 0);
    assert_int_equal(client_expect_error(anna, "no_such_session", T), 0);
    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_log_holds_no_peer_address(void **state)
{
    struct harness *h = *state;
    /* No resume grace: the dropped young person ends the session at once, so the
     * whole life of a session is in the log. */
    harness_set(h, "resume_grace", "0");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &cs), 0);
    exchange(young, client_young_session(young), anna, "hi", 2);
    client_free(young);
    assert_int_equal(client_expect(anna, "ended", NULL, T), 0);
    assert_string_equal(cs->ended_reason, "young_left");
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    /* The listen address is configuration, not a person's; any other line with
     * the loopback address came from a peer. */
    char *log = harness_log_read(h);
    assert_non_null(log);
    int bad = 0;
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strstr(line, "127.0.0.1") && !strstr(line, "listen")) {
            fprintf(stderr, "address in log: %s\n", line);
            bad++;
        }
    }
    free(log);
    assert_int_equal(bad, 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_messages_both_ways_decrypt_in_every_bucket_and_at_max_length,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_timed_text_and_typing_travel_end_to_end, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_plaintext_never_in_server_memory_log_or_database,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_session_row_after_end_has_metadata_and_rounded_start,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_counsellor_end_reaches_both_sides, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_log_holds_no_peer_address, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
