"""keepftpd.conf(5)'s EXAMPLES, done as the page says: each example's commands prepare a
throwaway machine, its configuration passes --check-config, and a real client gets what the
example promises from a server running it.

Every example block in the page is marked with a roff comment just before its .EX line,
`.\\" example: NAME PART` (PART: setup, conf, or the name of a further step), and this file
runs every marked block. The only changes made to what the page says are the machine-specific
ones: /srv, /etc/keepftpd*, and /etc/letsencrypt move into the test's tree, account names get a
kftp- prefix (or are the suite's test accounts), and the suite's nopriv_user,
secure_chroot_dir and login_state_dir are added. The commands run in the suite's private /etc
(tests/with-test-accounts), with /var/log and /var/mail behind tmpfs mounts, and with stand-ins
only for what cannot run here: certbot (writes a self-signed certificate where certbot puts
its files), firewall-cmd and systemctl (recorded), and the password prompts of passwd and
openssl passwd (answered with PASSWORD).
"""

import ftplib
import io
import json
import os
import pwd
import re
import stat
import subprocess

import pytest

from conftest import KEEPFTPD, REPO, assert_private_etc

PAGE = os.path.join(REPO, "man", "keepftpd.conf.5")
PASSWORD = "example-secret"
MARK = re.compile(r'^\.\\" example: (\S+) (.+)$')


def deroff(line):
    return line.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")


def page_examples():
    """{(name, part): text} of the EXAMPLES section's marked .EX blocks, and the first lines of
    the blocks that are not marked."""
    with open(PAGE, encoding="utf-8") as f:
        lines = f.read().splitlines()
    start = lines.index(".SH EXAMPLES")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(".SH "))
    blocks, unmarked = {}, []
    i = start
    while i < end:
        if lines[i] == ".EX":
            mark = MARK.match(lines[i - 1])
            stop = lines.index(".EE", i)
            text = "\n".join(deroff(l) for l in lines[i + 1:stop]) + "\n"
            if mark:
                assert mark.groups() not in blocks, f"example {mark.groups()} marked twice"
                blocks[mark.groups()] = text
            else:
                unmarked.append(lines[i + 1])
            i = stop
        i += 1
    return blocks, unmarked


EXAMPLES, UNMARKED = page_examples()


def example(name, part):
    assert (name, part) in EXAMPLES, f"keepftpd.conf(5) has no example block {name} {part}"
    return EXAMPLES[(name, part)]


# What the commands may not do here, done the way the test can check.
STAND_INS = r"""
set -eu
mount -t tmpfs tmpfs /var/log
mount -t tmpfs tmpfs /var/mail
systemctl() { echo "systemctl $*" >> "$MACHINE/commands.log"; }
firewall-cmd() { echo "firewall-cmd $*" >> "$MACHINE/commands.log"; }
passwd() { [ $# = 1 ]; echo "$1:$PASSWORD" | chpasswd; }
openssl() {
  if [ "$*" = "passwd -1" ]; then command openssl passwd -1 "$PASSWORD"
  else command openssl "$@"; fi
}
certbot() {
  [ "$1 $2 $3" = "certonly --standalone -d" ] && [ $# = 4 ]
  local live=$MACHINE/etc/letsencrypt/live/$4
  mkdir -p "$live"
  command openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$4" \
    -keyout "$live/privkey.pem" -out "$live/fullchain.pem" 2>/dev/null
  chmod 600 "$live/privkey.pem"
}
set -x
"""


