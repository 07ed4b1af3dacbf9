"""The command on a terminal and under a pipe: progress naming each stage, a
readable table from ``messages``, a summary line; Ctrl-C says "interrupted", exits
130 and leaves the cache whole. And ``patchtrack cache info|prune|clear``."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
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


_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.mark.corpus
def test_ctrl_c_says_interrupted_exits_130_and_keeps_the_cache(corpus_clones: dict[str, Path], tmp_path: Path) -> None:
    """SIGINT a run on ksummit (3,115 mails) on a terminal once its progress shows
    parsed mail: one line, exit 130, and the store opens and serves the rerun what
    was stored.

    The run gets SIGINT's default disposition, as from a terminal: a suite started in
    the background of a shell without job control hands SIG_IGN down, and a Python
    that starts with SIGINT ignored never raises KeyboardInterrupt (the run finished
    and exited 0).

    The running CLI holds the DuckDB file locked, and the store writes parsed mail
    5,000 at a time (ksummit's whole once its load ends, or is interrupted), so the
    file says nothing of what was parsed until the run is over: its progress on the
    terminal does. Sent once the file existed and 1.5 s more, the signal found
    nothing parsed yet in 3 of 10 runs, two at a time on this machine."""
    repo = next(path for name, path in corpus_clones.items() if name.startswith("ksummit"))
    cache = tmp_path / "cache.duckdb"
    argv = [sys.executable, "-m", "patchtrack", "series", str(repo), "--cache", str(cache), "--workers", "2"]
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, env=_env(tmp_path),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - a signal, no thread
    )
    os.close(slave)
    shown, sent = b"", False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:  # the run closed the terminal
                break
            if not data:
                break
            shown += data
        if not sent:
            text = _ANSI.sub(b"", shown)
            parsed = re.search(rb"(\d+)%", text[text.rfind(b"parsing"):]) if b"parsing" in text else None
            if parsed and int(parsed.group(1)) > 0:
                assert proc.poll() is None, "the run ended before it could be interrupted"
                proc.send_signal(signal.SIGINT)
                sent = True
    os.close(master)
    code = proc.wait(timeout=120)
    said = _ANSI.sub(b"", shown).decode("utf-8", "replace")
    assert sent, said
    assert code == 130, said
    # the progress line, then one line of its own
    assert [line for line in re.split(r"[\r\n]", said) if line.strip()][-1] == "patchtrack: interrupted", said
    assert "Traceback" not in said and said.count("patchtrack:") == 1, said
    with Cache(cache) as opened:
        kept = len(opened)
        assert 0 < kept <= 3115 and not opened.notes and opened.stats.corrupt == 0
        assert opened.stats.set_aside == 0
        # every mail kept whole: its columns beside its record, once
        assert opened._db.execute("SELECT count(*), count(DISTINCT oid) FROM mail").fetchall() == [(kept, kept)]
    rerun = subprocess.run([*argv[:-2], "--workers", "1"], capture_output=True, text=True)
    assert rerun.returncode == 0
    summary = rerun.stderr.splitlines()[0]
    assert summary.endswith(f"({kept} mails from the cache, {3115 - kept} parsed)"), summary


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _shown_size(line: str) -> tuple[float, float]:
    """``5.8 MB`` as bytes, and the rounding it was shown with (half its last digit's unit)."""
    number, unit = line.split()
    scale = {"bytes": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]
    return float(number) * scale, (0.5 if unit == "bytes" else 0.05) * scale


def _on_disk(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, f"{path}.wal") if os.path.exists(p))


def test_cache_info_prune_clear(capsys, inbox: Path, tmp_path: Path, mails: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    """info tells what the store file holds and its size on disk; prune drops the
    mail of no archive named, and assemblies by age (DuckDB reuses the space: the
    file need not shrink); clear starts the file afresh, as small as a new one."""
    cache = str(tmp_path / "c.duckdb")
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
    shown, rounding = _shown_size(info["size"])
    assert abs(shown - _on_disk(cache)) <= rounding, (info["size"], _on_disk(cache))
    # prune by archive: the mails of `extra` are in neither archive named
    code, out, err = run(capsys, "cache", "prune", str(inbox), str(other), "--cache", cache)
    assert code == 0 and err.startswith("patchtrack: cache pruned: 1 messages, 0 assemblies dropped")
    info = dict(line.split(": ", 1) for line in out.splitlines())
    assert info["messages"] == "41" and info["assemblies"].startswith("2 ")
    shown, rounding = _shown_size(info["size"])
    assert abs(shown - _on_disk(cache)) <= rounding, (info["size"], _on_disk(cache))
    with Cache(cache) as opened:
        assert set(opened.get_many([m.oid for m in patchtrack.open_inbox(extra).messages()])) == set()
        assert len(opened.get_many([m.oid for m in patchtrack.open_inbox(inbox).messages()])) == 41
    # the pruned cache still serves the archive it keeps
    code, _, err = run(capsys, "series", str(inbox), "--cache", cache)
    assert err.startswith("patchtrack: 9 series (41 mails from the cache, 0 parsed)")
    # by age: assemblies older than 0 days are every one
    code, out, err = run(capsys, "cache", "prune", "--older-than", "0", "--cache", cache)
    assert code == 0 and "0 messages, 2 assemblies dropped" in err and "assemblies: 0 " in out
    code, out, err = run(capsys, "cache", "clear", "--cache", cache)
    assert code == 0 and "messages: 0\n" in out and err.startswith("patchtrack: cache cleared: 41 messages")
    Cache(tmp_path / "new.duckdb").close()
    assert os.path.getsize(cache) == os.path.getsize(tmp_path / "new.duckdb")  # afresh: its space given back
    with Cache(cache) as opened:
        assert len(opened) == 0 and opened.info().assemblies == 0
    # mistakes are one line, exit 2
    for argv, message in ((["cache", "info", str(inbox)], "cache info takes no INBOX"),
                          (["cache", "prune", "--older-than", "-1"], "--older-than must be 0 days or more"),
                          (["cache", "info", "--cache", str(tmp_path / "no" / "c")], "no such file or directory")):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (2, "") and err.count("\n") == 1 and message in err, err
