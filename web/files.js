// Files between this browser and the desktop, over plain HTTP on the same origin:
// uploads go in 8 MiB chunks (PUT api/upload/<id>?name&size&offset) so large files never
// sit in memory and an interrupted chunk resumes at the offset the server reports; the
// download panel lists api/files and each entry is an ordinary link the server answers
// with Content-Disposition: attachment. The panel builds its own DOM so the page only
// has to call attachFiles().

export const CHUNK_BYTES = 8 * 1024 * 1024;
export const MAX_BATCH = 100;
const PARALLEL = 3;
const RETRIES = 3;

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const c of children) e.append(c);
  return e;
}

/** The path of a listed file as a URL below api/files/, each component encoded. */
export function fileUrl(path, base = document.baseURI) {
  return new URL('api/files/' + path.split('/').map(encodeURIComponent).join('/'), base).href;
}

export function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

async function errorText(resp) {
  try {
    const j = await resp.json();
    if (j && j.error) return j.error;
  } catch { /* not JSON */ }
  return `HTTP ${resp.status}`;
}

/** Sends one file; `progress(sent)` after each acknowledged chunk. Resolves to the name
 *  the file got on the desktop; rejects with the server's explanation. */
export async function uploadFile(file, progress, base = document.baseURI) {
  const id = crypto.randomUUID();
  const query = (offset) => `?name=${encodeURIComponent(file.name)}&size=${file.size}&offset=${offset}`;
  const url = new URL(`api/upload/${id}`, base).href;
  let offset = 0;
  let failures = 0;
  for (;;) {
    const end = Math.min(offset + CHUNK_BYTES, file.size);
    let resp;
    try {
      resp = await fetch(url + query(offset), { method: 'PUT', body: file.slice(offset, end) });
    } catch (e) {
      if (++failures > RETRIES) throw new Error(`network error: ${e.message}`);
      continue;
    }
    let body = null;
    try { body = await resp.clone().json(); } catch { /* not JSON */ }
    if (resp.status === 409 && body && offset > 0 && ++failures <= RETRIES) {
      const m = /offset (\d+)/.exec(body.error || '');
      if (m) { offset = Number(m[1]); continue; }
    }
    if (!resp.ok) throw new Error(await errorText(resp));
    if (body && body.complete) { progress(file.size); return body.name; }
    offset = body ? body.offset : end;
    progress(offset);
  }
}

export function attachFiles({ stage, bar, before }) {
  const button = el('button', { type: 'button', id: 'btn-files', textContent: 'Files' });
  button.setAttribute('aria-expanded', 'false');
  button.setAttribute('aria-controls', 'files');
  bar.insertBefore(button, before || null);

  const input = el('input', { type: 'file', id: 'file-input', multiple: true, hidden: true });
  const pick = el('button', { type: 'button', id: 'btn-upload', textContent: 'Upload files…' });
  const error = el('p', { id: 'files-error', className: 'error', hidden: true });
  error.setAttribute('role', 'alert');
  const uploads = el('ul', { id: 'files-uploads', className: 'files-uploads' });
  const refresh = el('button', { type: 'button', id: 'btn-files-refresh', textContent: 'Refresh' });
  const list = el('ul', { id: 'files-list', className: 'files-list' });
  const panel = el(
    'aside',
    { id: 'files', className: 'panel files-panel', hidden: true },
    el('h2', { textContent: 'Files' }),
    el('p', { className: 'hint', textContent: 'Drop files on the desktop, or:' }),
    pick, input, error, uploads,
    el('h3', {}, 'On the desktop ', refresh),
    list,
  );
  panel.setAttribute('aria-label', 'Files');
  document.body.append(panel);

  const showError = (msg) => {
    error.textContent = msg;
    error.hidden = !msg;
  };

  async function refreshList() {
    let data;
    try {
      const resp = await fetch(new URL('api/files', document.baseURI), { cache: 'no-store' });
      if (!resp.ok) { showError(`Cannot list files: ${await errorText(resp)}`); return; }
      data = await resp.json();
    } catch (e) {
      showError(`Cannot list files: ${e.message}`);
      return;
    }
    list.replaceChildren(...data.files.map((f) => {
      const a = el('a', { href: fileUrl(f.path), textContent: f.path, download: f.path.split('/').pop() });
      return el('li', {}, a, el('span', { className: 'size', textContent: ` ${formatBytes(f.size)}` }));
    }));
    if (data.files.length === 0) list.append(el('li', { className: 'empty', textContent: 'No files' }));
  }

  function row(file) {
    const bar = el('progress', { max: file.size || 1, value: 0 });
    const note = el('span', { className: 'note', textContent: formatBytes(file.size) });
    const li = el('li', {}, el('span', { className: 'name', textContent: file.name }), bar, note);
    li.dataset.name = file.name;
    li.dataset.state = 'uploading';
    uploads.append(li);
    return { li, bar, note };
  }

  async function uploadAll(files) {
    files = Array.from(files);
    showError('');
    if (files.length > MAX_BATCH) {
      showError(`At most ${MAX_BATCH} files at once (${files.length} chosen); nothing was sent.`);
      return;
    }
    const queue = files.map((f) => ({ file: f, ...row(f) }));
    const refused = [];
    const worker = async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        try {
          const name = await uploadFile(job.file, (sent) => { job.bar.value = sent; });
          job.bar.value = job.bar.max;
          job.li.dataset.state = 'done';
          job.note.textContent = name === job.file.name ? 'done' : `saved as ${name}`;
        } catch (e) {
          job.li.dataset.state = 'error';
          job.note.textContent = e.message;
          refused.push(`${job.file.name}: ${e.message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    if (refused.length) showError(`Not uploaded: ${refused.join('; ')}`);
    refreshList();
  }

  const toggle = (show = panel.hidden) => {
    panel.hidden = !show;
    button.setAttribute('aria-expanded', String(show));
    if (show) refreshList();
  };
  button.addEventListener('click', () => toggle());
  pick.addEventListener('click', () => input.click());
  refresh.addEventListener('click', refreshList);
  input.addEventListener('change', () => {
    const chosen = Array.from(input.files);
    input.value = '';
    uploadAll(chosen);
  });
  stage.addEventListener('dragover', (e) => {
    if (e.dataTransfer && Array.from(e.dataTransfer.types).includes('Files')) {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    }
  });
  stage.addEventListener('drop', (e) => {
    if (!e.dataTransfer || e.dataTransfer.files.length === 0) return;
    e.preventDefault();
    toggle(true);
    uploadAll(e.dataTransfer.files);
  });
  return { refreshList, uploadAll, toggle };
}
