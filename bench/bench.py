"""Orchestration for bench/run.sh: makes the served tree and the configurations, starts
keepftpd, vsftpd (each plain, with TLS configured, as FTPS servers, for local users and for
uploads) and the per-connection physical limits (trivial220, shape_floor, tls_floor,
shape_floor_tls) under systemd-socket-activate --inetd, runs the workloads round by round
(keepftpd, vsftpd, keepftpd, vsftpd, ...) with the C++ client and prints medians, min-max and
keepftpd/vsftpd ratios, same-server ratios, then the physical limits.

Runs as root inside run.sh's private mount namespace, where the accounts ftp (61001),
kftp-nopriv (61002) and the local user named by BENCH_LOCAL_USER (61003, password
BENCH_LOCAL_PASS) exist, and /etc/pam.d/keepftpd is the repository's. Exits 1 if a server
fails to serve; speed is never judged.
"""

import argparse
import filecmp
import os
import platform
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

QUICK = os.environ.get("QUICK", "") not in ("", "0")


def knob(name, full, quick):
    value = os.environ.get(name)
    return int(value) if value else (quick if QUICK else full)


ROUNDS = knob("ROUNDS", 5, 3)
SEQ_SESSIONS = knob("SEQ_SESSIONS", 300, 100)
PAR_SESSIONS = knob("PAR_SESSIONS", 600, 200)
RETR_SMALL_COUNT = knob("RETR_SMALL_COUNT", 200, 100)
RETR_MID_COUNT = knob("RETR_MID_COUNT", 50, 20)
LIST_ENTRIES = knob("LIST_ENTRIES", 20000, 20000)
HOLD_SESSIONS = knob("HOLD_SESSIONS", 50, 50)
# Sessions logged in and held open at once (the "many sessions" rows), and rounds of that row
# (three: a round of 10,000 takes two to three minutes for the three servers, and one round's
# login time moves with what the machine's memory does meanwhile; bench/README.md).
MANY_SESSIONS = knob("MANY_SESSIONS", 10000, 500)
MANY_ROUNDS = knob("MANY_ROUNDS", 3, 1)
MANY_PARALLEL = 32  # logins in flight at once while the many sessions are logged in
# Processes of one idle logged-in session: keepftpd's keeper, session monitor and session jail
# (and the shape's three), vsftpd's privileged parent and session child.
MANY_PROCESSES = {"keepftpd": 3, "vsftpd": 2, "shape-libs": 3}
# Memory one held session takes from MemAvailable (KiB), its PSS and the kernel's part (page
# tables, kernel stacks, sockets; vsftpd's network namespace per session) together, measured
# with 2,000 held (bench/README.md) and rounded up by a quarter.
MANY_KIB = {"keepftpd": 1280, "vsftpd": 1800, "shape-libs": 1024}
# How long one read or write on a held session's socket may wait (the client's
# BENCH_IO_TIMEOUT): logins slow down as the sessions pile up, and the NOOPs and QUITs of all N
# are sent before their replies are read.
MANY_IO_TIMEOUT = knob("MANY_IO_TIMEOUT", 600, 120)
SMALL_FILES = 100  # distinct 1 KiB files the RETR-many workload cycles over
# FTPS: TLS 1.2 only (the client caps itself there; keepftpd always allows TLS 1.3 too) with
# this one cipher on both servers, so that both do the same work.
TLS_CIPHER = "ECDHE-RSA-AES256-GCM-SHA384"


class Failure(Exception):
    pass


