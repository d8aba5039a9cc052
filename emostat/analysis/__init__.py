"""Pure functions over tables (never imports torch, collect or report), in four levels, each
importing only downward:

- ``pipelines/``: ``reproduce`` (the study's release), ``analyse_run`` (a collected run), the steps
  both share and the run's concept space;
- ``claims/``: the claims table and its decision rule;
- the families: ``human/`` (the human concept space), ``neurons/`` (searchlight, its nulls,
  whole-model RSA), ``masking/`` (drops, mixed models, the link, power, knowledge vs bias),
  ``geometry/`` (layer geometry, probes, steering);
- ``engines/``: Kendall tau, sign bit-planes, Mantel, mixed models, bootstrap, sign flips,
  multiplicity and the p contract.
"""
