/* young_feedback.c — after the end, one anonymous question (PROTOCOL.md §5
 * "After the end", issue #14): when a chat that a counsellor had taken ends
 * while the young person is connected, their connection stays open for
 * FEEDBACK_WINDOW_S as ROLE_ENDED and accepts one "feedback" with the answer
 * yes, some or no. The answer is one increment of this hour's stats_hourly row
 * of the chat's topic, nothing else: the connection's state holds the topic
 * (not the session, which is gone) and whether it answered; no log line names
 * the answer. The window is closed from the one-second tick, oldest first. */
#include <string.h>

#include "conn.h"
#include "hub.h"
#include "list.h"
#include "log.h"
#include "lotse/json.h"
#include "mem.h"
#include "store.h"
#include "tick.h"
#include "young.h"

#define FEEDBACK_WINDOW_S 600

struct feedback_wait {
    struct list_link link; /* on waits, oldest first */
    struct conn *c;
    const char *topic; /* the configuration's (lives as long as the process) */
    int org;           /* the chat's organisation (its row's), 0 for none */
    int64_t until_ms;
    bool answered;
};

static struct list waits;

static void ended_closed(struct conn *c);

static const struct conn_ops ended_ops = {.name = "ended", .closed = ended_closed};

static void ended_closed(struct conn *c)
{
    struct feedback_wait *w = c->feedback;
    if (!w)
        return;
    list_unlink(&waits, &w->link);
    c->feedback = NULL;
    mem_free(w);
}

bool young_feedback_offer(struct conn *c, const char *topic, int org)
{
    struct feedback_wait *w = mem_calloc(1, sizeof(*w));
    if (!w)
        return false;
    w->c = c;
    w->topic = topic;
    w->org = org;
    w->until_ms = hub_now_ms() + (int64_t)FEEDBACK_WINDOW_S * 1000;
    list_insert_tail(&waits, &w->link);
    c->feedback = w;
    conn_set_role(c, ROLE_ENDED, &ended_ops);
    return true;
}

/* "yes", "some", "no" as the store's index 0..2, or -1. */
static int answer_index(const char *a, size_t len)
{
    static const char *const answers[] = {"yes", "some", "no"};
    for (int i = 0; i < 3; i++)
        if (strlen(answers[i]) == len && !memcmp(a, answers[i], len))
            return i;
    return -1;
}

void young_feedback_msg(struct conn *c, const struct lotse_json_msg *m)
{
    struct feedback_wait *w = c->role == ROLE_ENDED ? c->feedback : NULL;
    if (!w) {
        conn_send_error(c, "no_feedback", "no ended chat to answer for on this connection",
                        "feedback", NULL, NULL, true);
        return;
    }
    if (w->answered) {
        conn_send_error(c, "feedback_given", "this chat has been answered for already", "feedback",
                        NULL, NULL, true);
        return;
    }
    const char *a;
    size_t len;
    int i = -1;
    if (lotse_json_get_str(m, "answer", 8, &a, &len) == 0)
        i = answer_index(a, len);
    if (i < 0) {
        conn_send_error(c, "bad_field", "answer is yes, some or no", "feedback", NULL, "answer",
                        true);
        return;
    }
    struct hub *hub = c->hub;
    if (!hub->store || store_feedback_count(hub->store, w->topic, w->org, i) != 0) {
        conn_send_error(c, "busy", "the answer cannot be counted now; try again", "feedback", NULL,
                        NULL, false);
        return;
    }
    w->answered = true;
    struct lotse_jw *jw = conn_jw();
    lotse_jw_obj_begin(jw, NULL);
    lotse_jw_str(jw, "t", "feedback_ok");
    lotse_jw_obj_end(jw);
    conn_send_json(c, jw);
}

/* Closes the connections whose window is over (the list is oldest first). */
static void expire_waits(struct hub *hub, int64_t now_ms)
{
    (void)hub;
    while (waits.head) {
        struct feedback_wait *w = LIST_ENTRY(waits.head, struct feedback_wait, link);
        if (w->until_ms > now_ms)
            break;
        list_unlink(&waits, &w->link);
        conn_close(w->c, 1000, "feedback window over");
    }
}

/* After the sessions' timeouts (30, 50), before the pushes (60). */
static struct tick_hook feedback_hook = {.order = 55, .fn = expire_waits};

void young_feedback_start(struct hub *hub)
{
    tick_add(&hub->tick, &feedback_hook);
}

void young_feedback_stop(struct hub *hub)
{
    tick_remove(&hub->tick, &feedback_hook);
}

void young_feedback_close_all(struct hub *hub)
{
    (void)hub;
    while (waits.head) {
        struct feedback_wait *w = LIST_ENTRY(waits.head, struct feedback_wait, link);
        list_unlink(&waits, &w->link);
        conn_close(w->c, 1001, "server shutting down");
    }
    log_debug("feedback: every window closed");
}
