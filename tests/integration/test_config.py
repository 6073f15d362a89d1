"""Configuration behaviour end to end: which files are read and which wins,
library traps (a trailing ';', ${VAR}), errors with true lines and man-page
pointers, and the connection keys: proxy (Socks5Proxy, raw_servers.py),
source_ip, the connect timeout; syslog; --version and the argv[0] names.
"""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from mailout_run import (EX_CONFIG, EX_OK, EX_TEMPFAIL, account_block, full_message,
                         line_number_re, relay_config, relay_settings)
from mailout_run import queued

RCPT = "rcpt@example.com"


def show(mailout, args=(), **kw):
    """--show-config: (result, {key: value}) for the account part."""
    res = mailout.run(["--show-config", *args], **kw)
    keys = {}
    for line in res.stdout.splitlines():
        m = re.match(r"\s+(\w+)\s+= (.*)$", line)
        if m:
            keys[m.group(1)] = m.group(2)
        m = re.match(r'account "([^"]+)"', line)
        if m:
            keys["(account)"] = m.group(1)
    return res, keys


# ---- which files are read ----

def user_file(mailout, text):
    d = mailout.home / ".config" / "mailout"
    d.mkdir(parents=True, exist_ok=True)
    p = d / "config"
    p.write_text(text)
    os.chmod(p, 0o600)
    return p


def test_user_file_is_read_from_xdg_config_home(mailout):
    p = user_file(mailout, '# user file\naccount "u" {\n  host = "user.example"\n}\n')
    res, keys = show(mailout, env={"MAILOUT_CONFIG": None})
    assert res.rc == EX_OK, res
    assert keys["host"] == '"user.example"' and str(p) in res.stdout, res


def test_user_file_errors_name_it_and_the_true_line(mailout):
    p = user_file(mailout, '# one\n# two\naccount "u" {\n  host = "h"\n  port = 0x19\n}\n')
    res = mailout.run(["--show-config"], env={"MAILOUT_CONFIG": None})
    assert res.rc == EX_CONFIG and line_number_re(p, 5).search(res.stderr), res


def test_mailout_config_replaces_the_user_file_and_dash_c_replaces_both(mailout):
    user_file(mailout, 'account "u" {\n  host = "user.example"\n}\n')
    env_conf = mailout.write_config('account "e" {\n  host = "env.example"\n}\n')
    c_conf = mailout.write_config('account "c" {\n  host = "c.example"\n}\n')
    res, keys = show(mailout, env={"MAILOUT_CONFIG": str(env_conf)})
    assert res.rc == EX_OK and keys["(account)"] == "e", res
    assert "user.example" not in res.stdout
    res, keys = show(mailout, config_file=c_conf, env={"MAILOUT_CONFIG": str(env_conf)})
    assert res.rc == EX_OK and keys["(account)"] == "c", res


def test_missing_mailout_config_file_is_an_error(mailout):
    res = mailout.run(["--show-config"], env={"MAILOUT_CONFIG": str(mailout.tmp / "nope")})
    assert res.rc == EX_CONFIG and "nope" in res.stderr, res


def sysconfdir(mailout):
    """SYSCONFDIR of the binary: from --show-config when a system file exists,
    else from the message that says where to add an account."""
    env = {"MAILOUT_CONFIG": None, "XDG_CONFIG_HOME": str(mailout.tmp / "no-xdg")}
    res = mailout.run(["--show-config"], env=env)
    m = re.search(r"^configuration files: (\S+)/mailout\.conf\b", res.stdout, re.M)
    if m:
        return m.group(1)
    res = mailout.run(["someone@example.com"], full_message(), env=env)
    m = re.search(r" or (\S+)/mailout\.conf", res.stderr)
    assert m, res
    return m.group(1)


