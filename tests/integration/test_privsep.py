"""The privilege audit: for a live connection, in each phase, the processes serving it hold
exactly the privileges that phase needs; a forbidden system call ends the session and is logged;
and no process outlives another."""

import hashlib
import os
import re
import signal
import socket
import subprocess
import time
import zlib

import pytest

from conftest import uid_of


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def wait_for(predicate, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return predicate()


def raw_in_phase(server, phase):
    """A raw control connection greeted ("prelogin") or logged in ("session")."""
    c = server.raw()
    if phase == "prelogin":
        c.reply()
    else:
        c.login()
    return c


def process_chain(server, length):
    """The processes serving the single connection, parent first: [monitor, pre-login jail]
    before login, [keeper, session monitor, session jail] after it."""
    def find():
        chain = []
        pid = server.proc.pid
        while True:
            kids = children(pid)
            if len(kids) != 1:
                break
            pid = kids[0]
            chain.append(pid)
        return chain if len(chain) == length else None
    found = wait_for(find)
    assert found, f"expected a chain of {length} processes"
    return found


def connection_processes(server, logged_in=False):
    """(monitor, jail) of the connection; after login the monitor is the session's monitor."""
    return tuple(process_chain(server, 3 if logged_in else 2)[-2:])


# Capability numbers (linux/capability.h).
CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_SYS_CHROOT = 5, 6, 7, 8, 18
MONITOR_PRELOGIN_CAPS = sum(1 << c for c in (CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP,
                                             CAP_SYS_CHROOT))


def limits(pid):
    out = {}
    with open(f"/proc/{pid}/limits") as f:
        for line in f.readlines()[1:]:
            name = line[:26].strip()
            soft = line[26:47].strip()
            out[name] = soft
    return out


def assert_no_capabilities(st):
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[key], 16) == 0, key


def assert_jailed(pid, uid, root, groups=()):
    st = status(pid)
    assert st["Uid"].split() == [str(uid)] * 4
    assert st["Gid"].split()[0] != "0" and st["Gid"].split()[0] == st["Gid"].split()[3]
    assert sorted(st["Groups"].split()) == sorted(str(g) for g in groups)
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"
    assert_no_capabilities(st)
    assert os.readlink(f"/proc/{pid}/root") == root
    lim = limits(pid)
    assert lim["Max processes"] == "0"
    assert lim["Max core file size"] == "0"
    if not os.environ.get("KEEPFTPD_SANITIZED"):  # sanitizer builds need their shadow memory
        assert lim["Max address space"] != "unlimited"
    assert int(lim["Max open files"]) <= 64


def assert_session_monitor_confined(pid, uid, empty):
    """The session's monitor reads the session jail's requests: it is confined as a jail is,
    chrooted into the empty secure_chroot_dir, with no supplementary groups."""
    wait_for(lambda: status(pid)["Seccomp"] == "2")
    assert_jailed(pid, uid, empty)


