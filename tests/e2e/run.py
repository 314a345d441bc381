#!/usr/bin/python3
"""End-to-end runner (`make e2e`): discovers tests/e2e/test_*.py, runs them
verbosely and ends with `e2e: N passed, M failed[, K skipped]`.

    python3 tests/e2e/run.py [PATTERN ...]

A PATTERN selects tests whose module, class or method name contains it
(e.g. `kannel`, `test_conversation`, `restart`).  Exit status 1 on any
failure or error, 2 when nothing matched."""

import os
import signal
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def main(argv):
    # a killed runner must still reap Redis/Kannel/mashangd (harness atexit)
    # (KeyboardInterrupt is the one exception unittest lets through)
    def interrupt(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
    patterns = [a.lower() for a in argv[1:]]
    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    discovered = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    tests = list(iter_tests(discovered))
    # import failures show up as _FailedTest: always keep them, they are errors
    if patterns:
        tests = [t for t in tests
                 if type(t).__name__ == "_FailedTest" or
                 any(p in t.id().lower() for p in patterns)]
    if not tests:
        print("e2e: no tests match %s" % " ".join(argv[1:]))
        return 2
    try:
        result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(unittest.TestSuite(tests))
    except KeyboardInterrupt:
        print("\ne2e: interrupted")
        return 130
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped - len(result.expectedFailures)
    line = "e2e: %d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
