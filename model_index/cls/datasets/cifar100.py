# CIFAR-100 as `minim download cls --dataset cifar100 --dest DIR` lays it out: DIR/cifar-100-python/.
# mmcls 0.25's ResNet-50 recipe for CIFAR-100; {data_root} becomes DIR.
_base_ = ['../configs/mmcls/resnet/resnet50_8xb16_cifar100.py']
data = dict(
    train=dict(data_prefix='{data_root}'),
    val=dict(data_prefix='{data_root}'),
    test=dict(data_prefix='{data_root}'))
