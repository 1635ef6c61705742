"""How keepftpd is started: options, and refusing to run on anything but a connected socket."""

import json
import os
import socket
import subprocess

from conftest import KEEPFTPD


def run(args, **kw):
    return subprocess.run([KEEPFTPD] + args, capture_output=True, timeout=20, **kw)


def test_version_and_help():
    r = run(["--version"])
    assert r.returncode == 0 and r.stdout.startswith(b"keepftpd ")
    r = run(["--help"])
    assert r.returncode == 0
    for opt in (b"--config", b"--check-config", b"--version", b"--help"):
        assert opt in r.stdout


def test_unknown_option_is_a_usage_error():
    r = run(["--bogus"])
    assert r.returncode == 2 and b"--bogus" in r.stderr


def test_refuses_a_pipe():
    r = run(["--config", "/nonexistent"], stdin=subprocess.PIPE)
    assert r.returncode == 2
    assert b"socket" in r.stderr


def test_refuses_a_file():
    with open("/dev/null") as f:
        r = run([], stdin=f)
    assert r.returncode == 2 and b"socket" in r.stderr


def test_refuses_a_listening_socket():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    r = run([], stdin=s.fileno())
    s.close()
    assert r.returncode == 2 and b"listening" in r.stderr


def test_refuses_a_terminal():
    import pty
    master, slave = pty.openpty()
    r = run([], stdin=slave)
    os.close(master)
    os.close(slave)
    assert r.returncode == 2 and b"socket" in r.stderr


def test_features_json_matches_the_live_server(make_server, tree):
    s = make_server({"ssl_enable": "NO", "pasv_min_port": "40000", "pasv_max_port": "40100",
                     "local_umask": "022"})
    r = run(["--features", "--json", "--config", s.config_path])
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["version"] == run(["--version"]).stdout.decode().split()[1]
    c = s.raw()
    c.reply()
    code, lines = c.cmd("FEAT")
    assert code == 211
    assert report["feat"] == [l.strip() for l in lines[1:-1]]
    opts = report["options"]
    assert opts["pasv_min_port"] == 40000 and opts["pasv_max_port"] == 40100
    assert opts["local_umask"] == 0o22 and opts["anonymous_enable"] is True
    assert opts["anon_root"] == tree.anon and opts["ssl_enable"] is False
    assert set(report["build"]) >= {"openssl", "libseccomp", "tls", "pam"}
    # With TLS on, FEAT lists AUTH TLS, PBSZ and PROT, and so does the report.
    text = open(s.config_path).read().replace("ssl_enable=NO", "ssl_enable=YES")
    with open(s.config_path, "w") as f:
        f.write(text)
    report = json.loads(run(["--features", "--json", "--config", s.config_path]).stdout)
    assert "AUTH TLS" in report["feat"] and "PBSZ" in report["feat"]


def test_the_seccomp_filters_are_compiled_in_and_libseccomp_is_not_loaded():
    # README: libseccomp compiles the filters when keepftpd is built and never runs in a session.
    dynamic = subprocess.run(["readelf", "-d", KEEPFTPD], capture_output=True, text=True,
                             check=True).stdout
    assert "(NEEDED)" in dynamic and "libseccomp" not in dynamic
    report = json.loads(run(["--features", "--json"]).stdout)
    version = subprocess.run(["pkg-config", "--modversion", "libseccomp"], capture_output=True,
                             text=True).stdout.strip()
    assert report["build"]["libseccomp"] == (version or report["build"]["libseccomp"])


def test_the_binary_names_only_the_libraries_every_session_needs():
    # README: libsystemd is loaded only when systemd passes the socket, OpenSSL at AUTH TLS,
    # Linux-PAM at a PAM login; none is linked, and HASH's Nettle is part of the binary.
    dynamic = subprocess.run(["readelf", "-d", KEEPFTPD], capture_output=True, text=True,
                             check=True).stdout
    needed = {line.split("[")[1].split(".so")[0] for line in dynamic.splitlines()
              if "(NEEDED)" in line}
    assert needed and not needed & {"libsystemd", "libssl", "libcrypto", "libpam",
                                  "libnettle", "libgcrypt"}


def test_the_binary_is_bound_at_the_exec_with_full_relro():
    # src/meson.build: -z now and -z relro, so every process of a session starts with its
    # GOT bound and read-only.
    dynamic = subprocess.run(["readelf", "-d", KEEPFTPD], capture_output=True, text=True,
                             check=True).stdout
    segments = subprocess.run(["readelf", "-lW", KEEPFTPD], capture_output=True, text=True,
                              check=True).stdout
    assert "BIND_NOW" in dynamic and "GNU_RELRO" in segments


def test_features_needs_json_and_a_good_config(tree):
    r = run(["--features"])
    assert r.returncode == 2
    r = run(["--features", "--json", "--config", "/nonexistent.conf"])
    assert r.returncode == 1 and b"/nonexistent.conf" in r.stderr


def test_features_without_a_config_file_describes_the_defaults():
    """A build not installed yet (no /etc/keepftpd.conf): --features --json describes the
    defaults instead of failing."""
    script = 'mount -t tmpfs tmpfs /etc && exec "$0" --features --json'
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                        script, KEEPFTPD], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    import json
    features = json.loads(r.stdout)
    assert features["options"]["login_state_dir"] == "/run/keepftpd"
    assert features["options"]["secure_chroot_dir"] == "/usr/share/empty"
