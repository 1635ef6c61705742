"""keepftpd --from-vsftpd on real vsftpd configurations: Debian's default (from the vsftpd
package), Fedora's, and each setup of the ArchWiki article (tests/data/vsftpd). Every line of the
input is accounted for, the output passes --check-config, and the socket and xinetd settings
carry what the vsftpd file said about listening and limits."""

import configparser
import glob
import os
import re
import subprocess

import pytest

from conftest import KEEPFTPD, REPO, free_port
from test_service import (Superserver, anonymous_session, packaged_binary,  # noqa: F401
                          packaged_config, read_built, superservers, write_keepftpd_config)

DATA = os.path.join(REPO, "tests", "data", "vsftpd")
CONFIGS = sorted(glob.glob(os.path.join(DATA, "*.conf"))) + ["/etc/vsftpd.conf"]


def migrate(src, out):
    r = subprocess.run([KEEPFTPD, "--from-vsftpd", src, "--out", str(out)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def check_config(path, tls_cert=None):
    """--check-config; with tls_cert, as on a machine where the certificate the file names
    exists (a private mount namespace puts it there)."""
    cmd = [KEEPFTPD, "--check-config", "--config", path]
    if tls_cert:
        want = re.search(r"^rsa_cert_file=(.*)$", open(path).read(), re.M).group(1)
        script = ('set -e; mount -t tmpfs tmpfs "$(dirname "$1")"; cp "$2" "$1"; '
                  'chmod 600 "$1"; shift 2; exec "$@"')
        cmd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh",
               want, tls_cert] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).strip()


@pytest.fixture
def cert(tmp_path):
    path = tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(path), "-out", str(path), "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    return str(path)


