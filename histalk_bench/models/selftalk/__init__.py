"""SelfTalk (Peng et al., ACM MM 2023): non-autoregressive wav2vec2 + one-layer Transformer decoder,
trained with a lip-reading consistency branch; loads the official vocaset.pth / BIWI.pth."""
