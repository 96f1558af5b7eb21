import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileUrl, formatBytes } from '../../files.js';

test('listed paths become api/files URLs with each component encoded', () => {
  assert.equal(fileUrl('a b/r\u00e9sum\u00e9 #1.pdf', 'https://h:3000/skerry/'),
    'https://h:3000/skerry/api/files/a%20b/r%C3%A9sum%C3%A9%20%231.pdf');
  assert.equal(fileUrl('x?y', 'https://h/'), 'https://h/api/files/x%3Fy');
});

test('sizes read in binary units', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(9 * 1024 * 1024), '9.0 MiB');
});
