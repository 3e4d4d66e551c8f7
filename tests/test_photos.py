"""The photo corpus and the shipped held-out benchmark: licenses, the split, fetching, loading."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import splitdiff.photos as ph
from splitdiff.photos import corpus

#: The licenses the corpus may hold (free, no NC / ND clause), as the sources spell them.
FREE = {"CC0-1.0", "public-domain", "CC-BY-4.0", "CC-BY-SA-4.0", "GPL-2+"}
PACKAGES = {"lomiri-wallpapers-16.04", "mate-backgrounds", "plasma-workspace-wallpapers"}


def test_the_manifest_lists_licensed_photographs_split_by_photograph():
    photos = ph.manifest()
    ids = [p.id for p in photos]
    assert len(ids) == len(set(ids)) == 41
    assert {p.license for p in photos} <= FREE
    assert all(p.author.strip() and p.subject.strip() for p in photos)
    assert {p.source for p in photos} == PACKAGES | {"scikit-image"}
    # a photograph is training or test, never both: no file (by content) in both splits
    train, test = ({p.sha256 for p in ph.photos(s)} for s in ("train", "test"))
    assert not train & test and len(train) + len(test) == 41
    assert len(ph.photos("test")) >= 24 and {"skimage-chelsea", "skimage-coffee"} <= {p.id for p in ph.photos("test")}
    assert all(min(p.width, p.height) >= 256 for p in ph.photos("test"))  # a 256x256 crop without upsampling
    # the package versions the manifest was made from
    assert ph.packages() == {"lomiri-wallpapers-16.04": "20.04.0-2", "mate-backgrounds": "1.26.0-1",
                             "plasma-workspace-wallpapers": "4:5.27.5-2"}


def test_the_old_skimage_split_agrees_with_the_corpus():
    from splitdiff.evaluation.images import TEST_IMAGES

    test = {p.skimage_name for p in ph.photos("test") if p.skimage_name}
    assert set(TEST_IMAGES) <= test
    assert not {p.skimage_name for p in ph.photos("train") if p.skimage_name} & test


def test_the_shipped_benchmark_has_every_test_photograph_with_its_license():
    folder = ph.HELDOUT_DIR
    pngs = sorted(folder.glob("*.png"))
    assert [f.stem for f in pngs] == sorted(p.id for p in ph.photos("test"))
    assert sum(f.stat().st_size for f in pngs) < 5 * 2**20
    for f in pngs:
        with Image.open(f) as image:
            assert image.format == "PNG" and image.size == (256, 256) and image.mode == "RGB"
    text = (folder / "ATTRIBUTION.md").read_text()
    for p in ph.photos("test"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {p.id} |"))
        assert p.license in row and p.author in row and p.source in row
    assert sorted(f.name for f in (folder / "licenses").iterdir()) == sorted(
        f"{s}.copyright" for s in {p.source for p in ph.photos("test")} - {"scikit-image"})
    # each copyright file holds the license paragraphs the attribution names
    for name in ("CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0"):
        assert f"License: {name}" in (folder / "licenses" / "lomiri-wallpapers-16.04.copyright").read_text()


def _dep5_file_stanzas(text: str) -> list[dict[str, str]]:
    """The ``Files:`` paragraphs of a machine-readable debian/copyright (DEP-5): fields with their
    continuation lines joined by newlines."""
    import re

    stanzas = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        fields, key = {}, None
        for line in paragraph.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Files" in fields:
            stanzas.append(fields)
    return stanzas


def _governing_stanza(stanzas: list[dict[str, str]], installed: str) -> dict[str, str]:
    """DEP-5: the last stanza whose pattern matches wins. Patterns name source paths
    (``nature/Storm.jpg``, ``16.04/Bridge_by_X.jpg``, ``*``); the package installs them under
    another prefix, so a pattern matches a trailing part of the installed path, or its file name."""
    import fnmatch
    import posixpath

    def matches(pattern: str) -> bool:
        name = posixpath.basename(pattern)
        return fnmatch.fnmatchcase(installed, "*/" + pattern) or (
            not any(c in name for c in "*?[") and posixpath.basename(installed) == name)

    found = [s for s in stanzas if any(matches(p) for p in s["Files"].split())]
    assert found, f"no Files: stanza covers {installed}"
    return found[-1]


def test_every_package_photograph_has_the_author_and_license_of_its_copyright_stanza():
    """Read independently of the manifest: each Debian photograph's license is the one its
    governing ``Files:`` stanza in the shipped debian/copyright states, and each author the
    manifest names is in that stanza's ``Copyright:`` field."""
    folder = ph.HELDOUT_DIR / "licenses"
    checked = 0
    for photo in ph.photos():
        if photo.source == "scikit-image":
            continue
        stanza = _governing_stanza(_dep5_file_stanzas((folder / f"{photo.source}.copyright").read_text()), photo.path)
        assert stanza["License"].split("\n")[0] == photo.license, (photo.id, stanza)
        holders = stanza["Copyright"].replace('"', "")
        for name in photo.author.replace('"', "").split("; "):
            assert name in holders, (photo.id, name, holders)
        checked += 1
    assert checked == 36  # the 22 test and 14 training wallpapers


