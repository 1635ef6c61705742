"""Faults and races: a client that vanishes in the middle of each command and transfer, a read-only
file system, two sessions writing one file, stalled and aborted transfers at every point, REST past
the end of a file, and 500 sessions at once. After each: no stray process, no leftover upload
file, the previous version of a file intact, and the next session served."""

import ftplib
import hashlib
import io
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

from test_ftps import cert, client_context  # noqa: F401 (a fixture)
from test_local_users import ALICE, login
from test_privsep import children, wait_for
from test_uploads import get, home, leftovers, put, small_tmpfs, writer  # noqa: F401


def reset(sock):
    """Close with a TCP reset, as a client that crashed or lost its network does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    os.close(sock.detach())  # at once, even while ftplib's file object still refers to it


def assert_recovered(server, local_users, directory=None, old=None):
    """Every process of the dead connection gone, nothing left behind, the next session works."""
    assert wait_for(lambda: children(server.proc.pid) == [], timeout=10), \
        children(server.proc.pid)
    if directory is not None:
        assert leftovers(directory) == []
    if old is not None:
        path, content = old
        assert open(path, "rb").read() == content
    ftp = login(server, ALICE, local_users)
    assert ftp.sendcmd("NOOP").startswith("200")
    ftp.quit()


# ---- the client disappears in the middle of each command -----------------------------------------

MOVES = ["pass-delay", "list", "retr", "stor", "accept-wait", "tls-handshake", "stor-tls",
         "stor-tls-killed"]


@pytest.mark.parametrize("move", MOVES)
def test_client_vanishes_mid_command(writer, local_users, cert, move):
    opts = {"delay_failed_login": "3"}
    if move in ("tls-handshake", "stor-tls", "stor-tls-killed"):
        opts.update({"ssl_enable": "YES", "force_local_logins_ssl": "NO",
                     "force_local_data_ssl": "NO", "require_ssl_reuse": "NO", **cert})
    s = writer(opts)
    d = home(local_users)
    old = os.path.join(d, "old.bin")
    with open(old, "wb") as f:
        f.write(b"previous version")
    if move == "pass-delay":
        c = s.raw()
        c.reply()
        c.cmd(f"USER {ALICE}")
        c.send("PASS wrong\r\n")  # the monitor is sleeping delay_failed_login
        time.sleep(0.3)
        reset(c.sock)
    elif move == "tls-handshake":
        c = s.raw()
        c.reply()
        assert c.cmd("AUTH TLS")[0] == 234
        c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # the start of a ClientHello
        time.sleep(0.3)
        reset(c.sock)
    elif move in ("stor-tls-killed", "stor-tls"):
        ftp = ftplib.FTP_TLS(context=client_context(), timeout=10)
        ftp.connect(s.host, s.port)
        ftp.login(ALICE, local_users.users[ALICE]["password"])
        ftp.prot_p()
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("STOR old.bin")
        conn.sendall(os.urandom(300000))
    if move == "stor-tls-killed":
        # A killed client: its kernel closes both connections (FIN, no TLS close_notify) at
        # once. The data stream's end is not the file's end.
        conn.close()
        os.close(ftp.sock.detach())
    elif move == "stor-tls":
        # The client dies: both connections are reset, the data one first (with TLS, a data
        # connection that merely closes without close_notify is a complete upload unless
        # strict_ssl_read_eof, as in vsftpd).
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        reset(ftp.sock)
    elif move not in ("pass-delay", "tls-handshake"):
        ftp = login(s, ALICE, local_users)
        ftp.voidcmd("TYPE I")
        if move == "accept-wait":
            ftp.sendcmd("PASV")
            ftp.sock.sendall(b"STOR old.bin\r\n")  # the server waits for the data connection
            time.sleep(0.3)
            reset(ftp.sock)
        else:
            if move == "list":
                for i in range(2000):
                    open(os.path.join(d, f"f{i:05}"), "wb").close()
                conn = ftp.transfercmd("LIST")
                conn.recv(100)
            elif move == "retr":
                with open(os.path.join(d, "big.bin"), "wb") as f:
                    f.truncate(64 << 20)
                conn = ftp.transfercmd("RETR big.bin")
                conn.recv(100)
            elif move == "stor":
                conn = ftp.transfercmd("STOR old.bin")
                conn.sendall(os.urandom(300000))
            reset(ftp.sock)
            reset(conn)
    assert_recovered(s, local_users, d, (old, b"previous version"))


# ---- file systems that refuse writes --------------------------------------------------------------

def test_read_only_file_system(writer, local_users):
    with small_tmpfs(local_users, "ro", "1m", {"old.bin": b"previous version"}) as ro:
        subprocess.run(["mount", "-o", "remount,ro", ro], check=True)
        s = writer()
        ftp = login(s, ALICE, local_users)
        for cmd in ("STOR ro/new.bin", "STOR ro/old.bin", "APPE ro/old.bin", "STOU ro/x"):
            with pytest.raises(ftplib.error_perm, match="^553 .*read-only file system"):
                put(ftp, cmd.split()[1], b"data", cmd=cmd.split()[0])
        for cmd in ("DELE ro/old.bin", "MKD ro/dir"):
            with pytest.raises(ftplib.error_perm, match="^550"):
                ftp.sendcmd(cmd)
        assert ftp.sendcmd("RNFR ro/old.bin").startswith("350")
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.sendcmd("RNTO ro/renamed.bin")
        assert get(ftp, "ro/old.bin") == b"previous version"
        assert ftp.sendcmd("NOOP").startswith("200")
        ftp.quit()
        assert os.listdir(ro) == ["old.bin"]


# ---- two sessions, one file -----------------------------------------------------------------------

@pytest.mark.parametrize("atomic", ["YES", "NO"])
def test_two_sessions_writing_the_same_file(writer, local_users, atomic):
    s = writer({"atomic_uploads": atomic, "lock_upload_files": "YES"})
    d = home(local_users)
    target = os.path.join(d, "shared.bin")
    with open(target, "wb") as f:
        f.write(b"previous version")
    a_data = b"A" * 3_000_000
    b_data = b"B" * 2_000_000
    a = login(s, ALICE, local_users)
    b = login(s, ALICE, local_users)
    a.voidcmd("TYPE I")
    a_conn = a.transfercmd("STOR shared.bin")
    a_conn.sendall(a_data[:1_000_000])
    # B uploads the whole of its file while A is half-way.
    b_result = {}

    def upload_b():
        try:
            b_result["reply"] = put(b, "shared.bin", b_data)
        except Exception as e:  # noqa: BLE001 (reported below)
            b_result["reply"] = repr(e)
    t = threading.Thread(target=upload_b)
    t.start()
    time.sleep(1)
    if atomic == "YES":
        # Each upload has its own temporary file: B finishes first, and the file is B's whole.
        t.join(20)
        assert b_result["reply"].startswith("226")
        assert open(target, "rb").read() == b_data
    else:
        # In place, B waits for A's write lock; it must not truncate A's half-written file.
        assert t.is_alive()
        assert os.path.getsize(target) == 1_000_000
    a_conn.sendall(a_data[1_000_000:])
    a_conn.close()
    assert a.voidresp().startswith("226")
    t.join(20)
    assert b_result["reply"].startswith("226")
    # Whoever finished last wins, and the file is one upload whole, never a mixture.
    final = open(target, "rb").read()
    assert final == (a_data if atomic == "YES" else b_data)
    assert leftovers(d) == []
    a.quit()
    b.quit()


# ---- stalls and aborts at every point of a transfer ------------------------------------------------

def test_stalled_upload_times_out_and_keeps_the_old_file(writer, local_users):
    # As in vsftpd, a data timeout ends the session with 421.
    s = writer({"data_connection_timeout": "2"})
    d = home(local_users)
    old = os.path.join(d, "old.bin")
    with open(old, "wb") as f:
        f.write(b"previous version")
    ftp = login(s, ALICE, local_users)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR old.bin")
    conn.sendall(b"x" * 1000)  # a slow-loris data connection: a little, then nothing
    start = time.monotonic()
    with pytest.raises(ftplib.error_temp, match="^421 Data timeout"):
        ftp.voidresp()
    assert time.monotonic() - start >= 1.5
    conn.close()
    assert_recovered(s, local_users, d, (old, b"previous version"))


ABOR_POINTS = ["no-transfer", "after-pasv", "retr-before-connect", "retr-mid", "retr-done",
               "stor-mid", "list-mid"]


@pytest.mark.parametrize("point", ABOR_POINTS)
def test_abor_at_every_point_of_a_transfer(writer, local_users, point):
    s = writer()
    d = home(local_users)
    old = os.path.join(d, "old.bin")
    with open(old, "wb") as f:
        f.write(b"previous version")
    with open(os.path.join(d, "big.bin"), "wb") as f:
        f.truncate(256 << 20)
    for i in range(3000):
        open(os.path.join(d, f"f{i:05}"), "wb").close()
    c = s.raw()
    c.reply()
    c.cmd(f"USER {ALICE}")
    assert c.cmd(f"PASS {local_users.users[ALICE]['password']}")[0] == 230
    c.cmd("TYPE I")
    conn = None
    if point == "no-transfer":
        replies = [c.cmd("ABOR")[0]]
        assert replies == [225]
    elif point == "after-pasv":
        code, lines = c.cmd("PASV")
        assert code == 227
        replies = [c.cmd("ABOR")[0]]
        assert replies == [225]
    elif point == "retr-before-connect":
        code, lines = c.cmd("PASV")
        c.send("RETR big.bin\r\n")
        time.sleep(0.3)  # the server waits in accept()
        c.send("ABOR\r\n")
        codes = [c.reply()[0]]
        if codes[0] == 150:
            codes.append(c.reply()[0])
        codes.append(c.reply()[0])
        # The transfer never started: it ends with 426 or 425, then ABOR's 226 (or 225).
        assert codes[-2] in (425, 426) and codes[-1] in (225, 226), codes
    else:
        code, lines = c.cmd("PASV")
        nums = lines[0].split("(")[1].split(")")[0].split(",")
        port = int(nums[4]) * 256 + int(nums[5])
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        cmd = {"retr-mid": "RETR big.bin", "retr-done": "RETR old.bin",
               "stor-mid": "STOR old.bin", "list-mid": "LIST"}[point]
        assert c.cmd(cmd)[0] == 150
        if point == "retr-done":
            assert conn.recv(100) == b"previous version"
            assert c.reply()[0] == 226
            assert c.cmd("ABOR")[0] == 225  # nothing left to abort
        else:
            if point == "stor-mid":
                conn.sendall(b"y" * 200000)
            else:
                conn.recv(1000)
            c.send(b"\xff\xf4\xff")
            c.sock.send(b"\xf2", socket.MSG_OOB)
            c.send("ABOR\r\n")
            codes = [c.reply()[0], c.reply()[0]]
            if point == "list-mid" and codes == [226, 225]:
                pass  # the listing was already in the kernel's buffers: nothing to abort
            else:
                assert codes == [426, 226], codes
    if conn is not None:
        conn.close()
    assert c.cmd("NOOP")[0] == 200
    assert c.cmd("SIZE old.bin") == (213, ["213 16"])  # the old version intact
    assert leftovers(d) == []
    c.close()
    assert_recovered(s, local_users, d, (old, b"previous version"))


# ---- REST past the end ------------------------------------------------------------------------------

def test_rest_past_the_end_of_a_file(writer, local_users):
    s = writer()
    d = home(local_users)
    with open(os.path.join(d, "small.bin"), "wb") as f:
        f.write(b"0123456789")
    os.chown(os.path.join(d, "small.bin"), local_users.users[ALICE]["uid"], -1)
    ftp = login(s, ALICE, local_users)
    ftp.voidcmd("TYPE I")
    out = io.BytesIO()
    # RETR from beyond the end sends nothing and succeeds, as vsftpd does.
    assert ftp.retrbinary("RETR small.bin", out.write, rest=1000).startswith("226")
    assert out.getvalue() == b""
    # REST + STOR beyond the end writes there (the gap reads as zeros), as vsftpd does; the
    # bytes before it are kept.
    ftp.storbinary("STOR small.bin", io.BytesIO(b"tail"), rest=20)
    assert open(os.path.join(d, "small.bin"), "rb").read() == b"0123456789" + b"\0" * 10 + b"tail"
    with pytest.raises(ftplib.error_perm, match="^501"):
        ftp.sendcmd("REST 99999999999999999999999")
    assert ftp.sendcmd("NOOP").startswith("200")


# ---- many sessions at once ---------------------------------------------------------------------------

def test_five_hundred_concurrent_sessions(make_server):
    """500 logged-in sessions held open at once through systemd-socket-activate, on 2 cores."""
    s = make_server()
    count = 500
    conns = []
    try:
        for _ in range(count):
            sock = socket.create_connection((s.host, s.port), timeout=120)
            conns.append([sock, b""])

        def reply(entry):
            sock, buf = entry
            while b"\r\n" not in buf:
                chunk = sock.recv(4096)
                assert chunk, "connection closed"
                buf += chunk
            line, buf = buf.split(b"\r\n", 1)
            entry[1] = buf
            return line

        for step, expect in ((None, b"220"), (b"USER anonymous\r\n", b"331"),
                             (b"PASS guest@example.org\r\n", b"230"), (b"NOOP\r\n", b"200")):
            if step:
                for sock, _ in conns:
                    sock.sendall(step)
            for entry in conns:
                line = reply(entry)
                while line[3:4] == b"-":  # a multi-line reply
                    line = reply(entry)
                assert line.startswith(expect), line
        # All 500 are live at the same time: each answers again.
        for sock, _ in conns:
            sock.sendall(b"PWD\r\n")
        for entry in conns:
            assert reply(entry).startswith(b"257")
        for sock, _ in conns:
            sock.sendall(b"QUIT\r\n")
        for entry in conns:
            assert reply(entry).startswith(b"221")
    finally:
        for sock, _ in conns:
            sock.close()
    assert wait_for(lambda: children(s.proc.pid) == [], timeout=60)
    out = s.output()
    assert out.count("session end") == count, out[-2000:]
    assert "seccomp violation" not in out and "OOPS" not in out
