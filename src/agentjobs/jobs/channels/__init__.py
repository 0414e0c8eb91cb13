"""The channels a spec may name: one module per channel type with its spec model (the YAML keys,
`type:` as a Literal, and the delivery ledger's target key). How each type sends lives in
agentjobs.delivery.channels, beside the senders; this package imports nothing from there, so the
job domain (jobs/) never reaches delivery code. See docs/delivery.md, "Channels".
"""
