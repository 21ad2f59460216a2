"""Evaluation metrics on composited images: SSIM, PSNR, FID, LPIPS."""
