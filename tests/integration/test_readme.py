"""README's walkthroughs, word for word, as a newcomer would type them, from a copy of the
checkout, on a throwaway machine whose PID 1 is a real systemd (tests/integration/systemd_machine.py,
booted once for this file, where every write goes to memory): step 1 builds and installs
keepftpd there once, and then

- "Install and run with systemd": `systemctl`, journald and the installed units are the real
  ones;
- "Install and run with xinetd": xinetd started by that systemd;
- "Rootless mode" as a normal user of the machine.

Only what cannot run here is stood in for: apt-get answers yes and upgrades nothing (there is
no network)."""

import os
import re
import shutil
import subprocess

import pytest

from systemd_machine import SystemdMachine
from test_service import read

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme_block(heading):
    """The first ```sh block after the heading."""
    text = read("README.md")
    start = text.index(heading)
    m = re.search(r"^```sh\n(.*?)^```", text[start:], re.MULTILINE | re.DOTALL)
    assert m, f"no sh block after {heading!r}"
    return m.group(1)


def copy_checkout(dest):
    """"From a checkout of this repository": its files (new ones too), without build
    directories."""
    files = subprocess.run(["git", "-C", REPO, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src, dst = os.path.join(REPO, name), dest / name
        if os.path.lexists(src):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst, follow_symlinks=False)


SKIP_SANITIZED = pytest.mark.skipif(
    bool(os.environ.get("KEEPFTPD_SANITIZED")),
    reason="the walkthroughs make their own release build; once is enough")


# ---- on a machine whose PID 1 is systemd ---------------------------------------------------

# What the newcomer's shell is: apt-get for real, answering yes and leaving installed packages at
# their versions (the machine has no network, and ./dev installed them); the checkout's copy as
# the working directory. curl retries a refused connection: a server just (re)started may not
# listen yet (xinetd binds its ports after systemctl restart returns), where a person would have
# taken a moment to type the next line.
NEWCOMER = """
set -eu
apt-get() { command apt-get -y --no-upgrade "$@"; }
curl() { command curl --retry 20 --retry-delay 1 --retry-connrefused "$@"; }
cd /root/keepftpd
set -x
"""


@pytest.fixture(scope="module")
def systemd_machine(tmp_path_factory):
    """The machine, after the walkthrough's steps 1 to 3 (build and install, accounts and
    directories, the configuration): what both walkthroughs start from."""
    checkout = tmp_path_factory.mktemp("readme") / "keepftpd"
    copy_checkout(checkout)
    m = SystemdMachine(binds={str(checkout): "/root/keepftpd"})
    m.start()
    try:
        systemd = readme_block("## Install and run with systemd")
        r = m.run(NEWCOMER + systemd[:systemd.index("# 4.")], check=False, timeout=1800)
        assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
        assert re.search(r"^OK$", r.stdout, re.MULTILINE), r.stdout[-3000:]  # check-config
        yield m
    finally:
        m.stop()
        shutil.rmtree(checkout, ignore_errors=True)


@SKIP_SANITIZED
def test_readme_systemd_walkthrough(systemd_machine):
    m = systemd_machine
    systemd = readme_block("## Install and run with systemd")
    try:
        r = m.run(NEWCOMER + systemd[systemd.index("# 4."):], check=False)
        assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
        # curl fetched the file, through the socket unit systemd started from the installed
        # files, and the journal has the session.
        assert "hello\n" in r.stdout, r.stdout[-3000:]
        assert re.search(r"keepftpd\[[0-9]+\]: session jail: RETR /pub/hello\.txt: 6 bytes",
                         r.stdout), r.stdout[-3000:]
        units = m.run("systemctl show -p FragmentPath -p UnitFileState ftp.socket; "
                      "journalctl -t keepftpd -o json --no-pager").stdout
        assert "FragmentPath=/lib/systemd/system/ftp.socket" in units, units
        assert "UnitFileState=enabled" in units, units
        assert re.search(r'"_SYSTEMD_UNIT":"ftp@[0-9]+-[^"]*:21-[^"]*\.service"', units), units
    finally:
        m.run("systemctl disable --now ftp.socket", check=False)


@SKIP_SANITIZED
def test_readme_xinetd_walkthrough(systemd_machine):
    m = systemd_machine
    try:
        r = m.run(NEWCOMER + readme_block("## Install and run with xinetd"), check=False)
        assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
        assert "hello\n" in r.stdout, r.stdout[-3000:]
        # It was xinetd, started by systemd, that served it.
        assert m.run("systemctl is-active xinetd ftp.socket", check=False).stdout.split() == \
            ["active", "inactive"]
        # keepftpd ran in xinetd.service's cgroup: its records are the unit's.
        log = m.run("journalctl -u xinetd --no-pager").stdout
        assert re.search(r"keepftpd\[[0-9]+\]: session jail: RETR /pub/hello\.txt: 6 bytes",
                         log), log
    finally:
        m.run("systemctl stop xinetd", check=False)


# The rootless walkthrough's user, made in the machine. curl retries a refused connection: the
# server the walkthrough starts in the background may not listen yet, where a person would have
# taken a moment to type the next line. That server is stopped after, by its process id.
AS_A_NORMAL_USER = """
set -eu
useradd --create-home --home-dir /srv/walker --shell /bin/bash readme-walker
cat > /srv/walker/steps.sh <<'STEPS'
set -eux
curl() { command curl --retry 20 --retry-delay 1 --retry-connrefused "$@"; }
%s
kill $!
wait $! || true
STEPS
runuser -u readme-walker -- env HOME=/srv/walker bash /srv/walker/steps.sh
"""


@SKIP_SANITIZED
def test_readme_rootless_walkthrough(systemd_machine):
    """"Rootless mode", as a normal user, with keepftpd installed by step 1."""
    r = systemd_machine.run(AS_A_NORMAL_USER % readme_block("## Rootless mode"), check=False)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    assert re.search(r"^OK$", r.stdout, re.MULTILINE), r.stdout[-3000:]  # check-config
    assert "hello\n" in r.stdout, r.stdout[-3000:]
