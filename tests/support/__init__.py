"""Helpers shared by the test suites: real parts started and stopped by the tests."""
