"""Writing: uploads that never lose data, and the commands that change the file system, for
local and anonymous users."""

import contextlib
import ftplib
import glob
import hashlib
import io
import os
import signal
import socket
import stat
import struct
import subprocess
import time

import pytest

from conftest import sha256_file, uid_of
from test_privsep import children, connection_processes, process_chain, wait_for
from test_local_users import ALICE, login

WRITE = {"local_enable": "YES", "write_enable": "YES", "anonymous_enable": "NO"}


def put(ftp, path, data, cmd="STOR"):
    return ftp.storbinary(f"{cmd} {path}", io.BytesIO(data))


def get(ftp, path):
    out = io.BytesIO()
    ftp.retrbinary("RETR " + path, out.write)
    return out.getvalue()


def home(local_users, name=ALICE):
    return local_users.users[name]["real_home"]


def leftovers(directory):
    return glob.glob(os.path.join(directory, ".keepftpd-upload-*"))


@contextlib.contextmanager
def small_tmpfs(local_users, name, size, files):
    """A small tmpfs in alice's home, owned by her, holding files {name: bytes}."""
    path = os.path.join(home(local_users), name)
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], check=True)
    try:
        uid = local_users.users[ALICE]["uid"]
        os.chown(path, uid, uid)
        for rel, data in files.items():
            with open(os.path.join(path, rel), "wb") as f:
                f.write(data)
            os.chown(os.path.join(path, rel), uid, uid)
        yield path
    finally:
        subprocess.run(["umount", path])


@pytest.fixture
def writer(make_server, local_users):
    def make(options=None, **kw):
        settings = dict(WRITE)
        settings.update(options or {})
        return make_server(settings, **kw)
    return make


# ---- local users -----------------------------------------------------------------------------

def test_stor_and_retr_with_checksum(writer, local_users):
    s = writer()
    ftp = login(s, ALICE, local_users)
    data = os.urandom(2 * 1024 * 1024 + 3)
    assert put(ftp, "upload.bin", data).startswith("226")
    path = os.path.join(home(local_users), "upload.bin")
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == hashlib.sha256(data).hexdigest()
    st = os.stat(path)
    assert st.st_uid == local_users.users[ALICE]["uid"]
    assert stat.S_IMODE(st.st_mode) == 0o600  # file_open_mode 0666, local_umask 077
    assert get(ftp, "upload.bin") == data
    assert leftovers(home(local_users)) == []


def test_umask_and_file_open_mode(writer, local_users):
    s = writer({"local_umask": "022", "file_open_mode": "0640"})
    ftp = login(s, ALICE, local_users)
    put(ftp, "mode.txt", b"x")
    assert stat.S_IMODE(os.stat(os.path.join(home(local_users), "mode.txt")).st_mode) == 0o640
    ftp.mkd("moded")
    assert stat.S_IMODE(os.stat(os.path.join(home(local_users), "moded")).st_mode) == 0o755


def test_write_enable_no_refuses_every_change(make_server, local_users):
    s = make_server({"local_enable": "YES"})
    ftp = login(s, ALICE, local_users)
    for fn in (lambda: put(ftp, "nope.txt", b"x"), lambda: ftp.delete("readme.txt"),
               lambda: ftp.mkd("nope"), lambda: ftp.rename("readme.txt", "x"),
               lambda: ftp.sendcmd("SITE CHMOD 777 readme.txt")):
        with pytest.raises(ftplib.error_perm, match="^55"):
            fn()
    assert not os.path.exists(os.path.join(home(local_users), "nope.txt"))


def test_overwrite_replaces_the_file(writer, local_users):
    s = writer()
    ftp = login(s, ALICE, local_users)
    put(ftp, "over.txt", b"old contents")
    put(ftp, "over.txt", b"new")
    assert get(ftp, "over.txt") == b"new"


