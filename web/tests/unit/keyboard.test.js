import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyState, inputEventAction } from '../../keyboard.js';

const ev = (code, key, extra = {}) => ({ code, key, repeat: false, isComposing: false, keyCode: 0, ...extra });

test('physical keys go down and up by code, preventing browser shortcuts', () => {
  const s = new KeyState();
  assert.deepEqual(s.down(ev('ControlLeft', 'Control')), { action: 'key', code: 'ControlLeft', preventDefault: true });
  assert.deepEqual(s.down(ev('KeyW', 'w', { ctrlKey: true })), { action: 'key', code: 'KeyW', preventDefault: true });
  assert.deepEqual(s.up(ev('KeyW', 'w')), { action: 'key', code: 'KeyW', preventDefault: true });
  assert.deepEqual(s.up(ev('ControlLeft', 'Control')), { action: 'key', code: 'ControlLeft', preventDefault: true });
});

test('auto-repeat is not forwarded (the remote side repeats held keys)', () => {
  const s = new KeyState();
  assert.equal(s.down(ev('KeyA', 'a')).action, 'key');
  assert.deepEqual(s.down(ev('KeyA', 'a', { repeat: true })), { action: 'none', preventDefault: true });
  assert.equal(s.up(ev('KeyA', 'a')).action, 'key');
});

test('a key up without its down is not sent', () => {
  const s = new KeyState();
  assert.equal(s.up(ev('KeyB', 'b')).action, 'none');
});

test('IME composition keystrokes are left to the IME', () => {
  const s = new KeyState();
  assert.deepEqual(s.down(ev('KeyN', 'n', { isComposing: true })), { action: 'none', preventDefault: false });
  assert.deepEqual(s.down(ev('KeyN', 'Process', { keyCode: 229 })), { action: 'none', preventDefault: false });
  assert.equal(s.up(ev('KeyN', 'n')).action, 'none');
});

test('unidentified keys with a character send text', () => {
  const s = new KeyState();
  assert.deepEqual(s.down(ev('', 'ü')), { action: 'text', text: 'ü', preventDefault: true });
  assert.deepEqual(s.down(ev('Unidentified', '😀')), { action: 'text', text: '😀', preventDefault: true });
  assert.deepEqual(s.down(ev('Unidentified', 'Unidentified')), { action: 'none', preventDefault: false });
});

test('a dead-key sequence sends the composed character as text', () => {
  const s = new KeyState();
  assert.deepEqual(s.down(ev('BracketLeft', 'Dead')), { action: 'none', preventDefault: true });
  assert.equal(s.up(ev('BracketLeft', 'Dead')).action, 'none');
  // Shift in between keeps the sequence (for capitals) and is itself a key
  assert.equal(s.down(ev('ShiftLeft', 'Shift')).code, 'ShiftLeft');
  assert.deepEqual(s.down(ev('KeyE', 'Ê', { shiftKey: true })), { action: 'text', text: 'Ê', preventDefault: true });
  assert.equal(s.up(ev('KeyE', 'Ê')).action, 'none');
  // afterwards keys are physical again
  assert.equal(s.down(ev('KeyE', 'e')).action, 'key');
});

test('a dead key followed by a non-character key ends the sequence', () => {
  const s = new KeyState();
  s.down(ev('Quote', 'Dead'));
  assert.equal(s.down(ev('ArrowLeft', 'ArrowLeft')).action, 'key');
  assert.equal(s.down(ev('KeyA', 'a')).action, 'key');
});

test('reset forgets held keys', () => {
  const s = new KeyState();
  s.down(ev('KeyA', 'a'));
  s.reset();
  assert.equal(s.up(ev('KeyA', 'a')).action, 'none');
});

test('mobile input events map to text or key taps', () => {
  assert.deepEqual(inputEventAction('insertText', 'hé'), { action: 'text', text: 'hé' });
  assert.deepEqual(inputEventAction('insertText', null), { action: 'none' });
  assert.deepEqual(inputEventAction('deleteContentBackward', null), { action: 'tap', code: 'Backspace' });
  assert.deepEqual(inputEventAction('insertLineBreak', null), { action: 'tap', code: 'Enter' });
  assert.deepEqual(inputEventAction('formatBold', null), { action: 'none' });
});
