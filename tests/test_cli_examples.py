"""Every example in every ``workbench SUBCOMMAND --help`` parses: the options exist, values have
the right types, positional arguments are in an order argparse accepts (an example with
KEY=VALUE overrides after the options once failed to parse). The examples are not run: most
name files the user has, not the test."""

from __future__ import annotations

import shlex

import pytest

from workbench.cli import build_parser

PARSER = build_parser()
SUBPARSERS = PARSER._subparsers._group_actions[0].choices


def _examples(sub: str) -> list[str]:
    epilog = SUBPARSERS[sub].epilog or ""
    text = epilog.replace("\\\n", " ")
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("workbench "):
            lines.append(line.split("  #")[0].split(" # ")[0].strip())
    return lines


CASES = [(sub, ex) for sub in sorted(SUBPARSERS) for ex in _examples(sub)]


def test_every_subcommand_has_examples():
    assert {sub for sub, _ in CASES} == set(SUBPARSERS)


@pytest.mark.parametrize("sub, example", CASES, ids=[e for _, e in CASES])
def test_help_example_parses(sub, example):
    argv = shlex.split(example)[1:]
    assert argv[0] in SUBPARSERS  # a help may show another subcommand (pretrain → train)
    args = PARSER.parse_args(argv)
    assert args.func.__name__ == f"_run_{argv[0]}"
