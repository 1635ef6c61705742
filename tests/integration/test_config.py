"""Configuration as an administrator meets it: --check-config, and refusing to serve when broken."""

import os
import subprocess

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
                               f"background=NO\nanonymous_enable=YES\nanon_root={tree.anon}\n")
    assert code == 0 and out.strip() == "OK"


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
