"""keepftpd run by its real superservers, from the files the repository ships:

- xinetd (the Debian package) with a copy of the xinetd entry meson makes from
  xinetd/keepftpd.in, rewritten only for a loopback port,
  the built binary and a test config: a real session, nothing logged reaches the client although
  xinetd puts the connection on fd 0, 1 and 2, and xinetd's instances / per_source limits;
- ftp@.service's own ExecStart= line (as meson makes it from units/ftp@.service.in) under
  systemd-socket-activate, the way ftp.socket
  (Accept=yes) and StandardInput=socket run it;
- a real systemd-journald, started in a private mount namespace (tmpfs on /run/systemd, the
  journal files in the test's directory), receiving keepftpd's records with their fields.

(`systemd-analyze verify` of the units is in tests/docs/test_docs.py.)
"""

import ftplib
import functools
import io
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import KEEPFTPD, RawClient, free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.dirname(os.path.dirname(os.path.abspath(KEEPFTPD)))
JOURNALD = "/lib/systemd/systemd-journald"


def read(relative):
    with open(os.path.join(REPO, relative), encoding="utf-8") as f:
        return f.read()


def read_built(relative):
    """A file meson made from RELATIVE.in in the build directory (the units, the xinetd entries),
    with the build's installed paths in it."""
    with open(os.path.join(BUILD, relative), encoding="utf-8") as f:
        return f.read()


@functools.lru_cache(maxsize=None)
def installed_paths():
    """The build's installed paths: {"sbindir": ..., "sysconfdir": ...}, absolute."""
    r = subprocess.run(["meson", "introspect", "--buildoptions", BUILD], capture_output=True,
                       text=True, timeout=60, check=True)
    options = {o["name"]: o["value"] for o in json.loads(r.stdout)}
    return {d: os.path.join(options["prefix"], options[d]) for d in ("sbindir", "sysconfdir")}


def packaged_binary():
    return os.path.join(installed_paths()["sbindir"], "keepftpd")


def packaged_config():
    return os.path.join(installed_paths()["sysconfdir"], "keepftpd.conf")


def require(program):
    path = shutil.which(program) or (program if os.access(program, os.X_OK) else None)
    if path is None:
        pytest.fail(f"{program} is not installed (./dev test installs it)")
    return path


def write_keepftpd_config(tree, options=None):
    settings = {
        "anonymous_enable": "YES",
        "anon_root": tree.anon,
        "nopriv_user": "kftp-nopriv",
        "secure_chroot_dir": tree.empty,
        "login_state_dir": os.path.join(tree.base, "state"),  # one test's failures ban no other
    }
    settings.update(options or {})
    path = os.path.join(tree.base, "keepftpd.conf")
    with open(path, "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in settings.items()))
    os.chmod(path, 0o644)
    return path


def listening(port):
    with open("/proc/net/tcp") as f:
        return any(f":{port:04X} 00000000:0000 0A" in line for line in f)


class Superserver:
    """A superserver command in its own process group, listening on 127.0.0.1:port."""

    def __init__(self, cmd, port, log_path, env=None):
        self.cmd = cmd
        self.port = port
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True, env=env)
        deadline = time.time() + 15
        while time.time() < deadline:
            if listening(port):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{cmd[0]} did not listen on port {port}: {self.output()}")

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def ftp(self, timeout=10):
        c = RecordingFTP(timeout=timeout)
        c.connect("127.0.0.1", self.port)
        return c

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if not self.log.closed:
            self.log.close()


@pytest.fixture
def superservers():
    started = []
    yield started
    for s in started:
        s.stop()
        print(f"---- {s.log_path} ----")  # shown by pytest when a test fails
        print(s.output())


# ---- FTP replies ------------------------------------------------------------------------------

REPLY_FIRST = re.compile(r"^[1-5][0-9][0-9][ -]")


def parse_replies(text, crlf=True):
    """Splits a control-connection transcript into whole replies [(code, [lines])] and fails
    on anything that is not an RFC 959 reply: every line ends in CRLF, a reply starts with
    three digits and a space or hyphen, and a multi-line reply ends with 'code '."""
    if crlf:
        assert text.endswith("\r\n") or text == "", f"transcript does not end in CRLF: {text!r}"
        lines = text.split("\r\n")[:-1]
        for l in lines:
            assert "\r" not in l and "\n" not in l, f"bare CR or LF in reply line {l!r}"
    else:
        lines = text.split("\n")
    replies = []
    i = 0
    while i < len(lines):
        first = lines[i]
        assert REPLY_FIRST.match(first), f"not an FTP reply line: {first!r} in {text!r}"
        code = first[:3]
        group = [first]
        i += 1
        if first[3] == "-":
            while True:
                assert i < len(lines), f"unterminated multi-line {code} reply in {text!r}"
                group.append(lines[i])
                i += 1
                if group[-1].startswith(code + " "):
                    break
        replies.append((int(code), group))
    return replies


class RecordingFTP(ftplib.FTP):
    """ftplib.FTP that keeps every control-connection line it reads."""

    def __init__(self, *a, **kw):
        self.transcript = []
        super().__init__(*a, **kw)

    def getline(self):
        line = super().getline()
        self.transcript.append(line)
        return line


