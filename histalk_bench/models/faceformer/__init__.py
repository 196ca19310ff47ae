"""FaceFormer (Fan et al., CVPR 2022), re-implemented from the paper and FIELD.md section 3."""
