"""The FTP protocol as anonymous clients see it: login, listings, downloads, reply codes."""

import ftplib
import hashlib
import io
import os
import re
import socket
import time

import pytest

from conftest import RANDOM_SIZE, sha256_file
from test_local_users import ALICE


def retr_bytes(ftp, path, rest=None):
    out = io.BytesIO()
    ftp.retrbinary("RETR " + path, out.write, rest=rest)
    return out.getvalue()


# ---- login ----------------------------------------------------------------------------------

def test_banner_and_anonymous_login(server):
    ftp = server.ftp(login=False)
    assert ftp.getwelcome().startswith("220 ")
    assert ftp.login().startswith("230")
    assert ftp.pwd() == "/"
    assert ftp.sendcmd("SYST") == "215 UNIX Type: L8"
    ftp.quit()


def test_login_as_ftp_with_password(server_inetd):
    c = server_inetd.raw()
    assert c.reply()[0] == 220
    assert c.cmd("USER ftp")[0] == 331
    assert c.cmd("PASS someone@example.org")[0] == 230
    assert c.cmd("PWD") == (257, ['257 "/" is the current directory'])


def test_other_users_are_refused(server_inetd):
    c = server_inetd.raw()
    c.reply()
    assert c.cmd("USER root")[0] == 530
    assert c.cmd("PASS secret")[0] == 503


def test_commands_before_login(server_inetd):
    c = server_inetd.raw()
    c.reply()
    for cmd in ("PWD", "LIST", "RETR pub/hello.txt", "CWD pub", "PASV", "XYZZY"):
        assert c.cmd(cmd)[0] == 530, cmd
    assert c.cmd("PASS x")[0] == 503
    assert c.cmd("NOOP")[0] == 200
    assert c.cmd("OPTS UTF8 ON")[0] == 200
    code, lines = c.cmd("FEAT")
    assert code == 211 and " UTF8" in lines and " EPSV" in lines
    assert c.cmd("QUIT")[0] == 221
    assert c.closed()


def test_host_before_user(server_inetd):
    c = server_inetd.raw()
    c.reply()
    assert c.cmd("HOST ftp.example.org")[0] == 220
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("HOST ftp.example.org")[0] == 503


# ---- commands after login ---------------------------------------------------------------------

def test_reply_codes_after_login(server_inetd):
    c = server_inetd.raw().login()
    assert c.cmd("XYZZY")[0] == 500
    assert c.cmd("ACCT x")[0] == 502
    assert c.cmd("TYPE X")[0] == 501
    assert c.cmd("TYPE E")[0] == 504
    assert c.cmd("TYPE L 8")[0] == 200
    assert c.cmd("TYPE I")[0] == 200
    assert c.cmd("MODE S")[0] == 200
    assert c.cmd("MODE B")[0] == 504
    assert c.cmd("STRU F")[0] == 200
    assert c.cmd("STRU R")[0] == 504
    assert c.cmd("ALLO 100")[0] == 202
    assert c.cmd("REST abc")[0] == 501
    assert c.cmd("REST -1")[0] == 501
    assert c.cmd("REST 10")[0] == 350
    assert c.cmd("ABOR")[0] == 225
    assert c.cmd("USER other")[0] == 530
    assert c.cmd("HOST x")[0] == 503
    assert c.cmd("LIST")[0] == 425  # no PORT or PASV first
    for write_cmd in ("STOR x", "APPE x", "DELE pub/hello.txt", "MKD new", "RMD pub",
                      "RNFR pub/hello.txt", "STOU"):
        assert c.cmd(write_cmd)[0] in (550, 553), write_cmd
    assert c.cmd("XPWD")[0] == 257
    assert c.cmd("NOOP")[0] == 200


