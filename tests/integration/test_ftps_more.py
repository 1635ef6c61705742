"""More FTPS: an ECDSA certificate, client certificates, the ALPACA defences (ALPN, SNI), bad
key files, REIN over TLS, and the protocol versions that are never negotiated."""

import base64
import ftplib
import hashlib
import io
import os
import re
import ssl
import subprocess
import time

import pytest

from conftest import RANDOM_SIZE, sha256_file, uid_of
from test_ftps import cert, tls_server, client_context  # noqa: F401 (fixtures)
from test_privsep import children


def openssl(*args, **kw):
    return subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, **kw)


def wait_for(predicate, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return predicate()


def start_tls(s, ctx, server_hostname=None):
    """A control connection after AUTH TLS and the client's side of the handshake."""
    c = s.raw()
    assert c.reply()[0] == 220
    assert c.cmd("AUTH TLS")[0] == 234
    assert c.buf == b""
    c.sock = ctx.wrap_socket(c.sock, server_hostname=server_hostname)
    return c


def tls_login(s, ctx, server_hostname=None):
    c = start_tls(s, ctx, server_hostname)
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("PASS guest@example.org")[0] == 230
    code, lines = c.cmd("PWD")
    assert code == 257 and '"/"' in lines[0]
    return c


def assert_refused(s, ctx, server_hostname=None):
    """The TLS handshake fails: at once, or (TLS 1.3, where the client finishes first) on the
    first read. The server must log the failed handshake."""
    failures_before = s.output().count("TLS handshake on the control connection failed")
    try:
        c = start_tls(s, ctx, server_hostname)
        c.cmd("USER anonymous")
    except (ssl.SSLError, EOFError, ConnectionResetError, BrokenPipeError) as e:
        error = e
    else:
        pytest.fail("the TLS session was accepted")
    assert wait_for(lambda: s.output().count("TLS handshake on the control connection failed")
                    > failures_before), s.output()
    return error


# ---- 1. an ECDSA certificate ---------------------------------------------------------------

@pytest.fixture
def ec_cert(tree):
    key = os.path.join(tree.base, "ec-key.pem")
    crt = os.path.join(tree.base, "ec-cert.pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=localhost")
    os.chmod(key, 0o600)
    return {"rsa_cert_file": crt, "rsa_private_key_file": key}


def public_key_pin(key):
    der = openssl("pkey", "-in", key, "-pubout", "-outform", "DER").stdout
    return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def test_ecdsa_certificate(make_server, ec_cert, cert, tree):
    s = make_server({"ssl_enable": "YES", "allow_anon_ssl": "YES", **ec_cert})
    url = f"ftp://127.0.0.1:{s.port}/pub/hello.txt"
    # curl, pinned to the EC key: it must be the key the server presents.
    r = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k", "--pinnedpubkey",
                        public_key_pin(ec_cert["rsa_private_key_file"]), url],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Hello from keepftpd.\n"
    # The pin is checked: another key fails.
    r = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k", "--pinnedpubkey",
                        public_key_pin(cert["rsa_private_key_file"]), url],
                       capture_output=True, timeout=60)
    assert r.returncode != 0
    # Python: the peer's certificate is ours, with an EC P-256 key; then a transfer.
    ftp = ftplib.FTP_TLS(context=client_context())
    ftp.connect("127.0.0.1", s.port)
    ftp.auth()
    der = ftp.sock.getpeercert(binary_form=True)
    with open(ec_cert["rsa_cert_file"]) as f:
        assert der == ssl.PEM_cert_to_DER_cert(f.read())
    text = openssl("x509", "-inform", "DER", "-noout", "-text", input=der).stdout.decode()
    assert "id-ecPublicKey" in text and "prime256v1" in text, text
    ftp.login()
    ftp.prot_p()
    ftp.sendcmd("TYPE I")
    with pytest.raises(ftplib.error_perm, match="^522"):  # require_ssl_reuse: Python can't
        ftp.retrbinary("RETR pub/hello.txt", lambda b: None)
    ftp.quit()
    # openssl s_client: the server signs with ECDSA.
    for version in ("-tls1_2", "-tls1_3"):
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{s.port}",
                            "-starttls", "ftp", "-ign_eof", "-nocommands", version],
                           input=b"USER anonymous\r\nPASS x@y\r\nQUIT\r\n",
                           capture_output=True, timeout=30)
        out = r.stdout.decode(errors="replace")
        assert "Peer signature type: ECDSA" in out, out
        assert "230 " in out and "221 " in out, out
    assert re.search(r"TLS on the control connection: TLSv1\.2, ECDHE-ECDSA-", s.output())


# ---- 2. client certificates ----------------------------------------------------------------

