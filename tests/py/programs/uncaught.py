"""An uncaught exception: raised three calls deep, chained from a handled
one, passing a finally; the process exits with 1 and a traceback.

scenario-exit: 1
scenario-threads: 1
"""


class ConfigError(Exception):
    pass


def read_setting(table, key):
    try:
        return table[key]
    except KeyError as exc:
        raise ConfigError("missing setting " + key) from exc


def load(table):
    try:
        return [read_setting(table, k) for k in ("host", "port")]
    finally:
        print("load finished")


def start():
    settings = load({"host": "localhost"})
    print("never", settings)


start()
