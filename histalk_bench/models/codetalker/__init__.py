"""CodeTalker (Xing et al., CVPR 2023): a VQ-VAE motion prior (stage 1) and a speech-driven
autoregressive predictor of its codes (stage 2); loads the official checkpoints unchanged."""