def run_with_system_file(mailout, text, args):
    """Run mailout with text as SYSCONFDIR/mailout.conf, shown in a private
    mount namespace (Mailout.host_guard), so the real one is never read or
    written."""
    etc = sysconfdir(mailout)
    if not os.path.isdir(etc):
        pytest.skip("SYSCONFDIR {} does not exist to mount over".format(etc))
    f = mailout.tmp / "system-mailout.conf"
    f.write_text(text)
    os.chmod(f, 0o600)
    env = mailout.env({"MAILOUT_CONFIG": None})
    cmd = [mailout.bin, *args]
    guard = mailout.host_guard(env, cmd, system_file=f, sysconfdir=etc)
    p = subprocess.run(guard + cmd, capture_output=True, env=env, timeout=30, cwd=str(mailout.tmp))
    return p, os.path.join(etc, "mailout.conf")


SYSTEM = """# system file
default_account = "shared"
logfile = "/nonexistent/system.log"
defaults {
  tls = smtps
  timeout = 17
}
account "shared" {
  host = "system.example"
  from = "system@example.com"
}
account "sysonly" {
  host = "sysonly.example"
}
"""

USER = """# user file
default_account = "shared"
account "shared" {
  host = "user.example"
}
"""


def parse_show(out):
    keys, account = {}, None
    for line in out.splitlines():
        m = re.match(r"\s+(\w+)\s+= (.*)$", line)
        if m:
            keys[m.group(1)] = m.group(2)
        m = re.match(r'account "([^"]+)"', line)
        if m:
            account = m.group(1)
    return account, keys


def test_system_file_then_user_file(mailout):
    user_file(mailout, USER)
    p, sysfile = run_with_system_file(mailout, SYSTEM, ["--show-config"])
    out = p.stdout.decode()
    assert p.returncode == 0, p
    assert sysfile in out and "mailout/config" in out, out
    account, keys = parse_show(out)
    # the user account replaces the system one as a whole (no "from" merged)
    assert account == "shared" and keys["host"] == '"user.example"', out
    assert keys["from"] == "(not set)", out
    # the system defaults still apply to accounts of the user file
    assert keys["tls"] == "smtps" and keys["timeout"] == "17", out
    # a global key of the system file stays unless the user file sets it
    assert "/nonexistent/system.log" in keys["logfile"], out
    # system accounts the user file does not replace stay available
    p, _ = run_with_system_file(mailout, SYSTEM, ["--show-config", "--account", "sysonly"])
    assert p.returncode == 0 and '"sysonly.example"' in p.stdout.decode(), p


def test_system_file_alone_and_dash_c_replacing_it(mailout):
    p, sysfile = run_with_system_file(mailout, SYSTEM, ["--show-config"])
    account, keys = parse_show(p.stdout.decode())
    assert p.returncode == 0 and account == "shared" and keys["host"] == '"system.example"', p
    conf = mailout.write_config('account "c" {\n  host = "c.example"\n}\n')
    p, _ = run_with_system_file(mailout, SYSTEM, ["-C", str(conf), "--show-config"])
    account, keys = parse_show(p.stdout.decode())
    assert p.returncode == 0 and account == "c" and sysfile not in p.stdout.decode(), p


def test_system_file_error_names_it(mailout):
    p, sysfile = run_with_system_file(mailout, "# c\n\nbogus = 1\n", ["--show-config"])
    assert p.returncode == EX_CONFIG and "{}:3:".format(sysfile) in p.stderr.decode(), p


# ---- library traps ----

def test_unquoted_value_with_trailing_semicolon_is_refused(mailout, server):
    text = relay_config(server) + 'account "b" {\n  host = "h"\n  user = me;\n}\n'
    conf = mailout.write_config(text)
    line = text.splitlines().index("  user = me;") + 1
    res = mailout.run([RCPT], full_message(), config_file=conf)
    assert res.rc == EX_CONFIG and line_number_re(conf, line).search(res.stderr), res
    assert "';'" in res.stderr and "mailout.conf(5)" in res.stderr, res
    assert server.received_nothing()


def test_quoted_value_may_end_in_semicolon(smtpd, send):
    srv = smtpd("plain", auth=True, password="pass;word;")
    res = send(srv, [RCPT], full_message(), auth="plain")
    assert res.rc == EX_OK and srv.messages[0].auth.password == "pass;word;", res


