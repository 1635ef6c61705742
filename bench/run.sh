#!/usr/bin/env bash
# keepftpd vs vsftpd, side by side, both started per connection by systemd-socket-activate
# --inetd on loopback, driven by the same C++ client (bench/client.cc). Run as root on Debian 12:
#   bench/run.sh            full run (15-17 minutes, 8-9 of them the three rounds of 10,000
#                           held sessions; ONLY=held runs that row alone)
#   QUICK=1 bench/run.sh    smoke run (about a minute and a half)
# Knobs (environment): ROUNDS, SEQ_SESSIONS, PAR_SESSIONS, RETR_SMALL_COUNT, RETR_MID_COUNT,
# LIST_ENTRIES, HOLD_SESSIONS, MANY_SESSIONS, MANY_ROUNDS, MANY_IO_TIMEOUT, RETR_MIB, STOR_MIB,
# ONLY; see bench/README.md for what each row means. KEEPFTPD=/path/to/keepftpd measures that binary
# (another commit's build, for a before/after) instead of this tree's release build.
# Exits non-zero only if a server (or the harness) fails to serve; speed is never judged.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
# shellcheck source=bench/common.sh
. bench/common.sh

say() { printf '%s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "bench: needs root (chroot, setuid, private account files); run it as root."
  exit 1
fi

packages=(meson ninja-build pkg-config g++ libsystemd-dev libssl-dev libcap-ng-dev
          libpam0g-dev libseccomp-dev nettle-dev systemd util-linux libpam-modules python3
          openssl vsftpd)
ensure_packages bench "${packages[@]}"

# Release build of keepftpd, without the test hooks.
if [ ! -f build-bench/build.ninja ]; then
  meson setup build-bench --buildtype=release -Dtest_hooks=false >/dev/null
fi
ninja -C build-bench src/keepftpd >&2
keepftpd=${KEEPFTPD:-$top/build-bench/src/keepftpd}

# The benchmark's own programs.
tools=build-bench/bench-tools
mkdir -p "$tools"
for t in client trivial220 sendfile_pair receive_pair tls_floor; do
  if [ ! -x "$tools/$t" ] || [ "bench/$t.cc" -nt "$tools/$t" ]; then
    g++ -std=c++20 -O2 -Wall -Wextra -pthread -o "$tools/$t" "bench/$t.cc" -lssl -lcrypto
  fi
done
# The process-shape floor, static (the kernel's part alone) and linked against the shared
# libraries keepftpd's release binary names (what loading them adds in this shape), with the
# seccomp filters this tree's build compiled.
g++ -std=c++20 -O2 -Wall -Wextra -static -Ibuild-bench/src/monitor -o "$tools/shape_floor" \
  bench/shape_floor.cc
mapfile -t needed < <(readelf -d "$keepftpd" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/-l:\1/p')
g++ -std=c++20 -O2 -Wall -Wextra -static-libstdc++ -static-libgcc -Ibuild-bench/src/monitor \
  -o "$tools/shape_floor_libs" bench/shape_floor.cc -Wl,--no-as-needed "${needed[@]}"
# The same shape over TLS: its TLS jail loads OpenSSL with dlopen, as keepftpd's does.
g++ -std=c++20 -O2 -Wall -Wextra -static-libstdc++ -static-libgcc -Ibuild-bench/src/monitor \
  -o "$tools/shape_floor_tls" bench/shape_floor_tls.cc -Wl,--no-as-needed "${needed[@]}"

# One self-signed RSA 2048 certificate for both servers' FTPS, made once and kept.
cert=build-bench/bench-data/cert.pem
key=build-bench/bench-data/key.pem
if [ ! -f "$cert" ] || [ ! -f "$key" ]; then
  mkdir -p build-bench/bench-data
  say "bench: making $cert (once)"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
    -keyout "$key.tmp" -out "$cert.tmp" 2>/dev/null
  chmod 600 "$key.tmp"
  mv "$key.tmp" "$key"
  mv "$cert.tmp" "$cert"
fi

# Real (not sparse) random data, made once and kept: the big download (RETR, ASCII RETR: 2 GiB)
# and the file of the other big transfers (STOR, FTPS RETR and STOR: 1 GiB). QUICK: 100 MiB.
small_default=$([ -n "${QUICK:-}" ] && [ "${QUICK:-}" != 0 ] && echo 100 || echo "")
retr_mib=${RETR_MIB:-${small_default:-2048}}
stor_mib=${STOR_MIB:-${small_default:-1024}}
random_file() {  # sets $file
  local mib=$1 left
  file=build-bench/bench-data/random-${mib}M.bin
  if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" != $((mib * 1048576)) ]; then
    mkdir -p build-bench/bench-data
    say "bench: making $file (once)"
    : > "$file.tmp"
    # openssl rand takes at most 2^31 - 1 bytes at once: 1 GiB at a time.
    for ((left = mib; left > 0; left -= 1024)); do
      openssl rand $(( (left < 1024 ? left : 1024) * 1048576 )) >> "$file.tmp"
    done
    mv "$file.tmp" "$file"
  fi
}
random_file "$retr_mib"
big=$file
random_file "$stor_mib"
xfer=$file


work=$(mktemp -d /tmp/keepftpd-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
anon_home=$work/ftp
with_users /usr/bin/python3 bench/bench.py --work "$work" \
  --keepftpd "$keepftpd" --vsftpd /usr/sbin/vsftpd \
  --tools "$top/$tools" --big "$top/$big" --xfer "$top/$xfer" --cert "$top/$cert" --key "$top/$key"
