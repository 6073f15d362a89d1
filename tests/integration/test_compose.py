"""Compose mode, attachments and the mailx personality (SPEC 4 and 6, issue 3).

What the relay received is parsed with Python's email package (default
policy) and compared with what was given: decoded subjects and file names,
part types, attachment bytes.
"""
import email
import email.header
import email.policy
import os
import re
import subprocess
import time

import pytest

from mailout_run import EX_NOINPUT, EX_OK, EX_USAGE, full_message, message
from mailout_run import instrumented, queued

TO = "to@example.com"


def parsed(m):
    return email.message_from_bytes(m.data, policy=email.policy.default)


def text(part):
    """A text part's content with LF line endings (the wire has CRLF)."""
    return part.get_content().replace("\r\n", "\n")


def wire_lines(m):
    return m.data.split(b"\r\n")


def run(send, srv, args, body=b"Hello.\n", **kw):
    res = send(srv, args, body, **kw)
    assert res.rc == EX_OK, res
    assert len(srv.messages) == 1
    return srv.messages[0]


def test_headers_of_a_composed_message(server, send):
    m = run(send, server, ["-s", "Nightly report", "--cc", "cc@example.com",
                           "--bcc", "hidden@example.com", "--from", "robot@example.com", TO])
    e = parsed(m)
    assert e["Subject"] == "Nightly report"
    assert e["To"] == TO and e["Cc"] == "cc@example.com"
    assert "robot@example.com" in e["From"] and m.mail_from == "robot@example.com"
    assert e["Date"] and e["Message-ID"] and e["MIME-Version"] == "1.0"
    assert sorted(m.rcpt_tos) == sorted([TO, "cc@example.com", "hidden@example.com"])
    assert b"hidden@example.com" not in m.data, "Bcc must appear in no header"
    assert e.get_content_type() == "text/plain" and e.get_content_charset() == "us-ascii"
    assert e["Content-Transfer-Encoding"] == "7bit"
    assert text(e) == "Hello.\n"


def test_non_ascii_subject_is_encoded_folded_and_decodes(server, send):
    subject = "Rapport mensuel — état des sauvegardes, très très long sujet " * 3
    subject = subject.strip()
    m = run(send, server, ["-s", subject, TO])
    head = m.header_bytes
    assert all(len(l) <= 78 for l in head.split(b"\r\n")), head
    assert all(b < 0x80 for b in head), "header section must be 7-bit"
    assert str(parsed(m)["Subject"]) == subject


def test_8bit_body_is_quoted_printable_utf8(server, send):
    body = "Grüße aus Köln\n" + "x" * 1200 + "\n"
    m = run(send, server, ["-s", "qp", TO], body.encode())
    e = parsed(m)
    assert e.get_content_charset() == "utf-8"
    assert e["Content-Transfer-Encoding"] == "quoted-printable"
    assert text(e) == body
    assert max(len(l) for l in wire_lines(m)) <= 998


def test_long_ascii_line_is_quoted_printable(server, send):
    body = "y" * 2000 + "\n"
    m = run(send, server, ["-s", "long", TO], body.encode())
    e = parsed(m)
    assert e["Content-Transfer-Encoding"] == "quoted-printable"
    assert text(e) == body and max(len(l) for l in wire_lines(m)) <= 998


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "att"
    d.mkdir()
    out = {}
    for name, data in [("report.pdf", os.urandom(10001)), ("chart.png", os.urandom(3000)),
                       ("notes.txt", b"plain text\n"), ("blob.unknownext", os.urandom(1)),
                       ("empty.bin", b""), ("résumé été.txt", "contenu\n".encode()),
                       ("n" * 40 + "—" * 30 + ".dat", os.urandom(500))]:
        (d / name).write_bytes(data)
        out[name] = (str(d / name), data)
    return out