def say(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    with open("/proc/net/tcp") as f:
        return any(f":{port:04X} 00000000:0000 0A" in line for line in f)


class Activated:
    """One per-connection server under systemd-socket-activate --inetd on a loopback port."""

    def __init__(self, name, argv, logdir):
        self.name = name
        self.port = free_port()
        self.log_path = os.path.join(logdir, f"{name}.log")
        self.log = open(self.log_path, "wb")
        cmd = ["systemd-socket-activate", "-l", f"127.0.0.1:{self.port}", "--inetd", "-a"] + argv
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            if listening(self.port):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise Failure(f"{name}: systemd-socket-activate did not start: {self.output()}")

    def output(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-2000:]

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        # Whatever is left of its sessions (their processes keep the activator's session id,
        # which the kernel reserves while any of them lives, also when the activator died
        # first and they were reparented).
        for _ in range(50):
            left = session_members(self.proc.pid)
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        self.log.close()


def proc_stats():
    """(pid, the fields of /proc/PID/stat after the command name) of every process now; the
    first of those fields is the state, then the parent's pid, the group's, the session's."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        yield int(pid), stat[stat.rindex(")") + 2:].split()


def session_members(sid):
    """The pids of the processes whose session id is sid."""
    return [pid for pid, fields in proc_stats() if int(fields[3]) == sid]


def parse_kv(line):
    out = {}
    for word in line.split():
        if "=" in word:
            k, v = word.split("=", 1)
            out[k] = float(v)
    return out


class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.client = os.path.join(opts.tools, "client")
        self.results = {}  # (row, target) -> [values]
        self.listing_turns = {}  # target -> listing rounds run
        self.tmp = opts.work  # made (and removed) by run.sh; ftp's home is its ftp/
        os.chmod(self.tmp, 0o755)
        self.servers = {}
        self.notes = []  # lines printed under the tables (why a server held fewer sessions)
        self.late_failures = []  # failures that end the run with status 1 after the report

    # ---- setup -------------------------------------------------------------------------

    def make_tree(self):
        t = self.tmp
        self.anon = os.path.join(t, "ftp")
        for d in ("ftp", "ftp/small", "ftp/mid", "ftp/many"):
            os.makedirs(os.path.join(t, d))
        with open(os.path.join(self.anon, "file-1K.bin"), "wb") as f:
            f.write(os.urandom(1024))
        with open(os.path.join(self.anon, "file-1M.bin"), "wb") as f:
            f.write(os.urandom(1 << 20))
        shutil.copyfile(os.path.join(self.anon, "file-1M.bin"),
                        os.path.join(self.anon, "mid", "f0000"))
        for i in range(SMALL_FILES):
            with open(os.path.join(self.anon, "small", f"f{i:04d}"), "wb") as f:
                f.write(os.urandom(1024))
        for i in range(LIST_ENTRIES):
            open(os.path.join(self.anon, "many", f"entry-{i:05d}.txt"), "wb").close()
        def served(source, name):  # the kept data file in the tree: linked, or copied
            path = os.path.join(self.anon, name)
            try:
                os.link(source, path)
            except OSError:
                shutil.copyfile(source, path)
            return path

        big = served(self.opts.big, "big.bin")
        self.big_size = os.path.getsize(big)
        # The file of the other big transfers: STOR's (read by the client), FTPS RETR's.
        xfer = served(self.opts.xfer, "xfer.bin")
        self.xfer_size = os.path.getsize(xfer)
        for dirpath, dirnames, filenames in os.walk(t):
            os.chown(dirpath, 0, 0)
            os.chmod(dirpath, 0o755)
            for name in filenames:
                p = os.path.join(dirpath, name)
                os.chown(p, 0, 0)
                os.chmod(p, 0o644)
        # The FTPS servers' anonymous uploads go to upload/, which only ftp (61001) can write
        # (the served root itself stays root-owned: vsftpd refuses a writable chroot).
        self.upload = os.path.join(self.anon, "upload")
        os.mkdir(self.upload)
        os.chown(self.upload, 61001, 61001)
        os.chmod(self.upload, 0o755)
        # Both servers read the same big file: have it in the page cache before timing. Count
        # its LFs on the way: an ASCII-mode RETR sends each LF as CRLF, so it delivers the size
        # plus the LFs (vsftpd), or plus the LFs not already preceded by a CR (keepftpd).
        lf = crlf = 0
        last = b""
        with open(big, "rb") as f:
            while chunk := f.read(1 << 24):
                lf += chunk.count(b"\n")
                crlf += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
                last = chunk[-1:]
        self.ascii_sizes = {self.big_size + lf, self.big_size + lf - crlf}
        with open(xfer, "rb") as f:
            while f.read(1 << 24):
                pass

    def write_configs(self):
        t = self.tmp
        cert, key = self.opts.cert, self.opts.key

        def empty_dir(name):
            path = os.path.join(t, f"empty-{name}")
            os.makedirs(path, exist_ok=True)
            os.chown(path, 0, 0)
            os.chmod(path, 0o755)
            return path

        def merged(base, extra):
            # One line per option: an option in extra replaces the base's.
            options = dict(l.split("=", 1) for l in base.splitlines() if l)
            options.update(dict(l.split("=", 1) for l in extra.splitlines() if l))
            return "".join(f"{k}={v}\n" for k, v in options.items())

        def keepftpd(name, extra=""):
            path = os.path.join(t, f"{name}.conf")
            with open(path, "w") as f:
                # The failed-login table in the benchmark's tree: a run neither reads the
                # machine's table in /run/keepftpd (where another program's failed logins from
                # 127.0.0.1 would ban the client) nor leaves its own behind.
                f.write(merged(f"anonymous_enable=YES\n"
                               f"anon_root={self.anon}\n"
                               f"nopriv_user=kftp-nopriv\n"
                               f"secure_chroot_dir={empty_dir(name)}\n"
                               f"login_state_dir={os.path.join(t, 'login-state')}\n"
                               f"no_anon_password=NO\n", extra))
            os.chmod(path, 0o644)
            subprocess.run([self.opts.keepftpd, "--check-config", "--config", path],
                           check=True, stdout=subprocess.DEVNULL)
            return path

        def vsftpd(name, extra=""):
            path = os.path.join(t, f"{name}.conf")
            with open(path, "w") as f:
                f.write(merged(f"listen=NO\n"
                               f"listen_ipv6=NO\n"
                               f"anonymous_enable=YES\n"
                               f"anon_root={self.anon}\n"
                               f"ftp_username=ftp\n"
                               f"nopriv_user=kftp-nopriv\n"
                               f"secure_chroot_dir={empty_dir(name)}\n"
                               f"seccomp_sandbox=NO\n"
                               f"pasv_enable=YES\n"
                               f"use_sendfile=YES\n"
                               f"local_enable=NO\n"
                               f"xferlog_enable=NO\n"
                               f"run_as_launching_user=NO\n"
                               f"background=NO\n"
                               f"check_shell=NO\n"
                               f"pam_service_name=vsftpd\n", extra))
            # vsftpd refuses a config file that is not owned by root (or is writable by others).
            os.chown(path, 0, 0)
            os.chmod(path, 0o600)
            return path

        # TLS configured: offered, allowed for anonymous users, not required.
        keep_ssl = (f"ssl_enable=YES\n"
                    f"allow_anon_ssl=YES\n"
                    f"rsa_cert_file={cert}\n"
                    f"rsa_private_key_file={key}\n"
                    f"ssl_ciphers={TLS_CIPHER}\n")
        vs_ssl = (f"ssl_enable=YES\n"
                  f"allow_anon_ssl=YES\n"
                  f"rsa_cert_file={cert}\n"
                  f"rsa_private_key_file={key}\n"
                  f"ssl_ciphers={TLS_CIPHER}\n"
                  f"require_ssl_reuse=YES\n")
        # (vsftpd 3.0.3 has no ssl_tlsv1_2 and refuses it; its default ssl_tlsv1=YES offers
        # TLS 1.0 and up, 1.2 included.)
        # FTPS: anonymous logins and data must use TLS; anonymous users may upload new files.
        # keepftpd writes uploads in place as vsftpd does (its default, atomic_uploads=YES,
        # would add an fsync of every upload that vsftpd does not do).
        ftps = (f"force_anon_logins_ssl=YES\n"
                f"force_anon_data_ssl=YES\n"
                f"write_enable=YES\n"
                f"anon_upload_enable=YES\n")
        # Local users (the PAM row): both servers authenticate through the same PAM service,
        # the repository's pam.d/keepftpd (run.sh installs it in its private /etc/pam.d), and
        # chroot the user into its home, the served tree (root-owned, so vsftpd accepts it).
        local = (f"local_enable=YES\n"
                 f"chroot_local_user=YES\n"
                 f"pam_service_name=keepftpd\n")
        # Plain uploads (the STOR row): anonymous users may upload new files into upload/.
        # keepftpd keeps its default atomic_uploads=YES (a hidden file, fsync, rename, then
        # 226); keepftpd-upload-inplace writes in place and does not fsync, as vsftpd does.
        upload = (f"write_enable=YES\n"
                  f"anon_upload_enable=YES\n")
        # ascii_download_enable: TYPE A downloads convert LF to CRLF (the ASCII RETR row);
        # it changes nothing for TYPE I transfers or listings.
        self.confs = {
            "keepftpd": keepftpd("keepftpd", "ascii_download_enable=YES\n"),
            "vsftpd": vsftpd("vsftpd", "write_enable=NO\nascii_download_enable=YES\n"),
            "keepftpd-local": keepftpd("keepftpd-local", local),
            "vsftpd-local": vsftpd("vsftpd-local", local + "write_enable=NO\n"),
            "keepftpd-upload": keepftpd("keepftpd-upload", upload),
            "keepftpd-upload-inplace": keepftpd("keepftpd-upload-inplace",
                                                upload + "atomic_uploads=NO\n"),
            "vsftpd-upload": vsftpd("vsftpd-upload", upload),
            "keepftpd-ssl": keepftpd("keepftpd-ssl", keep_ssl),
            "vsftpd-ssl": vsftpd("vsftpd-ssl", vs_ssl + "write_enable=NO\n"),
            "keepftpd-ftps": keepftpd("keepftpd-ftps", keep_ssl + ftps +
                                      "require_ssl_reuse=YES\natomic_uploads=NO\n"),
            "vsftpd-ftps": vsftpd("vsftpd-ftps", vs_ssl + ftps),
        }

    def start(self):
        logs = self.tmp
        for name, conf in self.confs.items():
            if name.startswith("keepftpd"):
                argv = [self.opts.keepftpd, "--config", conf]
            else:
                argv = [self.opts.vsftpd, conf]
            self.servers[name] = Activated(name, argv, logs)
        self.servers["trivial"] = Activated(
            "trivial", [os.path.join(self.opts.tools, "trivial220")], logs)
        # keepftpd's process shape and nothing else (bench/shape_floor.cc), for the session rows.
        empty = os.path.join(self.tmp, "empty-shape")
        os.makedirs(empty, exist_ok=True)
        ftp = pwd.getpwnam("ftp")
        for name, tool in (("shape", "shape_floor"), ("shape-libs", "shape_floor_libs")):
            self.servers[name] = Activated(
                name, [os.path.join(self.opts.tools, tool), empty, self.anon,
                       str(ftp.pw_uid), str(ftp.pw_gid)], logs)
        # A TLS session in one process with the FTPS servers' certificate and key
        # (bench/tls_floor.cc), for the row of sessions over TLS.
        self.servers["tls-floor"] = Activated(
            "tls-floor", [os.path.join(self.opts.tools, "tls_floor"), self.opts.cert,
                          self.opts.key], logs)
        # keepftpd's process shape with a TLS jail doing tls_floor's work, with keepftpd's
        # libraries (bench/shape_floor_tls.cc), for the same row.
        self.servers["shape-tls"] = Activated(
            "shape-tls", [os.path.join(self.opts.tools, "shape_floor_tls"), empty, self.anon,
                          str(ftp.pw_uid), str(ftp.pw_gid), self.opts.cert, self.opts.key], logs)

    def stop(self):
        for s in self.servers.values():
            s.stop()

    # ---- measuring ---------------------------------------------------------------------

    def run_client(self, target, *args, timeout=600):
        # target: a server instance ("keepftpd", "vsftpd-ftps", ...).
        srv = self.servers[target]
        cmd = [self.client, args[0], "127.0.0.1", str(srv.port)] + [str(a) for a in args[1:]]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise Failure(f"{target} failed to serve ({' '.join(args[:1])}): "
                          f"{r.stderr.strip()}\nserver output: {srv.output()}")
        return parse_kv(r.stdout)

    def record(self, row, target, value):
        self.results.setdefault((row, target), []).append(value)

    def sessions(self, target, n, parallel, label, flavour="", mode="ftp"):
        # flavour: which instance of the server ("", "-ssl", "-ftps", "-local"); mode: the
        # client's ("login" logs the local user in).
        if target == "trivial":
            mode = "banner"
        if target in ("tls-floor", "shape-tls"):
            flavour = ""  # one server each, for sessions over TLS only
        creds = ([os.environ["BENCH_LOCAL_USER"], os.environ["BENCH_LOCAL_PASS"]]
                 if mode == "login" else [])
        kv = self.run_client(target + flavour, "sessions", n, parallel, mode, *creds)
        if int(kv["sessions"]) != n:
            raise Failure(f"{target}: {kv['sessions']} of {n} sessions completed")
        self.record(f"sessions/s {label}", target, kv["rate"])
        self.record(f"session latency p50 {label} (ms)", target, kv["p50_ms"])
        self.record(f"session latency p99 {label} (ms)", target, kv["p99_ms"])

    def retr_big(self, target):
        if target == "sendfile":
            r = subprocess.run([os.path.join(self.opts.tools, "sendfile_pair"), self.opts.big],
                               capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                raise Failure(f"sendfile_pair failed: {r.stderr}")
            kv = parse_kv(r.stdout)
        else:
            kv = self.run_client(target, "retr", "/big.bin")
        if int(kv["bytes"]) != self.big_size:
            raise Failure(f"{target}: RETR big.bin gave {kv['bytes']} of {self.big_size} bytes")
        self.record(f"RETR {self.big_size >> 20} MiB (MB/s)", target, kv["mbps"])

    def retr_big_ascii(self, target):
        if target == "ascii-pair":
            r = subprocess.run([os.path.join(self.opts.tools, "sendfile_pair"), self.opts.big,
                                "ascii"], capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                raise Failure(f"sendfile_pair ascii failed: {r.stderr}")
            kv = parse_kv(r.stdout)
        else:
            kv = self.run_client(target, "retr", "/big.bin", "ascii")
        if int(kv["bytes"]) not in self.ascii_sizes:
            raise Failure(f"{target}: ASCII RETR big.bin gave {kv['bytes']} bytes, not one of "
                          f"{sorted(self.ascii_sizes)}")
        self.record(self.row_retr_ascii(), target, kv["mbps"])

    def row_retr(self):
        return f"RETR {self.big_size >> 20} MiB (MB/s)"

    def row_retr_ascii(self):
        return f"RETR {self.big_size >> 20} MiB, ASCII mode (MB/s)"

    def row_stor(self):
        return f"STOR {self.xfer_size >> 20} MiB (MB/s)"

    def row_stor_inplace(self):
        return f"STOR {self.xfer_size >> 20} MiB, keepftpd atomic_uploads=NO (MB/s)"

    def write_fsync(self):
        # The durable-upload ceiling: write() the upload file's bytes (in memory) into upload/ in
        # 256 KiB pieces and fsync() it, as a server that keeps the durability promise must,
        # without any network or FTP. Timed from open to the end of fsync.
        if not hasattr(self, "xfer_bytes"):
            with open(self.opts.xfer, "rb") as f:
                self.xfer_bytes = memoryview(f.read())
        path = os.path.join(self.upload, "write-fsync.bin")
        t0 = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            for i in range(0, len(self.xfer_bytes), 256 << 10):
                os.write(fd, self.xfer_bytes[i:i + (256 << 10)])
            os.fsync(fd)
        finally:
            os.close(fd)
        seconds = time.perf_counter() - t0
        os.unlink(path)
        os.sync()
        self.record(self.row_stor(), "fsync", len(self.xfer_bytes) / seconds / 1e6)

    def stor_big(self, target):
        # keepftpd with its default atomic_uploads=YES (a hidden file, fsync, rename, fsync of
        # the directory, then 226); vsftpd (no fsync); keepftpd with atomic_uploads=NO (in
        # place, still fsync before the 226: keepftpd fsyncs every upload); the write+fsync
        # ceiling. vsftpd's numbers are recorded in both keepftpd rows (the same measurement),
        # so each row has its ratio.
        if target == "fsync":
            return self.write_fsync()
        if target in ("durable", "cached"):
            # bench/receive_pair.cc: the same bytes over loopback into upload/, with keepftpd's
            # steps before its 226 or with none (as vsftpd).
            r = subprocess.run([os.path.join(self.opts.tools, "receive_pair"), self.opts.xfer,
                                self.upload, target], capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                raise Failure(f"receive_pair {target} failed: {r.stderr.strip()}")
            return self.record(self.row_stor(), target, parse_kv(r.stdout)["mbps"])
        server = {"keepftpd": "keepftpd-upload", "vsftpd": "vsftpd-upload",
                  "keepftpd-inplace": "keepftpd-upload-inplace"}[target]
        kv = self.store(target, server, "STOR")
        if target == "keepftpd":
            self.record(self.row_stor(), "keepftpd", kv["mbps"])
        elif target == "vsftpd":
            self.record(self.row_stor(), "vsftpd", kv["mbps"])
            self.record(self.row_stor_inplace(), "vsftpd", kv["mbps"])
        else:
            self.record(self.row_stor_inplace(), "keepftpd", kv["mbps"])

    def ftps_retr_big(self, target):
        row = f"FTPS RETR {self.xfer_size >> 20} MiB (MB/s)"
        if target == "aesgcm":
            # One core encrypting 16 KiB blocks with AES-256-GCM: what TLS can push at most.
            r = subprocess.run(["openssl", "speed", "-evp", "aes-256-gcm", "-bytes", "16384",
                                "-seconds", "1", "-mr"], capture_output=True, text=True,
                               timeout=60)
            rates = [l.split(":")[3] for l in r.stdout.splitlines() if l.startswith("+F:")]
            if r.returncode != 0 or not rates:
                raise Failure(f"openssl speed failed: {r.stderr.strip()}")
            self.record(row, target, float(rates[-1]) / 1e6)
            return
        kv = self.run_client(target + "-ftps", "retr", "/xfer.bin", "tls")
        if int(kv["bytes"]) != self.xfer_size:
            raise Failure(f"{target}: FTPS RETR xfer.bin gave {kv['bytes']} of {self.xfer_size} "
                          f"bytes")
        self.record(row, target, kv["mbps"])

    def store(self, target, server, what, *tls):
        # One timed STOR of the upload file as a new file in upload/ (anonymous users may not
        # overwrite), compared with the original byte for byte, then deleted.
        self.stor_count = getattr(self, "stor_count", 0) + 1
        name = f"{target}-{self.stor_count}.bin"
        stored = os.path.join(self.upload, name)
        try:
            kv = self.run_client(server, "stor", f"/upload/{name}", self.opts.xfer, *tls)
            if int(kv["bytes"]) != self.xfer_size or not filecmp.cmp(self.opts.xfer, stored,
                                                                    shallow=False):
                size = os.path.getsize(stored) if os.path.exists(stored) else "no"
                raise Failure(f"{target}: {what} stored {size} bytes, not the "
                              f"{self.xfer_size} sent")
        finally:
            if os.path.exists(stored):
                os.unlink(stored)
            # No writeback of this upload left to compete with the next one (untimed).
            os.sync()
        return kv

    def ftps_stor_big(self, target):
        kv = self.store(target, target + "-ftps", "FTPS STOR", "tls")
        self.record(f"FTPS STOR {self.xfer_size >> 20} MiB (MB/s)", target, kv["mbps"])

    def retr_mid(self, target):
        kv = self.run_client(target, "retrmany", "/mid", RETR_MID_COUNT, 1)
        if int(kv["bytes"]) != RETR_MID_COUNT << 20:
            raise Failure(f"{target}: RETR 1 MiB gave {kv['bytes']} bytes")
        self.record(f"RETR 1 MiB x{RETR_MID_COUNT}, one session (MB/s)", target,
                    kv["bytes"] / kv["seconds"] / 1e6)

    def retr_small(self, target):
        kv = self.run_client(target, "retrmany", "/small", RETR_SMALL_COUNT, SMALL_FILES)
        if int(kv["bytes"]) != RETR_SMALL_COUNT * 1024:
            raise Failure(f"{target}: RETR 1 KiB gave {kv['bytes']} bytes")
        self.record(f"RETR 1 KiB x{RETR_SMALL_COUNT}, one session (files/s)", target, kv["rate"])

    def row_listing(self, command):
        if command == "MLSD":
            return f"MLSD {LIST_ENTRIES} entries (s), keepftpd only"
        return f"{command} {LIST_ENTRIES} entries (s)"

    def listings(self, target):
        # LIST and NLST on both; MLSD on keepftpd only (vsftpd 3.0.3 has no MLSD). Every other
        # round runs them in the opposite order, so that no command always comes first.
        commands = ("LIST", "NLST") + (("MLSD",) if target == "keepftpd" else ())
        turn = self.listing_turns.get(target, 0)
        self.listing_turns[target] = turn + 1
        for command in commands[::-1] if turn % 2 else commands:
            kv = self.run_client(target, "list", "/many", command)
            if int(kv["lines"]) < LIST_ENTRIES:
                raise Failure(f"{target}: {command} gave {int(kv['lines'])} of {LIST_ENTRIES} "
                              f"lines")
            self.record(self.row_listing(command), target, kv["seconds"])

    def descendants(self, root):
        children = {}
        for pid, fields in proc_stats():
            children.setdefault(int(fields[1]), []).append(pid)
        out, todo = [], [root]
        while todo:
            for c in children.get(todo.pop(), []):
                out.append(c)
                todo.append(c)
        return out

    def pss(self, srv):
        # Sum of Pss over every process under the server's activator (not the activator).
        pss_kib, procs = 0, 0
        for pid in self.descendants(srv.proc.pid):
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for l in f:
                        if l.startswith("Pss:"):
                            pss_kib += int(l.split()[1])
                            procs += 1
                            break
            except OSError:
                pass
        return pss_kib, procs

    def check_room(self, target):
        # The many-sessions row needs that many more processes (keepftpd: three per session):
        # pid_max and threads-max must leave room for them besides what already runs, and so
        # must the pids limit of this process's cgroup (and its parents'), if there is one. Every
        # connection of the row needs a local port of its own, and the client one descriptor.
        n = MANY_SESSIONS
        processes = MANY_PROCESSES[target] * n
        with open("/proc/loadavg") as f:
            tasks = int(f.read().split()[3].split("/")[1])
        limits = []
        for knob_path in ("/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"):
            with open(knob_path) as f:
                limits.append((knob_path, int(f.read()), tasks))
        limits += self.cgroup_pid_limits()
        for what, limit, used in limits:
            if limit - used < processes + 1000:
                raise Failure(f"{what} is {limit} and {used} tasks run already: no room for the "
                              f"{processes} processes of {n} {target} sessions (raise it, or "
                              f"lower MANY_SESSIONS)")
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
        if high - low + 1 < n + 1000:
            raise Failure(f"net.ipv4.ip_local_port_range is {low}-{high}: too few local ports "
                          f"for {n} connections at once (widen it, or lower MANY_SESSIONS)")
        with open("/proc/sys/fs/nr_open") as f:
            if int(f.read()) < n + 64:
                raise Failure(f"fs.nr_open is below {n + 64}: the client cannot hold {n} "
                              f"connections (raise it, or lower MANY_SESSIONS)")
        # Memory: the row must not push the machine into the OOM killer, which would pick its
        # victims among everything that runs here.
        with open("/proc/meminfo") as f:
            available = next(int(l.split()[1]) for l in f if l.startswith("MemAvailable:"))
        for limit, usage in self.cgroup_memory_limits():
            available = min(available, max(0, limit - usage) // 1024)
        need = MANY_KIB[target] * n + (1 << 20)
        if available < need:
            return (f"not run: {need >> 20} MiB of memory needed for {n} {target} sessions "
                    f"(about {MANY_KIB[target]} KiB each, and 1 GiB to spare), "
                    f"{available >> 20} MiB available")
        return None

    @staticmethod
    def cgroup_limits(controller, v2_files, v1_files):
        # [(limit file, limit, current)] of this process's cgroup and its ancestors where a limit
        # is set, for one controller: cgroup v2's files, or v1's in that controller's hierarchy.
        out = []
        try:
            with open("/proc/self/cgroup") as f:
                lines = f.read().splitlines()
        except OSError:
            return out
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                base, files = "/sys/fs/cgroup", v2_files
            elif controller in controllers.split(","):
                base, files = f"/sys/fs/cgroup/{controller}", v1_files
            else:
                continue
            while True:
                d = base + path.rstrip("/")
                try:
                    with open(os.path.join(d, files[0])) as f:
                        limit = f.read().strip()
                    with open(os.path.join(d, files[1])) as f:
                        current = int(f.read())
                    if limit != "max" and int(limit) < 1 << 60:  # (v1 writes "no limit" so)
                        out.append((os.path.join(d, files[0]), int(limit), current))
                except OSError:
                    pass
                if path in ("", "/"):
                    break
                path = os.path.dirname(path.rstrip("/"))
        return out

    @classmethod
    def cgroup_pid_limits(cls):
        # [(pids.max path, limit, pids.current)]
        return cls.cgroup_limits("pids", ("pids.max", "pids.current"),
                                 ("pids.max", "pids.current"))

    @classmethod
    def cgroup_memory_limits(cls):
        # [(limit, usage)] in bytes of the memory cgroups: the sessions' processes are charged
        # to the run's cgroup.
        return [(limit, usage) for _, limit, usage in cls.cgroup_limits(
            "memory", ("memory.max", "memory.current"),
            ("memory.limit_in_bytes", "memory.usage_in_bytes"))]

    @staticmethod
    def namespaces_alive():
        # Network namespaces the kernel still holds (/proc/slabinfo's net_namespace cache),
        # those being torn down after their last process exited included; None if unknown.
        try:
            with open("/proc/slabinfo") as f:
                for line in f:
                    if line.startswith("net_namespace "):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def wait_idle(self, srv, timeout):
        # Until every session process under the activator has exited (untimed for the rows),
        # so that one server's teardown does not overlap the next server's logins. Returns the
        # seconds it took and the processes left at the timeout, which are then killed.
        t0 = time.time()
        while time.time() - t0 < timeout:
            left = self.descendants(srv.proc.pid)
            if not left:
                return time.time() - t0, 0
            time.sleep(0.2)
        left = self.descendants(srv.proc.pid)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return time.time() - t0, len(left)

    def wait_namespaces(self, baseline, timeout=900):
        # Until the kernel has torn down the network namespaces of the sessions that ended (it
        # does so in its own workers, after the processes exit), so that the next server's
        # logins, which make namespaces too, do not wait behind that work: until the count is
        # back near where it was, or has not fallen for 10 s (namespaces of other work on the
        # machine, which the run must not wait for; and the slab's count of objects in use
        # includes freed ones that sit in per-CPU slabs until the cache is next used).
        t0 = last_fall = time.time()
        lowest = self.namespaces_alive()
        while time.time() - t0 < timeout:
            alive = self.namespaces_alive()
            if alive is None or alive <= baseline + 20 or time.time() - last_fall > 10:
                break
            if alive < lowest:
                lowest, last_fall = alive, time.time()
            time.sleep(0.5)
        return time.time() - t0

    def hold(self, target, mode, n, *args, timeout=60, env=None):
        # The client logs n sessions in and prints "ready ..."; the run then sums their PSS,
        # closes the client's stdin, and the client QUITs them all. Returns the ready line's
        # values (and its " why: " text, if a session failed, under "why"), the PSS (KiB), the
        # process count, the seconds the PSS took to read, and the client's "done" line.
        srv = self.servers[target]
        cmd = [self.client, mode, "127.0.0.1", str(srv.port), str(n)] + [str(a) for a in args]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, **(env or {})))
        try:
            line = p.stdout.readline()
            if not line.startswith("ready"):
                p.stdin.close()
                p.wait(timeout)
                raise Failure(f"{target} failed to hold {n} sessions: "
                              f"{p.stderr.read().strip()}\nserver output: {srv.output()}")
            time.sleep(0.5)  # let every connection settle into its logged-in shape
            t0 = time.time()
            pss_kib, procs = self.pss(srv)
            pss_seconds = time.time() - t0
        finally:
            if p.stdin and not p.stdin.closed:
                p.stdin.close()
        if p.wait(timeout) != 0:
            raise Failure(f"{target}: idle sessions ended badly: {p.stderr.read().strip()}")
        line, _, why = line.partition(" why: ")
        kv = parse_kv(line)
        if why:
            kv["why"] = why.strip()
        return kv, pss_kib, procs, pss_seconds, parse_kv(p.stdout.read())

    def many(self, target):
        n = MANY_SESSIONS
        srv = self.servers[target]
        no_room = self.check_room(target)
        if no_room:
            # Recorded, not fatal, for vsftpd and the shape, as a failure to hold them would be.
            self.notes.append(f"many sessions, {target}: {no_room}")
            if target == "keepftpd":
                self.late_failures.append(f"keepftpd: {no_room}")
            return
        namespaces = self.namespaces_alive()
        kv, pss_kib, procs, pss_seconds, done = self.hold(
            target, "many", n, MANY_PARALLEL, timeout=max(600, 3 * MANY_IO_TIMEOUT),
            env={"BENCH_IO_TIMEOUT": str(MANY_IO_TIMEOUT)})
        held = int(kv["sessions"])
        exit_seconds, left = self.wait_idle(srv, timeout=max(120, n / 20))
        teardown = self.wait_namespaces(namespaces) if namespaces is not None else 0
        say(f"bench: many sessions, {target}: {held} of {n} held, PSS of {procs} processes "
            f"read in {pss_seconds:.1f} s, the client's peak RSS "
            f"{kv.get('client_maxrss_kib', 0) / 1024:.0f} MiB, all exited {exit_seconds:.1f} s "
            f"after the QUITs ({left} left and killed), kernel's namespace teardown "
            f"{teardown:.1f} s more")
        if held < n or "why" in kv:
            why = kv.get("why", "(no error given)")
            if srv.proc.poll() is not None:
                why += f"; systemd-socket-activate exited: {srv.output()[-300:]}"
            self.notes.append(f"many sessions, {target}: {held} of {n} logged in, "
                              f"{int(kv['noop_ok'])} answered NOOP; the first failure: {why}")
            if target == "keepftpd":
                self.late_failures.append(f"keepftpd held {held} of {n} sessions: {why}")
        if int(done.get("quit_ok", 0)) < held and target == "keepftpd":
            self.late_failures.append(f"keepftpd answered QUIT on {int(done.get('quit_ok', 0))} "
                                      f"of its {held} held sessions")
        if left and target == "keepftpd":
            self.late_failures.append(f"{left} keepftpd processes were left {exit_seconds:.0f} s "
                                      f"after the {n} sessions' QUIT")
        self.record(f"many sessions: of {n}, logged in and held", target, held)
        self.record(f"many sessions: time to log {n} in, {MANY_PARALLEL} at a time (s)", target,
                    kv["login_seconds"])
        self.record(f"many sessions: of {n} held, answering NOOP", target, kv["noop_ok"])
        self.record(f"many sessions: NOOP on all {n}, replies read (s)", target,
                    kv["noop_seconds"])
        self.record(f"many sessions: of {n}, QUIT answered with 221 and closed", target,
                    done.get("quit_ok", 0))
        self.record(f"many sessions: processes left after all QUIT", target, left)
        if target == "shape-libs":
            return  # a floor for the time to log them in; its memory is not keepftpd's
        per = max(held, 1)
        self.record(f"many sessions: total PSS of {n} (MiB)", target, pss_kib / 1024)
        self.record(f"many sessions: PSS per session (KiB)", target, pss_kib / per)
        self.record(f"many sessions: processes per session", target, procs / per)

    def memory(self, target):
        _, pss_kib, procs, _, _ = self.hold(target, "hold", HOLD_SESSIONS)
        self.record(f"memory: PSS per idle logged-in session (MiB)", target,
                    pss_kib / 1024 / HOLD_SESSIONS)
        self.record(f"memory: processes per idle session", target, procs / HOLD_SESSIONS)

    def run(self):
        ab = ["keepftpd", "vsftpd"]
        plan = [
            ("sequential sessions", ab + ["trivial", "shape", "shape-libs"], lambda t: self.sessions(t, SEQ_SESSIONS, 1, "sequential")),
            ("8 parallel clients", ab + ["trivial", "shape", "shape-libs"], lambda t: self.sessions(t, PAR_SESSIONS, 8, "8 parallel")),
            ("32 parallel clients", ab + ["trivial", "shape", "shape-libs"], lambda t: self.sessions(t, PAR_SESSIONS, 32, "32 parallel")),
            ("sequential local-user sessions (PAM)", ab,
             lambda t: self.sessions(t, SEQ_SESSIONS, 1, "sequential, local user (PAM)",
                                     "-local", "login")),
            ("RETR big file", ab + ["sendfile"], self.retr_big),
            ("RETR big file, ASCII mode", ab + ["ascii-pair"], self.retr_big_ascii),
            ("RETR 1 MiB files", ab, self.retr_mid),
            ("RETR 1 KiB files", ab, self.retr_small),
            ("STOR big file", ab + ["keepftpd-inplace", "fsync", "durable", "cached"],
             self.stor_big),
            ("LIST, NLST and MLSD", ab, self.listings),
            ("idle sessions memory", ab, self.memory),
            ("sequential sessions, TLS configured but not used", ab,
             lambda t: self.sessions(t, SEQ_SESSIONS, 1, "sequential, TLS configured but not used",
                                     "-ssl")),
            ("sequential sessions over TLS", ab + ["tls-floor", "shape-tls"],
             lambda t: self.sessions(t, SEQ_SESSIONS, 1, "sequential over TLS", "-ftps", "tls")),
            ("FTPS RETR big file", ab + ["aesgcm"], self.ftps_retr_big),
            ("FTPS STOR big file", ab, self.ftps_stor_big),
            # Last: the kernel tears down thousands of sessions' network namespaces in its own
            # workers after the processes have exited, which must not slow any other row.
            (f"{MANY_SESSIONS} sessions held at once", ab + ["shape-libs"], self.many, MANY_ROUNDS),
        ]
        only = os.environ.get("ONLY", "")
        for title, targets, fn, *rounds in plan:
            if only and only.lower() not in title.lower():
                continue
            rounds = rounds[0] if rounds else ROUNDS
            t0 = time.time()
            for r in range(rounds):
                # Each round starts one target further on, so that no target always runs first
                # (after the row before, whose work may still be settling) or always after the
                # same one.
                for target in targets[r % len(targets):] + targets[:r % len(targets)]:
                    fn(target)
            say(f"bench: {title}: {rounds} round{'s' * (rounds != 1)} in "
                f"{time.time() - t0:.1f} s")

    # ---- report ------------------------------------------------------------------------

    def stats(self, row, target):
        v = self.results.get((row, target))
        if not v:
            return None
        return statistics.median(v), min(v), max(v)

    def report(self):
        rows = []
        for (row, target) in self.results:
            if row not in rows:
                rows.append(row)

        def fmt(x):
            if x >= 1000 or (x >= 100 and x == int(x)):
                return f"{x:.0f}"
            if x >= 100:
                return f"{x:.1f}"
            if x >= 1:
                return f"{x:.2f}"
            return f"{x:.3g}"

        def cell(s):
            return "-" if s is None else f"{fmt(s[0])} ({fmt(s[1])}–{fmt(s[2])})"

        table = [("workload", "keepftpd median (min–max)", "vsftpd median (min–max)", "ratio k/v")]
        for row in rows:
            k, v = self.stats(row, "keepftpd"), self.stats(row, "vsftpd")
            if k is None and v is None:
                continue
            ratio = f"{k[0] / v[0]:.2f}" if k and v and v[0] else "-"
            table.append((row, cell(k), cell(v), ratio))
        limits = [("physical limit (same run)", "median (min–max)")]
        for row in rows:
            for target, what in (("trivial", "trivial 220-and-exit server"),
                                 ("shape", "keepftpd's process shape, static (shape_floor)"),
                                 ("shape-libs", "the same with keepftpd's shared libraries"),
                                 ("tls-floor", "one-process TLS server (tls_floor)"),
                                 ("shape-tls", "keepftpd's process shape over TLS, with its "
                                               "libraries (shape_floor_tls)"),
                                 ("sendfile", "raw sendfile pair"),
                                 ("ascii-pair", "read, converted and sent over loopback "
                                                "(sendfile_pair ascii)"),
                                 ("aesgcm", "openssl speed -evp aes-256-gcm, 16 KiB, one core"),
                                 ("fsync", "write() and fsync() of the same bytes, no network"),
                                 ("durable", "received over loopback, written and made durable "
                                             "as keepftpd does"),
                                 ("cached", "received over loopback and written, no fsync")):
                s = self.stats(row, target)
                if s:
                    limits.append((f"{row}, {what}", cell(s)))

        # Ratios within one server: the goals that compare a server with itself. Rows
        # measured close together in each round (a listing's LIST and MLSD, the two STORs)
        # give a ratio per round, and the median of those is shown: a machine that slows down
        # for a while then slows both sides of a ratio, where it would move one row's median
        # alone. Rows measured in loops of their own are compared by their medians.
        def own_ratio(num, den, target, per_round):
            a, b = self.results.get((num, target)), self.results.get((den, target))
            if not a or not b:
                return None
            if per_round and len(a) == len(b) and all(b):
                return statistics.median(x / y for x, y in zip(a, b))
            return statistics.median(a) / statistics.median(b) if statistics.median(b) else None

        own = [("same-server ratio", "keepftpd", "vsftpd")]
        for label, num, den, targets, per_round in (
                ("ASCII RETR / binary RETR, MB/s, medians (goal >= 0.5)", self.row_retr_ascii(),
                 self.row_retr(), ("keepftpd", "vsftpd"), False),
                ("MLSD time / LIST time, median of the rounds' (goal <= 1)",
                 self.row_listing("MLSD"), self.row_listing("LIST"), ("keepftpd",), True),
                ("STOR atomic_uploads=YES / NO, MB/s, median of the rounds'", self.row_stor(),
                 self.row_stor_inplace(), ("keepftpd",), True)):
            cells = []
            for target in ("keepftpd", "vsftpd"):
                r = own_ratio(num, den, target, per_round) if target in targets else None
                cells.append("-" if r is None else f"{r:.2f}")
            if cells != ["-", "-"]:
                own.append((label, *cells))

        def show(t):
            widths = [max(len(r[i]) for r in t) for i in range(len(t[0]))]
            for i, r in enumerate(t):
                print(" | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
                if i == 0:
                    print("-+-".join("-" * w for w in widths))

        load = open("/proc/loadavg").read().split()[:3]
        print(f"keepftpd vs vsftpd {self.vsftpd_version}, {ROUNDS} rounds each "
              f"({MANY_ROUNDS} of the many sessions), interleaved"
              f"{' (QUICK)' if QUICK else ''}; {os.cpu_count()} CPUs, kernel {platform.release()}, "
              f"load average {' '.join(self.load0)} -> {' '.join(load)}")
        print(f"sessions: {SEQ_SESSIONS} per round sequential, {PAR_SESSIONS} per round in parallel; "
              f"memory: {HOLD_SESSIONS} idle sessions; many sessions: {MANY_SESSIONS} held at once; "
              f"ratio = keepftpd median / vsftpd median")
        print()
        show(table)
        if len(own) > 1:
            print()
            show(own)
        if len(limits) > 1:
            print()
            show(limits)
        if self.notes:
            print()
            for note in self.notes:
                print(note)

    def main(self):
        self.load0 = open("/proc/loadavg").read().split()[:3]
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "vsftpd"],
                           capture_output=True, text=True)
        self.vsftpd_version = r.stdout.strip() or "(unknown version)"
        try:
            say(f"bench: making the tree in {self.tmp}")
            self.make_tree()
            self.write_configs()
            self.start()
            self.run()
        finally:
            self.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.report()
        if self.late_failures:
            raise Failure("; ".join(self.late_failures))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keepftpd", required=True)
    ap.add_argument("--vsftpd", required=True)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--big", required=True)
    ap.add_argument("--xfer", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    opts = ap.parse_args()
    try:
        Bench(opts).main()
    except Failure as e:
        say(f"bench: FAILED: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
