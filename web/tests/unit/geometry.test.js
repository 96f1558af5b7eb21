import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredSize, fitFrame, framePerCss, mapToFrame, snappedOffset } from '../../geometry.js';

test('a frame sized for the window is shown 1:1 in device pixels', () => {
  assert.deepEqual(fitFrame({ width: 2560, height: 1440 }, { width: 1280, height: 720 }, 2), {
    width: 1280,
    height: 720,
    scale: 0.5,
  });
  // odd CSS box rounded down to even device pixels still shows 1:1
  assert.deepEqual(fitFrame({ width: 1000, height: 600 }, { width: 1001, height: 601 }, 1), {
    width: 1000,
    height: 600,
    scale: 1,
  });
});

test('a larger frame is scaled down keeping its aspect', () => {
  const f = fitFrame({ width: 1920, height: 1080 }, { width: 960, height: 1000 }, 1);
  assert.equal(f.scale, 0.5);
  assert.deepEqual([f.width, f.height], [960, 540]);
  assert.deepEqual(fitFrame({ width: 0, height: 0 }, { width: 10, height: 10 }, 1), { width: 0, height: 0, scale: 0 });
});

test('mapping through scaling and letterboxing', () => {
  const frame = { width: 1920, height: 1080 };
  // element exactly the frame's aspect at half size
  assert.deepEqual(mapToFrame(480, 270, { width: 960, height: 540 }, frame), { x: 960, y: 540, inside: true });
  // element taller than the picture: 960x740 box, picture 960x540 centred, 100 px bars
  assert.deepEqual(mapToFrame(0, 100, { width: 960, height: 740 }, frame), { x: 0, y: 0, inside: true });
  assert.deepEqual(mapToFrame(960, 640, { width: 960, height: 740 }, frame), { x: 1919, y: 1079, inside: false });
  const inBar = mapToFrame(10, 20, { width: 960, height: 740 }, frame);
  assert.equal(inBar.inside, false);
  assert.equal(inBar.y, 0);
  assert.equal(inBar.x, 20);
  // wider box: pillarbox of 100 px each side
  assert.deepEqual(mapToFrame(100 + 480, 270, { width: 1160, height: 540 }, frame), { x: 960, y: 540, inside: true });
  assert.equal(mapToFrame(1, 1, { width: 0, height: 10 }, frame), null);
});

test('relative motion is scaled to frame pixels', () => {
  assert.equal(framePerCss({ width: 960, height: 540 }, { width: 1920, height: 1080 }), 2);
  assert.equal(framePerCss({ width: 960, height: 540 }, { width: 0, height: 0 }), 1);
});

test('requested size is device pixels, even, at least 64', () => {
  assert.deepEqual(desiredSize({ width: 1280, height: 720 }, 1), { width: 1280, height: 720, scale: 1 });
  assert.deepEqual(desiredSize({ width: 1001, height: 601 }, 1), { width: 1000, height: 600, scale: 1 });
  assert.deepEqual(desiredSize({ width: 683.5, height: 384.2 }, 1.25), { width: 854, height: 480, scale: 1.25 });
  assert.deepEqual(desiredSize({ width: 10, height: 10 }, 2), { width: 64, height: 64, scale: 2 });
  assert.deepEqual(desiredSize({ width: 100, height: 100 }, 1.3333333), { width: 132, height: 132, scale: 1.333 });
  // within the server's limits (sizes 64–8192, scale 0.25–8)
  assert.deepEqual(desiredSize({ width: 5000, height: 3000 }, 2), { width: 8192, height: 6000, scale: 2 });
  assert.deepEqual(desiredSize({ width: 4000, height: 3000 }, 0.1), { width: 400, height: 300, scale: 0.25 });
  assert.deepEqual(desiredSize({ width: 100, height: 100 }, 10), { width: 1000, height: 1000, scale: 8 });
});

test('the picture starts on a device pixel', () => {
  // stage at y = 30.4 CSS px at dpr 1.25 (38 device px); 1000-px picture in a 1001-px box
  const y = snappedOffset(30.4, 801, 800, 1.25);
  assert.ok(Math.abs(((30.4 + y) * 1.25) % 1) < 1e-9);
  assert.ok(Math.abs(y - 0.5) <= 0.4);
  assert.equal(snappedOffset(0, 1000, 600, 1), 200);
  // a picture larger than its box starts at the box
  assert.equal(snappedOffset(10, 500, 700, 1), 0);
});
