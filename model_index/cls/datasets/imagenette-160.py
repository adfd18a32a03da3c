# Imagenette (imagenette2-160) as `minim download cls --dataset imagenette-160 --dest DIR` lays it out:
# DIR/imagenette2-160/train/<wnid>/ and DIR/imagenette2-160/val/<wnid>/ (10 ImageNet classes).
# ResNet-18 from scratch at 224x224 (ImageNet pipeline), batch 32, SGD with cosine decay, 15 epochs.
_base_ = [
    '../configs/_base_/models/resnet18.py',
    '../configs/_base_/datasets/imagenet_bs32.py',
    '../configs/_base_/schedules/digits_bs32.py',
    '../configs/_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=10, topk=(1, 5)))
data = dict(
    train=dict(type='CustomDataset', data_prefix='{data_root}/imagenette2-160/train'),
    val=dict(type='CustomDataset', data_prefix='{data_root}/imagenette2-160/val'),
    test=dict(type='CustomDataset', data_prefix='{data_root}/imagenette2-160/val'))
evaluation = dict(interval=1, metric='accuracy', save_best='auto')
