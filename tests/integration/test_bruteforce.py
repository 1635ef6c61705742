"""Password guessing across connections: every connection is its own processes, so the monitors
share a table of failed logins (login_state_dir). The failure delay grows with the recent
failures from the address or for the user name; enough failures from one address ban it, and
later connections from it get 421 before anything they send is read. 127.0.0.2 is another
client on the same machine."""

import os
import socket
import stat
import time

import pytest

from test_ftps import cert, client_context  # noqa: F401 (a fixture)

ALICE = "kftp-alice"


@pytest.fixture
def local_server(make_server, local_users):
    def make(options=None, **kw):
        settings = {"local_enable": "YES", "anonymous_enable": "NO", "delay_failed_login": "0",
                    "max_login_fails": "1"}
        settings.update(options or {})
        return make_server(settings, **kw)
    return make


def fail_once(server, user=ALICE, source=None):
    """One connection, one wrong password: returns (reply code, seconds PASS took, closed)."""
    c = server.raw(source=source)
    assert c.reply()[0] == 220
    assert c.cmd(f"USER {user}")[0] == 331
    start = time.monotonic()
    code = c.cmd("PASS wrong-guess")[0]
    took = time.monotonic() - start
    closed = c.closed(timeout=5)
    c.close()
    return code, took, closed


def greeting(server, source=None):
    """The first reply a new connection gets, and whether the server then closes it."""
    c = server.raw(source=source)
    code, lines = c.reply()
    closed = c.closed(timeout=2)
    c.close()
    return code, lines, closed


def test_many_connections_in_a_row_end_in_a_ban(local_server):
    s = local_server({"ban_max_login_fails": "5"})
    results = [fail_once(s) for _ in range(5)]
    assert [r[0] for r in results] == [530] * 5
    # From now on every connection from the address is refused at once, the right password too.
    for _ in range(20):
        code, lines, closed = greeting(s)
        assert code == 421 and closed
        assert "Too many failed logins" in lines[0]
    c = s.raw()
    assert c.reply()[0] == 421
    c.close()
    # Another address is not affected.
    code, _, _ = greeting(s, source="127.0.0.2")
    assert code == 220
    out = s.output()
    assert "banning 127.0.0.1 for 900 seconds after 5 failed logins" in out
    assert out.count("connection from 127.0.0.1 refused: banned for") == 21
    assert "wrong-guess" not in out


def test_the_ban_ends_after_ban_time(local_server, local_users):
    s = local_server({"ban_max_login_fails": "2", "ban_time": "2"})
    fail_once(s)
    fail_once(s)
    assert greeting(s)[0] == 421
    time.sleep(2.5)
    ftp = s.ftp(login=False)
    ftp.login(ALICE, local_users.users[ALICE]["password"])
    assert ftp.pwd() == local_users.users[ALICE]["home"]
    ftp.quit()


def test_a_ban_closes_the_addresses_other_open_connections(local_server):
    s = local_server({"ban_max_login_fails": "3", "max_login_fails": "10"})
    waiting = s.raw()
    assert waiting.reply()[0] == 220
    assert waiting.cmd(f"USER {ALICE}")[0] == 331
    for _ in range(3):
        fail_once(s)
    # The connection opened before the ban may not go on guessing.
    assert waiting.cmd("PASS another-guess")[0] == 530
    assert waiting.closed()
    assert "the address is banned; closing the connection" in s.output()


def test_the_delay_grows_with_failures_from_the_address_and_for_the_name(make_server, tree):
    # Anonymous logins with a banned password: refused by keepftpd itself, so no PAM module's
    # own failure delay (pam_unix waits about 2 s, at random) blurs the measurement.
    banned = os.path.join(tree.base, "banned_emails")
    with open(banned, "w") as f:
        f.write("bad@example.org\n")
    s = make_server({"deny_email_enable": "YES", "banned_email_file": banned,
                     "delay_failed_login": "1", "max_delay_failed_login": "2",
                     "ban_max_login_fails": "0", "max_login_fails": "1"})

    def fail(user="anonymous", source=None):
        c = s.raw(source=source)
        assert c.reply()[0] == 220
        assert c.cmd(f"USER {user}")[0] == 331
        start = time.monotonic()
        assert c.cmd("PASS bad@example.org")[0] == 530
        took = time.monotonic() - start
        assert c.closed()
        c.close()
        return took

    first, second, third = fail(), fail(), fail()
    assert first >= 0.95
    assert second >= 1.95  # 2 x delay_failed_login
    assert 1.95 <= third < 2.95  # no more than max_delay_failed_login
    # Another address guessing the same name waits as long: the name's failures count too.
    assert fail(source="127.0.0.2") >= 1.95
    # Another address and another name start from delay_failed_login again.
    assert fail(user="ftp", source="127.0.0.3") < 1.95


def test_an_empty_login_state_dir_remembers_nothing(local_server):
    s = local_server({"ban_max_login_fails": "1", "login_state_dir": ""})
    for _ in range(3):
        assert fail_once(s)[0] == 530
    assert greeting(s)[0] == 220
    assert "banning" not in s.output()


def test_the_state_is_private_to_root(local_server, tree):
    s = local_server({"ban_max_login_fails": "3"})
    fail_once(s)
    state = os.path.join(tree.base, "state")
    st = os.stat(state)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700)
    st = os.stat(os.path.join(state, "logins"))
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600)
    with open(os.path.join(state, "logins"), "rb") as f:
        assert ALICE.encode() not in f.read()  # names only as hashes


def test_a_state_dir_others_can_write_is_refused_and_logged(local_server, tree):
    state = os.path.join(tree.base, "open-state")
    os.mkdir(state)
    os.chmod(state, 0o777)
    s = local_server({"ban_max_login_fails": "1", "login_state_dir": state})
    assert fail_once(s)[0] == 530
    assert greeting(s)[0] == 220  # served without the table, not banned by a table others wrote
    assert "must not be writable by group or others" in s.output()
    assert not os.path.exists(os.path.join(state, "logins"))


def test_a_banned_address_gets_no_tls_handshake_either(local_server, cert):
    # Implicit FTPS: the banned client's connection is closed, with no 421 in plaintext.
    s = local_server({"ban_max_login_fails": "1", "ssl_enable": "YES", "implicit_ssl": "YES",
                      **cert})
    tls = client_context().wrap_socket(socket.create_connection((s.host, s.port), timeout=10))
    f = tls.makefile("rb")
    assert f.readline().startswith(b"220")
    tls.sendall(f"USER {ALICE}\r\n".encode())
    assert f.readline().startswith(b"331")
    tls.sendall(b"PASS wrong\r\n")
    assert f.readline().startswith(b"530")
    tls.close()
    raw = socket.create_connection((s.host, s.port), timeout=10)
    assert raw.recv(100) == b""
    raw.close()
    assert "refused: banned for" in s.output()
