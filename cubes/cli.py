"""The ``cubes`` command line: ``cubes demo``, ``cubes build``, ``cubes info``, ``cubes recipe``."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

RECIPES = ("demo", "lin2023_ns_dispersion", "hawkins2023_chemical_cartography",
           "long2025_vertical_gradient", "wang2025_ns_metallicity",
           "widmark2025_phase_spiral_maps", "lin2023_intruder_simulation")


def _axis(text: str):
    """``NAME=START:STOP:STEP`` (regular), ``NAME=sym:HALF:STEP`` or ``NAME=e1,e2,...``."""
    from . import axes

    name, _, spec = text.partition("=")
    if not name or not spec:
        raise argparse.ArgumentTypeError(f"axis {text!r}: expected NAME=START:STOP:STEP, "
                                         "NAME=sym:HALF_WIDTH:STEP or NAME=E1,E2,...")
    try:
        if spec.startswith("sym:"):
            half, step = map(float, spec[4:].split(":"))
            return name, axes.symmetric(half, step)
        if ":" in spec:
            start, stop, step = map(float, spec.split(":"))
            return name, axes.regular(start, stop, step)
        return name, axes.edges([float(e) for e in spec.split(",")])
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"axis {text!r}: {err}") from None


def _build(args) -> int:
    import os

    import cubes

    if os.path.exists(args.out) and not args.overwrite:  # say so before the pass, not after
        print(f"cubes build: {args.out!r} exists; pass --overwrite to replace it",
              file=sys.stderr)
        return 2
    stars = cubes.open_catalog(args.catalog, survey=args.survey)
    if args.select:
        stars = cubes.select(stars, *args.select)
    cube = cubes.bin_catalog(stars, dict(args.axis), args.value, errors=args.errors or None,
                             replicates=args.replicates, progress=not args.no_progress)
    path = cubes.write_cube(cube, args.out, overwrite=args.overwrite)
    print(f"wrote {path}: {dict(cube.sizes)}; stars read {cube.attrs['stars_read']:,}, used "
          f"{cube.attrs['stars_used']:,}, outside {cube.attrs['stars_outside']:,}, invalid "
          f"{cube.attrs['stars_invalid']:,}, deselected {cube.attrs['stars_deselected']:,}")
    return 0


def _info(args) -> int:
    import cubes

    cube = cubes.open_cube(args.store)
    print(cube)
    keys = ("stars_read", "stars_used", "stars_outside", "stars_invalid", "stars_deselected",
            "selections", "source", "replicates")
    print(json.dumps({k: cube.attrs.get(k) for k in keys}, indent=1))
    return 0


def _recipe(name: str, argv: list[str]) -> int:
    if name not in RECIPES:
        print(f"unknown recipe {name!r}; available: {', '.join(RECIPES)}", file=sys.stderr)
        return 2
    return importlib.import_module(f"cubes_recipes.{name}").main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="cubes", description="Stellar catalogs → moment cubes.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="build, store and analyse a cube of the built-in mock",
                   add_help=False)
    r = sub.add_parser("recipe", help="run a paper's recipe", add_help=False)
    r.add_argument("name")
    b = sub.add_parser("build", help="bin a catalog into a cube stored in Zarr")
    b.add_argument("catalog", help="path or URL (Parquet, FITS, CSV, HDF5)")
    b.add_argument("--survey", default=None, help="gaia_dr3, lamost, apogee_dr17")
    b.add_argument("--axis", type=_axis, action="append", required=True,
                   help="NAME=START:STOP:STEP | NAME=sym:HALF:STEP | NAME=E1,E2,...")
    b.add_argument("--value", action="append", default=[], help="value column (repeatable)")
    b.add_argument("--errors", action="store_true", help="accumulate <value>_error squared")
    b.add_argument("--select", action="append", default=[], help='e.g. "parallax_over_error > 5"')
    b.add_argument("--replicates", type=int, default=16,
                   help="jackknife groups (default 16; 0: none)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("--out", required=True)
    b.add_argument("--overwrite", action="store_true")
    i = sub.add_parser("info", help="describe a cube store (lazily)")
    i.add_argument("store")
    if argv[:1] == ["demo"]:
        return _recipe("demo", argv[1:])
    if argv[:1] == ["recipe"] and len(argv) > 1:
        return _recipe(argv[1], argv[2:])
    args = p.parse_args(argv)
    return {"build": _build, "info": _info}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