@pytest.fixture
def client_certs(tree):
    d = os.path.join(tree.base, "pki")
    os.makedirs(d)
    p = lambda name: os.path.join(d, name)  # noqa: E731
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"),
            "-out", p("ca.pem"), "-days", "2", "-subj", "/CN=keepftpd test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("good.key"),
            "-out", p("good.csr"), "-subj", "/CN=good client")
    openssl("x509", "-req", "-in", p("good.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
            "-set_serial", "2", "-days", "2", "-out", p("good.pem"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("bad.key"),
            "-out", p("bad.pem"), "-days", "2", "-subj", "/CN=good client")
    openssl("verify", "-CAfile", p("ca.pem"), p("good.pem"))  # the test PKI is sound
    for name in os.listdir(d):
        os.chmod(p(name), 0o644)
    return {"ca": p("ca.pem"), "good": (p("good.pem"), p("good.key")),
            "bad": (p("bad.pem"), p("bad.key"))}


def context_with(chain=None, **kw):
    ctx = client_context()
    if chain:
        ctx.load_cert_chain(*chain)
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


VERSIONS = pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])

def pinned(version, chain=None):
    v = getattr(ssl.TLSVersion, version)
    return context_with(chain, minimum_version=v, maximum_version=v)


def cert_required(tls_server, client_certs):
    return tls_server({"require_cert": "YES", "validate_cert": "YES",
                       "ca_certs_file": client_certs["ca"]})


@VERSIONS
def test_client_without_certificate_is_refused(tls_server, client_certs, version):
    s = cert_required(tls_server, client_certs)
    assert_refused(s, pinned(version))
    assert "peer did not return a certificate" in s.output()


@VERSIONS
def test_client_certificate_signed_by_the_ca_logs_in(tls_server, client_certs, version):
    s = cert_required(tls_server, client_certs)
    c = tls_login(s, pinned(version, client_certs["good"]))
    assert c.sock.version() == version.replace("_", ".")
    assert c.cmd("QUIT")[0] == 221
    c.close()
    # ftplib: a whole session, with a PROT P transfer.
    s2 = tls_server({"require_cert": "YES", "validate_cert": "YES",
                     "ca_certs_file": client_certs["ca"], "require_ssl_reuse": "NO"})
    ftp = ftplib.FTP_TLS(context=pinned(version, client_certs["good"]))
    ftp.connect("127.0.0.1", s2.port)
    ftp.login()
    ftp.prot_p()
    out = io.BytesIO()
    ftp.retrbinary("RETR pub/hello.txt", out.write)
    assert out.getvalue() == b"Hello from keepftpd.\n"
    ftp.quit()
    assert "seccomp" not in s.output() + s2.output()


@VERSIONS
def test_client_certificate_not_signed_by_the_ca_is_refused(tls_server, client_certs, version):
    s = cert_required(tls_server, client_certs)
    assert_refused(s, pinned(version, client_certs["bad"]))
    # Refused because the certificate does not verify, not because the jail died.
    out = s.output()
    assert "seccomp" not in out, out
    assert "certificate verify failed" in out, out


def test_client_certificate_requested_but_optional(tls_server, client_certs):
    s = tls_server({"ssl_request_cert": "YES"})
    for version in ("TLSv1_2", "TLSv1_3"):
        c = tls_login(s, pinned(version))
        assert c.cmd("QUIT")[0] == 221
        c.close()
    # With validate_cert a certificate is checked if sent, but none is still fine.
    s2 = tls_server({"ssl_request_cert": "YES", "validate_cert": "YES",
                     "ca_certs_file": client_certs["ca"]})
    tls_login(s2, context_with()).close()
    assert "seccomp" not in s.output() + s2.output()


def test_optional_client_certificate_is_not_validated_without_validate_cert(tls_server,
                                                                            client_certs):
    s = tls_server({"ssl_request_cert": "YES"})
    # Without validate_cert any certificate is accepted, even a self-signed one.
    tls_login(s, context_with(client_certs["bad"])).close()
    tls_login(s, context_with(client_certs["good"])).close()
    assert "seccomp" not in s.output()


# ---- 3. ALPN -------------------------------------------------------------------------------

def test_alpn_must_be_ftp_if_offered(tls_server):
    s = tls_server()
    ctx = client_context()
    ctx.set_alpn_protocols(["http/1.1"])
    e = assert_refused(s, ctx)
    assert "no application protocol" in str(e).lower(), e
    ctx = client_context()
    ctx.set_alpn_protocols(["http/1.1", "ftp"])
    c = tls_login(s, ctx)
    assert c.sock.selected_alpn_protocol() == "ftp"
    c.close()
    ctx = client_context()
    ctx.set_alpn_protocols(["ftp"])
    c = tls_login(s, ctx)
    assert c.sock.selected_alpn_protocol() == "ftp"
    c.close()
    c = tls_login(s, client_context())
    assert c.sock.selected_alpn_protocol() is None
    c.close()


