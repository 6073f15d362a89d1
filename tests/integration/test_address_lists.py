"""Address lists that Postfix reads and mailout used to refuse: ';' outside a
group (Outlook users, web forms, PHP mail() copying $to into To:), and
complete addresses separated by white space only, in headers (-t), operands,
--cc/--bcc and the aliases file; quoted pipes in the aliases file.  What is
really ambiguous ("John Doe", "John a@x") stays refused, and -f/--from still
take one address."""
import pytest

from mailout_run import EX_CONFIG, EX_DATAERR, EX_OK, EX_USAGE, message


def rcpts(server):
    return sorted(server.messages[0].rcpt_tos)


@pytest.mark.parametrize("to,want", [
    ("a@example.com; b@example.com", ["a@example.com", "b@example.com"]),
    ("<a@example.com>;", ["a@example.com"]),
    ("a@example.com;", ["a@example.com"]),
    ('"Al" <a@example.com>; Bo <b@example.com>;', ["a@example.com", "b@example.com"]),
    ("a@example.com b@example.com", ["a@example.com", "b@example.com"]),
    ("a@example.com\n\tb@example.com", ["a@example.com", "b@example.com"]),
    ("<a@example.com> b@example.com c@example.com",
     ["a@example.com", "b@example.com", "c@example.com"]),
    ("undisclosed-recipients:; a@example.com; b@example.com",
     ["a@example.com", "b@example.com"]),
], ids=["semicolon", "angle-semicolon", "trailing-semicolon", "names-semicolons", "space",
        "folded", "after-angle", "group-then-semicolons"])
def test_t_header_lists_postfix_reads(server, send, to, want):
    res = send(server, ["-t"], message(["To: " + to, "Subject: t"]))
    assert res.rc == EX_OK, res
    assert rcpts(server) == want
    # the header itself goes out as it was written
    assert server.messages[0].headers("To")[0].startswith(
        ("To: " + to.split("\n")[0]).encode())


def test_t_empty_group_still_means_no_recipient(server, send):
    res = send(server, ["-t", "x@example.com"],
               message(["To: undisclosed-recipients:;", "Subject: t"]))
    assert res.rc == EX_OK, res
    assert rcpts(server) == ["x@example.com"]


@pytest.mark.parametrize("arg,want", [
    ("a@example.com; b@example.com", ["a@example.com", "b@example.com"]),
    ("a@example.com b@example.com", ["a@example.com", "b@example.com"]),
    ("<a@example.com>;", ["a@example.com"]),
])
def test_operand_lists_postfix_reads(server, send, arg, want):
    res = send(server, [arg], message(["Subject: t"]))
    assert res.rc == EX_OK, res
    assert rcpts(server) == want


def test_cc_and_bcc_lists_with_semicolons_and_spaces(server, send):
    res = send(server, ["-s", "subj", "--cc", "c@example.com; d@example.com",
                        "--bcc", "e@example.com f@example.com", "to@example.com"], b"body\n")
    assert res.rc == EX_OK, res
    assert rcpts(server) == ["c@example.com", "d@example.com", "e@example.com",
                             "f@example.com", "to@example.com"]


@pytest.mark.parametrize("to", ["John Doe", "John a@example.com", "a@example.com bob",
                                '"John Doe" a@example.com'])
def test_t_name_without_address_is_still_refused(server, send, to):
    res = send(server, ["-t"], message(["To: " + to, "Subject: t"]))
    assert res.rc == EX_DATAERR and server.received_nothing(), res
    assert "not an address (a name without <address>?)" in res.stderr


@pytest.mark.parametrize("arg", ["John Doe", "John a@example.com"])
def test_operand_name_without_address_is_still_refused(server, send, arg):
    res = send(server, [arg], message(["Subject: t"]))
    assert res.rc == EX_USAGE and server.received_nothing(), res
    assert "not an address" in res.stderr


@pytest.mark.parametrize("opt,value,why", [
    ("-f", "a@example.com b@example.com", "give one address"),
    ("-f", "a@example.com; b@example.com", "give one address"),
    ("--from", "a@example.com b@example.com", "give one address"),
])
def test_sender_still_takes_one_address(server, send, opt, value, why):
    args = [opt, value] + (["-s", "s"] if opt == "--from" else []) + ["x@example.com"]
    res = send(server, args, message(["Subject: t"]))
    assert res.rc == EX_USAGE and server.received_nothing(), res
    assert why in res.stderr


def test_sender_with_a_trailing_semicolon_is_one_address(server, send):
    # as "-f a@x," is: an empty element after the address
    res = send(server, ["-f", "me@example.com;", "x@example.com"], message(["Subject: t"]))
    assert res.rc == EX_OK, res
    assert server.messages[0].mail_from == "me@example.com"


ALIASES = ("root: a@example.com\n\tb@example.com\n"
           "same: c@example.com d@example.com\n"
           "noted: e@example.com\n  # a note\n  f@example.com\n"
           "semi: g@example.com; h@example.com\n")


