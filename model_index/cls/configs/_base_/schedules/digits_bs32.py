# A short schedule for small datasets trained from scratch: SGD with momentum, a linear
# warm-up over the first epoch, cosine decay to zero.
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4)
optimizer_config = dict(grad_clip=None)
lr_config = dict(
    policy='CosineAnnealing',
    min_lr=0,
    warmup='linear',
    warmup_iters=1,
    warmup_ratio=0.1,
    warmup_by_epoch=True)
runner = dict(type='EpochBasedRunner', max_epochs=15)
auto_scale_lr = dict(base_batch_size=32, enable=False)
