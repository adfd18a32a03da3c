# hornet-base-gf_3rdparty_in1k: mmcls 0.25.0's configs/hornet/hornet-base-gf_8xb64_in1k.py, generated
# by scripts/gen_mmcls_index.py from the values mim writes for it (fragments under ../_base_/).
_base_ = [
    '../_base_/models/hornet-base-gf.py',
    '../_base_/datasets/imagenet_bs64_224px_randaug_erase_bicubic.py',
    '../_base_/schedules/adamw_lr0.004_cosineannealing_300e_warmup_v3.py',
    '../../_base_/default_runtime.py',
]
custom_hooks = [
    dict(type='EMAHook', momentum=4e-05, priority='ABOVE_NORMAL'),
]
