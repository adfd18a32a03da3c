# mobilenet-v2_8xb32_in1k: mmcls 0.25.0's configs/mobilenet_v2/mobilenet-v2_8xb32_in1k.py, generated
# by scripts/gen_mmcls_index.py from the values mim writes for it (fragments under ../_base_/).
_base_ = [
    '../_base_/models/mobilenetv2.py',
    '../_base_/datasets/imagenet_bs32_224px.py',
    '../_base_/schedules/sgd_lr0.045_step_300e.py',
    '../../_base_/default_runtime.py',
]