def test_attachments(server, send, files):
    args = ["-s", "files"]
    for path, _ in files.values():
        args += ["-a", path]
    m = run(send, server, args + [TO], b"see attached\n")
    e = parsed(m)
    assert e.get_content_type() == "multipart/mixed"
    parts = list(e.iter_parts())
    assert parts[0].get_content_type() == "text/plain" and text(parts[0]) == "see attached\n"
    got = {p.get_filename(): p for p in parts[1:]}
    assert sorted(got) == sorted(files)
    types = {"report.pdf": "application/pdf", "chart.png": "image/png",
             "notes.txt": "text/plain", "blob.unknownext": "application/octet-stream"}
    for name, (_, data) in files.items():
        p = got[name]
        assert p.get_content_disposition() == "attachment"
        assert p.get_payload(decode=True) == data, name
        if name in types:
            assert p.get_content_type() == types[name]
    # base64 lines are 76 characters (the last of each part may be shorter)
    b64 = [l for l in wire_lines(m) if re.fullmatch(rb"[A-Za-z0-9+/=]{60,}", l)]
    assert b64 and all(len(l) == 76 for l in b64 if not l.endswith(b"="))


def test_missing_attachment_exits_66_and_sends_and_queues_nothing(server, send, tmp_path):
    q = tmp_path / "queue"
    res = send(server, ["-s", "x", "-a", str(tmp_path / "nope.pdf"), TO], b"body\n",
               globals_={"queue": "onfail", "queue_dir": str(q)})
    assert res.rc == EX_NOINPUT and "nope.pdf" in res.stderr, res
    assert server.received_nothing()
    assert queued(tmp_path, every_file=True) == []


