"""Running the mailout binary under test, and writing its configuration.

The binary is $MAILOUT_BIN, else <repo>/src/mailout.  Every run gets a fresh
HOME (so no user configuration is read), XDG_* and MAIL pointing into the
test's temporary directory, a clean environment (no proxy variables unless a
test asks for them), the given standard input, and a timeout.  Configuration
files are written with mode 0600 and passed with -C.

Nothing of the host's is read or written (SPEC 2: SYSCONFDIR/mailout.conf is
read unless -C or $MAILOUT_CONFIG names a file):
- a run given no configuration gets the test's own, $MAILOUT_CONFIG =
  Mailout.own_config (only queue_dir, the test's own queue);
- a run that asks for the search path (env={"MAILOUT_CONFIG": None} and no
  -C: the embedded default, the system and user files) runs in a private
  mount namespace where the host's system file is hidden and, as root, the
  default queue (/var/spool/mailout) is the test's own; where that cannot be
  done (not root, no unshare, mounts refused), the test is skipped, saying
  why -- unless there is nothing to hide (no system file, not root).
"""

import functools
import os
import pwd
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

REPO = Path(__file__).resolve().parents[2]
MAILOUT_BIN = os.environ.get("MAILOUT_BIN") or str(REPO / "src" / "mailout")

# Exit statuses (sysexits.h)
EX_OK, EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_NOUSER, EX_NOHOST = 0, 64, 65, 66, 67, 68
EX_UNAVAILABLE, EX_SOFTWARE, EX_TEMPFAIL, EX_PROTOCOL, EX_NOPERM, EX_CONFIG = \
    69, 70, 75, 76, 77, 78

# Variables passed through to mailout from the test environment.
PASSTHROUGH = ("PATH", "TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
               "MSAN_OPTIONS", "VALGRIND_OPTS")


def login_name() -> str:
    """The invoking user's name, from the password database (as mailout gets it)."""
    return pwd.getpwuid(os.getuid()).pw_name


@dataclass
class Result:
    args: List[str]
    rc: int
    out: bytes
    err: bytes
    elapsed: float

    @property
    def stdout(self) -> str:
        return self.out.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.err.decode("utf-8", "replace")

    def __str__(self):
        return "mailout {!r}\n  exit {}  ({:.2f}s)\n  stdout: {!r}\n  stderr: {!r}".format(
            self.args, self.rc, self.elapsed, self.out[:2000], self.err[:3000])


