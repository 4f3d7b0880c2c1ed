/* it_badinput.c — every kind of bad input a client can send gets its documented
 * answer (PROTOCOL.md §4.4 error codes, §4.5 close codes) and hurts nobody else.
 *
 * One lotsed runs for the whole suite, with the per-connection budgets (control
 * rate, protocol errors, relay rate) raised so that many cases can share one
 * connection; the budgets themselves are proven in it_robust and it_limits.
 * A bystander chat runs alongside from the first case to the last and is
 * checked after every group: both directions, nothing lost, nothing extra.
 * At the end the server must exit 0 on SIGTERM (under ASan: no leak, no error).
 *
 * A case whose answer differs from the protocol text is reported on stderr as
 * "MISMATCH <case>: expected …, got …" and fails its group, but the group runs
 * on, so one run lists every disagreement. The last line says how many cases
 * ran: "bad input cases: N". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "client.h"
#include "harness.h"

#define T 5000
#define HANDSHAKE_TIMEOUT_S 4

static struct harness *H;
static int ncases;     /* cases run */
static int nmismatch;  /* cases whose answer differed, in all groups */
static int group_mismatch;
static bool all_passed = true;

/* ---- the bystander chat ------------------------------------------------------------ */

struct bystander {
    struct client *anna, *young;
    struct client_session *cs, *ys;
    int n;
};
static struct bystander B;

/* One message each way and a health check: the chat is untouched, nothing else
 * (no error, no stray frame) reached either side. */
static void bystander_check(void)
{
    char msg[64], got[LOTSE_MAX_MESSAGE + 1];
    snprintf(msg, sizeof msg, "bystander %d", B.n++);
    assert_int_equal(client_send_text(B.young, B.ys, msg, strlen(msg)), 0);
    assert_int_equal(client_recv_text(B.anna, NULL, got, sizeof got, T), (int)strlen(msg));
    assert_string_equal(got, msg);
    assert_int_equal(client_send_text(B.anna, B.cs, msg, strlen(msg)), 0);
    assert_int_equal(client_recv_text(B.young, NULL, got, sizeof got, T), (int)strlen(msg));
    assert_string_equal(got, msg);
    assert_false(B.ys->ended);
    assert_false(B.cs->ended);
    assert_int_equal(B.young->err_code[0], 0);
    assert_int_equal(B.anna->err_code[0], 0);
    assert_int_equal(harness_http_status(H, "/healthz"), 200);
}

/* ---- recording answers --------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void mismatch(const char *label, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "MISMATCH %s: ", label);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    nmismatch++;
    group_mismatch++;
}

static void group_begin(void)
{
    group_mismatch = 0;
    all_passed = false; /* until the group ends well */
}

static void group_end(void)
{
    bystander_check();
    assert_int_equal(group_mismatch, 0);
    all_passed = true;
}

/* After a send: the next error must be `code` (and name `field` when not NULL). */
static bool got_error(struct client *c, const char *label, const char *code, const char *field)
{
    c->err_code[0] = 0;
    int rc = client_expect(c, "error", NULL, T);
    if (rc != 0) {
        mismatch(label, "expected error %s, got no error (rc %d, close %d)", code, rc,
                 c->ws->close_code);
        return false;
    }
    if (strcmp(c->err_code, code) != 0) {
        mismatch(label, "expected error %s, got %s (field \"%s\", msg \"%s\")", code, c->err_code,
                 c->err_field, c->err_msg);
        return false;
    }
    if (field && strcmp(c->err_field, field) != 0) {
        mismatch(label, "expected error %s with field \"%s\", got field \"%s\"", code, field,
                 c->err_field);
        return false;
    }
    return true;
}

/* One case: text out, error `code` (field) back, connection still open. */
static void case_error(struct client *c, const char *label, const char *text, const char *code,
                       const char *field)
{
    ncases++;
    if (client_send_json(c, text) != 0) {
        mismatch(label, "could not send");
        return;
    }
    got_error(c, label, code, field);
}

/* One case: message out, the server closes with `code`. */
static void case_close(struct client *c, const char *label, int opcode, const void *data, size_t len,
                       int code)
{
    ncases++;
    if (ws_send(c->ws, opcode, data, len) != 0) {
        mismatch(label, "could not send");
        return;
    }
    int got = client_wait_close(c, T);
    if (got != code)
        mismatch(label, "expected close %d, got %d", code, got);
}

/* One case: binary frame out, error `code` back (with the sid when want_sid). */
static void case_frame(struct client *c, const char *label, const uint8_t *frame, size_t len,
                       const char *code, const uint8_t *want_sid)
{
    ncases++;
    if (client_send_binary(c, frame, len) != 0) {
        mismatch(label, "could not send");
        return;
    }
    if (!got_error(c, label, code, NULL) || !want_sid)
        return;
    char hex[2 * LOTSE_SID_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, want_sid, LOTSE_SID_BYTES);
    if (strcmp(c->err_sid, hex) != 0)
        mismatch(label, "expected sid %s in the error, got \"%s\"", hex, c->err_sid);
}

static struct client *connect_client(int role)
{
    struct client *c;
    assert_int_equal(client_connect(&c, HARNESS_HOST, H->port, role, H->org_pk, T), 0);
    return c;
}

/* ---- field mutations ------------------------------------------------------------------- */

/* A JSON object built from (key, raw JSON value) pairs; the value NULL leaves the key out. */
struct field {
    const char *key;
    const char *value;
};

static char *object(const char *type, const struct field *f, size_t n, const char *skip,
                    const char *replace)
{
    size_t cap = 64 + (replace ? strlen(replace) : 0);
    for (size_t i = 0; i < n; i++)
        cap += strlen(f[i].key) + (f[i].value ? strlen(f[i].value) : 0) + 8;
    char *s = malloc(cap);
    assert_non_null(s);
    int o = snprintf(s, cap, "{\"t\":\"%s\"", type);
    for (size_t i = 0; i < n; i++) {
        const char *v = f[i].value;
        if (skip && !strcmp(skip, f[i].key)) {
            if (!replace)
                continue;
            v = replace;
        }
        if (!v)
            continue;
        o += snprintf(s + o, cap - (size_t)o, ",\"%s\":%s", f[i].key, v);
    }
    snprintf(s + o, cap - (size_t)o, "}");
    return s;
}

static char *long_string(size_t n, char ch)
{
    char *s = malloc(n + 3);
    assert_non_null(s);
    s[0] = '"';
    memset(s + 1, ch, n);
    s[n + 1] = '"';
    s[n + 2] = 0;
    return s;
}

/* The wrong values every field is tried with. `oversized` is a long string for
 * string fields and a huge integer for integer fields. */
static const char *const WRONG_TYPES[] = {"\"x\"", "7", "-1", "true", "false", "null", "[]",
                                          "[\"a\",\"b\"]", "\"\""};

/* For each field: missing, each wrong type (except those listed as right for
 * it in `right`, pairs of key and value), oversized. Each case must get
 * `bad_field` naming the field. */
static struct client *connect_client(int role);

static void all_field_cases(struct client **cp, const char *type, const struct field *f, size_t n,
                            const char *const *right, size_t nright)
{
    struct client *c = *cp;
    /* a string field checked against a list (topic) answers a wrong string
     * with its own code: those values are cases of their own */
    bool list_field[16] = {false};
    for (size_t i = 0; i < n && i < 16; i++)
        list_field[i] = !strcmp(type, "hello") && !strcmp(f[i].key, "topic");
    char label[160];
    char *big_str = long_string(6000, 'A');
    for (size_t i = 0; i < n; i++) {
        const char *key = f[i].key;
        snprintf(label, sizeof label, "%s: %s missing", type, key);
        char *m = object(type, f, n, key, NULL);
        case_error(c, label, m, "bad_field", key);
        free(m);
        for (size_t w = 0; w < sizeof WRONG_TYPES / sizeof WRONG_TYPES[0]; w++) {
            bool ok_for_field = false;
            for (size_t r = 0; r < nright; r += 2)
                if (!strcmp(right[r], key) && !strcmp(right[r + 1], WRONG_TYPES[w]))
                    ok_for_field = true;
            if (ok_for_field || (list_field[i] && WRONG_TYPES[w][0] == '"'))
                continue;
            snprintf(label, sizeof label, "%s: %s = %s", type, key, WRONG_TYPES[w]);
            m = object(type, f, n, key, WRONG_TYPES[w]);
            if (!strcmp(key, "v") && !strcmp(WRONG_TYPES[w], "7")) {
                /* a version we do not speak: error, close 1002 (§1) */
                case_error(c, label, m, "unsupported_version", NULL);
                ncases++;
                int code = client_wait_close(c, T);
                if (code != 1002)
                    mismatch(label, "expected close 1002, got %d", code);
                int role = c->role;
                client_free(c);
                c = *cp = connect_client(role);
            } else {
                case_error(c, label, m, "bad_field", key);
            }
            free(m);
        }
        /* oversized: a 6,000-byte string, and the largest int64 */
        snprintf(label, sizeof label, "%s: %s = 6000-byte string", type, key);
        m = object(type, f, n, key, big_str);
        case_error(c, label, m, "bad_field", key);
        free(m);
        snprintf(label, sizeof label, "%s: %s = 9223372036854775807", type, key);
        m = object(type, f, n, key, "9223372036854775807");
        case_error(c, label, m, "bad_field", key);
        free(m);
    }
    free(big_str);
}

