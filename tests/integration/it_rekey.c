/* it_rekey.c — `rekey` gives one answer for an id that is someone else's
 * running session and for an id that does not exist (PROTOCOL.md §4.4), as
 * `resume` does: a young person's connection cannot test which session ids
 * exist. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "client.h"
#include "harness.h"

#define T 5000

static void send_rekey(struct client *c, const uint8_t sid[16])
{
    char hex[33], pk[64], msg[256];
    uint8_t key[32];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, sid, 16);
    sodium_bin2base64(pk, sizeof pk, key, sizeof key, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(msg, sizeof msg, "{\"t\":\"rekey\",\"sid\":\"%s\",\"pk\":\"%s\"}", hex, pk);
    assert_int_equal(client_send_json(c, msg), 0);
}

static void test_rekey_answers_the_same_for_a_foreign_session_and_an_unknown_id(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *y1, *y2;
    assert_int_equal(client_connect(&y1, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_young_hello(y1, "family", T), 0);
    assert_int_equal(client_connect(&y2, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_young_hello(y2, "family", T), 0);

    /* someone else's session, which exists */
    send_rekey(y1, client_young_session(y2)->sid);
    assert_int_equal(client_expect(y1, "error", NULL, T), 0);
    char code_foreign[48], msg_foreign[256];
    snprintf(code_foreign, sizeof code_foreign, "%s", y1->err_code);
    snprintf(msg_foreign, sizeof msg_foreign, "%s", y1->err_msg);

    /* an id nobody has */
    uint8_t unknown[16];
    randombytes_buf(unknown, sizeof unknown);
    send_rekey(y1, unknown);
    assert_int_equal(client_expect(y1, "error", NULL, T), 0);
    fprintf(stderr, "foreign: %s (%s); unknown: %s (%s)\n", code_foreign, msg_foreign, y1->err_code,
            y1->err_msg);
    assert_string_equal(y1->err_code, code_foreign);
    assert_string_equal(y1->err_msg, msg_foreign);
    assert_string_equal(y1->err_code, "no_such_session");

    /* the other person's session was not touched */
    assert_int_equal(client_young_end_reason(y2, "done"), 0);
    assert_int_equal(client_expect(y2, "ended", NULL, T), 0);
    client_free(y1);
    client_free(y2);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_rekey_answers_the_same_for_a_foreign_session_and_an_unknown_id, harness_setup,
            harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
