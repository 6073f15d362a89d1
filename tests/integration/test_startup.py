"""Lean start-up (issue 6): libcurl and GnuTLS are loaded only when a relay
is used, and a libcurl that cannot be loaded loses no mail.

Which libraries a run loaded is read from the dynamic loader's own trace
(LD_DEBUG=libs), so these tests watch the real process, not a flag of ours.
"""
import os
import re
from pathlib import Path

import pytest

from mailout_run import (EX_OK, EX_TEMPFAIL, MAILOUT_BIN, account_block, conf_value,
                         full_message, login_name)
from mailout_run import queued


def loaded_libraries(mailout, args, stdin=b"", **kw):
    """Run mailout under LD_DEBUG=libs; return (result, set of the basenames
    of every shared object whose initialiser ran)."""
    trace = mailout.tmp / "ld-trace"
    trace.mkdir(exist_ok=True)
    for f in trace.iterdir():
        f.unlink()
    env = dict(kw.pop("env", None) or {})
    env.update({"LD_DEBUG": "libs", "LD_DEBUG_OUTPUT": str(trace / "ld")})
    res = mailout.run(args, stdin, env=env, **kw)
    libs = set()
    for f in trace.iterdir():
        for m in re.finditer(r"calling init: (\S+)", f.read_text(errors="replace")):
            libs.add(os.path.basename(m.group(1)))
    return res, libs


def tls_libraries(libs):
    return sorted(l for l in libs if l.startswith(("libcurl", "libgnutls", "libssh2",
                                                   "libcrypto", "libnettle")))


def queue_config(mailout, srv_host, srv_port, queue="onfail"):
    g = {"queue": queue, "queue_dir": str(mailout.tmp / "queue"), "default_account": "relay"}
    text = "".join("{} = {}\n".format(k, conf_value(k, v)) for k, v in g.items())
    text += account_block("relay", {"host": srv_host, "port": srv_port, "tls": "off",
                                    "timeout": 5, "domain": "client.example.test"})
    return mailout.write_config(text)


def test_the_trace_sees_libraries(mailout, server, send):
    """The method works: a relay send shows libcurl and GnuTLS initialised."""
    trace = mailout.tmp / "ld-trace"
    trace.mkdir()
    res = send(server, ["rcpt@example.com"], full_message(),
               env={"LD_DEBUG": "libs", "LD_DEBUG_OUTPUT": str(trace / "ld")})
    assert res.rc == EX_OK, res
    text = "".join(f.read_text(errors="replace") for f in trace.iterdir())
    libs = {os.path.basename(m) for m in re.findall(r"calling init: (\S+)", text)}
    assert any(l.startswith("libcurl") for l in libs), sorted(libs)
    assert any(l.startswith("libgnutls") for l in libs), sorted(libs)
    assert "libc.so.6" in libs
    assert len(server.messages) == 1


def test_version_loads_no_tls(mailout):
    res, libs = loaded_libraries(mailout, ["--version"])
    assert res.rc == EX_OK and res.stdout.startswith("mailout "), res
    assert "libc.so.6" in libs, sorted(libs)
    assert tls_libraries(libs) == [], sorted(libs)


def test_help_loads_no_tls(mailout):
    res, libs = loaded_libraries(mailout, ["--help"])
    assert res.rc == EX_OK, res
    assert tls_libraries(libs) == [], sorted(libs)


def test_local_delivery_loads_no_tls(mailout):
    """The embedded default (no configuration): local delivery, no TLS init."""
    res, libs = loaded_libraries(mailout, [login_name()],
                                 full_message(to=login_name(), subject="local"))
    assert res.rc == EX_OK, res
    assert b"Subject: local" in mailout.mbox.read_bytes()
    assert tls_libraries(libs) == [], sorted(libs)


def test_bs_local_delivery_loads_no_tls(mailout):
    user = login_name()
    session = ("EHLO client\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<{}>\r\nDATA\r\n"
               "Subject: over -bs\r\n\r\nhello\r\n.\r\nQUIT\r\n").format(user)
    res, libs = loaded_libraries(mailout, ["-bs"], session)
    assert res.rc == EX_OK, res
    assert "250" in res.stdout and b"Subject: over -bs" in mailout.mbox.read_bytes(), res
    assert tls_libraries(libs) == [], sorted(libs)


def test_queue_listing_and_config_load_no_tls(mailout, refused_port):
    conf = queue_config(mailout, refused_port.host, refused_port.port)
    for args in (["-bp"], ["--show-config"], ["--dry-run", "rcpt@example.com"]):
        res, libs = loaded_libraries(mailout, ["-C", str(conf)] + args, full_message())
        assert res.rc == EX_OK, res
        assert tls_libraries(libs) == [], (args, sorted(libs))


def curl_soname():
    """The libcurl soname the binary dlopen()s (configure wrote it in), as its
    .note.dlopen declares it (lazylib.h): the binary also holds other
    libcurl names (the Debian package table of lazylib.c)."""
    m = re.search(rb'"soname":\["(libcurl[\w.+-]*\.so(?:\.\d+)*)"\]',
                  Path(MAILOUT_BIN).read_bytes())
    assert m, "no libcurl soname in " + MAILOUT_BIN
    return m.group(1).decode()