class Machine:
    """The machine an example prepares: its /srv and /etc/keepftpd* inside the test's tree."""

    def __init__(self, tree, names=None):
        self.tree = tree
        self.root = os.path.join(tree.base, "machine")
        for d in ("etc", "srv"):
            os.makedirs(os.path.join(self.root, d), mode=0o755)
        # Account names of the page -> names here (kftp-*: tests/with-test-accounts removes
        # them from its copy of /etc, so a run inside a run starts without them).
        self.names = names or {}

    def localize(self, text):
        text = re.sub(r"(?<![\w./-])/(srv/|etc/keepftpd|etc/letsencrypt/)",
                      lambda m: self.root + "/" + m.group(1), text)
        text = text.replace("keepftpd-virtual", "kftp-mx-virtual")  # the PAM service
        for name, here in self.names.items():
            text = re.sub(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", here, text)
        return text

    def path(self, page_path):
        return self.localize(page_path)

    def run(self, commands):
        """Runs an example's commands; returns what the recorded stand-ins were asked."""
        assert_private_etc()
        for here in self.names.values():
            if here.startswith("kftp-mx-") and subprocess.run(["id", here],
                                                               capture_output=True).returncode == 0:
                subprocess.run(["userdel", here], check=True)
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "bash", "-c",
                            STAND_INS + self.localize(commands)], capture_output=True, text=True,
                           timeout=120, env=dict(os.environ, MACHINE=self.root, PASSWORD=PASSWORD))
        assert r.returncode == 0, r.stdout + r.stderr
        log = os.path.join(self.root, "commands.log")
        return open(log).read() if os.path.exists(log) else ""

    def configure(self, conf, page_path="/etc/keepftpd.conf"):
        """Writes the example's configuration where the page says, with the test suite's
        nopriv_user, secure_chroot_dir and login_state_dir; --check-config must say OK."""
        text = self.localize(conf) + (
            "# The test machine's:\n"
            "nopriv_user=kftp-nopriv\n"
            f"secure_chroot_dir={self.tree.empty}\n"
            f"login_state_dir={os.path.join(self.tree.base, 'state')}\n")
        path = self.path(page_path)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        check_config(path)
        return text

    def serve(self, make_server, conf):
        return make_server(raw_config=self.configure(conf))


def check_config(path):
    r = subprocess.run([KEEPFTPD, "--check-config", "--config", path], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stdout == "OK\n", r.stdout + r.stderr


def login(server, user, password=PASSWORD):
    ftp = server.ftp(login=False)
    ftp.login(user, password)
    return ftp


def get(ftp, path):
    out = io.BytesIO()
    ftp.retrbinary("RETR " + path, out.write)
    return out.getvalue()


def put(ftp, path, data):
    ftp.storbinary("STOR " + path, io.BytesIO(data))


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True,
                          timeout=60)


# ---- the page ---------------------------------------------------------------------------------

def test_every_example_block_is_marked_and_run():
    assert not UNMARKED, "EXAMPLES blocks without a '.\\\" example: NAME PART' line: " + \
        ", ".join(UNMARKED)
    tested = {("anonymous-download", "setup"), ("anonymous-download", "conf"),
              ("anonymous-upload", "setup"), ("anonymous-upload", "conf"),
              ("chroot-local", "setup"), ("chroot-local", "conf"),
              ("virtual", "setup"), ("virtual", "conf"),
              ("ftps", "setup"), ("ftps", "conf"), ("ftps", "self-signed"),
              ("ftps", "implicit"),
              ("passive", "setup"), ("passive", "conf"),
              ("user-list", "setup"), ("user-list", "conf")}
    assert set(EXAMPLES) == tested


def test_every_option_of_the_examples_is_a_keepftpd_option():
    r = subprocess.run([KEEPFTPD, "--features", "--json"], capture_output=True, text=True,
                       timeout=30)
    options = json.loads(r.stdout)["options"]
    for (name, part), text in EXAMPLES.items():
        if part != "conf":
            continue
        for line in text.splitlines():
            if line and not line.startswith("#"):
                assert line.split("=", 1)[0] in options, f"{name}: {line}"


# ---- the examples -----------------------------------------------------------------------------

def test_anonymous_download_only(tree, make_server):
    m = Machine(tree)
    m.run(example("anonymous-download", "setup"))
    pub = m.path("/srv/ftp/pub")
    for name, mode in (("release.txt", 0o644), ("private.txt", 0o600)):
        with open(os.path.join(pub, name), "wb") as f:
            f.write(b"published\n")
        os.chmod(os.path.join(pub, name), mode)
    s = m.serve(make_server, example("anonymous-download", "conf"))
    ftp = s.ftp()  # anonymous
    assert get(ftp, "/pub/release.txt") == b"published\n"
    assert sorted(ftp.nlst("/pub")) == ["/pub/private.txt", "/pub/release.txt"]
    with pytest.raises(ftplib.error_perm, match="^550"):
        get(ftp, "/pub/private.txt")  # not readable by everyone
    for attempt in (lambda: put(ftp, "/pub/new.txt", b"x"), lambda: ftp.mkd("/pub/new"),
                    lambda: ftp.delete("/pub/release.txt")):
        with pytest.raises(ftplib.error_perm, match="^55[03]"):
            attempt()
    assert sorted(os.listdir(pub)) == ["private.txt", "release.txt"]
    c = s.raw()
    c.reply()
    assert c.cmd("USER kftp-nopriv")[0] == 530  # no local logins
    assert c.cmd("USER ftp")[0] == 331  # "(or ftp)"
    assert c.cmd("PASS guest@example.org")[0] == 230


