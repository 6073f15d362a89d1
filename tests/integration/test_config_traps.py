"""Configuration traps found by the configuration audit, end to end: what
libconfuse would silently change is refused at its line (exit 78), paths
do not depend on the caller's directory, account order follows the file,
and the file itself must not be writable by others.
"""
import os

import pytest

from mailout_run import EX_CONFIG, EX_OK, line_number_re

RCPT = "rcpt@example.com"


def conf_text(mailout, body):
    return 'queue_dir = "{}"\n{}'.format(mailout.tmp / "queue", body)


def test_senders_follow_file_order_when_the_parent_comes_later(mailout):
    conf = conf_text(mailout,
                     'account "work" {\n  inherit = "base"\n  host = "smtp.work.example"\n'
                     '  senders = { "*@work.example" }\n}\n'
                     'account "base" {\n  host = "smtp.catchall.example"\n'
                     '  senders = { "*" }\n}\n')
    res = mailout.run(["--dry-run", "-f", "me@work.example", RCPT], "Subject: x\n\nb\n",
                      config=conf)
    assert res.rc == EX_OK and "Account: work " in res.stdout, res
    res = mailout.run(["--show-config", "--account", "nope"], config=conf)
    assert res.rc == EX_CONFIG and "accounts: work, base" in res.stderr, res


@pytest.mark.parametrize("line,secret", [
    ('  senders = { *@work.example }', None),
    ('  user = +me', None),
    ('  password = *s3cr3t', "s3cr3t"),
])
def test_star_or_plus_outside_quotes_is_refused_at_its_line(mailout, line, secret):
    p = mailout.write_config(conf_text(mailout, 'account "a" {\n  host = "h"\n' + line + '\n}\n'))
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_CONFIG and line_number_re(p, 4).search(res.stderr), res
    assert "double quotes" in res.stderr, res
    if secret:
        assert secret not in res.stderr, res


@pytest.mark.parametrize("value,secret", [
    (r'user = "DOMAIN\jsmith"', None),
    (r'''passwordeval = "grep -oP 'pw=\K\S+' /x/s3cr3t"''', "s3cr3t"),
    (r'from_name = "a\x41"', None),
])
def test_unknown_backslash_escape_is_refused_at_its_line(mailout, value, secret):
    p = mailout.write_config(conf_text(mailout, 'account "a" {\n  host = "h"\n  '
                                       + value + '\n}\n'))
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_CONFIG and line_number_re(p, 4).search(res.stderr), res
    assert r"\\" in res.stderr, res
    if secret:
        assert secret not in res.stderr and r"\K" not in res.stderr, res


def test_double_backslash_is_one_backslash(mailout):
    res = mailout.run(["--show-config"], config=conf_text(
        mailout, 'account "a" {\n  host = "h"\n  user = "DOMAIN\\\\jsmith"\n'
        '  passwordeval = "x"\n}\n'))
    assert res.rc == EX_OK and 'user             = "DOMAIN\\jsmith"' in res.stdout, res


@pytest.mark.parametrize("key", ["queue_dir", "logfile", "aliases"])
def test_relative_path_is_refused_and_nothing_lands_in_the_cwd(mailout, key):
    text = '{} = "rel"\naccount "a" {{\n  host = "127.0.0.1"\n  port = 1\n  tls = off\n}}\n'.format(key)
    if key != "queue_dir":
        text = 'queue_dir = "{}"\n'.format(mailout.tmp / "queue") + text
    p = mailout.write_config(text)
    res = mailout.run([RCPT], "Subject: x\n\nb\n", config_file=p)
    assert res.rc == EX_CONFIG and line_number_re(p, text.count("\n", 0, text.index(key)) + 1) \
        .search(res.stderr), res
    assert "absolute" in res.stderr, res
    assert not (mailout.tmp / "rel").exists()


def test_logfile_dash_is_not_supported(mailout):
    p = mailout.write_config(conf_text(mailout, 'logfile = "-"\n'))
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_CONFIG and line_number_re(p, 2).search(res.stderr), res
    assert "not supported" in res.stderr and "syslog" in res.stderr, res
    assert not (mailout.tmp / "-").exists()


def test_double_slash_inside_an_unquoted_value_is_kept(mailout):
    q = "{}//q".format(mailout.tmp)
    res = mailout.run(["--show-config"], config='queue_dir = {}\naccount "a" {{\n  host = "h"\n'
                      '  proxy = socks5h://127.0.0.1:1080\n}}\n'.format(q))
    assert res.rc == EX_OK, res
    assert 'queue_dir        = "{}"'.format(q) in res.stdout, res
    assert "socks5h://127.0.0.1:1080" in res.stdout, res


def test_stray_quote_where_a_key_is_expected(mailout):
    p = mailout.write_config(conf_text(mailout, 'account "p" {\n  host = "h"\n}\n'
                                       '"queue = never\nsyslog = on\n'))
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_CONFIG and line_number_re(p, 5).search(res.stderr), res
    assert "never closed" in res.stderr, res