def test_user_and_password_from_environment_variables(smtpd, mailout):
    srv = smtpd("plain", auth=True, user="env-user", password="env-Pa55")
    text = relay_config(srv, user=None, password=None, auth="plain")
    text = text.replace("  auth = plain\n", "  auth = plain\n  user = ${MO_TEST_USER}\n"
                        '  password = "${MO_TEST_PASSWORD}"\n')
    conf = mailout.write_config(text)
    res = mailout.run([RCPT], full_message(), config_file=conf,
                      env={"MO_TEST_USER": "env-user", "MO_TEST_PASSWORD": "env-Pa55"})
    assert res.rc == EX_OK, res
    assert (srv.messages[0].auth.login, srv.messages[0].auth.password) == \
        ("env-user", "env-Pa55")
    res, keys = show(mailout, config_file=conf, env={"MO_TEST_USER": "env-user",
                                                     "MO_TEST_PASSWORD": "env-Pa55"})
    assert keys["user"] == '"env-user"' and "env-Pa55" not in res.stdout, res


def test_unset_environment_variable_counts_as_set_and_empty(server, mailout):
    text = relay_config(server).replace('  domain = "client.example.test"\n',
                                        '  from_name = "${MO_TEST_UNSET}"\n')
    conf = mailout.write_config(text)
    res, keys = show(mailout, config_file=conf, env={"MO_TEST_UNSET": None})
    assert res.rc == EX_OK and keys["from_name"] == '""', res


def test_octal_looking_port_is_decimal(server, mailout):
    conf = mailout.write_config('account "a" {\n  host = "h"\n  port = 025\n}\n')
    res, keys = show(mailout, config_file=conf)
    assert res.rc == EX_OK and keys["port"] == "25", res


# ---- errors after parsing: true line and man page ----

def test_unclosed_account_section_is_an_error(mailout):
    conf = mailout.write_config('account "a" {\n  host = "h"\n}\n# c\n\naccount "b" {\n'
                                '  host = "h2"\n')
    res = mailout.run(["--show-config", "--account", "a"], config_file=conf)
    assert res.rc == EX_CONFIG and line_number_re(conf, 6).search(res.stderr), res
    assert '"b"' in res.stderr and "'}'" in res.stderr, res


@pytest.mark.parametrize("text,line,words", [
    ('# c\naccount "a" {\n  host = "h"\n  inherit = "b"\n}\n/* c\n */\naccount "b" {\n'
     '  inherit = "a"\n}\n', 9, ["cycle", "DEFAULTS AND ACCOUNTS"]),
    ('account "a" {\n  host = "h"\n\n  inherit = "nope"\n}\n', 4,
     ['"nope"', "DEFAULTS AND ACCOUNTS"]),
    ('# c\n# c\ndefault_account = "nope"\naccount "a" {\n  host = "h"\n}\n', 3,
     ['"nope"', "ACCOUNT SELECTION"]),
    ('account "a" {\n  host = "h"\n  proxy = "bogus://x"\n}\n', 3, ["bogus", "socks5h"]),
])
def test_errors_found_after_parsing_name_the_true_line(mailout, text, line, words):
    conf = mailout.write_config(text)
    res = mailout.run(["--show-config"], config_file=conf)
    assert res.rc == EX_CONFIG and line_number_re(conf, line).search(res.stderr), res
    for w in words:
        assert w in res.stderr, res


def test_account_choice_errors_point_at_the_man_page(mailout):
    conf = mailout.write_config('account "x" {\n  host = "h"\n}\naccount "y" {\n'
                                '  host = "h"\n}\n')
    res = mailout.run([RCPT], full_message(), config_file=conf)
    assert res.rc == EX_CONFIG and "mailout.conf(5), ACCOUNT SELECTION" in res.stderr, res
    res = mailout.run(["--account", "z", RCPT], full_message(), config_file=conf)
    assert res.rc == EX_CONFIG and "ACCOUNT SELECTION" in res.stderr, res
    assert '"z"' in res.stderr and "x, y" in res.stderr, res


