"""Each implemented option changes what a client sees."""

import ftplib
import io
import os
import re
import socket
import subprocess
import time

import pytest

from test_privsep import children, wait_for


def retr(ftp, path):
    out = io.BytesIO()
    ftp.retrbinary("RETR " + path, out.write)
    return out.getvalue()


def listing(ftp, cmd="LIST pub"):
    lines = []
    ftp.retrlines(cmd, lines.append)
    return lines


def test_ftpd_banner(make_server):
    s = make_server({"ftpd_banner": "Welcome to the test server."})
    assert s.ftp(login=False).getwelcome() == "220 Welcome to the test server."


def test_banner_file(make_server, tree):
    path = os.path.join(tree.base, "banner.txt")
    with open(path, "w") as f:
        f.write("Line one.\nLine two.\n")
    s = make_server({"banner_file": path, "ftpd_banner": "not this"})
    c = s.raw()
    assert c.reply() == (220, ["220-Line one.", "220 Line two."])


def test_anonymous_disabled(make_server):
    s = make_server({"anonymous_enable": "NO"})
    c = s.raw()
    c.reply()
    assert c.cmd("USER anonymous")[0] == 530


def test_no_anon_password(make_server):
    s = make_server({"no_anon_password": "YES"})
    c = s.raw()
    c.reply()
    assert c.cmd("USER anonymous")[0] == 230
    assert c.cmd("PWD")[0] == 257


def test_download_and_dirlist_disabled(make_server):
    s = make_server({"download_enable": "NO", "dirlist_enable": "NO"})
    ftp = s.ftp()
    with pytest.raises(ftplib.error_perm, match="^550"):
        retr(ftp, "pub/hello.txt")
    with pytest.raises(ftplib.error_perm, match="^550"):
        listing(ftp)
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.nlst()


def test_pasv_and_port_disabled(make_server):
    s = make_server({"pasv_enable": "NO", "port_enable": "NO"})
    c = s.raw().login()
    assert c.cmd("PASV")[0] == 550
    assert c.cmd("EPSV")[0] == 550
    assert c.cmd("PORT 127,0,0,1,100,100")[0] == 550
    assert c.cmd("EPRT |1|127.0.0.1|25700|")[0] == 550


