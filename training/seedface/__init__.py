"""seedface: any seed to a face. PyTorch models (MobileStyleGAN student, StyleGAN2 teacher), the seed algorithm
(`seedface.seeding`), Haar wavelets, published-checkpoint layout, ONNX export of model directories, counting,
quantization, conversion and training tools."""

__version__ = "0.1.0"
