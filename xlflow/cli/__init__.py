"""The `xlflow` command (`main`), a module per group of commands, each loaded only when
one of its commands runs."""