class TranscriptClient(RawClient):
    """RawClient that keeps every byte the server sent on the control connection."""

    def __init__(self, port, timeout=10):
        super().__init__("127.0.0.1", port, timeout)
        self.received = b""

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; buffered: %r" % self.buf)
            self.received += chunk
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def read_to_eof(self, timeout=10):
        self.sock.settimeout(timeout)
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            self.received += chunk


def anonymous_session(server, tree):
    """Login, LIST, RETR through ftplib; returns the client's transcript."""
    c = server.ftp()
    try:
        assert c.getwelcome().startswith("220")
        c.login()
        listing = []
        c.retrlines("LIST pub", listing.append)
        names = {l.split()[-1] for l in listing if l.strip()}
        assert {"hello.txt", "random.bin", "sub"} <= names, listing
        for name in ("hello.txt", "random.bin"):
            data = io.BytesIO()
            c.retrbinary(f"RETR pub/{name}", data.write)
            with open(tree.path(f"pub/{name}"), "rb") as f:
                assert data.getvalue() == f.read(), name
        c.quit()
    finally:
        c.close()
    parse_replies("\n".join(c.transcript), crlf=False)
    return c.transcript


# local_enable so that a wrong USER/PASS reaches the monitor, which logs "login failed".
LOGGING_OPTIONS = {"local_enable": "YES", "delay_failed_login": "0"}


def session_that_logs(port):
    """A session with a failed login and refused PORT / EPRT, each of which keepftpd logs.
    Returns the raw bytes the server sent on the control connection, ending with its close."""
    c = TranscriptClient(port)
    try:
        assert c.reply()[0] == 220
        code, _ = c.cmd("USER kftp-nosuchuser")
        if code == 331:
            code, _ = c.cmd("PASS wrong-password")
        assert code == 530
        code, _ = c.cmd("USER anonymous")
        if code == 331:
            code, _ = c.cmd("PASS guest@example.org")
        assert code == 230
        assert c.cmd("PORT 127,0,0,1,0,21")[0] == 501
        assert c.cmd("EPRT |1|127.0.0.1|22|")[0] == 501
        assert c.cmd("NOOP")[0] == 200
        assert c.cmd("QUIT")[0] == 221
        c.read_to_eof()
    except (AssertionError, ValueError, EOFError, OSError) as e:
        raise AssertionError(f"{e!r}; the server sent: {c.received!r}") from e
    finally:
        c.close()
    return c.received


# ---- xinetd -----------------------------------------------------------------------------------

def xinetd_entry_for_test(port, config_path, instances=None, per_source=None):
    """The xinetd entry keepftpd installs with only what a test must change: a free loopback port
    (UNLISTED, since the port is not ftp's in /etc/services), the built binary, the test config,
    optionally the limits, and enabled (it is installed disabled). Every other line is the
    installed entry's."""
    text = read_built("xinetd/keepftpd")
    m = re.search(r"^service ftp\s*\n\{\n(.*?)^\}", text, re.MULTILINE | re.DOTALL)
    assert m, "xinetd/keepftpd has no 'service ftp { ... }' block"
    body = []
    seen = set()
    for line in m.group(1).splitlines():
        kv = re.match(r"^\s*(\w+)\s*(\+?=|-=)\s*(.*?)\s*$", line)
        if not kv:
            body.append(line)
            continue
        key, op, value = kv.groups()
        seen.add(key)
        if key == "server":
            assert value == packaged_binary(), line
            value = KEEPFTPD
        elif key == "server_args":
            assert packaged_config() in value.split(), line
            value = " ".join(config_path if a == packaged_config() else a for a in value.split())
        elif key == "disable":
            assert value == "yes", line
            value = "no"
        elif key == "instances" and instances is not None:
            value = str(instances)
        elif key == "per_source" and per_source is not None:
            value = str(per_source)
        elif key in ("port", "bind", "type"):
            continue
        body.append(f"\t{key} {op} {value}")
    for key in ("server", "server_args", "instances", "per_source", "wait", "user", "disable"):
        assert key in seen, f"xinetd/keepftpd sets no {key}"
    body += ["\ttype = UNLISTED", f"\tport = {port}", "\tbind = 127.0.0.1"]
    return "service ftp\n{\n" + "\n".join(body) + "\n}\n"


def start_xinetd(superservers, tree, config_path, **limits):
    xinetd = require("xinetd")
    port = free_port()
    d = os.path.join(tree.base, "xinetd")
    os.makedirs(d, exist_ok=True)
    main = os.path.join(d, "xinetd.conf")
    with open(main, "w") as f:
        f.write("defaults\n{\n"
                f"\tlog_type = FILE {os.path.join(d, 'services.log')}\n"
                "\tlog_on_success = HOST PID\n"
                "\tlog_on_failure = HOST\n"
                "}\n\n")
        f.write(xinetd_entry_for_test(port, config_path, **limits))
    s = Superserver([xinetd, "-dontfork", "-f", main, "-pidfile", os.path.join(d, "xinetd.pid"),
                     "-filelog", os.path.join(d, "xinetd.log")],
                    port, os.path.join(d, "xinetd.out"))
    superservers.append(s)
    s.dir = d
    return s


