"""Alerts: failure notifiers with secrets scrubbed."""
