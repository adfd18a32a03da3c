"""The safe Python subset of .py configs: every accepted construct, and every refused one."""

from __future__ import annotations

import math

import pytest

from config_support import load, load_error


def test_literals_and_arithmetic(tmp_path):
    cfg = load(tmp_path, """
        '''A docstring is ignored.'''
        a = 1
        b = -2.5e-3
        c = 'text'
        d = None
        e = True
        f = b'raw'
        g = (1,)
        h = {1, 2}
        i = 7 // 2, 7 % 3, 2 ** 10, -a, +a, ~a, not a, 1 / 4, 3 << 2, 5 & 3, 5 | 3, 5 ^ 3, 256 >> 4
        j = 1 < 2 <= 2 != 3, 1 in [1], 1 not in [1], None is None, a is not None
        k = 0 or 'fallback', 1 and 2, [] and 3
        m = 'yes' if a > 0 else 'no'
        n = [1, 2] + [3] * 2
        o = 'ab' * 2
        p = 256 * 256 // 224
        q = float('inf'), -float('inf')
    """)
    assert cfg.a == 1 and cfg.b == -2.5e-3 and cfg.c == "text" and cfg.d is None and cfg.e is True
    assert cfg.f == b"raw" and cfg.g == (1,) and cfg.h == {1, 2}
    assert cfg.i == (3, 1, 1024, -1, 1, -2, False, 0.25, 12, 1, 7, 6, 16)
    assert cfg.j == (True, True, False, True, True)
    assert cfg.k == ("fallback", 2, [])
    assert cfg.m == "yes" and cfg.n == [1, 2, 3, 3] and cfg.o == "abab" and cfg.p == 292
    assert cfg.q == (math.inf, -math.inf)


def test_names_subscripts_slices_and_dict_forms(tmp_path):
    cfg = load(tmp_path, """
        img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
        pad_val = [round(x) for x in img_norm_cfg['mean'][::-1]]
        first_two = img_norm_cfg['mean'][:2]
        normalize = dict(type='Normalize', **img_norm_cfg)
        literal = {'type': 'Normalize', **img_norm_cfg, 'to_rgb': False}
        copied = dict(img_norm_cfg, to_rgb=False)
        from_pairs = dict([('a', 1), ('b', 2)])
        nested = dict(a=dict(b=[dict(c=1)]))
        deep = nested['a']['b'][0]['c']
    """)
    assert cfg.pad_val == [104, 116, 124]
    assert cfg.first_two == [123.675, 116.28]
    assert cfg.normalize == {"type": "Normalize", "mean": [123.675, 116.28, 103.53],
                             "std": [58.395, 57.12, 57.375], "to_rgb": True}
    assert cfg.literal["to_rgb"] is False and list(cfg.literal)[0] == "type"
    assert cfg.copied["to_rgb"] is False and cfg.img_norm_cfg["to_rgb"] is True
    assert cfg.from_pairs == {"a": 1, "b": 2}
    assert cfg.deep == 1


def test_strings_fstrings_and_methods(tmp_path):
    cfg = load(tmp_path, """
        arch = 'tiny'
        size = 224
        name = f'swin-{arch}_{size:05d}_{arch!r}_{size / 3:.2f}'
        formatted = 'backbone.layers.{}'.format(3)
        mapped = '{a}-{b[0]}'.format_map(dict(a=1, b=[2]))
        upper = arch.upper()
        joined = '_'.join(['a', 'b'])
        split = 'a,b,c'.split(',')
        replaced = 'resnet50'.replace('50', '101')
        percent = '%s-%d' % ('x', 3)
        stripped = '  x  '.strip().startswith('x')
        d = dict(a=1, b=2)
        got = d.get('c', 3)
        keys = list(d.keys())
        values = sorted(d.values(), reverse=True)
        items = [f'{k}={v}' for k, v in d.items()]
        clone = d.copy()
        counted = [1, 1, 2].count(1), (1, 2).index(2)
        union = sorted({1}.union({2}))
    """)
    assert cfg.name == "swin-tiny_00224_'tiny'_74.67"
    assert cfg.formatted == "backbone.layers.3" and cfg.mapped == "1-2"
    assert cfg.upper == "TINY" and cfg.joined == "a_b" and cfg.split == ["a", "b", "c"]
    assert cfg.replaced == "resnet101" and cfg.percent == "x-3" and cfg.stripped is True
    assert cfg.got == 3 and cfg["keys"] == ["a", "b"] and cfg["values"] == [2, 1]
    assert cfg["items"] == ["a=1", "b=2"] and cfg.clone == {"a": 1, "b": 2}
    assert cfg.counted == (2, 1) and cfg.union == [1, 2]


