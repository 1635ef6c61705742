"""Attacks: each test is one move a hostile client makes, with the outcome the server owes it:
the right reply code, no crash, a session that goes on (or ends cleanly), and nothing outside
the jail read or written (checked on the file system)."""

import hashlib
import os
import posixpath
import re
import select
import shutil
import socket
import stat
import threading
import time

import pytest

from test_local_users import ALICE
from test_privsep import children, process_chain, status, wait_for

OUT = "kftp-attack-outside.txt"          # a file next to alice's home, outside her jail
OUT_DIR = "kftp-attack-outside-dir"      # a directory next to it
OUT_DATA = b"outside the jail: must never be served\n"
HOST_PASSWD_MARK = b"root:x:0:0"


# ---- helpers -------------------------------------------------------------------------------------

def parse_pasv(line):
    nums = [int(n) for n in re.search(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", line).groups()]
    return ".".join(map(str, nums[:4])), nums[4] * 256 + nums[5]


def send_line(c, line):
    """Sends one command line (str or raw bytes, without its CRLF) and returns the reply."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogateescape")
    c.send(line + b"\r\n")
    return c.reply()


def read_all(sock):
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def transfer(c, line, upload=None):
    """PASV, connect, then the command. Returns (first code, final code or None, data read)."""
    code, lines = c.cmd("PASV")
    assert code == 227, lines
    host, port = parse_pasv(lines[0])
    d = socket.create_connection((host, port), timeout=10)
    try:
        code, lines = send_line(c, line)
        if code != 150:
            return code, None, b""
        data = b""
        if upload is None:
            data = read_all(d)
        else:
            d.sendall(upload)
        d.close()
        return code, c.reply()[0], data
    finally:
        d.close()


def login_raw(server, user, password):
    c = server.raw()
    assert c.reply()[0] == 220
    assert c.cmd(f"USER {user}")[0] == 331
    assert c.cmd(f"PASS {password}")[0] == 230
    return c


def vmrss_kib(pid):
    return int(status(pid)["VmRSS"].split()[0])


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def snapshot(top):
    """Every path under top with its type, mode, size, mtime and (for files) contents."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            digest = sha(p) if stat.S_ISREG(st.st_mode) else None
            out[p] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_size,
                      st.st_mtime_ns, st.st_uid, digest)
    return out


class Jail:
    """alice chrooted in her (writable) home, with bait next to it, outside the jail."""

    def __init__(self, local_users):
        self.users = local_users
        self.home = local_users.users[ALICE]["real_home"]
        self.base = os.path.dirname(self.home)
        self.out = os.path.join(self.base, OUT)
        self.out_dir = os.path.join(self.base, OUT_DIR)
        with open(self.out, "wb") as f:
            f.write(OUT_DATA)
        os.chmod(self.out, 0o666)  # writable by anyone: only the jail may stop a write
        os.makedirs(self.out_dir, exist_ok=True)
        os.chmod(self.out_dir, 0o777)
        with open(os.path.join(self.out_dir, "inner.txt"), "wb") as f:
            f.write(OUT_DATA)
        os.chmod(os.path.join(self.out_dir, "inner.txt"), 0o666)
        # a name with a literal percent sign: paths are never URL-decoded
        with open(os.path.join(self.home, "%2e%2e"), "wb") as f:
            f.write(b"literal percent name\n")
        uid = local_users.users[ALICE]["uid"]
        os.chown(os.path.join(self.home, "%2e%2e"), uid, uid)
        self.home_entries = set(os.listdir(self.home))
        self.home_mode = os.stat(self.home).st_mode
        self.outside_before = self.outside_state()

    def outside_state(self):
        """What an escape would change: everything in the jail's parent except the jail,
        and the host's /etc/passwd."""
        snap = {p: v for p, v in snapshot(self.base).items()
                if not (p == self.home or p.startswith(self.home + "/"))}
        snap["/etc/passwd"] = sha("/etc/passwd")
        snap["/etc-listing"] = tuple(sorted(os.listdir("/etc")))
        snap["/-listing"] = tuple(sorted(os.listdir("/")))
        return snap

    def assert_outside_untouched(self):
        assert self.outside_state() == self.outside_before

    def cleanup(self):
        for name in set(os.listdir(self.home)) - self.home_entries:
            p = os.path.join(self.home, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
        os.unlink(os.path.join(self.home, "%2e%2e"))
        os.chmod(self.home, stat.S_IMODE(self.home_mode))
        os.unlink(self.out)
        shutil.rmtree(self.out_dir, ignore_errors=True)


@pytest.fixture
def jail(local_users):
    j = Jail(local_users)
    yield j
    j.cleanup()


@pytest.fixture
def jailed_server(make_server, jail):
    def make(write=False, extra=None):
        settings = {"local_enable": "YES", "anonymous_enable": "NO", "chroot_local_user": "YES",
                    "allow_writeable_chroot": "YES", "delay_failed_login": "0"}
        if write:
            settings["write_enable"] = "YES"
        settings.update(extra or {})
        return make_server(settings)
    return make


def alice(server):
    c = login_raw(server, ALICE, "alice-secret")
    assert c.cmd("PWD") == (257, ['257 "/" is the current directory'])
    assert c.cmd("TYPE I")[0] == 200
    return c


# Paths that name the bait file outside the jail, or the host's /etc/passwd, every way we know.
def file_escapes(jail):
    return [
        f"../{OUT}",
        f"../../../../../../../../{OUT}",
        f"/../{OUT}",
        f"/../../../{OUT}",
        f"./.././../{OUT}",
        f"readme.txt/../../{OUT}",
        f"nonexistent/../../{OUT}",
        jail.out,                                # the host's absolute path
        jail.out.replace("/", "//"),
        "/etc/passwd",
        "/../../etc/passwd",
        "../../../../../../../../../../etc/passwd",
        f"%2e%2e/{OUT}",                         # literal, never decoded
        f"%2e%2e%2f{OUT}",
        f"..%2f{OUT}",
        f"..\\{OUT}",
        f"...//{OUT}",
        f"....//....//{OUT}",
        "/" * 500 + "../" * 50 + OUT,
        "../" * 1300 + OUT,                      # 3900 bytes: fits in a command line
        "~/../" + OUT,
        "~root/../etc/passwd",
    ]


def dir_escapes(jail):
    return ["..", "../..", "../../../../..", "/..", "/../../..", "/./../.", "//..//..//",
            f"../{OUT_DIR}", f"/../{OUT_DIR}", jail.out_dir, jail.base, "/etc", "/proc/self/root",
            "%2e%2e/%2e%2e", "%2e%2e/..", "..%2f..", "../" * 1300]


# ---- 1. path traversal: reading commands -----------------------------------------------------

def test_traversal_read_commands_never_leave_the_jail(jailed_server, jail):
    s = jailed_server()
    c = alice(s)
    for path in file_escapes(jail):
        for verb in ("SIZE", "MDTM", "HASH", "MLST", "CWD", "XCWD"):
            code, lines = c.cmd(f"{verb} {path}")
            assert code == 550, (verb, path, lines)
        code, lines = c.cmd(f"STAT {path}")
        assert code == 550, (path, lines)
        for verb in ("RETR", "LIST", "NLST", "MLSD"):
            code, final, data = transfer(c, f"{verb} {path}")
            assert code == 550, (verb, path, code, final)
            assert data == b""
        assert c.cmd("PWD") == (257, ['257 "/" is the current directory'])
    assert c.cmd("NOOP")[0] == 200
    jail.assert_outside_untouched()


def test_traversal_of_directories_stays_at_the_jail_root(jailed_server, jail):
    s = jailed_server()
    c = alice(s)
    for path in dir_escapes(jail):
        code, lines = c.cmd(f"CWD {path}")
        # ".." at the root is the root itself (as in the kernel); anything else does not exist
        # inside the jail.
        clamps = posixpath.normpath("/" + path) in ("/", "//")  # lexically the root
        if clamps:
            assert code == 250, (path, lines)
        else:
            assert code == 550, (path, lines)
        assert c.cmd("PWD") == (257, ['257 "/" is the current directory'])
        code, lines = c.cmd(f"XCWD {path}")
        assert code == (250 if clamps else 550), (path, lines)
        assert c.cmd("CDUP")[0] == 250
        assert c.cmd("XCUP")[0] == 250
        assert c.cmd("PWD")[0] == 257
        for verb in ("LIST", "NLST", "MLSD"):
            code, final, data = transfer(c, f"{verb} {path}")
            if clamps:
                assert (code, final) == (150, 226), (verb, path)
                assert b"readme.txt" in data          # the jail's root...
                assert OUT.encode() not in data       # ...never its parent
                assert b"kftp-alice" not in data
            else:
                assert code == 550, (verb, path, code)
        code, lines = c.cmd(f"STAT {path}")
        if clamps:
            assert code == 213 and any("readme.txt" in l for l in lines), lines
            assert not any(OUT in l for l in lines)
        else:
            assert code == 550, (path, lines)
        code, lines = c.cmd(f"MLST {path}")
        if clamps:
            assert code == 250 and lines[1].endswith(" /"), lines
        else:
            assert code == 550
        for verb in ("RETR", "SIZE", "MDTM", "HASH"):
            # a directory (the root) or nothing: never a file
            if verb == "RETR":
                assert transfer(c, f"RETR {path}")[0] == 550, path
            else:
                assert c.cmd(f"{verb} {path}")[0] == 550, (verb, path)
    jail.assert_outside_untouched()


def test_percent_encoding_is_never_decoded(jailed_server, jail):
    s = jailed_server()
    c = alice(s)
    # "%2e%2e" is a file with that literal name in the jail, not "..".
    assert c.cmd("SIZE %2e%2e") == (213, ["213 21"])
    code, final, data = transfer(c, "RETR %2e%2e")
    assert (code, final, data) == (150, 226, b"literal percent name\n")
    assert c.cmd("CWD %2e%2e")[0] == 550  # a file, not a directory
    code, final, data = transfer(c, "NLST %2e%2e")
    assert (code, final, data) == (150, 226, b"%2e%2e\r\n")
    assert c.cmd("SIZE %72eadme.txt")[0] == 550  # "%72" is not "r"


@pytest.mark.parametrize("line", [
    b"RETR readme.txt\x00.bak",
    b"RETR readme.txt\x00/../../" + OUT.encode(),
    b"RETR \x00",
    b"RETR readme.txt\rjunk",
    b"RETR ../\r../" + OUT.encode(),
])
def test_nul_and_cr_inside_a_path_are_refused(jailed_server, jail, line):
    s = jailed_server()
    c = alice(s)
    code, final, data = transfer(c, line)
    assert code == 550 and data == b""
    verb_line = line.replace(b"RETR ", b"SIZE ", 1)
    assert send_line(c, verb_line)[0] == 550
    assert send_line(c, line.replace(b"RETR ", b"CWD ", 1))[0] == 550
    assert send_line(c, line.replace(b"RETR ", b"MDTM ", 1))[0] == 550
    assert c.cmd("NOOP")[0] == 200
    assert c.cmd("SIZE readme.txt") == (213, ["213 18"])  # the session is intact


def test_over_long_paths_and_lines(jailed_server, jail):
    s = jailed_server()
    # Longer than a command line (4096 bytes): a 500, and the connection ends.
    for line in ("RETR " + "a" * 5000, "CWD " + "../" * 1700, "SIZE " + "/" * 100 * 1024):
        c = alice(s)
        assert c.cmd(line) == TOO_LONG
        assert c.closed()
    c = alice(s)
    # 4090 bytes of path: a legal line, an illegal path.
    assert c.cmd("SIZE " + "x" * 4080)[0] == 550
    assert c.cmd("MLST " + "/" * 4000 + "readme.txt")[0] == 250  # many slashes: still one file
    assert c.cmd("SIZE " + "//./" * 1000 + "readme.txt") == (213, ["213 18"])
    # many components: each refused as a whole, the jail keeps its depth
    assert c.cmd("CWD " + "a/" * 2000)[0] == 550
    assert c.cmd("PWD") == (257, ['257 "/" is the current directory'])
    jail.assert_outside_untouched()


# ---- 1. path traversal: writing commands ------------------------------------------------------

def test_traversal_write_commands_never_leave_the_jail(jailed_server, jail):
    s = jailed_server(write=True)
    c = alice(s)
    home = jail.home
    # Refused outright: the target's directory does not exist inside the jail.
    for path in (jail.out, f"../{OUT_DIR}/inner.txt", f"/../{OUT_DIR}/x", "/etc/passwd",
                 "/../../etc/passwd", "/etc/pwned", f"{jail.out_dir}/x", "/proc/self/x",
                 f"%2e%2e/{OUT}"):
        for verb in ("STOR", "APPE", "STOU"):
            code, final, _ = transfer(c, f"{verb} {path}", upload=b"pwned\n")
            assert code == 553, (verb, path, code, final)
    for path in file_escapes(jail) + [f"../{OUT_DIR}", f"/../{OUT_DIR}/inner.txt"]:
        assert c.cmd(f"DELE {path}")[0] == 550, path
        assert c.cmd(f"RMD {path}")[0] == 550, path
        assert c.cmd(f"RNFR {path}")[0] == 550, path
        assert c.cmd(f"SITE CHMOD 777 {path}")[0] == 550, path
        assert c.cmd(f"MFMT 20000101000000 {path}")[0] == 550, path
        assert c.cmd(f"MDTM 20000101000000 {path}")[0] == 550, path
    for path in (f"{jail.out_dir}/new", f"../{OUT_DIR}/new", "/etc/new", "/proc/new"):
        assert c.cmd(f"MKD {path}")[0] == 550, path
        assert c.cmd(f"XMKD {path}")[0] == 550, path
    # The jail's root cannot be removed or renamed, however it is named.
    for path in ("/", "..", "../../..", "/..", "//"):
        assert c.cmd(f"RMD {path}")[0] == 550, path
        assert c.cmd(f"XRMD {path}")[0] == 550, path
        assert c.cmd(f"RNFR {path}")[0] == 550, path
        assert c.cmd(f"DELE {path}")[0] == 550, path
    # RNTO out of the jail.
    for path in (f"{jail.out_dir}/stolen", f"../{OUT_DIR}/stolen", "/etc/stolen"):
        assert c.cmd("RNFR readme.txt")[0] == 350
        assert c.cmd(f"RNTO {path}")[0] == 550, path
    assert os.path.exists(os.path.join(home, "readme.txt"))
    assert c.cmd("NOOP")[0] == 200
    jail.assert_outside_untouched()


def test_dotdot_writes_are_clamped_inside_the_jail(jailed_server, jail):
    # ".." above the root is the root: these succeed, but land in the jail.
    s = jailed_server(write=True)
    c = alice(s)
    home = jail.home
    assert transfer(c, "STOR ../../../stored.txt", upload=b"s") == (150, 226, b"")
    assert transfer(c, f"APPE ../../{OUT}", upload=b"a") == (150, 226, b"")
    code, final, _ = transfer(c, f"STOU /../{OUT}", upload=b"u")
    assert (code, final) == (150, 226)
    assert c.cmd("MKD ../../newdir") == (257, ['257 "/newdir" created'])
    assert c.cmd("RNFR stored.txt")[0] == 350
    assert c.cmd("RNTO ../../../renamed.txt")[0] == 250
    assert c.cmd("SITE CHMOD 600 ../../renamed.txt")[0] == 200
    assert c.cmd("MFMT 20000101000000 /../../renamed.txt")[0] == 213
    with open(os.path.join(home, OUT), "rb") as f:
        assert f.read() in (b"a", b"au", b"ua")
    assert open(os.path.join(home, "renamed.txt"), "rb").read() == b"s"
    assert stat.S_IMODE(os.stat(os.path.join(home, "renamed.txt")).st_mode) == 0o600
    assert os.path.isdir(os.path.join(home, "newdir"))
    assert c.cmd("DELE ../../renamed.txt")[0] == 250
    assert c.cmd("RMD ../../newdir")[0] == 250
    assert not os.path.exists(os.path.join(home, "renamed.txt"))
    jail.assert_outside_untouched()


@pytest.mark.parametrize("line", [
    b"STOR x\x00y", b"STOR x\ry", b"APPE x\x00y", b"STOU x\x00y",
])
def test_nul_and_cr_in_upload_names_are_refused(jailed_server, jail, line):
    s = jailed_server(write=True)
    c = alice(s)
    code, final, _ = transfer(c, line, upload=b"data")
    assert code == 550
    for other in (b"MKD x\x00y", b"MKD x\ry", b"DELE readme.txt\x00", b"RMD x\ry",
                  b"RNFR readme.txt\x00x", b"SITE CHMOD 777 readme.txt\x00",
                  b"MFMT 20000101000000 readme.txt\x00"):
        assert send_line(c, other)[0] == 550, other
    assert set(os.listdir(jail.home)) == jail.home_entries
    assert os.path.exists(os.path.join(jail.home, "readme.txt"))
    assert c.cmd("NOOP")[0] == 200


# ---- 2. symlinks inside an anonymous jail ------------------------------------------------------

def test_symlinks_pointing_out_of_the_anonymous_jail(make_server, tree):
    pub = tree.path("pub")
    os.symlink("/etc", os.path.join(pub, "escape"))
    os.symlink("/etc/passwd", os.path.join(pub, "escape-file"))
    os.symlink("../../../../../../../etc/passwd", os.path.join(pub, "escape-rel"))
    os.symlink("/proc/1/root/etc/passwd", os.path.join(pub, "escape-proc"))
    s = make_server()
    c = s.raw().login()
    for name in ("escape-file", "escape-rel", "escape-proc", "escape/passwd", "escape/shadow"):
        code, final, data = transfer(c, f"RETR pub/{name}")
        assert code == 550, (name, code)
        assert HOST_PASSWD_MARK not in data
        assert c.cmd(f"SIZE pub/{name}")[0] == 550
        assert c.cmd(f"HASH pub/{name}")[0] == 550
        assert c.cmd(f"MDTM pub/{name}")[0] == 550
    for name in ("escape", "escape/"):
        assert c.cmd(f"CWD pub/{name}")[0] == 550
        assert c.cmd("PWD") == (257, ['257 "/" is the current directory'])
        for verb in ("LIST", "NLST", "MLSD"):
            code, final, data = transfer(c, f"{verb} pub/{name}")
            assert code == 550, (verb, name)
            assert b"passwd" not in data
    # The links themselves may be listed; what they point at is never read.
    code, final, data = transfer(c, "LIST pub")
    assert (code, final) == (150, 226)
    assert b"escape -> /etc" in data and HOST_PASSWD_MARK not in data
    code, lines = c.cmd("STAT pub/escape-file")
    assert code == 550  # its target does not exist in the jail
    assert c.cmd("NOOP")[0] == 200


# ---- 3. FTP bounce -------------------------------------------------------------------------------

@pytest.mark.parametrize("arg", [
    "127,0,0,2,100,100",        # another address
    "10,0,0,1,100,100",
    "192,168,0,1,0,21",
    "0,0,0,0,100,100",
    "255,255,255,255,100,100",
    "127,0,0,1,0,25",           # SMTP on the client's own host
    "127,0,0,1,0,0",            # port 0
    "127,0,0,1,3,255",          # port 1023
    "127,0,0,1,0,21",
])
def test_port_bounce_is_refused(server_inetd, arg):
    c = server_inetd.raw().login()
    assert c.cmd(f"PORT {arg}")[0] == 501
    # Nothing was armed: a transfer has no data connection to use.
    assert c.cmd("RETR pub/hello.txt")[0] == 425
    assert c.cmd("NOOP")[0] == 200


@pytest.mark.parametrize("arg, code", [
    ("|1|127.0.0.2|5000|", 501),
    ("|1|10.0.0.1|5000|", 501),
    ("|2|::1|5000|", 501),                   # IPv6 for an IPv4 session
    ("|2|::ffff:127.0.0.2|5000|", 501),      # a mapped address of another host
    ("|2|::ffff:10.0.0.1|5000|", 501),
    ("|1|127.0.0.1|25|", 501),
    ("|1|127.0.0.1|1023|", 501),
    ("|1|127.0.0.1|0|", 501),
    ("|1|127.0.0.1|65536|", 501),
    ("|1|127.0.0.1|-1|", 501),
    ("|1|::1|5000|", 501),
    ("|2|127.0.0.1|5000|", 501),
    ("|1|127.0.0.1|5000", 501),
    ("|1|127.0.0.1||", 501),
    ("||127.0.0.1|5000|", 501),
    ("|1|127.0.0.1|5000|extra|", 501),
    ("|1|127.0.0.1.1|5000|", 501),
    ("|1|localhost|5000|", 501),
    ("|1| 127.0.0.1|5000|", 501),
    ("\x01" "1\x01" "127.0.0.1\x01" "5000\x01", 501),  # unprintable delimiter
    ("", 501),
    ("|", 501),
    ("|3|127.0.0.1|5000|", 522),
    ("|99|whatever|5000|", 522),
])
def test_eprt_bounce_and_malformed(server_inetd, arg, code):
    c = server_inetd.raw().login()
    assert c.cmd(f"EPRT {arg}".rstrip())[0] == code
    assert c.cmd("RETR pub/hello.txt")[0] == 425
    assert c.cmd("NOOP")[0] == 200


@pytest.mark.parametrize("arg", [
    "", "127,0,0,1,4", "127,0,0,1,4,0,0", "256,0,0,1,4,0", "127,0,0,1,4,256", "127,0,0,-1,4,0",
    "127.0.0.1,4,0", "127,0,0,1,4,0,", ",127,0,0,1,4", "127,0,0,1,0x4,0", "a,b,c,d,e,f",
    "127,0,0,1,99999999999999999999,0", "1" * 3000,
])
def test_port_malformed(server_inetd, arg):
    c = server_inetd.raw().login()
    assert c.cmd(f"PORT {arg}".rstrip())[0] == 501
    assert c.cmd("NOOP")[0] == 200


def test_refused_port_never_connects_anywhere(server_inetd):
    bait = socket.socket()
    bait.bind(("127.0.0.2", 0))
    bait.listen(4)
    bait.setblocking(False)
    port = bait.getsockname()[1]
    c = server_inetd.raw().login()
    assert c.cmd(f"PORT 127,0,0,2,{port // 256},{port % 256}")[0] == 501
    assert c.cmd(f"EPRT |1|127.0.0.2|{port}|")[0] == 501
    assert c.cmd("RETR pub/hello.txt")[0] == 425
    assert c.cmd("LIST")[0] == 425
    assert select.select([bait], [], [], 1)[0] == []  # no connection ever came
    bait.close()


def test_port_to_the_clients_own_address_works(server_inetd):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)
    port = listener.getsockname()[1]
    c = server_inetd.raw().login()
    assert c.cmd("TYPE I")[0] == 200
    assert c.cmd(f"PORT 127,0,0,1,{port // 256},{port % 256}")[0] == 200
    c.send("RETR pub/hello.txt\r\n")
    d, peer = listener.accept()
    assert peer[0] == "127.0.0.1"
    d.settimeout(10)
    assert c.reply()[0] == 150
    assert read_all(d) == b"Hello from keepftpd.\n"
    assert c.reply()[0] == 226
    d.close()
    assert c.cmd(f"EPRT |1|127.0.0.1|{port}|")[0] == 200
    c.send("NLST pub\r\n")
    d, _ = listener.accept()
    d.settimeout(10)
    assert c.reply()[0] == 150
    assert b"pub/hello.txt" in read_all(d)
    assert c.reply()[0] == 226
    listener.close()
    # With port_promiscuous=NO the monitor checks the target again, so a compromised jail
    # cannot bypass these checks: test_privsep covers the monitor's request validation.


# ---- 4. passive data connection hijack -------------------------------------------------------

def test_intruder_first_then_real_client_gets_nothing(server_inetd):
    c = server_inetd.raw().login()
    assert c.cmd("TYPE I")[0] == 200
    code, lines = c.cmd("PASV")
    assert code == 227
    host, port = parse_pasv(lines[0])
    intruder = socket.socket()
    intruder.bind(("127.0.0.2", 0))
    intruder.settimeout(10)
    intruder.connect((host, port))
    real = socket.socket()
    real.settimeout(10)
    real.connect((host, port))  # queued behind the intruder
    assert c.cmd("RETR pub/hello.txt")[0] == 425
    assert read_all(intruder) == b""
    real.settimeout(3)
    try:
        got = read_all(real)
    except socket.timeout:
        got = b""
    assert b"Hello" not in got
    real.close()
    intruder.close()
    # A fresh PASV works for the real client, and not for a second intruder.
    code, lines = c.cmd("PASV")
    host, port = parse_pasv(lines[0])
    d = socket.create_connection((host, port), timeout=10)
    assert c.cmd("RETR pub/hello.txt")[0] == 150
    assert read_all(d) == b"Hello from keepftpd.\n"
    assert c.reply()[0] == 226
    code, lines = c.cmd("EPSV")
    assert code == 229
    port = int(re.search(r"\|\|\|(\d+)\|", lines[0]).group(1))
    intruder = socket.socket()
    intruder.bind(("127.0.0.2", 0))
    intruder.settimeout(10)
    intruder.connect(("127.0.0.1", port))
    assert c.cmd("LIST pub")[0] == 425
    assert read_all(intruder) == b""
    assert c.cmd("NOOP")[0] == 200


def test_pasv_port_is_single_use(server_inetd):
    c = server_inetd.raw().login()
    code, lines = c.cmd("PASV")
    host, port = parse_pasv(lines[0])
    d = socket.create_connection((host, port), timeout=10)
    assert c.cmd("RETR pub/hello.txt")[0] == 150
    read_all(d)
    assert c.reply()[0] == 226
    # The listener is gone: nobody can connect to it for the next transfer.
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=3)
    assert c.cmd("RETR pub/hello.txt")[0] == 425


