"""Stand-in for the pip bootstrap script ansible-test downloads for `--venv`.

ansible-test fetches get-pip-<version>.py from ci-files.testing.ansible.com,
which this network does not reach, and says where a copy may be saved instead
(~/.ansible/test/cache/get_pip_<version>.py). `make sanity` puts this file
there. Run by ansible-test's quiet_pip.py as __main__ inside the new venv, with
pip's options and packages as arguments, it does what get-pip does: pip from
the interpreter's own ensurepip, then `pip install --upgrade` of what was asked
(pip itself at ansible-test's pinned version, from PyPI). ansible-test hides
pip's configuration (PIP_CONFIG_FILE=/dev/null), so the system's CA bundle is
named here, as pip from 24.2 on finds it by itself (a TLS-inspecting proxy's CA
lives there).
"""

import ensurepip
import os
import ssl
import subprocess
import sys

# get-pip's own options: leave setuptools or wheel out.
OWN = {"--no-setuptools", "--no-wheel"}

if __name__ == "__main__":
    ensurepip.bootstrap(upgrade=True)
    pip = [sys.executable, "-m", "pip"]
    paths = ssl.get_default_verify_paths()
    bundles = [paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"]
    cert = next((["--cert", b] for b in bundles if b and os.path.isfile(b)), [])
    args = [a for a in sys.argv[1:] if a not in OWN]
    subprocess.check_call([*pip, "install", "--upgrade", *cert, *args])
    if "--no-setuptools" in sys.argv:  # ensurepip brings it
        subprocess.check_call([*pip, "uninstall", "--yes", "--quiet", "setuptools"])
