#!/bin/sh
# install-conffile.sh MODE SRC DEST...: run by `meson install` (meson.add_install_script) for
# the files an administrator edits: the configuration, the PAM service, the xinetd entries, the
# fail2ban filter and jail. Each SRC (pairs: SRC DEST, DEST an absolute path) is installed as
# $DESTDIR/DEST with MODE only where no file of that name is there yet. An existing file is the
# administrator's and is never replaced: the shipped version goes beside it as DEST.dist (when
# it differs), and the script says so. A DEST.dist is read by none of the programs concerned:
# xinetd skips names with a dot, fail2ban reads *.conf and *.local only, keepftpd reads the
# file it is given.
set -eu

# What the administrator must read. meson install (1.0) keeps a script's output to itself
# unless the script fails: where it does (our standard output is not meson's), write to meson's
# own standard output as well.
say() {
  echo "$*"
  if [ -w "/proc/$PPID/fd/1" ] &&
     [ "$(readlink "/proc/$PPID/fd/1")" != "$(readlink /proc/self/fd/1)" ]; then
    echo "$*" >>"/proc/$PPID/fd/1" || true
  fi
}

mode=$1
shift
while [ $# -ge 2 ]; do
  src=$1 dest=${DESTDIR:-}$2
  shift 2
  if [ -n "${MESON_INSTALL_DRY_RUN:-}" ]; then
    echo "Would install $src to $dest unless it exists"
    continue
  fi
  mkdir -p "$(dirname "$dest")"
  if [ ! -e "$dest" ] && [ ! -L "$dest" ]; then
    install -m "$mode" "$src" "$dest"
    [ -n "${MESON_INSTALL_QUIET:-}" ] || say "Installing $src to $dest"
  elif cmp -s "$src" "$dest"; then
    [ -n "${MESON_INSTALL_QUIET:-}" ] || say "Keeping $dest (the same as the shipped file)"
  else
    install -m "$mode" "$src" "$dest.dist"
    say "Keeping $dest (changed since it was installed); the shipped version is $dest.dist"
  fi
done
if [ $# -ne 0 ]; then
  echo "install-conffile.sh: SRC without DEST: $1" >&2
  exit 1
fi
