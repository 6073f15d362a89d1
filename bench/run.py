#!/usr/bin/python3
"""Side-by-side benchmark: mailout, msmtp and the curl CLI against Postfix's
smtp-sink on loopback, with smtp-source as the limit.  Usage:

    bench/run.py [--mailout PATH] [--rounds N] [--quick]     (or: make bench)
                 [--also NAME=PATH]... [--smtp-only-libcurl]

--also adds another mailout binary to the small-message row (say, a build
against another libcurl); --smtp-only-libcurl builds one against libcurl
with nothing but SMTP (bench/smtp-only-libcurl.sh) and adds it.

Every row runs the tools interleaved, round after round, and prints medians
and ratios.  Needs: postfix (smtp-sink, smtp-source); msmtp and curl are used
when installed.  Nothing here asserts a time: it measures.
"""
import argparse, os, pwd, platform, shutil, socket, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
MIB = 1024 * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sink(port):
    args = [SINK, "-c", "-h", "bench.invalid", "127.0.0.1:%d" % port, "256"]
    if os.geteuid() == 0:
        args[1:1] = ["-u", "nobody"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return p
        except OSError:
            time.sleep(0.05)
    raise SystemExit("smtp-sink did not start")


TIME = shutil.which("time") or "/usr/bin/time"


def run(argv, stdin_path=None, env=None):
    """Run once; return (seconds, peak RSS in KiB, exit status).  The peak
    RSS comes from GNU time, whose small process is what forks the tool
    (a child of this Python process would inherit its high-water mark)."""
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    rss_file = tempfile.NamedTemporaryFile(prefix="rss.", delete=False)
    rss_file.close()
    t0 = time.perf_counter()
    p = subprocess.run([TIME, "-q", "-f", "%M", "-o", rss_file.name] + argv, stdin=fin,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    dt = time.perf_counter() - t0
    if stdin_path:
        fin.close()
    with open(rss_file.name) as f:
        text = f.read().split()
    os.unlink(rss_file.name)
    rss = int(text[-1]) if text and text[-1].isdigit() else 0
    if p.returncode != 0:
        sys.stderr.write("warning: %s exited %d: %s\n" % (argv[0], p.returncode, p.stderr.decode()[-300:]))
    return dt, rss, p.returncode


def run_bare(argv, stdin_path=None, env=None):
    """Run once without GNU time in between (it costs a fork and an exec of
    its own, which matters at a few milliseconds): spawned directly, timed
    from spawn to reaping.  Returns (seconds, minor page faults, exit
    status); the peak RSS of the same command comes from run()."""
    fd = os.open(stdin_path or os.devnull, os.O_RDONLY)
    null = os.open(os.devnull, os.O_WRONLY)
    acts = [(os.POSIX_SPAWN_DUP2, fd, 0), (os.POSIX_SPAWN_DUP2, null, 1),
            (os.POSIX_SPAWN_DUP2, null, 2)]
    path = shutil.which(argv[0]) or argv[0]
    t0 = time.perf_counter()
    pid = os.posix_spawn(path, argv, env if env is not None else os.environ, file_actions=acts)
    _, status, usage = os.wait4(pid, 0)
    dt = time.perf_counter() - t0
    os.close(fd)
    os.close(null)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write("warning: %s exited %d\n" % (argv[0], code))
    return dt, usage.ru_minflt, code


def timed_with_rss(argv, stdin_path=None, env=None):
    """The time and page faults of a bare run, and the peak RSS of a run
    under GNU time: (seconds, peak RSS in KiB, exit status, page faults)."""
    dt, faults, code = run_bare(argv, stdin_path, env)
    _, rss, _ = run(argv, stdin_path, env)
    return dt, rss, code, faults


def send_tools(mo, conf, port, path, mailout_args=()):
    """The same delivery by every tool at hand: mailout and msmtp read the
    message from stdin, the curl CLI from path."""
    tools = {"mailout": [mo, "-C", conf, *mailout_args, "-f", "a@bench.invalid", "b@bench.invalid"]}
    if shutil.which("msmtp"):
        tools["msmtp"] = ["msmtp", "--host=127.0.0.1", "--port=%d" % port, "--tls=off",
                          "--auth=off", "--from=a@bench.invalid", "b@bench.invalid"]
    if shutil.which("curl"):
        tools["curl CLI"] = ["curl", "-s", "smtp://127.0.0.1:%d/bench.invalid" % port,
                             "--mail-from", "a@bench.invalid", "--mail-rcpt", "b@bench.invalid",
                             "-T", path]
    return tools


def median_row(name, samples):
    """(name, median seconds, peak RSS, median page faults or None)."""
    t = statistics.median(s[0] for s in samples)
    rss = max(s[1] for s in samples)
    faults = statistics.median(s[3] for s in samples) if len(samples[0]) > 3 else None
    return name, t, rss, faults


def show(title, rows, size=None, unit="ms"):
    print("\n== %s" % title)
    base = {r[0]: r[1] for r in rows}
    for name, t, rss, faults in rows:
        extra = ""
        if size:
            extra = "  %7.1f MiB/s" % (size / MIB / t)
        if faults is not None:
            extra += "  %5.0f page faults" % faults
        if "msmtp" in base and name != "msmtp":
            extra += "  (%.2f x msmtp)" % (t / base["msmtp"])
        shown = t * 1000 if unit == "ms" else t
        print("  %-34s %9.2f %s  peak RSS %6.1f MiB%s" % (name, shown, unit, rss / 1024, extra))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mailout", default=os.path.join(HERE, "..", "src", "mailout"))
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="fewer rounds, smaller queue")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=PATH",
                    help="another mailout binary for the small-message row")
    ap.add_argument("--smtp-only-libcurl", action="store_true",
                    help="build mailout against an SMTP-only libcurl and add it")
    a = ap.parse_args()
    mo = os.path.abspath(a.mailout)
    also = dict(x.split("=", 1) for x in a.also)
    if a.smtp_only_libcurl:
        out = subprocess.run([os.path.join(HERE, "smtp-only-libcurl.sh")], check=True,
                             stdout=subprocess.PIPE, text=True).stdout.split()
        also["mailout, SMTP-only libcurl"] = out[-1]
    rounds = 5 if a.quick else a.rounds
    work = tempfile.mkdtemp(prefix="mailout-bench.")
    port = free_port()
    sink = start_sink(port)
    conf = os.path.join(work, "mailout.conf")
    with open(conf, "w") as f:
        f.write('queue_dir = "%s/queue"\naccount "bench" {\n  host = "127.0.0.1"\n  port = %d\n'
                '  tls = off\n  domain = "bench.invalid"\n}\n' % (work, port))
    os.chmod(conf, 0o600)
    env = dict(os.environ, HOME=work)
    have_msmtp = shutil.which("msmtp")
    print("mailout benchmark, %s, %s, %d CPUs, %d rounds" % (
        time.strftime("%Y-%m-%d"), platform.platform(), os.cpu_count(), rounds))
    print("sink: smtp-sink on 127.0.0.1:%d" % port)
    try:
        # -- one small message, whole process
        small = os.path.join(work, "small.eml")
        with open(small, "wb") as f:
            f.write(b"From: a@bench.invalid\nTo: b@bench.invalid\nSubject: small\n\nhello\n")
        tools = send_tools(mo, conf, port, small)
        for name, path in also.items():
            tools[name] = [os.path.abspath(path)] + tools["mailout"][1:]
        # Modes that need no relay, so load neither libcurl nor GnuTLS:
        # --version, the queue listing, and local delivery on the embedded
        # default (no configuration file: HOME is the work directory, and
        # MAIL an mbox in it).
        lean = {"mailout --version": ([mo, "--version"], None, env),
                "mailout -bp (empty queue)": ([mo, "-C", conf, "-bp"], None, env)}
        if not os.path.exists("/etc/mailout.conf"):
            local_env = dict(env, MAIL=os.path.join(work, "mbox"))
            lean["mailout, local delivery"] = ([mo, pwd.getpwuid(os.getuid()).pw_name], small, local_env)
        samples = {k: [] for k in list(tools) + list(lean)}
        empty = []       # the machine's floor: a process that does nothing
        for _ in range(rounds * 3):
            for k, argv in tools.items():
                samples[k].append(timed_with_rss(argv, None if k == "curl CLI" else small, env))
            for k, (argv, stdin, e) in lean.items():
                samples[k].append(timed_with_rss(argv, stdin, e))
            empty.append(run_bare(["true"]))
        rows = [median_row(k, v) for k, v in samples.items()]
        show("one small message, whole process (median)", rows)
        print("  floor: an empty process (true): %.2f ms, %.0f page faults"
              % (statistics.median(x[0] for x in empty) * 1000,
                 statistics.median(x[1] for x in empty)))
        t0 = time.perf_counter()
        subprocess.run([SOURCE, "-s", "1", "-m", "%d" % (rounds * 10), "127.0.0.1:%d" % port],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("  limit: smtp-source, one session per message: %.2f ms per message"
              % ((time.perf_counter() - t0) * 1000 / (rounds * 10)))

        # -- 100 MiB message through sendmail mode
        big = os.path.join(work, "big.eml")
        with open(big, "wb") as f:
            f.write(b"From: a@bench.invalid\nTo: b@bench.invalid\nSubject: big\n\n")
            line = (b"x" * 75 + b"\n")
            chunk = line * (MIB // len(line))
            while f.tell() < 100 * MIB:
                f.write(chunk)
        size = os.path.getsize(big)
        tools = send_tools(mo, conf, port, big, ["-i"])
        n = max(3, rounds // 3)
        samples = {k: [] for k in tools}
        for _ in range(n):
            for k, argv in tools.items():
                samples[k].append(run(argv, None if k == "curl CLI" else big, env))
        show("100 MiB message, sendmail mode (median of %d)" % n,
             [median_row(k, v) for k, v in samples.items()], size=size, unit="s")
        t0 = time.perf_counter()
        subprocess.run([SOURCE, "-s", "1", "-m", "1", "-l", str(size), "127.0.0.1:%d" % port],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        print("  limit: smtp-source, same size: %.2f s (%.1f MiB/s)" % (dt, size / MIB / dt))

        # -- 100 MiB attachment in compose mode
        att = os.path.join(work, "attachment.bin")
        with open(att, "wb") as f:
            for _ in range(100):
                f.write(os.urandom(MIB))
        body = os.path.join(work, "body.txt")
        with open(body, "w") as f:
            f.write("see the attachment\n")
        samples = [run([mo, "-C", conf, "-s", "backup", "-a", att, "b@bench.invalid"], body, env)
                   for _ in range(n)]
        show("100 MiB attachment, compose mode (median of %d)" % n,
             [median_row("mailout", samples)], size=100 * MIB, unit="s")

        # -- queue run of 500 messages on one connection (median of 3 runs)
        count = 100 if a.quick else 500
        down = free_port()
        qconf = os.path.join(work, "queue.conf")
        conf_text = ('queue_dir = "%s/queue"\naccount "bench" {\n  host = "127.0.0.1"\n'
                     '  port = %d\n  tls = off\n  domain = "bench.invalid"\n}\n')
        qruns = []
        for _ in range(3):
            with open(qconf, "w") as f:
                f.write(conf_text % (work, down))
            for i in range(count):
                run_bare([mo, "-C", qconf, "-f", "a@bench.invalid", "b%d@bench.invalid" % i],
                         small, env)
            with open(qconf, "w") as f:
                f.write(conf_text % (work, port))
            dt, rss, code = run([mo, "-C", qconf, "-q"], None, env)
            left = len([x for x in os.listdir(os.path.join(work, "queue", "q")) if "." not in x])
            qruns.append((dt, rss, left))
        dt = statistics.median(x[0] for x in qruns)
        print("\n== queue run of %d messages, one connection (median of %d runs)"
              % (count, len(qruns)))
        print("  mailout -q: %.3f s, %.0f msg/s, peak RSS %.1f MiB, %d left in the queue"
              % (dt, count / dt, max(x[1] for x in qruns) / 1024, sum(x[2] for x in qruns)))
        if have_msmtp:
            m = [run(tools["msmtp"], small, env) for _ in range(50)]
            t = statistics.median(x[0] for x in m)
            print("  msmtp, one process per message: %.0f msg/s" % (1 / t))
        t0 = time.perf_counter()
        subprocess.run([SOURCE, "-m", str(count), "127.0.0.1:%d" % port],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("  limit: smtp-source, one connection: %.0f msg/s" % (count / (time.perf_counter() - t0)))
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
