/* Tests for server/src/session.c: the session table (unique random ids, O(1)
 * look-up, growth). session_end and its metadata row are proved through the
 * real server in tests/integration/it_chat.c and it_queue.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "session.h"

static void test_create_find_and_ids_are_distinct(void **state)
{
    struct session_table t;
    assert_int_equal(sessions_init(&t), 0);
    struct session *a = session_create(&t), *b = session_create(&t);
    assert_non_null(a);
    assert_non_null(b);
    assert_memory_not_equal(a->sid, b->sid, LOTSE_SID_BYTES);
    assert_ptr_equal(session_find(&t, a->sid), a);
    assert_ptr_equal(session_find(&t, b->sid), b);
    uint8_t other[LOTSE_SID_BYTES] = {0};
    assert_null(session_find(&t, other));
    assert_int_equal(t.count, 2);
    sessions_destroy(&t);
}

static void test_table_grows_and_keeps_every_session(void **state)
{
    struct session_table t;
    assert_int_equal(sessions_init(&t), 0);
    enum { N = 5000 };
    static struct session *all[N];
    for (int i = 0; i < N; i++)
        all[i] = session_create(&t);
    assert_true(t.nbuckets >= N);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(session_find(&t, all[i]->sid), all[i]);
    assert_int_equal(t.count, N);
    size_t listed = 0;
    for (struct session *s = session_first(&t); s; s = session_next(s))
        listed++;
    assert_int_equal(listed, N);
    sessions_destroy(&t);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_find_and_ids_are_distinct),
        cmocka_unit_test(test_table_grows_and_keeps_every_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
