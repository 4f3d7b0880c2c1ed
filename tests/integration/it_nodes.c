/* it_nodes.c — two lotsed nodes on one PostgreSQL (PROTOCOL.md §5.4), on
 * their own ports (no proxy: the clients go to the node a `moved` names).
 *
 * One story, in order, since each step starts from what the one before left:
 * 1. a holds the lease and serves; b is a standby and answers hello, login
 *    and resume with `moved` a and close 4010; a's welcome, login_ok and
 *    resumed name node a.
 * 2. SIGTERM to a with an active chat (keys exchanged, frames both ways) and
 *    two young people waiting: every connection gets `moved` b and 4010, all
 *    resume on b (young people with session id and secret, the counsellor
 *    with the token), the chat goes on both ways with ACKs, the waiting keep
 *    their places; a exits 0.
 * 3. a, started again, is a standby (fencing: it answers `moved` b).
 * 4. kill -9 of b: a takes the lease within node_lease + 2 s, adopts, and the
 *    same resumes work on a; b started again is a standby.
 * 5. SIGTERM to the standby b: it exits at once; SIGTERM to a with nobody to
 *    take over: after node_handover it drains as a single node and exits 0.
 * And on its own: a holder stalled (SIGSTOP) past its lease steps down when it
 * runs again (moved to b, exit 75). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "harness.h"

#define T          5000
#define LEASE      4 /* node_lease for the test: a crash is over within 4 s */
#define LEASE_TEXT "4"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until the log has at least want lines with needle (a restarted node
 * appends to the same log). Returns the milliseconds it took, or -1. */
static int64_t log_wait_n(struct harness *h, const char *needle, int want, int timeout_ms)
{
    int64_t t0 = mono_ms();
    while (mono_ms() - t0 < timeout_ms) {
        if (harness_log_count(h, needle) >= want)
            return mono_ms() - t0;
        harness_sleep_ms(20);
    }
    return -1;
}

static struct client *raw_client(struct harness *h, int role)
{
    struct client *c = NULL;
    assert_int_equal(client_connect(&c, HARNESS_HOST, h->port, role, h->org_pk, T), 0);
    return c;
}

/* c sent something that needs the serving node: `moved` to node (NULL:
 * null), then close 4010. */
static void expect_moved(struct client *c, const char *node)
{
    char *raw = harness_next_raw(c, "moved", T);
    assert_non_null(raw);
    char want[64];
    if (node)
        snprintf(want, sizeof want, "\"node\":\"%s\"", node);
    else
        snprintf(want, sizeof want, "\"node\":null");
    if (!strstr(raw, want))
        fprintf(stderr, "moved: %s (wanted %s)\n", raw, want);
    assert_non_null(strstr(raw, want));
    free(raw);
    assert_int_equal(client_wait_close(c, T), 4010);
}

/* A node that does not serve sends hello, login and resume elsewhere. */
static void standby_answers_moved(struct harness *standby, const char *holder)
{
    struct client *c = raw_client(standby, CLIENT_YOUNG);
    assert_int_equal(client_send_json(c, "{\"t\":\"hello\",\"v\":1,\"role\":\"young\"}"), 0);
    expect_moved(c, holder);
    client_free(c);
    c = raw_client(standby, CLIENT_COUNSELLOR);
    assert_int_equal(
        client_send_json(c, "{\"t\":\"login\",\"v\":1,\"handle\":\"anna\",\"password\":\"x\"}"), 0);
    expect_moved(c, holder);
    client_free(c);
    c = raw_client(standby, CLIENT_YOUNG);
    assert_int_equal(client_send_json(c, "{\"t\":\"resume\",\"v\":1,\"sid\":\"00\"}"), 0);
    expect_moved(c, holder);
    client_free(c);
}

