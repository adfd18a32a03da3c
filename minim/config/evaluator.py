"""Evaluate the data-only subset of Python that mmcv-style config files use, without exec or eval.

A :class:`ConfigEvaluator` walks a parsed module statement by statement. Module-level
assignments define keys; expressions may use literals, earlier names (of the file or of
its merged ``_base_``), ``_base_.key`` / ``{{_base_.key}}`` references, displays,
comprehensions, operators, f-strings and the whitelists of :mod:`minim.config.allowed`.
Anything else raises :class:`~minim.errors.ConfigError` naming ``file:line`` and the construct.

While evaluating, it records where each file-level variable was placed (see
:mod:`minim.config.provenance`), which lets the loader warn about stale intermediate variables.
"""

from __future__ import annotations

import ast
import copy
import re
from typing import Any, Callable, Iterable

from minim.config import allowed
from minim.config.keys import BASE_KEY, is_key_name
from minim.config.values import dotted, find_non_data
from minim.errors import ConfigError, ConfigKeyError
from minim.suggest import did_you_mean

PLACEHOLDER_NAMES = ("fileDirname", "fileBasename", "fileBasenameNoExtension", "fileExtname")
PLACEHOLDER_PATTERN = re.compile(r"\{\{\s*(" + "|".join(PLACEHOLDER_NAMES) + r")\s*\}\}")
#: Upper bound on comprehension iterations per file.
MAX_STEPS = 2_000_000

#: (path in the config, variable name, path inside that variable)
Record = tuple  # tuple[tuple, str, tuple]

_CONSTRUCTS = {
    "FunctionDef": "function definition (def)", "AsyncFunctionDef": "function definition (async def)",
    "ClassDef": "class definition", "Lambda": "lambda", "If": "if statement", "For": "for loop",
    "AsyncFor": "for loop", "While": "while loop", "With": "with statement", "AsyncWith": "with statement",
    "Try": "try statement", "TryStar": "try statement", "Raise": "raise statement",
    "Assert": "assert statement", "Global": "global statement", "Nonlocal": "nonlocal statement",
    "Return": "return statement", "Break": "break statement", "Continue": "continue statement",
    "Match": "match statement", "NamedExpr": "assignment expression (:=)", "Await": "await expression",
    "Yield": "yield expression", "YieldFrom": "yield expression", "Starred": "starred expression here",
    "TypeAlias": "type alias statement",
}


def _describe_failure(exc: Exception) -> str:
    """A failed whitelisted operation, for an error message (size limits speak for themselves)."""
    return str(exc) if isinstance(exc, allowed.TooLarge) else f"{type(exc).__name__}: {exc}"


def describe_construct(node: ast.AST) -> str:
    """A readable name for an AST node kind, as used in "... is not allowed" errors."""
    name = type(node).__name__
    return _CONSTRUCTS.get(name, f"{name} expression" if isinstance(node, ast.expr) else f"{name} statement")


class Imported:
    """What an ignored ``import`` statement binds: any use of the name is an error."""

    __slots__ = ("module",)

    def __init__(self, module: str):
        self.module = module


def find_base_statement(tree: ast.Module, filename: str) -> ast.Assign | None:
    """The ``_base_ = ...`` statement of a module, or None; assigning it twice is an error."""
    found = [
        stmt for stmt in tree.body
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == BASE_KEY
    ]
    if len(found) > 1:
        raise ConfigError(f"{filename}:{found[1].lineno}: _base_ is assigned twice (first on line {found[0].lineno})",
                          "list every base in one _base_ = [...]")
    return found[0] if found else None


