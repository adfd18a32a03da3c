# resnext50-32x4d_8xb32_in1k: mmcls 0.25.0's configs/resnext/resnext50-32x4d_8xb32_in1k.py, generated
# by scripts/gen_mmcls_index.py from the values mim writes for it (fragments under ../_base_/).
_base_ = [
    '../_base_/models/resnext-50.py',
    '../_base_/datasets/imagenet_bs32_224px.py',
    '../_base_/schedules/sgd_lr0.1_step_100e.py',
    '../../_base_/default_runtime.py',
]
