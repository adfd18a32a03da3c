"""Model side of the ``cls`` engine: registries, backbones, necks, heads, losses, classifier.

``build_classifier(cfg.model)`` builds an mmcls 0.x-style ``ImageClassifier`` from its
config dict; backbones are torchvision's architectures (see :mod:`.zoo` for the config of
each torchvision arch).
"""

from minim.cls.models import augments, backbones, heads, losses, necks  # noqa: F401  (register types)
from minim.cls.models.builder import build_classifier, num_classes_of
from minim.cls.models.classifier import ImageClassifier
from minim.cls.models.registry import AUGMENTS, BACKBONES, CLASSIFIERS, HEADS, LOSSES, NECKS

__all__ = [
    "build_classifier", "num_classes_of", "ImageClassifier", "BACKBONES", "NECKS", "HEADS", "LOSSES", "CLASSIFIERS", "AUGMENTS",
]
