"""IPv6 end to end: keepftpd under systemd-socket-activate on [::1], with ftplib over IPv6
(EPSV and EPRT), uploads and listings, STAT and the logs showing the IPv6 client, and a PROXY
header carrying an IPv6 client."""

import ftplib
import io
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import KEEPFTPD, RawClient

from test_proxy_protocol import PROXY


def free_port6():
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


class Server6:
    def __init__(self, tree, options=None):
        settings = {"anonymous_enable": "YES", "anon_root": tree.anon,
                    "nopriv_user": "kftp-nopriv", "secure_chroot_dir": tree.empty,
                    "login_state_dir": os.path.join(tree.base, "state")}
        settings.update(options or {})
        self.config = os.path.join(tree.base, "keepftpd6.conf")
        with open(self.config, "w") as f:
            f.write("".join(f"{k}={v}\n" for k, v in settings.items()))
        self.port = free_port6()
        self.log_path = os.path.join(tree.base, "activate6.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["systemd-socket-activate", "-l", f"[::1]:{self.port}", "-a", "--inetd", KEEPFTPD,
             "--config", self.config], stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            with open("/proc/net/tcp6") as f:
                if any(f":{self.port:04X} " in line and line.split()[3] == "0A" for line in f):
                    return
            time.sleep(0.02)
        raise RuntimeError("no listener on [::1]")

    def output(self):
        if not self.log.closed:
            self.log.flush()
        return open(self.log_path, "rb").read().decode(errors="replace")

    def ftp(self):
        c = ftplib.FTP(timeout=10)
        c.connect("::1", self.port)
        return c

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(10)
        self.log.close()


@pytest.fixture
def server6(tree):
    servers = []

    def make(options=None):
        s = Server6(tree, options)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.stop()
        print(s.output())


def test_ipv6_session_with_epsv_and_eprt(server6, tree):
    s = server6({"write_enable": "YES", "anon_upload_enable": "YES"})
    ftp = s.ftp()
    ftp.login()
    # ftplib on an IPv6 connection uses EPSV, and EPRT when active.
    out = io.BytesIO()
    ftp.retrbinary("RETR pub/hello.txt", out.write)
    assert out.getvalue() == b"Hello from keepftpd.\n"
    ftp.set_pasv(False)
    out = io.BytesIO()
    ftp.retrbinary("RETR pub/hello.txt", out.write)
    assert out.getvalue() == b"Hello from keepftpd.\n"
    ftp.set_pasv(True)
    ftp.storbinary("STOR pub/incoming/v6.bin", io.BytesIO(b"over IPv6"))
    names = []
    ftp.retrlines("LIST pub/incoming", names.append)
    assert any(n.endswith(" v6.bin") for n in names)
    stat = ftp.sendcmd("STAT")
    assert "Connected to ::1" in stat
    # PASV and PORT are IPv4's; an IPv4 EPRT target is not the client.
    with pytest.raises(ftplib.error_perm, match="^522"):
        ftp.sendcmd("PASV")
    with pytest.raises(ftplib.error_perm):
        ftp.sendcmd("EPRT |1|127.0.0.1|5000|")
    ftp.quit()
    with open(tree.path("pub/incoming/v6.bin"), "rb") as f:
        assert f.read() == b"over IPv6"
    assert re.search(r"\] ::1:\d+ monitor: anonymous login", s.output()), s.output()


def test_proxy_header_with_an_ipv6_client(make_server):
    s = make_server(PROXY)
    c = RawClient(s.host, s.port)
    c.send(b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 21\r\n")
    c.login()
    code, lines = c.cmd("STAT")
    assert any("Connected to 2001:db8::7" in l for l in lines), lines
    assert "PROXY header: client 2001:db8::7 port 40000" in s.output()
