# EfficientNetV2: torchvision.models.efficientnet_v2_s, as minim's cls engine builds it.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='TorchvisionBackbone', arch='efficientnet_v2_s'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ),
)
