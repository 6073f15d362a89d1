"""Real caller programs from Debian's packages, end to end through mailout.

test_sendmail_mode.py replays the argument vectors of cron, PHP, mutt and others;
this file runs the programs themselves.  Each one hands its message to
mailout (as sendmail, as `mailout -bs`, or through its mailx personality),
mailout relays it to a recording aiosmtpd server on 127.0.0.1, and the tests
check the bytes that server received (envelope sender, recipients, headers,
body, attachment content) and what the caller reported (its exit status, the
return value of PHP's mail(), the exception Symfony Mailer throws).

Covered, with the Debian package each part needs (a test whose program is
missing is skipped and names the package):

  php-cli             PHP's mail() through sendmail_path: To/Cc/Bcc, Subject
                      and additional headers; additional_params -f sets the
                      envelope sender; a refusing relay makes mail() false; a
                      relay that is down: queued, then delivered by -q
  php-symfony-mailer  Symfony Mailer's SendmailTransport.  -bs: text and
                      attachment, two messages in one session, a refused
                      message then a good one in one session, a 3 MiB
                      attachment, a relay that is down (queued, then -q), a
                      refusal -> TransportException.  -t: delivery, and a
                      refusal -> TransportException
  git-email           git send-email with mailout as --smtp-server: the patch
                      body arrives byte for byte and applies with git am; a
                      refusal fails git send-email with mailout's status
  mutt                batch mode with $sendmail = mailout: attachment bytes,
                      envelope sender, Bcc; a refusal fails mutt
  bsd-mailx           bsd-mailx with sendmail=mailout and mailout's own mailx
                      personality, given the same command line, send the same
                      envelope, headers and body

Every program runs with the private HOME (and XDG_*) of the `mailout`
fixture, so no user dotfiles are read (git with GIT_CONFIG_NOSYSTEM, mutt
with -n; PHP reads the packaged php.ini, the settings that matter are given
with -d), and with a timeout.
"""
import email
import email.policy
import json
import os
import shlex
import shutil
import subprocess
import time

import pytest

from mailout_run import MAILOUT_BIN, relay_config

PHP = shutil.which("php")
SYMFONY_AUTOLOAD = "/usr/share/php/Symfony/Component/Mailer/autoload.php"
GIT = shutil.which("git")
GIT_SEND_EMAIL = "/usr/lib/git-core/git-send-email"
MUTT = shutil.which("mutt")
BSD_MAILX = shutil.which("bsd-mailx")

TIMEOUT = 30

need_php = pytest.mark.skipif(PHP is None, reason="php not installed (Debian package php-cli)")
need_symfony = pytest.mark.skipif(
    PHP is None or not os.path.exists(SYMFONY_AUTOLOAD),
    reason="Symfony Mailer not installed (Debian packages php-cli php-symfony-mailer)")
need_git_email = pytest.mark.skipif(
    GIT is None or not os.path.exists(GIT_SEND_EMAIL),
    reason="git send-email not installed (Debian package git-email)")
need_mutt = pytest.mark.skipif(MUTT is None, reason="mutt not installed (Debian package mutt)")
need_bsd_mailx = pytest.mark.skipif(BSD_MAILX is None,
                                    reason="bsd-mailx not installed (Debian package bsd-mailx)")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def caller(mailout, argv, stdin=b"", env=None, cwd=None, timeout=TIMEOUT):
    """Run a caller program with the mailout fixture's private environment
    (HOME, XDG_*, MAIL, TMPDIR, LC_ALL=C) plus env."""
    e = mailout.env(env)
    if isinstance(stdin, str):
        stdin = stdin.encode()
    return subprocess.run(argv, input=stdin, capture_output=True, env=e,
                          cwd=str(cwd or mailout.tmp), timeout=timeout)


def show(p):
    return "{!r}\n  exit {}\n  stdout: {!r}\n  stderr: {!r}".format(
        p.args, p.returncode, p.stdout[-3000:], p.stderr[-3000:])


