"""Tools that run beside the service: production code never imports this package."""
