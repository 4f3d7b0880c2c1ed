/* test_json.c — proto/src/json.c: the strict parser, typed getters and the writer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lotse/json.h"

static struct lotse_json_msg m;

static int parse(const char *s)
{
    return lotse_json_parse(&m, s, strlen(s));
}

static void test_parse_reads_every_value_type(void **state)
{
    const struct lotse_json_field *f;

    assert_int_equal(parse("{\"s\":\"x\",\"i\":-5,\"t\":true,\"f\":false,\"n\":null,"
                           "\"a\":[\"p\",\"\"]}"),
                     0);
    assert_int_equal(m.count, 6);
    f = lotse_json_get(&m, "s");
    assert_int_equal(f->type, LOTSE_JSON_STRING);
    assert_string_equal(f->str, "x");
    assert_int_equal(lotse_json_get(&m, "i")->i, -5);
    assert_true(lotse_json_get(&m, "t")->b);
    assert_false(lotse_json_get(&m, "f")->b);
    assert_int_equal(lotse_json_get(&m, "n")->type, LOTSE_JSON_NULL);
    f = lotse_json_get(&m, "a");
    assert_int_equal(f->count, 2);
    assert_string_equal(f->items[0], "p");
    assert_int_equal(f->item_lens[1], 0);
    assert_null(lotse_json_get(&m, "missing"));
}

static void test_parse_accepts_16_fields_and_rejects_17(void **state)
{
    char buf[512];
    size_t o = 0;
    for (int i = 0; i < LOTSE_JSON_MAX_FIELDS + 1; i++) {
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"k%d\":%d", i ? "," : "{", i, i);
        if (i == LOTSE_JSON_MAX_FIELDS - 1) {
            char ok[600];
            snprintf(ok, sizeof(ok), "%s}", buf);
            assert_int_equal(parse(ok), 0);
            assert_int_equal(m.count, 16);
        }
    }
    snprintf(buf + o, sizeof(buf) - o, "}");
    assert_int_equal(parse(buf), -EBADMSG);
    assert_int_equal(m.count, 0);
}

static void test_parse_accepts_32_array_items_and_rejects_33(void **state)
{
    char buf[512];
    size_t o = (size_t)snprintf(buf, sizeof(buf), "{\"a\":[");
    for (int i = 0; i < LOTSE_JSON_MAX_ARRAY + 1; i++) {
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"%d\"", i ? "," : "", i);
        if (i == LOTSE_JSON_MAX_ARRAY - 1) {
            char ok[600];
            snprintf(ok, sizeof(ok), "%s]}", buf);
            assert_int_equal(parse(ok), 0);
            assert_int_equal(lotse_json_get(&m, "a")->count, 32);
            assert_string_equal(lotse_json_get(&m, "a")->items[31], "31");
        }
    }
    snprintf(buf + o, sizeof(buf) - o, "]}");
    assert_int_equal(parse(buf), -EBADMSG);
}

static void test_parse_int64_limits_and_rejects_overflow(void **state)
{
    assert_int_equal(parse("{\"a\":9223372036854775807,\"b\":-9223372036854775808,\"c\":-0}"), 0);
    assert_true(lotse_json_get(&m, "a")->i == INT64_MAX);
    assert_true(lotse_json_get(&m, "b")->i == INT64_MIN);
    assert_int_equal(lotse_json_get(&m, "c")->i, 0);
    assert_int_equal(parse("{\"a\":9223372036854775808}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":-9223372036854775809}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":99999999999999999999}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":1.0}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":1E2}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":00}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":-01}"), -EBADMSG);
}

static void test_parse_decodes_escapes_and_surrogate_pairs(void **state)
{
    const struct lotse_json_field *f;
    assert_int_equal(parse("{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE42\\u0000\"}"),
                     0);
    f = lotse_json_get(&m, "e");
    assert_int_equal(f->len, 8 + 2 + 4 + 1);
    assert_memory_equal(f->str, "\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x99\x82\0", 16);
}

static void test_parse_rejects_lone_and_mismatched_surrogates(void **state)
{
    assert_int_equal(parse("{\"a\":\"\\ud800\"}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":\"\\udc00\"}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":\"\\ud800x\"}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":\"\\ud800\\ud800\"}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":\"\\ud800\\n\"}"), -EBADMSG);
}

static void test_parse_rejects_invalid_utf8_classes(void **state)
{
    assert_int_equal(parse("{\"a\":\"\xc0\xaf\"}"), -EBADMSG);         /* overlong */
    assert_int_equal(parse("{\"a\":\"\xed\xb0\x80\"}"), -EBADMSG);     /* surrogate */
    assert_int_equal(parse("{\"a\":\"\xf4\x90\x80\x80\"}"), -EBADMSG); /* > U+10FFFF */
    assert_int_equal(parse("{\"a\":\"\xe2\x82\"}"), -EBADMSG);         /* truncated */
    assert_int_equal(parse("{\"a\":\"\x80\"}"), -EBADMSG);             /* stray continuation */
    assert_int_equal(parse("{\"a\":\"\xfe\"}"), -EBADMSG);             /* never valid */
}