/* "base64url" (with the quotes), as a JSON value. */
static void b64_of(char *out, size_t cap, const uint8_t *b, size_t n)
{
    assert_true(cap >= sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 2);
    out[0] = '"';
    sodium_bin2base64(out + 1, cap - 2, b, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t l = strlen(out);
    out[l] = '"';
    out[l + 1] = 0;
}

/* "hex" (with the quotes), as a JSON value. */
static void hex_of(char *out, size_t cap, const uint8_t *b, size_t n)
{
    assert_true(cap >= 2 * n + 3);
    out[0] = '"';
    sodium_bin2hex(out + 1, cap - 2, b, n);
    out[2 * n + 1] = '"';
    out[2 * n + 2] = 0;
}

/* ---- suite setup ------------------------------------------------------------------------ */

static int suite_setup(void **state)
{
    (void)state;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (harness_create(&H) != 0)
        return -1;
    /* many cases per connection: budgets far above what the suite uses */
    harness_set(H, "control_rate", "100000");
    harness_set(H, "control_burst", "100000");
    harness_set(H, "max_protocol_errors", "100000");
    harness_set(H, "relay_rate", "100000");
    harness_set(H, "relay_burst", "100000");
    harness_set(H, "relay_bytes_rate", "100000000");
    harness_set(H, "relay_bytes_burst", "100000000");
    /* 10,000 connections from one address, many of them young people who
     * said hello and vanished: no per-source cap, no admission work, and their
     * sessions end soon after */
    harness_set(H, "max_connections_per_source", "0");
    harness_set(H, "max_connections", "19000");
    harness_set(H, "pow_threshold", "1000000");
    harness_set(H, "queue_max", "100000");
    harness_set(H, "resume_grace", "3");
    harness_set(H, "handshake_timeout", "4");
    /* login cases may reach the password check: no lock-out of the harness */
    harness_set(H, "login_fail_per_source", "100000");
    harness_set(H, "login_fail_per_handle", "1000");
    if (harness_start(H) != 0)
        return -1;
    if (harness_counsellor(H, "anna", &B.anna) != 0 ||
        harness_pair(H, B.anna, "family", &B.young, &B.cs) != 0)
        return -1;
    B.ys = client_young_session(B.young);
    return 0;
}

static int suite_teardown(void **state)
{
    (void)state;
    fprintf(stderr, "bad input cases: %d (%d mismatches)\n", ncases, nmismatch);
    printf("bad input cases: %d\n", ncases);
    client_free(B.young);
    client_free(B.anna);
    B.young = B.anna = NULL;
    harness_destroy(H);
    return 0;
}

/* ---- 1. invalid UTF-8 --------------------------------------------------------------------- */

static void test_invalid_utf8_in_text_frames_closes_1007(void **state)
{
    (void)state;
    group_begin();
    static const char *const bad[] = {
        "\xff",              "\xfe\xff",         "\xc0\xaf",          /* overlong '/' */
        "\xe0\x80\xaf",      "\xf0\x80\x80\xaf", "\xed\xa0\x80",      /* surrogate */
        "\xed\xbf\xbf",      "\xf4\x90\x80\x80", /* > U+10FFFF */
        "\xf8\x88\x80\x80\x80", "\x80",          "\xc3",              /* cut short */
        "\xe2\x82",          "\xc3\x28",         "\xe2\x28\xa1",
    };
    char label[96], text[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* in a value, in a key, and as the whole message */
        const char *pre[] = {"{\"t\":\"hello\",\"topic\":\"", "{\"t\":\"hello\",\"", ""};
        const char *post[] = {"\"}", "\":1}", ""};
        for (size_t f = 0; f < 3; f++) {
            snprintf(text, sizeof text, "%s%s%s", pre[f], bad[i], post[f]);
            snprintf(label, sizeof label, "invalid UTF-8 #%zu form %zu before hello", i, f);
            struct client *c = connect_client(CLIENT_YOUNG);
            case_close(c, label, WS_OP_TEXT, text, strlen(text), 1007);
            client_free(c);
        }
        /* after hello, in a message of a known type */
        struct client *c;
        assert_int_equal(harness_young(H, "school", &c), 0);
        snprintf(text, sizeof text, "{\"t\":\"end\",\"reason\":\"%s\"}", bad[i]);
        snprintf(label, sizeof label, "invalid UTF-8 #%zu after hello", i);
        case_close(c, label, WS_OP_TEXT, text, strlen(text), 1007);
        client_free(c);
    }
    /* split across fragments: each fragment alone would be fine up to the cut */
    struct client *c = connect_client(CLIENT_YOUNG);
    ncases++;
    const char *part1 = "{\"t\":\"hello\",\"topic\":\"\xe2";
    const char *part2 = "\x28\xa1\"}";
    assert_int_equal(ws_send_frame(c->ws, WS_OP_TEXT, false, part1, strlen(part1)), 0);
    assert_int_equal(ws_send_frame(c->ws, WS_OP_CONT, true, part2, strlen(part2)), 0);
    int code = client_wait_close(c, T);
    if (code != 1007)
        mismatch("invalid UTF-8 across fragments", "expected close 1007, got %d", code);
    client_free(c);
    group_end();
}

/* ---- 2. unknown types and broken JSON ------------------------------------------------------ */

static void test_unknown_types_and_bad_json_get_their_errors(void **state)
{
    (void)state;
    group_begin();
    static const char *const unknown[] = {
        "{\"t\":\"frobnicate\"}", "{\"t\":\"\"}", "{\"t\":\"HELLO\"}", "{\"t\":\"hello \"}",
        "{\"t\":\"welcome\"}", "{\"t\":\"error\"}", "{\"t\":\"keys_\"}", "{\"t\":\"escalatE\"}",
        "{\"t\":\"queue_summary\"}", "{\"t\":\"assigned\"}", "{\"t\":\"resumed\"}",
        "{\"t\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "{\"t\":7}", "{\"t\":true}",
        "{\"t\":null}", "{\"t\":[\"hello\"]}", "{\"type\":\"hello\"}", "{}",
        "{\"T\":\"hello\"}", "{\"t\":\"h\\u0065llo\\u0000\"}",
    };
    static const char *const bad_json[] = {
        "{", "}", "[]", "\"hello\"", "1", "null", "{\"t\":\"hello\"", "{\"t\":\"hello\",}",
        "{\"t\" \"hello\"}", "{'t':'hello'}", "{\"t\":\"hello\"} x", "\xef\xbb\xbf{\"t\":\"take\"}",
        "{\"t\":\"take\",\"n\":1.5}", "{\"t\":\"take\",\"n\":1e3}", "{\"t\":\"take\",\"n\":01}",
        "{\"t\":\"take\",\"n\":-0.0}", "{\"t\":\"take\",\"n\":9223372036854775808}",
        "{\"t\":\"take\",\"o\":{\"a\":1}}", "{\"t\":\"take\",\"a\":[1,2]}", "{\"t\":\"take\",\"a\":[[]]}",
        "{\"t\":\"take\",\"t\":\"take\"}", "{\"t\":\"take\",\"s\":\"a\nb\"}",
        "{\"t\":\"take\",\"s\":\"\\x41\"}", "{\"t\":\"take\",\"s\":\"\\ud800\"}",
        "{\"t\":\"take\",\"\":1}",
        "{\"t\":\"take\",\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}", "{\"t\":\"take\",\"x\":tru}",
        "{\"t\":\"take\",\"x\":NaN}", "", " ",
    };
    char label[128];
    /* before hello, as a young person after hello, and as a counsellor */
    struct client *pre = connect_client(CLIENT_YOUNG);
    struct client *young;
    assert_int_equal(harness_young(H, "school", &young), 0);
    struct client *ben;
    assert_int_equal(harness_counsellor(H, "ben", &ben), 0);
    struct client *who[] = {pre, young, ben};
    const char *names[] = {"before hello", "young", "counsellor"};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
            snprintf(label, sizeof label, "unknown type #%zu (%s) %s", i, unknown[i], names[k]);
            case_error(who[k], label, unknown[i], "unknown_type", NULL);
        }
        for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
            snprintf(label, sizeof label, "bad JSON #%zu %s", i, names[k]);
            case_error(who[k], label, bad_json[i], "bad_json", NULL);
        }
        /* a NUL byte after the object: trailing bytes other than white space */
        snprintf(label, sizeof label, "NUL after the object %s", names[k]);
        ncases++;
        assert_int_equal(ws_send(who[k]->ws, WS_OP_TEXT, "{\"t\":\"take\"}", 13), 0);
        got_error(who[k], label, "bad_json", NULL);
        /* 17 fields (more than 16), 33 array items (more than 32) */
        char many[1024];
        int o = snprintf(many, sizeof many, "{\"t\":\"take\"");
        for (int f = 0; f < 16; f++)
            o += snprintf(many + o, sizeof many - (size_t)o, ",\"f%d\":1", f);
        snprintf(many + o, sizeof many - (size_t)o, "}");
        snprintf(label, sizeof label, "17 fields %s", names[k]);
        case_error(who[k], label, many, "bad_json", NULL);
        o = snprintf(many, sizeof many, "{\"t\":\"take\",\"a\":[");
        for (int f = 0; f < 33; f++)
            o += snprintf(many + o, sizeof many - (size_t)o, "%s\"x\"", f ? "," : "");
        snprintf(many + o, sizeof many - (size_t)o, "]}");
        snprintf(label, sizeof label, "33 array items %s", names[k]);
        case_error(who[k], label, many, "bad_json", NULL);
    }
    /* every one of them is still connected and served */
    assert_int_equal(client_send_json(young, "{\"t\":\"end\",\"reason\":\"done\"}"), 0);
    assert_int_equal(client_expect(young, "ended", NULL, T), 0);
    int64_t active;
    assert_int_equal(client_status(ben, true, 1, &active, T), 0);
    client_free(pre);
    client_free(young);
    client_free(ben);
    group_end();
}

