#!/usr/bin/env bash
# Profiles behind bench/README.md's "Where the time goes (profiles)": processes, syscalls,
# instructions (callgrind), page faults and memory of one session, keepftpd next to vsftpd,
# both configured as bench/bench.py configures them. Run as root on Debian 12:
#   bench/profile.sh                 everything (a few minutes; see each step)
#   ONLY=strace bench/profile.sh     one step: strace, callgrind, perf, pss, kernel, processes,
#                                    namespaces, phases, held (HELD_SESSIONS=8000 logged in and
#                                    held per server, about two minutes on its own)
# Raw outputs go to build-prof/profile/ (callgrind.out.*, strace logs); the report (markdown)
# is printed on stdout. Instruction and syscall counts do not depend on the machine's load;
# timings do.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
# shellcheck source=bench/common.sh
. bench/common.sh

say() { printf '%s\n' "$*" >&2; }
if [ "$(id -u)" != 0 ]; then say "profile: needs root"; exit 1; fi

packages=(meson ninja-build pkg-config g++ libsystemd-dev libssl-dev libcap-ng-dev
          libpam0g-dev libseccomp-dev nettle-dev systemd util-linux libpam-modules python3
          openssl vsftpd strace valgrind linux-perf)
ensure_packages profile "${packages[@]}"

# The benchmark's release build (same options as build-bench/), with debug info for the
# profiles' source lines; -g does not change the generated code.
if [ ! -f build-prof/build.ninja ]; then
  meson setup build-prof --buildtype=release -Ddebug=true -Dtest_hooks=false -Dtests=false \
    >/dev/null
fi
ninja -C build-prof src/keepftpd >&2
# KEEPFTPD=/path/to/keepftpd profiles that binary instead (another commit's, for a before/after).
keepftpd=${KEEPFTPD:-$top/build-prof/src/keepftpd}

tools=build-prof/tools
mkdir -p "$tools"
for t in client trivial220 tls_floor; do
  if [ ! -x "$tools/$t" ] || [ "bench/$t.cc" -nt "$tools/$t" ]; then
    g++ -std=c++20 -O2 -Wall -Wextra -pthread -o "$tools/$t" "bench/$t.cc" -lssl -lcrypto
  fi
done
# keepftpd's process shape linked with its libraries, as bench/run.sh builds it (the perf step's
# floor).
mapfile -t needed < <(readelf -d "$keepftpd" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/-l:\1/p')
g++ -std=c++20 -O2 -Wall -Wextra -static-libstdc++ -static-libgcc -Ibuild-prof/src/monitor \
  -o "$tools/shape_floor_libs" bench/shape_floor.cc -Wl,--no-as-needed "${needed[@]}"
g++ -std=c++20 -O2 -Wall -Wextra -static-libstdc++ -static-libgcc -Ibuild-prof/src/monitor \
  -o "$tools/shape_floor_tls" bench/shape_floor_tls.cc -Wl,--no-as-needed "${needed[@]}"
# Under valgrind only: chroot() that leaves the root alone, so that a jail's profile can be
# written when it exits (see bench/profile.py).
if [ ! -f "$tools/nochroot.so" ] || [ bench/prof_nochroot.c -nt "$tools/nochroot.so" ]; then
  gcc -O2 -shared -fPIC -o "$tools/nochroot.so" bench/prof_nochroot.c -ldl
fi
if [ ! -x "$tools/nsloop" ] || [ bench/prof_nsloop.c -nt "$tools/nsloop" ]; then
  gcc -O2 -o "$tools/nsloop" bench/prof_nsloop.c
fi

cert=build-prof/data/cert.pem
key=build-prof/data/key.pem
small=build-prof/data/random-1M.bin
mkdir -p build-prof/data
if [ ! -f "$cert" ] || [ ! -f "$key" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
    -keyout "$key" -out "$cert" 2>/dev/null
  chmod 600 "$key"
fi
[ -f "$small" ] || openssl rand -out "$small" 1048576

out=$top/build-prof/profile
[ -n "${ONLY:-}" ] || rm -rf "$out"  # a single step keeps the other steps' outputs
mkdir -p "$out"


work=$(mktemp -d /tmp/keepftpd-prof.XXXXXX)
trap 'rm -rf "$work"' EXIT
anon_home=$work/ftp
with_users /usr/bin/python3 bench/profile.py --work "$work" --out "$out" \
  --keepftpd "$keepftpd" --vsftpd /usr/sbin/vsftpd \
  --tools "$top/$tools" --big "$top/$small" --cert "$top/$cert" --key "$top/$key" \
  --nochroot "$top/$tools/nochroot.so" --only "${ONLY:-}"
