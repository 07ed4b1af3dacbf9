"""Shared test fixtures: the fixture mails, built inboxes, and the real corpora.

Corpus tests use the public-inbox epochs in ``../shared/corpus`` (beside the
checkout; ``PATCHTRACK_CORPUS`` overrides). They skip when it is absent, unless
``PATCHTRACK_REQUIRE_CORPUS=1`` (set by CI), where absence is a failure.

Tests marked ``slow`` run only with ``PATCHTRACK_SLOW=1`` (or ``-m slow``): CI runs a
representative share — every corpus test on the three smaller corpora, the cheaper ones
on all five — and a release check runs them all.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from patchtrack.builder import read_mail_folder

ROOT = Path(__file__).resolve().parent.parent
MAILS = ROOT / "fixtures" / "mails"
CORPUS = Path(os.environ.get("PATCHTRACK_CORPUS", ROOT.parent / "shared" / "corpus"))
BUNDLES = sorted(CORPUS.glob("*.bundle")) if CORPUS.is_dir() else []


def git(*args: str, cwd: str | os.PathLike[str] | None = None, input: str | None = None) -> str:
    """Run git and return its stdout (the oracle for most corpus tests)."""
    return subprocess.run(
        ["git", *args], cwd=cwd, input=input, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(autouse=True)
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI caches parsed mail under $XDG_CACHE_HOME by default: never the
    user's own cache during tests, nor another test's (each starts with none)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


def git_env(name: str, email: str, when: str) -> dict[str, str]:
    """The environment for a git command run as ``name <email>`` at ``when``
    (author and committer alike): repositories built by tests are reproducible."""
    return {
        **os.environ,
        "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": when,
    }


def _need_corpus() -> None:
    if not BUNDLES:
        if os.environ.get("PATCHTRACK_REQUIRE_CORPUS") == "1":
            pytest.fail(f"PATCHTRACK_REQUIRE_CORPUS=1 but no bundles in {CORPUS}")
        pytest.skip(f"no corpus bundles in {CORPUS}")


BIG_CORPORA = ("linux-pwm", "linux-man")
SLOW_ON_BIG_CORPORA = frozenset({
    "test_same_patches_and_followups_as_b4",  # b4 over every thread: 32 s on linux-pwm, 28 s on linux-man
    "test_corpus_stored_assembly_gives_the_same_series_and_reports",  # 23 s, 11 s
    "test_corpus_new_mail_at_the_end_and_in_the_past",  # 17 s, 12 s
    "test_corpus_report_a_week_later",  # 9 s, 8 s
    "test_fast_headers_and_bodies_equal_standard_library_on_every_mail",  # 16 s, 15 s
    "test_fast_path_equals_standard_library_on_every_multipart_mail",  # 6 s, 8 s
    "test_random_ranges_match_rev_list",  # 13 s, 15 s
    "test_address_lists_agree_with_the_standard_library",  # 12 s on linux-pwm
    "test_message_id_from_the_headers_alone_is_the_parsers",  # parses every mail
})
"""Corpus tests whose linux-pwm and linux-man instances are marked slow (the seconds
each took in a full run on this 2-core machine): their kvm-ppc, linux-fpga and ksummit
instances check the same rules in CI, and the whole suite stays under ~15 minutes."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_slow = os.environ.get("PATCHTRACK_SLOW") == "1" or "slow" in (config.getoption("markexpr") or "")
    for item in items:
        callspec = getattr(item, "callspec", None)
        corpus = callspec.params.get("corpus_name", "") if callspec is not None else ""
        if getattr(item, "originalname", "") in SLOW_ON_BIG_CORPORA and corpus.startswith(BIG_CORPORA):
            item.add_marker(pytest.mark.slow(reason=f"a big corpus ({corpus})"))
        if not run_slow and item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.skip(reason="slow: run with PATCHTRACK_SLOW=1"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "corpus_name" in metafunc.fixturenames:
        names = [b.name.removesuffix(".bundle") for b in BUNDLES] or ["(no corpus)"]
        metafunc.parametrize("corpus_name", names, scope="session")


@pytest.fixture(scope="session")
def corpus_clones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every corpus bundle cloned bare once per session: name → repository path."""
    _need_corpus()
    base = tmp_path_factory.mktemp("corpus")
    clones = {}
    for bundle in BUNDLES:
        name = bundle.name.removesuffix(".bundle")
        dest = base / f"{name}.git"
        git("clone", "-q", "--bare", str(bundle), str(dest))
        clones[name] = dest
    return clones


@pytest.fixture(scope="session")
def corpus_repo(corpus_name: str, corpus_clones: dict[str, Path]) -> Path:
    """One cloned corpus epoch (the test is parametrized over all of them)."""
    return corpus_clones[corpus_name]


@pytest.fixture(scope="session")
def mails() -> list[bytes]:
    """The fixture mails, in arrival (file-name) order."""
    found = read_mail_folder(MAILS)
    assert len(found) >= 20, "fixtures/mails should hold the demo traffic"
    return found


def git_messages(repo: str | os.PathLike[str], *rev_args: str) -> list[tuple[str, str]]:
    """(commit, blob) of every commit in ``git rev-list --reverse REV_ARGS`` holding ``m``.

    This is git's own answer to "which messages are in this range", computed without
    patchtrack: rev-list for the commits, ``cat-file --batch-check`` for ``commit:m``.
    """
    commits = git("rev-list", "--reverse", *rev_args, cwd=repo).split()
    if not commits:
        return []
    checked = git(
        "cat-file", "--batch-check=%(objectname) %(objecttype)",
        cwd=repo, input="".join(f"{c}:m\n" for c in commits),
    ).splitlines()
    assert len(checked) == len(commits)
    return [(c, line.split()[0]) for c, line in zip(commits, checked) if line.endswith(" blob")]


def first_deliveries(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop every (commit, blob) whose blob appeared earlier in the list."""
    seen: set[str] = set()
    kept = []
    for commit, blob in pairs:
        if blob not in seen:
            seen.add(blob)
            kept.append((commit, blob))
    return kept


@pytest.fixture(scope="session")
def corpus_patch_views(corpus_name: str, corpus_repo: Path) -> tuple[list[tuple[str, bytes]], dict]:
    """Every patch mail of one corpus and git's view of each (mailinfo, apply
    --numstat, interpret-trailers, patch-id), computed once per session."""
    import oracle

    mails = oracle.patch_mails(corpus_repo)
    return mails, oracle.corpus_oracle(mails)


_PARSED: dict[str, list] = {}
_ASSEMBLED: dict[str, tuple] = {}


def _messages_of(name: str, repo: Path) -> list:
    import patchtrack

    if name not in _PARSED:
        _PARSED[name] = list(patchtrack.open_inbox(repo).messages())
    return _PARSED[name]


def _series_of(name: str, repo: Path) -> tuple:
    import patchtrack

    if name not in _ASSEMBLED:
        _ASSEMBLED[name] = patchtrack.assemble(_messages_of(name, repo))
    return _ASSEMBLED[name]


@pytest.fixture(scope="session")
def corpus_messages(corpus_name: str, corpus_repo: Path) -> list:
    """Every parsed message of one corpus, once per session."""
    return _messages_of(corpus_name, corpus_repo)


@pytest.fixture(scope="session")
def corpus_series(corpus_name: str, corpus_repo: Path) -> tuple:
    """Every series of one corpus, assembled once per session."""
    return _series_of(corpus_name, corpus_repo)


@pytest.fixture(scope="session")
def all_corpus_series(corpus_clones: dict[str, Path]) -> dict[str, tuple]:
    """Every corpus's series (name → series), sharing the per-corpus cache."""
    return {name: _series_of(name, repo) for name, repo in corpus_clones.items()}