def xinetd_services_log(s):
    try:
        with open(os.path.join(s.dir, "services.log")) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def test_xinetd_entry_serves_a_session(tree, superservers):
    config = write_keepftpd_config(tree)
    s = start_xinetd(superservers, tree, config)
    anonymous_session(s, tree)
    deadline = time.time() + 5
    while "START: ftp" not in xinetd_services_log(s) and time.time() < deadline:
        time.sleep(0.05)
    assert "START: ftp" in xinetd_services_log(s), "xinetd logged no START for the session"


def test_xinetd_logs_never_reach_the_client(tree, superservers):
    # Under xinetd fd 0, 1 and 2 are all the client socket. A failed login and refused
    # PORT/EPRT are logged by keepftpd (see test_service_unit_exec_start_under_socket_activation,
    # where they reach stderr); here none of it may appear on the control connection.
    config = write_keepftpd_config(tree, LOGGING_OPTIONS)
    s = start_xinetd(superservers, tree, config)
    received = session_that_logs(s.port)
    text = received.decode("utf-8", "replace")
    replies = parse_replies(text)
    # 220, USER/PASS or USER (530), USER+PASS (230), PORT, EPRT, NOOP, QUIT: nothing else.
    codes = [c for c, _ in replies]
    assert codes[0] == 220 and codes[-1] == 221, codes
    assert 530 in codes and codes.count(501) == 2, codes
    for fragment in (b"keepftpd[", b"login failed", b"refused PORT", b"refused EPRT", b"monitor:"):
        assert fragment not in received, f"a log line reached the client: {received!r}"


def open_and_read_banner(port, timeout=5):
    """Connects and returns (socket, first bytes or b'' when closed without a word)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return sock, data


def test_xinetd_per_source_limit(tree, superservers):
    config = write_keepftpd_config(tree)
    s = start_xinetd(superservers, tree, config, instances=2, per_source=1)
    first, banner = open_and_read_banner(s.port)
    try:
        assert banner.startswith(b"220"), banner
        second, data = open_and_read_banner(s.port)
        second.close()
        assert data == b"", f"per_source=1 let a second connection from 127.0.0.1 in: {data!r}"
        assert "per_source_limit" in xinetd_services_log(s)
        # The first session is unaffected.
        first.sendall(b"NOOP\r\n")
        assert first.recv(4096).startswith(b"200")
    finally:
        first.close()
    # Once the first connection is gone, a new one is served again.
    deadline = time.time() + 10
    while True:
        sock, data = open_and_read_banner(s.port)
        sock.close()
        if data.startswith(b"220") or time.time() > deadline:
            break
        time.sleep(0.2)
    assert data.startswith(b"220"), data


def test_xinetd_instances_limit(tree, superservers):
    config = write_keepftpd_config(tree)
    s = start_xinetd(superservers, tree, config, instances=2, per_source=10)
    held = []
    try:
        for _ in range(2):
            sock, banner = open_and_read_banner(s.port)
            held.append(sock)
            assert banner.startswith(b"220"), banner
        third, data = open_and_read_banner(s.port)
        third.close()
        assert data == b"", f"instances=2 let a third connection in: {data!r}"
        assert "service_limit" in xinetd_services_log(s)
        for sock in held:
            sock.sendall(b"NOOP\r\n")
            assert sock.recv(4096).startswith(b"200")
    finally:
        for sock in held:
            sock.close()


# ---- systemd units ----------------------------------------------------------------------------

def unit_settings(relative):
    """{section: {key: [values]}} of a unit file (comments, blank lines and continuations)."""
    sections, current = {}, None
    pending = ""
    for raw in read_built(relative).splitlines():
        line = (pending + raw.strip()) if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"{relative}: unexpected line {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def exec_start_argv(config_path):
    """ftp@.service's ExecStart= as argv, with the installed paths replaced by the built binary
    and the test config; nothing else changed."""
    service = unit_settings("units/ftp@.service")["Service"]
    starts = [v for v in service.get("ExecStart", []) if v]
    assert len(starts) == 1, f"ftp@.service needs exactly one ExecStart=: {starts}"
    line = starts[0].lstrip("@-:+!")
    argv = shlex.split(line)
    assert argv[0] == packaged_binary(), f"ExecStart= runs {argv[0]}, not {packaged_binary()}"
    assert packaged_config() in argv[1:], f"ExecStart= does not name {packaged_config()}: {line}"
    return [KEEPFTPD] + [config_path if a == packaged_config() else a for a in argv[1:]], service


def socket_activate_command(port, config_path):
    """systemd-socket-activate doing what ftp.socket + ftp@.service do, on a loopback port."""
    sock = unit_settings("units/ftp.socket")["Socket"]
    assert sock.get("ListenStream") == ["21"]
    assert sock.get("Accept") == ["yes"], "keepftpd needs one process per connection"
    for limit in ("MaxConnections", "MaxConnectionsPerSource"):
        assert len(sock.get(limit, [])) == 1 and int(sock[limit][0]) > 0, limit
    assert int(sock["MaxConnectionsPerSource"][0]) <= int(sock["MaxConnections"][0])
    argv, service = exec_start_argv(config_path)
    cmd = [require("systemd-socket-activate"), "-l", f"127.0.0.1:{port}", "-a"]
    stdin = service.get("StandardInput", ["null"])[-1]
    if stdin == "socket":
        cmd.append("--inetd")  # the connection on fd 0 (and fd 1), as StandardInput=socket
    else:
        assert "StandardOutput" not in service, "StandardOutput without StandardInput=socket"
    return cmd + argv


def test_service_unit_exec_start_under_socket_activation(tree, superservers):
    config = write_keepftpd_config(tree, LOGGING_OPTIONS)
    port = free_port()
    cmd = socket_activate_command(port, config)
    s = Superserver(cmd, port, os.path.join(tree.base, "activate.log"))
    superservers.append(s)
    anonymous_session(s, tree)
    received = session_that_logs(port)
    parse_replies(received.decode("utf-8", "replace"))
    # Here stderr is systemd-socket-activate's (a file), not the client: the records are there.
    deadline = time.time() + 5
    while time.time() < deadline and "refused EPRT" not in s.output():
        time.sleep(0.05)
    out = s.output()
    assert "login failed" in out and "refused PORT" in out and "refused EPRT" in out, out


# ---- journald ---------------------------------------------------------------------------------

JOURNALD_CONF = """[Journal]
Storage=volatile
ReadKMsg=no
Audit=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
"""

# Runs in a private mount namespace: a tmpfs on /run/systemd (so /run/systemd/journal/socket
# exists only here), the volatile journal (/run/log) bound to the test's directory, a tmpfs on
# /var/log/journal so nothing persistent is written, then journald, then the superserver.
NAMESPACE_SCRIPT = r"""
set -eu
dir=$1; shift
mount -t tmpfs -o mode=755 tmpfs /run/systemd
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d
cp "$dir/journald.conf" /run/systemd/journald.conf.d/keepftpd-test.conf
mount --bind "$dir/log" /run/log
if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID "$JOURNALD" >"$dir/journald.out" 2>&1 &
for i in $(seq 200); do
  [ -S /run/systemd/journal/socket ] && break
  kill -0 $! 2>/dev/null || { echo "journald exited"; cat "$dir/journald.out"; exit 1; }
  sleep 0.05
