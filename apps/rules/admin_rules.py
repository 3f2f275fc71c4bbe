"""Rules, pending changes and the restricted list in the back office."""
