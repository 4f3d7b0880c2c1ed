/* it_relay.c — the relay path (PROTOCOL.md §3): the server forwards frames byte
 * for byte and checks only the header; replays and reordering are caught by the
 * receiving client; the server refuses frames that are malformed, early, or for
 * someone else's session. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "harness.h"

#define T 5000

struct pair {
    struct client *anna, *young;
    struct client_session *cs, *ys;
};

static void pair_up(struct harness *h, struct pair *p)
{
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(harness_counsellor(h, "anna", &p->anna), 0);
    assert_int_equal(harness_pair(h, p->anna, "family", &p->young, &p->cs), 0);
    p->ys = client_young_session(p->young);
}

static void pair_down(struct harness *h, struct pair *p)
{
    client_free(p->young);
    client_free(p->anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
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

static void test_replayed_frame_is_dropped_by_the_receiver(void **state)
{
    struct harness *h = *state;
    struct pair p;
    pair_up(h, &p);
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_send_text(p.anna, p.cs, "once", 4), 0);
    assert_int_equal(client_recv_text(p.young, NULL, got, sizeof got, T), 4);
    assert_string_equal(got, "once");
    /* The same bytes again, as a server replaying them would send. */
    assert_int_equal(client_send_binary(p.anna, p.anna->last_frame, p.anna->last_frame_len), 0);
    got[0] = 0;
    assert_int_equal(client_recv_text(p.young, NULL, got, sizeof got, T), -EALREADY);
    assert_string_equal(got, "");
    /* The channel goes on. */
    assert_int_equal(client_send_text(p.anna, p.cs, "twice", 5), 0);
    assert_int_equal(client_recv_text(p.young, NULL, got, sizeof got, T), 5);
    assert_string_equal(got, "twice");
    pair_down(h, &p);
}

static void test_reordered_pair_is_rejected(void **state)
{
    struct harness *h = *state;
    struct pair p;
    pair_up(h, &p);
    uint8_t a[LOTSE_MAX_BINARY_FRAME], b[LOTSE_MAX_BINARY_FRAME];
    int al = client_seal(p.young, p.ys, "first", 5, a);
    int bl = client_seal(p.young, p.ys, "second", 6, b);
    assert_true(al > 0 && bl > 0);
    assert_int_equal(client_send_binary(p.young, b, (size_t)bl), 0);
    assert_int_equal(client_send_binary(p.young, a, (size_t)al), 0);
    char got[LOTSE_MAX_MESSAGE + 1] = "";
    assert_int_equal(client_recv_text(p.anna, NULL, got, sizeof got, T), -ERANGE);
    assert_string_equal(got, "");
    /* The server forwarded both untouched: the first one still opens. */
    assert_int_equal(client_recv_text(p.anna, NULL, got, sizeof got, T), 5);
    assert_string_equal(got, "first");
    pair_down(h, &p);
}

static void test_data_before_keys_is_session_not_active(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_young(h, "family", &young), 0);
    uint8_t f[LOTSE_MAX_BINARY_FRAME];
    /* Still waiting: no counsellor yet. */
    size_t n = data_frame(f, client_young_session(young)->sid, 1, 256 + 16);
    assert_int_equal(client_send_binary(young, f, n), 0);
    assert_int_equal(client_expect_error(young, "session_not_active", T), 0);
    assert_string_equal(young->err_sid, client_young_session(young)->sid_hex);
    /* Assigned, keys not yet sent: from either side. */
    assert_int_equal(client_take(anna, &cs, T), 0);
    n = data_frame(f, cs->sid, 1, 256 + 16);
    assert_int_equal(client_send_binary(anna, f, n), 0);
    assert_int_equal(client_expect_error(anna, "session_not_active", T), 0);
    assert_string_equal(anna->err_sid, cs->sid_hex);
    assert_int_equal(client_send_binary(young, f, n), 0);
    assert_int_equal(client_expect_error(young, "session_not_active", T), 0);
    /* An ACK is refused the same way. */
    assert_int_equal(client_send_ack(anna, cs, 1), 0);
    assert_int_equal(client_expect_error(anna, "session_not_active", T), 0);
    /* Nothing was forwarded. */
    assert_int_equal(client_pump(young, 200), 0);
    assert_int_equal(young->frames_len, 0);
    assert_int_equal(client_pump(anna, 200), 0);
    assert_int_equal(anna->frames_len, 0);
    /* keys twice is refused too. */
    assert_int_equal(client_send_keys(anna, cs), 0);
    assert_int_equal(client_young_wait_keys(young, T), 0);
    assert_int_equal(client_send_keys(anna, cs), 0);
    assert_int_equal(client_expect_error(anna, "session_not_active", T), 0);
    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_frame_for_a_foreign_session_is_refused(void **state)
{
    struct harness *h = *state;
    struct pair p;
    pair_up(h, &p);
    struct client *ben, *young2;
    struct client_session *bs;
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    assert_int_equal(harness_pair(h, ben, "prison", &young2, &bs), 0);

    uint8_t f[LOTSE_MAX_BINARY_FRAME];
    size_t n = data_frame(f, bs->sid, 1, 256 + 16);
    assert_int_equal(client_send_binary(p.anna, f, n), 0);
    assert_int_equal(client_expect_error(p.anna, "not_your_session", T), 0);
    assert_string_equal(p.anna->err_sid, bs->sid_hex);
    /* From the other young person too. */
    assert_int_equal(client_send_binary(p.young, f, n), 0);
    assert_int_equal(client_expect_error(p.young, "not_your_session", T), 0);
    /* A session that does not exist. */
    uint8_t nosid[16];
    randombytes_buf(nosid, sizeof nosid);
    n = data_frame(f, nosid, 1, 256 + 16);
    assert_int_equal(client_send_binary(p.anna, f, n), 0);
    assert_int_equal(client_expect_error(p.anna, "no_such_session", T), 0);
    /* Nothing reached ben's pair. */
    assert_int_equal(client_pump(ben, 200), 0);
    assert_int_equal(ben->frames_len, 0);
    assert_int_equal(client_pump(young2, 200), 0);
    assert_int_equal(young2->frames_len, 0);
    client_free(young2);
    client_free(ben);
    pair_down(h, &p);
}