static void test_parse_rejects_duplicates_nesting_and_trailing_bytes(void **state)
{
    assert_int_equal(parse("{\"a\":1,\"b\":2,\"a\":3}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":{\"b\":1}}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":[[\"b\"]]}"), -EBADMSG);
    assert_int_equal(parse("{\"a\":[true]}"), -EBADMSG);
    assert_int_equal(parse("{} {}"), -EBADMSG);
    assert_int_equal(parse("{}\v"), -EBADMSG); /* not RFC 8259 white space */
    assert_int_equal(parse(" \t\r\n{}\r\n\t "), 0);
    assert_int_equal(parse("{\"a\":\"\x1f\"}"), -EBADMSG);
}

static void test_parse_limits_key_length_to_32(void **state)
{
    assert_int_equal(parse("{\"0123456789abcdef0123456789abcdef\":1}"), 0);
    assert_int_equal(parse("{\"0123456789abcdef0123456789abcdefX\":1}"), -EBADMSG);
    assert_int_equal(parse("{\"\":1}"), -EBADMSG);
}

static void test_parse_accepts_max_text_frame_and_rejects_one_more(void **state)
{
    static char buf[LOTSE_MAX_TEXT_FRAME + 1];
    memcpy(buf, "{\"s\":\"", 6);
    memset(buf + 6, 'x', sizeof(buf) - 6);
    memcpy(buf + LOTSE_MAX_TEXT_FRAME - 2, "\"}", 2);
    assert_int_equal(lotse_json_parse(&m, buf, LOTSE_MAX_TEXT_FRAME), 0);
    assert_int_equal(lotse_json_get(&m, "s")->len, LOTSE_MAX_TEXT_FRAME - 8);
    memcpy(buf + LOTSE_MAX_TEXT_FRAME - 2, "x\"}", 3);
    assert_int_equal(lotse_json_parse(&m, buf, LOTSE_MAX_TEXT_FRAME + 1), -EMSGSIZE);
}

static void test_parse_fills_storage_worst_case_without_overflow(void **state)
{
    /* 16 arrays of 32 empty strings: the most NUL terminators a text can demand. */
    static char buf[LOTSE_MAX_TEXT_FRAME];
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"k%d\":[", i ? "," : "{", i);
        for (int k = 0; k < 32; k++)
            o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"\"", k ? "," : "");
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "]");
    }
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "}");
    assert_int_equal(lotse_json_parse(&m, buf, o), 0);
    assert_int_equal(m.fields[15].count, 32);
}

