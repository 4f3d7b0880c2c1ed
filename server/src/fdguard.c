/* fdguard.c — keeps lotsed answering at its open-files limit.
 *
 * accept() returns the lowest free descriptor, so a new connection whose
 * descriptor is at or above (limit - reserve) means every descriptor below that
 * is in use. Such a connection is answered "503, try again" and closed at once
 * (in LWS_CALLBACK_FILTER_NETWORK_CONNECTION, before lws spends anything on it).
 * The reserve stays for what open connections need: static files, the database
 * socket, a reconnect.
 *
 * Should the limit be hit anyway (say many slow static-file readers each hold a
 * file open), accept() fails with EMFILE. lws 4.1 then logs "accept: errno 24"
 * and returns with the listener still readable: the event loop would
 * spin at 100 % CPU writing that line (issue 11). We see that line in the lws log
 * filter, and then (1) use the classic spare descriptor: close it, accept the
 * waiting connections, answer 503, close them, open the spare again; (2) pause
 * the listeners (lws_rx_flow_control) until the next tick, so nothing spins even
 * when the spare could not be had. The line itself is counted, not written. */
#include "fdguard.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <libwebsockets.h>

#include "log.h"

#define FDGUARD_MAX_LISTENERS 4
#define FDGUARD_LOG_EVERY_MS  10000

static int threshold = -1; /* -1: no limit known, admit all */
static int limit_fds;
static int spare = -1;
static uint64_t refused, refused_logged, emfile_seen;
static int64_t last_log_ms;
static bool refusing;
static struct lws *listeners[FDGUARD_MAX_LISTENERS];
static int nlisteners;
static bool paused;

static const char busy_answer[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Content-Length: 49\r\n"
                                  "Retry-After: 10\r\n"
                                  "Cache-Control: no-store\r\n"
                                  "Content-Security-Policy: default-src 'none'; "
                                  "frame-ancestors 'none'\r\n"
                                  "X-Content-Type-Options: nosniff\r\n"
                                  "Referrer-Policy: no-referrer\r\n"
                                  "X-Frame-Options: DENY\r\n"
                                  "Connection: close\r\n"
                                  "\r\n"
                                  "{\"status\":\"busy\",\"error\":\"too_many_connections\"}\n";
_Static_assert(sizeof("{\"status\":\"busy\",\"error\":\"too_many_connections\"}\n") - 1 == 49,
               "Content-Length of busy_answer");

/* Answers a connection we cannot keep, without blocking: whatever the client
 * sent so far is read first (closing with unread data would reset the
 * connection and could discard our answer), then 503 and our half closed. The
 * caller closes fd. */
static void answer_busy(int fd)
{
    char sink[2048];
    for (int i = 0; i < 4 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
        ;
    ssize_t n = send(fd, busy_answer, sizeof(busy_answer) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)n; /* nothing more we can do for it */
    shutdown(fd, SHUT_WR);
    refused++;
    refusing = true;
}

static void remember_listener(struct lws *listen_wsi)
{
    for (int i = 0; i < nlisteners; i++)
        if (listeners[i] == listen_wsi)
            return;
    if (nlisteners < FDGUARD_MAX_LISTENERS)
        listeners[nlisteners++] = listen_wsi;
}

/* accept() failed with EMFILE/ENFILE inside lws (we are in its log call). */
static void on_accept_exhausted(void)
{
    emfile_seen++;
    if (spare >= 0) {
        close(spare);
        spare = -1;
        for (int i = 0; i < nlisteners; i++) {
            int lfd = lws_get_socket_fd(listeners[i]);
            if (lfd < 0)
                continue;
            int fd;
            while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                answer_busy(fd);
                close(fd);
            }
        }
        spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    /* Whether or not the spare helped, stop polling the listeners until the next
     * tick: a readable listener we cannot accept from must not spin the loop. */
    if (!paused) {
        paused = true;
        for (int i = 0; i < nlisteners; i++)
            lws_rx_flow_control(listeners[i], 0);
    }
    refusing = true;
}

/* lws log lines pass here first; true swallows the line. */
static bool lws_line_filter(int lws_level, const char *msg)
{
    (void)lws_level;
    /* lws 4.1.6 writes "accept: errno 24"; other releases strerror() */
    if (strncmp(msg, "accept: ", 8) != 0)
        return false;
    if (!strstr(msg, "errno 24") && !strstr(msg, "errno 23") && !strstr(msg, strerror(EMFILE)) &&
        !strstr(msg, strerror(ENFILE)))
        return false;
    on_accept_exhausted();
    return true;
}

int fdguard_init(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -errno;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)1 << 30)
        limit_fds = 1 << 30;
    else
        limit_fds = (int)rl.rlim_cur;
    int reserve = limit_fds / 32;
    if (reserve < 16)
        reserve = 16;
    if (reserve > 512)
        reserve = 512;
    threshold = limit_fds - reserve;
    if (threshold < 8)
        threshold = 8;
    spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (spare < 0)
        return -errno;
    log_set_lws_filter(lws_line_filter);
    log_info("open files: limit %d; new connections are refused from descriptor %d on", limit_fds,
             threshold);
    return 0;
}

void fdguard_destroy(void)
{
    log_set_lws_filter(NULL);
    if (spare >= 0)
        close(spare);
    spare = -1;
    nlisteners = 0;
    paused = false;
}

/* Whether wsi is a listening socket (lws passes the listener to
 * FILTER_NETWORK_CONNECTION; anything else is not a new connection to judge). */
static bool is_listener(struct lws *wsi)
{
    int lfd = wsi ? lws_get_socket_fd(wsi) : -1, on = 0;
    socklen_t len = sizeof(on);
    return lfd >= 0 && getsockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

int fdguard_filter(struct lws *listen_wsi, int fd)
{
    if (!is_listener(listen_wsi))
        return 0;
    remember_listener(listen_wsi);
    if (threshold < 0 || fd < threshold)
        return 0;
    answer_busy(fd);
    return 1; /* lws closes fd */
}

void fdguard_tick(int64_t now_ms)
{
    if (paused) {
        paused = false;
        for (int i = 0; i < nlisteners; i++)
            lws_rx_flow_control(listeners[i], 1);
    }
    if (!refusing || now_ms - last_log_ms < FDGUARD_LOG_EVERY_MS)
        return;
    last_log_ms = now_ms;
    uint64_t n = refused - refused_logged;
    refused_logged = refused;
    if (n == 0 && emfile_seen == 0) {
        refusing = false;
        log_warn("open files: below the limit again; new connections are accepted");
        return;
    }
    log_warn("open files at the limit (%d): %llu new connections refused with 503 in the last "
             "%d s%s",
             limit_fds, (unsigned long long)n, FDGUARD_LOG_EVERY_MS / 1000,
             emfile_seen ? "; the limit itself was reached (raise LimitNOFILE)" : "");
    emfile_seen = 0;
}

uint64_t fdguard_refused(void)
{
    return refused;
}

int fdguard_threshold(void)
{
    return threshold;
}
