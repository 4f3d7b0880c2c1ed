/* Tests for server/src/queue.c: FIFO per topic, priority, topic masks, offers,
 * positions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "queue.h"

static struct queue q;
static struct queue_entry e[8];

static void setup_entries(const int *topics, int n)
{
    static const int prio[3] = {0, 0, 1}; /* topic 2 has priority */
    queue_init(&q, 3, prio);
    for (int i = 0; i < n; i++) {
        e[i] = (struct queue_entry){.topic = topics[i], .enqueued_ms = 1000 + i};
        queue_push(&q, &e[i]);
    }
}

static void test_next_is_oldest_within_a_topic(void **state)
{
    int topics[] = {0, 0, 0};
    setup_entries(topics, 3);
    assert_ptr_equal(queue_next(&q, 1u, false), &e[0]);
    queue_remove(&q, &e[0]);
    assert_ptr_equal(queue_next(&q, 1u, false), &e[1]);
    assert_int_equal(q.len, 2);
}

static void test_next_respects_topic_mask(void **state)
{
    int topics[] = {0, 1, 0};
    setup_entries(topics, 3);
    assert_ptr_equal(queue_next(&q, 1u << 1, false), &e[1]);
    assert_null(queue_next(&q, 1u << 2, false));
    assert_ptr_equal(queue_next(&q, 0x7, false), &e[0]);
}

static void test_priority_topic_served_first_even_if_younger(void **state)
{
    int topics[] = {0, 1, 2};
    setup_entries(topics, 3);
    assert_ptr_equal(queue_next(&q, 0x7, false), &e[2]);
    /* a counsellor without the priority topic still gets the oldest of theirs */
    assert_ptr_equal(queue_next(&q, 0x3, false), &e[0]);
}

static void test_offered_entries_are_skipped_on_request(void **state)
{
    int topics[] = {0, 0};
    setup_entries(topics, 2);
    e[0].offered = true;
    assert_ptr_equal(queue_next(&q, 1u, true), &e[1]);
    assert_ptr_equal(queue_next(&q, 1u, false), &e[0]);
}

static void test_remove_from_middle_and_twice_is_safe(void **state)
{
    int topics[] = {0, 0, 0};
    setup_entries(topics, 3);
    queue_remove(&q, &e[1]);
    queue_remove(&q, &e[1]);
    assert_int_equal(q.len, 2);
    assert_int_equal(queue_topic_len(&q, 0), 2);
    assert_ptr_equal(e[0].next, &e[2]);
    assert_ptr_equal(e[2].prev, &e[0]);
    assert_int_equal(queue_topic_oldest_ms(&q, 0), 1000);
    queue_remove(&q, &e[0]);
    queue_remove(&q, &e[2]);
    assert_int_equal(q.len, 0);
    assert_int_equal(queue_topic_oldest_ms(&q, 0), 0);
    assert_null(queue_next(&q, 1u, false));
}

static uint32_t positions[8];

static void record(struct queue_entry *entry, uint32_t pos, void *arg)
{
    positions[entry - e] = pos;
}

static void test_positions_count_same_topic_and_higher_priority(void **state)
{
    int topics[] = {0, 1, 0, 2, 2};
    setup_entries(topics, 5);
    queue_positions(&q, record, NULL);
    /* two priority entries are ahead of everyone else */
    assert_int_equal(positions[3], 1);
    assert_int_equal(positions[4], 2);
    assert_int_equal(positions[0], 3);
    assert_int_equal(positions[2], 4);
    assert_int_equal(positions[1], 3);
}

static void test_push_puts_a_returning_entry_back_at_its_place(void **state)
{
    int topics[] = {0, 0, 0};
    setup_entries(topics, 3); /* enqueued at 1000, 1001, 1002 */
    queue_remove(&q, &e[0]);
    queue_remove(&q, &e[2]);
    e[5] = (struct queue_entry){.topic = 0, .enqueued_ms = 2000};
    queue_push(&q, &e[5]);
    queue_push(&q, &e[0]); /* back from a transfer: it waited longest */
    queue_push(&q, &e[2]);
    assert_ptr_equal(queue_next(&q, 1u, false), &e[0]);
    assert_ptr_equal(e[0].next, &e[1]);
    assert_ptr_equal(e[1].next, &e[2]);
    assert_ptr_equal(e[2].next, &e[5]);
    assert_ptr_equal(q.lists[0].tail, &e[5]);
    assert_ptr_equal(e[5].prev, &e[2]);
    assert_int_equal(q.len, 4);
}

/* Returning entries near the head are placed by a walk from the head, others
 * from the tail: either way the list stays ordered and linked both ways, and a
 * returning entry goes back to its place among those of the same millisecond
 * (arrival order), e.g. a resume right after two hellos in one millisecond. */
static void test_push_returns_entries_in_order_from_either_end(void **state)
{
    static struct queue_entry big[1000];
    queue_init(&q, 1, NULL);
    for (int i = 0; i < 1000; i++) {
        big[i] = (struct queue_entry){.topic = 0, .enqueued_ms = i / 2};
        queue_push(&q, &big[i]);
    }
    static const int out[] = {0, 1, 3, 500, 501, 997, 999};
    int n_out = (int)(sizeof(out) / sizeof(out[0]));
    for (int i = 0; i < n_out; i++)
        queue_remove(&q, &big[out[i]]);
    for (int i = n_out - 1; i >= 0; i--)
        queue_push(&q, &big[out[i]]);
    int n = 0;
    struct queue_entry *prev = NULL;
    for (struct queue_entry *x = q.lists[0].head; x; prev = x, x = x->next, n++) {
        assert_ptr_equal(x->prev, prev);
        if (prev)
            assert_true(prev->enqueued_ms <= x->enqueued_ms);
    }
    assert_int_equal(n, 1000);
    assert_ptr_equal(q.lists[0].tail, prev);
    assert_int_equal(q.len, 1000);
    assert_ptr_equal(q.lists[0].head, &big[0]); /* its place, though big[1] has the same time */
    assert_ptr_equal(big[0].next, &big[1]);
    assert_ptr_equal(q.lists[0].tail, &big[999]);
    assert_ptr_equal(big[999].prev, &big[998]);
    assert_ptr_equal(big[500].next, &big[501]);
}

static void test_push_rejects_unknown_topic(void **state)
{
    queue_init(&q, 2, NULL);
    struct queue_entry bad = {.topic = 5};
    queue_push(&q, &bad);
    assert_int_equal(q.len, 0);
    assert_false(bad.queued);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_is_oldest_within_a_topic),
        cmocka_unit_test(test_next_respects_topic_mask),
        cmocka_unit_test(test_priority_topic_served_first_even_if_younger),
        cmocka_unit_test(test_offered_entries_are_skipped_on_request),
        cmocka_unit_test(test_remove_from_middle_and_twice_is_safe),
        cmocka_unit_test(test_positions_count_same_topic_and_higher_priority),
        cmocka_unit_test(test_push_puts_a_returning_entry_back_at_its_place),
        cmocka_unit_test(test_push_returns_entries_in_order_from_either_end),
        cmocka_unit_test(test_push_rejects_unknown_topic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
