"""mmcls 0.25's ``AutoAugment`` and ``RandAugment``: random policies of the ops in :mod:`.augment_ops`.

Both take mmcls's policy lists as configs give them (op dicts by type name) and draw exactly what mmcls
draws: the policy choices and RandAugment's magnitude noise from Python's ``random``, the ops' own
draws from numpy's global generator. Seeded alike (minim seeds both per sample), they pick the same
ops, magnitudes and signs as mmcls and give its pixels.

``hparams`` (default ``dict(pad_val=128)``) fill each op's arguments of the same name that the
policy leaves unset (or None), as mmcls does: configs use it for ``pad_val`` and ``interpolation``.
``AutoAugment(policies='imagenet')`` (a minim name) is mmcls's ``policy_imagenet``.
"""

from __future__ import annotations

import copy
import inspect
import random
from numbers import Number
from typing import Any, Mapping, Sequence

from minim.errors import BuildError
from minim.cls.datasets.pipelines.compose import Compose, Transform
from minim.cls.datasets.registry import PIPELINES

DEFAULT_HPARAMS = {"pad_val": 128}


#: mmcls's ``policy_imagenet`` (``configs/_base_/datasets/pipelines/auto_aug.py``) as (type, prob, args)
#: pairs. Magnitudes are AutoAugment's levels out of 9 (rotation up to 30 degrees, solarize threshold
#: 256, colour 0.9, shear 0.3), written as mmcls computes them so that the floats are equal.
_IMAGENET_POLICY = (
    (("Posterize", 0.4, dict(bits=4)), ("Rotate", 0.6, dict(angle=30.0))),
    (("Solarize", 0.6, dict(thr=256 / 9 * 4)), ("AutoContrast", 0.6, {})),
    (("Equalize", 0.8, {}), ("Equalize", 0.6, {})),
    (("Posterize", 0.6, dict(bits=5)), ("Posterize", 0.6, dict(bits=5))),
    (("Equalize", 0.4, {}), ("Solarize", 0.2, dict(thr=256 / 9 * 5))),
    (("Equalize", 0.4, {}), ("Rotate", 0.8, dict(angle=30 / 9 * 8))),
    (("Solarize", 0.6, dict(thr=256 / 9 * 6)), ("Equalize", 0.6, {})),
    (("Posterize", 0.8, dict(bits=6)), ("Equalize", 1.0, {})),
    (("Rotate", 0.2, dict(angle=10.0)), ("Solarize", 0.6, dict(thr=256 / 9))),
    (("Equalize", 0.6, {}), ("Posterize", 0.4, dict(bits=5))),
    (("Rotate", 0.8, dict(angle=30 / 9 * 8)), ("ColorTransform", 0.4, dict(magnitude=0.0))),
    (("Rotate", 0.4, dict(angle=30.0)), ("Equalize", 0.6, {})),
    (("Equalize", 0.0, {}), ("Equalize", 0.8, {})),
    (("Invert", 0.6, {}), ("Equalize", 1.0, {})),
    (("ColorTransform", 0.6, dict(magnitude=0.4)), ("Contrast", 1.0, dict(magnitude=0.8))),
    (("Rotate", 0.8, dict(angle=30 / 9 * 8)), ("ColorTransform", 1.0, dict(magnitude=0.2))),
    (("ColorTransform", 0.8, dict(magnitude=0.8)), ("Solarize", 0.8, dict(thr=256 / 9 * 2))),
    (("Sharpness", 0.4, dict(magnitude=0.7)), ("Invert", 0.6, {})),
    (("Shear", 0.6, dict(magnitude=0.3 / 9 * 5, direction="horizontal")), ("Equalize", 1.0, {})),
    (("ColorTransform", 0.4, dict(magnitude=0.0)), ("Equalize", 0.6, {})),
    (("Equalize", 0.4, {}), ("Solarize", 0.2, dict(thr=256 / 9 * 5))),
    (("Solarize", 0.6, dict(thr=256 / 9 * 4)), ("AutoContrast", 0.6, {})),
    (("Invert", 0.6, {}), ("Equalize", 1.0, {})),
    (("ColorTransform", 0.6, dict(magnitude=0.4)), ("Contrast", 1.0, dict(magnitude=0.8))),
    (("Equalize", 0.8, {}), ("Equalize", 0.6, {})),
)


def _policy_dicts(table: Sequence[Sequence[tuple]]) -> list[list[dict]]:
    return [[dict(type=kind, **args, prob=prob) for kind, prob, args in sub_policy] for sub_policy in table]


#: minim's names for mmcls policy lists
NAMED_POLICIES = {"imagenet": _IMAGENET_POLICY}


def merge_hparams(step: dict, hparams: Mapping[str, Any]) -> dict:
    """``step`` (an op dict) with each ``hparams`` value its op takes and ``step`` leaves unset or None."""
    accepted = inspect.signature(PIPELINES.get(step["type"])).parameters
    merged = dict(step)
    for key, value in hparams.items():
        if merged.get(key) is None and key in accepted:
            merged[key] = value
    return merged


def _check_hparams(hparams: Any, owner: str) -> dict:
    if hparams is None:
        return dict(DEFAULT_HPARAMS)
    if not isinstance(hparams, Mapping):
        raise BuildError(f"{owner} hparams must be a dict (e.g. dict(pad_val=128)), got {hparams!r}")
    return dict(hparams)