@pytest.mark.parametrize("src", CONFIGS, ids=os.path.basename)
def test_migration_accounts_for_every_line_and_passes_check_config(src, tmp_path, cert):
    assert os.path.exists(src), f"{src} is missing (./dev test installs the vsftpd package)"
    out = tmp_path / "out"
    report = migrate(src, out)
    for section in ("Same in keepftpd", "Changed meaning or default",
                    "Moved to the socket unit and the xinetd entry", "Needs your decision"):
        assert section in report, report
    conf = (out / "keepftpd.conf").read_text()
    written = conf.splitlines()
    # Every option line of the input is in the output: as itself, or commented out and marked.
    for number, line in enumerate(open(src).read().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name = line.split("=", 1)[0]
        kept = [w for w in written if w.split("=", 1)[0] == name]
        marked = [w for w in written if w.startswith("# [") and w.endswith("] " + line)]
        assert kept or marked, f"line {number} ({line}) vanished:\n{conf}"
        if marked:  # and the report says why, naming the line or the option
            assert f"line {number}:" in report or name in report, (line, report)
    uses_tls = re.search(r"^ssl_enable=YES$", conf, re.M) is not None
    rc, text = check_config(str(out / "keepftpd.conf"), cert if uses_tls else None)
    # The result passes --check-config, or the report lists each of its failures on this machine
    # (a directory or an account the vsftpd setup had and this machine lacks) as a decision.
    if rc != 0:
        decisions = report.split("Needs your decision", 1)[1].split("Check the result:", 1)[0]
        for line in text.splitlines():
            assert "--check-config here: " + line in decisions, (line, report)
    else:
        assert text == "OK", conf


def socket_settings(out):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    text = (out / "ftp.socket.d" / "override.conf").read_text()
    # ListenStream= appears twice (a reset, then the value): keep the last.
    parser.read_string(text)
    return dict(parser["Socket"])


def xinetd_settings(out):
    text = (out / "xinetd.d" / "keepftpd").read_text()
    return dict(re.findall(r"^\t(\w+)\s+\+?=\s*(.*)$", text, re.M))


def test_listening_and_limits_move_to_the_socket_and_xinetd(tmp_path):
    migrate(os.path.join(DATA, "archwiki-ports.conf"), tmp_path / "ports")
    assert socket_settings(tmp_path / "ports")["ListenStream"] == "0.0.0.0:2211"
    x = xinetd_settings(tmp_path / "ports")
    assert x["port"] == "2211" and x["type"] == "UNLISTED"
    report = migrate(os.path.join(DATA, "archwiki-limits.conf"), tmp_path / "limits")
    s = socket_settings(tmp_path / "limits")
    assert (s["MaxConnections"], s["MaxConnectionsPerSource"]) == ("50", "2")
    x = xinetd_settings(tmp_path / "limits")
    assert (x["instances"], x["per_source"]) == ("50", "2")
    assert "MaxConnections=50" in report
    # Debian's: listen=NO, listen_ipv6=YES: port 21, both families.
    migrate("/etc/vsftpd.conf", tmp_path / "debian")
    assert socket_settings(tmp_path / "debian")["ListenStream"] == "21"
    assert xinetd_settings(tmp_path / "debian")["flags"] == "IPv6"


def test_the_drop_in_and_the_xinetd_entry_work(tmp_path, tree, superservers):
    """The drop-in passes systemd-analyze verify beside the installed units, and xinetd serves a
    session with the entry (moved to a free loopback port)."""
    migrate(os.path.join(DATA, "archwiki-limits.conf"), tmp_path / "out")
    units = tmp_path / "units"
    (units / "ftp.socket.d").mkdir(parents=True)
    for name in ("ftp.socket", "ftp@.service"):
        text = read_built(os.path.join("units", name))
        (units / name).write_text(text.replace(packaged_binary(), KEEPFTPD))
    (units / "ftp.socket.d" / "override.conf").write_text(
        (tmp_path / "out" / "ftp.socket.d" / "override.conf").read_text())
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(units / "ftp.socket")],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, SYSTEMD_UNIT_PATH=f"{units}:"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "override.conf" not in r.stdout + r.stderr  # read, and without a warning
    entry = (tmp_path / "out" / "xinetd.d" / "keepftpd").read_text()
    # The server and configuration the shipped entry names: this build's installed paths.
    shipped = read_built(os.path.join("xinetd", "keepftpd"))
    for key in ("server", "server_args"):
        line = re.search(rf"^\s*{key}\s*=.*$", shipped, re.M).group(0).strip()
        assert re.search(rf"^\s*{re.escape(line)}$", entry, re.M), (line, entry)
    port = free_port()
    config = write_keepftpd_config(tree)
    entry = (entry.replace(packaged_binary(), KEEPFTPD)
             .replace("--config " + packaged_config(), "--config " + config)
             .replace("\tdisable ", f"\ttype = UNLISTED\n\tport = {port}\n\tbind = 127.0.0.1\n"
                      "\tdisable "))
    xconf = tmp_path / "xinetd.conf"
    xconf.write_text(entry)
    s = Superserver(["xinetd", "-dontfork", "-f", str(xconf), "-pidfile",
                     str(tmp_path / "xinetd.pid")], port, str(tmp_path / "xinetd.out"))
    superservers.append(s)
    anonymous_session(s, tree)


def test_seccomp_sandbox_no_is_not_carried_over(tmp_path):
    report = migrate(os.path.join(DATA, "archwiki-virtual-users.conf"), tmp_path / "out")
    conf = (tmp_path / "out" / "keepftpd.conf").read_text()
    assert not re.search(r"^seccomp_sandbox=NO", conf, re.M)
    assert "# [left out: keepftpd's seccomp sandbox works with this libc] seccomp_sandbox=NO" in conf
    assert "seccomp_log_only=YES" in report


def test_values_vsftpd_read_leniently(tmp_path):
    src = tmp_path / "lenient.conf"
    src.write_text("anonymous_enable=yes\nidle_session_timeout=600 # ten minutes\n"
                   "max_login_fails=3\nmax_login_fails=5\nbogus_option=1\nnot an option\n")
    report = migrate(str(src), tmp_path / "out")
    conf = (tmp_path / "out" / "keepftpd.conf").read_text()
    assert "anonymous_enable=yes\n" in conf
    assert "\nidle_session_timeout=600\n" in conf
    assert "idle_session_timeout=600 # ten minutes is written as idle_session_timeout=600" in report
    assert "# [set again on line 4] max_login_fails=3" in conf and "\nmax_login_fails=5\n" in conf
    assert "# [unknown option] bogus_option=1" in conf
    assert "line 6: 'not an option' is not an option=value line" in report


