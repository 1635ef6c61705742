"""`meson install`, as a packager (DESTDIR) and an administrator (a second install over an edited
system) run it: every file where the programs that read it look, with its mode; the units and
the xinetd entries naming the installed binary and configuration; the files an administrator
edits (the configurations, the PAM service, the xinetd entries, fail2ban's filter and jail)
never replaced, the shipped version put beside them as NAME.dist; the xinetd entries and the
fail2ban jail installed off, as xinetd and fail2ban themselves read them; and the shipped
configurations' commented blocks working once uncommented, as --check-config says.
"""

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import KEEPFTPD, REPO
from test_service import BUILD, require

CONFFILES = ("keepftpd.conf", "keepftpd-ftps.conf", "pam.d/keepftpd", "xinetd.d/keepftpd",
             "xinetd.d/keepftpd-ftps", "fail2ban/filter.d/keepftpd.conf",
             "fail2ban/jail.d/keepftpd.conf")
UNITS = ("ftp.socket", "ftp@.service", "ftps.socket", "ftps@.service")


def build_dirs():
    """The build's installation directories, absolute."""
    r = subprocess.run(["meson", "introspect", "--buildoptions", BUILD], capture_output=True,
                       text=True, timeout=60, check=True)
    o = {x["name"]: x["value"] for x in json.loads(r.stdout)}
    dirs = {d: os.path.join(o["prefix"], o[d]) for d in ("sbindir", "sysconfdir", "mandir")}
    installed = json.loads(subprocess.run(["meson", "introspect", "--installed", BUILD],
                                          capture_output=True, text=True, timeout=60,
                                          check=True).stdout)
    # Where the units and the tmpfiles.d entry go: what pkg-config's systemd module said.
    for key, suffix in (("unitdir", "/systemd/system/ftp.socket"),
                        ("tmpfilesdir", "/tmpfiles.d/keepftpd.conf")):
        found = [dst for dst in installed.values() if dst.endswith(suffix)]
        assert len(found) == 1, installed
        dirs[key] = os.path.dirname(found[0])
    return dirs


