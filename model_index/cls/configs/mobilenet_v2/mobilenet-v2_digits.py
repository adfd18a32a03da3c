# MobileNetV2 trained from scratch on the built-in `digits` dataset (10 classes, 32x32).
# The README's first training job:
#   minim train cls mobilenet-v2_digits
# prepares the data on first use, trains for 15 epochs (about 40 s on an idle 2-core CPU,
# about 98-99 % top-1) and keeps the best checkpoint by top-1 accuracy in
# work_dirs/mobilenet-v2_digits/.
_base_ = [
    '../_base_/models/mobilenet_v2.py',
    '../_base_/datasets/digits_bs32.py',
    '../_base_/schedules/digits_bs32.py',
    '../_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=10))
log_config = dict(interval=15)
# keep the last two epoch checkpoints (plus latest.pth and the best one)
checkpoint_config = dict(interval=1, max_keep_ckpts=2)
seed = 0
