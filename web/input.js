// Pointer, wheel and touch on the canvas, pointer lock and fullscreen with keyboard lock.
//
// Positions are sent in output (frame) pixels, mapped from the event's CSS position through
// the canvas's on-page box (geometry.js handles scaling and letterboxing). Touch and pen
// arrive as pointer events and drive the same single remote pointer. Under pointer lock the
// motion is relative (`pointer_rel`, also in output pixels so speed matches the picture).

import { framePerCss, mapToFrame } from './geometry.js';

const round2 = (v) => Math.round(v * 100) / 100;

// `PointerEvent.buttons` bit → protocol button number (MouseEvent.button numbering).
const BUTTON_BITS = [
  [1, 0], // primary / left
  [4, 1], // auxiliary / middle
  [2, 2], // secondary / right
  [8, 3], // back
  [16, 4], // forward
];

/**
 * The button presses and releases that turn `before` into `after` (both `buttons` bitmasks).
 * Diffing masks handles chorded presses, which arrive as pointermove rather than
 * pointerdown / pointerup. Releases come first so a quick swap never holds both.
 */
export function buttonChanges(before, after) {
  const out = [];
  for (const [bit, button] of BUTTON_BITS) {
    if (before & bit && !(after & bit)) out.push({ button, down: false });
  }
  for (const [bit, button] of BUTTON_BITS) {
    if (!(before & bit) && after & bit) out.push({ button, down: true });
  }
  return out;
}

/**
 * `canvas`: the picture. `send(obj)`: sends a message object. `frameSize()`: {width,height}
 * of the current frame. `onMove(x, y, rect)`: the pointer's local position in frame pixels.
 * `focusKeys()`: gives keyboard focus back to the key-capture element.
 */
export function attachPointer(canvas, { send, frameSize, onMove, focusKeys, onLockChange }) {
  let held = 0; // `buttons` mask the server knows as pressed
  let last = null;
  let locked = false;
  const local = { x: 0, y: 0 };

  const map = (e) => {
    const rect = canvas.getBoundingClientRect();
    const frame = frameSize();
    const p = mapToFrame(e.clientX - rect.left, e.clientY - rect.top, rect, frame);
    return p && { ...p, rect };
  };

  const sendPosition = (e) => {
    const p = map(e);
    if (!p) return;
    const x = round2(p.x);
    const y = round2(p.y);
    local.x = x;
    local.y = y;
    onMove(x, y, p.rect);
    if (last && last.x === x && last.y === y) return;
    last = { x, y };
    send({ type: 'pointer', x, y });
  };

  const syncButtons = (e) => {
    const mask = e.buttons & 31;
    for (const c of buttonChanges(held, mask)) send({ type: 'button', button: c.button, down: c.down });
    held = mask;
  };

  const onPointerMove = (e) => {
    if (!e.isPrimary) return;
    if (locked) {
      const rect = canvas.getBoundingClientRect();
      const frame = frameSize();
      const k = framePerCss(rect, frame);
      const dx = round2(e.movementX * k);
      const dy = round2(e.movementY * k);
      if (dx === 0 && dy === 0) return;
      local.x = Math.min(Math.max(0, local.x + dx), Math.max(0, frame.width - 1));
      local.y = Math.min(Math.max(0, local.y + dy), Math.max(0, frame.height - 1));
      onMove(local.x, local.y, rect);
      send({ type: 'pointer_rel', dx, dy });
    } else {
      sendPosition(e);
    }
    if ((e.buttons & 31) !== held) syncButtons(e);
  };

  const onPointerDown = (e) => {
    focusKeys();
    if (!e.isPrimary) return;
    e.preventDefault();
    if (!locked) {
      sendPosition(e);
      try {
        canvas.setPointerCapture(e.pointerId);
      } catch {
        // The pointer may already be gone; the press is still sent.
      }
    }
    syncButtons(e);
  };

  const onPointerUp = (e) => {
    if (!e.isPrimary) return;
    e.preventDefault();
    if (!locked) sendPosition(e);
    syncButtons(e);
  };

  const onPointerCancel = (e) => {
    if (!e.isPrimary) return;
    syncButtons({ buttons: 0 });
  };

  const onWheel = (e) => {
    e.preventDefault();
    if (!locked) sendPosition(e);
    send({ type: 'wheel', dx: round2(e.deltaX), dy: round2(e.deltaY), mode: e.deltaMode });
  };

  const prevent = (e) => e.preventDefault();
  const onMouseUp = (e) => {
    // Back / forward buttons would navigate the page away.
    if (e.button === 3 || e.button === 4) e.preventDefault();
  };

  const onLock = () => {
    locked = document.pointerLockElement === canvas;
    onLockChange(locked);
  };

  canvas.addEventListener('pointermove', onPointerMove);
  canvas.addEventListener('pointerdown', onPointerDown);
  canvas.addEventListener('pointerup', onPointerUp);
  canvas.addEventListener('pointercancel', onPointerCancel);
  canvas.addEventListener('wheel', onWheel, { passive: false });
  canvas.addEventListener('contextmenu', prevent);
  canvas.addEventListener('mouseup', onMouseUp);
  canvas.addEventListener('auxclick', prevent);
  document.addEventListener('pointerlockchange', onLock);

  return {
    /** Forget held buttons (the caller sends `release_all`). */
    reset() {
      held = 0;
      last = null;
    },
    async lock() {
      try {
        await canvas.requestPointerLock({ unadjustedMovement: true });
      } catch {
        // Raw motion is not available everywhere; fall back to the adjusted kind.
        await canvas.requestPointerLock();
      }
    },
  };
}

/** Fullscreen for the whole page, plus Keyboard Lock so Escape, Alt+Tab… reach the desktop. */
export async function toggleFullscreen() {
  if (document.fullscreenElement) {
    if (navigator.keyboard && navigator.keyboard.unlock) navigator.keyboard.unlock();
    await document.exitFullscreen();
    return;
  }
  await document.documentElement.requestFullscreen({ navigationUI: 'hide' });
  if (navigator.keyboard && navigator.keyboard.lock) {
    try {
      await navigator.keyboard.lock();
    } catch {
      // Keyboard Lock is optional; fullscreen still works without it.
    }
  }
}
