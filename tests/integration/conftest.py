"""Integration test harness: the built keepftpd started the real way, under
systemd-socket-activate (--inetd: the connection on fd 0; or LISTEN_FDS: the connection as fd 3),
serving a tree made for each test, driven by real clients.

The tests run as root inside `./dev test`, which provides the accounts the server needs
(ftp = 61001 for anonymous sessions, kftp-nopriv = 61002 for the pre-login jail) in a private
mount namespace.
"""

import ftplib
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEEPFTPD = os.environ.get("KEEPFTPD_BIN", os.path.join(REPO, "build", "src", "keepftpd"))

RANDOM_SIZE = 3 * 1024 * 1024 + 17
STALL_SIZE = 256 * 1024 * 1024  # sparse; larger than any socket buffers


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Tree:
    """A served tree: root/ (config + empty/), root/ftp (anon_root)."""

    def __init__(self, base):
        self.base = base
        self.empty = os.path.join(base, "empty")
        self.anon = os.path.join(base, "ftp")
        os.makedirs(self.empty)
        os.makedirs(os.path.join(self.anon, "pub", "sub"))
        os.makedirs(os.path.join(self.anon, 'we"ird dir'))
        os.makedirs(os.path.join(self.anon, "pub", "incoming"))
        with open(os.path.join(self.anon, "pub", "hello.txt"), "wb") as f:
            f.write(b"Hello from keepftpd.\n")
        with open(os.path.join(self.anon, "pub", "lines.txt"), "wb") as f:
            f.write(b"one\ntwo\r\nthree\n\nfive")
        with open(os.path.join(self.anon, "pub", "random.bin"), "wb") as f:
            f.write(os.urandom(RANDOM_SIZE))
        with open(os.path.join(self.anon, "pub", "big.sparse"), "wb") as f:
            f.truncate(STALL_SIZE)
        with open(os.path.join(self.anon, "pub", ".hidden"), "wb") as f:
            f.write(b"dot file\n")
        with open(os.path.join(self.anon, "pub", "secret.key"), "wb") as f:
            f.write(b"not for download\n")
        with open(os.path.join(self.anon, "pub", "sub", "deep.txt"), "wb") as f:
            f.write(b"deep\n")
        with open(os.path.join(self.anon, "pub", "sub", ".message"), "wb") as f:
            f.write(b"Welcome to sub.\nSecond line.\n")
        os.symlink("hello.txt", os.path.join(self.anon, "pub", "link-to-hello"))
        old = time.mktime((2020, 1, 1, 12, 0, 0, 0, 0, 0))
        os.utime(os.path.join(self.anon, "pub", "hello.txt"), (old, old))
        for dirpath, dirnames, filenames in os.walk(base):
            os.chown(dirpath, 0, 0)
            os.chmod(dirpath, 0o755)
            for name in filenames:
                p = os.path.join(dirpath, name)
                os.chown(p, 0, 0)
                os.chmod(p, 0o644)
        os.chmod(base, 0o755)
        # The anonymous upload directory belongs to the ftp user, as vsftpd setups have it.
        ftp_uid = pwd.getpwnam("ftp").pw_uid
        os.chown(os.path.join(self.anon, "pub", "incoming"), ftp_uid, ftp_uid)

    def path(self, rel):
        return os.path.join(self.anon, rel.lstrip("/"))


