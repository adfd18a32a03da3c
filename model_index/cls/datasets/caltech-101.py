# Caltech-101 as `minim download cls --dataset caltech-101 --dest DIR` lays it out: class folders
# DIR/images/<class>/ (101 classes; the archive's BACKGROUND_Google folder is left out, as torchvision does).
# There is no official split: a seeded, stratified 20% of each class is the val (and test) part.
# ResNet-18 from scratch at 224x224 (ImageNet pipeline), batch 32, SGD with cosine decay, 15 epochs.
_base_ = [
    '../configs/_base_/models/resnet18.py',
    '../configs/_base_/datasets/imagenet_bs32.py',
    '../configs/_base_/schedules/digits_bs32.py',
    '../configs/_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=101, topk=(1, 5)))
split = dict(val=0.2, seed=0)
data = dict(
    train=dict(type='CustomDataset', data_prefix='{data_root}/images', split=split),
    val=dict(type='CustomDataset', data_prefix='{data_root}/images', split=split),
    test=dict(type='CustomDataset', data_prefix='{data_root}/images', split=split))
evaluation = dict(interval=1, metric='accuracy', save_best='auto')