def test_cwd_pwd_cdup(server):
    ftp = server.ftp()
    assert ftp.cwd("pub").startswith("250")
    assert ftp.pwd() == "/pub"
    assert ftp.sendcmd("XCWD sub").startswith("250")
    assert ftp.pwd() == "/pub/sub"
    assert ftp.sendcmd("CDUP").startswith("250")
    assert ftp.pwd() == "/pub"
    assert ftp.sendcmd("XCUP").startswith("250")
    assert ftp.sendcmd("CDUP").startswith("250")
    assert ftp.pwd() == "/"
    ftp.cwd("../../..")
    assert ftp.pwd() == "/"
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.cwd("nonexistent")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.cwd("pub/hello.txt")
    ftp.cwd("/pub/sub/")
    assert ftp.pwd() == "/pub/sub"


def test_quote_in_257_reply_is_doubled(server_inetd):
    c = server_inetd.raw().login()
    assert c.cmd('CWD we"ird dir')[0] == 250
    assert c.cmd("PWD") == (257, ['257 "/we""ird dir" is the current directory'])


def test_cannot_escape_the_root(server_inetd, tree):
    ftp = server_inetd.ftp()
    with pytest.raises(ftplib.error_perm):
        retr_bytes(ftp, "../../../../etc/passwd")
    with pytest.raises(ftplib.error_perm):
        retr_bytes(ftp, "/etc/passwd")
    assert retr_bytes(ftp, "/../pub/../pub/./hello.txt") == b"Hello from keepftpd.\n"


def test_pipelined_commands_and_bare_lf(server_inetd):
    c = server_inetd.raw()
    c.reply()
    c.send("USER anonymous\nPASS x@y\r\nPWD\nCWD pub\r\nPWD\nSYST\n")
    assert c.reply()[0] == 331
    assert c.reply()[0] == 230
    assert c.reply() == (257, ['257 "/" is the current directory'])
    assert c.reply()[0] == 250
    assert c.reply() == (257, ['257 "/pub" is the current directory'])
    assert c.reply()[0] == 215


def test_overlong_line_gets_500_and_the_connection_closes(server_inetd):
    c = server_inetd.raw().login()
    assert c.cmd("PWD")[0] == 257
    c.send("NOOP " + "A" * 100000 + "\r\n")
    assert c.reply() == (500, ["500 Command line too long: the limit is 4096 bytes."])
    assert c.closed()


def test_feat_help_stat_opts(server_inetd):
    c = server_inetd.raw().login()
    code, lines = c.cmd("FEAT")
    assert code == 211
    for feature in (" EPRT", " EPSV", " MDTM", " PASV", " REST STREAM", " SIZE", " UTF8"):
        assert feature in lines
    assert any(l.startswith(" MLST type*;size*;modify*;perm*;unix.mode*;unique*;") for l in lines)
    code, lines = c.cmd("HELP")
    assert code == 214 and any("RETR" in l for l in lines)
    code, lines = c.cmd("STAT")
    assert code == 211 and any("127.0.0.1" in l for l in lines)
    code, lines = c.cmd("STAT pub")
    assert code == 213
    assert any(l.endswith(" hello.txt") for l in lines)
    assert c.cmd("OPTS UTF8 ON")[0] == 200
    assert c.cmd("OPTS MLST type;size;") == (200, ["200 MLST OPTS type;size;"])
    assert c.cmd("OPTS BOGUS")[0] == 501


# ---- listings ---------------------------------------------------------------------------------

LIST_LINE = re.compile(
    r"^([-dlcbps][-rwxsStT]{9}) +(\d+) (\S+) +(\S+) +(\d+) "
    r"([A-Z][a-z]{2} [ 0-9]\d (?:\d\d:\d\d| \d{4})) (.+)$")


def test_list_format(server):
    ftp = server.ftp()
    lines = []
    ftp.retrlines("LIST pub", lines.append)
    by_name = {}
    for line in lines:
        m = LIST_LINE.match(line)
        assert m, line
        by_name[m.group(7)] = m
    assert set(by_name) == {"hello.txt", "lines.txt", "random.bin", "big.sparse", "secret.key",
                            "sub", "incoming", "link-to-hello -> hello.txt"}
    hello = by_name["hello.txt"]
    assert hello.group(1) == "-rw-r--r--"
    assert hello.group(5) == "21"
    assert hello.group(6) == "Jan 01  2020"
    assert by_name["sub"].group(1) == "drwxr-xr-x"
    assert by_name["link-to-hello -> hello.txt"].group(1).startswith("l")
    assert by_name["random.bin"].group(5) == str(RANDOM_SIZE)
    assert re.match(r"^-rw-r--r--    1 0        0              21 Jan 01  2020 hello.txt$",
                    hello.group(0))