# ---- 4. SNI --------------------------------------------------------------------------------

def test_sni_hostname(tls_server):
    s = tls_server({"ssl_sni_hostname": "ftp.example.org"})
    tls_login(s, client_context(), "ftp.example.org").close()
    tls_login(s, client_context(), "FTP.Example.ORG").close()  # DNS names ignore case
    e = assert_refused(s, client_context(), "other.example.org")
    assert "unrecognized name" in str(e).lower(), e
    assert_refused(s, client_context(), "ftp.example.org.evil")
    tls_login(s, client_context(), None).close()  # no SNI at all
    # Without ssl_sni_hostname any name goes.
    s2 = tls_server()
    tls_login(s2, client_context(), "other.example.org").close()


# ---- 5. bad key files ----------------------------------------------------------------------

def test_missing_private_key_file(tls_server, tree):
    # Missing or unreadable: the connection is refused at once (vsftpd refuses to start).
    missing = os.path.join(tree.base, "no-such-key.pem")
    s = tls_server({"rsa_private_key_file": missing})
    c = s.raw()
    assert c.reply()[0] == 421
    assert "rsa_private_key_file=" + missing + ": No such file or directory" in s.output()


def test_unusable_private_key_file(tls_server, tree):
    # Present but not a key: found when a client asks for TLS; 431, and plain FTP goes on.
    junk = os.path.join(tree.base, "junk-key.pem")
    with open(junk, "w") as f:
        f.write("not a key\n")
    s = tls_server({"rsa_private_key_file": junk})
    c = s.raw()
    c.reply()
    assert c.cmd("AUTH TLS")[0] == 431
    assert "rsa_private_key_file=" + junk in s.output()
    assert c.cmd("USER anonymous")[0] == 331


@pytest.mark.parametrize("other_key", [
    "rsa:2048", "ec"])
def test_key_that_does_not_match_the_certificate(tls_server, tree, other_key):
    key = os.path.join(tree.base, "other-key.pem")
    args = ["-pkeyopt", "ec_paramgen_curve:prime256v1"] if other_key == "ec" else []
    openssl("req", "-x509", "-newkey", other_key, *args, "-nodes", "-keyout", key,
            "-out", os.path.join(tree.base, "other-cert.pem"), "-days", "2",
            "-subj", "/CN=other")
    s = tls_server({"rsa_private_key_file": key})
    c = s.raw()
    c.reply()
    assert c.cmd("AUTH TLS")[0] == 431
    out = s.output()
    assert "rsa_private_key_file=" + key in out, out
    assert "does not match" in out, out


# ---- 6. REIN over TLS ----------------------------------------------------------------------

def test_rein_keeps_the_tls_control_connection(tls_server, tree):
    # REIN after login needs isolate=NO and isolate_network=NO (test_protocol.py).
    s = tls_server({"require_ssl_reuse": "NO", "isolate": "NO", "isolate_network": "NO"})
    ftp = ftplib.FTP_TLS(context=client_context())
    ftp.connect("127.0.0.1", s.port)
    ftp.auth()
    ftp.login()
    ftp.prot_p()
    out = io.BytesIO()
    ftp.retrbinary("RETR pub/hello.txt", out.write)
    assert out.getvalue() == b"Hello from keepftpd.\n"
    tls_socket = ftp.sock
    assert ftp.sendcmd("REIN").startswith("220")
    assert ftp.sock is tls_socket and isinstance(ftp.sock, ssl.SSLSocket)
    # Logged out: commands need a login again; still over TLS (AUTH is not needed again).
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftp.sendcmd("PWD")
    ftp.login()
    assert ftp.pwd() == "/"
    ftp.prot_p()
    out = io.BytesIO()
    ftp.retrbinary("RETR pub/random.bin", out.write)
    assert len(out.getvalue()) == RANDOM_SIZE
    assert hashlib.sha256(out.getvalue()).hexdigest() == sha256_file(tree.path("pub/random.bin"))
    lines = []
    ftp.retrlines("NLST pub", lines.append)
    assert "hello.txt" in [l.rsplit("/", 1)[-1] for l in lines]
    assert ftp.quit().startswith("221")
    assert s.output().count("TLS on the control connection:") == 1


# ---- 7. protocol versions ------------------------------------------------------------------

