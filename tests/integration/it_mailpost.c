/* it_mailpost.c — the counsellors' side of mail counselling against the real
 * lotsed and PostgreSQL, with the real crypto (proto/src/mail.c): mail key
 * registration, the board, claim, reading, answering, the young person's
 * verification of the answer, concurrent claims, revoked devices, the
 * supervisors' feed fields and /metrics.
 *
 * The young person's thread is written into the database the way the server's
 * young side stores it (thread row, message 1 sealed to the thread key and the
 * registered device keys), so this test does not depend on mail_young.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <sodium.h>

#include "harness.h"
#include "lotse/json.h"
#include "lotse/mail.h"
#include "mail_client.h"

#define T_MS  5000
#define TOKEN "metrics-token-for-the-mailpost-test-0123"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void to_hex(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* A counsellor device's mail key, registered with mail_key. */
struct mailkey {
    uint8_t pk[32], sk[32];
};

static void register_key(struct client *c, struct mailkey *k)
{
    crypto_box_keypair(k->pk, k->sk);
    uint8_t sig[64];
    assert_int_equal(lotse_mail_key_sign(sig, c->device_pk, k->pk, c->device_sk), 0);
    char pk64[64], sig64[100], msg[256];
    lotse_b64_encode(pk64, sizeof(pk64), k->pk, 32);
    lotse_b64_encode(sig64, sizeof(sig64), sig, 64);
    snprintf(msg, sizeof(msg), "{\"t\":\"mail_key\",\"pk\":\"%s\",\"sig\":\"%s\"}", pk64, sig64);
    assert_int_equal(client_send_json(c, msg), 0);
    struct lotse_json_msg m;
    assert_int_equal(client_expect(c, "mail_key_ok", &m, T_MS), 0);
}

/* A young person's thread as the young side stores it, message 1 sealed to the
 * thread key and the device keys given. Returns the code's keys in *k. */
static void young_writes(struct harness *h, struct lotse_mail_keys *k, uint8_t tid[16],
                         const uint8_t (*dev)[32], size_t ndev, const char *body)
{
    char code[LOTSE_MAIL_CODE_SYMBOLS + 1];
    assert_int_equal(lotse_mail_code_new(code), 0);
    assert_int_equal(lotse_mail_derive(k, code), 0);
    randombytes_buf(tid, 16);
    uint8_t hash[32];
    lotse_mail_lookup_hash(hash, k->lookup);
    static uint8_t env[LOTSE_MAIL_ENVELOPE_MAX];
    struct lotse_mail_sender s = {.kind = LOTSE_MAIL_FROM_YOUNG, .sign_sk = k->sign_sk};
    int len = lotse_mail_seal(env, sizeof(env), &s, k->box_pk, dev, ndev, now_ms(),
                              (const uint8_t *)body, strlen(body));
    assert_true(len > 0);
    char t[33], lh[65], bp[65], sp[65];
    to_hex(t, tid, 16);
    to_hex(lh, hash, 32);
    to_hex(bp, k->box_pk, 32);
    to_hex(sp, k->sign_pk, 32);
    char *ehex = malloc(2 * (size_t)len + 1), *sql = malloc(2 * (size_t)len + 2048);
    to_hex(ehex, env, (size_t)len);
    snprintf(sql, 2 * (size_t)len + 2048,
             "WITH t AS (INSERT INTO mail_threads (tid, lookup_hash, box_pk, sign_pk, topic,"
             " created_hour, last_day, waiting_since, n, bytes) VALUES (decode('%s','hex'),"
             " decode('%s','hex'), decode('%s','hex'), decode('%s','hex'), 'family',"
             " date_trunc('hour', now()), current_date, date_trunc('hour', now()), 1, %d)"
             " RETURNING tid), m AS (INSERT INTO mail_messages (tid, n, sender, envelope)"
             " SELECT tid, 1, 1, decode('%s','hex') FROM t RETURNING 1) SELECT count(*) FROM m",
             t, lh, bp, sp, len, ehex);
    assert_int_equal(harness_sql_long(h, sql), 1);
    free(ehex);
    free(sql);
}

