"""Files: checkpoints (ours, and the StyleGAN2 files others publish), images, atomic writes,
bundled resources. Builds networks from core.nn; never runs code from a file."""
