"""What every recipe does the same way: the catalog it reads, where it writes, its tables.

A recipe reads a survey file in its archive's column layout (``--catalog PATH --survey NAME``)
or, by default, a mock with known truth; writes its cubes (Zarr), figures (PNG) and a table of
headline numbers (CSV and Markdown) to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

import cubes


def parser(name: str, description: str, *, n_default: int) -> argparse.ArgumentParser:
    """The arguments every recipe takes."""
    p = argparse.ArgumentParser(prog=f"cubes recipe {name}", description=description)
    p.add_argument("--catalog", help="survey file or URL (default: the recipe's mock)")
    p.add_argument("--survey", default="gaia_dr3",
                   help="schema of --catalog (gaia_dr3, lamost, apogee_dr17)")
    p.add_argument("--n", type=int, default=n_default, help="stars in the default mock")
    p.add_argument("--seed", type=int, default=1, help="seed of the default mock")
    p.add_argument("--out", default=f"cubes-{name}", help="output directory")
    p.add_argument("--no-progress", action="store_true")
    return p


def catalog(path: str | None, survey: str, mock: Callable[[], xr.Dataset]) -> xr.Dataset:
    """The survey file at ``path`` (lazily), or the recipe's mock when ``path`` is None."""
    return mock() if path is None else cubes.open_catalog(path, survey=survey)


def need(stars: xr.Dataset, columns: Sequence[str], what: str) -> None:
    """A clear error when the catalog lacks a column a step needs."""
    missing = [c for c in columns if c not in stars.variables]
    if missing:
        raise KeyError(f"{what} needs columns {missing!r}; the catalog has "
                       f"{sorted(map(str, stars.data_vars))!r}")


class Table:
    """Rows of (quantity, value, error, units, note), written as CSV and Markdown."""

    def __init__(self, title: str):
        self.title = title
        self.rows: list[dict] = []

    def add(self, quantity: str, value, error=None, units: str = "", note: str = "") -> None:
        self.rows.append({"quantity": quantity, "value": _num(value),
                          "error": _num(error), "units": units, "note": note})

    def write(self, out: Path, stem: str) -> tuple[Path, Path]:
        csv_path, md_path = out / f"{stem}.csv", out / f"{stem}.md"
        with csv_path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(self.rows[0]) if self.rows else ["quantity"])
            w.writeheader()
            w.writerows(self.rows)
        lines = [f"# {self.title}", "", "| quantity | value | error | units | note |",
                 "| --- | ---: | ---: | --- | --- |"]
        def cell(text) -> str:  # a "|" inside a cell would end it
            return str(text).replace("|", "\\|")

        for r in self.rows:
            lines.append(f"| {cell(r['quantity'])} | {_fmt(r['value'])} | {_fmt(r['error'])} "
                         f"| {cell(r['units'])} | {cell(r['note'])} |")
        md_path.write_text("\n".join(lines) + "\n")
        return csv_path, md_path


def _num(x):
    if x is None:
        return None
    x = float(np.asarray(x))
    return None if math.isnan(x) else x


def _fmt(x) -> str:
    if x is None:
        return "—"
    if float(x).is_integer():  # counts (and exact integers) without decimals
        return f"{int(x):,}"
    return f"{x:.3g}" if abs(x) < 1e-2 or abs(x) >= 1e4 else f"{x:.3f}"


def save_figures(figures: dict, out: Path, prefix: str, *, dpi: int = 110) -> list[Path]:
    """Write each figure as ``out/<prefix>_<stem>.png`` and close it (figures hold memory)."""
    import matplotlib.pyplot as plt

    paths = []
    for stem, fig in figures.items():
        path = out / f"{prefix}_{stem}.png"
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        paths.append(path)
    return paths


def add_cut_flow(table: Table, flow: dict) -> None:
    """One table row per selection stage: the stars left after it."""
    for stage, count in flow.items():
        table.add(f"stars: {stage}", count)


class Clock:
    """Wall time since the recipe started, for its summary."""

    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0
