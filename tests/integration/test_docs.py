"""The option table, --help, the configuration schema and the man pages agree.

Options come from the table in src/cli.c, configuration keys from the
libconfuse schema in src/conf.c; both must appear in the man pages (as mdoc
`Fl` / key names), and --help must list every option the parser has.
"""
import os
import re
import subprocess

import pytest

TOP = os.path.join(os.path.dirname(__file__), "..", "..")
BIN = os.environ.get("MAILOUT_BIN") or os.path.join(TOP, "src", "mailout")


def read(*path):
    with open(os.path.join(TOP, *path), encoding="utf-8") as f:
        return f.read()


def table_options():
    """(long name or None, short letter or None) for every row of the table."""
    src = read("src", "cli.c")
    table = src[src.index("static const struct optdef opts[]"):]
    table = table[:table.index("};")]
    rows = re.findall(r'\{\s*(NULL|"[a-z-]+"),\s*(0|\'.\')', table)
    return [(None if l == "NULL" else l.strip('"'), None if s == "0" else s.strip("'"))
            for l, s in rows]


def schema_keys():
    src = read("src", "conf.c")
    keys = set(re.findall(r'CFG_(?:STR|INT_CB|BOOL|STR_LIST|SEC)\("([a-z_]+)"', src))
    assert {"host", "port", "tls", "queue_lifetime", "account", "defaults"} <= keys
    return sorted(keys)


MAN1 = read("man", "mailout.1.in")
MAN5 = read("man", "mailout.conf.5.in")


@pytest.mark.parametrize("long,short", table_options())
def test_every_option_is_in_mailout_1(long, short):
    if long:
        assert re.search(r"Fl -%s\b" % re.escape(long), MAN1), "--%s missing" % long
    if short:
        # mdoc writes macro-like words as \&Ac
        assert re.search(r"Fl (\\\&)?%s" % re.escape(short), MAN1), "-%s missing" % short


@pytest.mark.parametrize("key", schema_keys())
def test_every_config_key_is_in_mailout_conf_5(key):
    assert re.search(r"\b%s\b" % re.escape(key), MAN5), key


def help_text():
    p = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0
    return p.stdout


def test_help_lists_every_long_option_of_the_parser():
    h = help_text()
    for long, _ in table_options():
        if long:
            assert "--" + long in h, long


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
