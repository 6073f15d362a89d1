"""Delivery through a relay: plain, STARTTLS, implicit TLS, AUTH, EHLO name,
TLS verification settings, environment proxies.

Assumptions (where SPEC.md / HACKING.md do not settle the detail):
- `auth = plain` / `auth = login` / `auth = cram-md5` force that mechanism;
  `auth = on` may pick any of CRAM-MD5, PLAIN, LOGIN the relay offers (HACKING).
- With tls = starttls the whole SMTP transaction (AUTH, MAIL, RCPT, DATA)
  happens after the TLS handshake; TLS 1.2 or later is negotiated.
- The default EHLO name (no `domain`) is "the host's fully qualified name";
  we accept the resolver's canonical name, socket.getfqdn() or gethostname()
  (they are often the same on a test machine).
"""

import socket

import pytest

from mailout_run import EX_OK, full_message, message

RCPT = "rcpt@example.com"


def one_message(srv):
    assert len(srv.messages) == 1, "expected exactly one delivered message, got {}".format(
        len(srv.messages))
    return srv.messages[0]


@pytest.mark.parametrize("mode", ["plain", "starttls", "smtps"])
def test_delivers_without_auth(smtpd, send, mode):
    srv = smtpd(mode)
    res = send(srv, [RCPT], full_message(body="plain body\n"))
    assert res.rc == EX_OK, res
    m = one_message(srv)
    assert m.rcpt_tos == [RCPT]
    assert m.body == b"plain body\r\n"
    assert m.tls == (mode != "plain")
    assert m.auth is None


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_version_is_at_least_1_2(smtpd, send, mode):
    srv = smtpd(mode)
    res = send(srv, [RCPT], full_message())
    assert res.rc == EX_OK, res
    assert one_message(srv).conn.tls_version in ("TLSv1.2", "TLSv1.3")


def test_starttls_happens_before_any_mail_command(smtpd, send):
    srv = smtpd("starttls")
    res = send(srv, [RCPT], full_message())
    assert res.rc == EX_OK, res
    cmds = [c.split(" ")[0].split(":")[0].upper() for c in srv.commands()]
    assert "STARTTLS" in cmds
    assert cmds.index("STARTTLS") < cmds.index("MAIL")
    # EHLO again after the handshake (RFC 3207)
    assert cmds.count("EHLO") >= 2


@pytest.mark.parametrize("mode", ["plain", "starttls", "smtps"])
@pytest.mark.parametrize("mech", ["plain", "login"])
def test_auth_mechanism(smtpd, send, mode, mech):
    srv = smtpd(mode, auth=True)
    res = send(srv, [RCPT], full_message(), auth=mech)
    assert res.rc == EX_OK, res
    m = one_message(srv)
    assert m.auth is not None, "message was delivered without AUTH"
    assert m.auth.mechanism == mech.upper()
    assert (m.auth.login, m.auth.password) == (srv.user, srv.password)


def test_auth_cram_md5(smtpd, send):
    srv = smtpd("starttls", auth=True, mechanisms=("CRAM-MD5", "PLAIN", "LOGIN"))
    res = send(srv, [RCPT], full_message(), auth="cram-md5")
    assert res.rc == EX_OK, res
    m = one_message(srv)
    assert m.auth is not None and m.auth.mechanism == "CRAM-MD5"
    assert m.auth.login == srv.user


def test_auth_on_uses_what_the_relay_offers(smtpd, send):
    srv = smtpd("starttls", auth=True, mechanisms=("LOGIN",))
    res = send(srv, [RCPT], full_message(), auth="on")
    assert res.rc == EX_OK, res
    m = one_message(srv)
    assert m.auth is not None and m.auth.mechanism == "LOGIN"


def test_auth_implied_by_user_setting(smtpd, send):
    """auth unset + user set: AUTH is on (HACKING)."""
    srv = smtpd("starttls", auth=True)
    res = send(srv, [RCPT], full_message())          # no `auth` line at all
    assert res.rc == EX_OK, res
    assert one_message(srv).auth is not None


def test_user_name_with_at_sign_uses_plain_not_gssapi(smtpd, send):
    """LIBRARY-NOTES trap 5: an '@' in the user name must not make libcurl
    choose GSSAPI."""
    srv = smtpd("starttls", auth=True, user="me@example.com")
    res = send(srv, [RCPT], full_message())
    assert res.rc == EX_OK, res
    m = one_message(srv)
    assert m.auth is not None and m.auth.login == "me@example.com"


def test_passwordeval(smtpd, send):
    srv = smtpd("starttls", auth=True, password="secret")
    res = send(srv, [RCPT], full_message(), password=None, passwordeval="echo secret")
    assert res.rc == EX_OK, res
    m = one_message(srv)
    assert m.auth is not None and m.auth.password == "secret"


def test_passwordeval_takes_the_first_line_only(smtpd, send):
    srv = smtpd("starttls", auth=True, password="line-one")
    res = send(srv, [RCPT], full_message(), password=None,
               passwordeval="printf 'line-one\\nline-two\\n'")
    assert res.rc == EX_OK, res
    assert one_message(srv).auth.password == "line-one"


