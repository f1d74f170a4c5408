"""A safe arithmetic expression language for user claims and command-line values.

A claim's ``predict`` (``theory.claims``) and the CLI's ``--p`` values are *parsed, never
evaluated as Python*: the text is parsed by :func:`ast.parse` in ``eval`` mode and every
node is checked against a whitelist before anything is computed. Allowed:

* numbers (``int``/``float`` literals; ``True``/``False``/complex are rejected);
* ``+ - * / **``, unary ``-`` and ``+``, parentheses;
* the names the caller allows (e.g. ``p``, ``L``, ``dense``) and the constant ``pi``;
* calls of ``sqrt exp log sin cos acos asin atan erf abs min max`` with positional
  arguments only.

Everything else — attribute access, subscripts, lambdas, comprehensions, strings,
comparisons, keyword arguments, starred arguments, any other name or call (``__import__``,
``eval``, ``open``) — raises :class:`ExpressionError` naming the offending token. A
validated expression is then turned into

* a sympy expression (:meth:`Expression.to_sympy`), for the symbolic comparisons of
  ``limit`` claims, or
* numbers by walking the tree (:meth:`Expression.evaluate`): vectorised float64 numpy, or
  ``mpmath`` at a chosen precision. Division by zero and non-finite results raise
  :class:`ExpressionError` instead of producing ``inf``/``nan``.

No ``eval``/``exec``/``compile`` of user text happens anywhere: the only Python the text
reaches is :func:`ast.parse`, which builds a tree and runs nothing.
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import mpmath
import numpy as np
import sympy
from scipy import special as _sp

FUNCTIONS = ("sqrt", "exp", "log", "sin", "cos", "acos", "asin", "atan", "erf", "abs",
             "min", "max")
CONSTANTS = ("pi",)
MAX_LENGTH = 2000


class ExpressionError(ValueError):
    """A rejected or failing expression; the message names where (``context``) and what."""


def _where(context: str) -> str:
    return f"{context}: " if context else ""


def _token(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node parse can make
        return type(node).__name__


_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY = {ast.USub: "-", ast.UAdd: "+"}
_FORBIDDEN_NAMES = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension", ast.Compare: "comparison", ast.BoolOp: "boolean operator",
    ast.IfExp: "conditional expression", ast.List: "list", ast.Tuple: "tuple", ast.Dict: "dict",
    ast.Set: "set", ast.Starred: "starred argument", ast.JoinedStr: "f-string",
    ast.NamedExpr: "assignment expression", ast.Await: "await", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.Slice: "slice",
}


def _validate(node: ast.AST, names: frozenset, context: str) -> set:
    """Check ``node`` against the whitelist; return the names it uses."""
    used: set = set()

    def bad(n: ast.AST, what: str) -> ExpressionError:
        return ExpressionError(f"{_where(context)}{what} {_token(n)!r} is not allowed "
                               f"(only numbers, + - * / **, parentheses, the names "
                               f"{', '.join(sorted(names | set(CONSTANTS)))} and the functions "
                               f"{', '.join(FUNCTIONS)})")

    def walk(n: ast.AST) -> None:
        if isinstance(n, ast.Constant):
            v = n.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise bad(n, "the constant")
            if (isinstance(v, float) and not math.isfinite(v)) or \
                    (isinstance(v, int) and v.bit_length() > 1000):
                raise bad(n, "the non-finite or huge number")
            return
        if isinstance(n, ast.BinOp):
            if type(n.op) not in _BINOPS:
                raise bad(n, f"the operator {type(n.op).__name__}")
            walk(n.left)
            walk(n.right)
            return
        if isinstance(n, ast.UnaryOp):
            if type(n.op) not in _UNARY:
                raise bad(n, f"the operator {type(n.op).__name__}")
            walk(n.operand)
            return
        if isinstance(n, ast.Name):
            if n.id in names or n.id in CONSTANTS:
                used.add(n.id)
                return
            if n.id in FUNCTIONS:
                raise ExpressionError(f"{_where(context)}the function {n.id!r} must be called, "
                                      f"e.g. {n.id}(x)")
            raise ExpressionError(f"{_where(context)}unknown name {n.id!r} (allowed names: "
                                  f"{', '.join(sorted(names | set(CONSTANTS)))}; functions: "
                                  f"{', '.join(FUNCTIONS)})")
        if isinstance(n, ast.Call):
            if not isinstance(n.func, ast.Name):
                raise bad(n.func, "the call target")
            if n.func.id not in FUNCTIONS:
                raise ExpressionError(f"{_where(context)}call of {n.func.id!r} is not allowed "
                                      f"(allowed functions: {', '.join(FUNCTIONS)})")
            if n.keywords:
                raise ExpressionError(f"{_where(context)}keyword argument "
                                      f"{_token(n.keywords[0])!r} in {n.func.id}(...) is not "
                                      f"allowed")
            for a in n.args:
                if isinstance(a, ast.Starred):
                    raise bad(a, "the starred argument")
            want = (1, None) if n.func.id in ("min", "max") else (1, 1)
            if len(n.args) < want[0] or (want[1] is not None and len(n.args) > want[1]):
                raise ExpressionError(f"{_where(context)}{n.func.id}() takes "
                                      f"{'at least one argument' if want[1] is None else 'one argument'}, "
                                      f"got {len(n.args)} in {_token(n)!r}")
            for a in n.args:
                walk(a)
            return
        what = _FORBIDDEN_NAMES.get(type(n), f"the construct {type(n).__name__}")
        raise bad(n, what)

    walk(node)
    return used


@dataclass(frozen=True)
class Expression:
    """A validated expression (see the module docstring). Build with
    :func:`parse_expression`."""
    text: str
    tree: ast.Expression = field(repr=False, compare=False)
    names: frozenset          # the names that were allowed
    used: frozenset           # the allowed names that actually occur (incl. ``pi``)
    context: str = ""

    def uses(self, name: str) -> bool:
        return name in self.used

    # ---------------------------------------------------------------- sympy
    def to_sympy(self, symbols: Mapping[str, Any] | None = None) -> sympy.Expr:
        """A sympy expression; each name maps to ``symbols[name]`` (default: a real sympy
        Symbol of that name). Decimal literals become exact rationals of their decimal
        text (``0.1`` → ``1/10``)."""
        symbols = dict(symbols or {})
        fn = {"sqrt": sympy.sqrt, "exp": sympy.exp, "log": sympy.log, "sin": sympy.sin,
              "cos": sympy.cos, "acos": sympy.acos, "asin": sympy.asin, "atan": sympy.atan,
              "erf": sympy.erf, "abs": sympy.Abs, "min": sympy.Min, "max": sympy.Max}

        def conv(n: ast.AST) -> Any:
            if isinstance(n, ast.Constant):
                return sympy.Integer(n.value) if isinstance(n.value, int) else \
                    sympy.Rational(repr(n.value))
            if isinstance(n, ast.BinOp):
                a, b = conv(n.left), conv(n.right)
                op = type(n.op)
                if op is ast.Add:
                    return a + b
                if op is ast.Sub:
                    return a - b
                if op is ast.Mult:
                    return a * b
                if op is ast.Div:
                    if b == 0:
                        raise ExpressionError(f"{_where(self.context)}division by zero in "
                                              f"{_token(n)!r}")
                    return a / b
                if b.is_Number and abs(b) > 10000:
                    # sympy would expand e.g. 9**9**9 exactly: refuse instead of hanging
                    raise ExpressionError(f"{_where(self.context)}exponent too large in "
                                          f"{_token(n)!r}")
                return a ** b
            if isinstance(n, ast.UnaryOp):
                v = conv(n.operand)
                return -v if isinstance(n.op, ast.USub) else v
            if isinstance(n, ast.Name):
                if n.id == "pi":
                    return sympy.pi
                return symbols[n.id] if n.id in symbols else sympy.Symbol(n.id, real=True)
            if isinstance(n, ast.Call):
                return fn[n.func.id](*[conv(a) for a in n.args])
            raise ExpressionError(f"{_where(self.context)}cannot convert {_token(n)!r}")  # pragma: no cover

        return conv(self.tree.body)

    # ---------------------------------------------------------------- numbers
    def evaluate(self, env: Mapping[str, Any], *, backend: str = "numpy", dps: int = 50) -> Any:
        """Numbers for the expression. ``env`` maps every used name (except ``pi``) to a
        number or array (broadcast together). ``backend="numpy"``: float64 arrays;
        ``"mpmath"``: ``mpf`` scalars or numpy object arrays of ``mpf`` at ``dps`` digits.
        Raises :class:`ExpressionError` on a missing name, a division by zero, or a
        non-finite / complex result."""
        missing = sorted(self.used - {"pi"} - set(env))
        if missing:
            raise ExpressionError(f"{_where(self.context)}no value for {', '.join(missing)}")
        if backend == "numpy":
            return self._eval_numpy(env)
        if backend == "mpmath":
            with mpmath.workdps(dps):
                return self._eval_mpmath(env)
        raise ValueError(f"backend must be 'numpy' or 'mpmath', got {backend!r}")

    def _fail(self, n: ast.AST, what: str) -> ExpressionError:
        return ExpressionError(f"{_where(self.context)}{what} in {_token(n)!r} "
                               f"(expression {self.text!r})")

    def _eval_numpy(self, env: Mapping[str, Any]) -> Any:
        fn = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos,
              "acos": np.arccos, "asin": np.arcsin, "atan": np.arctan, "erf": _sp.erf,
              "abs": np.abs}

        def ev(n: ast.AST) -> Any:
            if isinstance(n, ast.Constant):
                return np.float64(n.value)
            if isinstance(n, ast.Name):
                return np.float64(np.pi) if n.id == "pi" else np.asarray(env[n.id], dtype=np.float64)
            if isinstance(n, ast.UnaryOp):
                v = ev(n.operand)
                return -v if isinstance(n.op, ast.USub) else v
            with np.errstate(all="ignore"):
                if isinstance(n, ast.BinOp):
                    a, b = ev(n.left), ev(n.right)
                    op = type(n.op)
                    if op is ast.Div:
                        if np.any(np.asarray(b) == 0):
                            raise self._fail(n, "division by zero")
                        out = a / b
                    elif op is ast.Pow:
                        if np.any((np.asarray(a) == 0) & (np.asarray(b) < 0)):
                            raise self._fail(n, "division by zero (0 to a negative power)")
                        out = np.power(a, b)
                    else:
                        out = a + b if op is ast.Add else a - b if op is ast.Sub else a * b
                else:  # ast.Call (validated)
                    args = [ev(a) for a in n.args]
                    name = n.func.id
                    if name == "min":
                        out = args[0] if len(args) == 1 else np.minimum.reduce(np.broadcast_arrays(*args))
                    elif name == "max":
                        out = args[0] if len(args) == 1 else np.maximum.reduce(np.broadcast_arrays(*args))
                    else:
                        if name == "log" and np.any(np.asarray(args[0]) == 0):
                            raise self._fail(n, "log of zero")
                        out = fn[name](args[0])
            if not np.all(np.isfinite(out)):
                raise self._fail(n, "non-finite value (nan or inf; outside the domain?)")
            return out

        return np.asarray(ev(self.tree.body), dtype=np.float64)

    def _eval_mpmath(self, env: Mapping[str, Any]) -> Any:
        vals = {k: np.asarray(v, dtype=object) for k, v in env.items() if k in self.used}
        shape = np.broadcast_shapes(*(v.shape for v in vals.values())) if vals else ()
        flat = {k: np.broadcast_to(v, shape).ravel() for k, v in vals.items()}
        size = int(np.prod(shape)) if shape else 1
        out = np.empty(size, dtype=object)
        for i in range(size):
            out[i] = self._eval_mp_scalar({k: v[i] for k, v in flat.items()})
        return out[0] if shape == () else out.reshape(shape)

    def _eval_mp_scalar(self, env: Mapping[str, Any]) -> Any:
        fn = {"sqrt": mpmath.sqrt, "exp": mpmath.exp, "log": mpmath.log, "sin": mpmath.sin,
              "cos": mpmath.cos, "acos": mpmath.acos, "asin": mpmath.asin, "atan": mpmath.atan,
              "erf": mpmath.erf, "abs": abs}

        def ev(n: ast.AST) -> Any:
            if isinstance(n, ast.Constant):
                # decimal literals at full precision (0.1 means 1/10, not the float)
                return mpmath.mpf(n.value) if isinstance(n.value, int) else mpmath.mpf(repr(n.value))
            if isinstance(n, ast.Name):
                return +mpmath.pi if n.id == "pi" else mpmath.mpf(env[n.id])
            if isinstance(n, ast.UnaryOp):
                v = ev(n.operand)
                return -v if isinstance(n.op, ast.USub) else v
            if isinstance(n, ast.BinOp):
                a, b = ev(n.left), ev(n.right)
                op = type(n.op)
                if op is ast.Div:
                    if b == 0:
                        raise self._fail(n, "division by zero")
                    out = a / b
                elif op is ast.Pow:
                    if a == 0 and b < 0:
                        raise self._fail(n, "division by zero (0 to a negative power)")
                    out = mpmath.power(a, b)
                else:
                    out = a + b if op is ast.Add else a - b if op is ast.Sub else a * b
            else:
                args = [ev(a) for a in n.args]
                name = n.func.id
                if name == "min":
                    out = min(args)
                elif name == "max":
                    out = max(args)
                else:
                    if name == "log" and args[0] == 0:
                        raise self._fail(n, "log of zero")
                    out = fn[name](args[0])
            if isinstance(out, mpmath.mpc) or not mpmath.isfinite(out):
                raise self._fail(n, "non-finite or complex value (outside the domain?)")
            return out

        return ev(self.tree.body)


def parse_expression(text: Any, names: Iterable[str] = (), *, context: str = "") -> Expression:
    """Parse and validate ``text`` (see the module docstring). ``names``: the variable
    names allowed besides ``pi``; ``context`` prefixes every error message (e.g.
    ``"claim 'x', key 'predict'"``). Raises :class:`ExpressionError` (a ``ValueError``)."""
    if not isinstance(text, str):
        raise ExpressionError(f"{_where(context)}expected a string expression, got "
                              f"{type(text).__name__}")
    src = text.strip()
    if not src:
        raise ExpressionError(f"{_where(context)}empty expression")
    if len(src) > MAX_LENGTH:
        raise ExpressionError(f"{_where(context)}expression longer than {MAX_LENGTH} characters")
    names = frozenset(names)
    for n in names:
        if not n.isidentifier():
            raise ValueError(f"names: {n!r} is not an identifier")
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as e:
        where = f" at column {e.offset}" if e.offset else ""
        raise ExpressionError(f"{_where(context)}syntax error{where} in {src!r}: {e.msg}") from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise ExpressionError(f"{_where(context)}cannot parse {src!r}: {e}") from None
    try:
        used = _validate(tree.body, names, context)
    except RecursionError:
        raise ExpressionError(f"{_where(context)}expression nested too deeply") from None
    return Expression(src, tree, names, frozenset(used), context)


def parse_number(text: Any, *, context: str = "") -> float:
    """One constant expression (``0.5``, ``1/3``, ``pi/8``, ``sqrt(2)/2``) → float. No
    names other than ``pi``."""
    e = parse_expression(text, (), context=context)
    return float(e.evaluate({}))


def parse_number_list(text: Any, *, context: str = "") -> list[float]:
    """Comma-separated constant expressions (``"0.5"``, ``"0.1, 0.2, 1/3"``) → floats, each
    parsed by :func:`parse_expression` with no names but ``pi`` (for command-line values
    such as ``--p``)."""
    if not isinstance(text, str):
        raise ExpressionError(f"{_where(context)}expected text, got {type(text).__name__}")
    parts = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in parts):
        raise ExpressionError(f"{_where(context)}expected comma-separated numbers, got {text!r}")
    return [parse_number(t, context=context) for t in parts]
