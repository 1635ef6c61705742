"""The process shape of a connection: a root monitor and one jailed, unprivileged child."""

import os
import signal
import time

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


def connection_processes(server):
    """(monitor pid, jail pid) of the single connection being served."""
    def find():
        monitors = children(server.proc.pid)
        if len(monitors) != 1:
            return None
        jails = children(monitors[0])
        if len(jails) != 1:
            return None
        return monitors[0], jails[0]
    found = wait_for(find)
    assert found, "expected one monitor with one child"
    return found


def assert_jailed(pid, uid, root):
    st = status(pid)
    assert st["Uid"].split() == [str(uid)] * 4
    assert st["Gid"].split()[0] != "0"
    assert st["Groups"] == ""
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
    assert int(st["CapBnd"], 16) == 0
    assert os.readlink(f"/proc/{pid}/root") == root


def test_prelogin_and_session_jails(server, tree):
    c = server.raw()
    assert c.reply()[0] == 220
    monitor, jail = connection_processes(server)
    assert status(monitor)["Uid"].split()[0] == "0"
    assert_jailed(jail, uid_of("kftp-nopriv"), tree.empty)
    assert c.cmd("USER anonymous")[0] == 331
    assert c.cmd("PASS x@y")[0] == 230
    def session_child():
        kids = children(monitor)
        if len(kids) == 1 and kids[0] != jail:
            return kids[0]
        return None
    session = wait_for(session_child)
    assert session
    assert_jailed(session, uid_of("ftp"), tree.anon)
    assert c.cmd("QUIT")[0] == 221
    assert c.closed()
    assert wait_for(lambda: children(server.proc.pid) == [])


def test_killing_the_jail_ends_the_connection(server_inetd):
    c = server_inetd.raw().login()
    monitor, jail = connection_processes(server_inetd)
    os.kill(jail, signal.SIGKILL)
    assert c.closed()
    assert wait_for(lambda: children(server_inetd.proc.pid) == [])


def test_killing_the_monitor_ends_the_jail(server_inetd):
    c = server_inetd.raw()
    c.reply()
    monitor, jail = connection_processes(server_inetd)
    os.kill(monitor, signal.SIGKILL)
    assert wait_for(lambda: not os.path.exists(f"/proc/{jail}") or
                    status(jail).get("State", "").startswith("Z"))
    assert c.closed()


def test_client_disconnect_ends_every_process(server_inetd):
    c = server_inetd.raw().login()
    connection_processes(server_inetd)
    c.close()
    assert wait_for(lambda: children(server_inetd.proc.pid) == [])
