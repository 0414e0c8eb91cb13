"""Delivery channels as objects: one module per channel type (its spec model and how it sends).

`base.ChannelSpec` is the interface, `registry` finds the channel modules of this package and
builds the spec's `channels:` and `alert:` unions from them. See README "Channels".
"""
