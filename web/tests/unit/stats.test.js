import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Stats, describeService } from '../../stats.js';

test('the supervisor status becomes one row per service', () => {
  const s = new Stats();
  s.applyStatus({
    version: 1,
    ready: true,
    services: [
      { name: 'compositor', state: 'running', restarts: 0, cpu_seconds: 1.25, rss_bytes: 41_000_000 },
      { name: 'streamer', state: 'running', restarts: 1, cpu_seconds: null, rss_bytes: null },
    ],
  });
  const rows = Object.fromEntries(s.rows());
  assert.equal(rows.compositor, 'running · 1.25 s CPU · 41 MB');
  assert.equal(rows.streamer, 'running · 1 restart');
});

test('no supervisor (a bare streamer) or a bad answer adds no rows', () => {
  const s = new Stats();
  const before = s.rows().length;
  s.applyStatus({ streamer: { viewers: 1 } });
  assert.equal(s.rows().length, before);
  s.applyStatus(null);
  assert.equal(s.rows().length, before);
});

test('restarts are counted in words', () => {
  const base = { name: 'x', state: 'backoff', cpuSeconds: null, rssBytes: null };
  assert.equal(describeService({ ...base, restarts: 0 }), 'backoff');
  assert.equal(describeService({ ...base, restarts: 3 }), 'backoff · 3 restarts');
});
