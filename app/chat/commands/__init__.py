"""One module per chat command; load_commands() imports them all."""
