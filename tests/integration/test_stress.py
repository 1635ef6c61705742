"""The stress suite: real clients in parallel against one server for a fixed time, then every
file, process, hidden file and journal record is accounted for.

For KEEPFTPD_STRESS_SECONDS (default 30; `./dev stress [SECONDS]` sets it) these run at once
against one keepftpd under systemd-socket-activate, with its own journald:

- rclone copy --transfers 16 of a tree up, then down again;
- lftp mirror -R --parallel=8 up, then mirror down (every other round over FTPS);
- curl uploads, overwrites and downloads, plain and FTPS;
- STOU storms: 16 clients STOU one name at once;
- ABOR in the middle of uploads and downloads;
- curl killed (SIGKILL) in the middle of uploads (FTPS and plain FTP) and downloads;
- anonymous uploads into a drop directory.

Then: every file on the server has the sha256 of what its last successful upload sent (over plain
FTP a killed client whose data connection ended before its control connection may instead have
left the part it sent, taken as the whole file: nothing in the protocol tells them apart; those
are counted in the report), every
download had the sha256 of what was on the server, no client saw an error that the test did not
cause, no process of the server and no hidden upload file is left, and the journal has exactly
one record per transfer that got its 150, with the result the client saw. The figures (transfers
per second per client, errors) go to KEEPFTPD_STRESS_REPORT (default build/stress-report.txt).
"""

import collections
import ftplib
import hashlib
import io
import os
import pwd
import random
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import REPO, sha256_file
from test_ftps import cert  # noqa: F401 (a fixture)
from test_local_users import ALICE
from test_privsep import children, wait_for
from test_service import (JOURNALD_CONF, journal_records, start_journald_server,  # noqa: F401
                          superservers)

DURATION = float(os.environ.get("KEEPFTPD_STRESS_SECONDS", "30"))
REPORT = os.environ.get("KEEPFTPD_STRESS_REPORT", os.path.join(REPO, "build", "stress-report.txt"))
TRANSFER_COMMANDS = ("RETR", "STOR", "APPE", "STOU")

# No rate limit: an hour's run writes far more than journald's default burst.
STRESS_JOURNALD_CONF = (JOURNALD_CONF + "RateLimitIntervalSec=0\nRateLimitBurst=0\n"
                        "RuntimeMaxUse=20G\nRuntimeKeepFree=2G\n")


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Ledger:
    """What the clients did and saw, shared by the worker threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.files = {}                         # server path -> sha256 of its last upload
        self.journal = collections.Counter()   # (command, path, result) expected in the journal
        self.loose = collections.Counter()     # (command, path): one record, any result
        self.done = collections.Counter()      # worker -> transfers completed
        self.caused = collections.Counter()    # worker -> failures the test caused on purpose
        self.errors = []                        # failures nobody caused
        self.killed_plain = {}                  # server path -> bytes a killed client was given
        self.taken_whole = 0                    # of those, uploads the server took as complete
        self.big = b""                          # what killed clients were given to send

    def verdict(self, path, local):
        """None if the file at local is what path's last upload should have left, else why
        not. Over plain FTP a killed client's data may end before its control connection does,
        and then nothing tells the server the upload was cut short (the end of the data is the
        end of the file): there, the part sent is accepted too, and counted."""
        digest = self.files.get(path)
        if not os.path.exists(local):
            return f"{path} is missing"
        if sha256_file(local) == digest:
            return None
        limit = self.killed_plain.get(path)
        if limit is not None:
            with open(local, "rb") as f:
                data = f.read()
            if len(data) <= limit and data == self.big[:len(data)]:
                with self.lock:
                    self.taken_whole += 1
                return None
        return f"{path} is not what its last upload sent"

    def transfer(self, worker, command, path, result="ok", data_sha=None):
        with self.lock:
            self.journal[(command, path, result)] += 1
            if result == "ok":
                self.done[worker] += 1
                if data_sha is not None:
                    self.files[path] = data_sha
            else:
                self.caused[worker] += 1

    def any_result(self, worker, command, path):
        with self.lock:
            self.loose[(command, path)] += 1
            self.caused[worker] += 1

    def error(self, worker, text):
        with self.lock:
            self.errors.append(f"{worker}: {text}")

    def settle(self, worker, directory, real=None):
        """Checks the files uploaded into directory (a server path; real: where it is here)
        now and removes them, so that an hour's run does not fill the disk."""
        real = real or directory
        prefix = directory.rstrip("/") + "/"
        with self.lock:
            paths = [p for p in self.files if p.startswith(prefix)]
        for path in paths:
            why = self.verdict(path, os.path.join(real, path[len(prefix):]))
            if why:
                self.error(worker, why)
        with self.lock:
            for path in paths:
                del self.files[path]
                self.killed_plain.pop(path, None)
        shutil.rmtree(real, ignore_errors=True)


