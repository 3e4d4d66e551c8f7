"""How splitdiff/photos/manifest.csv was made (kept for provenance; run once, 2026-11-27).

Input: a survey of the four Debian wallpaper packages (every image viewed and judged a
photograph or not; author and license from each package's debian/copyright), as a CSV with
columns id, package, path, width, height, author, license, is_photo, subject, notes; and the
unpacked packages under PKGS/<package>/. The fourth package, ukui-wallpapers (20.04.3-1.1), has
12 images, all illustrations and renders, so no row of the manifest comes from it.

The split is by photograph, stratified by package with a fixed seed: 22 wallpapers are test
images (with scikit-image's chelsea and coffee: 24), the other 14 train. scikit-image's
astronaut, rocket and camera (the bundled photographs with a stated public-domain / CC0
license, other than the two test images) train too.

    python scripts/make_photo_manifest.py SURVEY.csv PKGS > splitdiff/photos/manifest.csv
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
import sys
from pathlib import Path

VERSIONS = {"lomiri-wallpapers-16.04": "20.04.0-2", "mate-backgrounds": "1.26.0-1",
            "plasma-workspace-wallpapers": "4:5.27.5-2"}
TEST_PER_PACKAGE = {"lomiri-wallpapers-16.04": 8, "mate-backgrounds": 7, "plasma-workspace-wallpapers": 7}
SKIMAGE = [
    ("skimage-chelsea", "test", "chelsea", "Stefan van der Walt", "CC0-1.0", "cat (Chelsea)"),
    ("skimage-coffee", "test", "coffee", "Rachel Michetti", "CC0-1.0", "cup of coffee"),
    ("skimage-astronaut", "train", "astronaut", "NASA (Eileen Collins portrait)", "public-domain", "astronaut portrait"),
    ("skimage-rocket", "train", "rocket", "SpaceX", "public-domain", "rocket on launch pad"),
    ("skimage-camera", "train", "camera", "Lav Varshney", "CC0-1.0", "photographer with camera (grayscale)"),
]
COLUMNS = ["id", "split", "source", "version", "path", "author", "license", "width", "height", "sha256",
           "subject", "notes"]


def author(text: str) -> str:
    """Names from a Copyright: field, without years and e-mail addresses."""
    names = []
    for part in text.split(";"):
        part = re.sub(r"<[^>]*>", "", part).replace("´", "")
        part = re.sub(r"\b(19|20)\d\d\b[.,]?", "", part).strip(" ,.")
        names.append(part.replace('""', '"'))
    return "; ".join(n for n in names if n)


def main(survey: str, pkgs: str) -> None:
    rows = [r for r in csv.DictReader(open(survey)) if r["is_photo"] == "yes"]
    rng = random.Random(2026)
    test = set()
    for package, count in TEST_PER_PACKAGE.items():
        ids = sorted(r["id"] for r in rows if r["package"] == package)
        test |= set(rng.sample(ids, count))
    out = csv.DictWriter(sys.stdout, COLUMNS, lineterminator="\n")
    out.writeheader()
    for r in sorted(rows, key=lambda r: r["id"]):
        data = (Path(pkgs) / r["package"] / r["path"]).resolve().read_bytes()
        notes = ""
        if r["package"] == "plasma-workspace-wallpapers":
            meta = re.search(r"Author='([^']*)', License='([^']*)'", r["notes"])
            notes = (f"debian/copyright has one stanza for every file (KDE Visual Design Group, GPL-2+); "
                     f"the wallpaper's metadata.json names {meta.group(1)}, {meta.group(2)}")
        elif ";" in r["author"]:
            notes = "debian/copyright lists two holders without saying who took the photograph"
        out.writerow({"id": r["id"], "split": "test" if r["id"] in test else "train", "source": r["package"],
                      "version": VERSIONS[r["package"]], "path": r["path"],
                      "author": author(r["author"]) if r["package"] != "plasma-workspace-wallpapers"
                      else "KDE Visual Design Group",
                      "license": r["license"], "width": r["width"], "height": r["height"],
                      "sha256": hashlib.sha256(data).hexdigest(), "subject": r["subject"], "notes": notes})
    import skimage
    import skimage.data
    import numpy as np
    for pid, split, name, who, lic, subject in SKIMAGE:
        image = np.asarray(getattr(skimage.data, name)())
        out.writerow({"id": pid, "split": split, "source": "scikit-image", "version": skimage.__version__,
                      "path": f"skimage.data.{name}", "author": who, "license": lic, "width": image.shape[1],
                      "height": image.shape[0], "sha256": hashlib.sha256(image.tobytes()).hexdigest(),
                      "subject": subject, "notes": ""})


if __name__ == "__main__":
    main(*sys.argv[1:])