/* ---- 3. every field of every client message ----------------------------------------------- */

static void test_hello_and_resume_fields(void **state)
{
    (void)state;
    group_begin();
    uint8_t pk[32];
    randombytes_buf(pk, sizeof pk);
    char pkv[64], pk33[80], pk31[64];
    b64_of(pkv, sizeof pkv, pk, 32);
    uint8_t b33[33] = {0};
    b64_of(pk33, sizeof pk33, b33, 33);
    b64_of(pk31, sizeof pk31, b33, 31);
    struct client *c = connect_client(CLIENT_YOUNG);
    const struct field hello[] = {{"v", "1"}, {"role", "\"young\""}, {"topic", "\"family\""},
                                  {"pk", pkv}};
    /* a right value for a field is not a wrong type: v 1 never occurs in the list */
    static const char *const hello_right[] = {"role", "\"young\""};
    all_field_cases(&c, "hello", hello, 4, hello_right, 2);
    /* values of the right type and out of range */
    const struct {
        const char *key, *value, *code;
    } range[] = {
        {"role", "\"counsellor\"", "bad_field"}, {"role", "\"supervisor\"", "bad_field"},
        {"role", "\"YOUNG\"", "bad_field"},      {"topic", "\"knitting\"", "bad_topic"},
        {"topic", "\"FAMILY\"", "bad_topic"},    {"pk", pk33, "bad_field"},
        {"pk", pk31, "bad_field"},               {"pk", "\"AAAA====\"", "bad_field"},
        {"pk", "\"+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+\"", "bad_field"},
        {"pk", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB\"", "bad_field"}, /* stray bits */
        {"v", "0", "unsupported_version"},
    };
    char label[160];
    for (size_t i = 0; i < sizeof range / sizeof range[0]; i++) {
        char *m = object("hello", hello, 4, range[i].key, range[i].value);
        snprintf(label, sizeof label, "hello: %s = %s", range[i].key, range[i].value);
        ncases++;
        assert_int_equal(client_send_json(c, m), 0);
        got_error(c, label, range[i].code, NULL);
        free(m);
        if (!strcmp(range[i].code, "unsupported_version")) {
            ncases++;
            int code = client_wait_close(c, T);
            if (code != 1002)
                mismatch("hello v 0", "expected close 1002, got %d", code);
            client_free(c);
            c = connect_client(CLIENT_YOUNG);
        }
    }
    client_free(c);

    /* resume (young): v, sid, resume; on a fresh connection each */
    c = connect_client(CLIENT_YOUNG);
    uint8_t sid[16], secret[32];
    randombytes_buf(sid, sizeof sid);
    randombytes_buf(secret, sizeof secret);
    char sidv[64], secv[64];
    hex_of(sidv, sizeof sidv, sid, 16);
    b64_of(secv, sizeof secv, secret, 32);
    const struct field resume[] = {{"v", "1"}, {"sid", sidv}, {"resume", secv}};
    all_field_cases(&c, "resume", resume, 3, NULL, 0);
    /* optional pk: when present it must be a key */
    const struct field resume_pk[] = {{"v", "1"}, {"sid", sidv}, {"resume", secv}, {"pk", pkv}};
    for (size_t w = 0; w < sizeof WRONG_TYPES / sizeof WRONG_TYPES[0]; w++) {
        if (!strcmp(WRONG_TYPES[w], "null"))
            continue; /* null: no key given, a plain resume */
        char *m = object("resume", resume_pk, 4, "pk", WRONG_TYPES[w]);
        snprintf(label, sizeof label, "resume: pk = %s", WRONG_TYPES[w]);
        case_error(c, label, m, "bad_field", "pk");
        free(m);
    }
    /* well-formed, but nothing to resume */
    char upper[80];
    snprintf(upper, sizeof upper, "\"%s\"", "0123456789ABCDEF0123456789ABCDEF");
    char *m = object("resume", resume, 3, "sid", upper);
    case_error(c, "resume: upper-case sid", m, "bad_field", "sid");
    free(m);
    m = object("resume", resume, 3, NULL, NULL);
    case_error(c, "resume: unknown sid", m, "resume_failed", NULL);
    free(m);
    m = object("resume", resume_pk, 4, NULL, NULL);
    case_error(c, "resume: unknown sid with pk", m, "resume_failed", NULL);
    free(m);
    /* the bystander's own session with a wrong secret: refused, bystander untouched */
    hex_of(sidv, sizeof sidv, B.ys->sid, 16);
    m = object("resume", resume, 3, NULL, NULL);
    case_error(c, "resume: someone else's sid, wrong secret", m, "resume_failed", NULL);
    free(m);
    m = object("resume", resume_pk, 4, NULL, NULL);
    case_error(c, "resume: someone else's sid, wrong secret, new pk", m, "resume_failed", NULL);
    free(m);
    client_free(c);
    bystander_check();

    /* resume (counsellor): v, token */
    c = connect_client(CLIENT_COUNSELLOR);
    char tokv[64];
    b64_of(tokv, sizeof tokv, secret, 32);
    const struct field cres[] = {{"v", "1"}, {"token", tokv}};
    /* without a token it is a young person's resume; only the wrong types are
     * counsellor cases here */
    char *wrong_tok[] = {"7", "true", "[]", "\"x\"", "\"\"", NULL};
    for (int i = 0; wrong_tok[i]; i++) {
        m = object("resume", cres, 2, "token", wrong_tok[i]);
        snprintf(label, sizeof label, "resume (counsellor): token = %s", wrong_tok[i]);
        case_error(c, label, m, "bad_field", "token");
        free(m);
    }
    char *big = long_string(6000, 'A');
    m = object("resume", cres, 2, "token", big);
    case_error(c, "resume (counsellor): token = 6000-byte string", m, "bad_field", "token");
    free(m);
    free(big);
    const char *wrong_v[] = {"\"1\"", "true", "null", "[]", "9223372036854775807", NULL};
    for (int i = 0; wrong_v[i]; i++) {
        m = object("resume", cres, 2, "v", wrong_v[i]);
        snprintf(label, sizeof label, "resume (counsellor): v = %s", wrong_v[i]);
        case_error(c, label, m, "bad_field", "v");
        free(m);
    }
    m = object("resume", cres, 2, "v", NULL);
    case_error(c, "resume (counsellor): v missing", m, "bad_field", "v");
    free(m);
    m = object("resume", cres, 2, NULL, NULL);
    case_error(c, "resume (counsellor): unknown token", m, "resume_failed", NULL);
    free(m);
    client_free(c);
    group_end();
}

