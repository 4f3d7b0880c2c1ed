/* it_logaudit.c — the server log never holds what it must not (DESIGN.md, STYLE
 * rule 6): no IP address in any form, no session token or resume secret, no
 * key, no certificate, no message text, no password.
 *
 * A whole day in miniature runs at log_level = debug: logins with wrong
 * passwords and unknown handles, young people waiting and leaving, chats both
 * ways with a marker string in the plaintext, a dropped connection resumed, a
 * page reload (resume with a fresh key), a transfer to a colleague and one back
 * to the queue, bad input of many kinds, ends of every kind. Every secret the
 * test sees is collected; then every line of the log is searched for each of
 * them (base64url and hex, whole and as a 16-character prefix) and for address
 * patterns. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client.h"
#include "harness.h"

#define T 5000
#define MARKER "PLAINTEXT-MARKER-q7Zr9w"

/* ---- what must never appear ---------------------------------------------------------- */

#define MAX_SECRETS 4096
struct secret {
    char what[48];
    char text[400];
};
static struct secret secrets[MAX_SECRETS];
static int nsecrets;

static void add_text(const char *what, const char *text)
{
    assert_true(nsecrets < MAX_SECRETS);
    assert_true(strlen(text) >= 6);
    snprintf(secrets[nsecrets].what, sizeof secrets[nsecrets].what, "%s", what);
    snprintf(secrets[nsecrets].text, sizeof secrets[nsecrets].text, "%s", text);
    nsecrets++;
}

/* Bytes as base64url (whole and its first 16 characters) and as hex (both cases). */
static void add_bytes(const char *what, const uint8_t *b, size_t n)
{
    char b64[400], hex[400], label[48];
    sodium_bin2base64(b64, sizeof b64, b, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(label, sizeof label, "%s (b64)", what);
    add_text(label, b64);
    b64[16] = 0;
    snprintf(label, sizeof label, "%s (b64 prefix)", what);
    add_text(label, b64);
    sodium_bin2base64(b64, sizeof b64, b, n, sodium_base64_VARIANT_ORIGINAL);
    snprintf(label, sizeof label, "%s (std b64)", what);
    add_text(label, b64);
    sodium_bin2hex(hex, sizeof hex, b, n);
    snprintf(label, sizeof label, "%s (hex)", what);
    add_text(label, hex);
    hex[16] = 0;
    snprintf(label, sizeof label, "%s (hex prefix)", what);
    add_text(label, hex);
}

static void add_client(const char *who, struct client *c)
{
    char what[48];
    if (c->role == CLIENT_YOUNG) {
        snprintf(what, sizeof what, "%s resume secret", who);
        add_bytes(what, c->resume, sizeof c->resume);
    } else {
        snprintf(what, sizeof what, "%s token", who);
        add_bytes(what, c->token, sizeof c->token);
        if (c->has_device) {
            snprintf(what, sizeof what, "%s device pk", who);
            add_bytes(what, c->device_pk, sizeof c->device_pk);
            snprintf(what, sizeof what, "%s device sk", who);
            add_bytes(what, c->device_sk, sizeof c->device_sk);
        }
        if (c->has_cert) {
            snprintf(what, sizeof what, "%s certificate", who);
            add_bytes(what, c->cert, sizeof c->cert);
            snprintf(what, sizeof what, "%s certificate signature", who);
            add_bytes(what, c->cert + LOTSE_CERT_BODY_BYTES, LOTSE_SIG_BYTES);
        }
    }
    for (int i = 0; i < CLIENT_MAX_SESSIONS; i++) {
        struct client_session *s = &c->sessions[i];
        if (!s->used)
            continue;
        snprintf(what, sizeof what, "%s session pk", who);
        add_bytes(what, s->pk, sizeof s->pk);
        snprintf(what, sizeof what, "%s session sk", who);
        add_bytes(what, s->sk, sizeof s->sk);
        snprintf(what, sizeof what, "%s peer pk", who);
        add_bytes(what, s->peer_pk, sizeof s->peer_pk);
    }
}

/* ---- the scenario ------------------------------------------------------------------------ */

static void chat(struct client *from, struct client_session *fs, struct client *to, const char *text)
{
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_send_text(from, fs, text, strlen(text)), 0);
    assert_int_equal(client_recv_text(to, NULL, got, sizeof got, T), (int)strlen(text));
    assert_string_equal(got, text);
}