def test_passwordeval_on_the_command_line(smtpd, mailout):
    srv = smtpd("plain", auth=True, password="cli-secret")
    res = mailout.run(["--host", srv.host, "--port", str(srv.port), "--tls", "off",
                       "--user", srv.user, "--passwordeval", "echo cli-secret", RCPT],
                      full_message())
    assert res.rc == EX_OK, res
    m = one_message(srv)
    assert m.auth is not None and m.auth.password == "cli-secret"


def test_host_option_without_any_config_file(server, mailout):
    res = mailout.run(["--host", server.host, "--port", str(server.port), "--tls", "off",
                       RCPT], full_message())
    assert res.rc == EX_OK, res
    assert one_message(server).rcpt_tos == [RCPT]


def test_ehlo_name_is_the_domain_setting(server, send):
    res = send(server, [RCPT], full_message(), domain="ehlo.example.test")
    assert res.rc == EX_OK, res
    assert server.connections[0].ehlo == ["ehlo.example.test"]


def test_ehlo_name_after_starttls_is_the_domain_setting(smtpd, send):
    srv = smtpd("starttls")
    res = send(srv, [RCPT], full_message(), domain="ehlo.example.test")
    assert res.rc == EX_OK, res
    assert set(srv.connections[0].ehlo) == {"ehlo.example.test"}


def test_default_ehlo_name_is_the_fully_qualified_host_name(server, send):
    res = send(server, [RCPT], full_message(), domain=None)
    assert res.rc == EX_OK, res
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        names.add(socket.getaddrinfo(socket.gethostname(), None,
                                     flags=socket.AI_CANONNAME)[0][3])
    except OSError:
        pass
    ehlo = one_message(server).ehlo
    assert ehlo in names, "EHLO {!r}, expected one of {}".format(ehlo, names)


def test_several_recipients_in_one_transaction(server, send):
    rcpts = ["a@example.com", "b@example.org", "c@example.net"]
    res = send(server, rcpts, full_message())
    assert res.rc == EX_OK, res
    assert one_message(server).rcpt_tos == rcpts


def test_comma_separated_recipient_argument(server, send):
    res = send(server, ["a@example.com,b@example.org", "Name <c@example.net>"],
               full_message())
    assert res.rc == EX_OK, res
    assert one_message(server).rcpt_tos == ["a@example.com", "b@example.org",
                                            "c@example.net"]


def test_envelope_addresses_are_bare_in_angle_brackets(server, send):
    res = send(server, ["-f", "sender@example.com", RCPT], full_message())
    assert res.rc == EX_OK, res
    cmds = server.commands()
    assert any(c == "MAIL FROM:<sender@example.com>" or
               c.startswith("MAIL FROM:<sender@example.com> ") for c in cmds), cmds
    assert any(c == "RCPT TO:<{}>".format(RCPT) or
               c.startswith("RCPT TO:<{}> ".format(RCPT)) for c in cmds), cmds


def test_tls_pin_matching_delivers(smtpd, send, certs):
    srv = smtpd("starttls")
    res = send(srv, [RCPT], full_message(), tls_pin=certs.pin)
    assert res.rc == EX_OK, res
    assert len(srv.messages) == 1


def test_environment_proxy_variables_are_ignored(server, send, refused_port):
    """LIBRARY-NOTES trap 11: curl honours all_proxy/smtp_proxy unless told
    otherwise; mailout follows its configuration only."""
    proxy = "socks5h://127.0.0.1:{}".format(refused_port.port)
    env = {"all_proxy": proxy, "ALL_PROXY": proxy, "smtp_proxy": proxy,
           "SMTP_PROXY": proxy, "no_proxy": None, "NO_PROXY": None}
    res = send(server, [RCPT], full_message(), env=env)
    assert res.rc == EX_OK, res
    assert len(server.messages) == 1


def test_dsn_options_are_accepted_and_do_not_garble_addresses(server, send):
    """SPEC 1.1 and LIBRARY-NOTES trap 8: -N/-R/-V are accepted; with
    libcurl < 8.16 they are dropped, never appended to the address."""
    res = send(server, ["-N", "success,delay,failure", "-R", "hdrs", "-V", "envid-123",
                        "-f", "sender@example.com", RCPT], full_message())
    assert res.rc == EX_OK, res
    m = one_message(server)
    assert m.rcpt_tos == [RCPT]
    assert m.mail_from == "sender@example.com"


def test_queue_never_setting_delivers_normally(server, send):
    res = send(server, [RCPT], full_message(), globals_={"queue": "never"})
    assert res.rc == EX_OK, res
    assert len(server.messages) == 1


def test_message_without_headers_still_delivers(server, send):
    res = send(server, [RCPT], message([], "just a body\n"))
    assert res.rc == EX_OK, res
    m = one_message(server)
    assert m.body.endswith(b"just a body\r\n")