# ---- proxy ----

def test_socks5_proxy_is_used(server, send, socks):
    proxy = socks()
    res = send(server, [RCPT], full_message(), proxy="socks5://127.0.0.1:%d" % proxy.port)
    assert res.rc == EX_OK, res
    assert proxy.requests == [("127.0.0.1", server.port)]
    assert len(server.messages) == 1


def test_socks5h_proxy_resolves_the_relay_name(server, send, socks):
    proxy = socks(hosts=["relay.mailout.invalid"])
    res = send(server, [RCPT], full_message(), host="relay.mailout.invalid",
               proxy="socks5h://127.0.0.1:%d" % proxy.port)
    assert res.rc == EX_OK, res
    assert proxy.requests == [("relay.mailout.invalid", server.port)]


def test_proxy_refusing_the_connection_is_named_and_temporary(server, send, refused_port):
    res = send(server, [RCPT], full_message(),
               proxy="socks5h://user:Proxy-Pw@127.0.0.1:%d" % refused_port.port)
    assert res.rc == EX_TEMPFAIL and server.received_nothing(), res
    assert "proxy socks5h://127.0.0.1:%d" % refused_port.port in res.stderr, res
    assert "Proxy-Pw" not in res.stderr, res


def test_socks_proxy_whose_name_does_not_resolve_is_named_and_temporary(server, send):
    """libcurl 7.88 reports it as the host not resolving: mailout blamed
    the relay, and with a relay name only the proxy can resolve said 68
    (the relay does not exist) and did not queue the message."""
    res = send(server, [RCPT], full_message(), host="relay.invalid",
               proxy="socks5h://u:Proxy-Pw@proxy.invalid:1080")
    assert res.rc == EX_TEMPFAIL and server.received_nothing(), res
    assert "cannot resolve proxy socks5h://proxy.invalid:1080" in res.stderr, res
    assert "Proxy-Pw" not in res.stderr, res


@pytest.mark.parametrize("proxy,shown", [
    ("socks5h://puser:Proxy-Pw9@127.0.0.1:1080", '"socks5h://127.0.0.1:1080"'),
    ("http://puser:Pro%2Fxy%23P@w9@proxy.example:3128", '"http://proxy.example:3128"'),
    ("socks5://127.0.0.1:1080", '"socks5://127.0.0.1:1080"')])
def test_show_config_hides_the_proxy_credentials(mailout, proxy, shown):
    """--show-config masks secrets (SPEC 1.2), the proxy's password too,
    also one with an '@' its writer did not percent-encode."""
    conf = mailout.write_config('account "a" {\n  host = "relay.example"\n'
                                '  proxy = "%s"\n}\n' % proxy)
    res, keys = show(mailout, ["-C", str(conf)])
    assert res.rc == EX_OK, res
    assert keys["proxy"].startswith(shown), res
    assert "puser" not in res.stdout and "Pw9" not in res.stdout and "Pro" not in res.stdout, res
    assert ("not shown" in keys["proxy"]) == ("@" in proxy), res


@pytest.mark.parametrize("proxy", ["http://user:Pro/xy-Pw9@127.0.0.1:1",
                                   "socks5h://user:Pro?xy-Pw9@127.0.0.1:1",
                                   "socks5h://user:Pro#xy-Pw9@127.0.0.1:1",
                                   "socks5h://user:Pro xy-Pw9@127.0.0.1:1",
                                   "http://proxy.example:3128/?x=a@b"])
def test_proxy_with_an_unencoded_delimiter_before_the_at_is_refused(mailout, proxy):
    """libcurl would end the authority at that character and quote the
    whole URL, password included, in its error (then on stderr, in the
    log and in -bp): refused where it is written, without the password."""
    conf = mailout.write_config('account "a" {\n  host = "relay.example"\n'
                                '  proxy = "%s"\n}\n' % proxy)
    res = mailout.run(["--show-config"], config_file=conf)
    assert res.rc == EX_CONFIG and ":3: 'proxy': a '/', '?', '#' or space" in res.stderr, res
    assert "Pw9" not in res.stderr + res.stdout, res


