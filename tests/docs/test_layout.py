"""The source layout shows the trust boundary, and the build enforces it: src/ has one folder per
side (common, jail, monitor, entry), each built as a library whose include path is what it may
use, so jail code that includes a monitor header does not compile.

Run with: python3 -m pytest tests/docs   (KEEPFTPD_BIN names the build: build/src/keepftpd)
"""

import json
import os
import re
import shlex
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("KEEPFTPD_BIN", os.path.join(REPO, "build", "src", "keepftpd"))
BUILD = os.path.dirname(os.path.dirname(BINARY))
SRC = os.path.join(REPO, "src")

# What each folder's code may include, besides its own folder.
MAY_USE = {
    "common": {"common"},
    "jail": {"common", "jail"},
    "monitor": {"common", "jail", "monitor"},  # the monitor forks the jails: their entry points
    "entry": {"common", "jail", "monitor", "entry"},  # main.cc sets it all going
}
# The include path each folder's library is built with (main.cc is the executable's).
LIBRARY_SEES = dict(MAY_USE, entry={"common", "entry"})


def folder_headers():
    return {folder: {f for f in os.listdir(os.path.join(SRC, folder))
                     if f.endswith((".h", ".def"))}
            for folder in MAY_USE}


def compile_commands():
    path = os.path.join(BUILD, "compile_commands.json")
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: build with meson first (./dev build)")
    with open(path) as f:
        return json.load(f)


def command_for(source):
    for entry in compile_commands():
        if os.path.normpath(os.path.join(entry["directory"], entry["file"])) == source:
            return entry
    pytest.fail(f"no compile command for {source}")


def test_src_has_one_folder_per_side_of_the_boundary():
    folders = sorted(d for d in os.listdir(SRC) if os.path.isdir(os.path.join(SRC, d)))
    assert folders == sorted(MAY_USE)
    loose = [f for f in os.listdir(SRC) if os.path.isfile(os.path.join(SRC, f))]
    assert loose == ["meson.build"], loose
    names = [f for folder in MAY_USE for f in os.listdir(os.path.join(SRC, folder))
             if f != "meson.build"]
    assert len(names) == len(set(names)), "a file name in two folders: includes are by name"


# Headers the build generates into a folder of the build tree (which that folder's include path
# names too).
GENERATED = {"build_config.h": "common", "sandbox_filters.h": "monitor"}
# Programs the build runs (never installed): they may see less than their folder's library.
BUILD_TOOLS = {"sandbox_policy.cc"}


def test_every_include_stays_within_what_its_folder_may_use():
    headers = folder_headers()
    owner = {h: folder for folder, hs in headers.items() for h in hs}
    owner.update(GENERATED)
    problems = []
    for folder in MAY_USE:
        for name in os.listdir(os.path.join(SRC, folder)):
            if not name.endswith((".cc", ".h")):
                continue
            with open(os.path.join(SRC, folder, name)) as f:
                for n, line in enumerate(f, 1):
                    m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                    if not m:
                        continue
                    included = m.group(1)
                    if "/" in included:
                        problems.append(f"{folder}/{name}:{n}: includes by a path: {included}")
                    elif included not in owner:
                        problems.append(f"{folder}/{name}:{n}: {included} is in no folder")
                    elif owner[included] not in MAY_USE[folder]:
                        problems.append(f"{folder}/{name}:{n}: {folder} code includes "
                                        f"{owner[included]}/{included}")
    assert problems == []


def include_dirs(entry):
    args = shlex.split(entry["command"]) if "command" in entry else entry["arguments"]
    dirs = []
    for i, a in enumerate(args):
        d = a[2:] if a.startswith("-I") and len(a) > 2 else (args[i + 1] if a == "-I" else None)
        if d is not None:
            dirs.append(os.path.normpath(os.path.join(entry["directory"], d)))
    return args, dirs


@pytest.mark.parametrize("folder", sorted(MAY_USE))
def test_each_library_sees_only_the_folders_it_may_use(folder):
    for name in os.listdir(os.path.join(SRC, folder)):
        if not name.endswith(".cc") or name in ("main.cc", "openssl_dlopen.cc", "pam_dlopen.cc",
                                                "openssl_linked.cc", "pam_linked.cc"):
            continue  # the executable's and the test programs' own sources see every folder
        _, dirs = include_dirs(command_for(os.path.join(SRC, folder, name)))
        seen = {os.path.basename(d) for d in dirs if os.path.dirname(d) == SRC}
        if name in BUILD_TOOLS:
            assert seen <= LIBRARY_SEES[folder], (name, dirs)
        else:
            assert seen == LIBRARY_SEES[folder], (name, dirs)
        assert SRC not in dirs and REPO not in dirs, (name, dirs)


