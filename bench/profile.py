"""Profiles for bench/README.md ("Where the time goes"), run by bench/profile.sh: one anonymous
session (connect, 220, USER anonymous, PASS, PWD, QUIT), plain and over TLS, against keepftpd
and vsftpd configured exactly as bench/bench.py configures them, each started by
systemd-socket-activate --inetd -a on loopback with a measuring tool in front of it:

  processes and syscalls  strace -f (one file, pid-prefixed lines; the process tree comes from
                          the clone/fork results)
  instructions            valgrind --tool=callgrind --trace-children=yes, one output file per
                          process, summarised by object (ld.so, libc, libcrypto...) and by
                          named phases (inclusive costs of chosen functions)
  page faults, CPU time   perf stat (software counters; this machine has no PMU), over many
                          sessions
  memory                  /proc/PID/smaps_rollup and smaps of every process of idle
                          logged-in sessions, by mapping
  CPU by kind of work     perf record -a -g -e cpu-clock over many sessions, each sample put
                          in a category (ld.so, page faults, fork, namespaces, ...)
  CPU by process          the same sampling, each sample given to the process of the session
                          it ran in (the monitor, the pre-login jail, ...), by its place in
                          the process tree
  CPU per login, held     the same sampling while thousands of sessions are logged in and
                          held (bench.py's many-sessions row), by quarter of the number held;
                          the kernel's memory counters per held session
  ld.so                   LD_DEBUG=statistics/bindings; empty programs linked with subsets of
                          keepftpd's libraries
  namespaces              prof_nsloop.c: clone with each set of namespace flags

Runs as root inside profile.sh's private mount namespace (accounts ftp and kftp-nopriv).
Writes its raw outputs into --out and prints a report (markdown) on stdout.

Under valgrind (bench/prof_nochroot.c is preloaded, for both servers) chroot() and the jails'
setrlimit(RLIMIT_NOFILE/RLIMIT_AS) do nothing, so that valgrind can run in a jail and write its
profile when the jail exits; and since valgrind 3.19 cannot run under a seccomp filter,
prctl(PR_SET_SECCOMP) does nothing. keepftpd's filters (compiled into it at build time) are
therefore copied and patched (and counted) but not loaded under valgrind; perf record shows the
kernel's part.
"""

import argparse
import collections
import os
import pwd
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("LIST_ENTRIES", "10")
import bench  # noqa: E402  (the served tree and the configurations, as the benchmark makes them)


def say(*a):
    print(*a, file=sys.stderr, flush=True)


class Opts:
    pass


