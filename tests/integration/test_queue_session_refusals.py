"""A queue run against a relay that refuses the session for now (HACKING,
"Choices where the SPEC is silent": a relay that is unreachable or refuses
the session is not retried for the rest of that run).

A 4xx greeting, or a 4xx to EHLO/HELO, STARTTLS or AUTH, says nothing about
one message: the run makes one connection for all the relay's messages, the
first one is deferred (with a back-off step) and the others wait untouched
for the next run.  A 4xx to MAIL, RCPT or DATA is about one message: the
run goes on with the next ones.
"""
import pytest

from mailout_run import EX_OK, full_message, relay_config
from mailout_run import queued

N = 20


def queue_conf(mailout, srv, tmp, **settings):
    return mailout.write_config(relay_config(srv, globals_={
        "queue": "onfail", "queue_dir": str(tmp / "queue"),
        "logfile": str(tmp / "mail.log")}, **settings))


def attempts(path):
    state = path.with_name(path.name + ".state")
    if not state.exists():
        return 0
    for line in state.read_text().splitlines():
        if line.startswith("attempts "):
            return int(line.split()[1])
    return 0


def fill_queue(mailout, refused_port, tmp):
    conf = queue_conf(mailout, refused_port, tmp)
    for n in range(N):
        res = mailout.run(["rcpt{}@example.com".format(n)],
                          full_message(subject="msg-{}".format(n)), config_file=conf)
        assert res.rc == EX_OK and "queued as" in res.stderr, res
    assert len(queued(tmp)) == N
    return {p.name: attempts(p) for p in queued(tmp)}


def steps(tmp, before):
    """How many attempts each queued message gained, sorted."""
    return sorted(attempts(p) - before[p.name] for p in queued(tmp))


SESSION_REFUSALS = {
    "greeting": (dict(mode="plain", greeting="421 4.3.2 Service not available now"),
                 "Service not available now"),
    "ehlo": (dict(mode="plain", ehlo="421 4.7.0 Too busy for EHLO"), "Too busy for EHLO"),
    "starttls": (dict(mode="starttls", starttls="454 4.7.0 TLS not available now"),
                 "TLS not available now"),
    "auth": (dict(mode="plain", auth=True, auth_reply="454 4.7.0 Temporary authentication "
                  "failure"), "Temporary authentication failure"),
}


@pytest.mark.parametrize("stage", sorted(SESSION_REFUSALS))
def test_session_refusal_is_one_connection_per_run(mailout, refused_port, smtpd, tmp_path,
                                                   stage):
    before = fill_queue(mailout, refused_port, tmp_path)
    kw, text = SESSION_REFUSALS[stage]
    mode = kw.pop("mode")
    srv = smtpd(mode, **kw)
    conf = queue_conf(mailout, srv, tmp_path)
    run = mailout.run(["-q"], config_file=conf, timeout=60)
    assert run.rc == EX_OK, run
    assert len(srv.connections) == 1, (len(srv.connections), run)
    # Deferred: one log line, nothing on stderr (cron mails what -q prints).
    log = (tmp_path / "mail.log").read_text().splitlines()
    assert run.stderr == "" and sum(text in l for l in log) == 1, (run, log)
    q = queued(tmp_path)
    assert len(q) == N, "nothing may be lost or given up on"
    assert steps(tmp_path, before) == [0] * (N - 1) + [1], \
        "only the message tried gets a back-off step"
    assert srv.received_nothing()


def test_4xx_at_mail_is_about_one_message(mailout, refused_port, smtpd, tmp_path):
    """Each message is tried: the relay took the session."""
    before = fill_queue(mailout, refused_port, tmp_path)
    srv = smtpd("plain", mail="451 4.3.2 Greylisted, try later")
    run = mailout.run(["-q"], config_file=queue_conf(mailout, srv, tmp_path), timeout=60)
    assert run.rc == EX_OK, run
    mails = [c for c in srv.commands() if c.upper().startswith("MAIL FROM")]
    assert len(mails) == N, run
    assert steps(tmp_path, before) == [1] * N


def test_4xx_at_data_is_about_one_message(mailout, refused_port, smtpd, tmp_path):
    before = fill_queue(mailout, refused_port, tmp_path)
    srv = smtpd("plain", data="451 4.3.0 Try this one later")
    run = mailout.run(["-q"], config_file=queue_conf(mailout, srv, tmp_path), timeout=60)
    assert run.rc == EX_OK, run
    assert len(srv.refused) == N, run
    assert steps(tmp_path, before) == [1] * N