done
[ -S /run/systemd/journal/socket ] || { echo "journald made no socket"; exit 1; }
echo "journald running as $!"
exec "$@"
"""


# /dev in the namespace: a tmpfs with the usual device nodes bound from the real one, and a
# /dev/log pointing at $DEVLOG (journald's syslog socket, or a test's receiver). The real /dev
# gets no /dev/log.
DEVLOG_SCRIPT = r"""
set -eu
dir=$1; shift
mkdir -p "$dir/realdev"
mount --rbind /dev "$dir/realdev"
mount -t tmpfs -o mode=755 tmpfs /dev
for n in null zero full random urandom tty; do
  touch "/dev/$n"; mount --bind "$dir/realdev/$n" "/dev/$n"
done
mkdir /dev/pts /dev/shm
mount --rbind "$dir/realdev/pts" /dev/pts
mount --rbind "$dir/realdev/shm" /dev/shm
ln -s "$DEVLOG" /dev/log
exec "$@"
"""


def journal_records(directory):
    r = subprocess.run([require("journalctl"), "-D", directory, "-o", "json", "--no-pager",
                        "SYSLOG_IDENTIFIER=keepftpd"],
                       capture_output=True, text=True, timeout=30)
    records = []
    for line in r.stdout.splitlines():
        if line.strip():
            records.append(json.loads(line))
    return records, r


def start_journald_server(tree, superservers, options=None, dev_log=False,
                          journald_conf=JOURNALD_CONF):
    """The superserver in a mount namespace with its own journald; dev_log: and a /dev/log
    that leads to that journald's syslog socket."""
    require(JOURNALD)
    jdir = os.path.join(tree.base, "journal")
    os.makedirs(os.path.join(jdir, "log"))
    with open(os.path.join(jdir, "journald.conf"), "w") as f:
        f.write(journald_conf)
    config = write_keepftpd_config(tree, {**LOGGING_OPTIONS, **(options or {})})
    port = free_port()
    devlog = ["bash", "-c", DEVLOG_SCRIPT, "keepftpd-devlog-ns", jdir] if dev_log else []
    cmd = ["unshare", "--mount", "--propagation", "private", "--",
           "bash", "-c", NAMESPACE_SCRIPT, "keepftpd-journal-ns", jdir] + devlog + \
        socket_activate_command(port, config)
    env = dict(os.environ, JOURNALD=JOURNALD, DEVLOG="/run/systemd/journal/dev-log")
    env.pop("NOTIFY_SOCKET", None)
    host_journal = os.path.exists("/run/systemd/journal/socket")
    s = Superserver(cmd, port, os.path.join(tree.base, "journal-ns.log"), env=env)
    superservers.append(s)
    s.journal_dir = os.path.join(jdir, "log", "journal")
    # The namespace's journal socket is not visible out here.
    assert os.path.exists("/run/systemd/journal/socket") == host_journal
    return s


