"""Azure target: ACR, Key Vault, PostgreSQL Flexible Server, Container Apps (azure-native)."""
