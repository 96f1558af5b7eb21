import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as h264 from '../../h264.js';

// SPS headers as x264 writes them: NAL header 0x67, then profile_idc, constraint flags, level.
const SPS_HIGH_40 = [0x67, 0x64, 0x00, 0x28, 0xac, 0xd9];
const SPS_BASELINE_31 = [0x67, 0x42, 0xc0, 0x1f, 0x8c, 0x8d];
const SPS_444_40 = [0x67, 0xf4, 0x00, 0x28, 0x91, 0x9b];
const PPS = [0x68, 0xeb, 0xe3, 0xcb];
const IDR = [0x65, 0x88, 0x84, 0x00];
const SLICE = [0x41, 0x9a, 0x21];

const annexB = (...nals) => new Uint8Array(nals.flatMap((n, i) => [...(i % 2 ? [0, 0, 1] : [0, 0, 0, 1]), ...n]));

test('splits NAL units at 3- and 4-byte start codes', () => {
  const au = annexB(SPS_HIGH_40, PPS, IDR);
  const nals = [...h264.nalUnits(au)].map((n) => [...n]);
  assert.deepEqual(nals, [SPS_HIGH_40, PPS, IDR]);
  assert.deepEqual([...h264.nalUnits(new Uint8Array([1, 2, 3]))], []);
});

test('codec string from the SPS', () => {
  assert.equal(h264.codecFromSps(h264.findSps(annexB(SPS_HIGH_40, PPS, IDR))), 'avc1.640028');
  assert.equal(h264.codecFromSps(h264.findSps(annexB(SPS_BASELINE_31, PPS, IDR))), 'avc1.42C01F');
  const c444 = h264.codecFromSps(h264.findSps(annexB(SPS_444_40, PPS, IDR)));
  assert.equal(c444, 'avc1.F40028');
  assert.ok(h264.isHigh444(c444));
  assert.ok(!h264.isHigh444('avc1.640028'));
});

test('emulation prevention bytes are removed before reading the SPS', () => {
  // profile 0x00? No real profile is 0, but constraint 0 and level 3 after two zeros are
  // escaped: 00 00 03 03 → 00 00 03.
  const sps = new Uint8Array([0x67, 0x00, 0x00, 0x03, 0x03]);
  assert.equal(h264.codecFromSps(sps), 'avc1.000003');
  assert.deepEqual([...h264.unescapeRbsp(new Uint8Array([0, 0, 3, 1, 0, 0, 3, 0]))], [0, 0, 1, 0, 0, 0]);
});

test('finds SPS and IDR only where present', () => {
  assert.equal(h264.findSps(annexB(SLICE)), null);
  assert.ok(h264.hasIdr(annexB(SPS_HIGH_40, PPS, IDR)));
  assert.ok(!h264.hasIdr(annexB(SLICE)));
  assert.throws(() => h264.codecFromSps(new Uint8Array([0x67, 0x64])));
});

test('sameBytes compares content', () => {
  assert.ok(h264.sameBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
  assert.ok(!h264.sameBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
  assert.ok(!h264.sameBytes(null, new Uint8Array([1])));
});
