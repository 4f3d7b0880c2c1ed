/* ctl_keys.c — Ed25519 key files: orgkey-create, netkey-create, device-keygen,
 * and reading them.
 *
 * Format: FILE holds one line, base64url (no padding) of the 64-byte Ed25519
 * secret key; FILE.pub one line of the 32-byte public key. The secret file is
 * created with O_EXCL and mode 0600, and secret material lives only in
 * sodium_malloc'd memory (guarded, wiped by sodium_free). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "ctl.h"
#include "lotse/proto.h"

#define B64_SK_LEN 86 /* 64 bytes, base64url without padding */
#define B64_PK_LEN 43

/* Writes all of buf to a new file (O_EXCL); 0 or -errno. */
static int write_new_file(const char *path, const char *buf, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = errno ? errno : EIO;
            close(fd);
            unlink(path);
            return -err;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int err = errno;
        unlink(path);
        return -err;
    }
    return 0;
}

/* Makes a key pair and writes FILE and FILE.pub; prints the public key. */
static int keygen(const char *out, const char *what)
{
    char pub_path[4096];
    if ((size_t)snprintf(pub_path, sizeof(pub_path), "%s.pub", out) >= sizeof(pub_path)) {
        ctl_error("path too long");
        return CTL_USAGE;
    }
    /* Refuse before making anything, so a failure leaves no half pair behind. */
    struct stat st;
    if (lstat(out, &st) == 0 || lstat(pub_path, &st) == 0) {
        ctl_error("%s or %s already exists; refusing to overwrite a key", out, pub_path);
        return CTL_FAIL;
    }
    uint8_t pk[CTL_PK_BYTES];
    uint8_t *sk = sodium_malloc(CTL_SK_BYTES);
    char *sk_text = sodium_malloc(B64_SK_LEN + 2);
    if (!sk || !sk_text) {
        sodium_free(sk);
        sodium_free(sk_text);
        ctl_error("out of memory");
        return CTL_FAIL;
    }
    crypto_sign_keypair(pk, sk);
    int rc = CTL_FAIL;
    char pk_text[B64_PK_LEN + 2];
    int n = lotse_b64_encode(sk_text, B64_SK_LEN + 1, sk, CTL_SK_BYTES);
    int m = lotse_b64_encode(pk_text, B64_PK_LEN + 1, pk, CTL_PK_BYTES);
    if (n != B64_SK_LEN || m != B64_PK_LEN) {
        ctl_error("base64 encoding failed");
        goto out;
    }
    sk_text[n] = '\n';
    pk_text[m] = '\n';
    int err = write_new_file(out, sk_text, (size_t)n + 1, 0600);
    if (err < 0) {
        ctl_error("cannot create %s: %s", out, strerror(-err));
        goto out;
    }
    err = write_new_file(pub_path, pk_text, (size_t)m + 1, 0644);
    if (err < 0) {
        ctl_error("cannot create %s: %s", pub_path, strerror(-err));
        unlink(out);
        goto out;
    }
    pk_text[m] = '\0';
    fprintf(stderr, "lotsectl: %s secret key in %s (keep it offline), public key in %s\n", what,
            out, pub_path);
    printf("%s\n", pk_text);
    rc = CTL_OK;
out:
    sodium_free(sk);
    sodium_free(sk_text);
    return rc;
}

static int keygen_command(int argc, char **argv, const char *what, const char *help)
{
    const char *out = NULL;
    const struct ctl_opt opts[] = {CTL_NEEDED("out", 'o', &out), {0}};
    int rc;
    if (!ctl_options(argc, argv, opts, help, "needs --out FILE and nothing else", &rc))
        return rc;
    return keygen(out, what);
}

int ctl_cmd_orgkey_create(const char *conninfo, int argc, char **argv)
{
    return keygen_command(argc, argv, "organisation",
                          "usage: lotsectl orgkey-create --out FILE\n"
                          "Makes the organisation's Ed25519 key: FILE gets the secret key (mode\n"
                          "0600), FILE.pub the public key; both base64url, one line. Refuses to\n"
                          "overwrite. Prints the public key, which the web client pins. Keep FILE\n"
                          "offline; it is needed only for device-certify. No database is used.\n");
}

int ctl_cmd_netkey_create(const char *conninfo, int argc, char **argv)
{
    return keygen_command(argc, argv, "network",
                          "usage: lotsectl netkey-create --out FILE\n"
                          "Makes the network's Ed25519 root key, in the same format as\n"
                          "orgkey-create. Prints the public key, which the web client pins as a\n"
                          "\"network\" root. Keep FILE offline (not on the server); it is needed\n"
                          "only for org-certify. No database is used.\n");
}

int ctl_cmd_device_keygen(const char *conninfo, int argc, char **argv)
{
    return keygen_command(argc, argv, "device",
                          "usage: lotsectl device-keygen --out FILE\n"
                          "Makes an Ed25519 device key for a C client or a demo, in the same\n"
                          "format as orgkey-create. Prints the public key (for device-certify).\n");
}

int ctl_key_parse_public(const char *text, uint8_t pk[CTL_PK_BYTES])
{
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    if (len != B64_PK_LEN || lotse_b64_decode(pk, CTL_PK_BYTES, text, len) != CTL_PK_BYTES)
        return -1;
    return 0;
}

int ctl_key_read_secret(const char *path, uint8_t **sk_out)
{
    *sk_out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ctl_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 0077))
        fprintf(stderr, "lotsectl: warning: %s is readable by others (mode %03o)\n", path,
                (unsigned)(st.st_mode & 0777));
    enum { CAP = 128 };
    char *text = sodium_malloc(CAP);
    uint8_t *sk = sodium_malloc(CTL_SK_BYTES);
    if (!text || !sk) {
        close(fd);
        sodium_free(text);
        sodium_free(sk);
        ctl_error("out of memory");
        return -1;
    }
    size_t len = 0;
    ssize_t n;
    while (len < CAP && (n = read(fd, text + len, CAP - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    int ok = len == B64_SK_LEN && lotse_b64_decode(sk, CTL_SK_BYTES, text, len) == CTL_SK_BYTES;
    sodium_free(text);
    if (!ok) {
        sodium_free(sk);
        ctl_error("%s is not a lotse secret key file (one line of base64url, 64 bytes)", path);
        return -1;
    }
    *sk_out = sk;
    return 0;
}
