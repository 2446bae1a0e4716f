"""Built-in check plugins. Each family is one subpackage, registered through entry points."""
