"""stock direction: rules."""