class Profiler:
    def __init__(self, a):
        self.a = a
        self.out = a.out
        os.makedirs(self.out, exist_ok=True)
        os.chmod(self.out, 0o1777)
        o = Opts()
        o.keepftpd, o.vsftpd, o.tools, o.big, o.work = (a.keepftpd, a.vsftpd, a.tools, a.big,
                                                         a.work)
        o.cert, o.key = a.cert, a.key
        o.xfer = a.big  # bench.py's file for STOR and FTPS RETR: the same small file here
        self.b = bench.Bench(o)
        self.b.make_tree()
        self.b.write_configs()
        self.confs = dict(self.b.confs)
        # keepftpd for valgrind: filters built and loaded, violations logged (see the top).
        self.confs["keepftpd-noseccomp"] = self.variant("keepftpd", "keepftpd-noseccomp",
                                                        "seccomp_sandbox=NO\n")
        self.confs["keepftpd-noisolate"] = self.variant(
            "keepftpd", "keepftpd-noisolate", "isolate=NO\nisolate_network=NO\n")
        self.report = []

    def variant(self, base, name, extra):
        with open(self.confs[base]) as f:
            text = f.read()
        path = os.path.join(self.a.work, name + ".conf")
        with open(path, "w") as f:
            f.write(text + extra)
        os.chmod(path, 0o644)
        subprocess.run([self.a.keepftpd, "--check-config", "--config", path], check=True,
                       stdout=subprocess.DEVNULL)
        return path

    def server_argv(self, name):
        if name == "tls-floor":  # bench/tls_floor.cc: a session over TLS in one process
            return [os.path.join(self.a.tools, "tls_floor"), self.a.cert, self.a.key]
        if name in ("shape-libs", "shape-tls"):
            # bench/shape_floor.cc with keepftpd's libraries; bench/shape_floor_tls.cc, the same
            # shape over TLS
            empty = os.path.join(self.a.work, "empty-shape")
            os.makedirs(empty, exist_ok=True)
            ftp = pwd.getpwnam("ftp")
            argv = [os.path.join(self.a.tools, "shape_floor_libs" if name == "shape-libs"
                                 else "shape_floor_tls"),
                    empty, self.b.anon, str(ftp.pw_uid), str(ftp.pw_gid)]
            return argv + ([self.a.cert, self.a.key] if name == "shape-tls" else [])
        conf = self.confs[name]
        if name.startswith("keepftpd"):
            return [self.a.keepftpd, "--config", conf]
        return [self.a.vsftpd, conf]

    def emit(self, *lines):
        for line in lines:
            self.report.append(line)
            print(line, flush=True)

    # ---- running one server under a tool ------------------------------------------------

    def activate(self, tag, argv, env=None):
        """Starts argv under systemd-socket-activate on a free loopback port, its output into
        tag.server.log; returns the activator, the port and the open log file."""
        port = bench.free_port()
        log = open(os.path.join(self.out, tag + ".server.log"), "wb")
        proc = subprocess.Popen(["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "--inetd",
                                 "-a"] + argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env)
        return proc, port, log

    def serve(self, tag, argv, mode="ftp", sessions=1, env=None, settle=None):
        """Starts argv under systemd-socket-activate, runs `sessions` sessions, waits until every
        process of them has ended, stops the activator."""
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        proc, port, log = self.activate(tag, argv, full_env)
        self.last_activator = proc.pid
        try:
            deadline = time.time() + 10
            while not bench.listening(port):
                if time.time() > deadline or proc.poll() is not None:
                    raise bench.Failure(f"{tag}: the activator did not start")
                time.sleep(0.02)
            r = subprocess.run([self.b.client, "sessions", "127.0.0.1", str(port), str(sessions),
                                "1", mode], capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                raise bench.Failure(f"{tag}: client failed: {r.stderr}")
            # The processes of the session may still be ending (valgrind writes its profile then).
            deadline = time.time() + 120
            while self.b.descendants(proc.pid) and time.time() < deadline:
                time.sleep(0.05)
            if settle:
                settle()
            return bench.parse_kv(r.stdout)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            proc.wait()
            log.close()

    # ---- strace: processes and syscalls ------------------------------------------------

    LINE = re.compile(r"^(\d+)\s+(.*)$")
    CALL = re.compile(r"^([a-z_0-9]+)\(")
    RESUMED = re.compile(r"^<\.\.\. ([a-z_0-9]+) resumed>")
    RESULT = re.compile(r"= (-?\d+|\?)(?: [A-Z]+.*)?$")

    def strace(self, name, mode="ftp"):
        tag = f"strace-{name}-{mode}"
        path = os.path.join(self.out, tag + ".txt")
        self.serve(tag, ["strace", "-f", "-q", "-o", path] + self.server_argv(name), mode)
        procs = collections.OrderedDict()  # pid -> info

        def proc(pid):
            if pid not in procs:
                procs[pid] = {"calls": collections.Counter(), "parent": None, "clone": "",
                              "chroot": "", "exec": []}
            return procs[pid]

        with open(path) as f:
            for raw in f:
                m = self.LINE.match(raw.rstrip("\n"))
                if not m:
                    continue
                pid, rest = int(m.group(1)), m.group(2)
                p = proc(pid)
                if rest.startswith("+++") or rest.startswith("---"):
                    continue
                r = self.RESUMED.match(rest)
                if r:
                    syscall = r.group(1)
                else:
                    c = self.CALL.match(rest)
                    if not c:
                        continue
                    syscall = c.group(1)
                    p["calls"][syscall] += 1
                    if syscall == "chdir":
                        p["cwd"] = rest.split('"')[1]
                    if syscall == "chroot":
                        target = rest.split('"')[1]
                        p["chroot"] = p.get("cwd", "") if target == "." else target
                    if syscall == "execve":
                        p["exec"].append(rest.split('"')[1])
                    if syscall in ("clone", "clone3"):
                        flags = re.search(r"flags=([A-Z_|]+)", rest)
                        p["last_clone"] = flags.group(1) if flags else ""
                if syscall in ("clone", "clone3", "fork", "vfork") and not rest.endswith(
                        "<unfinished ...>"):
                    res = self.RESULT.search(rest)
                    if res and res.group(1) not in ("?",) and int(res.group(1)) > 0:
                        child = proc(int(res.group(1)))
                        child["parent"] = pid
                        if r is None:
                            flags = re.search(r"flags=([A-Z_|]+)", rest)
                            child["clone"] = flags.group(1) if flags else ""
                        else:
                            child["clone"] = p.get("last_clone", "")
        return procs

    def role(self, server, pid, procs):
        p = procs[pid]
        kids = [c for c, q in procs.items() if q["parent"] == pid]
        if p["parent"] is None or p["parent"] not in procs:
            return "entry" if server == "keepftpd" else "vsftpd (privileged parent)"
        empty = "/empty-" in p["chroot"]
        if server == "keepftpd":
            if "CLONE_NEW" in p["clone"]:
                return "pre-login jail (new namespaces)"
            if kids:  # (chrooted into the empty directory too, since it has its own filter)
                return "session monitor"
            if empty:
                return "TLS jail" if procs[p["parent"]]["parent"] is None else "pre-login jail"
            if p["chroot"]:
                return "session jail"
            return "child"
        if empty:
            return "pre-login child"
        if p["chroot"]:
            return "session child"
        return "child"

    def report_strace(self, title, runs):
        self.emit(f"#### {title}", "")
        self.emit("| server | process (parent) | syscalls | top syscalls |",
                  "| --- | --- | ---: | --- |")
        totals = {}
        for server, procs in runs:
            total = 0
            for pid, p in procs.items():
                n = sum(p["calls"].values())
                total += n
                top = ", ".join(f"{k} {v}" for k, v in p["calls"].most_common(6))
                parent = f" (of {p['parent']})" if p["parent"] in procs else ""
                self.emit(f"| {server} | {pid} {self.role(server, pid, procs)}{parent} | {n} | "
                          f"{top} |")
            totals[server] = (len(procs), total, sum(
                (p["calls"]["execve"] for p in procs.values())))
        self.emit("")
        for server, (n, total, execs) in totals.items():
            self.emit(f"- {server}: {n} processes, {execs} execve, {total} syscalls in total")
        self.emit("")
        return totals

    def step_strace(self):
        self.emit("### Processes and syscalls of one session (strace -f)", "")
        for mode, k, v in (("ftp", "keepftpd", "vsftpd"), ("tls", "keepftpd-ftps", "vsftpd-ftps")):
            runs = [("keepftpd", self.strace(k, mode)), ("vsftpd", self.strace(v, mode))]
            self.report_strace(f"{'plain' if mode == 'ftp' else 'over TLS'} ({k}, {v})", runs)

    # ---- callgrind: instructions -------------------------------------------------------

    def callgrind(self, name, mode="ftp"):
        """One session under callgrind; returns {pid: path of its callgrind.out}."""
        tag = f"callgrind-{name}-{mode}"
        d = os.path.join(self.out, tag)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        os.chmod(d, 0o1777)
        argv = ["env", "LD_PRELOAD=" + self.a.nochroot, "valgrind", "--tool=callgrind",
                "--trace-children=yes", "--vgdb=no",
                # A profile is written (and the counts zeroed) before every fork and raw
                # syscall(), so that a child's profile starts at zero instead of with its
                # parent's counts; a process's cost is the sum of its parts.
                "--dump-before=*fork", "--dump-before=syscall", "--dump-before=_Exit",
                f"--callgrind-out-file={d}/callgrind.out.%p",
                f"--log-file={d}/valgrind.%p.log"] + self.server_argv(name)
        self.serve(tag, argv, mode)
        outs = {}
        for f in sorted(os.listdir(d)):
            if f.startswith("callgrind.out."):
                outs[f] = os.path.join(d, f)
        return outs

    @staticmethod
    def parse_callgrind(paths):
        """Sums callgrind output files (the parts of one process): total, self cost per
        (object, function) and inclusive cost per function (self plus the cost of its calls
        to other functions)."""
        total = 0
        self_cost = collections.Counter()   # (object, function) -> Ir
        incl = collections.Counter()        # function -> Ir
        for path in paths:
            names = {}

            def name(kind, value):
                m = re.match(r"^\((\d+)\)(?: (.*))?$", value)
                if not m:
                    return value
                key = (kind, m.group(1))
                if m.group(2) is not None:
                    names[key] = m.group(2)
                return names.get(key, value)

            ob = fn = cob = cfn = ""
            pending_call = False
            with open(path, errors="replace") as f:
                for line in f:
                    line = line.rstrip("\n")
                    if not line:
                        continue
                    c = line[0]
                    if c.isdigit() or c in "+-*":
                        parts = line.split()
                        cost = int(parts[1]) if len(parts) > 1 else 0
                        if pending_call:
                            if cfn != fn:
                                incl[fn] += cost
                            pending_call = False
                        else:
                            self_cost[(ob, fn)] += cost
                            incl[fn] += cost
                        continue
                    if line.startswith("ob="):
                        ob = name("ob", line[3:])
                    elif line.startswith("fn="):
                        fn = name("fn", line[3:])
                    elif line.startswith("cob="):
                        cob = name("ob", line[4:])
                    elif line.startswith("cfn="):
                        cfn = name("fn", line[4:])
                    elif line.startswith("calls="):
                        pending_call = True
                    elif line.startswith("totals:") or line.startswith("summary:"):
                        if line.startswith("totals:"):
                            total += int(line.split()[1])
        return total, self_cost, incl


    # Named phases: inclusive costs of these functions, where they occur. "max" where the
    # functions nest (the outermost one counts), "sum" where they run one after the other.
    PHASES = [
        ("ld.so: load and relocate (_dl_start)", ["_dl_start"], "sum"),
        ("ld.so: lazy binding (_dl_fixup)", ["_dl_fixup"], "sum"),
        ("library constructors (_dl_init)", ["_dl_init"], "sum"),
        ("config file (LoadConfigFile)", ["keepftpd::LoadConfigFile("], "sum"),
        ("account look-ups (getpwnam)", ["getpwnam"], "sum"),
        ("jail entry (EnterJail)", ["keepftpd::EnterJail("], "sum"),
        ("seccomp filters: copied, patched (InstallSandbox, InstallMonitorSandbox)",
         ["keepftpd::InstallSandbox(", "keepftpd::InstallMonitorSandbox("], "sum"),
        ("libcap-ng (capng_change_id)", ["capng_change_id"], "sum"),
        ("monitor capabilities (TrimCapabilities)", ["keepftpd::TrimCapabilities(",
                                                     "keepftpd::(anonymous namespace)::"
                                                     "TrimCapabilities("], "sum"),
        ("OpenSSL digests for HASH (PrepareHashes)", ["keepftpd::PrepareHashes("], "sum"),
        ("OpenSSL init (OPENSSL_init_ssl/_crypto)", ["OPENSSL_init_crypto", "OPENSSL_init_ssl"],
         "max"),
        ("TLS context (SSL_CTX_new: cipher and digest fetches)", ["SSL_CTX_new"], "max"),
        ("TLS context: certificate + key (SSL_CTX_use_*)",
         ["SSL_CTX_use_certificate_chain_file", "SSL_CTX_use_PrivateKey_file",
          "SSL_CTX_use_certificate_file", "SSL_CTX_check_private_key"], "sum"),
        ("TLS handshake (SSL_do_handshake)", ["SSL_do_handshake"], "sum"),
        ("RSA 2048 signature (RSA_private_encrypt)", ["RSA_private_encrypt"], "sum"),
        ("  of it RSA blinding set-up (RSA_setup_blinding)", ["RSA_setup_blinding"], "sum"),
        ("ECDHE key pair + shared secret (EVP_PKEY_keygen, _derive)",
         ["EVP_PKEY_keygen", "EVP_PKEY_derive"], "sum"),
        ("PAM (pam_start)", ["pam_start"], "sum"),
        ("journal (sd_journal_sendv)", ["sd_journal_sendv"], "sum"),
    ]

    def phases(self, incl):
        out = []
        for label, names, how in self.PHASES:
            costs = []
            for fn, c in incl.items():
                if any(fn == n or fn.startswith(n + "@") or (n.endswith("(") and fn.startswith(n))
                       for n in names):
                    costs.append(c)
            cost = (max(costs) if how == "max" else sum(costs)) if costs else 0
            if cost:
                out.append((label, cost))
        return out

    def step_callgrind(self):
        self.emit("### Instructions per process of one session (callgrind)", "")
        results = {}
        for server, mode, name in (("keepftpd", "ftp", "keepftpd"), ("vsftpd", "ftp", "vsftpd"),
                                   ("keepftpd", "ftp", "keepftpd-ssl"),
                                   ("vsftpd", "ftp", "vsftpd-ssl"),
                                   ("keepftpd", "tls", "keepftpd-ftps"),
                                   ("vsftpd", "tls", "vsftpd-ftps")):
            outs = self.callgrind(name, mode)
            bypid = collections.OrderedDict()
            for f, path in sorted(outs.items(), key=lambda kv: os.path.getmtime(kv[1])):
                pid = f.split(".")[2]
                if os.path.getsize(path):
                    bypid.setdefault(pid, []).append(path)
            # Roles: the strace run of the same configuration names the processes in the order
            # they were created; under callgrind the order is the same.
            rows = []
            for pid, paths in bypid.items():
                total, self_cost, incl = self.parse_callgrind(paths)
                objs = collections.Counter()
                for (ob, fn), c in self_cost.items():
                    objs[os.path.basename(ob) or "?"] += c
                rows.append((pid, total, objs, self.phases(incl), incl))
            results[(server, mode)] = rows
            title = f"{name}, {'plain session' if mode == 'ftp' else 'session over TLS'}"
            self.emit(f"#### {title}", "")
            self.emit("| process | Ir | by object (self) | phases (inclusive) |",
                      "| --- | ---: | --- | --- |")
            grand = 0
            for pid, total, objs, ph, incl in rows:
                grand += total
                role = self.cg_role(server, pid, rows, incl)
                top = ", ".join(f"{o} {c / 1e6:.2f}M" for o, c in objs.most_common(5))
                phs = "; ".join(f"{l.strip()} {c / 1e6:.3f}M" for l, c in ph)
                self.emit(f"| {role} | {total / 1e6:.2f}M | {top} | {phs} |")
            self.emit("", f"- {title}: {len(rows)} processes, {grand / 1e6:.2f}M instructions "
                      f"in total", "")
        self.callgrind_results = results

    @staticmethod
    def cg_role(server, pid, rows, incl):
        names = " ".join(incl.keys())
        if server == "keepftpd":
            if "_dl_start" in incl:
                return f"{pid} entry and monitor"
            if "RunPrelogin" in names:
                return f"{pid} pre-login jail"
            if "RunTlsJail" in names or "SSL_do_handshake" in names or "SSL_accept" in names:
                return f"{pid} TLS jail"
            if "RunSession" in names:
                return f"{pid} session jail"
            if "ForkSessionMonitor" in names or "ConfineMonitor" in names:
                return f"{pid} session monitor"
            return pid
        if "_dl_start" in incl:
            return f"{pid} vsftpd parent"
        return f"{pid} vsftpd child"

    # ---- perf: CPU time and page faults ------------------------------------------------

    def perf_stat(self, name, mode, sessions):
        """perf stat (software counters, following every child) around each of `sessions`
        connections; returns per-session medians."""
        tag = f"perfstat-{name}-{mode}"
        path = os.path.join(self.out, tag + ".csv")
        events = "task-clock,page-faults,context-switches,cpu-migrations"
        self.serve(tag, ["perf", "stat", "-x,", "--append", "-o", path, "-e", events] +
                   self.server_argv(name), mode, sessions=sessions)
        values = collections.defaultdict(list)
        with open(path) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) > 3 and parts[2] in events.split(","):
                    try:
                        values[parts[2]].append(float(parts[0]))
                    except ValueError:
                        pass
        return {k: statistics.median(v) for k, v in values.items()}, len(values["task-clock"])

    @staticmethod
    def perf_report(path, sort, pattern):
        """The lines of perf report --sort SORT (with sample counts) that match pattern."""
        r = subprocess.run(["perf", "report", "-i", path, "--stdio", "--sort", sort,
                            "--show-nr-samples", "-q"], capture_output=True, text=True)
        return [m for m in (re.match(pattern, l) for l in r.stdout.splitlines()) if m]

    def page_faults(self, name, mode):
        """perf record of every page fault of one session: faults per process and where."""
        tag = f"faults-{name}-{mode}"
        path = os.path.join(self.out, tag + ".data")
        self.serve(tag, ["perf", "record", "-q", "-e", "page-faults", "-c", "1", "-o", path] +
                   self.server_argv(name), mode)
        per_pid = [(int(m.group(3)), int(m.group(2))) for m in self.perf_report(
            path, "pid", r"\s*([\d.]+)%\s+(\d+)\s+(\d+):(\S+)")]
        per_dso = [(m.group(3), int(m.group(2))) for m in self.perf_report(
            path, "dso", r"\s*([\d.]+)%\s+(\d+)\s+(\S+)")]
        return sorted(per_pid), per_dso

    def step_perf(self):
        rounds, per_round = int(os.environ.get("PERF_ROUNDS", 5)), int(os.environ.get(
            "PERF_SESSIONS", 40))
        self.emit("### CPU time and page faults per session (perf stat, software counters)", "",
                  f"{rounds} rounds of {per_round} sequential sessions per server, interleaved; "
                  "medians of the per-session values over all rounds. perf stat follows every "
                  "process of the connection (the activator's fork, the exec, every child).", "")
        targets = [("keepftpd", "ftp"), ("vsftpd", "ftp"), ("shape-libs", "ftp"),
                   ("keepftpd-noisolate", "ftp"), ("keepftpd-noseccomp", "ftp"),
                   ("keepftpd-ssl", "ftp"), ("vsftpd-ssl", "ftp"), ("keepftpd-ftps", "tls"),
                   ("vsftpd-ftps", "tls")]
        acc = collections.defaultdict(lambda: collections.defaultdict(list))
        for _ in range(rounds):
            for name, mode in targets:
                med, n = self.perf_stat(name, mode, per_round)
                for k, v in med.items():
                    acc[(name, mode)][k].append(v)
        self.emit("| configuration | session | task-clock (ms CPU) | page faults | "
                  "context switches |", "| --- | --- | ---: | ---: | ---: |")
        for name, mode in targets:
            a = acc[(name, mode)]
            med = {k: statistics.median(v) for k, v in a.items()}
            self.emit(f"| {name} | {'plain' if mode == 'ftp' else 'TLS'} | "
                      f"{med.get('task-clock', 0):.2f} | {med.get('page-faults', 0):.0f} | "
                      f"{med.get('context-switches', 0):.0f} |")
        self.emit("")
        self.emit("#### Page faults per process of one session (perf record -e page-faults -c 1)",
                  "")
        for name, mode in (("keepftpd", "ftp"), ("vsftpd", "ftp"), ("shape-libs", "ftp"),
                           ("keepftpd-ftps", "tls"), ("vsftpd-ftps", "tls")):
            per_pid, per_dso = self.page_faults(name, mode)
            self.emit(f"- {name} ({'plain' if mode == 'ftp' else 'TLS'}): by process in pid order "
                      f"{', '.join(str(n) for _, n in per_pid)} (total "
                      f"{sum(n for _, n in per_pid)}); by object: "
                      f"{', '.join(f'{os.path.basename(d)} {n}' for d, n in per_dso[:6])}")
        self.emit("")

    # ---- memory: PSS of idle logged-in sessions by mapping ---------------------------------

    @staticmethod
    def smaps(pid):
        """{mapping name: {field: kB}} from /proc/PID/smaps."""
        out = collections.defaultdict(collections.Counter)
        name = None
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                parts = line.split()
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    name = parts[5] if len(parts) > 5 else "[anon]"
                    if name.startswith("/"):
                        name = os.path.basename(name)
                elif len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    out[name][parts[0][:-1]] += int(parts[1])
        return out

    # Held sessions measured by step_pss: (server, configuration, the client's hold mode, what).
    PSS_CASES = [
        ("keepftpd", "keepftpd", "ftp", "plain, logged in"),
        ("keepftpd", "keepftpd-ssl", "tls", "over TLS, logged in"),
        ("keepftpd", "keepftpd", "banner", "before login (greeted, no USER yet)"),
        ("vsftpd", "vsftpd", "ftp", "plain, logged in"),
        ("vsftpd", "vsftpd-ssl", "tls", "over TLS, logged in"),
        ("vsftpd", "vsftpd", "banner", "before login (greeted, no USER yet)"),
    ]

    @staticmethod
    def uid(pid):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
        return -1

    def pss_role(self, server, mode, depth, uid):
        # keepftpd: the first process (the monitor; the keeper after login) under the activator,
        # the session monitor its child, the session jail the session monitor's child; the
        # pre-login and TLS jails run as nopriv_user. vsftpd: parent and child.
        nopriv = pwd.getpwnam("kftp-nopriv").pw_uid
        if server == "keepftpd":
            if uid == nopriv:
                return "TLS jail" if mode == "tls" else "pre-login jail"
            if depth == 1:
                return "monitor (before login)" if mode == "banner" else "keeper"
            return "session monitor" if depth == 2 else "session jail"
        if depth == 1:
            return "parent (before login)" if mode == "banner" else "privileged parent"
        if depth > 2:
            return "the child's child"
        return "pre-login child" if mode == "banner" else "session child"

    def step_pss(self):
        n = int(os.environ.get("HOLD_SESSIONS", 50))
        self.emit(f"### Memory of idle sessions ({n} held, as in bench/)", "",
                  "PSS per session by process and by mapping, from /proc/PID/smaps of every "
                  "process under the activator, divided by the number of sessions. Pss_Dirty is "
                  "the part of PSS in dirty pages (written: relocations, heap, stacks). Sessions "
                  "held plain and logged in (PWD done), over TLS and logged in (AUTH TLS, then "
                  "the same; the TLS-configured servers), and before login (the 220 read).", "")
        for name, conf, mode, what in self.PSS_CASES:
            act, port, log = self.activate(f"pss-{conf}-{mode}", self.server_argv(conf))
            try:
                while not bench.listening(port):
                    time.sleep(0.02)
                c = subprocess.Popen([self.b.client, "hold", "127.0.0.1", str(port), str(n)] +
                                     ([mode] if mode != "ftp" else []),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                if not c.stdout.readline().startswith("ready"):
                    raise bench.Failure(f"{name}: hold failed")
                time.sleep(0.5)
                depth = {act.pid: 0}
                by_role = collections.defaultdict(lambda: collections.defaultdict(
                    collections.Counter))
                procs = collections.Counter()
                rollup = collections.defaultdict(collections.Counter)
                for pid in self.b.descendants(act.pid):
                    with open(f"/proc/{pid}/stat") as f:
                        st = f.read()
                    ppid = int(st[st.rindex(")") + 2:].split()[1])
                    depth[pid] = depth.get(ppid, 0) + 1
                for pid in sorted(depth, key=lambda p: depth[p]):
                    if pid == act.pid:
                        continue
                    role = self.pss_role(name, mode, depth[pid], self.uid(pid))
                    procs[role] += 1
                    for mapping, fields in self.smaps(pid).items():
                        by_role[role][mapping].update(fields)
                    with open(f"/proc/{pid}/smaps_rollup") as f:
                        for line in f:
                            parts = line.split()
                            if len(parts) >= 2 and parts[1].isdigit():
                                rollup[role][parts[0][:-1]] += int(parts[1])
                c.stdin.close()
                c.wait(60)
            finally:
                os.killpg(act.pid, signal.SIGTERM)
                act.wait()
                log.close()
            total = sum(r["Pss"] for r in rollup.values()) / n
            self.emit(f"#### {name}, {what}: {total:.0f} KiB PSS per session, "
                      f"{sum(procs.values()) / n:.0f} processes per session", "")
            self.emit("| process | processes per session | PSS KiB | Pss_Dirty | Rss | "
                      "Private_Dirty | largest mappings (PSS KiB) |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | --- |")
            for role, maps in by_role.items():
                r = rollup[role]
                k = procs[role]  # per process of that role (one per session, as a rule)
                top = sorted(maps.items(), key=lambda kv: -kv[1]["Pss"])[:8]
                tops = ", ".join(f"{m} {v['Pss'] / k:.0f}"
                                 f" (dirty {v.get('Pss_Dirty', 0) / k:.0f})" for m, v in top)
                self.emit(f"| {role} | {k / n:.2f} | {r['Pss'] / k:.0f} | "
                          f"{r.get('Pss_Dirty', 0) / k:.0f} | {r['Rss'] / k:.0f} | "
                          f"{r['Private_Dirty'] / k:.0f} | {tops} |")
            # All processes together, by mapping.
            allmaps = collections.defaultdict(collections.Counter)
            for maps in by_role.values():
                for m, v in maps.items():
                    allmaps[m].update(v)
            top = sorted(allmaps.items(), key=lambda kv: -kv[1]["Pss"])[:14]
            self.emit("", f"- {name}, {what}, all processes, by mapping (PSS KiB per session): " +
                      ", ".join(f"{m} {v['Pss'] / n:.0f}" for m, v in top), "")

    # ---- perf record, system wide: where the CPU time of many sessions goes ---------------

    # Kernel samples: the first category with a function on the sample's stack whose name
    # contains one of the strings (the stack is searched in this order of categories).
    KERNEL_CATEGORIES = [
        ("kernel: new namespaces (clone: copy_namespaces)", ["copy_namespaces"]),
        ("kernel: fork (kernel_clone, first schedule of the child)", ["kernel_clone",
                                                                      "ret_from_fork"]),
        ("kernel: exec (execve)", ["execve"]),
        ("kernel: page faults", ["exc_page_fault"]),
        ("kernel: exit (do_exit: address space and namespace teardown)", ["do_exit"]),
        ("kernel: seccomp (loading and JIT-compiling filters, running them)", ["seccomp"]),
        ("kernel: mmap, munmap, mprotect, brk", ["ksys_mmap_pgoff", "vm_munmap", "mprotect",
                                                 "sys_brk", "sys_mmap", "sys_munmap"]),
        ("kernel: files (open, stat, read, close, chroot)", ["openat", "fstatat", "ksys_read",
                                                             "vfs_read", "sys_close", "statx",
                                                             "getdents", "sys_access",
                                                             "chroot", "close_range"]),
        ("kernel: sockets (send, recv, poll, socketpair)", ["sendto", "recvfrom", "sendmsg",
                                                            "recvmsg", "sys_poll",
                                                            "ksys_write", "socketpair",
                                                            "shutdown", "connect", "sys_socket",
                                                            "setsockopt", "getsockname",
                                                            "getpeername"]),
        ("kernel: wait4, signals", ["wait4", "rt_sigreturn", "arch_do_signal_or_restart"]),
        ("kernel: privilege changes (prctl, capset, setresuid, setgroups, prlimit)",
         ["prctl", "capset", "capget", "setresuid", "setresgid", "setgroups", "prlimit"]),
        ("kernel: timer interrupts, softirqs, scheduler", ["sysvec_", "schedule"]),
        ("kernel: syscall entry and exit, other syscalls", ["do_syscall_64"]),
    ]

    def categorise(self, script_path, server, activator, bucket=None):
        """perf script output (comm, pid, ip, sym, dso with call chains, and the task events)
        -> samples per category. Only the activator's descendants count as the server's (other
        engineers' keepftpd processes may run at the same time); kworkers' network namespace
        clean-up is counted whoever it is for. With bucket (a function of a sample's first
        line), {bucket: samples per category} instead."""
        cats = collections.Counter() if bucket is None else collections.defaultdict(
            collections.Counter)

        def into(block):
            return cats if bucket is None else cats[bucket(block[0])]
        parent = {}
        fork = re.compile(r"PERF_RECORD_FORK\((\d+):\d+\):\((\d+):\d+\)")

        def ours(pid):
            seen = 0
            while pid in parent and seen < 64:
                pid = parent[pid]
                if pid == activator:
                    return True
                seen += 1
            return False

        with open(script_path, errors="replace") as f:
            block = []
            for line in f:
                m = fork.search(line)
                if m:
                    parent[int(m.group(1))] = int(m.group(2))
                    continue
                if "PERF_RECORD_" in line:
                    continue
                if line.strip():
                    block.append(line)
                    continue
                if block:
                    self.categorise_one(block, server, into(block), ours)
                block = []
            if block:
                self.categorise_one(block, server, into(block), ours)
        return cats

    def categorise_one(self, block, server, cats, ours):
        head = block[0].split()
        comm = head[0] if head else "?"
        pid = int(head[1]) if len(head) > 1 and head[1].isdigit() else -1
        frames = []
        for line in block[1:]:
            m = re.match(r"\s*[0-9a-f]+ (\S+) \((.*)\)\s*$", line)
            if m:
                frames.append((m.group(1).split("+")[0], m.group(2)))
        syms = {f[0] for f in frames}
        if comm.startswith("kworker") and "cleanup_net" in syms:
            cats["kworker: network namespace clean-up (cleanup_net, anyone's)"] += 1
            return
        if comm.startswith("kdamond"):
            # The machine's DAMON, if it runs one: its page scans walk every mapping of each
            # page it samples, which grows with the processes held.
            cats["kdamond: the machine's DAMON page scans (anyone's)"] += 1
            return
        if not ours(pid):
            cats["(other work on the machine, idle)"] += 1
            return
        if comm != server:
            cats["activator's child before the exec (the same for both)"] += 1
            return
        if not frames:
            cats["? (no stack)"] += 1
            return
        leaf_dso = frames[0][1]
        if "kernel" not in leaf_dso:
            name = os.path.basename(leaf_dso)
            if name.startswith("ld-linux"):
                name = "ld.so (loading, relocation)"
            cats["user: " + name] += 1
            return
        for label, names in self.KERNEL_CATEGORIES:
            if any(n in sym for sym in syms for n in names):
                cats[label] += 1
                return
        cats["kernel: other"] += 1

    def record_sessions(self, tag, name, mode, sessions, hz, callgraph, fields, settle=0.0):
        """perf record -a -e cpu-clock (with call chains if callgraph) around `sessions`
        sequential sessions of server `name`; returns the path of its perf script output (the
        given fields and the task events), which the caller removes."""
        path = os.path.join(self.out, tag + ".data")
        rec = subprocess.Popen(["perf", "record", "-q", "-a"] + (["-g"] if callgraph else []) +
                               ["-e", "cpu-clock", "-F", str(hz), "-o", path],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        self.serve(tag, self.server_argv(name), mode, sessions=sessions)
        time.sleep(settle)
        rec.send_signal(signal.SIGINT)
        rec.wait()
        script = path + ".script"
        with open(script, "w") as f:
            subprocess.run(["perf", "script", "-i", path, "-F", fields, "--show-task-events"],
                           stdout=f, stderr=subprocess.DEVNULL)
        return script

    def step_kernel(self):
        n = int(os.environ.get("KERNEL_SESSIONS", 300))
        hz = 4000
        self.emit(f"### Where the CPU time goes, user and kernel ({n} sequential sessions, "
                  f"perf record -a -g -e cpu-clock -F {hz})", "",
                  "System-wide sampling (this machine has no PMU, so cpu-clock), so that the "
                  "kernel's deferred work for a session (a network namespace is cleaned up by a "
                  "kworker) is seen too. Only samples of the activator's descendants count "
                  "(the process tree comes from perf's fork events). Each of them is put in the "
                  "first category whose function is on its stack (kernel) or by the object it "
                  "was in (user). Milliseconds of CPU per session = samples / rate / sessions.",
                  "")
        table = {}
        servers = ("keepftpd", "vsftpd", "shape-libs")
        for name, mode in ((s, "ftp") for s in servers):
            # settle: the kworkers' clean-up of the last namespaces
            script = self.record_sessions(f"cpu-{name}-{mode}", name, mode, n, hz, True,
                                          "comm,pid,ip,sym,dso", settle=0.5)
            # The process name (comm) of the exec'd server, at most 15 characters.
            comm = os.path.basename(self.server_argv(name)[0])[:15]
            table[name] = self.categorise(script, comm, self.last_activator)
            os.unlink(script)
        labels = sorted({l for c in table.values() for l in c},
                        key=lambda l: -max(c.get(l, 0) for c in table.values()))
        self.emit("| where (ms of CPU per session) | keepftpd | vsftpd | keepftpd's shape with its "
                  "libraries (shape_floor_libs) |", "| --- | ---: | ---: | ---: |")
        totals = collections.Counter()
        for label in labels:
            if label.startswith("(other"):
                continue
            ms = [table[s].get(label, 0) / hz / n * 1000 for s in servers]
            for server, v in zip(servers, ms):
                totals[server] += v
            self.emit(f"| {label} | " + " | ".join(f"{v:.3f}" for v in ms) + " |")
        self.emit("| **total (without other work)** | " +
                  " | ".join(f"**{totals[s]:.2f}**" for s in servers) + " |", "")

    # ---- held: CPU per login while thousands of sessions are held ------------------------

    @staticmethod
    def tasks():
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[1])

    @staticmethod
    def meminfo():
        with open("/proc/meminfo") as f:
            return {l.split(":")[0]: int(l.split()[1]) for l in f}

    def hold_recorded(self, name, n, path, hz):
        """Logs n sessions of server `name` in, 32 at a time (bench.py's many-sessions row),
        under perf record -a -g (CLOCK_MONOTONIC timestamps); samples the number held (from the
        machine's task count) every 0.25 s. Returns the login seconds, the timeline [(monotonic
        time, sessions held)], the activator's pid, and the kernel memory counters' growth per
        session (KiB) with all of them held."""
        procs = bench.MANY_PROCESSES[name]
        with open("/proc/sys/kernel/pid_max") as f:
            if self.tasks() + procs * n + 1000 > int(f.read()):
                raise bench.Failure(f"held {name}: kernel.pid_max leaves no room for {procs * n} "
                                    f"more processes (lower HELD_SESSIONS)")
        rec = subprocess.Popen(["perf", "record", "-q", "-a", "-g", "-k", "CLOCK_MONOTONIC",
                                "-e", "cpu-clock", "-F", str(hz), "-o", path],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        act, port, log = self.activate(f"held-{name}", self.server_argv(name))
        client = None
        try:
            while not bench.listening(port):
                if act.poll() is not None:
                    raise bench.Failure(f"held {name}: the activator did not start")
                time.sleep(0.02)
            base, mem0 = self.tasks(), self.meminfo()
            t0 = time.monotonic()
            client = subprocess.Popen([self.b.client, "many", "127.0.0.1", str(port), str(n),
                                       "32"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      env=dict(os.environ, BENCH_IO_TIMEOUT="600"))
            os.set_blocking(client.stdout.fileno(), False)
            timeline, out = [(t0, 0.0)], b""
            while b"\n" not in out:
                time.sleep(0.25)
                timeline.append((time.monotonic(), (self.tasks() - base) / procs))
                try:
                    chunk = os.read(client.stdout.fileno(), 4096)
                except BlockingIOError:
                    continue
                if not chunk:
                    raise bench.Failure(f"held {name}: the client ended without holding them")
                out += chunk
            out = out.decode()
            time.sleep(1)  # every connection settled into its logged-in shape
            mem1 = self.meminfo()
            rec.send_signal(signal.SIGINT)
            rec.wait()
            kv = bench.parse_kv(out.partition(" why: ")[0])
            if int(kv["sessions"]) != n:
                raise bench.Failure(f"held {name}: {out.strip()}")
            growth = {k: (mem1[k] - mem0[k]) / n for k in mem0 if k in mem1}
            return float(kv["login_seconds"]), timeline, act.pid, growth
        finally:
            if rec.poll() is None:
                rec.send_signal(signal.SIGINT)
                rec.wait()
            if client is not None:
                client.stdin.close()
                client.wait()
            deadline = time.time() + 300
            while self.b.descendants(act.pid) and time.time() < deadline:
                time.sleep(0.5)
            os.killpg(act.pid, signal.SIGTERM)
            act.wait()
            log.close()

    def step_held(self):
        n = int(os.environ.get("HELD_SESSIONS", 8000))
        parts = 4
        hz = 1000
        servers = os.environ.get("HELD_SERVERS", "keepftpd,shape-libs,vsftpd").split(",")
        self.emit(f"### Logging {n} sessions in, 32 at a time, with all of them held (perf "
                  f"record -a -g -e cpu-clock -F {hz})", "",
                  "As bench.py's many-sessions row, with system-wide sampling. Each sample goes "
                  "to the quarter of the login in which it was taken (the number held, from the "
                  "machine's task count every 0.25 s) and to a category as in the `kernel` "
                  "step. Milliseconds of CPU per login; the machine's DAMON (`kdamond`), if it "
                  "runs one, is counted whoever it scanned for, and so is the idle time "
                  "(`other work`: 32 logins in flight leave the two CPUs idle only when all "
                  "wait). Memory: the growth of the kernel's counters (/proc/meminfo) per "
                  "session with all held, which includes what PSS does not show (page tables, "
                  "kernel stacks, sockets, namespaces).", "")
        for name in servers:
            path = os.path.join(self.out, f"held-{name}.data")
            seconds, timeline, activator, growth = self.hold_recorded(name, n, path, hz)

            def held_at(t):
                prev = timeline[0][1]
                for when, held in timeline:
                    if when >= t:
                        return prev
                    prev = held
                return prev

            start, end = timeline[0][0], timeline[0][0] + seconds

            def quarter(line):
                # -1 (left out): outside the login, from the first connect to the last 230 (the
                # recording's first second, the client's NOOPs and the settling after them).
                m = re.search(r" (\d+\.\d+):", line)
                if not m or not start <= float(m.group(1)) <= end:
                    return -1
                return min(parts - 1, max(0, int(held_at(float(m.group(1))) * parts / n)))

            script = path + ".script"
            with open(script, "w") as f:
                subprocess.run(["perf", "script", "-i", path, "-F", "comm,pid,time,ip,sym,dso",
                                "--show-task-events"], stdout=f, stderr=subprocess.DEVNULL)
            comm = os.path.basename(self.server_argv(name)[0])[:15]
            cats = self.categorise(script, comm, activator, quarter)
            os.unlink(script)
            # When each quarter began and ended (the timeline's samples interpolated; the last
            # ends at the last 230), for its login rate; none for a quarter shorter than a
            # second, which the 0.25 s samples cannot time.
            def crossing(target):
                prev_t, prev_h = timeline[0]
                for when, held in timeline[1:]:
                    if held >= target:
                        if held == prev_h:
                            return when
                        return prev_t + (when - prev_t) * (target - prev_h) / (held - prev_h)
                    prev_t, prev_h = when, held
                return timeline[-1][0]

            bounds = [start] + [crossing(n * q / parts) for q in range(1, parts)] + [end]
            spans = [b - a for a, b in zip(bounds, bounds[1:])]
            per = n / parts
            heads = [f"{100 * q // parts}–{100 * (q + 1) // parts}% held" for q in range(parts)]
            self.emit(f"#### {name}: {n} logged in in {seconds:.2f} s", "",
                      "- memory per session (KiB), all held: " + ", ".join(
                          f"{k} {growth.get(k, 0):.0f}" for k in (
                              "AnonPages", "PageTables", "KernelStack", "Slab", "VmallocUsed")),
                      "", "| ms of CPU per login | " + " | ".join(heads) + " |",
                      "| --- |" + " ---: |" * parts)
            labels = sorted({l for q in range(parts) for l in cats[q]},
                            key=lambda l: -sum(cats[q].get(l, 0) for q in range(parts)))
            for label in labels:
                ms = [cats[q].get(label, 0) / hz / per * 1000 for q in range(parts)]
                if max(ms) >= 0.01:
                    self.emit(f"| {label} | " + " | ".join(f"{v:.2f}" for v in ms) + " |")
            totals = [sum(v for l, v in cats[q].items() if not l.startswith("(other"))
                      / hz / per * 1000 for q in range(parts)]
            self.emit("| **all but other work** | " +
                      " | ".join(f"**{v:.2f}**" for v in totals) + " |",
                      "| logins per second | " + " | ".join(
                          f"{per / span:.0f}" if span >= 1 else "-" for span in spans) + " |",
                      "")

    # ---- processes: CPU per process of a session -----------------------------------------

    def process_roles(self, script_path, server, mode):
        """perf script output (comm, pid and the task events) of sessions started by the last
        activator -> samples per process role, and the number of sessions seen. A role is the
        process's place in the tree: keepftpd's exec'd process is the monitor (the keeper after
        the login); of its children, the one that forks is the session's monitor (its child the
        session jail), the others are the TLS jail (over TLS, forked first) and the pre-login
        jail. vsftpd's children are the pre-login child and then the session child."""
        kids = collections.defaultdict(list)
        samples = collections.Counter()
        fork = re.compile(r"PERF_RECORD_FORK\((\d+):\d+\):\((\d+):\d+\)")
        comm = os.path.basename(self.server_argv(server)[0])[:15]
        with open(script_path, errors="replace") as f:
            for line in f:
                m = fork.search(line)
                if m:
                    c, par = int(m.group(1)), int(m.group(2))
                    if c != par:
                        kids[par].append(c)
                    continue
                if "PERF_RECORD_" in line:
                    continue
                head = line.split()
                if len(head) >= 2 and head[1].isdigit():
                    samples[(head[0], int(head[1]))] += 1
        roots = kids[self.last_activator]
        roles = collections.Counter()
        role_of = {}
        for root in roots:
            role_of[root] = "root"
            children = kids.get(root, [])
            if comm == "vsftpd":
                for i, c in enumerate(children):
                    role_of[c] = "pre-login child" if i == 0 else "session child"
                    for g in kids.get(c, []):
                        role_of[g] = "other"
                continue
            plain = [c for c in children if not kids.get(c)]
            for c in children:
                if kids.get(c):
                    role_of[c] = "session monitor"
                    for g in kids[c]:
                        role_of[g] = "session jail"
            for i, c in enumerate(plain):
                role_of[c] = ("TLS jail" if mode == "tls" and i == 0 and len(plain) > 1
                              else "pre-login jail")
        for (c, pid), n in samples.items():
            r = role_of.get(pid)
            if r is None:
                continue
            if r == "root" and c != comm:
                r = "activator's child before the exec"
            roles[r] += n
        return roles, len(roots)

    def step_processes(self):
        n = int(os.environ.get("PROCESS_SESSIONS", 100))
        turns = int(os.environ.get("PROCESS_TURNS", 4))
        hz = 4000
        self.emit(f"### CPU per process of a session ({turns} interleaved turns of {n} sequential "
                  f"sessions, perf record -a -e cpu-clock -F {hz})", "",
                  "Every sample of the activator's descendants, given to the process it ran in "
                  "by that process's place in the tree (perf's fork events). Milliseconds of CPU "
                  "per session over all turns. Not included: the kworker that cleans up the "
                  "pre-login jail's network namespace after it exits (`kernel` step).", "")
        targets = (("keepftpd", "ftp"), ("shape-libs", "ftp"), ("vsftpd", "ftp"),
                   ("keepftpd-ftps", "tls"), ("shape-tls", "tls"), ("vsftpd-ftps", "tls"))
        order = ("activator's child before the exec", "root", "TLS jail", "pre-login jail",
                 "pre-login child", "session monitor", "session jail", "session child")
        names = {"root": "the exec'd process (keepftpd: the monitor, then the keeper)"}
        samples = {t: collections.Counter() for t in targets}
        sessions = collections.Counter()
        for _ in range(turns):
            for name, mode in targets:
                script = self.record_sessions(f"proc-{name}-{mode}", name, mode, n, hz, False,
                                              "comm,pid")
                roles, seen = self.process_roles(script, name, mode)
                os.unlink(script)
                samples[(name, mode)].update(roles)
                sessions[(name, mode)] += seen
        table = {t: {r: v / hz / max(sessions[t], 1) * 1000 for r, v in samples[t].items()}
                 for t in targets}
        for mode in ("ftp", "tls"):
            cols = [t for t in targets if t[1] == mode]
            self.emit("| process (ms of CPU per session) | " +
                      " | ".join(name for name, _ in cols) + " |",
                      "| --- |" + " ---: |" * len(cols))
            for role in order:
                if not any(role in table[t] for t in cols):
                    continue
                self.emit(f"| {names.get(role, role)} | " +
                          " | ".join(f"{table[t][role]:.2f}" if role in table[t] else ""
                                     for t in cols) + " |")
            self.emit("| **all** | " + " | ".join(
                f"**{sum(table[t].values()):.2f}**" for t in cols) + " |", "")

    # ---- phases: where a session's time goes, from the client's side --------------------

    def step_phases(self):
        n = int(os.environ.get("PHASE_SESSIONS", 100))
        turns = int(os.environ.get("PHASE_TURNS", 5))
        self.emit(f"### Where a session's time goes, from the client ({turns} turns of {n} "
                  "sequential sessions each, interleaved; medians of the turns' medians, ms)", "",
                  "`client phases`: each step from the client's last reply (or the connect) to "
                  "the next reply it waits for; `close` is the 221 to the server's close. "
                  "shape-libs and shape-tls: keepftpd's process shape with its libraries "
                  "(bench/shape_floor.cc, bench/shape_floor_tls.cc).", "")
        rows = (("ftp", ("keepftpd", "vsftpd", "shape-libs")),
                ("tls", ("keepftpd-ftps", "vsftpd-ftps", "tls-floor", "shape-tls")))
        for mode, servers in rows:
            logs = os.path.join(self.out, "phases")
            os.makedirs(logs, exist_ok=True)
            running = {s: bench.Activated(s, self.server_argv(s), logs) for s in servers}
            got = {s: collections.defaultdict(list) for s in servers}
            try:
                for _ in range(turns):
                    for s in servers:
                        r = subprocess.run([self.b.client, "phases", "127.0.0.1",
                                            str(running[s].port), str(n), mode],
                                           capture_output=True, text=True, timeout=600)
                        if r.returncode != 0:
                            raise bench.Failure(f"phases {s}: {r.stderr}")
                        for k, v in bench.parse_kv(r.stdout).items():
                            got[s][k].append(float(v))
            finally:
                for srv in running.values():
                    srv.stop()
            steps = list(got[servers[0]])
            self.emit(f"| step ({mode}) | " + " | ".join(servers) + " |",
                      "| --- |" + " ---: |" * len(servers))
            for k in steps + ["total"]:
                cells = []
                for s in servers:
                    if k == "total":
                        v = statistics.median([sum(t) for t in zip(*got[s].values())])
                    else:
                        v = statistics.median(got[s][k]) if got[s].get(k) else float("nan")
                    cells.append(f"{v:.2f}")
                self.emit(f"| {k.removesuffix('_ms')} | " + " | ".join(cells) + " |")
            self.emit("")

    # ---- ld.so: libraries and relocations ----------------------------------------------

    LIBSETS = [
        ("keepftpd's set at 571b0b8 (systemd, cap-ng, pam, seccomp, ssl, crypto, z, stdc++)",
         ["-lsystemd", "-lcap-ng", "-lpam", "-lseccomp", "-lssl", "-lcrypto", "-lz"], []),
        ("without ssl and crypto", ["-lsystemd", "-lcap-ng", "-lpam", "-lseccomp", "-lz"], []),
        ("without ssl, crypto and systemd", ["-lcap-ng", "-lpam", "-lseccomp", "-lz"], []),
        ("without ssl, crypto, systemd; libstdc++ static",
         ["-lcap-ng", "-lpam", "-lseccomp", "-lz"], ["-static-libstdc++"]),
    ]

    def startup_cost(self, argv):
        d = os.path.join(self.out, "ldso")
        os.makedirs(d, exist_ok=True)
        out = os.path.join(d, "callgrind.out.%p")
        r = subprocess.run(["valgrind", "--tool=callgrind", "--vgdb=no",
                            f"--callgrind-out-file={out}"] + argv, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL)
        m = re.search(r"Collected : (\d+)", r.stderr)
        return int(m.group(1)) if m else 0

    def ld_stats(self, argv):
        # The statistics alone (printing the bindings would be timed too), then the bindings.
        env = dict(os.environ, LD_DEBUG="statistics")
        r = subprocess.run(argv, capture_output=True, text=True, env=env,
                           stdin=subprocess.DEVNULL)
        stats = {}
        for key, pat in (("relocations", r"number of relocations: (\d+)"),
                         ("from cache", r"number of relocations from cache: (\d+)"),
                         ("relative", r"number of relative relocations: (\d+)"),
                         ("cycles", r"total startup time in dynamic loader: (\d+) cycles")):
            m = re.search(pat, r.stderr)
            stats[key] = int(m.group(1)) if m else 0
        env = dict(os.environ, LD_DEBUG="bindings")
        r = subprocess.run(argv, capture_output=True, text=True, env=env,
                           stdin=subprocess.DEVNULL)
        bindings = collections.Counter()
        for line in r.stderr.splitlines():
            m = re.search(r"binding file (\S+) ", line)
            if m:
                bindings[os.path.basename(m.group(1))] += 1
        return stats, bindings

    def dirty_kib(self, argv):
        p = subprocess.Popen(argv + ["pause"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        p.stdout.readline()
        fields = collections.Counter()
        with open(f"/proc/{p.pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    fields[parts[0][:-1]] += int(parts[1])
        p.stdin.close()
        p.wait()
        return fields

    def step_ldso(self):
        self.emit("### Dynamic loading (ld.so)", "")
        for name, argv in (("keepftpd", [self.a.keepftpd, "--version"]),
                           ("vsftpd", [self.a.vsftpd, "-v"])):
            libs = [l.split()[0] for l in subprocess.run(
                ["ldd", argv[0]], capture_output=True, text=True).stdout.splitlines()
                    if "=>" in l]
            stats, bindings = self.ld_stats(argv)
            ir = self.startup_cost(argv)
            self.emit(f"- {name}: {len(libs)} libraries ({', '.join(libs)}); "
                      f"{stats['relocations']} symbol relocations ({stats['from cache']} from "
                      f"cache), {stats['relative']} relative; {ir / 1e6:.2f}M instructions for "
                      f"`{' '.join(os.path.basename(a) for a in argv)}` under callgrind, "
                      f"{stats['cycles'] / 1e3:.0f}k cycles in ld.so (LD_DEBUG=statistics); "
                      f"symbol look-ups by object: " +
                      ", ".join(f"{o} {c}" for o, c in bindings.most_common(8)))
        self.emit("", "Empty programs (`int main` that exits; with `pause` it waits so that its "
                  "memory can be read) linked with -pie -Wl,-z,now,--no-as-needed against "
                  "library sets, to see what each set costs at start-up:", "",
                  "| libraries | instructions to exit | symbol relocations | Private_Dirty KiB | "
                  "Rss KiB |", "| --- | ---: | ---: | ---: | ---: |")
        src = os.path.join(self.out, "ldso", "empty.cc")
        os.makedirs(os.path.dirname(src), exist_ok=True)
        with open(src, "w") as f:
            f.write("#include <cstdio>\n#include <string>\n#include <unistd.h>\n"
                    "int main(int argc, char** argv) {\n"
                    "  std::string s = argc > 1 ? argv[1] : \"\";\n"
                    "  if (s == \"pause\") { std::puts(\"ready\"); std::fflush(stdout);\n"
                    "    char c; while (read(0, &c, 1) > 0) {} }\n  return 0;\n}\n")
        for i, (label, libs, extra) in enumerate(self.LIBSETS):
            exe = os.path.join(self.out, "ldso", f"empty{i}")
            subprocess.run(["g++", "-O2", "-fPIE", "-pie", "-o", exe, src,
                            "-Wl,-z,now,--no-as-needed"] + extra + libs, check=True)
            ir = self.startup_cost([exe])
            stats, _ = self.ld_stats([exe])
            mem = self.dirty_kib([exe])
            self.emit(f"| {label} | {ir / 1e6:.2f}M | {stats['relocations']} | "
                      f"{mem['Private_Dirty']} | {mem['Rss']} |")
        self.emit("")

    def step_namespaces(self):
        n = os.environ.get("NS_LOOPS", "1000")
        self.emit(f"### Namespaces ({self.a.tools}/nsloop {n}: clone with the flags, child "
                  "_exits, parent waits; median of the runs)", "", "```")
        r = subprocess.run([os.path.join(self.a.tools, "nsloop"), n], capture_output=True,
                           text=True)
        for line in r.stdout.splitlines():
            self.emit(line)
        self.emit("```", "")


def main():
    ap = argparse.ArgumentParser()
    for opt in ("keepftpd", "vsftpd", "tools", "big", "work", "cert", "key", "out", "nochroot"):
        ap.add_argument("--" + opt, required=True)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    p = Profiler(a)
    steps = [("strace", p.step_strace), ("callgrind", p.step_callgrind),
             ("perf", p.step_perf), ("pss", p.step_pss),
             ("kernel", p.step_kernel), ("processes", p.step_processes), ("ldso", p.step_ldso),
             ("namespaces", p.step_namespaces), ("phases", p.step_phases),
             ("held", p.step_held)]
    for name, fn in steps:
        if not a.only or a.only in name:
            fn()
    return 0


if __name__ == "__main__":
    sys.exit(main())
