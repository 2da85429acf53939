"""The automation engine: every host action is checked, validated, approved, audited and recorded here."""