class Stress:
    def __init__(self, server, ledger, users, tmp, deadline, cert_files):
        self.s = server
        self.ledger = ledger
        self.password = users.users[ALICE]["password"]
        self.home = users.users[ALICE]["real_home"]
        self.uid = users.users[ALICE]["uid"]
        self.tmp = tmp
        self.deadline = deadline
        self.cert = cert_files
        self.rclone_env = dict(os.environ, RCLONE_CONFIG="/dev/null")
        obscured = subprocess.run(["rclone", "obscure", self.password], capture_output=True,
                                  env=self.rclone_env, check=True).stdout.decode().strip()
        self.rclone_remote = (f":ftp,host=127.0.0.1,port={server.port},user={ALICE},"
                              f"pass={obscured}")
        self.source = os.path.join(tmp, "source")
        os.makedirs(os.path.join(self.source, "sub"))
        rng = random.Random(20)
        for i in range(24):
            rel = f"sub/f{i:02}.bin" if i % 3 == 0 else f"f{i:02}.bin"
            with open(os.path.join(self.source, rel), "wb") as f:
                f.write(os.urandom(rng.choice([1, 700, 40_000, 300_000, 1_500_000])))
        self.big = os.urandom(8 * 1024 * 1024)
        ledger.big = self.big

    def running(self):
        return time.monotonic() < self.deadline

    def remote_dir(self, *parts):
        path = os.path.join(self.home, "stress", *parts)
        os.makedirs(path, exist_ok=True)
        for d in [os.path.join(self.home, "stress")] + [
                os.path.join(self.home, "stress", *parts[:k + 1]) for k in range(len(parts))]:
            os.chown(d, self.uid, self.uid)
        return path

    def source_files(self):
        for dirpath, _, names in os.walk(self.source):
            for n in names:
                full = os.path.join(dirpath, n)
                yield os.path.relpath(full, self.source), full

    def check_copy(self, worker, local_dir):
        for rel, full in self.source_files():
            got = os.path.join(local_dir, rel)
            if not os.path.exists(got) or sha256_file(got) != sha256_file(full):
                self.ledger.error(worker, f"downloaded {rel} differs from what was uploaded")

    def uploaded_tree(self, worker, command, remote):
        for rel, full in self.source_files():
            self.ledger.transfer(worker, command, os.path.join(remote, rel),
                                 data_sha=sha256_file(full))

    def downloaded_tree(self, worker, remote):
        for rel, _ in self.source_files():
            self.ledger.transfer(worker, "RETR", os.path.join(remote, rel))

    # ---- the clients ----------------------------------------------------------------------------

    def rclone(self, worker):
        # Plain FTP only: rclone (its FTP library) does not resume the control connection's TLS
        # session on data connections, which require_ssl_reuse=YES (the default) requires.
        round_ = 0
        while self.running():
            remote = self.remote_dir("rclone", str(round_))
            spec = self.rclone_remote + ":"
            common = ["--transfers", "16", "--checkers", "16", "--retries", "1",
                      "--low-level-retries", "1"]
            r = subprocess.run(["rclone", "copy"] + common + [self.source, spec + remote],
                               capture_output=True, env=self.rclone_env, timeout=600)
            if r.returncode != 0:
                return self.ledger.error(worker, f"rclone up: {r.stderr.decode()[-2000:]}")
            self.uploaded_tree(worker, "STOR", remote)
            local = os.path.join(self.tmp, f"rclone-down-{round_}")
            r = subprocess.run(["rclone", "copy"] + common + [spec + remote, local],
                               capture_output=True, env=self.rclone_env, timeout=600)
            if r.returncode != 0:
                return self.ledger.error(worker, f"rclone down: {r.stderr.decode()[-2000:]}")
            self.downloaded_tree(worker, remote)
            self.check_copy(worker, local)
            shutil.rmtree(local)
            if round_ > 0:
                self.ledger.settle(worker, self.remote_dir("rclone", str(round_ - 1)))
            round_ += 1

    def lftp(self, worker):
        round_ = 0
        while self.running():
            tls = round_ % 2 == 1
            remote = self.remote_dir("lftp", str(round_))
            local = os.path.join(self.tmp, f"lftp-down-{round_}")
            settings = ("set ftp:ssl-force true; set ftp:ssl-protect-data true; "
                        "set ssl:verify-certificate no; " if tls else "set ftp:ssl-allow no; ")
            script = (f"set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 30; "
                      f"{settings}open -u {ALICE},{self.password} -p {self.s.port} 127.0.0.1; "
                      f"mirror -R --parallel=8 {self.source} {remote}; "
                      f"mirror --parallel=8 {remote} {local}; bye")
            r = subprocess.run(["lftp", "-c", script], capture_output=True, timeout=600)
            if r.returncode != 0:
                return self.ledger.error(worker, f"lftp: {r.stderr.decode()[-2000:]}")
            self.uploaded_tree(worker, "STOR", remote)
            self.downloaded_tree(worker, remote)
            self.check_copy(worker, local)
            shutil.rmtree(local)
            if round_ > 0:
                self.ledger.settle(worker, self.remote_dir("lftp", str(round_ - 1)))
            round_ += 1

    def curl_url(self, path):
        """An ftp:// URL of an absolute path (%2F: from the root, not the login directory)."""
        return f"ftp://{ALICE}:{self.password}@127.0.0.1:{self.s.port}/%2F{path.lstrip('/')}"

    def curl(self, worker, tls):
        remote = self.remote_dir(worker)
        tls_args = ["--ssl-reqd", "-k"] if tls else []
        i = 0
        while self.running():
            # A new file, then the same name overwritten, each downloaded again.
            name = os.path.join(remote, f"c{i % 5}.bin")
            data = os.urandom(random.choice([0, 10, 50_000, 600_000]))
            r = subprocess.run(["curl", "-sS", "-T", "-"] + tls_args + [self.curl_url(name)],
                               input=data, capture_output=True, timeout=120)
            if r.returncode != 0:
                return self.ledger.error(worker, f"curl upload: {r.stderr.decode()[-500:]}")
            self.ledger.transfer(worker, "STOR", name, data_sha=sha(data))
            r = subprocess.run(["curl", "-sS"] + tls_args + [self.curl_url(name)],
                               capture_output=True, timeout=120)
            if r.returncode != 0 or r.stdout != data:
                return self.ledger.error(worker, f"curl download: {r.returncode} "
                                                 f"{r.stderr.decode()[-500:]}")
            self.ledger.transfer(worker, "RETR", name)
            i += 1

    def raw_login(self, user=ALICE, password=None):
        c = RawSession(self.s.port)
        c.expect(220)
        c.cmd(f"USER {user}", 331)
        c.cmd(f"PASS {password or self.password}", 230)
        c.cmd("TYPE I", 200)
        return c

    def stou_storm(self, worker):
        storm = 0
        while self.running():
            remote = self.remote_dir("stou", str(storm))
            clients = 16
            results = [None] * clients
            barrier = threading.Barrier(clients)

            def one(k):
                try:
                    c = self.raw_login()
                    try:
                        barrier.wait(60)
                        data = f"storm {storm} client {k}\n".encode() * (k * 100 + 1)
                        first, final = c.upload(f"STOU {remote}/report.txt", data)
                        results[k] = (first, final, data)
                        c.cmd("QUIT", 221)
                    finally:
                        c.close()
                except Exception as e:  # noqa: BLE001 (reported below)
                    results[k] = e
            threads = [threading.Thread(target=one, args=(k,)) for k in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(300)
            names = set()
            for k, res in enumerate(results):
                if not isinstance(res, tuple):
                    self.ledger.error(worker, f"STOU client {k}: {res!r}")
                    continue
                first, final, data = res
                if not first.startswith("150 FILE: ") or not final.startswith("226"):
                    self.ledger.error(worker, f"STOU client {k}: {first!r} {final!r}")
                    continue
                name = first[len("150 FILE: "):]
                names.add(name)
                self.ledger.transfer(worker, "STOU", f"{remote}/{name}", data_sha=sha(data))
            if len(names) != clients:
                self.ledger.error(worker, f"STOU storm {storm}: {len(names)} names for {clients}")
            if storm > 0:
                self.ledger.settle(worker, self.remote_dir("stou", str(storm - 1)))
            storm += 1

    def abort(self, worker):
        remote = self.remote_dir("abort")
        i = 0
        while self.running():
            path = f"{remote}/a{i % 3}.bin"
            old = os.urandom(1000)
            try:
                c = self.raw_login()
            except Exception as e:  # noqa: BLE001
                return self.ledger.error(worker, repr(e))
            try:
                first, final = c.upload(f"STOR {path}", old)
                if not final.startswith("226"):
                    return self.ledger.error(worker, f"STOR: {final!r}")
                self.ledger.transfer(worker, "STOR", path, data_sha=sha(old))
                # An upload aborted half-way: the old file stays.
                data = c.pasv()
                c.cmd(f"STOR {path}", 150)
                data.sendall(self.big[:random.randint(1, 2_000_000)])
                c.send("ABOR\r\n")
                codes = c.replies_until(226)
                data.close()
                if codes != [426, 226]:
                    return self.ledger.error(worker, f"ABOR of STOR: {codes}")
                self.ledger.transfer(worker, "STOR", path, "aborted")
                # A download aborted half-way.
                data = c.pasv()
                c.cmd(f"RETR {path}", 150)
                data.recv(100)
                c.send("ABOR\r\n")
                codes = c.replies_until(226)
                data.close()
                if codes == [426, 226]:
                    self.ledger.transfer(worker, "RETR", path, "aborted")
                elif codes == [226] or codes == [226, 225] or codes == [226, 226]:
                    self.ledger.transfer(worker, "RETR", path)  # all sent before the ABOR
                else:
                    return self.ledger.error(worker, f"ABOR of RETR: {codes}")
                c.cmd("QUIT", 221)
            except Exception as e:  # noqa: BLE001
                return self.ledger.error(worker, repr(e))
            finally:
                c.close()
            i += 1

    def killer(self, worker):
        i = 0
        while self.running():
            # Each file is checked later: still its first upload, not the killed one.
            remote = self.remote_dir("killed", str(i // 20))
            if i % 20 == 0 and i > 0:
                self.ledger.settle(worker, self.remote_dir("killed", str(i // 20 - 1)))
            path = f"{remote}/k{i}.bin"
            old = os.urandom(5000)
            r = subprocess.run(["curl", "-sS", "-T", "-", self.curl_url(path)],
                               input=old, capture_output=True, timeout=120)
            if r.returncode != 0:
                return self.ledger.error(worker, f"curl upload: {r.stderr.decode()[-500:]}")
            self.ledger.transfer(worker, "STOR", path, data_sha=sha(old))
            # curl killed in the middle of an upload (stdin still open: it is waiting for more),
            # over FTPS and plain FTP in turn. Over FTPS the old file must stay: the missing TLS
            # close_notify says the data did not end normally.
            tls = i % 2 == 0
            given = random.randint(1_000_000, 4_000_000)
            p = subprocess.Popen(["curl", "-sS", "-T", "-"] + (["--ssl-reqd", "-k"] if tls else [])
                                 + [self.curl_url(path)], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                # More than a pipe holds: once written, curl has sent STOR and is sending data.
                p.stdin.write(self.big[:given])
                p.stdin.flush()
            except BrokenPipeError:
                pass
            p.send_signal(signal.SIGKILL)
            p.wait()
            p.stdin.close()
            if not tls:
                with self.ledger.lock:
                    self.ledger.killed_plain[path] = given
            self.ledger.any_result(worker, "STOR", path)
            # curl killed in the middle of a download of a large file.
            big = f"{self.remote_dir('killed-download')}/big.bin"
            if i == 0:
                r = subprocess.run(["curl", "-sS", "-T", "-",
                                    self.curl_url(big)],
                                   input=self.big, capture_output=True, timeout=120)
                if r.returncode != 0:
                    return self.ledger.error(worker, f"curl upload: {r.stderr.decode()[-500:]}")
                self.ledger.transfer(worker, "STOR", big, data_sha=sha(self.big))
            p = subprocess.Popen(["curl", "-sS", "--limit-rate", "1M", self.curl_url(big)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            p.stdout.read(1)  # the download has begun
            p.send_signal(signal.SIGKILL)
            p.wait()
            p.stdout.close()
            self.ledger.any_result(worker, "RETR", big)
            i += 1

    def anonymous(self, worker, incoming, chroot_path):
        batch = 0
        while self.running():
            # Into a new directory each time (anonymous users may not overwrite), made here.
            directory = f"{chroot_path}/{batch}"
            real = os.path.join(incoming, str(batch))
            os.mkdir(real)
            os.chown(real, pwd.getpwnam("ftp").pw_uid, -1)
            try:
                ftp = ftplib.FTP()
                ftp.connect("127.0.0.1", self.s.port, timeout=60)
                ftp.login()
                for i in range(5):
                    data = os.urandom(random.choice([1, 3000, 90_000]))
                    reply = ftp.storbinary(f"STOR {directory}/{i}.bin", io.BytesIO(data))
                    if not reply.startswith("226"):
                        return self.ledger.error(worker, reply)
                    self.ledger.transfer(worker, "STOR", f"{directory}/{i}.bin",
                                         data_sha=sha(data))
                ftp.quit()
            except Exception as e:  # noqa: BLE001
                return self.ledger.error(worker, repr(e))
            if batch > 0:
                self.ledger.settle(worker, f"{chroot_path}/{batch - 1}",
                                   os.path.join(incoming, str(batch - 1)))
            batch += 1


class RawSession:
    """A control connection for the workers that need exact replies."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.f = self.sock.makefile("rb")

    def reply(self):
        line = self.f.readline().decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            raise EOFError("connection closed")
        first = line
        while line[3:4] == "-":
            line = self.f.readline().decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                raise EOFError("connection closed")
            if line.startswith(first[:3] + " "):
                break
        return first if first[3:4] != "-" else line

    def expect(self, code):
        line = self.reply()
        if not line.startswith(str(code)):
            raise AssertionError(f"expected {code}, got {line!r}")
        return line

    def send(self, text):
        self.sock.sendall(text.encode())

    def cmd(self, text, code):
        self.send(text + "\r\n")
        return self.expect(code)

    def pasv(self):
        line = self.cmd("PASV", 227)
        numbers = line[line.index("(") + 1:line.index(")")].split(",")
        return socket.create_connection(("127.0.0.1", int(numbers[4]) * 256 + int(numbers[5])),
                                        timeout=120)

    def upload(self, command, data):
        conn = self.pasv()
        self.send(command + "\r\n")
        first = self.reply()
        if not first.startswith("150"):
            conn.close()
            return first, ""
        conn.sendall(data)
        conn.close()
        return first, self.reply()

    def replies_until(self, code):
        codes = []
        while not codes or codes[-1] != code:
            codes.append(int(self.reply()[:3]))
            if len(codes) > 3:
                break
        # A 226 for a transfer that ended before the ABOR may be followed by ABOR's own 225/226.
        if codes == [226]:
            self.sock.settimeout(0.5)
            try:
                codes.append(int(self.reply()[:3]))
            except (socket.timeout, EOFError):
                pass
            self.sock.settimeout(120)
        return codes

    def close(self):
        self.f.close()
        self.sock.close()


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def hidden_upload_files(*roots):
    found = []
    for root in roots:
        for dirpath, _, names in os.walk(root):
            found += [os.path.join(dirpath, n) for n in names
                      if n.startswith(".keepftpd-upload-")]
    return found


def test_real_clients_in_parallel(tree, superservers, local_users, tmp_path, cert):  # noqa: F811
    options = {"write_enable": "YES", "anon_upload_enable": "YES", "anon_umask": "022",
               "ssl_enable": "YES", "allow_anon_ssl": "YES", "force_local_logins_ssl": "NO",
               "force_local_data_ssl": "NO", "max_command_rate": "0"}
    options.update(cert)
    s = start_journald_server(tree, superservers, options, journald_conf=STRESS_JOURNALD_CONF)
    ledger = Ledger()
    start = time.monotonic()
    st = Stress(s, ledger, local_users, str(tmp_path), start + DURATION, cert)
    incoming = tree.path("pub/incoming")
    workers = {
        "rclone": st.rclone,
        "lftp": st.lftp,
        "curl": lambda w: st.curl(w, tls=False),
        "curl-ftps": lambda w: st.curl(w, tls=True),
        "stou": st.stou_storm,
        "abort": st.abort,
        "killed": st.killer,
        "anonymous": lambda w: st.anonymous(w, incoming, "/pub/incoming"),
    }
    threads = []
    for name, work in workers.items():
        def run(name=name, work=work):
            try:
                work(name)
            except Exception as e:  # noqa: BLE001 (a worker's own failure is an error too)
                ledger.error(name, repr(e))
        t = threading.Thread(target=run, name=name)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(DURATION + 900)
    hung = [t.name for t in threads if t.is_alive()]
    elapsed = time.monotonic() - start

    problems = list(ledger.errors)
    # Every session ends once its client has (the superserver's other child is journald).
    def sessions():
        return [p for p in children(s.proc.pid) if comm(p) != "systemd-journal"]
    if not wait_for(lambda: sessions() == [], timeout=120):
        left = subprocess.run(["ps", "-o", "pid,etimes,args", "-p",
                               ",".join(str(p) for p in sessions())],
                              capture_output=True, text=True).stdout
        problems.append(f"sessions still running: {left}")
    if hung:
        problems.append(f"workers still running: {hung}")
    # Every file is what its last successful upload sent.
    for path in list(ledger.files):
        why = ledger.verdict(path, path if not path.startswith("/pub/") else tree.path(path))
        if why:
            problems.append(why)
    leftovers = hidden_upload_files(os.path.join(st.home, "stress"), incoming)
    if leftovers:
        problems.append(f"hidden upload files left: {leftovers[:5]}")
    # One journal record per transfer, with the result the client saw.
    expected_total = sum(ledger.journal.values()) + sum(ledger.loose.values())
    records = []
    deadline = time.time() + 60
    while time.time() < deadline:
        all_records, r = journal_records(s.journal_dir)
        records = [x for x in all_records if x.get("FTP_COMMAND") in TRANSFER_COMMANDS]
        if len(records) >= expected_total:
            break
        time.sleep(0.5)
    seen = collections.Counter((x["FTP_COMMAND"], x.get("FTP_PATH", ""), x.get("FTP_RESULT", ""))
                               for x in records)
    missing = ledger.journal - seen
    # What is left over must be the interrupted transfers, one record each, whatever result.
    rest = collections.Counter((k[0], k[1]) for k in (seen - ledger.journal).elements())
    if missing:
        problems.append(f"journal: no record of {dict(list(missing.items())[:10])}")
    if rest != ledger.loose:
        problems.append(f"journal: records {dict(list((rest - ledger.loose).items())[:10])} "
                        f"that no client made; no record of interrupted transfers "
                        f"{dict(list((ledger.loose - rest).items())[:10])}")
    violations = [x["MESSAGE"] for x in all_records if "seccomp" in x.get("MESSAGE", "")]
    if violations:
        problems.append(f"seccomp: {violations[:3]}")

    done = sum(ledger.done.values())
    lines = [f"keepftpd stress: {elapsed:.0f} s, {done} transfers completed "
             f"({done / elapsed:.1f}/s), {sum(ledger.caused.values())} interrupted on purpose, "
             f"{len(problems)} unexplained errors, {len(records)} journal records",
             f"  of the uploads of clients killed over plain FTP, {ledger.taken_whole} were taken "
             f"as complete (their data ended before their control connection did)"]
    for name in workers:
        lines.append(f"  {name:10} {ledger.done[name]:6} transfers "
                     f"({ledger.done[name] / elapsed:6.1f}/s), {ledger.caused[name]} interrupted")
    lines += [f"  error: {p}" for p in problems]
    report = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, "w") as f:
        f.write(report)
    print(report)
    assert problems == [], report
    assert all(ledger.done[name] > 0 for name in workers), report
