"""Job kinds: what one kind of job fetches, asks, renders and checks (see base.py)."""
