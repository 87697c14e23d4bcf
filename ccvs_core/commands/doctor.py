"""``ccvs doctor``: what this installation is made of, what it can run on, and what to fix."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sys

from rich.markup import escape
from rich.table import Table

from ccvs_core import __version__
from ccvs_core.console import out

NAME = "doctor"
DESCRIPTION = """\
Report what this installation of ccvs is made of and what to fix when something is off: the versions
of Python, torch and the other dependencies; torch's build (CUDA or CPU-only) and the devices it sees;
the attention backends; the installed conditions and the packages they come from; the model that ships
inside ccvs-core, its conditions and its recorded quality. Problems are listed last, each with its
fix; the exit status is 1 when there is one, 0 otherwise.
"""
# the packages ccvs-core needs, then those only some parts need (the plugin that needs each)
REQUIRED = ("torch", "einops", "attrs", "safetensors", "rich", "numpy", "pillow", "av")
OPTIONAL = {
    "torchaudio": "ccvs-plugin-audio",
    "pycocotools": "ccvs-plugin-layout",
    "xformers": "CUDA attention",
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="check the installation: versions, devices, conditions, the shipped model",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ccvs_core.conditions import list_conditions

    problems: list[tuple[str, str]] = []  # (what is wrong, how to fix it)
    entries = list_conditions()
    out.print(_versions(problems))
    out.print(_devices())
    out.print(_conditions(entries, problems))
    out.print(_shipped_model({entry.name for entry in entries if entry.ok}, problems))
    if problems:
        out.print(f"[bold red]{len(problems)} problem{'s' if len(problems) > 1 else ''}[/]")
        for what, fix in problems:  # whole lines, not table cells: they are meant to be copied
            out.print(f"- {escape(what)}\n  fix: {escape(fix)}", soft_wrap=True)
        return 1
    out.print("no problem found")
    return 0


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _release(version: str) -> list[str]:
    """ "2.9.1+cu128" -> ["2", "9"]."""
    return version.split("+")[0].split(".")[:2]


def _versions(problems: list) -> Table:
    table = Table(title=f"ccvs-core {__version__}", title_justify="left")
    table.add_column("package")
    table.add_column("version")
    table.add_column("note")
    table.add_row("python", platform.python_version(), escape(sys.executable))
    for package in REQUIRED:
        version = _version(package)
        if version is None:
            problems.append((f"{package} is not installed", f"pip install {package}"))
        table.add_row(package, version or "[red]missing[/]", "")
    torch_version = _version("torch")
    for package, needed_by in OPTIONAL.items():
        version = _version(package)
        note = f"for {needed_by}"
        # PyPI's torchaudio loads only against the torch release it was built for
        if (
            package == "torchaudio"
            and version
            and torch_version
            and _release(version) != _release(torch_version)
        ):
            note = f"[red]built for another torch than {torch_version}[/]"
            problems.append((
                f"torchaudio {version} does not match torch {torch_version}",
                f"pip install torchaudio=={torch_version.split('+')[0]}",
            ))  # fmt: skip
        table.add_row(package, version or "-", note)
    return table


def _devices() -> Table:
    import torch

    from ccvs_core.models.attention import resolve_backend, xformers_available

    table = Table(title="torch and devices", title_justify="left")
    table.add_column("what")
    table.add_column("value")
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only"
    table.add_row("torch build", f"{torch.__version__} ({build})")
    capability = torch.backends.cpu.get_cpu_capability()
    table.add_row("CPU", f"{os.cpu_count()} cores, {torch.get_num_threads()} threads, {capability}")
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            table.add_row(
                f"cuda:{index}",
                f"{props.name}, {props.total_memory / 2**30:.0f} GiB, compute capability "
                f"{props.major}.{props.minor}",
            )
    else:
        table.add_row("CUDA", "no device (training and generation run on the CPU)")
    attention = {kind: resolve_backend("auto", torch.device(kind)) for kind in ("cpu", "cuda")}
    xformers = "installed" if xformers_available() else "not installed"
    table.add_row("attention", f"cpu: {attention['cpu']}, cuda: {attention['cuda']} (xformers {xformers})")
    return table


def _conditions(entries: list, problems: list) -> Table:
    table = Table(title="conditions", title_justify="left")
    for column in ("name", "package", "version", "status"):
        table.add_column(column)
    for entry in entries:
        if not entry.ok:
            problems.append((
                f"condition '{entry.name}' ({entry.package}) did not load: {entry.error}",
                f"reinstall or update {entry.package}, or uninstall it",
            ))  # fmt: skip
        status = "[green]ok[/]" if entry.ok else f"[red]{escape(entry.error or '')}[/]"
        table.add_row(entry.name, entry.package, entry.version, status)
    if not entries:
        table.caption = "none installed: pip install ccvs-plugin-<name>"
    return table


def _shipped_model(loaded: set[str], problems: list) -> Table:
    """``loaded``: the names of the conditions that loaded."""
    from ccvs_core.shipped import DEFAULT_MODEL

    table = Table(title="the shipped model (ccvs generate without --model)", title_justify="left")
    table.add_column("what")
    table.add_column("value")
    config_path = DEFAULT_MODEL / "config.json"
    if not config_path.is_file():
        problems.append((
            f"this installation has no shipped model ({DEFAULT_MODEL})",
            "reinstall ccvs-core, or build it: python benchmarks/default_model.py --work W --ship",
        ))  # fmt: skip
        table.add_row("folder", f"[red]missing: {escape(str(DEFAULT_MODEL))}[/]")
        return table
    config = json.loads(config_path.read_text())
    table.add_row("folder", escape(str(DEFAULT_MODEL)))
    table.add_row("frames", f"{config['frame_size'][0]} x {config['frame_size'][1]} at {config['fps']} fps")
    for name in config.get("conditions", {}):
        if name not in loaded:
            problems.append((
                f"the shipped model's condition '{name}' is not installed",
                f"pip install ccvs-plugin-{name} (or -e plugins/ccvs-plugin-{name} from a clone)",
            ))  # fmt: skip
    about = config.get("about", {})
    guidance = about.get("guidance", {})
    best = guidance.get("best_weight", {})
    rows = []
    for name in config.get("conditions", {}):
        weight = best.get(name)
        entry = guidance.get("test", {}).get(f"{float(weight)}", {}).get(name) if weight else None
        installed = "installed" if name in loaded else "[red]not installed[/]"
        if entry is not None:
            rows.append(f"{name} {entry['fraction']:.2f} at W = {weight:g} ({installed})")
        else:
            rows.append(f"{name} ({installed})")
    table.add_row("conditions, control fraction", "; ".join(rows))
    table.caption = (
        "control fraction: how far a condition moves its own measure from none given toward the real "
        "tokens' (1 = all the way), on the toyworld test videos, at its best guidance weight W"
    )
    if "total_minutes" in about:
        table.add_row(
            "trained in", f"{about['total_minutes']:.0f} min on 2 CPU cores ({about.get('recipe', '')})"
        )
    return table
