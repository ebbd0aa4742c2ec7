"""audit: an optional, read-only consumer that writes one audit line per synced order and per
stock push. The worked example of docs/deployment-reference.md ("Adding a consumer"): a new
capability as a new consumer group on existing streams, with no change to any running service.
"""
