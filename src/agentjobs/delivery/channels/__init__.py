"""How each channel type sends: one module per type, named as the `type:` a spec writes.

`base.Channel` is the interface every delivery path uses (target, render, send, alert); each
module wraps its type's spec model (agentjobs.jobs.channels.<type>) and names its class
`CHANNEL`; `channel_for(spec)` (registry.py) finds it. See docs/delivery.md, "Channels".
"""
