# Wide ResNet: torchvision.models.wide_resnet50_2, as minim's cls engine builds it.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='TorchvisionBackbone', arch='wide_resnet50_2'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ),
)
