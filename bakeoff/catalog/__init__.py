"""What can be run and what it costs: models.yaml and pricing.yaml, price import, estimates, keys and base URLs."""
