"""The masking experiment: drops, item and prompt mixed models, the link to importance, power, knowledge vs bias."""
