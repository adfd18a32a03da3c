# Imagenette (imagenette2) as `minim download cls --dataset imagenette-full --dest DIR` lays it out:
# DIR/imagenette2/train/<wnid>/ and DIR/imagenette2/val/<wnid>/ (10 ImageNet classes); the recipe of imagenette-160.py.
_base_ = ['imagenette-160.py']
data = dict(
    train=dict(data_prefix='{data_root}/imagenette2/train'),
    val=dict(data_prefix='{data_root}/imagenette2/val'),
    test=dict(data_prefix='{data_root}/imagenette2/val'))