class Server:
    """keepftpd under systemd-socket-activate on a loopback port."""

    def __init__(self, tree, options=None, mode="inetd", raw_config=None, env=None, user=None,
                 binary=None):
        """user: (uid, gid) to start systemd-socket-activate and keepftpd as, not root (with
        user_binary() as the binary, unless another is given)."""
        self.tree = tree
        self.mode = mode
        self.port = free_port()
        self.host = "127.0.0.1"
        self.config_path = os.path.join(tree.base, "keepftpd.conf")
        if raw_config is None:
            settings = {
                "anonymous_enable": "YES",
                "anon_root": tree.anon,
                "nopriv_user": "kftp-nopriv",
                "secure_chroot_dir": tree.empty,
                # Failed logins are remembered per test, so that one test's bad passwords never
                # ban 127.0.0.1 for the next.
                "login_state_dir": os.path.join(tree.base, "state"),
            }
            settings.update(options or {})
            raw_config = "".join(f"{k}={v}\n" for k, v in settings.items() if v is not None)
        elif "login_state_dir" not in raw_config:
            raw_config += f"\nlogin_state_dir={os.path.join(tree.base, 'state')}\n"
        with open(self.config_path, "w") as f:
            f.write(raw_config)
        os.chmod(self.config_path, 0o644)
        cmd = ["systemd-socket-activate", "-l", f"{self.host}:{self.port}", "-a"]
        if user is not None:
            cmd = ["setpriv", f"--reuid={user[0]}", f"--regid={user[1]}", "--clear-groups"] + cmd
        if mode == "inetd":
            cmd.append("--inetd")
        for k, v in (env or {}).items():
            cmd += ["-E", f"{k}={v}"]
        if binary is None:
            binary = KEEPFTPD if user is None else user_binary()
        cmd += [binary, "--config", self.config_path]
        self.log_path = os.path.join(tree.base, "activate.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            with open(f"/proc/net/tcp") as f:
                if any(f":{self.port:04X} 00000000:0000 0A" in line for line in f):
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("systemd-socket-activate did not start: " + self.output())

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_output(self, text, timeout=10):
        """The output once it holds text (what a session logs may come after the client saw
        its connection end), or as it is after timeout seconds."""
        deadline = time.time() + timeout
        while text not in self.output() and time.time() < deadline:
            time.sleep(0.02)
        return self.output()

    def ftp(self, login=True, timeout=10):
        c = ftplib.FTP(timeout=timeout)
        c.connect(self.host, self.port)
        if login:
            c.login()
        return c

    def raw(self, timeout=10, source=None):
        """A raw control connection; source: the client's own loopback address (127.0.0.2)."""
        return RawClient(self.host, self.port, timeout, source)

    def stop(self):
        end_process_group(self.proc, wait=5)
        self.log.close()


def end_process_group(proc, sig=signal.SIGTERM, wait=10):
    """Ends a process started with start_new_session=True, and its group: sig, then SIGKILL
    if it is still there after wait seconds."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, sig)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class RawClient:
    """A line-level control connection, for exact replies and hostile input."""

    def __init__(self, host, port, timeout=10, source=None):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; buffered: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """One whole (possibly multi-line) reply: (code, [lines])."""
        first = self.line()
        lines = [first]
        if len(first) >= 4 and first[3] == "-":
            code = first[:3]
            while True:
                l = self.line()
                lines.append(l)
                if l.startswith(code + " "):
                    break
        return int(first[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def login(self):
        assert self.reply()[0] == 220
        code, _ = self.cmd("USER anonymous")
        if code == 331:
            code, _ = self.cmd("PASS guest@example.org")
        assert code == 230
        return self

    def closed(self, timeout=5):
        """True when the server closes the connection within timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


_user_binary_dir = []


def user_binary():
    """KEEPFTPD where a user who is not root can run it: a copy in a world-readable temporary
    directory, made once and removed at the end of the run. The build tree may be where only
    root can enter (a clone in /root, mode 0700): a user's exec of a binary there fails."""
    if not _user_binary_dir:
        base = tempfile.mkdtemp(prefix="keepftpd-bin-", dir="/tmp")
        os.chmod(base, 0o755)
        shutil.copy(KEEPFTPD, os.path.join(base, "keepftpd"))
        os.chmod(os.path.join(base, "keepftpd"), 0o755)
        _user_binary_dir.append(base)
    return os.path.join(_user_binary_dir[0], "keepftpd")


@pytest.fixture(scope="session", autouse=True)
def remove_user_binary():
    yield
    for base in _user_binary_dir:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def tree(tmp_path):
    base = tempfile.mkdtemp(prefix="keepftpd-test-", dir="/tmp")
    os.chmod(base, 0o755)
    t = Tree(os.path.join(base, "t"))
    yield t
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def make_server(tree):
    servers = []

    def make(options=None, mode="inetd", raw_config=None, env=None):
        s = Server(tree, options, mode, raw_config, env)
        servers.append(s)
        return s

    yield make
    said_ok_but_refused = []
    for s in servers:
        s.stop()
        print(f"---- server output ({s.mode}) ----")  # shown by pytest when a test fails
        out = s.output()
        print(out)
        # "OK" from --check-config means a connection will be served: every server of the
        # suite that refused a connection as misconfigured must fail the check too.
        if "connection refused: the configuration cannot serve it" in out:
            r = subprocess.run([KEEPFTPD, "--check-config", "--config", s.config_path],
                               capture_output=True, text=True, timeout=30)
            if r.returncode == 0:
                said_ok_but_refused.append(s.config_path)
    assert not said_ok_but_refused, (
        "--check-config said OK for a configuration whose connections were refused: "
        + ", ".join(said_ok_but_refused))


@pytest.fixture(params=["inetd", "listen_fds"])
def server(request, make_server):
    """The default anonymous server, in both activation modes."""
    return make_server(mode=request.param)


@pytest.fixture
def server_inetd(make_server):
    return make_server()


def uid_of(name):
    return pwd.getpwnam(name).pw_uid


# ---- local users --------------------------------------------------------------------------------

def assert_private_etc():
    """The tests add users to /etc/passwd: only ever to the private copy of /etc that ./dev test
    mounts (tests/with-test-accounts: a tmpfs on /etc in a mount namespace of its own)."""
    with open("/proc/self/mountinfo") as f:
        etc = [line.split(" - ")[1].split()[0] for line in f if line.split()[4] == "/etc"]
    assert etc and etc[-1] == "tmpfs", "/etc is not a private copy: run the tests with ./dev test"


def password_hash(password):
    return subprocess.run(["openssl", "passwd", "-6", password], capture_output=True,
                          check=True).stdout.decode().strip()


class LocalUsers:
    """Local accounts for the run (in the private /etc copies), with their homes."""

    def __init__(self, base):
        self.base = base
        self.users = {}
        with open("/etc/group", "a") as f:
            f.write("kftp-staff:x:61020:kftp-alice\n")

    def add(self, name, uid, password, shell="/bin/bash", home=None, home_owner=None,
            files=None):
        home = home or os.path.join(self.base, name)
        real_home = home.replace("/./", "/")
        os.makedirs(real_home, exist_ok=True)
        for rel, data in (files or {"readme.txt": f"{name}'s file\n".encode()}).items():
            p = os.path.join(real_home, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
            os.chown(p, uid, uid)
        owner = uid if home_owner is None else home_owner
        os.chown(real_home, owner, owner)
        os.chmod(real_home, 0o755)
        with open("/etc/passwd", "a") as f:
            f.write(f"{name}:x:{uid}:{uid}:keepftpd test user:{home}:{shell}\n")
        with open("/etc/group", "a") as f:
            f.write(f"{name}:x:{uid}:\n")
        with open("/etc/shadow", "a") as f:
            f.write(f"{name}:{password_hash(password)}:19000:0:99999:7:::\n")
        self.users[name] = {"uid": uid, "password": password, "home": home,
                            "real_home": real_home}
        return self.users[name]


@pytest.fixture(scope="session")
def local_users():
    assert_private_etc()
    base = tempfile.mkdtemp(prefix="keepftpd-homes-", dir="/tmp")
    os.chmod(base, 0o755)
    users = LocalUsers(base)
    # alice: an ordinary user whose home she owns (so it may not be a chroot without
    # allow_writeable_chroot); bob: a shell not in /etc/shells; carol: a home owned by root;
    # dave: a /./ home for passwd_chroot_enable; toor: uid 0.
    users.add("kftp-alice", 61010, "alice-secret")
    users.add("kftp-bob", 61011, "bob-secret", shell="/usr/sbin/nologin")
    users.add("kftp-carol", 61012, "carol-secret", shell="/bin/sh", home_owner=0)
    jail = os.path.join(base, "jail")
    os.makedirs(jail)
    users.add("kftp-dave", 61013, "dave-secret", home=os.path.join(jail, ".", "kftp-dave"))
    users.add("kftp-toor", 0, "toor-secret", home=os.path.join(base, "toor"))
    srv = os.path.join(base, "srv", "kftp-alice")
    os.makedirs(srv)
    with open(os.path.join(srv, "private.txt"), "wb") as f:
        f.write(b"alice's private folder\n")
    users.srv = os.path.join(base, "srv")
    yield users
    shutil.rmtree(base, ignore_errors=True)
