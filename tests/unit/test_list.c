/* Tests for server/src/list.h: insert at head and tail, unlink anywhere,
 * membership, and a loop that unlinks as it goes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "list.h"

struct item {
    int id;
    struct list_link link;
};

/* Writes the ids of l, head first, into out; returns how many. */
static int ids(const struct list *l, int *out)
{
    int n = 0;
    LIST_FOREACH_SAFE (l, it, nx)
        out[n++] = LIST_ENTRY(it, struct item, link)->id;
    return n;
}

static void test_zeroed_list_is_empty_and_link_unlinked(void **state)
{
    struct list l = {0};
    struct item a = {.id = 1};
    int out[4];
    assert_int_equal(ids(&l, out), 0);
    assert_false(list_linked(&l, &a.link));
    list_unlink(&l, &a.link); /* not on it: nothing happens */
    assert_null(l.head);
    assert_null(l.tail);
}

static void test_head_and_tail_inserts_keep_order(void **state)
{
    struct list l = {0};
    struct item a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    list_insert_tail(&l, &a.link);
    list_insert_tail(&l, &b.link);
    list_insert_head(&l, &c.link);
    int out[4];
    assert_int_equal(ids(&l, out), 3);
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 1);
    assert_int_equal(out[2], 2);
    assert_ptr_equal(l.head, &c.link);
    assert_ptr_equal(l.tail, &b.link);
}

static void test_unlink_head_middle_tail_and_only(void **state)
{
    struct list l = {0};
    struct item it[4] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}};
    for (int i = 0; i < 4; i++)
        list_insert_tail(&l, &it[i].link);
    list_unlink(&l, &it[1].link); /* middle */
    list_unlink(&l, &it[0].link); /* head */
    list_unlink(&l, &it[3].link); /* tail */
    int out[4];
    assert_int_equal(ids(&l, out), 1);
    assert_int_equal(out[0], 2);
    assert_true(list_linked(&l, &it[2].link));
    assert_false(list_linked(&l, &it[1].link));
    list_unlink(&l, &it[2].link); /* the only one */
    assert_null(l.head);
    assert_null(l.tail);
    assert_false(list_linked(&l, &it[2].link));
    list_unlink(&l, &it[2].link); /* twice is harmless */
}

static void test_foreach_safe_may_unlink_the_current_entry(void **state)
{
    struct list l = {0};
    struct item it[5];
    for (int i = 0; i < 5; i++) {
        it[i] = (struct item){.id = i};
        list_insert_tail(&l, &it[i].link);
    }
    LIST_FOREACH_SAFE (&l, cur, nx) {
        if (LIST_ENTRY(cur, struct item, link)->id % 2 == 0)
            list_unlink(&l, cur);
    }
    int out[5];
    assert_int_equal(ids(&l, out), 2);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 3);
    assert_ptr_equal(l.tail, &it[3].link);
}

static void test_insert_before_head_and_middle(void **state)
{
    struct list l = {0};
    struct item a = {.id = 1}, b = {.id = 2}, c = {.id = 3}, d = {.id = 4};
    list_insert_tail(&l, &b.link);
    list_insert_tail(&l, &d.link);
    list_insert_before(&l, &b.link, &a.link); /* new head */
    list_insert_before(&l, &d.link, &c.link); /* middle */
    int out[4];
    assert_int_equal(ids(&l, out), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(out[i], i + 1);
    assert_ptr_equal(l.head, &a.link);
    assert_ptr_equal(l.tail, &d.link);
    assert_ptr_equal(d.link.prev, &c.link);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeroed_list_is_empty_and_link_unlinked),
        cmocka_unit_test(test_head_and_tail_inserts_keep_order),
        cmocka_unit_test(test_unlink_head_middle_tail_and_only),
        cmocka_unit_test(test_foreach_safe_may_unlink_the_current_entry),
        cmocka_unit_test(test_insert_before_head_and_middle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