/* welcome and a supervisor's login_ok carry the serving node's name. */
static void node_fields(struct harness *h, const char *node)
{
    char want[64];
    snprintf(want, sizeof want, "\"node\":\"%s\"", node);
    struct client *c = raw_client(h, CLIENT_YOUNG);
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    char pk64[64], hello[256];
    sodium_bin2base64(pk64, sizeof pk64, pk, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(hello, sizeof hello,
             "{\"t\":\"hello\",\"v\":1,\"role\":\"young\",\"topic\":\"crisis\",\"pk\":\"%s\"}",
             pk64);
    assert_int_equal(client_send_json(c, hello), 0);
    char *raw = harness_next_raw(c, "welcome", T);
    assert_non_null(raw);
    assert_non_null(strstr(raw, want));
    free(raw);
    assert_int_equal(client_send_json(c, "{\"t\":\"end\",\"reason\":\"done\"}"), 0);
    client_free(c);

    c = raw_client(h, CLIENT_SUPERVISOR);
    struct harness_account *sue = harness_account(h, "sue");
    char login[256];
    snprintf(login, sizeof login,
             "{\"t\":\"login\",\"v\":1,\"handle\":\"sue\",\"password\":\"%s\"}", sue->password);
    assert_int_equal(client_send_json(c, login), 0);
    raw = harness_next_raw(c, "login_ok", T);
    assert_non_null(raw);
    assert_non_null(strstr(raw, want));
    free(raw);
    client_free(c);
}

struct world {
    struct client *anna, *young, *w1, *w2;
    struct client_session *cs, *ys;
    int64_t pos1, pos2;
    int round;
};

static void chat_both_ways(struct world *w, const char *tag)
{
    char msg[64], got[LOTSE_MAX_MESSAGE + 1];
    struct client_session *at = NULL;
    w->round++;
    int l = snprintf(msg, sizeof msg, "%s y->a %d", tag, w->round);
    assert_int_equal(client_send_text(w->young, w->ys, msg, (size_t)l), 0);
    int rc = client_recv_text(w->anna, &at, got, sizeof got, T);
    if (rc < 0)
        fprintf(stderr, "%s: counsellor receive %d (%s)\n", tag, rc, w->anna->err_code);
    assert_true(rc > 0);
    assert_ptr_equal(at, w->cs);
    assert_string_equal(got, msg);
    l = snprintf(msg, sizeof msg, "%s a->y %d", tag, w->round);
    assert_int_equal(client_send_text(w->anna, w->cs, msg, (size_t)l), 0);
    rc = client_recv_text(w->young, &at, got, sizeof got, T);
    if (rc < 0)
        fprintf(stderr, "%s: young receive %d (%s)\n", tag, rc, w->young->err_code);
    assert_true(rc > 0);
    assert_string_equal(got, msg);
    /* both ACKs come back: nothing stays unacknowledged */
    for (int i = 0; i < 50 && (w->ys->unacked_len || w->cs->unacked_len); i++) {
        client_pump(w->young, 20);
        client_pump(w->anna, 20);
    }
    assert_int_equal(w->ys->unacked_len, 0);
    assert_int_equal(w->cs->unacked_len, 0);
}

/* The client resumes on node to (its port), after one try per 300 ms while
 * the node may still be taking over. */
static void resume_on(struct client *c, struct harness *to, const char *state)
{
    c->port = to->port;
    int rc = -1;
    for (int i = 0; i < 10 && rc != 0; i++) {
        if (i)
            harness_sleep_ms(300);
        if (client_reconnect(c, T) != 0)
            continue;
        rc = client_resume(c, false, T);
        if (rc != 0)
            fprintf(stderr, "resume on port %d: %d %s\n", to->port, rc, c->err_code);
    }
    assert_int_equal(rc, 0);
    if (state)
        assert_string_equal(c->resumed_state, state);
}

static void resume_all(struct world *w, struct harness *to)
{
    resume_on(w->anna, to, NULL);
    assert_int_equal(w->anna->resumed_sessions, 1);
    resume_on(w->young, to, "active");
    resume_on(w->w1, to, "waiting");
    assert_int_equal(w->w1->pos, w->pos1);
    resume_on(w->w2, to, "waiting");
    assert_int_equal(w->w2->pos, w->pos2);
}

/* a (holder, serving) and its peer b (standby) on one database: node_lease
 * LEASE, node_handover 3 s, resume_grace 60 s. Returns b. */
static struct harness *two_nodes(struct harness *a)
{
    struct harness *b = NULL;
    harness_set(a, "node_lease", LEASE_TEXT);
    harness_set(a, "node_handover", "3");
    harness_set(a, "resume_grace", "60");
    assert_int_equal(harness_create_peer(a, &b), 0);
    harness_set(a, "node_name", "a");
    harness_set(b, "node_name", "b");
    assert_int_equal(harness_start(a), 0);
    assert_true(log_wait_n(a, "node a: serving", 1, 10000) >= 0);
    assert_int_equal(harness_start(b), 0);
    harness_sleep_ms(1500); /* b's first try of the lease tells it the holder */
    return b;
}

/* On h: anna in a chat with a young person (keys exchanged, a message each
 * way) and two young people waiting in "school". */
static void world_start(struct harness *h, struct world *w)
{
    assert_int_equal(harness_counsellor(h, "anna", &w->anna), 0);
    assert_int_equal(harness_pair(h, w->anna, "family", &w->young, &w->cs), 0);
    w->ys = client_young_session(w->young);
    w->anna->drop_duplicates = true;
    w->young->drop_duplicates = true;
    chat_both_ways(w, "on a");
    assert_int_equal(harness_young(h, "school", &w->w1), 0);
    assert_int_equal(harness_young(h, "school", &w->w2), 0);
    w->pos1 = w->w1->pos;
    w->pos2 = w->w2->pos;
}

static void test_two_nodes(void **state)
{
    struct harness *a = *state;

    /* 1. a serves, b stands by */
    struct harness *b = two_nodes(a);
    standby_answers_moved(b, "a");
    node_fields(a, "a");

    struct world w = {0};
    world_start(a, &w);
    fprintf(stderr, "waiting at %lld and %lld\n", (long long)w.pos1, (long long)w.pos2);

    /* 2. SIGTERM to a: everyone to b */
    int ended_before = harness_log_count(a, "session ended");
    int64_t t0 = mono_ms();
    assert_int_equal(kill(harness_pid(a), SIGTERM), 0);
    expect_moved(w.anna, "b");
    expect_moved(w.young, "b");
    expect_moved(w.w1, "b");
    expect_moved(w.w2, "b");
    int64_t moved_ms = mono_ms() - t0;
    resume_all(&w, b);
    int64_t resumed_ms = mono_ms() - t0;
    chat_both_ways(&w, "on b");
    assert_int_equal(harness_wait_exit(a, 10000), 0);
    /* a ended nothing on its way out: the chat and the waiting go on at b */
    assert_int_equal(harness_log_count(a, "session ended"), ended_before);
    assert_int_equal(harness_log_count(a, "went back to the queue"), 0);
    assert_int_equal(harness_log_count(a, "3 session(s) go on at the node that holds the lease"),
                     1);
    fprintf(stderr, "hand-over: moved after %lld ms, all four resumed on b after %lld ms\n",
            (long long)moved_ms, (long long)resumed_ms);

    /* 3. fencing: the old holder comes back as a standby */
    assert_int_equal(harness_start(a), 0);
    harness_sleep_ms(1500);
    standby_answers_moved(a, "b");
    node_fields(b, "b");
    chat_both_ways(&w, "b again");

    /* 4. kill -9 of the holder */
    int serving_before = harness_log_count(a, "node a: serving");
    t0 = mono_ms();
    assert_int_equal(kill(harness_pid(b), SIGKILL), 0);
    assert_true(harness_wait_exit(b, 5000) != -ETIMEDOUT);
    int64_t ms = log_wait_n(a, "node a: serving", serving_before + 1, (LEASE + 5) * 1000);
    int64_t took_ms = ms < 0 ? -1 : mono_ms() - t0;
    fprintf(stderr, "kill -9: a serving %lld ms after the kill (lease %d s)\n", (long long)took_ms,
            LEASE);
    assert_true(took_ms >= 0 && took_ms <= (LEASE + 2) * 1000);
    resume_all(&w, a);
    fprintf(stderr, "kill -9: all four resumed on a %lld ms after the kill\n",
            (long long)(mono_ms() - t0));
    chat_both_ways(&w, "on a after kill");
    /* the queue order survived two adoptions: the older of the two comes first */
    struct client_session *next = NULL;
    assert_int_equal(client_take(w.anna, &next, T), 0);
    assert_string_equal(next->sid_hex, client_young_session(w.w1)->sid_hex);
    assert_int_equal(harness_start(b), 0);
    harness_sleep_ms(1500);
    standby_answers_moved(b, "a");

    /* 5. a standby stops at once; the holder with nobody to take over drains */
    t0 = mono_ms();
    assert_int_equal(harness_stop(b), 0);
    fprintf(stderr, "standby stopped in %lld ms\n", (long long)(mono_ms() - t0));
    client_free(w.w1);
    client_free(w.w2);
    t0 = mono_ms();
    assert_int_equal(harness_stop(a), 0);
    fprintf(stderr, "holder alone stopped in %lld ms (node_handover 3 s, then the drain)\n",
            (long long)(mono_ms() - t0));
    client_free(w.young);
    client_free(w.anna);
    harness_pass(b);
    harness_destroy(b);
    harness_pass(a);
}

/* A holder that stalls (SIGSTOP) past its lease: b takes over and adopts the
 * directory; when a runs again (SIGCONT) its renewal finds the lease gone, so
 * it serves nothing more: every connection is told `moved` b, everyone resumes
 * there, a ends nothing and exits 75 (systemd starts it again as a standby). */
static void test_a_stalled_holder_steps_down(void **state)
{
    struct harness *a = *state;
    struct harness *b = two_nodes(a);
    struct world w = {0};
    world_start(a, &w);
    int ended_before = harness_log_count(a, "session ended");

    int64_t t0 = mono_ms();
    assert_int_equal(kill(harness_pid(a), SIGSTOP), 0);
    int64_t ms = log_wait_n(b, "node b: serving", 1, (LEASE + 5) * 1000);
    assert_true(ms >= 0);
    fprintf(stderr, "stalled holder: b serving %lld ms after SIGSTOP of a (lease %d s)\n",
            (long long)(mono_ms() - t0), LEASE);
    t0 = mono_ms();
    assert_int_equal(kill(harness_pid(a), SIGCONT), 0);
    expect_moved(w.anna, "b");
    expect_moved(w.young, "b");
    expect_moved(w.w1, "b");
    expect_moved(w.w2, "b");
    fprintf(stderr, "stalled holder: all four told to go to b %lld ms after SIGCONT\n",
            (long long)(mono_ms() - t0));
    assert_int_equal(harness_wait_exit(a, 10000), 75);
    assert_int_equal(harness_log_count(a, "node a: lost the lease to node b"), 1);
    assert_int_equal(harness_log_count(a, "session ended"), ended_before);
    resume_all(&w, b);
    chat_both_ways(&w, "on b");

    client_free(w.w1);
    client_free(w.w2);
    client_free(w.young);
    client_free(w.anna);
    assert_int_equal(harness_stop(b), 0);
    harness_pass(b);
    harness_destroy(b);
    harness_pass(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_nodes, harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_a_stalled_holder_steps_down, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
