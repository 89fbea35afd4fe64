#!/usr/bin/env bash
# ansible-test sanity on the collection as users get it: the tarball that
# `ansible-galaxy collection build` makes, unpacked under
# ansible_collections/shipyard/platform (where ansible-test must run), in
# ansible-test's own pinned virtualenvs (--venv; no container runtime needed).
# Its venvs are cached in ~/.ansible/test; the pip bootstrap it would download
# from a host this network does not reach is hack/ansible_test_pip.py.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${SHIPYARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shipyard}/sanity
pip_version=$(.venv/bin/python -c 'import re, ansible_test, pathlib; print(re.search(r"pip=.(\d+\.\d+)", (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text())[1])')
mkdir -p ~/.ansible/test/cache
cp hack/ansible_test_pip.py ~/.ansible/test/cache/get_pip_${pip_version//./_}.py

rm -rf "$work"
mkdir -p "$work/build" "$work/ansible_collections/shipyard/platform"
.venv/bin/ansible-galaxy collection build --output-path "$work/build" >/dev/null
tar -xzf "$work"/build/shipyard-platform-*.tar.gz -C "$work/ansible_collections/shipyard/platform"
cd "$work/ansible_collections/shipyard/platform"
exec "$OLDPWD/.venv/bin/ansible-test" sanity --venv --python 3.11 --color no "$@"
