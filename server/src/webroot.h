/* webroot.h — static files come from the web root and from nowhere else. */
#ifndef LOTSE_WEBROOT_H
#define LOTSE_WEBROOT_H

struct lws_context;

/* Confines lws's file opens (the "/" mount) to web_root: a path whose real
 * location (symbolic links resolved) is not inside the real web root is not
 * opened, so the client gets 404. lws itself removes "..", "%2e%2e" and the like
 * from URLs; this catches links inside the root that point out of it. Call once
 * after lws_create_context. Returns 0, or -ENOTSUP when lws has no file
 * operations to wrap (a web root that cannot be read is a warning: nothing is
 * served). */
int webroot_confine(struct lws_context *ctx, const char *web_root);

#endif
