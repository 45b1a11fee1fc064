"""Users, companies, sign-in, roles and notifications."""
