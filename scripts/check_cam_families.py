"""Grad-CAM on a small model of every backbone family (the mmcls_small test fixtures), with the layer chosen
automatically: prints the layer, the share of pixels the heat map covers (> 0) and the time per image.

    python scripts/check_cam_families.py [--size 96]

Weights are random (seeded), with the head re-drawn (some heads start at zero, which would blank every map);
a map can still be blank when every position's weighted sum is negative, as Grad-CAM's ReLU keeps none.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "mmcls_small"


def main() -> int:
    import torch

    from minim.cls.analysis.cam import declared_target_layer, grad_cam
    from minim.cls.models import build_classifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=None, help="input size (default: each fixture's own)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    failed = 0
    for spec_path in sorted(FIXTURES.glob("*.json")):
        spec = json.loads(spec_path.read_text())
        torch.manual_seed(0)
        channels, *size = spec["input_shape"][1:]
        image = torch.randn(channels, *([args.size] * 2 if args.size else size))
        try:
            model = build_classifier(spec["model"]).eval()
            for param in model.head.parameters():
                if param.dim() > 1:
                    torch.nn.init.normal_(param, 0, 0.1)
            start = time.perf_counter()
            heatmap, layer, _label, _score = grad_cam(model, image, declared_target_layer(model))
        except Exception as exc:  # noqa: BLE001 - report every family
            failed += 1
            print(f"{spec_path.stem:24} FAILED {type(exc).__name__}: {str(exc)[:120]}")
            continue
        print(f"{spec_path.stem:24} {layer:42} covers {float((heatmap > 0).mean()):4.0%}  "
              f"{time.perf_counter() - start:.2f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
