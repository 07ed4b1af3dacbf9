"""Finding, naming and opening the lists of a mirror (patchtrack.archive's discover,
survey, open_sources, list_name) on small archives built from the fixture mails."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import git, git_env, git_messages
from mirror import small_lists
from patchtrack.archive import discover, list_name, open_epochs, open_source, open_sources, survey
from patchtrack.builder import build_inbox
from patchtrack.errors import InboxError


def _walked(source: object) -> list[tuple[int, str, str]]:
    return [(r.epoch, r.commit, r.oid) for r in source.walk(dedupe=False)]  # type: ignore[attr-defined]


def _relist(mails: list[bytes], list_id: str) -> list[bytes]:
    """The mails as another list would carry them: its own List-Id."""
    return [m.replace(b"<linux-gizmo.vger.kernel.org>", f"<{list_id}>".encode()) for m in mails]


@pytest.fixture(scope="module")
def split_inbox(mails: list[bytes], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A v2 inbox of the fixture mails in three epochs (rolled every 15 mails)."""
    return build_inbox(mails, tmp_path_factory.mktemp("split") / "gizmo", epoch_size=15)


def _as_clones(inbox: Path, root: Path, stem: str) -> list[Path]:
    """Each epoch of ``inbox`` copied to ``root/<stem>.<N>.git``, as lore's clones are named."""
    copies = []
    for epoch in sorted((inbox / "git").iterdir()):
        copies.append(Path(shutil.copytree(epoch, root / f"{stem}.{epoch.name}")))
    return copies


def test_grokmirror_layout_every_list_by_name_sorted(mails: list[bytes], tmp_path: Path) -> None:
    built = small_lists(mails, {"linux-pwm": range(0, 12), "linux-gpio": range(8, 20), "linux-fpga": [3, 30]}, tmp_path)
    found = discover(tmp_path)
    assert list(found) == ["linux-fpga", "linux-gpio", "linux-pwm"]
    for name, source in found.items():
        assert source.name == name and source.layout == "v2"
        assert source.path == built[name].resolve()
        assert [e.number for e in source.epochs] == [0]
        assert source.tips() == {0: git("rev-parse", "HEAD", cwd=built[name] / "git" / "0.git").strip()}


def test_nested_two_levels_found_three_not(mails: list[bytes], tmp_path: Path) -> None:
    build_inbox(mails[:3], tmp_path / "lore" / "linux-pwm")
    build_inbox(mails[3:6], tmp_path / "a" / "b" / "too-deep")
    build_inbox(mails[6:9], tmp_path / "top")
    found = survey(tmp_path)
    assert list(found.sources) == ["linux-pwm", "top"]
    assert found.skipped == ()
    assert list(discover(tmp_path / "a")) == ["too-deep"]  # two levels below a


def test_empty_root_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README").write_text("not an archive\n")
    with pytest.raises(InboxError) as caught:
        discover(tmp_path)
    assert str(caught.value) == f"{tmp_path}: no public-inbox archive found under it"


def test_missing_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InboxError, match="no such file or directory"):
        discover(tmp_path / "nowhere")


def test_clone_group_is_one_list_with_its_epochs(split_inbox: Path, tmp_path: Path) -> None:
    _as_clones(split_inbox, tmp_path, "linux-gizmo.vger.kernel.org")
    found = discover(tmp_path)
    assert list(found) == ["linux-gizmo"]
    group = found["linux-gizmo"]
    assert group.layout == "v2"
    assert [e.number for e in group.epochs] == [0, 1, 2]
    # the same mails, epochs and commits as the v2 inbox they were cloned from
    assert _walked(group) == _walked(open_source(split_inbox))
    expected = [m for n in range(3) for m in git_messages(split_inbox / "git" / f"{n}.git", "HEAD")]
    assert [(c, o) for _, c, o in _walked(group)] == expected


def test_clone_group_given_as_paths_and_as_one_root(split_inbox: Path, tmp_path: Path) -> None:
    copies = _as_clones(split_inbox, tmp_path, "linux-gizmo.vger.kernel.org")
    by_paths = open_sources([str(p) for p in reversed(copies)])
    assert list(by_paths) == ["linux-gizmo"]
    assert [e.number for e in by_paths["linux-gizmo"].epochs] == [0, 1, 2]
    assert _walked(by_paths["linux-gizmo"]) == _walked(open_sources(tmp_path)["linux-gizmo"])


def test_a_clone_group_missing_an_epoch_keeps_the_others(split_inbox: Path, tmp_path: Path) -> None:
    copies = _as_clones(split_inbox, tmp_path, "linux-gizmo.vger.kernel.org")
    shutil.rmtree(copies[1])
    group = discover(tmp_path)["linux-gizmo"]
    assert [e.number for e in group.epochs] == [0, 2]