static void test_login_fields(void **state)
{
    (void)state;
    group_begin();
    struct client *c = connect_client(CLIENT_COUNSELLOR);
    uint8_t dev[32];
    randombytes_buf(dev, sizeof dev);
    char devv[64];
    b64_of(devv, sizeof devv, dev, 32);
    const struct field login[] = {{"v", "1"}, {"handle", "\"nobody\""}, {"password", "\"pw\""},
                                  {"device", devv}};
    /* device is optional: missing or null is fine (an ordinary failed login) */
    char label[160];
    for (size_t i = 0; i < 3; i++) {
        snprintf(label, sizeof label, "login: %s missing", login[i].key);
        char *m = object("login", login, 4, login[i].key, NULL);
        case_error(c, label, m, "bad_field", login[i].key);
        free(m);
        for (size_t w = 0; w < sizeof WRONG_TYPES / sizeof WRONG_TYPES[0]; w++) {
            /* an empty or any string is a possible password; "x" a possible handle */
            if (!strcmp(login[i].key, "password") && WRONG_TYPES[w][0] == '"')
                continue;
            if (!strcmp(login[i].key, "handle") && !strcmp(WRONG_TYPES[w], "\"x\""))
                continue;
            snprintf(label, sizeof label, "login: %s = %s", login[i].key, WRONG_TYPES[w]);
            m = object("login", login, 4, login[i].key, WRONG_TYPES[w]);
            case_error(c, label, m, !strcmp(login[i].key, "v") && !strcmp(WRONG_TYPES[w], "7")
                                        ? "unsupported_version" : "bad_field",
                       login[i].key);
            free(m);
            if (!strcmp(login[i].key, "v") && !strcmp(WRONG_TYPES[w], "7")) {
                client_free(c); /* closed with 1002 */
                c = connect_client(CLIENT_COUNSELLOR);
            }
        }
        char *big = long_string(6000, 'p');
        snprintf(label, sizeof label, "login: %s = 6000-byte string", login[i].key);
        m = object("login", login, 4, login[i].key, big);
        case_error(c, label, m, "bad_field", login[i].key);
        free(m);
        free(big);
    }
    for (size_t w = 0; w < sizeof WRONG_TYPES / sizeof WRONG_TYPES[0]; w++) {
        if (!strcmp(WRONG_TYPES[w], "null"))
            continue;
        snprintf(label, sizeof label, "login: device = %s", WRONG_TYPES[w]);
        char *m = object("login", login, 4, "device", WRONG_TYPES[w]);
        case_error(c, label, m, "bad_field", "device");
        free(m);
    }
    char d33[80];
    uint8_t b33[33] = {0};
    b64_of(d33, sizeof d33, b33, 33);
    char *m = object("login", login, 4, "device", d33);
    case_error(c, "login: device of 33 bytes", m, "bad_field", "device");
    free(m);
    client_free(c);
    group_end();
}

/* A counsellor (ben: prison, family) with one assigned session whose keys were
 * not sent yet, and the young person of it. */
static void assigned_pair(struct client **ben, struct client **young, struct client_session **s)
{
    assert_int_equal(harness_counsellor(H, "ben", ben), 0);
    assert_int_equal(harness_young(H, "prison", young), 0);
    assert_int_equal(client_take(*ben, s, T), 0);
}

