"""FTPS (RFC 4217) with real clients: curl, lftp (GnuTLS), Python's FTP_TLS and openssl
s_client; explicit and implicit TLS, session reuse, forced TLS, and the TLS jail's privileges."""

import ftplib
import hashlib
import io
import os
import re
import socket
import ssl
import subprocess

import pytest

from conftest import RANDOM_SIZE, sha256_file
from test_privsep import (assert_jailed, assert_session_monitor_confined, children, process_chain,
                          status, wait_for, uid_of)
from test_local_users import ALICE


@pytest.fixture
def cert(tree):
    key = os.path.join(tree.base, "key.pem")
    crt = os.path.join(tree.base, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", crt, "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return {"rsa_cert_file": crt, "rsa_private_key_file": key}


@pytest.fixture
def tls_server(make_server, cert):
    def make(options=None, **kw):
        settings = {"ssl_enable": "YES", "allow_anon_ssl": "YES"}
        settings.update(cert)
        settings.update(options or {})
        return make_server(settings, **kw)
    return make


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def run(cmd, timeout=60):
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


def lftp(server, script, user=None):
    login = f"open -u {user} -p {server.port} 127.0.0.1" if user else \
        f"open -p {server.port} 127.0.0.1"
    return run(["lftp", "-c", "set cmd:fail-exit yes; set net:max-retries 1; "
                "set ssl:verify-certificate no; set ftp:ssl-force yes; "
                "set ftp:ssl-protect-data yes; " + login + "; " + script])


def test_feat_and_auth_replies(tls_server):
    s = tls_server()
    c = s.raw()
    c.reply()
    code, lines = c.cmd("FEAT")
    for feature in (" AUTH TLS", " AUTH SSL", " PBSZ", " PROT"):
        assert feature in lines
    assert c.cmd("PBSZ 0")[0] == 503  # not before AUTH
    assert c.cmd("PROT P")[0] == 503
    assert c.cmd("AUTH KERBEROS")[0] == 504
    assert c.cmd("AUTH TLS")[0] == 234


def test_without_ssl_enable_auth_is_502(make_server):
    c = make_server().raw()
    c.reply()
    assert c.cmd("AUTH TLS")[0] == 502


def test_curl_explicit_tls(tls_server, tree):
    s = tls_server()
    base = f"ftp://127.0.0.1:{s.port}"
    r = run(["curl", "-sS", "--ssl-reqd", "-k", base + "/pub/"])
    assert r.returncode == 0, r.stderr
    assert b"hello.txt" in r.stdout
    r = run(["curl", "-sS", "--ssl-reqd", "-k", base + "/pub/random.bin"])
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == sha256_file(tree.path("pub/random.bin"))
    out = s.output()
    assert re.search(r"TLS on the control connection: TLSv1\.[23]", out)
    assert "session resumed" in out


def test_lftp_active_mode(tls_server):
    s = tls_server()
    r = run(["lftp", "-c", "set cmd:fail-exit yes; set net:max-retries 1; "
             "set ssl:verify-certificate no; set ftp:ssl-force yes; "
             "set ftp:ssl-allow-anonymous yes; set ftp:ssl-protect-data yes; "
             f"set ftp:passive-mode false; open -p {s.port} 127.0.0.1; cat pub/hello.txt; bye"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Hello from keepftpd.\n"
    assert "session resumed" in s.output()


def test_lftp_gnutls_mirror_both_ways_without_errors(tls_server, local_users, tmp_path):
    s = tls_server({"local_enable": "YES", "write_enable": "YES",
                    "chroot_local_user": "YES", "allow_writeable_chroot": "YES"})
    src = tmp_path / "src"
    (src / "deep").mkdir(parents=True)
    (src / "a.bin").write_bytes(os.urandom(500000))
    (src / "deep" / "b.txt").write_bytes(b"b\n" * 1000)
    r = lftp(s, f"mirror -R {src} up; mirror up {tmp_path}/down; cls -1 up; bye",
             user=f"{ALICE},alice-secret")
    assert r.returncode == 0, r.stderr
    for rel in ("a.bin", "deep/b.txt"):
        assert sha256_file(tmp_path / "down" / rel) == sha256_file(src / rel)
    # GnuTLS reports an unclean shutdown or a stray record on stderr: there must be none.
    for bad in (b"-15", b"-110", b"unexpected packet", b"premature termination",
                b"TLS packet with unexpected length"):
        assert bad not in r.stderr, r.stderr
    home = local_users.users[ALICE]["real_home"]
    assert sha256_file(os.path.join(home, "up", "a.bin")) == sha256_file(src / "a.bin")


def test_ftplib_prot_p_needs_session_reuse(tls_server):
    s = tls_server()
    ftp = ftplib.FTP_TLS(context=client_context())
    ftp.connect("127.0.0.1", s.port)
    ftp.login()
    ftp.prot_p()
    # Python's ftplib does not resume the TLS session on data connections.
    with pytest.raises(ftplib.error_perm, match="^522 .*require_ssl_reuse=NO"):
        ftp.retrbinary("RETR pub/hello.txt", lambda b: None)
    assert ftp.sendcmd("NOOP").startswith("200")
    s2 = tls_server({"require_ssl_reuse": "NO"})
    ftp2 = ftplib.FTP_TLS(context=client_context())
    ftp2.connect("127.0.0.1", s2.port)
    ftp2.login()
    ftp2.prot_p()
    out = io.BytesIO()
    ftp2.retrbinary("RETR pub/random.bin", out.write)
    assert len(out.getvalue()) == RANDOM_SIZE
    lines = []
    ftp2.retrlines("LIST pub", lines.append)
    assert any(l.endswith(" hello.txt") for l in lines)
    ftp2.quit()


def test_prot_c_data_and_forced_data_encryption(tls_server, local_users):
    s = tls_server({"local_enable": "YES"})
    ftp = ftplib.FTP_TLS(context=client_context())
    ftp.connect("127.0.0.1", s.port)
    ftp.auth()
    ftp.login(ALICE, "alice-secret")
    ftp.prot_c()
    # force_local_data_ssl=YES (the default): clear data is refused.
    with pytest.raises(ftplib.error_perm, match="^522"):
        ftp.retrbinary("RETR readme.txt", lambda b: None)
    s2 = tls_server({"local_enable": "YES", "force_local_data_ssl": "NO"})
    ftp2 = ftplib.FTP_TLS(context=client_context())
    ftp2.connect("127.0.0.1", s2.port)
    ftp2.auth()
    ftp2.login(ALICE, "alice-secret")
    ftp2.prot_c()
    out = io.BytesIO()
    ftp2.retrbinary("RETR readme.txt", out.write)
    assert out.getvalue() == b"kftp-alice's file\n"


def test_login_before_auth_is_refused(tls_server, local_users):
    # A downgrade: USER before AUTH with force_local_logins_ssl=YES (the default).
    s = tls_server({"local_enable": "YES"})
    c = s.raw()
    c.reply()
    assert c.cmd(f"USER {ALICE}")[0] == 530
    assert c.cmd("PASS alice-secret")[0] == 503
    # Anonymous users may log in without TLS unless force_anon_logins_ssl.
    assert c.cmd("USER anonymous")[0] == 331
    s2 = tls_server({"force_anon_logins_ssl": "YES"})
    c2 = s2.raw()
    c2.reply()
    assert c2.cmd("USER anonymous")[0] == 530


def test_anonymous_tls_needs_allow_anon_ssl(tls_server):
    s = tls_server({"allow_anon_ssl": "NO"})
    ftp = ftplib.FTP_TLS(context=client_context())
    ftp.connect("127.0.0.1", s.port)
    ftp.auth()
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftp.login()


def test_openssl_s_client_starttls(tls_server):
    s = tls_server()
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{s.port}",
                        "-starttls", "ftp", "-quiet"],
                       input=b"USER anonymous\r\nPASS x@y\r\nPWD\r\nQUIT\r\n",
                       capture_output=True, timeout=30)
    assert b"230 " in r.stdout and b'257 "/"' in r.stdout and b"221 " in r.stdout


def test_implicit_tls(tls_server, tree):
    s = tls_server({"implicit_ssl": "YES"})
    r = run(["curl", "-sS", "-k", f"ftps://127.0.0.1:{s.port}/pub/hello.txt"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Hello from keepftpd.\n"
    raw = socket.create_connection(("127.0.0.1", s.port))
    tls = client_context().wrap_socket(raw)
    assert tls.recv(100).startswith(b"220 ")
    tls.close()


def test_bad_certificate_refuses_auth(make_server, tree):
    bad = tree.base + "/garbage.pem"
    with open(bad, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    s = make_server({"ssl_enable": "YES", "allow_anon_ssl": "YES", "rsa_cert_file": bad})
    c = s.raw()
    c.reply()
    assert c.cmd("AUTH TLS")[0] == 431
    assert "rsa_cert_file=" + bad in s.output()


def test_tls_jail_audit(tls_server, tree):
    s = tls_server()
    raw = socket.create_connection(("127.0.0.1", s.port))
    f = raw.makefile("rb")
    assert f.readline().startswith(b"220")
    raw.sendall(b"AUTH TLS\r\n")
    assert f.readline().startswith(b"234")
    tls = client_context().wrap_socket(raw)
    tls.sendall(b"USER anonymous\r\n")
    assert tls.recv(100).startswith(b"331")
    # Before login: the monitor, the TLS jail and the pre-login jail.
    monitor = children(s.proc.pid)[0]
    kids = wait_for(lambda: (lambda k: k if len(k) == 2 else None)(children(monitor)))
    jails = {pid: status(pid) for pid in kids}
    nopriv = uid_of("kftp-nopriv")
    for pid in kids:
        assert_jailed(pid, nopriv, tree.empty)
    tls.sendall(b"PASS x@y\r\n")
    assert tls.recv(100).startswith(b"230")
    # After login: the TLS jail is still the only process holding the client's socket.
    tls_jail = [p for p in children(monitor) if status(p)["Uid"].split()[0] == str(nopriv)]
    assert len(tls_jail) == 1
    assert_jailed(tls_jail[0], nopriv, tree.empty)
    # ... and the session's monitor, which reads the session jail's requests, is confined.
    session_monitor = [p for p in children(monitor) if p != tls_jail[0]]
    assert len(session_monitor) == 1
    assert_session_monitor_confined(session_monitor[0], uid_of("ftp"), tree.empty)
    tls.sendall(b"QUIT\r\n")
    assert tls.recv(100).startswith(b"221")
    tls.close()


def test_reset_tls_upload_keeps_the_old_file(tls_server, local_users):
    import struct
    s = tls_server({"local_enable": "YES", "write_enable": "YES", "require_ssl_reuse": "NO"})
    home = local_users.users[ALICE]["real_home"]
    path = os.path.join(home, "tls-precious.txt")
    with open(path, "wb") as f:
        f.write(b"old version\n")
    ftp = ftplib.FTP_TLS(context=client_context())
    ftp.connect("127.0.0.1", s.port)
    ftp.login(ALICE, "alice-secret")
    ftp.prot_p()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR tls-precious.txt")
    conn.sendall(os.urandom(300000))
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # a reset, not a TLS close
    with pytest.raises(ftplib.error_temp, match="^426"):
        ftp.voidresp()
    assert open(path, "rb").read() == b"old version\n"
    # A clean TLS upload replaces it.
    ftp.storbinary("STOR tls-precious.txt", io.BytesIO(b"new version\n"))
    assert open(path, "rb").read() == b"new version\n"


def test_curl_active_mode(tls_server):
    # Debian 12's curl 7.88 hangs in active-mode FTPS (a curl regression, curl issue 10666);
    # ./dev test unpacks curl 8 from bookworm-backports for this test.
    root = os.environ.get("KEEPFTPD_NEW_CURL", "")
    curl = os.path.join(root, "usr", "bin", "curl")
    assert os.path.exists(curl), "run the tests with ./dev test (it fetches curl 8)"
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(root, "usr", "lib", "x86_64-linux-gnu"))
    s = tls_server()
    r = subprocess.run([curl, "-sS", "--ssl-reqd", "-k", "--ftp-port", "-",
                        f"ftp://127.0.0.1:{s.port}/pub/hello.txt"],
                       capture_output=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Hello from keepftpd.\n"
    assert "session resumed" in s.output()


def download_without_close_notify(server, options):
    s = server
    ftp = ftplib.FTP_TLS(context=client_context())
    ftp.connect("127.0.0.1", s.port)
    ftp.login()
    ftp.prot_p()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR pub/hello.txt")
    data = b""
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    conn.close()  # no close_notify back
    assert data == b"Hello from keepftpd.\n"
    return ftp.getline()


def test_strict_ssl_write_shutdown(tls_server):
    lax = tls_server({"require_ssl_reuse": "NO"})
    assert download_without_close_notify(lax, {}).startswith("226")
    strict = tls_server({"require_ssl_reuse": "NO", "strict_ssl_write_shutdown": "YES"})
    assert download_without_close_notify(strict, {}).startswith("426")
    # A client that answers with close_notify is fine.
    ftp = ftplib.FTP_TLS(context=client_context())
    ftp.connect("127.0.0.1", strict.port)
    ftp.login()
    ftp.prot_p()
    out = io.BytesIO()
    assert ftp.retrbinary("RETR pub/hello.txt", out.write).startswith("226")


def test_debug_ssl_logs_tls_details(tls_server):
    s = tls_server({"debug_ssl": "YES"})
    r = run(["curl", "-sS", "--ssl-reqd", "-k", f"ftp://127.0.0.1:{s.port}/pub/hello.txt"])
    assert r.returncode == 0, r.stderr
    out = s.output()
    assert re.search(r"TLS details \(control\): SNI .*, ALPN \S+, resumed no, no client "
                     r"certificate", out), out
    assert re.search(r"TLS details \(data\): .*resumed yes", out), out
    quiet = tls_server()
    run(["curl", "-sS", "--ssl-reqd", "-k", f"ftp://127.0.0.1:{quiet.port}/pub/hello.txt"])
    assert "TLS details" not in quiet.output()


def test_missing_certificate_refuses_connections_and_fails_check_config(make_server, tree, cert):
    from conftest import KEEPFTPD
    missing = tree.base + "/missing.pem"
    s = make_server({"ssl_enable": "YES", "rsa_cert_file": missing})
    assert s.raw().reply()[0] == 421
    assert f"rsa_cert_file={missing}: No such file or directory" in s.output()
    r = subprocess.run([KEEPFTPD, "--check-config", "--config", s.config_path],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and missing in r.stdout
    # A good certificate and key pass --check-config.
    good = make_server(dict({"ssl_enable": "YES"}, **cert))
    r = subprocess.run([KEEPFTPD, "--check-config", "--config", good.config_path],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stdout
