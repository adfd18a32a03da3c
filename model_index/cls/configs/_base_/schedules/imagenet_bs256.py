# SGD schedule tuned for a total batch of 256 (8 GPUs x 32); see auto_scale_lr.
optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0001)
optimizer_config = dict(grad_clip=None)
lr_config = dict(policy='step', step=[30, 60, 90])
runner = dict(type='EpochBasedRunner', max_epochs=100)
auto_scale_lr = dict(base_batch_size=256, enable=False)
