"""The command on a terminal and under a pipe: progress naming each stage, a
readable table from ``messages``, a summary line; Ctrl-C says "interrupted", exits
130 and leaves the cache whole. And ``patchtrack cache info|prune|clear``."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import patchtrack
from conftest import MAILS
from patchtrack.cache import Cache
from patchtrack.cli import main


def _on_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the command with stdout and stderr on a pseudo-terminal; its exit code and
    everything it wrote there."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "patchtrack", *argv], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return patchtrack.build_inbox(MAILS, tmp_path_factory.mktemp("tty") / "gizmo")


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg"), "COLUMNS": "100"}


def test_progress_names_each_stage_on_a_terminal(inbox: Path, tmp_path: Path, mails: list[bytes]) -> None:
    (tmp_path / "gizmo.mbox").write_bytes(
        b"".join(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + re.sub(rb"(?m)^(>*From )", rb">\1", m) for m in mails)
    )
    code, text = _on_terminal(["series", str(tmp_path / "gizmo.mbox")], _env(tmp_path))
    assert code == 0
    stages = [word for word in ("reading gizmo.mbox", "parsing", "assembling") if word in text]
    assert stages == ["reading gizmo.mbox", "parsing", "assembling"]
    assert text.index("reading gizmo.mbox") < text.index("parsing") < text.index("assembling")
    assert "patchtrack: 9 series (0 mails from the cache, 41 parsed)" in text  # the summary line
    # under a pipe: no progress at all
    piped = subprocess.run([sys.executable, "-m", "patchtrack", "series", str(inbox)], capture_output=True,
                           text=True, env=_env(tmp_path))
    assert "parsing" not in piped.stderr and "\x1b" not in piped.stderr
    # (the mails the mbox held byte for byte are served from the cache the first run filled)
    assert re.fullmatch(r"patchtrack: 9 series \(\d+ mails from the cache, \d+ parsed\)\n", piped.stderr)


def test_messages_is_a_table_on_a_terminal_and_jsonl_when_piped(inbox: Path, tmp_path: Path) -> None:
    code, text = _on_terminal(["messages", str(inbox)], _env(tmp_path))
    assert code == 0
    rows = [line for line in text.splitlines() if line.startswith("2026-")]
    assert len(rows) == 41 and "{" not in text
    assert any("patch   Jane Whitaker" in row and "[PATCH 1/3] gizmo: core: add optional bus clock" in row for row in rows)
    piped = subprocess.run([sys.executable, "-m", "patchtrack", "messages", str(inbox)], capture_output=True,
                           text=True, env=_env(tmp_path))
    assert [json.loads(line)["subject"]["raw"] for line in piped.stdout.splitlines()][1] == (
        "[PATCH 1/3] gizmo: core: add optional bus clock handling"
    )
    help_text = subprocess.run([sys.executable, "-m", "patchtrack", "messages", "--help"], capture_output=True,
                               text=True).stdout
    assert "jsonl when piped" in " ".join(help_text.split())


@pytest.mark.corpus
def test_ctrl_c_says_interrupted_exits_130_and_keeps_the_cache(corpus_clones: dict[str, Path], tmp_path: Path) -> None:
    """SIGINT a run on ksummit (3,115 mails) once the cache holds some of its mail:
    one line, exit 130, and the cache opens and serves the rerun what was stored.

    The run gets SIGINT's default disposition, as from a terminal: a suite started in
    the background of a shell without job control hands SIG_IGN down, and a Python
    that starts with SIGINT ignored never raises KeyboardInterrupt (the run finished
    and exited 0)."""
    repo = next(path for name, path in corpus_clones.items() if name.startswith("ksummit"))
    cache = tmp_path / "cache.sqlite"
    argv = [sys.executable, "-m", "patchtrack", "series", str(repo), "--cache", str(cache), "--workers", "2"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - a signal, no thread
    )
    deadline = time.monotonic() + 120
    stored = 0
    while not stored and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:
            with sqlite3.connect(f"file:{cache}?mode=ro", uri=True) as db:
                stored = db.execute("SELECT count(*) FROM message").fetchone()[0]
        except sqlite3.Error:  # not created yet
            pass
    assert proc.poll() is None and stored, "the run ended (or stored nothing) before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err.splitlines() == ["patchtrack: interrupted"]
    with Cache(cache) as opened:
        kept = len(opened)
        assert kept >= stored and not opened.notes and opened.stats.corrupt == 0
    rerun = subprocess.run([*argv[:-2], "--workers", "1"], capture_output=True, text=True)
    assert rerun.returncode == 0
    summary = rerun.stderr.splitlines()[0]
    assert summary.endswith(f"({kept} mails from the cache, {3115 - kept} parsed)"), summary


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cache_info_prune_clear(capsys, inbox: Path, tmp_path: Path, mails: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    cache = str(tmp_path / "c.sqlite")
    code, out, _ = run(capsys, "cache", "info", "--cache", cache)
    assert (code, out) == (0, f"cache: {cache}: none yet\n")
    other = patchtrack.build_inbox(mails[:5], tmp_path / "other")  # mails also in inbox
    extra = patchtrack.build_inbox(
        [b"From: A <a@x.example>\nSubject: alone\nMessage-ID: <alone@x>\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n\nhi\n"],
        tmp_path / "extra",
    )
    for archive in (inbox, extra):
        assert run(capsys, "series", str(archive), "--cache", cache)[0] == 0
    code, out, _ = run(capsys, "cache", "info", "--cache", cache)
    info = dict(line.split(": ", 1) for line in out.splitlines())
    assert info["messages"] == "42" and info["assemblies"].startswith("2 ") and info["upstream indexes"] == "0"
    assert info["size"].endswith(" kB") and float(info["size"].split()[0]) * 1000 >= os.path.getsize(cache) * 0.9
    # prune by archive: the mails of `extra` are in neither archive named
    code, out, err = run(capsys, "cache", "prune", str(inbox), str(other), "--cache", cache)
    assert code == 0 and err.startswith("patchtrack: cache pruned: 1 messages, 0 assemblies dropped")
    assert "messages: 41\n" in out
    with Cache(cache) as opened:
        assert set(opened.get_many([m.oid for m in patchtrack.open_inbox(extra).messages()])) == set()
        assert len(opened.get_many([m.oid for m in patchtrack.open_inbox(inbox).messages()])) == 41
    # the pruned cache still serves the archive it keeps
    code, _, err = run(capsys, "series", str(inbox), "--cache", cache)
    assert err.startswith("patchtrack: 9 series (")
    # by age: assemblies older than 0 days are every one
    code, out, err = run(capsys, "cache", "prune", "--older-than", "0", "--cache", cache)
    assert code == 0 and "0 messages, 2 assemblies dropped" in err and "assemblies: 0 " in out
    code, out, err = run(capsys, "cache", "clear", "--cache", cache)
    assert code == 0 and "messages: 0\n" in out and err.startswith("patchtrack: cache cleared: 41 messages")
    # mistakes are one line, exit 2
    for argv, message in ((["cache", "info", str(inbox)], "cache info takes no INBOX"),
                          (["cache", "prune", "--older-than", "-1"], "--older-than must be 0 days or more"),
                          (["cache", "info", "--cache", str(tmp_path / "no" / "c")], "no such file or directory")):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (2, "") and err.count("\n") == 1 and message in err, err
