import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SILENCE_MS, isSilent } from '../../connection.js';

test('a connection with nothing unanswered is never silent', () => {
  assert.equal(isSilent(null, 1e9), false);
});

test('silence counts from the first message sent that nothing followed', () => {
  assert.equal(isSilent(1000, 1000 + SILENCE_MS), false);
  assert.equal(isSilent(1000, 1001 + SILENCE_MS), true);
  assert.equal(isSilent(0, 2500, 2000), true);
  assert.equal(isSilent(0, 1500, 2000), false);
});