def test_mkd_rmd_dele_rename(writer, local_users):
    s = writer()
    ftp = login(s, ALICE, local_users)
    h = local_users.users[ALICE]["home"]
    assert ftp.mkd('new "dir"') == f'{h}/new "dir"'
    assert ftp.sendcmd("XMKD other").startswith("257")
    assert ftp.sendcmd("XRMD other").startswith("250")
    put(ftp, 'new "dir"/f.txt', b"f")
    assert ftp.rename('new "dir"/f.txt', "g.txt").startswith("250")
    assert get(ftp, "g.txt") == b"f"
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.rmd("nonexistent")
    assert ftp.rmd('new "dir"').startswith("250")
    assert ftp.delete("g.txt").startswith("250")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.delete("g.txt")
    with pytest.raises(ftplib.error_perm, match="^503"):
        ftp.sendcmd("RNTO x")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("RNFR nonexistent")


def test_appe_and_rest_stor_resume(writer, local_users):
    s = writer()
    ftp = login(s, ALICE, local_users)
    put(ftp, "log.txt", b"one\n")
    put(ftp, "log.txt", b"two\n", cmd="APPE")
    assert get(ftp, "log.txt") == b"one\ntwo\n"
    put(ftp, "resume.bin", b"A" * 1000)
    ftp.voidcmd("TYPE I")
    ftp.storbinary("STOR resume.bin", io.BytesIO(b"B" * 500), rest=600)
    assert get(ftp, "resume.bin") == b"A" * 600 + b"B" * 500


def test_stou_picks_a_free_name(writer, local_users):
    s = writer()
    ftp = login(s, ALICE, local_users)
    put(ftp, "unique.txt", b"first")
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOU unique.txt")
    conn.sendall(b"second")
    conn.close()
    assert ftp.voidresp().startswith("226")
    assert get(ftp, "unique.txt") == b"first"
    assert get(ftp, "unique.txt.1") == b"second"


def test_site_chmod_umask_help(writer, local_users):
    s = writer()
    ftp = login(s, ALICE, local_users)
    put(ftp, "chmod.txt", b"x")
    assert ftp.sendcmd("SITE CHMOD 644 chmod.txt").startswith("200")
    assert stat.S_IMODE(os.stat(os.path.join(home(local_users), "chmod.txt")).st_mode) == 0o644
    assert ftp.sendcmd("SITE CHMOD 4755 chmod.txt").startswith("200")
    assert stat.S_IMODE(os.stat(os.path.join(home(local_users), "chmod.txt")).st_mode) == 0o755
    assert ftp.sendcmd("SITE UMASK") == "200 Your current UMASK is 0077"
    assert ftp.sendcmd("SITE UMASK 027") == "200 UMASK set to 0027"
    put(ftp, "after-umask.txt", b"x")
    assert stat.S_IMODE(os.stat(os.path.join(home(local_users), "after-umask.txt")).st_mode) == 0o640
    assert ftp.sendcmd("SITE HELP").startswith("214")
    with pytest.raises(ftplib.error_perm, match="^500"):
        ftp.sendcmd("SITE BOGUS")
    s2 = writer({"chmod_enable": "NO"})
    ftp2 = login(s2, ALICE, local_users)
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp2.sendcmd("SITE CHMOD 600 chmod.txt")


def test_deny_file_applies_to_writes(writer, local_users):
    s = writer({"deny_file": "{*.key}"})
    ftp = login(s, ALICE, local_users)
    with pytest.raises(ftplib.error_perm, match="^550"):
        put(ftp, "secret.key", b"x")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.mkd("dir.key")


def test_ascii_upload_enable(writer, local_users):
    s = writer({"ascii_upload_enable": "YES"})
    ftp = login(s, ALICE, local_users)
    ftp.storlines("STOR ascii.txt", io.BytesIO(b"one\ntwo\n"))  # ftplib sends CRLF
    assert open(os.path.join(home(local_users), "ascii.txt"), "rb").read() == b"one\ntwo\n"
    s2 = writer()
    ftp2 = login(s2, ALICE, local_users)
    ftp2.storlines("STOR ascii2.txt", io.BytesIO(b"one\ntwo\n"))
    assert open(os.path.join(home(local_users), "ascii2.txt"), "rb").read() == b"one\r\ntwo\r\n"


# ---- nothing lost ----------------------------------------------------------------------------

