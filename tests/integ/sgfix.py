"""
The setgid sendmail's trusted config directories, for tests.

A set-gid copy of mailwarden honours -C/-c from a user who is not root
only for a file in a directory listed in alternate_config_directories of
the default config (/etc/mailwarden/mailwarden.conf, Postfix's rule).
trusted_config_dir(d) lists d there for the duration of a test; the file
is created for the tests (marked as such) and removed when the last test
using it is done. A default config written by anybody else is never
touched: the test is skipped instead. Concurrent test runs share the file
under an flock.
"""
import contextlib
import fcntl
import os

import pytest

DEFAULT_DIR = "/etc/mailwarden"
DEFAULT_CONFIG = os.path.join(DEFAULT_DIR, "mailwarden.conf")
MARK = "# written by tests/integ/sgfix.py: remove freely\n"
KEY = "alternate_config_directories = "


def _dirs():
    try:
        text = open(DEFAULT_CONFIG).read()
    except FileNotFoundError:
        return []
    if not text.startswith(MARK):
        pytest.skip(f"{DEFAULT_CONFIG} belongs to a real installation; not touching it")
    for line in text.splitlines():
        if line.startswith(KEY):
            return line[len(KEY):].split()
    return []


def _write(dirs):
    if not dirs:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(DEFAULT_CONFIG)
        return
    tmp = DEFAULT_CONFIG + ".tmp%d" % os.getpid()
    with open(tmp, "w") as f:
        f.write(MARK + KEY + " ".join(dirs) + "\n")
    os.chmod(tmp, 0o644)
    os.rename(tmp, DEFAULT_CONFIG)


@contextlib.contextmanager
def _locked():
    os.makedirs(DEFAULT_DIR, mode=0o755, exist_ok=True)
    with open(os.path.join(DEFAULT_DIR, ".sgfix.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def trusted_config_dir(d):
    """List directory d in the default config's alternate_config_directories."""
    d = os.path.realpath(d)
    with _locked():
        dirs = _dirs()
        _write(dirs + [d])
    try:
        yield DEFAULT_CONFIG
    finally:
        with _locked():
            _write([x for x in _dirs() if x != d])
