import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as proto from '../../proto.js';

// Byte layouts written out by hand from docs/protocol.md.

test('video header parses every field little-endian', () => {
  const bytes = new Uint8Array([
    0x01, // kind video
    0x01, // codec H.264
    0b1011, // keyframe | refresh | end of frame
    0x00, // reserved
    0x78, 0x56, 0x34, 0x12, // frame id 0x12345678
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // capture time 0x0102030405060708
    0x10, 0x00, // x 16
    0x20, 0x01, // y 288
    0x80, 0x07, // width 1920
    0x38, 0x04, // height 1080
    0x80, 0x07, // frame width 1920
    0x38, 0x04, // frame height 1080
    0xaa, 0xbb, 0xcc, // payload
  ]);
  const m = proto.parseBinary(bytes.buffer);
  assert.equal(m.kind, 'video');
  assert.equal(m.codec, proto.CODEC_H264);
  assert.equal(m.keyframe, true);
  assert.equal(m.refresh, true);
  assert.equal(m.chroma444, false);
  assert.equal(m.endOfFrame, true);
  assert.equal(m.frameId, 0x12345678);
  assert.equal(m.captureTimeUs, 0x0102030405060708n);
  assert.deepEqual([m.x, m.y, m.width, m.height], [16, 288, 1920, 1080]);
  assert.deepEqual([m.frameWidth, m.frameHeight], [1920, 1080]);
  assert.deepEqual([...m.payload], [0xaa, 0xbb, 0xcc]);
});

test('JPEG region with 4:4:4 flag and no end of frame', () => {
  const bytes = new Uint8Array(28 + 2);
  bytes.set([0x01, 0x02, 0b0100, 0, 0xff, 0xff, 0xff, 0xff]);
  bytes.set([0, 0, 0x40, 0x00, 0x00, 0x05, 0x40, 0x00, 0x00, 0x05, 0xd0, 0x02], 16);
  bytes.set([0xff, 0xd8], 28);
  const m = proto.parseBinary(bytes);
  assert.equal(m.codec, proto.CODEC_JPEG);
  assert.equal(m.keyframe, false);
  assert.equal(m.chroma444, true);
  assert.equal(m.endOfFrame, false);
  assert.equal(m.frameId, 0xffffffff);
  assert.deepEqual([m.x, m.y, m.width, m.height, m.frameWidth, m.frameHeight], [0, 64, 1280, 64, 1280, 720]);
  assert.deepEqual([...m.payload], [0xff, 0xd8]);
});

test('H.264 P-frame with a damage list, and an overlay tile', () => {
  const list = [
    0x02, 0x00, // two rectangles
    0x10, 0x00, 0x20, 0x00, 0x30, 0x00, 0x10, 0x00, // x 16, y 32, 48x16
    0x00, 0x00, 0x30, 0x04, 0x80, 0x07, 0x08, 0x00, // x 0, y 1072, 1920x8
  ];
  const bytes = new Uint8Array(28 + list.length + 2);
  bytes.set([0x01, 0x01, 0b11_0000, 0, 1, 0, 0, 0]);
  bytes.set(list, 28);
  bytes.set([0x00, 0x01], 28 + list.length);
  const m = proto.parseBinary(bytes);
  assert.deepEqual(m.damage, [
    { x: 16, y: 32, width: 48, height: 16 },
    { x: 0, y: 1072, width: 1920, height: 8 },
  ]);
  assert.equal(m.overlay, true);
  assert.deepEqual([...m.payload], [0x00, 0x01]);
  // Without the flag there is no list and the payload starts at once.
  bytes[2] = 0;
  const plain = proto.parseBinary(bytes);
  assert.equal(plain.damage, null);
  assert.equal(plain.overlay, false);
  assert.equal(plain.payload.length, list.length + 2);
});

test('a truncated or oversized damage list is a protocol error', () => {
  const short = new Uint8Array(28 + 2 + 4);
  short.set([0x01, 0x01, 0b1_0000, 0]);
  short.set([0x01, 0x00], 28);
  assert.throws(() => proto.parseBinary(short), proto.ProtocolError);
  const many = new Uint8Array(28 + 2 + 65 * 8);
  many.set([0x01, 0x01, 0b1_0000, 0]);
  many.set([65, 0], 28);
  assert.throws(() => proto.parseBinary(many), /65 rectangles/);
  assert.throws(() => proto.parseBinary(new Uint8Array(28).fill(0x10, 2, 3).fill(1, 0, 2)), proto.ProtocolError);
});

test('parses a view with a non-zero byte offset', () => {
  const backing = new Uint8Array(3 + 12);
  backing.set([0x03, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x10, 0x00, 0x00, 0x00], 3);
  const m = proto.parseBinary(backing.subarray(3));
  assert.deepEqual(m, { kind: 'cursorPosition', x: -2, y: 16 });
});

