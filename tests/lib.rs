//! Integration tests live in `tests/it`; this empty library only anchors the package.
