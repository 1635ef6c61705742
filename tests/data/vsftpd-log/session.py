"""The FTP session behind this directory's logs: run against vsftpd 3.0.3 to make them
(`python3 session.py HOST PORT`), and against keepftpd by tests/integration/test_vsftpd_log.py.
One function per connection, so that a caller can wait for each one's lines."""
import ftplib
import io
import sys


def connect(host, port):
    f = ftplib.FTP()
    f.connect(host, port, timeout=10)
    return f


def expect_error(fn, *args):
    try:
        fn(*args)
    except ftplib.error_perm:
        return
    raise AssertionError(f"no error for {args}")


def anonymous(host, port):
    f = connect(host, port)
    f.login("anonymous", "guest@example.com")
    f.retrbinary("RETR pub/hello.txt", lambda b: None)
    expect_error(f.retrbinary, "RETR pub/missing.txt", lambda b: None)
    f.storbinary("STOR pub/incoming/up.txt", io.BytesIO(b"x" * 3000))
    expect_error(f.storbinary, "STOR pub/up.txt", io.BytesIO(b"y"))
    f.storbinary("STOR pub/incoming/empty.txt", io.BytesIO(b""))
    f.mkd("pub/incoming/d1")
    expect_error(f.mkd, "pub/d2")
    f.rmd("pub/incoming/d1")
    expect_error(f.rmd, "pub/nodir")
    f.rename("pub/incoming/up.txt", "pub/incoming/up2.txt")
    expect_error(f.rename, "pub/incoming/none.txt", "pub/incoming/x.txt")
    f.delete("pub/incoming/up2.txt")
    expect_error(f.delete, "pub/hello.txt")
    f.quit()


def local(host, port):
    f = connect(host, port)
    expect_error(f.login, "kftp-alice", "wrong")
    f.login("kftp-alice", "alice-secret")
    f.storbinary("STOR a.txt", io.BytesIO(b"z" * 10))
    f.sendcmd("SITE CHMOD 600 a.txt")
    expect_error(f.sendcmd, "SITE CHMOD 600 nofile.txt")
    f.quit()


def refused(user, password):
    def run(host, port):
        f = connect(host, port)
        expect_error(f.login, user, password)
        f.close()
    return run


# kftp-denied is in the user list (userlist_deny), kftp-nosuch has no account, and
# bad@example.com is in banned_email_file (deny_email_enable).
CONNECTIONS = [anonymous, local, refused("kftp-denied", "x"), refused("kftp-nosuch", "x"),
               refused("anonymous", "bad@example.com")]

if __name__ == "__main__":
    for connection in CONNECTIONS:
        connection(sys.argv[1], int(sys.argv[2]))