# ---- 5. pre-login abuse ---------------------------------------------------------------------

def help_verbs(server):
    c = server.raw().login()
    code, lines = c.cmd("HELP")
    assert code == 214
    verbs = " ".join(lines[1:-1]).split()
    assert "RETR" in verbs and "STOR" in verbs
    c.cmd("QUIT")
    return verbs


PRELOGIN_REPLIES = {"PASS": 503, "FEAT": 211, "NOOP": 200, "HOST": 220}
# TLS verbs (RFC 2228/4217) have refusals of their own (502, 503, 534...) when TLS is off.
TLS_VERBS = {"AUTH", "PBSZ", "PROT", "CCC", "ADAT", "MIC", "CONF", "ENC"}


def test_every_command_before_login(server_inetd, tree):
    verbs = help_verbs(server_inetd)
    c = server_inetd.raw()
    assert c.reply()[0] == 220
    for verb in verbs:
        if verb in ("USER", "QUIT"):
            continue
        for arg in ("", " /etc/passwd", " ../../..", " 127,0,0,1,4,0"):
            if verb == "HOST" and not arg:
                expected = 501
            elif verb == "HOST":
                # HOST is legal before USER (RFC 7151); only after USER is it out of order.
                expected = 220
            else:
                expected = PRELOGIN_REPLIES.get(verb, 530)
            code, lines = c.cmd(verb + arg)
            if verb in TLS_VERBS:
                assert 500 <= code < 600, (verb, arg, lines)
            else:
                assert code == expected, (verb, arg, lines)
    assert c.cmd("OPTS UTF8 ON")[0] == 200
    # Nothing before login touched the tree, and a login still works afterwards.
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("PASS x@y")[0] == 230
    assert c.cmd("PWD") == (257, ['257 "/" is the current directory'])


