#!/usr/bin/env bash
# Creates the project's virtualenv (.venv) with scar-ci, its test tools and the test bed.
# Re-run after changing pyproject.toml; skipped when nothing it installs from has changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "setup-venv: scar-ci needs Python >= 3.11; '$python' is $("$python" --version 2>&1)." >&2
    echo "setup-venv: set PYTHON=/path/to/python3.11+ and run again." >&2
    exit 1
}

stamp_inputs=(pyproject.toml testbed/pyproject.toml)
stamp=$(cat "${stamp_inputs[@]}" 2>/dev/null | sha256sum | cut -c1-16)
if [ -f .venv/.stamp ] && [ "$(cat .venv/.stamp)" = "$stamp" ]; then
    exit 0
fi

echo "setup-venv: creating .venv with $("$python" --version)"
rm -rf .venv
"$python" -m venv .venv
log=.venv/pip.log

# The wheels of everything it installs, kept in the scar-ci cache under a key of the Python,
# both pyproject.toml files and pip's settings and constraints: a fresh clone installs from
# them without asking the index (83 -> 45 s here; 109 s when it builds them). What the index
# publishes later under the same declarations is not seen until the folder is removed.
constraint=$(.venv/bin/pip config get global.constraint 2>/dev/null || true)
key=$({ "$python" --version; cat "${stamp_inputs[@]}"; .venv/bin/pip config list
        if [ -f "$constraint" ]; then cat "$constraint"; fi; } | sha256sum | cut -c1-16)
cache=${SCAR_CI_CACHE:-$HOME/.cache/scar-ci}
wheels=$cache/venv-wheels-$key
mkdir -p "$cache"
wheelhouse() {
    flock 9  # two set-ups on one machine build it once
    [ -f "$wheels/complete" ] && return 0
    rm -rf "$wheels"
    .venv/bin/pip wheel --wheel-dir "$wheels" pip "setuptools>=77" ".[test]" ./testbed || return 1
    rm -f "$wheels"/scar_ci-*.whl "$wheels"/scar_ci_testbed-*.whl  # these install editable
    touch "$wheels/complete"
}
offline=(--no-index --find-links "$wheels")
if ! { wheelhouse 9>"$wheels.lock" && .venv/bin/pip install "${offline[@]}" --upgrade pip &&
       .venv/bin/pip install "${offline[@]}" -e ".[test]" -e ./testbed; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "setup-venv: pip install failed; the whole log is in $log" >&2
    exit 1
fi
echo "$stamp" > .venv/.stamp
