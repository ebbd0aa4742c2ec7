"""items direction: rules."""
