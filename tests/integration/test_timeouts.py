"""Idle sessions, stalled data connections and clients that never connect end on time."""

import socket
import time


def test_idle_session_timeout_before_login(make_server):
    s = make_server({"idle_session_timeout": "1"})
    c = s.raw()
    c.reply()
    code, lines = c.reply()  # waits for the server
    assert code == 421
    assert c.closed()


def test_idle_session_timeout_after_login(make_server):
    s = make_server({"idle_session_timeout": "1"})
    c = s.raw().login()
    code, lines = c.reply()
    assert code == 421 and "Timeout" in lines[0]
    assert c.closed()


def test_stalled_data_connection_times_out(make_server):
    s = make_server({"data_connection_timeout": "1"})
    ftp = s.ftp(timeout=30)
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR pub/big.sparse")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # Never read: the server's writes stall, and it must give up.
    reply = ftp.getline()
    assert reply.startswith("421"), reply
    assert "Data timeout" in reply
    conn.close()


def test_accept_timeout(make_server):
    s = make_server({"accept_timeout": "1"})
    c = s.raw().login()
    assert c.cmd("PASV")[0] == 227
    start = time.monotonic()
    code, _ = c.cmd("RETR pub/hello.txt")  # the client never connects
    assert code == 425
    assert time.monotonic() - start < 20
    assert c.cmd("NOOP")[0] == 200


def test_active_connection_refused(make_server):
    s = make_server()
    c = s.raw().login()
    with socket.socket() as closed_port:
        closed_port.bind(("127.0.0.1", 0))
        port = closed_port.getsockname()[1]
    assert c.cmd(f"PORT 127,0,0,1,{port // 256},{port % 256}")[0] == 200
    code, _ = c.cmd("RETR pub/hello.txt")
    assert code == 425
    assert c.cmd("NOOP")[0] == 200


def test_connect_timeout_for_active_mode(make_server):
    # A listener whose backlog is full drops new SYNs: the server's connect() hangs until
    # connect_timeout (default 60 s) ends it.
    s = make_server({"connect_timeout": "1"})
    c = s.raw().login()
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    port = blackhole.getsockname()[1]
    fillers = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.1", port))
        fillers.append(f)
    time.sleep(0.2)
    assert c.cmd(f"PORT 127,0,0,1,{port // 256},{port % 256}")[0] == 200
    start = time.monotonic()
    code, _ = c.cmd("RETR pub/hello.txt")
    assert code == 425
    assert time.monotonic() - start < 30
    assert c.cmd("NOOP")[0] == 200
    for f in fillers:
        f.close()
    blackhole.close()
