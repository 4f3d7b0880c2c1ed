/* it_login.c — counsellor and supervisor login (PROTOCOL.md §4.2–4.4): one
 * error code for every kind of refusal, rate limiting before any password
 * check, certificates per device, and messages out of place. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "harness.h"

#define T 5000

static void test_wrong_password_unknown_handle_and_disabled_account_share_auth_failed(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_add_account(h, "dan", "counsellor", "Dan", "family", 1, true), 0);
    const char *dis[] = {"account-disable", "--handle", "dan", NULL};
    assert_int_equal(harness_ctl(h, true, NULL, NULL, 0, dis), 0);
    assert_int_equal(harness_start(h), 0);
    char code[48];
    assert_int_equal(harness_try_login(h, "anna", "wrong password", code), -EPROTO);
    assert_string_equal(code, "auth_failed");
    assert_int_equal(harness_try_login(h, "nobody", "whatever", code), -EPROTO);
    assert_string_equal(code, "auth_failed");
    assert_int_equal(harness_try_login(h, "dan", harness_account(h, "dan")->password, code),
                     -EPROTO);
    assert_string_equal(code, "auth_failed");
    /* The right password still works: the refusals above were about the input. */
    assert_int_equal(harness_try_login(h, "anna", harness_account(h, "anna")->password, code), 0);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_failures_per_handle_rate_limit_even_the_right_password(void **state)
{
    struct harness *h = *state;
    harness_set(h, "login_fail_per_handle", "3");
    assert_int_equal(harness_start(h), 0);
    char code[48];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(harness_try_login(h, "anna", "wrong", code), -EPROTO);
        assert_string_equal(code, "auth_failed");
    }
    assert_int_equal(harness_try_login(h, "anna", harness_account(h, "anna")->password, code),
                     -EPROTO);
    assert_string_equal(code, "rate_limited");
    /* Per handle: ben is not affected. */
    assert_int_equal(harness_try_login(h, "ben", harness_account(h, "ben")->password, code), 0);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_supervisor_logs_in_sees_queue_and_cannot_take(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *sue, *y;
    assert_int_equal(harness_counsellor(h, "sue", &sue), 0);
    assert_int_equal(sue->role, CLIENT_SUPERVISOR);
    assert_string_equal(sue->name, "Sue");
    assert_int_equal(harness_young(h, "family", &y), 0);
    assert_int_equal(client_expect(sue, "queue_summary", NULL, 3000), 0);
    assert_int_equal(client_send_json(sue, "{\"t\":\"take\"}"), 0);
    assert_int_equal(client_expect_error(sue, "not_allowed", T), 0);
    client_free(y);
    client_free(sue);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_uncertified_device_gets_null_cert_and_cannot_take(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_add_account(h, "eva", "counsellor", "Eva", "family", 2, false), 0);
    assert_int_equal(harness_start(h), 0);
    struct client *y, *eva = harness_staff(h, NULL);
    assert_non_null(eva);
    crypto_sign_keypair(eva->device_pk, eva->device_sk);
    eva->has_device = true;
    assert_int_equal(client_login(eva, "eva", harness_account(h, "eva")->password, T), 0);
    assert_false(eva->has_cert);
    assert_int_equal(harness_young(h, "family", &y), 0);
    assert_int_equal(client_status(eva, true, 1, NULL, T), 0);
    assert_int_equal(client_send_json(eva, "{\"t\":\"take\"}"), 0);
    assert_int_equal(client_expect_error(eva, "device_not_certified", T), 0);
    /* anna's certificate is for her device, not for any key she presents. */
    struct client *anna = harness_staff(h, NULL);
    assert_non_null(anna);
    crypto_sign_keypair(anna->device_pk, anna->device_sk);
    anna->has_device = true;
    assert_int_equal(client_login(anna, "anna", harness_account(h, "anna")->password, T), 0);
    assert_false(anna->has_cert);
    client_free(anna);
    /* and with her own device she gets it */
    anna = harness_staff(h, "anna");
    assert_non_null(anna);
    assert_int_equal(client_login(anna, "anna", harness_account(h, "anna")->password, T), 0);
    assert_true(anna->has_cert);
    struct lotse_cert cert;
    assert_int_equal(lotse_cert_verify(&cert, anna->cert, LOTSE_CERT_BYTES, h->org_pk, 0), 0);
    assert_memory_equal(cert.device_pk, anna->device_pk, 32);
    assert_int_equal(cert.counsellor_id, anna->id);
    client_free(anna);
    client_free(y);
    client_free(eva);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_messages_before_hello_or_login_are_not_allowed(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *c = harness_staff(h, NULL);
    assert_non_null(c);
    const char *msgs[] = {
        "{\"t\":\"take\"}",
        "{\"t\":\"status\",\"available\":true,\"capacity\":1}",
        "{\"t\":\"accept\",\"sid\":\"00000000000000000000000000000000\"}",
    };
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        fprintf(stderr, "before login: %s\n", msgs[i]);
        assert_int_equal(client_send_json(c, msgs[i]), 0);
        assert_int_equal(client_expect_error(c, "not_allowed", T), 0);
    }
    /* `end` before hello is a young person's quick exit: refusing it or
     * closing normally are both fine, silence is not. */
    assert_int_equal(client_send_json(c, "{\"t\":\"end\",\"reason\":\"done\"}"), 0);
    int rc = client_expect_error(c, "not_allowed", T);
    assert_true(rc == 0 || (rc == -ESHUTDOWN && c->ws->close_code == 1000));
    client_free(c);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_second_hello_and_login_after_hello_are_not_allowed(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *y;
    assert_int_equal(harness_young(h, "family", &y), 0);
    char sid[33];
    memcpy(sid, client_young_session(y)->sid_hex, 33);
    assert_int_equal(client_young_hello(y, "school", T), -EPROTO);
    assert_string_equal(y->err_code, "not_allowed");
    assert_int_equal(client_login(y, "anna", harness_account(h, "anna")->password, T), -EPROTO);
    assert_string_equal(y->err_code, "not_allowed");
    /* A young person cannot take sessions either. */
    assert_int_equal(client_send_json(y, "{\"t\":\"take\"}"), 0);
    assert_int_equal(client_expect_error(y, "not_allowed", T), 0);
    client_free(y);
    /* A logged-in counsellor cannot say hello. */
    struct client *anna;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(client_young_hello(anna, "family", T), -EPROTO);
    assert_string_equal(anna->err_code, "not_allowed");
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_wrong_password_unknown_handle_and_disabled_account_share_auth_failed,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_failures_per_handle_rate_limit_even_the_right_password,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_supervisor_logs_in_sees_queue_and_cannot_take,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_uncertified_device_gets_null_cert_and_cannot_take,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_messages_before_hello_or_login_are_not_allowed,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_second_hello_and_login_after_hello_are_not_allowed,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