def broken_libcurl(mailout):
    """A directory holding a file named like libcurl that is not a library,
    found first through LD_LIBRARY_PATH: what a half-finished upgrade or a
    removed package looks like to the loader."""
    d = mailout.tmp / "broken-lib"
    d.mkdir(exist_ok=True)
    (d / curl_soname()).write_bytes(b"not a shared object\n")
    return {"LD_LIBRARY_PATH": str(d)}


def test_unloadable_libcurl_queues_the_message(mailout, smtpd):
    srv = smtpd("plain")
    conf = queue_config(mailout, srv.host, srv.port, queue="onfail")
    env = broken_libcurl(mailout)
    res = mailout.run(["-C", str(conf), "rcpt@example.com"], full_message(subject="kept"),
                      env=env)
    assert res.rc == EX_OK, res
    assert "queued" in res.stderr and "cannot load " + curl_soname() in res.stderr, res
    assert srv.messages == []
    bp = mailout.run(["-C", str(conf), "-bp"])
    assert "cannot load " + curl_soname() in bp.stdout, bp
    # Still broken: the queue run keeps it.
    q = mailout.run(["-C", str(conf), "-q", "-v"], env=env)    # deferred: said with -v
    assert "cannot load " + curl_soname() in q.stderr, q
    assert srv.messages == []
    assert len(queued(mailout)) == 1
    # Repaired: the next run delivers it.
    q = mailout.run(["-C", str(conf), "-q"])
    assert q.rc == EX_OK, q
    assert len(srv.messages) == 1 and b"Subject: kept" in srv.messages[0].data
    assert queued(mailout) == []


def test_unloadable_libcurl_without_queue_is_temporary(mailout, smtpd):
    srv = smtpd("plain")
    conf = queue_config(mailout, srv.host, srv.port, queue="never")
    res = mailout.run(["-C", str(conf), "rcpt@example.com"], full_message(),
                      env=broken_libcurl(mailout))
    assert res.rc == EX_TEMPFAIL, res
    assert res.stderr.startswith("mailout: ") and "cannot load " + curl_soname() in res.stderr
    assert srv.messages == []


# ---- the dlopen() is declared for packagers (.note.dlopen) -------------------

def configured_sonames():
    """MO_LIBCURL_SONAME and MO_GNUTLS_SONAME as configure wrote them."""
    config_h = Path(MAILOUT_BIN).resolve().parent.parent / "config.h"
    if not config_h.exists():
        pytest.skip("no config.h beside the binary under test: " + MAILOUT_BIN)
    text = config_h.read_text()
    return {k: re.search(r'#define {} "([^"]+)"'.format(k), text).group(1)
            for k in ("MO_LIBCURL_SONAME", "MO_GNUTLS_SONAME")}


def dlopen_notes():
    """The notes of section .note.dlopen, read with readelf's hex dump and
    parsed as ELF notes: a list of (owner, type, descriptor bytes)."""
    import subprocess
    out = subprocess.run(["readelf", "-x", ".note.dlopen", MAILOUT_BIN], check=True,
                         capture_output=True, text=True).stdout
    data = bytearray()
    for line in out.splitlines():
        m = re.match(r"\s+0x[0-9a-f]+ ((?:[0-9a-f]{2,8} ){1,4})", line)
        if m:
            data += bytes.fromhex(m.group(1).replace(" ", ""))
    notes, off = [], 0
    while off + 12 <= len(data):
        namesz, descsz, ntype = (int.from_bytes(data[off + i:off + i + 4], "little")
                                 for i in (0, 4, 8))
        name = bytes(data[off + 12:off + 12 + namesz]).rstrip(b"\0").decode()
        doff = off + 12 + (namesz + 3) // 4 * 4
        notes.append((name, ntype, bytes(data[doff:doff + descsz])))
        off = doff + (descsz + 3) // 4 * 4
    return notes


def test_dlopen_note_declares_libcurl_and_gnutls():
    """systemd's ELF_DLOPEN_METADATA: owner FDO, type 0x407c0c0a, a JSON
    array naming each library mailout dlopen()s, as configure found it,
    with priority "required" (dh_dlopenlibdeps turns it into Depends)."""
    import json
    sonames = configured_sonames()
    notes = dlopen_notes()
    assert notes, "no .note.dlopen in " + MAILOUT_BIN
    entries = []
    for owner, ntype, desc in notes:
        assert owner == "FDO" and ntype == 0x407c0c0a, (owner, hex(ntype))
        assert desc.endswith(b"\0"), desc
        entries += json.loads(desc.rstrip(b"\0").decode())
    by_feature = {e["feature"]: e for e in entries}
    assert by_feature["smtp-relay"]["soname"] == [sonames["MO_LIBCURL_SONAME"]], entries
    assert sonames["MO_GNUTLS_SONAME"] in [s for e in entries for s in e["soname"]], entries
    for e in entries:
        assert e["priority"] == "required" and e["description"], e
