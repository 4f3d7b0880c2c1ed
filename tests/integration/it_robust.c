/* it_robust.c — bad input never hurts anyone else: connections cut in the
 * middle of a frame, invalid JSON, unknown types, oversized and invalid UTF-8
 * messages, a bogus Upgrade header (the lws 4.1.6 use-after-free, DESIGN.md),
 * silent clients. Throughout, a chat running alongside keeps working, /healthz
 * answers, and the server exits 0 on SIGTERM. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "harness.h"

#define T 5000

/* The chat that runs alongside every test. */
struct bystander {
    struct client *anna, *young;
    struct client_session *cs, *ys;
    int n;
};

static void bystander_start(struct harness *h, struct bystander *b)
{
    assert_int_equal(harness_counsellor(h, "anna", &b->anna), 0);
    assert_int_equal(harness_pair(h, b->anna, "family", &b->young, &b->cs), 0);
    b->ys = client_young_session(b->young);
    b->n = 0;
}

/* One message each way and a health check: the server still does its job. */
static void bystander_check(struct harness *h, struct bystander *b)
{
    char msg[64], got[LOTSE_MAX_MESSAGE + 1];
    snprintf(msg, sizeof msg, "still chatting %d", b->n++);
    assert_int_equal(client_send_text(b->young, b->ys, msg, strlen(msg)), 0);
    assert_int_equal(client_recv_text(b->anna, NULL, got, sizeof got, T), (int)strlen(msg));
    assert_string_equal(got, msg);
    assert_int_equal(client_send_text(b->anna, b->cs, msg, strlen(msg)), 0);
    assert_int_equal(client_recv_text(b->young, NULL, got, sizeof got, T), (int)strlen(msg));
    assert_string_equal(got, msg);
    assert_int_equal(harness_http_status(h, "/healthz"), 200);
}

static void bystander_stop(struct harness *h, struct bystander *b)
{
    bystander_check(h, b);
    client_free(b->young);
    client_free(b->anna);
}

static struct ws_conn *raw_connect(struct harness *h)
{
    struct ws_conn *w;
    assert_int_equal(ws_connect(&w, HARNESS_HOST, h->port, "/ws", LOTSE_SUBPROTOCOL, NULL, NULL, T), 0);
    return w;
}

