"""sales direction: rules."""
