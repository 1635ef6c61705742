"""keepftpd as `meson install` leaves it, run by a real systemd: a throwaway machine whose PID 1
is systemd (tests/integration/systemd_machine.py), booted once for this file, with the build
directory bound in and installed inside. There, as an administrator would:
`systemctl enable --now ftp.socket ftps.socket`; downloads, uploads, explicit and implicit FTPS
through them; the journal's records of each connection's unit; drop-ins for
MaxConnectionsPerSource= and IPAddressDeny= enforced by systemd; and `systemctl status`
listing the connections' units. Every client runs inside the machine, on its loopback.
"""

import json
import os
import re

import pytest

from conftest import KEEPFTPD, REPO
from systemd_machine import SystemdMachine

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(KEEPFTPD)))

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("KEEPFTPD_SANITIZED")),
    reason="the sanitizer build runs under systemd-socket-activate; the installed units once")

# After `meson install`: the accounts, a tree to serve, a certificate, and the configuration
# edited where it was installed (an anonymous server with an upload directory, FTPS), with
# keepftpd-ftps.conf made from it as keepftpd.conf(5), EXAMPLES, says.
SETUP = r"""
set -eu
prefix=$(meson introspect --buildoptions "$BUILD" | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["prefix"], o["prefix"] + "/" + o["sbindir"], o["prefix"] + "/" + o["sysconfdir"])')
set -- $prefix
sysconfdir=$3
meson install --no-rebuild --quiet -C "$BUILD"
systemd-tmpfiles --create keepftpd.conf
id kftp-nopriv >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin kftp-nopriv
id ftp >/dev/null 2>&1 || useradd --system --home-dir /srv/ftp --no-create-home --shell /usr/sbin/nologin ftp
rm -rf /srv/ftp
install -d -o root -g root -m 755 /srv/ftp /srv/ftp/pub
install -d -o ftp -g ftp -m 755 /srv/ftp/incoming
echo hello > /srv/ftp/pub/hello.txt
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -keyout /etc/ssl/private/keepftpd.key -out /etc/ssl/certs/keepftpd.pem \
  2>/dev/null
sed -i 's/^anonymous_enable=NO$/anonymous_enable=YES/' "$sysconfdir/keepftpd.conf"
cat >> "$sysconfdir/keepftpd.conf" <<EOF
anon_root=/srv/ftp
nopriv_user=kftp-nopriv
write_enable=YES
anon_upload_enable=YES
ssl_enable=YES
allow_anon_ssl=YES
rsa_cert_file=/etc/ssl/certs/keepftpd.pem
rsa_private_key_file=/etc/ssl/private/keepftpd.key
EOF
cp "$sysconfdir/keepftpd.conf" "$sysconfdir/keepftpd-ftps.conf"
echo implicit_ssl=YES >> "$sysconfdir/keepftpd-ftps.conf"
keepftpd --check-config --config "$sysconfdir/keepftpd.conf"
keepftpd --check-config --config "$sysconfdir/keepftpd-ftps.conf"
systemctl daemon-reload
systemctl enable --now ftp.socket ftps.socket
"""


@pytest.fixture(scope="module")
def machine():
    # The checkout (which meson install reads) and the build directory (where it keeps its log).
    m = SystemdMachine(binds={BUILD: BUILD}, binds_ro={REPO: REPO})
    m.start()
    try:
        r = m.run(f"BUILD={BUILD}\n" + SETUP)
        assert r.stdout.splitlines()[-2:] == ["OK", "OK"], r.stdout + r.stderr
        yield m
    finally:
        m.stop()
    print(f"the machine booted in {m.boot_seconds:.1f} s")


def curl(machine, *args, check=True):
    r = machine.run("curl -sS --max-time 30 " + " ".join(args), check=check)
    return r


def journal(machine, unit_glob):
    r = machine.run(f"journalctl -u '{unit_glob}' -o json --no-pager")
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


# A client inside the machine (Python's sockets, on its loopback), run with the machine's
# python3: prints what it saw, one word per connection.
CONNECT = r"""
import socket, sys
def banner(source, port=21, timeout=10):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    try:
        s.connect(("127.0.0.1", port))
        data = s.recv(4096)
    except (socket.timeout, ConnectionError) as e:
        s.close()
        return None, type(e).__name__
    return s, (data.decode().split()[0] if data else "closed")
"""


def test_the_sockets_listen_as_enabled(machine):
    r = machine.run("systemctl is-enabled ftp.socket ftps.socket; "
                    "systemctl is-active ftp.socket ftps.socket; "
                    "systemctl show -p FragmentPath ftp.socket ftp@0.service ftps@0.service")
    assert r.stdout.split()[:4] == ["enabled", "enabled", "active", "active"], r.stdout
    # The units systemd loaded are the installed ones, where meson installed them.
    installed = json.loads(machine.run(f"meson introspect --installed {BUILD}").stdout)
    for unit in ("ftp.socket", "ftp@.service", "ftps@.service"):
        path = installed[os.path.join(BUILD, "units", unit)]
        assert f"FragmentPath={path}\n" in r.stdout, (path, r.stdout)
    listening = machine.run("ss -Hltn").stdout
    assert re.search(r"\*:21\s", listening) and re.search(r"\*:990\s", listening), listening


def test_download_and_upload_through_ftp_socket(machine):
    assert curl(machine, "ftp://127.0.0.1/pub/hello.txt").stdout == "hello\n"
    curl(machine, "-T - ftp://127.0.0.1/incoming/up.txt", "<<< 'uploaded through ftp.socket'")
    r = machine.run("cat /srv/ftp/incoming/up.txt; stat -c '%U %a' /srv/ftp/incoming/up.txt")
    assert r.stdout.splitlines() == ["uploaded through ftp.socket", "ftp 600"], r.stdout