def test_v1_and_v2_epoch_alone(mails: list[bytes], tmp_path: Path, split_inbox: Path) -> None:
    build_inbox(mails[:5], tmp_path / "linux-old.vger.kernel.org.git", layout="v1")
    shutil.copytree(split_inbox / "git" / "1.git", tmp_path / "stray" / "1.git")
    found = discover(tmp_path)
    assert list(found) == ["linux-gizmo", "linux-old"]
    assert found["linux-old"].layout == "v1"
    stray = found["linux-gizmo"]  # 1.git alone names nothing: the List-Id of its newest mail does
    assert stray.layout == "v2" and [e.number for e in stray.epochs] == [1]
    assert _walked(stray) == [w for w in _walked(open_source(split_inbox)) if w[0] == 1]


def test_all_git_beside_git_is_the_inbox(mails: list[bytes], tmp_path: Path) -> None:
    inbox = build_inbox(mails[:4], tmp_path / "linux-pwm")
    assert (inbox / "all.git").is_dir()
    only = open_sources(inbox / "all.git")
    assert list(only) == ["linux-pwm"] and only["linux-pwm"].path == inbox.resolve()
    assert list(discover(tmp_path)) == ["linux-pwm"]  # all.git is no second list


def test_names_when_the_folder_gives_none(mails: list[bytes], tmp_path: Path) -> None:
    def epoch_alone(folder: str, list_id: str) -> Path:
        inbox = build_inbox(_relist(mails[:3], list_id), tmp_path / "built" / folder)
        return Path(shutil.copytree(inbox / "git" / "0.git", tmp_path / "m" / folder / "0.git"))

    by_description = epoch_alone("a", "ignored-a.example.org")
    (by_description / "description").write_text("public inbox for linux-spi@vger.kernel.org [epoch 0]\n")
    single_word = epoch_alone("b", "ignored-b.example.org")
    (single_word / "description").write_text("linux-i2c.vger.kernel.org\n")
    by_config = epoch_alone("c", "ignored-c.example.org")
    (by_config / "description").write_text("Linux SPI development, a description in prose\n")
    git("config", "--file", str(by_config / "config"), "publicinbox.linux-iio.address", "linux-iio@vger.kernel.org")
    by_host = epoch_alone("e", "ignored-e.example.org")
    (by_host / "description").write_text("linux-can.vger.kernel.org list archive [epoch 0]\n")
    by_list_id = epoch_alone("d", "linux-widget.lists.example.org")
    assert (by_list_id / "description").read_text().startswith("Unnamed repository")  # git's default: no name
    assert {n: s.path for n, s in discover(tmp_path / "m").items()} == {
        "linux-can": by_host, "linux-i2c": single_word, "linux-iio": by_config, "linux-spi": by_description,
        "linux-widget": by_list_id,
    }
    assert list_name(by_list_id) == "linux-widget"
    assert list_name(open_source(by_description)) == "linux-spi"


def test_folder_names_are_lore_short_names(mails: list[bytes], tmp_path: Path) -> None:
    v2 = build_inbox(mails[:2], tmp_path / "linux-pwm.vger.kernel.org")
    v1 = build_inbox(mails[:2], tmp_path / "foo.git", layout="v1")
    clone = Path(shutil.copytree(v2 / "git" / "0.git", tmp_path / "linux-gpio.vger.kernel.org.3.git"))
    assert [list_name(p) for p in (v2, v1, clone, v2 / "git" / "0.git")] == ["linux-pwm", "foo", "linux-gpio", "linux-pwm"]


def test_non_archives_skipped_silently_broken_ones_recorded(mails: list[bytes], tmp_path: Path) -> None:
    build_inbox(mails[:3], tmp_path / "linux-pwm")
    (tmp_path / "docs" / "notes").mkdir(parents=True)  # no git at all: passed over without a word
    code = tmp_path / "kernel.git"  # a git repository of something else than mail
    subprocess.run(["git", "init", "-q", "--bare", str(code)], check=True)
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(code), str(work)], check=True, capture_output=True)
    (work / "Makefile").write_text("all:\n")
    env = git_env("A U Thor", "author@example.com", "2024-01-01T00:00:00Z")
    subprocess.run(["git", "-C", str(work), "add", "Makefile"], check=True)
    subprocess.run(["git", "-C", str(work), "commit", "-qm", "build"], check=True, env=env)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "HEAD:master"], check=True, capture_output=True)
    (tmp_path / "no-epochs" / "git").mkdir(parents=True)  # a v2 folder with no epoch in git/
    found = survey(tmp_path)
    assert list(found.sources) == ["linux-pwm"]
    skipped = {s.path.name: s.reason for s in found.skipped}
    assert sorted(skipped) == ["kernel.git", "no-epochs", "work"]
    assert "not a public-inbox archive" in skipped["kernel.git"]
    assert "found none" in skipped["no-epochs"]


