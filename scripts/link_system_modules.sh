#!/usr/bin/env bash
# Makes Debian's virtualsmartcard module importable from the project's venv, without putting the
# rest of /usr/lib/python3/dist-packages (Debian's numpy and friends) on the venv's path:
# a private folder holds a link to the one package, and a .pth file adds that folder.
set -euo pipefail
VENV=${1:-.venv}
src=$(dpkg -L python3-virtualsmartcard 2>/dev/null | grep -E '/virtualsmartcard/__init__\.py$' | head -n1 || true)
if [ -z "$src" ]; then
    echo "link_system_modules: python3-virtualsmartcard is not installed (run: make sysdeps)" >&2
    exit 1
fi
pkgdir=$(dirname "$src")
shim="$(cd "$VENV" && pwd)/system-modules"
mkdir -p "$shim"
ln -sfn "$pkgdir" "$shim/virtualsmartcard"
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$shim" > "$site/myna_twin_system_modules.pth"
"$VENV/bin/python" -c 'import virtualsmartcard.VirtualSmartcard' || {
    echo "link_system_modules: virtualsmartcard does not import from $VENV" >&2; exit 1; }
