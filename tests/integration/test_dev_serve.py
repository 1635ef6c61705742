"""`./dev serve`, the README's first command: the demo tree reaches curl and lftp, from the
server alone built as it is installed (build-serve/, no test hooks)."""

import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import REPO, RawClient, free_port


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
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 600  # may have to build build-serve/ first
    while time.time() < deadline and proc.poll() is None and not listening(port):
        time.sleep(0.1)
    if not listening(port):
        stop(proc)
        subprocess.run(["rm", "-rf", demo])
        log.seek(0)
        pytest.fail("./dev serve did not listen: " + log.read().decode(errors="replace"))
    return proc, port, demo, log


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
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
    finally:
        stop(proc)
        subprocess.run(["rm", "-rf", demo])