def test_comprehensions_and_builtins(tmp_path):
    cfg = load(tmp_path, """
        layers = ['backbone.layers.{}'.format(i) for i in range(3)]
        squares = {i: i * i for i in range(3) if i}
        evens = {i for i in range(6) if i % 2 == 0}
        total = sum(i for i in range(5))
        pairs = [(a, b) for a in range(2) for b in 'xy']
        nested = [[j for j in range(i)] for i in range(3)]
        x = 'outer'
        shadow = [x for x in range(2)]
        after = x
        misc = (abs(-2), len('abc'), min(3, 1), max([1, 5]), int('7'), float('1.5'), str(3), bool(0),
                any([0, 1]), all([1, 0]), list(reversed([1, 2])), tuple(sorted({3, 1})), set([1]),
                list(zip('ab', [1, 2])), list(enumerate('ab', start=1)), round(2.567, 2), list(range(1, 7, 2)),
                sorted(['b', 'A'], key=str), max(*[4, 2]))
    """)
    assert cfg.layers == ["backbone.layers.0", "backbone.layers.1", "backbone.layers.2"]
    assert cfg.squares == {1: 1, 2: 4} and cfg.evens == {0, 2, 4} and cfg.total == 10
    assert cfg.pairs == [(0, "x"), (0, "y"), (1, "x"), (1, "y")]
    assert cfg.nested == [[], [0], [0, 1]]
    assert cfg.shadow == [0, 1] and cfg.after == "outer"
    assert cfg.misc == (2, 3, 1, 5, 7, 1.5, "3", False, True, False, [2, 1], (1, 3), {1},
                        [("a", 1), ("b", 2)], [(1, "a"), (2, "b")], 2.57, [1, 3, 5], ["A", "b"], 4)


def test_assignment_forms_define_keys(tmp_path):
    cfg = load(tmp_path, """
        import os
        import os.path as osp
        from collections import OrderedDict
        a, (b, c) = 1, [2, 3]
        first, *rest = [1, 2, 3]
        x = y = 5
        counter = 1
        counter += 2
        items = [1]
        items += [2]
        table = dict(k=1)
        table['k'] = 2
        table['new'] = [0, 0]
        table['new'][1] = 9
        annotated: int = 4
        __private = 'not a key'
        uses_private = __private.upper()
        temporary = 1
        del temporary
        pass
    """)
    assert dict(cfg) == {"a": 1, "b": 2, "c": 3, "first": 1, "rest": [2, 3], "x": 5, "y": 5, "counter": 3,
                         "items": [1, 2], "table": {"k": 2, "new": [0, 9]}, "annotated": 4,
                         "uses_private": "NOT A KEY"}


