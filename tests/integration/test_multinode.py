"""Several keepftpd nodes behind a real HAProxy, as README's "Running several nodes" sets them up:
network namespaces and veth pairs made for each test (iproute2) and removed after it, so no
traffic leaves the machine.

    client 10.89.0.2 ── 10.89.0.1 balancer (HAProxy) 10.89.1.1 ──┬── 10.89.1.11 node1
                                                               └── 10.89.1.12 node2

The balancer sends the PROXY header (v1 to node1, v2 to node2) on the control port and forwards
each node's passive port range, with no header, from a frontend of its own. Each node runs
keepftpd under its own systemd-socket-activate, with its own journald, and both serve one
shared directory. The client is Python's ftplib, run in its namespace by `ip netns exec`.

What a user of such a site sees: uploads and downloads landing on either node, in passive and
extended passive mode through the balancer; each node's journal naming the client, not the
balancer; a forged PROXY header from anywhere but the balancer refused; a passive data
connection accepted from the balancer that relays the session but from no other host; active
mode working only where the nodes can route to the client.
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import KEEPFTPD, Tree, end_process_group
from test_service import JOURNALD, JOURNALD_CONF, NAMESPACE_SCRIPT, journal_records, require

CLIENT, BALANCER_FRONT, BALANCER_BACK = "10.89.0.2", "10.89.0.1", "10.89.1.1"
NODES = {"node1": ("10.89.1.11", 40000, 40009, "send-proxy"),
         "node2": ("10.89.1.12", 40010, 40019, "send-proxy-v2")}

HAPROXY_CFG = """\
global
    maxconn 200
    stats socket {stats} mode 600 level admin

defaults
    mode tcp
    timeout connect 5s
    # The control connection is silent while a file is transferred: longer than any transfer.
    timeout client 30m
    timeout server 30m

# The control port: one node per connection, in turn, each told the client's address.
frontend ftp
    bind {front}:21
    # Per-client limits live here now: the nodes see every connection come from the balancer.
    stick-table type ip size 100k expire 10m store conn_cur
    tcp-request connection track-sc0 src
    tcp-request connection reject if {{ sc0_conn_cur gt 8 }}
    default_backend ftp_nodes

backend ftp_nodes
    balance roundrobin
    # A node is up while it greets: the check's PROXY header gets keepftpd's banner.
    option tcp-check
    tcp-check expect rstring ^220
{servers}
{passive}"""

PASSIVE_CFG = """
# {name}'s passive ports: raw TCP (no PROXY header), to the port the client asked for.
frontend {name}_passive
    bind {front}:{lo}-{hi}
    default_backend {name}_passive

backend {name}_passive
    server {name} {addr}
"""


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def listening(pid, addr, port):
    """Whether a socket in process pid's network namespace listens on addr:port (IPv4)."""
    want = "%08X:%04X" % (int.from_bytes(bytes(map(int, addr.split("."))), "little"), port)
    try:
        with open(f"/proc/{pid}/net/tcp") as f:
            return any(line.split()[1] == want and line.split()[3] == "0A"
                       for line in list(f)[1:])
    except FileNotFoundError:
        return False


