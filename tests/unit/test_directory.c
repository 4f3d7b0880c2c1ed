/* Tests for server/src/directory.c: the mapping between a live session or
 * counsellor and its directory row (store_nodes.h), which another node adopts.
 * A row carries wall-clock times, so what a session waited and when it was
 * taken survive the move to a node with another monotonic clock; the queue
 * order survives with it. session_adopt (session.c) keeps the id. Writing the
 * rows and adopting them through PostgreSQL: tests/integration/it_directory.c. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "counsellor.h"
#include "directory.h"
#include "queue.h"
#include "session.h"
#include "store_nodes.h"

/* One moment on the old node's clocks and, 3 s later, on the new node's. */
#define OLD_NOW  1000000
#define OLD_WALL 1700000000000LL
#define NEW_NOW  5000
#define NEW_WALL (OLD_WALL + 3000)

static void fill(uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v + i);
}

static struct counsellor *some_counsellor(void)
{
    static struct counsellor k;
    memset(&k, 0, sizeof(k));
    fill(k.token_hash, sizeof(k.token_hash), 7);
    k.account_id = 42;
    snprintf(k.handle, sizeof(k.handle), "anna");
    snprintf(k.name, sizeof(k.name), "Anna K.");
    k.topic_mask = 0x5;
    k.org_id = 3;
    k.languages = 0x3;
    k.max_capacity = 4;
    k.capacity = 2;
    k.available = true;
    k.has_cert = true;
    fill(k.cert, sizeof(k.cert), 50);
    k.orgcert_len = 80;
    fill(k.orgcert, k.orgcert_len, 90);
    return &k;
}

static void some_session(struct session *s, struct counsellor *k)
{
    memset(s, 0, sizeof(*s));
    fill(s->sid, sizeof(s->sid), 1);
    s->state = SESSION_ACTIVE;
    s->topic = 2;
    s->enqueued_ms = OLD_NOW - 30000; /* waited 30 s ... */
    s->qe.seq = 17;
    s->picked_ms = OLD_NOW - 20000; /* ... taken 20 s ago */
    s->started_wall = (time_t)(OLD_WALL / 1000 - 30);
    fill(s->resume_hash, sizeof(s->resume_hash), 11);
    fill(s->young_pk, sizeof(s->young_pk), 22);
    s->counsellor = k;
    s->has_keys = true;
    fill(s->keys_pk, sizeof(s->keys_pk), 33);
    fill(s->keys_sig, sizeof(s->keys_sig), 44);
    fill(s->keys_cert, sizeof(s->keys_cert), 55);
    s->keys_orgcert_len = 80;
    fill(s->keys_orgcert, s->keys_orgcert_len, 66);
    snprintf(s->row_id, sizeof(s->row_id), "0f8fad5b-d9cb-469f-a165-70867728950e");
    s->transfers = 2;
    s->transfer_to_id = 0;
    s->same = true;
    s->route.kind = ORG_ROUTE_ORG;
    s->route.count = 3;
    s->route.ids[0] = 3;
    s->route.ids[1] = 5;
    s->route.ids[2] = 8;
    s->lang = 1;
    s->org_id = 3;
}

static void test_session_row_carries_everything_and_no_secret(void **state)
{
    (void)state;
    struct session s;
    struct store_dir_session row;
    some_session(&s, some_counsellor());
    directory_row_from_session(&s, OLD_NOW, OLD_WALL, &row);
    assert_memory_equal(row.sid, s.sid, LOTSE_SID_BYTES);
    assert_int_equal(row.state, STORE_DIR_ACTIVE);
    assert_int_equal(row.topic, 2);
    assert_int_equal(row.enqueued_wall_ms, OLD_WALL - 30000);
    assert_int_equal(row.seq, 17);
    assert_int_equal(row.picked_wall_ms, OLD_WALL - 20000);
    assert_int_equal(row.started_wall, OLD_WALL / 1000 - 30);
    assert_memory_equal(row.resume_hash, s.resume_hash, 32); /* the hash, never the secret */
    assert_memory_equal(row.young_pk, s.young_pk, LOTSE_PK_BYTES);
    assert_true(row.has_counsellor);
    assert_memory_equal(row.counsellor_token_hash, s.counsellor->token_hash, 32);
    assert_true(row.has_keys);
    assert_memory_equal(row.keys_sig, s.keys_sig, LOTSE_SIG_BYTES);
    assert_int_equal(row.keys_orgcert_len, 80);
    assert_memory_equal(row.keys_orgcert, s.keys_orgcert, 80);
    assert_string_equal(row.row_id, s.row_id);
    assert_int_equal(row.transfers, 2);
    assert_true(row.same);
    assert_int_equal(row.route_kind, ORG_ROUTE_ORG);
    assert_int_equal(row.route_count, 3);
    assert_int_equal(row.route_ids[2], 8);
    assert_int_equal(row.lang, 1);
    assert_int_equal(row.org_id, 3);
}

