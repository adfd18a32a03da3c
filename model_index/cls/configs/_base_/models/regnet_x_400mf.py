# RegNet: torchvision.models.regnet_x_400mf, as minim's cls engine builds it.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='TorchvisionBackbone', arch='regnet_x_400mf'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=400,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ),
)
