"""README's "Install and run with systemd", word for word, as a newcomer would type it: built and
installed from a copy of the checkout, into a throwaway machine made of namespaces (overlays on
/usr, /etc and /var, a tmpfs on /srv, its own network with port 21 free, its own journald).

Only what cannot run here is stood in for: apt-get answers yes and upgrades nothing (no
network), and there is no systemd as PID 1, so `systemctl` is a shell function that does what `enable --now ftp.socket` means with the *installed* units -
systemd-socket-activate listening where ftp.socket says, running ftp@.service's ExecStart= line
the way StandardInput=socket hands over the connection."""

import os
import re
import shutil
import subprocess

import pytest

from test_service import JOURNALD, JOURNALD_CONF, read, require

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme_block(heading):
    """The first ```sh block after the heading."""
    text = read("README.md")
    start = text.index(heading)
    m = re.search(r"^```sh\n(.*?)^```", text[start:], re.MULTILINE | re.DOTALL)
    assert m, f"no sh block after {heading!r}"
    return m.group(1)


# The machine: overlays keep every write the walkthrough makes (meson install, useradd, the
# config) out of the real system; journald runs as on a real one.
MACHINE = r"""
set -eu
work=$1; shift
for d in usr etc var; do
  mkdir -p "$work/$d.upper" "$work/$d.work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/$d.upper,workdir=$work/$d.work" "/$d"
done
mount -t tmpfs tmpfs /srv
mount -t tmpfs -o mode=755 tmpfs /run/systemd 2>/dev/null || { mkdir -p /run/systemd; mount -t tmpfs -o mode=755 tmpfs /run/systemd; }
mount -t tmpfs tmpfs /run/log 2>/dev/null || { mkdir -p /run/log; mount -t tmpfs tmpfs /run/log; }
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d
cp "$work/journald.conf" /run/systemd/journald.conf.d/test.conf
ip link set lo up
env -u NOTIFY_SOCKET "$JOURNALD" >"$work/journald.out" 2>&1 &
for i in $(seq 200); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done

# apt-get for real, but answering yes (as the newcomer would) and leaving installed packages
# at their versions: this machine has no network, and ./dev installed them.
apt-get() { command apt-get -y --no-upgrade "$@"; }

# systemctl, for the two lines the walkthrough uses.
systemctl() {
  case "$*" in
    daemon-reload) ;;
    "enable --now ftp.socket")
      unitdir=$(pkg-config --variable=systemdsystemunitdir systemd)
      listen=$(sed -n 's/^ListenStream=//p' "$unitdir/ftp.socket")
      grep -qx 'Accept=yes' "$unitdir/ftp.socket"
      grep -qx 'StandardInput=socket' "$unitdir/ftp@.service"
      exec_start=$(sed -n 's/^ExecStart=//p' "$unitdir/ftp@.service")
      systemd-socket-activate -l "$listen" -a --inetd $exec_start >"$work/activate.log" 2>&1 &
      for i in $(seq 200); do ss -ltn | grep -q ":$listen " && return 0; sleep 0.05; done
      echo "nothing listens on $listen"; return 1 ;;
    "restart xinetd")
      xinetd -pidfile "$work/xinetd.pid"  # daemonizes, reading /etc/xinetd.conf and xinetd.d
      for i in $(seq 200); do ss -ltn | grep -q ":21 " && return 0; sleep 0.05; done
      echo "xinetd listens on no port 21"; return 1 ;;
    *) echo "systemctl $*: not part of the walkthrough"; return 1 ;;
  esac
}

cd "$work/keepftpd"
set -x
"""


def walk_through(tmp_path, steps):
    """Runs steps in the throwaway machine; returns its standard output."""
    require(JOURNALD)
    require("systemd-socket-activate")
    work = tmp_path / "machine"
    work.mkdir()
    (work / "journald.conf").write_text(JOURNALD_CONF)
    # "From a checkout of this repository": its files (new ones too), without build directories.
    files = subprocess.run(["git", "-C", REPO, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src, dst = os.path.join(REPO, name), work / "keepftpd" / name
        if os.path.lexists(src):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst, follow_symlinks=False)
    footprint = ("/usr/sbin/keepftpd", "/etc/keepftpd.conf", "/srv/ftp", "/usr/share/empty",
                 "/etc/xinetd.d/keepftpd")
    before = {p: os.path.lexists(p) for p in footprint}
    # Its own PID namespace too: whatever the walkthrough started dies with it.
    r = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc",
                        "--propagation", "private", "--",
                        "bash", "-c", MACHINE + steps, "readme-walkthrough", str(work)],
                       capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, JOURNALD=JOURNALD))
    logs = ""
    for name in ("activate.log", "journald.out"):
        if (work / name).exists():
            logs += f"\n---- {name} ----\n" + (work / name).read_text()
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:] + logs
    # The walkthrough promises: check-config says OK, curl fetches the file.
    assert re.search(r"^OK$", r.stdout, re.MULTILINE), r.stdout[-3000:]
    assert "hello\n" in r.stdout, r.stdout[-3000:]
    # Nothing reached the real system.
    assert {p: os.path.lexists(p) for p in footprint} == before
    shutil.rmtree(work, ignore_errors=True)
    return r.stdout


SKIP_SANITIZED = pytest.mark.skipif(
    bool(os.environ.get("KEEPFTPD_SANITIZED")),
    reason="the walkthrough makes its own release build; once is enough")


@SKIP_SANITIZED
def test_readme_systemd_walkthrough(tmp_path):
    out = walk_through(tmp_path, readme_block("## Install and run with systemd"))
    # ... and the journal has the session.
    assert re.search(r"keepftpd\[[0-9]+\]: session jail: RETR /pub/hello\.txt: 6 bytes", out), \
        out[-3000:]


# The rootless walkthrough's user, made in the throwaway machine (its /etc is an overlay, its
# /srv a tmpfs). curl retries a refused connection: the server the walkthrough starts in the
# background may not listen yet, where a person would have taken a moment to type the next line.
AS_A_NORMAL_USER = """
useradd --create-home --home-dir /srv/walker --shell /bin/bash readme-walker
cat > /srv/walker/steps.sh <<'STEPS'
set -eux
curl() { command curl --retry 20 --retry-delay 1 --retry-connrefused "$@"; }
%s
STEPS
runuser -u readme-walker -- env HOME=/srv/walker bash /srv/walker/steps.sh
"""


@SKIP_SANITIZED
def test_readme_rootless_walkthrough(tmp_path):
    systemd = readme_block("## Install and run with systemd")
    step_1 = systemd[:systemd.index("# 2.")]
    out = walk_through(tmp_path, step_1 + AS_A_NORMAL_USER % readme_block("## Rootless mode"))
    assert "OK" in out


@SKIP_SANITIZED
def test_readme_xinetd_walkthrough(tmp_path):
    systemd = readme_block("## Install and run with systemd")
    steps_1_to_3 = systemd[:systemd.index("# 4.")]
    out = walk_through(tmp_path, steps_1_to_3 + readme_block("## Install and run with xinetd"))
    assert "OK" in out