class Mailout:
    """Runs mailout with a private HOME under tmp."""

    def __init__(self, tmp: Path, binary: str = MAILOUT_BIN):
        self.tmp = Path(tmp)
        self.bin = binary
        self.home = self.tmp / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        os.chmod(self.home, 0o700)
        self.maildir = self.tmp / "var-mail"
        self.maildir.mkdir(exist_ok=True)
        self.mbox = self.maildir / login_name()       # $MAIL
        self.runtmp = self.tmp / "tmpdir"
        self.runtmp.mkdir(exist_ok=True)
        self._nconf = 0
        self.own_config = self.tmp / "own.conf"
        self.own_config.write_text('queue_dir = "{}"\n'.format(self.queue_dir))
        os.chmod(self.own_config, 0o600)

    def command(self, args: Sequence[str], env: Dict[str, str],
                argv0: Optional[str] = None) -> "tuple[List[str], str]":
        """(argv, executable) running mailout with args in env, argv[0] =
        argv0 when given, inside host_guard()'s prefix when it needs one."""
        cmd = [self.bin, *args]
        guard = self.host_guard(env, cmd)
        if argv0:
            cmd[0] = argv0
        if not guard:
            return cmd, self.bin
        if argv0:           # through exec in sh: the name is the link's
            d = self.tmp / "argv0"
            d.mkdir(exist_ok=True)
            link = d / os.path.basename(argv0)
            if not link.exists():
                link.symlink_to(self.bin)
            cmd[0] = str(link)
        return guard + cmd, guard[0]

    def host_guard(self, env: Dict[str, str], cmd: Sequence[str] = (), *,
                   system_file: Optional[Path] = None,
                   sysconfdir: Optional[str] = None) -> List[str]:
        """The command prefix a run with this environment and command needs
        so that nothing of the host's is used (see the module's text): [] when
        it names its configuration (-C, $MAILOUT_CONFIG) or there is nothing
        to hide; skips the test when hiding is needed and refused.
        system_file: a file to show as SYSCONFDIR/mailout.conf instead (the
        binary's SYSCONFDIR, or sysconfdir when given)."""
        if system_file is None and (env.get("MAILOUT_CONFIG") or
                                    any(a.startswith("-C") for a in cmd[1:])):
            return []
        if system_file is not None:
            hide = [os.path.join(sysconfdir, "mailout.conf") if sysconfdir
                    else system_config_files()[0]]
        else:
            hide = [f for f in system_config_files() if os.path.lexists(f)]
        spool = default_spool() if os.geteuid() == 0 else None
        if not hide and not spool:
            return []
        why = mount_namespace_refused()
        if why:
            import pytest
            pytest.skip("the run reads the configuration search path, and keeping it off the "
                        "host ({}) needs a private mount namespace: {}".format(
                            ", ".join(hide + ([spool] if spool else [])), why))
        priv = Path(tempfile.mkdtemp(prefix="host-guard-", dir=str(self.tmp)))
        etcs = " ".join(os.path.dirname(f) for f in hide)
        return [shutil.which("unshare"), "-m", "sh", "-c", HOST_GUARD_SCRIPT, "sh", str(priv), etcs,
                spool or "", str(system_file or "")]

    @property
    def queue_dir(self) -> Path:
        """The test's own queue directory (as root the default queue_dir is the
        shared /var/spool/mailout, so every test that queues names this one)."""
        return self.tmp / "queue"

    def private_queue(self, queue: str = "onfail") -> Dict[str, object]:
        """Global settings for a configuration: queue mode and the private queue_dir."""
        return {"queue": queue, "queue_dir": str(self.queue_dir)}

    def queued(self, sub: str = "q", every_file: bool = False) -> List[Path]:
        """See queued()."""
        return queued(self, sub, every_file)

    def env(self, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        e = {k: os.environ[k] for k in PASSTHROUGH if k in os.environ}
        e.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        user = login_name()
        e.update({
            "HOME": str(self.home),
            "USER": user,
            "LOGNAME": user,
            "MAIL": str(self.mbox),
            "TMPDIR": str(self.runtmp),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "LC_ALL": "C",
            "MAILOUT_CONFIG": str(self.own_config),
        })
        if extra:
            for k, v in extra.items():
                if v is None:
                    e.pop(k, None)
                else:
                    e[k] = v
        return e

    def write_config(self, text: str, name: Optional[str] = None, mode: int = 0o600) -> Path:
        """Write a configuration file.  A text that names no queue_dir gets
        the test's own at its end (as root the default is the shared
        /var/spool/mailout), unless a section or a string is left open: an
        error test's error stays where it was."""
        self._nconf += 1
        p = self.tmp / (name or "mailout-{}.conf".format(self._nconf))
        if "queue_dir" not in text and text.count("{") == text.count("}") and \
                text.count('"') % 2 == 0 and text.count("/*") == text.count("*/"):
            text += '{}queue_dir = "{}"\n'.format("" if text.endswith("\n") or not text else "\n",
                                                 self.queue_dir)
        p.write_text(text)
        os.chmod(p, mode)
        return p

    def run(self, args: Sequence[str] = (), stdin: Union[bytes, str] = b"", *,
            config: Optional[str] = None, config_file: Optional[Union[str, Path]] = None,
            env: Optional[Dict[str, str]] = None, timeout: float = 30,
            argv0: Optional[str] = None) -> Result:
        """Run mailout.  config: configuration text (written to a 0600 file
        and passed as -C FILE, first); config_file: an existing file for -C."""
        if isinstance(stdin, str):
            stdin = stdin.encode()
        cmd = [self.bin]
        if config is not None:
            config_file = self.write_config(config)
        if config_file is not None:
            cmd += ["-C", str(config_file)]
        cmd += list(args)
        if not os.access(self.bin, os.X_OK):
            raise FileNotFoundError("mailout binary not found or not executable: " + self.bin)
        env = self.env(env)
        argv, exe = self.command(cmd[1:], env, argv0)
        t0 = time.monotonic()
        p = subprocess.run(argv, input=stdin, capture_output=True, env=env,
                           timeout=timeout, cwd=str(self.tmp), executable=exe)
        return Result(args=cmd[1:], rc=p.returncode, out=p.stdout, err=p.stderr,
                      elapsed=time.monotonic() - t0)


def system_config_files() -> List[str]:
    """SYSCONFDIR/mailout.conf of the binary under test: $MAILOUT_SYSCONFDIR
    (make check sets it), else the path compiled into the binary (the real
    one behind a wrapper script), else both usual places."""
    d = os.environ.get("MAILOUT_SYSCONFDIR")
    if d:
        return [os.path.join(d, "mailout.conf")]
    found = _compiled_system_file(MAILOUT_BIN)
    return [found] if found else ["/etc/mailout.conf", "/usr/local/etc/mailout.conf"]


@functools.lru_cache(maxsize=None)
def _compiled_system_file(binary: str) -> Optional[str]:
    try:
        with open(binary, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if data.startswith(b"#!"):        # a wrapper (valgrind): the binary it runs
        for path in re.findall(rb"/[\w./+-]+", data.split(b"\n", 1)[-1]):
            p = path.decode()
            if os.path.isfile(p) and os.path.realpath(p) != os.path.realpath(binary):
                with open(p, "rb") as f:
                    found = _compiled_system_file(p) if f.read(4) == b"\x7fELF" else None
                if found:
                    return found
        return None
    m = re.search(rb"\x00(/[^\x00]*)/mailout\.conf\x00", data)
    return m.group(1).decode() + "/mailout.conf" if m else None


def default_spool() -> Optional[str]:
    """What to make the test's own for root's default queue_dir
    /var/spool/mailout: itself when it exists, else the directory that
    would get it (mailout makes the queue directory when it spools)."""
    for d in ("/var/spool/mailout", "/var/spool", "/var"):
        if os.path.isdir(d):
            return d
    return None


@functools.lru_cache(maxsize=None)
def mount_namespace_refused() -> Optional[str]:
    """None when a private mount namespace can be made here and mounted in
    (unshare -m, a tmpfs, a device node, a bind mount: what the tests do in
    one); else why not (not root, no unshare(1), a chroot whose / is not a
    mount point, a container without CAP_SYS_ADMIN)."""
    if os.geteuid() != 0:
        return "needs root"
    if not shutil.which("unshare"):
        return "unshare(1) is not installed (util-linux)"
    d = tempfile.mkdtemp(prefix="mailout-ns-probe-")
    try:
        p = subprocess.run(["unshare", "-m", "sh", "-c",
                            'set -e; mount -t tmpfs tmpfs "$1"; mknod -m 666 "$1/null" c 1 3; '
                            'touch "$1/f"; mount --bind "$1/null" "$1/f"', "sh", d],
                           capture_output=True, timeout=30)
    finally:
        os.rmdir(d)
    if p.returncode != 0:
        return "unshare -m or mount refused here: " + p.stderr.decode("utf-8", "replace").strip()
    return None


# In a private mount namespace: $2 (directories holding a system file,
# space-separated) gets a tmpfs with every entry of the real one bound back
# but mailout.conf, and $4 as mailout.conf when given; $3 (root's queue, see
# default_spool()) becomes a private directory under $1.  Then the command.
# Bind mounts, not symbolic links, so that a run as another user (setpriv)
# reads /etc/passwd as before.
HOST_GUARD_SCRIPT = r'''
set -e
priv=$1 etcs=$2 spool=$3 sysfile=$4
shift 4
n=0
for etc in $etcs; do
	n=$((n + 1))
	real=$priv/real-$n
	mkdir "$real"
	mount --bind "$etc" "$real"
	mount -t tmpfs -o mode=755 mailout-test "$etc"
	for e in "$real"/* "$real"/.[!.]*; do
		[ -e "$e" ] || [ -L "$e" ] || continue
		name=${e##*/}
		[ "$name" != mailout.conf ] || continue
		if [ -L "$e" ]; then
			ln -s "$(readlink "$e")" "$etc/$name"
			continue
		fi
		if [ -d "$e" ]; then mkdir "$etc/$name"; else : >"$etc/$name"; fi
		mount --bind "$e" "$etc/$name"
	done
	if [ -n "$sysfile" ]; then
		: >"$etc/mailout.conf"
		mount --bind "$sysfile" "$etc/mailout.conf"
	fi
done
if [ -n "$spool" ]; then
	mkdir "$priv/spool"
	mount --bind "$priv/spool" "$spool"
fi
exec "$@"
'''


def queued(where: Union["Mailout", Path], sub: str = "q",
           every_file: bool = False) -> List[Path]:
    """The messages in a private queue, sorted by name (oldest first): the files
    in QUEUE/SUB whose name has no "." (NAME.state is a message's state file);
    with every_file, every file there.  where: a Mailout (its queue_dir), or the
    directory holding queue/ (a test's tmp_path).  [] when QUEUE/SUB does not exist."""
    d = (where.queue_dir if isinstance(where, Mailout) else Path(where) / "queue") / sub
    if not d.exists():
        return []
    return sorted(p for p in d.iterdir() if every_file or "." not in p.name)


INSTRUMENTED_WRAPPER = "the binary is a wrapper script (valgrind)"
INSTRUMENTED_ASAN = "the binary is built with AddressSanitizer"


def instrumented(binary: str) -> Optional[str]:
    """Why the binary's time and memory are not its own: INSTRUMENTED_WRAPPER
    (a script, e.g. valgrind) or INSTRUMENTED_ASAN; None for a plain build."""
    with open(os.path.realpath(binary), "rb") as f:
        data = f.read()
    if data.startswith(b"#!"):
        return INSTRUMENTED_WRAPPER
    if b"__asan_init" in data:
        return INSTRUMENTED_ASAN
    return None


def assert_no_secret(res: "Result", *secrets: str, paths: Sequence[Path] = ()):
    """None of the secrets (each a non-empty str) is in res's stdout or stderr,
    nor in any regular file among paths or under those that are directories."""
    blobs = {"stdout": res.out, "stderr": res.err}
    for p in map(Path, paths):
        for f in [p] + (sorted(p.rglob("*")) if p.is_dir() else []):
            if f.is_file():
                blobs[str(f)] = f.read_bytes()
    for s in secrets:
        assert s, "an empty secret cannot be checked"
        for where, blob in blobs.items():
            assert s.encode() not in blob, "secret {!r} in {}:\n{}".format(s, where, res)


class PipeSMTP(smtplib.SMTP):
    """smtplib talking to `mailout -bs` through its stdin and stdout."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        super().__init__()
        a, b = socket.socketpair()
        self.sock = a
        self.file = None
        self._b = b
        threading.Thread(target=self._pump_in, daemon=True).start()
        threading.Thread(target=self._pump_out, daemon=True).start()
        code, msg = self.getreply()
        assert code == 220, (code, msg)

    def _pump_in(self):
        while True:
            data = self._b.recv(65536)
            if not data:
                break
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        self.proc.stdin.close()

    def _pump_out(self):
        while True:
            data = self.proc.stdout.read1(65536)
            if not data:
                break
            self._b.sendall(data)
        self._b.shutdown(socket.SHUT_WR)


# --------------------------------------------------------------------------
# Configuration text
# --------------------------------------------------------------------------

RAW_KEYS = {"tls", "auth", "queue", "syslog", "rewrite_from", "partial_delivery",
            "port", "timeout", "queue_lifetime"}


def conf_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def conf_value(key: str, v) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, int) or key in RAW_KEYS:
        return str(v)
    if isinstance(v, (list, tuple)):
        return "{ " + ", ".join(conf_quote(x) for x in v) + " }"
    return conf_quote(str(v))


def account_block(name: str, settings: Dict[str, object]) -> str:
    lines = ['account {} {{'.format(conf_quote(name))]
    for k, v in settings.items():
        if v is not None:
            lines.append("  {} = {}".format(k, conf_value(k, v)))
    lines.append("}")
    return "\n".join(lines) + "\n"


def relay_settings(srv, **settings) -> Dict[str, object]:
    """Account settings for an SMTPServer (host, port, tls, trust, credentials,
    timeout, EHLO name).  A setting given as None is left out."""
    s: Dict[str, object] = {
        "host": srv.host,
        "port": srv.port,
        "tls": getattr(srv, "tls_setting", "off"),
    }
    if getattr(srv, "mode", "plain") != "plain":
        s["tls_trust_file"] = srv.certs.ca
    if getattr(srv, "auth", False):
        s["user"] = srv.user
        s["password"] = srv.password
    s["timeout"] = 5
    s["domain"] = "client.example.test"
    s.update(settings)
    return {k: v for k, v in s.items() if v is not None}


def relay_config(srv, *, account: str = "test", globals_: Optional[Dict[str, object]] = None,
                 extra: str = "", **settings) -> str:
    """A complete configuration file: `queue = never` (no queue yet: a
    temporary failure must exit 75), default_account, and one account for srv."""
    g: Dict[str, object] = {"queue": "never", "default_account": account}
    g.update(globals_ or {})
    head = "".join("{} = {}\n".format(k, conf_value(k, v)) for k, v in g.items()
                   if v is not None)
    return head + "\n" + account_block(account, relay_settings(srv, **settings)) + extra


# --------------------------------------------------------------------------
# Messages and checks
# --------------------------------------------------------------------------

def message(headers: Sequence[str] = (), body: str = "Hello.\n", nl: str = "\n") -> bytes:
    """A message with the given header lines and body, lines ended with nl."""
    text = "".join(h + nl for h in headers) + nl + body.replace("\n", nl)
    return text.encode()


def full_message(to="rcpt@example.com", frm="sender@example.com", subject="test",
                 body="Hello.\n", extra=(), nl="\n") -> bytes:
    """A message that already has From, To, Subject, Date and Message-ID, so
    mailout adds nothing to it."""
    h = ["From: " + frm, "To: " + to, "Subject: " + subject,
         "Date: Mon, 02 Jan 2023 03:04:05 +0000",
         "Message-ID: <fixed.1@example.com>", *extra]
    return message(h, body, nl)


def crlf(b: bytes) -> bytes:
    """LF -> CRLF for an expected value written with LF."""
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def assert_stderr_prefixed(res: Result):
    """Every line mailout writes on stderr starts with "mailout: " (SPEC 8)."""
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert lines, "expected a message on stderr\n" + str(res)
    bad = [l for l in lines if not l.startswith("mailout: ")]
    assert not bad, "stderr lines without the 'mailout: ' prefix: {!r}\n{}".format(bad, res)


def line_number_re(path, line: int):
    """Matches "FILE:LINE:" or "FILE ... line LINE" in an error message."""
    p = re.escape(str(path))
    return re.compile(r"{p}:{n}\b|{p}\D*line {n}\b".format(p=p, n=line))
