/* test_encoding.c — proto/src/encoding.c: base64url, hex, UTF-8 validation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "lotse/proto.h"

static int b64d(uint8_t *dst, size_t cap, const char *s)
{
    return lotse_b64_decode(dst, cap, s, strlen(s));
}

static void test_b64_encode_matches_rfc4648_urlsafe_without_padding(void **state)
{
    char out[16];
    assert_int_equal(lotse_b64_encode(out, sizeof(out), (const uint8_t *)"", 0), 0);
    assert_string_equal(out, "");
    assert_int_equal(lotse_b64_encode(out, sizeof(out), (const uint8_t *)"f", 1), 2);
    assert_string_equal(out, "Zg");
    assert_int_equal(lotse_b64_encode(out, sizeof(out), (const uint8_t *)"fo", 2), 3);
    assert_string_equal(out, "Zm8");
    assert_int_equal(lotse_b64_encode(out, sizeof(out), (const uint8_t *)"foo", 3), 4);
    assert_string_equal(out, "Zm9v");
    assert_int_equal(lotse_b64_encode(out, sizeof(out), (const uint8_t *)"\xfb\xff", 2), 3);
    assert_string_equal(out, "-_8"); /* URL-safe alphabet */
}

static void test_b64_encode_needs_room_for_nul(void **state)
{
    char out[4];
    assert_int_equal(lotse_b64_encode(out, 4, (const uint8_t *)"foo", 3), -ENOSPC);
    assert_int_equal(lotse_b64_encode(out, 3, (const uint8_t *)"fo", 2), -ENOSPC);
}

static void test_b64_round_trips_all_lengths_up_to_64(void **state)
{
    uint8_t in[64], back[64];
    char enc[128];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof(in); n++) {
        int e = lotse_b64_encode(enc, sizeof(enc), in, n);
        assert_true(e >= 0);
        assert_int_equal(lotse_b64_decode(back, n, enc, (size_t)e), (int)n);
        assert_memory_equal(back, in, n);
    }
}

static void test_b64_decode_rejects_padding_std_alphabet_and_junk(void **state)
{
    uint8_t out[16];
    assert_int_equal(b64d(out, sizeof(out), "Zg=="), -EINVAL);
    assert_int_equal(b64d(out, sizeof(out), "Zm8="), -EINVAL);
    assert_int_equal(b64d(out, sizeof(out), "+/8"), -EINVAL);
    assert_int_equal(b64d(out, sizeof(out), "Zm 9v"), -EINVAL);
    assert_int_equal(b64d(out, sizeof(out), "Zm9v\n"), -EINVAL);
    assert_int_equal(lotse_b64_decode(out, sizeof(out), "Zm\0v", 4), -EINVAL);
}

static void test_b64_decode_rejects_impossible_length_and_nonzero_trailing_bits(void **state)
{
    uint8_t out[16];
    assert_int_equal(b64d(out, sizeof(out), "Z"), -EINVAL);
    assert_int_equal(b64d(out, sizeof(out), "Zm9vY"), -EINVAL);
    assert_int_equal(b64d(out, sizeof(out), "Zh"), -EINVAL);  /* canonical is "Zg" */
    assert_int_equal(b64d(out, sizeof(out), "Zm9"), -EINVAL); /* canonical is "Zm8" */
}

static void test_b64_decode_reports_enospc_when_output_too_small(void **state)
{
    uint8_t out[3];
    assert_int_equal(b64d(out, 2, "Zm9v"), -ENOSPC);
    assert_int_equal(b64d(out, 3, "Zm9v"), 3);
    assert_int_equal(b64d(out, 1, "Zm8"), -ENOSPC);
}

static void test_hex_round_trips_and_is_lower_case(void **state)
{
    uint8_t in[3] = {0x00, 0xab, 0xff}, back[3];
    char out[7];
    assert_int_equal(lotse_hex_encode(out, sizeof(out), in, 3), 6);
    assert_string_equal(out, "00abff");
    assert_int_equal(lotse_hex_decode(back, 3, out, 6), 3);
    assert_memory_equal(back, in, 3);
    assert_int_equal(lotse_hex_encode(out, 6, in, 3), -ENOSPC);
}

