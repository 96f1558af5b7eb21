import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buttonChanges } from '../../input.js';

test('button masks become protocol button numbers', () => {
  assert.deepEqual(buttonChanges(0, 1), [{ button: 0, down: true }]);
  assert.deepEqual(buttonChanges(1, 0), [{ button: 0, down: false }]);
  // PointerEvent.buttons: 2 is the secondary (right) button, 4 the auxiliary (middle)
  assert.deepEqual(buttonChanges(0, 2), [{ button: 2, down: true }]);
  assert.deepEqual(buttonChanges(0, 4), [{ button: 1, down: true }]);
  assert.deepEqual(buttonChanges(0, 8 | 16), [
    { button: 3, down: true },
    { button: 4, down: true },
  ]);
});

test('chorded presses and swaps: releases first', () => {
  assert.deepEqual(buttonChanges(1, 3), [{ button: 2, down: true }]);
  assert.deepEqual(buttonChanges(1, 2), [
    { button: 0, down: false },
    { button: 2, down: true },
  ]);
  assert.deepEqual(buttonChanges(5, 5), []);
  // pen eraser (32) and unknown bits are ignored
  assert.deepEqual(buttonChanges(0, 32), []);
});
