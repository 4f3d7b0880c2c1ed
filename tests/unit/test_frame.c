/* test_frame.c — proto/src/frame.c: the binary frame header. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lotse/mail.h"
#include "lotse/proto.h"

static uint8_t buf[LOTSE_MAIL_FRAME_MAX + 1];

static size_t build(uint8_t kind, uint64_t seq, size_t payload_len)
{
    struct lotse_frame_header h = {.version = LOTSE_PROTO_VERSION, .kind = kind, .seq = seq};
    memset(h.sid, 0xab, sizeof(h.sid));
    memset(buf, 0, sizeof(buf));
    lotse_frame_encode_header(buf, &h);
    return LOTSE_FRAME_HEADER_BYTES + payload_len;
}

static int decode(size_t len)
{
    struct lotse_frame_header h;
    const uint8_t *p;
    size_t plen;
    return lotse_frame_decode(buf, len, &h, &p, &plen);
}

static void test_encode_header_layout_is_big_endian(void **state)
{
    struct lotse_frame_header h = {
        .version = 1, .kind = 2, .flags = 0x0304, .seq = 0x1122334455667788ULL};
    uint8_t out[LOTSE_FRAME_HEADER_BYTES];
    static const uint8_t want_tail[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};

    for (int i = 0; i < LOTSE_SID_BYTES; i++)
        h.sid[i] = (uint8_t)i;
    lotse_frame_encode_header(out, &h);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 2);
    assert_int_equal(out[2], 0x03);
    assert_int_equal(out[3], 0x04);
    assert_memory_equal(out + 4, h.sid, LOTSE_SID_BYTES);
    assert_memory_equal(out + 20, want_tail, 8);
}

static void test_decode_round_trips_header_and_points_payload_into_buffer(void **state)
{
    struct lotse_frame_header h;
    const uint8_t *p;
    size_t plen, len = build(LOTSE_FRAME_DATA, UINT64_MAX, 256 + 16);
    uint8_t again[LOTSE_FRAME_HEADER_BYTES];

    assert_int_equal(lotse_frame_decode(buf, len, &h, &p, &plen), 0);
    assert_true(h.seq == UINT64_MAX);
    assert_ptr_equal(p, buf + LOTSE_FRAME_HEADER_BYTES);
    assert_int_equal(plen, 256 + 16);
    lotse_frame_encode_header(again, &h);
    assert_memory_equal(again, buf, sizeof(again));
}

static void test_decode_accepts_each_bucket_size(void **state)
{
    assert_int_equal(decode(build(LOTSE_FRAME_DATA, 1, LOTSE_BUCKET_SMALL + 16)), 0);
    assert_int_equal(decode(build(LOTSE_FRAME_DATA, 1, LOTSE_BUCKET_MEDIUM + 16)), 0);
    assert_int_equal(decode(build(LOTSE_FRAME_DATA, 1, LOTSE_BUCKET_LARGE + 16)), 0);
}

static void test_decode_rejects_sizes_next_to_each_bucket(void **state)
{
    static const size_t buckets[] = {LOTSE_BUCKET_SMALL, LOTSE_BUCKET_MEDIUM, LOTSE_BUCKET_LARGE};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(decode(build(LOTSE_FRAME_DATA, 1, buckets[i] + 15)), -EPROTO);
        if (buckets[i] != LOTSE_BUCKET_LARGE)
            assert_int_equal(decode(build(LOTSE_FRAME_DATA, 1, buckets[i] + 17)), -EPROTO);
        assert_int_equal(decode(build(LOTSE_FRAME_DATA, 1, buckets[i])), -EPROTO);
    }
    assert_int_equal(decode(build(LOTSE_FRAME_DATA, 1, 0)), -EPROTO);
}

static void test_decode_rejects_short_and_long_frames_with_emsgsize(void **state)
{
    assert_int_equal(decode(0), -EMSGSIZE);
    assert_int_equal(decode(build(LOTSE_FRAME_ACK, 1, 0) - 1), -EMSGSIZE);
    assert_int_equal(decode(build(LOTSE_FRAME_DATA, 1, LOTSE_MAX_CIPHERTEXT)), 0);
    assert_int_equal(decode(build(LOTSE_FRAME_DATA, 1, LOTSE_MAX_CIPHERTEXT + 1)), -EMSGSIZE);
}

static void test_decode_rejects_bad_version_kind_flags_and_seq_zero(void **state)
{
    size_t len = build(LOTSE_FRAME_ACK, 1, LOTSE_ACK_TAG_BYTES);
    assert_int_equal(decode(len), 0);
    buf[0] = 0;
    assert_int_equal(decode(len), -EPROTO);
    buf[0] = 2;
    assert_int_equal(decode(len), -EPROTO);
    buf[0] = 1;
    buf[1] = 0;
    assert_int_equal(decode(len), -EPROTO);
    buf[1] = 4;
    assert_int_equal(decode(len), -EPROTO);
    buf[1] = LOTSE_FRAME_ACK;
    buf[2] = 0x80;
    assert_int_equal(decode(len), -EPROTO);
    buf[2] = 0;
    buf[3] = 0x01;
    assert_int_equal(decode(len), -EPROTO);
    assert_int_equal(decode(build(LOTSE_FRAME_ACK, 0, LOTSE_ACK_TAG_BYTES)), -EPROTO);
    assert_int_equal(decode(build(LOTSE_FRAME_DATA, 0, 256 + 16)), -EPROTO);
}

/* A MAIL frame (§9) carries one envelope of any size up to
 * LOTSE_MAIL_ENVELOPE_MAX; its structure is lotse_mail_envelope_check's. Other
 * kinds keep their limit. */
