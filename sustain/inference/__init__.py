"""Inference beyond a model's own estimates: cluster-robust covariance kernels shared by every
family, and (see DESIGN) the wild cluster bootstrap, marginal effects and predictions."""
