"""Local delivery on the embedded default (no configuration at all): mbox,
Maildir when it exists, an unknown local user, and a remote recipient
without an account."""
import os
import stat

from mailout_run import EX_CONFIG, EX_NOUSER, EX_OK, login_name, message

ME = login_name()


def no_config_env(mailout):
    return {"MAILOUT_CONFIG": None}


def test_mbox_delivery_without_configuration(mailout):
    res = mailout.run([ME], message(["Subject: local"], "From here on\nbody\n"),
                      env=no_config_env(mailout))
    assert res.rc == EX_OK, res
    box = mailout.mbox.read_bytes()
    assert box.startswith(b"From ") and b"\r\n" not in box
    assert b"\n>From here on\n" in box and b"Subject: local\n" in box
    assert box.endswith(b"\n\n")
    assert stat.S_IMODE(os.stat(mailout.mbox).st_mode) & 0o077 in (0, 0o060)


def test_maildir_delivery_when_it_exists(mailout):
    for sub in ("cur", "new", "tmp"):
        (mailout.home / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
    res = mailout.run(["-v", ME], message(["Subject: md"], "From x\n"), env=no_config_env(mailout))
    assert res.rc == EX_OK, res
    files = list((mailout.home / "Maildir" / "new").iterdir())
    assert len(files) == 1 and b"Subject: md\n" in files[0].read_bytes()
    assert b"\nFrom x\n" in files[0].read_bytes()        # no >From quoting in Maildir
    assert "delivered to" in res.stderr and str(files[0]) in res.stderr
    assert not list((mailout.home / "Maildir" / "tmp").iterdir())


def test_unknown_local_user_is_67(mailout):
    res = mailout.run(["no-such-user-xyz"], message(["Subject: x"]), env=no_config_env(mailout))
    assert res.rc == EX_NOUSER and "no-such-user-xyz" in res.stderr, res


def test_remote_recipient_without_account_is_78_and_says_how(mailout):
    res = mailout.run(["someone@example.com"], message(["Subject: x"]), env=no_config_env(mailout))
    assert res.rc == EX_CONFIG and "account" in res.stderr and "mailout.conf(5)" in res.stderr, res
