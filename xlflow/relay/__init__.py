"""Relay: a unit that must ask its own units first forwards the form it received down a
level (`forward`), and rolls their answers back up into it (`rollup`)."""