@pytest.fixture
def journald_server(tree, superservers):
    return start_journald_server(tree, superservers)


def wait_for_records(s, predicate, timeout=10):
    deadline = time.time() + timeout
    while True:
        records, r = journal_records(s.journal_dir)
        if predicate(records) or time.time() > deadline:
            return records, r
        time.sleep(0.1)


def test_journal_records_carry_session_fields(tree, journald_server):
    s = journald_server
    anonymous_session(s, tree)
    received = session_that_logs(s.port)
    parse_replies(received.decode("utf-8", "replace"))

    def complete(records):
        text = " ".join(r.get("MESSAGE", "") for r in records if isinstance(r.get("MESSAGE"), str))
        return "refused EPRT" in text and text.count("anonymous login") >= 2

    records, r = wait_for_records(s, complete)
    assert records, f"no keepftpd records in the journal: {r.stderr}\n{s.output()}"
    assert complete(records), [x.get("MESSAGE") for x in records]
    # With the journal reachable, nothing goes to stderr.
    assert "keepftpd[" not in s.output(), s.output()
    sessions = set()
    for rec in records:
        assert rec["SYSLOG_IDENTIFIER"] == "keepftpd"
        assert re.fullmatch(r"\S+", rec.get("FTP_SESSION", "")), rec
        assert rec.get("REMOTE_ADDR") == "127.0.0.1", rec
        assert "127.0.0.1" in rec["MESSAGE"], rec  # what plain journalctl shows names the client
        assert re.fullmatch(r"[0-9]+", rec.get("REMOTE_PORT", "")), rec
        assert rec.get("PRIORITY") in {"3", "4", "5", "6", "7"}, rec
        # What a jail said is marked as the jail's, in a field and in the text.
        assert rec.get("FTP_SOURCE") in {"monitor", "jail"}, rec
        if rec["FTP_SOURCE"] == "jail":
            assert rec["MESSAGE"].startswith(rec["FTP_PROCESS"] + " jail: "), rec
            assert rec["PRIORITY"] != "3", rec
        else:
            assert rec["FTP_PROCESS"] == "monitor", rec
        sessions.add(rec["FTP_SESSION"])
    assert len(sessions) >= 2, "two connections, but one FTP_SESSION"
    failed = [x for x in records if x["MESSAGE"].startswith("login failed")]
    assert len(failed) == 1 and "kftp-nosuchuser" in failed[0]["MESSAGE"], failed
    assert failed[0].get("FTP_USER", "") == "", failed  # nobody is logged in yet
    # Records after the login carry the account.
    for text in ("session jail: refused PORT", "session jail: refused EPRT", "session jail: RETR "):
        after = [x for x in records if x["MESSAGE"].startswith(text)]
        assert after, f"no {text!r} record: {[x['MESSAGE'] for x in records]}"
        assert all(x.get("FTP_USER") == "ftp" for x in after), after
    # Each session's records share its FTP_SESSION and its client port.
    for sid in sessions:
        ports = {x["REMOTE_PORT"] for x in records if x["FTP_SESSION"] == sid}
        assert len(ports) == 1, (sid, ports)


def test_journal_login_record_names_the_user(tree, journald_server):
    s = journald_server
    anonymous_session(s, tree)
    records, r = wait_for_records(
        s, lambda recs: any(x.get("MESSAGE", "").startswith("anonymous login") for x in recs))
    logins = [x for x in records if x.get("MESSAGE", "").startswith("anonymous login")]
    assert logins, f"no login record: {r.stderr}\n{s.output()}"
    assert logins[0].get("FTP_USER") == "ftp", logins[0]


def test_journal_records_have_one_code_location(tree, journald_server):
    s = journald_server
    anonymous_session(s, tree)
    records, r = wait_for_records(
        s, lambda recs: any(x.get("MESSAGE", "").startswith("session jail: RETR ") for x in recs))
    assert records, f"no keepftpd records: {r.stderr}\n{s.output()}"
    for rec in records:
        # The monitor's own records say where they were written, once (json: a list when
        # repeated), and never a line 0; events and a jail's records say nowhere.
        if rec.get("FTP_SOURCE") == "jail" or rec.get("FTP_COMMAND"):
            assert "CODE_LINE" not in rec and "CODE_FUNC" not in rec, rec
            continue
        for field in ("CODE_FUNC", "CODE_LINE"):
            assert isinstance(rec.get(field), str), (field, rec)
        assert rec["CODE_LINE"] != "0", rec
        assert rec["CODE_FUNC"] != "WriteMonitorRecord", rec
        assert not rec.get("CODE_FILE", "").endswith("log.cc"), rec