static void test_decode_mail_frame_sizes(void **state)
{
    (void)state;
    assert_int_equal(decode(build(LOTSE_FRAME_MAIL, 1, 1)), 0);
    assert_int_equal(decode(build(LOTSE_FRAME_MAIL, 50, LOTSE_MAIL_ENVELOPE_MAX)), 0);
    assert_int_equal(decode(build(LOTSE_FRAME_MAIL, 1, 0)), -EPROTO);
    assert_int_equal(decode(build(LOTSE_FRAME_MAIL, 0, 100)), -EPROTO);
    assert_int_equal(decode(build(LOTSE_FRAME_MAIL, 1, LOTSE_MAIL_ENVELOPE_MAX + 1)), -EMSGSIZE);
    assert_int_equal(decode(build(LOTSE_FRAME_DATA, 1, LOTSE_MAX_BINARY_FRAME)), -EMSGSIZE);
}

/* An ACK carries exactly its 16-byte tag (§3): the empty ACK of old and any
 * other size are refused by the relay. */
static void test_decode_rejects_ack_with_payload(void **state)
{
    assert_int_equal(decode(build(LOTSE_FRAME_ACK, 5, LOTSE_ACK_TAG_BYTES)), 0);
    assert_int_equal(decode(build(LOTSE_FRAME_ACK, 5, 0)), -EPROTO);
    assert_int_equal(decode(build(LOTSE_FRAME_ACK, 5, 1)), -EPROTO);
    assert_int_equal(decode(build(LOTSE_FRAME_ACK, 5, LOTSE_ACK_TAG_BYTES - 1)), -EPROTO);
    assert_int_equal(decode(build(LOTSE_FRAME_ACK, 5, LOTSE_ACK_TAG_BYTES + 1)), -EPROTO);
    assert_int_equal(decode(build(LOTSE_FRAME_ACK, 5, 256 + 16)), -EPROTO);
}

static void test_decode_leaves_outputs_untouched_on_error(void **state)
{
    struct lotse_frame_header h = {.version = 99};
    const uint8_t *p = (const uint8_t *)"x";
    size_t plen = 77, len = build(LOTSE_FRAME_ACK, 1, 1);

    assert_int_equal(lotse_frame_decode(buf, len, &h, &p, &plen), -EPROTO);
    assert_int_equal(h.version, 99);
    assert_int_equal(plen, 77);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_header_layout_is_big_endian),
        cmocka_unit_test(test_decode_round_trips_header_and_points_payload_into_buffer),
        cmocka_unit_test(test_decode_accepts_each_bucket_size),
        cmocka_unit_test(test_decode_rejects_sizes_next_to_each_bucket),
        cmocka_unit_test(test_decode_rejects_short_and_long_frames_with_emsgsize),
        cmocka_unit_test(test_decode_rejects_bad_version_kind_flags_and_seq_zero),
        cmocka_unit_test(test_decode_mail_frame_sizes),
        cmocka_unit_test(test_decode_rejects_ack_with_payload),
        cmocka_unit_test(test_decode_leaves_outputs_untouched_on_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
