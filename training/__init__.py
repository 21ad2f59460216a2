"""Training: stage 1 (StyleGAN2), stage 2 (encoder), domain fine-tune."""
