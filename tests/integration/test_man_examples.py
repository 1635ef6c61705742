"""The man pages' examples, done as the pages say. keepftpd.conf(5)'s EXAMPLES: each example's
commands prepare a throwaway machine, its configuration passes --check-config, and a real client
gets what the example promises from a server running it. keepftpd(8)'s (at the end of this file):
the migration from vsftpd, --check-config, serving by hand, with systemd and with xinetd, and
the journalctl commands of LOGGING.

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
from test_service import start_journald_server, superservers, wait_for_records  # noqa: F401

PAGE = os.path.join(REPO, "man", "keepftpd.conf.5")
PASSWORD = "example-secret"
MARK = re.compile(r'^\.\\" example: (\S+) (.+)$')


def deroff(line):
    return line.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")


def page_examples(page=PAGE, section=".SH EXAMPLES"):
    """{(name, part): text} of the section's marked .EX blocks (section None: the whole page's),
    and the first lines of the blocks that are not marked."""
    with open(page, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if section is None:
        start, end = 0, len(lines)
    else:
        start = lines.index(section)
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
keepftpd() { "$KEEPFTPD" "$@"; }  # the built binary, as installed
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
        for d in ("etc", "srv", "root"):
            os.makedirs(os.path.join(self.root, d), mode=0o755)
        # Account names of the page -> names here (kftp-*: tests/with-test-accounts removes
        # them from its copy of /etc, so a run inside a run starts without them).
        self.names = names or {}

    def localize(self, text):
        text = re.sub(r"(?<![\w./-])/(srv/|etc/keepftpd|etc/letsencrypt/|etc/systemd/system|"
                      r"etc/xinetd\.d/|root/keepftpd-migration)",
                      lambda m: self.root + "/" + m.group(1), text)
        text = re.sub(r"(?<![\w./-])/usr/sbin/keepftpd(?![\w.-])", KEEPFTPD, text)
        text = text.replace("keepftpd-virtual", "kftp-mx-virtual")  # the PAM service
        for name, here in self.names.items():
            text = re.sub(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", here, text)
        return text

    def path(self, page_path):
        return self.localize(page_path)

    def run(self, commands, ok=True, setup=""):
        """Runs an example's commands (which must succeed, unless ok is False) after setup (shell
        lines, not localized); returns what the recorded stand-ins were asked, and keeps the
        run's standard output and status."""
        assert_private_etc()
        for here in self.names.values():
            if here.startswith("kftp-mx-") and subprocess.run(["id", here],
                                                               capture_output=True).returncode == 0:
                subprocess.run(["userdel", here], check=True)
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "bash", "-c",
                            STAND_INS + setup + self.localize(commands)], capture_output=True,
                           text=True,
                           timeout=120, env=dict(os.environ, MACHINE=self.root, PASSWORD=PASSWORD,
                                                 KEEPFTPD=KEEPFTPD))
        self.stdout, self.returncode = r.stdout, r.returncode
        assert r.returncode == 0 or not ok, r.stdout + r.stderr
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


# ---- keepftpd(8) ------------------------------------------------------------------------------
# Every .EX block of keepftpd(8), in any section, is marked the same way and run here, with the
# same changes plus: /usr/sbin/keepftpd is the built binary, /root/keepftpd-migration,
# /etc/systemd/system and /etc/xinetd.d are in the test's tree, and what listens on a port runs
# in a network namespace of its own, where the page's port is free. The journalctl commands of
# LOGGING read the journal of a journald started for the test (-D names where it is).

PAGE_8 = os.path.join(REPO, "man", "keepftpd.8")
EXAMPLES_8, UNMARKED_8 = page_examples(PAGE_8, section=None)


def example_8(name, part):
    assert (name, part) in EXAMPLES_8, f"keepftpd(8) has no example block {name} {part}"
    return EXAMPLES_8[(name, part)]


def page_8_text():
    with open(PAGE_8, encoding="utf-8") as f:
        return deroff(f.read())


