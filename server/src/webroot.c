/* webroot.c — keeps the static file mount inside the web root.
 *
 * lws 4.1 normalises the URL ("/../", "%2e%2e", "%2f" never reach the file
 * system above the mount's origin) but follows symbolic links: a link in the
 * web root to a file or folder elsewhere would be served (it_static). lws reads
 * files through a table of file operations in the context (lws_get_fops); its
 * open is wrapped here by one that resolves the path with realpath() and opens
 * only what lies inside the real web root. One service thread: the static state
 * is written once, before the loop runs. */
#include "webroot.h"

#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>

#include "log.h"

static char root_real[PATH_MAX];
static size_t root_len;
static lws_fop_fd_t (*platform_open)(const struct lws_plat_file_ops *fops, const char *filename,
                                     const char *vpath, lws_fop_flags_t *flags);

static lws_fop_fd_t confined_open(const struct lws_plat_file_ops *fops, const char *filename,
                                  const char *vpath, lws_fop_flags_t *flags)
{
    char real[PATH_MAX];
    if (!realpath(filename, real))
        return NULL; /* no such file: 404 */
    if (strncmp(real, root_real, root_len) != 0 ||
        (real[root_len] != '/' && real[root_len] != '\0')) {
        log_warn("static files: a path under the web root leads out of it (a symbolic link?); "
                 "not served");
        return NULL;
    }
    return platform_open(fops, real, vpath, flags);
}

int webroot_confine(struct lws_context *ctx, const char *web_root)
{
    if (!realpath(web_root, root_real)) {
        /* no web root (yet): nothing can resolve inside it, nothing is served */
        log_warn("setting web_root: \"%s\" cannot be read (%s); no static files are served",
                 web_root, strerror(errno));
        snprintf(root_real, sizeof(root_real), "%s", web_root);
    }
    root_len = strlen(root_real);
    if (root_len == 1) /* "/": everything is inside, nothing to strip */
        root_len = 0;
    struct lws_plat_file_ops *fops = lws_get_fops(ctx);
    if (!fops || !fops->LWS_FOP_OPEN)
        return -ENOTSUP;
    if (fops->LWS_FOP_OPEN != confined_open) {
        platform_open = fops->LWS_FOP_OPEN;
        fops->LWS_FOP_OPEN = confined_open;
    }
    return 0;
}
