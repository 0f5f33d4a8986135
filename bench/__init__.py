"""The benchmark (`python -m bench`): outside the runtime package, it drives `qa` as a user would."""
