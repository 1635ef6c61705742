"""anon_max_rate and local_max_rate: a transfer measured against the configured rate, ten seconds
each way (the issue asks for +-5% over 10 s), an ABOR that still works at once, and listings
left unlimited."""

import hashlib
import io
import os
import time

from test_local_users import ALICE, login
from test_uploads import home, writer  # noqa: F401 (a fixture)

RATE = 1_000_000  # bytes per second
SIZE = 10 * RATE  # ten seconds' worth


def test_anon_max_rate_download(make_server, tree):
    data = os.urandom(SIZE)
    with open(tree.path("pub/ten-seconds.bin"), "wb") as f:
        f.write(data)
    s = make_server({"anon_max_rate": str(RATE)})
    ftp = s.ftp()
    out = io.BytesIO()
    start = time.monotonic()
    ftp.retrbinary("RETR pub/ten-seconds.bin", out.write, blocksize=65536)
    took = time.monotonic() - start
    assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(data).digest()
    assert 9.5 <= took <= 10.5, f"{SIZE} bytes at {RATE}/s took {took:.2f} s"
    # Listings are not limited, and the limit is anonymous sessions' only.
    start = time.monotonic()
    ftp.retrlines("LIST pub", lambda line: None)
    assert time.monotonic() - start < 2


def test_local_max_rate_upload(writer, local_users):  # noqa: F811
    s = writer({"local_max_rate": str(RATE), "anon_max_rate": "1000"})
    ftp = login(s, ALICE, local_users)
    data = os.urandom(SIZE)
    start = time.monotonic()
    ftp.storbinary("STOR paced.bin", io.BytesIO(data), blocksize=65536)
    took = time.monotonic() - start
    with open(os.path.join(home(local_users), "paced.bin"), "rb") as f:
        assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()
    assert 9.5 <= took <= 10.5, f"{SIZE} bytes at {RATE}/s took {took:.2f} s"


def test_abor_during_a_paced_download(make_server, tree):
    with open(tree.path("pub/slow.bin"), "wb") as f:
        f.truncate(100 * 1024 * 1024)
    s = make_server({"anon_max_rate": "100000"})  # 100 KB/s: the whole file would take 17 min
    ftp = s.ftp()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR pub/slow.bin")
    conn.recv(1024)
    start = time.monotonic()
    ftp.sock.sendall(b"ABOR\r\n")
    replies = [ftp.getline(), ftp.getline()]
    conn.close()
    assert replies[0].startswith("426") and replies[1].startswith("226"), replies
    assert time.monotonic() - start < 2
    assert ftp.sendcmd("NOOP").startswith("200")
