/* clock.h — the one clock of lotsed: monotonic milliseconds (CLOCK_MONOTONIC).
 * Layer 0: every module reads the time here. */
#ifndef LOTSE_CLOCK_H
#define LOTSE_CLOCK_H

#include <stdint.h>

/* Monotonic milliseconds. */
int64_t hub_now_ms(void);

#endif
