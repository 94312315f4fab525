"""Test-suite machinery (not used by lessons): the pre-imported kernel that makes nbval fast."""
