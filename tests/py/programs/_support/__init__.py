"""Helper package for the scenario programs (imported through sys.path[0])."""
