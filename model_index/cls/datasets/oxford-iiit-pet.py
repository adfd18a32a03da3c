# Oxford-IIIT Pet as `minim download cls --dataset oxford-iiit-pet --dest DIR` lays it out: DIR/images/*.jpg,
# annotation files DIR/trainval.txt and DIR/test.txt ('images/<name>.jpg <label>'), DIR/classes.txt (37 breeds).
# ResNet-18 from scratch at 224x224 (ImageNet pipeline), batch 32, SGD with cosine decay, 15 epochs.
_base_ = [
    '../configs/_base_/models/resnet18.py',
    '../configs/_base_/datasets/imagenet_bs32.py',
    '../configs/_base_/schedules/digits_bs32.py',
    '../configs/_base_/default_runtime.py',
]
model = dict(head=dict(num_classes=37, topk=(1, 5)))
data = dict(
    train=dict(type='CustomDataset', data_prefix='{data_root}', ann_file='{data_root}/trainval.txt',
               classes='{data_root}/classes.txt'),
    val=dict(type='CustomDataset', data_prefix='{data_root}', ann_file='{data_root}/test.txt',
             classes='{data_root}/classes.txt'),
    test=dict(type='CustomDataset', data_prefix='{data_root}', ann_file='{data_root}/test.txt',
              classes='{data_root}/classes.txt'))
evaluation = dict(interval=1, metric='accuracy', save_best='auto')
