// Clipboard sync between the browser and the remote desktop (docs/protocol.md, binary kinds
// 0x05 and 0x11).
//
// Where the async Clipboard API is allowed (Chromium with the permission, a focused page),
// the remote clipboard is written into the browser's as it changes, and the browser's is
// read and sent when the page gains focus and on Ctrl/Cmd+V, so a paste on the desktop pastes
// what was copied elsewhere. Where it is not (Firefox, Safari, no permission), paste events
// still carry the browser's clipboard to the desktop, and the clipboard panel shows the
// remote clipboard in a textarea the user copies from (or pastes into, to send).
//
// Browsers have no primary selection. The remote primary selection is only shown in the
// panel; text copied in the browser is sent as both the clipboard and the primary
// selection, so a middle-click paste on the desktop pastes the browser's last copied text.

export const MSG_CLIPBOARD = 0x05;
export const MSG_CLIPBOARD_IN = 0x11;
export const SELECTION_CLIPBOARD = 0;
export const SELECTION_PRIMARY = 1;
export const TEXT_MIME = 'text/plain;charset=utf-8';
export const PNG_MIME = 'image/png';
/** The server's default limit (SKERRY_CLIPBOARD_MAX); larger content is not sent. */
export const MAX_BYTES = 16 * 1024 * 1024;

const TEXT_TYPES = [TEXT_MIME, 'UTF8_STRING', 'text/plain', 'TEXT', 'STRING'];

/** Parses a 0x05 message; returns null for any other kind. */
export function parseClipboard(data) {
  const bytes = new Uint8Array(data);
  if (bytes.length < 4 || bytes[0] !== MSG_CLIPBOARD) return null;
  const mimeLen = bytes[2] | (bytes[3] << 8);
  if (bytes.length < 4 + mimeLen) return null;
  const mime = new TextDecoder().decode(bytes.subarray(4, 4 + mimeLen));
  return {
    selection: bytes[1] === SELECTION_PRIMARY ? 'primary' : 'clipboard',
    mime,
    isText: TEXT_TYPES.includes(mime),
    data: bytes.subarray(4 + mimeLen),
  };
}

/** Builds a 0x11 message. */
export function clipboardMessage(selection, mime, data) {
  const mimeBytes = new TextEncoder().encode(mime);
  const out = new Uint8Array(4 + mimeBytes.length + data.length);
  out[0] = MSG_CLIPBOARD_IN;
  out[1] = selection;
  out[2] = mimeBytes.length & 0xff;
  out[3] = mimeBytes.length >> 8;
  out.set(mimeBytes, 4);
  out.set(data, 4 + mimeBytes.length);
  return out;
}

