"""The documentation agrees with the code: man pages are clean, every option in tunables.def and
every command-line option in --help is documented, the README starts with the two dev commands,
and the systemd units and xinetd entry meson makes from their templates (units/*.in,
xinetd/*.in) are what keepftpd needs, name the installed binary and configuration, and pass
systemd-analyze verify. (`meson install` itself is tested in tests/integration/test_install.py.)

Run with: python3 -m pytest tests/docs   (KEEPFTPD_BIN overrides build/src/keepftpd)
"""

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEEPFTPD = os.environ.get("KEEPFTPD_BIN", os.path.join(REPO, "build", "src", "keepftpd"))
BUILD = os.path.dirname(os.path.dirname(os.path.abspath(KEEPFTPD)))
MAN_PAGES = sorted(glob.glob(os.path.join(REPO, "man", "*.[0-9]")))


def read(relative):
    with open(os.path.join(REPO, relative), encoding="utf-8") as f:
        return f.read()


def read_built(relative):
    """A file meson made from RELATIVE.in, in the build directory."""
    path = os.path.join(BUILD, relative)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: build with meson first (./dev build)")
    with open(path, encoding="utf-8") as f:
        return f.read()


def installed_path(option, name):
    """Where `meson install` puts NAME: the build's OPTION directory (sbindir, sysconfdir)."""
    r = subprocess.run(["meson", "introspect", "--buildoptions", BUILD], capture_output=True,
                       text=True, timeout=60, check=True)
    options = {o["name"]: o["value"] for o in json.loads(r.stdout)}
    return os.path.join(options["prefix"], options[option], name)


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
    for line in read_built(relative).splitlines():
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


def readme_layout():
    """{path: what it holds} of README.md's "Repository layout" table."""
    text = read("README.md").split("## Repository layout", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([^`]+)` \| (.*) \|$", text, re.MULTILINE))


def test_readme_layout_names_what_exists():
    layout = readme_layout()
    assert layout, "README.md has no Repository layout table"
    for path, holds in layout.items():
        assert os.path.lexists(os.path.join(REPO, path)), path
        if path.startswith("src/"):
            for name in re.findall(r"`([a-z_]+(?:\.[a-z]+)?)`", holds):
                here = os.listdir(os.path.join(REPO, path))
                assert name in here or name + ".cc" in here or name + ".h" in here, \
                    f"README.md's layout names {path}{name}, which is not there"
    # Every command of ./dev (its usage line) is in the dev row.
    usage = re.search(r'usage: (\./dev serve \|[^"]*)"', read("dev")).group(1)
    commands = [c.split()[0] for c in usage.replace("./dev ", "", 1).split(" | ")]
    assert "serve" in commands and "test" in commands, usage
    listed = set(re.findall(r"`\./dev ([a-z-]+)", layout["dev"]))
    assert listed == set(commands), (listed, commands)


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
    assert service.get("ExecStart") == [installed_path("sbindir", "keepftpd") + " --config "
                                        + installed_path("sysconfdir", "keepftpd.conf")]
    # keepftpd starts as root and drops privileges per process itself.
    assert "User" not in service and "DynamicUser" not in service
    assert "NoNewPrivileges" not in service


def test_xinetd_entry_matches_the_service_unit():
    entry = {}
    for line in read_built("xinetd/keepftpd").splitlines():
        m = re.match(r"^\s*(\w+)\s*\+?=\s*(.*?)\s*$", line)
        if m and not line.lstrip().startswith("#"):
            entry[m.group(1)] = m.group(2)
    assert re.search(r"^service ftp\s*$", read_built("xinetd/keepftpd"), re.MULTILINE)
    assert entry["socket_type"] == "stream"
    assert entry["wait"] == "no"
    assert entry["user"] == "root"
    service = unit_settings("units/ftp@.service")["Service"]
    assert entry["server"] + " " + entry["server_args"] == service["ExecStart"][0]
    assert int(entry["instances"]) > 0 and int(entry["per_source"]) > 0
    assert entry["disable"] == "yes"  # installed, not serving, until the administrator says


@pytest.mark.parametrize("name", ["ftp", "ftps"])
def test_units_pass_systemd_analyze_verify(name):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    binary = os.path.abspath(keepftpd_binary())
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(BUILD, "units", f"{name}.socket"), tmp)
        service = read_built(f"units/{name}@.service").replace(
            "ExecStart=" + installed_path("sbindir", "keepftpd") + " ", f"ExecStart={binary} ")
        assert binary in service
        with open(os.path.join(tmp, f"{name}@.service"), "w", encoding="utf-8") as f:
            f.write(service)
        r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            os.path.join(tmp, f"{name}.socket"),
                            os.path.join(tmp, f"{name}@.service")],
                           capture_output=True, text=True, timeout=60)
    assert r.stdout + r.stderr == ""
    assert r.returncode == 0


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
