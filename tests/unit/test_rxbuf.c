/* test_rxbuf.c — the receive buffers: the large pool for MAIL frames gives out
 * at most RXBUF_LARGE_MAX buffers, takes them back wiped, and drains. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lotse/mail.h"
#include "rxbuf.h"

static void test_large_pool_is_bounded(void **state)
{
    (void)state;
    uint8_t *bufs[RXBUF_LARGE_MAX];
    for (int i = 0; i < RXBUF_LARGE_MAX; i++) {
        bufs[i] = rxbuf_get_large();
        assert_non_null(bufs[i]);
    }
    assert_int_equal(rxbuf_large_out(), RXBUF_LARGE_MAX);
    assert_null(rxbuf_get_large()); /* the 33rd: the sender is told busy */
    assert_false(rxbuf_large_available()); /* also for a frame whole in one chunk */
    rxbuf_put_large(bufs[0], 0);
    assert_int_equal(rxbuf_large_out(), RXBUF_LARGE_MAX - 1);
    assert_true(rxbuf_large_available());
    bufs[0] = rxbuf_get_large();
    assert_non_null(bufs[0]);
    for (int i = 0; i < RXBUF_LARGE_MAX; i++)
        rxbuf_put_large(bufs[i], 0);
    assert_int_equal(rxbuf_large_out(), 0);
    rxbuf_pool_drain();
}

static void test_large_buffer_holds_a_mail_frame_and_is_wiped(void **state)
{
    (void)state;
    uint8_t *b = rxbuf_get_large();
    assert_non_null(b);
    memset(b, 0xab, LOTSE_MAIL_FRAME_MAX);
    rxbuf_put_large(b, LOTSE_MAIL_FRAME_MAX);
    uint8_t *again = rxbuf_get_large();
    assert_ptr_equal(again, b); /* cached */
    for (size_t i = sizeof(void *); i < LOTSE_MAIL_FRAME_MAX; i++)
        if (again[i] != 0)
            fail_msg("byte %zu not wiped", i);
    rxbuf_put_large(again, 0);
    rxbuf_pool_drain();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_pool_is_bounded),
        cmocka_unit_test(test_large_buffer_holds_a_mail_frame_and_is_wiped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
