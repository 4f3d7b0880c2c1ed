/* csp.h — the Content-Security-Policy that lotsed sends with every HTTP
 * response. The browser client's pages hold an inline
 * <script type="importmap"> whose "integrity" section names the SHA-384 of each
 * JavaScript module, so that the browser checks every module it imports
 * (Subresource Integrity, deploy/README.md "Trust root"). An inline script runs
 * only when the policy names its SHA-256: csp_build takes those hashes from the
 * pages in web_root at start. */
#ifndef LOTSE_CSP_H
#define LOTSE_CSP_H

#include <stddef.h>

/* At most this many distinct import maps (each adds 'sha256-…' to script-src). */
#define CSP_MAX_HASHES 8
/* Room for the policy with CSP_MAX_HASHES hashes. */
#define CSP_MAX 1024

/* Writes the policy into out (cap >= CSP_MAX): the fixed policy, with
 * 'sha256-<base64>' in script-src for each distinct import map found in the
 * *.html files under web_root (three levels deep, files up to 1 MiB). A missing
 * or unreadable web_root gives the policy without hashes. Returns the number of
 * hashes, or -E2BIG (more than CSP_MAX_HASHES import maps) / -ENOSPC. */
int csp_build(const char *web_root, char *out, size_t cap);

#endif