def test_attach_to_a_piped_message_moves_the_mime_headers(server, send, files):
    path, data = files["report.pdf"]
    piped = message(["From: me@example.com", "To: " + TO, "Subject: piped",
                     "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                     "Content-Transfer-Encoding: 8bit"], "héllo\n")
    m = run(send, server, ["-t", "-a", path], piped)
    e = parsed(m)
    assert e["Subject"] == "piped" and e.get_content_type() == "multipart/mixed"
    first, att = list(e.iter_parts())
    assert first.get_content_type() == "text/plain" and first.get_content_charset() == "utf-8"
    assert text(first) == "héllo\n"
    assert att.get_filename() == "report.pdf" and att.get_payload(decode=True) == data
    assert len(m.headers("Content-Type")) == 1


def test_attach_moves_every_content_header_into_the_first_part(server, send, files):
    """A Content-Disposition left on top made mutt (honor_disposition) show
    the whole message as one attachment."""
    path, data = files["report.pdf"]
    piped = message(["From: me@example.com", "To: " + TO, "Subject: piped",
                     "Content-Type: text/plain; charset=us-ascii",
                     "Content-Disposition: inline", "Content-Description: the report"],
                    "hello\n")
    m = run(send, server, ["-t", "-a", path], piped)
    e = parsed(m)
    assert e.get_content_type() == "multipart/mixed" and e["Content-Disposition"] is None
    assert e["Content-Description"] is None
    first, att = list(e.iter_parts())
    assert first["Content-Disposition"] == "inline"
    assert first["Content-Description"] == "the report" and text(first) == "hello\n"
    assert att.get_payload(decode=True) == data


def test_attach_to_a_multipart_mixed_message_adds_parts(server, send, files):
    path, data = files["chart.png"]
    piped = (b"From: me@example.com\nTo: " + TO.encode() + b"\nSubject: mixed\n"
             b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"XYZ\"\n\n"
             b"preamble\n--XYZ\nContent-Type: text/plain\n\nfirst part\n"
             b"--XYZ\nContent-Type: text/csv; name=\"a.csv\"\n\na,b\n--XYZ--\nepilogue\n")
    m = run(send, server, ["-t", "-a", path], piped)
    parts = list(parsed(m).iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/csv", "image/png"]
    assert text(parts[0]).strip() == "first part"
    assert parts[2].get_payload(decode=True) == data


@pytest.mark.parametrize("name", ["mail", "mailx"])
def test_mail_personality(server, mailout, files, name):
    from mailout_run import relay_config
    path, data = files["notes.txt"]
    # mail/mailx have no -C: the configuration comes from $MAILOUT_CONFIG
    conf = mailout.write_config(relay_config(server))
    res = mailout.run(["-s", "from mailx", "-a", path, "-c", "cc@example.com",
                       "-b", "bcc@example.com", "-r", "me@example.com", TO], b"text\n",
                      env={"MAILOUT_CONFIG": str(conf)}, argv0=name)
    assert res.rc == EX_OK, res
    m = server.messages[0]
    e = parsed(m)
    assert e["Subject"] == "from mailx" and e["Cc"] == "cc@example.com"
    assert m.mail_from == "me@example.com" and "bcc@example.com" in m.rcpt_tos
    assert b"bcc@example.com" not in m.data


@pytest.mark.parametrize("argv0,args,hint", [
    ("mailout", ["-s", "alert"], "--cc or --bcc"),
    ("mail", ["-s", "alert"], "-c or -b"),
])
def test_compose_without_recipients_fails_before_reading_the_body(server, mailout, argv0, args,
                                                                  hint):
    """Like sendmail mode: say so at once (64), instead of waiting for the
    body and then blaming To, Cc and Bcc headers the user never wrote.
    Standard input stays open: a mailout that read it would hang here."""
    import subprocess
    from mailout_run import relay_config
    conf = mailout.write_config(relay_config(server))
    p = subprocess.Popen([argv0] + args, executable=mailout.bin, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=mailout.env({"MAILOUT_CONFIG": str(conf)}))
    try:
        p.wait(timeout=20)              # standard input still open
    except subprocess.TimeoutExpired:
        pass
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdin.close()
    err = p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    assert p.returncode == EX_USAGE, err
    assert b"no recipients" in err and hint.encode() in err and b"To, Cc" not in err, err
    assert server.received_nothing()


def test_local_names_are_qualified_in_headers_and_aliased_in_the_envelope(server, mailout,
                                                                        tmp_path):
    """smartd and zfs-zed run "mail -s ... root": the To header that leaves
    the host says root@<this host> (Postfix appends myorigin), and the
    envelope still goes through the aliases."""
    from mailout_run import relay_config
    aliases = tmp_path / "aliases"
    aliases.write_text("root: admin@example.com\nops: ops-team@example.com\n")
    conf = mailout.write_config(relay_config(server, globals_={"aliases": str(aliases)}))
    res = mailout.run(["-s", "SMART error", "-c", "Ops <ops>", "root"], b"disk failing\n",
                      env={"MAILOUT_CONFIG": str(conf)}, argv0="mail")
    assert res.rc == EX_OK, res
    m = server.messages[0]
    assert sorted(m.rcpt_tos) == ["admin@example.com", "ops-team@example.com"]
    to, cc = m.headers("To")[0].decode(), m.headers("Cc")[0].decode()
    assert to.startswith("To: root@") and len(to) > len("To: root@"), to
    assert cc.startswith("Cc: Ops <ops@") and cc.endswith(">"), cc
    # -t with compose mode reads nothing back: root@<host> in To is no
    # second recipient beside the aliased root.
    res = mailout.run(["-s", "again", "-t", "root"], b"x\n", config_file=conf)
    assert res.rc == EX_OK, res
    assert server.messages[-1].rcpt_tos == ["admin@example.com"], server.messages[-1].rcpt_tos
    # A reply to root@<host> (or mail to root@localhost) follows root's alias
    # too, as Postfix's local(8) has it, instead of landing in root's mailbox.
    host = to[len("To: root@"):]
    for rcpt in ("root@" + host, "root@localhost"):
        res = mailout.run([rcpt], b"Subject: re\n\nx\n", config_file=conf)
        assert res.rc == EX_OK, res
        assert server.messages[-1].rcpt_tos == ["admin@example.com"], (rcpt, server.messages[-1])


def test_dry_run_prints_the_composed_message(server, send):
    res = send(server, ["--dry-run", "-s", "dry", TO], b"body\n")
    assert res.rc == EX_OK and server.received_nothing()
    assert b"Subject: dry" in res.out and b"MIME-Version: 1.0" in res.out


def test_subject_with_a_line_break_is_refused(server, send):
    res = send(server, ["-s", "a\nBcc: x@evil.example", TO], b"body\n")
    assert res.rc == EX_USAGE and server.received_nothing(), res


@pytest.mark.parametrize("argv0,opt", [("mailout", "--from"), ("mailx", "-r")])
def test_from_with_a_line_break_is_refused_and_said_why(server, mailout, argv0, opt):
    """The refusal names the option the caller used and the reason (it
    once printed "--from: " and then whatever was on the stack)."""
    from mailout_run import relay_config
    conf = mailout.write_config(relay_config(server))
    res = mailout.run([opt, "a@example.com\nBcc: x@evil.example", "-s", "x", TO], b"body\n",
                      env={"MAILOUT_CONFIG": str(conf)}, argv0=argv0)
    assert res.rc == EX_USAGE and server.received_nothing(), res
    assert res.stderr == "mailout: %s: the address contains a line break\n" % opt, res


# ---- header folding (RFC 5322 2.1.1 and 2.2.3) ----

def header_lines(m):
    return m.header_bytes.split(b"\r\n")


def assert_short_7bit(m, limit=78):
    head = m.header_bytes
    assert all(len(l) <= limit for l in header_lines(m)), head
    assert all(b < 0x80 for b in head), "header section must be 7-bit"


def test_long_ascii_subject_is_folded_at_white_space(server, send):
    subject = "word " * 300                       # 1,500 characters
    m = run(send, server, ["-s", subject, TO])
    assert_short_7bit(m)
    assert len(m.headers("Subject")[0].split(b"\r\n")) > 15
    assert b"=?" not in m.headers("Subject")[0], "plain words need no encoding"
    assert str(parsed(m)["Subject"]) == subject


def test_a_word_too_long_for_a_line_is_encoded_and_split(server, send):
    word = "x" * 1200
    subject = "see " + word + " now"
    m = run(send, server, ["-s", subject, TO])
    assert_short_7bit(m)
    assert str(parsed(m)["Subject"]) == subject


def test_long_display_names_are_folded(server, send):
    name = "Nightly Backup Robot of the Accounting Department, Building " * 4
    name = name.strip()
    cc = '"{}" <cc@example.com>'.format(name)
    m = run(send, server, ["-s", "x", "--cc", cc, "-F", name, TO])
    assert_short_7bit(m)
    e = parsed(m)
    assert e["From"].addresses[0].display_name == name
    assert e["Cc"].addresses[0].display_name == name
    assert e["Cc"].addresses[0].addr_spec == "cc@example.com"


def test_long_from_name_in_sendmail_mode_is_folded(server, send):
    name = "Cron Daemon " * 12
    name = name.strip()
    m = run(send, server, ["-F", name, TO], b"Subject: cron\n\nout\n")
    assert_short_7bit(m)
    assert parsed(m)["From"].addresses[0].display_name == name


def decoded_phrase(field):
    """The display name of a raw "From: name <addr>" field, decoded as RFC 2047
    6.2 says: white space between adjacent encoded-words is dropped (the
    default policy's address parser keeps it, wrongly)."""
    value = field.split(b":", 1)[1].replace(b"\r\n", b"").decode("ascii")
    name = value[:value.rindex("<")].strip()
    return str(email.header.make_header(email.header.decode_header(name)))


def test_from_name_with_one_huge_word(server, send):
    name = "N" * 1500
    m = run(send, server, ["-F", name, TO], b"Subject: cron\n\nout\n")
    assert_short_7bit(m)
    assert decoded_phrase(m.headers("From")[0]) == name


# ---- quoted-printable (RFC 2045 6.7) ----

@pytest.mark.parametrize("body", [
    "café a \rb\n",          # white space right before a lone CR
    "café a \r",             # ... at the very end
    "café\t\rb \r\n",        # a tab, and white space before a CRLF
    "é" + " " * 80 + "\rx\n",
])
def test_quoted_printable_keeps_white_space_before_a_lone_cr(server, send, body):
    m = run(send, server, ["-s", "qp", TO], body.encode())
    e = parsed(m)
    assert e["Content-Transfer-Encoding"] == "quoted-printable"
    want = body.encode().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not want.endswith(b"\n"):
        want = want            # no line break added at the end: soft break
    assert e.get_payload(decode=True) == want
    assert max(len(l) for l in wire_lines(m)) <= 76


# ---- attachments to a piped multipart message (RFC 2045 5.1) ----

@pytest.mark.parametrize("content_type", [
    'multipart/mixed; xboundary="zz"; boundary="b4"',
    'multipart/mixed; xboundary=zz; boundary=b4',
    'Multipart/Mixed (a comment) ;\n\tBOUNDARY = "b4" ; charset=x',
    'multipart/mixed; name="boundary=zz"; boundary="b4"',
    # Python's parser splits at the ";" in the comment: raw bytes checked
    'multipart/mixed (a comment; boundary="zz"); boundary="b4"',
])
def test_boundary_parameter_is_parsed_not_searched(server, send, files, content_type):
    path, data = files["chart.png"]
    piped = ("From: me@example.com\nTo: " + TO + "\nSubject: mixed\nMIME-Version: 1.0\n"
             "Content-Type: " + content_type + "\n\npreamble\n--b4\n"
             "Content-Type: text/plain\n\nfirst part\n--zz\n--b4--\nepilogue\n").encode()
    m = run(send, server, ["-t", "-a", path], piped)
    assert m.body.endswith(b"--b4--\r\nepilogue\r\n")
    assert re.search(rb"first part\r\n--zz\r\n--b4\r\nContent-Type: image/png;(.|\r\n)*"
                     rb"\r\n--b4--\r\nepilogue\r\n$", m.body)
    if "comment;" in content_type:
        return
    parts = list(parsed(m).iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "image/png"]
    assert parts[1].get_payload(decode=True) == data


def test_attach_to_a_multipart_message_whose_boundary_is_unusable(server, send, files):
    """No usable boundary: the message is wrapped, nothing is lost."""
    path, data = files["chart.png"]
    piped = (b"From: me@example.com\nTo: " + TO.encode() + b"\nSubject: odd\n"
             b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"\"\n\nbody\n")
    m = run(send, server, ["-t", "-a", path], piped)
    parts = list(parsed(m).iter_parts())
    assert parts[-1].get_payload(decode=True) == data


MiB = 1 << 20


def run_dry_measured(mailout, args, stdin_path, out_path):
    """mailout --dry-run under GNU time (as in test_streaming.py): exit
    status, stderr, peak RSS in KiB; the output goes to out_path."""
    if not os.access("/usr/bin/time", os.X_OK):
        pytest.skip("GNU time not installed (Debian package time)")
    rss = mailout.tmp / "rss"
    with open(stdin_path, "rb") as inp, open(out_path, "wb") as out:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss), mailout.bin,
                            "--dry-run", "--host", "127.0.0.1"] + args,
                           stdin=inp, stdout=out, stderr=subprocess.PIPE,
                           env=mailout.env(), cwd=str(mailout.tmp), timeout=300)
    return p.returncode, p.stderr.decode("utf-8", "replace"), int(rss.read_text().split()[-1])


