/* it_admission — admission work grows with one source's share of the queue
 * (issue 11: "the queue can be filled for free"). With the shipped defaults
 * (pow_threshold 100 = max_connections_per_source 100) one script queued 100
 * people in 0.3 s without any work. Now, alone in the queue, a source's fourth
 * young person is challenged (pow_source_free 3), with more bits than the
 * queue length alone would ask, and every further one pays twice as much. All
 * clients of this test come from 127.0.0.1: one source. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "client.h"
#include "harness.h"

#define T 30000
#define N 6

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_one_source_pays_from_its_fourth_waiting_person_more_each_time(void **state)
{
    struct harness *h = *state;
    harness_set(h, "pow_source_free", "3"); /* the default (the harness lifts it) */
    assert_int_equal(harness_start(h), 0);
    struct client *y[N];
    /* bits expected for the k-th hello: alone in the queue, mine = waiting = k - 1:
     * pow_bits 16 + (mine - 3) + 4 * mine / waiting */
    static const int want_bits[N] = {0, 0, 0, 20, 21, 22};
    uint64_t total_hashes = 0;
    int64_t t_all = mono_ms();
    for (int k = 0; k < N; k++) {
        assert_int_equal(client_connect(&y[k], HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T),
                         0);
        y[k]->auto_pow = false;
        int rc = client_young_hello(y[k], "family", T);
        fprintf(stderr, "hello %d from one source: %s, bits %lld\n", k + 1,
                rc == 0         ? "welcome"
                : rc == -EAGAIN ? "challenge"
                                : "error",
                rc == -EAGAIN ? (long long)y[k]->pow_bits : 0LL);
        if (want_bits[k] == 0) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, -EAGAIN);
        assert_int_equal(y[k]->pow_bits, want_bits[k]);
        uint8_t nonce[8];
        uint64_t hashes = 0;
        assert_int_equal(client_pow_solve(y[k]->pow_seed, (int)y[k]->pow_bits, nonce, &hashes), 0);
        total_hashes += hashes;
        assert_int_equal(client_young_hello_pow(y[k], "family", nonce, T), 0);
        assert_int_equal(y[k]->pos, k + 1);
    }
    printf("%d people queued from one source: %llu hashes of admission work, %lld ms in all "
           "(before: none below 100 waiting)\n",
           N, (unsigned long long)total_hashes, (long long)(mono_ms() - t_all));
    /* the waiting people are all there, in order */
    assert_int_equal(harness_http_status(h, "/healthz"), 200);
    for (int k = 0; k < N; k++)
        client_free(y[k]);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* Per-source limits off (behind a reverse proxy without a trusted proxy every
 * client has the proxy's address): sources say nothing, only the queue length
 * asks for work, as before. */
static void test_per_source_off_only_the_queue_length_counts(void **state)
{
    struct harness *h = *state;
    harness_set(h, "pow_source_free", "3");
    harness_set(h, "max_connections_per_source", "0");
    assert_int_equal(harness_start(h), 0);
    struct client *y[N];
    for (int k = 0; k < N; k++) {
        assert_int_equal(client_connect(&y[k], HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T),
                         0);
        y[k]->auto_pow = false;
        assert_int_equal(client_young_hello(y[k], "family", T), 0);
    }
    for (int k = 0; k < N; k++)
        client_free(y[k]);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

/* Reads exactly n bytes within 5 s; 0 or -1. */
static int read_n(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            return -1;
        ssize_t r = recv(fd, (char *)buf + got, n - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* A young person whose connection comes from src (another loopback address: a
 * different source to lotsed), written by hand: upgrade, one masked hello, the
 * first answer into reply. Returns the open socket (the person stays waiting)
 * or -1. */
static int hello_from(const char *src, int port, char *reply, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in me = {.sin_family = AF_INET},
                       to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, src, &me.sin_addr);
    inet_pton(AF_INET, HARNESS_HOST, &to.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof me) != 0 ||
        connect(fd, (struct sockaddr *)&to, sizeof to) != 0)
        return -1;
    static const char up[] =
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: lotse.v1\r\n\r\n";
    if (send(fd, up, sizeof up - 1, 0) != (ssize_t)sizeof up - 1)
        return -1;
    char head[1024];
    size_t n = 0;
    while (n + 1 < sizeof head && !(n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4)))
        if (read_n(fd, head + n++, 1) != 0)
            return -1;
    head[n] = 0;
    if (strncmp(head, "HTTP/1.1 101", 12) != 0)
        return -1;
    char hello[160];
    int len = snprintf(hello, sizeof hello,
                       "{\"t\":\"hello\",\"v\":1,\"role\":\"young\",\"topic\":\"family\","
                       "\"pk\":\"%.43s\"}",
                       "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA");
    uint8_t frame[8 + sizeof hello] = {0x81, (uint8_t)(0x80 | len), 0, 0, 0, 0};
    memcpy(frame + 6, hello, (size_t)len); /* mask key 0: the payload stays as it is */
    if (send(fd, frame, (size_t)len + 6, 0) != len + 6)
        return -1;
    uint8_t h2[2];
    size_t plen;
    if (read_n(fd, h2, 2) != 0)
        return -1;
    plen = h2[1] & 0x7f;
    if (plen == 126) {
        uint8_t ext[2];
        if (read_n(fd, ext, 2) != 0)
            return -1;
        plen = (size_t)ext[0] << 8 | ext[1];
    }
    if (plen >= cap || read_n(fd, reply, plen) != 0)
        return -1;
    reply[plen] = 0;
    return fd;
}

/* The scenario: one source fills the queue; someone else then comes. The
 * stranger pays nothing; the source's next person pays more than the queue
 * length alone would ask, a little less than if it held the whole queue. */
static void test_a_stranger_pays_nothing_where_one_source_filled_the_queue(void **state)
{
    struct harness *h = *state;
    harness_set(h, "pow_source_free", "3");
    harness_set(h, "pow_bits", "8"); /* cheap work: this test is about who pays */
    assert_int_equal(harness_start(h), 0);
    struct client *y[N];
    for (int k = 0; k < N; k++) /* auto_pow: the 4th to 6th solve 12, 13, 14 bits */
        assert_int_equal(harness_young(h, "family", &y[k]), 0);
    assert_int_equal(y[3]->challenges + y[4]->challenges + y[5]->challenges, 3);
    char reply[512];
    int stranger = hello_from("127.0.0.2", h->port, reply, sizeof reply);
    fprintf(stderr, "stranger from another address: %.30s\n", stranger >= 0 ? reply : "(failed)");
    assert_true(stranger >= 0);
    assert_non_null(strstr(reply, "\"t\":\"welcome\""));
    assert_non_null(strstr(reply, "\"pos\":7"));
    /* the source's next: 8 + (6 - 3) + 4 * 6 / 7 = 14 bits (alone it would be 15) */
    struct client *more;
    assert_int_equal(client_connect(&more, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, T), 0);
    more->auto_pow = false;
    assert_int_equal(client_young_hello(more, "family", T), -EAGAIN);
    fprintf(stderr, "the source's 7th: challenge of %lld bits\n", (long long)more->pow_bits);
    assert_int_equal(more->pow_bits, 14);
    int second = hello_from("127.0.0.3", h->port, reply, sizeof reply);
    assert_true(second >= 0);
    assert_non_null(strstr(reply, "\"t\":\"welcome\""));
    close(second);
    close(stranger);
    client_free(more);
    for (int k = 0; k < N; k++)
        client_free(y[k]);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_one_source_pays_from_its_fourth_waiting_person_more_each_time, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_stranger_pays_nothing_where_one_source_filled_the_queue, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_per_source_off_only_the_queue_length_counts,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
