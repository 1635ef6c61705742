"""`./dev serve`, the README's first command: the demo tree reaches curl and lftp."""

import os
import signal
import subprocess
import tempfile
import time

from conftest import REPO, free_port


def test_dev_serve_serves_the_demo_to_curl_and_lftp():
    port = free_port()
    demo = tempfile.mkdtemp(prefix="keepftpd-demo-", dir="/tmp")
    env = dict(os.environ, KEEPFTPD_DEMO_PORT=str(port), KEEPFTPD_DEMO_DIR=demo)
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([os.path.join(REPO, "dev"), "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 300  # may have to build first
        listening = False
        while time.time() < deadline and proc.poll() is None:
            with open("/proc/net/tcp") as f:
                if any(f":{port:04X} 00000000:0000 0A" in line for line in f):
                    listening = True
                    break
            time.sleep(0.1)
        log.seek(0)
        output = log.read().decode(errors="replace")
        assert listening, output
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
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        subprocess.run(["rm", "-rf", demo])