class ConfigEvaluator:
    """Evaluates one config module; see the module docstring for the accepted subset."""

    def __init__(self, filename: str, *, placeholders: dict[str, str] | None = None,
                 base_values: dict | None = None, base_records: Iterable[Record] = ()):
        self.filename = filename
        self.placeholders = placeholders or {}
        self.base_values = base_values
        self.base_records = list(base_records)
        self.names: dict[str, Any] = {}
        self.records: list[Record] = []
        self.lines: dict[tuple, int] = {}
        self._scopes: list[dict[str, Any]] = []
        self._path: tuple = ()
        self._pending: list[Record] = []
        self._steps = 0

    # ------------------------------------------------------------------ results
    def values(self) -> dict[str, Any]:
        """The config keys the module defined, in definition order."""
        return {name: value for name, value in self.names.items()
                if is_key_name(name) and not isinstance(value, Imported)}

    def file_records(self) -> list[Record]:
        """Placement records of this file's keys, without duplicates."""
        return list(dict.fromkeys(r for r in self.records if is_key_name(r[0][0]) and r[0][0] in self.names))

    def error(self, node: ast.AST | None, message: str, hint: str | None = None,
              kind: type[ConfigError] = ConfigError) -> ConfigError:
        line = getattr(node, "lineno", None)
        where = f"{self.filename}:{line}" if line else self.filename
        return kind(f"{where}: {message}", hint)

    # --------------------------------------------------------------- statements
    def run(self, tree: ast.Module, skip: ast.stmt | None = None) -> None:
        """Execute every module-level statement except ``skip`` (the ``_base_`` one)."""
        for stmt in tree.body:
            if stmt is skip:
                continue
            handler = getattr(self, "_stmt_" + type(stmt).__name__, None)
            if handler is None:
                raise self.error(stmt, f"{describe_construct(stmt)} is not allowed in a config",
                                 "configs hold data only: assignments of literals, dicts, lists and expressions")
            try:
                handler(stmt)
            except allowed.TooLarge as exc:
                raise self.error(stmt, str(exc)) from None
            except RecursionError:
                raise self.error(stmt, "this statement is nested too deeply for a config",
                                 "split the expression or the data into named parts") from None

    def _stmt_Assign(self, stmt: ast.Assign) -> None:
        path = self._target_path(stmt.targets[0]) if len(stmt.targets) == 1 else ()
        value, pending = self._evaluate_root(stmt.value, path)
        for target in stmt.targets:
            self._assign(target, value, pending, stmt)

    def _stmt_AnnAssign(self, stmt: ast.AnnAssign) -> None:
        if stmt.value is None:
            return
        value, pending = self._evaluate_root(stmt.value, self._target_path(stmt.target))
        self._assign(stmt.target, value, pending, stmt)

    def _stmt_AugAssign(self, stmt: ast.AugAssign) -> None:
        if isinstance(stmt.target, ast.Name) and stmt.target.id == BASE_KEY:
            raise self.error(stmt, "_base_ may only be assigned once, on its own: _base_ = ['a.py', ...]")
        if not isinstance(stmt.target, (ast.Name, ast.Subscript)):
            raise self.error(stmt, f"augmented assignment to {describe_construct(stmt.target)} is not allowed in a config")
        path = self._target_path(stmt.target)
        load = ast.copy_location(
            ast.Name(stmt.target.id, ast.Load()) if isinstance(stmt.target, ast.Name)
            else ast.Subscript(stmt.target.value, stmt.target.slice, ast.Load()), stmt.target)
        self._pending, self._path = [], path
        try:
            result = self._binary(stmt.op, self.eval(load), self.eval(stmt.value), stmt)
            pending = self._pending
        finally:
            self._pending, self._path = [], ()
        self._assign(stmt.target, result, pending, stmt, replace=False)

    def _stmt_Expr(self, stmt: ast.Expr) -> None:
        if not isinstance(stmt.value, ast.Constant):  # docstrings and bare literals are ignored
            self._evaluate_root(stmt.value, ())

    def _stmt_Pass(self, stmt: ast.Pass) -> None:
        pass

    def _stmt_Import(self, stmt: ast.Import) -> None:
        for alias in stmt.names:
            self.names[alias.asname or alias.name.split(".")[0]] = Imported(alias.name)

    def _stmt_ImportFrom(self, stmt: ast.ImportFrom) -> None:
        for alias in stmt.names:
            if alias.name == "*":
                raise self.error(stmt, "star import (from ... import *) is not allowed in a config")
            self.names[alias.asname or alias.name] = Imported(f"{stmt.module or '.'}.{alias.name}")

    def _stmt_Delete(self, stmt: ast.Delete) -> None:
        for target in stmt.targets:
            if not isinstance(target, ast.Name):
                raise self.error(stmt, f"del of {describe_construct(target)} is not allowed in a config (del names only)")
            if target.id not in self.names:
                raise self.error(stmt, f"cannot del {target.id!r}: it is not defined in this file")
            del self.names[target.id]
            self.records = [r for r in self.records if r[0][0] != target.id]

    def _evaluate_root(self, node: ast.expr, path: tuple) -> tuple[Any, list[Record]]:
        self._pending = []
        try:
            value = self.eval_at(node, path)
            return value, self._pending
        finally:
            self._pending = []

    def _target_path(self, target: ast.expr) -> tuple:
        if isinstance(target, ast.Name):
            return (target.id,)
        if isinstance(target, ast.Subscript):
            ref = self._reference(target)
            if ref is not None and ref[0] == "file":
                return (ref[1],) + ref[2]
        return ()

    def _assign(self, target: ast.expr, value: Any, pending: list[Record], stmt: ast.stmt,
                replace: bool = True) -> None:
        allowed.expanded_size(value)
        if isinstance(target, ast.Name):
            name = target.id
            if name == BASE_KEY:
                raise self.error(stmt, "_base_ may only be assigned once, on its own: _base_ = ['a.py', ...]")
            if is_key_name(name):
                self._check_data(value, (name,), stmt)
            self.names[name] = value
            self.lines[(name,)] = stmt.lineno
            self._commit_records((name,), pending, replace)
        elif isinstance(target, (ast.Tuple, ast.List)):
            self._unpack(target, value, lambda t, v: self._assign(t, v, [], stmt), stmt)
        elif isinstance(target, ast.Subscript):
            self._assign_item(target, value, pending, stmt, replace)
        else:
            raise self.error(stmt, f"assignment to {describe_construct(target)} is not allowed in a config")

    def _assign_item(self, target: ast.Subscript, value: Any, pending: list[Record], stmt: ast.stmt,
                     replace: bool) -> None:
        ref = self._reference(target.value)
        if ref is not None and ref[0] == "base":
            raise self.error(stmt, f"cannot assign into {ref[1]!r}: it is defined in a base config",
                             f"assign {ref[1]} = dict(...) here; it is merged into the base value")
        container = self.eval(target.value)
        key = self.eval(target.slice)
        if not isinstance(container, (dict, list)):
            raise self.error(stmt, f"item assignment into a {type(container).__name__} is not allowed in a config")
        try:
            container[key] = value
        except (IndexError, TypeError) as exc:
            raise self.error(stmt, f"cannot assign item {key!r}: {exc}") from None
        path = self._target_path(target)
        if path and is_key_name(path[0]):
            self._check_data(self.names[path[0]], path[:1], stmt)  # also catches x[0] = x
        if path:
            self._commit_records(path, pending, replace)

    def _commit_records(self, path: tuple, pending: list[Record], replace: bool) -> None:
        if replace:
            self.records = [r for r in self.records if r[0][:len(path)] != path]
        self.records.extend(pending)

    def _unpack(self, target: ast.Tuple | ast.List, value: Any, bind: Callable, node: ast.AST) -> None:
        items = list(self._iterate(value, node))
        elts = target.elts
        starred = [i for i, elt in enumerate(elts) if isinstance(elt, ast.Starred)]
        if len(starred) > 1:
            raise self.error(node, "two starred names in one unpacking")
        if starred:
            i = starred[0]
            after = len(elts) - i - 1
            if len(items) < len(elts) - 1:
                raise self.error(node, f"not enough values to unpack: got {len(items)}, need at least {len(elts) - 1}")
            parts = items[:i] + [items[i:len(items) - after]] + items[len(items) - after:]
            targets = elts[:i] + [elts[i].value] + elts[i + 1:]
        else:
            if len(items) != len(elts):
                raise self.error(node, f"cannot unpack {len(items)} values into {len(elts)} names")
            parts, targets = items, elts
        for sub_target, part in zip(targets, parts):
            bind(sub_target, part)

    def _check_data(self, value: Any, path: tuple, node: ast.AST) -> None:
        found = find_non_data(value, path)
        if found:
            bad_path, description = found
            raise self.error(node, f"the value of {dotted(bad_path)} is {description}")

    # -------------------------------------------------------------- expressions
    def eval_at(self, node: ast.expr, path: tuple) -> Any:
        """Evaluate ``node`` as the value stored at ``path`` of the config (a structural position);
        an empty path (unpacking, chained assignment) means the position is unknown."""
        saved, self._path = self._path, path
        try:
            if not path:
                return self.eval(node)
            ref = self._reference(node)
            if ref is not None:
                value = self._resolve(ref, node)
                self._record(ref, direct=True)
                return value
            if isinstance(node, ast.Dict):
                return self._dict_display(node, path)
            if isinstance(node, (ast.List, ast.Tuple)):
                return self._sequence_display(node, path)
            if isinstance(node, ast.Call) and self._is_dict_call(node):
                return self._dict_call(node, path)
            if isinstance(node, ast.IfExp):
                branch = node.body if bool(self.eval(node.test)) else node.orelse
                return self.eval_at(branch, path)
            return self.eval(node)
        finally:
            self._path = saved

    def eval(self, node: ast.AST) -> Any:
        """Evaluate an expression node (not at a structural position)."""
        handler = getattr(self, "_eval_" + type(node).__name__, None)
        if handler is None:
            raise self.error(node, f"{describe_construct(node)} is not allowed in a config")
        try:
            return handler(node)
        except ConfigError:
            raise
        except RecursionError:
            raise self.error(node, "expression is nested too deeply") from None
        except Exception as exc:  # any failure of a whitelisted operation is the config's fault
            raise self.error(node, _describe_failure(exc)) from None

    def _eval_Constant(self, node: ast.Constant) -> Any:
        value = node.value
        if isinstance(value, str) and "{{" in value:
            value = PLACEHOLDER_PATTERN.sub(lambda m: self.placeholders.get(m.group(1), m.group(0)), value)
        return value

    def _eval_Name(self, node: ast.Name) -> Any:
        for scope in reversed(self._scopes):
            if node.id in scope:
                return scope[node.id]
        ref = self._reference(node)
        if ref is not None:
            value = self._resolve(ref, node)
            self._record(ref, direct=False)
            return value
        if node.id in allowed.BUILTINS:
            return allowed.BUILTINS[node.id]
        if node.id == BASE_KEY:
            raise self.error(node, "_base_ cannot be used on its own", "read a base value with _base_.key or {{_base_.key}}")
        raise self.error(node, f"name {node.id!r} is not defined", did_you_mean(node.id, self._visible_names()))

    def _visible_names(self) -> list[str]:
        names = [n for scope in self._scopes for n in scope] + list(self.names) + list(allowed.BUILTINS)
        return names + list(self.base_values or ())

    def _eval_Attribute(self, node: ast.Attribute) -> Any:
        ref = self._reference(node)
        if ref is not None:
            value = self._resolve(ref, node)
            self._record(ref, direct=False)
            return value
        self._check_attribute_root(node)
        raise self.error(node, f"attribute access '.{node.attr}' is not allowed in a config",
                         "read base values with _base_.key; call whitelisted methods such as .get(), .format(), .upper()")

    def _check_attribute_root(self, node: ast.Attribute) -> None:
        if node.attr.startswith("__"):
            raise self.error(node, f"dunder attribute access '.{node.attr}' is not allowed in a config")
        root = node.value
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and isinstance(self.names.get(root.id), Imported):
            self._imported_error(root)

    def _imported_error(self, node: ast.Name) -> ConfigError:
        module = self.names[node.id].module
        raise self.error(node, f"{node.id!r} comes from an import of {module!r}; imports are ignored in minim configs, "
                               "so it cannot be used", "write the value itself instead")

    def _eval_Subscript(self, node: ast.Subscript) -> Any:
        ref = self._reference(node)
        if ref is not None:
            value = self._resolve(ref, node)
            self._record(ref, direct=False)
            return value
        container = self.eval(node.value)
        return self._item(container, self.eval(node.slice), dotted_expression(node.value), node)

    def _eval_Slice(self, node: ast.Slice) -> slice:
        parts = (node.lower, node.upper, node.step)
        return slice(*(None if part is None else self.eval(part) for part in parts))

    def _eval_Dict(self, node: ast.Dict) -> dict:
        return self._dict_display(node, None)

    def _eval_List(self, node: ast.List) -> list:
        return self._sequence_display(node, None)

    def _eval_Tuple(self, node: ast.Tuple) -> tuple:
        return self._sequence_display(node, None)

    def _eval_Set(self, node: ast.Set) -> Any:
        ref = self._reference(node)
        if ref is not None:
            value = self._resolve(ref, node)
            self._record(ref, direct=False)
            return value
        inner = _double_brace_content(node)
        if inner is not None:
            if isinstance(inner, ast.Name) and inner.id in PLACEHOLDER_NAMES:
                return self.placeholders[inner.id]
            raise self.error(node, "unsupported {{ }} placeholder",
                             "use {{_base_.key}} or one of " + ", ".join("{{%s}}" % n for n in PLACEHOLDER_NAMES))
        result = set()
        for elt in node.elts:
            if isinstance(elt, ast.Starred):
                result.update(self._iterate(self.eval(elt.value), elt))
            else:
                result.add(self.eval(elt))
        return result

    def _eval_UnaryOp(self, node: ast.UnaryOp) -> Any:
        return allowed.UNARY_OPERATORS[type(node.op).__name__](self.eval(node.operand))

    def _eval_BinOp(self, node: ast.BinOp) -> Any:
        return self._binary(node.op, self.eval(node.left), self.eval(node.right), node)

    def _binary(self, op: ast.operator, left: Any, right: Any, node: ast.AST) -> Any:
        function = allowed.BINARY_OPERATORS.get(type(op).__name__)
        if function is None:
            raise self.error(node, f"operator {type(op).__name__} is not allowed in a config")
        try:
            return function(left, right)
        except Exception as exc:
            raise self.error(node, _describe_failure(exc)) from None

    def _eval_BoolOp(self, node: ast.BoolOp) -> Any:
        value = None
        for operand in node.values:
            value = self.eval(operand)
            if bool(value) == isinstance(node.op, ast.Or):
                return value
        return value

    def _eval_Compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.eval(comparator)
            if not allowed.COMPARISONS[type(op).__name__](left, right):
                return False
            left = right
        return True

    def _eval_IfExp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body if bool(self.eval(node.test)) else node.orelse)

    def _eval_JoinedStr(self, node: ast.JoinedStr) -> str:
        return "".join(str(self.eval(part)) for part in node.values)

    def _eval_FormattedValue(self, node: ast.FormattedValue) -> str:
        value = self.eval(node.value)
        if node.conversion == ord("r"):
            value = repr(value)
        elif node.conversion == ord("s"):
            value = str(value)
        elif node.conversion == ord("a"):
            value = ascii(value)
        spec = self.eval(node.format_spec) if node.format_spec is not None else ""
        try:
            allowed.check_format_spec(spec)
            if node.conversion == -1 and spec == "":
                allowed.expanded_size(value)
        except allowed.TooLarge as exc:
            raise self.error(node, str(exc)) from None
        return format(value, spec)

    def _eval_Call(self, node: ast.Call) -> Any:
        func = node.func
        if isinstance(func, ast.Name):
            if self._is_dict_call(node):
                return self._dict_call(node, None)
            function = self._function(func)
        elif isinstance(func, ast.Attribute):
            function = self._method(self.eval(func.value), func)
        else:
            raise self.error(node, "calling a computed function is not allowed in a config")
        args: list[Any] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                args.extend(self._iterate(self.eval(arg.value), arg))
            else:
                args.append(self.eval(arg))
        kwargs: dict[str, Any] = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                kwargs.update(self._mapping(self.eval(keyword.value), keyword.value))
            else:
                kwargs[keyword.arg] = self.eval(keyword.value)
        return function(*args, **kwargs)

    def _function(self, node: ast.Name) -> Callable:
        name = node.id
        defined = any(name in scope for scope in self._scopes) or name in self.names or name in (self.base_values or ())
        if not defined:
            if name in allowed.BUILTINS:
                return allowed.BUILTINS[name]
            raise self.error(node, f"call to {name!r} is not allowed in a config",
                             did_you_mean(name, allowed.BUILTINS) or
                             "allowed functions: " + ", ".join(sorted(allowed.BUILTINS)))
        value = self.eval(node)
        if allowed.is_allowed_function(value):
            return value
        raise self.error(node, f"{name!r} is a config value ({type(value).__name__}), not a function; "
                               f"call to {name!r} is not allowed in a config")

    def _method(self, receiver: Any, node: ast.Attribute) -> Callable:
        name = node.attr
        if name.startswith("_"):
            raise self.error(node, f"dunder attribute access '.{name}' is not allowed in a config")
        method = allowed.bound_method(receiver, name)
        if method is not None:
            return method
        kind = type(receiver).__name__
        if name in allowed.MUTATING_METHODS:
            raise self.error(node, f"method {kind}.{name}() is not allowed in a config: it changes a value in place",
                             "build a new value instead, e.g. a + [x] or dict(d, key=value)")
        choices = allowed.allowed_methods(receiver)
        hint = did_you_mean(name, choices) or (f"allowed {kind} methods: {', '.join(sorted(choices))}" if choices else None)
        raise self.error(node, f"method {kind}.{name}() is not allowed in a config", hint)

    def _eval_ListComp(self, node: ast.ListComp) -> list:
        result: list[Any] = []
        self._comprehension(node, lambda: result.append(self.eval(node.elt)))
        return result

    def _eval_SetComp(self, node: ast.SetComp) -> set:
        result: set[Any] = set()
        self._comprehension(node, lambda: result.add(self.eval(node.elt)))
        return result

    def _eval_GeneratorExp(self, node: ast.GeneratorExp) -> Any:
        result: list[Any] = []
        self._comprehension(node, lambda: result.append(self.eval(node.elt)))
        return iter(result)

    def _eval_DictComp(self, node: ast.DictComp) -> dict:
        result: dict[Any, Any] = {}

        def add() -> None:
            key = self.eval(node.key)
            result[key] = self.eval(node.value)

        self._comprehension(node, add)
        return result

    # ---------------------------------------------------------- building blocks
    def _comprehension(self, node: ast.expr, body: Callable[[], None]) -> None:
        scope: dict[str, Any] = {}
        self._scopes.append(scope)
        try:
            self._loop(node.generators, 0, scope, body, node)
        finally:
            self._scopes.pop()

    def _loop(self, generators: list[ast.comprehension], index: int, scope: dict, body: Callable, node) -> None:
        if index == len(generators):
            body()
            return
        generator = generators[index]
        if generator.is_async:
            raise self.error(node, "async comprehension is not allowed in a config")
        for item in self._iterate(self.eval(generator.iter), generator.iter):
            self._steps += 1
            if self._steps > MAX_STEPS:
                raise self.error(node, f"comprehensions run more than {MAX_STEPS} steps; a config must stay small")
            self._bind_local(generator.target, item, scope, node)
            if all(self.eval(condition) for condition in generator.ifs):
                self._loop(generators, index + 1, scope, body, node)

    def _bind_local(self, target: ast.expr, value: Any, scope: dict, node: ast.AST) -> None:
        if isinstance(target, ast.Name):
            scope[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            self._unpack(target, value, lambda t, v: self._bind_local(t, v, scope, node), node)
        else:
            raise self.error(node, f"comprehension target {describe_construct(target)} is not allowed in a config")

    def _dict_display(self, node: ast.Dict, path: tuple | None) -> dict:
        result: dict[Any, Any] = {}
        for key_node, value_node in zip(node.keys, node.values):
            if key_node is None:
                result.update(self._spread(value_node, path))
            else:
                key = self.eval(key_node)
                result[key] = self._child(value_node, path, key)
        return result

    def _is_dict_call(self, node: ast.Call) -> bool:
        func = node.func
        if not (isinstance(func, ast.Name) and func.id == "dict"):
            return False
        shadowed = any("dict" in scope for scope in self._scopes) or "dict" in self.names
        return not shadowed and "dict" not in (self.base_values or ())

    def _dict_call(self, node: ast.Call, path: tuple | None) -> dict:
        if len(node.args) > 1 or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise self.error(node, "dict() takes at most one positional argument")
        result: dict[Any, Any] = {}
        if node.args:
            result.update(self._spread(node.args[0], path, pairs_allowed=True))
        keywords: set[Any] = set()  # keyword keys may not repeat; they may override the positional mapping
        for keyword in node.keywords:
            if keyword.arg is None:
                items = self._spread(keyword.value, path)
            else:
                items = {keyword.arg: self._child(keyword.value, path, keyword.arg)}
            repeated = keywords.intersection(items)
            if repeated:
                raise self.error(keyword.value, f"dict() got key {sorted(map(str, repeated))[0]!r} twice")
            keywords.update(items)
            result.update(items)
        return result

    def _child(self, node: ast.expr, path: tuple | None, key: Any) -> Any:
        if path is None:
            return self.eval(node)
        child_path = path + (key,)
        self.lines[child_path] = node.lineno
        return self.eval_at(node, child_path)

    def _spread(self, node: ast.expr, path: tuple | None, pairs_allowed: bool = False) -> dict:
        """The items of ``**node`` (or of dict(node)), recording per-key placements."""
        ref = self._reference(node)
        if ref is None:
            value = self.eval(node)
        else:
            value = self._resolve(ref, node)
        if pairs_allowed and not isinstance(value, dict):
            try:
                return dict(value)
            except (TypeError, ValueError) as exc:
                raise self.error(node, f"dict() needs a mapping or key/value pairs: {exc}") from None
        mapping = self._mapping(value, node)
        if ref is not None:
            if path is None:
                self._record(ref, direct=False)
            else:
                source, var, sub = ref
                for key in mapping:
                    saved, self._path = self._path, path + (key,)
                    self._record((source, var, sub + (key,)), direct=True)
                    self._path = saved
        return mapping

    def _sequence_display(self, node: ast.List | ast.Tuple, path: tuple | None) -> list | tuple:
        items: list[Any] = []
        for elt in node.elts:
            if isinstance(elt, ast.Starred):
                items.extend(self._iterate(self.eval(elt.value), elt))
            elif path is None:
                items.append(self.eval(elt))
            else:
                items.append(self.eval_at(elt, path + (len(items),)))
        return tuple(items) if isinstance(node, ast.Tuple) else items

    def _mapping(self, value: Any, node: ast.AST) -> dict:
        if not isinstance(value, dict):
            raise self.error(node, f"** needs a dict, got {type(value).__name__}")
        return value

    def _iterate(self, value: Any, node: ast.AST) -> Iterable:
        if isinstance(value, (int, float, bool, type(None))) or callable(value):
            raise self.error(node, f"cannot iterate over {type(value).__name__}")
        return iter(value)

    def _item(self, container: Any, key: Any, spelled: str, node: ast.AST) -> Any:
        if isinstance(container, dict):
            if key not in container:
                raise self.error(node, f"key {key!r} not found in {spelled}",
                                 did_you_mean(str(key), [str(k) for k in container]))
            return container[key]
        if isinstance(container, (list, tuple, str, bytes, range)):
            if isinstance(key, int) and not -len(container) <= key < len(container):
                raise self.error(node, f"index {key} is out of range for {spelled} (length {len(container)})")
            return container[key]
        raise self.error(node, f"{spelled} is a {type(container).__name__} and cannot be indexed")

    # --------------------------------------------------------------- references
    def _reference(self, node: ast.expr) -> tuple[str, str, tuple] | None:
        """``('file'|'base', variable, keys)`` when ``node`` reads a variable (or a constant-key part
        of it): ``name``, ``name['k'][0]``, ``_base_.a.b`` or ``{{_base_.a.b}}``; else None."""
        keys: list[Any] = []
        while isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and type(node.slice.value) in (str, int):
            keys.append(node.slice.value)
            node = node.value
        keys.reverse()
        chain = self._base_chain(node)
        if chain is not None:
            return "base", chain[0], tuple(chain[1:]) + tuple(keys)
        if isinstance(node, ast.Name) and not any(node.id in scope for scope in self._scopes):
            if node.id in self.names:
                return "file", node.id, tuple(keys)
            if self.base_values is not None and node.id in self.base_values:
                return "base", node.id, tuple(keys)
        return None

    @staticmethod
    def _base_chain(node: ast.expr) -> list[str] | None:
        inner = _double_brace_content(node)
        if inner is not None:
            node = inner
        attrs: list[str] = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if attrs and isinstance(node, ast.Name) and node.id == BASE_KEY:
            return attrs[::-1]
        return None

    def _resolve(self, ref: tuple[str, str, tuple], node: ast.AST) -> Any:
        source, var, keys = ref
        if source == "file":
            value = self.names[var]
            if isinstance(value, Imported):
                root = node
                while not isinstance(root, ast.Name):
                    root = root.value
                self._imported_error(root)
            spelled = var
        else:
            spelled = f"_base_.{var}"
            if self.base_values is None:
                raise self.error(node, f"{spelled} is used but this config has no _base_",
                                 "add _base_ = ['path/to/base.py'] at the top")
            if var not in self.base_values:
                raise self.error(node, f"key {var!r} is not defined in the base configs",
                                 did_you_mean(var, self.base_values), kind=ConfigKeyError)
            value = self.base_values[var]
        for key in keys:
            value = self._item(value, key, spelled, node)
            spelled += f".{key}" if source == "base" and isinstance(key, str) and key.isidentifier() else f"[{key!r}]"
        return copy.deepcopy(value) if source == "base" else value

    def _record(self, ref: tuple[str, str, tuple], direct: bool) -> None:
        """Note that the value at the current path was built from ``ref`` (see provenance)."""
        source, var, keys = ref
        path = self._path
        if not path or not is_key_name(var):
            return
        self._pending.append((path, var, keys))
        prefix = (var,) + keys
        for rpath, rvar, rkeys in (self.records if source == "file" else self.base_records):
            if rpath[:len(prefix)] == prefix:
                self._pending.append((path + rpath[len(prefix):] if direct else path, rvar, rkeys))


def _double_brace_content(node: ast.expr) -> ast.expr | None:
    """The ``x`` of a ``{{x}}`` placeholder (parsed as a set holding a set), or None."""
    if isinstance(node, ast.Set) and len(node.elts) == 1:
        inner = node.elts[0]
        if isinstance(inner, ast.Set) and len(inner.elts) == 1:
            return inner.elts[0]
    return None


def dotted_expression(node: ast.expr) -> str:
    """Source-like text of an expression, for messages."""
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every parsed node
        return "value"
