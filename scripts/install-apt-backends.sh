#!/usr/bin/env bash
# Install the Debian packages the real-backend tests use, only where missing.
# Usage: scripts/install-apt-backends.sh PACKAGE...
# Runs apt-get as root, or through sudo when not root; never starts services.
set -euo pipefail

missing=()
for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "need root or sudo to install: ${missing[*]}" >&2
    exit 1
fi

echo "apt-get install --no-install-recommends ${missing[*]}"
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