static void test_counsellor_message_fields(void **state)
{
    (void)state;
    group_begin();
    struct client *ben, *young;
    struct client_session *s;
    assigned_pair(&ben, &young, &s);
    char label[160];

    /* status: available, capacity (1 … max_capacity = 1 for ben) */
    const struct field status[] = {{"available", "true"}, {"capacity", "1"}};
    static const char *const status_right[] = {"available", "true", "available", "false",
                                               "capacity", "1"};
    all_field_cases(&ben, "status", status, 2, status_right, 6);
    const char *cap_range[] = {"0", "2", "11", "-5", NULL};
    for (int i = 0; cap_range[i]; i++) {
        char *m = object("status", status, 2, "capacity", cap_range[i]);
        snprintf(label, sizeof label, "status: capacity = %s", cap_range[i]);
        case_error(ben, label, m, "bad_field", "capacity");
        free(m);
    }

    /* accept / decline / end / keys / transfer: sid first */
    char sidv[64];
    hex_of(sidv, sizeof sidv, s->sid, 16);
    static const char *const sid_types[] = {"accept", "decline", "end", "keys", "transfer"};
    for (size_t k = 0; k < sizeof sid_types / sizeof sid_types[0]; k++) {
        const struct field f[] = {{"sid", sidv}};
        const char *type = sid_types[k];
        char *m = object(type, f, 1, "sid", NULL);
        snprintf(label, sizeof label, "%s: sid missing", type);
        case_error(ben, label, m, "bad_field", "sid");
        free(m);
        const char *bad_sid[] = {"7", "true", "null", "[]", "\"x\"", "\"\"",
                                 "\"0123456789ABCDEF0123456789ABCDEF\"",
                                 "\"0123456789abcdef0123456789abcde\"",
                                 "\"0123456789abcdef0123456789abcdef0\"",
                                 "\"0123456789abcdef0123456789abcdeg\"",
                                 "\"0x23456789abcdef0123456789abcdef\"", NULL};
        for (int i = 0; bad_sid[i]; i++) {
            m = object(type, f, 1, "sid", bad_sid[i]);
            snprintf(label, sizeof label, "%s: sid = %s", type, bad_sid[i]);
            case_error(ben, label, m, "bad_field", "sid");
            free(m);
        }
        char *big = long_string(6000, 'a');
        m = object(type, f, 1, "sid", big);
        snprintf(label, sizeof label, "%s: sid = 6000-byte string", type);
        case_error(ben, label, m, "bad_field", "sid");
        free(m);
        free(big);
        /* well-formed sid of no session, and of someone else's (the bystander's) */
        uint8_t rnd[16];
        randombytes_buf(rnd, sizeof rnd);
        char other[64];
        hex_of(other, sizeof other, rnd, 16);
        m = object(type, f, 1, "sid", other);
        snprintf(label, sizeof label, "%s: unknown sid", type);
        ncases++;
        assert_int_equal(client_send_json(ben, m), 0);
        if (!strcmp(type, "accept") || !strcmp(type, "decline")) {
            /* take mode: an offer answer for nothing offered; either is documented */
            ben->err_code[0] = 0;
            if (client_expect(ben, "error", NULL, T) != 0 ||
                (strcmp(ben->err_code, "no_such_session") && strcmp(ben->err_code, "not_allowed")))
                mismatch(label, "expected no_such_session or not_allowed, got \"%s\"", ben->err_code);
        } else {
            got_error(ben, label, "no_such_session", NULL);
        }
        free(m);
        hex_of(other, sizeof other, B.cs->sid, 16);
        m = object(type, f, 1, "sid", other);
        snprintf(label, sizeof label, "%s: the bystander's sid", type);
        ncases++;
        assert_int_equal(client_send_json(ben, m), 0);
        if (!strcmp(type, "accept") || !strcmp(type, "decline")) {
            ben->err_code[0] = 0;
            if (client_expect(ben, "error", NULL, T) != 0 ||
                (strcmp(ben->err_code, "not_your_session") && strcmp(ben->err_code, "not_allowed")))
                mismatch(label, "expected not_your_session or not_allowed, got \"%s\"", ben->err_code);
        } else {
            got_error(ben, label, "not_your_session", NULL);
        }
        free(m);
    }
    bystander_check();

    /* keys: pk, sig, cert on the assigned session */
    uint8_t pk[32], sig[64], cert[LOTSE_CERT_BYTES];
    randombytes_buf(pk, sizeof pk);
    randombytes_buf(sig, sizeof sig);
    memcpy(cert, ben->cert, sizeof cert);
    char pkv[64], sigv[128], certv[200];
    b64_of(pkv, sizeof pkv, pk, sizeof pk);
    b64_of(sigv, sizeof sigv, sig, sizeof sig);
    b64_of(certv, sizeof certv, cert, sizeof cert);
    const struct field keys[] = {{"sid", sidv}, {"pk", pkv}, {"sig", sigv}, {"cert", certv}};
    for (size_t i = 1; i < 4; i++) {
        const char *key = keys[i].key;
        char *m = object("keys", keys, 4, key, NULL);
        snprintf(label, sizeof label, "keys: %s missing", key);
        case_error(ben, label, m, "bad_field", key);
        free(m);
        for (size_t w = 0; w < sizeof WRONG_TYPES / sizeof WRONG_TYPES[0]; w++) {
            m = object("keys", keys, 4, key, WRONG_TYPES[w]);
            snprintf(label, sizeof label, "keys: %s = %s", key, WRONG_TYPES[w]);
            case_error(ben, label, m, "bad_field", key);
            free(m);
        }
        char *big = long_string(6000, 'A');
        m = object("keys", keys, 4, key, big);
        snprintf(label, sizeof label, "keys: %s = 6000-byte string", key);
        case_error(ben, label, m, "bad_field", key);
        free(m);
        free(big);
        /* one byte short, one byte long */
        size_t n = i == 1 ? 32 : i == 2 ? 64 : LOTSE_CERT_BYTES;
        uint8_t buf[LOTSE_CERT_BYTES + 1] = {0};
        char v[256];
        b64_of(v, sizeof v, buf, n - 1);
        m = object("keys", keys, 4, key, v);
        snprintf(label, sizeof label, "keys: %s one byte short", key);
        case_error(ben, label, m, "bad_field", key);
        free(m);
        b64_of(v, sizeof v, buf, n + 1);
        m = object("keys", keys, 4, key, v);
        snprintf(label, sizeof label, "keys: %s one byte long", key);
        case_error(ben, label, m, "bad_field", key);
        free(m);
    }
    /* the young person saw none of it: still waiting for keys */
    assert_int_equal(client_pump(young, 100), 0);
    assert_false(client_young_session(young)->active);
    assert_int_equal(young->err_code[0], 0);
    /* now the real keys: the session works */
    assert_int_equal(client_send_keys(ben, s), 0);
    assert_int_equal(client_young_wait_keys(young, T), 0);
    /* keys twice */
    char *m = object("keys", keys, 4, NULL, NULL);
    case_error(ben, "keys twice", m, "session_not_active", NULL);
    free(m);

    /* transfer: to must be a handle (string) or null */
    const struct field tr[] = {{"sid", sidv}, {"to", "\"anna\""}};
    const char *bad_to[] = {"7", "true", "false", "[]", "[\"anna\"]", NULL};
    for (int i = 0; bad_to[i]; i++) {
        m = object("transfer", tr, 2, "to", bad_to[i]);
        snprintf(label, sizeof label, "transfer: to = %s", bad_to[i]);
        case_error(ben, label, m, "bad_field", "to");
        free(m);
    }
    char *big = long_string(6000, 'a');
    m = object("transfer", tr, 2, "to", big);
    case_error(ben, "transfer: to = 6000-byte string", m, "bad_field", "to");
    free(m);
    free(big);
    const char *nobody[] = {"\"nobody\"", "\"\"", "\"sue\"", "\"ben\"", NULL};
    for (int i = 0; nobody[i]; i++) {
        m = object("transfer", tr, 2, "to", nobody[i]);
        snprintf(label, sizeof label, "transfer: to = %s", nobody[i]);
        case_error(ben, label, m, "transfer_failed", NULL);
        free(m);
    }
    /* the session still runs after all that */
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_send_text(young, client_young_session(young), "still here", 10), 0);
    assert_int_equal(client_recv_text(ben, NULL, got, sizeof got, T), 10);
    /* last, as it may act: `to` missing is not `to` null (§4.2) */
    m = object("transfer", tr, 2, "to", NULL);
    case_error(ben, "transfer: to missing", m, "bad_field", "to");
    free(m);
    if (!s->ended)
        assert_int_equal(client_end(ben, s), 0);
    else
        assert_int_equal(client_young_end_reason(young, "done"), 0);
    assert_int_equal(client_expect(young, "ended", NULL, T), 0);
    client_free(young);
    client_free(ben);
    group_end();
}

static void test_rekey_fields_after_a_transfer(void **state)
{
    (void)state;
    group_begin();
    struct client *ben, *young;
    struct client_session *s;
    assigned_pair(&ben, &young, &s);
    assert_int_equal(client_send_keys(ben, s), 0);
    assert_int_equal(client_young_wait_keys(young, T), 0);
    struct client_session *ys = client_young_session(young);
    young->auto_rekey = false; /* the cases below are the rekey */
    char sidv[64], pkv[64];
    hex_of(sidv, sizeof sidv, ys->sid, 16);
    uint8_t pk[32];
    randombytes_buf(pk, sizeof pk);
    b64_of(pkv, sizeof pkv, pk, 32);
    /* pk first: a rekey the server accepts ends the pending state, so the
     * cases that may be accepted by mistake (sid) come last */
    const struct field rk[] = {{"pk", pkv}, {"sid", sidv}};

    /* rekey before any transfer */
    char *m = object("rekey", rk, 2, NULL, NULL);
    case_error(young, "rekey without a transfer", m, "not_allowed", NULL);
    free(m);

    /* back to the queue: the young person must answer with rekey */
    char tr[128];
    snprintf(tr, sizeof tr, "{\"t\":\"transfer\",\"sid\":%s,\"to\":null}", sidv);
    assert_int_equal(client_send_json(ben, tr), 0);
    assert_int_equal(client_expect(ben, "ended", NULL, T), 0);
    assert_string_equal(s->ended_reason, "transferred");
    assert_int_equal(client_expect(young, "transferred", NULL, T), 0);
    uint8_t b33[33] = {0};
    char v[80];
    b64_of(v, sizeof v, b33, 33);
    m = object("rekey", rk, 2, "pk", v);
    case_error(young, "rekey: pk of 33 bytes", m, "bad_field", "pk");
    free(m);
    all_field_cases(&young, "rekey", rk, 2, NULL, 0);
    char other[64];
    hex_of(other, sizeof other, B.ys->sid, 16);
    m = object("rekey", rk, 2, "sid", other);
    case_error(young, "rekey: someone else's sid", m, "no_such_session", NULL);
    free(m);
    /* frames while the new keys are not there: not active */
    uint8_t frame[LOTSE_ACK_FRAME_BYTES];
    memset(frame, 0, sizeof frame);
    frame[0] = 1;
    frame[1] = LOTSE_FRAME_ACK;
    memcpy(frame + 4, ys->sid, 16);
    frame[27] = 1;
    case_frame(young, "ACK during a transfer", frame, sizeof frame, "session_not_active", ys->sid);
    /* the real rekey: back in the queue, then taken again and working */
    m = object("rekey", rk, 2, NULL, NULL);
    assert_int_equal(client_send_json(young, m), 0);
    free(m);
    harness_sleep_ms(200);
    assert_int_equal(client_send_json(young, "{\"t\":\"end\",\"reason\":\"done\"}"), 0);
    assert_int_equal(client_expect(young, "ended", NULL, T), 0);
    client_free(young);
    client_free(ben);
    group_end();
}

/* ---- 4. messages in the wrong state ------------------------------------------------------------ */

