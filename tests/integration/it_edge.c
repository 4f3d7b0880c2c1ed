/* it_edge — answers at the edge of the protocol (issue 11):
 *
 * - a WebSocket upgrade without the lotse.v1 subprotocol (missing, another
 *   version, a list without it) gets HTTP 400 with a JSON reason, not a bare
 *   close (PROTOCOL.md §1); a list that names lotse.v1 is upgraded;
 * - every error carries `re` (§4.4): "data"/"ack"/"binary" for binary frames,
 *   the type sent for text messages, null when the type could not be read. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "client.h"
#include "harness.h"
#include "lotse/json.h"
#include "lotse/proto.h"

#define T 5000

/* GET /ws as a WebSocket upgrade with the given Sec-WebSocket-Protocol line
 * (NULL: none); the status, and the answer in resp. */
static int upgrade(struct harness *h, const char *protocols, char *resp, size_t cap)
{
    char req[1024], proto_line[256] = "";
    if (protocols)
        snprintf(proto_line, sizeof proto_line, "Sec-WebSocket-Protocol: %s\r\n", protocols);
    int n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     HARNESS_HOST, h->port, proto_line);
    int status = 0;
    int rc = http_raw(HARNESS_HOST, h->port, req, (size_t)n, &status, resp, cap, 3000);
    fprintf(stderr, "upgrade with %s: rc %d, status %d\n", protocols ? protocols : "(none)", rc,
            status);
    return status;
}

static void test_wrong_or_missing_subprotocol_gets_http_400(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    static const char *const wrong[] = {NULL,        "lotse.v2", "chat, superchat",
                                        "lotse.v1x", "lotse",    ""};
    char resp[4096];
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        assert_int_equal(upgrade(h, wrong[i], resp, sizeof resp), 400);
        const char *body = strstr(resp, "\r\n\r\n");
        assert_non_null(body);
        assert_non_null(strstr(body, "\"error\":\"unsupported_subprotocol\""));
        assert_non_null(strstr(body, "\"lotse.v1\""));
        assert_non_null(strcasestr(resp, "content-type: application/json"));
        assert_non_null(strcasestr(resp, "content-security-policy:"));
    }
    /* a list that offers lotse.v1 among others is upgraded */
    assert_int_equal(upgrade(h, "lotse.v2, lotse.v1", resp, sizeof resp), 101);
    assert_non_null(strcasestr(resp, "sec-websocket-protocol: lotse.v1"));
    /* a bogus Upgrade is still refused by lws (and under ASan nothing is read
     * from the freed pointer of HTTP_CONFIRM_UPGRADE) */
    char req[512];
    int n =
        snprintf(req, sizeof req,
                 "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: bogus\r\nConnection: Upgrade\r\n\r\n");
    int status = 0;
    http_raw(HARNESS_HOST, h->port, req, (size_t)n, &status, resp, sizeof resp, 3000);
    assert_true(status >= 400);
    /* and the service goes on */
    struct client *y;
    assert_int_equal(harness_young(h, "family", &y), 0);
    client_free(y);
    assert_int_equal(harness_http_status(h, "/healthz"), 200);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* Expects the next message to be error `code` whose `re` is want (NULL: re must
 * be JSON null). */
static void expect_re(struct client *c, const char *label, const char *code, const char *want)
{
    static struct lotse_json_msg m;
    int rc = client_expect(c, "error", &m, T);
    assert_int_equal(rc, 0);
    const struct lotse_json_field *f = lotse_json_get(&m, "code");
    assert_non_null(f);
    const struct lotse_json_field *re = lotse_json_get(&m, "re");
    fprintf(stderr, "%s: code %s, re %s\n", label, f->str,
            !re                           ? "(absent)"
            : re->type == LOTSE_JSON_NULL ? "null"
                                          : re->str);
    assert_string_equal(f->str, code);
    assert_non_null(re);
    if (!want) {
        assert_int_equal(re->type, LOTSE_JSON_NULL);
    } else {
        assert_int_equal(re->type, LOTSE_JSON_STRING);
        assert_string_equal(re->str, want);
    }
}

static void frame(uint8_t *out, uint8_t kind, const uint8_t sid[16], uint64_t seq)
{
    struct lotse_frame_header fh = {.version = 1, .kind = kind, .seq = seq};
    memcpy(fh.sid, sid, 16);
    lotse_frame_encode_header(out, &fh);
}

static void test_every_error_carries_re(void **state)
{
    struct harness *h = *state;
    harness_set(h, "max_protocol_errors", "1000");
    assert_int_equal(harness_start(h), 0);
    struct client *c;
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    uint8_t sid[16] = {1, 2, 3}, buf[LOTSE_FRAME_HEADER_BYTES + 272] = {0};

    /* binary frames before hello */
    frame(buf, LOTSE_FRAME_DATA, sid, 1);
    assert_int_equal(client_send_binary(c, buf, LOTSE_FRAME_HEADER_BYTES + 272), 0);
    expect_re(c, "DATA before hello", "not_allowed", "data");
    frame(buf, LOTSE_FRAME_ACK, sid, 1);
    assert_int_equal(client_send_binary(c, buf, LOTSE_ACK_FRAME_BYTES), 0);
    expect_re(c, "ACK before hello", "not_allowed", "ack");
    assert_int_equal(client_send_binary(c, "\x01", 1), 0);
    expect_re(c, "1-byte frame", "not_allowed", "binary");

    /* text messages */
    assert_int_equal(client_send_json(c, "not json"), 0);
    expect_re(c, "not json", "bad_json", NULL);
    assert_int_equal(client_send_json(c, "{\"x\":1}"), 0);
    expect_re(c, "no t", "unknown_type", NULL);
    assert_int_equal(client_send_json(c, "{\"t\":\"bogus\"}"), 0);
    expect_re(c, "unknown t", "unknown_type", "bogus");
    assert_int_equal(client_send_json(c, "{\"t\":\"take\"}"), 0);
    expect_re(c, "take before login", "not_allowed", "take");

    /* binary frames once in a session */
    assert_int_equal(client_young_hello(c, "family", T), 0);
    frame(buf, LOTSE_FRAME_DATA, sid, 1);
    assert_int_equal(client_send_binary(c, buf, LOTSE_FRAME_HEADER_BYTES + 5), 0);
    expect_re(c, "DATA of a bad size", "bad_frame", "data");
    buf[1] = 9; /* no such kind */
    assert_int_equal(client_send_binary(c, buf, LOTSE_FRAME_HEADER_BYTES), 0);
    expect_re(c, "kind 9", "bad_frame", "binary");
    frame(buf, LOTSE_FRAME_ACK, sid, 1); /* a well-formed ACK: header and its 16-byte tag */
    assert_int_equal(client_send_binary(c, buf, LOTSE_ACK_FRAME_BYTES), 0);
    expect_re(c, "ACK for an unknown sid", "no_such_session", "ack");
    frame(buf, LOTSE_FRAME_DATA, client_young_session(c)->sid, 1);
    assert_int_equal(client_send_binary(c, buf, LOTSE_FRAME_HEADER_BYTES + 272), 0);
    expect_re(c, "DATA before keys", "session_not_active", "data");
    assert_int_equal(client_send_json(c, "{\"t\":\"hello\"}"), 0);
    expect_re(c, "second hello", "not_allowed", "hello");
    client_free(c);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wrong_or_missing_subprotocol_gets_http_400,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_every_error_carries_re, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
