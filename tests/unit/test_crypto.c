/* test_crypto.c — proto/src/crypto.c: certificates, transcript, channel. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "lotse/crypto.h"
#include "lotse/inner.h"

#define NOW 1767225600ULL

struct fixture {
    uint8_t org_pk[32], org_sk[64], dev_pk[32], dev_sk[64];
    uint8_t ypk[32], ysk[32], cpk[32], csk[32], sid[16];
    struct lotse_channel y, c;
    uint8_t frame[LOTSE_MAX_BINARY_FRAME];
    uint8_t msg[LOTSE_MAX_MESSAGE + 1];
    uint8_t out[LOTSE_MAX_MESSAGE];
};

static int setup(void **state)
{
    static struct fixture fx;
    struct fixture *f = &fx;

    memset(f, 0, sizeof(*f));
    crypto_sign_keypair(f->org_pk, f->org_sk);
    crypto_sign_keypair(f->dev_pk, f->dev_sk);
    crypto_kx_keypair(f->ypk, f->ysk);
    crypto_kx_keypair(f->cpk, f->csk);
    randombytes_buf(f->sid, sizeof(f->sid));
    if (lotse_channel_young(&f->y, f->sid, f->ypk, f->ysk, f->cpk) != 0 ||
        lotse_channel_counsellor(&f->c, f->sid, f->cpk, f->csk, f->ypk) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(f->msg); i++)
        f->msg[i] = (uint8_t)i;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    lotse_channel_wipe(&f->y);
    lotse_channel_wipe(&f->c);
    return 0;
}

static int seal_y(struct fixture *f, size_t len)
{
    return lotse_channel_seal(&f->y, LOTSE_INNER_TEXT, f->msg, len, f->frame, sizeof(f->frame));
}

static int open_c(struct fixture *f, const uint8_t *frame, size_t len)
{
    uint8_t type;
    return lotse_channel_open(&f->c, frame, len, &type, f->out, sizeof(f->out));
}

/* ---- certificates ---- */

static void test_cert_sign_then_verify_returns_fields(void **state)
{
    struct fixture *f = *state;
    struct lotse_cert c = {.counsellor_id = 0xfedcba98, .expires = NOW + 60}, out;
    uint8_t cert[LOTSE_CERT_BYTES];

    memcpy(c.device_pk, f->dev_pk, 32);
    assert_int_equal(lotse_cert_sign(cert, &c, f->org_sk), 0);
    assert_int_equal(cert[0], 1);
    assert_int_equal(cert[1], LOTSE_CERT_ROLE_COUNSELLOR);
    assert_int_equal(lotse_cert_verify(&out, cert, sizeof(cert), f->org_pk, NOW), 0);
    assert_int_equal(out.counsellor_id, 0xfedcba98);
    assert_true(out.expires == NOW + 60);
    assert_memory_equal(out.device_pk, f->dev_pk, 32);
    assert_int_equal(lotse_cert_verify(NULL, cert, sizeof(cert), f->org_pk, NOW), 0);
}

static void test_cert_verify_rejects_every_tampered_byte_with_eperm(void **state)
{
    struct fixture *f = *state;
    struct lotse_cert c = {.counsellor_id = 7, .expires = NOW + 60};
    uint8_t cert[LOTSE_CERT_BYTES];

    memcpy(c.device_pk, f->dev_pk, 32);
    lotse_cert_sign(cert, &c, f->org_sk);
    /* bytes 0-1 are version and role: a format error, tested below */
    for (size_t i = 2; i < sizeof(cert); i++) {
        cert[i] ^= 0x04;
        assert_int_equal(lotse_cert_verify(NULL, cert, sizeof(cert), f->org_pk, NOW), -EPERM);
        cert[i] ^= 0x04;
    }
}

