"""Neuron analyses: activation readers, the searchlight, its permutation nulls, mask selection, whole-model RSA."""