def test_anonymous_upload_into_a_drop_directory(tree, make_server):
    m = Machine(tree)
    m.run(example("anonymous-upload", "setup"))
    incoming = m.path("/srv/ftp/incoming")
    st = os.stat(incoming)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, pwd.getpwnam("ftp").pw_gid,
                                                                 0o730)
    s = m.serve(make_server, example("anonymous-upload", "conf"))
    ftp = s.ftp()
    put(ftp, "/incoming/report.txt", b"dropped\n")
    uploaded = os.path.join(incoming, "report.txt")
    st = os.stat(uploaded)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o600)
    with open(uploaded, "rb") as f:
        assert f.read() == b"dropped\n"
    # Nothing in it can be seen, fetched or changed.
    with pytest.raises(ftplib.error_perm, match="^550"):
        get(ftp, "/incoming/report.txt")
    try:
        listed = ftp.nlst("/incoming")
    except ftplib.error_perm:
        listed = []
    assert not any("report" in n for n in listed)
    for attempt in (lambda: put(ftp, "/incoming/report.txt", b"over"),
                    lambda: ftp.delete("/incoming/report.txt"),
                    lambda: ftp.rename("/incoming/report.txt", "/incoming/other.txt"),
                    lambda: put(ftp, "/pub/report.txt", b"x")):
        with pytest.raises(ftplib.error_perm, match="^55[03]"):
            attempt()
    with open(uploaded, "rb") as f:
        assert f.read() == b"dropped\n"
    assert os.listdir(m.path("/srv/ftp/pub")) == []


def test_local_users_chrooted_with_a_writable_directory(tree, make_server):
    m = Machine(tree, {"alice": "kftp-mx-alice"})
    m.run(example("chroot-local", "setup"))
    alice = pwd.getpwnam("kftp-mx-alice")
    home = m.path("/srv/ftpusers/alice")
    assert alice.pw_dir == home
    s = m.serve(make_server, example("chroot-local", "conf"))
    ftp = login(s, "kftp-mx-alice")
    assert ftp.pwd() == "/files"
    put(ftp, "work.txt", b"alice's work\n")
    st = os.stat(os.path.join(home, "files", "work.txt"))
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (alice.pw_uid, 0o644)
    assert get(ftp, "/files/work.txt") == b"alice's work\n"
    with pytest.raises(ftplib.error_perm, match="^55[03]"):
        put(ftp, "/outside.txt", b"x")  # the jail's root is root's
    ftp.cwd("/..")
    assert ftp.pwd() == "/"
    assert ftp.nlst() == ["files"]
    with pytest.raises(ftplib.error_perm, match="^550"):
        get(ftp, "/etc/passwd")
    ftp.quit()
    # The layout the page warns about: a home the user can write is refused, and says why.
    os.chown(home, alice.pw_uid, alice.pw_gid)
    with pytest.raises(ftplib.Error, match="refusing to run with a root directory the user "
                                           "can write"):
        login(s, "kftp-mx-alice")


def test_virtual_users_with_private_folders(tree, make_server):
    m = Machine(tree, {"virtual": "kftp-mx-virtual"})
    try:
        m.run(example("virtual", "setup"))
        virtual = pwd.getpwnam("kftp-mx-virtual")
        s = m.serve(make_server, example("virtual", "conf"))
        ftp = login(s, "user1")
        assert ftp.pwd() == "/files"
        put(ftp, "mine.txt", b"user1's file\n")
        st = os.stat(m.path("/srv/ftp/user1/files/mine.txt"))
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (virtual.pw_uid, 0o644)
        with pytest.raises(ftplib.error_perm, match="^55[03]"):
            put(ftp, "/outside.txt", b"x")
        ftp2 = login(s, "user2")
        assert ftp2.nlst("/files") == []
        assert ftp2.nlst("/") == ["/files"]
        for path in ("/user1/files/mine.txt", "../user1/files/mine.txt"):
            with pytest.raises(ftplib.error_perm, match="^550"):
                get(ftp2, path)
        with pytest.raises(ftplib.error_perm, match="^530"):
            login(s, "user1", "wrong")
    finally:
        if os.path.exists("/etc/pam.d/kftp-mx-virtual"):
            os.unlink("/etc/pam.d/kftp-mx-virtual")


def assert_ftps_download(port, scheme="ftp"):
    r = curl("-k", *(["--ssl-reqd"] if scheme == "ftp" else []),
             f"{scheme}://kftp-alice:alice-secret@127.0.0.1:{port}/readme.txt")
    assert r.returncode == 0 and r.stdout == b"kftp-alice's file\n", r.stderr


