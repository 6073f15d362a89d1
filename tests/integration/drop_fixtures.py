"""Building and installing mailout-drop for a test (SPEC 11).

The helper takes no argument and reads no environment, so the drop directory is
fixed when it is built: each test compiles src/drop.c for its own directory,
installs the binary set-group-id to a test group in a directory other users can
reach (pytest's tmp_path is root's alone), and removes both afterwards.  The
group is created for the module and removed afterwards.
"""

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from mailout_run import REPO

# The drop group of the tests: one per test process, so that runs side by
# side (two checkouts, make -j) never remove each other's group.
GROUP = "mo-dt%d" % os.getpid()
ENVELOPE = (b"mailout-envelope 1\naccount system\nsender www-data@host.example\n"
            b"rcpt root\nrcpt alerts@example.org\ncreated 1733556000\n\n")
MESSAGE = b"Subject: drop\r\n\r\nbody\r\n.\r\nmore\r\n"


def _cc():
    return shutil.which("cc") or shutil.which("gcc")


@pytest.fixture(scope="module")
def drop_group():
    made = False
    try:
        gid = grp.getgrnam(GROUP).gr_gid
    except KeyError:
        subprocess.run(["groupadd", "--system", GROUP], check=True)
        gid = grp.getgrnam(GROUP).gr_gid
        made = True
    yield gid
    if made:
        subprocess.run(["groupdel", GROUP], check=False)


class Drop:
    """A helper built for dropdir, set-group-id to the test group."""

    def __init__(self, root: Path, gid: int, size_max=None):
        self.root = root
        self.dir = root / "maildrop"
        self.dir.mkdir()
        os.chown(self.dir, 0, gid)
        os.chmod(self.dir, 0o1770)
        os.chmod(root, 0o755)
        self.bin = root / "mailout-drop"
        args = [_cc(), "-O1", "-Wall", "-Wextra", "-Werror", "-I" + str(REPO / "src"),
                "-D_GNU_SOURCE", "-DDROP_DIR=\"%s\"" % self.dir,
                "-o", str(self.bin), str(REPO / "src/drop.c"), str(REPO / "src/drop-check.c")]
        if size_max:
            args.insert(1, "-DDROP_SIZE_MAX=%dULL" % size_max)
        # config.h is only for LOCALSTATEDIR, which DROP_DIR replaces.
        (root / "config.h").write_text("")
        args.insert(1, "-I" + str(root))
        subprocess.run(args, check=True)
        os.chown(self.bin, 0, gid)
        os.chmod(self.bin, 0o2755)

    def run(self, data=ENVELOPE + MESSAGE, user="nobody", args=(), env=None, **kw):
        pw = pwd.getpwnam(user)
        return subprocess.run([str(self.bin), *args], input=data, capture_output=True,
                              user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                              env=env if env is not None else {"PATH": "/usr/bin:/bin"},
                              timeout=30, **kw)

    def files(self):
        return sorted(os.listdir(self.dir))


@pytest.fixture
def spool():
    """A directory other users can reach (pytest's tmp_path is root's alone)."""
    top = Path(tempfile.mkdtemp(prefix="mo-drop-", dir="/tmp"))
    os.chmod(top, 0o755)
    (top / "spool").mkdir()
    yield top
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def drop(spool, drop_group):
    return Drop(spool / "spool", drop_group)