@pytest.mark.parametrize("source, line, construct", [
    ("def f():\n    return 1\n", 1, "function definition (def)"),
    ("class A:\n    pass\n", 1, "class definition"),
    ("x = 1\nf = lambda: 1\n", 2, "lambda"),
    ("if True:\n    x = 1\n", 1, "if statement"),
    ("for i in range(3):\n    pass\n", 1, "for loop"),
    ("while False:\n    pass\n", 1, "while loop"),
    ("with open('x') as f:\n    pass\n", 1, "with statement"),
    ("try:\n    x = 1\nexcept Exception:\n    pass\n", 1, "try statement"),
    ("assert True\n", 1, "assert statement"),
    ("x = 1\nraise ValueError()\n", 2, "raise statement"),
    ("x = [y := 1]\n", 1, "assignment expression (:=)"),
    ("x = open('/etc/passwd')\n", 1, "call to 'open'"),
    ("x = print(1)\n", 1, "call to 'print'"),
    ("x = eval('1')\n", 1, "call to 'eval'"),
    ("x = __import__('os')\n", 1, "call to '__import__'"),
    ("x = getattr(1, 'real')\n", 1, "call to 'getattr'"),
    ("import os\nx = os.path.join('a', 'b')\n", 2, "'os' comes from an import"),
    ("from os import path\nx = path\n", 2, "'path' comes from an import"),
    ("from os import *\n", 1, "star import"),
    ("x = 'a'.__class__\n", 1, "dunder attribute access '.__class__'"),
    ("x = 'a'.__class__.__mro__\n", 1, "dunder attribute access"),
    ("x = (1).real\n", 1, "attribute access '.real'"),
    ("x = 'a'.encode()\n", 1, "method str.encode()"),
    ("x = [1]\nx.append(2)\n", 2, "method list.append() is not allowed in a config: it changes a value in place"),
    ("x = dict()\ny = x.update(a=1)\n", 2, "method dict.update()"),
    ("x = {'a': 1}\ny = x.__getitem__('a')\n", 2, "dunder attribute access"),
    ("x = '{0.__class__}'.format(1)\n", 1, "attribute access in format field"),
    ("x = 2 ** 10 ** 8\n", 1, "too large"),
    ("x = list(range(10 ** 9))\n", 1, "too large"),
    ("x = 'a' * 10 ** 9\n", 1, "too large"),
    ("x = 1\ny = x(2)\n", 2, "'x' is a config value (int), not a function"),
    ("x = [len][0](1)\n", 1, "calling a computed function"),
    ("x = range(3)\n", 1, "the value of x is a range object (wrap it in list(...))"),
    ("x = len\n", 1, "the value of x is a function (len)"),
    ("x = dict(a=(i for i in range(3)))\n", 1, "the value of x.a is an iterator"),
    ("x = 1 / 0\n", 1, "ZeroDivisionError"),
    ("x = dict(a=1, **dict(a=2))\n", 1, "dict() got key 'a' twice"),
    ("x = [1, 2]\ny = x[5]\n", 2, "index 5 is out of range for x (length 2)"),
    ("x = dict(lr=1)\ny = x['lrr']\n", 2, "key 'lrr' not found in x"),
    ("x = [0]\nx[0] = x\n", 2, "contains itself"),
    ("x = ...\n", 1, "the value of x is a ellipsis object"),
    ("_base_ = []\n_base_ += ['a.py']\n", 2, "_base_ may only be assigned once"),
    ("_base_ = 'a.py'\n_base_ = 'b.py'\n", 2, "_base_ is assigned twice"),
    ("x = _base_\n", 1, "_base_ cannot be used on its own"),
    ("x = {{y}}\n", 1, "unsupported {{ }} placeholder"),
    ("x = 1\nx.y = 2\n", 2, "assignment to Attribute expression"),
    ("x = 1\ndel x.y\n", 2, "del of Attribute expression"),
])
def test_refused_constructs_name_file_line_and_construct(tmp_path, source, line, construct):
    error = load_error(tmp_path, source)
    assert f"cfg.py:{line}: " in error.message
    assert construct in str(error)


def test_undefined_name_suggests_close_names(tmp_path):
    error = load_error(tmp_path, "num_classes = 10\nhead = dict(num_classes=num_clases)\n")
    assert "cfg.py:2: name 'num_clases' is not defined" in error.message
    assert "num_classes" in error.hint


def test_unknown_function_lists_allowed_ones(tmp_path):
    error = load_error(tmp_path, "x = rnd(1.5)\n")
    assert "call to 'rnd' is not allowed in a config" in error.message
    assert "round" in error.hint


def test_syntax_error_names_the_user_file_and_line(tmp_path):
    error = load_error(tmp_path, "a = 1\nb = dict(x=1,\nc = 3 3\n")
    assert "cfg.py:" in error.message and "invalid Python syntax" in error.message
    assert error.message.split("cfg.py:")[1].split(":")[0] in {"2", "3"}


def test_imports_are_ignored_not_executed(tmp_path):
    cfg = load(tmp_path, "import this_module_does_not_exist\nx = 1\n")
    assert dict(cfg) == {"x": 1}


def test_shadowing_dict_turns_it_into_a_value(tmp_path):
    error = load_error(tmp_path, "dict = 3\nx = dict(a=1)\n")
    assert "'dict' is a config value (int), not a function" in error.message