test('cursor image with pixels', () => {
  const bytes = new Uint8Array(16 + 2 * 1 * 4);
  bytes.set([0x02, 0x00, 0, 0, 0x07, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00]);
  bytes.set([255, 0, 0, 255, 0, 255, 0, 128], 16);
  const m = proto.parseBinary(bytes.buffer);
  assert.equal(m.kind, 'cursor');
  assert.equal(m.hidden, false);
  assert.equal(m.serial, 7);
  assert.deepEqual([m.hotspotX, m.hotspotY, m.width, m.height], [1, 0, 2, 1]);
  assert.deepEqual([...m.rgba], [255, 0, 0, 255, 0, 255, 0, 128]);
});

test('hidden cursor carries no pixels', () => {
  const bytes = new Uint8Array([0x02, 0x01, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const m = proto.parseBinary(bytes.buffer);
  assert.equal(m.hidden, true);
  assert.equal(m.serial, 9);
  assert.equal(m.rgba, null);
});

test('malformed binary messages are rejected', () => {
  assert.throws(() => proto.parseBinary(new Uint8Array([]).buffer), proto.ProtocolError);
  assert.throws(() => proto.parseBinary(new Uint8Array([0x01, 1, 0]).buffer), proto.ProtocolError);
  assert.throws(() => proto.parseBinary(new Uint8Array([0x09]).buffer), proto.ProtocolError);
  // cursor claims 2x2 pixels but carries 4 bytes
  const short = new Uint8Array(16 + 4);
  short.set([0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0]);
  assert.throws(() => proto.parseBinary(short.buffer), /truncated/);
  const huge = new Uint8Array(16);
  huge.set([0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01, 1, 0]); // width 257
  assert.throws(() => proto.parseBinary(huge.buffer), /larger/);
});

test('text messages need a type', () => {
  assert.deepEqual(proto.parseText('{"type":"pong","t":5}'), { type: 'pong', t: 5 });
  assert.throws(() => proto.parseText('{"t":5}'), proto.ProtocolError);
  assert.throws(() => proto.parseText('nope'), proto.ProtocolError);
  assert.throws(() => proto.parseText('null'), proto.ProtocolError);
});

test('client messages match the documented JSON', () => {
  assert.deepEqual(JSON.parse(proto.hello({ h264: true, h264_444: false, jpeg: 1 }, { width: 1280, height: 720, scale: 1.5 })), {
    type: 'hello',
    version: 1,
    decoders: { h264: true, h264_444: false, jpeg: true },
    width: 1280,
    height: 720,
    scale: 1.5,
  });
  assert.deepEqual(JSON.parse(proto.hello({}, null)), {
    type: 'hello',
    version: 1,
    decoders: { h264: false, h264_444: false, jpeg: false },
  });
  assert.equal(proto.key('KeyA', true), '{"type":"key","code":"KeyA","down":true}');
  assert.equal(proto.text('é'), '{"type":"text","text":"é"}');
  assert.equal(proto.pointer(1.5, 2), '{"type":"pointer","x":1.5,"y":2}');
  assert.equal(proto.pointerRel(-1, 3), '{"type":"pointer_rel","dx":-1,"dy":3}');
  assert.equal(proto.button(2, false), '{"type":"button","button":2,"down":false}');
  assert.equal(proto.wheel(0, 120, 0), '{"type":"wheel","dx":0,"dy":120,"mode":0}');
  assert.equal(proto.releaseAll(), '{"type":"release_all"}');
  assert.equal(proto.resize(1920, 1080, 1), '{"type":"resize","width":1920,"height":1080,"scale":1}');
  assert.equal(proto.keyframe(), '{"type":"keyframe"}');
  assert.equal(proto.ping(12.5), '{"type":"ping","t":12.5}');
});

test('settings keeps only known fields', () => {
  assert.deepEqual(JSON.parse(proto.settings({ encoder: 'jpeg', bogus: 1, manual_resolution: null })), {
    type: 'settings',
    encoder: 'jpeg',
    manual_resolution: null,
  });
});

test('long text is split at the byte limit without cutting characters', () => {
  const s = 'a'.repeat(4095) + '€' + 'b';
  const parts = proto.splitText(s);
  assert.equal(parts.length, 2);
  assert.equal(parts[0], 'a'.repeat(4095));
  assert.equal(parts[1], '€b');
  for (const p of proto.splitText('😀'.repeat(3000))) {
    assert.ok(Buffer.byteLength(p, 'utf8') <= proto.TEXT_MAX_BYTES);
  }
  assert.equal(proto.splitText('😀'.repeat(3000)).join(''), '😀'.repeat(3000));
  assert.deepEqual(proto.splitText(''), []);
});