static void test_messages_before_hello_and_a_second_hello(void **state)
{
    (void)state;
    group_begin();
    static const char *const before[] = {
        "{\"t\":\"status\",\"available\":true,\"capacity\":1}", "{\"t\":\"take\"}",
        "{\"t\":\"accept\",\"sid\":\"0123456789abcdef0123456789abcdef\"}",
        "{\"t\":\"decline\",\"sid\":\"0123456789abcdef0123456789abcdef\"}",
        "{\"t\":\"keys\",\"sid\":\"0123456789abcdef0123456789abcdef\",\"pk\":\"x\",\"sig\":\"x\",\"cert\":\"x\"}",
        "{\"t\":\"transfer\",\"sid\":\"0123456789abcdef0123456789abcdef\",\"to\":null}",
        "{\"t\":\"rekey\",\"sid\":\"0123456789abcdef0123456789abcdef\",\"pk\":\"x\"}",
        "{\"t\":\"escalate\",\"sid\":\"0123456789abcdef0123456789abcdef\"}",
    };
    char label[160];
    struct client *c = connect_client(CLIENT_YOUNG);
    for (size_t i = 0; i < sizeof before / sizeof before[0]; i++) {
        snprintf(label, sizeof label, "before hello: %s", before[i]);
        case_error(c, label, before[i], "not_allowed", NULL);
    }
    /* binary frames before hello */
    uint8_t frame[LOTSE_FRAME_HEADER_BYTES + 272] = {1, 1};
    memcpy(frame + 4, B.ys->sid, 16);
    frame[27] = 99;
    case_frame(c, "DATA before hello (the bystander's sid)", frame, sizeof frame, "not_allowed", NULL);
    uint8_t ack[LOTSE_ACK_FRAME_BYTES];
    memcpy(ack, frame, sizeof ack);
    ack[1] = LOTSE_FRAME_ACK;
    case_frame(c, "ACK before hello", ack, sizeof ack, "not_allowed", NULL);
    /* end before hello closes with 1000 */
    case_close(c, "end before hello", WS_OP_TEXT, "{\"t\":\"end\"}", 11, 1000);
    client_free(c);

    /* a second hello, a login after hello, a hello after login, a second login */
    struct client *y;
    assert_int_equal(harness_young(H, "family", &y), 0);
    uint8_t pk[32];
    randombytes_buf(pk, sizeof pk);
    char pkv[64], hello[256];
    b64_of(pkv, sizeof pkv, pk, 32);
    snprintf(hello, sizeof hello, "{\"t\":\"hello\",\"v\":1,\"role\":\"young\",\"topic\":\"family\",\"pk\":%s}", pkv);
    case_error(y, "second hello", hello, "not_allowed", NULL);
    case_error(y, "login after hello",
               "{\"t\":\"login\",\"v\":1,\"handle\":\"anna\",\"password\":\"x\"}", "not_allowed", NULL);
    char resume[256];
    snprintf(resume, sizeof resume,
             "{\"t\":\"resume\",\"v\":1,\"sid\":\"0123456789abcdef0123456789abcdef\",\"resume\":%s}", pkv);
    case_error(y, "resume after hello", resume, "not_allowed", NULL);
    static const char *const young_not[] = {
        "{\"t\":\"status\",\"available\":true,\"capacity\":1}", "{\"t\":\"take\"}",
        "{\"t\":\"accept\",\"sid\":\"0123456789abcdef0123456789abcdef\"}",
        "{\"t\":\"transfer\",\"sid\":\"0123456789abcdef0123456789abcdef\",\"to\":null}",
    };
    for (size_t i = 0; i < sizeof young_not / sizeof young_not[0]; i++) {
        snprintf(label, sizeof label, "young person: %s", young_not[i]);
        case_error(y, label, young_not[i], "not_allowed", NULL);
    }
    /* a waiting young person's frames: the session is not active */
    struct client_session *ys = client_young_session(y);
    memcpy(frame + 4, ys->sid, 16);
    case_frame(y, "DATA while waiting", frame, sizeof frame, "session_not_active", ys->sid);
    memcpy(ack + 4, ys->sid, 16);
    case_frame(y, "ACK while waiting", ack, sizeof ack, "session_not_active", ys->sid);
    assert_int_equal(client_send_json(y, "{\"t\":\"end\",\"reason\":\"done\"}"), 0);
    assert_int_equal(client_expect(y, "ended", NULL, T), 0);
    client_free(y);

    struct client *ben;
    assert_int_equal(harness_counsellor(H, "ben", &ben), 0);
    case_error(ben, "hello after login", hello, "not_allowed", NULL);
    case_error(ben, "second login", "{\"t\":\"login\",\"v\":1,\"handle\":\"ben\",\"password\":\"x\"}",
               "not_allowed", NULL);
    case_error(ben, "counsellor rekey",
               "{\"t\":\"rekey\",\"sid\":\"0123456789abcdef0123456789abcdef\",\"pk\":\"x\"}", "not_allowed", NULL);
    case_error(ben, "take with nobody waiting", "{\"t\":\"take\",\"junk\":[\"x\"]}", "queue_empty", NULL);
    client_free(ben);

    struct client *sue;
    assert_int_equal(client_connect(&sue, HARNESS_HOST, H->port, CLIENT_SUPERVISOR, NULL, T), 0);
    assert_int_equal(client_login(sue, "sue", harness_account(H, "sue")->password, T), 0);
    static const char *const sup_not[] = {
        "{\"t\":\"take\"}", "{\"t\":\"status\",\"available\":true,\"capacity\":1}",
        "{\"t\":\"end\",\"sid\":\"0123456789abcdef0123456789abcdef\"}",
    };
    for (size_t i = 0; i < sizeof sup_not / sizeof sup_not[0]; i++) {
        snprintf(label, sizeof label, "supervisor: %s", sup_not[i]);
        case_error(sue, label, sup_not[i], "not_allowed", NULL);
    }
    frame[1] = 1;
    memcpy(frame + 4, B.cs->sid, 16);
    case_frame(sue, "supervisor DATA with the bystander's sid", frame, sizeof frame, "not_allowed", NULL);
    client_free(sue);
    group_end();
}

/* ---- 5. binary frames ---------------------------------------------------------------------- */

static void put_header(uint8_t *f, int version, int kind, int flags, const uint8_t *sid, uint64_t seq)
{
    f[0] = (uint8_t)version;
    f[1] = (uint8_t)kind;
    f[2] = (uint8_t)(flags >> 8);
    f[3] = (uint8_t)flags;
    memcpy(f + 4, sid, 16);
    for (int i = 0; i < 8; i++)
        f[20 + i] = (uint8_t)(seq >> (56 - 8 * i));
}