def test_journal_structured_session_records(tree, journald_server):
    s = journald_server
    anonymous_session(s, tree)

    def complete(records):
        return any(x.get("FTP_COMMAND") == "SESSION" and x.get("FTP_RESULT") == "end"
                   for x in records) and any(x.get("FTP_COMMAND") == "RETR" for x in records)

    records, r = wait_for_records(s, complete)
    assert complete(records), [x.get("MESSAGE") for x in records]
    by_command = {}
    for x in records:
        by_command.setdefault(x.get("FTP_COMMAND", ""), []).append(x)
    starts = [x for x in by_command["SESSION"] if x.get("FTP_RESULT") == "start"]
    assert starts
    logins = [x for x in by_command["PASS"] if x.get("FTP_RESULT") == "ok"]
    assert logins and logins[0]["FTP_USER"] == "ftp" and logins[0]["FTP_PATH"] == tree.anon
    retr = [x for x in by_command["RETR"] if x["FTP_PATH"] == "/pub/random.bin"]
    assert retr, by_command["RETR"]
    from conftest import RANDOM_SIZE
    assert retr[0]["FTP_BYTES"] == str(RANDOM_SIZE)
    assert re.fullmatch(r"[0-9]+", retr[0]["FTP_DURATION_USEC"])
    assert retr[0]["FTP_RESULT"] == "ok"
    assert retr[0]["FTP_PROCESS"] == "session"
    # The session-end record carries the session's totals: one record per connection.
    ends = [x for x in by_command["SESSION"] if x.get("FTP_RESULT") == "end"]
    assert len(ends) == 1, ends
    assert ends[0]["FTP_BYTES"] == str(21 + RANDOM_SIZE)
    assert "2 files (" + str(21 + RANDOM_SIZE) + " bytes) downloaded, 0 files (0 bytes) uploaded" \
        in ends[0]["MESSAGE"]
    assert int(ends[0]["FTP_DURATION_USEC"]) > 0


