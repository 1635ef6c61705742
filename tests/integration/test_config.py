"""Configuration as an administrator meets it: --check-config, and refusing to serve when broken."""

import os
import subprocess

import pytest

from conftest import KEEPFTPD


def check(tree, text, mode=0o644):
    path = os.path.join(tree.base, "check.conf")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    r = subprocess.run([KEEPFTPD, "--check-config", "--config", path],
                       capture_output=True, timeout=20)
    return r.returncode, r.stdout.decode() + r.stderr.decode(), path


def test_check_config_ok(tree):
    code, out, _ = check(tree, f"# vsftpd-style, inetd mode\nlisten=NO\nlisten_ipv6=NO\n"
                               f"background=NO\nanonymous_enable=YES\nanon_root={tree.anon}\n"
                               f"nopriv_user=kftp-nopriv\nsecure_chroot_dir={tree.empty}\n"
                               f"login_state_dir={tree.base}/state\n")
    assert code == 0 and out.strip() == "OK"


# Configurations that parse but cannot serve: (name, options over the test tree's working
# ones, the option the check must name, a word of its message, whether a connection gets 421).
# {base} is the tree's own directory.
CANNOT_SERVE = [
    ("secure_chroot_dir missing", {"secure_chroot_dir": "{base}/no-empty"}, "secure_chroot_dir",
     "No such file or directory", True),
    ("anon_root missing", {"anon_root": "{base}/no-ftp"}, "anon_root",
     "No such file or directory", True),
    ("ftp_username's home missing", {"anon_root": None}, "ftp_username", "home directory", True),
    ("nopriv_user unknown", {"nopriv_user": "kftp-no-such-user"}, "nopriv_user",
     "no such user", True),
    ("ftp_username unknown", {"anon_root": None, "ftp_username": "kftp-no-such-user"},
     "ftp_username", "no such user", True),
    ("userlist_file missing", {"local_enable": "YES", "userlist_enable": "YES",
                               "userlist_file": "{base}/no-list"}, "userlist_file",
     "No such file or directory", True),
    ("chroot_list_file missing", {"local_enable": "YES", "chroot_list_enable": "YES",
                                  "chroot_list_file": "{base}/no-list"}, "chroot_list_file",
     "No such file or directory", True),
    ("pam_service_name unknown", {"local_enable": "YES", "pam_service_name": "kftp-no-such"},
     "pam_service_name", "no such PAM service", True),
    ("guest_username unknown", {"local_enable": "YES", "guest_enable": "YES",
                                "guest_username": "kftp-no-such-user"}, "guest_username",
     "no such user", True),
    ("chown_username unknown", {"write_enable": "YES", "anon_upload_enable": "YES",
                                "chown_uploads": "YES", "chown_username": "kftp-no-such-user"},
     "chown_username", "no such user", True),
    ("login_state_dir's parent missing", {"login_state_dir": "{base}/no-parent/state"},
     "login_state_dir", "does not exist", True),
    ("certificate missing", {"ssl_enable": "YES", "rsa_cert_file": "{base}/no-cert.pem"},
     "rsa_cert_file", "No such file or directory", True),
    ("implicit FTPS's certificate missing", {"implicit_ssl": "YES",
                                            "rsa_cert_file": "{base}/no-cert.pem"},
     "rsa_cert_file", "No such file or directory", True),
    ("banner_file missing", {"banner_file": "{base}/no-banner"}, "banner_file",
     "No such file or directory", True),
    ("transfer log's directory missing", {"xferlog_enable": "YES", "xferlog_std_format": "YES",
                                          "xferlog_file": "{base}/no-dir/xferlog"},
     "xferlog_file", "does not exist", True),
    ("a broken user_config_dir file", {"user_config_dir": "{base}/users"}, "user_config_dir",
     "bogus_option", False),
]


@pytest.mark.parametrize("name, options, option, word, refused", CANNOT_SERVE,
                         ids=[c[0] for c in CANNOT_SERVE])
