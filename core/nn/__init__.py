"""The networks (paper §3): configs, layers, StyleGAN2 generator and discriminator, the encoder
with pre-modulation, the RGB branch, the soft-update mean latent and the InvertFill model.
Pure PyTorch on core.ops; no files, no OpenCV."""
