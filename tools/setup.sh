#!/usr/bin/env bash
# Sets up everything wafermesh needs on a fresh Debian/Ubuntu machine:
#   - Chromium (its SwiftShader Vulkan driver is the software WebGPU fallback, and the browser
#     runs the demo's end-to-end tests) and the Vulkan loader;
#   - lavapipe from Mesa 25 (Debian bookworm-backports), about 6x faster than SwiftShader, unpacked
#     into .cache/lavapipe without touching the system's Mesa (Dawn rejects Debian 12's Mesa 22);
#   - the npm packages (npm ci).
# Safe to run again. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Debian archive this machine's apt already uses (a local mirror, a caching proxy's address),
# so the private backports source below goes where apt is configured to go: WAFERMESH_APT_MIRROR
# if set, else the first source in apt's own lists (read through apt-config, which honours
# APT_CONFIG) that serves this release's main suite, else deb.debian.org. Proxies and every other
# Acquire:: setting apply anyway: the private apt calls below override only the source lists.
debian_mirror() {
  if [ -n "${WAFERMESH_APT_MIRROR:-}" ]; then echo "${WAFERMESH_APT_MIRROR%/}"; return; fi
  local codename="" list="/etc/apt/sources.list" parts="/etc/apt/sources.list.d/" X="" Y=""
  codename=$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)
  [ -n "$codename" ] || codename=bookworm
  if command -v apt-config >/dev/null 2>&1; then
    eval "$(apt-config shell X Dir::Etc::sourcelist/f Y Dir::Etc::sourceparts/d 2>/dev/null)" || true
    list=${X:-$list}
    parts=${Y:-$parts}
  fi
  local files=() f
  [ -f "$list" ] && files+=("$list")
  for f in "$parts"*.list "$parts"*.sources; do [ -f "$f" ] && files+=("$f"); done
  local uri=""
  if [ ${#files[@]} -gt 0 ]; then
    # One-line entries ("deb [opts] URI SUITE COMPONENTS…") and deb822 stanzas (Types/URIs/Suites),
    # the release's own suite (not -security), binary (deb) entries only.
    uri=$(awk -v want="$codename" '
      function flush() { if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no") { n = split(suites, s, /[ \t]+/); for (i = 1; i <= n; i++) if (s[i] == want) { split(uris, u, /[ \t]+/); if (u[1] != "") { print u[1]; found = 1; exit } } } types = ""; uris = ""; suites = ""; enabled = "" }
      FNR == 1 { flush() }
      /^[ \t]*#/ { next }
      FILENAME ~ /\.sources$/ {
        if ($0 ~ /^[ \t]*$/) { flush(); next }
        line = $0; key = tolower(line); sub(/:.*/, "", key); sub(/^[^:]*:[ \t]*/, "", line)
        if (key == "types") types = line; else if (key == "uris") uris = line; else if (key == "suites") suites = line; else if (key == "enabled") enabled = tolower(line)
        next
      }
      $1 == "deb" {
        i = 2
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == want) { print $i; found = 1; exit }
      }
      END { if (!found) flush() }
    ' "${files[@]}" 2>/dev/null | head -n 1)
  fi
  uri=${uri%/}
  echo "${uri:-http://deb.debian.org/debian}"
}

if [ "${1:-}" = "--print-mirror" ]; then
  debian_mirror
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
[ -e /usr/lib/chromium/vk_swiftshader_icd.json ] || need_apt+=(chromium)
grep -q 'libvulkan.so.1 ' < <(ldconfig -p 2>/dev/null) || need_apt+=(libvulkan1)
# lavapipe 25's own libraries (LLVM 15, xcb, wayland …) come with the system's mesa-vulkan-drivers.
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers)
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "setup: ${need_apt[*]} must be installed with apt-get: run as root or install sudo" >&2; exit 1
    fi
  fi
  echo "setup: apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js $(node -v 2>/dev/null || echo missing) is too old; wafermesh needs Node 20 or newer (e.g. from NodeSource)" >&2
  exit 1
fi

# lavapipe from Mesa 25, fetched with a private apt state so the system's sources stay as they are.
LVP=.cache/lavapipe
if [ ! -e "$LVP/root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so" ] && [ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ]; then
  echo "setup: fetching lavapipe (Mesa 25, bookworm-backports) into $LVP"
  fetch_lavapipe() {
    rm -rf "$LVP" && mkdir -p "$LVP/apt/lists/partial" "$LVP/debs" || return 1
    local mirror
    mirror=$(debian_mirror)
    echo "setup: from $mirror"
    cat > "$LVP/apt/backports.sources" <<SRC || return 1
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    local o=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$PWD/$LVP/apt" -o "Dir::State::Lists=$PWD/$LVP/apt/lists" -o APT::Sandbox::User=root)
    apt-get "${o[@]}" update -qq || return 1
    (cd "$LVP/debs" && apt-get "${o[@]}" download -qq mesa-vulkan-drivers/bookworm-backports libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports) || return 1
    for f in "$LVP"/debs/*.deb; do dpkg -x "$f" "$LVP/root" || return 1; done
    [ -e "$LVP/root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so" ]
  }
  if ! fetch_lavapipe; then
    rm -rf "$LVP"
    echo "setup: could not fetch lavapipe 25; WebGPU in Node will use Chromium's SwiftShader (slower)" >&2
  fi
fi

npm ci --no-audit --no-fund
echo "setup: done"
