# Inception V3: torchvision.models.inception_v3, as minim's cls engine builds it.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='TorchvisionBackbone',
        arch='inception_v3',
        transform_input=True,
    ),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ),
)
