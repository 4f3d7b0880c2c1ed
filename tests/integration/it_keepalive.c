/* it_keepalive — lotsed pings quiet connections itself (lws's own validity
 * timers are off: they cost O(connections) per message) and closes those that
 * stop answering, while a client that answers stays connected. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "client.h"
#include "harness.h"

#define T 10000

static void test_silent_peer_is_closed_answering_peer_stays(void **state)
{
    struct harness *h = *state;
    harness_set(h, "ping_interval", "5");
    harness_set(h, "ping_timeout", "12");
    harness_set(h, "handshake_timeout", "300");
    assert_int_equal(harness_start(h), 0);
    struct client *alive, *silent;
    assert_int_equal(harness_young(h, "family", &alive), 0);
    assert_int_equal(harness_young(h, "school", &silent), 0);
    /* 20 s: the answering client reads (and so pongs) every second; the silent
     * one reads nothing, so it never answers a ping. */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(client_pump(alive, 1000), 0);
    }
    int rc = client_pump(silent, 2000);
    fprintf(stderr, "silent client: pump %d, close code %d, eof %d\n", rc, silent->ws->close_code,
            silent->ws->eof);
    /* closed by the server: a close frame, the end of the stream, or (answering
     * the pings it finally reads) a write into the closed socket */
    assert_true(rc == -ESHUTDOWN || rc == -EPIPE || rc == -ECONNRESET || silent->ws->eof);
    assert_int_equal(client_pump(alive, 500), 0);
    /* the dropped one is away, not ended: within its resume grace it stays queued */
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM sessions WHERE end_reason IS NOT NULL"),
                     0);
    client_free(silent);
    client_free(alive);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_silent_peer_is_closed_answering_peer_stays,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
