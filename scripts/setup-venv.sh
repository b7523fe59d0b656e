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
if ! { .venv/bin/pip install --upgrade pip && .venv/bin/pip install -e ".[test]" -e ./testbed; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "setup-venv: pip install failed; the whole log is in $log" >&2
    exit 1
fi
echo "$stamp" > .venv/.stamp
