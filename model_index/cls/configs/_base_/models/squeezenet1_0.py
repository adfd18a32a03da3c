# SqueezeNet: torchvision.models.squeezenet1_0, as minim's cls engine builds it.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='TorchvisionBackbone',
        arch='squeezenet1_0',
        include_top=True,
        num_classes=1000,
    ),
    neck=None,
    head=dict(
        type='ClsHead',
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ),
)
