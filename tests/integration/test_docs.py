"""The option table, --help, the configuration schema, the man pages and the
contrib files agree.

Options come from the table in src/cli.c, configuration keys from the
key table in src/conf-keys.c.  Each option needs a list entry of its own in
mailout(1) (`.It Fl ...`), each key one in mailout.conf(5) (`.It Cm ...`): a
word somewhere in the text is not enough.  --help must list every option the
parser has, and the parser accept every option --help lists.  The man pages
are read from their sources, man/*.in.
"""
import glob
import os
import re
import shutil
import subprocess

import pytest

TOP = os.path.join(os.path.dirname(__file__), "..", "..")
BIN = os.environ.get("MAILOUT_BIN") or os.path.join(TOP, "src", "mailout")
BUILDDIR = os.environ.get("MAILOUT_BUILDDIR") or os.path.dirname(
    os.path.dirname(os.path.abspath(BIN)))


def read(*path):
    with open(os.path.join(TOP, *path), encoding="utf-8") as f:
        return f.read()


def table_rows():
    """(long name or None, short letter or None, argument kind, personalities)
    for every row of the option table."""
    src = read("src", "cli.c")
    table = src[src.index("static const struct optdef opts[]"):]
    table = table[:table.index("};")]
    rows = re.findall(r'\{\s*(NULL|"[a-z-]+"),\s*(0|\'.\'),\s*(A_\w+),\s*O_\w+,\s*([P_A-Z |]+),',
                      table)
    assert len(rows) > 30, "cannot read the option table of src/cli.c"
    return [(None if l == "NULL" else l.strip('"'), None if s == "0" else s.strip("'"), a,
             set(re.findall(r"P_\w+", p))) for l, s, a, p in rows]


def long_options():
    return sorted({l for l, _, _, _ in table_rows() if l})


def short_letters():
    """Each letter the parser accepts, with whether some personality gives it
    an argument (then the man page may show it glued: -bm, -Ac)."""
    letters = {}
    for _, s, arg, _ in table_rows():
        if s:
            letters[s] = letters.get(s, False) or arg != "A_NONE"
    return sorted(letters.items())


def schema_keys():
    src = read("src", "conf-keys.c")
    keys = set(re.findall(r'(?:\b(?:STR|STR_SHOW|NUM|ENUM|BOOL|CFG_STR|CFG_SEC)\(|\{ )"([a-z_]+)"',
                          src))
    assert {"host", "port", "tls", "queue_lifetime", "account", "defaults"} <= keys
    return sorted(keys)


def section_names():
    return set(re.findall(r'CFG_SEC\("([a-z_]+)"', read("src", "conf-keys.c")))


MAN1 = read("man", "mailout.1.in")
MAN5 = read("man", "mailout.conf.5.in")


def it_lines(page):
    return [l for l in page.splitlines() if l.startswith(".It ")]


def fl_words(line):
    """The words that follow Fl on an .It line, without mdoc's \\& escape."""
    return [w.replace("\\&", "") for w in re.findall(r"\bFl (\S+)", line)]


def has_option_entry(page, long=None, short=None, glued=False):
    for line in it_lines(page):
        for w in fl_words(line):
            if long and w == "-" + long:
                return True
            if short and (w == short or (glued and w.startswith(short))):
                return True
    return False


def key_reference_part(page):
    """mailout.conf(5) without its msmtp migration table, whose rows name
    mailout keys too."""
    return page.split(".Sh MIGRATION FROM MSMTP")[0]


def has_key_entry(page, key):
    return any(re.search(r"\bCm %s(?![\w-])" % re.escape(key), line)
               for line in it_lines(key_reference_part(page)))


@pytest.mark.parametrize("long", long_options())
def test_every_long_option_has_an_entry_in_mailout_1(long):
    assert has_option_entry(MAN1, long=long), "no .It Fl -%s in mailout(1)" % long


@pytest.mark.parametrize("short,glued", short_letters())
def test_every_short_option_has_an_entry_in_mailout_1(short, glued):
    assert has_option_entry(MAN1, short=short, glued=glued), "no .It Fl %s in mailout(1)" % short


@pytest.mark.parametrize("key", schema_keys())
def test_every_config_key_has_an_entry_in_mailout_conf_5(key):
    if key in section_names():
        assert re.search(r"^\.(?:Ic|It Ic|Sh) .*\b%s\b" % key, MAN5, re.M) or \
            re.search(r"\bIc %s\b" % key, MAN5), key
    else:
        assert has_key_entry(MAN5, key), "no .It Cm %s in mailout.conf(5)" % key


def test_a_key_only_mentioned_in_passing_does_not_count():
    # The check must fail when an entry goes, although the word stays.
    for key in ("host", "timeout"):
        assert has_key_entry(MAN5, key)
        cut = "\n".join(l for l in MAN5.splitlines()
                        if not re.match(r"\.It Cm %s\b" % key, l))
        assert re.search(r"\b%s\b" % key, cut)
        assert not has_key_entry(cut, key)
    cut = "\n".join(l for l in MAN1.splitlines() if not l.startswith(".It Fl -dry-run"))
    assert "dry-run" in cut and not has_option_entry(cut, long="dry-run")


def help_text():
    p = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0
    return p.stdout


def test_help_lists_every_long_option_of_the_parser():
    h = help_text()
    for long in long_options():
        assert "--" + long in h, long


@pytest.mark.parametrize("short", [s for s, _ in short_letters()])
def test_help_names_every_short_option_of_the_parser(short):
    assert re.search(r"(?<![\w-])-%s(?![a-z-])" % short, help_text()), "-%s not in --help" % short