static void test_getters_check_type_range_length_and_nul(void **state)
{
    const char *s;
    size_t len;
    int64_t i;
    bool b;

    assert_int_equal(parse("{\"s\":\"abc\",\"z\":\"a\\u0000b\",\"i\":42,\"b\":true}"), 0);
    assert_int_equal(lotse_json_get_str(&m, "s", 3, &s, &len), 0);
    assert_int_equal(len, 3);
    assert_int_equal(lotse_json_get_str(&m, "s", 2, &s, &len), -EINVAL);
    assert_int_equal(lotse_json_get_str(&m, "z", 100, &s, &len), -EINVAL);
    assert_int_equal(lotse_json_get_str(&m, "i", 100, &s, &len), -EINVAL);
    assert_int_equal(lotse_json_get_str(&m, "nope", 100, &s, &len), -ENOENT);
    assert_int_equal(lotse_json_get_int(&m, "i", 0, 42, &i), 0);
    assert_int_equal(i, 42);
    assert_int_equal(lotse_json_get_int(&m, "i", 43, 100, &i), -EINVAL);
    assert_int_equal(lotse_json_get_int(&m, "i", 0, 41, &i), -EINVAL);
    assert_int_equal(lotse_json_get_int(&m, "s", 0, 41, &i), -EINVAL);
    assert_int_equal(lotse_json_get_int(&m, "x", 0, 41, &i), -ENOENT);
    assert_int_equal(lotse_json_get_bool(&m, "b", &b), 0);
    assert_true(b);
    assert_int_equal(lotse_json_get_bool(&m, "i", &b), -EINVAL);
    assert_int_equal(lotse_json_get_bool(&m, "x", &b), -ENOENT);
}

static void test_writer_output_parses_back_to_same_values(void **state)
{
    char buf[1024];
    struct lotse_jw w;
    static const char nasty[] = "q\"b\\s/\x01\x1f\n\t\x7f \xc3\xa4\xf0\x9f\x99\x82";
    static const uint8_t bytes[4] = {0xfb, 0xff, 0x00, 0x10};
    const struct lotse_json_field *f;
    int n;

    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "type", "hello");
    lotse_jw_strn(&w, "k\"ey\n", nasty, sizeof(nasty) - 1);
    lotse_jw_strn(&w, "nul", "a\0b", 3);
    lotse_jw_int(&w, "min", INT64_MIN);
    lotse_jw_int(&w, "max", INT64_MAX);
    lotse_jw_bool(&w, "t", true);
    lotse_jw_null(&w, "n");
    lotse_jw_b64(&w, "b64", bytes, sizeof(bytes));
    lotse_jw_hex(&w, "hex", bytes, sizeof(bytes));
    lotse_jw_arr_begin(&w, "arr");
    lotse_jw_str(&w, NULL, "one");
    lotse_jw_str(&w, NULL, "\x02");
    lotse_jw_arr_end(&w);
    lotse_jw_obj_end(&w);
    n = lotse_jw_finish(&w);
    assert_true(n > 0);
    assert_int_equal(strlen(buf), (size_t)n);
    assert_null(memchr(buf, '\n', (size_t)n)); /* control characters are escaped */
    assert_non_null(strstr(buf, "\\u0001"));

    assert_int_equal(lotse_json_parse(&m, buf, (size_t)n), 0);
    assert_int_equal(m.count, 10);
    f = lotse_json_get(&m, "k\"ey\n");
    assert_non_null(f);
    assert_int_equal(f->len, sizeof(nasty) - 1);
    assert_memory_equal(f->str, nasty, f->len);
    assert_int_equal(lotse_json_get(&m, "nul")->len, 3);
    assert_true(lotse_json_get(&m, "min")->i == INT64_MIN);
    assert_true(lotse_json_get(&m, "max")->i == INT64_MAX);
    assert_string_equal(lotse_json_get(&m, "b64")->str, "-_8AEA");
    assert_string_equal(lotse_json_get(&m, "hex")->str, "fbff0010");
    assert_string_equal(lotse_json_get(&m, "arr")->items[1], "\x02");
}