def start_upload(server, user, password, name):
    c = server.raw()
    c.reply()
    c.cmd(f"USER {user}")
    assert c.cmd(f"PASS {password}")[0] == 230
    assert c.cmd("TYPE I")[0] == 200
    code, lines = c.cmd("PASV")
    nums = [int(n) for n in lines[0].split("(")[1].split(")")[0].split(",")]
    data = socket.create_connection(("127.0.0.1", nums[4] * 256 + nums[5]))
    c.send(f"STOR {name}\r\n")
    assert c.reply()[0] == 150
    return c, data


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_reset_data_connection_keeps_the_old_file(writer, local_users):
    s = writer()
    path = os.path.join(home(local_users), "precious.txt")
    ftp = login(s, ALICE, local_users)
    put(ftp, "precious.txt", b"the previous version\n")
    c, data = start_upload(s, ALICE, "alice-secret", "precious.txt")
    data.sendall(os.urandom(1024 * 1024))
    reset(data)
    code, _ = c.reply()
    assert code == 426
    assert open(path, "rb").read() == b"the previous version\n"
    assert leftovers(home(local_users)) == []
    assert c.cmd("NOOP")[0] == 200


def test_abor_during_upload_keeps_the_old_file(writer, local_users):
    s = writer()
    path = os.path.join(home(local_users), "precious2.txt")
    with open(path, "wb") as f:
        f.write(b"keep me\n")
    c, data = start_upload(s, ALICE, "alice-secret", "precious2.txt")
    data.sendall(os.urandom(256 * 1024))
    c.send("ABOR\r\n")
    assert c.reply()[0] == 426
    assert c.reply()[0] == 226
    data.close()
    assert open(path, "rb").read() == b"keep me\n"
    assert leftovers(home(local_users)) == []


def test_killed_client_keeps_the_old_file(writer, local_users):
    s = writer()
    path = os.path.join(home(local_users), "precious3.txt")
    with open(path, "wb") as f:
        f.write(b"keep me too\n")
    # Both connections close at once, as when the client process is killed: the end of the data
    # stream then does not mean the end of the file.
    c, data = start_upload(s, ALICE, "alice-secret", "precious3.txt")
    data.sendall(b"partial data")
    time.sleep(0.2)
    c.sock.close()
    data.close()
    assert wait_for(lambda: children(s.proc.pid) == [])
    assert open(path, "rb").read() == b"keep me too\n"
    assert leftovers(home(local_users)) == []