static void test_binary_frames_with_bad_headers_and_sizes(void **state)
{
    (void)state;
    group_begin();
    struct client *ben, *young;
    struct client_session *s;
    assigned_pair(&ben, &young, &s);
    struct client_session *ys = client_young_session(young);
    static uint8_t f[LOTSE_MAX_BINARY_FRAME];
    char label[128];

    /* DATA in the assigned state (keys not sent yet) */
    put_header(f, 1, 1, 0, ys->sid, 1);
    case_frame(young, "DATA before keys (young)", f, 28 + 272, "session_not_active", ys->sid);
    put_header(f, 1, 1, 0, s->sid, 1);
    case_frame(ben, "DATA before keys (counsellor)", f, 28 + 272, "session_not_active", s->sid);
    assert_int_equal(client_send_keys(ben, s), 0);
    assert_int_equal(client_young_wait_keys(young, T), 0);

    struct client *who[] = {young, ben};
    const uint8_t *sids[] = {ys->sid, s->sid};
    const char *names[] = {"young", "counsellor"};
    for (int k = 0; k < 2; k++) {
        struct client *c = who[k];
        /* truncated headers: every length 0..27 */
        for (size_t len = 0; len < LOTSE_FRAME_HEADER_BYTES; len++) {
            put_header(f, 1, 1, 0, sids[k], 1);
            snprintf(label, sizeof label, "%s: %zu-byte frame", names[k], len);
            case_frame(c, label, f, len, "bad_frame", NULL);
        }
        const struct {
            int version, kind, flags;
            uint64_t seq;
            size_t payload;
            const char *what;
        } bad[] = {
            {0, 1, 0, 1, 272, "version 0"},      {2, 1, 0, 1, 272, "version 2"},
            {255, 1, 0, 1, 272, "version 255"},  {1, 0, 0, 1, 272, "kind 0"},
            {1, 4, 0, 1, 272, "kind 4"},         {1, 255, 0, 1, 0, "kind 255"},
            {1, 1, 1, 1, 272, "flags 1"},        {1, 1, 0x8000, 1, 272, "flags 0x8000"},
            {1, 2, 0x0100, 1, 0, "ACK flags 0x100"}, {1, 1, 0, 0, 272, "DATA seq 0"},
            {1, 2, 0, 0, 0, "ACK seq 0"},        {1, 1, 0, 1, 0, "DATA without payload"},
            {1, 1, 0, 1, 1, "DATA payload 1"},   {1, 1, 0, 1, 16, "DATA payload 16 (tag only)"},
            {1, 1, 0, 1, 256, "DATA payload 256 (no tag)"}, {1, 1, 0, 1, 271, "DATA payload 271"},
            {1, 1, 0, 1, 273, "DATA payload 273"}, {1, 1, 0, 1, 512, "DATA payload 512"},
            {1, 1, 0, 1, 1039, "DATA payload 1039"}, {1, 1, 0, 1, 1041, "DATA payload 1041"},
            {1, 1, 0, 1, 2048, "DATA payload 2048"}, {1, 1, 0, 1, 4111, "DATA payload 4111"},
            {1, 2, 0, 1, 1, "ACK with payload 1"}, {1, 2, 0, 1, 272, "ACK with payload 272"},
            {1, 2, 0, 1, 0, "ACK without tag"},  {1, 2, 0, 1, 15, "ACK with payload 15"},
            {1, 2, 0, 1, 17, "ACK with payload 17"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            put_header(f, bad[i].version, bad[i].kind, bad[i].flags, sids[k], bad[i].seq);
            memset(f + 28, 0xA5, bad[i].payload);
            snprintf(label, sizeof label, "%s: %s", names[k], bad[i].what);
            /* the sid could be read: the error carries it */
            case_frame(c, label, f, 28 + bad[i].payload, "bad_frame", sids[k]);
        }
        /* a session id that does not exist, and the bystander's */
        uint8_t rnd[16];
        randombytes_buf(rnd, sizeof rnd);
        put_header(f, 1, 1, 0, rnd, 1);
        snprintf(label, sizeof label, "%s: DATA for an unknown session", names[k]);
        case_frame(c, label, f, 28 + 272, "no_such_session", rnd);
        put_header(f, 1, 2, 0, rnd, 1);
        snprintf(label, sizeof label, "%s: ACK for an unknown session", names[k]);
        case_frame(c, label, f, LOTSE_ACK_FRAME_BYTES, "no_such_session", rnd);
        const uint8_t *other = B.ys->sid;
        put_header(f, 1, 1, 0, other, 1000);
        snprintf(label, sizeof label, "%s: DATA for the bystander's session", names[k]);
        case_frame(c, label, f, 28 + 1040, "not_your_session", other);
        put_header(f, 1, 2, 0, other, 1);
        snprintf(label, sizeof label, "%s: ACK for the bystander's session", names[k]);
        case_frame(c, label, f, LOTSE_ACK_FRAME_BYTES, "not_your_session", other);
    }
    /* a text frame that carries a binary header is just bad JSON */
    put_header(f, 1, 1, 0, ys->sid, 1);
    ncases++;
    assert_int_equal(ws_send(young->ws, WS_OP_TEXT, "\x01\x01\x00\x00", 4), 0);
    got_error(young, "binary header in a text frame", "bad_json", NULL);
    /* nothing of it reached the other side, and the session still works */
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_send_text(young, ys, "after bad frames", 16), 0);
    assert_int_equal(client_recv_text(ben, NULL, got, sizeof got, T), 16);
    assert_string_equal(got, "after bad frames");
    assert_int_equal(client_send_text(ben, s, "reply", 5), 0);
    assert_int_equal(client_recv_text(young, NULL, got, sizeof got, T), 5);
    /* binary larger than 4,140 bytes: 1009 */
    static uint8_t big[LOTSE_MAX_BINARY_FRAME + 1];
    put_header(big, 1, 1, 0, ys->sid, 2);
    case_close(young, "binary frame of 4,141 bytes", WS_OP_BINARY, big, sizeof big, 1009);
    client_free(young);
    client_free(ben);
    group_end();
}

/* ---- 6. fragmentation without end --------------------------------------------------------- */

/* Sends continuation frames of `step` bytes past the limit of the message
 * kind; returns the server's close code and the bytes sent. (Sending on after
 * the server closed would only get the close frame lost in a reset.) */
static int endless(struct client *c, int opcode, size_t step, size_t *sent)
{
    static uint8_t chunk[1024];
    memset(chunk, opcode == WS_OP_TEXT ? 'a' : 0x5a, sizeof chunk);
    *sent = 0;
    if (opcode == WS_OP_TEXT) {
        if (ws_send_frame(c->ws, WS_OP_TEXT, false, "{\"t\":\"x\",\"p\":\"", 15) != 0)
            return -EIO;
        *sent = 15;
    } else {
        if (ws_send_frame(c->ws, WS_OP_BINARY, false, chunk, step) != 0)
            return -EIO;
        *sent = step;
    }
    size_t limit = opcode == WS_OP_TEXT ? LOTSE_MAX_TEXT_FRAME : LOTSE_MAX_BINARY_FRAME;
    while (*sent <= limit) {
        if (ws_send_frame(c->ws, WS_OP_CONT, false, chunk, step) != 0)
            break; /* the server has closed */
        *sent += step;
    }
    return client_wait_close(c, T);
}

static void test_endless_fragmented_messages_close_1009(void **state)
{
    (void)state;
    group_begin();
    const size_t steps[] = {1, 100, 1000};
    char label[128];
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        for (int bin = 0; bin < 2; bin++) {
            for (int after_hello = 0; after_hello < 2; after_hello++) {
                struct client *c;
                if (after_hello)
                    assert_int_equal(harness_young(H, "school", &c), 0);
                else
                    c = connect_client(CLIENT_YOUNG);
                size_t sent;
                ncases++;
                int code = endless(c, bin ? WS_OP_BINARY : WS_OP_TEXT, steps[i], &sent);
                snprintf(label, sizeof label, "endless %s fragments of %zu bytes%s",
                         bin ? "binary" : "text", steps[i], after_hello ? " after hello" : "");
                if (code != 1009)
                    mismatch(label, "expected close 1009, got %d after %zu bytes", code, sent);
                client_free(c);
            }
        }
    }
    /* fragments just under the limit and then finished: served */
    struct client *c = connect_client(CLIENT_YOUNG);
    ncases++;
    char *msg = malloc(LOTSE_MAX_TEXT_FRAME + 1);
    assert_non_null(msg);
    const char *head = "{\"t\":\"zz\",\"p\":\"";
    memcpy(msg, head, strlen(head));
    memset(msg + strlen(head), 'q', LOTSE_MAX_TEXT_FRAME - strlen(head) - 2);
    memcpy(msg + LOTSE_MAX_TEXT_FRAME - 2, "\"}", 2);
    assert_int_equal(ws_send_fragmented(c->ws, WS_OP_TEXT, msg, LOTSE_MAX_TEXT_FRAME, 1), 0);
    got_error(c, "8,192 bytes in 1-byte fragments", "unknown_type", NULL);
    free(msg);
    /* RFC 6455 violations: a continuation with nothing to continue, a new
     * message inside a fragmented one. lws closes with 1002 (or drops). */
    ncases++;
    assert_int_equal(ws_send_frame(c->ws, WS_OP_CONT, true, "abc", 3), 0);
    int code = client_wait_close(c, T);
    if (code != 1002 && code != 0)
        mismatch("continuation without a start", "expected close 1002, got %d", code);
    client_free(c);
    c = connect_client(CLIENT_YOUNG);
    ncases++;
    assert_int_equal(ws_send_frame(c->ws, WS_OP_TEXT, false, "{\"t\":", 5), 0);
    assert_int_equal(ws_send_frame(c->ws, WS_OP_TEXT, true, "{\"t\":\"take\"}", 12), 0);
    code = client_wait_close(c, T);
    if (code != 1002 && code != 0)
        mismatch("text frame inside a fragmented text message", "expected close 1002, got %d", code);
    client_free(c);
    group_end();
}

/* ---- 7. HTTP level: bogus Upgrade, slowloris ---------------------------------------------- */

