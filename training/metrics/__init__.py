"""Evaluation metrics on composited images: SSIM, PSNR, seam, FID, LPIPS."""
