#!/usr/bin/env bash
# Builds and runs keepftpd's libFuzzer targets (fuzz/fuzz_*.cc) with clang, ASan and UBSan.
#   fuzz/run.sh                   every target, 20 s each
#   fuzz/run.sh TARGET [SECONDS]  one target (fuzz_path or just path), 60 s by default
#   fuzz/run.sh all SECONDS       every target, SECONDS each
# Installs clang and libclang-rt-14-dev (libFuzzer's runtime) with apt-get when missing (as
# root). Everything goes to build-fuzz/: binaries, the working corpora (seeded from
# fuzz/corpus/<target>/, which is never written to), logs/ and artifacts/ (crashing or hanging
# inputs). Prints one line per target and a final line; exits non-zero if a target failed to
# build, crashed, broke an invariant, ran out of memory or timed out.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
out=$top/build-fuzz

packages=(clang libclang-rt-14-dev)

# The project's pure modules the targets link; never main/monitor/jail/sandbox (side effects,
# libsystemd, PAM).
lib_sources=(jail/ftp_command common/sockaddr jail/ftp_path jail/listing common/config common/wire
             monitor/monitor_table common/ipc common/status common/strutil jail/proxy_protocol
             common/name_filter common/requests)

# Target -> largest input worth trying.
declare -A max_len=(
  [fuzz_command_line]=4096
  [fuzz_port_args]=512
  [fuzz_path]=9000
  [fuzz_config]=16384  # a real config is a few KiB; longer inputs only slow the search
  [fuzz_monitor_request]=4098
  [fuzz_ascii]=8192
  [fuzz_listing]=8192
  [fuzz_proxy_header]=2100
)
all_targets=(fuzz_command_line fuzz_port_args fuzz_path fuzz_config fuzz_monitor_request
             fuzz_ascii fuzz_listing fuzz_proxy_header)

say() { printf '%s\n' "$*" >&2; }

ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    say "fuzz: installing ${missing[*]} needs root; run it as root."
    exit 1
  fi
  say "fuzz: installing ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

usage() {
  say "usage: fuzz/run.sh [TARGET|all [SECONDS]]"
  say "targets: ${all_targets[*]}"
  exit 2
}

