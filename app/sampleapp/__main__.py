import sys

from sampleapp import api, migrate, web, worker

ROLES = {"api": api.main, "web": web.main, "worker": worker.main, "migrate": migrate.main}

if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else "api"
    if role not in ROLES:
        sys.exit(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    sys.exit(ROLES[role]())
