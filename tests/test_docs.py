"""Every command and code snippet in README.md and docs/*.md is run or checked here, so the docs
cannot drift from the code.

A fenced block's treatment comes from its info string and an optional HTML comment on the line
just above it, `<!-- doctest: MODE -->`:

| block | default | other modes |
|---|---|---|
| ```python | `run`: executed in order, one namespace per file, in a workspace (below) | |
| ```bash | `check`: every `sseft` command, subcommand and flag exists (click), `accelerate launch` flags parse, repo paths exist | `run` (exit 0), `error` (fails; the next ```text block is the expected output, `…` skips text) |
| ```yaml | `yaml`: parses | `experiment`: validates as an ExperimentConfig |
| ```toml | `toml`: parses | |
| ```text | output shown to the reader, not code | |

Runnable blocks run in a temp folder outside the repository. docs/quickstart.md starts from an empty
one, as a new user does; for the other pages it holds clip.mp4, clip.wav, clip.txt, items.csv (+
clips/) and a tiny model published as `meld-emotion` and `my-first-model` (a stand-in trained on
generated media: tests/cli/predict_fixture.py).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomllib
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MODES = {
    "python": {"run"},
    "bash": {"check", "run", "error"},
    "yaml": {"yaml", "experiment"},
    "toml": {"toml"},
    "text": {"output", "expected"},
}
DEFAULT = {"python": "run", "bash": "check", "yaml": "yaml", "toml": "toml", "text": "output"}
# Shell commands docs may use besides sseft / accelerate / bash scripts.
SHELL_OK = {"cd", "ls", "cat", "head", "tail", "mkdir", "cp", "export", "echo", "pip", "huggingface-cli",
            "nvidia-smi", "git", "python", "python3", "find", "du", "rm", "curl", "srun", "sbatch", "scontrol"}  # fmt: skip
REPO_PREFIXES = ("configs/", "scripts/", "examples/", "docs/", "bench/")


@dataclass
class Block:
    path: Path
    line: int
    lang: str
    mode: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def parse(path: Path) -> list[Block]:
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1) or "text", i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        prev = next((x.strip() for x in reversed(lines[:start]) if x.strip()), "")
        mm = re.match(r"^<!--\s*doctest:\s*(\S+)\s*-->$", prev)
        mode = mm.group(1) if mm else DEFAULT.get(lang, "?")
        blocks.append(Block(path, start + 1, lang, mode, "\n".join(lines[start + 1 : j])))
        i = j + 1
    # The block after an `error` block is what it prints.
    for a, b in zip(blocks, blocks[1:], strict=False):
        if a.mode == "error" and b.lang == "text":
            b.mode = "expected"
    return blocks


ALL = [b for p in DOCS for b in parse(p)]


def commands(code: str) -> list[list[str]]:
    """Shell text -> simple commands (continuations joined, split at && || ; |, comments dropped)."""
    out: list[list[str]] = []
    for line in code.replace("\\\n", " ").splitlines():
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split, lex.commenters = True, "#"
        cur: list[str] = []
        for tok in lex:
            if tok in ("&&", "||", ";", "|", "&"):
                out.append(cur) if cur else None
                cur = []
            else:
                cur.append(tok)
        if cur:
            out.append(cur)
    return out


# -- static checks --------------------------------------------------------------------------------
def check_sseft(args: list[str], where: str) -> None:
    """The subcommand path exists and every flag is an option of that command or its groups."""
    import click

    from sseft.cli.main import cli

    cmd: click.Command = cli
    chain = [cli]
    rest = list(args)
    while isinstance(cmd, click.Group):
        pos = next((k for k, t in enumerate(rest) if not t.startswith("-")), None)
        if pos is None:
            break
        sub = cmd.get_command(click.Context(cmd), rest[pos])
        if sub is None:
            if not getattr(cmd, "invoke_without_command", False):
                raise AssertionError(f"{where}: `sseft` has no command {rest[pos]!r} (in {' '.join(args)})")
            break
        cmd, rest = sub, rest[pos + 1 :]
        chain.append(cmd)
    opts = {o for c in chain for p in c.params for o in (*p.opts, *p.secondary_opts)} | {"--help", "-h"}
    for t in args:
        if t.startswith("-") and len(t) > 1 and not re.match(r"^-\d", t):
            assert t.split("=", 1)[0] in opts, f"{where}: `{' '.join(args)}`: no option {t!r} on {cmd.name}"


def check_command(tokens: list[str], where: str) -> None:
    while tokens and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]):  # VAR=value prefixes
        tokens = tokens[1:]
    prog, args = Path(tokens[0]).name, tokens[1:]
    if prog == "sseft":
        check_sseft(args, where)
    elif prog.startswith("python") and args[:2] == ["-m", "sseft"]:
        check_sseft(args[2:], where)
    elif prog == "accelerate":
        assert args and args[0] in ("launch", "config", "env", "test"), f"{where}: accelerate {args[:1]}"
        if args[0] == "launch":
            from accelerate.commands.launch import launch_command_parser

            ns, unknown = launch_command_parser().parse_known_args(args[1:])
            assert not unknown, f"{where}: accelerate launch does not know {unknown}"
            if ns.module and ns.training_script == "sseft":
                check_sseft(ns.training_script_args, where)
    elif prog == "bash":
        assert (REPO / args[0]).is_file(), f"{where}: no script {args[0]}"
    else:
        assert prog in SHELL_OK, f"{where}: unexpected command {prog!r}; add it to SHELL_OK if it is right"
    for t in tokens:
        for part in t.split("="):
            if part.startswith(REPO_PREFIXES):
                assert (REPO / part).exists(), f"{where}: {part} does not exist in the repository"


def test_every_block_has_a_known_treatment() -> None:
    assert len(DOCS) >= 7 and ALL
    bad = [f"{b.where} ```{b.lang} ({b.mode})" for b in ALL if b.mode not in MODES.get(b.lang, set())]
    assert not bad, f"blocks without a known treatment: {bad}"


def test_static_blocks() -> None:
    from sseft.core.config import validate
    from sseft.core.training.config import ExperimentConfig

    n = 0
    for b in ALL:
        if b.lang == "bash" and b.mode == "check":
            for tokens in commands(b.code):
                check_command(tokens, b.where)
        elif b.lang == "yaml":
            data = yaml.safe_load(b.code)
            if b.mode == "experiment":
                validate(ExperimentConfig, data, source=b.where)
        elif b.lang == "toml":
            tomllib.loads(b.code)
        else:
            continue
        n += 1
    assert n >= 10


# -- runnable blocks ------------------------------------------------------------------------------
# Docs followed as written from an empty folder outside the repository, as a user would.
FROM_EMPTY = {"docs/quickstart.md", "docs/conversations.md"}


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    monkeypatch.chdir(tmp_path)
    assert not tmp_path.resolve().is_relative_to(REPO)
    if str(request.node.callspec.params["doc"].relative_to(REPO)) in FROM_EMPTY:
        return tmp_path  # nothing prepared: configs/*.yaml are the shipped ones (core/shipped.py)
    sys.path.insert(0, str(REPO / "tests" / "cli"))
    import predict_fixture as pf

    pf.tiny_model()
    pf.publish("meld-emotion")
    pf.publish("my-first-model")  # the README's example name (the quickstart trains the real one)
    it = pf.media_item(tmp_path, "clip", 3)
    (tmp_path / "clip.txt").write_text(it["text"] + "\n", encoding="utf-8")
    pf.media_item(tmp_path / "my_clips" / "clips", "c06", 6)
    rows = ["id,text,video"]
    for i in range(3):
        c = pf.media_item(tmp_path / "clips", f"c{i}", i)
        rows.append(f'c{i},"{c["text"]}",clips/c{i}.mp4')
    (tmp_path / "items.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def run_shell(tokens: list[str], cwd: Path) -> tuple[int, str]:
    if Path(tokens[0]).name == "sseft":
        from click.testing import CliRunner

        from sseft.cli.main import cli

        r = CliRunner().invoke(cli, tokens[1:])
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            raise r.exception
        return r.exit_code, r.stdout + r.stderr
    res = subprocess.run(tokens, cwd=cwd, capture_output=True, text=True, timeout=60)
    return res.returncode, res.stdout + res.stderr


def matches(expected: str, output: str) -> bool:
    """Every line's fragments (split at '…') appear in order in the output."""
    for line in (x.strip() for x in expected.splitlines()):
        pos = 0
        for frag in (f.strip() for f in line.split("…")):
            k = output.find(frag, pos)
            if k < 0:
                return False
            pos = k + len(frag)
    return True