def logging_commands():
    """The journalctl commands LOGGING shows (.B "journalctl ...")."""
    return re.findall(r'^\.B "(journalctl [^"]*)"$', page_8_text(), re.MULTILINE)


def logging_record():
    """The record LOGGING quotes as a jail's (\\(lq TEXT \\(rq)."""
    m = re.search(r'^\.RB \\\(lq "(session jail: [^"]*)" \\\(rq', page_8_text(), re.MULTILINE)
    assert m, "keepftpd(8) LOGGING quotes no session jail record"
    return m.group(1).replace("\\(dq", '"')


# Runs a script as root in new mount, network and PID namespaces: loopback up, every port
# free, and whatever the script starts ends with it.
NETNS = ["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc", "--propagation",
         "private", "--", "bash", "-c"]
NETNS_SETUP = r"""
set -eu
ip link set lo up
listens() { for i in $(seq 200); do ss -ltn | grep -q ":$1 " && return 0; sleep 0.05; done
            echo "nothing listens on port $1"; return 1; }
"""


def in_netns(machine, script):
    r = subprocess.run(NETNS + [NETNS_SETUP + script], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, MACHINE=machine.root))
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def anonymous_machine(tree):
    """A machine whose /etc/keepftpd.conf serves the suite's tree anonymously."""
    m = Machine(tree)
    m.configure(f"anonymous_enable=YES\nanon_root={tree.anon}\n")
    return m


def test_every_example_block_of_keepftpd_8_is_marked_and_run():
    assert not UNMARKED_8, "keepftpd(8) blocks without a '.\\\" example: NAME PART' line: " + \
        ", ".join(UNMARKED_8)
    assert set(EXAMPLES_8) == {("migrate", "steps"), ("check-config", "command"),
                               ("by-hand", "command"), ("systemd", "command"),
                               ("xinetd", "entry")}
    assert sorted(logging_commands()) == ["journalctl -t keepftpd",
                                          "journalctl -t keepftpd -o json"]


# keepftpd installed: its tmpfiles.d entry has made /usr/share/empty, secure_chroot_dir's
# default (here in the example's mount namespace only, over an overlay of /usr/share).
KEEPFTPD_INSTALLED = r"""
mkdir -p "$MACHINE/.usr-share/upper" "$MACHINE/.usr-share/work"
mount -t overlay overlay -o "lowerdir=/usr/share,upperdir=$MACHINE/.usr-share/upper,\
workdir=$MACHINE/.usr-share/work" /usr/share
install -d -m 755 /usr/share/empty
"""


def test_keepftpd_8_migration_from_vsftpd(tree, make_server, local_users):
    """Debian's own /etc/vsftpd.conf (the vsftpd package's) converted, checked and installed as
    the page says; the installed file then serves what that vsftpd setup served: local users
    through PAM, no anonymous logins, transfers in vsftpd's log."""
    assert os.path.exists("/etc/vsftpd.conf"), "./dev test installs the vsftpd package"
    m = Machine(tree)
    steps = m.run(example_8("migrate", "steps"), setup=KEEPFTPD_INSTALLED)
    out = m.stdout
    for part in ("Same in keepftpd", "Changed meaning or default",
                 "Moved to the socket unit and the xinetd entry", "Needs your decision (0)"):
        assert part in out, out
    assert re.search(r"^OK$", out, re.MULTILINE), out  # the check of the result
    migrated = m.path("/root/keepftpd-migration/keepftpd.conf")
    installed = m.path("/etc/keepftpd.conf")
    with open(migrated) as f, open(installed) as g:
        assert f.read() == g.read()
    st = os.stat(installed)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o644)
    with open(m.path("/etc/systemd/system/ftp.socket.d/override.conf")) as f:
        assert "[Socket]\nListenStream=\nListenStream=21\n" in f.read()
    assert steps == ("systemctl disable --now vsftpd\n"
                     "systemctl daemon-reload\n"
                     "systemctl enable --now ftp.socket\n")
    with open(installed) as f:
        conf = f.read()
    assert re.search(r"^anonymous_enable=NO$", conf, re.MULTILINE)
    # Served (with the transfer log in the test's tree rather than /var/log).
    vlog = os.path.join(tree.base, "vsftpd.log")
    s = make_server(raw_config=conf + f"vsftpd_log_file={vlog}\n"
                    f"secure_chroot_dir={tree.empty}\n")
    ftp = login(s, "kftp-alice", "alice-secret")
    assert get(ftp, "readme.txt") == b"kftp-alice's file\n"
    ftp.quit()
    with pytest.raises(ftplib.error_perm, match="^530"):
        login(s, "anonymous", "guest@example.org")  # a local account's name, none here
    with open(vlog) as f:
        assert "readme.txt" in f.read()


