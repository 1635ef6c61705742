"""How keepftpd is started: options, and refusing to run on anything but a connected socket."""

import os
import socket
import subprocess

from conftest import KEEPFTPD


def run(args, **kw):
    return subprocess.run([KEEPFTPD] + args, capture_output=True, timeout=20, **kw)


def test_version_and_help():
    r = run(["--version"])
    assert r.returncode == 0 and r.stdout.startswith(b"keepftpd ")
    r = run(["--help"])
    assert r.returncode == 0
    for opt in (b"--config", b"--check-config", b"--version", b"--help"):
        assert opt in r.stdout


def test_unknown_option_is_a_usage_error():
    r = run(["--bogus"])
    assert r.returncode == 2 and b"--bogus" in r.stderr


def test_refuses_a_pipe():
    r = run(["--config", "/nonexistent"], stdin=subprocess.PIPE)
    assert r.returncode == 2
    assert b"socket" in r.stderr


def test_refuses_a_file():
    with open("/dev/null") as f:
        r = run([], stdin=f)
    assert r.returncode == 2 and b"socket" in r.stderr


def test_refuses_a_listening_socket():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    r = run([], stdin=s.fileno())
    s.close()
    assert r.returncode == 2 and b"listening" in r.stderr


def test_refuses_a_terminal():
    import pty
    master, slave = pty.openpty()
    r = run([], stdin=slave)
    os.close(master)
    os.close(slave)
    assert r.returncode == 2 and b"socket" in r.stderr