static void run_scenario(struct harness *h)
{
    struct harness_account *anna = harness_account(h, "anna");
    struct harness_account *ben = harness_account(h, "ben");
    struct harness_account *sue = harness_account(h, "sue");
    add_text("anna's password", anna->password);
    add_text("ben's password", ben->password);
    add_text("sue's password", sue->password);
    add_bytes("organisation public key", h->org_pk, 32);
    if (h->have_org_sk)
        add_bytes("organisation secret key", h->org_sk, 64);

    /* wrong passwords and an unknown handle */
    static const char *const wrong[] = {"Wrong-Password-1!", "hunter2-but-longer", "Sommer2026!x"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        struct client *c;
        assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, CLIENT_COUNSELLOR, NULL, T), 0);
        assert_int_equal(client_load_device(c, anna->device_file), 0);
        int rc = client_login(c, i == 2 ? "no-such-handle-x" : "anna", wrong[i], T);
        assert_int_equal(rc, -EPROTO);
        assert_string_equal(c->err_code, "auth_failed");
        add_text("a wrong password", wrong[i]);
        client_free(c);
    }

    struct client *ca, *cb, *sup;
    assert_int_equal(harness_counsellor(h, "anna", &ca), 0);
    assert_int_equal(harness_counsellor(h, "ben", &cb), 0);
    ca->drop_duplicates = cb->drop_duplicates = true; /* resends after resume */
    assert_int_equal(client_connect(&sup, HARNESS_HOST, h->port, CLIENT_SUPERVISOR, NULL, T), 0);
    assert_int_equal(client_login(sup, "sue", sue->password, T), 0);
    add_client("supervisor", sup);

    /* a young person who waits and leaves, one who drops while waiting (a
     * topic nobody here serves, so that no take picks them) */
    struct client *w1, *w2;
    assert_int_equal(harness_young(h, "crisis", &w1), 0);
    add_client("waiting young", w1);
    assert_int_equal(client_young_end_reason(w1, "done"), 0);
    assert_int_equal(client_expect(w1, "ended", NULL, T), 0);
    client_free(w1);
    assert_int_equal(harness_young(h, "crisis", &w2), 0);
    add_client("dropped young", w2);
    client_drop(w2);
    client_free(w2);

    /* a chat with anna, both ways, with the marker */
    struct client *y;
    struct client_session *cs;
    assert_int_equal(harness_pair(h, ca, "family", &y, &cs), 0);
    struct client_session *ys = client_young_session(y);
    y->drop_duplicates = true;
    add_client("young", y);
    chat(y, ys, ca, MARKER " from the young person");
    chat(ca, cs, y, MARKER " from anna");

    /* the young person's connection drops and is resumed; a frame sent
     * meanwhile is held and delivered */
    client_drop(y);
    assert_int_equal(client_wait_peer(ca, cs, true, T), 0);
    assert_int_equal(client_send_text(ca, cs, MARKER " while away", strlen(MARKER " while away")), 0);
    assert_int_equal(client_reconnect(y, T), 0);
    assert_int_equal(client_resume(y, false, T), 0);
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_recv_text(y, NULL, got, sizeof got, T), (int)strlen(MARKER " while away"));
    chat(y, ys, ca, MARKER " after resume");

    /* anna's connection drops and is resumed with her token */
    client_drop(ca);
    assert_int_equal(client_reconnect(ca, T), 0);
    assert_int_equal(client_resume(ca, false, T), 0);
    chat(ca, cs, y, MARKER " anna is back");

    /* a page reload: resume with a fresh key; anna keys again */
    uint64_t before = cs->reassigned;
    client_drop(y);
    assert_int_equal(client_reconnect(y, T), 0);
    assert_int_equal(client_resume(y, true, T), 0);
    add_client("young after reload", y);
    assert_int_equal(client_wait_reassigned(ca, cs, before, T), 0);
    assert_int_equal(client_send_keys(ca, cs), 0);
    assert_int_equal(client_young_wait_keys(y, T), 0);
    add_client("anna after reload", ca);
    chat(y, ys, ca, MARKER " after reload");

    /* anna hands the chat to ben; the young person rekeys; ben keys */
    assert_int_equal(client_transfer(ca, cs, "ben", T), 0);
    assert_int_equal(client_pump(y, 300), 0); /* reads `transferred`, answers with rekey */
    struct client_session *bs;
    assert_int_equal(client_wait_assigned(cb, &bs, T), 0);
    assert_int_equal(client_send_keys(cb, bs), 0);
    assert_int_equal(client_young_wait_keys(y, T), 0);
    add_client("young after transfer", y);
    add_client("ben", cb);
    chat(y, ys, cb, MARKER " to ben");
    chat(cb, bs, y, MARKER " from ben");

    /* ben sends it back to the queue; anna takes it again */
    assert_int_equal(client_transfer(cb, bs, NULL, T), 0);
    assert_int_equal(client_pump(y, 300), 0);
    struct client_session *cs2;
    assert_int_equal(client_take_and_key(ca, &cs2, T), 0);
    /* an ACK the young person's client sent while the new keys were on their
     * way is refused (session_not_active): harmless here, wait on */
    int rc;
    for (int i = 0; i < 4; i++) {
        rc = client_young_wait_keys(y, T);
        if (rc != -EPROTO || strcmp(y->err_code, "session_not_active") != 0)
            break;
    }
    assert_int_equal(rc, 0);
    add_client("young after the queue", y);
    add_client("anna again", ca);
    chat(y, ys, ca, MARKER " back with anna");

    /* bad input of several kinds, from the young person and from anna */
    static const char *const bad[] = {
        "{not json", "{\"t\":\"frobnicate\"}", "{\"t\":\"take\"}",
        "{\"t\":\"hello\",\"v\":1,\"role\":\"young\",\"topic\":\"knitting\",\"pk\":\"" MARKER "\"}",
        "{\"t\":\"rekey\",\"sid\":\"" MARKER "\",\"pk\":\"" MARKER "\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(client_send_json(y, bad[i]), 0);
        assert_int_equal(client_expect(y, "error", NULL, T), 0);
        assert_int_equal(client_send_json(ca, bad[i]), 0);
        assert_int_equal(client_expect(ca, "error", NULL, T), 0);
    }
    uint8_t frame[LOTSE_FRAME_HEADER_BYTES + 20] = {1, 1};
    memcpy(frame + 28, MARKER, 20);
    assert_int_equal(client_send_binary(y, frame, sizeof frame), 0);
    assert_int_equal(client_expect(y, "error", NULL, T), 0);
    /* a resume with a wrong secret and a login with a token-like password */
    struct client *r;
    assert_int_equal(client_connect(&r, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    uint8_t fake[32];
    randombytes_buf(fake, sizeof fake);
    char fake_b64[64], msg[256], sidhex[33];
    sodium_bin2base64(fake_b64, sizeof fake_b64, fake, sizeof fake, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2hex(sidhex, sizeof sidhex, ys->sid, 16);
    snprintf(msg, sizeof msg, "{\"t\":\"resume\",\"v\":1,\"sid\":\"%s\",\"resume\":\"%s\"}", sidhex, fake_b64);
    add_bytes("a wrong resume secret", fake, sizeof fake);
    assert_int_equal(client_send_json(r, msg), 0);
    assert_int_equal(client_expect_error(r, "resume_failed", T), 0);
    client_free(r);

    /* ends: by the young person, by the counsellor, by a drop after the grace */
    chat(ca, cs2, y, MARKER " goodbye");
    assert_int_equal(client_young_end_reason(y, "done"), 0);
    assert_int_equal(client_expect(y, "ended", NULL, T), 0);
    struct client *y2, *y3;
    struct client_session *s2, *s3;
    assert_int_equal(harness_pair(h, ca, "school", &y2, &s2), 0);
    add_client("second young", y2);
    chat(y2, client_young_session(y2), ca, MARKER " second chat");
    assert_int_equal(client_end(ca, s2), 0);
    assert_int_equal(client_expect(y2, "ended", NULL, T), 0);
    assert_int_equal(harness_pair(h, cb, "prison", &y3, &s3), 0);
    add_client("third young", y3);
    add_client("anna at the end", ca);
    add_client("ben at the end", cb);
    chat(y3, client_young_session(y3), cb, MARKER " third chat");
    client_drop(y3); /* young_left after the grace */
    harness_sleep_ms(2500);
    client_free(y);
    client_free(y2);
    client_free(y3);
    client_free(ca);
    client_free(cb);
    client_free(sup);
}

/* ---- the audit ---------------------------------------------------------------------------- */

static void audit(const char *log)
{
    regex_t v4, v6full, v6bracket;
    /* dotted quads (127.0.0.1, ::ffff:1.2.3.4, 10.0.0.1:5432) */
    assert_int_equal(regcomp(&v4, "(^|[^0-9.])[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}($|[^0-9.])",
                             REG_EXTENDED | REG_NOSUB), 0);
    /* six to eight colon groups (full IPv6) */
    assert_int_equal(regcomp(&v6full, "[0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){5,7}", REG_EXTENDED | REG_NOSUB), 0);
    /* [v6] as a URL host */
    assert_int_equal(regcomp(&v6bracket, "\\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\\]", REG_EXTENDED | REG_NOSUB), 0);
    int bad = 0, lines = 0;
    const char *p = log;
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *line = strndup(p, len);
        assert_non_null(line);
        lines++;
        const char *why = NULL;
        char whybuf[96];
        if (regexec(&v4, line, 0, NULL, 0) == 0)
            why = "an IPv4 address";
        else if (strstr(line, "::"))
            why = "an IPv6 address (::)";
        else if (regexec(&v6full, line, 0, NULL, 0) == 0)
            why = "an IPv6 address";
        else if (regexec(&v6bracket, line, 0, NULL, 0) == 0 && !strstr(line, "[addr]"))
            why = "a bracketed address";
        else if (strstr(line, "localhost"))
            why = "a host name";
        else if (strstr(line, MARKER))
            why = "the plaintext marker";
        else {
            for (int i = 0; i < nsecrets && !why; i++)
                if (strstr(line, secrets[i].text)) {
                    snprintf(whybuf, sizeof whybuf, "%s", secrets[i].what);
                    why = whybuf;
                }
        }
        if (why) {
            fprintf(stderr, "LEAK (%s): %s\n", why, line);
            bad++;
        }
        free(line);
        p += len + (end ? 1 : 0);
    }
    regfree(&v4);
    regfree(&v6full);
    regfree(&v6bracket);
    fprintf(stderr, "log audit: %d lines, %d secrets and patterns checked, %d leaks\n", lines,
            nsecrets + 5, bad);
    assert_true(lines > 20); /* debug level wrote something to audit */
    assert_int_equal(bad, 0);
}

static void test_debug_log_of_a_full_day_holds_no_address_secret_key_or_text(void **state)
{
    struct harness *h = *state;
    harness_set(h, "log_level", "debug");
    harness_set(h, "resume_grace", "2");
    assert_int_equal(harness_start(h), 0);
    run_scenario(h);
    assert_int_equal(harness_stop(h), 0);
    char *log = harness_log_read(h);
    assert_non_null(log);
    audit(log);
    free(log);
    harness_pass(h);
}

/* M4: at the default level no line says how long someone waited or talked.
 * With the line's own time stamp, wait and duration give the exact start that
 * the database rounds to start_bucket. The young person waits about 2 s and
 * talks about 2 s, so a line with either figure would show it. */
static void test_default_log_holds_no_exact_wait_or_duration(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(client_connect(&young, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_young_hello(young, "family", T), 0);
    harness_sleep_ms(2100);
    assert_int_equal(client_take_and_key(anna, &cs, T), 0);
    assert_int_equal(client_young_wait_keys(young, T), 0);
    harness_sleep_ms(2100);
    assert_int_equal(client_end(anna, cs), 0);
    assert_int_equal(client_expect(young, "ended", NULL, T), 0);
    /* an abandoned wait too */
    struct client *left;
    assert_int_equal(client_connect(&left, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    assert_int_equal(client_young_hello(left, "family", T), 0);
    harness_sleep_ms(1100);
    assert_int_equal(client_young_end_reason(left, "done"), 0);
    assert_int_equal(client_expect(left, "ended", NULL, T), 0);
    assert_int_equal(harness_log_wait(h, "reason abandoned", T), 0);
    client_free(left);
    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);

    char *log = harness_log_read(h);
    assert_non_null(log);
    regex_t re;
    assert_int_equal(regcomp(&re, "(wait|lasted|duration|took)[a-z]*[ :=]+[0-9]+",
                             REG_EXTENDED | REG_ICASE | REG_NOSUB),
                     0);
    int bad = 0, lines = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        lines++;
        if (regexec(&re, line, 0, NULL, 0) == 0) {
            fprintf(stderr, "exact time in the log: %s\n", line);
            bad++;
        }
    }
    regfree(&re);
    free(log);
    assert_true(lines > 3);
    assert_int_equal(bad, 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_debug_log_of_a_full_day_holds_no_address_secret_key_or_text,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_default_log_holds_no_exact_wait_or_duration,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
