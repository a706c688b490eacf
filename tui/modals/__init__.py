"""Modal dialogs: launch, confirm, retire, pick a fleet, help."""
