# Tiny-ImageNet as `minim download cls --dataset tiny-imagenet --dest DIR` lays it out: class folders
# DIR/train/<wnid>/ (500 images each) and DIR/val/<wnid>/ (50 each), 200 classes of 64x64 images; the
# unlabelled test images stay in DIR/tiny-imagenet-200/test/, so val is also the test set.
# ResNet-18 from scratch at 224x224 (ImageNet pipeline: the images are upscaled), batch 32, SGD with cosine
# decay, 15 epochs.
_base_ = [
    '../configs/_base_/models/resnet18.py',
    '../configs/_base_/datasets/imagenet_bs32.py',
    '../configs/_base_/schedules/digits_bs32.py',
    '../configs/_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=200, topk=(1, 5)))
data = dict(
    train=dict(type='CustomDataset', data_prefix='{data_root}/train'),
    val=dict(type='CustomDataset', data_prefix='{data_root}/val'),
    test=dict(type='CustomDataset', data_prefix='{data_root}/val'))
evaluation = dict(interval=1, metric='accuracy', save_best='auto')