static void test_disconnect_in_the_middle_of_a_frame_is_survived(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct bystander b;
    bystander_start(h, &b);
    char text[600];
    memset(text, 'x', sizeof text);
    uint8_t bin[300] = {1, 1};
    const size_t cuts[] = {1, 2, 5, 8, 100};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        struct ws_conn *w = raw_connect(h);
        assert_int_equal(ws_send_partial_and_abort(w, WS_OP_TEXT, text, sizeof text, cuts[i]), 0);
        ws_free(w);
        w = raw_connect(h);
        assert_int_equal(ws_send_partial_and_abort(w, WS_OP_BINARY, bin, sizeof bin, cuts[i]), 0);
        ws_free(w);
    }
    /* A logged-in counsellor dropping mid-frame, and a young person mid-fragment. */
    struct client *ben, *y;
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    assert_int_equal(ws_send_partial_and_abort(ben->ws, WS_OP_BINARY, bin, sizeof bin, 40), 0);
    client_free(ben);
    assert_int_equal(harness_young(h, "school", &y), 0);
    assert_int_equal(ws_send_frame(y->ws, WS_OP_TEXT, false, "{\"t\":", 5), 0);
    ws_abort(y->ws);
    client_free(y);
    bystander_check(h, &b);
    bystander_stop(h, &b);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_invalid_json_and_unknown_types_get_errors(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct bystander b;
    bystander_start(h, &b);
    struct client *c;
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    const char *bad_json[] = {"{not json", "[1,2]", "\"t\"", "{\"t\":\"hello\",}", "{\"t\":1.5}",
                              "{\"t\":\"hello\",\"t\":\"login\"}", "{\"t\":{\"x\":1}}", ""};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        assert_int_equal(client_send_json(c, bad_json[i]), 0);
        assert_int_equal(client_expect_error(c, "bad_json", T), 0);
    }
    bystander_check(h, &b);
    client_free(c);
    /* A fresh connection: the protocol-error budget (20) is per connection.
     * Unknown types are checked after hello, where no state rule applies. */
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_young_hello(c, "school", T), 0);
    assert_int_equal(client_send_json(c, "{\"t\":\"frobnicate\"}"), 0);
    assert_int_equal(client_expect_error(c, "unknown_type", T), 0);
    assert_int_equal(client_send_json(c, "{\"type\":\"hello\"}"), 0);
    assert_int_equal(client_expect_error(c, "unknown_type", T), 0);
    client_free(c);
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_send_json(c, "{\"t\":\"hello\",\"v\":1,\"role\":\"young\",\"topic\":\"family\"}"), 0);
    assert_int_equal(client_expect_error(c, "bad_field", T), 0);
    assert_string_equal(c->err_field, "pk");
    assert_int_equal(client_send_json(c, "{\"t\":\"hello\",\"v\":1,\"role\":\"young\",\"topic\":\"knitting\","
                                         "\"pk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}"), 0);
    assert_int_equal(client_expect_error(c, "bad_topic", T), 0);
    /* A version we do not speak: error, then close 1002. */
    assert_int_equal(client_send_json(c, "{\"t\":\"hello\",\"v\":2,\"role\":\"young\",\"topic\":\"family\","
                                         "\"pk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}"), 0);
    assert_int_equal(client_expect_error(c, "unsupported_version", T), 0);
    assert_int_equal(client_wait_close(c, T), 1002);
    client_free(c);
    bystander_stop(h, &b);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_too_many_protocol_errors_close_1008(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct bystander b;
    bystander_start(h, &b);
    struct client *c;
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    int code = -1;
    for (int i = 0; i < 25 && code < 0; i++) {
        if (client_send_json(c, "{bad") < 0)
            break;
        if (client_expect(c, "error", NULL, T) == -ESHUTDOWN)
            code = c->ws->close_code;
        /* stay below the control message rate limit (20/s, burst 40) */
    }
    if (code < 0)
        code = client_wait_close(c, T);
    assert_int_equal(code, 1008);
    client_free(c);
    bystander_stop(h, &b);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* A JSON message of exactly len bytes: an unknown type padded with a field. */
static char *padded_json(size_t len)
{
    char *s = malloc(len + 1);
    assert_non_null(s);
    const char *head = "{\"t\":\"zz\",\"pad\":\"";
    size_t hl = strlen(head);
    memcpy(s, head, hl);
    memset(s + hl, 'p', len - hl - 2);
    memcpy(s + len - 2, "\"}", 2);
    s[len] = 0;
    return s;
}

static void test_oversized_messages_close_1009_also_across_fragments(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct bystander b;
    bystander_start(h, &b);
    struct client *c;
    /* Exactly the limit is fine: the server answers (unknown_type) and stays. */
    char *limit = padded_json(LOTSE_MAX_TEXT_FRAME);
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_young_hello(c, "school", T), 0);
    assert_int_equal(client_send_json(c, limit), 0);
    assert_int_equal(client_expect_error(c, "unknown_type", T), 0);
    assert_int_equal(ws_send_fragmented(c->ws, WS_OP_TEXT, limit, strlen(limit), 1000), 0);
    assert_int_equal(client_expect_error(c, "unknown_type", T), 0);
    client_free(c);
    free(limit);

    char *over = padded_json(LOTSE_MAX_TEXT_FRAME + 1);
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_send_json(c, over), 0);
    assert_int_equal(client_wait_close(c, T), 1009);
    client_free(c);
    /* The same, in fragments each well below the limit. */
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(ws_send_fragmented(c->ws, WS_OP_TEXT, over, strlen(over), 500), 0);
    assert_int_equal(client_wait_close(c, T), 1009);
    client_free(c);
    free(over);
    /* Binary: one byte over 4,140, whole and fragmented. */
    uint8_t bin[LOTSE_MAX_BINARY_FRAME + 1] = {1, 1};
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_send_binary(c, bin, sizeof bin), 0);
    assert_int_equal(client_wait_close(c, T), 1009);
    client_free(c);
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(ws_send_fragmented(c->ws, WS_OP_BINARY, bin, sizeof bin, 512), 0);
    assert_int_equal(client_wait_close(c, T), 1009);
    client_free(c);
    /* A 4 GiB length announced, then more than the limit actually sent. */
    struct ws_conn *w = raw_connect(h);
    uint8_t huge[14 + 9000] = {0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4};
    assert_int_equal(ws_send_raw(w, huge, sizeof huge), 0);
    int code = ws_wait_close(w, T);
    fprintf(stderr, "4 GiB frame header: close %d\n", code);
    assert_true(code == 1009 || code == 1002 || code == 0);
    ws_free(w);
    bystander_stop(h, &b);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_invalid_utf8_in_a_text_frame_closes_1007(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct bystander b;
    bystander_start(h, &b);
    const char *bad[] = {"{\"t\":\"\xff\xfe\"}", "{\"t\":\"\xc0\xaf\"}", "{\"t\":\"\xed\xa0\x80\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct client *c;
        assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
        assert_int_equal(client_send_json(c, bad[i]), 0);
        int code = client_wait_close(c, T);
        /* PROTOCOL.md §4.5 and RFC 6455 §7.4.1: invalid payload data is 1007. */
        if (code != 1007)
            fprintf(stderr, "invalid UTF-8 #%zu closed with %d\n", i, code);
        assert_int_equal(code, 1007);
        client_free(c);
    }
    bystander_stop(h, &b);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_bogus_upgrade_header_is_refused_and_survived(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct bystander b;
    bystander_start(h, &b);
    char req[512], resp[4096];
    int status;
    snprintf(req, sizeof req,
             "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: foo\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Protocol: lotse.v1\r\n\r\n", h->port);
    for (int i = 0; i < 10; i++) {
        http_raw(HARNESS_HOST, h->port, req, strlen(req), &status, resp, sizeof resp, 3000);
        assert_true(status == 0 || (status >= 400 && status < 500));
    }
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
             "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
    http_raw(HARNESS_HOST, h->port, req, strlen(req), &status, resp, sizeof resp, 3000);
    bystander_stop(h, &b);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_connection_without_subprotocol_is_refused(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct ws_conn *w = NULL;
    int status = 0;
    int rc = ws_connect(&w, HARNESS_HOST, h->port, "/ws", NULL, NULL, &status, T);
    if (rc == 0) {
        /* Upgraded after all: then the server must not speak lotse on it. */
        int code = ws_wait_close(w, 2000);
        fprintf(stderr, "upgraded without subprotocol, then close %d\n", code);
        ws_free(w);
    }
    assert_int_not_equal(rc, 0);
    rc = ws_connect(&w, HARNESS_HOST, h->port, "/ws", "lotse.v2", NULL, &status, T);
    if (rc == 0)
        ws_free(w);
    assert_int_not_equal(rc, 0);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_silent_connection_closes_4001_after_handshake_timeout(void **state)
{
    struct harness *h = *state;
    harness_set(h, "handshake_timeout", "1");
    assert_int_equal(harness_start(h), 0);
    struct bystander b;
    bystander_start(h, &b);
    struct ws_conn *w = raw_connect(h);
    int code = ws_wait_close(w, 4000);
    assert_int_equal(code, 4001);
    ws_free(w);
    /* Those who did say hello in time are not affected, even after a while. */
    harness_sleep_ms(1500);
    bystander_stop(h, &b);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_sigterm_with_live_chat_exits_zero_and_says_shutdown(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct bystander b;
    bystander_start(h, &b);
    bystander_check(h, &b);
    assert_int_equal(harness_stop(h), 0);
    /* Both sides learn why: ended shutdown and/or close 1001. */
    int code = client_wait_close(b.young, T);
    bool said = client_young_session(b.young)->ended &&
                strcmp(client_young_session(b.young)->ended_reason, "shutdown") == 0;
    fprintf(stderr, "young: close %d, ended %s\n", code, client_young_session(b.young)->ended_reason);
    assert_true(code == 1001 || said);
    code = client_wait_close(b.anna, T);
    assert_true(code == 1001 || (b.cs->ended && strcmp(b.cs->ended_reason, "shutdown") == 0));
    client_free(b.young);
    client_free(b.anna);
    assert_int_equal(harness_wait_count(h,
        "SELECT count(*) FROM sessions WHERE end_reason = 'shutdown'", 1, 2000), 1);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disconnect_in_the_middle_of_a_frame_is_survived,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_json_and_unknown_types_get_errors,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_too_many_protocol_errors_close_1008, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_oversized_messages_close_1009_also_across_fragments,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8_in_a_text_frame_closes_1007,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_bogus_upgrade_header_is_refused_and_survived,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_connection_without_subprotocol_is_refused,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_silent_connection_closes_4001_after_handshake_timeout,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_with_live_chat_exits_zero_and_says_shutdown,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
