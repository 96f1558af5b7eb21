// Reconnect delays: 0.5 s doubling up to 10 s, shortened by a random jitter so that many
// browsers reconnecting to a restarted streamer do not all arrive in the same instant.
// Pure; the random source is a parameter so tests pin the schedule.

export const BACKOFF_INITIAL_MS = 500;
export const BACKOFF_MAX_MS = 10_000;
export const BACKOFF_JITTER = 0.25;

/** Delay before reconnect attempt `attempt` (0-based), `random` in [0, 1). */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** Math.min(attempt, 30));
  return Math.round(base * (1 - BACKOFF_JITTER * random()));
}
