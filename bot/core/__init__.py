"""hedgebot."""