static void test_cert_verify_rejects_format_errors_with_ebadmsg(void **state)
{
    struct fixture *f = *state;
    struct lotse_cert c = {.counsellor_id = 7, .expires = NOW + 60};
    uint8_t cert[LOTSE_CERT_BYTES + 1];

    lotse_cert_sign(cert, &c, f->org_sk);
    assert_int_equal(lotse_cert_verify(NULL, cert, LOTSE_CERT_BYTES - 1, f->org_pk, NOW), -EBADMSG);
    assert_int_equal(lotse_cert_verify(NULL, cert, LOTSE_CERT_BYTES + 1, f->org_pk, NOW), -EBADMSG);
    cert[0] = 2;
    assert_int_equal(lotse_cert_verify(NULL, cert, LOTSE_CERT_BYTES, f->org_pk, NOW), -EBADMSG);
    cert[0] = 1;
    cert[1] = 0;
    assert_int_equal(lotse_cert_verify(NULL, cert, LOTSE_CERT_BYTES, f->org_pk, NOW), -EBADMSG);
}

static void test_cert_verify_expires_at_the_expiry_second(void **state)
{
    struct fixture *f = *state;
    struct lotse_cert c = {.counsellor_id = 7, .expires = NOW};
    uint8_t cert[LOTSE_CERT_BYTES];

    lotse_cert_sign(cert, &c, f->org_sk);
    assert_int_equal(lotse_cert_verify(NULL, cert, sizeof(cert), f->org_pk, NOW - 1), 0);
    assert_int_equal(lotse_cert_verify(NULL, cert, sizeof(cert), f->org_pk, NOW), -EKEYEXPIRED);
    assert_int_equal(lotse_cert_verify(NULL, cert, sizeof(cert), f->dev_pk, NOW), -EPERM);
}

/* ---- transcript ---- */

static void test_kx_verify_rejects_any_swapped_input(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[64], other[32], sid2[16];

    assert_int_equal(lotse_kx_sign(sig, f->sid, f->ypk, f->cpk, f->dev_sk), 0);
    assert_int_equal(lotse_kx_verify(sig, f->sid, f->ypk, f->cpk, f->dev_pk), 0);
    randombytes_buf(other, sizeof(other));
    assert_int_equal(lotse_kx_verify(sig, f->sid, other, f->cpk, f->dev_pk), -EPERM);
    assert_int_equal(lotse_kx_verify(sig, f->sid, f->ypk, other, f->dev_pk), -EPERM);
    assert_int_equal(lotse_kx_verify(sig, f->sid, f->cpk, f->ypk, f->dev_pk), -EPERM);
    assert_int_equal(lotse_kx_verify(sig, f->sid, f->ypk, f->cpk, f->org_pk), -EPERM);
    memcpy(sid2, f->sid, 16);
    sid2[0] ^= 1;
    assert_int_equal(lotse_kx_verify(sig, sid2, f->ypk, f->cpk, f->dev_pk), -EPERM);
    sig[63] ^= 0x01;
    assert_int_equal(lotse_kx_verify(sig, f->sid, f->ypk, f->cpk, f->dev_pk), -EPERM);
}

/* ---- channel ---- */

static void test_channel_directions_pair_up(void **state)
{
    struct fixture *f = *state;
    assert_memory_equal(f->y.tx, f->c.rx, 32);
    assert_memory_equal(f->y.rx, f->c.tx, 32);
    assert_memory_not_equal(f->y.tx, f->y.rx, 32);
    assert_int_equal(f->y.dir_tx, LOTSE_DIR_Y2C);
    assert_int_equal(f->c.dir_tx, LOTSE_DIR_C2Y);
    assert_true(f->y.next_tx_seq == 1 && f->y.last_rx_seq == 0);
}

static void test_channel_rejects_all_zero_peer_key(void **state)
{
    struct fixture *f = *state;
    struct lotse_channel ch;
    uint8_t zero[32] = {0};
    assert_int_equal(lotse_channel_young(&ch, f->sid, f->ypk, f->ysk, zero), -EINVAL);
    assert_int_equal(lotse_channel_counsellor(&ch, f->sid, f->cpk, f->csk, zero), -EINVAL);
}