static void send_tid_msg(struct client *c, const char *type, const uint8_t tid[16])
{
    char t[33], msg[128];
    to_hex(t, tid, 16);
    snprintf(msg, sizeof(msg), "{\"t\":\"%s\",\"tid\":\"%s\"}", type, t);
    assert_int_equal(client_send_json(c, msg), 0);
}

/* Claims tid and reads its n messages; the last envelope in env. */
static int claim_read(struct client *c, const uint8_t tid[16], uint8_t *env, int64_t *n)
{
    send_tid_msg(c, "mail_claim", tid);
    struct lotse_json_msg m;
    assert_int_equal(client_expect(c, "mail_claimed", &m, T_MS), 0);
    assert_int_equal(lotse_json_get_int(&m, "n", 0, 50, n), 0);
    int len = -1;
    for (int64_t i = 1; i <= *n; i++) {
        uint8_t got[16];
        uint64_t seq;
        len = mail_recv_frame(c, got, &seq, env, LOTSE_MAIL_ENVELOPE_MAX, T_MS);
        assert_true(len > 0);
        assert_int_equal(seq, (uint64_t)i);
        assert_memory_equal(got, tid, 16);
    }
    return len;
}

/* Seals body as the counsellor c (device key, certificate) to the thread key
 * and dev, as message seq, into frame. Returns the frame length. */
static int counsellor_seal(struct client *c, const struct lotse_mail_keys *k, const uint8_t tid[16],
                           uint64_t seq, const uint8_t (*dev)[32], size_t ndev, const char *body,
                           uint8_t *frame)
{
    struct lotse_mail_sender s = {
        .kind = LOTSE_MAIL_FROM_COUNSELLOR, .sign_sk = c->device_sk, .cert = c->cert};
    int len = lotse_mail_seal(frame + LOTSE_FRAME_HEADER_BYTES, LOTSE_MAIL_ENVELOPE_MAX, &s,
                              k->box_pk, dev, ndev, now_ms(), (const uint8_t *)body, strlen(body));
    assert_true(len > 0);
    struct lotse_frame_header hd = {
        .version = LOTSE_PROTO_VERSION, .kind = LOTSE_FRAME_MAIL, .seq = seq};
    memcpy(hd.sid, tid, 16);
    lotse_frame_encode_header(frame, &hd);
    return len + LOTSE_FRAME_HEADER_BYTES;
}

