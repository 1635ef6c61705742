"""FTPS with keepftpd's defaults: the default certificate (Debian's and Ubuntu's snakeoil pair,
made by the ssl-cert package) used when it exists and a clear refusal when it does not, and the
default ciphers, which testssl.sh rates without a single weakness over explicit and implicit
FTPS."""

import json
import os
import socket
import subprocess

from conftest import KEEPFTPD, free_port
from test_ftps import cert  # noqa: F401 (fixture)
from test_service import Superserver, superservers  # noqa: F401 (fixture)

SNAKEOIL_CERT = "/etc/ssl/certs/ssl-cert-snakeoil.pem"
SNAKEOIL_KEY = "/etc/ssl/private/ssl-cert-snakeoil.key"


def write_config(tree, name, options):
    settings = {
        "anonymous_enable": "YES",
        "anon_root": tree.anon,
        "nopriv_user": "kftp-nopriv",
        "secure_chroot_dir": tree.empty,
        "login_state_dir": os.path.join(tree.base, "state"),
        "ssl_enable": "YES",
        "allow_anon_ssl": "YES",
    }
    settings.update(options)
    path = os.path.join(tree.base, name)
    with open(path, "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in settings.items() if v is not None))
    os.chmod(path, 0o644)
    return path


# ---- the default certificate ----------------------------------------------------------------

def with_own_ssl_dirs(make_snakeoil, cmd):
    """cmd in a mount namespace of its own whose /etc/ssl/certs and /etc/ssl/private are empty
    (this machine's may hold a snakeoil pair, or not), where make-ssl-cert made the snakeoil
    pair first if make_snakeoil."""
    script = ("set -e; mount -t tmpfs -o mode=755 tmpfs /etc/ssl/certs; "
              "mount -t tmpfs -o mode=710 tmpfs /etc/ssl/private; "
              + ("make-ssl-cert generate-default-snakeoil; " if make_snakeoil else "")
              + 'exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh"] + cmd


def test_default_certificate_is_the_snakeoil_pair(tree, tmp_path, superservers):
    """Without rsa_cert_file and rsa_private_key_file, a machine with the ssl-cert package's
    snakeoil pair serves FTPS with it: --check-config says OK and curl downloads over TLS."""
    config = write_config(tree, "snakeoil.conf", {})
    r = subprocess.run(with_own_ssl_dirs(True, [KEEPFTPD, "--check-config", "--config", config]),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stdout + r.stderr
    port = free_port()
    s = Superserver(with_own_ssl_dirs(True, ["systemd-socket-activate", "-l",
                                             f"127.0.0.1:{port}", "--inetd", "-a", KEEPFTPD,
                                             "--config", config]),
                    port, str(tmp_path / "server.log"))
    superservers.append(s)
    r = subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", f"ftp://127.0.0.1:{port}/pub/hello.txt"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr + s.output().encode()
    assert r.stdout == b"Hello from keepftpd.\n"
    assert "TLS on the control connection: TLSv1.3" in s.output()


def test_missing_default_certificate_says_what_to_do(tree, tmp_path, superservers):
    """Where the snakeoil pair does not exist (Fedora, Arch, or Debian without ssl-cert), the
    check and the refused connection name the option, its default and the fix; the client gets
    421 and nothing of it."""
    config = write_config(tree, "no-snakeoil.conf", {})
    r = subprocess.run(with_own_ssl_dirs(False, [KEEPFTPD, "--check-config", "--config", config]),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    # Not set in the file: no line number; the option, the default path, why, and the fix.
    want = f"{config}: rsa_cert_file: {SNAKEOIL_CERT}: No such file or directory (the default"
    assert any(l.startswith(want) for l in lines), r.stdout
    assert "make-ssl-cert generate-default-snakeoil" in r.stdout
    assert "set rsa_cert_file and rsa_private_key_file" in r.stdout
    key = f"{config}: rsa_private_key_file: {SNAKEOIL_KEY} (the key of rsa_cert_file="
    assert any(l.startswith(key) for l in lines), r.stdout
    assert "error:" not in r.stdout
    port = free_port()
    s = Superserver(with_own_ssl_dirs(False, ["systemd-socket-activate", "-l",
                                              f"127.0.0.1:{port}", "--inetd", "-a", KEEPFTPD,
                                              "--config", config]),
                    port, str(tmp_path / "server.log"))
    superservers.append(s)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        reply = c.makefile("rb").readline().decode()
    assert reply.startswith("421 ") and "ssl" not in reply, reply
    out = s.output()
    assert f"rsa_cert_file={SNAKEOIL_CERT}: No such file or directory (the default" in out, out
    assert "make-ssl-cert generate-default-snakeoil" in out


def test_a_certificate_that_is_not_one_names_file_line_option_and_fix(tree):
    """A certificate file that holds no certificate: --check-config names the config file, the
    line, the option, the file and what to name instead, in words rather than OpenSSL's codes."""
    junk = os.path.join(tree.base, "junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    config = write_config(tree, "junk.conf", {"rsa_cert_file": junk})
    r = subprocess.run([KEEPFTPD, "--check-config", "--config", config], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1
    line = 1 + [l.split("=")[0] for l in open(config).read().splitlines()].index("rsa_cert_file")
    assert r.stdout.startswith(f"{config}:{line}: rsa_cert_file: {junk}: no PEM certificate in "
                               "it (name a PEM file with the server's certificate"), r.stdout
    assert "error:" not in r.stdout and "routines" not in r.stdout, r.stdout


# ---- the default ciphers, rated by testssl.sh -------------------------------------------------

# Rated a problem: anything at these severities. OK and INFO are fine; WARN is about the
# scanner's own OpenSSL (no GOST engine), not about the server.
BAD = {"LOW", "MEDIUM", "HIGH", "CRITICAL"}


def run_testssl(port, json_path, starttls):
    """testssl.sh's protocol (-p), cipher category (-s) and vulnerability (-U) checks. Its
    certificate checks (-S) are left out on purpose: on loopback with a self-signed certificate
    they can only report the missing trust chain, OCSP and CAA that a test certificate lacks,
    which say nothing about the server's TLS."""
    cmd = ["testssl", "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
           "--jsonfile", json_path, "-p", "-s", "-U"]
    if starttls:
        cmd += ["--starttls", "ftp"]
    return subprocess.Popen(cmd + [f"127.0.0.1:{port}"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


def test_default_ciphers_rate_no_weakness_with_testssl(tree, tmp_path, cert, superservers):
    """Explicit (AUTH TLS) and implicit FTPS with the default ssl_ciphers: testssl.sh finds TLS
    1.2 and 1.3 only, and rates nothing LOW or worse (the former default, with static RSA and CBC
    suites, was LOW twice: "cipherlist_AVERAGE offered" and "LUCKY13 potentially vulnerable")."""
    scans = []
    for mode in ("explicit", "implicit"):
        options = dict(cert, implicit_ssl="YES" if mode == "implicit" else "NO")
        config = write_config(tree, f"{mode}.conf", options)
        port = free_port()
        superservers.append(Superserver(["systemd-socket-activate", "-l", f"127.0.0.1:{port}",
                                         "--inetd", "-a", KEEPFTPD, "--config", config],
                                        port, str(tmp_path / f"{mode}.log")))
        json_path = str(tmp_path / f"{mode}.json")
        scans.append((mode, json_path, run_testssl(port, json_path, mode == "explicit")))
    for mode, json_path, proc in scans:  # the two scans run side by side
        try:
            out, _ = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.communicate()
            raise
        findings = json.load(open(json_path))
        by_id = {f["id"]: f for f in findings}
        # The scan reached the server: it saw what the server offers.
        assert by_id["TLS1_3"]["finding"].startswith("offered"), (mode, out)
        assert by_id["TLS1_2"]["finding"].startswith("offered"), (mode, out)
        for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
            assert by_id[old]["finding"].startswith("not offered"), (mode, by_id[old])
        assert "FATAL" not in {f["severity"] for f in findings}, (mode, out)
        bad = [(f["severity"], f["id"], f["finding"]) for f in findings if f["severity"] in BAD]
        assert not bad, (mode, bad)