@pytest.mark.parametrize("mixed", [True, False])
def test_attach_to_a_message_with_a_100_mib_line_in_bounded_memory(tmp_path, mailout,
                                                                    files, mixed):
    path, data = files["notes.txt"]
    head = "From: me@example.com\nTo: {}\nSubject: one line\nMIME-Version: 1.0\n".format(TO)
    if mixed:
        head += 'Content-Type: multipart/mixed; boundary="b4"\n\n--b4\n' \
                "Content-Type: text/plain\n\n"
    else:
        head += "Content-Type: text/plain\n\n"
    msg = tmp_path / "line.eml"
    with open(msg, "wb") as f:
        f.write(head.encode())
        chunk = b"x" * MiB
        for _ in range(100):
            f.write(chunk)
        f.write(b"\n--b4--\n" if mixed else b"\n")
    out = tmp_path / "out.eml"
    rc, err, kib = run_dry_measured(mailout, ["-t", "-a", path], msg, out)
    assert rc == EX_OK, err
    with open(out, "rb") as f:
        f.seek(-4096, os.SEEK_END)
        tail = f.read()
    tail = tail[tail.rindex(b"x" * 100) + 100:]
    delim = re.match(rb"\r\n(?:\r\n)?--([^\r]+)\r\n", tail)
    assert delim, tail[:200]
    e = email.message_from_bytes(b"Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
                                 % delim.group(1) + tail, policy=email.policy.default)
    att = [p for p in e.iter_parts() if p.get_filename() == "notes.txt"]
    assert att and att[0].get_payload(decode=True) == data
    if mixed:
        assert tail.endswith(b"\r\n--b4--\r\n")
    if instrumented(mailout.bin):
        pytest.skip("peak RSS {} KiB not meaningful on an instrumented binary".format(kib))
    assert kib <= 16 * 1024, "peak RSS {} KiB".format(kib)


