"""Selections on a catalog: lazy, recorded, and safe to take from a user's string.

:func:`select` evaluates condition strings such as ``"parallax_over_error > 5"``,
``"abs(b) > 10"`` or ``"(feh > -0.4) & (snr_g > 20)"`` on the catalog's dask arrays and ANDs
them into the boolean variable ``selected`` (:data:`cubes.conventions.SELECTED`). No row is
dropped (that would force a compute); binning reads ``selected``. The conditions are appended
to ``attrs["selections"]`` so every cube can say how its stars were chosen.

Expressions are parsed with :mod:`ast` and evaluated by walking the tree; nothing is passed to
``eval``. Allowed:

- names of catalog variables (and ``X_over_error``, derived as ``X / X_error`` when the
  catalog has ``X`` and ``X_error`` but no ``X_over_error``);
- numbers, ``True``/``False``, and string literals compared with ``==``/``!=`` to a string
  column (e.g. ``telescope == 'apo25m'``);
- arithmetic ``+ - * / **`` and unary ``-``/``+``;
- comparisons ``< <= > >= == !=``, chained (``0 < parallax < 2``);
- element-wise logic ``&``, ``|``, ``~`` and the words ``and``, ``or``, ``not`` (``&``/``|``/``~``
  on integer columns are bitwise, for flag masks: ``(flags & 4) == 0``);
- the functions in :data:`FUNCTIONS` (``abs``, ``sqrt``, ``log10``, ``log``, ``exp``, ``sin``,
  ``cos``, ``tan``, ``arcsin``, ``arccos``, ``arctan``, ``arctan2``, ``deg2rad``, ``rad2deg``,
  ``hypot``, ``isfinite``).

Missing values: a comparison involving NaN is *unknown*, and unknown propagates through
``~``/``not``, ``&``/``and``, ``|``/``or`` as in SQL (three-valued Kleene logic: unknown & False
is False, unknown | True is True, otherwise unknown). A star whose condition is unknown is not
selected; a NaN is never an error. ``isfinite(x)`` is always known, so
``~isfinite(radial_velocity)`` selects the stars without a radial velocity.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from cubes.conventions import SELECTED, STAR_DIM
from cubes.schemas import UnknownColumnError

__all__ = ["ALLOWED", "FUNCTIONS", "apply_selection", "evaluate", "select"]

#: Functions a condition may call: name → (numpy function, number of arguments).
FUNCTIONS: dict[str, tuple[Callable, int]] = {
    "abs": (np.abs, 1),
    "sqrt": (np.sqrt, 1),
    "log10": (np.log10, 1),
    "log": (np.log, 1),
    "exp": (np.exp, 1),
    "sin": (np.sin, 1),
    "cos": (np.cos, 1),
    "tan": (np.tan, 1),
    "arcsin": (np.arcsin, 1),
    "arccos": (np.arccos, 1),
    "arctan": (np.arctan, 1),
    "arctan2": (np.arctan2, 2),
    "deg2rad": (np.deg2rad, 1),
    "rad2deg": (np.rad2deg, 1),
    "hypot": (np.hypot, 2),
    "isfinite": (np.isfinite, 1),
}

ALLOWED = (
    "catalog variable names, numbers, True/False, string literals compared with == or != to a "
    "string column, + - * / ** and unary -, comparisons < <= > >= == != (chained allowed), "
    "& | ~ and/or/not (element-wise), parentheses, and the functions "
    + ", ".join(FUNCTIONS)
)


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------


def select(stars: xr.Dataset, *conditions: str) -> xr.Dataset:
    """Mark the stars that pass every condition, lazily.

    Parameters
    ----------
    stars : xr.Dataset
        A catalog with dim ``"star"`` (see :func:`cubes.open_catalog`).
    *conditions : str
        Expressions over the catalog's variables, e.g. ``"parallax_over_error > 5"``,
        ``"abs(b) > 10"``, ``"(feh > -0.4) & (snr_g > 20)"``; values are in the variables'
        own units (degrees, mas, dex ...). See the module docstring for the grammar.

    Returns
    -------
    xr.Dataset
        A new Dataset with the same stars (none dropped) and a boolean dask variable
        ``selected`` = AND of the conditions and of any ``selected`` already present; a star for
        which a condition is unknown (NaN inputs) is not selected. ``attrs["selections"]`` is a
        new list: the previous selections followed by ``conditions``. Nothing is computed and
        ``stars`` is not modified.

    Raises
    ------
    UnknownColumnError
        (a KeyError and ValueError) for a name that is not a catalog variable; the message
        lists the variables.
    ValueError
        For syntax that is not allowed (attribute access, calls of other functions, lambdas,
        subscripts ...) or a condition that is not a boolean per-star expression.
    """
    if STAR_DIM not in stars.dims:
        raise ValueError(f"select needs a catalog with a {STAR_DIM!r} dim; got dims "
                         f"{tuple(stars.dims)!r}")
    combined = None
    for condition in conditions:
        if not isinstance(condition, str):
            raise TypeError(f"a selection condition must be a str; got {condition!r}")
        mask = evaluate(stars, condition)
        combined = mask if combined is None else combined & mask
    return restrict(stars, combined, conditions)


def restrict(stars: xr.Dataset, mask: xr.DataArray | None,
             descriptions: Sequence[str] = ()) -> xr.Dataset:
    """AND a boolean per-star ``mask`` into the catalog's ``selected`` variable, lazily.

    The selection mechanism behind :func:`select` and the per-bin selections
    (:func:`cubes.clipping.clip_per_bin`, :mod:`cubes.spiral.samples`): no star is dropped;
    ``descriptions`` are appended to ``attrs["selections"]`` (none for an intermediate step
    that a caller records itself). ``mask=None`` keeps the current selection (all stars when
    there is none).
    """
    selected = stars[SELECTED] if SELECTED in stars.data_vars else None
    if mask is not None:
        selected = mask if selected is None else selected & mask
    if selected is None:  # no condition: everything selected
        selected = xr.ones_like(_any_star_variable(stars), dtype=bool)
    selected = _as_dask(selected.astype(bool), stars)
    selections = [*stars.attrs.get("selections", []), *descriptions]
    selected.attrs = {
        "long_name": " & ".join(f"({c})" for c in selections) if selections else "all stars",
    }
    out = stars.assign({SELECTED: selected.variable})
    out.attrs = {**stars.attrs, "selections": selections}
    return out


def apply_selection(stars: xr.Dataset) -> xr.Dataset:
    """Keep only the selected stars (this one computes the ``selected`` mask).

    Parameters
    ----------
    stars : xr.Dataset
        A catalog on which :func:`select` was called.

    Returns
    -------
    xr.Dataset
        The selected rows (other variables stay lazy, with known chunk sizes), without the
        ``selected`` variable; ``attrs["selections"]`` is kept.
    """
    if SELECTED not in stars.data_vars:
        raise ValueError(
            f"the catalog has no {SELECTED!r} variable; call cubes.select(stars, ...) first"
        )
    mask = np.asarray(stars[SELECTED].values, dtype=bool)
    out = stars.drop_vars(SELECTED).isel({STAR_DIM: np.flatnonzero(mask)})
    out.attrs = {**stars.attrs, "selections": list(stars.attrs.get("selections", []))}
    return out


def evaluate(stars: xr.Dataset, condition: str) -> xr.DataArray:
    """One condition as a lazy boolean DataArray along ``"star"`` (unknown → False)."""
    try:
        tree = ast.parse(condition.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(
            f"cannot parse selection {condition!r}: {exc.msg}; allowed: {ALLOWED}"
        ) from None
    result = _Evaluator(stars, condition).visit(tree.body)
    if not isinstance(result, _Bool):
        raise ValueError(
            f"selection {condition!r} is not a condition (a comparison or a boolean "
            "expression such as 'ruwe < 1.4')"
        )
    mask = result.true
    if not isinstance(mask, xr.DataArray) or STAR_DIM not in mask.dims:
        raise ValueError(
            f"selection {condition!r} does not depend on any per-star catalog variable"
        )
    if mask.dims != (STAR_DIM,):
        raise ValueError(
            f"selection {condition!r} has dims {mask.dims!r}; a condition must be one value "
            f"per star (dims ({STAR_DIM!r},))"
        )
    return mask


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _any_star_variable(stars: xr.Dataset) -> xr.DataArray:
    for v in stars.data_vars.values():
        if v.dims == (STAR_DIM,):
            return v
    raise ValueError(f"the catalog has no variable along {STAR_DIM!r}")


def _as_dask(mask: xr.DataArray, stars: xr.Dataset) -> xr.DataArray:
    """``mask`` as a dask array, chunked like the catalog."""
    if mask.chunks is not None:
        return mask
    chunks = next((v.chunks[0] for v in stars.data_vars.values()
                   if v.dims == (STAR_DIM,) and v.chunks is not None), -1)
    return mask.chunk({STAR_DIM: chunks})


@dataclass(frozen=True)
class _Num:
    """A numeric (or string) value; NaN marks unknown."""

    value: Any


@dataclass(frozen=True)
class _Bool:
    """A three-valued boolean: ``true`` (only where known) and ``known``."""

    true: Any
    known: Any


@dataclass(frozen=True)
class _Str:
    """A string literal (only for == / != against a string column)."""

    value: str


def _dtype(value) -> np.dtype:
    return value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype


def _known(value):
    """Where a numeric value is not NaN (numpy True for non-float values)."""
    if _dtype(value).kind in "fc":
        return ~np.isnan(value)
    return np.True_


def _is_text(value) -> bool:
    return _dtype(value).kind in "USO"


def _and(a: _Bool, b: _Bool) -> _Bool:
    return _Bool(a.true & b.true,
                 (a.known & b.known) | (a.known & ~a.true) | (b.known & ~b.true))


def _or(a: _Bool, b: _Bool) -> _Bool:
    return _Bool(a.true | b.true, (a.known & b.known) | a.true | b.true)


def _not(a: _Bool) -> _Bool:
    return _Bool(a.known & ~a.true, a.known)


_COMPARE = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
    ast.Eq: np.equal, ast.NotEq: np.not_equal,
}
_ARITHMETIC = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
    ast.Pow: np.power,
}
_SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
           ast.NotEq: "!=", ast.BitAnd: "&", ast.BitOr: "|"}


class _Evaluator:
    """Walks a parsed condition; every node type not handled here is refused."""

    def __init__(self, stars: xr.Dataset, condition: str):
        self.stars = stars
        self.condition = condition

    # -- dispatch ---------------------------------------------------------------------------

    def visit(self, node: ast.AST):
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            self.refuse(f"{_describe(node)} is not allowed")
        return method(node)

    def refuse(self, what: str):
        raise ValueError(f"selection {self.condition!r}: {what}; allowed: {ALLOWED}")

    # -- leaves -----------------------------------------------------------------------------

    def visit_Constant(self, node: ast.Constant):
        value = node.value
        if isinstance(value, bool):
            return _Bool(np.bool_(value), np.True_)
        if isinstance(value, int | float):
            return _Num(value)
        if isinstance(value, str):
            return _Str(value)
        self.refuse(f"the constant {value!r} is not allowed")

    def visit_Name(self, node: ast.Name):
        name = node.id
        if name.startswith("__"):
            self.refuse(f"the name {name!r} is not allowed")
        if name in self.stars.variables:
            value = self.stars[name]
        elif name.endswith("_over_error") and self._derivable(name):
            base = name[: -len("_over_error")]
            value = self.stars[base] / self.stars[f"{base}_error"]
        else:
            names = sorted(str(k) for k in self.stars.data_vars)
            raise UnknownColumnError(
                f"selection {self.condition!r}: {name!r} is not a catalog variable; available "
                f"variables are {names!r} (and X_over_error for any X with X_error)"
            )
        if value.dtype == bool:
            return _Bool(value, np.True_)
        return _Num(value)

    def _derivable(self, name: str) -> bool:
        base = name[: -len("_over_error")]
        return base in self.stars.variables and f"{base}_error" in self.stars.variables

    # -- operators --------------------------------------------------------------------------

    def number(self, node: ast.AST):
        """Visit ``node`` as a numeric operand (booleans become 0/1, unknown NaN)."""
        value = self.visit(node)
        if isinstance(value, _Num):
            if _is_text(value.value):
                self.refuse(f"the string column in {_source(self.condition, node)!r} "
                            "can only be compared with == or != to a string")
            return value.value
        if isinstance(value, _Bool):
            if value.known is np.True_:
                return value.true * 1
            return xr.where(value.known, value.true * 1.0, np.nan)
        self.refuse(f"the string {value.value!r} can only be compared with == or != to a "
                    "string column")

    def boolean(self, node: ast.AST) -> _Bool:
        """Visit ``node`` as a truth value (numbers: nonzero; NaN unknown)."""
        value = self.visit(node)
        if isinstance(value, _Bool):
            return value
        if isinstance(value, _Str) or _is_text(value.value):
            self.refuse(f"{_source(self.condition, node)!r} is a string, not a condition")
        known = _known(value.value)
        return _Bool((value.value != 0) & known, known)

    def visit_UnaryOp(self, node: ast.UnaryOp):
        op = type(node.op)
        if op is ast.Not:
            return _not(self.boolean(node.operand))
        if op is ast.Invert:
            value = self.visit(node.operand)
            if isinstance(value, _Bool):
                return _not(value)
            if isinstance(value, _Num) and _dtype(value.value).kind in "iu":
                return _Num(~value.value)
            self.refuse("~ applies to conditions (or integer flag columns); "
                        f"got {_source(self.condition, node.operand)!r}")
        value = self.number(node.operand)
        return _Num(-value if op is ast.USub else +value)

    def visit_BinOp(self, node: ast.BinOp):
        op = type(node.op)
        if op in _ARITHMETIC:
            left, right = self.number(node.left), self.number(node.right)
            return _Num(_ARITHMETIC[op](left, right))
        if op in (ast.BitAnd, ast.BitOr):
            return self.logical(node, op)
        self.refuse(f"the operator {type(node.op).__name__} is not allowed")

    def logical(self, node: ast.BinOp, op) -> _Bool | _Num:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(left, _Bool) and isinstance(right, _Bool):
            return _and(left, right) if op is ast.BitAnd else _or(left, right)
        ints = all(isinstance(v, _Num) and _dtype(v.value).kind in "iu" for v in (left, right))
        if ints:  # bitwise on integer flags
            fn = np.bitwise_and if op is ast.BitAnd else np.bitwise_or
            return _Num(fn(left.value, right.value))
        self.refuse(
            f"{_SYMBOL[op]!r} combines conditions (or integer flags); in "
            f"{_source(self.condition, node)!r} an operand is neither — note that & and | bind "
            "tighter than comparisons, so write '(feh > -0.4) & (snr_g > 20)'"
        )

    def visit_BoolOp(self, node: ast.BoolOp) -> _Bool:
        combine = _and if isinstance(node.op, ast.And) else _or
        result = self.boolean(node.values[0])
        for value in node.values[1:]:
            result = combine(result, self.boolean(value))
        return result

    def visit_Compare(self, node: ast.Compare) -> _Bool:
        operands = [node.left, *node.comparators]
        values = [self.visit(o) for o in operands]
        result: _Bool | None = None
        for i, op in enumerate(node.ops):
            if type(op) not in _COMPARE:
                self.refuse(f"the comparison {type(op).__name__} is not allowed")
            pair = self.compare(type(op), values[i], values[i + 1], operands[i],
                                operands[i + 1])
            result = pair if result is None else _and(result, pair)
        return result

    def compare(self, op, a, b, node_a, node_b) -> _Bool:
        texts = [isinstance(v, _Str) or (isinstance(v, _Num) and _is_text(v.value))
                 for v in (a, b)]
        if any(texts):
            if not all(texts) or op not in (ast.Eq, ast.NotEq):
                self.refuse(f"strings can only be compared with == or != to strings; got "
                            f"{_source(self.condition, node_a)!r} {_SYMBOL[op]} "
                            f"{_source(self.condition, node_b)!r}")
            va, vb = (v.value for v in (a, b))
            return _Bool(_COMPARE[op](va, vb), np.True_)
        va = self.as_number(a, node_a)
        vb = self.as_number(b, node_b)
        known = _known(va) & _known(vb)
        return _Bool(_COMPARE[op](va, vb) & known, known)

    def as_number(self, value, node):
        if isinstance(value, _Num):
            return value.value
        if value.known is np.True_:
            return value.true * 1
        return xr.where(value.known, value.true * 1.0, np.nan)

    def visit_Call(self, node: ast.Call):
        func = node.func
        if not isinstance(func, ast.Name):
            self.refuse(f"calling {_source(self.condition, func)!r} is not allowed")
        if func.id not in FUNCTIONS:
            self.refuse(f"the function {func.id!r} is not allowed")
        fn, arity = FUNCTIONS[func.id]
        if node.keywords or len(node.args) != arity or any(
                isinstance(a, ast.Starred) for a in node.args):
            self.refuse(f"{func.id}() takes {arity} positional argument(s)")
        args = [self.number(a) for a in node.args]
        with np.errstate(all="ignore"):
            value = fn(*args)
        if func.id == "isfinite":
            return _Bool(value, np.True_)
        return _Num(value)


def _source(condition: str, node: ast.AST) -> str:
    return ast.get_source_segment(condition.strip(), node) or ast.dump(node)


def _describe(node: ast.AST) -> str:
    names = {
        "Attribute": "attribute access (x.y)", "Subscript": "indexing (x[...])",
        "Lambda": "lambda", "IfExp": "a conditional expression (a if c else b)",
        "ListComp": "a comprehension", "GeneratorExp": "a generator",
        "DictComp": "a comprehension", "SetComp": "a comprehension", "List": "a list",
        "Tuple": "a tuple", "Dict": "a dict", "Set": "a set", "JoinedStr": "an f-string",
        "NamedExpr": "assignment (:=)", "Await": "await", "Starred": "*args",
        "Slice": "a slice",
    }
    return names.get(type(node).__name__, f"the syntax {type(node).__name__}")
