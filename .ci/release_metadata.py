"""What every released package must declare: shared by .ci/check_dists.py (the built files) and
.ci/check_first_run.py (the installed wheels)."""

PACKAGES = ["ccvs-core", *(f"ccvs-plugin-{p}" for p in ("audio", "class", "endframe", "layout", "state"))]
FIELDS = (
    "Summary",
    "Requires-Python",
    "License-Expression",
    "License-File",
    "Classifier",
    "Author",
    "Requires-Dist",
)