static void test_writer_nested_object_and_double(void **state)
{
    char buf[128];
    struct lotse_jw w;

    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_obj_begin(&w, "stats");
    lotse_jw_double(&w, "p50", 1.5);
    lotse_jw_double(&w, "neg", -0.0004);
    lotse_jw_obj_end(&w);
    lotse_jw_arr_begin(&w, "e");
    lotse_jw_arr_end(&w);
    lotse_jw_obj_end(&w);
    assert_true(lotse_jw_finish(&w) > 0);
    assert_string_equal(buf, "{\"stats\":{\"p50\":1.500,\"neg\":-0.000},\"e\":[]}");
}

static void test_writer_reports_enospc_and_stays_failed(void **state)
{
    char buf[64];
    struct lotse_jw w;

    for (size_t cap = 1; cap <= 14; cap++) {
        /* {"a":"hello"} is 13 bytes and needs 14 with the NUL */
        lotse_jw_init(&w, buf, cap);
        lotse_jw_obj_begin(&w, NULL);
        lotse_jw_str(&w, "a", "hello");
        lotse_jw_obj_end(&w);
        assert_int_equal(lotse_jw_finish(&w), cap < 14 ? -ENOSPC : 13);
    }
    lotse_jw_init(&w, buf, 8);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_b64(&w, "k", (const uint8_t *)"abcdef", 6);
    lotse_jw_null(&w, "x"); /* no-op after the error */
    assert_int_equal(lotse_jw_finish(&w), -ENOSPC);
    lotse_jw_init(&w, NULL, 0);
    assert_int_equal(lotse_jw_finish(&w), -ENOSPC);
}

static void test_writer_rejects_invalid_utf8_nonfinite_and_unbalanced(void **state)
{
    char buf[128];
    struct lotse_jw w;
    double zero = 0.0;

    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "a", "\xc0\x80");
    lotse_jw_obj_end(&w);
    assert_int_equal(lotse_jw_finish(&w), -EINVAL);

    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_double(&w, "a", 1.0 / zero);
    lotse_jw_obj_end(&w);
    assert_int_equal(lotse_jw_finish(&w), -EINVAL);

    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_obj_begin(&w, NULL);
    assert_int_equal(lotse_jw_finish(&w), -EINVAL);

    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_obj_end(&w);
    assert_int_equal(lotse_jw_finish(&w), -EINVAL);

    lotse_jw_init(&w, buf, sizeof(buf));
    for (int i = 0; i < 20; i++)
        lotse_jw_arr_begin(&w, NULL);
    assert_int_equal(lotse_jw_finish(&w), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_reads_every_value_type),
        cmocka_unit_test(test_parse_accepts_16_fields_and_rejects_17),
        cmocka_unit_test(test_parse_accepts_32_array_items_and_rejects_33),
        cmocka_unit_test(test_parse_int64_limits_and_rejects_overflow),
        cmocka_unit_test(test_parse_decodes_escapes_and_surrogate_pairs),
        cmocka_unit_test(test_parse_rejects_lone_and_mismatched_surrogates),
        cmocka_unit_test(test_parse_rejects_invalid_utf8_classes),
        cmocka_unit_test(test_parse_rejects_duplicates_nesting_and_trailing_bytes),
        cmocka_unit_test(test_parse_limits_key_length_to_32),
        cmocka_unit_test(test_parse_accepts_max_text_frame_and_rejects_one_more),
        cmocka_unit_test(test_parse_fills_storage_worst_case_without_overflow),
        cmocka_unit_test(test_getters_check_type_range_length_and_nul),
        cmocka_unit_test(test_writer_output_parses_back_to_same_values),
        cmocka_unit_test(test_writer_nested_object_and_double),
        cmocka_unit_test(test_writer_reports_enospc_and_stays_failed),
        cmocka_unit_test(test_writer_rejects_invalid_utf8_nonfinite_and_unbalanced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
