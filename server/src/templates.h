/* templates.h — the organisation's canned replies for a counsellor who logged
 * in (PROTOCOL.md §4.2 `template`; made with lotsectl template-add). */
#ifndef LOTSE_TEMPLATES_H
#define LOTSE_TEMPLATES_H

struct conn;

/* Reads the templates (a store round trip) and sends each to c as one
 * `template` message; nothing when c closed meanwhile or the database is
 * unreachable (the console works without them). Returns 0, or -errno when the
 * read could not be queued. */
int templates_send(struct conn *c);

#endif
