/* fuzz_config.c — config_load_stream on arbitrary bytes. A configuration file is
 * operator input, but a typo must stop start-up with a message, never crash or
 * read out of bounds. Whatever loads must hold values inside the table's bounds
 * and an error message must be one NUL-terminated line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static struct config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer */
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    memset(err, 0x5a, sizeof err);
    err[sizeof err - 1] = 0;
    int rc = config_load_stream(&cfg, f, "fuzz", err, sizeof err);
    fclose(f);
    if (rc != 0) {
        /* A refusal says why, in one line. */
        if (memchr(err, 0, sizeof err) == NULL || strchr(err, '\n') != NULL || err[0] == 0)
            abort();
        return 0;
    }
    if (cfg.listen_port < 1 || cfg.listen_port > 65535 || cfg.topic_count < 1 ||
        cfg.topic_count > CONFIG_MAX_TOPICS || cfg.resume_grace < 0 || cfg.queue_max < 1)
        abort();
    for (int i = 0; i < cfg.topic_count; i++)
        if (memchr(cfg.topics[i], 0, sizeof cfg.topics[i]) == NULL || cfg.topics[i][0] == 0)
            abort();
    if (memchr(cfg.db, 0, sizeof cfg.db) == NULL)
        abort();
    return 0;
}
