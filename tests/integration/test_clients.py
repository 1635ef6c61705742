"""Real FTP clients against keepftpd: curl, wget, lftp and rclone."""

import hashlib
import os
import subprocess

from conftest import sha256_file


def run(cmd, timeout=60):
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


def test_curl_lists_and_downloads(server, tree):
    base = f"ftp://{server.host}:{server.port}"
    r = run(["curl", "-sS", base + "/pub/"])
    assert r.returncode == 0, r.stderr
    assert b"hello.txt" in r.stdout and b"random.bin" in r.stdout
    r = run(["curl", "-sS", base + "/pub/random.bin"])
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == sha256_file(tree.path("pub/random.bin"))
    r = run(["curl", "-sS", "--ftp-port", "-", base + "/pub/hello.txt"])  # active mode
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Hello from keepftpd.\n"
    r = run(["curl", "-sS", "-r", "6-", base + "/pub/hello.txt"])  # REST
    assert r.stdout == b"from keepftpd.\n"
    r = run(["curl", "-sS", "-l", base + "/pub/"])  # NLST
    assert b"hello.txt" in r.stdout.splitlines()


def test_curl_reports_missing_file(server_inetd):
    r = run(["curl", "-sS", f"ftp://{server_inetd.host}:{server_inetd.port}/pub/nope"])
    assert r.returncode == 78  # RETR response: 550


def test_wget_downloads(server_inetd, tree, tmp_path):
    out = tmp_path / "random.bin"
    r = run(["wget", "-q", "-O", str(out),
             f"ftp://{server_inetd.host}:{server_inetd.port}/pub/random.bin"])
    assert r.returncode == 0, r.stderr
    assert sha256_file(out) == sha256_file(tree.path("pub/random.bin"))


def test_lftp_mirror_and_cat(server, tree, tmp_path):
    script = (f"set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; "
              f"open -p {server.port} {server.host}; "
              f"cat pub/hello.txt; cls -1 pub; mirror pub {tmp_path}/mirror; bye")
    r = run(["lftp", "-c", script])
    assert r.returncode == 0, r.stderr
    assert b"Hello from keepftpd.\n" in r.stdout
    assert b"random.bin" in r.stdout
    assert sha256_file(tmp_path / "mirror" / "random.bin") == sha256_file(
        tree.path("pub/random.bin"))
    assert (tmp_path / "mirror" / "sub" / "deep.txt").read_bytes() == b"deep\n"


def test_rclone_lists_and_copies(server, tree, tmp_path):
    env = dict(os.environ, RCLONE_CONFIG="/dev/null")
    password = subprocess.run(["rclone", "obscure", "guest@example.org"], capture_output=True,
                              env=env, check=True).stdout.decode().strip()
    remote = f":ftp,host={server.host},port={server.port},user=anonymous,pass={password}:"
    r = subprocess.run(["rclone", "lsl", remote + "pub"], capture_output=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert any(l.split()[0] == "21" and l.endswith(" hello.txt") and "2020-01-01 12:00:00" in l
               for l in lines), lines  # MLSD sizes and exact times
    assert any(l.endswith(" sub/deep.txt") for l in lines), lines
    r = subprocess.run(["rclone", "copy", remote + "pub", str(tmp_path / "copy"),
                        "--exclude", "big.sparse"], capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert sha256_file(tmp_path / "copy" / "random.bin") == sha256_file(
        tree.path("pub/random.bin"))
