/* clock: the two clocks of the core, in milliseconds. */
#ifndef COS_BASE_CLOCK_H
#define COS_BASE_CLOCK_H
/* Monotonic: deadlines, throttles, backoff. */
double cos_clock_mono_ms(void);
/* Wall clock (Unix epoch): signatures' key times, server-time comparisons. */
double cos_clock_wall_ms(void);
#endif