def config(mailout, srv, **globals_):
    """A 0600 configuration file for srv (queue = never unless given)."""
    return mailout.write_config(relay_config(srv, globals_=globals_ or None))


def sendmail_cmd(conf, *args):
    """The command line a caller is told to run: mailout -C CONF ARGS."""
    return " ".join(shlex.quote(a) for a in (MAILOUT_BIN, "-C", str(conf), *args))


def parse(m):
    return email.message_from_bytes(m.data, policy=email.policy.compat32)


def header(m, name):
    """The unfolded value of the single header field name."""
    fields = m.headers(name)
    assert len(fields) == 1, (name, fields, m.header_bytes)
    return fields[0].split(b":", 1)[1].replace(b"\r\n", b"").strip().decode()


def attachments(m):
    """{filename: decoded bytes} of the parts of m that have a filename."""
    return {p.get_filename(): p.get_payload(decode=True) for p in parse(m).walk()
            if p.get_filename()}


def wait_for(pred, timeout=10):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def flush_queue(mailout, conf, queue_dir, smtpd, listed):
    """The one queued message: -bp lists it (with each of listed), then -q
    delivers it to a relay that is up.  Returns what that relay received."""
    bp = mailout.run(["-bp"], config_file=conf)
    assert bp.rc == 0 and all(a in bp.stdout for a in listed), bp
    srv = smtpd("plain")
    q = mailout.run(["-q"], config_file=config(mailout, srv, queue="onfail", queue_dir=queue_dir))
    assert q.rc == 0, q
    assert len(srv.messages) == 1
    return srv.messages[0]


def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# A body with the lines that trip up mail paths: a lone dot (ends the input
# without -i, must be dot-stuffed on the wire), dotted lines, "From " at the
# start of a line (mbox quoting must not happen on the way to a relay).
AWKWARD_BODY = "first line\n.\n..two dots\nFrom the start of a line\nlast line\n"

# An attachment with every byte value, so any mangling shows.
ATTACHMENT = bytes(range(256)) * 9 + b"\r\n.\r\nFrom x\n.\n"


# --------------------------------------------------------------------------
# PHP mail() (php-cli)
# --------------------------------------------------------------------------

def php_mail(mailout, conf, php_args, extra_params=None):
    """Call PHP's mail() with sendmail_path = mailout -C CONF -t -i (what
    php.ini documents); php_args is the PHP argument list after `to`.
    Returns (completed process, mail()'s result as "true"/"false")."""
    code = ("$r = mail(...json_decode($argv[1], true)); "
            "echo $r ? 'true' : 'false';")
    args = list(php_args) + ([extra_params] if extra_params is not None else [])
    p = caller(mailout, [PHP, "-d", "sendmail_path=" + sendmail_cmd(conf, "-t", "-i"),
                         "-d", "mail.add_x_header=0", "-d", "mail.log=",
                         "-d", "display_errors=stderr", "-r", code, "--", json.dumps(args)])
    return p, p.stdout.decode().strip()


PHP_HEADERS = {"From": "Web App <app@example.com>", "Cc": "cc@example.com",
               "Bcc": "hidden@example.com", "X-Php-Test": "additional header"}


@need_php
def test_php_mail_delivers_to_cc_bcc_subject_and_additional_headers(server, mailout):
    conf = config(mailout, server)
    p, ret = php_mail(mailout, conf, ["to@example.com", "PHP subject", AWKWARD_BODY,
                                      PHP_HEADERS])
    assert p.returncode == 0 and ret == "true", show(p)
    assert len(server.messages) == 1
    m = server.messages[0]
    assert sorted(m.rcpt_tos) == ["cc@example.com", "hidden@example.com", "to@example.com"]
    assert header(m, "To") == "to@example.com"
    assert header(m, "Subject") == "PHP subject"
    assert header(m, "From") == "Web App <app@example.com>"
    assert header(m, "Cc") == "cc@example.com"
    assert header(m, "X-Php-Test") == "additional header"
    assert not m.headers("Bcc") and b"hidden@example.com" not in m.data
    assert m.headers("Date") and m.headers("Message-ID")      # added by mailout
    # the lone dot did not end the message (-i), nothing was quoted
    assert m.body.startswith(crlf(AWKWARD_BODY.encode())), m.body