# ---- arguments ----
targets=("${all_targets[@]}")
seconds=20
if [ $# -ge 1 ] && [ "$1" != all ]; then
  t=$1
  [[ $t == fuzz_* ]] || t=fuzz_$t
  [ -n "${max_len[$t]:-}" ] || { say "fuzz: no target $1"; usage; }
  targets=("$t")
  seconds=60
fi
if [ $# -ge 2 ]; then
  [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ] || usage
  seconds=$2
fi
[ $# -le 2 ] || usage

ensure_packages "${packages[@]}"

CXX=${CXX:-clang++}
common_flags=(-std=c++20 -fno-exceptions -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
              -Isrc/common -Isrc/jail -Isrc/monitor -Isrc/entry -I"$out/include" -Ifuzz -g -O1
              -fno-sanitize-recover=all)

mkdir -p "$out/include" "$out/obj" "$out/logs" "$out/artifacts" "$out/corpus"

# The few src/ files that include build_config.h (none of the linked ones today) get the macros
# meson would define.
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -n 1)
cat > "$out/include/build_config.h.new" <<CONF
#pragma once
#define KEEPFTPD_VERSION "${version:-0}"
#define KEEPFTPD_SYSCONFDIR "/etc"
#define KEEPFTPD_TEST_HOOKS 0
CONF
if cmp -s "$out/include/build_config.h.new" "$out/include/build_config.h"; then
  rm -f "$out/include/build_config.h.new"
else
  mv "$out/include/build_config.h.new" "$out/include/build_config.h"
fi

# ---- build ----
# An object is rebuilt when its source, any header or .def in src/ or fuzz/, or the flags changed.
flags_stamp=$out/obj/flags
echo "$CXX ${common_flags[*]}" > "$out/obj/flags.new"
if ! cmp -s "$out/obj/flags.new" "$flags_stamp"; then
  mv "$out/obj/flags.new" "$flags_stamp"
else
  rm -f "$out/obj/flags.new"
fi
newest_header=$(ls -t src/*/*.h src/*/*.def fuzz/*.h "$out/include/build_config.h" "$flags_stamp" \
                  2>/dev/null | head -n 1)

stale() {  # stale OUTPUT SOURCE...
  local o=$1 s
  shift
  [ -f "$o" ] || return 0
  [ "$newest_header" -nt "$o" ] && return 0
  for s in "$@"; do [ "$s" -nt "$o" ] && return 0; done
  return 1
}

build_failed=()
declare -A pids=()
for s in "${lib_sources[@]}"; do
  o=$out/obj/${s//\//_}.o
  if stale "$o" "src/$s.cc"; then
    "$CXX" "${common_flags[@]}" -fsanitize=fuzzer-no-link,address,undefined \
      -c "src/$s.cc" -o "$o" >"$out/logs/build-${s//\//_}.log" 2>&1 &
    pids[$s]=$!
  fi
done
lib_ok=1
for s in "${!pids[@]}"; do
  if ! wait "${pids[$s]}"; then
    lib_ok=0
    rm -f "$out/obj/${s//\//_}.o"
    say "fuzz: compiling src/$s.cc failed:"
    sed -n 1,30p "$out/logs/build-${s//\//_}.log" >&2
  fi
done
objects=()
for s in "${lib_sources[@]}"; do objects+=("$out/obj/${s//\//_}.o"); done

declare -A built=()
pids=()
for t in "${targets[@]}"; do
  bin=$out/$t
  if [ $lib_ok = 1 ] && stale "$bin" "fuzz/$t.cc" "${objects[@]}"; then
    "$CXX" "${common_flags[@]}" -fsanitize=fuzzer,address,undefined "fuzz/$t.cc" \
      "${objects[@]}" -o "$bin" >"$out/logs/build-$t.log" 2>&1 &
    pids[$t]=$!
  fi
done
for t in "${targets[@]}"; do
  if [ $lib_ok = 1 ] && { [ -z "${pids[$t]:-}" ] || wait "${pids[$t]}"; }; then
    built[$t]=1
  else
    rm -f "$out/$t"
    [ $lib_ok = 1 ] && { say "fuzz: building $t failed:"; sed -n 1,30p "$out/logs/build-$t.log" >&2; }
  fi
done

# ---- run ----
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0
failed=0
for t in "${targets[@]}"; do
  if [ -z "${built[$t]:-}" ]; then
    echo "$t: FAILED to build (build-fuzz/logs/build-$t.log)"
    failed=$((failed + 1))
    continue
  fi
  corpus=$out/corpus/$t
  mkdir -p "$corpus"
  if [ -d "fuzz/corpus/$t" ]; then
    cp -n "fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
  fi
  log=$out/logs/$t.log
  before=$(ls "$out/artifacts" | grep -c "^$t-" || true)
  "$out/$t" -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
    "$corpus" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
  files=$(ls "$corpus" | wc -l)
  if [ $rc = 0 ]; then
    echo "$t: ok, ${runs:-?} runs in ${seconds} s, corpus $files inputs"
    passed=$((passed + 1))
  else
    artifact=$(ls -t "$out/artifacts" | grep "^$t-" | head -n 1)
    after=$(ls "$out/artifacts" | grep -c "^$t-" || true)
    what=$(grep -m 1 -o -E 'ERROR: [A-Za-z]+: [a-z-]+|invariant broken: .*|runtime error: .*|ERROR: libFuzzer: [a-z-]+' "$log" || true)
    [ "$after" -gt "$before" ] && where="build-fuzz/artifacts/$artifact" || where="no artifact"
    echo "$t: FAILED (exit $rc: ${what:-see log}), input $where, log build-fuzz/logs/$t.log"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed (${seconds} s per target)"
[ $failed = 0 ]