def test_proxy_that_cannot_reach_the_relay_is_named(refused_port, send, socks):
    proxy = socks()
    res = send(refused_port, [RCPT], full_message(),
               proxy="socks5://127.0.0.1:%d" % proxy.port)
    assert res.rc == EX_TEMPFAIL, res
    assert "proxy socks5://127.0.0.1:%d" % proxy.port in res.stderr, res


def test_bad_proxy_scheme_is_config_error_not_queued(server, mailout):
    text = relay_config(server, globals_=mailout.private_queue(), proxy="bogus://x")
    conf = mailout.write_config(text)
    line = next(i + 1 for i, l in enumerate(text.splitlines())
                if l.strip().startswith("proxy "))
    res = mailout.run([RCPT], full_message(), config_file=conf)
    assert res.rc == EX_CONFIG and line_number_re(conf, line).search(res.stderr), res
    assert queued(mailout, every_file=True) == [] and server.received_nothing(), res


# ---- source_ip and connect timeout ----

def test_source_ip_is_used(server, send):
    res = send(server, [RCPT], full_message(), source_ip="127.0.0.1")
    assert res.rc == EX_OK, res
    assert server.messages[0].conn.peer[0] == "127.0.0.1"


def test_source_ip_not_on_this_host_is_config_error(server, mailout):
    text = relay_config(server, globals_=mailout.private_queue(), source_ip="192.0.2.7")
    conf = mailout.write_config(text)
    line = next(i + 1 for i, l in enumerate(text.splitlines())
                if l.strip().startswith("source_ip "))
    res = mailout.run([RCPT], full_message(), config_file=conf)
    assert res.rc == EX_CONFIG, res
    assert "source_ip" in res.stderr and "192.0.2.7" in res.stderr, res
    assert line_number_re(conf, line).search(res.stderr), res
    assert queued(mailout, every_file=True) == [] and server.received_nothing(), res