def wait_until(predicate, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_transfer_logs(make_server, tree):
    vlog = os.path.join(tree.base, "vsftpd.log")
    xlog = os.path.join(tree.base, "xferlog")
    s = make_server({"xferlog_enable": "YES", "vsftpd_log_file": vlog, "xferlog_file": xlog,
                     "dual_log_enable": "YES", "write_enable": "YES",
                     "anon_upload_enable": "YES"})
    ftp = s.ftp()
    ftp.retrbinary("RETR pub/hello.txt", lambda b: None)
    ftp.storbinary("STOR pub/incoming/up load.bin", io.BytesIO(b"x" * 1000))
    ftp.quit()
    assert wait_until(lambda: len(open(xlog).read().splitlines()) == 2)
    # The transfers (the connection and the login have their lines too: test_vsftpd_log.py).
    v = [l for l in open(vlog).read().splitlines() if "LOAD: " in l]
    assert re.search(r'\[ftp\] OK DOWNLOAD: Client "127\.0\.0\.1", "/pub/hello\.txt", 21 bytes, '
                     r'[0-9.]+Kbyte/sec$', v[0]), v
    assert re.search(r'OK UPLOAD: Client "127\.0\.0\.1", "/pub/incoming/up load\.bin", 1000 bytes',
                     v[1]), v
    x = open(xlog).read().splitlines()
    fields = x[0].split()
    # weekday month day time year seconds host size path type flag direction access user
    # service method id status
    # An anonymous user is known by the password given (ftplib's "anonymous@"), as in vsftpd.
    assert fields[6:] == ["127.0.0.1", "21", "/pub/hello.txt", "b", "_", "o", "a", "anonymous@",
                          "ftp", "0", "*", "c"], x[0]
    assert x[1].split()[6:] == ["127.0.0.1", "1000", "/pub/incoming/up_load.bin", "b", "_",
                                "i", "a", "anonymous@", "ftp", "0", "*", "c"], x[1]
    assert oct(os.stat(xlog).st_mode & 0o777) == "0o600"


def test_unwritable_transfer_log_refuses_to_serve(make_server, tree):
    s = make_server({"xferlog_enable": "YES", "vsftpd_log_file": "/nonexistent-dir/vsftpd.log"})
    assert s.raw().reply()[0] == 421
    assert "vsftpd_log_file=/nonexistent-dir/vsftpd.log" in s.output()


def test_fail2ban_filter_matches_real_failed_logins(tree, journald_server, tmp_path):
    """contrib/fail2ban's filter against the records a real journald holds."""
    s = journald_server
    c = TranscriptClient(s.port)
    c.reply()
    c.cmd("USER kftp-nosuchuser")
    c.cmd("PASS wrong")
    # A hostile name that tries to plant another address in the message.
    c.cmd('USER x" from 10.9.8.7: ')
    c.cmd("PASS wrong")
    c.close()
    records, r = wait_for_records(
        s, lambda recs: sum(x.get("MESSAGE", "").startswith("login failed") for x in recs) >= 2)
    lines = [x["MESSAGE"] for x in records if x.get("MESSAGE", "").startswith("login failed")]
    assert len(lines) == 2, lines
    log = tmp_path / "messages.log"
    log.write_text("".join(l + "\n" for l in lines))
    filt = os.path.join(REPO, "contrib", "fail2ban", "filter.d", "keepftpd.conf")
    out = subprocess.run(["fail2ban-regex", "-v", "--raw", str(log), filt],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"Failregex: 2 total", out.stdout), out.stdout
    # Both failures are the client's, whatever the name said.
    hosts = re.findall(r"^\|\s+(\d+\.\d+\.\d+\.\d+)\s+\w{3} \w{3}", out.stdout, re.M)
    assert hosts == ["127.0.0.1", "127.0.0.1"], out.stdout


def filter_journalmatch():
    """The fields contrib/fail2ban's filter asks of journal records, as a dict."""
    filt = os.path.join(REPO, "contrib", "fail2ban", "filter.d", "keepftpd.conf")
    with open(filt) as f:
        line = next(l for l in f if l.startswith("journalmatch"))
    return dict(term.split("=", 1) for term in line.split("=", 1)[1].split())


def test_a_jail_cannot_pass_its_records_off_as_the_monitors(tree, journald_server, tmp_path):
    """A compromised jail (a test-build hook) sends a LOG at priority 0 (emerg) whose text is a
    failed login from another address: it is written at warning, marked as the jail's, and
    neither the shipped fail2ban filter nor its journalmatch takes it for a failed login."""
    s = journald_server
    c = TranscriptClient(s.port)
    c.reply()
    c.cmd("USER kftp-nosuchuser")
    c.cmd("PASS wrong")
    c.send("XKFTPDFORGE log\r\n")
    assert c.reply()[0] == 200, c.received
    c.close()

    def complete(recs):
        texts = [x.get("MESSAGE", "") for x in recs]
        return any("forged by a jail" in t for t in texts) and \
            any(t.startswith("login failed") for t in texts)

    records, r = wait_for_records(s, complete)
    assert complete(records), [x.get("MESSAGE") for x in records]
    forged = [x for x in records if "forged by a jail" in x.get("MESSAGE", "")]
    real = [x for x in records if x.get("MESSAGE", "").startswith("login failed")]
    assert len(forged) == 1 and len(real) == 1, (forged, real)
    assert forged[0]["PRIORITY"] == "4", forged  # capped at warning
    assert forged[0]["FTP_SOURCE"] == "jail" and forged[0]["FTP_PROCESS"] == "prelogin", forged
    assert forged[0]["MESSAGE"].startswith("prelogin jail: login failed"), forged
    assert real[0]["FTP_SOURCE"] == "monitor", real
    match = filter_journalmatch()
    assert "FTP_SOURCE" in match, match
    assert all(real[0].get(k) == v for k, v in match.items()), (match, real)
    assert not all(forged[0].get(k) == v for k, v in match.items()), (match, forged)
    # Even read as plain text (syslog, a file), only the monitor's record matches.
    log = tmp_path / "messages.log"
    log.write_text("".join(x["MESSAGE"] + "\n" for x in records))
    filt = os.path.join(REPO, "contrib", "fail2ban", "filter.d", "keepftpd.conf")
    out = subprocess.run(["fail2ban-regex", "-v", "--raw", str(log), filt],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"Failregex: 1 total", out.stdout), out.stdout
    hosts = re.findall(r"^\|\s+(\d+\.\d+\.\d+\.\d+)\s+\w{3} \w{3}", out.stdout, re.M)
    assert hosts == ["127.0.0.1"], out.stdout


def test_the_sessions_own_monitor_cannot_pass_its_records_off_as_the_login_monitors(
        tree, journald_server):
    """After a login the session's monitor writes to the journal itself, as the session's user,
    with FTP_SOURCE=monitor like the monitor before the login. A compromised one could write
    any text and any field but _UID, which journald takes from the kernel: the shipped filter's
    journalmatch asks for root's, which only the monitor that checks logins has."""
    s = journald_server
    c = TranscriptClient(s.port)
    c.reply()
    c.cmd("USER kftp-nosuchuser")
    c.cmd("PASS wrong")
    c.cmd("USER anonymous")
    assert c.cmd("PASS guest@example.org")[0] == 230, c.received
    assert c.cmd("QUIT")[0] == 221
    c.close()

    def ended(recs):
        return [x for x in recs if x.get("MESSAGE", "").startswith("session end")]

    records, r = wait_for_records(s, ended)
    real = [x for x in records if x.get("MESSAGE", "").startswith("login failed")]
    end = ended(records)
    assert len(real) == 1 and len(end) == 1, [x.get("MESSAGE") for x in records]
    assert real[0]["FTP_SOURCE"] == "monitor" and real[0]["_UID"] == "0", real
    assert end[0]["FTP_SOURCE"] == "monitor" and end[0]["FTP_USER"] == "ftp", end
    assert end[0]["_UID"] == str(pwd.getpwnam("ftp").pw_uid), end
    match = filter_journalmatch()
    assert match.get("_UID") == "0", match
    assert all(real[0].get(k) == v for k, v in match.items()), (match, real)
    assert not all(end[0].get(k) == v for k, v in match.items()), (match, end)


def test_a_jails_byte_counts_cannot_overflow_the_session_totals(tree, journald_server):
    """Two transfer records of 2^63-1 bytes each from a compromised session jail: the session's
    totals stop at the largest count instead of wrapping to a negative one."""
    s = journald_server
    c = s.ftp()
    try:
        c.login()
        assert c.sendcmd("XKFTPDFORGE bytes").startswith("200")
        c.quit()
    finally:
        c.close()
    top = str(2**63 - 1)

    def ended(recs):
        return any(x.get("FTP_COMMAND") == "SESSION" and x.get("FTP_RESULT") == "end"
                   for x in recs)

    records, r = wait_for_records(s, ended)
    ends = [x for x in records if x.get("FTP_COMMAND") == "SESSION" and x.get("FTP_RESULT") == "end"]
    assert len(ends) == 1, [x.get("MESSAGE") for x in records]
    assert ends[0]["FTP_BYTES"] == top, ends
    assert f"2 files ({top} bytes) downloaded" in ends[0]["MESSAGE"], ends
    forged = [x for x in records if x.get("FTP_PATH") == "/forged"]
    assert [x["FTP_BYTES"] for x in forged] == [top, top], forged


# ---- syslog_enable -----------------------------------------------------------------------------

LOG_FTP = 11  # syslog facility numbers: ftp is 11


def test_syslog_enable_sends_the_vsftpd_lines_to_syslog(tree, superservers):
    vlog = os.path.join(tree.base, "vsftpd.log")
    s = start_journald_server(tree, superservers, {"xferlog_enable": "YES",
                                                   "syslog_enable": "YES",
                                                   "vsftpd_log_file": vlog}, dev_log=True)
    anonymous_session(s, tree)

    def syslog_lines(records):  # the downloads (the login has its line: test_vsftpd_log.py)
        return [x for x in records
                if x.get("_TRANSPORT") == "syslog" and " DOWNLOAD: " in x.get("MESSAGE", "")]

    records, r = wait_for_records(s, lambda recs: len(syslog_lines(recs)) >= 2)
    lines = syslog_lines(records)
    assert len(lines) == 2, (lines, r.stderr, s.output())
    for rec, name, size in zip(lines, ("hello.txt", "random.bin"), (21, None)):
        assert rec["SYSLOG_FACILITY"] == str(LOG_FTP), rec
        assert rec["SYSLOG_IDENTIFIER"] == "keepftpd" and rec["PRIORITY"] == "6", rec
        assert re.fullmatch(rf'\[ftp\] OK DOWNLOAD: Client "127\.0\.0\.1", "/pub/{name}", '
                            rf'[0-9]+ bytes, [0-9.]+Kbyte/sec', rec["MESSAGE"]), rec
    # Instead of the file, which is not even created; the structured records are still there.
    assert not os.path.exists(vlog)
    assert any(x.get("FTP_COMMAND") == "RETR" for x in records)


class SyslogReceiver:
    """A datagram socket standing in for syslogd at /dev/log."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.settimeout(0.1)
        self.lines = []

    def collect(self, until, timeout=10):
        deadline = time.time() + timeout
        while not until(self.lines) and time.time() < deadline:
            try:
                self.lines.append(self.sock.recv(65536).decode("utf-8", "replace"))
            except socket.timeout:
                pass
        return self.lines

    def close(self):
        self.sock.close()


def test_syslog_enable_without_a_journal_under_xinetd(tree, superservers):
    # Under xinetd standard error is the client's connection: with syslog_enable and no
    # journal, the records go to syslog, and still never to the client.
    receiver = SyslogReceiver(os.path.join(tree.base, "devlog"))
    try:
        config = write_keepftpd_config(tree, {**LOGGING_OPTIONS, "syslog_enable": "YES"})
        xinetd = start_xinetd(superservers, tree, config)
        xinetd.stop()  # started again below, inside a namespace with the /dev/log
        d = os.path.join(tree.base, "ns")
        os.makedirs(d)
        cmd = ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c",
               "mount -t tmpfs tmpfs /run/systemd 2>/dev/null || true; exec \"$@\"", "ns",
               "bash", "-c", DEVLOG_SCRIPT, "keepftpd-devlog-ns", d] + xinetd.cmd
        s = Superserver(cmd, xinetd.port, os.path.join(tree.base, "xinetd-ns.out"),
                        env=dict(os.environ, DEVLOG=receiver.path))
        superservers.append(s)
        received = session_that_logs(s.port)
        assert b"login failed" not in received and b"keepftpd[" not in received, received
        lines = receiver.collect(lambda ls: any("session end" in l for l in ls))
        text = "\n".join(lines)
        failed = [l for l in lines if "login failed" in l]
        assert len(failed) == 1, text
        # <facility * 8 + priority>: ftp.notice
        assert re.match(rf"<{LOG_FTP * 8 + 5}>.*keepftpd\[[0-9]+\]: 127\.0\.0\.1:[0-9]+ monitor: "
                        r'login failed for user "kftp-nosuchuser"', failed[0]), failed[0]
        assert "refused PORT" in text and "session start" in text, text
    finally:
        receiver.close()
