/* chat_route.h — a young person's chat routed to the network's organisations
 * (PROTOCOL.md §5.3): hello's optional region and language, the route at the
 * start (orgs_route), who may take the chat, whether anyone could now, what
 * the young person is told, dropping the language, and the re-evaluation
 * org → pool on the tick. The region lives in the caller's local variable for
 * the one call of chat_route_begin and nowhere else. */
#ifndef LOTSE_CHAT_ROUTE_H
#define LOTSE_CHAT_ROUTE_H

#include <stdbool.h>

#include "orgs.h"

struct conn;
struct counsellor;
struct hub;
struct lotse_jw;
struct lotse_json_msg;
struct session;

/* hello's "region" and "lang" (absent: skipped; anything else than the
 * contract's values: bad_field answered). region gets "" when absent. 0, or
 * -EPROTO when it has answered. */
int chat_route_fields(struct conn *c, const struct lotse_json_msg *m,
                      char region[ORG_REGION_LEN + 1], int *lang);

/* Routes the new session s (topic set) for lang and region (NULL or ""
 * when not given): its route, lang and row organisation. */
void chat_route_begin(struct hub *hub, struct session *s, int lang, const char *region);

/* k may take s: topic, language (when s asks for one) and organisation. */
bool chat_route_may_take(const struct hub *hub, const struct counsellor *k,
                         const struct session *s);

/* Whether a counsellor who may take s is serving now; *lang_staffed false
 * when s asks for a language and no serving counsellor who could take it
 * otherwise speaks it. */
bool chat_route_staffed(struct hub *hub, const struct session *s, bool *lang_staffed);

/* Writes "route", "orgs" (route org: up to ORG_ROUTE_NAMES names) and, when
 * false, "lang_staffed" into the open object of w; remembers what was told. */
void chat_route_write(struct hub *hub, struct lotse_jw *w, struct session *s, bool lang_staffed);

/* {"t":"lang","lang":null} from a waiting young person: the language
 * requirement goes, the place stays (a `queue` follows). */
void chat_route_msg_lang(struct conn *c, const struct lotse_json_msg *m);

/* Registers the re-evaluation on the tick (start-up). */
void chat_route_start(struct hub *hub);

#endif
