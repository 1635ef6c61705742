"""Local users through the real PAM stack (pam.d/keepftpd, pam_unix): logins, the rules that
refuse them, and where their sessions are jailed."""

import ftplib
import io
import os
import time

import pytest

from test_privsep import (assert_jailed, assert_session_monitor_confined,
                          children, connection_processes, status, wait_for)

ALICE, BOB, CAROL, DAVE, TOOR = ("kftp-alice", "kftp-bob", "kftp-carol", "kftp-dave",
                                 "kftp-toor")


@pytest.fixture
def local_server(make_server, local_users):
    def make(options=None, **kw):
        settings = {"local_enable": "YES", "anonymous_enable": "NO"}
        settings.update(options or {})
        return make_server(settings, **kw)
    return make


def login(server, user, users):
    ftp = server.ftp(login=False)
    ftp.login(user, users.users[user]["password"])
    return ftp


def retr(ftp, path):
    out = io.BytesIO()
    ftp.retrbinary("RETR " + path, out.write)
    return out.getvalue()


def test_local_login_without_chroot(local_server, local_users):
    s = local_server()
    ftp = login(s, ALICE, local_users)
    home = local_users.users[ALICE]["home"]
    assert ftp.pwd() == home
    assert retr(ftp, "readme.txt") == b"kftp-alice's file\n"
    assert retr(ftp, home + "/readme.txt") == b"kftp-alice's file\n"
    ftp.quit()
    assert "alice-secret" not in s.output()  # passwords never reach a log


def test_wrong_password_and_unknown_user(local_server, local_users):
    s = local_server({"delay_failed_login": "0"})
    c = s.raw()
    c.reply()
    assert c.cmd(f"USER {ALICE}")[0] == 331
    assert c.cmd("PASS wrong")[0] == 530
    assert c.cmd("USER kftp-nobody-here")[0] == 331  # no hint that the user does not exist
    assert c.cmd("PASS whatever")[0] == 530
    assert "wrong" not in s.output() and "whatever" not in s.output()


def test_max_login_fails_closes_the_connection(local_server, local_users):
    s = local_server({"delay_failed_login": "0", "max_login_fails": "2"})
    c = s.raw()
    c.reply()
    for i in range(2):
        assert c.cmd(f"USER {ALICE}")[0] == 331
        assert c.cmd("PASS wrong")[0] == 530
    assert c.closed()
    assert "too many failed logins" in s.output()


def test_delay_failed_login(local_server, local_users):
    s = local_server({"delay_failed_login": "2"})
    c = s.raw()
    c.reply()
    c.cmd(f"USER {ALICE}")
    start = time.monotonic()
    assert c.cmd("PASS wrong")[0] == 530
    assert time.monotonic() - start >= 1.9


def test_delay_successful_login(local_server, local_users):
    s = local_server({"delay_successful_login": "2"})
    c = s.raw()
    c.reply()
    c.cmd(f"USER {ALICE}")
    start = time.monotonic()
    assert c.cmd("PASS alice-secret")[0] == 230
    assert time.monotonic() - start >= 1.9


def test_local_enable_no(make_server, local_users):
    s = make_server({"local_enable": "NO"})
    c = s.raw()
    c.reply()
    assert c.cmd(f"USER {ALICE}")[0] == 530


def test_check_shell(local_server, local_users):
    s = local_server({"delay_failed_login": "0"})
    with pytest.raises(ftplib.error_perm, match="^530"):
        login(s, BOB, local_users)
    assert "check_shell" in s.output()
    s2 = local_server({"check_shell": "NO"})
    assert login(s2, BOB, local_users).pwd() == local_users.users[BOB]["home"]


def test_root_may_not_log_in(local_server, local_users):
    s = local_server({"delay_failed_login": "0"})
    with pytest.raises(ftplib.error_perm, match="^530"):
        login(s, TOOR, local_users)
    assert "root (uid or gid 0) may not log in" in s.output()


def write_list(tree, name, users):
    path = os.path.join(tree.base, name)
    with open(path, "w") as f:
        f.write("# test list\n" + "".join(u + "\n" for u in users))
    return path


def test_userlist_deny_refuses_at_user(local_server, local_users, tree):
    path = write_list(tree, "user_list", [ALICE])
    s = local_server({"userlist_enable": "YES", "userlist_file": path})
    c = s.raw()
    c.reply()
    assert c.cmd(f"USER {ALICE}")[0] == 530  # before any password is asked
    assert c.cmd(f"USER {CAROL}")[0] == 331
    assert c.cmd("PASS carol-secret")[0] == 230