static void test_bogus_upgrade_header_is_survived(void **state)
{
    (void)state;
    group_begin();
    const char *upgrades[] = {"foo", "websocket2", "h2c", "WebSocket, foo", "tls/1.0", "x\x01y"};
    char req[512], resp[4096];
    for (size_t i = 0; i < sizeof upgrades / sizeof upgrades[0]; i++) {
        for (int path = 0; path < 2; path++) {
            snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: %s\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Protocol: lotse.v1\r\n\r\n",
                     path ? "/ws" : "/", H->port, upgrades[i]);
            int status = 0;
            ncases++;
            http_raw(HARNESS_HOST, H->port, req, strlen(req), &status, resp, sizeof resp, 3000);
            if (!(status == 0 || (status >= 400 && status < 500)))
                mismatch("bogus Upgrade", "Upgrade: %s on %s answered %d", upgrades[i],
                         path ? "/ws" : "/", status);
            assert_int_equal(harness_http_status(H, "/healthz"), 200);
        }
    }
    group_end();
}

static int tcp_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)H->port)};
    inet_pton(AF_INET, HARNESS_HOST, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void tcp_reset(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

/* True when the server has closed fd (EOF or reset). */
static bool peer_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return false;
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_slowloris_handshakes_are_closed_by_the_timeout(void **state)
{
    (void)state;
    group_begin();
    enum { N = 6 };
    char req[512];
    int len = snprintf(req, sizeof req,
                       "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Protocol: lotse.v1\r\nX-Padding: %0200d\r\n\r\n",
                       H->port, 0);
    int fd[N];
    size_t pos[N];
    int64_t closed_at[N];
    int64_t start = now_ms();
    for (int i = 0; i < N; i++) {
        fd[i] = tcp_connect();
        assert_true(fd[i] >= 0);
        pos[i] = 0;
        closed_at[i] = 0;
    }
    int open = N;
    int64_t last_check = start;
    /* one byte per 200 ms on each; a normal chat must go on meanwhile */
    while (open > 0 && now_ms() - start < 60000) {
        for (int i = 0; i < N; i++) {
            if (closed_at[i])
                continue;
            if (peer_closed(fd[i]) ||
                (pos[i] < (size_t)len && send(fd[i], req + pos[i], 1, MSG_NOSIGNAL) != 1)) {
                closed_at[i] = now_ms();
                open--;
                continue;
            }
            if (pos[i] < (size_t)len)
                pos[i]++;
        }
        if (now_ms() - last_check > 1000) {
            bystander_check();
            last_check = now_ms();
        }
        harness_sleep_ms(200);
    }
    for (int i = 0; i < N; i++) {
        ncases++;
        char label[64];
        snprintf(label, sizeof label, "slowloris #%d", i);
        if (!closed_at[i])
            mismatch(label, "still open after 60 s (%zu of %d bytes sent)", pos[i], len);
        else if (closed_at[i] - start > (HANDSHAKE_TIMEOUT_S * 3 + 5) * 1000)
            mismatch(label, "closed only after %lld ms", (long long)(closed_at[i] - start));
        else
            fprintf(stderr, "slowloris #%d: closed after %lld ms, %zu of %d bytes sent\n", i,
                    (long long)(closed_at[i] - start), pos[i], len);
        close(fd[i]);
    }
    /* the complete request one byte at a time, but then silent: 4001 or closed */
    group_end();
}

/* ---- 8. 10,000 connections opened and dropped ---------------------------------------------- */

static void test_ten_thousand_connections_opened_and_dropped(void **state)
{
    (void)state;
    group_begin();
    enum { TOTAL = 10000, BATCH = 500 };
    char req[512];
    int rlen = snprintf(req, sizeof req,
                        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Protocol: lotse.v1\r\n\r\n",
                        H->port);
    int done = 0, kinds[6] = {0};
    int64_t start = now_ms();
    while (done < TOTAL) {
        int fds[BATCH];
        struct ws_conn *ws[BATCH];
        struct client *young[BATCH];
        int n = 0;
        memset(ws, 0, sizeof ws);
        memset(young, 0, sizeof young);
        /* open a whole batch first, so that many are open at once */
        for (; n < BATCH && done + n < TOTAL; n++) {
            int kind = (done + n) % 6;
            fds[n] = -1;
            switch (kind) {
            case 0: /* TCP only */
            case 1: /* half an HTTP request */
            case 2: /* the whole request, answer never read */
                fds[n] = tcp_connect();
                assert_true(fds[n] >= 0);
                if (kind == 1)
                    assert_int_equal(send(fds[n], req, (size_t)rlen / 2, MSG_NOSIGNAL), rlen / 2);
                if (kind == 2)
                    assert_int_equal(send(fds[n], req, (size_t)rlen, MSG_NOSIGNAL), rlen);
                break;
            case 3: /* upgraded */
            case 4:
                assert_int_equal(ws_connect(&ws[n], HARNESS_HOST, H->port, "/ws", LOTSE_SUBPROTOCOL,
                                            NULL, NULL, T), 0);
                break;
            case 5: /* a young person in the queue */
                if (harness_young(H, "school", &young[n]) != 0)
                    fail_msg("hello #%d failed", done + n);
                break;
            }
        }
        /* and drop it: half abruptly (RST), half politely */
        for (int i = 0; i < n; i++) {
            int kind = (done + i) % 6;
            bool abrupt = ((done + i) / 6) % 2 == 0;
            kinds[kind]++;
            if (fds[i] >= 0) {
                if (abrupt)
                    tcp_reset(fds[i]);
                else
                    close(fds[i]);
            } else if (ws[i]) {
                if (abrupt)
                    ws_abort(ws[i]);
                else
                    ws_close(ws[i], 1000, 1000);
                ws_free(ws[i]);
            } else if (young[i]) {
                if (abrupt)
                    ws_abort(young[i]->ws);
                client_free(young[i]);
            }
        }
        done += n;
        ncases += n;
        if (done % 2000 == 0) {
            bystander_check();
            fprintf(stderr, "connections: %d opened and dropped (%lld ms)\n", done,
                    (long long)(now_ms() - start));
        }
    }
    fprintf(stderr, "connections: TCP only %d, half request %d, whole request %d, upgraded %d, "
                    "young %d\n",
            kinds[0], kinds[1], kinds[2], kinds[3] + kinds[4], kinds[5]);
    /* the server still serves: a new chat starts and works */
    struct client *ben, *young;
    struct client_session *s;
    harness_sleep_ms((HANDSHAKE_TIMEOUT_S + 4) * 1000); /* half-open ones time out, queue drains */
    assert_int_equal(harness_counsellor(H, "ben", &ben), 0);
    assert_int_equal(harness_pair(H, ben, "prison", &young, &s), 0);
    char got[LOTSE_MAX_MESSAGE + 1];
    assert_int_equal(client_send_text(young, client_young_session(young), "after 10k", 9), 0);
    assert_int_equal(client_recv_text(ben, NULL, got, sizeof got, T), 9);
    client_free(young);
    client_free(ben);
    group_end();
}

/* ---- the end: everything above left no damage ------------------------------------------------ */

static void test_server_exits_zero_at_the_end(void **state)
{
    (void)state;
    bool earlier = all_passed;
    bystander_check();
    client_free(B.young);
    client_free(B.anna);
    B.young = B.anna = NULL;
    assert_int_equal(harness_stop(H), 0);
    /* nothing in the log that looks like a crash or a sanitizer report */
    char *log = harness_log_read(H);
    assert_non_null(log);
    assert_null(strstr(log, "AddressSanitizer"));
    assert_null(strstr(log, "runtime error"));
    free(log);
    if (earlier && nmismatch == 0)
        harness_pass(H);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_utf8_in_text_frames_closes_1007),
        cmocka_unit_test(test_unknown_types_and_bad_json_get_their_errors),
        cmocka_unit_test(test_hello_and_resume_fields),
        cmocka_unit_test(test_login_fields),
        cmocka_unit_test(test_counsellor_message_fields),
        cmocka_unit_test(test_rekey_fields_after_a_transfer),
        cmocka_unit_test(test_messages_before_hello_and_a_second_hello),
        cmocka_unit_test(test_binary_frames_with_bad_headers_and_sizes),
        cmocka_unit_test(test_endless_fragmented_messages_close_1009),
        cmocka_unit_test(test_bogus_upgrade_header_is_survived),
        cmocka_unit_test(test_slowloris_handshakes_are_closed_by_the_timeout),
        cmocka_unit_test(test_ten_thousand_connections_opened_and_dropped),
        cmocka_unit_test(test_server_exits_zero_at_the_end),
    };
    return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
