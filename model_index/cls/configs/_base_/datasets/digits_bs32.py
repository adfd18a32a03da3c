# The built-in `digits` dataset (minim://digits: scikit-learn's 1,797 8x8 handwritten digits,
# written once under MINIM_HOME as an image-folder tree, 1,438 train / 359 val images),
# upscaled to 32x32. Grey images are loaded as 3 identical channels.
dataset_type = 'CustomDataset'
classes = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']
img_norm_cfg = dict(mean=[77.85, 77.85, 77.85], std=[95.85, 95.85, 95.85], to_rgb=False)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', size=32),
    dict(type='RandomCrop', size=32, padding=2),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='ImageToTensor', keys=['img']),
    dict(type='ToTensor', keys=['gt_label']),
    dict(type='Collect', keys=['img', 'gt_label'])
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', size=32),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='ImageToTensor', keys=['img']),
    dict(type='Collect', keys=['img'])
]
data = dict(
    # the engine keeps the decoded images in memory (the whole set is ~4 MB) and so starts no workers
    samples_per_gpu=32,
    train=dict(
        type=dataset_type,
        data_prefix='minim://digits/train',
        classes=classes,
        pipeline=train_pipeline),
    val=dict(
        type=dataset_type,
        data_prefix='minim://digits/val',
        classes=classes,
        pipeline=test_pipeline),
    test=dict(
        type=dataset_type,
        data_prefix='minim://digits/val',
        classes=classes,
        pipeline=test_pipeline))
evaluation = dict(interval=1, metric='accuracy', save_best='auto')
