// The remote pointer's image, drawn by the browser so it moves with no network latency.
//
// Normally it becomes the canvas's CSS cursor (a PNG data URL made through a small canvas,
// cached by serial and display scale). Under pointer lock the browser hides its cursor, so
// the image is shown as an element placed at the locally tracked position instead.

/** Browsers ignore CSS cursor images larger than this (CSS pixels). */
const CSS_CURSOR_MAX = 128;

/** Largest whole-pixel scale that keeps the cursor within the CSS limit. */
export function cursorScale(width, height, scale) {
  const limit = CSS_CURSOR_MAX / Math.max(width, height, 1);
  return Math.min(scale, limit);
}

export class CursorView {
  /** `target`: the element whose CSS cursor follows the remote one; `soft`: an <img>. */
  constructor(target, soft) {
    this.target = target;
    this.soft = soft;
    this.image = null; // the last cursor message, or null when hidden
    this.cache = new Map(); // `${serial}@${scale}` → {url, hx, hy, w, h}
    this.scale = 1; // CSS pixels per frame pixel
    this.locked = false;
    this.pos = { x: 0, y: 0 }; // frame pixels
    this.rect = null;
  }

  setImage(msg) {
    this.image = msg.hidden ? null : msg;
    this.apply();
  }

  setScale(scale) {
    if (scale > 0 && Math.abs(scale - this.scale) > 1e-6) {
      this.scale = scale;
      this.apply();
    }
  }

  setLocked(locked) {
    this.locked = locked;
    this.apply();
  }

  /** Position in frame pixels, and the canvas box it is drawn relative to. */
  moveTo(x, y, rect) {
    this.pos = { x, y };
    this.rect = rect;
    if (this.locked) this.placeSoft();
  }

  rendered() {
    const img = this.image;
    if (!img) return null;
    const s = cursorScale(img.width, img.height, this.scale);
    const key = `${img.serial}@${s.toFixed(3)}`;
    let c = this.cache.get(key);
    if (!c) {
      c = renderCursor(img, s);
      if (this.cache.size > 32) this.cache.clear();
      this.cache.set(key, c);
    }
    return c;
  }

  apply() {
    const c = this.rendered();
    if (!c) {
      this.target.style.cursor = 'none';
      this.soft.hidden = true;
      return;
    }
    if (this.locked) {
      this.target.style.cursor = 'none';
      this.soft.src = c.url;
      this.soft.width = c.w;
      this.soft.height = c.h;
      this.soft.hidden = false;
      this.placeSoft();
    } else {
      this.target.style.cursor = `url("${c.url}") ${c.hx} ${c.hy}, auto`;
      this.soft.hidden = true;
    }
  }

  placeSoft() {
    const c = this.rendered();
    if (!c || !this.rect) return;
    const left = this.rect.left + this.pos.x * this.scale - c.hx;
    const top = this.rect.top + this.pos.y * this.scale - c.hy;
    this.soft.style.transform = `translate(${Math.round(left)}px, ${Math.round(top)}px)`;
  }
}

function renderCursor(img, scale) {
  const src = document.createElement('canvas');
  src.width = img.width;
  src.height = img.height;
  src.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(img.rgba), img.width, img.height), 0, 0);
  let out = src;
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  if (w !== img.width || h !== img.height) {
    out = document.createElement('canvas');
    out.width = w;
    out.height = h;
    const ctx = out.getContext('2d');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(src, 0, 0, w, h);
  }
  const clampHot = (v, max) => Math.min(Math.max(0, Math.round(v * scale)), max - 1);
  return { url: out.toDataURL('image/png'), hx: clampHot(img.hotspotX, w), hy: clampHot(img.hotspotY, h), w, h };
}