@need_php
def test_php_mail_additional_params_set_the_envelope_sender(server, mailout):
    conf = config(mailout, server)
    p, ret = php_mail(mailout, conf, ["to@example.com", "bounce test", "body\n",
                                      {"From": "app@example.com"}], "-fbounce@example.com")
    assert ret == "true", show(p)
    m = server.messages[0]
    assert m.mail_from == "bounce@example.com"
    assert m.rcpt_tos == ["to@example.com"]
    assert header(m, "From") == "app@example.com"     # the header is not rewritten


@need_php
def test_php_mail_returns_false_when_the_relay_refuses(smtpd, mailout):
    srv = smtpd("plain", data="554 5.7.1 message refused by test relay")
    conf = config(mailout, srv)
    p, ret = php_mail(mailout, conf, ["to@example.com", "refused", "body\n",
                                      {"From": "app@example.com"}])
    assert ret == "false", show(p)
    assert not srv.messages and len(srv.refused) == 1
    assert header(srv.refused[0], "Subject") == "refused"    # it did reach the relay
    err = p.stderr.decode()
    assert "mailout: " in err and "554" in err, show(p)


@need_php
def test_php_mail_is_queued_when_the_relay_is_down_then_delivered_by_q(
        mailout, refused_port, smtpd):
    queue_dir = str(mailout.tmp / "queue")
    conf = config(mailout, refused_port, queue="onfail", queue_dir=queue_dir)
    p, ret = php_mail(mailout, conf, ["to@example.com", "queued by php", AWKWARD_BODY,
                                      {"From": "app@example.com"}], "-fbounce@example.com")
    assert ret == "true", show(p)
    assert "queued as" in p.stderr.decode(), show(p)
    m = flush_queue(mailout, conf, queue_dir, smtpd, ["to@example.com", "bounce@example.com"])
    assert m.mail_from == "bounce@example.com" and m.rcpt_tos == ["to@example.com"]
    assert header(m, "Subject") == "queued by php"
    assert m.body.startswith(crlf(AWKWARD_BODY.encode())), m.body
    assert "Mail queue is empty" in mailout.run(["-bp"], config_file=conf).stdout


# --------------------------------------------------------------------------
# Symfony Mailer's SendmailTransport (php-symfony-mailer)
# --------------------------------------------------------------------------

SYMFONY_SCRIPT = r"""<?php
require '/usr/share/php/Symfony/Component/Mailer/autoload.php';
use Symfony\Component\Mailer\Mailer;
use Symfony\Component\Mailer\Transport\SendmailTransport;
use Symfony\Component\Mime\Email;

// argv: transport command, attachment file, then one To address per message
$mailer = new Mailer(new SendmailTransport($argv[1]));
foreach (array_slice($argv, 3) as $n => $to) {
    $i = $n + 1;
    $email = (new Email())
        ->from('Symfony App <app@example.com>')
        ->to($to)
        ->cc('cc@example.com')
        ->bcc('hidden@example.com')
        ->subject("Symfony message $i")
        ->text("Text body $i\n.\n..two dots\nFrom the fourth line\n")
        ->attachFromPath($argv[2], 'data.bin', 'application/octet-stream');
    try {
        $mailer->send($email);
        echo "SENT $i\n";
    } catch (\Symfony\Component\Mailer\Exception\TransportExceptionInterface $e) {
        echo "FAILED $i: ", get_class($e), ': ', $e->getMessage(), "\n";
    }
}
"""


