import { test } from 'node:test';
import assert from 'node:assert/strict';

import { LIFETIMES, describeLink, shareUrl } from '../../share.js';
import { Stats, describePeer } from '../../stats.js';

test('share links become absolute below the page, also under a base path', () => {
  assert.equal(shareUrl('share?t=l.a.viewer.1.ff', 'https://h:3000/'), 'https://h:3000/share?t=l.a.viewer.1.ff');
  assert.equal(shareUrl('share?t=x', 'https://proxy.example/desk/'), 'https://proxy.example/desk/share?t=x');
  assert.equal(shareUrl('share?t=x', 'https://proxy.example/desk/index.html'), 'https://proxy.example/desk/share?t=x');
});

test('links are described by role, label and time left', () => {
  const now = 1_000_000;
  assert.equal(describeLink({ role: 'viewer', label: 'guest', expires: now + 3 * 3600 }, now), 'viewer · guest · expires in 3 h');
  assert.equal(describeLink({ role: 'controller', label: '', expires: now + 90 }, now), 'controller · expires in 2 min');
  assert.equal(describeLink({ role: 'viewer', label: '', expires: now + 7 * 86400 }, now), 'viewer · expires in 7 days');
  assert.equal(describeLink({ role: 'viewer', label: '', expires: now - 5 }, now), 'viewer · expires in 1 min');
  assert.ok(LIFETIMES.every(([, s]) => s >= 60 && s <= 30 * 86400));
});

test('connected sessions become stats rows', () => {
  const s = new Stats();
  const before = s.rows().length;
  s.applyPeers([
    { identity: 'owner', role: 'controller', you: true },
    { identity: 'guest #3f2a', role: 'viewer', you: false },
  ]);
  const rows = s.rows().filter(([k]) => k === 'connected').map(([, v]) => v);
  assert.deepEqual(rows, ['owner · controller · you', 'guest #3f2a · viewer']);
  s.applyPeers('garbage');
  assert.equal(s.rows().length, before);
  assert.equal(describePeer({ identity: 'a', role: 'viewer', you: false }), 'a · viewer');
});