def test_userlist_allow_only_listed(local_server, local_users, tree):
    path = write_list(tree, "user_list", [CAROL])
    s = local_server({"userlist_enable": "YES", "userlist_file": path, "userlist_deny": "NO"})
    c = s.raw()
    c.reply()
    assert c.cmd(f"USER {ALICE}")[0] == 530
    assert c.cmd(f"USER {CAROL}")[0] == 331


def test_missing_userlist_file_refuses_to_serve(local_server, local_users, tree):
    s = local_server({"userlist_enable": "YES", "userlist_file": tree.base + "/nonexistent"})
    assert s.raw().reply()[0] == 421
    assert "userlist_file" in s.output()


def test_chroot_local_user_refuses_a_writable_root(local_server, local_users):
    s = local_server({"chroot_local_user": "YES"})
    c = s.raw()
    c.reply()
    c.cmd(f"USER {ALICE}")
    code, lines = c.cmd("PASS alice-secret")
    assert code == 500
    # The client is told what to report, never the server's directory; the log has the rest.
    assert "refusing to run with a root directory the user can write" in lines[0]
    home = local_users.users[ALICE]["real_home"]
    assert home not in lines[0] and local_users.users[ALICE]["home"] not in lines[0]
    assert wait_for(lambda: "allow_writeable_chroot=YES" in s.output())
    assert home in s.output() or local_users.users[ALICE]["home"] in s.output()


def test_chroot_local_user_with_allow_writeable_chroot(local_server, local_users):
    s = local_server({"chroot_local_user": "YES", "allow_writeable_chroot": "YES"})
    ftp = login(s, ALICE, local_users)
    assert ftp.pwd() == "/"
    assert retr(ftp, "/readme.txt") == b"kftp-alice's file\n"


def test_chrooted_session_audit(local_server, local_users, tree):
    # carol's home is owned by root: a proper jail.
    s = local_server({"chroot_local_user": "YES"})
    c = s.raw()
    c.reply()
    c.cmd(f"USER {CAROL}")
    assert c.cmd("PASS carol-secret")[0] == 230
    assert c.cmd("PWD") == (257, ['257 "/" is the current directory'])
    monitor, jail = connection_processes(s, logged_in=True)
    uid = local_users.users[CAROL]["uid"]
    assert_jailed(jail, uid, local_users.users[CAROL]["real_home"], groups=[uid])
    assert_session_monitor_confined(monitor, uid, tree.empty)


def test_local_session_has_the_users_groups(local_server, local_users):
    s = local_server()
    c = s.raw()
    c.reply()
    c.cmd(f"USER {ALICE}")
    assert c.cmd("PASS alice-secret")[0] == 230
    monitor, jail = connection_processes(s, logged_in=True)
    st = status(jail)
    assert "61020" in st["Groups"].split()  # kftp-staff
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2"
    assert os.readlink(f"/proc/{jail}/root") == "/"  # not chrooted


def test_chroot_list(local_server, local_users, tree):
    path = write_list(tree, "chroot_list", [CAROL])
    s = local_server({"chroot_list_enable": "YES", "chroot_list_file": path})
    assert login(s, CAROL, local_users).pwd() == "/"  # listed: chrooted
    assert login(s, ALICE, local_users).pwd() == local_users.users[ALICE]["home"]
    # With chroot_local_user=YES the list names the users who are NOT chrooted.
    s2 = local_server({"chroot_local_user": "YES", "chroot_list_enable": "YES",
                       "chroot_list_file": path})
    assert login(s2, CAROL, local_users).pwd() == local_users.users[CAROL]["home"]


def test_local_root_with_user_sub_token(local_server, local_users):
    s = local_server({"local_root": local_users.srv + "/$USER", "user_sub_token": "$USER"})
    ftp = login(s, ALICE, local_users)
    assert ftp.pwd() == local_users.srv + "/" + ALICE
    assert retr(ftp, "private.txt") == b"alice's private folder\n"


def test_passwd_chroot_enable(local_server, local_users):
    s = local_server({"chroot_local_user": "YES", "passwd_chroot_enable": "YES"})
    ftp = login(s, DAVE, local_users)
    assert ftp.pwd() == "/" + DAVE
    assert retr(ftp, "readme.txt") == b"kftp-dave's file\n"
    assert ftp.nlst("/") == ["/" + DAVE]


def test_anonymous_and_local_together(make_server, local_users):
    s = make_server({"local_enable": "YES"})
    assert s.ftp().pwd() == "/"  # anonymous
    assert login(s, ALICE, local_users).pwd() == local_users.users[ALICE]["home"]


