# Fashion-MNIST as `minim download cls --dataset fashion-mnist --dest DIR` lays it out: PNG class folders
# DIR/train/<class>/ (60,000 images) and DIR/test/<class>/ (10,000), 28x28 grey, upscaled to 32x32.
# The digits recipe: MobileNetV2 from scratch, batch 32, SGD with cosine decay, 15 epochs.
_base_ = ['../configs/mobilenet_v2/mobilenet-v2_digits.py']
classes = ['T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle_boot']
data = dict(
    train=dict(data_prefix='{data_root}/train', classes=classes),
    val=dict(data_prefix='{data_root}/test', classes=classes),
    test=dict(data_prefix='{data_root}/test', classes=classes))
