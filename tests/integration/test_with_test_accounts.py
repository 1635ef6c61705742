"""tests/with-test-accounts, which ./dev test and ./dev serve (as root) run under: the accounts it
gives survive the machine adding and removing users while it runs.

The machine is simulated: a mount namespace of the test's own whose /etc is a copy, where real
useradd and userdel run (nsenter), outside the namespace that with-test-accounts makes inside it,
exactly as the machine's useradd is outside the one ./dev test runs in. The real machine's /etc
is never written: a rename there would also undo the test accounts of any other run of the old
with-test-accounts on this machine. The throwaway user goes with the simulated /etc."""

import ftplib
import io
import os
import signal
import subprocess

from conftest import KEEPFTPD, REPO, end_process_group, free_port
from test_privsep import wait_for

WITH_ACCOUNTS = os.path.join(REPO, "tests", "with-test-accounts")
THROWAWAY = "kftp-throwaway"

# The simulated machine: /etc a copy on a tmpfs (the working directory keeps the old one
# reachable while the copy is made) without the test accounts this test runs with, then nothing
# but waiting to be entered.
MACHINE = r"""
set -e
cd /etc
mount -t tmpfs -o mode=755 simulated-machine-etc /etc
cp -a . /etc/
cd /
for f in passwd group shadow; do sed -i -e '/^ftp:/d' -e '/^kftp-/d' "/etc/$f"; done
echo ready
exec sleep infinity
"""


def download(port):
    c = ftplib.FTP(timeout=10)
    c.connect("127.0.0.1", port)
    c.login()
    data = io.BytesIO()
    c.retrbinary("RETR pub/hello.txt", data.write)
    c.quit()
    return data.getvalue()


def test_the_accounts_survive_the_machine_adding_and_removing_users(tree):
    machine = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--",
                                "bash", "-c", MACHINE], stdout=subprocess.PIPE,
                               start_new_session=True)
    server = None
    try:
        assert machine.stdout.readline() == b"ready\n"

        def on_machine(*cmd):
            return subprocess.run(["nsenter", "-t", str(machine.pid), "-m", "--", *cmd],
                                  capture_output=True, text=True, timeout=60)

        assert on_machine("getent", "passwd", THROWAWAY).returncode == 2
        assert on_machine("getent", "passwd", "kftp-nopriv").returncode == 2
        port = free_port()
        config = os.path.join(tree.base, "keepftpd.conf")
        with open(config, "w") as f:
            f.write(f"anonymous_enable=YES\nanon_root={tree.anon}\nnopriv_user=kftp-nopriv\n"
                    f"secure_chroot_dir={tree.empty}\n"
                    f"login_state_dir={os.path.join(tree.base, 'state')}\n")
        log = os.path.join(tree.base, "activate.log")
        with open(log, "wb") as out:
            server = subprocess.Popen(
                ["nsenter", "-t", str(machine.pid), "-m", "--", WITH_ACCOUNTS,
                 "systemd-socket-activate", "-l", f"127.0.0.1:{port}", "--inetd", "-a",
                 KEEPFTPD, "--config", config],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

        def listening():
            with open("/proc/net/tcp") as f:
                return any(f":{port:04X} 00000000:0000 0A" in line for line in f)
        assert wait_for(listening, 10), open(log).read()

        def served():
            try:
                return download(port) == b"Hello from keepftpd.\n"
            except (ftplib.Error, OSError, EOFError) as e:
                print(e)
                return False
        assert served(), open(log).read()
        # useradd writes new files and renames them over passwd, group and shadow.
        r = on_machine("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", THROWAWAY)
        assert r.returncode == 0, r.stderr
        assert THROWAWAY in on_machine("getent", "passwd", THROWAWAY).stdout
        assert served(), open(log).read()
        # The server's own /etc did not change: the machine's users are not its business.
        r = subprocess.run(["nsenter", "-t", str(server.pid), "-m", "--",
                            "getent", "passwd", THROWAWAY], capture_output=True, text=True)
        assert r.returncode == 2, r.stdout
        r = on_machine("userdel", THROWAWAY)
        assert r.returncode == 0, r.stderr
        assert on_machine("getent", "passwd", THROWAWAY).returncode == 2
        assert served(), open(log).read()
        # The same by hand, for every file the accounts are in.
        for name in ("passwd", "group", "shadow", "shells"):
            r = on_machine("sh", "-c", f'cp -p /etc/{name} /etc/{name}.new && '
                                       f'mv /etc/{name}.new /etc/{name}')
            assert r.returncode == 0, r.stderr
        assert served(), open(log).read()
        assert "no such user" not in open(log).read()
    finally:
        if server is not None:
            end_process_group(server)
        # The simulated /etc, the throwaway user with it, goes with its last process.
        end_process_group(machine, signal.SIGKILL)
