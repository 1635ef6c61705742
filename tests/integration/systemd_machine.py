"""A throwaway machine with a real systemd as PID 1, for the tests of what `meson install` puts
on a system: this machine's own systemd booted by systemd-nspawn in a container whose root is
an overlay of "/" with every write in a tmpfs, its own network (loopback only) and its own
journal. Nothing it does reaches the host's disk, and nothing of it outlives stop().

    m = SystemdMachine(binds={"/work/keepftpd/build": "/work/keepftpd/build"},
                       binds_ro={"/work/keepftpd": "/work/keepftpd"})
    m.start()                       # boots, waits until systemctl answers
    m.run("meson install -C ...")   # a shell command inside, as root (check=True by default)
    m.stop()                        # powers off and removes its cgroups and files

It boots to basic.target: journald, the socket units and nothing of the host's daemons, which
a test starts itself when it needs them (`systemctl restart xinetd`). Where the machine cannot
boot a container (no root, no overlayfs, a kernel or sandbox that refuses the namespaces or
cgroups nspawn needs), start() skips the test and says why.

How it is made, outside in:
- a cgroup of its own in each of the hierarchies this process is in (nspawn, with --keep-unit
  and without systemd-machined, makes the container's cgroup the one it runs in, and must not
  take the test's);
- unshare --mount: a private mount namespace holding the tmpfs, the overlay and a tmpfs over
  /run/systemd (where nspawn keeps its own state), all gone when nspawn exits;
- systemd-nspawn --boot --register=no --keep-unit --private-network, with bpf() allowed (which
  systemd needs for IPAddressDeny=) and a pure cgroup2 hierarchy inside.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

NSPAWN = "/usr/bin/systemd-nspawn"
PATH_INSIDE = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BOOT_TIMEOUT = 120  # seconds; a bound on a wait, not a measurement

# Runs in the private mount namespace: the tmpfs, the overlay of /, nspawn's /run/systemd.
INNER = r"""
set -eu
work=$1; shift
mount --make-rprivate /
mount -t tmpfs -o mode=0755,size=4G keepftpd-machine "$work/fs"
mkdir "$work/fs/upper" "$work/fs/work" "$work/fs/root" "$work/fs/tmp"
mount -t overlay -o "lowerdir=/,upperdir=$work/fs/upper,workdir=$work/fs/work" \
  keepftpd-machine "$work/fs/root"
if [ -d /run/systemd ]; then run=/run/systemd; else run=/run; fi
mount -t tmpfs -o mode=0755,size=16M keepftpd-machine-run "$run"
export TMPDIR="$work/fs/tmp" SYSTEMD_NSPAWN_LOCK=0 SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 TERM=dumb
exec "$@"
"""


def _cgroup_mounts():
    """{controllers or '' (cgroup2): mount point} of the cgroup file systems."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _, options = right.split()[:3]
            mountpoint = left.split()[4]
            if fstype == "cgroup2":
                mounts.setdefault("", mountpoint)
            elif fstype == "cgroup":
                names = [o for o in options.split(",") if o not in ("rw", "ro", "relatime",
                                                                   "nosuid", "nodev", "noexec")]
                mounts.setdefault(",".join(sorted(names)), mountpoint)
    return mounts


def _own_cgroups(name):
    """The directories of a new cgroup NAME beside this process's, one per hierarchy."""
    mounts = _cgroup_mounts()
    dirs = []
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            key = "" if not controllers else ",".join(sorted(controllers.split(",")))
            mountpoint = mounts.get(key)
            if mountpoint is None:
                continue
            dirs.append(os.path.join(mountpoint, path.lstrip("/"), name))
    return dirs