def test_existing_files_are_never_overwritten(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keepftpd.conf").write_text("mine\n")
    r = subprocess.run([KEEPFTPD, "--from-vsftpd", "/etc/vsftpd.conf", "--out", str(out)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "exists" in r.stderr
    assert (out / "keepftpd.conf").read_text() == "mine\n"


def from_vsftpd_items(report):
    """The items of the report's "Still taken from vsftpd" section."""
    section = report.split("Still taken from vsftpd", 1)[1].split("Check the result:", 1)[0]
    return [l[4:] for l in section.splitlines() if l.startswith("  - ")]


def test_what_debian_s_config_still_takes_from_vsftpd_and_the_commands_that_end_it(tmp_path):
    """Debian's /etc/vsftpd.conf: the converted file no longer uses vsftpd's empty directory, and
    the report lists the PAM service, the /etc/ftpusers it reads and the transfer log with their
    commands. Run in a copy of /etc, then with every file the vsftpd package put in /etc deleted
    (apt-get purge), keepftpd's PAM service and the files it reads are all there, and nothing the
    configuration or the service names is vsftpd's any more."""
    out = tmp_path / "out"
    report = migrate("/etc/vsftpd.conf", out)
    conf = (out / "keepftpd.conf").read_text()
    assert not re.search(r"^secure_chroot_dir=", conf, re.M), conf
    assert "# [vsftpd's; keepftpd's default, /usr/share/empty, is used] " \
           "secure_chroot_dir=/var/run/vsftpd/empty" in conf
    items = from_vsftpd_items(report)
    assert len(items) == 3, report
    assert any(i.startswith("pam_service_name=vsftpd: /etc/pam.d/vsftpd belongs to the vsftpd "
                            "package") and "Run: cp /etc/pam.d/vsftpd /etc/pam.d/keepftpd; then "
               "set pam_service_name=keepftpd" in i for i in items), items
    assert any(i.startswith("/etc/ftpusers, which /etc/pam.d/vsftpd reads, belongs to the vsftpd "
                            "package") for i in items), items
    assert any(i.startswith("vsftpd_log_file=/var/log/vsftpd.log") for i in items), items
    # Follow the report: its commands, then its settings.
    commands, settings = [], {}
    for item in items:
        if "Run: " in item:
            run = item.split("Run: ", 1)[1].split("; then set ", 1)[0]
            commands += run.split("; ")
        settings.update(re.findall(r"(?:set|and) (\w+)=(\S+?)(?=[ ;]|$)", item))
    assert settings == {"pam_service_name": "keepftpd",
                        "vsftpd_log_file": "/var/log/keepftpd.log"}, settings
    lines = [l for l in conf.splitlines() if l.split("=", 1)[0] not in settings]
    conf = "\n".join(lines + [f"{k}={v}" for k, v in settings.items()]) + "\n"
    purged = subprocess.run(["dpkg-query", "-L", "vsftpd"], capture_output=True, text=True,
                            check=True).stdout.split()
    purged = [p for p in purged if p.startswith("/etc/") and os.path.isfile(p)]
    assert "/etc/pam.d/vsftpd" in purged and "/etc/ftpusers" in purged
    result = tmp_path / "result"
    result.mkdir()
    script = ("set -e; cd /etc; mount -t tmpfs -o mode=755 tmpfs /etc; cp -a . /etc/; cd /; "
              + "".join(c + "; " for c in commands)
              + "".join(f"rm {p}; " for p in purged)
              + f"cp /etc/pam.d/keepftpd {result}/pam; "
              + f"cp /etc/logrotate.d/keepftpd {result}/logrotate; "
              + f"for f in $(grep -o '/etc/[^ ]*' /etc/pam.d/keepftpd); do test -f $f; done")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                        script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (commands, r.stderr)
    pam = (result / "pam").read_text()
    rules = [l for l in pam.splitlines() if not l.startswith("#")]
    assert "file=/etc/keepftpd.ftpusers" in pam and "vsftpd" not in "".join(rules), pam
    assert (result / "logrotate").read_text().startswith("/var/log/keepftpd.log\n")
    values = [l.split("=", 1)[1] for l in conf.splitlines() if "=" in l and l[0] != "#"]
    assert not [v for v in values if "vsftpd" in v], conf


def test_an_anonymous_archwiki_config_takes_nothing_from_vsftpd(tmp_path):
    report = migrate(os.path.join(DATA, "archwiki-anonymous.conf"), tmp_path / "out")
    assert "Still taken from vsftpd, to change before its package goes (0)\n" in report, report
