#!/usr/bin/env bash
# The browser client's tests: Node unit tests of the pure modules, then the browser tests
# (Playwright driving Debian's /usr/bin/chromium; `playwright install` is never run).
#
#   web/tests/run.sh                 # unit + peer + streamer tests
#   web/tests/run.sh -m fullstack    # extra pytest arguments replace the default selection
#
# The venv lives at ${SKERRY_VENV:-$HOME/.cache/skerry-venv}; binaries are looked up in
# ${CARGO_TARGET_DIR:-$HOME/.cache/skerry-target}/debug (build them first).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
web="$(dirname "$here")"
venv="${SKERRY_VENV:-$HOME/.cache/skerry-venv}"

log() { printf '\n==> %s\n' "$*" >&2; }

log "node unit tests"
node --test "$here"/unit/*.test.js

if [ ! -x "$venv/bin/python" ]; then
    log "creating venv $venv"
    python3 -m venv "$venv"
fi
req="$here/requirements.txt"
stamp="$venv/.skerry-requirements"
if ! cmp -s "$req" "$stamp"; then
    log "installing $req"
    "$venv/bin/pip" install --disable-pip-version-check -q -r "$req"
    cp "$req" "$stamp"
fi

log "browser tests"
cd "$web/.."
# No __pycache__ inside web/: the streamer embeds that folder.
export PYTHONDONTWRITEBYTECODE=1
if [ "$#" -eq 0 ]; then
    set -- -m "peer or streamer"
fi
exec "$venv/bin/python" -m pytest -c "$here/e2e/pytest.ini" --rootdir "$here/e2e" "$here/e2e" "$@"
