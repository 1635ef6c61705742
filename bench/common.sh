# Shared by bench/run.sh and bench/profile.sh (sourced, not run).

# ensure_packages TOOL PACKAGE...: installs the missing packages with apt-get, keeping services
# from being started during the install (the vsftpd package would start a standalone vsftpd on
# port 21), unless a policy is in place already.
ensure_packages() {
  local tool=$1 p
  shift
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  printf '%s: installing %s\n' "$tool" "${missing[*]}" >&2
  apt-get update -qq >/dev/null
  local policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy=/usr/sbin/policy-rc.d
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null || rc=$?
  [ -n "$policy" ] && rm -f "$policy"
  [ $rc -eq 0 ] || { printf '%s: apt-get install failed\n' "$tool" >&2; exit 1; }
}

# The local account of the local-user (PAM) rows, and its password (a benchmark account in a
# private copy of the account files, never on the machine itself).
bench_local_user=kftp-bench
bench_local_pass=bench-local-password

# Runs "$@" in a private mount namespace where /etc/passwd, /etc/group and /etc/shadow are
# copies with the accounts both servers use added: ftp (61001) for anonymous sessions,
# kftp-nopriv (61002) for the unprivileged processes, and $bench_local_user (61003, password
# $bench_local_pass, shell /bin/bash) for the local-user rows; /etc/pam.d is a copy with the
# repository's pam.d/keepftpd as the keepftpd service, which both servers' local-user
# configurations use. Nothing is left on the machine afterwards. (The same technique as
# with_users in ./dev.) ftp's and $bench_local_user's home is the served tree ($anon_home):
# vsftpd changes into the anonymous account's home directory even when anon_root is set.
with_users() {
  local dir
  dir=$(mktemp -d /tmp/keepftpd-bench-users.XXXXXX)
  local skip=(-e '^ftp:' -e '^kftp-nopriv:' -e "^$bench_local_user:")
  grep -v "${skip[@]}" /etc/passwd > "$dir/passwd"
  grep -v "${skip[@]}" /etc/group > "$dir/group"
  { grep -v "${skip[@]}" /etc/shadow || true; } > "$dir/shadow"
  echo "ftp:x:61001:61001:keepftpd anonymous user:$anon_home:/usr/sbin/nologin" >> "$dir/passwd"
  echo 'kftp-nopriv:x:61002:61002:keepftpd pre-login jail:/nonexistent:/usr/sbin/nologin' >> "$dir/passwd"
  echo "$bench_local_user:x:61003:61003:keepftpd bench local user:$anon_home:/bin/bash" >> "$dir/passwd"
  echo 'ftp:x:61001:' >> "$dir/group"
  echo 'kftp-nopriv:x:61002:' >> "$dir/group"
  echo "$bench_local_user:x:61003:" >> "$dir/group"
  echo 'ftp:!:19000::::::' >> "$dir/shadow"
  echo 'kftp-nopriv:!:19000::::::' >> "$dir/shadow"
  echo "$bench_local_user:$(openssl passwd -6 "$bench_local_pass"):19000:0:99999:7:::" >> "$dir/shadow"
  chmod 644 "$dir/passwd" "$dir/group"; chmod 640 "$dir/shadow"
  chgrp shadow "$dir/shadow"  # as on the system: pam_unix's helper for non-root callers reads it
  cp -a /etc/pam.d "$dir/pam.d"
  cp "$(dirname "${BASH_SOURCE[0]}")/../pam.d/keepftpd" "$dir/pam.d/keepftpd"
  local rc=0
  BENCH_LOCAL_USER=$bench_local_user BENCH_LOCAL_PASS=$bench_local_pass \
  unshare --mount --propagation private -- bash -c '
    mount --bind "$0/passwd" /etc/passwd && mount --bind "$0/group" /etc/group &&
    mount --bind "$0/shadow" /etc/shadow && mount --bind "$0/pam.d" /etc/pam.d && exec "$@"' \
    "$dir" "$@" || rc=$?
  rm -rf "$dir"
  return $rc
}
