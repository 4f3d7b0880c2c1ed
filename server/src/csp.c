/* csp.c — the Content-Security-Policy of every response, with the SHA-256 of
 * each inline import map of the client's pages (csp.h). Runs once at start,
 * before the vhost exists; the pages are static files, so the hashes hold for
 * the life of the process (a republished client needs a restart, as any change
 * of web_root does). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>

#include "csp.h"
#include "log.h"

#define CSP_DEPTH    3
#define CSP_FILE_MAX (1024 * 1024)
#define CSP_B64_LEN  45 /* base64 of 32 bytes with padding, and the NUL */

static const char map_open[] = "<script type=\"importmap\">";
static const char map_close[] = "</script>";

struct csp_hashes {
    char b64[CSP_MAX_HASHES][CSP_B64_LEN];
    int n;
    int err;
};

static void add_hash(struct csp_hashes *h, const char *text, size_t len)
{
    unsigned char d[crypto_hash_sha256_BYTES];
    char b64[CSP_B64_LEN];
    crypto_hash_sha256(d, (const unsigned char *)text, len);
    sodium_bin2base64(b64, sizeof b64, d, sizeof d, sodium_base64_VARIANT_ORIGINAL);
    for (int i = 0; i < h->n; i++)
        if (!strcmp(h->b64[i], b64))
            return;
    if (h->n == CSP_MAX_HASHES) {
        h->err = -E2BIG;
        return;
    }
    memcpy(h->b64[h->n++], b64, sizeof b64);
}

/* Every <script type="importmap">…</script> of one page. */
static void scan_page(struct csp_hashes *h, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    char *buf = malloc(CSP_FILE_MAX + 1);
    size_t len = buf ? fread(buf, 1, CSP_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf)
        return;
    if (len > CSP_FILE_MAX) {
        log_warn("web_root: a page over 1 MiB is not searched for an import map");
        free(buf);
        return;
    }
    buf[len] = '\0';
    for (char *p = buf; (p = strstr(p, map_open)) != NULL;) {
        p += sizeof(map_open) - 1;
        char *end = strstr(p, map_close);
        if (!end)
            break;
        add_hash(h, p, (size_t)(end - p));
        p = end + sizeof(map_close) - 1;
    }
    free(buf);
}

static void scan_dir(struct csp_hashes *h, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        size_t nl = strlen(e->d_name);
        if (S_ISDIR(st.st_mode) && depth > 0)
            scan_dir(h, path, depth - 1);
        else if (S_ISREG(st.st_mode) && nl > 5 && !strcmp(e->d_name + nl - 5, ".html"))
            scan_page(h, path);
    }
    closedir(d);
}

static int cmp_b64(const void *a, const void *b)
{
    return strcmp(a, b);
}

int csp_build(const char *web_root, char *out, size_t cap)
{
    struct csp_hashes h = {.n = 0, .err = 0};
    if (sodium_init() < 0)
        return -EIO;
    scan_dir(&h, web_root, CSP_DEPTH);
    if (h.err)
        return h.err;
    /* a fixed order: the same pages give the same header */
    qsort(h.b64, (size_t)h.n, sizeof h.b64[0], cmp_b64);
    char extra[CSP_MAX_HASHES * (CSP_B64_LEN + 12)] = "";
    size_t used = 0;
    for (int i = 0; i < h.n; i++)
        used += (size_t)snprintf(extra + used, sizeof extra - used, " 'sha256-%s'", h.b64[i]);
    int n = snprintf(out, cap,
                     "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'%s; connect-src "
                     "'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; "
                     "base-uri 'none'; form-action 'none'",
                     extra);
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return h.n;
}
