"""Sources: fetch one data interval into a compact JSON snapshot. No model involved."""
