/* it_gap.c — authenticated acknowledgements, resending after a timeout and the
 * stall notices (PROTOCOL.md §3, §6), on a live connection through a
 * WebSocket-aware proxy (tests/support/wsproxy.h) that sits between the young
 * person's C client and the real lotsed.
 *
 * - A proxy that drops a DATA frame and forges its ACK (zero tag, and the
 *   untagged 28-byte form of old): the sender keeps the message, sends it again
 *   and it arrives once.
 * - A proxy that drops, reorders, corrupts, truncates and duplicates frames both
 *   ways, ACKs included: every message arrives once, in order, and nothing stays
 *   unacknowledged.
 * - A direction that makes no progress: after the stall time both people are
 *   told; when it heals the notices go and the messages arrive in order.
 * - lotse-client behind a proxy that replays every frame: it drops the
 *   duplicates, says so in words and goes on (it quit with "Operation already
 *   in progress" before). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "harness.h"
#include "wsproxy.h"

#define T         5000
#define RESEND_MS 250 /* the tests' resend timer; real clients start at 2 s */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t seq_of(const uint8_t *f)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | f[20 + i];
    return v;
}

/* ---- the proxy's rules ------------------------------------------------------------ */

#define MAX_SEQ 128

struct rules {
    struct wsproxy *px;
    int mode;
    /* copies of each DATA seq seen per direction, ACKs seen per direction */
    int copies[2][MAX_SEQ];
    int acks[2];
    int dropped, held, corrupted, truncated, duplicated, forged, replayed;
    bool heal; /* stall mode: stop dropping */
};

enum { MODE_FORGE_ACK = 1, MODE_HOSTILE, MODE_STALL, MODE_REPLAY };

static enum wsproxy_verdict rule(void *arg, int dir, uint8_t *f, size_t *len)
{
    struct rules *r = arg;
    if (*len < LOTSE_FRAME_HEADER_BYTES)
        return WSPROXY_PASS;
    uint64_t seq = seq_of(f);
    if (f[1] == LOTSE_FRAME_ACK) {
        int n = ++r->acks[dir];
        /* hostile: the first two ACKs each way die on the path */
        if (r->mode == MODE_HOSTILE && n <= 2) {
            r->dropped++;
            return WSPROXY_DROP;
        }
        return WSPROXY_PASS;
    }
    if (f[1] != LOTSE_FRAME_DATA || seq >= MAX_SEQ)
        return WSPROXY_PASS;
    int copy = ++r->copies[dir][seq];

    switch (r->mode) {
    case MODE_FORGE_ACK:
        if (dir == WSPROXY_TO_SERVER && seq == 1 && copy == 1) {
            /* Drop the young person's first message and answer in the
             * counsellor's name that it arrived. */
            uint8_t ack[LOTSE_ACK_FRAME_BYTES];
            memcpy(ack, f, LOTSE_FRAME_HEADER_BYTES);
            ack[1] = LOTSE_FRAME_ACK;
            memset(ack + LOTSE_FRAME_HEADER_BYTES, 0, LOTSE_ACK_TAG_BYTES);
            wsproxy_inject(r->px, WSPROXY_TO_CLIENT, ack, LOTSE_FRAME_HEADER_BYTES); /* untagged */
            wsproxy_inject(r->px, WSPROXY_TO_CLIENT, ack, sizeof ack);               /* zero tag */
            r->forged += 2;
            r->dropped++;
            return WSPROXY_DROP;
        }
        return WSPROXY_PASS;
    case MODE_HOSTILE:
        if (copy > 1)
            return WSPROXY_PASS;
        switch (seq % 7) {
        case 1:
            if (seq == 1)
                return WSPROXY_PASS;
            r->dropped++;
            return WSPROXY_DROP;
        case 2:
            r->held++;
            return WSPROXY_HOLD; /* goes out after the next frame */
        case 4:
            f[LOTSE_FRAME_HEADER_BYTES + 20] ^= 0x10;
            r->corrupted++;
            return WSPROXY_PASS;
        case 5:
            /* Towards the server a short frame is refused (bad_frame) and goes
             * no further; towards the client it arrives short. */
            *len = 100;
            r->truncated++;
            return WSPROXY_PASS;
        case 6:
            wsproxy_inject(r->px, dir, f, *len);
            r->duplicated++;
            return WSPROXY_PASS;
        default:
            return WSPROXY_PASS;
        }
    case MODE_STALL:
        if (dir == WSPROXY_TO_SERVER && seq == 1 && !r->heal) {
            r->dropped++;
            return WSPROXY_DROP;
        }
        return WSPROXY_PASS;
    case MODE_REPLAY:
        if (dir == WSPROXY_TO_CLIENT) {
            wsproxy_inject(r->px, dir, f, *len);
            r->replayed++;
        }
        return WSPROXY_PASS;
    default:
        return WSPROXY_PASS;
    }
}

