"""FaceDiffuser (Stan et al., MIG 2023): HuBERT audio encoder, GRU denoiser predicting x0, cosine DDPM."""