/* The new node's monotonic clock is unrelated to the old one's: what has
 * passed since enqueue and pickup is what carries over, 3 s more now. */
static void test_session_round_trip_keeps_waits_on_another_clock(void **state)
{
    (void)state;
    struct session s, t;
    struct store_dir_session row;
    some_session(&s, some_counsellor());
    directory_row_from_session(&s, OLD_NOW, OLD_WALL, &row);
    memset(&t, 0, sizeof(t));
    memcpy(t.sid, row.sid, LOTSE_SID_BYTES);
    assert_int_equal(directory_session_from_row(&t, &row, 5, NEW_NOW, NEW_WALL), 0);
    assert_int_equal(t.state, SESSION_ACTIVE);
    assert_int_equal(NEW_NOW - t.enqueued_ms, 33000);
    assert_int_equal(NEW_NOW - t.picked_ms, 23000);
    assert_int_equal(t.qe.enqueued_ms, t.enqueued_ms);
    assert_int_equal(t.qe.topic, 2);
    assert_int_equal(t.qe.seq, 17);
    assert_false(t.qe.queued);
    assert_int_equal(t.last_frame_ms, NEW_NOW);
    assert_int_equal((int64_t)t.started_wall, (int64_t)s.started_wall);
    assert_memory_equal(t.resume_hash, s.resume_hash, 32);
    assert_memory_equal(t.young_pk, s.young_pk, LOTSE_PK_BYTES);
    assert_null(t.counsellor); /* linked by directory_adopt */
    assert_true(t.has_keys);
    assert_memory_equal(t.keys_pk, s.keys_pk, LOTSE_PK_BYTES);
    assert_memory_equal(t.keys_cert, s.keys_cert, LOTSE_CERT_BYTES);
    assert_int_equal(t.keys_orgcert_len, 80);
    assert_memory_equal(t.keys_orgcert, s.keys_orgcert, 80);
    assert_string_equal(t.row_id, s.row_id);
    assert_int_equal(t.transfers, 2);
    assert_true(t.same);
    assert_int_equal(t.route.kind, ORG_ROUTE_ORG);
    assert_int_equal(t.route.count, 3);
    assert_memory_equal(t.route.ids, s.route.ids, 3 * sizeof(int));
    assert_int_equal(t.lang, 1);
    assert_int_equal(t.org_id, 3);

    /* written again by the new node: the same row */
    struct store_dir_session again;
    directory_row_from_session(&t, NEW_NOW, NEW_WALL, &again);
    assert_int_equal(again.enqueued_wall_ms, row.enqueued_wall_ms);
    assert_int_equal(again.picked_wall_ms, row.picked_wall_ms);
}

/* A waiting session handed back for a fresh key: no counsellor, no keys, not
 * taken yet stays "not taken" (0), and the hand-back is kept. */
static void test_waiting_rekey_session_round_trip(void **state)
{
    (void)state;
    struct session s, t;
    struct store_dir_session row;
    some_session(&s, NULL);
    s.state = SESSION_WAITING;
    s.picked_ms = 0;
    s.has_keys = false;
    s.rekey_pending = true;
    s.transfer_to_id = 9;
    s.counsellor_left = true;
    s.route.kind = ORG_ROUTE_POOL;
    s.route.any = true;
    s.lang = ORG_LANG_NONE;
    directory_row_from_session(&s, OLD_NOW, OLD_WALL, &row);
    assert_int_equal(row.state, STORE_DIR_WAITING);
    assert_false(row.has_counsellor);
    assert_false(row.has_keys);
    assert_int_equal(row.picked_wall_ms, 0);
    memset(&t, 0, sizeof(t));
    assert_int_equal(directory_session_from_row(&t, &row, 5, NEW_NOW, NEW_WALL), 0);
    assert_int_equal(t.state, SESSION_WAITING);
    assert_int_equal(t.picked_ms, 0);
    assert_false(t.has_keys);
    assert_true(t.rekey_pending);
    assert_int_equal(t.transfer_to_id, 9);
    assert_true(t.counsellor_left);
    assert_int_equal(t.route.kind, ORG_ROUTE_POOL);
    assert_true(t.route.any);
    assert_int_equal(t.lang, ORG_LANG_NONE);
}

/* A row this configuration cannot hold is refused, not half adopted. */
static void test_row_out_of_range_is_refused(void **state)
{
    (void)state;
    struct session s, t;
    struct store_dir_session row;
    some_session(&s, NULL);
    directory_row_from_session(&s, OLD_NOW, OLD_WALL, &row);
    memset(&t, 0, sizeof(t));
    assert_int_equal(directory_session_from_row(&t, &row, 2, NEW_NOW, NEW_WALL), -EINVAL);
    row.state = 7;
    assert_int_equal(directory_session_from_row(&t, &row, 5, NEW_NOW, NEW_WALL), -EINVAL);
    row.state = STORE_DIR_WAITING;
    row.route_count = STORE_DIR_ROUTE_MAX + 1;
    assert_int_equal(directory_session_from_row(&t, &row, 5, NEW_NOW, NEW_WALL), -EINVAL);
    row.route_count = 0;
    row.lang = ORG_LANG_COUNT;
    assert_int_equal(directory_session_from_row(&t, &row, 5, NEW_NOW, NEW_WALL), -EINVAL);
    assert_int_equal(t.state, SESSION_WAITING);
    assert_int_equal(t.enqueued_ms, 0);
}