def test_heldout_images_load_at_any_size():
    ids, x = ph.heldout_images(32)
    assert ids == [p.id for p in ph.photos("test")]
    assert x.shape == (len(ids), 3, 32, 32) and x.dtype == torch.float32
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.std()) > 0.2
    # the chelsea test image is scikit-image's cat: its 256x256 square matches a crop made here
    import skimage.data

    cat = ph.square_crop(Image.fromarray(skimage.data.chelsea()))
    full = ph.heldout_images(256)[1][ids.index("skimage-chelsea")]
    assert torch.equal(((full.permute(1, 2, 0) + 1) * 127.5).round().byte(), torch.from_numpy(np.array(cat)))
    for bad in (4, 300, 64.0, True):
        with pytest.raises(ValueError, match="size must be an int"):
            ph.heldout_images(bad)


# -- fetching, with packages built here (no network) ---------------------------------------------
def _deb(root: Path, package: str, files: dict[str, bytes], links: dict[str, str] = {}) -> Path:
    tree = root / f"{package}-tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: test\n")
    for path, data in {**files, f"usr/share/doc/{package}/copyright": b"Files: *\nLicense: CC0-1.0\n"}.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_bytes(data)
    for path, target in links.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).symlink_to(target)
    deb = root / f"{package}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(deb)], check=True, capture_output=True)
    return deb