@pytest.mark.parametrize("name,want", [
    ("root", ["a@example.com", "b@example.com"]),
    ("same", ["c@example.com", "d@example.com"]),
    ("noted", ["e@example.com", "f@example.com"]),
    ("semi", ["g@example.com", "h@example.com"]),
])
def test_alias_values_without_commas(server, send, tmp_path, name, want):
    p = tmp_path / "aliases"
    p.write_text(ALIASES)
    res = send(server, [name], message(["Subject: t"]), globals_={"aliases": str(p)})
    assert res.rc == EX_OK, res
    assert rcpts(server) == want


@pytest.mark.parametrize("text,line", [("root: alice\n\tbob\n", 1), ("x: y@example.com\nroot: John Doe\n", 2)])
def test_alias_local_names_without_commas_are_refused(server, send, tmp_path, text, line):
    p = tmp_path / "aliases"
    p.write_text(text)
    res = send(server, ["root"], message(["Subject: t"]), globals_={"aliases": str(p)})
    assert res.rc == EX_CONFIG and server.received_nothing(), res
    assert "{}:{}: alias \"root\": not an address".format(p, line) in res.stderr


@pytest.mark.parametrize("value", ['"|/usr/bin/procmail"', '"|/usr/bin/procmail -f-"',
                                   '"/var/mail/root"', '":include:/etc/mail/list"',
                                   'a@example.com, Proc <"|/usr/bin/procmail">'])
def test_alias_quoted_pipe_file_include_is_a_config_error(server, send, tmp_path, value):
    p = tmp_path / "aliases"
    p.write_text("root: {}\n".format(value))
    res = send(server, ["root"], message(["Subject: t"]), globals_={"aliases": str(p)})
    assert res.rc == EX_CONFIG and server.received_nothing(), res
    assert "{}:1: alias \"root\": pipes, files and :include: are not supported".format(p) \
        in res.stderr


# ---- envelope addresses in canonical SMTP form (SPEC 3) ----

CANONICAL = [
    ('a."b".c@example.com', "a.b.c@example.com"),
    ('"a b".c@example.com', '"a b.c"@example.com'),
    ('"plain"@example.com', "plain@example.com"),
    ("x@example.com.", "x@example.com"),
]
REFUSED = [
    (".a@example.com", "starts with a dot"),
    ("a.@example.com", "ends with a dot"),
    ("a..b@example.com", "two dots in a row"),
    ("test@iana..com", "two dots in a row"),
    ("test@-iana.org", "starts with a hyphen"),
    ("test@iana-.org", "ends with a hyphen"),
    ("x@.org", "starts with a dot"),
    ("x@example.com..", "two dots in a row"),
]


@pytest.mark.parametrize("given,sent", CANONICAL)
@pytest.mark.parametrize("how", ["argument", "-t", "-f"])
def test_envelope_goes_out_in_canonical_form(server, send, given, sent, how):
    if how == "-t":
        res = send(server, ["-t"], message(["To: " + given, "Subject: t"]))
    elif how == "-f":
        res = send(server, ["-f", given, "r@example.com"], message(["Subject: t"]))
    else:
        res = send(server, [given], message(["Subject: t"]))
    assert res.rc == EX_OK, res
    m = server.messages[0]
    if how == "-f":
        assert m.mail_from == sent
    else:
        assert m.rcpt_tos == [sent]


@pytest.mark.parametrize("given,rule", REFUSED)
@pytest.mark.parametrize("how,status", [("argument", EX_USAGE), ("-t", EX_DATAERR),
                                        ("-f", EX_USAGE)])
def test_address_no_relay_can_take_is_refused_before_sending(server, send, given, rule,
                                                             how, status):
    if how == "-t":
        res = send(server, ["-t"], message(["To: ok@example.com, " + given, "Subject: t"]))
    elif how == "-f":
        res = send(server, ["-f", given, "r@example.com"], message(["Subject: t"]))
    else:
        res = send(server, ["ok@example.com", given], message(["Subject: t"]))
    assert res.rc == status, res
    assert given in res.stderr and rule in res.stderr, res
    assert server.received_nothing(), res


@pytest.mark.parametrize("given,rule", REFUSED[:3] + REFUSED[4:5])
def test_bs_refuses_them_at_mail_and_rcpt(mailout, server, given, rule):
    from mailout_run import relay_config
    conf = mailout.write_config(relay_config(server))
    dialogue = ("EHLO c\r\nMAIL FROM:<%s>\r\nMAIL FROM:<a.\"b\"@example.com>\r\n"
                "RCPT TO:<%s>\r\nRCPT TO:<\"x y\".z@example.com>\r\nDATA\r\n"
                "Subject: x\r\n\r\nx\r\n.\r\nQUIT\r\n" % (given, given)).encode()
    res = mailout.run(["-bs"], dialogue, config_file=conf)
    lines = [l for l in res.stdout.splitlines() if l[:3].isdigit() and l[3] == " "]
    assert [l[:3] for l in lines] == ["220", "250", "553", "250", "553", "250", "354",
                                      "250", "221"], res
    assert rule in lines[2] and rule in lines[4], res
    assert server.messages[0].mail_from == "a.b@example.com"
    assert server.messages[0].rcpt_tos == ['"x y.z"@example.com']
