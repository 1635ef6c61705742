"""Virtual users as the ArchWiki sets them up: pam_pwdfile with an MD5-crypt password file,
guest_enable, guest_username, virtual_use_local_privs, and private folders via local_root and
user_sub_token."""

import ftplib
import io
import os
import stat
import subprocess

import pytest

from test_privsep import assert_jailed, assert_session_monitor_confined, connection_processes

VIRTUAL_UID = 61030


def md5_crypt(password):
    return subprocess.run(["openssl", "passwd", "-1", password], capture_output=True,
                          check=True).stdout.decode().strip()


@pytest.fixture(scope="module")
def virtual(local_users):
    base = local_users.base
    srv = os.path.join(base, "srv-virtual")
    local_users.add("kftp-virtual", VIRTUAL_UID, "not-used", home=srv,
                    files={"shared.txt": b"shared by every virtual user\n"})
    for user in ("vuser1", "vuser2"):
        d = os.path.join(srv, user)
        os.makedirs(d)
        with open(os.path.join(d, "mine.txt"), "wb") as f:
            f.write(f"{user}'s folder\n".encode())
        os.chown(d, VIRTUAL_UID, VIRTUAL_UID)
    pwdfile = os.path.join(base, "virtual.passwd")
    with open(pwdfile, "w") as f:
        f.write(f"vuser1:{md5_crypt('one-secret')}\nvuser2:{md5_crypt('two-secret')}\n")
    with open("/etc/pam.d/keepftpd-virtual", "w") as f:
        f.write(f"auth required pam_pwdfile.so pwdfile {pwdfile}\n"
                "account required pam_permit.so\n")
    return {"srv": srv, "uid": VIRTUAL_UID}


BASE = {"anonymous_enable": "NO", "local_enable": "YES", "pam_service_name": "keepftpd-virtual",
        "guest_enable": "YES", "guest_username": "kftp-virtual", "hide_ids": "YES",
        "chroot_local_user": "YES", "allow_writeable_chroot": "YES"}


def vlogin(server, user="vuser1", password="one-secret"):
    ftp = server.ftp(login=False)
    ftp.login(user, password)
    return ftp


def get(ftp, path):
    out = io.BytesIO()
    ftp.retrbinary("RETR " + path, out.write)
    return out.getvalue()


def test_virtual_login_runs_as_guest_username(make_server, virtual, tree):
    s = make_server(BASE)
    c = s.raw()
    c.reply()
    c.cmd("USER vuser1")
    assert c.cmd("PASS one-secret")[0] == 230
    assert c.cmd("PWD") == (257, ['257 "/" is the current directory'])
    monitor, jail = connection_processes(s, logged_in=True)
    assert_jailed(jail, virtual["uid"], virtual["srv"], groups=[virtual["uid"]])
    assert_session_monitor_confined(monitor, virtual["uid"], tree.empty)
    assert 'virtual login as "vuser1" (running as kftp-virtual)' in s.output()
    ftp = vlogin(s)
    assert get(ftp, "shared.txt") == b"shared by every virtual user\n"


def test_wrong_password_and_unknown_virtual_user(make_server, virtual):
    s = make_server(dict(BASE, delay_failed_login="0"))
    with pytest.raises(ftplib.error_perm, match="^530"):
        vlogin(s, "vuser1", "two-secret")
    with pytest.raises(ftplib.error_perm, match="^530"):
        vlogin(s, "nobody-here", "x")


def test_private_folders_with_user_sub_token(make_server, virtual):
    s = make_server(dict(BASE, local_root=virtual["srv"] + "/$USER", user_sub_token="$USER"))
    assert get(vlogin(s), "mine.txt") == b"vuser1's folder\n"
    ftp2 = vlogin(s, "vuser2", "two-secret")
    assert get(ftp2, "mine.txt") == b"vuser2's folder\n"
    with pytest.raises(ftplib.error_perm):
        get(ftp2, "../vuser1/mine.txt")


def test_virtual_use_local_privs(make_server, virtual):
    # YES: local users' rights (write_enable, local_umask).
    s = make_server(dict(BASE, write_enable="YES", virtual_use_local_privs="YES",
                         local_umask="022"))
    ftp = vlogin(s)
    ftp.storbinary("STOR vuser1/up.txt", io.BytesIO(b"up"))
    st = os.stat(os.path.join(virtual["srv"], "vuser1", "up.txt"))
    assert st.st_uid == virtual["uid"] and stat.S_IMODE(st.st_mode) == 0o644
    ftp.delete("vuser1/up.txt")
    # NO (the default): anonymous users' rights, so uploads need anon_upload_enable.
    s2 = make_server(dict(BASE, write_enable="YES"))
    with pytest.raises(ftplib.error_perm, match="^550"):
        vlogin(s2).storbinary("STOR vuser1/up2.txt", io.BytesIO(b"x"))
    s3 = make_server(dict(BASE, write_enable="YES", anon_upload_enable="YES"))
    ftp3 = vlogin(s3)
    ftp3.storbinary("STOR vuser1/up3.txt", io.BytesIO(b"x"))
    st = os.stat(os.path.join(virtual["srv"], "vuser1", "up3.txt"))
    assert stat.S_IMODE(st.st_mode) == 0o600  # anon_umask 077
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp3.delete("vuser1/up3.txt")  # no anon_other_write_enable


@pytest.mark.parametrize("local_privs", ["YES", "NO"])
def test_site_umask_only_tightens_for_virtual_users(make_server, virtual, local_privs):
    s = make_server(dict(BASE, write_enable="YES", anon_upload_enable="YES", anon_umask="027",
                         local_umask="027", virtual_use_local_privs=local_privs))
    ftp = vlogin(s)
    assert ftp.sendcmd("SITE UMASK 002") == \
        "200 UMASK set to 0027 (this session can only add to its umask 0027)"
    ftp.storbinary(f"STOR vuser1/umask-{local_privs}.txt", io.BytesIO(b"x"))
    st = os.stat(os.path.join(virtual["srv"], "vuser1", f"umask-{local_privs}.txt"))
    assert stat.S_IMODE(st.st_mode) == 0o640
