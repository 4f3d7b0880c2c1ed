/* it_mail — mail counselling, the young person's side (issue 13, PROTOCOL.md
 * §9.1, §9.4), against the real lotsed and PostgreSQL with the real crypto of
 * proto/src/mail.c (tests/support/mail_client.h):
 *   - write, then come back with the code on a new connection and read every
 *     message back (and a counsellor device can open them with its mail key);
 *   - a wrong code gets the neutral mail_unknown after the same fixed time as a
 *     right one (both measured), and mail_open is rate-limited per source;
 *   - MAIL frames: no thread, wrong seq, bad envelope, too big; the pool of 32
 *     large receive buffers answers busy when all are out;
 *   - mail switched off (mail_enabled = false) is mail_off, not mail_closed;
 *   - a thread's message and byte limits (thread_full) and the store cap
 *     (mail_full), with small settings;
 *   - delete-now and expiry: afterwards the envelope bytes are in no column of
 *     any table; a plaintext marker is in no table, log line or file of the
 *     cluster after CHECKPOINT. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "client.h"
#include "harness.h"
#include "mail_client.h"

#define T 10000

/* Registers a mail key for handle's certified device straight in the
 * database, as the device would with mail_key (the statement signed by the
 * device key); the secret half goes to mail_sk. */
static void add_device_mail_key(struct harness *h, const char *handle, uint8_t mail_pk[32],
                                uint8_t mail_sk[32])
{
    assert_int_equal(harness_add_mail_key(h, handle, mail_pk, mail_sk), 0);
}

static struct mail_young *young(struct harness *h, const char *code)
{
    struct mail_young *y;
    assert_int_equal(mail_young_connect(&y, HARNESS_HOST, h->port, h->org_pk, code, T), 0);
    return y;
}

/* A young person who fetched the keys and started a thread on topic. */
static struct mail_young *young_thread(struct harness *h, const char *topic)
{
    struct mail_young *y = young(h, NULL);
    assert_int_equal(mail_fetch_keys(y->c, h->org_pk, &y->dev, T), 0);
    int rc = mail_young_new(y, topic, T);
    if (rc != 0)
        fprintf(stderr, "mail_new: %d %s\n", rc, y->c->err_code);
    assert_int_equal(rc, 0);
    return y;
}

