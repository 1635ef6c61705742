"""run_as_launching_user=YES, the rootless mode: keepftpd started by a normal user serves that
user's files with the same split into monitor and jails, every process that user, each jail
chrooted inside its own user namespace and under seccomp; only that user may log in besides
anonymous; it refuses to start as root, and says why when the kernel refuses user namespaces."""

import ftplib
import hashlib
import io
import os
import signal
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import KEEPFTPD, REPO, Server, free_port, user_binary
from test_ftps import cert  # noqa: F401 (a fixture)
from test_dev_serve import as_a_terminal_job
from test_privsep import connection_processes, status, wait_for

USER, UID, PASSWORD = "kftp-rootless", 61020, "rootless-secret"


@pytest.fixture(scope="module")
def launcher(local_users):
    if USER not in local_users.users:
        local_users.add(USER, UID, PASSWORD, shell="/bin/bash")
    return local_users.users[USER]


@pytest.fixture
def own_tree(tree, launcher):
    """The test tree, given to the launching user (the pre-login chroot stays root's)."""
    for dirpath, dirnames, filenames in os.walk(tree.base):
        if dirpath != tree.empty:
            os.chown(dirpath, UID, UID)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), UID, UID)
    return tree


def rootless_server(tree, options=None, **kwargs):
    settings = {"run_as_launching_user": "YES"}
    settings.update(options or {})
    return Server(tree, settings, user=(UID, UID), **kwargs)


def ns(pid, kind):
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def test_anonymous_download_and_upload_as_the_launching_user(own_tree):
    server = rootless_server(own_tree, {"write_enable": "YES", "anon_upload_enable": "YES",
                                        "anon_umask": "022"})
    try:
        c = server.ftp()
        data = io.BytesIO()
        c.retrbinary("RETR pub/hello.txt", data.write)
        assert data.getvalue() == b"Hello from keepftpd.\n"
        # HASH: the session's monitor, the user's own process, loads OpenSSL for the digest.
        digest = hashlib.sha256(b"Hello from keepftpd.\n").hexdigest()
        assert digest in c.sendcmd("HASH pub/hello.txt").split()
        c.storbinary("STOR pub/incoming/up.txt", io.BytesIO(b"uploaded rootless\n"))
        c.quit()
        path = own_tree.path("pub/incoming/up.txt")
        with open(path, "rb") as f:
            assert f.read() == b"uploaded rootless\n"
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (UID, UID)
        assert wait_for(lambda: "session end" in server.output())
    finally:
        server.stop()


def test_every_process_is_the_user_and_each_jail_is_chrooted_in_its_own_namespaces(own_tree):
    server = rootless_server(own_tree)
    try:
        # Before login: the monitor and the pre-login jail.
        c = server.ftp(login=False)
        monitor, jail = connection_processes(server)
        for pid in (monitor, jail):
            s = status(pid)
            assert s["Uid"].split() == [str(UID)] * 4 and s["Gid"].split() == [str(UID)] * 4
            assert int(s["CapEff"], 16) == 0 and int(s["CapPrm"], 16) == 0
        js = status(jail)
        assert int(js["CapBnd"], 16) == 0
        assert js["NoNewPrivs"] == "1" and js["Seccomp"] == "2"
        for kind in ("user", "net", "pid", "ipc"):
            assert ns(jail, kind) != ns(monitor, kind), kind
        assert os.readlink(f"/proc/{jail}/root") == own_tree.empty
        assert len(js["NSpid"].split()) == 2  # it sees only its own PID namespace
        # After login: the keeper, the session's monitor and the session jail.
        c.login()
        monitor, jail = connection_processes(server, logged_in=True)
        js = status(jail)
        assert js["Uid"].split() == [str(UID)] * 4
        assert int(js["CapEff"], 16) == 0 and int(js["CapBnd"], 16) == 0
        assert js["NoNewPrivs"] == "1" and js["Seccomp"] == "2"
        assert ns(jail, "user") != ns(monitor, "user")
        assert os.readlink(f"/proc/{jail}/root") == own_tree.anon
        # The session's monitor reads the jail's requests: in a user namespace of its own,
        # chrooted into the empty directory, with its own filter and no capability left there.
        ms = wait_for(lambda: (lambda x: x if x["Seccomp"] == "2" else None)(status(monitor)))
        assert ms["NoNewPrivs"] == "1" and int(ms["CapEff"], 16) == 0
        assert int(ms["CapPrm"], 16) == 0 and int(ms["CapBnd"], 16) == 0
        assert ms["Uid"].split() == [str(UID)] * 4
        assert os.readlink(f"/proc/{monitor}/root") == own_tree.empty
        assert ns(monitor, "user") != ns(jail, "user")
        # The uid map of the jail's namespace is the user's own uid and nothing else.
        with open(f"/proc/{jail}/uid_map") as f:
            assert f.read().split() == [str(UID), str(UID), "1"]
        assert c.nlst("pub")
        c.quit()
    finally:
        server.stop()


