// The settings panel: each change is sent at once as a `settings` message and the server
// answers with the settings it now applies, which the form then shows. The server is the
// source of truth, so two viewers changing settings both end up showing the same values.

import { SETTINGS_FIELDS } from './proto.js';

/** Reads one field of the form as the protocol's type; `undefined` when it is not valid. */
export function readField(form, name) {
  const kind = SETTINGS_FIELDS[name];
  if (kind === 'resolution') {
    const on = form.elements.manual_resolution_on.checked;
    if (!on) return null;
    const width = parseInt(form.elements.manual_width.value, 10);
    const height = parseInt(form.elements.manual_height.value, 10);
    if (!(width > 0 && height > 0)) return undefined;
    return { width, height };
  }
  const el = form.elements[name];
  if (!el) return undefined;
  if (kind === 'bool') return el.checked;
  if (kind === 'int') {
    const v = parseInt(el.value, 10);
    return Number.isFinite(v) ? v : undefined;
  }
  return el.value;
}

/** Which settings field a form control belongs to. */
function fieldOf(el) {
  if (['manual_resolution_on', 'manual_width', 'manual_height'].includes(el.name)) return 'manual_resolution';
  return el.name in SETTINGS_FIELDS ? el.name : null;
}

export class SettingsPanel {
  /** `send(changes)` sends a settings message with the changed fields. */
  constructor(form, send, currentSize) {
    this.form = form;
    this.current = null;
    form.addEventListener('change', (e) => {
      if (e.target.name === 'manual_resolution_on') {
        const f = form.elements;
        const on = e.target.checked;
        f.manual_width.disabled = !on;
        f.manual_height.disabled = !on;
        if (on && !(f.manual_width.value && f.manual_height.value)) {
          const size = currentSize();
          f.manual_width.value = size.width;
          f.manual_height.value = size.height;
        }
      }
      const name = fieldOf(e.target);
      if (!name) return;
      const value = readField(form, name);
      if (value === undefined) return;
      send({ [name]: value });
    });
    form.addEventListener('submit', (e) => e.preventDefault());
  }

  /** The manual resolution the server applies, or null. */
  get manualResolution() {
    return this.current ? this.current.manual_resolution || null : null;
  }

  /** Shows the server's `settings` message. */
  reflect(s) {
    this.current = { ...this.current, ...s };
    const f = this.form.elements;
    for (const [name, kind] of Object.entries(SETTINGS_FIELDS)) {
      if (!(name in s)) continue;
      const v = s[name];
      if (kind === 'resolution') {
        f.manual_resolution_on.checked = Boolean(v);
        if (v) {
          f.manual_width.value = v.width;
          f.manual_height.value = v.height;
        }
        f.manual_width.disabled = !v;
        f.manual_height.disabled = !v;
      } else if (f[name]) {
        if (kind === 'bool') f[name].checked = Boolean(v);
        else f[name].value = String(v);
      }
    }
    this.form.dataset.encoder = this.current.encoder || '';
  }
}
