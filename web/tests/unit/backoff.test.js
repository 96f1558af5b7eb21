import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKOFF_JITTER, backoffDelay } from '../../backoff.js';
import { wsUrl } from '../../connection.js';

test('backoff doubles from 0.5 s to a 10 s cap without jitter', () => {
  const none = () => 0;
  const schedule = [0, 1, 2, 3, 4, 5, 6, 50].map((a) => backoffDelay(a, none));
  assert.deepEqual(schedule, [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
});

test('jitter only shortens the delay, by at most the jitter fraction', () => {
  for (const r of [0, 0.3, 0.999]) {
    for (let a = 0; a < 8; a++) {
      const base = Math.min(10000, 500 * 2 ** a);
      const d = backoffDelay(a, () => r);
      assert.ok(d <= base && d >= base * (1 - BACKOFF_JITTER) - 1, `attempt ${a} r ${r}: ${d}`);
    }
  }
  assert.equal(backoffDelay(0, () => 0.5), 438);
});

test('WebSocket URL follows the page scheme and base path', () => {
  assert.equal(wsUrl('https://host:3000/'), 'wss://host:3000/ws');
  assert.equal(wsUrl('http://127.0.0.1:8080/index.html?x=1#y'), 'ws://127.0.0.1:8080/ws');
  assert.equal(wsUrl('https://example.org/desk/alice/'), 'wss://example.org/desk/alice/ws');
});