def test_ftps_with_the_users_own_certificate(own_tree, cert):
    for path in cert.values():
        os.chown(path, UID, UID)  # the key is the user's, mode 0600
    server = rootless_server(own_tree, {"ssl_enable": "YES", "allow_anon_ssl": "YES",
                                        "force_anon_data_ssl": "YES", **cert})
    try:
        r = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k",
                            f"ftp://127.0.0.1:{server.port}/pub/random.bin"],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        with open(own_tree.path("pub/random.bin"), "rb") as f:
            assert r.stdout == f.read()
    finally:
        server.stop()


def test_only_the_launching_user_logs_in(own_tree, launcher, local_users):
    server = rootless_server(own_tree, {"local_enable": "YES", "anonymous_enable": "NO"})
    try:
        c = server.ftp(login=False)
        assert c.login(USER, PASSWORD).startswith("230")
        assert c.pwd() == launcher["home"]
        c.quit()
        c = server.ftp(login=False)
        with pytest.raises(ftplib.error_perm, match="530"):
            c.login(USER, "wrong password")
        c.close()
        alice = local_users.users["kftp-alice"]
        c = server.ftp(login=False)
        with pytest.raises(ftplib.error_perm, match="530"):
            c.login("kftp-alice", alice["password"])
        c.close()
    finally:
        server.stop()
    assert f"run_as_launching_user=YES: only {USER} may log in" in server.output()


def assert_refused(server, reason):
    """The server answers 421 at once, and its log says why."""
    try:
        c = ftplib.FTP(timeout=10)
        with pytest.raises(ftplib.error_temp, match="421"):
            c.connect(server.host, server.port)
    finally:
        server.stop()
    assert reason in server.output()


def test_options_that_need_root_are_refused(own_tree):
    assert_refused(rootless_server(own_tree, {"session_support": "YES"}),
                   "session_support: cannot be used with run_as_launching_user=YES")