def test_empty_user_from_an_unset_variable(mailout):
    p = mailout.write_config(conf_text(mailout, 'account "a" {\n  host = "h"\n'
                                       '  user = "${MAILOUT_TEST_NOPE}"\n'
                                       '  password = "${MAILOUT_TEST_NOPE}"\n}\n'))
    res = mailout.run(["--dry-run", RCPT], "Subject: x\n\nb\n", config_file=p,
                      env={"MAILOUT_TEST_NOPE": None})
    assert res.rc == EX_CONFIG and line_number_re(p, 4).search(res.stderr), res
    assert "unset" in res.stderr, res


def test_host_with_a_port_and_domain_with_percent(mailout):
    p = mailout.write_config(conf_text(mailout, 'account "a" {\n  host = "127.0.0.1:2525"\n}\n'))
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_CONFIG and line_number_re(p, 3).search(res.stderr), res
    assert "port" in res.stderr, res
    p = mailout.write_config(conf_text(mailout, 'account "a" {\n  host = "h"\n'
                                       '  domain = "a%0d%0aNOOP"\n}\n'))
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_CONFIG and line_number_re(p, 4).search(res.stderr), res
    res = mailout.run(["--show-config"], config=conf_text(mailout, 'account "a" {\n  host = "[::1]"\n}\n'))
    assert res.rc == EX_OK, res


def test_password_line_errors_say_why(mailout):
    p = mailout.write_config(conf_text(mailout, 'account "a" {\n  host = "h"\n'
                                       '  password = "s3cr3t";\n}\n'))
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_CONFIG and line_number_re(p, 4).search(res.stderr), res
    assert "';'" in res.stderr and "double quotes" not in res.stderr, res
    assert "s3cr3t" not in res.stderr, res


def test_byte_order_mark_is_skipped(mailout):
    p = mailout.tmp / "bom.conf"
    p.write_bytes(b"\xef\xbb\xbf" + conf_text(mailout, 'account "a" {\n  host = "h"\n}\n').encode())
    os.chmod(p, 0o600)
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_OK and 'host             = "h"' in res.stdout, res


def test_fifo_does_not_hang(mailout):
    p = mailout.tmp / "fifo"
    os.mkfifo(p, 0o600)
    res = mailout.run(["--show-config"], config_file=p, timeout=10)
    assert res.rc == EX_CONFIG and "not a regular file" in res.stderr, res


def test_senders_plus_equals_is_refused(mailout):
    p = mailout.write_config(conf_text(mailout, 'defaults {\n  senders = { "a@x" }\n}\n'
                                       'account "a" {\n  host = "h"\n  senders += { "b@x" }\n}\n'))
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_CONFIG and line_number_re(p, 7).search(res.stderr), res
    assert "'+='" in res.stderr, res


def private_group_of_caller():
    """The caller's primary group when it is a user private group (named
    after the user, no other member), else None."""
    import grp
    import pwd
    pw = pwd.getpwuid(os.geteuid())
    try:
        gr = grp.getgrgid(pw.pw_gid)
    except KeyError:
        return None
    if gr.gr_name != pw.pw_name or any(m != pw.pw_name for m in gr.gr_mem):
        return None
    return gr.gr_gid


@pytest.mark.parametrize("mode", [0o602, 0o666])
def test_writable_config_is_refused_whatever_it_holds(mailout, mode):
    p = mailout.write_config(conf_text(mailout, 'account "a" {\n  host = "h"\n'
                                       '  user = "u"\n  passwordeval = "echo pw"\n}\n'), mode=mode)
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_CONFIG and "writable" in res.stderr, res


def test_group_writable_config_depends_on_whose_group(mailout):
    """With umask 002 (Debian and Ubuntu users, each with a private group)
    files come out group-writable: that group is the owner's alone, and
    the file is fine.  A group others belong to could change passwordeval."""
    import grp
    text = conf_text(mailout, 'account "a" {\n  host = "h"\n  user = "u"\n'
                     '  passwordeval = "echo pw"\n}\n')
    own = private_group_of_caller()
    if own is not None:
        p = mailout.write_config(text, mode=0o664)
        os.chown(p, -1, own)
        res = mailout.run(["--show-config"], config_file=p)
        assert res.rc == EX_OK, res
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file a shared group")
    shared = grp.getgrnam("mail")          # Debian's, with no private meaning
    p = mailout.write_config(text, mode=0o664)
    os.chown(p, -1, shared.gr_gid)
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_CONFIG and "writable by a group" in res.stderr, res


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file to another user")
def test_config_owned_by_another_user_is_refused(mailout):
    p = mailout.write_config(conf_text(mailout, 'account "a" {\n  host = "h"\n}\n'), mode=0o644)
    os.chown(p, 65534, 65534)
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_CONFIG and "owned by another user" in res.stderr, res


def test_readable_config_without_password_is_fine(mailout):
    p = mailout.write_config(conf_text(mailout, 'account "a" {\n  host = "h"\n}\n'), mode=0o644)
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_OK, res


def test_empty_account_name_is_refused(mailout):
    p = mailout.write_config(conf_text(mailout, 'account "" {\n  host = "h"\n}\n'))
    res = mailout.run(["--show-config"], config_file=p)
    assert res.rc == EX_CONFIG and line_number_re(p, 2).search(res.stderr), res
