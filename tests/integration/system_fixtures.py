"""Submitting to the system queue as other users (SPEC 11), for tests.

The production binary takes its drop helper from LIBEXECDIR and its mail
domain from /etc/mailname, and trusts no environment to change either.  A
test links its own mailout instead: the objects of the build under test
(src/main.o and src/libmailout.a) with src/queue-drop.c compiled again with
-DMO_DROP_HELPER naming the helper drop_fixtures built for the test (and,
for the mail domain, src/util.c with -DMO_MAILNAME naming a test file).
The linker takes those objects before the library's copies, so everything
else is the code under test, unchanged.  Skipped when the build's objects
are not there (an installed MAILOUT_BIN, a wrapper script).

Runs as another user go through host_guard() (a private mount namespace
where a test file is SYSCONFDIR/mailout.conf) and setpriv.
"""

import os
import pwd
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

from mailout_run import MAILOUT_BIN, REPO, Result

BUILDDIR = Path(os.environ.get("MAILOUT_BUILDDIR") or Path(MAILOUT_BIN).resolve().parent.parent)


def _make_vars() -> Dict[str, str]:
    v = {}
    text = (BUILDDIR / "Makefile").read_text()
    for name in ("CC", "CFLAGS", "SANITIZER_FLAGS", "CONFUSE_LIBS", "LIBS", "LDFLAGS"):
        m = re.search(r"^%s = (.*)$" % name, text, re.M)
        v[name] = m.group(1).strip() if m else ""
    return v


def build_mailout(dest: Path, helper: Optional[Path] = None,
                  mailname: Optional[Path] = None) -> Path:
    """A mailout in dest (a directory other users can reach) whose drop
    helper is helper and/or whose /etc/mailname is mailname."""
    lib, main = BUILDDIR / "src" / "libmailout.a", BUILDDIR / "src" / "main.o"
    if not lib.exists() or not main.exists() or not (BUILDDIR / "Makefile").exists():
        pytest.skip("needs the build tree's objects to link a test mailout")
    v = _make_vars()
    cc = shlex.split(v["CC"] or "cc")
    flags = shlex.split(v["CFLAGS"]) + shlex.split(v["SANITIZER_FLAGS"])
    cpp = ["-DHAVE_CONFIG_H", "-I" + str(BUILDDIR), "-include", "mailout-paths.h",
           "-I" + str(REPO / "src")]
    objs = []
    for src, define in (("queue-drop.c", helper and "-DMO_DROP_HELPER=\"%s\"" % helper),
                        ("util.c", mailname and "-DMO_MAILNAME=\"%s\"" % mailname)):
        if define:
            o = dest / (src[:-2] + ".o")
            subprocess.run(cc + cpp + flags + [define, "-c", "-o", str(o), str(REPO / "src" / src)],
                           check=True, cwd=str(BUILDDIR))
            objs.append(str(o))
    out = dest / "mailout"
    subprocess.run(cc + flags + shlex.split(v["LDFLAGS"]) +
                   ["-o", str(out), str(main), *objs, str(lib)] +
                   shlex.split(v["CONFUSE_LIBS"]) + shlex.split(v["LIBS"]), check=True)
    os.chmod(out, 0o755)
    return out


def user_env(user: str, extra: Optional[Dict[str, Optional[str]]] = None) -> Dict[str, str]:
    """The environment a job of user has (HOME from the password database)."""
    pw = pwd.getpwnam(user)
    e = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C", "HOME": pw.pw_dir,
         "USER": user, "LOGNAME": user}
    for k, val in (extra or {}).items():
        if val is None:
            e.pop(k, None)
        else:
            e[k] = val
    return e


def run_as(mailout, user: str, binary: Path, args: Sequence[str], stdin: bytes = b"", *,
           system_file: Optional[Path] = None, env: Optional[Dict[str, str]] = None,
           argv0: Optional[str] = None, var_mail: Optional[Path] = None,
           timeout: float = 60) -> Result:
    """Run binary as user through the search path, system_file shown as
    SYSCONFDIR/mailout.conf (None: no system file at all), and var_mail
    (when given) as /var/mail."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run as another user")
    pw = pwd.getpwnam(user)
    env = env if env is not None else user_env(user)
    exe = str(binary)
    if argv0:
        d = binary.parent / "argv0"
        d.mkdir(exist_ok=True)
        os.chmod(d, 0o755)
        link = d / argv0
        if not link.exists():
            link.symlink_to(binary)
        exe = str(link)
    cmd = [exe, *args]
    if system_file is None:
        # Hide the host's: an empty directory's missing file.
        guard = mailout.host_guard(env, cmd)
    else:
        guard = mailout.host_guard(env, cmd, system_file=system_file)
    if var_mail is not None:
        guard = guard + with_var_mail(var_mail, [])
    p = subprocess.run(guard + ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                                "--clear-groups", *cmd],
                       input=stdin, capture_output=True, env=env, timeout=timeout,
                       cwd="/")
    return Result(args=list(args), rc=p.returncode, out=p.stdout, err=p.stderr, elapsed=0)


def with_var_mail(mailbox_dir: Path, cmd: List[str]) -> List[str]:
    """cmd in a private mount namespace where mailbox_dir is /var/mail."""
    return [shutil.which("unshare"), "-m", "sh", "-c",
            'mount --bind "$1" /var/mail && shift && exec "$@"', "sh", str(mailbox_dir), *cmd]