def meson_install(dest):
    r = subprocess.run(["meson", "install", "--no-rebuild", "-C", BUILD, "--destdir", str(dest)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout + r.stderr


def tree(dest):
    """{path under dest (absolute, as installed): mode} of every file."""
    return {"/" + str(p.relative_to(dest)): oct(p.lstat().st_mode & 0o7777)
            for p in dest.rglob("*") if not p.is_dir()}


def inside(dest, path):
    return dest / path.lstrip("/")


def test_files_and_modes(tmp_path):
    d = build_dirs()
    dest = tmp_path / "dest"
    meson_install(dest)
    expected = {os.path.join(d["sbindir"], "keepftpd"): "0o755",
                os.path.join(d["mandir"], "man8", "keepftpd.8"): "0o644",
                os.path.join(d["mandir"], "man5", "keepftpd.conf.5"): "0o644",
                os.path.join(d["tmpfilesdir"], "keepftpd.conf"): "0o644"}
    expected.update({os.path.join(d["unitdir"], u): "0o644" for u in UNITS})
    expected.update({os.path.join(d["sysconfdir"], f): "0o644" for f in CONFFILES})
    assert tree(dest) == expected


def test_a_second_install_keeps_what_the_administrator_changed(tmp_path):
    d = build_dirs()
    etc = d["sysconfdir"]
    dest = tmp_path / "dest"
    meson_install(dest)
    first = tree(dest)
    shipped = {f: inside(dest, os.path.join(etc, f)).read_text() for f in CONFFILES}
    edits = {
        "keepftpd.conf": shipped["keepftpd.conf"].replace(
            "anonymous_enable=NO", "anonymous_enable=YES") + "anon_root=/srv/ftp\n",
        "pam.d/keepftpd": shipped["pam.d/keepftpd"] + "session optional pam_keyinit.so\n",
        "xinetd.d/keepftpd": re.sub(r"disable(\s*)= yes", r"disable\1= no",
                                    shipped["xinetd.d/keepftpd"]),
        "fail2ban/jail.d/keepftpd.conf": shipped["fail2ban/jail.d/keepftpd.conf"].replace(
            "enabled = false", "enabled = true"),
    }
    for f, text in edits.items():
        assert text != shipped[f], f
        inside(dest, os.path.join(etc, f)).write_text(text)
    out = meson_install(dest)
    for f in CONFFILES:
        path = os.path.join(etc, f)
        now = inside(dest, path).read_text()
        if f in edits:
            assert now == edits[f], f"{path} was replaced"
            assert inside(dest, path + ".dist").read_text() == shipped[f]
            assert (f"Keeping {dest}{path} (changed since it was installed); the shipped "
                    f"version is {dest}{path}.dist") in out, out
        else:
            assert now == shipped[f]
    second = tree(dest)
    dist = {os.path.join(etc, f) + ".dist": "0o644" for f in edits}
    assert second == dict(first, **dist)


def test_units_and_xinetd_entries_name_the_installed_files(tmp_path):
    d = build_dirs()
    dest = tmp_path / "dest"
    meson_install(dest)
    binary = os.path.join(d["sbindir"], "keepftpd")
    configs = {"ftp": os.path.join(d["sysconfdir"], "keepftpd.conf"),
               "ftps": os.path.join(d["sysconfdir"], "keepftpd-ftps.conf")}
    for name in ("ftp", "ftps"):
        service = inside(dest, os.path.join(d["unitdir"], f"{name}@.service")).read_text()
        assert f"\nExecStart={binary} --config {configs[name]}\n" in service, service
        for unit in (f"{name}.socket", f"{name}@.service"):
            text = inside(dest, os.path.join(d["unitdir"], unit)).read_text()
            assert not re.search(r"@[a-z_]+@", text), text
            # The comment says where the file is.
            assert f"`meson install` puts this file in\n# {d['unitdir']};" in text or \
                f"`meson install` puts this file in {d['unitdir']};" in text, text
    assert os.access(inside(dest, binary), os.X_OK)
    for path in configs.values():
        assert inside(dest, path).is_file()
    for entry, config in (("keepftpd", configs["ftp"]), ("keepftpd-ftps", configs["ftps"])):
        text = inside(dest, os.path.join(d["sysconfdir"], "xinetd.d", entry)).read_text()
        settings = dict(re.findall(r"^\s+(\w+)\s+=\s+(.*?)\s*$", text, re.MULTILINE))
        assert settings["server"] == binary and settings["server_args"] == f"--config {config}"
        assert settings["disable"] == "yes", text


# xinetd in a network namespace of its own (an entry turned on binds its ports there only),
# until it has read its configuration: prints its log's "Started working" line and what listens.
XINETD = r"""
set -eu
ip link set lo up
"$XINETD" -dontfork -f "$1" -pidfile "$2/xinetd.pid" -filelog "$2/xinetd.log" &
pid=$!
for i in $(seq 600); do grep -q "Started working" "$2/xinetd.log" 2>/dev/null && break; sleep 0.05; done
grep -o "Started working: .*" "$2/xinetd.log" || true
ss -Hltn
kill $pid
wait $pid || true
"""


def xinetd_reading(conf, logdir):
    if os.path.exists(logdir / "xinetd.log"):
        os.unlink(logdir / "xinetd.log")
    r = subprocess.run(["unshare", "--net", "--", "bash", "-c", XINETD, "xinetd", str(conf),
                        str(logdir)], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, XINETD=require("xinetd")))
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_xinetd_reads_the_installed_entries_as_disabled(tmp_path):
    """Real xinetd, with the installed xinetd.d as its includedir, starts no service; with the
    entries turned on, it listens on ports 21 and 990."""
    d = build_dirs()
    dest = tmp_path / "dest"
    meson_install(dest)
    conf = tmp_path / "xinetd.conf"
    conf.write_text(f"includedir {inside(dest, os.path.join(d['sysconfdir'], 'xinetd.d'))}\n")
    out = xinetd_reading(conf, tmp_path)
    assert "Started working: 0 available services" in out, out
    # (xinetd takes no service whose server is missing: the binary is under DESTDIR here.)
    binary = os.path.join(d["sbindir"], "keepftpd")
    for entry in ("keepftpd", "keepftpd-ftps"):
        p = inside(dest, os.path.join(d["sysconfdir"], "xinetd.d", entry))
        text = re.sub(r"disable(\s*)= yes", r"disable\1= no", p.read_text())
        p.write_text(text.replace(f"= {binary}\n", f"= {inside(dest, binary)}\n"))
    out = xinetd_reading(conf, tmp_path)
    assert "Started working: 2 available services" in out, out
    assert re.search(r":21\s", out) and re.search(r":990\s", out), out


def fail2ban_jails(confdir):
    """The jails fail2ban-client would start from CONFDIR, with their failregex."""
    r = subprocess.run([require("fail2ban-client"), "-c", str(confdir), "-d"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout + r.stderr


def test_fail2ban_finds_the_installed_filter_and_jail_turned_off(tmp_path):
    d = build_dirs()
    dest = tmp_path / "dest"
    meson_install(dest)
    # fail2ban's own configuration, with what keepftpd installed in its filter.d and jail.d.
    confdir = tmp_path / "fail2ban"
    shutil.copytree("/etc/fail2ban", confdir)
    for f in ("filter.d/keepftpd.conf", "jail.d/keepftpd.conf"):
        shutil.copy(inside(dest, os.path.join(d["sysconfdir"], "fail2ban", f)), confdir / f)
    # Only keepftpd's jail: the machine's own (sshd) need logs this test has not.
    for f in (confdir / "jail.d").iterdir():
        if f.name != "keepftpd.conf":
            f.unlink()
    (confdir / "jail.d" / "defaults.local").write_text("[DEFAULT]\nenabled = false\n")
    assert "'keepftpd'" not in fail2ban_jails(confdir)
    # Turned on the way the jail's comment says, fail2ban reads the filter from the journal.
    (confdir / "jail.d" / "keepftpd.local").write_text("[keepftpd]\nenabled = true\n")
    jails = fail2ban_jails(confdir)
    assert "['add', 'keepftpd', 'systemd']" in jails, jails
    assert "login failed for user" in jails and "FTP_SOURCE=monitor" in jails, jails


def test_the_installed_configuration_passes_check_config(tmp_path):
    """The default configuration is accepted once the tmpfiles.d entry made the empty directory
    it needs (secure_chroot_dir's default): here, where that directory may be missing (Debian
    has none), the check may only name that directory."""
    d = build_dirs()
    dest = tmp_path / "dest"
    meson_install(dest)
    tmpfiles = inside(dest, os.path.join(d["tmpfilesdir"], "keepftpd.conf"))
    r = subprocess.run(["systemd-tmpfiles", "--create", f"--root={dest}", str(tmpfiles)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (dest / "usr/share/empty").is_dir()
    for conf in ("keepftpd.conf", "keepftpd-ftps.conf"):
        path = inside(dest, os.path.join(d["sysconfdir"], conf))
        p = path.parent
        while p != tmp_path:  # the directory must not be writable by others (umask aside)
            os.chmod(p, 0o755)
            p = p.parent
        r = subprocess.run([KEEPFTPD, "--check-config", "--config", str(path)],
                           capture_output=True, text=True, timeout=30)
        # What this machine may lack: /usr/share/empty, and for implicit FTPS, which starts
        # TLS at once, the default certificate (Debian's snakeoil pair, made by ssl-cert).
        missing = []
        if not os.path.isdir("/usr/share/empty"):
            missing.append(
                f"{path}: secure_chroot_dir: /usr/share/empty: No such file or directory "
                "(create it with: mkdir -p /usr/share/empty && chown root:root "
                "/usr/share/empty && chmod 755 /usr/share/empty)")
        if conf == "keepftpd-ftps.conf" and not os.path.exists(SNAKEOIL_CERT):
            missing += [f"{path}: rsa_cert_file: {SNAKEOIL_CERT}: No such file",
                        f"{path}: rsa_private_key_file: {SNAKEOIL_KEY} "]
        if not missing:
            assert r.returncode == 0 and r.stdout.strip() == "OK", r.stdout
        else:
            lines = r.stdout.splitlines()
            assert r.returncode == 1 and len(lines) == len(missing), r.stdout
            assert all(line.startswith(m) for line, m in zip(lines, missing)), r.stdout


SNAKEOIL_CERT = "/etc/ssl/certs/ssl-cert-snakeoil.pem"
SNAKEOIL_KEY = "/etc/ssl/private/ssl-cert-snakeoil.key"

# ---- the shipped configurations' commented blocks -------------------------------------------

def blocks(text):
    """The commented blocks of a shipped configuration: [(heading, [option lines])], a block
    being the lines between two lines of a lone '#'."""
    found = []
    for chunk in re.split(r"^#\n", text, flags=re.MULTILINE):
        options = re.findall(r"^#([a-z_0-9]+=.*)$", chunk, re.MULTILINE)
        if options:
            found.append((chunk.strip().splitlines()[0], options))
    return found


def uncommented(text, options):
    """TEXT with OPTIONS' lines uncommented, and the edit the block's comment asks for alongside
    ("change X=A above to B")."""
    for o in options:
        text = text.replace(f"\n#{o}\n", f"\n{o}\n")
    for name, old, new in re.findall(r"change\s+(\w+)=(\w+)\s+above\s+to\s+(\w+)", text):
        text = text.replace(f"\n{name}={old}\n", f"\n{name}={new}\n")
    return text


# The prerequisites the blocks name, made in a private mount namespace where they cannot reach
# the machine: /srv/ftp, /usr/share/empty, and the certificate and key FTPS names.
PREREQUISITES = r"""
set -eu
work=$1; shift
for d in /usr/share /etc/ssl; do
  n=$(echo "$d" | tr / _)
  mkdir -p "$work/$n.upper" "$work/$n.work"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$work/$n.upper,workdir=$work/$n.work" "$d"
done
mount -t tmpfs -o mode=755 tmpfs /srv
install -d -m 755 /usr/share/empty /srv/ftp
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -keyout /etc/ssl/private/keepftpd.key -out /etc/ssl/certs/keepftpd.pem \
  2>/dev/null
# The default certificate, as Debian's ssl-cert makes it, where this machine lacks it.
[ -e /etc/ssl/certs/ssl-cert-snakeoil.pem ] ||
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -keyout /etc/ssl/private/ssl-cert-snakeoil.key \
    -out /etc/ssl/certs/ssl-cert-snakeoil.pem 2>/dev/null
for conf in "$@"; do
  echo "== $conf"
  "$KEEPFTPD" --check-config --config "$conf" 2>&1 || true
done
"""


@pytest.mark.parametrize("shipped", ["keepftpd.conf", "keepftpd-ftps.conf"])
def test_each_commented_block_works_uncommented(tmp_path, shipped):
    text = open(os.path.join(REPO, shipped), encoding="utf-8").read()
    found = blocks(text)
    assert len(found) >= 2, found
    confdir = tmp_path / "conf"
    confdir.mkdir(mode=0o755)
    cases = {}
    for i, (heading, options) in enumerate(found):
        cases[f"{i}.conf"] = (heading, uncommented(text, options))
    cases["all.conf"] = ("every block", uncommented(text, [o for _, opts in found for o in opts]))
    for name, (_, conf) in cases.items():
        (confdir / name).write_text(conf)
        os.chmod(confdir / name, 0o644)
    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "bash", "-c",
                        PREREQUISITES, "prerequisites", str(work)]
                       + [str(confdir / n) for n in cases],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, KEEPFTPD=KEEPFTPD))
    assert r.returncode == 0, r.stderr
    results = {}
    for line in r.stdout.splitlines():
        if line.startswith("== "):
            name = os.path.basename(line[3:])
            results[name] = ""
        else:
            results[name] += line + "\n"
    bad = {cases[n][0]: out for n, out in results.items() if out.strip() != "OK"}
    assert len(results) == len(cases) and not bad, (bad, r.stdout)