def _check_step(step: Any, owner: str) -> dict:
    if not isinstance(step, Mapping) or "type" not in step:
        raise BuildError(f"{owner} policies: every op must be a dict with a 'type' key, got {step!r}")
    return dict(step)


@PIPELINES.register()
class AutoAugment(Transform):
    """Apply one sub-policy (a list of ops) picked uniformly by ``random.choice`` from ``policies``.

    ``policies``: a non-empty list of non-empty lists of op dicts, or ``'imagenet'``.
    """

    def __init__(self, policies: Any, hparams: Mapping[str, Any] | None = None):
        if isinstance(policies, str):
            if policies not in NAMED_POLICIES:
                raise BuildError(f"AutoAugment policies must be a list of op lists or one of "
                                 f"{', '.join(map(repr, NAMED_POLICIES))}, got {policies!r}")
            policies = _policy_dicts(NAMED_POLICIES[policies])
        if not isinstance(policies, list) or not policies:
            raise BuildError(f"AutoAugment policies must be a non-empty list of op lists, got {policies!r}")
        self.hparams = _check_hparams(hparams, "AutoAugment")
        self.policies = []
        for sub_policy in policies:
            if not isinstance(sub_policy, list) or not sub_policy:
                raise BuildError(f"AutoAugment policies: every policy must be a non-empty list of op dicts, "
                                 f"got {sub_policy!r}")
            steps = [_check_step(copy.deepcopy(step), "AutoAugment") for step in sub_policy]
            self.policies.append([merge_hparams(step, self.hparams) for step in steps])
        self._sub_policies = [Compose(sub_policy) for sub_policy in self.policies]

    def __call__(self, results: dict) -> dict | None:
        return random.choice(self._sub_policies)(results)


@PIPELINES.register()
class RandAugment(Transform):
    """Apply ``num_policies`` ops drawn with replacement (``random.choices``) from ``policies``.

    An op dict with ``magnitude_key`` and ``magnitude_range=(val1, val2)`` gets
    ``magnitude_key = level / total_level * (val2 - val1) + val1``, where ``level`` is
    ``magnitude_level``; with ``magnitude_std > 0`` it is drawn by ``random.gauss(magnitude_level,
    magnitude_std)`` and clipped to ``[0, total_level]``, with ``'inf'`` by ``random.uniform(0,
    magnitude_level)``, for each op drawn.
    """

    def __init__(self, policies: Any, num_policies: int, magnitude_level: float, magnitude_std: Any = 0.0,
                 total_level: float = 30, hparams: Mapping[str, Any] | None = None):
        if not isinstance(num_policies, int) or num_policies <= 0:
            raise BuildError(f"RandAugment num_policies must be an int > 0, got {num_policies!r}")
        if not isinstance(magnitude_level, (int, float)) or magnitude_level < 0:
            raise BuildError(f"RandAugment magnitude_level must be an int or a float >= 0, got {magnitude_level!r}")
        if not isinstance(total_level, (int, float)) or total_level <= 0:
            raise BuildError(f"RandAugment total_level must be an int or a float > 0, got {total_level!r}")
        if not (isinstance(magnitude_std, Number) or magnitude_std == "inf"):
            raise BuildError(f"RandAugment magnitude_std must be a number or 'inf', got {magnitude_std!r}")
        if not isinstance(policies, list) or not policies:
            raise BuildError(f"RandAugment policies must be a non-empty list of op dicts, got {policies!r}")
        self.num_policies = num_policies
        self.magnitude_level = magnitude_level
        self.magnitude_std = magnitude_std
        self.total_level = total_level
        self.hparams = _check_hparams(hparams, "RandAugment")
        self.policies = [merge_hparams(self._check_policy(copy.deepcopy(p)), self.hparams) for p in policies]
        for policy in self.policies:  # fail now rather than on some later image
            PIPELINES.build(self._with_magnitude(policy, float(magnitude_level)))

    @staticmethod
    def _check_policy(policy: Any) -> dict:
        policy = _check_step(policy, "RandAugment")
        if policy.get("magnitude_key") is not None:
            value_range = policy.get("magnitude_range")
            if not (isinstance(value_range, Sequence) and not isinstance(value_range, str) and len(value_range) == 2):
                raise BuildError(f"RandAugment policy {policy['type']} needs magnitude_range=(val1, val2) "
                                 f"with its magnitude_key, got {value_range!r}")
        return policy

    def _level(self) -> float:
        """This op's magnitude level (drawn from Python's ``random`` when ``magnitude_std`` asks for it)."""
        if self.magnitude_std == "inf":
            return random.uniform(0, self.magnitude_level)
        if self.magnitude_std > 0:
            return min(self.total_level, max(0, random.gauss(self.magnitude_level, self.magnitude_std)))
        return self.magnitude_level

    def _with_magnitude(self, policy: dict, level: float | None = None) -> dict:
        """The op dict to build: ``magnitude_key`` set from ``level`` (default: :meth:`_level`'s draw)."""
        step = dict(policy)
        key = step.pop("magnitude_key", None)  # mmcls drops a None magnitude_key too
        if key is not None:
            low, high = step.pop("magnitude_range")
            level = self._level() if level is None else level
            step[key] = (level / self.total_level) * (high - low) + low
        return step

    def __call__(self, results: dict) -> dict | None:
        chosen = random.choices(self.policies, k=self.num_policies)
        steps = [self._with_magnitude(policy) for policy in chosen]
        return Compose(steps)(results)