static void test_full_flow_claim_read_answer_verify_and_revoked_device(void **state)
{
    struct harness *h = *state;
    harness_set(h, "metrics_token", TOKEN);
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *ben, *sue;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0);
    struct mailkey ka, kb;
    register_key(anna, &ka);
    register_key(ben, &kb);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM mail_keys"), 2);

    /* ben's device is revoked before the young person writes: the client no
     * longer gets its key, so the message is sealed to anna's only */
    char b64[64], out[512];
    lotse_b64_encode(b64, sizeof(b64), ben->device_pk, 32);
    const char *const args[] = {"device-revoke", "--device", b64, NULL};
    assert_int_equal(harness_ctl(h, true, NULL, out, sizeof(out), args), 0);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM mail_keys"), 1);

    struct lotse_mail_keys k;
    uint8_t tid[16];
    const uint8_t dev[1][32] = {{0}};
    memcpy((void *)dev[0], ka.pk, 32);
    young_writes(h, &k, tid, dev, 1, "Hallo, ich traue mich nicht zu fragen.");
    uint64_t written_ms = now_ms();

    /* the board shows it (after a reload), oldest unanswered first */
    struct lotse_json_msg m;
    assert_int_equal(client_expect(anna, "mail_changed", &m, 40000), 0);
    assert_int_equal(client_send_json(anna, "{\"t\":\"mail_list\"}"), 0);
    assert_int_equal(client_expect(anna, "mail_item", &m, T_MS), 0);
    bool waiting = false;
    assert_int_equal(lotse_json_get_bool(&m, "waiting", &waiting), 0);
    assert_true(waiting);
    assert_int_equal(client_expect(anna, "mail_list_end", &m, T_MS), 0);

    /* anna claims and reads (decrypts with her mail key) */
    static uint8_t env[LOTSE_MAIL_ENVELOPE_MAX];
    int64_t n;
    int len = claim_read(anna, tid, env, &n);
    assert_int_equal(n, 1);
    static uint8_t body[LOTSE_MAIL_MAX_BODY + 1];
    struct lotse_mail_opened o;
    assert_int_equal(lotse_mail_open(&o, body, sizeof(body), env, (size_t)len, ka.pk, ka.sk,
                                     k.box_pk, k.sign_pk, h->org_pk, now_ms() / 1000),
                     0);
    assert_memory_equal(body, "Hallo", 5);
    /* ben's revoked device cannot open it */
    assert_int_equal(lotse_mail_open(&o, body, sizeof(body), env, (size_t)len, kb.pk, kb.sk,
                                     k.box_pk, k.sign_pk, h->org_pk, now_ms() / 1000),
                     -ENOKEY);

    /* ben (logged in, revoked device) cannot take it: anna holds it */
    send_tid_msg(ben, "mail_claim", tid);
    assert_int_equal(client_expect_error(ben, "mail_taken", T_MS), 0);

    /* a frame from ben (not the claimer) is refused */
    static uint8_t frame[LOTSE_MAIL_FRAME_MAX];
    int flen = counsellor_seal(ben, &k, tid, 2, dev, 1, "nicht meins", frame);
    assert_int_equal(mail_send_frame(ben, frame, (size_t)flen), 0);
    assert_int_equal(client_expect_error(ben, "mail_not_claimed", T_MS), 0);

    /* anna answers */
    flen = counsellor_seal(anna, &k, tid, 2, dev, 1, "Du darfst alles fragen.", frame);
    assert_int_equal(mail_send_frame(anna, frame, (size_t)flen), 0);
    int64_t stored;
    assert_int_equal(mail_wait_stored(anna, &stored, T_MS), 0);
    assert_int_equal(stored, 2);
    printf("time to first answer (test, measured by the client): %llu ms\n",
           (unsigned long long)(now_ms() - written_ms));
    /* the board is told: the thread no longer waits, and has 2 messages */
    assert_int_equal(client_expect(anna, "mail_changed", &m, T_MS), 0);
    assert_int_equal(client_send_json(anna, "{\"t\":\"mail_list\"}"), 0);
    assert_int_equal(client_expect(anna, "mail_item", &m, T_MS), 0);
    assert_int_equal(lotse_json_get_bool(&m, "waiting", &waiting), 0);
    assert_false(waiting);
    assert_int_equal(lotse_json_get_int(&m, "n", 0, 50, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(client_expect(anna, "mail_list_end", &m, T_MS), 0);

    /* the young person's client reads it with the code and verifies it */
    char *sql = "SELECT octet_length(envelope) FROM mail_messages WHERE n = 2";
    long elen = harness_sql_long(h, sql);
    assert_true(elen > 0 && elen == flen - LOTSE_FRAME_HEADER_BYTES);
    const uint8_t *answer = frame + LOTSE_FRAME_HEADER_BYTES;
    assert_int_equal(lotse_mail_open(&o, body, sizeof(body), answer, (size_t)elen, k.box_pk,
                                     k.box_sk, k.box_pk, k.sign_pk, h->org_pk, now_ms() / 1000),
                     0);
    assert_int_equal(o.kind, LOTSE_MAIL_FROM_COUNSELLOR);
    assert_int_equal(o.counsellor_id, (uint32_t)anna->id);
    /* a tampered answer is refused by the young person's client */
    frame[LOTSE_FRAME_HEADER_BYTES + elen - 3] ^= 1;
    assert_true(lotse_mail_open(&o, body, sizeof(body), answer, (size_t)elen, k.box_pk, k.box_sk,
                                k.box_pk, k.sign_pk, h->org_pk, now_ms() / 1000) < 0);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM mail_threads WHERE"
                                         " waiting_since IS NULL AND answered_by IS NOT NULL"
                                         " AND first_answer_hours = 0"),
                     1);
    assert_int_equal(harness_sql_long(h, "SELECT coalesce(sum(mail_answered_within_target), 0)"
                                         " FROM stats_hourly"),
                     1);

    /* /metrics has the three families; the first answer was observed */
    static char mbody[1 << 17];
    int status;
    assert_int_equal(harness_http_get_auth(h, 0, "/metrics", TOKEN, &status, mbody, sizeof(mbody)),
                     0);
    assert_int_equal(status, 200);
    assert_non_null(strstr(mbody, "lotse_mail_threads_open "));
    assert_non_null(strstr(mbody, "lotse_mail_oldest_unanswered_seconds "));
    /* the exact delay is measured from the young side's first message in this
     * process; this thread was written into the database, so it is observed
     * from the database's hour count (0 hours: the first bucket) */
    assert_non_null(strstr(mbody, "lotse_mail_first_answer_seconds_count 1\n"));
    assert_non_null(strstr(mbody, "lotse_mail_first_answer_seconds_bucket{le=\"60\"} 1\n"));
    assert_non_null(strstr(mbody, "lotse_mail_threads_open 1"));

    /* the supervisor's feed carries the mail fields */
    assert_int_equal(harness_counsellor(h, "sue", &sue), 0);
    char *feed = NULL;
    for (int waited = 0; waited < 40000; waited += 200) {
        char *f = harness_next_raw(sue, "feed", 200);
        if (!f)
            continue;
        free(feed);
        feed = f;
        if (strstr(f, "\"mail_within_today\":100"))
            break;
    }
    assert_non_null(feed);
    printf("feed: %.*s\n", 400,
           strstr(feed, "\"mail_open\"") ? strstr(feed, "\"mail_open\"") : feed);
    assert_non_null(strstr(feed, "\"mail_open\":1"));
    assert_non_null(strstr(feed, "\"mail_within_today\":100"));
    assert_non_null(strstr(feed, "\"mail_overdue\":false"));
    free(feed);

    /* release, handover to ben (offline or online), close */
    send_tid_msg(anna, "mail_release", tid);
    assert_int_equal(client_expect(anna, "mail_released", &m, T_MS), 0);
    claim_read(anna, tid, env, &n);
    assert_int_equal(n, 2);
    char msg[128], t[33];
    to_hex(t, tid, 16);
    snprintf(msg, sizeof(msg), "{\"t\":\"mail_handover\",\"tid\":\"%s\",\"to\":%lld}", t,
             (long long)ben->id);
    assert_int_equal(client_send_json(anna, msg), 0);
    assert_int_equal(client_expect(anna, "mail_handed_over", &m, T_MS), 0);
    snprintf(msg, sizeof(msg), "SELECT count(*) FROM mail_threads WHERE claimed_by = %lld",
             (long long)ben->id);
    assert_int_equal(harness_sql_long(h, msg), 1);
    /* ben logs out: his claims go back to the board */
    assert_int_equal(client_send_json(ben, "{\"t\":\"logout\"}"), 0);
    assert_int_equal(harness_wait_count(h,
                                        "SELECT count(*) FROM mail_threads"
                                        " WHERE claimed_by IS NULL",
                                        1, T_MS),
                     1);
    claim_read(anna, tid, env, &n);
    send_tid_msg(anna, "mail_close", tid);
    assert_int_equal(client_expect(anna, "mail_closed", &m, T_MS), 0);
    assert_int_equal(
        harness_sql_long(h, "SELECT count(*) FROM mail_threads WHERE state = 'closed'"), 1);

    client_free(sue);
    client_free(ben);
    client_free(anna);
    lotse_mail_keys_wipe(&k);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* lotsed started, anna (with a registered mail key) and ben logged in, and a
 * thread written to anna's device mail key (dev) after the start-up release of
 * claims (claims are taken only after it). */
