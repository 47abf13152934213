#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, or names the missing ones.
#   pcscd, vsmartcard-vpcd      the real PC/SC stack the emulated card sits behind
#   python3-virtualsmartcard    the card-OS framework (VirtualICC) our card plugs into
#   opensc                      real JPKI middleware (pkcs15-tool, pkcs11-tool)
#   libpcsclite-dev swig        to build pyscard (PyPI ships it as source only)
#   openssl                     the command line the CA's output must satisfy
#   postgresql                  the optional store, started privately by tests on loopback
#   wrk                         HTTP load generator for the server benchmarks (make bench)
#   chromium                    headless browser the report checks open every report in (tests/browser,
#                               twin report --screenshot); driven over its DevTools pipe, so no chromedriver
#   fonts-dejavu-core fonts-ipafont-gothic   Latin and Japanese glyphs for the browser (reports name
#                               Japanese sources)
set -euo pipefail
PACKAGES=(pcscd vsmartcard-vpcd python3-virtualsmartcard opensc libpcsclite-dev swig openssl pkg-config postgresql wrk
          chromium fonts-dejavu-core fonts-ipafont-gothic)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "sysdeps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # pcscd is started by the test fixtures themselves, never as a system service.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now pcscd.socket pcscd 2>/dev/null || true; fi
else
    echo "sysdeps: these Debian packages are missing and this is not root; install them with:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
