"""The documentation agrees with the code: man pages are clean, every option in tunables.def and
every command-line option in --help is documented, the README starts with the two dev commands,
and the shipped systemd units and xinetd entry are what keepftpd needs and pass
systemd-analyze verify.

Run with: python3 -m pytest tests/docs   (KEEPFTPD_BIN overrides build/src/keepftpd)
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEEPFTPD = os.environ.get("KEEPFTPD_BIN", os.path.join(REPO, "build", "src", "keepftpd"))
MAN_PAGES = sorted(glob.glob(os.path.join(REPO, "man", "*.[0-9]")))


def read(relative):
    with open(os.path.join(REPO, relative), encoding="utf-8") as f:
        return f.read()


def keepftpd_binary():
    if not (os.path.isfile(KEEPFTPD) and os.access(KEEPFTPD, os.X_OK)):
        pytest.fail(f"keepftpd binary not found at {KEEPFTPD}: build it (./dev build) "
                    "or set KEEPFTPD_BIN")
    return KEEPFTPD


def man_text(page):
    """The man page source with escaped hyphens and font escapes turned into plain text."""
    text = read(page).replace("\\-", "-").replace("\\&", "")
    return re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", text)


def unit_settings(relative):
    """{section: {key: [values]}} of a systemd unit file."""
    sections = {}
    current = None
    for line in read(relative).splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"{relative}: unexpected line {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def tunable_names():
    names = []
    row = re.compile(r"^\s*KEEPFTPD_(?:BOOL|UINT|STR)\(\s*([A-Za-z0-9_]+)\s*,")
    for line in read("src/common/tunables.def").splitlines():
        if line.lstrip().startswith(("//", "/*", "*", "#")):
            continue
        m = row.match(line)
        if m:
            names.append(m.group(1))
    return names


def test_man_pages_exist():
    names = [os.path.basename(p) for p in MAN_PAGES]
    assert "keepftpd.8" in names
    assert "keepftpd.conf.5" in names


@pytest.mark.parametrize("page", MAN_PAGES, ids=os.path.basename)
def test_man_page_passes_mandoc_lint(page):
    if shutil.which("mandoc") is None:
        pytest.fail("mandoc is not installed (apt-get install mandoc)")
    r = subprocess.run(["mandoc", "-Tlint", "-W", "warning", page],
                       capture_output=True, text=True)
    assert r.stdout + r.stderr == ""
    assert r.returncode == 0


def test_every_tunable_is_documented_in_keepftpd_conf_5():
    names = tunable_names()
    assert names, "no KEEPFTPD_BOOL/UINT/STR rows found in src/common/tunables.def"
    page = read("man/keepftpd.conf.5")
    documented = set(re.findall(r"^\.B\s+\"?([A-Za-z0-9_]+)\"?\s*$", page, re.MULTILINE))
    missing = [n for n in names if n not in documented]
    assert not missing, "options without a '.B name' line in man/keepftpd.conf.5: " + \
        ", ".join(missing)


def test_readme_starts_with_dev_serve_and_dev_test():
    lines = read("README.md").splitlines()
    assert lines and lines[0].startswith("# "), "README.md must start with a '# title' line"
    intro = []
    in_fence = False
    for line in lines[1:]:
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and line.startswith("#"):
            break
        intro.append(line)
    intro = "\n".join(intro)
    assert "./dev serve" in intro, "README.md must show ./dev serve before its first section"
    assert "./dev test" in intro, "README.md must show ./dev test before its first section"


def test_every_help_option_is_in_keepftpd_8():
    r = subprocess.run([keepftpd_binary(), "--help"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=10)
    assert r.returncode == 0, r.stderr
    options = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", r.stdout))
    assert "--help" in options, r.stdout
    page = man_text("man/keepftpd.8")
    missing = sorted(o for o in options if not re.search(re.escape(o) + r"(?![\w-])", page))
    assert not missing, "options in keepftpd --help missing from man/keepftpd.8: " + \
        ", ".join(missing)


def test_socket_unit_accepts_each_connection():
    socket = unit_settings("units/ftp.socket")["Socket"]
    assert socket.get("Accept") == ["yes"]
    assert socket.get("ListenStream") == ["21"]
    assert "MaxConnections" in socket and "MaxConnectionsPerSource" in socket


def test_service_unit_gets_the_connection_on_stdin():
    service = unit_settings("units/ftp@.service")["Service"]
    assert service.get("StandardInput") == ["socket"]
    assert service.get("ExecStart") == ["/usr/sbin/keepftpd --config /etc/keepftpd.conf"]
    # keepftpd starts as root and drops privileges per process itself.
    assert "User" not in service and "DynamicUser" not in service
    assert "NoNewPrivileges" not in service


def test_xinetd_entry_matches_the_service_unit():
    entry = {}
    for line in read("xinetd/keepftpd").splitlines():
        m = re.match(r"^\s*(\w+)\s*\+?=\s*(.*?)\s*$", line)
        if m and not line.lstrip().startswith("#"):
            entry[m.group(1)] = m.group(2)
    assert re.search(r"^service ftp\s*$", read("xinetd/keepftpd"), re.MULTILINE)
    assert entry["socket_type"] == "stream"
    assert entry["wait"] == "no"
    assert entry["user"] == "root"
    service = unit_settings("units/ftp@.service")["Service"]
    assert entry["server"] + " " + entry["server_args"] == service["ExecStart"][0]
    assert int(entry["instances"]) > 0 and int(entry["per_source"]) > 0


@pytest.mark.parametrize("name", ["ftp", "ftps"])
def test_units_pass_systemd_analyze_verify(name):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    binary = os.path.abspath(keepftpd_binary())
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(REPO, "units", f"{name}.socket"), tmp)
        service = read(f"units/{name}@.service").replace("ExecStart=/usr/sbin/keepftpd ",
                                                         f"ExecStart={binary} ")
        assert binary in service
        with open(os.path.join(tmp, f"{name}@.service"), "w", encoding="utf-8") as f:
            f.write(service)
        r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            os.path.join(tmp, f"{name}.socket"),
                            os.path.join(tmp, f"{name}@.service")],
                           capture_output=True, text=True, timeout=60)
    assert r.stdout + r.stderr == ""
    assert r.returncode == 0


def test_meson_install_ships_everything(tmp_path):
    build = os.path.join(REPO, "build")
    dest = tmp_path / "dest"
    r = subprocess.run(["meson", "install", "-C", build, "--destdir", str(dest)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    prefix = "usr/local/"
    for want in ("sbin/keepftpd", "share/man/man8/keepftpd.8", "share/man/man5/keepftpd.conf.5",
                 "etc/pam.d/keepftpd", "etc/keepftpd.conf", "lib/systemd/system/ftp.socket",
                 "lib/systemd/system/ftp@.service", "lib/systemd/system/ftps.socket",
                 "lib/systemd/system/ftps@.service", "share/keepftpd/xinetd/keepftpd",
                 "share/keepftpd/xinetd/keepftpd-ftps", "lib/tmpfiles.d/keepftpd.conf"):
        assert prefix + want in files, (want, files)
    assert all(f.startswith(prefix) for f in files), files  # nothing outside the prefix
    # The default configuration passes --check-config, once the tmpfiles.d entry has made the
    # empty directory it needs (secure_chroot_dir's default): here, where that directory may be
    # missing (Debian has none), the check may only name that directory.
    tmpfiles = dest / (prefix + "lib/tmpfiles.d/keepftpd.conf")
    r = subprocess.run(["systemd-tmpfiles", "--create", f"--root={dest}", str(tmpfiles)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (dest / "usr/share/empty").is_dir()
    conf = dest / (prefix + "etc/keepftpd.conf")
    os.chmod(conf, 0o644)
    for d in [conf.parent]:
        os.chmod(d, 0o755)
    r = subprocess.run([keepftpd_binary(), "--check-config", "--config", str(conf)],
                       capture_output=True, text=True, timeout=30)
    if os.path.isdir("/usr/share/empty"):
        assert r.returncode == 0 and r.stdout.strip() == "OK", r.stdout
    else:
        assert r.returncode == 1 and r.stdout.splitlines() == [
            f"{conf}: secure_chroot_dir: /usr/share/empty: No such file or directory (create it "
            "with: mkdir -p /usr/share/empty && chown root:root /usr/share/empty && chmod 755 "
            "/usr/share/empty)"], r.stdout


# ---- the table of vsftpd options ----------------------------------------------------------------

def vsftpd_options():
    """What `keepftpd --features --json` says of every vsftpd option."""
    import json
    config = tempfile.NamedTemporaryFile("w", suffix=".conf", dir="/root" if os.access(
        "/root", os.W_OK) else None, delete=False)
    config.write("anonymous_enable=YES\n")
    config.close()
    os.chmod(config.name, 0o644)
    try:
        out = subprocess.run([keepftpd_binary(), "--features", "--json", "--config", config.name],
                             capture_output=True, text=True, timeout=30)
    finally:
        os.unlink(config.name)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["vsftpd_options"]


def vsftpd_table_roff(options):
    """The VSFTPD OPTIONS table as keepftpd.conf(5) must have it."""
    rows = [".TS", "l lx.", "\\fBvsftpd option\\fR\t\\fBin keepftpd\\fR"]
    for o in options:
        text = o["status"] + (": " + o["note"] if o["note"] else "")
        text = text.replace("\\", "\\e").replace("-", "\\-")
        rows.append(f"{o['name']}\tT{{\n{text}\nT}}" if o["note"] else f"{o['name']}\t{text}")
    rows.append(".TE")
    return "\n".join(rows) + "\n"


def test_the_table_of_vsftpd_options_is_true():
    options = vsftpd_options()
    page = read("man/keepftpd.conf.5")
    start = page.index(".SH VSFTPD OPTIONS")
    table = page[page.index(".TS", start):page.index(".TE", start) + 4]
    expected = vsftpd_table_roff(options)
    assert table == expected, (
        "keepftpd.conf(5), VSFTPD OPTIONS, is out of date; the table should read:\n" + expected)