static void test_seal_open_round_trip_both_ways(void **state)
{
    struct fixture *f = *state;
    uint8_t type = 0;
    int n = seal_y(f, 5);

    assert_int_equal(n, LOTSE_FRAME_HEADER_BYTES + LOTSE_BUCKET_SMALL + LOTSE_AEAD_ABYTES);
    assert_int_equal(open_c(f, f->frame, (size_t)n), 5);
    assert_memory_equal(f->out, f->msg, 5);
    assert_true(f->c.last_rx_seq == 1 && f->y.next_tx_seq == 2);

    n = lotse_channel_seal(&f->c, 0x42, f->msg, 0, f->frame, sizeof(f->frame));
    assert_true(n > 0);
    assert_int_equal(lotse_channel_open(&f->y, f->frame, (size_t)n, &type, f->out, 0), 0);
    assert_int_equal(type, 0x42);
}

static void test_seal_picks_the_smallest_bucket_at_each_boundary(void **state)
{
    struct fixture *f = *state;
    static const struct {
        size_t len, bucket;
    } cases[] = {{0, 256}, {254, 256}, {255, 1024}, {1022, 1024}, {1023, 4096}, {4094, 4096}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = seal_y(f, cases[i].len);
        assert_int_equal(n, LOTSE_FRAME_HEADER_BYTES + cases[i].bucket + LOTSE_AEAD_ABYTES);
        assert_int_equal(open_c(f, f->frame, (size_t)n), (int)cases[i].len);
        assert_memory_equal(f->out, f->msg, cases[i].len);
    }
}

static void test_seal_max_message_ok_and_one_more_is_emsgsize(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(seal_y(f, LOTSE_MAX_MESSAGE), LOTSE_MAX_BINARY_FRAME);
    assert_int_equal(seal_y(f, LOTSE_MAX_MESSAGE + 1), -EMSGSIZE);
    assert_true(f->y.next_tx_seq == 2); /* the failed seal used no sequence number */
}

static void test_seal_reports_enospc_for_small_buffer(void **state)
{
    struct fixture *f = *state;
    uint8_t small[LOTSE_FRAME_HEADER_BYTES + LOTSE_BUCKET_SMALL + LOTSE_AEAD_ABYTES];
    assert_int_equal(lotse_channel_seal(&f->y, 1, f->msg, 10, small, sizeof(small) - 1), -ENOSPC);
    assert_int_equal(lotse_channel_seal(&f->y, 1, f->msg, 10, small, sizeof(small)),
                     (int)sizeof(small));
    assert_int_equal(lotse_channel_seal(&f->y, 1, f->msg, 300, small, sizeof(small)), -ENOSPC);
}

static void test_seal_refuses_a_wiped_channel(void **state)
{
    struct fixture *f = *state;
    struct lotse_channel ch = f->y;
    lotse_channel_wipe(&ch);
    assert_int_equal(lotse_channel_seal(&ch, 1, f->msg, 1, f->frame, sizeof(f->frame)), -EINVAL);
}

static void test_open_rejects_replayed_frame(void **state)
{
    struct fixture *f = *state;
    int n = seal_y(f, 3);
    assert_int_equal(open_c(f, f->frame, (size_t)n), 3);
    assert_int_equal(open_c(f, f->frame, (size_t)n), -EALREADY);
    assert_true(f->c.last_rx_seq == 1);
}

