"""The kill switch in the back office."""
