/* it_slowreader.c — a slow reader is told why it is cut off (PROTOCOL.md §4.5,
 * close code 4008).
 *
 * A counsellor's connection stops reading while the young person sends; the
 * server's send queue for it fills and the server closes it as a slow reader.
 * The reader then reads again, slowly (about 40 KB/s): what it reads must end
 * with a close frame with code 4008, not with a bare end of stream. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "harness.h"

#define T             5000
#define SLOW_CHUNK    2048
#define SLOW_EVERY_MS 50
#define READ_LIMIT_MS 30000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t data_frame(uint8_t *f, const uint8_t sid[16], uint64_t seq, size_t payload)
{
    struct lotse_frame_header hd = {.version = 1, .kind = LOTSE_FRAME_DATA, .seq = seq};
    memcpy(hd.sid, sid, 16);
    lotse_frame_encode_header(f, &hd);
    randombytes_buf(f + LOTSE_FRAME_HEADER_BYTES, payload);
    return LOTSE_FRAME_HEADER_BYTES + payload;
}

/* Server frames are unmasked. Parses whole frames from buf; returns the bytes
 * used; sets *close_code when a close frame came (1005 when it has no code). */
static size_t parse_frames(const uint8_t *buf, size_t len, int *close_code, long *frames)
{
    size_t used = 0;
    while (len - used >= 2) {
        const uint8_t *p = buf + used;
        size_t hdr = 2;
        uint64_t n = p[1] & 0x7f;
        if (n == 126) {
            if (len - used < 4)
                break;
            n = (uint64_t)p[2] << 8 | p[3];
            hdr = 4;
        } else if (n == 127) {
            if (len - used < 10)
                break;
            n = 0;
            for (int i = 0; i < 8; i++)
                n = n << 8 | p[2 + i];
            hdr = 10;
        }
        if (len - used < hdr + n)
            break;
        if ((p[0] & 0x0f) == 0x8)
            *close_code = n >= 2 ? (p[hdr] << 8 | p[hdr + 1]) : 1005;
        (*frames)++;
        used += hdr + n;
    }
    return used;
}

static void test_slow_reader_gets_close_4008_before_the_connection_ends(void **state)
{
    struct harness *h = *state;
    harness_set(h, "send_queue_max", "64");
    harness_set(h, "hold_max_frames", "32");
    harness_set(h, "relay_rate", "100000");
    harness_set(h, "relay_burst", "100000");
    harness_set(h, "relay_bytes_rate", "100000000");
    harness_set(h, "relay_bytes_burst", "100000000");
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    int small = 4096;
    assert_int_equal(setsockopt(anna->ws->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &cs), 0);

    /* anna stops reading; the young person sends until the server gives up on her */
    static uint8_t f[LOTSE_MAX_BINARY_FRAME];
    const uint8_t *sid = client_young_session(young)->sid;
    int sent = 0;
    bool killed = false;
    for (int i = 1; i <= 4000 && !killed; i++) {
        size_t n = data_frame(f, sid, (uint64_t)i, 4096 + 16);
        if (client_send_binary(young, f, n) < 0)
            break;
        sent++;
        if (i % 20 == 0) {
            assert_int_equal(client_pump(young, 2), 0);
            killed = harness_log_count(h, "closing a slow reader") > 0;
        }
    }
    assert_true(killed);
    int64_t t0 = mono_ms();

    /* anna reads again, slowly: about 40 KB/s */
    size_t cap = 64 * 1024 * 1024, len = anna->ws->in_len, parsed = 0;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    memcpy(buf, anna->ws->in, len);
    int close_code = -1;
    long frames = 0, total = 0;
    bool eof = false;
    while (close_code < 0 && !eof && mono_ms() - t0 < READ_LIMIT_MS && len + SLOW_CHUNK <= cap) {
        struct pollfd pfd = {.fd = anna->ws->fd, .events = POLLIN};
        if (poll(&pfd, 1, SLOW_EVERY_MS) > 0) {
            ssize_t n = recv(anna->ws->fd, buf + len, SLOW_CHUNK, 0);
            if (n <= 0)
                eof = true;
            else {
                len += (size_t)n;
                total += n;
            }
        }
        parsed += parse_frames(buf + parsed, len - parsed, &close_code, &frames);
        usleep(SLOW_EVERY_MS * 1000);
    }
    int64_t took = mono_ms() - t0;
    printf("slow reader: %d frames sent to it; then read %ld bytes (%ld frames) in %lld ms: "
           "close %d, end of stream %s\n",
           sent, total, frames, (long long)took, close_code, eof ? "yes" : "no");
    free(buf);
    assert_int_equal(close_code, 4008);

    /* the young person hears that the counsellor is away */
    assert_int_equal(client_wait_peer(young, client_young_session(young), true, T), 0);
    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slow_reader_gets_close_4008_before_the_connection_ends,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
