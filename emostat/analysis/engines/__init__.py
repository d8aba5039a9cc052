"""Statistical engines: Kendall tau, sign bit-planes, Mantel, mixed models, bootstrap, sign flips, multiplicity and the p contract. Import nothing else from the analysis."""