FAILED_TRANSPORT = "FAILED 1: Symfony\\Component\\Mailer\\Exception\\TransportException: "


def symfony(mailout, command, to=("to@example.com",), attachment=ATTACHMENT):
    """Send one message per address in to with Symfony Mailer's
    SendmailTransport(command), all through one transport (for -bs: one
    mailout process).  stdout says "SENT i" or "FAILED i: exception" for each."""
    script = mailout.tmp / "symfony.php"
    script.write_text(SYMFONY_SCRIPT)
    att = mailout.tmp / "data.bin"
    att.write_bytes(attachment)
    return caller(mailout, [PHP, "-d", "display_errors=stderr", "-d", "default_socket_timeout=20",
                            str(script), command, str(att), *to])


def assert_symfony_message(m, i=1, to="to@example.com", attachment=ATTACHMENT):
    assert m.mail_from == "app@example.com"
    assert sorted(m.rcpt_tos) == sorted(["cc@example.com", "hidden@example.com", to])
    assert header(m, "Subject") == "Symfony message {}".format(i)
    assert header(m, "From") == "Symfony App <app@example.com>"
    assert header(m, "To") == to
    assert not m.headers("Bcc") and b"hidden@example.com" not in m.data
    msg = parse(m)
    text = [p for p in msg.walk() if p.get_content_type() == "text/plain"]
    assert len(text) == 1
    assert text[0].get_payload(decode=True).replace(b"\r\n", b"\n") == \
        "Text body {}\n.\n..two dots\nFrom the fourth line\n".format(i).encode()
    assert attachments(m) == {"data.bin": attachment}


@need_symfony
def test_symfony_bs_delivers_text_and_attachment(server, mailout):
    conf = config(mailout, server)
    p = symfony(mailout, sendmail_cmd(conf, "-bs"))
    assert p.returncode == 0 and p.stdout == b"SENT 1\n", show(p)
    assert len(server.messages) == 1
    assert_symfony_message(server.messages[0])


@need_symfony
def test_symfony_bs_sends_two_messages_in_one_session(server, mailout):
    """Symfony keeps the -bs process open between sends (RSET, MAIL...)."""
    conf = config(mailout, server)
    p = symfony(mailout, sendmail_cmd(conf, "-bs"), to=["a@example.com", "b@example.com"])
    assert p.returncode == 0 and p.stdout == b"SENT 1\nSENT 2\n", show(p)
    assert len(server.messages) == 2
    assert_symfony_message(server.messages[0], 1, "a@example.com")
    assert_symfony_message(server.messages[1], 2, "b@example.com")


@need_symfony
def test_symfony_bs_session_goes_on_after_a_refused_message(smtpd, mailout):
    """A relay refusal fails that send only: Symfony sends RSET and the
    next message goes through the same -bs session."""
    srv = smtpd("plain", rcpt_for={"bad@example.com": "550 5.1.1 bad@example.com unknown"})
    conf = config(mailout, srv)
    p = symfony(mailout, sendmail_cmd(conf, "-bs"), to=["bad@example.com", "good@example.com"])
    lines = p.stdout.decode().splitlines()
    assert p.returncode == 0 and len(lines) == 2, show(p)
    assert lines[0].startswith(FAILED_TRANSPORT)
    assert "550" in lines[0] and "bad@example.com unknown" in lines[0], show(p)
    assert lines[1] == "SENT 2", show(p)
    assert len(srv.messages) == 1
    assert_symfony_message(srv.messages[0], 2, "good@example.com")


@need_symfony
def test_symfony_bs_streams_a_large_attachment(server, mailout):
    big = os.urandom(3 << 20)
    conf = config(mailout, server)
    p = symfony(mailout, sendmail_cmd(conf, "-bs"), attachment=big)
    assert p.returncode == 0 and p.stdout == b"SENT 1\n", show(p)
    assert len(server.messages) == 1
    assert_symfony_message(server.messages[0], attachment=big)