@pytest.fixture
def tiny_corpus(tmp_path, monkeypatch):
    """A manifest of two photographs in one package built here, and a download that copies it."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    buf = tmp_path / "a.jpg"
    Image.fromarray(np.full((300, 400, 3), 90, np.uint8)).save(buf)
    jpg = buf.read_bytes()
    png = tmp_path / "b.png"
    Image.fromarray(np.full((260, 260, 3), 200, np.uint8)).save(png)
    files = {"usr/share/backgrounds/a.jpg": jpg, "usr/share/backgrounds/b.png": png.read_bytes()}
    debs = tmp_path / "debs"
    debs.mkdir()
    deb = _deb(debs, "fake-wallpapers", files, links={"usr/share/backgrounds/c.jpg": "a.jpg",
                                                       "usr/share/backgrounds/evil.jpg": "/etc/hostname"})
    manifest = tmp_path / "manifest.csv"
    rows = [
        ("a", "train", "usr/share/backgrounds/c.jpg", jpg),  # a link inside the package is followed
        ("b", "test", "usr/share/backgrounds/b.png", png.read_bytes()),
    ]
    with manifest.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "split", "source", "version", "path", "author", "license", "width", "height", "sha256",
                      "subject", "notes"])
        for pid, split, path, data in rows:
            out.writerow([pid, split, "fake-wallpapers", "1.0-1", path, "Someone", "CC0-1.0", 400, 300,
                          hashlib.sha256(data).hexdigest(), "grey", ""])
    monkeypatch.setattr(corpus, "MANIFEST", manifest)
    corpus.manifest.cache_clear()
    yield manifest, (lambda package, folder: Path(shutil.copy(deb, folder)))
    corpus.manifest.cache_clear()


def test_fetch_builds_the_corpus_folder(tiny_corpus, tmp_path):
    manifest, download = tiny_corpus
    out = ph.fetch(tmp_path / "corpus", download=download)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "ATTRIBUTION.md", "licenses/fake-wallpapers.copyright", "manifest.csv", "test/b.png", "train/a.jpg"]
    assert (out / "manifest.csv").read_bytes() == manifest.read_bytes()
    assert "| a | train | grey | Someone | CC0-1.0 |" in (out / "ATTRIBUTION.md").read_text()
    with pytest.raises(ValueError, match="not empty; pass --force"):
        ph.fetch(out, download=download)
    ph.fetch(out, force=True, download=download)


def test_fetch_refuses_changed_photographs_and_links_out_of_the_package(tiny_corpus, tmp_path):
    manifest, download = tiny_corpus
    text = manifest.read_text()
    manifest.write_text(text.replace("usr/share/backgrounds/c.jpg", "usr/share/backgrounds/evil.jpg"))
    corpus.manifest.cache_clear()
    with pytest.raises(ValueError, match="resolves outside its package"):
        ph.fetch(tmp_path / "one", download=download)
    manifest.write_text(text.replace("usr/share/backgrounds/c.jpg", "usr/share/backgrounds/b.png"))
    corpus.manifest.cache_clear()
    with pytest.raises(ValueError, match="a: usr/share/backgrounds/b.png of fake-wallpapers 1.0-1 has SHA-256 .*"
                                         "made from version 1.0-1.* the photograph changed"):
        ph.fetch(tmp_path / "two", download=download)
    planted = tmp_path / "three"
    planted.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (planted / "train").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="train exists and is not a folder of its own"):
        ph.fetch(planted, force=True, download=download)
    assert not any((tmp_path / "elsewhere").iterdir())


def test_a_failed_download_is_one_clear_error(tiny_corpus, tmp_path):
    def offline(package, folder):
        return corpus.apt_download("splitdiff-no-such-package", folder)

    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not installed")
    with pytest.raises(ValueError, match="apt-get download splitdiff-no-such-package failed"):
        ph.fetch(tmp_path / "c", download=offline)


def test_the_photos_command_reports_errors_in_one_line(tmp_path, capsys):
    from splitdiff.cli import main

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert main(["photos", "fetch", str(tmp_path / "full")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not empty; pass --force" in err


# -- training never sees a test photograph -------------------------------------------------------
def test_training_folders_refuse_held_out_photographs(tmp_path):
    from splitdiff.training.crops import CropDataModule, load_folder

    folder = tmp_path / "train"
    folder.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (700, 900, 3), dtype=np.uint8)).save(folder / "mine.jpg")
    Image.fromarray(np.full((100, 100), 7, np.uint8)).save(folder / "gray.png")
    names, images = load_folder(folder)
    assert names == ["gray.png", "mine.jpg"]
    assert [tuple(im.shape) for im in images] == [(3, 100, 100), (3, 512, 658)]  # short side 512 at most
    assert all(-1 <= float(im.min()) and float(im.max()) <= 1 for im in images)
    data = CropDataModule(size=64, batch_size=2, samples_per_epoch=4, folder=folder)
    assert data.names == ["gray.png", "mine.jpg"]
    # a shipped benchmark image, renamed; scikit-image's cat saved as PNG; a corpus test id as name
    import skimage.data

    for planted in (lambda f: shutil.copy(ph.HELDOUT_DIR / "lom-bridge.png", f / "renamed.png"),
                    lambda f: Image.open(ph.HELDOUT_DIR / "kde-kite.png").save(f / "resaved.bmp"),  # same pixels
                    lambda f: Image.fromarray(skimage.data.chelsea()).save(f / "cat.png"),
                    lambda f: shutil.copy(folder / "mine.jpg", f / "mate-storm.jpg")):
        bad = tmp_path / f"bad{len(list(tmp_path.iterdir()))}"
        bad.mkdir()
        planted(bad)
        with pytest.raises(ValueError, match="is a held-out test photograph"):
            load_folder(bad)
    with pytest.raises(ValueError, match="holds no image files"):
        load_folder(_empty(tmp_path))
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "elsewhere.jpg").symlink_to(folder / "mine.jpg")
    with pytest.raises(ValueError, match="holds links"):
        load_folder(linked)


def _empty(root: Path) -> Path:
    folder = root / "empty"
    folder.mkdir()
    return folder


def test_an_evaluation_config_reads_the_shipped_benchmark():
    from splitdiff.evaluation.config import parse_config
    from splitdiff.evaluation.ground_truth import list_images, load_ground_truth

    def config(data):
        return parse_config({"name": "t", "data": data, "prior": "default", "tasks": {"super_resolution": {}},
                             "methods": {"ddiff": {}}})

    c = config({"heldout": True, "size": 64})
    names = list_images(c.data)
    assert names == [p.id for p in ph.photos("test")]
    x = load_ground_truth(c.data, "skimage-chelsea")
    # the benchmark's pixels at 64: the shipped 256x256 PNG resized by PIL's Lanczos, 8 bits,
    # the same as heldout_images (demo, benchmarks): one image set under one name
    with Image.open(ph.HELDOUT_DIR / "skimage-chelsea.png") as image:
        lanczos = torch.from_numpy(np.array(image.convert("RGB").resize((64, 64), Image.Resampling.LANCZOS)))
    assert torch.equal(((x[0].permute(1, 2, 0) + 1) * 127.5).round().byte(), lanczos)
    assert torch.equal(x[0], ph.heldout_images(64)[1][names.index("skimage-chelsea")])
    with pytest.raises(ValueError, match="data.convention: the held-out benchmark"):
        config({"heldout": True, "convention": "resize", "size": 64})
    with pytest.raises(ValueError, match="at most 256 for the held-out benchmark"):
        config({"heldout": True, "size": 512})
    with pytest.raises(ValueError, match="data.convention: expected one of"):  # 'heldout' names the benchmark only
        config({"skimage": ["chelsea"], "convention": "heldout", "size": 64})
    # the fingerprint names the benchmark, not the install path
    from splitdiff.evaluation.config import Item

    inputs = c.inputs(Item(0, "super_resolution", 0.05, "ddiff", names[0], 0))
    assert inputs["data.source"] == "heldout"
    for bad, message in (({"heldout": False}, "expected true"), ({"heldout": True, "skimage": ["chelsea"]}, "exactly one")):
        with pytest.raises(ValueError, match=message):
            config(bad)


def test_the_model_card_lists_every_training_photograph_of_the_default_prior():
    import json

    import splitdiff

    weights = Path(splitdiff.__file__).parent / "weights" / "default_prior.json"
    meta = json.loads(weights.read_text())
    stages = [meta["train_images"]] + ([meta["init"]["train_images"]] if "init" in meta else [])
    card = (Path(__file__).resolve().parents[1] / "docs" / "model-card.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in card.splitlines() if line.startswith("| ")}
    corpus = {p.id: p for p in ph.photos()}
    test_ids = {p.id for p in ph.photos("test")} | {p.skimage_name for p in ph.photos("test") if p.skimage_name}
    for names in stages:
        for name in names:
            stem = Path(name).stem
            assert stem not in test_ids, f"{name} is a held-out test photograph"
            assert stem in rows, f"docs/model-card.md has no row for the training photograph {name}"
            if stem in corpus:  # the corpus's author and license, as the manifest records them
                assert corpus[stem].license in rows[stem] and corpus[stem].author in rows[stem], rows[stem]
            else:  # stage 1's scikit-image photographs: author and license from scikit-image's docstrings
                author, license = SKIMAGE_STAGE1[stem]
                assert author in rows[stem] and license in rows[stem], rows[stem]


# Stage 1's training images, author and license transcribed by hand from the docstrings of
# skimage.data (scikit-image 0.26) -- not from the manifest or the weights' JSON.
SKIMAGE_STAGE1 = {
    "astronaut": ("NASA", "public domain"),
    "rocket": ("SpaceX", "public domain"),
    "hubble_deep_field": ("NASA", "public domain"),
    "immunohistochemistry": ("Center for Microscopy And Molecular Imaging", "no known copyright restrictions"),
    "retina": ("Mikael Häggström", "CC0 1.0"),
    "camera": ("Lav Varshney", "CC0"),
    "grass": ("linolafett", "CC0"),
    "gravel": ("CC0Textures", "CC0"),
    "brick": ("CC0Textures", "CC0"),
    "coins": ("Brooklyn Museum", "no known copyright restrictions"),
    "clock": ("Stefan van der Walt", "public domain"),
}
