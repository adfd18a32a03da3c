"""minim: find, download, fine-tune and serve image classifiers from the command line.

Importing this package is cheap: nothing heavy (torch, torchvision) is imported here.
"""

__version__ = "0.1.0"