@need_symfony
def test_symfony_bs_with_the_relay_down_is_queued_then_delivered_by_q(
        mailout, refused_port, smtpd):
    queue_dir = str(mailout.tmp / "queue")
    conf = config(mailout, refused_port, queue="onfail", queue_dir=queue_dir)
    p = symfony(mailout, sendmail_cmd(conf, "-bs"))
    assert p.returncode == 0 and p.stdout == b"SENT 1\n", show(p)
    assert_symfony_message(flush_queue(mailout, conf, queue_dir, smtpd,
                                       ["hidden@example.com", "app@example.com"]))


@need_symfony
def test_symfony_bs_relay_refusal_is_a_transport_exception(smtpd, mailout):
    srv = smtpd("plain", data="554 5.7.1 spam refused by test relay")
    conf = config(mailout, srv)
    p = symfony(mailout, sendmail_cmd(conf, "-bs"))
    out = p.stdout.decode()
    assert out.startswith(FAILED_TRANSPORT), show(p)
    assert "554" in out and "spam refused by test relay" in out, show(p)
    assert not srv.messages and len(srv.refused) == 1


@need_symfony
def test_symfony_t_mode_delivers(server, mailout):
    # Symfony drops -t, appends -f'app@example.com' and -- 'to' 'cc' 'bcc'
    conf = config(mailout, server)
    p = symfony(mailout, sendmail_cmd(conf, "-t", "-i"))
    assert p.returncode == 0 and p.stdout == b"SENT 1\n", show(p)
    assert len(server.messages) == 1
    assert_symfony_message(server.messages[0])


@need_symfony
def test_symfony_t_mode_relay_refusal_is_a_transport_exception(smtpd, mailout):
    srv = smtpd("plain", data="554 5.7.1 spam refused by test relay")
    conf = config(mailout, srv)
    p = symfony(mailout, sendmail_cmd(conf, "-t", "-i"))
    out = p.stdout.decode()
    assert out.startswith(FAILED_TRANSPORT), show(p)
    assert "exit code 69" in out and "spam refused by test relay" in out, show(p)
    assert not srv.messages and len(srv.refused) == 1


# --------------------------------------------------------------------------
# git send-email (git-email)
# --------------------------------------------------------------------------

GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Ann Author",
           "GIT_AUTHOR_EMAIL": "ann@example.com", "GIT_COMMITTER_NAME": "Ann Author",
           "GIT_COMMITTER_EMAIL": "ann@example.com",
           "GIT_AUTHOR_DATE": "2023-01-02T03:04:05+0000",
           "GIT_COMMITTER_DATE": "2023-01-02T03:04:05+0000"}

COMMIT_MESSAGE = ("Add notes.txt with awkward lines\n\n"
                  "From the start of a line, this must not be quoted.\n"
                  ".\n"
                  "..two dots\n"
                  "8-bit text: Gr\u00fc\u00dfe, \u65e5\u672c\n")
FILE_CONTENT = "line one\n.\nFrom the file\n..\n \ttrailing blanks  \nna\u00efve\n"


def git(mailout, repo, *args, stdin=b""):
    p = caller(mailout, [GIT, *args], stdin=stdin, env=GIT_ENV, cwd=repo)
    assert p.returncode == 0, show(p)
    return p


@pytest.fixture
def patch(mailout):
    """A one-commit repository and its `git format-patch -1` file."""
    repo = mailout.tmp / "repo"
    repo.mkdir()
    git(mailout, repo, "init", "-q", "-b", "main", ".")
    (repo / "notes.txt").write_text(FILE_CONTENT, encoding="utf-8")
    git(mailout, repo, "add", "notes.txt")
    git(mailout, repo, "commit", "-q", "--cleanup=verbatim", "-F", "-",
        stdin=COMMIT_MESSAGE.encode())
    out = git(mailout, repo, "format-patch", "-1", "-o", str(mailout.tmp / "patches"))
    return mailout.tmp / "patches" / os.path.basename(out.stdout.decode().strip())