def compile_probe(source, text, tmp_path):
    """Compiles text as if it were a file of source's folder, with source's own command."""
    entry = command_for(source)
    args, _ = include_dirs(entry)
    probe = tmp_path / "probe.cc"
    probe.write_text(text)
    cmd = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MQ", "-c"):
            skip = True
            continue
        if a.startswith("-M") or os.path.normpath(os.path.join(entry["directory"], a)) == source:
            continue
        cmd.append(a)
    cmd += ["-fsyntax-only", str(probe)]
    return subprocess.run(cmd, cwd=entry["directory"], capture_output=True, text=True)


def test_a_jail_file_that_includes_a_monitor_header_does_not_build(tmp_path):
    jail_source = os.path.join(SRC, "jail", "prelogin.cc")
    ok = compile_probe(jail_source, '#include "cmdio.h"\n#include "config.h"\n', tmp_path)
    assert ok.returncode == 0, ok.stderr  # the probe itself compiles
    for header in ("monitor_table.h", "auth.h", "jail_start.h", "monitor.h"):
        r = compile_probe(jail_source, f'#include "{header}"\n', tmp_path)
        assert r.returncode != 0
        assert f"{header}: No such file or directory" in r.stderr, r.stderr
    # Nor may shared code reach into either side.
    common_source = os.path.join(SRC, "common", "log.cc")
    for header in ("cmdio.h", "monitor_table.h"):
        r = compile_probe(common_source, f'#include "{header}"\n', tmp_path)
        assert f"{header}: No such file or directory" in r.stderr, r.stderr


def listed(meson_file):
    with open(os.path.join(REPO, meson_file)) as f:
        return set(re.findall(r"'([A-Za-z0-9_.]+)'", f.read()))


def test_every_test_is_registered_with_meson():
    # `meson test --suite unit|integration|docs|fuzz` runs them all, each by its own name.
    integration = {f for f in os.listdir(os.path.join(REPO, "tests", "integration"))
                   if f.startswith("test_") and f.endswith(".py")}
    assert integration <= listed("tests/integration/meson.build")
    docs = {f for f in os.listdir(os.path.join(REPO, "tests", "docs"))
            if f.startswith("test_") and f.endswith(".py")}
    assert docs <= listed("tests/docs/meson.build")
    unit = {f for f in os.listdir(os.path.join(REPO, "tests", "unit")) if f.endswith("_test.cc")}
    assert unit <= listed("tests/unit/meson.build")
    with open(os.path.join(REPO, "fuzz", "run.sh")) as f:
        targets = set(re.search(r"all_targets=\(([^)]*)\)", f.read()).group(1).split())
    fuzz_sources = {f[:-3] for f in os.listdir(os.path.join(REPO, "fuzz"))
                    if f.startswith("fuzz_") and f.endswith(".cc")}
    assert targets == fuzz_sources
    assert targets <= listed("fuzz/meson.build")


def test_meson_lists_the_suites_by_name():
    r = subprocess.run(["meson", "test", "-C", BUILD, "--list"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    suites = {}
    for line in r.stdout.splitlines():
        m = re.match(r"keepftpd:(\w+) / (\S+)$", line.strip())
        if m:
            suites.setdefault(m.group(1), set()).add(m.group(2))
    assert set(suites) == {"unit", "integration", "docs", "fuzz"}, r.stdout
    assert "config_test" in suites["unit"]
    assert "test_uploads" in suites["integration"] and "test_stress" in suites["integration"]
    assert "fuzz_path" in suites["fuzz"]


MONITOR_ONLY = ["monitor.cc", "monitor.h", "monitor_table.cc", "monitor_table.h",
                "monitor_requests.def", "auth.cc", "auth.h", "login_state.cc", "login_state.h",
                "uwtmp.cc", "uwtmp.h", "pam_dlopen.cc", "pam_library.h"]


def test_readme_counts_the_monitor_only_lines_as_they_are():
    lines = code = 0
    for name in MONITOR_ONLY:
        with open(os.path.join(SRC, "monitor", name)) as f:
            for line in f:
                lines += 1
                stripped = line.strip()
                code += bool(stripped) and not stripped.startswith("//")
    with open(os.path.join(REPO, "README.md")) as f:
        readme = " ".join(f.read().split())
    m = re.search(r"is ([\d,]+) lines, ([\d,]+) without comments and blank lines", readme)
    assert m, "README no longer says how many lines only the monitor runs"
    said_lines, said_code = (int(g.replace(",", "")) for g in m.groups())
    # Rounded to tens in the README; within 2% it stays true.
    assert abs(lines - said_lines) <= said_lines // 50, (lines, said_lines)
    assert abs(code - said_code) <= said_code // 50, (code, said_code)