/* ---- a pair with the young person behind the proxy --------------------------------- */

struct pair {
    struct client *anna, *young;
    struct client_session *cs, *ys;
    struct rules r;
};

static void pair_up(struct harness *h, struct pair *p, int mode)
{
    memset(p, 0, sizeof *p);
    p->r.mode = mode;
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(wsproxy_start(&p->r.px, HARNESS_HOST, h->port, rule, &p->r), 0);
    assert_int_equal(harness_counsellor(h, "anna", &p->anna), 0);
    assert_int_equal(
        client_connect(&p->young, HARNESS_HOST, wsproxy_port(p->r.px), CLIENT_YOUNG, h->org_pk, T),
        0);
    assert_int_equal(client_young_hello(p->young, "family", T), 0);
    assert_int_equal(client_take_and_key(p->anna, &p->cs, T), 0);
    assert_int_equal(client_young_wait_keys(p->young, T), 0);
    p->ys = client_young_session(p->young);
    for (int i = 0; i < 2; i++) {
        struct client *c = i ? p->anna : p->young;
        c->drop_duplicates = true;
        c->resend_after_ms = RESEND_MS;
    }
}

static void pair_down(struct harness *h, struct pair *p)
{
    client_free(p->young);
    client_free(p->anna);
    wsproxy_stop(p->r.px);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* Reads on both clients in turn (their timers resend meanwhile) until each has
 * `want` messages or the deadline passes. got[side][i] are the texts shown. */
static void exchange(struct pair *p, int want, char got[2][64][32], int n[2], int deadline_ms)
{
    char buf[LOTSE_MAX_MESSAGE + 1];
    int64_t end = mono_ms() + deadline_ms;
    while ((n[0] < want || n[1] < want) && mono_ms() < end) {
        for (int side = 0; side < 2; side++) {
            struct client *c = side ? p->anna : p->young;
            int rc = client_recv_text(c, NULL, buf, sizeof buf, 50);
            if (rc == -ETIMEDOUT)
                continue;
            if (rc < 0)
                fail_msg("%s: receive failed: %d (%s)", side ? "anna" : "young", rc,
                         client_strerror(rc));
            assert_true(n[side] < 64);
            snprintf(got[side][n[side]++], 32, "%.31s", buf);
        }
    }
}

/* Both read for ms more: nothing further is shown, and every frame gets its ACK. */
static void settle(struct pair *p, int ms)
{
    char buf[LOTSE_MAX_MESSAGE + 1];
    int64_t end = mono_ms() + ms;
    while (mono_ms() < end) {
        assert_int_equal(client_recv_text(p->young, NULL, buf, sizeof buf, 50), -ETIMEDOUT);
        assert_int_equal(client_recv_text(p->anna, NULL, buf, sizeof buf, 50), -ETIMEDOUT);
    }
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_dropped_message_with_forged_ack_is_sent_again_and_arrives_once(void **state)
{
    struct harness *h = *state;
    struct pair p;
    pair_up(h, &p, MODE_FORGE_ACK);
    /* The young person's client resends only on its timer here. */
    assert_int_equal(client_send_text(p.young, p.ys, "bitte hilf mir", 14), 0);
    /* The forged ACKs arrive at once; they must not make the client forget. */
    assert_int_equal(client_pump(p.young, 100), 0);
    assert_int_equal(p.r.forged, 2);
    assert_true(p.ys->acks_rejected >= 1);
    assert_int_equal(p.ys->acked_by_peer, 0);
    assert_int_equal(p.ys->unacked_len, 1);

    char got[2][64][32];
    int n[2] = {1, 0}; /* the young person expects nothing */
    exchange(&p, 1, got, n, 10000);
    assert_int_equal(n[1], 1);
    assert_string_equal(got[1][0], "bitte hilf mir");
    settle(&p, 1000);
    assert_true(p.ys->timed_resends >= 1);
    assert_int_equal(p.ys->unacked_len, 0); /* the authentic ACK came */
    assert_int_equal(p.ys->acked_by_peer, 1);
    assert_int_equal(p.cs->ch.last_rx_seq, 1); /* shown once */
    printf("forged ACK: %d forged, %llu rejected, %llu timed resends\n", p.r.forged,
           (unsigned long long)p.ys->acks_rejected, (unsigned long long)p.ys->timed_resends);
    pair_down(h, &p);
}

static void test_hostile_proxy_every_message_arrives_once_in_order_both_ways(void **state)
{
    struct harness *h = *state;
    struct pair p;
    enum { N = 40 };
    pair_up(h, &p, MODE_HOSTILE);
    for (int i = 1; i <= N; i++) {
        char m[32];
        int l = snprintf(m, sizeof m, "y2c %d", i);
        assert_int_equal(client_send_text(p.young, p.ys, m, (size_t)l), 0);
        l = snprintf(m, sizeof m, "c2y %d", i);
        assert_int_equal(client_send_text(p.anna, p.cs, m, (size_t)l), 0);
    }
    char got[2][64][32];
    int n[2] = {0, 0};
    exchange(&p, N, got, n, 60000);
    for (int side = 0; side < 2; side++) {
        assert_int_equal(n[side], N);
        for (int i = 0; i < N; i++) {
            char want[32];
            snprintf(want, sizeof want, "%s %d", side ? "y2c" : "c2y", i + 1);
            assert_string_equal(got[side][i], want);
        }
    }
    settle(&p, 1500);
    assert_int_equal(p.ys->unacked_len, 0);
    assert_int_equal(p.cs->unacked_len, 0);
    assert_true(p.r.dropped > 0 && p.r.held > 0 && p.r.corrupted > 0 && p.r.truncated > 0 &&
                p.r.duplicated > 0);
    assert_true(p.ys->gaps + p.cs->gaps > 0);
    assert_true(p.ys->rejected + p.cs->rejected > 0);
    assert_true(p.ys->duplicates + p.cs->duplicates > 0);
    assert_int_equal(p.ys->tx_stalls + p.cs->tx_stalls, 0);
    printf("hostile proxy: %d dropped, %d reordered, %d corrupted, %d truncated, %d duplicated; "
           "resend rounds young %llu anna %llu\n",
           p.r.dropped, p.r.held, p.r.corrupted, p.r.truncated, p.r.duplicated,
           (unsigned long long)p.ys->timed_resends, (unsigned long long)p.cs->timed_resends);
    pair_down(h, &p);
}

static void test_a_stalled_direction_tells_both_people_and_heals(void **state)
{
    struct harness *h = *state;
    struct pair p;
    pair_up(h, &p, MODE_STALL);
    p.young->stall_after_ms = 1500;
    p.anna->stall_after_ms = 1500;
    assert_int_equal(client_send_text(p.young, p.ys, "eins", 4), 0);
    assert_int_equal(client_send_text(p.young, p.ys, "zwei", 4), 0);
    char buf[LOTSE_MAX_MESSAGE + 1];
    int64_t end = mono_ms() + 8000;
    while (!(p.ys->tx_stalled && p.cs->rx_stalled) && mono_ms() < end) {
        assert_int_equal(client_recv_text(p.young, NULL, buf, sizeof buf, 50), -ETIMEDOUT);
        assert_int_equal(client_recv_text(p.anna, NULL, buf, sizeof buf, 50), -ETIMEDOUT);
    }
    assert_true(p.ys->tx_stalled); /* "Deine Nachrichten sind noch nicht angekommen" */
    assert_true(p.cs->rx_stalled); /* "Eine Nachricht fehlt noch" */
    assert_true(p.cs->gaps > 0);
    wsproxy_lock(p.r.px);
    p.r.heal = true;
    wsproxy_unlock(p.r.px);
    char got[2][64][32];
    int n[2] = {2, 0};
    exchange(&p, 2, got, n, 40000); /* the back-off may have grown to a few seconds */
    assert_int_equal(n[1], 2);
    assert_string_equal(got[1][0], "eins");
    assert_string_equal(got[1][1], "zwei");
    settle(&p, 800);
    assert_false(p.ys->tx_stalled);
    assert_false(p.cs->rx_stalled);
    assert_int_equal(p.ys->tx_stalls, 1);
    assert_int_equal(p.cs->rx_stalls, 1);
    pair_down(h, &p);
}

/* ---- lotse-client behind a replaying proxy ------------------------------------------ */

static void test_lotse_client_drops_replayed_frames_and_says_so(void **state)
{
    struct harness *h = *state;
    struct pair p;
    memset(&p, 0, sizeof p);
    p.r.mode = MODE_REPLAY;
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(wsproxy_start(&p.r.px, HARNESS_HOST, h->port, rule, &p.r), 0);
    assert_int_equal(harness_counsellor(h, "anna", &p.anna), 0);

    char url[64], tool[512], out_path[512];
    snprintf(url, sizeof url, "ws://%s:%d/ws", HARNESS_HOST, wsproxy_port(p.r.px));
    snprintf(tool, sizeof tool, "%s/../tests/tools/lotse-client", LOTSE_BIN_DIR);
    snprintf(out_path, sizeof out_path, "%s/lotse-client.out", h->dir);
    int in[2];
    assert_int_equal(pipe(in), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(in[0], 0);
        dup2(fd, 1);
        dup2(fd, 2);
        close(in[1]);
        execl(tool, tool, "young", "--url", url, "--org-key", h->org_pk_b64, "--topic", "family",
              (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    struct client_session *cs;
    int rc;
    int64_t end = mono_ms() + T;
    while ((rc = client_take_and_key(p.anna, &cs, 500)) == -EPROTO && mono_ms() < end)
        harness_sleep_ms(100);
    assert_int_equal(rc, 0);
    harness_sleep_ms(300);
    assert_int_equal(client_send_text(p.anna, cs, "hallo 1", 7), 0);
    harness_sleep_ms(800);
    assert_int_equal(client_send_text(p.anna, cs, "hallo 2", 7), 0);
    harness_sleep_ms(800);
    /* and the young person still writes back */
    assert_int_equal(write(in[1], "noch da\n", 8), 8);
    char buf[LOTSE_MAX_MESSAGE + 1];
    p.anna->drop_duplicates = true;
    assert_int_equal(client_recv_text(p.anna, NULL, buf, sizeof buf, T), 7);
    assert_string_equal(buf, "noch da");
    close(in[1]); /* end of input ends the session */
    int status = 0;
    end = mono_ms() + 10000;
    while (waitpid(pid, &status, WNOHANG) == 0 && mono_ms() < end)
        harness_sleep_ms(50);
    if (mono_ms() >= end) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }

    FILE *f = fopen(out_path, "r");
    assert_non_null(f);
    char line[512];
    int got1 = 0, got2 = 0, told = 0, raw = 0;
    while (fgets(line, sizeof line, f)) {
        printf("  lotse-client: %s", line);
        got1 += strcmp(line, "< hallo 1\n") == 0;
        got2 += strcmp(line, "< hallo 2\n") == 0;
        told += strstr(line, "came a second time") != NULL;
        raw += strstr(line, "Operation already in progress") != NULL;
    }
    fclose(f);
    assert_true(p.r.replayed >= 2);
    assert_int_equal(got1, 1);
    assert_int_equal(got2, 1);
    assert_true(told >= 1);
    assert_int_equal(raw, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    pair_down(h, &p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_dropped_message_with_forged_ack_is_sent_again_and_arrives_once, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_hostile_proxy_every_message_arrives_once_in_order_both_ways, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_a_stalled_direction_tells_both_people_and_heals,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_lotse_client_drops_replayed_frames_and_says_so,
                                        harness_setup, harness_teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