def test_damaged_inbox_kept_with_its_damage(split_inbox: Path, tmp_path: Path) -> None:
    inbox = Path(shutil.copytree(split_inbox, tmp_path / "linux-gizmo"))
    for ref in (inbox / "git" / "1.git").rglob("master"):
        ref.unlink()  # epoch 1's refs lost, its objects kept
    (inbox / "git" / "1.git" / "packed-refs").unlink(missing_ok=True)
    found = survey(tmp_path)
    assert list(found.sources) == ["linux-gizmo"] and found.skipped == ()
    walk = found.sources["linux-gizmo"].walk()
    read = list(walk)
    assert walk.damage and all("1.git" in str(d) for d in walk.damage)
    assert {r.epoch for r in read} == {0, 2}


def test_same_name_twice_is_an_error_naming_both(mails: list[bytes], tmp_path: Path, split_inbox: Path) -> None:
    first = build_inbox(mails[:2], tmp_path / "a" / "linux-pwm")
    second = build_inbox(mails[2:4], tmp_path / "b" / "linux-pwm")
    with pytest.raises(InboxError) as caught:
        discover(tmp_path)
    assert str(first.resolve()) in str(caught.value) and str(second.resolve()) in str(caught.value)
    clones = tmp_path / "clones"
    one = shutil.copytree(split_inbox / "git" / "0.git", clones / "linux-gizmo.vger.kernel.org.0.git")
    other = shutil.copytree(split_inbox / "git" / "0.git", clones / "x" / "linux-gizmo.lists.example.org.0.git")
    with pytest.raises(InboxError, match="both epoch 0") as caught:
        discover(clones)
    assert str(Path(one).resolve()) in str(caught.value) and str(Path(other).resolve()) in str(caught.value)
    inbox = shutil.copytree(split_inbox, tmp_path / "v2" / "linux-gizmo")
    with pytest.raises(InboxError, match="two archives of list 'linux-gizmo'"):  # a v2 inbox and a clone of it
        open_sources([inbox, one])


def test_symlinked_inbox_is_one_list(mails: list[bytes], tmp_path: Path) -> None:
    inbox = build_inbox(mails[:2], tmp_path / "real" / "linux-pwm")
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "linux-pwm").symlink_to(inbox)
    assert list(discover(tmp_path)) == ["linux-pwm"]


def test_search_never_enters_an_inbox(mails: list[bytes], tmp_path: Path) -> None:
    outer = build_inbox(mails[:2], tmp_path / "linux-pwm")
    build_inbox(mails[2:4], outer / "inner")  # inside an inbox: not the mirror's
    assert list(discover(tmp_path)) == ["linux-pwm"]


def test_open_sources_forms(mails: list[bytes], tmp_path: Path) -> None:
    built = small_lists(mails, {"linux-pwm": range(0, 5), "linux-gpio": range(3, 8)}, tmp_path)
    one = open_sources(str(built["linux-pwm"]))
    assert list(one) == ["linux-pwm"]
    listed = open_sources([built["linux-pwm"], built["linux-gpio"]])
    assert list(listed) == ["linux-gpio", "linux-pwm"]
    named = open_sources({"pwm": built["linux-pwm"], "gpio": built["linux-gpio"] / "git" / "0.git"})
    assert list(named) == ["gpio", "pwm"] and named["gpio"].name == "gpio"
    assert _walked(named["pwm"]) == _walked(one["linux-pwm"])
    assert list(open_sources([built["linux-pwm"], built["linux-pwm"] / "all.git"])) == ["linux-pwm"]  # one inbox
    with pytest.raises(InboxError, match="given twice"):
        open_sources({"a": built["linux-pwm"], "b": built["linux-pwm"] / "all.git"})
    with pytest.raises(InboxError, match="not a git repository"):
        open_sources([tmp_path])  # a mirror root is not one inbox
    with pytest.raises(InboxError, match="no archive given"):
        open_sources([])


def test_open_epochs_reads_epochs_found_apart(split_inbox: Path) -> None:
    paths = {n: split_inbox / "git" / f"{n}.git" for n in (0, 2)}
    source = open_epochs("gizmo", paths)
    assert source.name == "gizmo" and source.layout == "v2" and source.path == paths[0]
    assert _walked(source) == [w for w in _walked(open_source(split_inbox)) if w[0] != 1]
