"""RSA evaluation at the rater x concept unit: tidy inputs, ceilings on the same estimand, paired model differences (engines: rsacompare, rsaceiling, rsaboot, rsainfer, rsaperm, rsaeval)."""