class SystemdMachine:
    def __init__(self, binds=None, binds_ro=None, name=None):
        """binds, binds_ro: {host directory: directory inside}, read-write and read-only (the
        read-only ones first, so that a read-write one may be inside a read-only one)."""
        self.binds = dict(binds or {})
        self.binds_ro = dict(binds_ro or {})
        self.name = name or f"kftp{os.getpid() % 100000}"
        self.work = None
        self.nspawn = None
        self.leader = None
        self.cgroups = []
        self.boot_seconds = None

    # ---- start -------------------------------------------------------------------------------

    def _skip_unless_possible(self):
        if os.geteuid() != 0:
            pytest.skip("a systemd machine needs root (nspawn, overlayfs, cgroups)")
        if not os.access(NSPAWN, os.X_OK):
            pytest.fail(f"{NSPAWN} is missing: ./dev test installs systemd-container")
        with open("/proc/filesystems") as f:
            kinds = f.read().split()
        for fs in ("overlay", "tmpfs"):
            if fs not in kinds:
                pytest.skip(f"this kernel has no {fs} file system: no systemd machine here")
        if not _cgroup_mounts():
            pytest.skip("no cgroup file system is mounted here: no systemd machine here")

    def start(self):
        self._skip_unless_possible()
        self.work = tempfile.mkdtemp(prefix="keepftpd-machine-")
        os.chmod(self.work, 0o700)
        os.mkdir(os.path.join(self.work, "fs"))
        for d in _own_cgroups(f"keepftpd-machine-{self.name}"):
            os.makedirs(d, exist_ok=True)
            self.cgroups.append(d)
            parent = os.path.dirname(d)
            cpus = os.path.join(d, "cpuset.cpus")
            if os.path.exists(cpus) and not open(cpus).read().strip():
                for f in ("cpuset.cpus", "cpuset.mems"):
                    with open(os.path.join(parent, f)) as src, open(os.path.join(d, f), "w") as dst:
                        dst.write(src.read())
        nspawn = [NSPAWN, "--quiet", f"--directory={self.work}/fs/root", "--boot",
                  f"--machine={self.name}", "--register=no", "--keep-unit", "--link-journal=no",
                  "--console=read-only", "--private-network", "--system-call-filter=bpf"]
        nspawn += [f"--bind-ro={host}:{inside}" for host, inside in self.binds_ro.items()]
        nspawn += [f"--bind={host}:{inside}" for host, inside in self.binds.items()]
        nspawn += ["--", "systemd.unit=basic.target"]
        cgroups = self.cgroups

        def enter_cgroups():
            for d in cgroups:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write("0")

        self.console = open(os.path.join(self.work, "console.log"), "wb")
        started = time.monotonic()
        self.nspawn = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--",
             "bash", "-c", INNER, "keepftpd-machine", self.work] + nspawn,
            stdin=subprocess.DEVNULL, stdout=self.console, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=enter_cgroups)
        try:
            self._wait_for_boot()
        except BaseException:
            self.stop()
            raise
        self.boot_seconds = time.monotonic() - started

    def console_text(self):
        path = os.path.join(self.work, "console.log")
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")

    def _find_leader(self):
        """The container's PID 1: nspawn's child whose innermost pid is 1."""
        try:
            children = open(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children").read()
        except OSError:
            return None
        for child in children.split():
            try:
                with open(f"/proc/{child}/status") as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            pids = line.split()[1:]
                            if len(pids) > 1 and pids[-1] == "1":
                                return int(child)
            except OSError:
                continue
        return None

    def _wait_for_boot(self):
        deadline = time.monotonic() + BOOT_TIMEOUT
        while self.leader is None:
            if self.nspawn.poll() is not None:
                self._cannot_boot()
            if time.monotonic() > deadline:
                pytest.fail("the container has no PID 1 after %d s:\n%s"
                            % (BOOT_TIMEOUT, self.console_text()[-3000:]))
            self.leader = self._find_leader()
            time.sleep(0.05)
        # systemctl answers once the manager is up ("offline" before: no /run/systemd/system
        # yet, or no socket); then wait for the boot to finish.
        while True:
            r = self.run("systemctl is-system-running", check=False)
            if r.stdout.strip() not in ("", "offline"):
                break
            if self.nspawn.poll() is not None:
                self._cannot_boot()
            if time.monotonic() > deadline:
                pytest.fail("systemctl does not answer in the container:\n"
                            + self.console_text()[-3000:])
            time.sleep(0.05)
        r = self.run("systemctl is-system-running --wait", check=False,
                     timeout=max(1, deadline - time.monotonic()))
        if r.stdout.strip() not in ("running", "degraded"):
            pytest.fail(f"the container booted {r.stdout.strip()!r}:\n"
                        + self.run("systemctl --failed --no-pager; journalctl -b --no-pager "
                                   "| tail -40", check=False).stdout)

    def _cannot_boot(self):
        text = self.console_text()
        self.stop()
        pytest.skip("this machine cannot boot a systemd container (systemd-nspawn exited: "
                    f"{text.strip()[-1500:]})")

    # ---- use ---------------------------------------------------------------------------------

    def command(self, argv):
        """argv run inside: every namespace of the container, its root, as root, clean env."""
        return ["nsenter", "-t", str(self.leader), "-a", "-r", "-w", "--", "env", "-i",
                f"PATH={PATH_INSIDE}", "HOME=/root", "LANG=C.UTF-8", "TERM=dumb",
                "container=systemd-nspawn"] + list(argv)

    def run(self, script, check=True, timeout=120, input=None):
        """A bash script inside; returns the CompletedProcess (text)."""
        r = subprocess.run(self.command(["bash", "-c", script]), capture_output=True, text=True,
                           timeout=timeout, input=input, stdin=None if input else
                           subprocess.DEVNULL)
        if check and r.returncode != 0:
            pytest.fail(f"in the container, exit {r.returncode}:\n$ {script}\n"
                        f"{r.stdout[-4000:]}{r.stderr[-4000:]}")
        return r

    # ---- stop --------------------------------------------------------------------------------

    def stop(self):
        """Powers off (SIGRTMIN+4 is systemd's poweroff request), kills what is left if it
        does not, then removes the cgroups and the work directory."""
        if self.nspawn is not None and self.nspawn.poll() is None:
            if self.leader is not None:
                try:
                    os.kill(self.leader, signal.SIGRTMIN + 4)
                except ProcessLookupError:
                    pass
            try:
                self.nspawn.wait(60)
            except subprocess.TimeoutExpired:
                if self.leader is not None:
                    try:
                        os.kill(self.leader, signal.SIGKILL)  # the whole pid namespace
                    except ProcessLookupError:
                        pass
                os.killpg(self.nspawn.pid, signal.SIGKILL)
                self.nspawn.wait(60)
        if getattr(self, "console", None) is not None:
            self.console.close()
        for d in self.cgroups:
            # Depth first: the container's own cgroups under ours.
            for root, dirs, _ in sorted(os.walk(d), key=lambda t: -len(t[0])):
                try:
                    os.rmdir(root)
                except OSError:
                    pass
        left = [d for d in self.cgroups if os.path.exists(d)]
        self.cgroups = []
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)
            self.work = None
        assert not left, f"cgroups left behind: {left}"
