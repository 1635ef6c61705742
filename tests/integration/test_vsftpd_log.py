"""vsftpd's log files as vsftpd 3.0.3 writes them: the same FTP session run against vsftpd
(tests/data/vsftpd-log, recorded from /usr/sbin/vsftpd) and against keepftpd gives the same
lines in vsftpd_log_file, xferlog_file and syslog; the filters that read them (fail2ban's
vsftpd filter, logwatch's vsftpd service) find what they look for; a refused login is in the
journal with its address; and no name a client chooses reaches any log with its control bytes
or its quotes."""

import ftplib
import importlib.util
import io
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import REPO, RawClient, free_port
from test_service import (LOG_FTP, DEVLOG_SCRIPT, Superserver, SyslogReceiver,  # noqa: F401
                          journald_server, start_journald_server, socket_activate_command,
                          superservers, wait_for_records, write_keepftpd_config)

DATA = os.path.join(REPO, "tests", "data", "vsftpd-log")
ALICE = "kftp-alice"


def load_session():
    spec = importlib.util.spec_from_file_location("vsftpd_log_session",
                                                  os.path.join(DATA, "session.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference(name, home):
    with open(os.path.join(DATA, name)) as f:
        return [l.replace("@HOME@", home) for l in f.read().splitlines()]


# What differs by nature: the time, the pid, the transfer rate (but for the 0.00 of nothing).
TIME_PID = re.compile(r"^\w{3} \w{3} [ 1-3]\d \d\d:\d\d:\d\d \d{4} \[pid \d+\] ")
RATE = re.compile(r"(?<=, )\d+\.\d\dKbyte/sec$")


def normalized(line):
    out = TIME_PID.sub("TIME [pid N] ", line)
    return out if out.endswith(" 0.00Kbyte/sec") else RATE.sub("RATEKbyte/sec", out)


# keepftpd logs a login its user list refuses at USER as a failed login (vsftpd 3.0.3 writes
# nothing for it; 3.0.5 does with userlist_log=YES); this is the one line vsftpd's log lacks.
USERLIST_LINE = 'TIME [pid N] [kftp-denied] FAIL LOGIN: Client "127.0.0.1"'


def expected_vsftpd_log(home):
    lines = [normalized(l) for l in reference("vsftpd.log", home)]
    third = [i for i, l in enumerate(lines) if l.endswith("CONNECT: Client \"127.0.0.1\"")][2]
    return lines[:third + 1] + [USERLIST_LINE] + lines[third + 1:]


def logging_options(tree, extra=None):
    userlist = os.path.join(tree.base, "user_list")
    with open(userlist, "w") as f:
        f.write("kftp-denied\n")
    banned = os.path.join(tree.base, "banned_emails")
    with open(banned, "w") as f:
        f.write("bad@example.com\n")
    return {"local_enable": "YES", "write_enable": "YES", "anon_upload_enable": "YES",
            "anon_mkdir_write_enable": "YES", "anon_other_write_enable": "YES",
            "userlist_enable": "YES", "userlist_file": userlist, "deny_email_enable": "YES",
            "banned_email_file": banned, "delay_failed_login": "0", **(extra or {})}


def wait_for_lines(path, count, timeout=10):
    deadline = time.time() + timeout
    while True:
        lines = open(path).read().splitlines() if os.path.exists(path) else []
        if len(lines) >= count or time.time() > deadline:
            return lines
        time.sleep(0.02)


def run_session(port, log, expected):
    """The session, one connection after the other, each once its lines are in log (its
    monitor writes them after the replies the client waits for)."""
    ends = [i for i, l in enumerate(expected) if l.endswith('CONNECT: Client "127.0.0.1"')][1:]
    ends.append(len(expected))
    for connection, end in zip(load_session().CONNECTIONS, ends):
        connection("127.0.0.1", port)
        wait_for_lines(log, end)


def test_vsftpd_log_and_xferlog_as_vsftpd_writes_them_and_their_readers(make_server, tree,
                                                                       local_users, tmp_path):
    """One session (about 5 s: PAM's delay after a wrong password): vsftpd_log_file and
    xferlog_file line by line against vsftpd's, then fail2ban's vsftpd filter and logwatch's
    vsftpd service reading the log."""
    vlog = os.path.join(tree.base, "vsftpd.log")
    xlog = os.path.join(tree.base, "xferlog")
    s = make_server(logging_options(tree, {"xferlog_enable": "YES", "dual_log_enable": "YES",
                                           "vsftpd_log_file": vlog, "xferlog_file": xlog}))
    home = local_users.users[ALICE]["home"]
    expected = expected_vsftpd_log(home)
    run_session(s.port, vlog, expected)

    got = [normalized(l) for l in wait_for_lines(vlog, len(expected))]
    assert got == expected

    want = [l.split(" ", 6)[6] for l in reference("xferlog", home)]  # after time and seconds
    got = [l.split(" ", 6)[6] for l in wait_for_lines(xlog, len(want))]
    assert got == want

    out = subprocess.run(["fail2ban-regex", "-v", vlog, "/etc/fail2ban/filter.d/vsftpd.conf"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    # kftp-alice's wrong password, kftp-denied, kftp-nosuch, the banned e-mail address.
    assert re.search(r"Failregex: 4 total", out.stdout), out.stdout
    hosts = re.findall(r"^\|\s+(\d+\.\d+\.\d+\.\d+)\s+\w{3} \w{3}", out.stdout, re.M)
    assert hosts == ["127.0.0.1"] * 4, out.stdout

    logdir = tmp_path / "logs"
    logdir.mkdir()
    with open(vlog, "rb") as f:
        (logdir / "vsftpd.log").write_bytes(f.read())
    out = subprocess.run(["logwatch", "--service", "vsftpd", "--logdir", str(logdir),
                          "--range", "All", "--detail", "High", "--output", "stdout"],
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert out.returncode == 0, out.stdout + out.stderr
    report = out.stdout
    assert "Anonymous FTP Logins" in report and "guest@example.com" in report, report
    assert "User FTP Logins" in report and "kftp-alice" in report, report
    assert "Failed FTP Logins" in report and "kftp-nosuch" in report, report
    assert "/pub/hello.txt -> 127.0.0.1 (User: ftp)" in report, report
    assert "/pub/incoming/up.txt <- 127.0.0.1 (User: ftp)" in report, report
    assert f"{home}/a.txt <- 127.0.0.1 (User: kftp-alice)" in report, report
    # Every line is one logwatch knows.
    assert "Unmatched Entries" not in report, report


def devlog_server(tree, superservers, receiver, options):
    """The superserver with no journal and a /dev/log that leads to receiver."""
    config = write_keepftpd_config(tree, options)
    port = free_port()
    d = os.path.join(tree.base, "ns")
    os.makedirs(d)
    cmd = ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c",
           "mount -t tmpfs tmpfs /run/systemd 2>/dev/null || true; exec \"$@\"", "ns",
           "bash", "-c", DEVLOG_SCRIPT, "keepftpd-devlog-ns", d] + \
        socket_activate_command(port, config)
    s = Superserver(cmd, port, os.path.join(tree.base, "devlog-ns.out"),
                    env=dict(os.environ, DEVLOG=receiver.path))
    superservers.append(s)
    return s


SYSLOG_LINE = re.compile(r"^(<\d+>)\w{3} [ 1-3]\d \d\d:\d\d:\d\d (?:keepftpd|vsftpd)\[\d+\]: "
                         r"((?:\[[^]]*\] )?(?:OK|FAIL) .*)$")


def syslog_lines(lines):
    """(priority, text) of the vsftpd-format lines among syslog datagrams."""
    out = []
    for line in lines:
        m = SYSLOG_LINE.match(line)
        if m:
            out.append((m.group(1), normalized(m.group(2))))
    return out


def test_syslog_enable_sends_the_lines_vsftpd_sends(tree, superservers, local_users):
    """syslog_enable=YES without xferlog_enable, as vsftpd: every line but CONNECT, at ftp.info,
    a failed login at ftp.warning (about 5 s)."""
    receiver = SyslogReceiver(os.path.join(tree.base, "devlog"))
    try:
        s = devlog_server(tree, superservers, receiver,
                          logging_options(tree, {"syslog_enable": "YES"}))
        home = local_users.users[ALICE]["home"]
        want = syslog_lines(reference("syslog", home))
        denied = [i for i, (_, text) in enumerate(want) if "kftp-nosuch" in text][0]
        want.insert(denied, (f"<{LOG_FTP * 8 + 4}>", USERLIST_LINE[len("TIME [pid N] "):]))
        # The client in a thread: syslog(3) blocks while the receiver's queue is full, so the
        # datagrams are read while the session goes on.
        errors = []

        def session():
            try:
                for connection in load_session().CONNECTIONS:
                    connection("127.0.0.1", s.port)
            except Exception as e:  # noqa: BLE001 (shown by the assertion below)
                errors.append(e)

        client = threading.Thread(target=session)
        client.start()
        lines = receiver.collect(lambda ls: not client.is_alive() and
                                 len(syslog_lines(ls)) >= len(want), timeout=30)
        client.join()
        assert not errors, errors
        assert syslog_lines(lines) == want, "\n".join(lines)
    finally:
        receiver.close()


def journal_records(s, predicate):
    records, r = wait_for_records(s, predicate)
    assert predicate(records), [x.get("MESSAGE") for x in records]
    return records


@pytest.mark.parametrize("options,user,reason", [
    ({"local_enable": "NO"}, "kftp-alice", "not an anonymous login, and local_enable=NO"),
    ({"userlist_enable": "YES"}, "kftp-denied", "refused by userlist_file"),
])
def test_a_login_refused_at_user_is_in_the_journal_with_its_address(tree, superservers, options,
                                                                     user, reason):
    userlist = os.path.join(tree.base, "user_list")
    with open(userlist, "w") as f:
        f.write("kftp-denied\n")
    s = start_journald_server(tree, superservers, {**options, "userlist_file": userlist})
    c = RawClient("127.0.0.1", s.port)
    assert c.reply()[0] == 220
    assert c.cmd(f"USER {user}")[0] == 530  # before any password is asked for
    c.close()
    records = journal_records(s, lambda recs: any(x.get("FTP_LOGIN_USER") == user for x in recs))
    failed = [x for x in records if x.get("FTP_LOGIN_USER") == user]
    assert len(failed) == 1, failed
    rec = failed[0]
    assert rec["MESSAGE"] == f'login failed for user "{user}" from 127.0.0.1: {reason}', rec
    assert rec["FTP_COMMAND"] == "PASS" and rec["FTP_RESULT"] == "failed", rec
    assert rec["REMOTE_ADDR"] == "127.0.0.1" and rec["FTP_SOURCE"] == "monitor", rec
    # The shipped fail2ban filter counts it like any failed login.
    log = os.path.join(tree.base, "messages.log")
    with open(log, "w") as f:
        f.write(rec["MESSAGE"] + "\n")
    filt = os.path.join(REPO, "contrib", "fail2ban", "filter.d", "keepftpd.conf")
    out = subprocess.run(["fail2ban-regex", "-v", "--raw", log, filt],
                         capture_output=True, text=True, timeout=60)
    assert re.search(r"Failregex: 1 total", out.stdout), out.stdout


def test_a_failed_transfer_is_in_the_journal_with_its_address_and_user(tree, superservers):
    s = start_journald_server(tree, superservers, {"write_enable": "YES",
                                                   "anon_upload_enable": "YES"})
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", s.port, timeout=10)
    ftp.login()
    for cmd in ("RETR pub/missing.txt", "STOR pub/not-here.txt"):
        with pytest.raises(ftplib.error_perm, match="^55"):
            if cmd.startswith("RETR"):
                ftp.retrbinary(cmd, lambda b: None)
            else:
                ftp.storbinary(cmd, io.BytesIO(b"x"))
    ftp.quit()
    records = journal_records(
        s, lambda recs: sum(x.get("FTP_RESULT") in ("failed", "refused") for x in recs) >= 2)
    failed = {x["FTP_COMMAND"]: x for x in records if x.get("FTP_RESULT") in ("failed", "refused")}
    assert set(failed) == {"RETR", "STOR"}, failed
    for command, path in (("RETR", "/pub/missing.txt"), ("STOR", "/pub/not-here.txt")):
        rec = failed[command]
        assert rec["FTP_PATH"] == path and rec["FTP_BYTES"] == "0", rec
        assert rec["FTP_USER"] == "ftp" and rec["REMOTE_ADDR"] == "127.0.0.1", rec
        assert rec["MESSAGE"].startswith(f"session jail: {command} {path}: 0 bytes"), rec
        assert rec["MESSAGE"].endswith('(client 127.0.0.1, user "ftp")'), rec


# A name with a C0 control (ESC), a C1 control as one byte and in UTF-8 (CSI), and a quote.
HOSTILE = "x\x1b[31m\x9b2J\xc2\x9b\"q"  # sent as Latin-1: one byte per character
ESCAPED = "x?[31m?2J???q"


def upload_hostile_name(port):
    ftp = ftplib.FTP(encoding="latin-1")
    ftp.connect("127.0.0.1", port, timeout=10)
    ftp.login("anonymous", 'guest"\x9b@example.com')
    ftp.storbinary(f"STOR pub/incoming/{HOSTILE}", io.BytesIO(b"data"))
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.retrbinary(f"RETR pub/{HOSTILE}", lambda b: None)
    ftp.quit()


def assert_escaped(data, where):
    for raw in (b"\x1b", b"\x9b", b'x?[31m?2J??\x9b"q'):
        assert raw not in data, (where, data)
    assert ESCAPED.encode() in data, (where, data)


@pytest.mark.parametrize("syslog", [False, True])
def test_names_with_control_bytes_and_quotes_are_escaped_in_every_log(tree, superservers,
                                                                      syslog):
    vlog = os.path.join(tree.base, "vsftpd.log")
    xlog = os.path.join(tree.base, "xferlog")
    options = {"write_enable": "YES", "anon_upload_enable": "YES", "xferlog_enable": "YES",
               "dual_log_enable": "YES", "vsftpd_log_file": vlog, "xferlog_file": xlog,
               "syslog_enable": "YES" if syslog else "NO"}
    s = start_journald_server(tree, superservers, options, dev_log=syslog)
    upload_hostile_name(s.port)
    records = journal_records(
        s, lambda recs: sum(x.get("FTP_COMMAND") in ("STOR", "RETR") for x in recs) >= 2 and
        (not syslog or sum(" UPLOAD: " in str(x.get("MESSAGE")) or
                           " DOWNLOAD: " in str(x.get("MESSAGE")) for x in recs) >= 2))
    # journalctl shows a field that is not UTF-8 as a list of bytes: every one here is text.
    for rec in records:
        for field in ("MESSAGE", "FTP_PATH"):
            assert isinstance(rec.get(field, ""), str), rec
    texts = "\n".join(x["MESSAGE"] + "\n" + x.get("FTP_PATH", "") for x in records)
    assert_escaped(texts.encode(), "journal")
    if syslog:
        vsftpd_lines = [x["MESSAGE"] for x in records if " UPLOAD: " in x["MESSAGE"] or
                        " OK LOGIN: " in x["MESSAGE"]]
        assert any('anon password "guest??@example.com"' in l for l in vsftpd_lines), vsftpd_lines
        assert not os.path.exists(vlog)
    else:
        with open(vlog, "rb") as f:
            data = f.read()
        assert_escaped(data, "vsftpd_log_file")
        assert b'anon password "guest??@example.com"' in data, data
    with open(xlog, "rb") as f:
        data = f.read()
    assert_escaped(data, "xferlog_file")