TOO_LONG = (500, ["500 Command line too long: the limit is 4096 bytes."])


def test_huge_user_and_pass(make_server, local_users):
    s = make_server({"local_enable": "YES", "delay_failed_login": "0"})
    c = s.raw()
    assert c.reply()[0] == 220
    assert c.cmd("USER " + "u" * 10 * 1024) == TOO_LONG
    assert c.closed()
    c = s.raw()
    assert c.reply()[0] == 220
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("PASS " + "p" * 100 * 1024) == TOO_LONG
    assert c.closed()
    assert "p" * 200 not in s.output()
    assert "u" * 200 not in s.output()


@pytest.mark.parametrize("phase", ["prelogin", "session"])
def test_a_line_without_end_gets_500_and_the_connection_closes(make_server, phase):
    # A client streaming bytes without a line end is heard up to the limit, then answered and
    # closed, not read forever.
    s = make_server()
    c = s.raw(timeout=30)
    if phase == "session":
        c.login()
    else:
        assert c.reply()[0] == 220
    sent = 0
    try:
        while sent < 64 * 1024 * 1024:
            c.sock.sendall(b"X" * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert sent < 64 * 1024 * 1024, "the server kept reading"
    try:
        assert c.reply() == TOO_LONG
    except ConnectionResetError:
        pass  # the reply was sent, but our unread bytes made the kernel reset the connection
    assert wait_for(lambda: children(s.proc.pid) == [])
    assert "command line longer than 4096 bytes" in s.output()
    assert "seccomp" not in s.output()  # the jail left on its own, within its filter


@pytest.mark.parametrize("phase", ["prelogin", "session"])
def test_the_longest_line_is_4096_bytes(make_server, phase):
    s = make_server()
    c = s.raw()
    if phase == "session":
        c.login()
    else:
        assert c.reply()[0] == 220
    # 4096 bytes with the CRLF: a command (here an unknown one); one more byte is too long.
    assert c.cmd("XYZZY " + "a" * (4096 - 8))[0] in (500, 530)
    assert c.cmd("XYZZY " + "a" * (4096 - 7)) == TOO_LONG
    assert c.closed()


def pipeline(c, payload, expected_replies, timeout=60):
    """Sends payload from another thread while reading replies; returns the codes read."""
    err = []

    def sender():
        try:
            c.sock.sendall(payload)
        except OSError as e:  # pragma: no cover - reported below
            err.append(e)

    t = threading.Thread(target=sender)
    t.start()
    codes = []
    deadline = time.monotonic() + timeout
    while len(codes) < expected_replies and time.monotonic() < deadline:
        codes.append(c.reply()[0])
    t.join(timeout)
    assert not err, err
    return codes


def test_pipelined_noops_before_login_stay_bounded(make_server):
    server_inetd = make_server({"max_command_rate": "0"})  # memory, not the rate, is tested here
    c = server_inetd.raw(timeout=60)
    assert c.reply()[0] == 220
    monitor, jail = process_chain(server_inetd, 2)
    before = vmrss_kib(jail)
    codes = pipeline(c, b"NOOP\r\n" * 10000, 10000)
    assert codes == [200] * 10000
    # IAC floods within a line and many commands: the jail's memory stays small.
    codes = pipeline(c, (b"\xff" * 4000 + b"\r\n") * 2000, 2000)
    assert codes == [530] * 2000  # an empty command, before login
    rss = vmrss_kib(jail)
    assert rss < 64 * 1024, (before, rss)
    assert process_chain(server_inetd, 2) == [monitor, jail]
    # the connection still works
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("PASS x@y")[0] == 230


def test_a_100000_command_flood_after_login(make_server):
    server_inetd = make_server({"max_command_rate": "0"})
    c = server_inetd.raw(timeout=120).login()
    keeper, session_monitor, session = process_chain(server_inetd, 3)
    codes = pipeline(c, b"NOOP\r\n" * 100000, 100000, timeout=120)
    assert codes == [200] * 100000
    assert vmrss_kib(session) < 64 * 1024
    assert c.cmd("SIZE pub/hello.txt") == (213, ["213 21"])


@pytest.mark.parametrize("phase", ["prelogin", "session"])
def test_a_command_flood_is_slowed_to_max_command_rate(make_server, phase):
    s = make_server({"max_command_rate": "50"})
    c = s.raw(timeout=60)
    if phase == "session":
        c.login()
    else:
        assert c.reply()[0] == 220
    start = time.monotonic()
    codes = pipeline(c, b"NOOP\r\n" * 200, 200)
    took = time.monotonic() - start
    assert codes == [200] * 200
    # A burst of 50 passes at once, the other 150 at 50 per second.
    assert took >= 2.8, took
    assert "more than max_command_rate=50 commands per second" in s.output()
    assert s.output().count("max_command_rate") == 1  # said once, not per command


def test_commands_below_max_command_rate_are_not_delayed(make_server):
    s = make_server({"max_command_rate": "1000"})
    c = s.raw(timeout=60).login()
    assert pipeline(c, b"NOOP\r\n" * 500, 500) == [200] * 500
    assert "max_command_rate" not in s.output()


def test_a_huge_directory_is_listed_up_to_the_limit(make_server, tree):
    big = tree.path("pub/big")
    os.mkdir(big)
    for i in range(100_500):
        os.close(os.open(os.path.join(big, f"f{i:06}"), os.O_CREAT | os.O_WRONLY, 0o644))
    s = make_server()
    ftp = s.ftp()
    session = process_chain(s, 3)[-1]
    peak_before = int(status(session)["VmHWM"].split()[0])
    sizes = {}
    for cmd in ("LIST pub/big", "NLST pub/big", "MLSD pub/big"):
        lines = []
        ftp.retrlines(cmd, lines.append)
        assert len(lines) == 100_000, (cmd, len(lines))  # kMaxListEntries, documented in LIMITS
        sizes[cmd] = sum(len(line) + 2 for line in lines)
    assert ftp.sendcmd("NOOP").startswith("200")
    # The listings went out in pieces as their entries were stat'ed: the session jail's peak
    # memory grew by far less than the MLSD listing's size (held whole, it took that much and,
    # while its buffer grew, half as much again).
    assert sizes["MLSD pub/big"] > 8 << 20
    grown = int(status(session)["VmHWM"].split()[0]) - peak_before
    if not os.environ.get("KEEPFTPD_SANITIZED"):  # ASan keeps freed memory in quarantine
        assert grown < 6 * 1024, grown


# ---- 6. telnet IAC floods and malformed sequences ------------------------------------------------

@pytest.mark.parametrize("phase", ["prelogin", "session"])
def test_telnet_garbage(server_inetd, phase):
    c = server_inetd.raw()
    if phase == "prelogin":
        assert c.reply()[0] == 220
    else:
        c.login()
    IAC, SB, SE, WILL, DO, IP, DM = b"\xff", b"\xfa", b"\xf0", b"\xfb", b"\xfd", b"\xf4", b"\xf2"
    unknown = 530 if phase == "prelogin" else 500  # before login: "Please login"
    c.send(IAC * 4000 + b"\r\n")        # 2000 escaped 0xFF bytes: an unknown verb
    assert c.reply()[0] == unknown
    c.send(b"NOOP" + IAC + b"\r\n")     # IAC at the end of the line
    assert c.reply()[0] == 200
    c.send(b"NOOP" + IAC + WILL + b"\r\n")  # a truncated negotiation
    assert c.reply()[0] == 200
    c.send(IAC + WILL + b"\x01" + IAC + DO + b"\x03NOOP\r\n")  # negotiations are dropped
    assert c.reply()[0] == 200
    c.send(IAC + IP + IAC + DM + b"NOOP\r\n")
    assert c.reply()[0] == 200
    c.send(IAC + SB + b"\x18\x01NOOP\r\n")  # SB without SE: some reply, no hang
    assert c.reply()[0] in (200, unknown)
    c.send(IAC + SB + b"\x18" + IAC * 3000 + b"\r\n")
    assert c.reply()[0] == unknown
    c.send(IAC + SE + b"\r\n")
    assert c.reply()[0] == 500
    c.send(b"\r\n")
    assert c.reply()[0] == 500
    c.send(b"\n")
    assert c.reply()[0] == 500
    c.send(b"NO\xffOP\r\n")
    assert c.reply()[0] in (200, unknown)
    assert c.cmd("NOOP")[0] == 200
    if phase == "prelogin":
        assert c.cmd("USER anonymous")[0] == 331
        assert c.cmd("PASS x@y")[0] == 230
    assert c.cmd("NOOP")[0] == 200
    c.send(IAC * 5000 + b"\r\n")        # longer than a line: the end of the connection
    assert c.reply() == TOO_LONG
    assert c.closed()


# ---- 7. slowloris ------------------------------------------------------------------------------

def trickle_until_closed(c, payload, interval, limit):
    """Sends payload one byte every interval seconds; returns the seconds until the server
    closed the connection, or None if it was still open after limit seconds."""
    start = time.monotonic()
    c.sock.setblocking(False)
    i = 0
    while time.monotonic() - start < limit:
        try:
            c.sock.send(payload[i % len(payload):i % len(payload) + 1])
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start
        i += 1
        end = time.monotonic() + interval
        while time.monotonic() < end:
            r, _, _ = select.select([c.sock], [], [], max(0.0, end - time.monotonic()))
            if r:
                try:
                    data = c.sock.recv(65536)
                except ConnectionResetError:
                    return time.monotonic() - start
                if not data:
                    return time.monotonic() - start
                c.buf += data
    return None


@pytest.mark.parametrize("phase", ["prelogin", "session"])
def test_slowloris_is_cut_off(make_server, phase):
    s = make_server({"idle_session_timeout": "2"})
    c = s.raw(timeout=30)
    if phase == "prelogin":
        assert c.reply()[0] == 220
    else:
        c.login()
    took = trickle_until_closed(c, b"NOOPXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", 1.0, 15)
    assert took is not None, "still connected after 15 s of one byte a second"
    assert b"421" in c.buf
    assert wait_for(lambda: children(s.proc.pid) == [])


@pytest.mark.parametrize("phase", ["prelogin", "session"])
def test_slow_but_complete_commands_are_not_idle(make_server, phase):
    # The timeout is for idleness: a complete command every second keeps the session.
    s = make_server({"idle_session_timeout": "2"})
    c = s.raw(timeout=30)
    if phase == "prelogin":
        assert c.reply()[0] == 220
    else:
        c.login()
    for _ in range(4):
        time.sleep(1)
        assert c.cmd("NOOP")[0] == 200
    code, _ = c.reply()  # silence: the timeout
    assert code == 421
    assert c.closed()


# ---- 8. many connections ------------------------------------------------------------------------

def test_fifty_connections_at_once(server_inetd):
    clients = []
    for _ in range(50):
        clients.append(server_inetd.raw(timeout=30))
    for c in clients:
        assert c.reply()[0] == 220
    assert wait_for(lambda: len(children(server_inetd.proc.pid)) == 50, 10)
    for c in clients[:25]:
        assert c.cmd("USER anonymous")[0] == 331
        assert c.cmd("PASS x@y")[0] == 230
    for c in clients[:10]:
        assert c.cmd("QUIT")[0] == 221
    for c in clients:
        c.close()
    assert wait_for(lambda: children(server_inetd.proc.pid) == [], 20)
    # and the server still serves
    c = server_inetd.raw().login()
    assert c.cmd("SIZE pub/hello.txt") == (213, ["213 21"])


# ---- 9. hostile file names in listings --------------------------------------------------------

FORGED = "a\r\n-rw-r--r-- 1 0 0 0 Jan 01 1970 forged"
HOSTILE_NAMES = [FORGED, "b\x1b[31mred\x1b[0m", "c\nd", "e\r", "f\n226 Transfer complete."]


def check_listings(c, directory, count):
    for verb in ("LIST", "NLST", "MLSD", "LIST -a"):
        code, final, data = transfer(c, f"{verb} {directory}")
        assert (code, final) == (150, 226), verb
        lines = data.split(b"\r\n")
        assert lines[-1] == b""
        lines = lines[:-1]
        if verb == "LIST -a":
            lines = [l for l in lines if not l.endswith((b" .", b" .."))]
        assert len(lines) == count, (verb, data)
        assert not any(b"\n" in l or b"\r" in l for l in lines), (verb, data)
        assert not any(l.startswith(b"-rw-r--r-- 1 0 0 0 Jan 01 1970") for l in lines)
    code, lines = c.cmd(f"STAT {directory}")
    assert code == 213
    entries = [l for l in lines[1:-1] if not l.endswith((" .", " .."))]
    assert len(entries) == count, lines  # 213-, one line per entry, 213 End


def test_hostile_names_on_disk_list_one_line_each(make_server, tree):
    d = tree.path("pub/hostile")
    os.mkdir(d)
    for name in HOSTILE_NAMES:
        with open(os.path.join(d, name), "wb") as f:
            f.write(b"x")
    s = make_server()
    c = s.raw().login()
    check_listings(c, "pub/hostile", len(HOSTILE_NAMES))
    assert c.cmd("NOOP")[0] == 200


def test_hostile_names_through_uploads(jailed_server, jail):
    s = jailed_server(write=True)
    c = alice(s)
    assert c.cmd("MKD up")[0] == 257
    # CR LF inside the name ends the command: "STOR a", then a line that is no command.
    code, lines = c.cmd("PASV")
    host, port = parse_pasv(lines[0])
    d = socket.create_connection((host, port), timeout=10)
    c.send(("STOR up/" + FORGED + "\r\n").encode())
    assert c.reply()[0] == 150
    d.sendall(b"x")
    d.close()
    assert c.reply()[0] == 226
    assert c.reply()[0] == 500  # "-rw-r--r-- 1 0 0 0 Jan 01 1970 forged"
    # CR alone, and LF alone (a line end too), never make it into a name.
    assert transfer(c, b"STOR up/x\ry", upload=b"x")[0] == 550
    c.send(b"MKD up/m\nforged\r\n")
    assert c.reply()[0] == 257
    assert c.reply()[0] == 500
    # A terminal escape is a legal (if nasty) byte: stored, listed on one line.
    assert transfer(c, "STOR up/b\x1b[31mred", upload=b"x")[:2] == (150, 226)
    assert sorted(os.listdir(os.path.join(jail.home, "up"))) == ["a", "b\x1b[31mred", "m"]
    check_listings(c, "up", 3)
    assert c.cmd("NOOP")[0] == 200


# ---- 10. glob abuse ---------------------------------------------------------------------------

GLOBS = [
    "*?" * 40 + "*",
    "*a" * 60 + "b",
    "{*,*,*,*,*}" * 50,
    "*{*,*,*,*,*}*" * 30,
    "*" * 3000,
    "?" * 3000,
    "[" * 1000 + "*",
    "[!*]*[!a-z]*[^]]*" * 20,
    "*/*/*/*/*/*/*",
    "pub/" + "*a" * 60 + "b",
]


@pytest.mark.parametrize("pattern", GLOBS)
def test_glob_patterns_are_answered_quickly(make_server, tree, pattern):
    with open(tree.path("pub/" + "a" * 200), "wb") as f:
        f.write(b"a")
    for i in range(200):
        open(tree.path(f"pub/sub/{'a' * 50}{i}"), "wb").close()
    s = make_server()
    c = s.raw(timeout=15).login()
    assert c.cmd("CWD pub")[0] == 250
    for verb in ("LIST", "NLST", "MLSD"):
        start = time.monotonic()
        code, final, data = transfer(c, f"{verb} {pattern}")
        assert time.monotonic() - start < 10, verb
        assert code in (150, 550, 501), (verb, code)
        if code == 150:
            assert final == 226
    start = time.monotonic()
    assert c.cmd(f"STAT {pattern}")[0] in (213, 550)
    assert c.cmd(f"STAT sub/{pattern}")[0] in (213, 550)
    assert time.monotonic() - start < 10
    assert c.cmd("NOOP")[0] == 200


def test_glob_matches_only_inside_one_directory(make_server, tree):
    s = make_server()
    c = s.raw().login()
    code, final, data = transfer(c, "NLST ../../*")
    # "../../*" at the root is "/*": the jail's root, never the host's.
    assert (code, final) == (150, 226)
    names = set(data.decode().split("\r\n")) - {""}
    assert names == {"../../pub", '../../we"ird dir'}
    code, final, data = transfer(c, "NLST pub/*.txt")
    assert set(data.decode().split("\r\n")) - {""} == {"pub/hello.txt", "pub/lines.txt"}


def test_deny_file_with_a_pathological_pattern(make_server, tree):
    with open(tree.path("pub/" + "a" * 200), "wb") as f:
        f.write(b"a")
    s = make_server({"deny_file": "{" + ",".join(["*a" * 30 + "b"] * 20) + "}",
                     "hide_file": "{" + ",".join(["*a*a*a*a*a*a*a*a*a*a*c"] * 20) + "}"})
    c = s.raw(timeout=15).login()
    start = time.monotonic()
    code, final, data = transfer(c, "LIST pub")
    assert (code, final) == (150, 226)
    assert time.monotonic() - start < 10
    assert transfer(c, "RETR pub/" + "a" * 200)[:2] == (150, 226)


# ---- 11. QUIT and half-closed connections ------------------------------------------------------

@pytest.mark.parametrize("phase", ["prelogin", "session"])
def test_commands_after_quit_are_ignored(server_inetd, phase):
    c = server_inetd.raw()
    if phase == "prelogin":
        assert c.reply()[0] == 220
    else:
        c.login()
    c.send(b"QUIT\r\nNOOP\r\nUSER anonymous\r\nPASS x\r\n")
    assert c.reply()[0] == 221
    assert c.closed(10)
    assert c.buf == b""  # nothing after the 221
    assert wait_for(lambda: children(server_inetd.proc.pid) == [], 10)


@pytest.mark.parametrize("phase", ["prelogin", "session"])
def test_data_after_quit(server_inetd, phase):
    c = server_inetd.raw()
    if phase == "prelogin":
        assert c.reply()[0] == 220
    else:
        c.login()
    c.send(b"QUIT\r\n" + os.urandom(256 * 1024))
    try:
        assert c.reply()[0] == 221
    except ConnectionResetError:
        pass  # unread data may turn the close into a reset: still a clean end
    assert c.closed(10)
    assert wait_for(lambda: children(server_inetd.proc.pid) == [], 10)


@pytest.mark.parametrize("phase", ["prelogin", "session"])
@pytest.mark.parametrize("tail", [b"NOOP\r\n", b"NOO", b"", b"NOOP\r\nNOOP"])
def test_half_closed_connection_ends(server_inetd, phase, tail):
    c = server_inetd.raw()
    if phase == "prelogin":
        assert c.reply()[0] == 220
    else:
        c.login()
    c.send(tail)
    c.sock.shutdown(socket.SHUT_WR)
    if tail.startswith(b"NOOP\r\n"):
        assert c.reply()[0] == 200
    assert c.closed(10)
    assert c.buf == b""  # a partial line is never run
    assert wait_for(lambda: children(server_inetd.proc.pid) == [], 10)


def test_half_closed_during_a_transfer(server_inetd):
    c = server_inetd.raw().login()
    code, lines = c.cmd("PASV")
    host, port = parse_pasv(lines[0])
    d = socket.create_connection((host, port), timeout=10)
    assert c.cmd("RETR pub/big.sparse")[0] == 150
    d.recv(1024)
    c.sock.shutdown(socket.SHUT_WR)  # the control connection is gone while data flows
    d.close()
    assert c.closed(20)
    assert wait_for(lambda: children(server_inetd.proc.pid) == [], 10)
