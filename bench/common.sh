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

# Runs "$@" in a private mount namespace where /etc/passwd, /etc/group and /etc/shadow are
# copies with the accounts both servers use (ftp for anonymous sessions, kftp-nopriv for the
# unprivileged processes) added; nothing is left on the machine afterwards. (The same technique
# as with_users in ./dev.) ftp's home is the served tree ($anon_home): vsftpd changes into the
# anonymous account's home directory even when anon_root is set.
with_users() {
  local dir
  dir=$(mktemp -d /tmp/keepftpd-bench-users.XXXXXX)
  grep -v -e '^ftp:' -e '^kftp-nopriv:' /etc/passwd > "$dir/passwd"
  grep -v -e '^ftp:' -e '^kftp-nopriv:' /etc/group > "$dir/group"
  { grep -v -e '^ftp:' -e '^kftp-nopriv:' /etc/shadow || true; } > "$dir/shadow"
  echo "ftp:x:61001:61001:keepftpd anonymous user:$anon_home:/usr/sbin/nologin" >> "$dir/passwd"
  echo 'kftp-nopriv:x:61002:61002:keepftpd pre-login jail:/nonexistent:/usr/sbin/nologin' >> "$dir/passwd"
  echo 'ftp:x:61001:' >> "$dir/group"
  echo 'kftp-nopriv:x:61002:' >> "$dir/group"
  echo 'ftp:!:19000::::::' >> "$dir/shadow"
  echo 'kftp-nopriv:!:19000::::::' >> "$dir/shadow"
  chmod 644 "$dir/passwd" "$dir/group"; chmod 640 "$dir/shadow"
  local rc=0
  unshare --mount --propagation private -- bash -c '
    mount --bind "$0/passwd" /etc/passwd && mount --bind "$0/group" /etc/group &&
    mount --bind "$0/shadow" /etc/shadow && exec "$@"' "$dir" "$@" || rc=$?
  rm -rf "$dir"
  return $rc
}