def send_email(mailout, conf, patch_file, *extra):
    return caller(mailout, [GIT, "send-email", "--smtp-server=" + MAILOUT_BIN,
                            "--smtp-server-option=-C", "--smtp-server-option=" + str(conf),
                            "--from=Ann Author <ann@example.com>",
                            "--envelope-sender=bounces@example.com",
                            "--to=list@example.com", "--cc=reviewer@example.com",
                            "--suppress-cc=all", "--confirm=never", "--no-annotate",
                            "--no-validate", "--8bit-encoding=UTF-8", "--quiet",
                            *extra, str(patch_file)],
                  env=GIT_ENV, cwd=mailout.tmp)


@need_git_email
def test_git_send_email_patch_arrives_byte_for_byte(server, mailout, patch):
    conf = config(mailout, server)
    p = send_email(mailout, conf, patch)
    assert p.returncode == 0, show(p)
    assert len(server.messages) == 1
    m = server.messages[0]
    assert m.mail_from == "bounces@example.com"
    assert m.rcpt_tos == ["list@example.com", "reviewer@example.com"]
    assert header(m, "Subject") == "[PATCH] Add notes.txt with awkward lines"
    assert header(m, "From") == "Ann Author <ann@example.com>"
    assert header(m, "To") == "list@example.com"
    assert header(m, "Cc") == "reviewer@example.com"
    # the body is the patch file's body, every byte (CRLF on the wire)
    patch_body = patch.read_bytes().split(b"\n\n", 1)[1]
    assert patch_body.startswith(b"From the start of a line") and b"\n.\n" in patch_body
    assert "Grüße".encode() in patch_body         # 8-bit, passed through as is
    assert m.body == crlf(patch_body)


@need_git_email
def test_git_send_email_patch_applies_with_git_am(server, mailout, patch):
    conf = config(mailout, server)
    p = send_email(mailout, conf, patch)
    assert p.returncode == 0, show(p)
    mbox = mailout.tmp / "received.mbox"
    mbox.write_bytes(b"From mailout-test Mon Sep 17 00:00:00 2001\n" +
                     server.messages[0].data.replace(b"\r\n", b"\n"))
    repo = mailout.tmp / "clone"
    repo.mkdir()
    git(mailout, repo, "init", "-q", "-b", "main", ".")
    git(mailout, repo, "am", "-q", str(mbox))
    assert (repo / "notes.txt").read_text(encoding="utf-8") == FILE_CONTENT
    log = git(mailout, repo, "log", "-1", "--format=%an <%ae>%n%B").stdout.decode("utf-8")
    assert log == "Ann Author <ann@example.com>\n" + COMMIT_MESSAGE + "\n"


@need_git_email
def test_git_send_email_fails_when_the_relay_refuses(smtpd, mailout, patch):
    srv = smtpd("plain", rcpt="550 5.1.1 no such list (test relay)")
    conf = config(mailout, srv)
    p = send_email(mailout, conf, patch)
    # perl's die after close() of the pipe exits with the child's status
    assert p.returncode == 67, show(p)
    assert b"no such list (test relay)" in p.stderr, show(p)
    assert not srv.messages and not srv.refused


# --------------------------------------------------------------------------
# mutt (batch mode)
# --------------------------------------------------------------------------

def muttrc(mailout, conf):
    rc = mailout.tmp / "muttrc"
    rc.write_text("\n".join([
        'set sendmail="{}"'.format(sendmail_cmd(conf, "-oem", "-oi")),
        'set from="Mutt User <mutt@example.com>"',
        "set use_envelope_from=yes",
        'set hostname="client.example.test"',
        "set copy=no",
        'set record=""',
        'set folder="{}"'.format(mailout.tmp / "Mail"),
        'set spoolfile="{}"'.format(mailout.tmp / "spool"),
        'set charset="utf-8"',
        'set send_charset="us-ascii:utf-8"',
        ""]))
    return rc


