import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MSG_CLIPBOARD, PNG_MIME, TEXT_MIME, clipboardMessage, parseClipboard } from '../../clipboard.js';

test('server clipboard message: selection, type and data', () => {
  const mime = new TextEncoder().encode(TEXT_MIME);
  const data = new TextEncoder().encode('hé');
  const msg = new Uint8Array(4 + mime.length + data.length);
  msg.set([MSG_CLIPBOARD, 1, mime.length, 0]);
  msg.set(mime, 4);
  msg.set(data, 4 + mime.length);
  const parsed = parseClipboard(msg.buffer);
  assert.equal(parsed.selection, 'primary');
  assert.equal(parsed.mime, TEXT_MIME);
  assert.equal(parsed.isText, true);
  assert.equal(new TextDecoder().decode(parsed.data), 'hé');
});

test('other kinds and short messages are not clipboard messages', () => {
  assert.equal(parseClipboard(new Uint8Array([0x01, 0, 0, 0]).buffer), null);
  assert.equal(parseClipboard(new Uint8Array([MSG_CLIPBOARD, 0, 9, 0, 1]).buffer), null);
});

test('client clipboard message layout', () => {
  const msg = clipboardMessage(0, PNG_MIME, new Uint8Array([0x89, 0x50]));
  assert.deepEqual([...msg], [0x11, 0, 9, 0, ...new TextEncoder().encode('image/png'), 0x89, 0x50]);
});
