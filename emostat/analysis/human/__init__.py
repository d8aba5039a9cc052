"""The human concept space: attribute means, appraisal PCA, RDMs, importance, ICC."""