def test_keepftpd_8_check_config(tree):
    m = anonymous_machine(tree)
    m.run(example_8("check-config", "command"))
    assert m.stdout == "OK\n"
    # A broken file: every error, FILE:LINE: OPTION: message, and status 1.
    path = m.path("/etc/keepftpd.conf")
    with open(path) as f:
        lines = f.read().splitlines()
    with open(path, "a") as f:
        f.write("listen=YES\nanon_max_rate=fast\n")
    m.run(example_8("check-config", "command"), ok=False)
    assert m.returncode == 1
    errors = m.stdout.splitlines()
    assert [e.split(": ")[0] for e in errors] == [f"{path}:{len(lines) + 1}",
                                                 f"{path}:{len(lines) + 2}"], m.stdout
    assert errors[0].startswith(f"{path}:{len(lines) + 1}: listen: ")
    assert errors[1].startswith(f"{path}:{len(lines) + 2}: anon_max_rate: ")


def test_keepftpd_8_serving_by_hand(tree):
    """On 127.0.0.1 port 2121, one keepftpd per connection: two connections held open are two
    processes of the superserver's, and curl downloads."""
    m = anonymous_machine(tree)
    command = m.localize(example_8("by-hand", "command")).rstrip("\n")
    out = in_netns(m, command + " &\n" + r"""
superserver=$!
listens 2121
exec 3<>/dev/tcp/127.0.0.1/2121 4<>/dev/tcp/127.0.0.1/2121
read -r banner <&3; echo "banner: $banner"
read -r banner <&4; echo "banner: $banner"
for pid in $(cat /proc/$superserver/task/$superserver/children); do
  echo "process $pid: $(tr '\0' ' ' < /proc/$pid/cmdline)"
done
curl -sS ftp://127.0.0.1:2121/pub/hello.txt
""")
    assert out.count("banner: 220") == 2, out
    processes = re.findall(r"^process (\d+): (.*)$", out, re.MULTILINE)
    assert len(processes) == 2 and processes[0][0] != processes[1][0], out
    for _, cmdline in processes:
        assert cmdline == f"{KEEPFTPD} --config {m.path('/etc/keepftpd.conf')} ", out
    assert out.endswith("Hello from keepftpd.\n"), out


# systemctl without systemd as PID 1: `enable --now ftp.socket` does what the installed
# ftp.socket and ftp@.service say (listen where ListenStream= says, Accept=yes: ExecStart= per
# connection, StandardInput=socket: the connection on standard input).
SYSTEMCTL = r"""
systemctl() {
  [ "$*" = "enable --now ftp.socket" ]
  local units=$MACHINE/etc/systemd/system
  grep -qx 'Accept=yes' "$units/ftp.socket"
  grep -qx 'StandardInput=socket' "$units/ftp@.service"
  local listen exec_start
  listen=$(sed -n 's/^ListenStream=//p' "$units/ftp.socket")
  exec_start=$(sed -n 's/^ExecStart=//p' "$units/ftp@.service")
  systemd-socket-activate -l "$listen" -a --inetd $exec_start &
  listens "$listen"
}
"""


