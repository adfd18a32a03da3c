"""Library code of the ``minim run cls`` analysis and deployment tools (no click here).

- :mod:`.logs`: read mmcv-style ``.log.json`` training logs, train-time statistics;
- :mod:`.curves`: plot training curves;
- :mod:`.confusion`: confusion matrices (from a model run or a ``minim test --out`` file), CSV and plot;
- :mod:`.complexity`: parameters and FLOPs with torch's own flop counter;
- :mod:`.publish`: strip a checkpoint for release under a torch-hub style hashed name;
- :mod:`.index_entry`: model-index entries for published checkpoints, private index files;
- :mod:`.onnx_export`: ONNX export of a classifier and its verification with onnxruntime;
- :mod:`.verify`: find the unreadable images of a config's datasets.

Modules import torch / matplotlib lazily where they can, so importing this package is cheap.
"""
