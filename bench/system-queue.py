#!/usr/bin/python3
"""System-queue benchmark (issue 15 item 9, SPEC 11).  As root:

    bench/system-queue.py [--mailout PATH] [--messages 1000] [--senders 20] [--rounds 30]
                          [--split]
                                                              (or: make bench-system)

Sets up a test system queue the way the integration tests do
(tests/integration/drop_fixtures.py, system_fixtures.py): mailout-drop
compiled from src/drop.c for a test drop directory and installed
set-group-id to a test group, a mailout linked with that helper
(-DMO_DROP_HELPER), a root-only 0600 system file shown as
SYSCONFDIR/mailout.conf in a private mount namespace (host_guard), and
users run with their uid, gid and no supplementary groups.

1. Burst: --messages messages from --senders concurrent non-root senders
   (nobody, www-data and created users), relay down (a refused port); every
   call must exit 0.  Then root's `mailout -q` (queue_dir = the test spool)
   with Postfix's smtp-sink up; every message's unique Subject must arrive
   exactly once.  Time per message: burst wall time / messages, queue run
   wall time / messages.  --split runs root's queue run once more before,
   with the relay still down: it takes the drop directory into the queue
   (pickup) and delivers nothing, so the two are timed apart.
2. The added cost of the drop path for one message, whole process, median
   of --rounds interleaved rounds: nobody submitting to the system queue vs
   nobody sending directly with its own readable config, vs root's direct
   send, and an empty process as nobody.

Everything made (users, group, files, mounts) is removed at the end.
Nothing here asserts a time: it measures; it fails when a message is lost
or duplicated or a call does not exit 0.
"""
import argparse, grp, json, os, platform, pwd, re, shutil, socket, statistics, subprocess, sys
import tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
TAG = "mo-sqb%d" % os.getpid()          # group and user names of this run


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def conf_text(queue_dir, port, extra=""):
    return ('queue = onfail\nqueue_dir = "%s"\ndefault_account = "system"\n%s'
            'account "system" {\n  host = "127.0.0.1"\n  port = %d\n  tls = off\n'
            '  domain = "bench.invalid"\n}\n' % (queue_dir, extra, port))


def message(ident, user):
    return ("From: %s@bench.invalid\nTo: alerts@bench.invalid\nSubject: %s\n"
            "Date: Mon, 07 Dec 2026 09:00:00 +0000\nMessage-ID: <%s@bench.invalid>\n\n"
            "message %s from %s\n" % (user, ident, ident, ident, user)).encode()


def user_env(user):
    pw = pwd.getpwnam(user)
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C", "HOME": pw.pw_dir,
            "USER": user, "LOGNAME": user}