class Site:
    """The namespaces, the balancer and the two nodes; stop() removes every trace."""

    def __init__(self, base, options=None, routed=False):
        self.base = base
        self.tag = "kftp" + uuid.uuid4().hex[:8]  # this run's namespaces: no other run's
        self.ns = {k: f"{self.tag}-{k}" for k in ("client", "balancer", "node1", "node2")}
        self.procs = {}
        self.logs = {}
        try:
            self._network(routed)
            self.tree = Tree(os.path.join(base, "shared"))
            for name in NODES:
                self._node(name, options or {})
            self._balancer()
        except BaseException:
            self.stop()
            raise

    def _network(self, routed):
        for ns in self.ns.values():
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "lo", "up")
        b, c = self.ns["balancer"], self.ns["client"]
        ip("link", "add", "eth0", "netns", c, "type", "veth", "peer", "name", "front", "netns", b)
        ip("-n", b, "link", "add", "br0", "type", "bridge")
        for i, name in enumerate(NODES, 1):
            ip("link", "add", "eth0", "netns", self.ns[name], "type", "veth", "peer", "name",
               f"node{i}", "netns", b)
            ip("-n", b, "link", "set", f"node{i}", "master", "br0", "up")
            ip("-n", self.ns[name], "addr", "add", NODES[name][0] + "/24", "dev", "eth0")
            ip("-n", self.ns[name], "link", "set", "eth0", "up")
        ip("-n", c, "addr", "add", CLIENT + "/24", "dev", "eth0")
        ip("-n", c, "link", "set", "eth0", "up")
        ip("-n", b, "addr", "add", BALANCER_FRONT + "/24", "dev", "front")
        ip("-n", b, "addr", "add", BALANCER_BACK + "/24", "dev", "br0")
        ip("-n", b, "link", "set", "front", "up")
        ip("-n", b, "link", "set", "br0", "up")
        self.route(routed)

    def route(self, on):
        """routed: the balancer forwards packets too, so the client and the nodes reach each
        other directly (a router in front of the nodes); otherwise only HAProxy joins them."""
        b = self.ns["balancer"]
        subprocess.run(["ip", "netns", "exec", b, "sysctl", "-qw",
                        f"net.ipv4.ip_forward={1 if on else 0}"], check=True)
        if on:
            ip("-n", self.ns["client"], "route", "add", "10.89.1.0/24", "via", BALANCER_FRONT)
            for name in NODES:
                ip("-n", self.ns[name], "route", "add", "default", "via", BALANCER_BACK)

    def _start(self, key, enter, argv, addr, port):
        log = open(os.path.join(self.base, f"{key}.log"), "wb")
        self.logs[key] = log
        self.procs[key] = p = subprocess.Popen(
            enter + argv, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, JOURNALD=JOURNALD))
        deadline = time.time() + 15
        while not listening(p.pid, addr, port):
            if p.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{key} does not listen on {addr}:{port}:\n" + self.output(key))
            time.sleep(0.02)

    def _node(self, name, options):
        addr, lo, hi, _ = NODES[name]
        jdir = os.path.join(self.base, name + "-journal")
        os.makedirs(os.path.join(jdir, "log"))
        with open(os.path.join(jdir, "journald.conf"), "w") as f:
            f.write(JOURNALD_CONF)
        settings = {
            "anonymous_enable": "YES", "anon_root": self.tree.anon,
            "nopriv_user": "kftp-nopriv", "secure_chroot_dir": self.tree.empty,
            "login_state_dir": os.path.join(self.base, name + "-state"),
            "write_enable": "YES", "anon_upload_enable": "YES", "anon_umask": "022",
            "proxy_protocol": "YES", "proxy_trusted_addresses": BALANCER_BACK,
            "pasv_address": BALANCER_FRONT, "pasv_min_port": lo, "pasv_max_port": hi,
        }
        settings.update(options.get(name, options.get("all", {})))
        config = os.path.join(self.base, name + ".conf")
        with open(config, "w") as f:
            f.write("".join(f"{k}={v}\n" for k, v in settings.items() if v is not None))
        os.chmod(config, 0o644)
        # Its own journald in a mount namespace of its own (as test_service does), so that
        # each node's records can be told apart. nsenter rather than `ip netns exec`, which
        # mounts a new /sys without the cgroup hierarchy journald needs.
        self._start(name, ["nsenter", f"--net=/run/netns/{self.ns[name]}", "--"],
                    ["unshare", "--mount", "--propagation", "private", "--",
                     "bash", "-c", NAMESPACE_SCRIPT, "keepftpd-node", jdir,
                     "systemd-socket-activate", "-l", f"{addr}:21", "-a", "--inetd",
                     KEEPFTPD, "--config", config], addr, 21)

    def _balancer(self):
        servers = "\n".join(f"    server {name} {addr}:21 {proxy} check inter 2s"
                            for name, (addr, _, _, proxy) in NODES.items())
        passive = "".join(PASSIVE_CFG.format(name=name, front=BALANCER_FRONT, lo=lo, hi=hi,
                                             addr=addr)
                          for name, (addr, lo, hi, _) in NODES.items())
        self.stats = os.path.join(self.base, "haproxy.sock")
        self.haproxy_cfg = HAPROXY_CFG.format(front=BALANCER_FRONT, servers=servers,
                                              passive=passive, stats=self.stats)
        cfg = os.path.join(self.base, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(self.haproxy_cfg)
        subprocess.run([require("haproxy"), "-c", "-q", "-f", cfg], check=True)
        self._start("haproxy", ["ip", "netns", "exec", self.ns["balancer"]], ["haproxy", "-db", "-f", cfg],
                    BALANCER_FRONT, 21)

    def server_states(self):
        """HAProxy's view of the control port's nodes: {name: "UP" or "DOWN" ...}."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.stats)
            s.sendall(b"show stat\n")
            text = b""
            while chunk := s.recv(65536):
                text += chunk
        rows = [line.split(",") for line in text.decode().splitlines() if line]
        status = rows[0].index("status")  # the header: "# pxname,svname,...,status,..."
        return {r[1]: r[status] for r in rows[1:] if r[0] == "ftp_nodes" and r[1] in NODES}

    def output(self, key):
        log = self.logs[key]
        if not log.closed:
            log.flush()
        with open(log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def client(self, script, ns="client", **args):
        """Runs a Python script in a namespace with ARGS (a dict) and CLIENT_PRELUDE's helpers;
        returns what it printed as JSON."""
        r = subprocess.run(["ip", "netns", "exec", self.ns[ns], "python3", "-c",
                            CLIENT_PRELUDE + script, json.dumps(args)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(r.stdout)

    def journal(self, name):
        return journal_records(os.path.join(self.base, name + "-journal", "log", "journal"))[0]

    def stop(self):
        for p in self.procs.values():
            end_process_group(p)
        for ns in self.ns.values():
            # Whatever still runs in a namespace of ours (a session that outlived its
            # superserver) goes with it.
            pids = ip("netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            ip("netns", "del", ns, check=False)
        for log in self.logs.values():
            log.close()


# Helpers for the scripts run in the client's namespace: ARGS, and an ftplib client that can
# use EPSV on IPv4 and takes PASV's address as given (ftplib would use the control
# connection's instead, hiding what pasv_address says).
CLIENT_PRELUDE = r"""
import ftplib, hashlib, io, json, socket, sys
ARGS = json.loads(sys.argv[1])

class FTP(ftplib.FTP):
    trust_server_pasv_ipv4_address = True
    def __init__(self, epsv=False, host=None, port=21):
        super().__init__(timeout=30)
        self.epsv = epsv
        self.replies = []
        self.connect(host or ARGS.get("host", "%s"), port)
        self.login()
    data_peers = []
    def ntransfercmd(self, cmd, rest=None):
        conn, size = super().ntransfercmd(cmd, rest)
        self.data_peers = self.data_peers + [conn.getpeername()[0]]
        return conn, size
    def makepasv(self):
        if self.epsv:
            reply = self.sendcmd("EPSV")
            self.replies.append(reply)
            return ftplib.parse229(reply, self.sock.getpeername())
        reply = self.sendcmd("PASV")
        self.replies.append(reply)
        return ftplib.parse227(reply)

def sha256(data):
    return hashlib.sha256(data).hexdigest()

def download(ftp, path):
    out = io.BytesIO()
    ftp.retrbinary("RETR " + path, out.write)
    return out.getvalue()
""" % BALANCER_FRONT


@pytest.fixture
def make_site():
    require("haproxy")
    require("ip")
    sites = []
    base = tempfile.mkdtemp(prefix="keepftpd-multinode-", dir="/tmp")
    os.chmod(base, 0o755)

    def make(options=None, routed=False):
        d = os.path.join(base, str(len(sites)))
        os.makedirs(d)
        os.chmod(d, 0o755)
        sites.append(Site(d, options, routed))
        return sites[-1]

    yield make
    for s in sites:
        s.stop()
        for key in s.logs:  # shown by pytest when a test fails
            print(f"---- {key} ----\n{s.output(key)}")
    shutil.rmtree(base, ignore_errors=True)


def served_by(site, command, path):
    """The nodes whose journal has a successful transfer record for command and path."""
    return [name for name in NODES
            if any(r.get("FTP_COMMAND") == command and r.get("FTP_PATH") == path
                   and r.get("FTP_RESULT") == "ok" for r in site.journal(name))]


def wait_for(predicate, timeout=10):
    deadline = time.time() + timeout
    while not predicate() and time.time() < deadline:
        time.sleep(0.1)
    return predicate()


def test_uploads_and_downloads_cross_the_nodes_in_passive_and_extended_passive_mode(make_site):
    site = make_site()
    data_a, data_b = os.urandom(1 << 20), os.urandom(1 << 20) + b"b"
    files = {}
    for key, data in (("a", data_a), ("b", data_b)):
        files[key] = os.path.join(site.base, key + ".bin")
        with open(files[key], "wb") as f:
            f.write(data)
    # Three connections, which the balancer gives to node1, node2, node1 (or the other way):
    # an upload by PASV, then its download by PASV and another upload by EPSV, then that
    # download by EPSV.
    out = site.client("""
a, b = open(ARGS["a"], "rb").read(), open(ARGS["b"], "rb").read()
result = {}
f = FTP()
f.storbinary("STOR pub/incoming/a.bin", io.BytesIO(a))
result["pasv1"] = f.replies[-1]
f.quit()
f = FTP()
result["a"] = sha256(download(f, "pub/incoming/a.bin"))
f.epsv = True
f.storbinary("STOR pub/incoming/b.bin", io.BytesIO(b))
result["replies2"] = f.replies
f.quit()
f = FTP(epsv=True)
result["b"] = sha256(download(f, "pub/incoming/b.bin"))
result["epsv3"] = f.replies[-1]
f.quit()
print(json.dumps(result))
""", **files)
    assert out["a"] == hashlib.sha256(data_a).hexdigest()
    assert out["b"] == hashlib.sha256(data_b).hexdigest()
    with open(site.tree.path("pub/incoming/b.bin"), "rb") as f:
        assert f.read() == data_b
    # PASV names the balancer (pasv_address), with a port from the node's own range;
    # EPSV names only a port, and the client uses the address it connected to.
    assert out["pasv1"].startswith("227 Entering Passive Mode (10,89,0,1,"), out
    assert out["replies2"][0].startswith("227 Entering Passive Mode (10,89,0,1,"), out
    assert out["replies2"][1].startswith("229 "), out
    assert out["epsv3"].startswith("229 "), out

    # Each transfer happened on the node the balancer chose: the upload on one, its download
    # on the other.
    assert wait_for(lambda: all(served_by(site, c, p) for c, p in (
        ("STOR", "/pub/incoming/a.bin"), ("RETR", "/pub/incoming/a.bin"),
        ("STOR", "/pub/incoming/b.bin"), ("RETR", "/pub/incoming/b.bin")))), \
        {name: [(r.get("FTP_COMMAND"), r.get("FTP_PATH"), r.get("FTP_RESULT"), r.get("MESSAGE"))
                for r in site.journal(name)] for name in NODES}
    first = served_by(site, "STOR", "/pub/incoming/a.bin")
    second = served_by(site, "RETR", "/pub/incoming/a.bin")
    assert len(first) == 1 and len(second) == 1 and first != second
    assert served_by(site, "STOR", "/pub/incoming/b.bin") == second
    assert served_by(site, "RETR", "/pub/incoming/b.bin") == first
    for name in NODES:
        records = site.journal(name)
        messages = [r.get("MESSAGE") for r in records]
        assert any(f"PROXY header: client {CLIENT} port " in m and
                   f"through {BALANCER_BACK}" in m for m in messages), messages
        # From the PROXY header's own record on, every record names the client, never the
        # balancer (the session's first record is the connection's, from the balancer).
        logins = [r for r in records if r.get("FTP_COMMAND") == "PASS"]
        transfers = [r for r in records if r.get("FTP_COMMAND") in ("STOR", "RETR")]
        assert logins and transfers, messages
        for session in {r["FTP_SESSION"] for r in logins}:
            seen_header = False
            for r in records:
                if r.get("FTP_SESSION") != session:
                    continue
                seen_header = seen_header or "PROXY header: client" in r["MESSAGE"]
                assert r["REMOTE_ADDR"] == (CLIENT if seen_header else BALANCER_BACK), r
    # HAProxy's health checks get keepftpd's banner: with send-proxy the check's header names
    # the balancer itself, with send-proxy-v2 it is a LOCAL one; both nodes stay up.
    checks = {"node1": f"PROXY header: client {BALANCER_BACK} port ",
              "node2": f"PROXY header LOCAL from {BALANCER_BACK} (a health check)"}
    assert wait_for(lambda: all(any(checks[name] in r.get("MESSAGE", "")
                                    for r in site.journal(name)) for name in NODES))
    assert site.server_states() == {"node1": "UP", "node2": "UP"}


def test_a_forged_proxy_header_from_an_untrusted_peer_is_refused(make_site):
    # The client reaches node1 directly (the balancer routes too) and sends a PROXY header
    # claiming another address: node1 closes the connection without a byte.
    site = make_site(routed=True)
    addr = NODES["node1"][0]
    out = site.client("""
s = socket.create_connection((ARGS["node"], 21), timeout=30)
s.sendall(("PROXY TCP4 10.89.1.1 %s 40000 21\\r\\n" % ARGS["node"]).encode())
received = b""
try:
    while chunk := s.recv(4096):
        received += chunk
except ConnectionResetError:  # closed with the header unread
    pass
print(json.dumps(received.decode(errors="replace")))
""", node=addr)
    assert out == ""  # not even a banner
    assert wait_for(lambda: any(
        r.get("MESSAGE") == f"connection from {CLIENT} refused: not in proxy_trusted_addresses "
                            "(proxy_protocol=YES)" for r in site.journal("node1")))
    assert not any(r.get("FTP_COMMAND") == "PASS" for r in site.journal("node1"))


def test_a_passive_data_connection_from_another_host_than_the_balancer_is_refused(make_site):
    # Even from a trusted address: only the balancer that carries the session's control
    # connection may stand in for the client on its data connections.
    site = make_site({"all": {"proxy_trusted_addresses": "10.89.1.0/24"}})
    client = subprocess.Popen(
        ["ip", "netns", "exec", site.ns["client"], "python3", "-c", CLIENT_PRELUDE + """
f = FTP()
f.sendcmd("TYPE I")
print(ftplib.parse227(f.sendcmd("PASV"))[1], flush=True)
sys.stdin.readline()
try:
    f.sendcmd("RETR pub/hello.txt")
except ftplib.Error as e:
    print(str(e), flush=True)
""", "{}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(client.stdout.readline())
        node, other = ("node1", "node2") if port <= NODES["node1"][2] else ("node2", "node1")
        # A host next to the nodes connects to the passive port first.
        thief = subprocess.Popen(
            ["ip", "netns", "exec", site.ns[other], "python3", "-c", """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
print("connected", flush=True)
data = b""
while chunk := s.recv(4096):
    data += chunk
print(len(data), flush=True)
""", NODES[node][0], str(port)], stdout=subprocess.PIPE, text=True)
        assert thief.stdout.readline() == "connected\n"
        client.stdin.write("go\n")
        client.stdin.flush()
        assert client.stdout.readline() == "425 Security: Bad IP connecting.\n"
        assert thief.stdout.readline() == "0\n"  # closed, with nothing sent
        thief.wait(30)
    finally:
        client.kill()
        client.wait()
    assert any(r.get("MESSAGE", "").startswith(
        f"refused a passive data connection from {NODES[other][0]}: "
        "it is neither the client's address nor its balancer's") for r in site.journal(node))


def test_active_mode_needs_a_route_from_the_nodes_to_the_client(make_site):
    # HAProxy carries no connection a node makes to the client: PORT works only where the
    # nodes can reach the client's own address.
    site = make_site()
    script = """
result = []
for i in range(2):
    f = FTP()
    f.set_pasv(False)
    try:
        result.append([sha256(download(f, "pub/hello.txt")), f.data_peers])
    except ftplib.Error as e:
        result.append([str(e), f.data_peers])
    f.quit()
print(json.dumps(result))
"""
    assert site.client(script) == [["425 Failed to establish connection.", []]] * 2
    site.route(True)
    hello = hashlib.sha256(b"Hello from keepftpd.\n").hexdigest()
    got = site.client(script)
    # Both nodes (in turn), each connecting from its own address.
    assert sorted(got) == sorted([[hello, [NODES["node1"][0]]], [hello, [NODES["node2"][0]]]])
