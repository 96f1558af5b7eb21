// Keyboard: physical keys as `KeyboardEvent.code`, everything else as committed text.
//
// The remote side owns the layout, so the page sends *where* a key is (its code), not what
// the local layout makes of it. Characters no physical key stands for go as `text`: IME
// commits (composition), mobile virtual keyboards (keydown "Unidentified", then an input
// event), and the result of a dead-key sequence (the local layout composed it; forwarding
// the second key's code would type the bare letter remotely).
//
// Auto-repeat: browser `repeat` keydowns are not forwarded. The key stays down remotely,
// and Wayland clients repeat held keys themselves (wl_keyboard.repeat_info); forwarding the
// browser's repeats too would double them. They are still preventDefault-ed.
//
// `KeyState.down(...)` / `KeyState.up(...)` are pure decisions so Node tests cover them;
// `attachKeyboard` binds them to a hidden textarea that holds focus while the desktop is
// used, which is also where IMEs and mobile keyboards deliver text.

const MODIFIER_KEYS = new Set(['Shift', 'Control', 'Alt', 'AltGraph', 'Meta', 'CapsLock']);

/** What to do with one keyboard event: {action: 'key'|'text'|'none', code?, text?, preventDefault}. */
export class KeyState {
  constructor() {
    this.held = new Set();
    this.deadPending = false;
  }

  down(e) {
    if (e.isComposing || e.keyCode === 229) {
      // An IME or a virtual keyboard owns this keystroke; its text arrives through
      // composition / input events.
      return { action: 'none', preventDefault: false };
    }
    const code = e.code || '';
    const k = e.key || '';
    if (k === 'Dead') {
      // Start of a dead-key sequence: the composed character comes with the next key.
      this.deadPending = true;
      return { action: 'none', preventDefault: true };
    }
    const printable = [...k].length === 1;
    const modified = e.ctrlKey || e.altKey || e.metaKey;
    if (this.deadPending && printable && !modified) {
      this.deadPending = false;
      return { action: 'text', text: k, preventDefault: true };
    }
    if (!code || code === 'Unidentified') {
      if (printable) return { action: 'text', text: k, preventDefault: true };
      // Nothing usable: let the browser produce an input event if it will.
      return { action: 'none', preventDefault: false };
    }
    if (e.repeat) {
      return { action: 'none', preventDefault: true };
    }
    // Shift (or AltGr) between the dead key and its letter keeps the sequence going.
    if (!MODIFIER_KEYS.has(k)) this.deadPending = false;
    this.held.add(code);
    return { action: 'key', code, preventDefault: true };
  }

  up(e) {
    const code = e.code || '';
    if (this.held.has(code)) {
      this.held.delete(code);
      return { action: 'key', code, preventDefault: true };
    }
    return { action: 'none', preventDefault: Boolean(code) && code !== 'Unidentified' };
  }

  /** Forget held keys (the caller sends `release_all`). */
  reset() {
    this.held.clear();
    this.deadPending = false;
  }
}

/**
 * Mobile keyboards report edits through `input` events. Maps an InputEvent's inputType to
 * what to send: committed text, or a key tap for deletions and line breaks.
 */
export function inputEventAction(inputType, data) {
  switch (inputType) {
    case 'insertText':
    case 'insertReplacementText':
    case 'insertFromPaste':
    case 'insertFromDrop':
      return data ? { action: 'text', text: data } : { action: 'none' };
    case 'insertLineBreak':
    case 'insertParagraph':
      return { action: 'tap', code: 'Enter' };
    case 'deleteContentBackward':
      return { action: 'tap', code: 'Backspace' };
    case 'deleteContentForward':
      return { action: 'tap', code: 'Delete' };
    default:
      return { action: 'none' };
  }
}

/**
 * Binds the decisions above to `input` (a textarea that has focus while the user works on the
 * desktop). `send` receives {type:'key', code, down} / {type:'text', text} / {type:'release_all'}.
 * Returns a function that detaches the listeners.
 */
export function attachKeyboard(input, send) {
  const state = new KeyState();
  let composing = false;
  const clear = () => {
    input.value = '';
  };
  const onKeyDown = (e) => {
    const d = state.down(e);
    if (d.preventDefault) e.preventDefault();
    if (d.action === 'key') send({ type: 'key', code: d.code, down: true });
    else if (d.action === 'text') send({ type: 'text', text: d.text });
  };
  const onKeyUp = (e) => {
    const d = state.up(e);
    if (d.preventDefault) e.preventDefault();
    if (d.action === 'key') send({ type: 'key', code: d.code, down: false });
  };
  const onCompositionStart = () => {
    composing = true;
  };
  const onCompositionEnd = (e) => {
    composing = false;
    if (e.data) send({ type: 'text', text: e.data });
    clear();
  };
  const onInput = (e) => {
    if (composing || e.isComposing) return;
    const d = inputEventAction(e.inputType, e.data);
    if (d.action === 'text') send({ type: 'text', text: d.text });
    else if (d.action === 'tap') {
      send({ type: 'key', code: d.code, down: true });
      send({ type: 'key', code: d.code, down: false });
    }
    clear();
  };
  const release = () => {
    state.reset();
    send({ type: 'release_all' });
  };
  input.addEventListener('keydown', onKeyDown);
  input.addEventListener('keyup', onKeyUp);
  input.addEventListener('compositionstart', onCompositionStart);
  input.addEventListener('compositionend', onCompositionEnd);
  input.addEventListener('input', onInput);
  input.addEventListener('blur', release);
  return {
    release,
    detach() {
      input.removeEventListener('keydown', onKeyDown);
      input.removeEventListener('keyup', onKeyUp);
      input.removeEventListener('compositionstart', onCompositionStart);
      input.removeEventListener('compositionend', onCompositionEnd);
      input.removeEventListener('input', onInput);
      input.removeEventListener('blur', release);
    },
  };
}
