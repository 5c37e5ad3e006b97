"""releasegate components: one package per target plus the cloud-agnostic release gates.

Modules here must stay free of import-time side effects: the dynamic-provider process imports
them by name (providers are pickled by reference) and must not register resources or read config.
"""