# docs/deploy.md's blocks are run by tests/export/test_deploy_docs.py (it lays out a Hugging Face cache first).
RUNNABLE = sorted({b.path for b in ALL if b.mode in ("run", "error")} - {REPO / "docs" / "deploy.md"})


@pytest.mark.slow
@pytest.mark.parametrize("doc", RUNNABLE, ids=[str(p.relative_to(REPO)) for p in RUNNABLE])
def test_runnable_blocks(doc: Path, workspace: Path) -> None:
    import torch

    torch.set_num_threads(1)
    blocks = [b for b in ALL if b.path == doc]
    ns: dict[str, object] = {"__name__": "__docs__"}
    for k, b in enumerate(blocks):
        if b.mode == "run" and b.lang == "python":
            exec(compile(b.code, b.where, "exec"), ns)  # noqa: S102 - our own documentation
        elif b.mode in ("run", "error"):
            for tokens in commands(b.code):
                code, out = run_shell(tokens, workspace)
                if b.mode == "run":
                    assert code == 0, f"{b.where}: `{shlex.join(tokens)}` exited {code}:\n{out}"
                else:
                    nxt = blocks[k + 1] if k + 1 < len(blocks) else None
                    assert nxt is not None and nxt.mode == "expected", (
                        f"{b.where}: error block without output block"
                    )
                    assert code != 0, f"{b.where}: `{shlex.join(tokens)}` did not fail:\n{out}"
                    assert matches(nxt.code, out), f"{b.where}: output differs from {nxt.where}:\n{out}"