static void test_open_rejects_gap_and_reorder_then_accepts_in_order(void **state)
{
    struct fixture *f = *state;
    static uint8_t f1[LOTSE_MAX_BINARY_FRAME];
    int n1 = seal_y(f, 1);
    memcpy(f1, f->frame, (size_t)n1);
    int n2 = seal_y(f, 2);

    assert_int_equal(open_c(f, f->frame, (size_t)n2), -ERANGE);
    assert_true(f->c.last_rx_seq == 0);
    assert_int_equal(open_c(f, f1, (size_t)n1), 1);
    assert_int_equal(open_c(f, f->frame, (size_t)n2), 2);
}

static void test_open_rejects_any_flipped_bit_and_changes_nothing(void **state)
{
    struct fixture *f = *state;
    int n = seal_y(f, 20);
    struct lotse_channel before = f->c;

    for (size_t i = 0; i < (size_t)n; i++) {
        int rc;
        f->frame[i] ^= 0x10;
        rc = open_c(f, f->frame, (size_t)n);
        /* header bytes fail the frame checks or the AD; the rest fail the tag */
        assert_true(rc == -EBADMSG || rc == -EPROTO || rc == -EALREADY || rc == -ERANGE);
        assert_memory_equal(&f->c, &before, sizeof(before));
        f->frame[i] ^= 0x10;
    }
    assert_int_equal(open_c(f, f->frame, (size_t)n), 20);
}

static void test_open_rejects_own_direction_and_other_session(void **state)
{
    struct fixture *f = *state;
    uint8_t type;
    struct lotse_channel other = f->c;
    int n = seal_y(f, 4);

    /* the young person's own frame reflected back to it */
    assert_int_equal(lotse_channel_open(&f->y, f->frame, (size_t)n, &type, f->out, 4096), -EBADMSG);
    other.sid[3] ^= 1;
    assert_int_equal(lotse_channel_open(&other, f->frame, (size_t)n, &type, f->out, 4096), -EPROTO);
}

static void test_open_rejects_ack_and_malformed_frames_with_eproto(void **state)
{
    struct fixture *f = *state;
    int n = seal_y(f, 4);
    assert_int_equal(open_c(f, f->frame, LOTSE_FRAME_HEADER_BYTES), -EPROTO);
    assert_int_equal(open_c(f, f->frame, (size_t)n - 1), -EPROTO);
    f->frame[1] = LOTSE_FRAME_ACK;
    assert_int_equal(open_c(f, f->frame, LOTSE_FRAME_HEADER_BYTES), -EPROTO);
}

static void test_open_reports_enospc_when_body_exceeds_cap(void **state)
{
    struct fixture *f = *state;
    uint8_t type;
    int n = seal_y(f, 10);
    assert_int_equal(lotse_channel_open(&f->c, f->frame, (size_t)n, &type, f->out, 9), -ENOSPC);
    assert_true(f->c.last_rx_seq == 0);
    assert_int_equal(lotse_channel_open(&f->c, f->frame, (size_t)n, &type, f->out, 10), 10);
}

static void test_wipe_zeroes_keys_and_counters(void **state)
{
    struct fixture *f = *state;
    struct lotse_channel zero;
    memset(&zero, 0, sizeof(zero));
    lotse_channel_wipe(&f->y);
    assert_memory_equal(&f->y, &zero, sizeof(zero));
}

/* ---- inner types (§6 "Messages") ---- */

static void test_timed_text_round_trip_through_the_channel(void **state)
{
    struct fixture *f = *state;
    uint8_t body[LOTSE_MAX_MESSAGE], type = 0;
    const uint8_t *text;
    size_t text_len;
    uint64_t ms = 0;
    int len = lotse_timed_text_pack(0x0102030405060708ULL, (const uint8_t *)"Hallo", 5, body,
                                    sizeof(body));
    int n;

    assert_int_equal(len, LOTSE_TIMED_HEAD + 5);
    assert_int_equal(body[0], 0x01);
    assert_int_equal(body[7], 0x08);
    n = lotse_channel_seal(&f->y, LOTSE_INNER_TIMED_TEXT, body, (size_t)len, f->frame,
                           sizeof(f->frame));
    assert_true(n > 0);
    assert_int_equal(lotse_channel_open(&f->c, f->frame, (size_t)n, &type, f->out, sizeof(f->out)),
                     len);
    assert_int_equal(type, LOTSE_INNER_TIMED_TEXT);
    assert_int_equal(lotse_timed_text_parse(f->out, (size_t)len, &ms, &text, &text_len), 0);
    assert_true(ms == 0x0102030405060708ULL);
    assert_int_equal(text_len, 5);
    assert_memory_equal(text, "Hallo", 5);
}

