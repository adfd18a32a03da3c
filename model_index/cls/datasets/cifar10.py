# CIFAR-10 as `minim download cls --dataset cifar10 --dest DIR` lays it out: DIR/cifar-10-batches-py/.
# mmcls 0.25's ResNet-18 recipe for CIFAR (batch 16, SGD lr 0.1, 200 epochs); {data_root} becomes DIR.
_base_ = ['../configs/mmcls/resnet/resnet18_8xb16_cifar10.py']
data = dict(
    train=dict(data_prefix='{data_root}'),
    val=dict(data_prefix='{data_root}'),
    test=dict(data_prefix='{data_root}'))