@pytest.fixture
def full_backlog():
    """A listening socket on 127.0.0.1 whose accept queue is full, so that a
    new connection gets no SYN-ACK (Linux drops the SYN) and connect()
    hangs: a deterministic stand-in for an unreachable address."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    addr = lst.getsockname()
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(addr)
        fillers.append(c)
    time.sleep(0.2)
    probe = socket.socket()
    probe.settimeout(1.0)
    try:
        probe.connect(addr)
        hangs = False
    except socket.timeout:
        hangs = True
    except OSError:
        hangs = False
    probe.close()
    if not hangs:
        for c in fillers:
            c.close()
        lst.close()
        pytest.skip("this kernel completes connections beyond the listen backlog")
    yield addr
    for c in fillers:
        c.close()
    lst.close()


def test_connect_timeout_is_bounded_by_timeout(mailout, full_backlog):
    host, port = full_backlog
    conf = mailout.write_config(
        'queue = never\naccount "a" {\n  host = "%s"\n  port = %d\n  tls = off\n'
        '  timeout = 2\n}\n' % (host, port))
    res = mailout.run([RCPT], full_message(), config_file=conf, timeout=30)
    assert res.rc == EX_TEMPFAIL, res
    assert res.elapsed < 10, res
    assert re.search(r"time(d)? ?out", res.stderr, re.I), res


# ---- syslog ----

SYSLOG_SCRIPT = r'''
set -e
mount -t tmpfs -o mode=755 tmpfs /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/urandom c 1 9
touch /dev/log
mount --bind "$1" /dev/log
shift
exec "$@"
'''


def test_syslog_line(server, mailout, mount_namespace):
    """syslog(3) writes to /dev/log: a private mount namespace puts a
    datagram socket of the test there (over a private /dev), so nothing
    outside the test sees it."""
    sock_path = str(mailout.tmp / "log.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(sock_path)
    rx.settimeout(5)
    try:
        conf = mailout.write_config(relay_config(server, globals_={"syslog": "LOG_LOCAL3"}))
        cmd = ["unshare", "-m", "sh", "-c", SYSLOG_SCRIPT, "sh", sock_path, mailout.bin,
               "-C", str(conf), "-f", "me@example.com", RCPT]
        p = subprocess.run(cmd, input=full_message(), capture_output=True,
                           env=mailout.env(), timeout=30, cwd=str(mailout.tmp))
        if p.returncode != 0 and b"mount" in p.stderr:
            pytest.skip("cannot mount in a mount namespace here: " + p.stderr.decode())
        assert p.returncode == EX_OK, p
        got = rx.recv(4096).decode()
    finally:
        rx.close()
    # <PRI>: LOG_LOCAL3 (19) * 8 + LOG_INFO (6) = 158
    m = re.match(r"<(\d+)>.*?mailout(\[\d+\])?: (.*)$", got, re.S)
    assert m, got
    assert int(m.group(1)) & ~7 == 19 * 8, got
    assert "host=127.0.0.1" in got and "from=me@example.com" in got, got
    assert "recipients=" + RCPT in got and "exitcode=EX_OK" in got, got
    assert len(server.messages) == 1


# ---- --version and argv[0] ----

def test_version(mailout):
    res = mailout.run(["--version"])
    assert res.rc == EX_OK and re.match(r"mailout \d+(\.\d+)*\S*\n$", res.stdout), res


def test_sendmail_name_behaves_as_mailout(server, mailout):
    conf = mailout.write_config(relay_config(server))
    res = mailout.run(["-t", "-i"], full_message(to=RCPT), argv0="sendmail",
                      env={"MAILOUT_CONFIG": str(conf)})
    assert res.rc == EX_OK and server.messages[0].rcpt_tos == [RCPT], res


@pytest.mark.parametrize("argv0,args", [("newaliases", []), ("mailout", ["-bi"]),
                                        ("sendmail", ["-I"])])
def test_newaliases_exits_0_without_reading_input(mailout, argv0, args):
    env = mailout.env({"MAILOUT_CONFIG": None})
    cmd, exe = mailout.command(args, env, argv0)
    p = subprocess.Popen(cmd, executable=exe, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, cwd=str(mailout.tmp))
    try:
        # standard input stays open: a program that read it would hang here
        rc = p.wait(timeout=10)
        out, err = p.stdout.read(), p.stderr.read()
    finally:
        p.kill()
        p.wait()
        for f in (p.stdin, p.stdout, p.stderr):
            f.close()
    assert rc == EX_OK and out == b"" and err == b"", (rc, out, err)


# ---- inherit at scale ----

def test_long_inherit_chain_and_cycle_do_not_exhaust_the_stack(mailout):
    """A 14,000-deep inherit chain (each account inherits from the next,
    about 530 KiB, under the 1 MiB limit) loads and sends its settings down;
    a 20,000-long cycle is a configuration error (78) naming the file and
    the line of an inherit, not a crash."""
    n = 14000
    text = "".join('account "a{}" {{\n  inherit = "a{}"\n}}\n'.format(i, i + 1)
                   for i in range(n - 1))
    text += 'account "a{}" {{\n  host = "deep.example"\n}}\ndefault_account = "a0"\n'.format(n - 1)
    res, keys = show(mailout, config=text)
    assert res.rc == EX_OK, res
    assert keys["(account)"] == "a0" and keys["host"] == '"deep.example"', res

    n = 20000
    text = "".join('account "a{}" {{\n  inherit = "a{}"\n}}\n'.format(i, (i + 1) % n)
                   for i in range(n))
    path = mailout.write_config(text)
    res = mailout.run(["--show-config"], config_file=path)
    assert res.rc == EX_CONFIG, res
    m = re.search(re.escape(str(path)) + r':(\d+): account "a(\d+)": inherit = "a(\d+)" '
                  r'forms a cycle', res.stderr)
    assert m, res
    # The line named is that account's inherit line.
    assert int(m.group(1)) == 3 * int(m.group(2)) + 2, res
