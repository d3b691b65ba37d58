"""One table of run options (tracetap._options) drives `tracetap run`'s
hand parser, its --help, record()'s checks and the options text a
recording stores: the test compares what each of them makes of the same
options, and the conflict rules with the ones written out here."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tracetap import _options, cli, record

SAMPLES = [
    [],
    ["--opcodes", "--threads", "main", "--include", "*/a/*", "--include", "*/b/*"],
    ["-o", "x.ttrace", "--no-lines", "--stdlib", "--third-party", "--exclude", "*/v/*"],
    ["--output=y.ttrace", "--count", "--branch", "--flush-interval", "0.5"],
    ["-oz.ttrace", "--no-calls", "--objects", "--flush-interval=0"],
    ["--c-calls", "--threads=all", "--ring", "1M"],
]


@pytest.mark.parametrize("argv", SAMPLES, ids=lambda a: " ".join(a) or "defaults")
def test_hand_parser_agrees_with_argparse(argv):
    """Every option the table names parses the same by hand (the path
    `run` takes) and through the argparse parser built for --help."""
    hand = cli._parse_run_options(argv)
    ref = cli._run_parser().parse_args(argv)
    for o in _options.RUN_OPTIONS:
        assert getattr(hand, o.dest) == getattr(ref, o.dest), o.long


def test_help_and_usage_name_every_option():
    out = subprocess.run([sys.executable, "-m", "tracetap", "run", "--help"],
                         capture_output=True, text=True, env=dict(os.environ, COLUMNS="200"))
    assert out.returncode == 0
    help_text = " ".join(out.stdout.split())
    for o in _options.RUN_OPTIONS:
        assert any(f in cli.RUN_USAGE for f in o.flags) or o.long == "--ring", o.long
        assert o.long in help_text
        assert " ".join(o.help.split()[:6]) in help_text, o.long


@pytest.mark.parametrize("argv", SAMPLES[:-1], ids=lambda a: " ".join(a) or "defaults")
def test_options_text_round_trips(argv, tmp_path):
    """What record() stores as its options text parses back, by the CLI's
    hand parser, into the same record() keywords."""
    values = _options.api_values(cli._parse_run_options(argv))
    values.pop("ring")
    if _options.conflict(values, _options.spell_api):
        pytest.skip("not a valid combination")
    rec = record(tmp_path / "t.ttrace", **values)
    back = _options.api_values(cli._parse_run_options(rec._options_text.split()))
    back.pop("ring")

    def normal(v):   # what record() makes of them: --no-calls implies
        return dict(v, lines=v["lines"] and v["calls"],  # --no-lines, and
                    branch=v["branch"] and v["count"],   # --branch needs
                    objects=bool(v["objects"]))          # --count
    assert normal(back) == normal(values)


def test_options_text_of_a_plain_run(tmp_path):
    # what every recording made with the defaults has stored so far
    assert record(tmp_path / "t.ttrace")._options_text == "--threads all"
    assert record(tmp_path / "t.ttrace", calls=False, lines=False, objects=True,
                  flush_interval=0.5)._options_text == \
        "--no-calls --objects --threads all --flush-interval 0.5"


BOOLS = ("calls", "lines", "opcodes", "c_calls", "count", "objects", "branch")


def _refused(v):
    # the rules as cli.py and _record.py each wrote them before the table
    return ((not v["calls"] and v["opcodes"])
            or (v["c_calls"] and (not v["calls"] or v["count"] or v["objects"]))
            or (v["count"] and (v["opcodes"] or not v["lines"]))
            or (v["count"] and v["branch"] and v["objects"]))


@pytest.mark.parametrize("bits", range(2 ** len(BOOLS)))
def test_conflicts_one_rule_for_cli_and_api(bits, tmp_path):
    v = {name: bool(bits >> i & 1) for i, name in enumerate(BOOLS)}
    expected = _refused(v)
    cli_msg = _options.conflict(v, _options.spell_cli)
    assert (cli_msg is not None) == expected
    try:
        record(tmp_path / "t.ttrace", **v)
        api_refused = False
    except ValueError as e:
        api_refused = True
        assert "cannot be combined" in str(e)
    assert api_refused == expected
    if expected:
        assert "--" in cli_msg and "=" not in cli_msg
