"""The seccomp allowlists proven against the libc that runs here: one session per kind of setup
runs every command the server has, both ways of opening data connections, TLS, uploads and a
PAM login, under the filters, and nothing may trip them. (A call the policy misses, like the
newfstatat that broke vsftpd's sandbox on Debian 12, ends the session with a logged violation.)"""

import ftplib
import io
import os
import socket

import pytest

from conftest import uid_of
from test_ftps import cert, client_context  # noqa: F401 (a fixture)
from test_local_users import ALICE


def data_port_listener():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)
    return srv


def every_command(ftp, writable, directory="."):
    """Runs the server's whole command set on an open, logged-in ftplib session."""
    ok = []

    def cmd(text):
        ok.append(ftp.sendcmd(text))

    for text in ("FEAT", "SYST", "HELP", "STAT", "NOOP", "PWD", "MODE S", "STRU F", "TYPE A",
                 "TYPE I", "OPTS UTF8 ON", "OPTS MLST type;size;modify;perm;unique;",
                 "ALLO 100"):
        cmd(text)
    cmd(f"CWD {directory}")
    here = ftp.pwd()
    out = io.BytesIO()
    name = "cover.bin"
    if writable:
        ftp.storbinary(f"STOR {name}", io.BytesIO(b"line one\nline two\n" * 1000))
        ftp.storbinary(f"APPE {name}", io.BytesIO(b"appended\n"))
        # Past an upload's writeback step (8 MiB, sync_file_range), by STOR and by APPE.
        big = os.urandom(9 << 20)
        ftp.storbinary("STOR big.bin", io.BytesIO(big))
        ftp.storbinary("APPE big.bin", io.BytesIO(big))
        assert ftp.size("big.bin") == 2 * len(big)
        cmd("DELE big.bin")
        ftp.storbinary(f"STOR {name}", io.BytesIO(b"resumed\n"), rest=10)
        ftp.storlines(f"STOR text.txt", io.BytesIO(b"ascii\nupload\n"))
        ftp.sendcmd("TYPE I")
        ok.append(ftp.storbinary("STOU", io.BytesIO(b"unique")))
        cmd("MKD newdir")
        cmd("CWD newdir")
        cmd("CDUP")
        cmd("RMD newdir")
        cmd(f"RNFR text.txt")
        cmd(f"RNTO renamed.txt")
        cmd(f"MFMT 20200101000000 {name}")
        cmd(f"MDTM 20200101000001 {name}")
        cmd("SITE UMASK 022")
        cmd("SITE HELP")
    else:
        name = "hello.txt"
    cmd(f"SIZE {name}")
    cmd(f"MDTM {name}")
    cmd(f"MLST {name}")
    cmd(f"STAT {name}")
    cmd("STAT .")
    for algo in ("SHA-256", "SHA-512", "SHA-1", "MD5", "CRC32"):
        cmd(f"OPTS HASH {algo}")
        cmd(f"HASH {name}")
    ftp.retrbinary(f"RETR {name}", out.write)
    ftp.retrbinary(f"RETR {name}", out.write, rest=3)
    ftp.retrlines(f"RETR {name}", lambda line: None)  # TYPE A
    for listing in ("LIST", "LIST -la", "NLST", "NLST *.txt", "MLSD"):
        ftp.retrlines(listing, lambda line: None)
    # EPSV and PASV (ftplib uses EPSV only on IPv6), then PORT and EPRT.
    ftp.sendcmd("EPSV")  # its port is left unused: the next command opens another
    ftp.set_pasv(False)
    ftp.retrlines("LIST", lambda line: None)  # PORT
    ftp.set_pasv(True)
    srv = data_port_listener()
    port = srv.getsockname()[1]
    cmd(f"EPRT |1|127.0.0.1|{port}|")
    ftp.sock.sendall(b"NLST\r\n")
    conn, _ = srv.accept()
    if isinstance(ftp, ftplib.FTP_TLS):
        conn = client_context().wrap_socket(conn)  # PROT P
    while conn.recv(65536):
        pass
    conn.close()
    srv.close()
    ok.append(ftp.getresp())  # 150
    ok.append(ftp.getresp())  # 226
    # ABOR with nothing to abort, and in the middle of a download.
    ok.append(ftp.sendcmd("ABOR"))
    conn = ftp.transfercmd(f"RETR {name}")
    ftp.sock.sendall(b"ABOR\r\n")
    conn.close()
    # 426 and 226 when the transfer was cut short, or 226 and 225 when it had ended.
    ok.append(ftp.getmultiline())
    ok.append(ftp.getmultiline())
    if writable:
        cmd("DELE renamed.txt")
        cmd(f"SITE CHMOD 600 {name}")
        cmd(f"DELE {name}")
    assert ftp.pwd() == here
    return ok


