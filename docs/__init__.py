"""The user documentation, shipped so that ``civiscan docs TOPIC`` reads it from an installed package."""