def test_keepftpd_8_serving_with_systemd(tree):
    m = anonymous_machine(tree)
    units = m.path("/etc/systemd/system")
    os.makedirs(units)
    for name in ("ftp.socket", "ftp@.service"):
        # The units as a --prefix=/usr install makes them from their templates.
        with open(os.path.join(REPO, "units", name + ".in")) as f, \
                open(os.path.join(units, name), "w") as g:
            text = f.read().replace("@sbindir@", "/usr/sbin").replace("@sysconfdir@", "/etc")
            g.write(m.localize(text))
    with open(os.path.join(units, "ftp@.service")) as f:
        assert f"ExecStart={KEEPFTPD} --config {m.path('/etc/keepftpd.conf')}\n" in f.read()
    out = in_netns(m, SYSTEMCTL + m.localize(example_8("systemd", "command")) +
                   "curl -sS ftp://127.0.0.1:21/pub/hello.txt\n")
    assert out == "Hello from keepftpd.\n", out


def test_keepftpd_8_serving_with_xinetd(tree):
    m = anonymous_machine(tree)
    entry = m.path("/etc/xinetd.d/keepftpd")
    os.makedirs(os.path.dirname(entry))
    with open(entry, "w") as f:
        f.write(m.localize(example_8("xinetd", "entry")))
    # xinetd's main file, as Debian's /etc/xinetd.conf: the defaults, then the entries.
    main = os.path.join(tree.base, "xinetd.conf")
    with open(main, "w") as f:
        f.write("defaults\n{\n}\n" f"includedir {os.path.dirname(entry)}\n")
    out = in_netns(m, f"""
xinetd -dontfork -f {main} -pidfile {tree.base}/xinetd.pid &
listens 21
curl -sS ftp://127.0.0.1/pub/hello.txt
""")
    assert out == "Hello from keepftpd.\n", out


def test_keepftpd_8_logging_commands(tree, superservers):
    """LOGGING's journalctl commands show a download as the page quotes it, and its fields."""
    record = logging_record()
    path = re.search(r"RETR (\S+):", record).group(1)
    size = int(re.search(r": (\d+) bytes", record).group(1))
    with open(tree.path(path), "wb") as f:
        f.write(b"x" * size)
    os.chmod(tree.path(path), 0o644)
    s = start_journald_server(tree, superservers)
    ftp = s.ftp()
    ftp.login()
    assert get(ftp, path) == b"x" * size
    ftp.quit()
    wait_for_records(s, lambda records: any(r.get("FTP_COMMAND") == "RETR" for r in records))
    text, json_out = (subprocess.run(command.split() + ["-D", s.journal_dir, "--no-pager"],
                                     capture_output=True, text=True, timeout=30).stdout
                      for command in sorted(logging_commands()))
    # The record as quoted, with this transfer's duration.
    quoted = re.escape(record).replace(r"\ 20\ us", r"\ [0-9]+\ us").replace(
        re.escape("client 192.0.2.7"), r"client\ 127\.0\.0\.1")
    assert re.search(r" keepftpd\[[0-9]+\]: " + quoted + "$", text, re.MULTILINE), text
    records = [json.loads(line) for line in json_out.splitlines() if line.strip()]
    jail = [r for r in records if re.fullmatch(quoted, r.get("MESSAGE", ""))]
    assert len(jail) == 1, records
    assert jail[0]["FTP_SOURCE"] == "jail" and int(jail[0]["PRIORITY"]) >= 4, jail[0]
    retr = [r for r in records if r.get("FTP_COMMAND") == "RETR"]
    assert len(retr) == 1, records
    assert (retr[0]["FTP_PATH"], retr[0]["FTP_BYTES"], retr[0]["FTP_RESULT"],
            retr[0]["FTP_USER"], retr[0]["REMOTE_ADDR"]) == (path, str(size), "ok", "ftp",
                                                              "127.0.0.1"), retr[0]