def test_ftps_explicit_and_implicit_with_a_lets_encrypt_certificate(tree, make_server,
                                                                    local_users):
    m = Machine(tree)
    m.run(example("ftps", "setup"))
    s = m.serve(make_server, example("ftps", "conf"))
    assert_ftps_download(s.port)
    with pytest.raises(ftplib.error_perm, match="^530"):
        login(s, "kftp-alice", "alice-secret")  # not without TLS
    # Implicit: the same configuration with implicit_ssl=YES, in the file ftps@.service reads.
    steps = m.run(example("ftps", "implicit"))
    assert steps == "systemctl enable --now ftps.socket\n"
    with open(os.path.join(REPO, "units", "ftps@.service.in")) as f:  # /etc with --prefix=/usr
        assert "ExecStart=@sbindir@/keepftpd --config @sysconfdir@/keepftpd-ftps.conf\n" in f.read()
    implicit = m.path("/etc/keepftpd-ftps.conf")
    check_config(implicit)
    with open(implicit) as f:
        s2 = make_server(raw_config=f.read())
    assert_ftps_download(s2.port, "ftps")
    c = s2.raw()
    with pytest.raises((EOFError, ConnectionError, TimeoutError, OSError)):
        c.sock.settimeout(5)
        c.reply()  # no plain greeting: TLS comes first


def test_ftps_with_a_self_signed_certificate(tree, make_server, local_users):
    page = open(PAGE, encoding="utf-8").read()
    cert, key = "rsa_cert_file=/etc/keepftpd/cert.pem", "rsa_private_key_file=/etc/keepftpd/key.pem"
    assert f".B {cert}\n" in page and f".BR {key} .\n" in page
    m = Machine(tree)
    m.run(example("ftps", "self-signed"))
    assert stat.S_IMODE(os.stat(m.path("/etc/keepftpd/key.pem")).st_mode) == 0o600
    conf = re.sub(r"^rsa_cert_file=.*$", cert, example("ftps", "conf"), flags=re.MULTILINE)
    conf = re.sub(r"^rsa_private_key_file=.*$", key, conf, flags=re.MULTILINE)
    s = m.serve(make_server, conf)
    assert_ftps_download(s.port)


def test_passive_ports_behind_nat_and_firewalld(tree, make_server):
    m = Machine(tree)
    steps = m.run(example("passive", "setup"))
    conf = example("passive", "conf")
    low = int(re.search(r"^pasv_min_port=(\d+)$", conf, re.MULTILINE).group(1))
    high = int(re.search(r"^pasv_max_port=(\d+)$", conf, re.MULTILINE).group(1))
    # The firewall is opened for exactly the configured range.
    assert steps == ("firewall-cmd --permanent --add-service=ftp\n"
                     f"firewall-cmd --permanent --add-port={low}-{high}/tcp\n"
                     "firewall-cmd --reload\n")
    with open(m.path("/srv/ftp/hello.txt"), "wb") as f:
        f.write(b"hello\n")
    os.chmod(m.path("/srv/ftp/hello.txt"), 0o644)
    s = m.serve(make_server, conf)
    c = s.raw().login()
    code, lines = c.cmd("PASV")
    numbers = [int(n) for n in re.search(r"\((\d+(?:,\d+){5})\)", lines[0]).group(1).split(",")]
    assert code == 227 and numbers[:4] == [203, 0, 113, 10]
    assert low <= numbers[4] * 256 + numbers[5] <= high
    code, lines = c.cmd("EPSV")
    assert code == 229 and low <= int(re.search(r"\(\|\|\|(\d+)\|\)", lines[0]).group(1)) <= high
    # Python's ftplib connects to the server it talks to, not to the announced address (as a
    # client behind the same NAT would reach it): transfers work and stay in the range.
    ftp = s.ftp()
    for _ in range(3):
        host, port = ftp.makepasv()
        assert low <= port <= high
        assert get(ftp, "hello.txt") == b"hello\n"


def test_user_lists(tree, make_server, local_users):
    m = Machine(tree, {"alice": "kftp-alice", "bob": "kftp-bob"})
    m.run(example("user-list", "setup"))
    s = m.serve(make_server, example("user-list", "conf"))
    c = s.raw()
    c.reply()
    assert c.cmd("USER kftp-carol")[0] == 530  # not in the list: before any password
    assert c.cmd("USER kftp-alice")[0] == 331
    assert c.cmd("PASS alice-secret")[0] == 230