static void test_hex_decode_needs_exact_length_and_canonical_digits(void **state)
{
    uint8_t out[2];
    assert_int_equal(lotse_hex_decode(out, 2, "abc", 3), -EINVAL);
    assert_int_equal(lotse_hex_decode(out, 2, "abcdef", 6), -EINVAL);
    assert_int_equal(lotse_hex_decode(out, 2, "ABCD", 4), -EINVAL);
    assert_int_equal(lotse_hex_decode(out, 2, "ab g", 4), -EINVAL);
    assert_int_equal(lotse_hex_decode(out, 0, "", 0), 0);
}

#define V(s) lotse_utf8_valid(s, sizeof(s) - 1)

static void test_utf8_accepts_ascii_nul_and_each_sequence_length_at_limits(void **state)
{
    assert_true(V(""));
    assert_true(V("plain ascii"));
    assert_true(V("a\0b"));
    assert_true(V("\xc2\x80"));         /* U+0080 */
    assert_true(V("\xdf\xbf"));         /* U+07FF */
    assert_true(V("\xe0\xa0\x80"));     /* U+0800 */
    assert_true(V("\xed\x9f\xbf"));     /* U+D7FF */
    assert_true(V("\xee\x80\x80"));     /* U+E000 */
    assert_true(V("\xef\xbf\xbf"));     /* U+FFFF */
    assert_true(V("\xf0\x90\x80\x80")); /* U+10000 */
    assert_true(V("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
    assert_true(V("Hallo, ich bin da. \xf0\x9f\x99\x82"));
}

static void test_utf8_rejects_overlongs(void **state)
{
    assert_false(V("\xc0\x80"));
    assert_false(V("\xc1\xbf"));
    assert_false(V("\xe0\x9f\xbf"));
    assert_false(V("\xf0\x8f\xbf\xbf"));
}

static void test_utf8_rejects_surrogates_and_above_10ffff(void **state)
{
    assert_false(V("\xed\xa0\x80"));
    assert_false(V("\xed\xbf\xbf"));
    assert_false(V("\xf4\x90\x80\x80"));
    assert_false(V("\xf5\x80\x80\x80"));
    assert_false(V("\xff"));
    assert_false(V("\xfe"));
}

static void test_utf8_rejects_truncated_and_stray_continuations(void **state)
{
    assert_false(V("\x80"));
    assert_false(V("a\xbf"));
    assert_false(V("\xc3"));
    assert_false(V("\xe2\x82"));
    assert_false(V("\xf0\x9f\x99"));
    assert_false(V("\xc3\x28"));
    assert_false(V("\xe2\x28\xa1"));
    assert_false(V("\xf0\x9f\x28\x82"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_encode_matches_rfc4648_urlsafe_without_padding),
        cmocka_unit_test(test_b64_encode_needs_room_for_nul),
        cmocka_unit_test(test_b64_round_trips_all_lengths_up_to_64),
        cmocka_unit_test(test_b64_decode_rejects_padding_std_alphabet_and_junk),
        cmocka_unit_test(test_b64_decode_rejects_impossible_length_and_nonzero_trailing_bits),
        cmocka_unit_test(test_b64_decode_reports_enospc_when_output_too_small),
        cmocka_unit_test(test_hex_round_trips_and_is_lower_case),
        cmocka_unit_test(test_hex_decode_needs_exact_length_and_canonical_digits),
        cmocka_unit_test(test_utf8_accepts_ascii_nul_and_each_sequence_length_at_limits),
        cmocka_unit_test(test_utf8_rejects_overlongs),
        cmocka_unit_test(test_utf8_rejects_surrogates_and_above_10ffff),
        cmocka_unit_test(test_utf8_rejects_truncated_and_stray_continuations),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