# ---- file names (RFC 2231, RFC 2047 5) ----

def test_non_ascii_file_names_are_rfc_2231_alone_and_fold(server, send, files):
    names = ["résumé été.txt", "n" * 40 + "—" * 30 + ".dat"]
    args = ["-s", "names"]
    for n in names:
        args += ["-a", files[n][0]]
    m = run(send, server, args + [TO])
    parts = list(parsed(m).iter_parts())[1:]
    assert [p.get_filename() for p in parts] == names
    for p, n in zip(parts, names):
        assert p.get_param("name") == n
        assert p.get_payload(decode=True) == files[n][1]
    lines = wire_lines(m)
    assert all(len(l) <= 78 for l in lines if not re.fullmatch(rb"[A-Za-z0-9+/=]*", l))
    raw = b"\r\n".join(lines)
    assert b"filename*=UTF-8''r%C3%A9sum%C3%A9%20%C3%A9t%C3%A9.txt" in raw
    assert b"filename*0*=UTF-8''" in raw and b"filename*1*=" in raw
    # No ASCII stand-in: mutt 2.2 saved files under it ("r_sum_ _t_.txt").
    assert b"filename=" not in raw and b"\tname=" not in raw
    assert b"=?" not in raw, "no RFC 2047 encoded-word in a parameter"


