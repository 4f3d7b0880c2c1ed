/* it_loginproof.c — a login must prove the device secret key (PROTOCOL.md §4.2,
 * issue 11 M2), and failed logins slow the attacker down instead of locking the
 * counsellor out (issue 11 "One person can lock out a counsellor"). */
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

/* Someone who copied anna's device public key out of a certificate (every young
 * person she talks to sees it) and knows her password, but has no secret key:
 * refused, never logged in as certified, and cannot take a session. */
static void test_right_password_with_copied_public_key_and_no_secret_key_is_refused(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *real = harness_staff(h, "anna");
    assert_non_null(real);
    struct client *thief = harness_staff(h, NULL);
    assert_non_null(thief);
    uint8_t other_pk[32];
    crypto_sign_keypair(other_pk, thief->device_sk); /* a secret key, but not anna's */
    memcpy(thief->device_pk, real->device_pk, 32);   /* anna's public key, copied */
    thief->has_device = true;
    int rc = client_login(thief, "anna", harness_account(h, "anna")->password, T);
    assert_int_equal(rc, -EPROTO);
    assert_string_equal(thief->err_code, "auth_failed");
    assert_false(thief->has_cert);
    struct client *y;
    assert_int_equal(harness_young(h, "family", &y), 0);
    assert_int_equal(client_send_json(thief, "{\"t\":\"take\"}"), 0);
    assert_int_equal(client_expect_error(thief, "not_allowed", T), 0);
    client_free(thief);
    /* anna herself, with her device, is certified and takes the session. */
    assert_int_equal(client_login(real, "anna", harness_account(h, "anna")->password, T), 0);
    assert_true(real->has_cert);
    client_free(real);
    client_free(y);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* The proof answers the challenge of this connection only: a signature over
 * another nonce (a replay from an earlier login) does not verify. */
static void test_proof_over_another_challenge_is_refused(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *c = harness_staff(h, "anna");
    assert_non_null(c);
    char buf[512];
    int n =
        snprintf(buf, sizeof buf,
                 "{\"t\":\"login\",\"v\":1,\"handle\":\"anna\",\"password\":\"%s\",\"device\":\"",
                 harness_account(h, "anna")->password);
    int enc = lotse_b64_encode(buf + n, sizeof buf - (size_t)n, c->device_pk, 32);
    assert_true(enc > 0);
    snprintf(buf + n + enc, sizeof buf - (size_t)n - (size_t)enc, "\"}");
    assert_int_equal(client_send_json(c, buf), 0);
    char *ch = harness_next_raw(c, "login_challenge", T);
    assert_non_null(ch);
    free(ch);
    /* sign a nonce of our own choosing instead of the server's */
    uint8_t nonce[32], msg[14 + 64 + 4], sig[64];
    randombytes_buf(nonce, sizeof nonce);
    memcpy(msg, "lotse-login-v1", 14);
    memcpy(msg + 14, nonce, 32);
    memcpy(msg + 46, c->device_pk, 32);
    memcpy(msg + 78, "anna", 4);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, c->device_sk);
    n = snprintf(buf, sizeof buf, "{\"t\":\"login_proof\",\"sig\":\"");
    enc = lotse_b64_encode(buf + n, sizeof buf - (size_t)n, sig, 64);
    assert_true(enc > 0);
    snprintf(buf + n + enc, sizeof buf - (size_t)n - (size_t)enc, "\"}");
    assert_int_equal(client_send_json(c, buf), 0);
    assert_int_equal(client_expect_error(c, "auth_failed", T), 0);
    /* a proof with no open challenge is out of place */
    assert_int_equal(client_send_json(c, buf), 0);
    assert_int_equal(client_expect_error(c, "not_allowed", T), 0);
    client_free(c);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* Anyone who knows anna's handle sends wrong passwords. They are slowed down
 * (backoff), but anna, logging in from her certified device, is never refused;
 * and after the backoff even a login without a device gets through: nothing
 * locks the handle for minutes. */
static void
test_wrong_passwords_slow_the_attacker_and_never_lock_out_the_certified_device(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    char code[48];
    for (int i = 0; i < 5; i++) { /* login_fail_per_handle: 5 free failures */
        assert_int_equal(harness_try_login(h, "anna", "guess", code), -EPROTO);
        assert_string_equal(code, "auth_failed");
    }
    /* the attacker is slowed: the next guess at once is not even checked */
    assert_int_equal(harness_try_login(h, "anna", "guess", code), -EPROTO);
    assert_string_equal(code, "rate_limited");
    /* anna with her device and the right password: in, certified */
    struct client *anna = harness_staff(h, "anna");
    assert_non_null(anna);
    assert_int_equal(client_login(anna, "anna", harness_account(h, "anna")->password, T), 0);
    assert_true(anna->has_cert);
    client_free(anna);
    /* the first backoff is 2 s; after it the handle is usable again */
    harness_sleep_ms(2200);
    assert_int_equal(harness_try_login(h, "anna", harness_account(h, "anna")->password, code), 0);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* The backoff grows with every failure while the attempts keep coming, and the
 * source that makes them is slowed for every handle it tries. */
static void test_backoff_doubles_per_handle_and_slows_the_source(void **state)
{
    struct harness *h = *state;
    harness_set(h, "login_fail_per_handle", "1");
    harness_set(h, "login_fail_per_source", "3");
    assert_int_equal(harness_start(h), 0);
    char code[48];
    assert_int_equal(harness_try_login(h, "ben", "guess", code), -EPROTO);
    assert_string_equal(code, "auth_failed");
    harness_sleep_ms(2100); /* 1 failure past the free one: 2 s */
    assert_int_equal(harness_try_login(h, "ben", "guess", code), -EPROTO);
    assert_string_equal(code, "auth_failed");
    harness_sleep_ms(2100); /* now 4 s: still waiting */
    assert_int_equal(harness_try_login(h, "ben", "guess", code), -EPROTO);
    assert_string_equal(code, "rate_limited");
    /* the source has failed twice; a third handle fails once more, then the
     * source waits for any handle */
    assert_int_equal(harness_try_login(h, "nobody", "guess", code), -EPROTO);
    assert_string_equal(code, "auth_failed");
    assert_int_equal(harness_try_login(h, "someone", "guess", code), -EPROTO);
    assert_string_equal(code, "rate_limited");
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* A connection that leaves between login_challenge and login_proof: the login
 * it held (with the password) is freed and wiped, not left behind. */
static void test_leaving_during_the_challenge_leaves_no_password_behind(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    const char *pw = "a-unique-password-7f3a9c";
    for (int i = 0; i < 3; i++) {
        struct client *c = harness_staff(h, "anna");
        assert_non_null(c);
        char buf[512];
        int n = snprintf(
            buf, sizeof buf,
            "{\"t\":\"login\",\"v\":1,\"handle\":\"anna\",\"password\":\"%s\",\"device\":\"", pw);
        int enc = lotse_b64_encode(buf + n, sizeof buf - (size_t)n, c->device_pk, 32);
        assert_true(enc > 0);
        snprintf(buf + n + enc, sizeof buf - (size_t)n - (size_t)enc, "\"}");
        assert_int_equal(client_send_json(c, buf), 0);
        char *ch = harness_next_raw(c, "login_challenge", T);
        assert_non_null(ch);
        free(ch);
        sodium_memzero(buf, sizeof buf);
        client_free(c); /* gone without a proof */
    }
    harness_sleep_ms(300);
    /* At most one copy: the receive buffer libwebsockets kept for the last
     * connection (freed, not wiped; the same after any login, with or without
     * a device). Each login left behind would add one: 4 before the fix. */
    long copies = harness_scan_memory(h, pw, strlen(pw));
    printf("# copies of the password in lotsed's memory after 3 abandoned challenges: %ld\n",
           copies);
    assert_true(copies >= 0 && copies <= 1);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_right_password_with_copied_public_key_and_no_secret_key_is_refused, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_proof_over_another_challenge_is_refused, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_wrong_passwords_slow_the_attacker_and_never_lock_out_the_certified_device,
            harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_backoff_doubles_per_handle_and_slows_the_source,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_leaving_during_the_challenge_leaves_no_password_behind,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