static void expect_bad_frame(struct client *c, const uint8_t *f, size_t n)
{
    assert_int_equal(client_send_binary(c, f, n), 0);
    assert_int_equal(client_expect_error(c, "bad_frame", T), 0);
}

static void test_bad_header_or_payload_size_is_bad_frame(void **state)
{
    struct harness *h = *state;
    struct pair p;
    pair_up(h, &p);
    uint8_t f[LOTSE_MAX_BINARY_FRAME + 8];
    const uint8_t *sid = p.cs->sid;

    size_t n = data_frame(f, sid, 1, 256 + 16);
    f[0] = 2; /* version */
    expect_bad_frame(p.anna, f, n);
    n = data_frame(f, sid, 1, 256 + 16);
    f[1] = 4; /* kind (3 is MAIL, §9) */
    expect_bad_frame(p.anna, f, n);
    n = data_frame(f, sid, 1, 256 + 16);
    f[3] = 1; /* flags */
    expect_bad_frame(p.anna, f, n);
    n = data_frame(f, sid, 0, 256 + 16); /* seq 0 */
    expect_bad_frame(p.anna, f, n);
    n = data_frame(f, sid, 1, 100); /* not a bucket */
    expect_bad_frame(p.anna, f, n);
    n = data_frame(f, sid, 1, 256 + 15);
    expect_bad_frame(p.anna, f, n);
    n = data_frame(f, sid, 1, 0); /* DATA without payload */
    expect_bad_frame(p.anna, f, n);
    n = data_frame(f, sid, 1, 0);
    f[1] = LOTSE_FRAME_ACK; /* ACK without its tag (the unauthenticated form of old) */
    expect_bad_frame(p.anna, f, n);
    n = data_frame(f, sid, 1, LOTSE_ACK_TAG_BYTES + 1);
    f[1] = LOTSE_FRAME_ACK; /* ACK with more than a tag */
    expect_bad_frame(p.anna, f, n);
    expect_bad_frame(p.anna, f, 27); /* shorter than a header */
    /* Nothing reached the young person, and the session still works. */
    assert_int_equal(client_pump(p.young, 200), 0);
    assert_int_equal(p.young->frames_len, 0);
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_send_text(p.anna, p.cs, "still here", 10), 0);
    assert_int_equal(client_recv_text(p.young, NULL, got, sizeof got, T), 10);
    pair_down(h, &p);
}

static void test_ack_frames_are_forwarded_unchanged(void **state)
{
    struct harness *h = *state;
    struct pair p;
    pair_up(h, &p);
    p.young->auto_ack = false;
    p.anna->auto_ack = false;
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_send_text(p.anna, p.cs, "m", 1), 0);
    assert_int_equal(client_recv_text(p.young, NULL, got, sizeof got, T), 1);
    assert_int_equal(client_send_ack(p.young, p.ys, 1), 0);
    uint8_t f[LOTSE_MAX_BINARY_FRAME];
    assert_int_equal(client_recv_frame(p.anna, f, sizeof f, T), LOTSE_ACK_FRAME_BYTES);
    uint8_t want[LOTSE_ACK_FRAME_BYTES];
    assert_int_equal(lotse_channel_ack(&p.ys->ch, 1, want), LOTSE_ACK_FRAME_BYTES);
    assert_memory_equal(f, want, sizeof want);
    /* And the other way, through the client's ACK bookkeeping: the young
     * person's two frames, acknowledged by the counsellor's authentic ACK. */
    assert_int_equal(client_send_text(p.young, p.ys, "a", 1), 0);
    assert_int_equal(client_send_text(p.young, p.ys, "b", 1), 0);
    assert_int_equal(client_recv_text(p.anna, NULL, got, sizeof got, T), 1);
    assert_int_equal(client_recv_text(p.anna, NULL, got, sizeof got, T), 1);
    assert_int_equal(client_send_ack(p.anna, p.cs, 2), 0);
    assert_int_equal(client_send_text(p.anna, p.cs, "n", 1), 0);
    assert_int_equal(client_recv_text(p.young, NULL, got, sizeof got, T), 1);
    assert_int_equal(p.ys->acks_received, 1);
    assert_int_equal(p.ys->acked_by_peer, 2);
    assert_int_equal(p.ys->unacked_len, 0);
    pair_down(h, &p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replayed_frame_is_dropped_by_the_receiver,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_reordered_pair_is_rejected, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_data_before_keys_is_session_not_active, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_frame_for_a_foreign_session_is_refused, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_bad_header_or_payload_size_is_bad_frame,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_ack_frames_are_forwarded_unchanged, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
