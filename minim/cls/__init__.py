"""The built-in ``cls`` codebase: an mmcls 0.x-style image-classification engine on torch and torchvision."""
