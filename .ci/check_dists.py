"""CI: every package has a wheel and an sdist in DIR (made by .ci/build-dists), with the same complete
metadata, and the sdist holds what the wheel is built from (its LICENSE; ccvs-core's shipped model).

    python .ci/check_dists.py DIR
"""

import sys
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

from release_metadata import FIELDS, PACKAGES


def fields(text: str) -> dict[str, list[str]]:
    headers = HeaderParser().parsestr(text)
    return {k: headers.get_all(k) or [] for k in ("Name", "Version", *FIELDS)}


folder = Path(sys.argv[1])
for name in (p.replace("-", "_") for p in PACKAGES):
    (wheel,) = folder.glob(f"{name}-*.whl")
    (sdist,) = folder.glob(f"{name}-*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
        (meta_file,) = [f for f in files if f.endswith(".dist-info/METADATA")]
        wheel_meta = fields(archive.read(meta_file).decode())
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
        root = members[0].split("/")[0]
        sdist_meta = fields(archive.extractfile(f"{root}/PKG-INFO").read().decode())
    missing = [k for k, v in wheel_meta.items() if not v]
    assert not missing, f"{wheel.name}: its metadata lacks {missing}"
    assert wheel_meta == sdist_meta, f"{name}: the wheel's and the sdist's metadata differ"
    assert f"{root}/LICENSE" in members and any(f.endswith("/licenses/LICENSE") for f in files), (
        f"{name}: no LICENSE"
    )
    if name == "ccvs_core":
        for shipped in ("default_model/model.safetensors", "default_model/config.json", "samples/drums.wav"):
            assert f"{root}/ccvs_core/{shipped}" in members, f"{sdist.name} lacks ccvs_core/{shipped}"
            assert f"ccvs_core/{shipped}" in files, f"{wheel.name} lacks ccvs_core/{shipped}"
    print(f"ci: {wheel.name} and {sdist.name}: metadata complete, {', '.join(wheel_meta['Requires-Dist'])}")