static void test_timed_text_limits_and_refusals(void **state)
{
    static uint8_t text[LOTSE_MAX_TIMED_TEXT + 1], body[LOTSE_MAX_MESSAGE + 1];
    const uint8_t *t;
    size_t tl;
    uint64_t ms;
    (void)state;

    memset(text, 'x', sizeof(text));
    assert_int_equal(lotse_timed_text_pack(1, text, LOTSE_MAX_TIMED_TEXT, body, sizeof(body)),
                     LOTSE_MAX_MESSAGE);
    assert_int_equal(lotse_timed_text_pack(1, text, LOTSE_MAX_TIMED_TEXT + 1, body, sizeof(body)),
                     -EMSGSIZE);
    assert_int_equal(lotse_timed_text_pack(1, text, 4, body, 11), -ENOSPC);
    assert_int_equal(lotse_timed_text_pack(1, (const uint8_t *)"\xff", 1, body, sizeof(body)),
                     -EBADMSG);
    assert_int_equal(lotse_timed_text_parse(body, 7, &ms, &t, &tl), -EBADMSG);
    assert_int_equal(lotse_timed_text_parse(body, LOTSE_MAX_MESSAGE + 1, &ms, &t, &tl), -EBADMSG);
}

static void test_typing_accepts_one_byte_of_zero_or_one(void **state)
{
    const uint8_t b[2] = {1, 0};
    int on = -1;
    (void)state;

    assert_int_equal(lotse_typing_parse(b, 1, &on), 0);
    assert_int_equal(on, 1);
    assert_int_equal(lotse_typing_parse(b + 1, 1, &on), 0);
    assert_int_equal(on, 0);
    assert_int_equal(lotse_typing_parse(b, 2, &on), -EBADMSG);
    assert_int_equal(lotse_typing_parse(b, 0, &on), -EBADMSG);
    assert_int_equal(lotse_typing_parse((const uint8_t *)"\x02", 1, &on), -EBADMSG);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_cert_sign_then_verify_returns_fields),
        T(test_cert_verify_rejects_every_tampered_byte_with_eperm),
        T(test_cert_verify_rejects_format_errors_with_ebadmsg),
        T(test_cert_verify_expires_at_the_expiry_second),
        T(test_kx_verify_rejects_any_swapped_input),
        T(test_channel_directions_pair_up),
        T(test_channel_rejects_all_zero_peer_key),
        T(test_seal_open_round_trip_both_ways),
        T(test_seal_picks_the_smallest_bucket_at_each_boundary),
        T(test_seal_max_message_ok_and_one_more_is_emsgsize),
        T(test_seal_reports_enospc_for_small_buffer),
        T(test_seal_refuses_a_wiped_channel),
        T(test_open_rejects_replayed_frame),
        T(test_open_rejects_gap_and_reorder_then_accepts_in_order),
        T(test_open_rejects_any_flipped_bit_and_changes_nothing),
        T(test_open_rejects_own_direction_and_other_session),
        T(test_open_rejects_ack_and_malformed_frames_with_eproto),
        T(test_open_reports_enospc_when_body_exceeds_cap),
        T(test_wipe_zeroes_keys_and_counters),
        T(test_timed_text_round_trip_through_the_channel),
        T(test_timed_text_limits_and_refusals),
        T(test_typing_accepts_one_byte_of_zero_or_one),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
