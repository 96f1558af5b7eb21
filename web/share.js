// Share links and the session: the owner (logged in with the password) gets a Share panel
// to make links that grant the viewer or controller role for a while, list them and revoke
// them (revoking also disconnects whoever came through the link). With logins on, a
// Log out button ends the session. The server decides all of this; the page only shows
// what `api/session` says the session may do.

/** Link lifetimes offered in the panel: [label, seconds]. */
export const LIFETIMES = [
  ['1 hour', 3600],
  ['8 hours', 8 * 3600],
  ['1 day', 24 * 3600],
  ['7 days', 7 * 24 * 3600],
  ['30 days', 30 * 24 * 3600],
];

/** The absolute URL of a link the server returned relative to the base (`share?t=…`). */
export function shareUrl(relative, base) {
  return new URL(relative, base).href;
}

/** "viewer · guest · expires in 3 h" */
export function describeLink(link, nowSec) {
  const left = Math.max(0, link.expires - nowSec);
  let when;
  if (left >= 48 * 3600) when = `${Math.round(left / 86400)} days`;
  else if (left >= 3600) when = `${Math.round(left / 3600)} h`;
  else when = `${Math.max(1, Math.round(left / 60))} min`;
  const parts = [link.role];
  if (link.label) parts.push(link.label);
  parts.push(`expires in ${when}`);
  return parts.join(' · ');
}

async function jsonOrError(resp) {
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.error || `HTTP ${resp.status}`);
  return body;
}

/**
 * Wires the Share panel. `els`: button, panel, form, list, error, logout (a form).
 * Resolves with the session (`api/session`), or null when it could not be read.
 */
export async function attachShare(els) {
  const base = document.baseURI;
  let session = null;
  try {
    session = await jsonOrError(await fetch(new URL('api/session', base), { cache: 'no-store' }));
  } catch {
    return null;
  }
  els.logout.hidden = !session.auth;
  if (!session.owner) return session;
  els.button.hidden = false;

  const showError = (msg) => {
    els.error.textContent = msg;
    els.error.hidden = !msg;
  };

  async function refresh() {
    try {
      const { links } = await jsonOrError(await fetch(new URL('api/shares', base), { cache: 'no-store' }));
      render(links);
      showError('');
    } catch (e) {
      showError(`cannot list the links: ${e.message}`);
    }
  }

  function render(links) {
    const now = Date.now() / 1000;
    els.list.replaceChildren(
      ...links.map((link) => {
        const li = document.createElement('li');
        li.dataset.id = link.id;
        const what = document.createElement('span');
        what.textContent = describeLink(link, now);
        const revoke = document.createElement('button');
        revoke.type = 'button';
        revoke.textContent = 'Revoke';
        revoke.addEventListener('click', async () => {
          try {
            await jsonOrError(await fetch(new URL(`api/shares/${link.id}`, base), { method: 'DELETE' }));
          } catch (e) {
            showError(`cannot revoke: ${e.message}`);
          }
          refresh();
        });
        const url = document.createElement('input');
        url.readOnly = true;
        url.value = shareUrl(link.url, base);
        url.setAttribute('aria-label', 'Share link');
        url.addEventListener('focus', () => url.select());
        li.append(what, revoke, url);
        return li;
      }),
    );
  }

  els.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(els.form);
    const body = {
      role: data.get('role'),
      lifetime_s: Number(data.get('lifetime')),
      label: String(data.get('label') || ''),
    };
    try {
      const link = await jsonOrError(
        await fetch(new URL('api/shares', base), {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        }),
      );
      const url = shareUrl(link.url, base);
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(url).catch(() => {});
    } catch (err) {
      showError(`cannot create the link: ${err.message}`);
    }
    refresh();
  });
  const lifetime = els.form.elements.lifetime;
  lifetime.replaceChildren(
    ...LIFETIMES.map(([label, secs]) => {
      const o = document.createElement('option');
      o.value = String(secs);
      o.textContent = label;
      return o;
    }),
  );
  els.button.addEventListener('click', () => {
    if (!els.panel.hidden) refresh();
  });
  refresh();
  return session;
}