SETUPS = {
    "anonymous": ({"anon_upload_enable": "NO", "dirmessage_enable": "YES", "hide_ids": "YES",
                   "ascii_download_enable": "YES", "log_ftp_protocol": "YES",
                   "xferlog_enable": "YES", "setproctitle_enable": "YES"}, False),
    "local-tls": ({"local_enable": "YES", "write_enable": "YES", "chroot_local_user": "YES",
                   "allow_writeable_chroot": "YES", "text_userdb_names": "YES",
                   "use_localtime": "YES", "ssl_enable": "YES", "require_ssl_reuse": "NO",
                   "ascii_upload_enable": "YES", "ascii_download_enable": "YES",
                   # Every login needs TLS: the TLS jail is prepared while the client is greeted.
                   "anonymous_enable": "NO"}, True),
    "local-in-place": ({"local_enable": "YES", "write_enable": "YES", "atomic_uploads": "NO",
                        "use_sendfile": "NO", "tilde_user_enable": "YES",
                        "lock_upload_files": "YES", "delete_failed_uploads": "YES",
                        "xferlog_enable": "YES", "xferlog_std_format": "YES"}, True),
}


@pytest.mark.parametrize("setup", list(SETUPS))
def test_every_command_under_the_seccomp_filters(make_server, local_users, tree, cert, setup):
    options, local = SETUPS[setup]
    options = dict(options)
    if options.get("xferlog_enable") == "YES":
        options["xferlog_file"] = os.path.join(tree.base, "xferlog")
    if options.get("ssl_enable") == "YES":
        options.update(cert)
    relogin = setup in ("anonymous", "local-in-place")
    if relogin:  # REIN after login needs them off (test_protocol.py)
        options.update({"isolate": "NO", "isolate_network": "NO"})
    s = make_server(options)
    if setup == "local-tls":
        ftp = ftplib.FTP_TLS(context=client_context(), timeout=10)
        ftp.connect(s.host, s.port)
        ftp.login(ALICE, local_users.users[ALICE]["password"])
        ftp.prot_p()
    elif local:
        ftp = s.ftp(login=False)
        ftp.login(ALICE, local_users.users[ALICE]["password"])
    else:
        ftp = s.ftp()
    every_command(ftp, writable=local, directory="." if local else "pub")
    # REIN, and a second login on the same connection; with isolation, REIN's refusal.
    if not relogin:
        with pytest.raises(ftplib.error_perm, match="^502"):
            ftp.sendcmd("REIN")
    else:
        ftp.sendcmd("REIN")
    if setup == "anonymous":
        ftp.login()
    elif setup == "local-in-place":
        ftp.login(ALICE, local_users.users[ALICE]["password"])
    ftp.quit()
    out = s.output()
    assert "seccomp violation" not in out, out
    assert "OOPS" not in out


def test_the_session_monitors_work_under_its_filter(make_server, tree, cert):
    """What only the session's monitor does, each under its own filter: CHOWN_UPLOAD (fstat,
    statx, fchmod, fchown with CAP_CHOWN), active connections from port 1020
    (connect_from_port_20, CAP_NET_BIND_SERVICE), the transfer logs in both formats,
    pasv_address looked up before it confined itself, PASV, EPSV and PORT, data connections
    handed to the TLS jail, and its jail ended and reaped. (syslog_enable: test_service.py,
    with a syslog socket to write to.)"""
    options = {"write_enable": "YES", "anon_upload_enable": "YES", "chown_uploads": "YES",
               "chown_username": "kftp-nopriv", "connect_from_port_20": "YES",
               "ftp_data_port": "1020", "xferlog_enable": "YES", "dual_log_enable": "YES",
               "xferlog_file": os.path.join(tree.base, "xferlog"),
               "vsftpd_log_file": os.path.join(tree.base, "vsftpd.log"),
               "pasv_addr_resolve": "YES", "pasv_address": "localhost",
               "ssl_enable": "YES", "allow_anon_ssl": "YES", "require_ssl_reuse": "NO"}
    options.update(cert)
    s = make_server(options)
    for tls in (False, True):
        if tls:
            ftp = ftplib.FTP_TLS(context=client_context(), timeout=10)
            ftp.connect(s.host, s.port)
            ftp.login()
            ftp.prot_p()
        else:
            ftp = s.ftp()
        name = f"pub/incoming/monitor-{int(tls)}.bin"
        ftp.storbinary(f"STOR {name}", io.BytesIO(b"given away\n"))  # CHOWN_UPLOAD
        assert ftp.sendcmd("PASV").startswith("227")
        ftp.retrlines("LIST pub", lambda line: None)  # EPSV or PASV
        ftp.set_pasv(False)
        ftp.retrlines("NLST pub", lambda line: None)  # PORT, from port 1020
        ftp.retrbinary("RETR pub/hello.txt", lambda data: None)
        ftp.set_pasv(True)
        ftp.quit()
        assert os.stat(tree.path(name)).st_uid == uid_of("kftp-nopriv")
    out = s.output()
    assert "seccomp violation" not in out, out
    assert "OOPS" not in out
    assert "pasv_addr_resolve" not in out
    with open(os.path.join(tree.base, "xferlog")) as f:
        assert f.read().count(" ftp 0 * c\n") == 4