def test_prelogin_and_session_jails(server, tree):
    c = server.raw()
    assert c.reply()[0] == 220
    monitor, jail = connection_processes(server)
    # Before login: the monitor keeps root's uid and only the capabilities it needs to start
    # the session jail, in every set.
    st = status(monitor)
    assert st["Uid"].split()[0] == "0"
    assert int(st["CapEff"], 16) == MONITOR_PRELOGIN_CAPS
    assert int(st["CapPrm"], 16) == MONITOR_PRELOGIN_CAPS
    assert int(st["CapBnd"], 16) == MONITOR_PRELOGIN_CAPS
    assert int(st["CapAmb"], 16) == 0
    assert_jailed(jail, uid_of("kftp-nopriv"), tree.empty)
    # The pre-login jail has its own network, IPC and PID namespaces (isolate, isolate_network).
    for ns in ("net", "ipc", "pid"):
        assert os.readlink(f"/proc/{jail}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
    assert status(jail)["NSpid"].split()[-1] == "1"
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("PASS x@y")[0] == 230
    keeper, session_monitor, session = process_chain(server, 3)
    assert keeper == monitor
    assert_jailed(session, uid_of("ftp"), tree.anon)
    # The keeper would keep the pre-login privileges only to start a new login after REIN,
    # which isolate and isolate_network (the defaults) rule out, or to close session records
    # (session_support): here it waits as the session's user with no capabilities, for its
    # child, and reads nothing else.
    st = wait_for(lambda: (lambda s: s if s["Uid"].split()[0] != "0" else None)(status(keeper)))
    assert st["Uid"].split() == [str(uid_of("ftp"))] * 4
    assert st["NoNewPrivs"] == "1"
    assert_no_capabilities(st)
    assert st["State"].startswith("S")
    # It only waits (wait4, x86-64's 61), holding standard input, output and error and the
    # client's connection: no channel to a jail, nothing it could read a request from.
    with open(f"/proc/{keeper}/syscall") as f:
        assert f.read().split()[0] == "61"
    held = {os.readlink(f"/proc/{keeper}/fd/{fd}") for fd in os.listdir(f"/proc/{keeper}/fd")}
    sockets = [h for h in held if h.startswith("socket:")]
    assert len(sockets) == 1, held
    assert held - set(sockets) <= {"/dev/null", server.log_path}, held
    # The session's monitor has the session's ids and nothing else (the same uid as the jail,
    # so that the jail's parent-death signal is delivered), and reads the jail's requests
    # confined as a jail is: chrooted into the empty secure_chroot_dir, its own seccomp policy,
    # no processes, no core, few files, bounded address space.
    assert_session_monitor_confined(session_monitor, uid_of("ftp"), tree.empty)
    # ... and still does its work: a passive download.
    assert c.cmd("TYPE I")[0] == 200
    assert c.cmd("QUIT")[0] == 221
    assert c.closed()
    assert wait_for(lambda: children(server.proc.pid) == [])


def test_the_keeper_keeps_its_privileges_only_where_rein_needs_them(make_server, tree):
    """With isolate and isolate_network off, REIN after login starts a new pre-login jail, for
    which the keeper keeps the pre-login monitor's capabilities while the session runs; the
    session's monitor is confined in the first session and in the one after REIN."""
    s = make_server({"isolate": "NO", "isolate_network": "NO"})
    c = s.raw().login()
    keeper, session_monitor, session = process_chain(s, 3)
    st = status(keeper)
    assert st["Uid"].split()[0] == "0"
    assert int(st["CapEff"], 16) == MONITOR_PRELOGIN_CAPS
    assert_session_monitor_confined(session_monitor, uid_of("ftp"), tree.empty)
    assert c.cmd("REIN")[0] == 220
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("PASS x@y")[0] == 230
    keeper2, session_monitor2, session2 = process_chain(s, 3)
    assert keeper2 == keeper and session_monitor2 != session_monitor
    assert_session_monitor_confined(session_monitor2, uid_of("ftp"), tree.empty)
    assert c.cmd("QUIT")[0] == 221

def gone(pid):
    try:
        return status(pid).get("State", "").startswith("Z")
    except OSError:
        return True


@pytest.mark.parametrize("phase, victim", [
    ("prelogin", 0), ("prelogin", 1),            # monitor, pre-login jail
    ("session", 0), ("session", 1), ("session", 2),  # keeper, session monitor, session jail
])
def test_killing_any_process_ends_the_connection(server_inetd, phase, victim):
    c = server_inetd.raw()
    if phase == "prelogin":
        c.reply()
        chain = process_chain(server_inetd, 2)
    else:
        c.login()
        chain = process_chain(server_inetd, 3)
        wait_for(lambda: status(chain[1])["Uid"].split()[0] != "0")
    os.kill(chain[victim], signal.SIGKILL)
    assert c.closed()
    assert wait_for(lambda: all(gone(p) for p in chain))
    assert wait_for(lambda: children(server_inetd.proc.pid) == [])


@pytest.mark.parametrize("phase", ["prelogin", "session"])
def test_forbidden_syscall_ends_the_session_and_is_logged(server_inetd, phase):
    c = raw_in_phase(server_inetd, phase)
    c.send("XKFTPDFORBIDDEN\r\n")  # test builds only: the jail calls ptrace()
    assert c.closed()
    assert wait_for(lambda: children(server_inetd.proc.pid) == [])
    log = wait_for(lambda: "seccomp violation" in server_inetd.output() and
                   server_inetd.output())
    jail_name = "prelogin" if phase == "prelogin" else "session"
    assert re.search(rf"seccomp violation: the {jail_name} jail called forbidden system call "
                     rf"\d+ \(ptrace\)", log), log


def test_forbidden_syscall_of_the_sessions_monitor_is_logged_by_the_keeper(make_server):
    # Test builds only: the session's monitor calls ptrace() once it is confined. Its filter
    # stops it, and the keeper, which reaps it, names the call.
    s = make_server(env={"KEEPFTPD_TEST_MONITOR_PTRACE": "1"})
    c = s.raw()
    c.reply()
    c.cmd("USER anonymous")
    c.send("PASS x@y\r\n")
    assert c.closed(10)
    assert wait_for(lambda: children(s.proc.pid) == [])
    log = s.wait_output("seccomp violation")
    assert re.search(r"seccomp violation: the session's monitor called forbidden system call "
                     r"101 \(ptrace\) and was stopped", log), log


def test_seccomp_log_only_lets_the_call_run_and_the_kernel_log_it(make_server):
    s = make_server({"seccomp_log_only": "YES"})
    c = s.raw().login()
    keeper, session_monitor, session = process_chain(s, 3)
    assert c.cmd("XKFTPDFORBIDDEN")[0] == 200  # ptrace() ran
    assert c.cmd("PWD")[0] == 257  # and the session goes on
    assert "seccomp violation" not in s.output()
    assert "seccomp_log_only=YES" in s.output()

    def kernel_record():
        dmesg = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
        return re.search(rf"type=1326 .* pid={session} .*syscall=101 ", dmesg)
    assert wait_for(kernel_record)


def test_seccomp_sandbox_no_is_logged_at_every_session(make_server):
    s = make_server({"seccomp_sandbox": "NO"})
    for _ in range(2):
        c = s.raw().login()
        assert c.cmd("XKFTPDFORBIDDEN")[0] == 200  # the call ran: no filter
        assert c.cmd("QUIT")[0] == 221
        c.closed()
    assert wait_for(lambda: s.output().count("seccomp_sandbox=NO") == 2)


def test_client_disconnect_ends_every_process(server_inetd):
    c = server_inetd.raw().login()
    process_chain(server_inetd, 3)
    c.close()
    assert wait_for(lambda: children(server_inetd.proc.pid) == [])


@pytest.mark.parametrize("phase", ["prelogin", "session"])
@pytest.mark.parametrize("kind, reason", [
    ("phase", r"is not allowed in the (pre-login|session) phase"),
    ("oversized", r"LOG in the (pre-login|session) phase: a body of \d+ bytes exceeds"),
    ("fd", r"LOG in the (pre-login|session) phase: an unexpected descriptor"),
    ("malformed", r"malformed LOG request"),
    ("unknown", r"request 77"),
    ("twice", r"SECCOMP_REPORT in the closing phase: a second one from the same jail"),
])
def test_monitor_refuses_bad_requests_and_ends_the_session(server_inetd, phase, kind, reason):
    # Acting as a compromised jail (a test-build hook): the monitor must end the connection and
    # say why in the log.
    c = raw_in_phase(server_inetd, phase)
    [first] = children(server_inetd.proc.pid)  # the monitor; after the login, the keeper
    c.send(f"XKFTPDREQUEST {kind}\r\n")
    assert c.closed(10)
    assert wait_for(lambda: children(server_inetd.proc.pid) == [])
    log = server_inetd.output()
    assert re.search(reason, log), log
    # The connection's process ends with the status of an error in either phase (keepftpd.8's
    # EXIT STATUS; systemd marks the instance failed), as the activator reports it.
    ended = f"Child {first} died with code 1"
    assert ended in server_inetd.wait_output(ended)


@pytest.mark.parametrize("phase", ["prelogin", "session"])
def test_a_jail_that_closes_its_channel_and_lingers_is_ended(server_inetd, phase):
    # A compromised jail closes its channel as if it were exiting and stays (a test-build hook
    # that then sleeps 30 s): its monitor must end it and the connection within a second or so,
    # not wait for it.
    c = raw_in_phase(server_inetd, phase)
    c.send("XKFTPDREQUEST linger\r\n")
    assert c.closed(10)
    assert wait_for(lambda: children(server_inetd.proc.pid) == [])
    assert re.search(rf"the {phase} jail closed its channel and did not exit within 500 ms",
                     server_inetd.output())


def test_a_proxy_header_the_client_never_sent_ends_the_connection(server_inetd):
    # Without proxy_protocol no PROXY_INFO may come: a jail that sends one is not believed.
    c = server_inetd.raw()
    c.reply()
    c.send("XKFTPDFORGE proxy\r\n")
    assert c.closed(10)
    assert wait_for(lambda: children(server_inetd.proc.pid) == [])
    assert "PROXY_INFO in the pre-login phase: no PROXY header is expected" in \
        server_inetd.output()


def test_port_connect_to_a_third_address_is_refused_by_the_monitor(server_inetd):
    # The session jail refuses PORT to another address itself; a jail that asks the monitor
    # anyway gets no connection, and the session goes on.
    listener = socket.socket()
    listener.bind(("127.0.0.2", 0))
    listener.listen(1)
    listener.settimeout(1)
    port = listener.getsockname()[1]
    c = server_inetd.raw().login()
    assert c.cmd(f"XKFTPDFORGE port {port}")[0] == 200
    with pytest.raises(socket.timeout):
        listener.accept()
    listener.close()
    assert c.cmd("NOOP")[0] == 200
    assert f"refused an active data connection to 127.0.0.2 port {port}" in \
        server_inetd.wait_output("refused an active data connection")


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")[0].decode()


def test_setproctitle_shows_roles_and_never_a_password(make_server):
    s = make_server({"setproctitle_enable": "YES"})
    c = s.raw()
    c.reply()
    monitor, jail = connection_processes(s)
    assert cmdline(monitor) == "keepftpd: 127.0.0.1: monitor"
    assert cmdline(jail) == "keepftpd: 127.0.0.1: not logged in"
    c.cmd("USER anonymous")
    c.cmd("PASS secret-password@example.org")
    keeper, session_monitor, session = process_chain(s, 3)
    assert wait_for(lambda: cmdline(session) == "keepftpd: 127.0.0.1: ftp: IDLE")
    assert cmdline(keeper) == "keepftpd: 127.0.0.1: ftp: keeper"
    assert wait_for(lambda: cmdline(session_monitor) == "keepftpd: 127.0.0.1: ftp: monitor")
    for pid in (keeper, session_monitor, session):
        assert "secret" not in open(f"/proc/{pid}/cmdline").read()
    # Off by default: the command line stays as started.
    s2 = make_server()
    c2 = s2.raw()
    c2.reply()
    monitor2, jail2 = connection_processes(s2)
    assert "--config" in open(f"/proc/{jail2}/cmdline").read()


def maps_openssl(pid):
    with open(f"/proc/{pid}/maps") as f:
        return any("/libssl.so" in line or "/libcrypto.so" in line for line in f)


def read_bytes(pid):
    """What pid has read with read(2), pread(2) and the like (rchar in /proc/PID/io)."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == "rchar":
                return int(value)
    raise AssertionError(f"no rchar for {pid}")


def maps_library(pid, name):
    with open(f"/proc/{pid}/maps") as f:
        return any(f"/{name}.so" in line for line in f)


# Libraries no process of a session maps: libsystemd is unloaded once LISTEN_FDS is read, and
# HASH's digests are Nettle's, linked into the binary (README, "What each process of a session
# costs").
UNMAPPED = ("libsystemd", "libgcrypt", "libgpg-error", "libnettle")


def mapped_of(pid, names=UNMAPPED):
    return [name for name in names if maps_library(pid, name)]


@pytest.mark.parametrize("mode", ["inetd", "systemd"])
def test_no_process_maps_libsystemd_or_a_digest_library_before_or_after_a_login(
        make_server, mode):
    """libsystemd is loaded only to read LISTEN_FDS (systemd mode) and unloaded at once, and
    HASH needs no library of its own: no process of a connection maps one, before the login or
    after it."""
    server = make_server(mode=mode)
    c = server.raw()
    assert c.reply()[0] == 220
    assert c.cmd("USER anonymous")[0] == 331
    for pid in process_chain(server, 2):
        assert mapped_of(pid) == []
    assert c.cmd("PASS x@y")[0] == 230
    chain = process_chain(server, 3)
    assert [mapped_of(pid) for pid in chain] == [[], [], []]
    c.cmd("QUIT")


def test_a_refused_login_maps_no_digest_library(make_server, local_users):
    """A wrong password leaves the connection's processes without any library for HASH, as
    they were before it (the monitor used to load libgcrypt at a login)."""
    server = make_server({"local_enable": "YES", "anonymous_enable": "NO",
                          "delay_failed_login": "0"})
    c = server.raw()
    assert c.reply()[0] == 220
    assert c.cmd("USER kftp-alice")[0] == 331
    assert c.cmd("PASS wrong-guess")[0] == 530
    assert c.cmd("NOOP")[0] == 200  # the connection goes on, before login
    assert [mapped_of(pid) for pid in process_chain(server, 2)] == [[], []]
    c.cmd("QUIT")


@pytest.mark.parametrize("keeps_capability", [False, True])
def test_the_session_jail_computes_hash_digests_and_nothing_loads_openssl(
        make_server, tree, keeps_capability):
    """HASH digests are computed by the session jail, under its filter, from the file it
    opened, with Nettle's code inside the binary: the session's monitor reads none of the file
    and forks nothing, even where it keeps a capability (chown_uploads), and no process of a
    plain session maps OpenSSL (openssl_library.h) or any other digest library."""
    options = {}
    if keeps_capability:
        options = {"write_enable": "YES", "anon_upload_enable": "YES", "chown_uploads": "YES",
                   "chown_username": "kftp-nopriv"}
    server = make_server(options)
    c = server.raw()
    assert c.reply()[0] == 220
    for pid in connection_processes(server):
        assert not maps_openssl(pid)
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("PASS x@y")[0] == 230
    keeper, session_monitor, session = process_chain(server, 3)
    with open(tree.path("pub/random.bin"), "rb") as f:
        data = f.read()
    jail_read, monitor_read = read_bytes(session), read_bytes(session_monitor)
    code, text = c.cmd("HASH pub/random.bin")
    assert code == 213
    assert hashlib.sha256(data).hexdigest() in " ".join(text).split()
    assert read_bytes(session) - jail_read >= len(data)
    assert status(session)["Seccomp"] == "2"  # under its filter (mode 2) throughout
    assert read_bytes(session_monitor) - monitor_read < len(data)
    assert not any(maps_openssl(pid) for pid in (keeper, session_monitor, session))
    assert [mapped_of(pid) for pid in (keeper, session_monitor, session)] == [[], [], []]
    assert (int(status(session_monitor)["CapEff"], 16) != 0) == keeps_capability
    assert children(session_monitor) == [session]


def test_a_crc32_hash_needs_no_openssl(server):
    """CRC32 is zlib's: a session whose only HASH is CRC32 loads no OpenSSL anywhere."""
    c = server.raw()
    c.login()
    keeper, session_monitor, session = process_chain(server, 3)
    assert c.cmd("OPTS HASH CRC32")[0] == 200
    code, text = c.cmd("HASH pub/hello.txt")
    assert code == 213
    crc = format(zlib.crc32(b"Hello from keepftpd.\n"), "08x")
    assert crc in " ".join(text).split()
    assert not any(maps_openssl(pid) for pid in (keeper, session_monitor, session))