static void test_write_then_read_back_with_the_code(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    uint8_t anna_pk[32], anna_sk[32], ben_pk[32], ben_sk[32];
    add_device_mail_key(h, "anna", anna_pk, anna_sk);
    add_device_mail_key(h, "ben", ben_pk, ben_sk);

    struct mail_young *y = young_thread(h, "family");
    assert_int_equal(y->dev.n, 2);
    assert_int_equal(y->dev.rejected, 0);
    assert_false(y->dev.messages == 0);
    static const char first[] = "Hallo, ich trau mich im Chat nicht. Mein Vater ist im Gefaengnis.";
    static const char second[] = "Und noch etwas: meine Mutter weiss nichts davon.";
    assert_int_equal(mail_young_send(y, first, strlen(first), T), 0);
    assert_int_equal(y->n, 1);
    assert_int_equal(mail_young_send(y, second, strlen(second), T), 0);
    assert_int_equal(y->n, 2);
    char code[LOTSE_MAIL_CODE_LEN + 1], tid[33];
    lotse_mail_code_format(code, y->code);
    memcpy(tid, y->tid_hex, sizeof tid);
    mail_young_free(y);

    /* next day, another device: only the code */
    y = young(h, code);
    assert_int_equal(mail_young_open(y, T), 0);
    printf("came back with the code: mail_thread after %lld ms, n %lld, state %s\n",
           (long long)y->open_ms, (long long)y->n, y->state);
    assert_string_equal(y->tid_hex, tid);
    assert_int_equal(y->n, 2);
    assert_string_equal(y->state, "open");
    assert_string_equal(y->topic, "family");
    char *body = malloc(LOTSE_MAIL_MAX_BODY + 1);
    struct lotse_mail_opened o;
    uint64_t seq;
    for (int i = 1; i <= 2; i++) {
        int len = mail_young_read(y, &seq, &o, body, LOTSE_MAIL_MAX_BODY + 1, T);
        assert_int_equal(seq, (uint64_t)i);
        assert_int_equal(o.kind, LOTSE_MAIL_FROM_YOUNG);
        assert_string_equal(body, i == 1 ? first : second);
        assert_int_equal(len, (int)strlen(body));
    }
    /* a reply on the thread it came back to */
    assert_int_equal(mail_fetch_keys(y->c, h->org_pk, &y->dev, T), 0);
    assert_int_equal(mail_young_send(y, "Danke!", 6, T), 0);
    assert_int_equal(y->n, 3);
    /* a counsellor device opens what is stored with its mail key */
    PGresult *r = harness_exec(h, "SELECT envelope FROM mail_messages ORDER BY n LIMIT 1");
    assert_int_equal(PQntuples(r), 1);
    size_t elen;
    unsigned char *env = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &elen);
    PQclear(r);
    assert_int_equal(lotse_mail_envelope_check(env, elen), 0);
    assert_int_equal(lotse_mail_open(&o, (uint8_t *)body, LOTSE_MAIL_MAX_BODY, env, elen, ben_pk,
                                     ben_sk, y->keys.box_pk, y->keys.sign_pk, h->org_pk,
                                     (uint64_t)time(NULL)),
                     0);
    assert_memory_equal(body, first, strlen(first));
    PQfreemem(env);
    /* what the server keeps: hour and day buckets, never an exact time */
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM mail_threads WHERE "
                                         "created_hour = date_trunc('hour', created_hour) AND "
                                         "waiting_since = date_trunc('hour', waiting_since)"),
                     1);
    free(body);
    mail_young_free(y);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_wrong_code_is_neutral_same_time_and_rate_limited(void **state)
{
    struct harness *h = *state;
    harness_set(h, "mail_open_rate", "4");
    assert_int_equal(harness_start(h), 0);
    struct mail_young *y = young_thread(h, "family");
    assert_int_equal(mail_young_send(y, "hallo", 5, T), 0);
    char code[LOTSE_MAIL_CODE_SYMBOLS + 1];
    memcpy(code, y->code, sizeof code);
    mail_young_free(y);

    int64_t hit[2], miss[2];
    for (int i = 0; i < 2; i++) {
        y = young(h, code);
        assert_int_equal(mail_young_open(y, T), 0);
        hit[i] = y->open_ms;
        mail_young_free(y);
        y = young(h, NULL); /* a code nobody has */
        assert_int_equal(mail_young_open(y, T), -ENOENT);
        miss[i] = y->open_ms;
        mail_young_free(y);
    }
    printf("mail_open answer time: right code %lld / %lld ms, wrong code %lld / %lld ms "
           "(fixed 500 ms)\n",
           (long long)hit[0], (long long)hit[1], (long long)miss[0], (long long)miss[1]);
    for (int i = 0; i < 2; i++) {
        assert_in_range(hit[i], 490, 650);
        assert_in_range(miss[i], 490, 650);
        assert_true(llabs((long long)(hit[i] - miss[i])) < 100);
    }
    /* four attempts this minute from this source: the fifth is refused, on
     * any connection, with the code right or wrong */
    y = young(h, code);
    assert_int_equal(mail_young_open(y, T), -EPROTO);
    assert_string_equal(y->c->err_code, "rate_limited");
    mail_young_free(y);
    y = young(h, NULL);
    assert_int_equal(mail_young_open(y, T), -EPROTO);
    assert_string_equal(y->c->err_code, "rate_limited");
    mail_young_free(y);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_mail_frames_are_checked_and_the_pool_is_bounded(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    uint8_t *frame = malloc(LOTSE_MAIL_FRAME_MAX + 1);
    struct mail_young *y = young_thread(h, "family");
    int len = mail_young_seal(y, 1, "hallo", 5, frame);
    assert_true(len > 0);

    /* on a connection that has no thread */
    struct mail_young *stranger = young(h, NULL);
    memcpy(stranger->tid, y->tid, sizeof y->tid);
    assert_int_equal(mail_send_frame(stranger->c, frame, (size_t)len), 0);
    assert_int_equal(client_expect_error(stranger->c, "not_allowed", T), 0);
    assert_string_equal(stranger->c->err_re, "mail");
    mail_young_free(stranger);

    /* seq must be n + 1; the envelope must pass the check */
    frame[LOTSE_FRAME_HEADER_BYTES - 1] = 2;
    assert_int_equal(mail_send_frame(y->c, frame, (size_t)len), 0);
    assert_int_equal(client_expect_error(y->c, "mail_conflict", T), 0);
    frame[LOTSE_FRAME_HEADER_BYTES - 1] = 1;
    frame[LOTSE_FRAME_HEADER_BYTES] ^= 0x40; /* envelope version */
    assert_int_equal(mail_send_frame(y->c, frame, (size_t)len), 0);
    assert_int_equal(client_expect_error(y->c, "bad_envelope", T), 0);
    frame[LOTSE_FRAME_HEADER_BYTES] ^= 0x40;
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM mail_messages"), 0);

    /* 32 connections each hold a large buffer with the first fragment of a
     * MAIL frame: the 33rd MAIL frame gets busy and is dropped, whole in one
     * chunk, in fragments or after an empty fragment; once one lets go it is stored. The 32 are not
     * disturbed: their frames, finished, are read whole (not_allowed: they
     * have no thread). */
    uint8_t *big = malloc(LOTSE_MAIL_FRAME_MAX);
    char *body = malloc(8000);
    memset(body, 'b', 8000);
    int blen = mail_young_seal(y, 1, body, 8000, big);
    assert_true(blen > 4000);
    struct client *hold[32];
    for (int i = 0; i < 32; i++) {
        assert_int_equal(
            client_connect(&hold[i], HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
        assert_int_equal(ws_send_frame(hold[i]->ws, WS_OP_BINARY, false, big, 2000), 0);
    }
    harness_sleep_ms(300);
    assert_int_equal(mail_send_frame(y->c, frame, (size_t)len), 0);
    assert_int_equal(client_expect_error(y->c, "busy", T), 0);
    assert_string_equal(y->c->err_re, "mail");
    assert_int_equal(ws_send_fragmented(y->c->ws, WS_OP_BINARY, frame, (size_t)len, 100), 0);
    assert_int_equal(client_expect_error(y->c, "busy", T), 0);
    /* an empty first fragment: the kind byte comes later, busy all the same */
    assert_int_equal(ws_send_frame(y->c->ws, WS_OP_BINARY, false, frame, 0), 0);
    assert_int_equal(ws_send_frame(y->c->ws, WS_OP_CONT, true, frame, (size_t)len), 0);
    assert_int_equal(client_expect_error(y->c, "busy", T), 0);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM mail_messages"), 0);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(
            ws_send_frame(hold[i]->ws, WS_OP_CONT, true, big + 2000, (size_t)blen - 2000), 0);
        assert_int_equal(client_expect_error(hold[i], "not_allowed", T), 0);
        client_free(hold[i]);
    }
    harness_sleep_ms(300);
    assert_int_equal(ws_send_fragmented(y->c->ws, WS_OP_BINARY, frame, (size_t)len, 100), 0);
    int64_t n = 0;
    assert_int_equal(mail_wait_stored(y->c, &n, T), 0);
    assert_int_equal(n, 1);
    printf("33rd MAIL frame while 32 large buffers were out: busy (whole and in fragments); "
           "the 32 frames arrived whole; after they were given back: stored\n");
    free(body);
    free(big);

    /* larger than a MAIL frame can be: closed 1009 (the send may fail half way) */
    memset(frame + LOTSE_FRAME_HEADER_BYTES, 0,
           LOTSE_MAIL_FRAME_MAX + 1 - LOTSE_FRAME_HEADER_BYTES);
    (void)ws_send_fragmented(y->c->ws, WS_OP_BINARY, frame, LOTSE_MAIL_FRAME_MAX + 1, 4096);
    assert_int_equal(client_wait_close(y->c, T), 1009);
    free(frame);
    mail_young_free(y);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_mail_switched_off_answers_mail_off(void **state)
{
    struct harness *h = *state;
    harness_set(h, "mail_enabled", "false");
    assert_int_equal(harness_start(h), 0);
    struct mail_young *y = young(h, NULL);
    static const char *const asks[] = {
        "{\"t\":\"mail_keys\"}",
        "{\"t\":\"mail_new\",\"v\":1,\"topic\":\"family\","
        "\"lookup\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
        "\"box_pk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
        "\"sign_pk\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        "{\"t\":\"mail_open\",\"v\":1,\"lookup\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
    };
    static const char *const re[] = {"mail_keys", "mail_new", "mail_open"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(client_send_json(y->c, asks[i]), 0);
        assert_int_equal(client_expect_error(y->c, "mail_off", T), 0);
        assert_string_equal(y->c->err_re, re[i]);
    }
    printf("mail switched off: mail_keys, mail_new and mail_open answered mail_off\n");
    mail_young_free(y);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* A body of len bytes of printable filler. */
static char *filler(size_t len, char c)
{
    char *s = malloc(len + 1);
    memset(s, c, len);
    s[len] = 0;
    return s;
}

static void test_thread_limits_and_store_cap(void **state)
{
    struct harness *h = *state;
    harness_set(h, "mail_thread_max_messages", "3");
    harness_set(h, "mail_thread_max_bytes", "40960");
    harness_set(h, "mail_store_max_bytes", "65536");
    assert_int_equal(harness_start(h), 0);

    /* three messages, then thread_full */
    struct mail_young *y = young_thread(h, "family");
    for (int i = 0; i < 3; i++)
        assert_int_equal(mail_young_send(y, "kurz", 4, T), 0);
    assert_int_equal(mail_young_send(y, "kurz", 4, T), -EPROTO);
    assert_string_equal(y->c->err_code, "thread_full");
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM mail_messages"), 3);
    mail_young_free(y);

    /* bytes: 16000-byte bodies (envelopes ~16.5 KB) fill 40960 on the third */
    char *big = filler(16000, 'x');
    y = young_thread(h, "school");
    assert_int_equal(mail_young_send(y, big, 16000, T), 0);
    assert_int_equal(mail_young_send(y, big, 16000, T), 0);
    assert_int_equal(mail_young_send(y, big, 16000, T), -EPROTO);
    assert_string_equal(y->c->err_code, "thread_full");
    long bytes2 = harness_sql_long(h, "SELECT sum(bytes) FROM mail_threads");
    mail_young_free(y);

    /* the store: 65536 in all; a third person's first big message no longer fits */
    y = young_thread(h, "family");
    int rc = mail_young_send(y, big, 16000, T);
    long total = harness_sql_long(h, "SELECT sum(bytes) FROM mail_threads");
    printf("stored %ld bytes of envelopes (two threads %ld); a further 16 KB message: %s\n", total,
           bytes2, rc == 0 ? "stored" : y->c->err_code);
    if (rc == 0) { /* it fitted: the next one cannot */
        rc = mail_young_send(y, big, 16000, T);
        total = harness_sql_long(h, "SELECT sum(bytes) FROM mail_threads");
    }
    assert_int_equal(rc, -EPROTO);
    assert_string_equal(y->c->err_code, "mail_full");
    assert_true(total <= 65536);
    assert_int_equal(harness_sql_long(h, "SELECT coalesce(sum(octet_length(envelope)), 0) "
                                         "FROM mail_messages"),
                     total);
    /* a small one still fits where a big one does not, and nothing was dropped */
    long before = harness_sql_long(h, "SELECT count(*) FROM mail_messages");
    if (total + 2000 <= 65536) {
        assert_int_equal(mail_young_send(y, "klein", 5, T), 0);
        assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM mail_messages"), before + 1);
    }
    free(big);
    mail_young_free(y);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* Counts files under dir that contain needle (grep -r). */
static int files_containing(const char *dir, const char *needle)
{
    char cmd[PATH_MAX + 256];
    snprintf(cmd, sizeof cmd, "grep -rlaF -- '%s' '%s' 2>/dev/null | wc -l", needle, dir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    int n = -1;
    if (fscanf(p, "%d", &n) != 1)
        n = -1;
    pclose(p);
    return n;
}

/* The shared cluster's directory (pg.sh writes it next to the conninfo). */
static void cluster_dir(char *out, size_t cap)
{
    const char *f = getenv("LOTSE_TEST_PG_FILE");
    assert_non_null(f);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", f);
    char *slash = strrchr(path, '/');
    assert_non_null(slash);
    snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "pgdir");
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(out, (int)cap, fp));
    fclose(fp);
    out[strcspn(out, "\n")] = 0;
}

/* Writes one message carrying marker and returns a copy of its envelope. */
static size_t write_marked(struct mail_young *y, const char *marker, uint8_t *env)
{
    uint8_t *frame = malloc(LOTSE_MAIL_FRAME_MAX);
    char body[256];
    snprintf(body, sizeof body, "Bitte nicht weitersagen: %s", marker);
    int len = mail_young_seal(y, (uint64_t)y->n + 1, body, strlen(body), frame);
    assert_true(len > LOTSE_FRAME_HEADER_BYTES);
    assert_int_equal(mail_send_frame(y->c, frame, (size_t)len), 0);
    assert_int_equal(mail_wait_stored(y->c, &y->n, T), 0);
    size_t elen = (size_t)len - LOTSE_FRAME_HEADER_BYTES;
    memcpy(env, frame + LOTSE_FRAME_HEADER_BYTES, elen);
    free(frame);
    return elen;
}

static void test_delete_now_and_expiry_leave_nothing(void **state)
{
    struct harness *h = *state;
    harness_set(h, "mail_retention_days", "1");
    assert_int_equal(harness_start(h), 0);
    uint8_t pk[32], sk[32];
    add_device_mail_key(h, "anna", pk, sk);
    char marker[64];
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(marker, sizeof marker, "MAILMARKER-");
    lotse_hex_encode(marker + 11, sizeof marker - 11, rnd, sizeof rnd);
    uint8_t *env_a = malloc(LOTSE_MAIL_ENVELOPE_MAX), *env_b = malloc(LOTSE_MAIL_ENVELOPE_MAX);

    /* delete now */
    struct mail_young *a = young_thread(h, "family");
    size_t la = write_marked(a, marker, env_a);
    uint8_t box_a[32];
    memcpy(box_a, a->keys.box_pk, 32);
    assert_true(harness_db_scan_substring(h, env_a + la / 2, 64) > 0); /* the scan sees it */
    int code = mail_young_delete(a, T);
    printf("mail_delete: mail_deleted, then close %d\n", code);
    assert_int_equal(code, 1000);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM mail_threads"), 0);
    assert_int_equal(harness_db_scan_substring(h, env_a + la / 2, 64), 0);
    assert_int_equal(harness_db_scan_substring(h, env_a, 64), 0);
    assert_int_equal(harness_db_scan_substring(h, box_a, 32), 0);
    assert_int_equal(mail_young_reconnect(a, T), 0);
    assert_int_equal(mail_young_open(a, T), -ENOENT); /* gone, neutrally */

    /* expiry: the last message is older than mail_retention_days */
    struct mail_young *b = young_thread(h, "school");
    size_t lb = write_marked(b, marker, env_b);
    PGresult *r = harness_exec(h, "UPDATE mail_threads SET last_day = last_day - 3, "
                                  "created_hour = created_hour - interval '3 days'");
    PQclear(r);
    /* expiry runs hourly and once at start: restart the server */
    assert_int_equal(harness_stop(h), 0);
    assert_int_equal(harness_start(h), 0);
    long left = harness_wait_count(h, "SELECT 1 - count(*) FROM mail_threads", 1, 10000);
    printf("expiry: thread deleted once its last day was past retention: %s\n",
           left == 1 ? "yes" : "no");
    assert_int_equal(left, 1);
    b->c->port = h->port; /* the server came back on another port */
    assert_int_equal(mail_young_reconnect(b, T), 0);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM mail_messages"), 0);
    assert_int_equal(harness_db_scan_substring(h, env_b + lb / 2, 64), 0);
    assert_int_equal(mail_young_open(b, T), -ENOENT);

    /* the plaintext was never anywhere but in the clients */
    PQclear(harness_exec(h, "CHECKPOINT"));
    assert_int_equal(harness_db_scan_substring(h, marker, strlen(marker)), 0);
    assert_int_equal(harness_log_count(h, marker), 0);
    assert_int_equal(harness_log_count(h, "MAILMARKER"), 0);
    char dir[PATH_MAX];
    cluster_dir(dir, sizeof dir);
    int in_cluster = files_containing(dir, marker), in_run = files_containing(h->dir, marker);
    printf("marker %s: %d files of the cluster (%s), %d of the server's directory\n", marker,
           in_cluster, dir, in_run);
    assert_int_equal(in_cluster, 0);
    assert_int_equal(in_run, 0);
    free(env_a);
    free(env_b);
    mail_young_free(a);
    mail_young_free(b);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_then_read_back_with_the_code, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_code_is_neutral_same_time_and_rate_limited,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_mail_frames_are_checked_and_the_pool_is_bounded,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_mail_switched_off_answers_mail_off, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_thread_limits_and_store_cap, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_delete_now_and_expiry_leave_nothing, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