def versioned_context(minimum, maximum):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client really offer TLS 1.0/1.1
    ctx.minimum_version = minimum
    ctx.maximum_version = maximum
    return ctx


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_old_tls_versions_are_refused(tls_server):
    s = tls_server({"ssl_sslv3": "YES", "ssl_tlsv1": "YES", "ssl_tlsv1_1": "YES",
                    "ssl_tlsv1_2": "YES"})
    for maximum in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        e = assert_refused(s, versioned_context(ssl.TLSVersion.TLSv1, maximum))
        assert isinstance(e, ssl.SSLError), e
        # The client did send its hello: the server refused it, not the client itself.
        assert "NO_PROTOCOLS_AVAILABLE" not in str(e).upper(), e
    assert "unsupported protocol" in s.output()
    for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
                          (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        c = tls_login(s, versioned_context(version, version))
        assert c.sock.version() == name
        c.close()
        assert wait_for(lambda: f"TLS on the control connection: {name}," in s.output())
    # A client that accepts anything gets TLS 1.3.
    c = tls_login(s, versioned_context(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_3))
    assert c.sock.version() == "TLSv1.3"
    c.close()


# ---- 8. which process holds OpenSSL, and key files in each PEM form --------------------------

def process_tree(pid):
    """pid and every process below it."""
    out = [pid]
    for kid in children(pid):
        out += process_tree(kid)
    return out


def maps_openssl(pid):
    with open(f"/proc/{pid}/maps") as f:
        return any("/libssl.so" in line or "/libcrypto.so" in line for line in f)


def openssl_processes(s):
    """(processes of the connection, those that map OpenSSL), once the tree is steady."""
    (monitor,) = wait_for(lambda: children(s.proc.pid))
    procs = process_tree(monitor)
    return procs, [p for p in procs if maps_openssl(p)]


def test_only_the_tls_jail_holds_openssl(tls_server):
    # The TLS jail's process loads OpenSSL and reads the key before it enters its jail; the
    # monitor, the session's monitor and the session jail never map it.
    s = tls_server()
    c = tls_login(s, client_context())
    procs, with_openssl = openssl_processes(s)
    assert len(procs) == 4, procs  # keeper, TLS jail, session monitor, session jail
    assert len(with_openssl) == 1, (procs, with_openssl)
    tls_jail = with_openssl[0]
    assert tls_jail in children(procs[0])
    with open(f"/proc/{tls_jail}/status") as f:
        assert f"Uid:\t{uid_of('kftp-nopriv')}\t" in f.read()
    assert c.cmd("QUIT")[0] == 221


FORCED = {"force_anon_logins_ssl": "YES"}  # with force_local_logins_ssl (default): every login


def test_tls_jail_prepares_when_every_login_needs_tls(tls_server):
    s = tls_server(FORCED)
    c = s.raw()
    assert c.reply()[0] == 220
    # Before AUTH TLS: the pre-login jail, and the TLS jail with its context built.
    procs = wait_for(lambda: len(openssl_processes(s)[1]) == 1 and openssl_processes(s)[0])
    assert len(procs) == 3, procs
    assert c.cmd("USER anonymous")[0] == 530  # not over TLS
    assert c.cmd("QUIT")[0] == 221
    assert wait_for(lambda: not children(s.proc.pid)), "the prepared TLS jail stayed"
    tls_login(s, client_context())


def test_tls_jail_not_prepared_when_a_login_may_be_plain(tls_server):
    s = tls_server()  # anonymous logins without TLS are allowed
    c = s.raw()
    assert c.reply()[0] == 220
    time.sleep(0.2)
    procs, with_openssl = openssl_processes(s)
    assert len(procs) == 2 and not with_openssl, (procs, with_openssl)


def test_prepared_tls_jail_with_a_bad_key(tls_server, tree):
    junk = os.path.join(tree.base, "junk-key.pem")
    with open(junk, "w") as f:
        f.write("not a key\n")
    s = tls_server(dict(FORCED, rsa_private_key_file=junk))
    c = s.raw()
    c.reply()
    assert c.cmd("AUTH TLS")[0] == 431
    assert "rsa_private_key_file=" + junk in s.output()
    assert c.cmd("AUTH TLS")[0] == 431  # said again, not retried


@pytest.mark.parametrize("form", ["pkcs8", "pkcs1", "with the certificate", "ec"])
def test_private_key_forms(tls_server, cert, ec_cert, tree, form):
    # RSA keys are read with a decoder told the key type; the rest the general way.
    key = os.path.join(tree.base, "form-key.pem")
    options = {"rsa_private_key_file": key}
    if form == "pkcs1":
        openssl("rsa", "-in", cert["rsa_private_key_file"], "-traditional", "-out", key)
        assert "BEGIN RSA PRIVATE KEY" in open(key).read()
    elif form == "with the certificate":
        with open(key, "w") as f:
            f.write(open(cert["rsa_cert_file"]).read() + open(cert["rsa_private_key_file"]).read())
        options = {"rsa_cert_file": key, "rsa_private_key_file": ""}
    elif form == "ec":
        options = ec_cert
    else:
        options = {}
    s = tls_server(options)
    tls_login(s, client_context()).cmd("QUIT")