def test_long_ascii_file_name_and_long_media_type_fold(server, send, tmp_path):
    name = "quarterly-report-" + "x" * 100 + ".docx"
    f = tmp_path / name
    f.write_bytes(b"PK\x03\x04")
    m = run(send, server, ["-s", "long", "-a", str(f), TO])
    assert all(len(l) <= 78 for l in wire_lines(m))
    att = list(parsed(m).iter_parts())[1]
    assert att.get_filename() == name and att.get_param("name") == name
    assert att.get_content_type() == ("application/vnd.openxmlformats-officedocument."
                                      "wordprocessingml.document")


# ---- what can be attached ----

def test_attaching_a_device_is_refused_with_the_right_reason(server, send):
    res = send(server, ["-s", "x", "-a", "/dev/null", TO], b"body\n")
    assert res.rc == EX_NOINPUT and server.received_nothing(), res
    assert "/dev/null: not a regular file" in res.stderr
    assert "directory" not in res.stderr


def test_attaching_a_directory_is_refused(server, send, tmp_path):
    res = send(server, ["-s", "x", "-a", str(tmp_path), TO], b"body\n")
    assert res.rc == EX_NOINPUT and server.received_nothing(), res
    assert "is a directory" in res.stderr


def fifo_writer(path, silent):
    """A process holding path (a FIFO) open for writing: silent, it writes
    nothing and waits; else it writes some data and waits."""
    code = ("import os, sys, time\nfd = os.open(sys.argv[1], os.O_WRONLY)\n"
            "%stime.sleep(30)\n" % ("" if silent else "os.write(fd, b'a,b\\n')\n"))
    return subprocess.Popen(["/usr/bin/python3", "-c", code, str(path)])


@pytest.mark.parametrize("writer", ["none", "silent", "writing"])
@pytest.mark.parametrize("mode", ["compose", "piped"])
def test_a_fifo_is_refused_at_once(server, send, tmp_path, writer, mode):
    """A FIFO could block the open (no writer) or every read (a silent
    writer) for ever: only regular files are attached, and anything else
    is refused at once with 66, before anything is sent."""
    fifo = tmp_path / "report.csv"
    os.mkfifo(fifo)
    proc = None
    if writer != "none":
        proc = fifo_writer(fifo, writer == "silent")
        time.sleep(0.3)       # the writer has the FIFO open
    try:
        args = (["-s", "fifo", "-a", str(fifo), TO] if mode == "compose"
                else ["-t", "-a", str(fifo)])
        res = send(server, args, message(["To: " + TO, "Subject: x"]), timeout=10)
    finally:
        if proc:
            proc.kill()
            proc.wait()
    assert res.rc == EX_NOINPUT and server.received_nothing(), res
    assert "%s: a pipe, not a regular file" % fifo in res.stderr, res
    assert res.elapsed < 5, res


# ---- display names and addresses in composed headers ----

def test_display_names_are_kept_and_encoded(server, send):
    m = run(send, server, ["-s", "x", "--cc", "Jörg Müller <j@example.com>, k@example.com",
                           '"Doe, John" <' + TO + ">"])
    assert_short_7bit(m)
    e = parsed(m)
    cc = e["Cc"].addresses
    assert [(a.display_name, a.addr_spec) for a in cc] == [("Jörg Müller", "j@example.com"),
                                                           ("", "k@example.com")]
    assert [(a.display_name, a.addr_spec) for a in e["To"].addresses] == [("Doe, John", TO)]
    assert sorted(m.rcpt_tos) == sorted([TO, "j@example.com", "k@example.com"])