def test_list_dot_files_with_a(server_inetd):
    ftp = server_inetd.ftp()
    lines = []
    ftp.retrlines("LIST -a pub", lines.append)
    names = [l.split()[-1] for l in lines]
    assert ".hidden" in names and "." in names and ".." in names


def test_nlst(server):
    ftp = server.ftp()
    assert sorted(ftp.nlst()) == sorted(["pub", 'we"ird dir'])
    assert "pub/hello.txt" in ftp.nlst("pub")
    ftp.cwd("pub")
    assert "hello.txt" in ftp.nlst()
    assert ftp.nlst("*.txt") == ["hello.txt", "lines.txt"]


def test_mlsd_and_mlst(server):
    ftp = server.ftp()
    entries = dict(ftp.mlsd("pub"))
    hello = entries["hello.txt"]
    assert hello["type"] == "file" and hello["size"] == "21"
    assert hello["modify"] == "20200101120000" or hello["modify"].startswith("2020010")
    assert hello["perm"] == "r"
    assert hello["unix.mode"] == "0644"
    assert re.match(r"^[0-9a-f]+g[0-9a-f]+$", hello["unique"])
    assert entries["sub"]["type"] == "dir" and entries["sub"]["perm"] == "el"
    # A symbolic link is described by what it points to.
    link = entries["link-to-hello"]
    assert link["type"] == "file" and link["size"] == "21" and link["unique"] == hello["unique"]
    assert ".hidden" not in entries
    resp = ftp.sendcmd("MLST pub/hello.txt")
    lines = resp.splitlines()
    assert lines[0].startswith("250-") and lines[-1].startswith("250 ")
    assert lines[1].startswith(" type=file;size=21;") and lines[1].endswith(" /pub/hello.txt")


