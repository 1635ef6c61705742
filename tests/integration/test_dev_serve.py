"""`./dev serve`, the README's first command: the demo tree reaches curl and lftp, from the
server alone built as it is installed (build-serve/, no test hooks); Ctrl-C and SIGTERM stop
everything it started and remove everything it made, also while the demo is being made; and
when ./dev itself is killed outright, the superserver goes with it and frees the port."""

import ftplib
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import REPO, RawClient, free_port
from test_privsep import wait_for


def listening(port):
    with open("/proc/net/tcp") as f:
        return any(f":{port:04X} 00000000:0000 0A" in line for line in f)


def start_dev_serve():
    """./dev serve on a free port, in a session of its own as a shell's job is; returns (proc,
    port, demo directory, log file) once it listens."""
    port = free_port()
    demo = tempfile.mkdtemp(prefix="keepftpd-demo-", dir="/tmp")
    env = dict(os.environ, KEEPFTPD_DEMO_PORT=str(port), KEEPFTPD_DEMO_DIR=demo)
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([os.path.join(REPO, "dev"), "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=as_a_terminal_job)
    deadline = time.time() + 600  # may have to build build-serve/ first
    while time.time() < deadline and proc.poll() is None and not listening(port):
        time.sleep(0.1)
    if not listening(port):
        stop(proc)
        subprocess.run(["rm", "-rf", demo])
        log.seek(0)
        pytest.fail("./dev serve did not listen: " + log.read().decode(errors="replace"))
    return proc, port, demo, log


def as_a_terminal_job():
    """In the child before exec: Ctrl-C and Ctrl-\\ as a terminal's job gets them. (A suite
    started in the background of a script inherits them ignored, and a shell cannot trap a
    signal that was ignored when it started.)"""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def stop(proc):
    """Ctrl-C, then SIGTERM, then SIGKILL: ./dev serve's own handler ends what it started."""
    for how in (signal.SIGINT, signal.SIGTERM):
        if proc.poll() is not None:
            return
        (os.killpg if how == signal.SIGINT else os.kill)(proc.pid, how)
        try:
            proc.wait(20)
            return
        except subprocess.TimeoutExpired:
            pass
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_dev_serve_serves_the_demo_to_curl_and_lftp():
    proc, port, demo, log = start_dev_serve()
    try:
        log.seek(0)
        output = log.read().decode(errors="replace")
        assert f"curl ftp://127.0.0.1:{port}/pub/" in output
        assert f"lftp -p {port} 127.0.0.1" in output
        r = subprocess.run(["curl", "-sS", f"ftp://127.0.0.1:{port}/pub/hello.txt"],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"Hello from keepftpd.\n"
        r = subprocess.run(["lftp", "-c", f"set net:max-retries 1; open -p {port} 127.0.0.1; "
                            "cls -1 pub; bye"], capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert b"hello.txt" in r.stdout and b"random-10M.bin" in r.stdout
        # Read-only: an upload is refused.
        r = subprocess.run(["curl", "-sS", "-T", "/etc/hostname",
                            f"ftp://127.0.0.1:{port}/pub/"], capture_output=True, timeout=30)
        assert r.returncode != 0
        # The server as it is installed: no test-build command is known.
        c = RawClient("127.0.0.1", port).login()
        assert c.cmd("XKFTPDFORBIDDEN")[0] == 500
        assert c.cmd("NOOP")[0] == 200
        c.close()
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
            children = f.read().split()
        cmdlines = []
        for pid in children:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdlines.append(f.read().replace(b"\0", b" ").decode())
        binary = os.path.join(REPO, "build-serve", "src", "keepftpd")
        assert any(f"-a {binary} --config" in c for c in cmdlines), cmdlines
        # The failed-login table is the demo's own, in the tree that Ctrl-C removes, not the
        # machine's (root's /run/keepftpd) that a real server uses.
        assert os.path.isfile(os.path.join(demo, "state", "logins"))
    finally:
        stop(proc)
        subprocess.run(["rm", "-rf", demo])


def process_tree(root):
    """{pid: start time} of root and every process descended from it (by parent), whatever
    its session, process group or PID namespace."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                parents[int(name)] = (int(fields[1]), fields[19])
            except (FileNotFoundError, ProcessLookupError):
                pass
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in parents:
            tree[pid] = parents[pid][1]
            todo += [p for p, (ppid, _) in parents.items() if ppid == pid]
    return tree


def alive(pid, start):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19] == start
    except (FileNotFoundError, ProcessLookupError):
        return False


def account_directories(pids):
    """Directories under /tmp that the processes' mounts come from (the old
    tests/with-test-accounts bind-mounted /tmp/keepftpd-users.XXXXXX/passwd and others)."""
    found = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/mountinfo") as f:
                found.update(re.findall(r" (/tmp/keepftpd-users\.[^/ ]+)", f.read()))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return found


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_a_signal_stops_everything_dev_serve_started_and_removes_what_it_made(how):
    proc, port, demo, log = start_dev_serve()
    leftovers, tree = set(), {}
    try:
        # A logged-in session (keeper, session monitor, session jail) and one before login
        # (monitor, pre-login jail): keepftpd processes that the signal must end too.
        sessions = [ftplib.FTP(timeout=10), socket.create_connection(("127.0.0.1", port))]
        sessions[0].connect("127.0.0.1", port)
        sessions[0].login()
        assert sessions[1].recv(100).startswith(b"220")
        def all_started():
            tree = process_tree(proc.pid)
            return tree if len(tree) >= 7 else None  # dev, the superserver, 3 + 2 keepftpd
        tree = wait_for(all_started, 10)
        assert tree, process_tree(proc.pid)
        # (not this test's own: the tests may run under the old script too)
        leftovers = account_directories(tree) - account_directories(["self"])
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # as the terminal sends it: to the whole job
        else:
            os.kill(proc.pid, signal.SIGTERM)  # as kill PID sends it: to ./dev alone
        proc.wait(30)
        assert wait_for(lambda: not any(alive(p, s) for p, s in tree.items()), 10), \
            [p for p, s in tree.items() if alive(p, s)]
        assert not listening(port)
        with socket.socket() as s:  # the port is free (its closed connections may linger)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen()
        assert not [d for d in leftovers if os.path.lexists(d)]
        assert not os.path.lexists(demo)
        for s in sessions:
            s.close()
    finally:
        stop(proc)
        for pid, start in tree.items():
            if alive(pid, start) and pid != proc.pid:
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", demo, *leftovers])


def test_ctrl_c_while_the_demo_is_made_removes_it():
    """Ctrl-C as soon as the demo directory appears (it is filled, then its configuration is
    checked, before anything listens): ./dev serve ends through its own handler and leaves no
    part of the demo and no process."""
    parent = tempfile.mkdtemp(prefix="keepftpd-demo-", dir="/tmp")
    demo = os.path.join(parent, "demo")
    port = free_port()
    env = dict(os.environ, KEEPFTPD_DEMO_PORT=str(port), KEEPFTPD_DEMO_DIR=demo)
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([os.path.join(REPO, "dev"), "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=as_a_terminal_job)
    tree = {}
    try:
        deadline = time.time() + 600  # may have to build build-serve/ first
        while time.time() < deadline and proc.poll() is None and not os.path.lexists(demo):
            time.sleep(0.001)
        assert os.path.lexists(demo), "./dev serve made no demo directory"
        tree = process_tree(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # as the terminal sends it: to the whole job
        proc.wait(30)
        log.seek(0)
        output = log.read().decode(errors="replace")
        assert not os.path.lexists(demo), (os.listdir(demo), output)
        assert proc.returncode >= 0, output  # its own handler ended it, not the signal
        assert wait_for(lambda: not any(alive(p, s) for p, s in tree.items()), 10), \
            [p for p, s in tree.items() if alive(p, s)]
        assert not listening(port)
    finally:
        stop(proc)
        for pid, start in tree.items():
            if alive(pid, start) and pid != proc.pid:
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", parent])


def test_sigkill_to_dev_ends_the_superserver_and_frees_the_port():
    """./dev killed outright runs no trap: the superserver, which has it as its parent, must end
    by itself (parent-death signal) rather than hold the port forever."""
    proc, port, demo, log = start_dev_serve()
    tree = {}
    try:
        tree = process_tree(proc.pid)
        assert len(tree) >= 2, tree  # ./dev and the superserver
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert wait_for(lambda: not any(alive(p, s) for p, s in tree.items()), 10), \
            [p for p, s in tree.items() if alive(p, s)]
        assert not listening(port)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen()
    finally:
        stop(proc)
        for pid, start in tree.items():
            if alive(pid, start) and pid != proc.pid:
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", demo])  # no trap ran: the next ./dev serve would remove it