def as_user(user):
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def start_sink(port, dump):
    p = subprocess.Popen([SINK, "-u", "nobody", "-c", "-h", "bench.invalid", "-D", dump,
                          "127.0.0.1:%d" % port, "256"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("smtp-sink did not start")


def timed(argv, stdin_path, env, **who):
    with open(stdin_path, "rb") as f:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=f, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env, cwd="/", **who)
        rc = p.wait()
        dt = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit("%s exited %d" % (" ".join(argv), rc))
    return dt


def burst_worker(st, user, idents, wfd):
    """In a forked child: become user, submit each message, report."""
    pw = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
    env = user_env(user)
    bad = []
    for ident in idents:
        p = subprocess.run([st["sysbin"], "-t"], input=message(ident, user), env=env, cwd="/",
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if p.returncode != 0:
            bad.append("%s: exit %d: %s" % (ident, p.returncode, p.stderr.decode()[-200:]))
    os.write(wfd, json.dumps(bad).encode())
    os.close(wfd)


def delivered(dump):
    try:
        with open(dump, "rb") as f:
            return re.findall(rb"^Subject: (\S+)$", f.read(), re.M)
    except FileNotFoundError:
        return []


def queue_run(st, port, must=True):
    conf = os.path.join(st["top"], "root-run.conf")
    with open(conf, "w") as f:
        f.write(conf_text(st["spool"], port))
    os.chmod(conf, 0o600)
    t0 = time.perf_counter()
    p = subprocess.run([st["mailout"], "-C", conf, "-q"], capture_output=True, cwd="/",
                       env={"PATH": "/usr/bin:/bin", "HOME": "/root", "LC_ALL": "C"})
    dt = time.perf_counter() - t0
    if must and p.returncode != 0:
        raise SystemExit("root's mailout -q exited %d: %s" % (p.returncode, p.stderr.decode()[-500:]))
    return dt


def left_in(st):
    drop = os.listdir(st["dropdir"])
    q = os.path.join(st["spool"], "q")
    queued = [x for x in os.listdir(q) if "." not in x] if os.path.isdir(q) else []
    return len(drop), len(queued)


def inner(st):
    """Runs in the private mount namespace, as root."""
    n, senders = st["messages"], st["senders"]
    sinkdir = os.path.join(st["top"], "sink")
    dump = os.path.join(sinkdir, "dump")
    print("mailout system-queue benchmark, %s, %s, %d CPUs" % (
        time.strftime("%Y-%m-%d"), platform.platform(), os.cpu_count()))

    # -- 1. burst with the relay down, then root's queue run with it up
    users = st["users"]
    plan = {u: [] for u in users}
    for i in range(n):
        plan[users[i % senders]].append("sqb-%05d" % i)
    workers = []
    t0 = time.perf_counter()
    for u in users:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                burst_worker(st, u, plan[u], w)
            finally:
                os._exit(0)
        os.close(w)
        workers.append((u, pid, r))
    bad = []
    for u, pid, r in workers:
        with os.fdopen(r, "rb") as f:
            data = f.read()
        os.waitpid(pid, 0)
        bad += json.loads(data) if data else ["%s: worker died" % u]
    burst = time.perf_counter() - t0
    dropped, _ = left_in(st)
    if bad:
        raise SystemExit("%d calls did not exit 0, first: %s" % (len(bad), bad[0]))
    port = free_port()
    sink = start_sink(port, dump)
    try:
        pick = None
        if st["split"]:
            # The relay still down: the run takes the drop directory into
            # the queue and delivers nothing (it exits 75).
            pick = queue_run(st, free_port(), must=False)
            picked = left_in(st)
        run = queue_run(st, port)
        time.sleep(0.5)         # let smtp-sink append the last transaction
        got = delivered(dump)
        left = left_in(st)
        want = {("sqb-%05d" % i).encode() for i in range(n)}
        counts = {}
        for s in got:
            counts[s] = counts.get(s, 0) + 1
        lost = len(want - set(counts))
        dup = sum(c - 1 for s, c in counts.items() if c > 1)
        stray = len(set(counts) - want)
        print("\n== burst: %d messages from %d concurrent non-root senders, relay down; "
              "then root's mailout -q, relay up (smtp-sink)" % (n, senders))
        print("  senders: %s" % ", ".join(users[:3] + ["... (%d created users)" % (senders - 2)]))
        print("  submission: %d calls, %d exited non-zero, %d in the drop directory; "
              "burst %.2f s, %.2f ms per message" % (n, len(bad), dropped, burst, burst * 1000 / n))
        print("  delivery:   queue run %.2f s, %.2f ms per message (%.0f msg/s); "
              "left: %d in the drop directory, %d in the queue" % (
                  run, run * 1000 / n, n / run, left[0], left[1]))
        if pick is not None:
            print("  --split: a queue run with the relay down first took the drop directory "
                  "into the queue in %.2f s, %.2f ms per message (left %d dropped, %d queued); "
                  "the delivery line is then the relay-up run alone" % (
                      pick, pick * 1000 / n, picked[0], picked[1]))
        print("  arrived: %d, lost %d, duplicated %d, unknown %d" % (len(got), lost, dup, stray))
        ok = lost == 0 and dup == 0 and stray == 0 and left == (0, 0) and dropped == n

        # -- 2. one message, whole process: drop path vs direct
        user = "nobody"
        small = os.path.join(st["top"], "small.eml")
        with open(small, "wb") as f:
            f.write(message("cost", user))
        os.chmod(small, 0o644)
        pw = pwd.getpwnam(user)
        uq = os.path.join(st["top"], "queue-" + user)
        os.mkdir(uq, 0o700)
        os.chown(uq, pw.pw_uid, pw.pw_gid)
        uconf = os.path.join(st["top"], "own-%s.conf" % user)
        with open(uconf, "w") as f:
            f.write(conf_text(uq, port))
        os.chown(uconf, pw.pw_uid, pw.pw_gid)
        os.chmod(uconf, 0o600)
        rq = os.path.join(st["top"], "queue-root")
        rconf = os.path.join(st["top"], "own-root.conf")
        with open(rconf, "w") as f:
            f.write(conf_text(rq, port))
        os.chmod(rconf, 0o600)
        uenv = user_env(user)
        renv = {"PATH": "/usr/bin:/bin", "HOME": "/root", "LC_ALL": "C"}
        mo = st["sysbin"]
        cases = [
            ("%s, drop path (system queue)" % user, [mo, "-t"], uenv, as_user(user)),
            ("%s, direct send, own config" % user, [mo, "-C", uconf, "-t"], uenv, as_user(user)),
            ("root, direct send", [mo, "-C", rconf, "-t"], renv, {}),
            ("floor: empty process (true) as %s" % user, ["/bin/true"], uenv, as_user(user)),
            ("floor: empty process (true) as root", ["/bin/true"], renv, {}),
        ]
        samples = {c[0]: [] for c in cases}
        before = len(os.listdir(st["dropdir"]))
        for _ in range(st["rounds"]):
            for name, argv, env, who in cases:
                samples[name].append(timed(argv, small, env, **who))
        drops = len(os.listdir(st["dropdir"])) - before
        med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
        names = [c[0] for c in cases]
        print("\n== one message, whole process, median of %d interleaved rounds "
              "(spawn to reap, from Python)" % st["rounds"])
        for k in names:
            print("  %-40s %7.2f ms  (min %.2f, max %.2f)" % (
                k, med[k], min(samples[k]) * 1000, max(samples[k]) * 1000))
        print("  added cost of the drop path: %.2f ms over %s's direct send, %.2f ms over root's"
              % (med[names[0]] - med[names[1]], user, med[names[0]] - med[names[2]]))
        print("  (%d of the drop-path runs reached the drop directory)" % drops)
        n_before = len(delivered(dump))
        queue_run(st, port)
        time.sleep(0.5)
        print("  flushed by a second queue run: %d delivered, left %s"
              % (len(delivered(dump)) - n_before, left_in(st)))
        ok = ok and drops == st["rounds"]
    finally:
        sink.terminate()
        sink.wait()
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mailout", default=os.path.join(REPO, "src", "mailout"))
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--senders", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--split", action="store_true",
                    help="a queue run with the relay down before the relay-up one: pickup "
                         "and delivery timed apart")
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.inner:
        with open(a.inner) as f:
            return inner(json.load(f))
    if os.geteuid() != 0:
        raise SystemExit("needs root (users, a group, set-group-id, a mount namespace)")
    for tool in ("setpriv", "unshare", "useradd", SINK):
        if not shutil.which(tool):
            raise SystemExit("needs %s" % tool)
    if a.senders < 3:
        raise SystemExit("--senders: at least 3 (nobody, www-data, a created user)")
    mo = os.path.abspath(a.mailout)
    os.environ["MAILOUT_BIN"] = mo
    sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
    from drop_fixtures import Drop
    from mailout_run import Mailout
    from system_fixtures import build_mailout

    top = tempfile.mkdtemp(prefix="mo-sysq-bench.", dir="/tmp")
    os.chmod(top, 0o755)
    made_users, made_group = [], False
    try:
        subprocess.run(["groupadd", "--system", TAG], check=True)
        made_group = True
        gid = grp.getgrnam(TAG).gr_gid
        users = ["nobody", "www-data"]
        homes = os.path.join(top, "homes")
        os.mkdir(homes, 0o755)
        for i in range(a.senders - 2):
            name = "%s-%02d" % (TAG, i)
            home = os.path.join(homes, name)
            subprocess.run(["useradd", "-M", "-d", home, "-s", "/usr/sbin/nologin", name],
                           check=True)
            made_users.append(name)
            pw = pwd.getpwnam(name)
            os.mkdir(home, 0o700)
            os.chown(home, pw.pw_uid, pw.pw_gid)
            users.append(name)
        os.mkdir(os.path.join(top, "spool"))
        drop = Drop(__import__("pathlib").Path(top) / "spool", gid)
        sysbin = build_mailout(__import__("pathlib").Path(top), helper=drop.bin)
        sink = os.path.join(top, "sink")
        os.mkdir(sink, 0o700)
        pw = pwd.getpwnam("nobody")
        os.chown(sink, pw.pw_uid, pw.pw_gid)
        # The system file: root's, 0600, relay down (a port nobody listens on).
        sysf = os.path.join(top, "system.conf")
        with open(sysf, "w") as f:
            f.write(conf_text(str(drop.root), free_port()))
        os.chmod(sysf, 0o600)
        st = {"top": top, "spool": str(drop.root), "dropdir": str(drop.dir),
              "sysbin": str(sysbin), "mailout": mo, "users": users, "messages": a.messages,
              "senders": a.senders, "rounds": a.rounds, "split": a.split}
        state = os.path.join(top, "state.json")
        with open(state, "w") as f:
            json.dump(st, f)
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/root"}
        cmd = [sys.executable, os.path.abspath(__file__), "--inner", state]
        guard = Mailout(__import__("pathlib").Path(top) / "guard").host_guard(
            env, cmd, system_file=__import__("pathlib").Path(sysf))
        return subprocess.run(guard + cmd, env=env).returncode
    finally:
        for name in made_users:
            subprocess.run(["userdel", name], check=False)
        if made_group:
            subprocess.run(["groupdel", TAG], check=False)
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
