"""drape's Python side: the PyTorch StyleGAN2 reference network, its model format, training and golden fixtures."""