def mutt(mailout, conf, body):
    att = mailout.tmp / "report.bin"
    att.write_bytes(ATTACHMENT)
    return caller(mailout, [MUTT, "-n", "-F", str(muttrc(mailout, conf)), "-s", "mutt subject",
                            "-c", "cc@example.com", "-b", "hidden@example.com", "-a", str(att),
                            "--", "to@example.com"],
                  stdin=body)


@need_mutt
def test_mutt_batch_send_with_attachment(server, mailout):
    conf = config(mailout, server)
    p = mutt(mailout, conf, AWKWARD_BODY)
    assert p.returncode == 0, show(p)
    assert len(server.messages) == 1
    m = server.messages[0]
    assert m.mail_from == "mutt@example.com"                 # use_envelope_from: -f
    assert sorted(m.rcpt_tos) == ["cc@example.com", "hidden@example.com", "to@example.com"]
    assert not m.headers("Bcc") and b"hidden@example.com" not in m.data
    assert header(m, "Subject") == "mutt subject"
    assert header(m, "From") == "Mutt User <mutt@example.com>"
    assert attachments(m) == {"report.bin": ATTACHMENT}
    text = [p for p in parse(m).walk() if p.get_content_type() == "text/plain"]
    assert text[0].get_payload(decode=True).replace(b"\r\n", b"\n") == AWKWARD_BODY.encode()


@need_mutt
def test_mutt_fails_when_the_relay_refuses(smtpd, mailout):
    srv = smtpd("plain", data="554 5.7.1 refused by test relay")
    conf = config(mailout, srv)
    p = mutt(mailout, conf, "body\n")
    assert p.returncode != 0 and b"child exited 69" in p.stderr, show(p)
    assert not srv.messages and len(srv.refused) == 1
    assert header(srv.refused[0], "Subject") == "mutt subject"


# --------------------------------------------------------------------------
# bsd-mailx and mailout's mailx personality
# --------------------------------------------------------------------------

MAILX_ARGS = ["-s", "mailx subject", "-c", "cc@example.com", "-b", "hidden@example.com",
              "-r", "sender@example.com", "to@example.com"]
MAILX_BODY = "mailx body\n.\nFrom a line\nlast\n"


def summary(m):
    return {"mail_from": m.mail_from, "rcpt_tos": sorted(m.rcpt_tos),
            "To": header(m, "To"), "Cc": header(m, "Cc"), "Subject": header(m, "Subject"),
            "From": header(m, "From"), "Bcc": m.headers("Bcc"),
            "body": m.body.replace(b"\r\n", b"\n")}


@need_bsd_mailx
def test_bsd_mailx_and_the_mailx_personality_send_the_same(server, mailout):
    conf = config(mailout, server)
    mailrc = mailout.tmp / "mailrc"
    mailrc.write_text("set sendmail={}\n".format(MAILOUT_BIN))
    env = {"MAILRC": str(mailrc), "MAILOUT_CONFIG": str(conf)}
    # bsd-mailx does not wait for its sendmail child: wait for the relay
    p = caller(mailout, [BSD_MAILX, *MAILX_ARGS], stdin=MAILX_BODY, env=env)
    assert p.returncode == 0, show(p)
    assert wait_for(lambda: len(server.messages) == 1), show(p)
    res = mailout.run(MAILX_ARGS, MAILX_BODY, env={"MAILOUT_CONFIG": str(conf)}, argv0="mailx")
    assert res.rc == 0, res
    assert len(server.messages) == 2
    bsd, ours = (summary(m) for m in server.messages)
    assert bsd["rcpt_tos"] == ["cc@example.com", "hidden@example.com", "to@example.com"]
    assert bsd["body"] == MAILX_BODY.encode() and not bsd["Bcc"]
    assert ours == bsd
