"""session_support: a PAM session opened and closed around each local session (seen through
pam_exec in a PAM service made for the test), and utmp/wtmp records that utmpdump and last read.
The server runs in a mount namespace of its own where /run/utmp and /var/log/wtmp are this
test's files."""

import os
import re
import subprocess
import time

from conftest import KEEPFTPD, RawClient, free_port
from test_local_users import ALICE
from test_privsep import wait_for
from test_service import Superserver, superservers, write_keepftpd_config  # noqa: F401

NAMESPACE = r"""
set -eu
dir=$1; shift
mount -t tmpfs -o mode=755 tmpfs /run
touch /run/utmp
mount --bind "$dir/utmp" /run/utmp
mount --bind "$dir/wtmp" /var/log/wtmp
exec "$@"
"""


def start(tree, superservers, options):  # noqa: F811
    d = os.path.join(tree.base, "records")
    os.makedirs(d)
    for name in ("utmp", "wtmp"):
        open(os.path.join(d, name), "wb").close()
    log = os.path.join(d, "pam.log")
    hook = os.path.join(d, "pam-hook")
    with open(hook, "w") as f:
        f.write(f'#!/bin/sh\necho "$PAM_TYPE $PAM_USER $PAM_RHOST $PAM_TTY" >> {log}\n')
    os.chmod(hook, 0o755)
    with open("/etc/pam.d/kftp-session-test", "w") as f:  # a private copy (./dev test)
        f.write("auth required pam_unix.so\naccount required pam_unix.so\n"
                f"session required pam_exec.so {hook}\n")
    config = write_keepftpd_config(tree, {"local_enable": "YES", "session_support": "YES",
                                          "pam_service_name": "kftp-session-test",
                                          **options})
    port = free_port()
    cmd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", NAMESPACE, "ns",
           d, "systemd-socket-activate", "-l", f"127.0.0.1:{port}", "-a", "--inetd",
           KEEPFTPD, "--config", config]
    s = Superserver(cmd, port, os.path.join(tree.base, "session-ns.log"))
    superservers.append(s)
    s.records = d
    return s


def utmpdump(path):
    out = subprocess.run(["utmpdump", path], capture_output=True, text=True, check=True).stdout
    return [re.findall(r"\[([^]]*)\]", line) for line in out.splitlines() if line.startswith("[")]


def pam_log(s):
    try:
        return open(os.path.join(s.records, "pam.log")).read().splitlines()
    except FileNotFoundError:
        return []


def test_local_session_records(tree, superservers, local_users):  # noqa: F811
    s = start(tree, superservers, {})
    ftp = s.ftp()
    ftp.login(ALICE, local_users.users[ALICE]["password"])
    assert ftp.pwd()
    assert pam_log(s) == ["open_session kftp-alice 127.0.0.1 ftp"]
    utmp = utmpdump(os.path.join(s.records, "utmp"))
    # [type] [pid] [id] [user] [line] [host] [addr] [time]
    live = [r for r in utmp if r[0].strip() == "7"]
    assert len(live) == 1, utmp
    assert live[0][3].strip() == ALICE and live[0][5].strip() == "127.0.0.1"
    assert live[0][4].strip() == f"ftp{int(live[0][1])}"  # utmpdump pads the pid with zeros
    ftp.quit()
    assert wait_for(lambda: len(pam_log(s)) == 2)
    assert pam_log(s)[1] == "close_session kftp-alice 127.0.0.1 ftp"
    assert wait_for(lambda: [r[0].strip() for r in utmpdump(os.path.join(s.records, "utmp"))]
                    == ["8"])  # the line is free again: DEAD_PROCESS
    wtmp = utmpdump(os.path.join(s.records, "wtmp"))
    assert [r[0].strip() for r in wtmp] == ["7", "8"]

    def last():  # read once the session's last process has gone (last looks at live pids)
        return subprocess.run(["last", "-w", "-i", "-f", os.path.join(s.records, "wtmp")],
                              capture_output=True, text=True).stdout
    out = wait_for(lambda: (lambda text: text if " - " in text else None)(last()))
    assert re.search(rf"^{ALICE}\s+ftp\S*\s+127\.0\.0\.1 .* - \d\d:\d\d", out or last(),
                     re.M), (last(), wtmp)


def test_anonymous_sessions_get_records_too_and_a_failed_login_none(tree, superservers,  # noqa
                                                                    local_users):
    # REIN after login needs isolate=NO and isolate_network=NO (test_protocol.py).
    s = start(tree, superservers, {"delay_failed_login": "0", "isolate": "NO",
                                   "isolate_network": "NO"})
    c = RawClient("127.0.0.1", s.port)
    c.reply()
    c.cmd(f"USER {ALICE}")
    assert c.cmd("PASS wrong")[0] == 530
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("PASS x@y")[0] == 230
    assert pam_log(s) == []  # no PAM for anonymous sessions, none for the failed login
    utmp = utmpdump(os.path.join(s.records, "utmp"))
    assert [(r[0].strip(), r[3].strip()) for r in utmp] == [("7", "ftp")]
    # REIN ends the session: its records are closed, the next login gets its own.
    assert c.cmd("REIN")[0] == 220
    assert wait_for(lambda: [r[0].strip() for r in utmpdump(os.path.join(s.records, "wtmp"))]
                    == ["7", "8"])
    c.close()
