"""``python -m sync`` runs the sync CLI stand-alone (same as ``onboarding sync``)."""

from sync.cli import sync_app

if __name__ == "__main__":
    sync_app(prog_name="onboarding sync")