/* Two adopted waiting sessions go back into the queue in their old order:
 * by the time they came, then (the same millisecond) by their number. */
static void test_adopted_queue_order_is_kept(void **state)
{
    (void)state;
    struct session s[3], t[3];
    struct store_dir_session rows[3];
    int64_t enq[3] = {OLD_NOW - 5000, OLD_NOW - 9000, OLD_NOW - 5000};
    uint64_t seq[3] = {12, 10, 11};
    for (int i = 0; i < 3; i++) {
        some_session(&s[i], NULL);
        s[i].state = SESSION_WAITING;
        s[i].topic = 0;
        s[i].enqueued_ms = enq[i];
        s[i].qe.seq = seq[i];
        directory_row_from_session(&s[i], OLD_NOW, OLD_WALL, &rows[i]);
    }
    struct queue q;
    queue_init(&q, 1, NULL);
    for (int i = 0; i < 3; i++) {
        memset(&t[i], 0, sizeof(t[i]));
        assert_int_equal(directory_session_from_row(&t[i], &rows[i], 1, NEW_NOW, NEW_WALL), 0);
        queue_push(&q, &t[i].qe);
    }
    assert_ptr_equal(queue_next(&q, 1, false), &t[1].qe); /* waited longest */
    queue_remove(&q, &t[1].qe);
    assert_ptr_equal(queue_next(&q, 1, false), &t[2].qe); /* same ms, came first */
    queue_remove(&q, &t[2].qe);
    assert_ptr_equal(queue_next(&q, 1, false), &t[0].qe);
}

static void test_counsellor_round_trip(void **state)
{
    (void)state;
    struct counsellor *k = some_counsellor(), t;
    struct store_dir_counsellor row;
    directory_row_from_counsellor(k, &row);
    assert_memory_equal(row.token_hash, k->token_hash, 32); /* the hash, never the token */
    assert_int_equal(row.account_id, 42);
    assert_string_equal(row.handle, "anna");
    assert_string_equal(row.name, "Anna K.");
    memset(&t, 0, sizeof(t));
    directory_counsellor_from_row(&t, &row);
    assert_memory_equal(t.token_hash, k->token_hash, 32);
    assert_int_equal(t.account_id, 42);
    assert_string_equal(t.handle, "anna");
    assert_string_equal(t.name, "Anna K.");
    assert_int_equal(t.topic_mask, 0x5);
    assert_int_equal(t.org_id, 3);
    assert_int_equal(t.languages, 0x3);
    assert_int_equal(t.max_capacity, 4);
    assert_int_equal(t.capacity, 2);
    assert_true(t.available);
    assert_true(t.has_cert);
    assert_memory_equal(t.cert, k->cert, LOTSE_CERT_BYTES);
    assert_int_equal(t.orgcert_len, 80);
    assert_memory_equal(t.orgcert, k->orgcert, 80);
    assert_null(t.conn);
    assert_int_equal(t.active, 0);

    /* capacities from a row are bounded as at login */
    row.max_capacity = 99;
    row.capacity = 0;
    directory_counsellor_from_row(&t, &row);
    assert_int_equal(t.max_capacity, COUNSELLOR_MAX_SESSIONS);
    assert_int_equal(t.capacity, 1);
}

static void test_session_adopt_keeps_the_id(void **state)
{
    (void)state;
    struct session_table tab;
    assert_int_equal(sessions_init(&tab), 0);
    uint8_t sid[LOTSE_SID_BYTES];
    fill(sid, sizeof(sid), 200);
    struct session *s = session_adopt(&tab, sid);
    assert_non_null(s);
    assert_memory_equal(s->sid, sid, LOTSE_SID_BYTES);
    assert_ptr_equal(session_find(&tab, sid), s);
    assert_null(session_adopt(&tab, sid)); /* taken already */
    assert_int_equal(tab.count, 1);
    sessions_destroy(&tab);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_row_carries_everything_and_no_secret),
        cmocka_unit_test(test_session_round_trip_keeps_waits_on_another_clock),
        cmocka_unit_test(test_waiting_rekey_session_round_trip),
        cmocka_unit_test(test_row_out_of_range_is_refused),
        cmocka_unit_test(test_adopted_queue_order_is_kept),
        cmocka_unit_test(test_counsellor_round_trip),
        cmocka_unit_test(test_session_adopt_keeps_the_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
