# Swin Transformer V2: torchvision.models.swin_v2_s, as minim's cls engine builds it.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='TorchvisionBackbone', arch='swin_v2_s'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ),
)