def test_ftps_explicit_on_ftp_socket_and_implicit_on_ftps_socket(machine):
    explicit = curl(machine, "--ssl-reqd -k -v ftp://127.0.0.1/pub/hello.txt")
    assert explicit.stdout == "hello\n"
    assert re.search(r"^> AUTH (TLS|SSL)$", explicit.stderr, re.MULTILINE), explicit.stderr
    assert "SSL connection using TLSv1." in explicit.stderr, explicit.stderr
    implicit = curl(machine, "-k -v ftps://127.0.0.1/pub/hello.txt")
    assert implicit.stdout == "hello\n"
    assert "SSL connection using TLSv1." in implicit.stderr, implicit.stderr
    assert "> AUTH" not in implicit.stderr  # TLS from the first byte, on port 990
    curl(machine, "-k -T - ftps://127.0.0.1/incoming/tls.txt", "<<< 'uploaded over implicit TLS'")
    assert machine.run("cat /srv/ftp/incoming/tls.txt").stdout == "uploaded over implicit TLS\n"


def test_the_journal_has_each_connection_under_its_unit(machine):
    assert curl(machine, "ftp://127.0.0.1/pub/hello.txt").stdout == "hello\n"
    records = journal(machine, "ftp@*")
    retr = [r for r in records if r.get("FTP_COMMAND") == "RETR"
            and r.get("FTP_PATH") == "/pub/hello.txt"]
    assert retr, records[-5:]
    last = retr[-1]
    assert last["SYSLOG_IDENTIFIER"] == "keepftpd"
    assert last["FTP_BYTES"] == "6" and last["FTP_USER"] == "ftp"
    assert last["REMOTE_ADDR"] == "127.0.0.1"
    # The unit of that one connection: ftp@N-LOCAL:21-PEER:PORT.service.
    unit = last["_SYSTEMD_UNIT"]
    assert re.fullmatch(r"ftp@[0-9]+-127\.0\.0\.1:21-127\.0\.0\.1:%s\.service"
                        % last["REMOTE_PORT"], unit), unit
    # Every record of the session is that unit's, and names the session.
    session = [r for r in records if r.get("FTP_SESSION") == last["FTP_SESSION"]]
    assert {r["_SYSTEMD_UNIT"] for r in session} == {unit}
    assert any("login" in r["MESSAGE"] for r in session), [r["MESSAGE"] for r in session]
    # And the implicit FTPS connections are ftps@ units.
    curl(machine, "-k ftps://127.0.0.1/pub/hello.txt")
    tls = [r for r in journal(machine, "ftps@*") if r.get("FTP_COMMAND") == "RETR"]
    assert tls and re.fullmatch(r"ftps@[0-9]+-127\.0\.0\.1:990-127\.0\.0\.1:[0-9]+\.service",
                                tls[-1]["_SYSTEMD_UNIT"]), tls


def socket_drop_in(machine, name, text):
    machine.run(f"mkdir -p /etc/systemd/system/ftp.socket.d && cat > "
                f"/etc/systemd/system/ftp.socket.d/{name}.conf <<'EOF'\n[Socket]\n{text}\nEOF\n"
                "systemctl daemon-reload && systemctl restart ftp.socket")


def remove_drop_in(machine, name):
    machine.run(f"rm /etc/systemd/system/ftp.socket.d/{name}.conf && systemctl daemon-reload "
                "&& systemctl restart ftp.socket")


def test_a_max_connections_per_source_drop_in_is_enforced(machine):
    socket_drop_in(machine, "per-source", "MaxConnectionsPerSource=1")
    try:
        r = machine.run("python3 - <<'EOF'\n" + CONNECT + r"""
first, a = banner("127.0.0.1")
second, b = banner("127.0.0.1")
other, c = banner("127.0.0.2")   # another source is not limited
print(a, b, c)
EOF""")
    finally:
        remove_drop_in(machine, "per-source")
    # systemd closes the second connection from the source at once: no keepftpd, no banner.
    assert r.stdout.split() == ["220", "closed", "220"], r.stdout
    log = machine.run("journalctl -u ftp.socket --no-pager").stdout
    assert re.search(r"ftp\.socket: Too many incoming connections \([0-9]+\) from source "
                     r"127\.0\.0\.1, dropping connection", log), log[-2000:]


def test_an_ip_address_deny_drop_in_is_enforced(machine):
    socket_drop_in(machine, "deny", "IPAddressDeny=127.0.0.2")
    try:
        r = machine.run("python3 - <<'EOF'\n" + CONNECT + r"""
allowed, a = banner("127.0.0.1")
denied, b = banner("127.0.0.2", timeout=3)
print(a, b)
EOF""")
    finally:
        remove_drop_in(machine, "deny")
    # The denied source's packets are dropped (systemd's BPF filter): it never connects.
    assert r.stdout.split() == ["220", "TimeoutError"], r.stdout


def test_systemctl_status_lists_each_connection_unit(machine):
    r = machine.run("python3 - <<'EOF'\n" + CONNECT + r"""
import subprocess
held, a = banner("127.0.0.1")
print(a, held.getsockname()[1])
print(subprocess.run(["systemctl", "status", "--no-pager", "ftp.socket"],
                     capture_output=True, text=True).stdout)
EOF""")
    first, status = r.stdout.split("\n", 1)
    code, port = first.split()
    assert code == "220"
    assert "Active: active (listening)" in status, status
    assert re.search(r"Connected: [1-9]", status), status
    assert re.search(r"Triggers: .*ftp@[0-9]+-127\.0\.0\.1:21-127\.0\.0\.1:%s\.service" % port,
                     status), status