function sameBytes(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Wires clipboard sync. `send(Uint8Array)` sends a binary message (false when not live);
 * `canControl()` is false for viewers; `els` holds the panel's elements
 * ({ text, primary, image, notice }).
 */
export class ClipboardSync {
  constructor({ send, canControl, els }) {
    this.send = send;
    this.canControl = canControl;
    this.els = els;
    // The last content known to be on both sides, so nothing is sent back and forth.
    this.lastText = null;
    this.lastPng = null;
    this.stats = { received: 0, sent: 0, writeErrors: 0, lastNotice: '' };
  }

  notice(message) {
    this.stats.lastNotice = message;
    if (this.els.notice) {
      this.els.notice.textContent = message;
      this.els.notice.hidden = !message;
    }
  }

  /** Handles a binary message if it is a clipboard one; returns whether it was. */
  handleBinary(data) {
    const msg = parseClipboard(data);
    if (!msg) return false;
    this.stats.received++;
    if (msg.selection === 'primary') {
      if (msg.isText && this.els.primary) this.els.primary.value = new TextDecoder().decode(msg.data);
      return true;
    }
    if (msg.isText) {
      const text = new TextDecoder().decode(msg.data);
      this.lastText = text;
      this.lastPng = null;
      if (this.els.text) this.els.text.value = text;
      this.writeText(text);
    } else if (msg.mime === PNG_MIME) {
      const png = msg.data.slice();
      this.lastPng = png;
      this.lastText = null;
      this.showImage(png);
      this.writePng(png);
    }
    return true;
  }

  /** The server's `error` message with code `clipboard`. */
  handleError(message) {
    this.notice(message);
  }

  async writeText(text) {
    try {
      await navigator.clipboard.writeText(text);
      this.notice('');
    } catch (e) {
      this.stats.writeErrors++;
      this.notice('The remote clipboard changed: copy it from the clipboard panel.');
    }
  }

  async writePng(png) {
    try {
      const blob = new Blob([png], { type: PNG_MIME });
      await navigator.clipboard.write([new ClipboardItem({ [PNG_MIME]: blob })]);
      this.notice('');
    } catch (e) {
      this.stats.writeErrors++;
      this.notice('The remote clipboard holds an image: it is shown in the clipboard panel.');
    }
  }

  showImage(png) {
    const img = this.els.image;
    if (!img) return;
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(new Blob([png], { type: PNG_MIME }));
    img.hidden = false;
  }

  /** Sends browser text as the clipboard and the primary selection, if it is new. */
  sendText(text) {
    if (!this.canControl() || typeof text !== 'string' || text === this.lastText) return false;
    const data = new TextEncoder().encode(text);
    if (data.length > MAX_BYTES) {
      this.notice(`The copied text (${data.length} bytes) is over the ${MAX_BYTES >> 20} MiB limit and was not sent.`);
      return false;
    }
    const ok =
      this.send(clipboardMessage(SELECTION_CLIPBOARD, TEXT_MIME, data)) &&
      this.send(clipboardMessage(SELECTION_PRIMARY, TEXT_MIME, data));
    if (ok) {
      this.lastText = text;
      this.lastPng = null;
      this.stats.sent++;
    }
    return ok;
  }

  sendPng(png) {
    if (!this.canControl() || sameBytes(png, this.lastPng)) return false;
    if (png.length > MAX_BYTES) {
      this.notice(`The copied image (${png.length} bytes) is over the ${MAX_BYTES >> 20} MiB limit and was not sent.`);
      return false;
    }
    const ok = this.send(clipboardMessage(SELECTION_CLIPBOARD, PNG_MIME, png));
    if (ok) {
      this.lastPng = png;
      this.lastText = null;
      this.stats.sent++;
    }
    return ok;
  }

  /** Reads the browser's clipboard through the async API (needs permission and focus). */
  async syncFromBrowser() {
    if (!this.canControl() || !navigator.clipboard) return false;
    try {
      if (navigator.clipboard.read) {
        const items = await navigator.clipboard.read();
        for (const item of items) {
          if (item.types.includes(PNG_MIME)) {
            const blob = await item.getType(PNG_MIME);
            return this.sendPng(new Uint8Array(await blob.arrayBuffer()));
          }
          if (item.types.includes('text/plain')) {
            const blob = await item.getType('text/plain');
            return this.sendText(await blob.text());
          }
        }
        return false;
      }
      return this.sendText(await navigator.clipboard.readText());
    } catch (e) {
      // Not allowed here (no permission, no focus, or no such API): paste events remain.
      return false;
    }
  }

  /** A paste event (the fallback where the async API is refused). */
  async handlePaste(event) {
    const dt = event.clipboardData;
    if (!dt) return;
    for (const file of dt.files || []) {
      if (file.type === PNG_MIME) {
        this.sendPng(new Uint8Array(await file.arrayBuffer()));
        return;
      }
    }
    const text = dt.getData('text/plain');
    if (text) this.sendText(text);
  }

  /** Hooks focus, Ctrl/Cmd+V and paste on `target`, and the panel's textarea. */
  attach(target) {
    window.addEventListener('focus', () => this.syncFromBrowser());
    target.addEventListener(
      'keydown',
      (e) => {
        if ((e.ctrlKey || e.metaKey) && e.code === 'KeyV') this.syncFromBrowser();
      },
      true,
    );
    target.addEventListener('paste', (e) => this.handlePaste(e));
    if (this.els.text) {
      this.els.text.addEventListener('paste', (e) => this.handlePaste(e));
      this.els.text.addEventListener('change', () => this.sendText(this.els.text.value));
    }
  }
}
