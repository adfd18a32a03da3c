# ConvNeXt: torchvision.models.convnext_small, as minim's cls engine builds it.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvNeXt', arch='small', drop_path_rate=0.4),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ),
)
