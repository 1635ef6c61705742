"""Every vsftpd option, at vsftpd's default and at another value, through `keepftpd
--check-config`: each is implemented (both accepted), mapped (the default accepted; the other
value accepted or refused with its replacement), or refused with the replacement named, exactly
as `--features --json` and keepftpd.conf(5) say. None is left unsupported."""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from conftest import KEEPFTPD


def run(args):
    return subprocess.run([KEEPFTPD] + args, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("vsftpd-options")
    os.chmod(d, 0o755)
    return d


def config_file(workdir, text, name="keepftpd.conf"):
    path = workdir / name
    path.write_text(text)
    os.chmod(path, 0o644)
    return str(path)


def vsftpd_options(workdir):
    out = run(["--features", "--json", "--config", config_file(workdir, "")])
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["vsftpd_options"]


def serving_base(workdir, name):
    """What a connection needs on this machine, that --check-config now checks (an empty
    secure_chroot_dir, an anonymous root, the test accounts, a state directory), except the
    option under test, which keeps its own value."""
    empty = workdir / "empty"
    anon = workdir / "anon"
    for d in (empty, anon):
        d.mkdir(mode=0o755, exist_ok=True)
    names = workdir / "some-file"
    names.write_text("x\n")
    base = {"secure_chroot_dir": str(empty), "anon_root": str(anon),
            "nopriv_user": "kftp-nopriv", "login_state_dir": str(workdir / "state"),
            "banned_email_file": str(names), "email_password_file": str(names)}
    return "".join(f"{k}={v}\n" for k, v in base.items() if k != name)


def environment_only(name, out):
    """A refusal that is about this machine, not the option's meaning: every error is this
    option's own value naming something that is not here (vsftpd's default /usr/share/empty,
    say, which Debian does not have)."""
    lines = out.splitlines()
    return bool(lines) and all(f": {name}: " in line and (
        "No such file or directory" in line or "must be empty" in line) for line in lines)


def check(workdir, name, value, cert):
    if value == str(workdir) and name in ("secure_chroot_dir", "user_config_dir"):
        value = str(workdir / "empty")  # a directory that must be empty, or hold only users' files
    lines = f"{name}={value}\n"
    if not (name == "run_as_launching_user" and value == "YES"):
        lines += serving_base(workdir, name)
    if name in ("ssl_enable", "implicit_ssl") and value == "YES":
        lines += (f"rsa_cert_file={cert}\n" + ("ssl_enable=YES\n" if name == "implicit_ssl"
                                               else ""))
    if name == "run_as_launching_user" and value == "YES":
        # The rootless mode is checked by the user who will start it, never root.
        d = tempfile.mkdtemp(prefix="keepftpd-rootless-", dir="/tmp")
        os.chmod(d, 0o755)
        for sub, mode in (("empty", 0o555), ("anon", 0o755), ("state", 0o700)):
            os.mkdir(os.path.join(d, sub), mode)
        os.chown(os.path.join(d, "state"), 65534, 65534)
        lines += (f"secure_chroot_dir={d}/empty\nanon_root={d}/anon\n"
                  f"login_state_dir={d}/state\n")
        try:
            out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                  KEEPFTPD, "--check-config", "--config",
                                  config_file(pathlib.Path(d), lines)],
                                 capture_output=True, text=True)
        finally:
            shutil.rmtree(d)
    else:
        out = run(["--check-config", "--config", config_file(workdir, lines)])
    return out.returncode, (out.stdout + out.stderr).strip()


@pytest.fixture(scope="module")
def cert(workdir):
    path = workdir / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(path), "-out", str(path), "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    os.chmod(path, 0o600)
    return str(path)


def concrete(workdir, value):
    if value == "@FILE":
        path = workdir / "some-file"
        path.write_text("x\n")
        return str(path)
    if value == "@DIR":
        return str(workdir)
    return value


def test_every_vsftpd_option_at_its_default_and_another_value(workdir, cert):
    options = vsftpd_options(workdir)
    assert len(options) >= 139
    problems = []
    for o in options:
        name, status, note = o["name"], o["status"], o["note"]
        values = [concrete(workdir, o["sample"])]
        if o["vsftpd_default"] != "":
            values.insert(0, o["vsftpd_default"])
        for value in values:
            at_default = value == o["vsftpd_default"]
            rc, out = check(workdir, name, value, cert)
            if status == "implemented":
                ok = (rc == 0 and out == "OK") or (rc == 1 and environment_only(name, out))
            elif status == "mapped":
                if at_default or rc == 0:
                    ok = (rc == 0 and out == "OK") or (rc == 1 and environment_only(name, out))
                else:  # the refused value of an option accepted at its default
                    replacement = note.split(" is refused: ", 1)[-1]
                    ok = rc == 1 and replacement in out
            elif status == "refused":
                ok = rc == 1 and note in out
            else:
                ok = False
            if not ok:
                problems.append(f"{name}={value} ({status}): exit {rc}: {out}")
    assert not problems, "\n".join(problems)


def test_unknown_options_are_still_unknown(workdir):
    rc, out = check(workdir, "listen_prot", "21", None)
    assert rc == 1 and "unknown option; did you mean listen_port?" in out
