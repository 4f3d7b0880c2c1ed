/* templates.c — the organisation's canned replies (chat_templates) sent to a
 * counsellor after login, one `template` message each (PROTOCOL.md §4.2).
 * Never to a young person: only counsellor_login calls this. The connection is
 * held across the store round trip the way the mail helpers hold theirs. */
#include "templates.h"

#include <errno.h>
#include <string.h>

#include "conn.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "lotse/proto.h"
#include "mail_thread.h"
#include "store.h"

#define TITLE_MAX 80   /* bytes, as the CHECK on chat_templates.title */
#define TEXT_MAX  1000 /* bytes, as the CHECK on chat_templates.body */

static bool fits(const char *s, size_t max)
{
    size_t len = strlen(s);
    return len > 0 && len <= max && lotse_utf8_valid(s, len);
}

static void got(void *arg, int status, const struct pg_result *res)
{
    struct conn *c = mail_conn_release(arg);
    if (!c)
        return;
    if (status != 0) {
        log_warn("templates: not read (%s); the console goes without", strerror(-status));
        return;
    }
    int rows = store_result_rows(res);
    for (int i = 0; i < rows && i < STORE_TEMPLATES_MAX; i++) {
        const char *title = store_result_text(res, i, 0);
        const char *text = store_result_text(res, i, 1);
        if (!fits(title, TITLE_MAX) || !fits(text, TEXT_MAX))
            continue; /* the table's CHECKs keep these out; never send a broken one */
        struct lotse_jw *w = conn_jw();
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_str(w, "t", "template");
        lotse_jw_str(w, "title", title);
        lotse_jw_str(w, "text", text);
        lotse_jw_obj_end(w);
        if (conn_send_json(c, w) != 0)
            return;
    }
}

int templates_send(struct conn *c)
{
    if (!c->hub->store)
        return -ENOTCONN;
    struct mail_conn *mc = mail_conn_of(c);
    if (!mc)
        return -ENOMEM;
    mail_conn_hold(mc);
    int rc = store_chat_templates(c->hub->store, got, mc);
    if (rc < 0)
        mail_conn_release(mc);
    return rc;
}
