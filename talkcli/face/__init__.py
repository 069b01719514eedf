"""face stage (see DESIGN §2)."""