def test_list_of_missing_dir_is_550(server_inetd):
    # vsftpd sends an empty listing; a 550 tells the user what is wrong (RFC 959 allows it).
    ftp = server_inetd.ftp()
    for cmd in ("LIST nonexistent", "NLST nonexistent", "MLSD nonexistent", "LIST nodir/*.txt"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.retrlines(cmd, lambda line: None)
    with pytest.raises(ftplib.error_perm, match="^501"):
        ftp.retrlines("MLSD pub/hello.txt", lambda line: None)


# ---- downloads --------------------------------------------------------------------------------

def test_retr_passive_sha256(server, tree):
    ftp = server.ftp()
    data = retr_bytes(ftp, "pub/random.bin")
    assert len(data) == RANDOM_SIZE
    assert hashlib.sha256(data).hexdigest() == sha256_file(tree.path("pub/random.bin"))


def test_retr_active_sha256(server, tree):
    ftp = server.ftp()
    ftp.set_pasv(False)
    data = retr_bytes(ftp, "pub/random.bin")
    assert hashlib.sha256(data).hexdigest() == sha256_file(tree.path("pub/random.bin"))


def test_retr_epsv_and_eprt(server_inetd, tree):
    ftp = server_inetd.ftp()
    ftp.af = socket.AF_INET6  # makes ftplib use EPSV / EPRT
    ftp.set_pasv(True)
    assert retr_bytes(ftp, "pub/hello.txt") == b"Hello from keepftpd.\n"
    ftp.set_pasv(False)
    ftp.af = socket.AF_INET
    c = server_inetd.raw().login()
    assert c.cmd("EPSV 1")[0] == 229
    assert c.cmd("EPSV 2")[0] == 522
    assert c.cmd("EPSV 7")[0] == 522  # RFC 2428: a protocol the server does not speak
    assert c.cmd("EPRT |3|1.2.3.4|2000|")[0] == 522
    assert c.cmd("EPRT |1|1.2.3|2000|")[0] == 501
    assert c.cmd("EPRT |1|127.0.0.1|2000|")[0] == 200


def test_rest_resume(server, tree):
    ftp = server.ftp()
    full = retr_bytes(ftp, "pub/random.bin")
    tail = retr_bytes(ftp, "pub/random.bin", rest=1000000)
    assert tail == full[1000000:]
    assert retr_bytes(ftp, "pub/random.bin", rest=RANDOM_SIZE) == b""


def ascii_retr(ftp, path):
    ftp.voidcmd("TYPE A")
    c = ftp.transfercmd("RETR " + path)
    data = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    c.close()
    ftp.voidresp()
    return data


def test_ascii_mode_converts_line_ends_with_ascii_download_enable(make_server):
    ftp = make_server({"ascii_download_enable": "YES"}).ftp()
    assert ascii_retr(ftp, "pub/lines.txt") == b"one\r\ntwo\r\nthree\r\n\r\nfive"
    ftp.voidcmd("TYPE I")
    assert retr_bytes(ftp, "pub/lines.txt") == b"one\ntwo\r\nthree\n\nfive"


def test_ascii_mode_sends_the_file_as_stored_by_default(server_inetd):
    # vsftpd's default (ascii_download_enable=NO): TYPE A downloads are not converted.
    ftp = server_inetd.ftp()
    assert ascii_retr(ftp, "pub/lines.txt") == b"one\ntwo\r\nthree\n\nfive"


def test_use_sendfile_no(make_server, tree):
    ftp = make_server({"use_sendfile": "NO"}).ftp()
    data = retr_bytes(ftp, "pub/random.bin")
    assert hashlib.sha256(data).hexdigest() == sha256_file(tree.path("pub/random.bin"))
    assert retr_bytes(ftp, "pub/random.bin", rest=1000) == data[1000:]


def test_size_and_mdtm(server_inetd):
    ftp = server_inetd.ftp()
    ftp.voidcmd("TYPE I")
    assert ftp.size("pub/random.bin") == RANDOM_SIZE
    assert ftp.sendcmd("MDTM pub/hello.txt") == "213 20200101" + ftp.sendcmd(
        "MDTM pub/hello.txt")[12:]
    assert re.match(r"^213 \d{14}$", ftp.sendcmd("MDTM pub/hello.txt"))
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.size("pub/nonexistent")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("MDTM nonexistent")


def test_retr_errors(server_inetd):
    ftp = server_inetd.ftp()
    with pytest.raises(ftplib.error_perm, match="^550"):
        retr_bytes(ftp, "pub/nonexistent")
    with pytest.raises(ftplib.error_perm, match="^550"):
        retr_bytes(ftp, "pub")
    assert retr_bytes(ftp, "pub/hello.txt") == b"Hello from keepftpd.\n"


def test_retr_of_symlink_follows_it(server_inetd):
    ftp = server_inetd.ftp()
    assert retr_bytes(ftp, "pub/link-to-hello") == b"Hello from keepftpd.\n"


# ---- data connection rules ---------------------------------------------------------------------

def test_epsv_all_refuses_pasv_and_port(server_inetd):
    c = server_inetd.raw().login()
    assert c.cmd("EPSV ALL")[0] == 200
    assert c.cmd("PASV")[0] == 503
    assert c.cmd("PORT 127,0,0,1,100,100")[0] == 503
    assert c.cmd("EPRT |1|127.0.0.1|25700|")[0] == 503
    assert c.cmd("EPSV")[0] == 229


def test_port_bounce_is_refused(server_inetd):
    c = server_inetd.raw().login()
    assert c.cmd("PORT 10,0,0,1,100,100")[0] == 501  # another host
    assert c.cmd("PORT 127,0,0,1,0,25")[0] == 501  # a privileged port
    assert c.cmd("EPRT |1|127.0.0.1|25|")[0] == 501
    assert c.cmd("PORT 127,0,0,1,300,1")[0] == 501
    assert c.cmd("PORT 1,2,3")[0] == 501
    assert c.cmd("PORT 127,0,0,1,100,100")[0] == 200


def test_port_promiscuous_allows_other_hosts(make_server):
    s = make_server({"port_promiscuous": "YES"})
    c = s.raw().login()
    assert c.cmd("PORT 127,0,0,2,100,100")[0] == 200


def parse_pasv(reply):
    nums = re.search(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", reply).groups()
    return ".".join(nums[:4]), int(nums[4]) * 256 + int(nums[5])


def test_passive_connection_from_another_address_is_refused(server_inetd):
    c = server_inetd.raw().login()
    code, lines = c.cmd("PASV")
    assert code == 227
    host, port = parse_pasv(lines[0])
    assert host == "127.0.0.1"
    intruder = socket.socket()
    intruder.bind(("127.0.0.2", 0))
    intruder.settimeout(5)
    intruder.connect((host, port))
    c.send("RETR pub/hello.txt\r\n")
    code, _ = c.reply()
    assert code == 425
    intruder.settimeout(5)
    try:
        assert intruder.recv(100) == b""
    except ConnectionResetError:
        pass
    # The session goes on.
    assert c.cmd("NOOP")[0] == 200


def test_abor_during_transfer(server_inetd):
    ftp = server_inetd.ftp()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR pub/big.sparse")
    conn.recv(1024)
    ftp.sock.sendall(b"ABOR\r\n")
    replies = [ftp.getline(), ftp.getline()]
    conn.close()
    assert replies[0].startswith("426"), replies
    assert replies[1].startswith("226"), replies
    assert ftp.sendcmd("NOOP").startswith("200")


def test_abor_after_telnet_ip_and_synch(server_inetd):
    ftp = server_inetd.ftp()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR pub/big.sparse")
    conn.recv(1024)
    ftp.sock.sendall(b"\xff\xf4\xff", socket.MSG_OOB)  # IAC IP IAC
    ftp.sock.sendall(b"\xf2ABOR\r\n")                  # DM ABOR
    replies = [ftp.getline(), ftp.getline()]
    conn.close()
    assert replies[0].startswith("426"), replies
    assert replies[1].startswith("226"), replies
    assert ftp.sendcmd("NOOP").startswith("200")


# REIN after login starts a new pre-login jail, which can have new namespaces only while the
# monitor holds CAP_SYS_ADMIN, before the first login: REIN needs isolate=NO, isolate_network=NO.
NO_ISOLATION = {"isolate": "NO", "isolate_network": "NO"}


def test_rein_returns_to_prelogin(make_server):
    c = make_server(NO_ISOLATION).raw().login()
    assert c.cmd("CWD pub")[0] == 250
    assert c.cmd("REIN")[0] == 220
    assert c.cmd("PWD")[0] == 530
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("PASS x@y")[0] == 230
    assert c.cmd("PWD") == (257, ['257 "/" is the current directory'])
    assert c.cmd("REIN")[0] == 220
    assert c.cmd("USER ftp")[0] == 331
    assert c.cmd("PASS x@y")[0] == 230


def test_rein_after_login_is_refused_where_the_new_login_would_be_less_isolated(server_inetd):
    """With isolate or isolate_network (the defaults), a new pre-login jail after a login could
    not get the namespaces the first one had: REIN gets 502 and the session goes on."""
    c = server_inetd.raw().login()
    assert c.cmd("CWD pub")[0] == 250
    code, lines = c.cmd("REIN")
    assert code == 502 and "open a new connection" in lines[0], lines
    assert c.cmd("PWD") == (257, ['257 "/pub" is the current directory'])
    # A session jail that asks anyway (a test-build hook) ends the connection.
    c.send("XKFTPDFORGE rein\r\n")
    assert c.closed(10)
    deadline = time.time() + 10
    while "refusing REINIT" not in server_inetd.output() and time.time() < deadline:
        time.sleep(0.05)
    assert "refusing REINIT from the session jail" in server_inetd.output()


def test_hash(server_inetd, tree):
    import zlib
    ftp = server_inetd.ftp()
    feat = ftp.sendcmd("FEAT").splitlines()
    assert " HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32" in feat
    data = open(tree.path("pub/random.bin"), "rb").read()
    end = len(data) - 1
    assert ftp.sendcmd("HASH pub/random.bin") == (
        f"213 SHA-256 0-{end} {hashlib.sha256(data).hexdigest()} pub/random.bin")
    for name, want in (("SHA-512", hashlib.sha512(data).hexdigest()),
                       ("SHA-1", hashlib.sha1(data).hexdigest()),
                       ("MD5", hashlib.md5(data).hexdigest()),
                       ("CRC32", "%08x" % zlib.crc32(data))):
        assert ftp.sendcmd(f"OPTS HASH {name}") == f"200 {name}"
        assert ftp.sendcmd("HASH pub/random.bin").split()[3] == want, name
    assert ftp.sendcmd("OPTS HASH") == "200 CRC32"
    assert " HASH SHA-256;SHA-512;SHA-1;MD5;CRC32*" in ftp.sendcmd("FEAT").splitlines()
    with pytest.raises(ftplib.error_perm, match="^504"):
        ftp.sendcmd("OPTS HASH SHA-3")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("HASH pub")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("HASH pub/nonexistent")


def test_abor_arriving_in_pieces_while_the_client_reads_nothing(server_inetd):
    # The telnet Synch and the ABOR line arrive apart while the data connection is stalled
    # (the client stopped reading): the server must still see the ABOR.
    import time as _time
    ftp = server_inetd.ftp()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR pub/big.sparse")
    conn.recv(1024)
    ftp.sock.sendall(b"\xff\xf4\xff", socket.MSG_OOB)
    _time.sleep(0.5)
    ftp.sock.sendall(b"\xf2AB")
    _time.sleep(0.5)
    ftp.sock.sendall(b"OR\r\n")
    replies = [ftp.getline(), ftp.getline()]
    conn.close()
    assert replies[0].startswith("426"), replies
    assert replies[1].startswith("226"), replies


def test_argument_errors_get_the_rfc_reply_codes(make_server, local_users):
    s = make_server({"local_enable": "YES", "write_enable": "YES"})
    c = s.raw()
    assert c.reply()[0] == 220
    assert c.cmd(f"USER {ALICE}")[0] == 331
    assert c.cmd(f"PASS {local_users.users[ALICE]['password']}")[0] == 230
    # RFC 2428: a network protocol the server does not speak is 522 with the supported list;
    # an argument that is no protocol number at all is a syntax error.
    assert c.cmd("EPSV 3") == (522, ["522 Network protocol not supported, use (1)"])
    assert c.cmd("EPSV 2") == (522, ["522 Network protocol not supported, use (1)"])
    assert c.cmd("EPRT |3|x|5000|") == (522, ["522 Network protocol not supported, use (1)"])
    assert c.cmd("EPSV x")[0] == 501
    # RFC 959: a command that needs an argument and has none is a syntax error (501); a
    # parameter the server does not implement is 504.
    for verb in ("RETR", "STOR", "APPE", "DELE", "RNFR", "RNTO", "MKD", "XMKD", "RMD", "XRMD",
                 "SIZE", "MDTM", "MFMT", "HASH", "MODE", "STRU", "TYPE", "REST", "PORT", "EPRT"):
        assert c.cmd(verb) == (501, [f"501 {verb} needs an argument."]), verb
    assert c.cmd("MODE B")[0] == 504
    assert c.cmd("STRU R")[0] == 504
    assert c.cmd("TYPE E")[0] == 504
    # RFC 3659: a restart marker the transfer cannot use is 554.
    probe = os.path.join(local_users.users[ALICE]["real_home"], "seek-probe")
    with open(probe, "wb") as f:
        try:
            f.seek(2**63 - 1)
            seekable = True
        except OSError:
            seekable = False
    os.unlink(probe)
    if not seekable:
        assert c.cmd("REST 9223372036854775807")[0] == 350
        code, lines = c.cmd("PASV")
        assert code == 227
        assert c.cmd("STOR resume-too-far.bin") == (
            554, ["554 Could not seek to the restart position."])
    assert c.cmd("NOOP")[0] == 200
