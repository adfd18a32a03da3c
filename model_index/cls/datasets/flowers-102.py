# Flowers-102 as `minim download cls --dataset flowers-102 --dest DIR` lays it out: class folders
# DIR/train/<label>/ (1,020 images), DIR/val/<label>/ (1,020) and DIR/test/<label>/ (6,149), labels 001..102.
# ResNet-18 from scratch at 224x224 (ImageNet pipeline), batch 32, SGD with cosine decay, 15 epochs.
_base_ = [
    '../configs/_base_/models/resnet18.py',
    '../configs/_base_/datasets/imagenet_bs32.py',
    '../configs/_base_/schedules/digits_bs32.py',
    '../configs/_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=102, topk=(1, 5)))
data = dict(
    train=dict(type='CustomDataset', data_prefix='{data_root}/train'),
    val=dict(type='CustomDataset', data_prefix='{data_root}/val'),
    test=dict(type='CustomDataset', data_prefix='{data_root}/test'))
evaluation = dict(interval=1, metric='accuracy', save_best='auto')