def test_every_short_option_in_help_is_accepted():
    letters = {s for s, _ in short_letters()}
    named = set(re.findall(r"(?<![\w-])-([A-Za-z])(?![a-z-])", help_text()))
    assert named <= letters, named - letters


def test_every_long_option_in_help_is_accepted():
    for opt in sorted(set(re.findall(r"--([a-z][a-z-]+)", help_text()))):
        p = subprocess.run([BIN, "--" + opt, "--help"], capture_output=True, text=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        assert "unknown option" not in p.stderr, opt


def test_unknown_long_option_is_refused_naming_it():
    p = subprocess.run([BIN, "--no-such-option"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 64 and "--no-such-option" in p.stderr


@pytest.mark.skipif(not os.path.exists("/usr/bin/mandoc"), reason="mandoc not installed")
@pytest.mark.parametrize("page", ["mailout.1", "mailout.conf.5"])
def test_man_pages_have_no_mdoc_errors(page):
    p = subprocess.run(["mandoc", "-Tlint", "-Werror", os.path.join(TOP, "man", page + ".in")],
                       capture_output=True, text=True)
    errors = [l for l in (p.stdout + p.stderr).splitlines()
              if "ERROR" in l or ("WARNING" in l and "not found" not in l)]
    assert not errors, "\n".join(errors)


# The msmtp migration table of mailout.conf(5).

def migration_rows():
    part = MAN5.split(".Sh MIGRATION FROM MSMTP")[1].split("\n.Sh ")[0]
    return [(m.group(1), m.group(2)) for m in
            re.finditer(r"^\.It (.*?) Ta (.*?) Ta", part, re.M)]


def test_migration_table_names_real_mailout_keys():
    rows = migration_rows()
    assert len(rows) > 25
    keys = set(schema_keys())
    for msmtp, mailout in rows:
        for k in re.findall(r"\b(?:Cm|Ic) (\w+)", mailout):
            assert k in keys, (msmtp, k)


def test_migration_table_covers_every_key_msmtprc_import_knows():
    src = read("contrib", "msmtprc-import")
    handled = re.search(r'split\("(.*?)", h, " "\)', src, re.S).group(1)
    handled = set(re.sub(r'"\s*\\\s*"', " ", handled).split()) | {"eval", "defaults", "account"}
    listed = set()
    for msmtp, _ in migration_rows():
        listed |= set(re.findall(r"[a-z_]+", re.sub(r"\b(?:Li|Ar|Pa|Pq|No)\b", " ", msmtp)))
    assert handled <= listed, handled - listed


# contrib: completion and example configurations.

COMPLETIONS = [("contrib", "completion", "mailout.bash.in"),
               ("contrib", "completion", "_mailout.in")]


@pytest.mark.parametrize("path", COMPLETIONS, ids=lambda p: p[-1])
def test_completion_offers_every_option(path):
    text = read(*path)
    for long in long_options():
        assert "--" + long in text, long
    for short, _ in short_letters():
        if short in {s for _, s, _, pers in table_rows() if s and "P_SM" in pers}:
            assert re.search(r"(?<![\w-])['{]?-%s" % short, text), "-" + short


def test_zsh_completion_is_for_the_sendmail_names_too():
    assert read(*COMPLETIONS[1]).startswith("#compdef mailout sendmail mailq\n")


@pytest.mark.skipif(not shutil.which("bash"), reason="bash not installed")
def test_bash_completion_registers_sendmail_and_mailq_and_completes(tmp_path):
    # libconfuse takes a title quoted, single-quoted or bare
    (tmp_path / "config").write_text('account "work" {\n host = "a"\n}\naccount "home" {\n}\n'
                                     "account alt {\n}\n  account 'lab' {\n}\n")
    script = r"""
source "$1"
complete -p mailout sendmail mailq
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _mailout; echo "${COMPREPLY[*]}"; }
complete_words sendmail --du
complete_words mailout -b ''
complete_words sendmail --account ''
"""
    p = subprocess.run(["bash", "-c", script, "bash", os.path.join(TOP, *COMPLETIONS[0])],
                       capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, MAILOUT_CONFIG=str(tmp_path / "config")))
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert [l.split()[-1] for l in out[:3]] == ["mailout", "sendmail", "mailq"]
    assert out[3] == "--due"
    assert out[4].split() == ["m", "p", "s", "i"]
    assert sorted(out[5].split()) == ["alt", "home", "lab", "work"]


@pytest.mark.parametrize("conf", sorted(
    glob.glob(os.path.join(TOP, "contrib", "providers", "*.conf")) +
    [os.path.join(TOP, "contrib", "mailout.conf.example")]), ids=os.path.basename)
def test_example_configurations_load(conf, tmp_path):
    account = re.search(r'^account "([^"]+)"', open(conf).read(), re.M).group(1)
    p = subprocess.run([BIN, "-C", conf, "--show-config", "--account", account],
                       capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert p.returncode == 0, p.stderr


GENERATED = [("man", "mailout.1"), ("man", "mailout.conf.5"),
             ("contrib", "mailout-queue.service"), ("contrib", "mailout.cron"),
             ("contrib", "completion", "mailout.bash"), ("contrib", "completion", "_mailout")]


@pytest.mark.parametrize("path", GENERATED, ids=lambda p: p[-1])
def test_generated_files_carry_the_installation_paths(path):
    built = os.path.join(BUILDDIR, *path)
    if not os.path.exists(built):
        pytest.skip("not built: %s" % built)
    with open(built, encoding="utf-8") as f:
        text = f.read()
    assert not re.search(r"@(prefix|bindir|sbindir|sysconfdir|pkgdatadir)@", text)
    assert "SYSCONFDIR" not in text
