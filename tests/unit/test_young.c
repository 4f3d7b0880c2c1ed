/* Tests for server/src/young.c: the admission work a hello needs
 * (young_admission_bits, PROTOCOL.md §4.1.1), from the queue length and from the
 * share of the queue the hello's source holds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "config.h"
#include "young.h"

static struct config cfg;

static int setup(void **state)
{
    (void)state;
    char err[256];
    char *argv[] = {"lotsed", NULL};
    return config_load(&cfg, NULL, 1, argv, err, sizeof err);
}

static void test_nobody_pays_in_a_short_queue_from_many_sources(void **state)
{
    assert_int_equal(young_admission_bits(&cfg, 0, 0), 0);
    assert_int_equal(young_admission_bits(&cfg, 50, 0), 0);
    assert_int_equal(young_admission_bits(&cfg, 50, 1), 0);
    assert_int_equal(young_admission_bits(&cfg, 99, 2), 0);
    /* from pow_threshold waiting on, everyone pays pow_bits, +1 per threshold */
    assert_int_equal(young_admission_bits(&cfg, 100, 0), 16);
    assert_int_equal(young_admission_bits(&cfg, 200, 0), 17);
    assert_int_equal(young_admission_bits(&cfg, 10000, 0), 24);
}

/* The finding: the threshold (100 waiting) equalled what one source may hold
 * (100 connections), so one script queued 100 people for free. */
static void test_work_starts_well_below_what_one_source_may_hold(void **state)
{
    int first_paid = 0;
    for (int mine = 0; mine <= cfg.max_connections_per_source && !first_paid; mine++)
        if (young_admission_bits(&cfg, (size_t)mine, (size_t)mine) > 0)
            first_paid = mine + 1; /* the hello that finds `mine` waiting from its source */
    printf("alone in the queue, a source's hello number %d is the first to need work "
           "(it may hold %d connections)\n",
           first_paid, cfg.max_connections_per_source);
    assert_true(first_paid > 0);
    assert_true(first_paid * 10 <= cfg.max_connections_per_source);
    /* and the work grows with every further person from it, to the maximum */
    int prev = 0;
    double hashes = 0;
    for (int mine = 0; mine < 100; mine++) {
        int bits = young_admission_bits(&cfg, (size_t)mine, (size_t)mine);
        assert_true(bits >= prev);
        prev = bits;
        if (bits)
            hashes += (double)(1u << bits);
    }
    assert_int_equal(prev, 24);
    printf("queueing 100 people from one source costs about %.0f million hashes\n", hashes / 1e6);
    assert_true(hashes > 1e9);
}

static void test_work_grows_with_the_share_of_the_queue(void **state)
{
    /* the same number from one source costs less the more others wait too */
    int alone = young_admission_bits(&cfg, 3, 3);
    int some = young_admission_bits(&cfg, 6, 3);
    int many = young_admission_bits(&cfg, 60, 3);
    printf("3 waiting from one source: %d bits alone, %d among 6, %d among 60\n", alone, some,
           many);
    assert_true(alone > some);
    assert_true(some > many);
    assert_int_equal(many, 16);
    /* and a young person from another source in that queue pays nothing */
    assert_int_equal(young_admission_bits(&cfg, 60, 0), 0);
    /* a whole queue of 99 from one source: the next one of them pays the most,
     * a stranger nothing */
    assert_int_equal(young_admission_bits(&cfg, 99, 99), 24);
    assert_int_equal(young_admission_bits(&cfg, 99, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nobody_pays_in_a_short_queue_from_many_sources),
        cmocka_unit_test(test_work_starts_well_below_what_one_source_may_hold),
        cmocka_unit_test(test_work_grows_with_the_share_of_the_queue),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