@pytest.mark.parametrize("args", [
    ["--cc", "jörg@example.com", TO],
    ["--bcc", "Jörg <jörg@example.com>", TO],
    ["jörg@example.com"],
    ["--from", "jörg@example.com", "-f", "me@example.com", TO],
])
def test_non_ascii_addresses_are_refused_in_compose_mode(server, send, args):
    res = send(server, ["-s", "x"] + args, b"body\n")
    assert res.rc == EX_USAGE and server.received_nothing(), res
    assert "SMTPUTF8" in res.stderr


def test_mailx_r_with_a_display_name(server, mailout):
    from mailout_run import relay_config
    conf = mailout.write_config(relay_config(server))
    res = mailout.run(["-s", "x", "-r", "Backup Robot <robot@example.com>", TO], b"text\n",
                      env={"MAILOUT_CONFIG": str(conf)}, argv0="mailx")
    assert res.rc == EX_OK, res
    m = server.messages[0]
    assert m.mail_from == "robot@example.com"
    a = parsed(m)["From"].addresses[0]
    assert (a.display_name, a.addr_spec) == ("Backup Robot", "robot@example.com")


# ---- media types: the system's mime.types first (SPEC 4) ----

def system_mime_type(ext):
    try:
        with open("/etc/mime.types") as f:
            for line in f:
                fields = line.split()
                if fields and not fields[0].startswith("#") and ext in fields[1:]:
                    return fields[0]
    except FileNotFoundError:
        pass
    return None


def test_system_mime_types_come_before_the_built_in_table(server, send, tmp_path):
    # .tgz is application/gzip in the built-in table; Debian's mime.types
    # (package media-types) says application/x-gtar-compressed.
    want = system_mime_type("tgz")
    if want is None or want == "application/gzip":
        pytest.skip("/etc/mime.types missing or without its own type for .tgz")
    args = ["-s", "types"]
    for name in ["backup.tgz", "letter.rtf", "old.bz2"]:
        (tmp_path / name).write_bytes(b"data")
        args += ["-a", str(tmp_path / name)]
    m = run(send, server, args + [TO])
    got = [p.get_content_type() for p in list(parsed(m).iter_parts())[1:]]
    assert got == [want, system_mime_type("rtf") or "application/octet-stream",
                   system_mime_type("bz2") or "application/x-bzip2"]


def test_text_attachments_say_their_charset(server, send, tmp_path):
    """Without a charset readers take text as ASCII: mutt showed UTF-8 as
    "Gr????e".  Binary in a .txt gets none (readers guess, as before)."""
    files = {"gruss.txt": "Grüße aus Köln\n".encode(), "plain.csv": b"a,b\n1,2\n",
             "noise.txt": bytes(range(256)) * 4}
    args = ["-s", "charsets"]
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        args += ["-a", str(tmp_path / name)]
    m = run(send, server, args + [TO])
    parts = {p.get_filename(): p for p in list(parsed(m).iter_parts())[1:]}
    assert parts["gruss.txt"].get_content_charset() == "utf-8"
    assert parts["gruss.txt"].get_content() == "Grüße aus Köln\n"
    assert parts["plain.csv"].get_content_charset() == "us-ascii"
    assert parts["noise.txt"].get_content_charset() is None
    for name, data in files.items():
        assert parts[name].get_payload(decode=True) == data


def test_attaching_standard_input_when_it_is_a_pipe_is_refused(server, send):
    """The body reads the pipe: the attachment went out empty and its data
    became the body, with exit 0."""
    res = send(server, ["-s", "stdin", "-a", "/dev/stdin", TO], b"data\n")
    assert res.rc == 66 and "standard input" in res.stderr, res
    assert server.received_nothing()


@pytest.mark.parametrize("body,sent", [(b"", 0), (b"disk 91% full\n", 1)])
def test_mailx_E_sends_nothing_for_an_empty_body(server, mailout, body, sent):
    """The cron idiom "cmd | mail -E -s ..." (bsd-mailx, s-nail): mail only
    when cmd printed something.  -E was accepted and ignored."""
    from mailout_run import relay_config
    conf = mailout.write_config(relay_config(server))
    res = mailout.run(["-E", "-s", "report", TO], body, env={"MAILOUT_CONFIG": str(conf)},
                      argv0="mail")
    assert res.rc == EX_OK, res
    assert len(server.messages) == sent
