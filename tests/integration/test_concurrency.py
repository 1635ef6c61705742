"""Many clients at once never fail each other: parallel uploads into one directory (atomic STOR,
STOU, APPE, REST+STOR), on a local file system and on one that behaves like NFS, with the
clean-up of abandoned upload files still working."""

import contextlib
import ftplib
import hashlib
import io
import os
import signal
import socket
import subprocess
import threading

import pytest

from conftest import sha256_file
from test_local_users import ALICE, login
from test_privsep import children, process_chain, wait_for
from test_uploads import home, leftovers, put, quotafs, start_upload, writer  # noqa: F401

ANON_UP = {"write_enable": "YES", "anon_upload_enable": "YES", "anon_umask": "022"}


def run_parallel(count, work):
    """Runs work(i) in count threads at once; returns {i: exception} for those that raised."""
    errors = {}
    barrier = threading.Barrier(count)

    def run(i):
        try:
            barrier.wait(30)
            work(i)
        except Exception as e:  # noqa: BLE001 (reported by the caller)
            errors[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not any(t.is_alive() for t in threads), "a client hung"
    return errors


def content(i, n):
    return hashlib.sha256(f"{i}/{n}".encode()).digest() * (1 + (i * 7 + n) % 50)


@contextlib.contextmanager
def upload_directory(local_users, tmp_path, name, fs):
    """A directory in alice's home that she owns: on the local file system, or on the FUSE test
    file system with an NFS client's rules for renames and locks (fs="nfs")."""
    d = os.path.join(home(local_users), name)
    uid = local_users.users[ALICE]["uid"]
    if fs == "local":
        os.makedirs(d, exist_ok=True)
        os.chown(d, uid, uid)
        yield d
        return
    backing = tmp_path / f"backing-{name}"
    backing.mkdir()
    os.chown(backing, uid, uid)
    with quotafs(backing, d, 1 << 34, nfs=True):
        yield d


@pytest.mark.parametrize("fs", ["local", "nfs"])
def test_parallel_stor_into_one_directory(writer, local_users, tmp_path, fs):
    # Each upload makes a hidden file in the directory, and each one first removes the hidden
    # files that killed sessions left there: one session's clean-up never takes another live
    # session's file.
    s = writer()
    clients, rounds = 12, 15
    with upload_directory(local_users, tmp_path, f"many-{fs}", fs) as d:
        def work(i):
            ftp = login(s, ALICE, local_users)
            try:
                for n in range(rounds):
                    reply = ftp.storbinary(f"STOR {d}/f{i}-{n}", io.BytesIO(content(i, n)))
                    assert reply.startswith("226"), reply
            finally:
                ftp.close()
        errors = run_parallel(clients, work)
        assert errors == {}
        for i in range(clients):
            for n in range(rounds):
                with open(os.path.join(d, f"f{i}-{n}"), "rb") as f:
                    assert f.read() == content(i, n)
        assert leftovers(d) == []


@pytest.mark.parametrize("fs", ["local", "nfs"])
def test_leftovers_of_killed_sessions_go_and_live_uploads_stay(writer, local_users, tmp_path, fs):
    s = writer()
    with upload_directory(local_users, tmp_path, f"killed-{fs}", fs) as d:
        # Two uploads in progress; the session of one of them is killed.
        dead, dead_data = start_upload(s, ALICE, "alice-secret", f"{d}/dead.bin")
        dead_data.sendall(b"D" * 100000)
        dead_jail = process_chain(s, 3)[2]
        live, live_data = start_upload(s, ALICE, "alice-secret", f"{d}/live.bin")
        live_data.sendall(b"L" * 100000)
        assert wait_for(lambda: len(leftovers(d)) == 2)
        os.kill(dead_jail, signal.SIGKILL)
        assert dead.closed()
        assert wait_for(lambda: len(children(s.proc.pid)) == 1)
        # The next upload into the directory removes the killed session's file and not the live
        # one, which then completes.
        ftp = login(s, ALICE, local_users)
        put(ftp, f"{d}/other.bin", b"y")
        assert len(leftovers(d)) == 1
        live_data.sendall(b"L" * 100000)
        live_data.close()
        assert live.reply()[0] == 226
        assert leftovers(d) == []
        assert open(os.path.join(d, "live.bin"), "rb").read() == b"L" * 200000
        assert not os.path.exists(os.path.join(d, "dead.bin"))
        ftp.quit()
        live.close()


def pasv_upload(raw, command, data):
    """Sends data for command (STOR, STOU, APPE) over a passive connection: (preliminary reply,
    final reply), each (code, text)."""
    code, lines = raw.cmd("PASV")
    assert code == 227, lines
    numbers = lines[0][lines[0].index("(") + 1:lines[0].index(")")].split(",")
    port = int(numbers[4]) * 256 + int(numbers[5])
    data_sock = socket.create_connection((raw.sock.getpeername()[0], port), timeout=30)
    code, lines = raw.cmd(command)
    first = (code, lines[0])
    if code != 150:
        data_sock.close()
        return first, None
    data_sock.sendall(data)
    data_sock.close()
    code, lines = raw.reply()
    return first, (code, lines[0])


@pytest.mark.parametrize("atomic", ["YES", "NO"])
@pytest.mark.parametrize("who", ["local", "anonymous", "local-nfs"])
def test_parallel_stou_of_one_name(make_server, local_users, tree, tmp_path, atomic, who):
    # Every client gets its own name, the one its 150 announced, before it sends any data.
    with contextlib.ExitStack() as stack:
        stou_storm(make_server, local_users, tree, tmp_path, atomic, who, stack)


def stou_storm(make_server, local_users, tree, tmp_path, atomic, who, stack):
    if who.startswith("local"):
        s = make_server({"local_enable": "YES", "write_enable": "YES", "anonymous_enable": "NO",
                         "atomic_uploads": atomic})
        fs = "nfs" if who == "local-nfs" else "local"
        directory = stack.enter_context(
            upload_directory(local_users, tmp_path, f"stou-{atomic}-{fs}", fs))
        user, password = ALICE, local_users.users[ALICE]["password"]
        remote = directory + "/report.txt"
    else:
        s = make_server(dict(ANON_UP, atomic_uploads=atomic))
        directory = tree.path("pub/incoming")
        user, password = "anonymous", "guest@example.org"
        remote = "/pub/incoming/report.txt"
    clients = 100
    results = {}

    def work(i):
        raw = s.raw(timeout=60)
        try:
            assert raw.reply()[0] == 220
            assert raw.cmd(f"USER {user}")[0] == 331
            assert raw.cmd(f"PASS {password}")[0] == 230
            assert raw.cmd("TYPE I")[0] == 200
            results[i] = pasv_upload(raw, f"STOU {remote}", f"client {i}\n".encode() * 1000)
            raw.cmd("QUIT")
        finally:
            raw.close()
    errors = run_parallel(clients, work)
    assert errors == {}
    names = {}
    for i, (first, final) in results.items():
        assert first[0] == 150 and first[1].startswith("150 FILE: "), first
        assert final[0] == 226, (first, final)
        names[i] = first[1][len("150 FILE: "):]
    assert sorted(names.values()) == sorted(
        ["report.txt"] + [f"report.txt.{n}" for n in range(1, clients)])
    for i, name in names.items():
        with open(os.path.join(directory, name), "rb") as f:
            assert f.read() == f"client {i}\n".encode() * 1000
    assert leftovers(directory) == []


@pytest.mark.parametrize("fs", ["local", "nfs"])
def test_parallel_appe_and_rest_stor_into_one_file(writer, local_users, tmp_path, fs):
    # Writes in place: APPE from many sessions adds every record whole (each holds the write
    # lock for its whole upload), and REST+STOR from many sessions, each resuming its own part
    # of one file, leaves every part as sent.
    s = writer({"lock_upload_files": "YES"})
    clients, part = 12, 64 * 1024
    with upload_directory(local_users, tmp_path, f"inplace-{fs}", fs) as d:
        def record(i):
            return (f"record {i:02} ".encode() * (part // 10 + 1))[:part - 1] + b"\n"

        def append(i):
            ftp = login(s, ALICE, local_users)
            try:
                for _ in range(3):
                    reply = ftp.storbinary(f"APPE {d}/log.txt", io.BytesIO(record(i)))
                    assert reply.startswith("226"), reply
            finally:
                ftp.close()
        assert run_parallel(clients, append) == {}
        with open(os.path.join(d, "log.txt"), "rb") as f:
            data = f.read()
        assert len(data) == clients * 3 * part
        chunks = [data[k:k + part] for k in range(0, len(data), part)]
        assert sorted(chunks) == sorted(record(i) for i in range(clients) for _ in range(3))

        # (REST 0 would be a whole new upload: the first part is there already.)
        with open(os.path.join(d, "parts.bin"), "wb") as f:
            f.write(record(0))
        os.chown(os.path.join(d, "parts.bin"), local_users.users[ALICE]["uid"], -1)

        def resume(i):
            ftp = login(s, ALICE, local_users)
            try:
                ftp.voidcmd("TYPE I")
                reply = ftp.storbinary(f"STOR {d}/parts.bin", io.BytesIO(record(i + 1)),
                                       rest=(i + 1) * part)
                assert reply.startswith("226"), reply
            finally:
                ftp.close()
        assert run_parallel(clients - 1, resume) == {}
        with open(os.path.join(d, "parts.bin"), "rb") as f:
            assert f.read() == b"".join(record(i) for i in range(clients))
        assert leftovers(d) == []


def rclone_remote(server, user, password):
    env = dict(os.environ, RCLONE_CONFIG="/dev/null")
    obscured = subprocess.run(["rclone", "obscure", password], capture_output=True, env=env,
                              check=True).stdout.decode().strip()
    return f":ftp,host={server.host},port={server.port},user={user},pass={obscured}:", env


def test_rclone_copies_a_tree_into_one_directory_with_16_transfers(writer, local_users,
                                                                   tmp_path):
    # rclone's parallel uploads into one directory: 6 runs of 8 failed with 451 before.
    s = writer()
    source = tmp_path / "source"
    source.mkdir()
    for i in range(120):
        (source / f"file{i:03}.bin").write_bytes(os.urandom(1000 + i * 97))
    remote, env = rclone_remote(s, ALICE, local_users.users[ALICE]["password"])
    d = os.path.join(home(local_users), "rclone")
    for run in range(3):
        r = subprocess.run(["rclone", "copy", "--transfers", "16", "--retries", "1",
                            "--low-level-retries", "1", str(source), f"{remote}{d}/run{run}"],
                           capture_output=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr.decode()[-3000:]
        for f in source.iterdir():
            assert sha256_file(os.path.join(d, f"run{run}", f.name)) == sha256_file(f)
        assert leftovers(os.path.join(d, f"run{run}")) == []