def test_started_as_root_it_refuses(tree):
    server = Server(tree, {"run_as_launching_user": "YES"})
    assert_refused(server, "the rootless mode is for normal users")
    r = subprocess.run([KEEPFTPD, "--check-config", "--config", server.config_path],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "the rootless mode is for normal users" in r.stdout


def test_a_root_server_still_needs_root(tree):
    assert_refused(Server(tree, user=(UID, UID)),
                   "set run_as_launching_user=YES for the rootless mode")


# Runs argv[1:] as the launching user inside a new user namespace (ids mapped to themselves)
# whose own limit of nested user namespaces is 0: the kernel then refuses keepftpd's, as where
# they are turned off. A child left outside writes the maps, as newuidmap would.
NO_USERNS = f"""
import ctypes, os, sys
CLONE_NEWUSER = 0x10000000
r, w = os.pipe()
parent = os.getpid()
if os.fork() == 0:
    os.close(w)
    os.read(r, 1)
    for name, text in (("uid_map", "0 0 65536"), ("gid_map", "0 0 65536")):
        with open(f"/proc/{{parent}}/{{name}}", "w") as f:
            f.write(text)
    os._exit(0)
os.close(r)
if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWUSER) != 0:
    sys.exit("unshare: " + os.strerror(ctypes.get_errno()))
os.write(w, b"x")
os.wait()
with open("/proc/sys/user/max_user_namespaces", "w") as f:
    f.write("0")
os.execvp("setpriv", ["setpriv", "--reuid={UID}", "--regid={UID}", "--clear-groups"] + sys.argv[1:])
"""


def without_user_namespaces(*command):
    return ["/usr/bin/python3", "-c", NO_USERNS, *command]


def test_without_user_namespaces_it_says_so_and_serves_nothing(own_tree):
    config = os.path.join(own_tree.base, "keepftpd.conf")
    with open(config, "w") as f:
        f.write(f"run_as_launching_user=YES\nanonymous_enable=YES\nanon_root={own_tree.anon}\n"
                f"secure_chroot_dir={own_tree.empty}\n"
                f"login_state_dir={os.path.join(own_tree.base, 'state')}\n")
    r = subprocess.run(without_user_namespaces(user_binary(), "--check-config", "--config",
                                               config),
                       capture_output=True, text=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the kernel refused an unprivileged user namespace" in r.stdout
    assert "user.max_user_namespaces" in r.stdout
    # Served anyway: the client gets an error, the log the reason, and no file is read.
    port = free_port()
    log = os.path.join(own_tree.base, "activate.log")
    with open(log, "wb") as out:
        proc = subprocess.Popen(without_user_namespaces(
            "systemd-socket-activate", "-l", f"127.0.0.1:{port}", "--inetd", "-a", user_binary(),
            "--config", config), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def listening():
            with open("/proc/net/tcp") as f:
                return any(f":{port:04X} 00000000:0000 0A" in line for line in f)
        assert wait_for(listening, 10)
        c = ftplib.FTP(timeout=10)
        with pytest.raises(ftplib.error_perm, match="500 OOPS: the session could not be started"):
            c.connect("127.0.0.1", port)
        def logged():
            with open(log) as f:
                return "the kernel refused an unprivileged user namespace" in f.read()
        assert wait_for(logged)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)


def as_user(*command):
    return ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", *command]


def checkout_files(repo, dest):
    """The checkout's files (new ones too), without build directories, copied to dest."""
    files = subprocess.run(["git", "-C", repo, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src, dst = os.path.join(repo, name), os.path.join(dest, name)
        if os.path.lexists(src):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst, follow_symlinks=False)


def test_dev_serve_as_a_normal_user_is_rootless(launcher):
    """./dev serve, run by a normal user: the demo is served in the rootless mode."""
    base = None
    if subprocess.run(as_user("test", "-x", os.path.join(REPO, "dev"))).returncode == 0:
        # What it runs is built by root first: the user may not write into root's checkout.
        checkout = REPO
        r = subprocess.run([os.path.join(REPO, "dev"), "build", "serve"], capture_output=True,
                           text=True, timeout=900)
        assert r.returncode == 0, r.stdout + r.stderr
    else:
        # Root's checkout is where the user cannot enter (a clone in /root): the user's own
        # copy, which ./dev serve builds as the user.
        base = tempfile.mkdtemp(prefix="keepftpd-user-checkout-", dir="/tmp")
        os.chmod(base, 0o755)
        checkout = os.path.join(base, "keepftpd")
        checkout_files(REPO, checkout)
        subprocess.run(["chown", "-R", f"{UID}:{UID}", checkout], check=True)
    port = free_port()
    demo = f"/tmp/keepftpd-demo-test-{port}"
    env = dict(os.environ, KEEPFTPD_DEMO_PORT=str(port), KEEPFTPD_DEMO_DIR=demo,
               HOME=launcher["home"])
    proc = subprocess.Popen(as_user(os.path.join(checkout, "dev"), "serve"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=as_a_terminal_job)
    try:
        def listening():
            with open("/proc/net/tcp") as f:
                return any(f":{port:04X} 00000000:0000 0A" in line for line in f)
        assert wait_for(listening, 120 if base is None else 900), proc.poll()
        r = subprocess.run(["curl", "-sS", f"ftp://127.0.0.1:{port}/pub/hello.txt"],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"Hello from keepftpd.\n"
        with open(os.path.join(demo, "keepftpd.conf")) as f:
            assert "run_as_launching_user=YES" in f.read()
        assert os.stat(os.path.join(demo, "ftp", "pub", "hello.txt")).st_uid == UID
    finally:
        out = ""
        # Ctrl-C, then SIGTERM (./dev serve's handler ends what it started), then SIGKILL; every
        # wait is bounded (a superserver left behind would hold the pipe open).
        for send in (lambda: os.killpg(proc.pid, signal.SIGINT),
                     lambda: os.kill(proc.pid, signal.SIGTERM),
                     lambda: os.killpg(proc.pid, signal.SIGKILL)):
            try:
                send()
            except ProcessLookupError:
                pass
            try:
                out += proc.communicate(timeout=20)[0].decode(errors="replace")
                break
            except subprocess.TimeoutExpired:
                pass
        subprocess.run(["rm", "-rf", demo])
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)
    assert f"rootless: as {USER}" in out


# Runs the command in a mount namespace where the checkout is also at $1/keepftpd, $1 being a
# directory only root may enter (mode 0700), through that path's tests/with-test-accounts.
PRIVATE_CLONE = r"""
set -e
private=$1 repo=$2; shift 2
mount --bind "$repo" "$private/keepftpd"
exec "$private/keepftpd/tests/with-test-accounts" "$@"
"""


def test_the_rootless_tests_pass_from_a_clone_only_root_can_enter():
    """./dev test from a clone in /root (0700): this file's tests, run again from a path whose
    parent only root may enter, pass; the user's exec of anything in the build tree fails."""
    if os.environ.get("KEEPFTPD_PRIVATE_CLONE"):
        pytest.skip("this run is the one from the private clone")
    if os.environ.get("KEEPFTPD_SANITIZED"):
        pytest.skip("where the tests run from is the build's business, not the sanitizer's: "
                    "the normal pass runs this once")
    rel = os.path.relpath(KEEPFTPD, REPO)
    if rel.startswith(".."):
        pytest.skip(f"{KEEPFTPD} is not in the checkout")
    private = tempfile.mkdtemp(prefix="keepftpd-private-", dir="/tmp")
    try:
        assert os.stat(private).st_mode & 0o777 == 0o700
        os.mkdir(os.path.join(private, "keepftpd"))
        clone = os.path.join(private, "keepftpd")
        env = dict(os.environ, KEEPFTPD_BIN=os.path.join(clone, rel), KEEPFTPD_PRIVATE_CLONE="1")
        r = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c",
             PRIVATE_CLONE, "private-clone", private, REPO,
             # The proof that the path is out of the user's reach: their exec fails (through
             # env: setpriv itself still has root's capabilities when it execs).
             "bash", "-c", 'if "$@" --version; then exit 1; fi; exec /usr/bin/python3 -m pytest '
             '-q -p no:cacheprovider -rs "$0"',
             os.path.join(clone, "tests", "integration", "test_rootless.py"),
             *as_user("env", os.path.join(clone, rel))],
            capture_output=True, text=True, env=env, timeout=1800)
        assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
        assert "Permission denied" in r.stderr, r.stderr[-3000:]
        summary = r.stdout.strip().splitlines()[-1]
        assert re.search(r"^\d+ passed, 1 skipped in ", summary), r.stdout[-3000:]
    finally:
        shutil.rmtree(private, ignore_errors=True)
