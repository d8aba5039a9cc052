"""Layer geometry: concept vectors, RSA and PCA per layer, probes, steering, their claims rows."""