def test_check_config_refuses_what_cannot_serve(make_server, tree, name, options, option, word,
                                                refused):
    """Each is refused by --check-config, naming the file, the line that sets the option, the
    option and what to do; and a connection to it is refused too (421), never served with a
    server path in a reply."""
    users = os.path.join(tree.base, "users")
    os.makedirs(users, exist_ok=True)
    with open(os.path.join(users, "kftp-alice"), "w") as f:
        f.write("bogus_option=1\n")
    s = make_server({k: (v.format(base=tree.base) if v else v) for k, v in options.items()})
    r = subprocess.run([KEEPFTPD, "--check-config", "--config", s.config_path],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "OK" not in r.stdout.split(), r.stdout
    lines = [l for l in r.stdout.splitlines() if f": {option}: " in l or f"{option}=" in l]
    assert lines and any(word in l for l in lines), r.stdout
    config = open(s.config_path).read().splitlines()
    if option in (l.split("=", 1)[0] for l in config):
        number = 1 + [l.split("=", 1)[0] for l in config].index(option)
        assert any(l.startswith(f"{s.config_path}:{number}: {option}: ") for l in lines), r.stdout
    if refused:
        c = s.raw()
        code, text = c.reply()
        assert code == 421, text
        assert tree.base not in " ".join(text)
        assert c.closed()
        assert "connection refused: the configuration cannot serve it" in s.output()


def test_check_config_as_another_user_than_the_server_runs_as(tree):
    """A root-mode file checked by a normal user: the files and accounts root would use cannot be
    checked from there, so it is not OK."""
    path = os.path.join(tree.base, "root-mode.conf")
    with open(path, "w") as f:
        f.write(f"anonymous_enable=YES\nanon_root={tree.anon}\nsecure_chroot_dir={tree.empty}\n")
    os.chmod(path, 0o644)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", KEEPFTPD,
                        "--check-config", "--config", path], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1 and "check it as root" in r.stdout, r.stdout + r.stderr


def test_check_config_lists_every_error(tree):
    code, out, path = check(tree, "anonymous_enable=MAYBE\n"
                                  "bogus_option=1\n"
                                  "idle_session_timeout=abc\n"
                                  "listen_port=2121\n"
                                  "max_clients=10\n"
                                  "listen=YES\n"
                                  "hide_ids=YES\n"
                                  "hide_ids=NO\n"
                                  "one_process_model=YES\n"
                                  "no equals sign\n")
    assert code != 0
    lines = out.strip().splitlines()
    assert any(l.startswith(f"{path}:1: anonymous_enable:") for l in lines), out
    assert any(l.startswith(f"{path}:2: bogus_option:") and "unknown" in l for l in lines), out
    assert any(l.startswith(f"{path}:3: idle_session_timeout:") for l in lines), out
    assert any(l.startswith(f"{path}:4: listen_port:") and "ListenStream" in l for l in lines)
    assert any(l.startswith(f"{path}:5: max_clients:") and "MaxConnections" in l for l in lines)
    assert any(l.startswith(f"{path}:6: listen:") and "ftp.socket" in l for l in lines), out
    assert any(l.startswith(f"{path}:8: hide_ids:") and "7" in l for l in lines), out
    assert any(l.startswith(f"{path}:9: one_process_model:") and "privilege separation" in l
               for l in lines), out
    assert any(l.startswith(f"{path}:10:") for l in lines), out
    assert "OK" not in lines


def test_insecure_config_file_is_refused(tree):
    code, out, path = check(tree, "anonymous_enable=YES\n", mode=0o666)
    assert code != 0 and path in out and "writable" in out


def test_missing_config_file(tree):
    r = subprocess.run([KEEPFTPD, "--check-config", "--config", "/nonexistent/keepftpd.conf"],
                       capture_output=True, timeout=20)
    assert r.returncode != 0 and b"/nonexistent/keepftpd.conf" in r.stdout + r.stderr


def test_broken_config_gets_421_and_reason_on_stderr(make_server, tree):
    s = make_server(raw_config="anonymous_enable=YES\nbogus_option=1\n")
    c = s.raw()
    code, lines = c.reply()
    assert code == 421
    assert c.closed()
    assert "bogus_option" in s.output()


def test_insecurely_owned_config_gets_421(make_server, tree):
    s = make_server()
    os.chown(s.config_path, 1234, 1234)
    c = s.raw()
    assert c.reply()[0] == 421
    assert "owned" in s.output() or "owner" in s.output()


def test_writable_secure_chroot_dir_gets_421_with_the_fix(make_server, tree):
    os.chmod(tree.empty, 0o777)
    s = make_server()
    c = s.raw()
    assert c.reply()[0] == 421
    assert c.closed()
    out = s.output()
    assert f"secure_chroot_dir={tree.empty}: must be a directory owned by root" in out
    assert "chmod 755" in out


def test_non_empty_secure_chroot_dir_gets_421(make_server, tree):
    with open(os.path.join(tree.empty, "leftover"), "w") as f:
        f.write("x")
    s = make_server()
    assert s.raw().reply()[0] == 421
    assert "must be empty, but contains leftover (empty it" in s.output()


def test_missing_secure_chroot_dir_gets_421(make_server, tree):
    s = make_server({"secure_chroot_dir": tree.empty + "-missing"})
    assert s.raw().reply()[0] == 421
    assert "No such file or directory (create it with: mkdir -p" in s.output()