static void two_and_a_thread(struct harness *h, struct client **anna, struct client **ben,
                             struct lotse_mail_keys *k, uint8_t tid[16], uint8_t dev[1][32],
                             const char *body)
{
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(harness_counsellor(h, "anna", anna), 0);
    assert_int_equal(harness_counsellor(h, "ben", ben), 0);
    struct mailkey ka;
    register_key(*anna, &ka);
    memcpy(dev[0], ka.pk, 32);
    young_writes(h, k, tid, (const uint8_t(*)[32])dev, 1, body);
    harness_sleep_ms(1500);
}

static void test_two_counsellors_claiming_at_once_exactly_one_wins_20_rounds(void **state)
{
    struct harness *h = *state;
    struct client *anna, *ben;
    struct lotse_mail_keys k;
    uint8_t tid[16], dev[1][32];
    two_and_a_thread(h, &anna, &ben, &k, tid, dev, "Wer zuerst kommt");
    int anna_wins = 0, ben_wins = 0;
    for (int round = 0; round < 20; round++) {
        struct client *first = round % 2 ? anna : ben, *second = round % 2 ? ben : anna;
        send_tid_msg(first, "mail_claim", tid);
        send_tid_msg(second, "mail_claim", tid);
        static const char *const types[2] = {"mail_claimed", "error"};
        struct lotse_json_msg ma, mb;
        assert_true(client_expect_any(anna, types, 2, &ma, T_MS) >= 0);
        assert_true(client_expect_any(ben, types, 2, &mb, T_MS) >= 0);
        const char *ta, *tb;
        size_t la, lb;
        assert_int_equal(lotse_json_get_str(&ma, "t", 32, &ta, &la), 0);
        bool a_won = strcmp(ta, "mail_claimed") == 0;
        assert_int_equal(lotse_json_get_str(&mb, "t", 32, &tb, &lb), 0);
        bool b_won = strcmp(tb, "mail_claimed") == 0;
        assert_true(a_won != b_won);
        const char *code;
        size_t cl;
        assert_int_equal(lotse_json_get_str(a_won ? &mb : &ma, "code", 32, &code, &cl), 0);
        assert_string_equal(code, "mail_taken");
        struct client *winner = a_won ? anna : ben;
        anna_wins += a_won;
        ben_wins += b_won;
        /* the winner reads the message and lets go */
        uint8_t got[16], env[LOTSE_MAIL_ENVELOPE_MAX];
        uint64_t seq;
        assert_true(mail_recv_frame(winner, got, &seq, env, sizeof(env), T_MS) > 0);
        send_tid_msg(winner, "mail_release", tid);
        struct lotse_json_msg mr;
        assert_int_equal(client_expect(winner, "mail_released", &mr, T_MS), 0);
    }
    printf("20 rounds of concurrent claims: anna won %d, ben won %d, never both\n", anna_wins,
           ben_wins);
    client_free(ben);
    client_free(anna);
    lotse_mail_keys_wipe(&k);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* anna claims tid, reads it and answers: she becomes the thread's answerer. */
static void answer_thread(struct client *anna, const struct lotse_mail_keys *k,
                          const uint8_t tid[16], const uint8_t (*dev)[32])
{
    static uint8_t env[LOTSE_MAIL_ENVELOPE_MAX], frame[LOTSE_MAIL_FRAME_MAX];
    int64_t n, stored;
    claim_read(anna, tid, env, &n);
    int flen = counsellor_seal(anna, k, tid, (uint64_t)n + 1, dev, 1, "Ich bin da.", frame);
    assert_int_equal(mail_send_frame(anna, frame, (size_t)flen), 0);
    assert_int_equal(mail_wait_stored(anna, &stored, T_MS), 0);
    send_tid_msg(anna, "mail_release", tid);
    struct lotse_json_msg m;
    assert_int_equal(client_expect(anna, "mail_released", &m, T_MS), 0);
}

/* A young person's hello with "same" set to lookup (base64url); returns the
 * connection after welcome and the "same" answer's result in result. */
static struct client *young_same(struct harness *h, const char *lookup64, char result[16])
{
    struct client *y;
    assert_int_equal(client_connect(&y, "127.0.0.1", h->port, CLIENT_YOUNG, h->org_pk, T_MS), 0);
    snprintf(y->hello_same, sizeof(y->hello_same), "%s", lookup64);
    assert_int_equal(client_young_hello(y, "family", T_MS), 0);
    struct lotse_json_msg m;
    assert_int_equal(client_expect(y, "same", &m, T_MS), 0);
    const char *r;
    size_t rl;
    assert_int_equal(lotse_json_get_str(&m, "result", 15, &r, &rl), 0);
    memcpy(result, r, rl + 1);
    return y;
}

static void test_same_person_chat_goes_to_the_answerer_if_she_has_room(void **state)
{
    struct harness *h = *state;
    struct client *anna, *ben;
    struct lotse_mail_keys k;
    uint8_t tid[16], dev[1][32];
    two_and_a_thread(h, &anna, &ben, &k, tid, dev, "Kann ich mit dir chatten?");
    answer_thread(anna, &k, tid, (const uint8_t(*)[32])dev);
    char lookup64[48], result[16];
    lotse_b64_encode(lookup64, sizeof(lookup64), k.lookup, 32);

    /* anna has room: the chat goes to her at once, marked for her console */
    int64_t active;
    assert_int_equal(client_status(anna, true, 1, &active, T_MS), 0);
    struct client *y1 = young_same(h, lookup64, result);
    assert_string_equal(result, "ok");
    struct lotse_json_msg m;
    assert_int_equal(client_expect(anna, "assigned", &m, T_MS), 0);
    bool same = false;
    assert_int_equal(lotse_json_get_bool(&m, "same", &same), 0);
    assert_true(same);
    /* it never was ben's to take */
    assert_int_equal(client_send_json(ben, "{\"t\":\"take\"}"), 0);
    assert_int_equal(client_expect_error(ben, "queue_empty", T_MS), 0);

    /* anna is full now: the next chat with her code waits for anyone */
    struct client *y2 = young_same(h, lookup64, result);
    assert_string_equal(result, "unavailable");
    struct client_session *bs;
    assert_int_equal(client_take(ben, &bs, T_MS), 0);
    assert_string_equal(bs->sid_hex, client_young_session(y2)->sid_hex);

    /* a code nobody has (anna has room again but is not asked for), and one
     * that is not a lookup id */
    uint8_t other[32];
    randombytes_buf(other, sizeof(other));
    lotse_b64_encode(lookup64, sizeof(lookup64), other, 32);
    assert_int_equal(client_status(anna, true, 2, &active, T_MS), 0);
    struct client *y3 = young_same(h, lookup64, result);
    assert_string_equal(result, "unavailable");
    assert_int_equal(client_take(anna, &bs, T_MS), 0);
    assert_string_equal(bs->sid_hex, client_young_session(y3)->sid_hex);
    struct client *y4;
    assert_int_equal(client_connect(&y4, "127.0.0.1", h->port, CLIENT_YOUNG, h->org_pk, T_MS), 0);
    snprintf(y4->hello_same, sizeof(y4->hello_same), "%s", "bm90LWEtbG9va3Vw");
    assert_true(client_young_hello(y4, "family", T_MS) < 0);
    assert_string_equal(y4->err_code, "bad_field");
    assert_string_equal(y4->err_field, "same");

    /* nothing of the link is stored: the sessions rows have no trace of it */
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions"), 3);
    printf("same person: ok with room, unavailable when full or unknown, bad_field\n");
    client_free(y4);
    client_free(y3);
    client_free(y2);
    client_free(y1);
    client_free(ben);
    client_free(anna);
    lotse_mail_keys_wipe(&k);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_same_person_in_offer_mode_no_one_else_is_offered_it_meanwhile(void **state)
{
    struct harness *h = *state;
    harness_set(h, "assign_mode", "offer");
    struct client *anna, *ben;
    struct lotse_mail_keys k;
    uint8_t tid[16], dev[1][32];
    two_and_a_thread(h, &anna, &ben, &k, tid, dev, "Weißt du noch?");
    answer_thread(anna, &k, tid, (const uint8_t(*)[32])dev);
    char lookup64[48], result[16];
    lotse_b64_encode(lookup64, sizeof(lookup64), k.lookup, 32);

    /* assigned to anna without an offer; ben, free, is offered nothing */
    struct client *y1 = young_same(h, lookup64, result);
    assert_string_equal(result, "ok");
    struct lotse_json_msg m;
    assert_int_equal(client_expect(anna, "assigned", &m, T_MS), 0);
    char sid[33];
    assert_int_equal(client_wait_offer(ben, sid, 1500), -ETIMEDOUT);

    /* an unknown code: queued as usual, and offered */
    uint8_t other[32];
    randombytes_buf(other, sizeof(other));
    lotse_b64_encode(lookup64, sizeof(lookup64), other, 32);
    struct client *y2 = young_same(h, lookup64, result);
    assert_string_equal(result, "unavailable");
    assert_int_equal(client_wait_offer(ben, sid, T_MS), 0);
    assert_string_equal(sid, client_young_session(y2)->sid_hex);
    client_free(y2);
    client_free(y1);
    client_free(ben);
    client_free(anna);
    lotse_mail_keys_wipe(&k);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* /config.json's "staffed" list; copied into out (the array's text). */
static void staffed(struct harness *h, char *out, size_t cap)
{
    static char body[16384];
    int status;
    assert_int_equal(harness_http_get_auth(h, 0, "/config.json", NULL, &status, body, sizeof body),
                     0);
    assert_int_equal(status, 200);
    const char *a = strstr(body, "\"staffed\":[");
    assert_non_null(a);
    const char *e = strchr(a, ']');
    assert_non_null(e);
    snprintf(out, cap, "%.*s", (int)(e + 1 - a), a);
}

static void test_config_says_which_topics_someone_is_there_for(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    char s[256];
    staffed(h, s, sizeof s);
    assert_string_equal(s, "\"staffed\":[]");
    struct client *anna, *ben;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0); /* family, school */
    staffed(h, s, sizeof s);
    assert_string_equal(s, "\"staffed\":[\"family\",\"school\"]");
    assert_int_equal(harness_counsellor(h, "ben", &ben), 0); /* prison, family */
    staffed(h, s, sizeof s);
    assert_string_equal(s, "\"staffed\":[\"family\",\"school\",\"prison\"]");
    /* anna takes a break: nobody is there for school now */
    int64_t active;
    assert_int_equal(client_status(anna, false, 1, &active, T_MS), 0);
    staffed(h, s, sizeof s);
    assert_string_equal(s, "\"staffed\":[\"family\",\"prison\"]");
    client_free(ben); /* gone: the close takes a moment to be seen */
    for (int waited = 0; waited < T_MS; waited += 50) {
        staffed(h, s, sizeof s);
        if (!strcmp(s, "\"staffed\":[]"))
            break;
        harness_sleep_ms(50);
    }
    assert_string_equal(s, "\"staffed\":[]");
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);

    /* the most topics a service may have, each as long as it may be, still fit */
    char topics[32 * 33 + 1] = "", one[40];
    for (int i = 0; i < 32; i++) {
        snprintf(one, sizeof one, "%s%02d_topic_with_a_long_name_abcdef", i ? "," : "", i);
        strcat(topics, one);
    }
    harness_set(h, "topics", topics);
    harness_set(h, "priority_topics", topics);
    assert_int_equal(harness_start(h), 0);
    staffed(h, s, sizeof s);
    assert_string_equal(s, "\"staffed\":[]");
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_flow_claim_read_answer_verify_and_revoked_device,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_two_counsellors_claiming_at_once_exactly_one_wins_20_rounds, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_same_person_chat_goes_to_the_answerer_if_she_has_room,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_same_person_in_offer_mode_no_one_else_is_offered_it_meanwhile, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_config_says_which_topics_someone_is_there_for,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