def test_killed_curl_never_replaces_the_file(writer, local_users):
    # curl killed in the middle of an upload: its two connections close in the same moment,
    # the data connection's end sometimes first (7 of 60 replaced the file with the part sent).
    s = writer()
    d = home(local_users)
    password = local_users.users[ALICE]["password"]
    big = os.urandom(3_000_000)
    replaced = []
    for i in range(60):
        path = f"{d}/killed{i}.bin"
        url = f"ftp://{ALICE}:{password}@127.0.0.1:{s.port}/%2F{path.lstrip('/')}"
        old = os.urandom(5000)
        assert subprocess.run(["curl", "-sS", "-T", "-", url], input=old,
                              capture_output=True).returncode == 0
        curl = subprocess.Popen(["curl", "-sS", "-T", "-", url], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            curl.stdin.write(big[:1_000_000 + i * 30_000])  # more than a pipe holds
            curl.stdin.flush()
        except BrokenPipeError:
            pass
        curl.kill()
        curl.wait()
        curl.stdin.close()
        assert wait_for(lambda: children(s.proc.pid) == [])
        if open(path, "rb").read() != old:
            replaced.append(i)
    # Where the kernel delivers the killed client's control close more than the fsync's moment
    # after its data's end, plain FTP cannot tell the part from a whole file (keepftpd.conf(5),
    # atomic_uploads): on a loaded machine that happened here to 1 kill in 60, at most, where
    # the code that did not look for the control connection's end let 7 of 60 through.
    assert len(replaced) <= 1, replaced
    assert leftovers(d) == []


@pytest.mark.parametrize("victim", ["keeper", "session monitor", "session jail"])
def test_killed_session_leaves_a_file_the_next_upload_removes(writer, local_users, victim):
    s = writer()
    path = os.path.join(home(local_users), "precious4.txt")
    with open(path, "wb") as f:
        f.write(b"still here\n")
    c, data = start_upload(s, ALICE, "alice-secret", "precious4.txt")
    data.sendall(b"x" * 100000)
    chain = process_chain(s, 3)
    time.sleep(0.2)
    os.kill(chain[["keeper", "session monitor", "session jail"].index(victim)], signal.SIGKILL)
    assert c.closed()
    assert wait_for(lambda: children(s.proc.pid) == [])
    assert open(path, "rb").read() == b"still here\n"
    assert len(leftovers(home(local_users))) == 1
    ftp = login(s, ALICE, local_users)
    put(ftp, "other.txt", b"y")
    assert leftovers(home(local_users)) == []


def test_atomic_uploads_no_writes_in_place(writer, local_users):
    s = writer({"atomic_uploads": "NO"})
    path = os.path.join(home(local_users), "inplace.txt")
    with open(path, "wb") as f:
        f.write(b"old contents that will be lost\n")
    os.chown(path, local_users.users[ALICE]["uid"], local_users.users[ALICE]["uid"])
    c, data = start_upload(s, ALICE, "alice-secret", "inplace.txt")
    data.sendall(b"partial")
    time.sleep(0.2)
    reset(data)
    assert c.reply()[0] == 426
    assert open(path, "rb").read() == b"partial"  # vsftpd's behaviour


def test_delete_failed_uploads(writer, local_users):
    s = writer({"atomic_uploads": "NO", "delete_failed_uploads": "YES"})
    path = os.path.join(home(local_users), "failed.txt")
    c, data = start_upload(s, ALICE, "alice-secret", "failed.txt")
    data.sendall(b"partial")
    time.sleep(0.2)
    reset(data)
    assert c.reply()[0] == 426
    assert not os.path.exists(path)


def test_disk_full_gets_452_and_keeps_the_old_file(writer, local_users):
    with small_tmpfs(local_users, "small", "512k", {"old.bin": b"old"}) as small:
        s = writer()
        ftp = login(s, ALICE, local_users)
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("STOR small/old.bin")
        try:
            conn.sendall(os.urandom(2 * 1024 * 1024))
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server stops reading when the disk is full
        conn.close()
        with pytest.raises(ftplib.error_temp, match="^452"):
            ftp.voidresp()
        assert open(os.path.join(small, "old.bin"), "rb").read() == b"old"
        assert leftovers(small) == []
        assert ftp.sendcmd("NOOP").startswith("200")


# ---- anonymous -------------------------------------------------------------------------------

ANON_UP = {"write_enable": "YES", "anon_upload_enable": "YES"}


def test_anonymous_upload(make_server, tree):
    s = make_server(ANON_UP)
    ftp = s.ftp()
    put(ftp, "pub/incoming/up.bin", b"anonymous data")
    path = tree.path("pub/incoming/up.bin")
    st = os.stat(path)
    assert st.st_uid == __import__("pwd").getpwnam("ftp").pw_uid
    assert stat.S_IMODE(st.st_mode) == 0o600  # anon_umask 077
    # anon_world_readable_only: not downloadable by anonymous users.
    with pytest.raises(ftplib.error_perm, match="^550"):
        get(ftp, "pub/incoming/up.bin")
    # Without anon_other_write_enable: no overwrite, delete, rename, append, mkdir.
    with pytest.raises(ftplib.error_perm, match="^553"):
        put(ftp, "pub/incoming/up.bin", b"again")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.delete("pub/incoming/up.bin")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.rename("pub/incoming/up.bin", "pub/incoming/x")
    with pytest.raises(ftplib.error_perm, match="^550"):
        put(ftp, "pub/incoming/up.bin", b"more", cmd="APPE")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.mkd("pub/incoming/dir")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("SITE CHMOD 644 pub/incoming/up.bin")
    with pytest.raises(ftplib.error_perm, match="^553"):
        put(ftp, "pub/nope.bin", b"not writable by ftp")
    assert open(path, "rb").read() == b"anonymous data"


@pytest.mark.parametrize("world_readable_only", ["YES", "NO"])
def test_site_umask_only_tightens_anon_umask(make_server, tree, world_readable_only):
    # An anonymous client cannot make its uploads more readable than anon_umask, so the next
    # anonymous session cannot read them where anon_umask says it must not.
    s = make_server(dict(ANON_UP, anon_umask="077", anon_world_readable_only=world_readable_only))
    ftp = s.ftp()
    assert ftp.sendcmd("SITE UMASK 000") == \
        "200 UMASK set to 0077 (this session can only add to its umask 0077)"
    put(ftp, "pub/incoming/loose.bin", b"private")
    assert stat.S_IMODE(os.stat(tree.path("pub/incoming/loose.bin")).st_mode) == 0o600
    if world_readable_only == "YES":
        with pytest.raises(ftplib.error_perm, match="^550"):
            get(s.ftp(), "pub/incoming/loose.bin")
    # Tightening further works.
    assert ftp.sendcmd("SITE UMASK 277") == "200 UMASK set to 0277"
    put(ftp, "pub/incoming/tight.bin", b"x")
    assert stat.S_IMODE(os.stat(tree.path("pub/incoming/tight.bin")).st_mode) == 0o400
    assert ftp.sendcmd("SITE UMASK") == "200 Your current UMASK is 0277"
    ftp.quit()


def test_anonymous_upload_needs_anon_upload_enable(make_server, tree):
    s = make_server({"write_enable": "YES"})
    with pytest.raises(ftplib.error_perm, match="^550"):
        put(s.ftp(), "pub/incoming/up.bin", b"x")


def test_anonymous_mkdir_and_other_writes(make_server, tree):
    s = make_server({"write_enable": "YES", "anon_upload_enable": "YES",
                     "anon_mkdir_write_enable": "YES", "anon_other_write_enable": "YES",
                     "anon_umask": "022", "anon_world_readable_only": "NO"})
    ftp = s.ftp()
    ftp.mkd("pub/incoming/dir")
    put(ftp, "pub/incoming/dir/a.txt", b"a")
    put(ftp, "pub/incoming/dir/a.txt", b"b")
    assert get(ftp, "pub/incoming/dir/a.txt") == b"b"
    ftp.rename("pub/incoming/dir/a.txt", "pub/incoming/dir/c.txt")
    ftp.delete("pub/incoming/dir/c.txt")
    ftp.rmd("pub/incoming/dir")


def test_anon_world_readable_only_no(make_server, tree):
    path = tree.path("pub/private.txt")
    with open(path, "wb") as f:
        f.write(b"private")
    os.chmod(path, 0o640)
    assert_code = "^550"
    s = make_server()
    with pytest.raises(ftplib.error_perm, match=assert_code):
        get(s.ftp(), "pub/private.txt")
    s2 = make_server({"anon_world_readable_only": "NO"})
    # The ftp user still needs read permission: the file is root's, mode 640.
    with pytest.raises(ftplib.error_perm, match="^550"):
        get(s2.ftp(), "pub/private.txt")
    os.chown(path, __import__("pwd").getpwnam("ftp").pw_uid, 0)
    assert get(s2.ftp(), "pub/private.txt") == b"private"


# ---- real clients ----------------------------------------------------------------------------

def test_curl_and_lftp_upload_trees(writer, local_users, tmp_path):
    s = writer()
    src = tmp_path / "tree"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "grüße.txt").write_bytes("UTF-8 name\n".encode())
    (src / "sub" / "data.bin").write_bytes(os.urandom(300000))
    (src / "sub" / "deeper" / "日本.txt").write_bytes(b"deep\n")
    user, password = ALICE, "alice-secret"
    r = subprocess.run(["curl", "-sS", "-T", str(src / "sub" / "data.bin"), "--user",
                        f"{user}:{password}", f"ftp://127.0.0.1:{s.port}/curl-up.bin"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sha256_file(os.path.join(home(local_users), "curl-up.bin")) == sha256_file(
        src / "sub" / "data.bin")
    script = (f"set cmd:fail-exit yes; set net:max-retries 1; "
              f"open -u {user},{password} -p {s.port} 127.0.0.1; "
              f"mirror -R {src} mirrored; mirror mirrored {tmp_path}/back; bye")
    r = subprocess.run(["lftp", "-c", script], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for rel in ("grüße.txt", "sub/data.bin", "sub/deeper/日本.txt"):
        assert sha256_file(os.path.join(home(local_users), "mirrored", rel)) == sha256_file(
            src / rel)
        assert sha256_file(tmp_path / "back" / rel) == sha256_file(src / rel)


# ---- times and locks -------------------------------------------------------------------------

def test_mfmt_and_mdtm_write(writer, local_users):
    s = writer()
    ftp = login(s, ALICE, local_users)
    put(ftp, "timed.txt", b"t")
    assert " MFMT" in ftp.sendcmd("FEAT").splitlines()
    assert ftp.sendcmd("MFMT 20200102030405 timed.txt") == "213 Modify=20200102030405; timed.txt"
    assert ftp.sendcmd("MDTM timed.txt") == "213 20200102030405"
    assert ftp.sendcmd("MDTM 20210101000000 timed.txt").startswith("213")
    assert ftp.sendcmd("MDTM timed.txt") == "213 20210101000000"
    with pytest.raises(ftplib.error_perm, match="^501"):
        ftp.sendcmd("MFMT 2021 timed.txt")
    s2 = writer({"mdtm_write": "NO"})
    with pytest.raises(ftplib.error_perm, match="^550"):
        login(s2, ALICE, local_users).sendcmd("MFMT 20200102030405 timed.txt")


def test_lock_upload_files_makes_downloads_wait(writer, local_users):
    s = writer()
    path = os.path.join(home(local_users), "locked.txt")
    ftp = login(s, ALICE, local_users)
    put(ftp, "locked.txt", b"start\n")
    # An in-place write (APPE) holds a write lock until it ends.
    c = s.raw()
    c.reply()
    c.cmd(f"USER {ALICE}")
    c.cmd("PASS alice-secret")
    c.cmd("TYPE I")
    code, lines = c.cmd("PASV")
    nums = [int(n) for n in lines[0].split("(")[1].split(")")[0].split(",")]
    data = socket.create_connection(("127.0.0.1", nums[4] * 256 + nums[5]))
    c.send("APPE locked.txt\r\n")
    assert c.reply()[0] == 150
    data.sendall(b"more\n")
    reader = s.raw()
    reader.reply()
    reader.cmd(f"USER {ALICE}")
    reader.cmd("PASS alice-secret")
    reader.cmd("TYPE I")
    code, lines = reader.cmd("PASV")
    port = [int(n) for n in lines[0].split("(")[1].split(")")[0].split(",")]
    rdata = socket.create_connection(("127.0.0.1", port[4] * 256 + port[5]))
    reader.send("RETR locked.txt\r\n")
    reader.sock.settimeout(1.5)
    with pytest.raises(socket.timeout):
        reader.reply()  # waits for the lock: no 150 yet
    data.close()
    assert c.reply()[0] == 226
    reader.sock.settimeout(10)
    assert reader.reply()[0] == 150
    got = b""
    while True:
        chunk = rdata.recv(65536)
        if not chunk:
            break
        got += chunk
    assert got == b"start\nmore\n"
    assert reader.reply()[0] == 226


def test_lock_upload_files_no(writer, local_users):
    s = writer({"lock_upload_files": "NO"})
    ftp = login(s, ALICE, local_users)
    put(ftp, "unlocked.txt", b"start\n")
    c = s.raw()
    c.reply()
    c.cmd(f"USER {ALICE}")
    c.cmd("PASS alice-secret")
    code, lines = c.cmd("PASV")
    nums = [int(n) for n in lines[0].split("(")[1].split(")")[0].split(",")]
    data = socket.create_connection(("127.0.0.1", nums[4] * 256 + nums[5]))
    c.send("APPE unlocked.txt\r\n")
    assert c.reply()[0] == 150
    assert get(login(s, ALICE, local_users), "unlocked.txt") == b"start\n"  # no waiting
    data.close()
    assert c.reply()[0] == 226


# ---- anonymous passwords and start directories ---------------------------------------------------

def test_deny_email_and_secure_email_list(make_server, tree):
    banned = os.path.join(tree.base, "banned")
    with open(banned, "w") as f:
        f.write("spammer@example.org\n")
    s = make_server({"deny_email_enable": "YES", "banned_email_file": banned,
                     "delay_failed_login": "0"})
    with pytest.raises(ftplib.error_perm, match="^530"):
        s.ftp(login=False).login("anonymous", "spammer@example.org")
    s.ftp(login=False).login("anonymous", "friend@example.org")
    allowed = os.path.join(tree.base, "allowed")
    with open(allowed, "w") as f:
        f.write("friend@example.org\n")
    s2 = make_server({"secure_email_list_enable": "YES", "email_password_file": allowed,
                      "delay_failed_login": "0"})
    s2.ftp(login=False).login("anonymous", "friend@example.org")
    with pytest.raises(ftplib.error_perm, match="^530"):
        s2.ftp(login=False).login("anonymous", "stranger@example.org")


def test_chroot_start_dir_below_a_read_only_jail(writer, local_users):
    # carol's home is owned by root: a jail she cannot write, with her own directory below it.
    files = os.path.join(local_users.users["kftp-carol"]["real_home"], "files")
    os.makedirs(files, exist_ok=True)
    uid = local_users.users["kftp-carol"]["uid"]
    os.chown(files, uid, uid)
    s = writer({"chroot_local_user": "YES", "chroot_start_dir": "files"})
    ftp = login(s, "kftp-carol", local_users)
    assert ftp.pwd() == "/files"
    put(ftp, "work.txt", b"w")
    assert os.path.exists(os.path.join(files, "work.txt"))
    with pytest.raises(ftplib.error_perm, match="^553"):
        put(ftp, "/root-level.txt", b"x")  # the jail's root is not writable


def test_chown_uploads(make_server, tree):
    import pwd
    from test_privsep import process_chain, status
    s = make_server(dict(ANON_UP, chown_uploads="YES", chown_username="kftp-nopriv",
                         chown_upload_mode="0640"))
    ftp = s.ftp()
    put(ftp, "pub/incoming/given.bin", b"given away")
    st = os.stat(tree.path("pub/incoming/given.bin"))
    nopriv = pwd.getpwnam("kftp-nopriv")
    assert (st.st_uid, st.st_gid) == (nopriv.pw_uid, nopriv.pw_gid)
    assert stat.S_IMODE(st.st_mode) == 0o640
    # The session's monitor keeps CAP_CHOWN (bit 0) and nothing else, for this request only.
    keeper, monitor, jail = process_chain(s, 3)
    assert int(status(monitor)["CapEff"], 16) == 1
    assert int(status(monitor)["CapBnd"], 16) == 0
    assert int(status(jail)["CapEff"], 16) == 0
    # Without chown_uploads the monitor keeps nothing.
    s2 = make_server(ANON_UP)
    ftp2 = s2.ftp()
    keeper, monitor, jail = process_chain(s2, 3)
    assert wait_for(lambda: int(status(monitor)["CapEff"], 16) == 0 and
                    status(monitor)["Uid"].split()[0] != "0")
    ftp2.quit()


def test_chown_uploads_gives_away_only_files_created_in_the_session(make_server, tree):
    """A compromised session jail (a test-build hook) hands the monitor an older file of the
    anonymous account as if it were an upload: it is not given away. (Before, any regular
    anonymous file with one link was.)"""
    import pwd
    old = tree.path("pub/incoming/old.bin")
    with open(old, "wb") as f:
        f.write(b"an older anonymous upload")
    ftp_user = pwd.getpwnam("ftp")
    os.chown(old, ftp_user.pw_uid, ftp_user.pw_gid)
    os.chmod(old, 0o644)
    time.sleep(2.1)  # its birth time is then well before the session's start
    s = make_server(dict(ANON_UP, chown_uploads="YES", chown_username="kftp-nopriv"))
    ftp = s.ftp()
    assert ftp.sendcmd("XKFTPDFORGE chown /pub/incoming/old.bin").startswith("200")
    st = os.stat(old)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (ftp_user.pw_uid, 0o644)
    assert "chown_uploads: refused a file created before this session" in s.output()
    # A real upload of the session is still given away.
    put(ftp, "pub/incoming/new.bin", b"new")
    assert os.stat(tree.path("pub/incoming/new.bin")).st_uid == pwd.getpwnam("kftp-nopriv").pw_uid
    ftp.quit()


@contextlib.contextmanager
def quotafs(backing, mnt, budget, nfs=False):
    """tests/tools/quotafs over backing, mounted on mnt for the duration; nfs: with the rename
    and flock rules of an NFS client (see quotafs.cc)."""
    from conftest import REPO
    program = os.path.join(REPO, "build", "tests", "tools", "quotafs")
    os.makedirs(mnt, exist_ok=True)
    env = dict(os.environ, QUOTAFS_NFS="1" if nfs else "0")
    fs = subprocess.Popen([program, str(backing), str(budget), mnt, "-f", "-o",
                           "allow_other,default_permissions"], env=env)
    try:
        assert wait_for(lambda: os.path.ismount(mnt))
        yield
    finally:
        # A session that just ended may hold the mount a moment longer; one that a failed test
        # left running may hold it for good: then it is detached, and the file system ended.
        if not wait_for(lambda: subprocess.run(["umount", mnt],
                                               capture_output=True).returncode == 0):
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        try:
            fs.wait(10)
        except subprocess.TimeoutExpired:
            fs.kill()
            fs.wait()


def test_quota_exceeded_gets_552_and_keeps_the_old_file(writer, local_users, tmp_path):
    backing = tmp_path / "backing"
    backing.mkdir()
    uid = local_users.users[ALICE]["uid"]
    with open(backing / "old.bin", "wb") as f:
        f.write(b"old")
    os.chown(backing, uid, uid)
    os.chown(backing / "old.bin", uid, uid)
    mnt = os.path.join(home(local_users), "quota")
    with quotafs(backing, mnt, 65536):
        s = writer()
        ftp = login(s, ALICE, local_users)
        put(ftp, "quota/small.bin", b"fits")
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("STOR quota/old.bin")
        try:
            conn.sendall(os.urandom(1024 * 1024))
        except (ConnectionResetError, BrokenPipeError):
            pass
        conn.close()
        with pytest.raises(ftplib.error_perm, match="^552"):
            ftp.voidresp()
        assert open(os.path.join(mnt, "old.bin"), "rb").read() == b"old"
        assert leftovers(mnt) == []
        assert ftp.sendcmd("NOOP").startswith("200")


def test_uploads_that_may_not_overwrite_on_a_file_system_without_rename_flags(
        make_server, tree, tmp_path):
    # NFS and CephFS refuse renameat2's RENAME_NOREPLACE: an anonymous upload (which may not
    # overwrite) and STOU are put in place with link(2) there, still never over another file.
    backing = tmp_path / "backing"
    backing.mkdir()
    ftp_uid = uid_of("ftp")
    os.chown(backing, ftp_uid, ftp_uid)
    mnt = tree.path("pub/incoming")
    with quotafs(backing, mnt, 1 << 30, nfs=True):
        s = make_server(dict(ANON_UP, anon_umask="022"))
        ftp = s.ftp()
        data = os.urandom(1024 * 1024)
        assert put(ftp, "pub/incoming/up.bin", data).startswith("226")
        with pytest.raises(ftplib.error_perm, match="^553"):
            put(ftp, "pub/incoming/up.bin", b"again")
        ftp.cwd("pub/incoming")
        ftp.voidcmd("TYPE I")
        for expected in ("up.bin.1", "up.bin.2"):
            conn = ftp.transfercmd("STOU up.bin")
            conn.sendall(expected.encode())
            conn.close()
            assert ftp.voidresp().startswith("226")
        assert sorted(os.listdir(backing)) == ["up.bin", "up.bin.1", "up.bin.2"]
        assert open(backing / "up.bin", "rb").read() == data
        assert open(backing / "up.bin.2", "rb").read() == b"up.bin.2"
        assert os.stat(backing / "up.bin").st_nlink == 1
        ftp.quit()
