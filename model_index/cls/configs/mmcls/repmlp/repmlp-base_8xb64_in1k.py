# repmlp-base_3rdparty_8xb64_in1k: mmcls 0.25.0's configs/repmlp/repmlp-base_8xb64_in1k.py, generated
# by scripts/gen_mmcls_index.py from the values mim writes for it (fragments under ../_base_/).
_base_ = [
    '../_base_/models/repmlpnet-b.py',
    '../_base_/datasets/imagenet_bs64_224px_v4.py',
    '../_base_/schedules/adamw_lr0.001_cosineannealing_300e_warmup.py',
    '../../_base_/default_runtime.py',
]
