// Where the remote frame sits on the page and how browser coordinates map onto it.
//
// The canvas's backing store is always the frame size (one canvas pixel = one output pixel).
// Its CSS size is chosen so that, when the output was sized to this window (the normal case:
// resize follows the window × devicePixelRatio), one output pixel lands on exactly one device
// pixel and nothing is resampled; otherwise the frame is scaled to fit, keeping its aspect.
// Pure functions, no DOM: the Node tests check the mapping with numbers.

/**
 * CSS size of the canvas for a frame of `frame` device pixels in a box of `box` CSS pixels.
 * Returns {width, height, scale} where scale is CSS pixels per frame pixel.
 */
export function fitFrame(frame, box, dpr) {
  if (!frame.width || !frame.height || !box.width || !box.height) {
    return { width: 0, height: 0, scale: 0 };
  }
  const native = 1 / dpr;
  // 1:1 in device pixels when it fits, up to one device pixel of slack from even rounding.
  if (frame.width * native <= box.width + 1 && frame.height * native <= box.height + 1) {
    return { width: frame.width * native, height: frame.height * native, scale: native };
  }
  const scale = Math.min(box.width / frame.width, box.height / frame.height);
  return { width: frame.width * scale, height: frame.height * scale, scale };
}

/**
 * Maps a point in CSS pixels relative to the element's box to frame pixels. The element may
 * letterbox the frame (object-fit: contain semantics): the frame is scaled uniformly and
 * centred. Points outside the picture are clamped onto its edge.
 */
export function mapToFrame(px, py, elem, frame) {
  if (!frame.width || !frame.height || !elem.width || !elem.height) return null;
  const scale = Math.min(elem.width / frame.width, elem.height / frame.height);
  const ox = (elem.width - frame.width * scale) / 2;
  const oy = (elem.height - frame.height * scale) / 2;
  const x = (px - ox) / scale;
  const y = (py - oy) / scale;
  return {
    x: clamp(x, 0, frame.width - 1),
    y: clamp(y, 0, frame.height - 1),
    inside: x >= 0 && y >= 0 && x < frame.width && y < frame.height,
  };
}

/** Frame pixels per CSS pixel for an element showing the frame letterboxed. */
export function framePerCss(elem, frame) {
  if (!frame.width || !frame.height || !elem.width || !elem.height) return 1;
  return 1 / Math.min(elem.width / frame.width, elem.height / frame.height);
}

/** Output sizes and scales the server accepts in `hello` and `resize` (docs/protocol.md). */
export const MIN_OUTPUT = 64;
export const MAX_OUTPUT = 8192;
export const MIN_SCALE = 0.25;
export const MAX_SCALE = 8;

/**
 * The output size to ask for: the box in device pixels, rounded, made even (4:2:0 encoders
 * want even sizes) and kept within what the server accepts.
 */
export function desiredSize(box, dpr) {
  const even = (v) => clamp(2 * Math.floor(Math.round(v * dpr) / 2), MIN_OUTPUT, MAX_OUTPUT);
  return { width: even(box.width), height: even(box.height), scale: clamp(roundScale(dpr), MIN_SCALE, MAX_SCALE) };
}

const roundScale = (s) => Math.round(s * 1000) / 1000;

export function clamp(v, lo, hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * Offset (CSS pixels, from the box's start) that centres `size` in a box of `boxSize` that
 * starts at `boxStart` on the page, rounded so the picture starts on a device-pixel
 * boundary. A canvas shown 1:1 but starting half a device pixel off would be resampled and
 * look blurred.
 */
export function snappedOffset(boxStart, boxSize, size, dpr) {
  const centred = boxStart + Math.max(0, (boxSize - size) / 2);
  return Math.round(centred * dpr) / dpr - boxStart;
}
