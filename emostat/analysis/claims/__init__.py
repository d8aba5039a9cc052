"""The claims table and its decision rule (docs/design.md section 2)."""