def test_pasv_port_range(make_server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        low = probe.getsockname()[1]
    s = make_server({"pasv_min_port": str(low), "pasv_max_port": str(low + 2)})
    ftp = s.ftp()
    for _ in range(4):
        reply = ftp.sendcmd("PASV")
        nums = [int(n) for n in re.search(r"\(([\d,]+)\)", reply).group(1).split(",")]
        assert low <= nums[4] * 256 + nums[5] <= low + 2
        ftp.sendcmd("ABOR")  # forget the listener
    assert retr(ftp, "pub/hello.txt") == b"Hello from keepftpd.\n"


def test_a_passive_port_range_of_one_port_serves_one_transfer_after_another(make_server):
    # The port of a finished download lingers in TIME_WAIT for a minute; the next PASV may
    # still listen on it.
    s = make_server({"pasv_min_port": "41234", "pasv_max_port": "41234"})
    ftp = s.ftp()
    for _ in range(3):
        assert ftp.sendcmd("PASV").endswith(",161,18).")  # 41234 = 161 * 256 + 18
        ftp.sendcmd("ABOR")  # forget the listener
        assert retr(ftp, "pub/hello.txt") == b"Hello from keepftpd.\n"
    # Two sessions never share the port: the second waits for the first's listener to close.
    other = s.ftp()
    ftp.sendcmd("PASV")
    with pytest.raises(ftplib.error_temp, match="^425 Could not open a passive port"):
        other.sendcmd("PASV")


def test_pasv_address(make_server):
    s = make_server({"pasv_address": "192.0.2.7"})
    ftp = s.ftp()
    assert "(192,0,2,7," in ftp.sendcmd("PASV")


def test_pasv_address_map(make_server):
    # 127.0.0.2 stands for the LAN: it is told an address it can reach (the server's own,
    # 127.0.0.1); any other client gets pasv_address, the "public" one.
    s = make_server({"pasv_address": "192.0.2.7",
                     "pasv_address_map": "10.0.0.0/8=10.0.0.5, 127.0.0.2/32=127.0.0.1"})
    lan = ftplib.FTP(timeout=10, source_address=("127.0.0.2", 0))
    lan.trust_server_pasv_ipv4_address = True  # connect where PASV says, not where ftplib likes
    lan.connect(s.host, s.port)
    lan.login()
    assert "(127,0,0,1," in lan.sendcmd("PASV")
    assert retr(lan, "pub/hello.txt") == b"Hello from keepftpd.\n"
    assert "(192,0,2,7," in s.ftp().sendcmd("PASV")
    assert s.ftp().sendcmd("EPSV").startswith("229 ")
    # Without pasv_address, the others get the control connection's local address.
    s = make_server({"pasv_address_map": "127.0.0.2=192.0.2.9"})
    assert "(192,0,2,9," in s.raw(source="127.0.0.2").login().cmd("PASV")[1][0]
    assert "(127,0,0,1," in s.ftp().sendcmd("PASV")


def test_hide_ids(make_server):
    s = make_server({"hide_ids": "YES"})
    for line in listing(s.ftp()):
        assert line.split()[2:4] == ["ftp", "ftp"], line


def test_force_dot_files(make_server):
    s = make_server({"force_dot_files": "YES"})
    names = [l.split()[-1] for l in listing(s.ftp())]
    assert ".hidden" in names and "." not in names


def test_hide_file(make_server):
    s = make_server({"hide_file": "{*.key,sub}"})
    ftp = s.ftp()
    names = [l.split()[-1] for l in listing(ftp)]
    assert "secret.key" not in names and "sub" not in names and "hello.txt" in names
    assert retr(ftp, "pub/secret.key") == b"not for download\n"  # hidden, not denied


def test_deny_file(make_server):
    s = make_server({"deny_file": "{*.key,sub}"})
    ftp = s.ftp()
    with pytest.raises(ftplib.error_perm, match="^550"):
        retr(ftp, "pub/secret.key")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.cwd("pub/sub")
    with pytest.raises(ftplib.error_perm, match="^550"):
        retr(ftp, "pub/sub/deep.txt")
    assert retr(ftp, "pub/hello.txt") == b"Hello from keepftpd.\n"


def test_download_file_and_upload_file(make_server, tree):
    s = make_server({"download_file": "{*.txt,sub}", "upload_file": "*.txt", "deny_file": "lines.*",
                     "write_enable": "YES", "anon_upload_enable": "YES"})
    ftp = s.ftp()
    assert retr(ftp, "pub/hello.txt") == b"Hello from keepftpd.\n"
    assert retr(ftp, "pub/sub/deep.txt") == b"deep\n"
    for name in ("pub/random.bin", "pub/lines.txt"):  # not matching; matching but denied
        with pytest.raises(ftplib.error_perm, match="^550"):
            retr(ftp, name)
    assert "random.bin" in [l.split()[-1] for l in listing(ftp)]  # still listed
    ftp.storbinary("STOR pub/incoming/notes.txt", io.BytesIO(b"ok"))
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.storbinary("STOR pub/incoming/tool.exe", io.BytesIO(b"no"))
    assert sorted(os.listdir(tree.path("pub/incoming"))) == ["notes.txt"]


def test_ls_recurse_enable(make_server, tree):
    os.makedirs(tree.path("pub/sub/deeper"))
    with open(tree.path("pub/sub/deeper/bottom.txt"), "wb") as f:
        f.write(b"x")
    os.symlink("/", tree.path("pub/sub/loop"))  # never followed
    s = make_server({"ls_recurse_enable": "YES", "deny_file": "incoming"})
    ftp = s.ftp()
    lines = listing(ftp, "LIST -R pub")
    headers = [l for l in lines if l.endswith(":")]
    # Depth first in name order; the denied directory is not entered, the link not followed.
    assert headers == ["pub:", "pub/sub:", "pub/sub/deeper:"], headers
    assert any(l.endswith(" bottom.txt") for l in lines)
    assert any(" loop -> /" in l for l in lines)
    names = []
    ftp.retrlines("NLST -R pub", names.append)
    assert names[:1] == ["pub:"] and "bottom.txt" in names and "pub/sub/deeper:" in names
    # Without the option, -R is ignored: one directory only.
    plain = make_server()
    assert [l for l in listing(plain.ftp(), "LIST -R pub") if l.endswith(":")] == []


def active_transfers_come_from(server, count=2):
    """The local ports the server's active data connections came from."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(10)
    port = listener.getsockname()[1]
    c = server.raw().login()
    sources = []
    for _ in range(count):  # the second while the first is in TIME_WAIT
        assert c.cmd(f"PORT 127,0,0,1,{port // 256},{port % 256}")[0] == 200
        c.send("RETR pub/hello.txt\r\n")
        d, peer = listener.accept()
        sources.append(peer[1])
        assert c.reply()[0] == 150
        while d.recv(4096):
            pass
        d.close()
        assert c.reply()[0] == 226
    listener.close()
    return c, sources


def test_connect_from_port_20(make_server):
    from test_privsep import process_chain, status
    s = make_server({"connect_from_port_20": "YES"})
    c, sources = active_transfers_come_from(s)
    assert sources == [20, 20]
    # The session's monitor keeps CAP_NET_BIND_SERVICE (10) for it, and nothing else.
    keeper, session_monitor, session = process_chain(s, 3)
    st = status(session_monitor)
    assert int(st["CapEff"], 16) == 1 << 10 and int(st["CapPrm"], 16) == 1 << 10
    assert int(st["CapBnd"], 16) == 0 and int(status(session)["CapEff"], 16) == 0
    # Another port above 1024 needs no capability at all.
    s = make_server({"connect_from_port_20": "YES", "ftp_data_port": "2020"})
    c, sources = active_transfers_come_from(s)
    assert sources == [2020, 2020]
    assert int(status(process_chain(s, 3)[1])["CapEff"], 16) == 0


def test_pasv_addr_resolve(make_server, tree):
    # A name only this test's /etc/hosts knows (./dev test runs in a private mount namespace).
    hosts = os.path.join(tree.base, "hosts")
    with open("/etc/hosts") as f:
        original = f.read()
    with open(hosts, "w") as f:
        f.write(original + "\n192.0.2.77 kftp-pasv.test\n")
    subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
    try:
        s = make_server({"pasv_addr_resolve": "YES", "pasv_address": "kftp-pasv.test"})
        c = s.raw().login()
        code, lines = c.cmd("PASV")
        assert code == 227 and "(192,0,2,77," in lines[0], lines
        assert c.cmd("EPSV")[0] == 229
        # (Its session ends before the next server starts: the two share the log file, and a
        # late "session end" record would overwrite the next one's.)
        assert c.cmd("QUIT")[0] == 221
        assert c.closed()
        # A name that does not resolve: PASV says so, EPSV still works.
        s = make_server({"pasv_addr_resolve": "YES", "pasv_address": "no-such-host.invalid"})
        c = s.raw().login()
        assert c.cmd("PASV")[0] == 425
        assert c.cmd("EPSV")[0] == 229
        assert "could not look up pasv_address=no-such-host.invalid" in s.output()
    finally:
        subprocess.run(["umount", "/etc/hosts"], check=True)


def test_cmds_allowed_and_denied(make_server):
    s = make_server({"cmds_allowed": "USER,PASS,QUIT,PWD,CWD,PASV,RETR,TYPE",
                     "cmds_denied": "CWD"})
    c = s.raw().login()
    assert c.cmd("PWD")[0] == 257
    assert c.cmd("CWD pub")[0] == 550
    assert c.cmd("SYST")[0] == 550
    assert c.cmd("LIST")[0] == 550


def test_dirmessage(make_server):
    s = make_server({"dirmessage_enable": "YES"})
    c = s.raw().login()
    assert c.cmd("CWD pub/sub") == (250, ["250-Welcome to sub.", "250-Second line.",
                                          "250 Directory successfully changed."])
    assert c.cmd("CWD /pub") == (250, ["250 Directory successfully changed."])


def test_message_file_name(make_server, tree):
    with open(tree.path("pub/WELCOME"), "w") as f:
        f.write("Custom message.\n")
    s = make_server({"dirmessage_enable": "YES", "message_file": "WELCOME"})
    c = s.raw().login()
    assert c.cmd("CWD pub")[1][0] == "250-Custom message."


def list_time_of(server, name):
    for line in listing(server.ftp()):
        if line.endswith(" " + name):
            return line.split()[7]
    raise AssertionError(name + " not listed")


def test_use_localtime_changes_list_dates(make_server, tree):
    # A file changed 2 days ago at 12:00 UTC: LIST shows HH:MM, in UTC unless use_localtime.
    t = (int(time.time()) // 86400 - 2) * 86400 + 12 * 3600
    os.utime(tree.path("pub/lines.txt"), (t, t))
    utc = make_server(env={"TZ": "EST5"})
    assert list_time_of(utc, "lines.txt") == "12:00"
    local = make_server({"use_localtime": "YES"}, env={"TZ": "EST5"})
    assert list_time_of(local, "lines.txt") == "07:00"


def test_pasv_promiscuous_accepts_another_address(make_server):
    s = make_server({"pasv_promiscuous": "YES"})
    c = s.raw().login()
    assert c.cmd("TYPE I")[0] == 200
    code, lines = c.cmd("PASV")
    nums = [int(n) for n in re.search(r"\(([\d,]+)\)", lines[0]).group(1).split(",")]
    other = socket.socket()
    other.bind(("127.0.0.2", 0))
    other.settimeout(10)
    other.connect(("127.0.0.1", nums[4] * 256 + nums[5]))
    assert c.cmd("RETR pub/hello.txt")[0] == 150
    data = b""
    while True:
        chunk = other.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data == b"Hello from keepftpd.\n"
    assert c.reply()[0] == 226


def test_log_ftp_protocol(make_server):
    s = make_server({"log_ftp_protocol": "YES"})
    c = s.raw()
    c.reply()
    c.cmd("USER anonymous")
    c.cmd("PASS very-secret-password")
    c.cmd("PWD")
    c.cmd("QUIT")
    c.closed()
    # The records come through the monitor, which may still be writing them as the client sees
    # the end: read them once every process of the connection is gone.
    assert wait_for(lambda: children(s.proc.pid) == [])
    out = s.output()
    assert "FTP response: 220 " in out
    assert "FTP command: USER anonymous" in out
    assert "FTP command: PASS" in out and "very-secret-password" not in out
    assert "FTP response: 230 Login successful." in out
    assert 'FTP response: 257 "/" is the current directory' in out
    quiet = make_server()
    q = quiet.raw()
    q.reply()
    q.cmd("NOOP")
    assert "FTP command" not in quiet.output()
