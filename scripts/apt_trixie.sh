#!/usr/bin/env bash
# Install single packages from Debian trixie on a Debian 12 (bookworm) machine,
# without moving anything else to trixie: a trixie apt source plus a pin of
# priority 100 (below bookworm's 500), then `apt-get install -t trixie PKG...`.
# Used for `docker-compose` 2.x (the real Compose v2 CLI; bookworm ships 1.29),
# whose `docker-compose config` validates a compose file without a Docker engine.
#   scripts/apt_trixie.sh docker-compose
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -gt 0 ] || exit 0

src=/etc/apt/sources.list.d/trixie.sources
pin=/etc/apt/preferences.d/trixie-low-pin
if [ ! -f "$src" ]; then
  $sudo tee "$src" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
if [ ! -f "$pin" ]; then
  $sudo tee "$pin" >/dev/null <<'PIN'
# Only packages asked for with -t trixie come from trixie.
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
fi
echo "apt_trixie: installing ${missing[*]} from trixie (pinned low)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -t trixie "${missing[@]}" >/dev/null