def test_text_userdb_names(local_server, local_users):
    s = local_server({"text_userdb_names": "YES"})
    ftp = login(s, ALICE, local_users)
    lines = []
    ftp.retrlines("LIST", lines.append)
    readme = [l for l in lines if l.endswith(" readme.txt")][0]
    assert readme.split()[2:4] == [ALICE, ALICE]
    s2 = local_server()
    lines = []
    login(s2, ALICE, local_users).retrlines("LIST", lines.append)
    readme = [l for l in lines if l.endswith(" readme.txt")][0]
    assert readme.split()[2] == str(local_users.users[ALICE]["uid"])


def test_tilde_user_enable(local_server, local_users):
    s = local_server({"tilde_user_enable": "YES"})
    ftp = login(s, ALICE, local_users)
    ftp.cwd(f"~{CAROL}")
    assert ftp.pwd() == local_users.users[CAROL]["home"]
    assert retr(ftp, "~/readme.txt") == b"kftp-alice's file\n"
    assert retr(ftp, f"~{CAROL}/readme.txt") == b"kftp-carol's file\n"
    s2 = local_server()
    with pytest.raises(ftplib.error_perm, match="^550"):
        login(s2, ALICE, local_users).cwd(f"~{CAROL}")


def test_user_config_dir(local_server, local_users, tree):
    d = os.path.join(tree.base, "users")
    os.makedirs(d)
    with open(os.path.join(d, ALICE), "w") as f:
        f.write(f"local_root={local_users.srv}/{ALICE}\nchroot_local_user=YES\n"
                "allow_writeable_chroot=YES\nhide_ids=YES\n")
    s = local_server({"user_config_dir": d})
    ftp = login(s, ALICE, local_users)
    assert ftp.pwd() == "/"  # alice's own settings: chrooted into her folder
    assert retr(ftp, "private.txt") == b"alice's private folder\n"
    assert login(s, CAROL, local_users).pwd() == local_users.users[CAROL]["home"]  # no file
    # The same checks as the main file: a bad value refuses the login and says why.
    with open(os.path.join(d, CAROL), "w") as f:
        f.write("hide_ids=perhaps\n")
    s2 = local_server({"user_config_dir": d, "delay_failed_login": "0"})
    with pytest.raises(ftplib.error_perm, match="^530"):
        login(s2, CAROL, local_users)
    assert f"{d}/{CAROL}:1: hide_ids:" in s2.output()
    # ... and so does an insecure one.
    os.chmod(os.path.join(d, ALICE), 0o666)
    with pytest.raises(ftplib.error_perm, match="^530"):
        login(s2, ALICE, local_users)


def maps_libpam(pid):
    with open(f"/proc/{pid}/maps") as f:
        return any("/libpam.so" in line for line in f)


def test_libpam_is_loaded_only_for_a_login_that_uses_it(local_server, local_users):
    """keepftpd is not linked with libpam (pam_library.h): an anonymous session maps it in no
    process; the monitor loads it at a local user's PASS, and that session's processes have it."""
    from test_privsep import process_chain
    s = local_server({"anonymous_enable": "YES"})
    c = s.raw()
    assert c.reply()[0] == 220
    assert not any(maps_libpam(pid) for pid in connection_processes(s))
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("PASS x@y")[0] == 230
    assert not any(maps_libpam(pid) for pid in process_chain(s, 3))
    assert c.cmd("QUIT")[0] == 221
    assert wait_for(lambda: not children(s.proc.pid))
    ftp = login(s, ALICE, local_users)
    keeper, session_monitor, session = process_chain(s, 3)
    assert maps_libpam(keeper) and maps_libpam(session_monitor)
    assert retr(ftp, "readme.txt") == b"kftp-alice's file\n"
    ftp.quit()


def test_an_anonymous_login_after_rein_gets_none_of_the_local_users_account(local_server,
                                                                          local_users):
    # REIN after login (which needs isolate=NO, isolate_network=NO); with anon_root=/ the
    # anonymous session is not chrooted, so "~" would show a home if it had one.
    s = local_server({"anonymous_enable": "YES", "anon_root": "/", "tilde_user_enable": "YES",
                      "isolate": "NO", "isolate_network": "NO"})
    c = s.raw()
    assert c.reply()[0] == 220
    assert c.cmd(f"USER {ALICE}")[0] == 331
    assert c.cmd("PASS " + local_users.users[ALICE]["password"])[0] == 230
    assert c.cmd("CWD ~")[0] == 250
    home = local_users.users[ALICE]["home"]
    assert c.cmd("PWD") == (257, [f'257 "{home}" is the current directory'])
    assert c.cmd("REIN")[0] == 220
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("PASS guest@example.org")[0] == 230
    assert c.cmd("CWD ~")[0] == 550  # an anonymous user has no home: no alice's
    assert c.cmd("PWD") == (257, ['257 "/" is the current directory'])
